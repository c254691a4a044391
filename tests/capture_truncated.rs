//! A mapped capture truncated by another process while it is read (`truncate`, `tcpdump -W`
//! reusing a file, `> file`) is analysed up to the cut and ends with the usual truncation
//! warning (saying the file shrank); the process does not die of SIGBUS. The reference is the
//! same capture cut to the same length before reading, read as a stream.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use tracetail::capture::CaptureReader;

/// Packets (hashed), counters and warnings, as text.
struct Read {
    packets: Vec<String>,
    warnings: Vec<tracetail::capture::CaptureWarning>,
    counted: u64,
}

fn describe(p: &tracetail::capture::Packet<'_>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.data.hash(&mut h);
    format!(
        "{} {:?} {} {} {:x}",
        p.timestamp_ns,
        p.link_type,
        p.original_len,
        p.data.len(),
        h.finish()
    )
}

/// Reads `reader` to the end, calling `midway` once when the reader's position first
/// reaches `midway_at`.
fn read_all(mut reader: CaptureReader, midway_at: u64, mut midway: impl FnMut()) -> Read {
    let mut packets = Vec::new();
    let mut pending = Some(());
    loop {
        if reader.position() >= midway_at && pending.take().is_some() {
            midway();
        }
        match reader.next_packet() {
            Ok(Some(p)) => packets.push(describe(&p)),
            Ok(None) => break,
            Err(e) => panic!("{e}"),
        }
    }
    Read {
        packets,
        warnings: reader.warnings().to_vec(),
        counted: reader.counters().packets,
    }
}

/// Truncates `path` to `len` bytes from another process (coreutils `truncate`).
fn truncate_from_outside(path: &Path, len: u64) {
    let status = Command::new("truncate")
        .arg("-s")
        .arg(len.to_string())
        .arg(path)
        .status()
        .expect("run truncate");
    assert!(status.success());
}

/// A fresh copy of `original` at `name` in the scratch directory.
fn fresh_copy(original: &Path, name: &str) -> PathBuf {
    let copy = common::scratch("truncated", name);
    std::fs::copy(original, &copy).unwrap();
    copy
}

/// Reads a copy of `original`, truncated to `cut` by another process once the reader has
/// passed `read_first` bytes, and checks it against the first `cut` bytes read as a stream.
fn check_cut(original: &Path, cut: u64, read_first: u64) {
    let bytes = std::fs::read(original).unwrap();
    let name = original.file_name().unwrap().to_str().unwrap();
    let expected = read_all(
        CaptureReader::from_read(
            name,
            Box::new(std::io::Cursor::new(bytes[..cut as usize].to_vec())),
        )
        .unwrap(),
        u64::MAX,
        || {},
    );
    let copy = fresh_copy(original, &format!("cut-{name}"));
    let reader = CaptureReader::open(&copy).unwrap();
    let got = read_all(reader, read_first, || truncate_from_outside(&copy, cut));
    let context = format!("{name} cut at {cut} after reading {read_first} bytes");

    assert_eq!(
        got.packets.len(),
        expected.packets.len(),
        "{context}: packets"
    );
    assert!(got.packets == expected.packets, "{context}: packets differ");
    assert_eq!(got.counted, expected.counted, "{context}");
    let shrank = format!(
        "the file shrank from {} to {cut} bytes while it was read",
        bytes.len()
    );
    let last = got
        .warnings
        .last()
        .unwrap_or_else(|| panic!("{context}: no warning"));
    assert!(last.ends_reading, "{context}: {last}");
    match expected.warnings.last() {
        // The usual warning for a file ending inside a record, saying why it ended there.
        Some(usual) => {
            assert_eq!(got.warnings.len(), expected.warnings.len(), "{context}");
            assert_eq!(last.offset, usual.offset, "{context}");
            assert_eq!(
                last.message,
                format!("{} ({shrank})", usual.message),
                "{context}"
            );
        }
        // The cut fell between two records: nothing is missing, but the shrink is told.
        None => {
            assert_eq!(last.offset, cut, "{context}");
            assert_eq!(
                last.message,
                format!("{shrank}; reading stops"),
                "{context}"
            );
        }
    }
}

/// Offsets where records end, read as a stream.
fn record_ends(path: &Path) -> Vec<u64> {
    let mut reader =
        CaptureReader::from_read("x", Box::new(std::fs::File::open(path).unwrap())).unwrap();
    let mut ends = Vec::new();
    while let Ok(Some(_)) = reader.next_packet() {
        ends.push(reader.position());
    }
    ends
}

#[test]
fn a_mapped_file_truncated_while_read_ends_at_the_cut() {
    // ~20 MB: the cut comes after the reader has released its first 8 MiB of pages.
    for name in ["shrink.pcap", "shrink.pcapng"] {
        let original = common::synth(
            "truncated",
            &format!("original-{name}"),
            &["--bytes", "20M", "--seed", "5"],
        );
        let ends = record_ends(&original);
        let len = std::fs::metadata(&original).unwrap().len();
        let boundary = ends[ends.len() * 3 / 4];
        let cuts = [
            // Inside a record, not on a page boundary.
            len * 2 / 3 + 1234,
            // On a page boundary (the page after the cut is gone, the one before intact).
            (len / 2) & !0xfff,
            // Exactly between two records: nothing is lost.
            boundary,
            // One byte into the next record.
            boundary + 1,
        ];
        for cut in cuts {
            check_cut(&original, cut, cut / 2);
        }
        // Cut right under the reader: the record being read is the one cut.
        check_cut(&original, ends[1000] - 7, ends[998]);
    }
}

#[test]
fn a_file_emptied_while_read_keeps_the_packets_before() {
    let original = common::synth(
        "truncated",
        "emptied.pcap",
        &["--bytes", "4M", "--seed", "6"],
    );
    let copy = fresh_copy(&original, "emptied-copy.pcap");
    let ends = record_ends(&original);
    let reader = CaptureReader::open(&copy).unwrap();
    let got = read_all(reader, ends[99], || truncate_from_outside(&copy, 0));
    // The first 100 packets were read before; after them the file is gone.
    assert_eq!(got.packets.len(), 100);
    let last = got.warnings.last().expect("a warning");
    assert!(last.ends_reading);
    assert!(
        last.message.contains("the file shrank from") && last.message.contains(" to 0 bytes"),
        "{last}"
    );
}

/// Stops process `pid` (SIGSTOP) at a moment when it has `path` mapped, which is as soon as
/// it opened it: it has read little of it yet.
fn stop_once_mapped(pid: u32, path: &Path) {
    let needle = path.display().to_string();
    let pid_t = pid as libc::pid_t;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        // SAFETY: signals to our own child.
        unsafe { libc::kill(pid_t, libc::SIGSTOP) };
        // Wait until it is really stopped (the signal is asynchronous).
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") T ")
        {
            std::thread::yield_now();
        }
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains(&needle) {
            return;
        }
        unsafe { libc::kill(pid_t, libc::SIGCONT) };
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    panic!("{needle} was never mapped by process {pid}");
}

#[test]
fn the_command_line_reports_rows_up_to_a_cut_made_while_it_reads() {
    // 2 workers: one front thread; 4: a reading and a dealing thread, workers reading
    // payloads in the mapping.
    for threads in ["2", "4"] {
        rows_up_to_a_cut_made_while_reading(threads);
    }
}

fn rows_up_to_a_cut_made_while_reading(threads: &str) {
    let original = common::synth(
        "truncated",
        "cli-original.pcap",
        &["--bytes", "24M", "--seed", "7"],
    );
    let len = std::fs::metadata(&original).unwrap().len();
    let cut = len * 3 / 5 + 77;
    let path = common::scratch("truncated", &format!("cli-{threads}.pcap"));
    let http = |path: &Path| {
        let mut command = common::tracetail();
        command
            .args(["http", "--json", "--threads", threads])
            .arg(path);
        command
    };
    // The reference: the same file, cut before it is read.
    std::fs::copy(&original, &path).unwrap();
    truncate_from_outside(&path, cut);
    let expected = http(&path).output().unwrap();
    assert!(expected.status.success());
    // Cut while tracetail reads it.
    std::fs::copy(&original, &path).unwrap();
    let child = http(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    stop_once_mapped(child.id(), &path);
    truncate_from_outside(&path, cut);
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGCONT) };
    let got = child.wait_with_output().unwrap();

    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(got.status.success(), "{:?}\n{stderr}", got.status);
    let rows = |out: &[u8]| String::from_utf8_lossy(out).lines().count();
    assert!(rows(&got.stdout) > 100, "{stderr}");
    assert!(
        got.stdout == expected.stdout,
        "rows differ from the file cut before reading"
    );
    let shrank = format!("the file shrank from {len} to {cut} bytes while it was read");
    let expected_stderr = String::from_utf8_lossy(&expected.stderr)
        .replace(" (results cover", &format!(" ({shrank}) (results cover"));
    assert!(expected_stderr.contains(&shrank), "{expected_stderr}");
    assert_eq!(stderr, expected_stderr);
}

#[test]
fn a_fault_outside_our_mappings_still_ends_the_process() {
    const CHILD: &str = "TRACETAIL_TEST_FOREIGN_SIGBUS_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        // In the child: with a mapped capture open (our handler installed), a mapping of
        // someone else's faults as it would without us.
        let dir = PathBuf::from(dir);
        // No core file from the expected crash (it would land in the working directory).
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        let _reader = CaptureReader::open(&dir.join("capture.pcap")).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("foreign"))
            .unwrap();
        file.set_len(1 << 16).unwrap();
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        file.set_len(0).unwrap();
        let byte = unsafe { std::ptr::read_volatile(map.as_ptr().add(8192)) };
        eprintln!("read {byte} from a page past the end of a file: the fault was swallowed");
        std::process::exit(0);
    }
    let capture = common::synth("foreign", "capture.pcap", &["--requests", "10"]);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_fault_outside_our_mappings_still_ends_the_process",
            "--nocapture",
        ])
        .env(CHILD, capture.parent().unwrap())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
}

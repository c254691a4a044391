//! `CaptureReader::open` maps a regular uncompressed file and parses it in place; reading the
//! same bytes as a stream must give exactly the same packets, warnings and counters: on every
//! corpus capture, whole and cut at many points (truncated records, damaged blocks), and on a
//! synthetic capture larger than the reader's release step.

mod common;

use std::path::{Path, PathBuf};
use tracetail::capture::CaptureReader;

/// Everything a reader hands out, as text (packets hashed to keep it small).
fn read_all(reader: Result<CaptureReader, tracetail::capture::CaptureError>) -> Vec<String> {
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => return vec![format!("error {e}")],
    };
    let mut out = vec![format!(
        "{} {:?}",
        reader.format_description(),
        reader.compression()
    )];
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                p.data.hash(&mut h);
                out.push(format!(
                    "{} {:?} {} {} {} {:x}",
                    p.timestamp_ns,
                    p.link_type,
                    p.original_len,
                    p.interface_id,
                    p.data.len(),
                    h.finish()
                ));
            }
            Ok(None) => break,
            Err(e) => {
                out.push(format!("error {e}"));
                break;
            }
        }
    }
    out.push(format!("{:?}", reader.counters()));
    out.push(format!("{:?}", reader.warnings()));
    out.push(format!("{}", reader.position()));
    out
}

fn assert_mapped_equals_streamed(path: &Path) {
    let mapped = read_all(CaptureReader::open(path));
    let file = std::fs::File::open(path).unwrap();
    let streamed = read_all(CaptureReader::from_read(
        &path.display().to_string(),
        Box::new(file),
    ));
    if let Some(i) =
        (0..mapped.len().max(streamed.len())).find(|&i| mapped.get(i) != streamed.get(i))
    {
        panic!(
            "{}: item {i} differs\n  mapped:   {:?}\n  streamed: {:?}",
            path.display(),
            mapped.get(i),
            streamed.get(i)
        );
    }
}

fn is_capture(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.contains(".pcap") && !name.ends_with(".gz") && !name.ends_with(".zst")
}

#[test]
fn mapped_files_read_like_streams_on_the_corpus_whole_and_cut() {
    let Some(dir) =
        common::corpus_dir("mapped_files_read_like_streams_on_the_corpus_whole_and_cut")
    else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_capture(p))
        .collect();
    files.sort();
    assert!(files.len() > 20, "{} corpus captures", files.len());
    for path in &files {
        assert_mapped_equals_streamed(path);
        // Cut copies: the end of the file falls inside headers, records and blocks.
        let bytes = std::fs::read(path).unwrap();
        for cut in [
            0,
            3,
            4,
            23,
            24,
            25,
            40,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            if cut >= bytes.len() {
                continue;
            }
            let copy = common::scratch("mapped", "cut.pcap");
            std::fs::write(&copy, &bytes[..cut]).unwrap();
            assert_mapped_equals_streamed(&copy);
        }
    }
}

#[test]
fn a_large_mapped_file_reads_like_a_stream() {
    // ~40 MB: several of the mapped reader's 8 MiB release steps.
    let path = common::synth("mapped", "large.pcap", &["--bytes", "40M", "--seed", "3"]);
    assert_mapped_equals_streamed(&path);
}

/// Resident bytes of the mapping that holds `address`, from `/proc/self/smaps`.
#[cfg(target_os = "linux")]
fn resident_bytes_of_mapping(address: usize) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split_whitespace().next().unwrap_or("");
        if let Some((start, end)) = range.split_once('-').filter(|_| !line.ends_with("kB")) {
            let start = usize::from_str_radix(start, 16).unwrap_or(usize::MAX);
            let end = usize::from_str_radix(end, 16).unwrap_or(0);
            inside = (start..end).contains(&address);
        } else if inside {
            if let Some(kib) = line.strip_prefix("Rss:") {
                return kib
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
                    * 1024;
            }
        }
    }
    panic!("no mapping holds {address:#x}");
}

/// A worker with nothing to do maps the file's pages ahead of the reader (so the reader does
/// not stop on page faults): 4 MiB ahead, in 256 KiB steps, following the reader, and never
/// faulting on pages a truncation took away.
#[cfg(target_os = "linux")]
#[test]
fn idle_workers_map_pages_ahead_of_the_reader() {
    let path = common::synth("mapped", "ahead.pcap", &["--bytes", "24M", "--seed", "5"]);
    let copy = path.with_file_name("ahead-truncated.pcap");
    std::fs::copy(&path, &copy).unwrap();
    let mut reader = CaptureReader::open(&copy).unwrap();
    let bytes = reader.share_mapped(1, 1 << 20).expect("a mapped file");
    let address = bytes.bytes().as_ptr() as usize;
    let before = resident_bytes_of_mapping(address);
    let steps = std::iter::from_fn(|| bytes.map_ahead().then_some(())).count();
    assert_eq!(steps, 16, "4 MiB in 256 KiB steps");
    let after = resident_bytes_of_mapping(address);
    assert!(
        after >= before + (3 << 20),
        "resident {before} -> {after} bytes"
    );

    // The window follows the reader (which notes where it is every MiB).
    while reader.position() < 6 << 20 {
        reader.next_packet().unwrap().expect("a packet");
    }
    assert!(bytes.map_ahead(), "the reader moved on");
    let more = 1 + std::iter::from_fn(|| bytes.map_ahead().then_some(())).count();
    assert!(
        (8..=24).contains(&more),
        "{more} steps after the reader moved"
    );

    // Pages past a cut are not mapped (no SIGBUS), and the reader still ends cleanly.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_len(7 << 20)
        .unwrap();
    while reader.position() < 6 << 20 {
        reader.next_packet().unwrap().expect("a packet");
    }
    while bytes.map_ahead() {}
    while reader.next_packet().unwrap().is_some() {}
    assert!(reader.position() <= 7 << 20);
    let _ = std::fs::remove_file(&copy);
}

/// A worker with nothing to do hands back the pages the reader is done with, 2 MiB at a time:
/// called as the reader goes, what stays resident is the pages kept for workers behind the
/// reader (1 MiB here), up to 2 MiB waiting and the last mark's worth; without it the reader
/// hands them back itself, 4 MiB later.
#[cfg(target_os = "linux")]
#[test]
fn idle_workers_hand_back_the_pages_the_reader_is_done_with() {
    // A file of its own: tests run at once, and writing one truncates it under the other.
    let path = common::synth(
        "mapped",
        "hand-back.pcap",
        &["--bytes", "24M", "--seed", "5"],
    );
    let mut reader = CaptureReader::open(&path).unwrap();
    let bytes = reader.share_mapped(1, 1 << 20).expect("a mapped file");
    let address = bytes.bytes().as_ptr() as usize;
    let (mut peak, mut handed) = (0, 0);
    let mut packets = 0u64;
    while reader.position() < 20 << 20 {
        reader.next_packet().unwrap().expect("a packet");
        handed += u64::from(bytes.hand_back());
        packets += 1;
        if packets.is_multiple_of(64) && reader.position() > 4 << 20 {
            peak = peak.max(resident_bytes_of_mapping(address));
        }
    }
    assert!(handed >= 5, "handed back {handed} times");
    assert!(
        peak <= (3 << 20) + (768 << 10),
        "at most {peak} bytes resident"
    );

    // Without a worker, the reader hands them back itself: a little more stays resident.
    let mut reader = CaptureReader::open(&path).unwrap();
    let bytes = reader.share_mapped(1, 1 << 20).expect("a mapped file");
    let address = bytes.bytes().as_ptr() as usize;
    let mut peak = 0;
    while reader.position() < 20 << 20 {
        reader.next_packet().unwrap().expect("a packet");
        packets += 1;
        if packets.is_multiple_of(64) && reader.position() > 4 << 20 {
            peak = peak.max(resident_bytes_of_mapping(address));
        }
    }
    assert!(
        (3 << 20) + (768 << 10) < peak && peak <= (6 << 20) + (768 << 10),
        "at most {peak} bytes resident"
    );
}

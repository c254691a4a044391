//! The output path of every command: a reader that goes away (closed pipe) ends the command
//! quietly with exit 0; a full disk (/dev/full) is one clear error with exit 2; and a pass
//! whose sink stops reads no further.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use tracetail::capture::CaptureReader;
use tracetail::pipeline::{analyze, PassOptions, Record};

/// A synthetic capture large enough that every command's output fills a pipe many times over,
/// plus a CSV for `stats` and an HdrHistogram for `merge`.
fn inputs() -> &'static (PathBuf, PathBuf, PathBuf) {
    static INPUTS: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let capture = common::scratch("cli_output", "synth.pcap");
        let made = common::tracetail()
            .args(["synth", "--requests", "3000", "--seed", "7", "-o"])
            .arg(&capture)
            .output()
            .unwrap();
        assert!(made.status.success(), "{made:?}");
        let csv = common::scratch("cli_output", "values.csv");
        let mut text = String::from("x,y\n");
        for i in 0..20_000 {
            text.push_str(&format!("{i},{}\n", i * 3 % 101));
        }
        std::fs::write(&csv, text).unwrap();
        let hdr = common::scratch("cli_output", "all.hdr");
        let saved = common::tracetail()
            .args(["latency", "--save-hdr"])
            .arg(&hdr)
            .arg(&capture)
            .output()
            .unwrap();
        assert!(saved.status.success(), "{saved:?}");
        (capture, csv, hdr)
    })
}

/// Every command and output format, with its arguments.
fn commands() -> Vec<Vec<String>> {
    let (capture, csv, hdr) = inputs();
    let s = |p: &Path| p.display().to_string();
    let capture_commands = [
        vec!["summary"],
        vec!["summary", "--json"],
        vec!["sessions"],
        vec!["sessions", "--json"],
        vec!["sessions", "--csv"],
        vec!["sessions", "--scapy"],
        vec!["http"],
        vec!["http", "--json"],
        vec!["http", "--csv"],
        vec!["dns"],
        vec!["dns", "--json"],
        vec!["dns", "--csv"],
        vec!["latency"],
        vec!["latency", "--json"],
    ];
    let mut all: Vec<Vec<String>> = capture_commands
        .iter()
        .map(|c| {
            let mut v: Vec<String> = c.iter().map(|a| a.to_string()).collect();
            v.push(s(capture));
            v
        })
        .collect();
    all.push(vec!["stats".into(), "--column".into(), "x".into(), s(csv)]);
    all.push(vec![
        "stats".into(),
        "--column".into(),
        "x".into(),
        "--json".into(),
        s(csv),
    ]);
    all.push(vec!["stats".into(), "--anscombe".into()]);
    all.push(vec!["merge".into(), s(hdr)]);
    all.push(vec!["merge".into(), "--json".into(), s(hdr)]);
    all.push(vec!["merge".into(), "--hdr".into(), s(hdr)]);
    all
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_exit_0() {
    for args in commands() {
        let mut child = common::tracetail()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close our end before the command writes anything: every write sees EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_full_disk_is_one_clear_error_with_exit_2() {
    if !Path::new("/dev/full").exists() {
        assert!(
            std::env::var("CI").is_err(),
            "/dev/full is needed in CI (ENOSPC on every write)"
        );
        eprintln!("SKIP: no /dev/full on this machine");
        return;
    }
    for args in commands() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tracetail"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(
            errors[0].contains("writing standard output")
                && errors[0].contains("No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `tracetail http big.pcap | head -1`: once the sink stops, the pass reads no further
/// (at most the batches already in flight), on one thread and on two.
#[test]
fn a_sink_that_stops_ends_the_pass_early() {
    let (capture, _, _) = inputs();
    let options = |threads| PassOptions {
        flows: true,
        transactions: true,
        threads,
        ..Default::default()
    };
    let mut all = 0;
    let whole = analyze(
        CaptureReader::open(capture).unwrap(),
        &options(1),
        None,
        &mut |r| {
            if matches!(r, Record::Http(_)) {
                all += 1;
            }
            ControlFlow::Continue(())
        },
    );
    assert!(!whole.stopped);
    assert!(all > 1000, "{all} HTTP rows");
    for threads in [1, 2] {
        let mut first = Vec::new();
        let stopped = analyze(
            CaptureReader::open(capture).unwrap(),
            &options(threads),
            None,
            &mut |r| {
                let Record::Http(t) = r else {
                    return ControlFlow::Continue(());
                };
                first.push(t);
                ControlFlow::Break(())
            },
        );
        assert!(stopped.stopped);
        assert_eq!(first.len(), 1, "nothing is emitted after Break");
        assert!(
            stopped.counts.packets * 4 < whole.counts.packets,
            "threads {threads}: read {} of {} packets",
            stopped.counts.packets,
            whole.counts.packets
        );
    }
}

/// Any reader works, e.g. bytes in memory with a name for messages.
#[test]
fn a_pass_reads_from_memory() {
    let (capture, _, _) = inputs();
    let bytes = std::fs::read(capture).unwrap();
    let count = |reader: CaptureReader| {
        let mut n = 0u64;
        let report = analyze(reader, &PassOptions::default(), None, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        (report.file, report.counts.packets)
    };
    let (name, from_memory) = count(
        CaptureReader::from_read("in-memory", Box::new(std::io::Cursor::new(bytes))).unwrap(),
    );
    assert_eq!(name, "in-memory");
    let (_, from_file) = count(CaptureReader::open(capture).unwrap());
    assert_eq!(from_memory, from_file);
    assert!(from_file > 0);
}

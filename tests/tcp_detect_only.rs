//! Detect-only passes (what `tracetail tcp` runs): the claiming analyzers stop once they know
//! their protocol, and the generic analyzer's exchanges are exactly those of a full pass, on
//! synthetic captures and on every corpus capture, for one and several workers.

mod common;

use std::path::{Path, PathBuf};
use tracetail::analyzers::{AnalyzerConfig, AnalyzerStats};
use tracetail::pipeline::{analyze_file, PassOptions, Record};

/// The tcp rows of one pass (as text) and its counters.
fn tcp_rows(path: &Path, detect_only: bool, threads: usize) -> (Vec<String>, AnalyzerStats) {
    let mut analyzer = AnalyzerConfig::default();
    analyzer
        .observers
        .push(tracetail::analyzers::tcp::REGISTRATION.name);
    analyzer.detect_only = detect_only;
    let options = PassOptions {
        transactions: true,
        analyzer,
        threads,
        ..Default::default()
    };
    let mut rows = Vec::new();
    let report = analyze_file(path, &options, &mut |record| {
        if let Record::Tcp(t) = record {
            rows.push(format!("{t:?}"));
        }
    })
    .unwrap();
    (rows, report.analyzer)
}

fn synth(name: &str, extra: &[&str]) -> PathBuf {
    common::synth("detect_only", name, extra)
}

/// Asserts detect-only gives the full pass's rows; returns (full, detect-only) counters.
fn same_rows(path: &Path) -> (AnalyzerStats, AnalyzerStats) {
    let (full, full_stats) = tcp_rows(path, false, 1);
    let mut detect_stats = None;
    for threads in [1, 3] {
        let (detect, stats) = tcp_rows(path, true, threads);
        if let Some(i) = (0..full.len().max(detect.len())).find(|&i| full.get(i) != detect.get(i)) {
            panic!(
                "{}: tcp row {i} differs in detect-only mode ({threads} workers):\n  full:   {:?}\n  detect: {:?}",
                path.display(),
                full.get(i),
                detect.get(i)
            );
        }
        detect_stats.get_or_insert(stats);
    }
    (full_stats, detect_stats.unwrap())
}

#[test]
fn detect_only_gives_the_same_tcp_rows_and_stops_parsing_http() {
    let path = synth(
        "busy.pcap",
        &[
            "--requests",
            "3000",
            "--seed",
            "5",
            "--concurrency",
            "32",
            "--max-requests-per-connection",
            "20",
            "--pipeline-prob",
            "0.2",
            "--loss-prob",
            "0.01",
            "--reorder-prob",
            "0.02",
            "--dns-prob",
            "0.2",
        ],
    );
    let (full, detect) = same_rows(&path);
    assert!(full.http_transactions > 2000, "{full:?}");
    // Parsing stopped after the first request of each connection: far fewer head bytes.
    assert!(
        detect.http_head_bytes_parsed * 4 < full.http_head_bytes_parsed,
        "detect-only parsed {} head bytes, the full pass {}",
        detect.http_head_bytes_parsed,
        full.http_head_bytes_parsed
    );
    // In fact nothing: the first request or status line names the protocol, no head is parsed.
    assert_eq!(detect.http_head_bytes_parsed, 0);
    assert_eq!(detect.http_connections, full.http_connections);
    // The protocol column still names HTTP.
    let (rows, _) = tcp_rows(&path, true, 1);
    assert!(
        rows.iter()
            .filter(|r| r.contains("protocol: \"http\""))
            .count()
            > 2000
    );
}

#[test]
fn detect_only_gives_the_same_tcp_rows_on_the_corpus() {
    let Some(dir) = common::corpus_dir("detect_only_gives_the_same_tcp_rows_on_the_corpus") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.contains(".pcap")
        })
        .collect();
    files.sort();
    let mut compared = 0;
    for path in &files {
        // Files the reader refuses are other tests' business.
        if tracetail::capture::CaptureReader::open(path).is_err() {
            continue;
        }
        let (full, _) = same_rows(path);
        compared += usize::from(full.tcp_connections > 0);
    }
    assert!(compared > 10, "only {compared} corpus captures with TCP");
}

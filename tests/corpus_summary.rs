//! `summary` against tshark's counts (oracle/counts.tsv) on every corpus capture, and a
//! no-panic run over every file, malformed ones included.

mod common;

use std::collections::BTreeMap;
use tracetail::pipeline::{analyze_file, PassOptions};

/// Files where our count differs from tshark's on purpose, with the reason. The test fails if
/// a listed difference disappears (keep the list honest) or a new one appears.
fn known_differences() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        // tshark 4.0 numbers pcapng Custom Blocks as frames (no timestamp, protocol `data`);
        // they are not packets, and capinfos agrees with us.
        (
            "pcapngtest__le__test018.pcapng",
            "custom blocks are counted as frames by tshark",
        ),
        (
            "pcapngtest__be__test102.pcapng",
            "custom blocks are counted as frames by tshark",
        ),
        (
            "pcapngtest__le__test102.pcapng",
            "custom blocks are counted as frames by tshark",
        ),
        (
            "pcapngtest__le__test202.pcapng",
            "custom blocks are counted as frames by tshark",
        ),
        // tshark reassembles IPv4 fragments and shows the UDP header on the frame that completes
        // the datagram; we count the frame that actually carries the UDP header (the first).
        // Same datagram, same count of UDP datagrams, one frame apart.
        (
            "zeek__fragmented-1.pcap",
            "tshark counts UDP on the reassembling fragment, we on the first fragment",
        ),
        // tshark also dissects the packet headers sampled inside sFlow datagrams.
        (
            "sv__filestore-5408__input.pcap",
            "tshark decodes headers sampled inside sFlow",
        ),
        // Fuzzed TCP headers shorter than 20 bytes: tshark still calls them TCP, we call them malformed.
        (
            "ndpi__fuzz-2006-06-26-2594.pcap",
            "fuzzed short TCP headers, and one first fragment",
        ),
        (
            "ndpi__fuzz-2006-09-29-28586.pcap",
            "fuzzed short TCP headers",
        ),
    ])
}

#[test]
fn summary_counts_match_tshark() {
    let Some(corpus) = common::corpus_dir("summary_counts_match_tshark") else {
        return;
    };
    let rows = common::read_tsv(&corpus.join("oracle/counts.tsv"));
    let known = known_differences();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut compared = 0;
    for row in rows {
        let file = row["file"].as_str();
        if row["tshark_status"] != "ok" {
            continue;
        }
        let report = match analyze_file(&corpus.join(file), &PassOptions::default(), &mut |_| {}) {
            Ok(r) => r,
            Err(e) => {
                unexpected.push(format!("{file}: tshark reads it, we fail: {e}"));
                continue;
            }
        };
        compared += 1;
        let c = &report.counts;
        let ours = (c.packets, c.tcp, c.udp);
        let theirs: (u64, u64, u64) = (
            row["frames"].parse().unwrap(),
            row["tcp_frames"].parse().unwrap(),
            row["udp_frames"].parse().unwrap(),
        );
        let differs = ours != theirs;
        match (differs, known.get(file)) {
            (true, None) => unexpected.push(format!(
                "{file}: (packets, tcp, udp) ours {ours:?} tshark {theirs:?}"
            )),
            (false, Some(reason)) => {
                stale.push(format!("{file}: now matches, drop the note '{reason}'"))
            }
            _ => {}
        }
    }
    assert!(compared > 80, "only {compared} files compared");
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "unexpected differences:\n{}\nstale notes:\n{}",
        unexpected.join("\n"),
        stale.join("\n")
    );
}

#[test]
fn every_corpus_file_is_survived() {
    let Some(corpus) = common::corpus_dir("every_corpus_file_is_survived") else {
        return;
    };
    let options = PassOptions {
        flows: true,
        transactions: true,
        scapy_keys: true,
        ..Default::default()
    };
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut read = 0;
    for path in &files {
        if path.extension().is_some_and(|e| e == "md" || e == "tsv") {
            continue;
        }
        // Any outcome but a panic is acceptable here; errors must name the file.
        match analyze_file(path, &options, &mut |_| {}) {
            Ok(_) => read += 1,
            Err(e) => assert!(
                e.to_string().contains(&path.display().to_string()),
                "error does not name the file: {e}"
            ),
        }
    }
    assert!(read > 90, "only {read} of {} files read", files.len());
}

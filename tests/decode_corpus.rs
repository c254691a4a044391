//! Decodes every packet of every corpus capture (no panic) and compares, per file, the number
//! of frames with a TCP / UDP header anywhere (innermost transport, tunnels, ICMP quotes) with
//! tshark's `tcp` / `udp` display-filter counts in `oracle/counts.tsv`.
//!
//! Files whose counts differ for an understood reason are listed in [`KNOWN_DIFFERENCES`]
//! with that reason and the exact counts we produce, so a change in either direction fails.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tracetail::capture::CaptureReader;
use tracetail::decode::decode;

fn corpus_dir() -> Option<PathBuf> {
    common::corpus_dir(module_path!())
}

/// (file, our tcp_frames, our udp_frames, why tshark counts differently).
const KNOWN_DIFFERENCES: &[(&str, u64, u64, &str)] = &[
    (
        "sv__filestore-5408__input.pcap",
        131,
        2,
        "tshark also dissects the packet headers sampled inside sFlow datagrams (frames 87, \
         116); tracetail does not treat sFlow samples as traffic",
    ),
    (
        "zeek__fragmented-1.pcap",
        0,
        2,
        "first IPv4 fragment: tracetail parses its UDP header, tshark (ip.defragment on) \
         shows the transport only on the frame that completes reassembly",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        50,
        522,
        "fuzzed file: frame 86 has a 12-byte TCP header (ports only), which tshark still \
         counts as tcp; frame 642 is a first IPv4 fragment (see zeek__fragmented-1)",
    ),
    (
        "ndpi__fuzz-2006-09-29-28586.pcap",
        116,
        0,
        "fuzzed file: frame 111 has a TCP header shorter than 20 bytes, which tshark still \
         counts as tcp",
    ),
];

struct OracleRow {
    status: String,
    tcp: Option<u64>,
    udp: Option<u64>,
}

fn oracle(dir: &Path) -> Vec<(String, OracleRow)> {
    common::read_tsv(&dir.join("oracle/counts.tsv"))
        .into_iter()
        .map(|row| {
            (
                row["file"].clone(),
                OracleRow {
                    status: row["tshark_status"].clone(),
                    tcp: row["tcp_frames"].parse().ok(),
                    udp: row["udp_frames"].parse().ok(),
                },
            )
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    frames: u64,
    tcp: u64,
    udp: u64,
    problems: HashMap<String, u64>,
}

fn count(path: &Path) -> Option<Counts> {
    let mut reader = CaptureReader::open(path).ok()?;
    let mut counts = Counts::default();
    while let Ok(Some(packet)) = reader.next_packet() {
        let d = decode(packet.link_type, packet.data);
        counts.frames += 1;
        counts.tcp += d.has_tcp_anywhere() as u64;
        counts.udp += d.has_udp_anywhere() as u64;
        if let Some(problem) = d.problem {
            *counts.problems.entry(problem.describe()).or_default() += 1;
        }
    }
    Some(counts)
}

#[test]
fn corpus_tcp_udp_counts_match_tshark() {
    let Some(dir) = corpus_dir() else { return };
    let known: HashMap<&str, (u64, u64, &str)> = KNOWN_DIFFERENCES
        .iter()
        .map(|&(file, tcp, udp, why)| (file, (tcp, udp, why)))
        .collect();
    let mut failures = Vec::new();
    let mut compared = 0;
    for (file, row) in oracle(&dir) {
        let path = dir.join(&file);
        // Decode whatever we can read, whatever tshark's status: no file may panic.
        let Some(ours) = count(&path) else { continue };
        let (Some(tcp), Some(udp)) = (row.tcp, row.udp) else {
            continue;
        };
        if row.status != "ok" {
            continue;
        }
        compared += 1;
        let line = format!(
            "{file}: tshark tcp={tcp} udp={udp}, ours tcp={} udp={} (frames {}, problems {:?})",
            ours.tcp, ours.udp, ours.frames, ours.problems
        );
        println!("{line}");
        let expected = match known.get(file.as_str()) {
            Some(&(known_tcp, known_udp, _)) => (known_tcp, known_udp),
            None => (tcp, udp),
        };
        if (ours.tcp, ours.udp) != expected {
            match known.get(file.as_str()) {
                Some((_, _, why)) => {
                    failures.push(format!("{line}; expected known difference ({why})"))
                }
                None => failures.push(line),
            }
        }
    }
    assert!(compared > 50, "only {compared} files compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

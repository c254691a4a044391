//! `--filter` against tcpdump: the same pcap-filter expression over the same corpus files
//! selects the same number of packets, and `http` of the selection equals `http` of the
//! file tcpdump wrote. tcpdump's packets are counted by walking the pcap it writes (not by
//! tracetail).
//!
//! Files whose link type tcpdump cannot filter (NFLOG, IPoIB, PKTAP, ...) or that it stops
//! reading (pcapng interfaces with different snapshot lengths) are skipped and listed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The expressions compared, chosen so that each selects some but not all packets somewhere.
const EXPRESSIONS: [&str; 30] = [
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "port 80",
    "tcp port 80",
    "udp port 53",
    "src port 53",
    "dst port 80 and tcp",
    "portrange 1024-65535",
    "tcp src portrange 8000-8080",
    "host 4.2.2.1",
    "src host 4.2.2.1",
    "net 192.168.0.0/16",
    "net 10.0.0.0 mask 255.0.0.0",
    "dst net 192.168.5",
    "ip6 net fe80::/10",
    "vlan",
    "vlan and vlan and ip",
    "vlan 20 or vlan 4093",
    "not tcp and not udp",
    "tcp and (port 80 or port 443)",
    "!(port 80 || port 443) && tcp",
    "port 80 or 443 and tcp",
    "src or dst host 192.168.1.1 or arp",
    "ip6 and tcp",
    "src and dst net 192.168.0.0/16",
];

/// tcpdump, or `None` (skipped locally, a failure in CI).
fn tcpdump(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tcpdump"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: tcpdump not found, but CI must compare against it");
        }
        eprintln!("SKIPPED {test}: tcpdump not found (apt-get install tcpdump)");
    }
    found
}

/// Records in a classic pcap file (what `tcpdump -w` writes), by walking its headers.
fn pcap_records(bytes: &[u8]) -> u64 {
    assert!(bytes.len() >= 24, "tcpdump wrote no pcap header");
    let little = matches!(
        &bytes[..4],
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
    );
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let (mut at, mut records) = (24, 0);
    while at + 16 <= bytes.len() {
        at += 16 + u32_at(at + 8) as usize;
        records += 1;
    }
    records
}

fn corpus_captures(corpus: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            [".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"]
                .iter()
                .any(|ext| name.ends_with(ext))
        })
        .collect();
    files.sort();
    files
}

/// The pcap tcpdump writes for `expression`, or `None` when it cannot filter this file.
fn tcpdump_selection(tcpdump: &Path, file: &Path, expression: &str) -> Option<Vec<u8>> {
    // tcpdump reads gzip only through a pipe.
    let output = if file.extension().is_some_and(|e| e == "gz") {
        let gunzip = Command::new("gzip").arg("-dc").arg(file).output().unwrap();
        let mut child = Command::new(tcpdump)
            .args(["-r", "-", "-w", "-", expression])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&gunzip.stdout);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        output
    } else {
        Command::new(tcpdump)
            .arg("-r")
            .arg(file)
            .args(["-w", "-", expression])
            .output()
            .unwrap()
    };
    output.status.success().then_some(output.stdout)
}

fn tracetail_packets(file: &Path, expression: &str) -> u64 {
    let out = common::tracetail()
        .args(["summary", "--json", "--filter", expression])
        .arg(file)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json["packets"].as_u64().unwrap()
}

#[test]
fn filter_selects_the_packets_tcpdump_selects() {
    let test = "filter_selects_the_packets_tcpdump_selects";
    let (Some(corpus), Some(tcpdump)) = (common::corpus_dir(test), tcpdump(test)) else {
        return;
    };
    let mut mismatches = Vec::new();
    let mut skipped = Vec::new();
    let mut compared = 0;
    // Per expression: (files where it selected some but not all packets, total selected).
    let mut selective = vec![(0u32, 0u64); EXPRESSIONS.len()];
    for file in corpus_captures(&corpus) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let Some(all) = tcpdump_selection(&tcpdump, &file, "") else {
            skipped.push(name);
            continue;
        };
        let total = pcap_records(&all);
        for (i, expression) in EXPRESSIONS.iter().enumerate() {
            let Some(selected) = tcpdump_selection(&tcpdump, &file, expression) else {
                skipped.push(format!("{name} ({expression})"));
                continue;
            };
            let expected = pcap_records(&selected);
            let got = tracetail_packets(&file, expression);
            compared += 1;
            if expected > 0 && expected < total {
                selective[i].0 += 1;
            }
            selective[i].1 += expected;
            if got != expected {
                mismatches.push(format!(
                    "{name}: '{expression}': tcpdump {expected}, tracetail {got}"
                ));
            }
        }
    }
    eprintln!(
        "{compared} (file, expression) pairs compared; tcpdump could not filter {} pairs: {}",
        skipped.len(),
        skipped.join(", ")
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(compared > 1500, "only {compared} comparisons ran");
    for (expression, (files, packets)) in EXPRESSIONS.iter().zip(&selective) {
        assert!(
            *files > 0 && *packets > 0,
            "'{expression}' never selected part of a file: it tests nothing"
        );
    }
}

/// `http --filter E FILE` equals `http` of the file `tcpdump -w - E` wrote.
#[test]
fn filtered_http_equals_http_of_the_tcpdump_selection() {
    let test = "filtered_http_equals_http_of_the_tcpdump_selection";
    let (Some(corpus), Some(tcpdump)) = (common::corpus_dir(test), tcpdump(test)) else {
        return;
    };
    let cases = [
        (
            "cs__http_espn.pcapng",
            "tcp port 80 and host 199.181.132.250",
        ),
        ("cs__http_espn.pcapng", "not dst port 80"),
        ("zeek__http-qinq-0.pcap", "vlan and vlan and tcp"),
        ("zeek__pipelined-requests.pcap", "src portrange 1024-65535"),
        ("zeek__methods.pcap", "dst port 80"),
        ("sv__http-range-multiflows__input.pcap", "src port 8000"),
    ];
    let rows = |file: &Path, filter: Option<&str>| -> Vec<serde_json::Value> {
        let mut cmd = common::tracetail();
        cmd.args(["http", "--json"]);
        if let Some(f) = filter {
            cmd.args(["--filter", f]);
        }
        let out = cmd.arg(file).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
                row.as_object_mut().unwrap().remove("capture");
                row
            })
            .collect()
    };
    for (name, expression) in cases {
        let file = corpus.join(name);
        let selected = tcpdump_selection(&tcpdump, &file, expression)
            .unwrap_or_else(|| panic!("tcpdump cannot filter {name}"));
        let written = common::scratch("filter_tcpdump", &format!("{name}.pcap"));
        std::fs::write(&written, selected).unwrap();
        let expected = rows(&written, None);
        let got = rows(&file, Some(expression));
        assert!(
            !got.is_empty(),
            "{name} '{expression}': no HTTP rows to compare"
        );
        assert!(
            got != rows(&file, None) || expression.starts_with("vlan"),
            "{name} '{expression}' should change the transactions"
        );
        assert_eq!(got, expected, "{name} '{expression}'");
    }
}

/// Mistakes name their position and say what is supported; unsupported primitives are
/// refused rather than guessed.
#[test]
fn filter_errors_point_at_the_mistake() {
    let cases = [
        ("tcp prt 80", 5, "prt"),
        ("port 80 and (host 10.0.0.1", 27, "missing ')'"),
        ("tcp[13] & 2 != 0", 4, "not supported"),
        ("ether host 00:11:22:33:44:55", 1, "does not support"),
        ("host example.com", 6, "not an IP address"),
        ("net 10.1.2.3/16", 5, "bits set beyond the prefix"),
        ("port 80 443", 9, "expected 'and' or 'or'"),
        ("portrange 80", 11, "LOW-HIGH"),
        ("vlan 5000", 6, "out of range"),
    ];
    for (expression, position, words) in cases {
        let out = common::tracetail()
            .args(["summary", "--filter", expression, "x.pcap"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expression}: {stderr}");
        assert!(out.stdout.is_empty(), "{expression}");
        assert!(
            stderr.contains(&format!("at position {position}:")) && stderr.contains(words),
            "'{expression}' should fail at {position} with '{words}':\n{stderr}"
        );
    }
}

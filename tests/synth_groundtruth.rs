//! The whole pipeline against generated ground truth: for synthetic captures of several seeds
//! and shapes (reordering, retransmission, loss, pipelining, chunked bodies, IPv6, and all of
//! them at once), every HTTP transaction is found and its four timestamps equal the truth to
//! the nanosecond; every DNS query likewise.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    common::tracetail()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("groundtruth", name)
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            headers
                .iter()
                .map(str::to_string)
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn field(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Generates a capture with `extra` synth flags and checks `http` and `dns` against its truth;
/// returns the HTTP truth rows.
fn check(name: &str, extra: &[&str]) -> Vec<HashMap<String, String>> {
    let capture = scratch(name);
    let out = bin()
        .args(["synth", "-o"])
        .arg(&capture)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth = read_csv(Path::new(&format!("{}.truth.csv", capture.display())));
    assert!(
        truth.len() >= 200,
        "{name}: only {} transactions generated",
        truth.len()
    );

    let out = bin()
        .args(["http", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), truth.len(), "{name}: transaction count");
    let by_key: HashMap<(String, String), &serde_json::Value> = rows
        .iter()
        .map(|r| ((field(&r["connection_id"]), field(&r["depth"])), r))
        .collect();
    let mut mismatches = Vec::new();
    for t in &truth {
        let key = (t["flow_index"].clone(), t["depth"].clone());
        let Some(ours) = by_key.get(&key) else {
            mismatches.push(format!("missing flow {} depth {}", key.0, key.1));
            continue;
        };
        for column in [
            "client_ip",
            "client_port",
            "server_ip",
            "server_port",
            "method",
            "uri",
            "status",
            "request_bytes",
            "response_bytes",
            "request_first_ns",
            "request_last_ns",
            "response_first_ns",
            "response_last_ns",
        ] {
            if field(&ours[column]) != t[column] {
                mismatches.push(format!(
                    "flow {} depth {}: {column} ours {} truth {}",
                    key.0,
                    key.1,
                    field(&ours[column]),
                    t[column]
                ));
            }
        }
        let flags = ours["flags"].as_array().unwrap();
        if !flags.is_empty() {
            mismatches.push(format!(
                "flow {} depth {}: unexpected flags {flags:?}",
                key.0, key.1
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} mismatches, first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(15)].join("\n")
    );
    // Output is in time order of the request's first byte.
    let starts: Vec<i64> = rows
        .iter()
        .map(|r| r["request_first_ns"].as_i64().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "{name}: rows not in time order"
    );

    let dns_truth = read_csv(Path::new(&format!("{}.dns.truth.csv", capture.display())));
    let out = bin()
        .args(["dns", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    let dns = json_lines(&out.stdout);
    assert_eq!(dns.len(), dns_truth.len(), "{name}: DNS query count");
    let ours: HashMap<(String, String), &serde_json::Value> = dns
        .iter()
        .map(|r| ((field(&r["client_port"]), field(&r["id"])), r))
        .collect();
    for t in &dns_truth {
        let Some(r) = ours.get(&(t["client_port"].clone(), t["id"].clone())) else {
            panic!("{name}: DNS query {:?} not found", t);
        };
        assert_eq!(
            field(&r["query_ns"]),
            t["query_ns"],
            "{name}: DNS query time"
        );
        assert_eq!(
            field(&r["response_ns"]),
            t["response_ns"],
            "{name}: DNS response time"
        );
    }
    truth
}

/// Rows of the truth where `column` is "true".
fn count_true(truth: &[HashMap<String, String>], column: &str) -> usize {
    truth.iter().filter(|t| t[column] == "true").count()
}

/// The mixed shapes really contain every kind of trouble, on both IP versions.
fn assert_everything_present(truth: &[HashMap<String, String>]) {
    for column in ["pipelined", "chunked", "retransmitted", "reordered"] {
        assert!(count_true(truth, column) >= 20, "few {column} rows");
    }
    let messy_pipelined = truth
        .iter()
        .filter(|t| {
            t["pipelined"] == "true" && (t["retransmitted"] == "true" || t["reordered"] == "true")
        })
        .count();
    assert!(messy_pipelined >= 10, "{messy_pipelined}");
    assert!(truth.iter().any(|t| t["client_ip"].contains(':')));
    assert!(truth.iter().any(|t| t["client_ip"].contains('.')));
}

#[test]
fn plain_keepalive_traffic() {
    check(
        "plain.pcap",
        &[
            "--requests",
            "400",
            "--seed",
            "1",
            "--retransmit-prob",
            "0",
            "--loss-prob",
            "0",
            "--reorder-prob",
            "0",
        ],
    );
}

#[test]
fn reordering_retransmission_and_loss() {
    check(
        "messy.pcap",
        &[
            "--requests",
            "600",
            "--seed",
            "7",
            "--retransmit-prob",
            "0.05",
            "--loss-prob",
            "0.03",
            "--reorder-prob",
            "0.08",
        ],
    );
}

#[test]
fn pipelining_and_chunked_bodies() {
    check(
        "pipelined.pcapng",
        &[
            "--requests",
            "600",
            "--seed",
            "11",
            "--pipeline-prob",
            "0.6",
            "--chunked-prob",
            "0.6",
            "--header-split-prob",
            "0.5",
        ],
    );
}

#[test]
fn pareto_latency_ipv6_microsecond_gzip() {
    check(
        "pareto.pcap.gz",
        &[
            "--requests",
            "500",
            "--seed",
            "99",
            "--latency",
            "pareto",
            "--pareto-shape",
            "1.5",
            "--ipv6-fraction",
            "0.5",
            "--microsecond",
        ],
    );
}

/// Every messiness option at once: pipelining, chunked bodies, header splits, duplicate
/// retransmissions, client losses recovered late, reordering, half IPv6, unanswered DNS,
/// pcapng with microsecond timestamps (so packets share times and the truth is floored).
const EVERYTHING: &[&str] = &[
    "--pipeline-prob",
    "0.6",
    "--chunked-prob",
    "0.6",
    "--header-split-prob",
    "0.5",
    "--retransmit-prob",
    "0.05",
    "--loss-prob",
    "0.05",
    "--reorder-prob",
    "0.1",
    "--ipv6-fraction",
    "0.5",
    "--dns-unanswered-prob",
    "0.2",
    "--tsresol",
    "6",
];

#[test]
fn everything_at_once_seed_21() {
    let args = [&["--requests", "800", "--seed", "21"][..], EVERYTHING].concat();
    assert_everything_present(&check("everything21.pcapng", &args));
}

#[test]
fn everything_at_once_seed_33_pareto_high_concurrency() {
    let args = [
        &[
            "--requests",
            "800",
            "--seed",
            "33",
            "--latency",
            "pareto",
            "--pareto-shape",
            "1.5",
            "--concurrency",
            "128",
        ][..],
        EVERYTHING,
    ]
    .concat();
    assert_everything_present(&check("everything33.pcapng", &args));
}

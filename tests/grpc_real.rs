//! gRPC on real traffic: a Python `grpcio` server and client (scripts/grpc_capture.py,
//! cleartext HTTP/2 with prior knowledge on loopback, captured with tcpdump) make unary,
//! server-streaming, client-streaming and bidirectional calls, an error with a non-ASCII
//! message, a deadline exceeded and concurrent calls on one connection, and record each call
//! as the client saw it. `tracetail http --json` must find every call exactly once with its
//! service, method, status, message and message counts equal to the client's record;
//! `latency --by grpc-method|grpc-status` must count the calls per group, and the report
//! must show the gRPC breakdown. With the capture's start cut off (HPACK's dynamic table
//! unknown), the later streams keep their four times, and a call whose headers need the
//! lost table entries is flagged `hpack_unknown` instead of guessed.
//!
//! Needs root, tcpdump, python3 with grpcio: skipped visibly without them, a failure under
//! CI=true (.ci/run installs grpcio).

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs scripts/grpc_capture.py; its manifest (None when the test is skipped).
fn capture(test: &str) -> Option<Value> {
    if !common::require(test, "tcpdump", &["--version"], "tcpdump")
        || !common::require(
            test,
            "python3",
            &["-c", "import grpc"],
            "python3 with grpcio",
        )
    {
        return None;
    }
    if !common::is_root() {
        if in_ci() {
            panic!("{test}: capturing on lo needs root, and CI runs as root");
        }
        common::skip_visibly(test, "capturing on lo needs root");
        return None;
    }
    let work = common::scratch("grpc", "loopback");
    Some(common::run_capture_script("grpc_capture.py", &work))
}

fn tracetail(args: &[&str]) -> String {
    let out = common::tracetail()
        .args(args)
        .output()
        .expect("run tracetail");
    assert!(
        out.status.success(),
        "tracetail {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What identifies a call's outcome: (status, message, request messages, response messages).
type Outcome = (Option<u64>, Option<String>, u64, u64);

fn outcome(v: &Value, prefix: &str) -> Outcome {
    let key = |k: &str| format!("{prefix}{k}");
    (
        v[key("status")].as_u64(),
        v[key("message")].as_str().map(String::from),
        v[key("request_messages")].as_u64().unwrap(),
        v[key("response_messages")].as_u64().unwrap(),
    )
}

#[test]
fn grpcio_calls_are_found_once_with_status_message_and_counts() {
    let test = "grpcio_calls_are_found_once_with_status_message_and_counts";
    let Some(manifest) = capture(test) else {
        return;
    };
    let pcap = PathBuf::from(manifest["pcap"].as_str().unwrap());
    let calls = manifest["calls"].as_array().unwrap();
    assert!(calls.len() >= 15, "the client made {} calls", calls.len());
    let rows: Vec<Value> = tracetail(&["http", pcap.to_str().unwrap(), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let grpc_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| !r["grpc_method"].is_null())
        .collect();
    assert_eq!(grpc_rows.len(), calls.len(), "one row per call: {rows:#?}");
    for row in &grpc_rows {
        assert_eq!(row["version"], "2");
        assert_eq!(row["method"], "POST");
        assert_eq!(
            row["stream_id"].as_u64().unwrap() % 2,
            1,
            "client stream: {row}"
        );
        let path = format!(
            "/{}/{}",
            row["grpc_service"].as_str().unwrap(),
            row["grpc_method"].as_str().unwrap()
        );
        assert_eq!(row["uri"], path.as_str());
        let first = row["request_first_ns"].as_i64().unwrap();
        // Only the deadline-exceeded call may end without a response (the client's
        // RST_STREAM can come before the server's trailers-only answer).
        if row["grpc_method"] == "Slow" && row["status"].is_null() {
            assert!(row["response_first_ns"].is_null(), "{row}");
            continue;
        }
        assert_eq!(row["status"], 200, "{row}");
        let response = row["response_first_ns"].as_i64().unwrap();
        assert!(first <= response, "{row}");
        // A stream answered before its request ended (bidirectional streaming) overlaps; the
        // capture clock did not step back.
        let flags = row["flags"].to_string();
        assert!(!flags.contains("clock_backwards"), "{row}");
        let request_last = row["request_last_ns"].as_i64().unwrap();
        assert_eq!(
            flags.contains("overlapped"),
            response < request_last,
            "{row}"
        );
    }

    // Per method, the multiset of outcomes equals the client's (the deadline-exceeded call
    // separately: its status on the wire depends on who gave up first).
    let mut want: BTreeMap<(String, String), Vec<Outcome>> = BTreeMap::new();
    let mut deadline_calls = 0;
    for call in calls {
        let key = (
            call["service"].as_str().unwrap().to_string(),
            call["method"].as_str().unwrap().to_string(),
        );
        if call["kind"] == "deadline" {
            deadline_calls += 1;
            continue;
        }
        want.entry(key).or_default().push(outcome(call, ""));
    }
    let mut got: BTreeMap<(String, String), Vec<Outcome>> = BTreeMap::new();
    for row in &grpc_rows {
        let key = (
            row["grpc_service"].as_str().unwrap().to_string(),
            row["grpc_method"].as_str().unwrap().to_string(),
        );
        if key.1 == "Slow" {
            // The server's trailers say DEADLINE_EXCEEDED (4), or the client's RST_STREAM
            // ended the stream before any status: then it is flagged as reset.
            let (status, _, requests, responses) = outcome(row, "grpc_");
            assert!(status == Some(4) || status.is_none(), "{row}");
            if status.is_none() {
                let flags = row["flags"].to_string();
                assert!(flags.contains("reset"), "{row}");
            }
            assert_eq!((requests, responses), (1, 0), "{row}");
            deadline_calls -= 1;
            continue;
        }
        got.entry(key).or_default().push(outcome(row, "grpc_"));
    }
    assert_eq!(
        deadline_calls, 0,
        "the deadline-exceeded call is found once"
    );
    for outcomes in want.values_mut().chain(got.values_mut()) {
        outcomes.sort();
    }
    assert_eq!(got, want);
    // The error's message was percent-encoded on the wire (non-ASCII, '%'): decoded here.
    assert!(
        grpc_rows
            .iter()
            .any(|r| r["grpc_status"] == 5 && r["grpc_message"] == "no such thing ü: 100% gone"),
        "NOT_FOUND with its message"
    );

    // latency --by grpc-method: every answered call in its method's group, nothing else.
    let latency: Value = serde_json::from_str(
        tracetail(&[
            "latency",
            pcap.to_str().unwrap(),
            "--by",
            "grpc-method",
            "--metric",
            "total",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    let mut per_method: BTreeMap<String, u64> = BTreeMap::new();
    for row in &grpc_rows {
        if row["response_last_ns"].is_i64() {
            let name = format!(
                "{}/{}",
                row["grpc_service"].as_str().unwrap(),
                row["grpc_method"].as_str().unwrap()
            );
            *per_method.entry(name).or_default() += 1;
        }
    }
    let groups: BTreeMap<String, u64> = latency["groups"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, per_method);
    // Rows that are not gRPC calls (none, unless a late answer to the reset deadline call
    // came back as a response without a request) are left out, and counted.
    assert_eq!(
        latency["left_out"].as_u64().unwrap() as usize,
        rows.len() - grpc_rows.len()
    );
    let by_status: Value = serde_json::from_str(
        tracetail(&[
            "latency",
            pcap.to_str().unwrap(),
            "--by",
            "grpc-status",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    assert!(by_status["groups"]["0 OK"]["count"].as_u64().unwrap() >= 14);
    assert_eq!(by_status["groups"]["5 NOT_FOUND"]["count"], 1);

    // The report's gRPC breakdown names every method.
    let html = common::scratch("grpc", "report.html");
    tracetail(&[
        "report",
        pcap.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("gRPC calls"));
    for (service, method) in want.keys() {
        assert!(page.contains(&format!("{service}/{method}")), "{method}");
    }
    assert!(page.contains("5 NOT_FOUND ×1"));

    mid_connection_start(&pcap, &rows);
}

/// The capture from the first concurrent call on (a classic pcap, as tcpdump writes it):
/// its streams as in the whole capture, the gRPC call where HPACK could know it.
fn mid_connection_start(pcap: &std::path::Path, whole: &[Value]) {
    let cut_ns = whole
        .iter()
        .filter(|r| r["grpc_method"] == "Echo")
        .filter_map(|r| r["request_first_ns"].as_i64())
        .nth(1)
        .expect("a second Echo call");
    let bytes = std::fs::read(pcap).unwrap();
    let nanos = match &bytes[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] => false,
        [0x4d, 0x3c, 0xb2, 0xa1] => true,
        magic => panic!("not a little-endian pcap: {magic:02x?}"),
    };
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut cut = bytes[..24].to_vec();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32_at(at + 8) as usize;
        let fraction = u32_at(at + 4) as i64 * if nanos { 1 } else { 1000 };
        if u32_at(at) as i64 * 1_000_000_000 + fraction >= cut_ns {
            cut.extend_from_slice(&bytes[at..at + 16 + len]);
        }
        at += 16 + len;
    }
    let cut_path = common::scratch("grpc", "cut.pcap");
    std::fs::write(&cut_path, cut).unwrap();
    let rows: Vec<Value> = tracetail(&["http", cut_path.to_str().unwrap(), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let later: Vec<&Value> = whole
        .iter()
        .filter(|r| r["request_first_ns"].as_i64().is_some_and(|t| t >= cut_ns))
        .collect();
    assert!(later.len() >= 8, "{} calls after the cut", later.len());
    assert_eq!(rows.len(), later.len(), "{rows:#?}");
    let mut unknown = 0;
    for row in &rows {
        let same = later
            .iter()
            .find(|w| w["stream_id"] == row["stream_id"])
            .unwrap_or_else(|| panic!("stream not in the whole capture: {row}"));
        for key in [
            "request_first_ns",
            "request_last_ns",
            "response_first_ns",
            "response_last_ns",
            "status",
        ] {
            assert_eq!(row[key], same[key], "{key}: {row}");
        }
        if row["grpc_method"].is_null() {
            assert!(row["flags"].to_string().contains("hpack_unknown"), "{row}");
            unknown += 1;
        } else {
            for key in ["grpc_service", "grpc_method", "grpc_status", "grpc_message"] {
                assert_eq!(row[key], same[key], "{key}: {row}");
            }
        }
    }
    println!(
        "mid-connection start: {} streams timed, {unknown} with gRPC headers in the lost table",
        rows.len()
    );
}

//! The generic request/response analyzer (`tracetail tcp`) on packets written here with known
//! answers, on synth captures against their ground truth, and on the corpus.

mod common;

use serde_json::Value;
use tracetail::analyzers::{AnalyzerConfig, Event, TcpExchange, TransactionAnalyzer};
use tracetail::capture::LinkType;
use tracetail::decode::decode;
use tracetail::synth::packet::{PacketBuilder, TcpFields};

/// One packet of a test conversation: who sends, when (ms), payload, and optionally the
/// acknowledged offset of the peer's stream (default: everything the peer sent so far).
struct P<'a> {
    client: bool,
    ms: i64,
    payload: &'a [u8],
    ack: Option<u32>,
    /// Sequence offset to send at (default: the next byte), for retransmissions.
    at: Option<u32>,
}

fn c(ms: i64, payload: &[u8]) -> P<'_> {
    P {
        client: true,
        ms,
        payload,
        ack: None,
        at: None,
    }
}
fn s(ms: i64, payload: &[u8]) -> P<'_> {
    P {
        client: false,
        ms,
        payload,
        ack: None,
        at: None,
    }
}

const ISN: [u32; 2] = [1000, 5000];

/// Runs the analyzer with the `tcp` observer over a connection to `port` (with a handshake
/// unless `handshake` is false; the client's port is 40000) and returns its exchanges.
fn exchanges(port: u16, handshake: bool, packets: &[P<'_>]) -> Vec<TcpExchange> {
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig {
        observers: vec!["tcp"],
        ..AnalyzerConfig::default()
    });
    let client = common::client_endpoints(port);
    let server = client.reversed();
    let mut b = PacketBuilder::new();
    // Next stream offset per side: the SYN takes offset 0; without a handshake data starts at 1.
    let mut next = if handshake {
        [0u32, 0u32]
    } else {
        [1u32, 1u32]
    };
    let mut events = Vec::new();
    let mut send = |from_client: bool,
                    t: i64,
                    flags: u8,
                    payload: &[u8],
                    ack: Option<u32>,
                    at: Option<u32>| {
        let me = usize::from(!from_client);
        let ends = if from_client { &client } else { &server };
        let offset = at.unwrap_or(next[me]);
        let fields = TcpFields {
            seq: ISN[me].wrapping_add(offset),
            ack: ISN[1 - me].wrapping_add(ack.map_or(next[1 - me], |a| a + 1)),
            flags,
            window: 65535,
        };
        let frame = b
            .tcp(ends, fields, |p| p.extend_from_slice(payload))
            .to_vec();
        let end = offset + payload.len() as u32 + u32::from(flags & 0x03 != 0);
        next[me] = next[me].max(end);
        analyzer.on_packet(t, 1, &decode(LinkType::ETHERNET, &frame), &mut events);
    };
    let base = 1_000_000_000i64;
    if handshake {
        send(true, base, 0x02, b"", None, None);
        send(false, base, 0x12, b"", None, None);
        send(true, base, 0x10, b"", None, None);
    }
    let mut last = base;
    for p in packets {
        last = base + p.ms * 1_000_000;
        send(p.client, last, 0x18, p.payload, p.ack, p.at);
    }
    send(true, last, 0x11, b"", None, None);
    send(false, last, 0x11, b"", None, None);
    analyzer.finish(&mut events);
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Tcp(t) => Some(*t),
            _ => None,
        })
        .collect()
}

fn at(ms: i64) -> Option<i64> {
    Some(1_000_000_000 + ms * 1_000_000)
}

#[test]
fn exchanges_have_the_four_times_and_idle_is_not_latency() {
    let ex = exchanges(
        7000,
        true,
        &[
            c(1, b"GET a"),
            c(2, b"ND"),
            s(5, b"one"),
            s(6, b"two"),
            c(10_000, b"again"),
            s(10_004, b"x"),
        ],
    );
    assert_eq!(ex.len(), 2, "{ex:?}");
    let e = &ex[0];
    assert_eq!((e.exchange, e.request_bytes, e.response_bytes), (1, 7, 6));
    assert_eq!(
        (
            e.request_first_ns,
            e.request_last_ns,
            e.response_first_ns,
            e.response_last_ns
        ),
        (at(1), at(2), at(5), at(6))
    );
    assert_eq!(e.total_ns(), Some(5_000_000));
    assert_eq!(e.server_ns(), Some(3_000_000));
    assert_eq!(e.tshark_ns(), Some(4_000_000));
    // The 10 s of keep-alive idle belong to no exchange.
    assert_eq!(ex[1].request_first_ns, at(10_000));
    assert_eq!(ex[1].ttfb_ns(), Some(4_000_000));
    assert!(ex.iter().all(|e| e.flags.is_empty()), "{ex:?}");
    assert_eq!(ex[0].server_rule, "syn");
    assert_eq!(ex[0].server_port, 7000);
}

#[test]
fn a_retransmitted_request_is_not_a_new_start() {
    let ex = exchanges(
        7000,
        true,
        &[
            c(1, b"hello"),
            // The same bytes again 200 ms later (the sender thought them lost).
            P {
                at: Some(1),
                ..c(201, b"hello")
            },
            s(205, b"world"),
        ],
    );
    assert_eq!(ex.len(), 1, "{ex:?}");
    assert_eq!(ex[0].request_first_ns, at(1));
    assert_eq!(ex[0].request_last_ns, at(1));
    assert_eq!(ex[0].ttfb_ns(), Some(204_000_000));
    assert_eq!(ex[0].request_bytes, 5);
}

#[test]
fn a_greeting_server_is_detected_and_pairs_stay_aligned() {
    let ex = exchanges(
        2525,
        true,
        &[
            s(1, b"220 hi\r\n"),
            c(3, b"EHLO x\r\n"),
            s(4, b"250 ok\r\n"),
            c(6, b"QUIT\r\n"),
            s(9, b"221\r\n"),
        ],
    );
    assert_eq!(ex.len(), 3, "{ex:?}");
    assert_eq!(ex[0].flags, ["server_first"]);
    assert_eq!(ex[0].request_first_ns, None);
    assert_eq!(ex[0].response_bytes, 8);
    assert_eq!(
        (ex[1].request_first_ns, ex[1].response_first_ns),
        (at(3), at(4))
    );
    assert_eq!(
        (ex[2].request_first_ns, ex[2].response_first_ns),
        (at(6), at(9))
    );
    // Without a handshake the request may simply be missing from the capture.
    let ex = exchanges(
        25,
        false,
        &[
            s(1, b"220 hi\r\n"),
            c(3, b"EHLO x\r\n"),
            s(4, b"250 ok\r\n"),
        ],
    );
    assert_eq!(ex[0].flags, ["no_request"]);
    assert_eq!(ex[0].server_rule, "well_known_port");
}

#[test]
fn crossing_directions_are_flagged_overlapped() {
    // Two pipelined requests; the server's answer acknowledges only the first: it answered
    // before it had the whole run, so the run is not one request.
    let ex = exchanges(
        7000,
        true,
        &[
            c(1, b"req1"),
            c(2, b"req2"),
            P {
                ack: Some(4),
                ..s(3, b"resp1")
            },
            s(4, b"resp2"),
        ],
    );
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].flags, ["overlapped"], "{ex:?}");

    // The client sends again before it has received the whole response sent so far.
    let ex = exchanges(
        7000,
        true,
        &[
            c(1, b"req1"),
            s(3, b"resp1a"),
            s(4, b"resp1b"),
            P {
                ack: Some(6),
                ..c(5, b"req2")
            },
            s(6, b"resp2"),
        ],
    );
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].flags, ["overlapped"], "{ex:?}");
    assert_eq!(ex[1].flags, ["overlapped"], "{ex:?}");

    // Ordinary request/response: nothing flagged.
    let ex = exchanges(
        7000,
        true,
        &[c(1, b"req1"), s(3, b"resp1"), c(5, b"req2"), s(6, b"resp2")],
    );
    assert!(ex.iter().all(|e| e.flags.is_empty()), "{ex:?}");
}

#[test]
fn server_side_without_a_handshake() {
    // Client port 40000 in every case; the rule names what decided.
    let ex = exchanges(443, false, &[c(1, b"q"), s(2, b"r")]);
    assert_eq!(
        (ex[0].server_port, ex[0].server_rule),
        (443, "well_known_port")
    );
    let ex = exchanges(50000, false, &[c(1, b"q"), s(2, b"r")]);
    assert_eq!(
        (ex[0].server_port, ex[0].server_rule),
        (40000, "lower_port")
    );
    // Mid-stream capture where the first packet seen is the server's answer.
    let ex = exchanges(
        6379,
        false,
        &[s(1, b"+OK\r\n"), c(2, b"PING\r\n"), s(3, b"+PONG\r\n")],
    );
    assert_eq!((ex[0].server_port, ex[0].server_rule), (6379, "lower_port"));
    assert_eq!(ex[0].flags, ["no_request"]);
    assert_eq!(ex[1].ttfb_ns(), Some(1_000_000));
}

#[test]
fn protocol_is_what_the_detector_decided() {
    let ex = exchanges(
        8080,
        true,
        &[
            c(1, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            s(2, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ],
    );
    assert_eq!(ex[0].protocol, "http");
    let ex = exchanges(
        8080,
        true,
        &[
            c(1, b"\x00\x01binary request"),
            s(2, b"\x02\x03binary reply"),
        ],
    );
    assert_eq!(ex[0].protocol, "unknown");
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Synth captures (retransmissions, reordering, losses, pipelined batches) against their
/// ground truth: every non-pipelined transaction is one exchange with exactly its four
/// times; a pipelined batch is one exchange from its first request byte to its last
/// response byte.
#[test]
fn synth_exchanges_equal_the_ground_truth() {
    let pcap = common::scratch("tcp_analyzer", "synth.pcap");
    let status = common::tracetail()
        .args(["synth", "--requests", "4000", "--seed", "11", "-o"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let out = common::tracetail()
        .arg("tcp")
        .arg(&pcap)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let tcp = json_lines(&out.stdout);
    let truth: Vec<std::collections::HashMap<String, String>> =
        csv::Reader::from_path(pcap.with_extension("pcap.truth.csv"))
            .unwrap()
            .deserialize()
            .map(Result::unwrap)
            .collect();
    let mut by_conn: std::collections::BTreeMap<
        u64,
        Vec<&std::collections::HashMap<String, String>>,
    > = Default::default();
    for r in &truth {
        by_conn
            .entry(r["flow_index"].parse().unwrap())
            .or_default()
            .push(r);
    }
    let mut exchanges: std::collections::HashMap<(u64, u64), &Value> = Default::default();
    for t in &tcp {
        exchanges.insert(
            (
                t["connection_id"].as_u64().unwrap(),
                t["exchange"].as_u64().unwrap(),
            ),
            t,
        );
    }
    let num = |r: &std::collections::HashMap<String, String>, k: &str| r[k].parse::<i64>().unwrap();
    let (mut single, mut batched, mut retransmitted) = (0, 0, 0);
    let mut expected_exchanges = 0;
    for (conn, mut rows) in by_conn {
        rows.sort_by_key(|r| r["depth"].parse::<u32>().unwrap());
        let mut batches: Vec<Vec<_>> = Vec::new();
        for r in rows {
            match batches.last_mut() {
                Some(b) if r["pipelined"] == "true" => b.push(r),
                _ => batches.push(vec![r]),
            }
        }
        for (i, batch) in batches.iter().enumerate() {
            expected_exchanges += 1;
            let e = exchanges
                .get(&(conn, i as u64 + 1))
                .unwrap_or_else(|| panic!("no exchange {} on connection {conn}", i + 1));
            let first = batch[0];
            // A batch's bytes may be reordered across its requests: its first byte is the
            // earliest of theirs, its last the latest.
            let min = |k| batch.iter().map(|r| num(r, k)).min();
            let max = |k| batch.iter().map(|r| num(r, k)).max();
            let got = |k| e[k].as_i64();
            assert_eq!(got("request_first_ns"), min("request_first_ns"), "{e}");
            assert_eq!(got("response_first_ns"), min("response_first_ns"), "{e}");
            assert_eq!(got("response_last_ns"), max("response_last_ns"), "{e}");
            assert_eq!(got("request_last_ns"), max("request_last_ns"), "{e}");
            if batch.len() == 1 {
                single += 1;
                retransmitted += usize::from(first["retransmitted"] == "true");
                assert_eq!(
                    e["request_bytes"].as_u64(),
                    Some(num(first, "request_bytes") as u64)
                );
                assert_eq!(
                    e["response_bytes"].as_u64(),
                    Some(num(first, "response_bytes") as u64)
                );
            } else {
                batched += 1;
            }
        }
    }
    assert_eq!(tcp.len(), expected_exchanges);
    assert!(
        single > 2000 && batched > 50 && retransmitted > 10,
        "{single} {batched} {retransmitted}"
    );
}

/// Every corpus capture: no panic, rows in time order (the watermark holds), times ordered
/// within each exchange, and as many exchanges on HTTP connections as `http` has at least
/// answered transactions there in order.
#[test]
fn corpus_rows_are_time_ordered_and_consistent() {
    let Some(dir) = common::corpus_dir("tcp_analyzer") else {
        return;
    };
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        let out = common::tracetail()
            .arg("tcp")
            .arg(&path)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c <= 1), "{name}: {out:?}");
        let rows = json_lines(&out.stdout);
        let mut last = i64::MIN;
        for r in &rows {
            let start = r["request_first_ns"]
                .as_i64()
                .or(r["response_first_ns"].as_i64())
                .unwrap();
            assert!(start >= last, "{name}: out of time order: {r}");
            last = start;
            let t = |k: &str| r[k].as_i64();
            if let (Some(a), Some(b)) = (t("request_first_ns"), t("request_last_ns")) {
                assert!(a <= b, "{name}: {r}");
            }
            if let (Some(a), Some(b)) = (t("response_first_ns"), t("response_last_ns")) {
                assert!(a <= b, "{name}: {r}");
            }
        }
        files += 1;
    }
    assert!(files > 10);
}

/// The command's formats and options agree with each other on one synth capture: `--csv`
/// has the `--json` columns and rows, `--port` keeps exactly that server port, the
/// intervals count every answered exchange once (arrivals and completions), and `latency
/// --protocol tcp` samples exactly the rows' time to first byte.
#[test]
fn formats_ports_intervals_and_latency_agree() {
    let pcap = common::scratch("tcp_analyzer", "cli.pcap");
    let made = common::tracetail()
        .args(["synth", "--requests", "600", "--seed", "3", "-o"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(made.status.success());
    let run = |args: &[&str]| {
        let out = common::tracetail().args(args).arg(&pcap).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        out.stdout
    };
    let rows = json_lines(&run(&["tcp", "--json"]));
    let csv_out = run(&["tcp", "--csv"]);
    let mut csv = csv::Reader::from_reader(csv_out.as_slice());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let json_keys: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(header, json_keys);
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (r, j) in records.iter().zip(&rows) {
        for (i, key) in header.iter().enumerate() {
            let want = match &j[key] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                v => v.to_string(),
            };
            assert_eq!(r[i], want, "{key}");
        }
    }

    let port80 = json_lines(&run(&["tcp", "--json", "--port", "80"]));
    let want80 = rows.iter().filter(|r| r["server_port"] == 80).count();
    assert!(want80 > 0 && want80 < rows.len());
    assert_eq!(port80.len(), want80);

    let answered = rows
        .iter()
        .filter(|r| r["request_first_ns"].is_i64() && r["response_last_ns"].is_i64())
        .count() as u64;
    let intervals = json_lines(&run(&["tcp", "--intervals", "50ms", "--json"]));
    let sum = |k: &str| {
        intervals
            .iter()
            .map(|i| i[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum("arrivals"), answered);
    assert_eq!(sum("completions"), answered);
    for w in intervals.windows(2) {
        assert_eq!(
            w[1]["start_ns"].as_i64().unwrap() - w[0]["start_ns"].as_i64().unwrap(),
            50_000_000
        );
    }
    for i in &intervals {
        assert!(i["busy_ns"].as_i64().unwrap() <= 50_000_000, "{i}");
        assert!(i["busy_ns"].as_i64() <= i["weighted_ns"].as_i64(), "{i}");
    }

    let latency: Value =
        serde_json::from_slice(&run(&["latency", "--protocol", "tcp", "--json"])).unwrap();
    let mut ttfb: Vec<i64> = rows.iter().filter_map(|r| r["ttfb_ns"].as_i64()).collect();
    ttfb.sort_unstable();
    assert_eq!(latency["count"].as_u64(), Some(ttfb.len() as u64));
    let p50 = ttfb[(ttfb.len() * 50).div_ceil(100) - 1];
    assert_eq!(
        latency["percentiles"]["50"].as_i64(),
        Some(p50),
        "{latency}"
    );
}

/// `export --protocol tcp` writes the `tcp` table with the rows of `tcp --json`, column for
/// column; without `--protocol tcp` no `tcp` folder appears.
#[cfg(feature = "parquet")]
#[test]
fn export_tcp_table_equals_the_json_rows() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType};
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let pcap = common::scratch("tcp_export", "exp.pcap");
    let made = common::tracetail()
        .args(["synth", "--requests", "300", "--seed", "5", "-o"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(made.status.success());
    let out = common::tracetail()
        .arg("tcp")
        .arg(&pcap)
        .arg("--json")
        .output()
        .unwrap();
    let rows = json_lines(&out.stdout);

    let dir = pcap.with_file_name("out");
    let _ = std::fs::remove_dir_all(&dir);
    let plain = common::tracetail()
        .arg("export")
        .arg(&pcap)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(plain.status.success(), "{plain:?}");
    assert!(!dir.join("tcp").exists());
    let export = common::tracetail()
        .arg("export")
        .arg(&pcap)
        .args(["--protocol", "tcp", "-o"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let file = std::fs::File::open(dir.join("tcp").join("exp.parquet")).unwrap();
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 1, "a small file is one batch");
    let batch = &batches[0];
    assert_eq!(batch.num_rows(), rows.len());
    let int64 = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone()
    };
    let ts = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<TimestampNanosecondType>()
            .clone()
    };
    let exchange = batch
        .column_by_name("exchange")
        .unwrap()
        .as_primitive::<Int32Type>()
        .clone();
    let protocol = batch
        .column_by_name("protocol")
        .unwrap()
        .as_string::<i32>()
        .clone();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(
            int64("connection_id").value(i),
            r["connection_id"].as_i64().unwrap()
        );
        assert_eq!(
            i64::from(exchange.value(i)),
            r["exchange"].as_i64().unwrap()
        );
        assert_eq!(protocol.value(i), r["protocol"].as_str().unwrap());
        for (col, key) in [
            ("request_first_ts", "request_first_ns"),
            ("request_last_ts", "request_last_ns"),
            ("response_first_ts", "response_first_ns"),
            ("response_last_ts", "response_last_ns"),
        ] {
            let c = ts(col);
            let got = (!c.is_null(i)).then(|| c.value(i));
            assert_eq!(got, r[key].as_i64(), "{col} row {i}");
        }
        let ttfb = int64("ttfb_ns");
        assert_eq!(
            (!ttfb.is_null(i)).then(|| ttfb.value(i)),
            r["ttfb_ns"].as_i64()
        );
    }
}

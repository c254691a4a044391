//! Flow-sharded analysis gives the same records, in the same order, for every number of
//! workers: the library pass on synthetic captures (pipelining, loss, reordering, DNS over
//! UDP, unanswered queries, IPv6, microsecond timestamps full of ties, timestamps that run
//! backwards, timeouts that sweep constantly) and on corpus captures, and every row command
//! of the CLI, byte for byte, for `--threads` 1..=8.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracetail::analyzers::AnalyzerConfig;
use tracetail::pipeline::{analyze_file, PassOptions, Record, RowEncoder};

const WORKER_COUNTS: std::ops::RangeInclusive<usize> = 1..=8;

/// Writes a synthetic capture with `extra` synth options; returns its path.
fn synth(name: &str, extra: &[&str]) -> PathBuf {
    common::synth("threads", name, extra)
}

/// A record as the tests compare it.
fn text_of(record: &Record) -> String {
    match record {
        Record::Flow(f) => format!("flow {f:?}"),
        Record::Http(t) => format!("http {t:?}"),
        Record::Dns(t) => format!("dns {t:?}"),
        Record::Tcp(t) => format!("tcp {t:?}"),
        Record::Tls(t) => format!("tls {t:?}"),
        Record::Http2(t) => format!("http2 {t:?}"),
        Record::Row(row) => String::from_utf8(row.to_vec()).unwrap(),
    }
}

/// What [`rows_for_http_and_tcp`] puts before a record's text.
const ROW: &str = "row: ";

/// Rows written on the workers ([`PassOptions::rows`]) for HTTP and TCP records only (the
/// others come through as records): [`ROW`] and the record's [`text_of`].
fn rows_for_http_and_tcp() -> RowEncoder {
    RowEncoder(Arc::new(|record, row| match record {
        Record::Http(_) | Record::Tcp(_) => {
            row.extend_from_slice(ROW.as_bytes());
            row.extend_from_slice(text_of(record).as_bytes());
            true
        }
        _ => false,
    }))
}

/// Everything one pass hands out, as text: every record in order, the counters and the
/// warnings.
fn pass(path: &Path, threads: usize, analyzer: &AnalyzerConfig) -> (Vec<String>, String) {
    pass_with(path, threads, analyzer, None)
}

fn pass_with(
    path: &Path,
    threads: usize,
    analyzer: &AnalyzerConfig,
    rows: Option<RowEncoder>,
) -> (Vec<String>, String) {
    // From 3 workers on, the front splits: without rows, threads are planned as on a machine
    // of that many cores (decoding threads); with rows, as on this one (none on two cores).
    let cores = (threads >= 3 && rows.is_none()).then_some(threads);
    let mut options = PassOptions {
        flows: true,
        transactions: true,
        analyzer: analyzer.clone(),
        threads,
        rows,
        cores,
        ..Default::default()
    };
    // The generic request/response analyzer too: its exchanges must not depend on the workers.
    options
        .analyzer
        .observers
        .push(tracetail::analyzers::tcp::REGISTRATION.name);
    options.analyzer.tls.rows = true;
    options.analyzer.http2_connections = true;
    let mut records = Vec::new();
    let report = analyze_file(path, &options, &mut |record| {
        records.push(text_of(&record));
    })
    .unwrap();
    // Peaks of state held at once depend on how connections are spread over workers (each
    // worker's peak comes at its own moment); every count of what was seen must not.
    let mut analyzer = report.analyzer.clone();
    analyzer.http_peak_pending_total = 0;
    analyzer.tcp_peak_reassembly_bytes = 0;
    analyzer.http_pending_requests = 0;
    let summary = format!(
        "{:?}\n{:?}\n{:?}\n{}",
        analyzer, report.counts, report.warnings, report.peak_open_flows
    );
    (records, summary)
}

/// Asserts the pass over `path` is the same for every worker count, and with rows written on
/// the workers for some; returns the records.
fn same_for_every_worker_count(path: &Path, analyzer: &AnalyzerConfig) -> Vec<String> {
    let (one, one_summary) = pass(path, 1, analyzer);
    let with_rows = [1, 2, 3, 8].map(|threads| (threads, Some(rows_for_http_and_tcp())));
    let plain = WORKER_COUNTS.skip(1).map(|threads| (threads, None));
    for (threads, rows) in plain.chain(with_rows) {
        let with_rows = rows.is_some();
        let on_workers = if with_rows { " (rows on workers)" } else { "" };
        let threads_and_rows = format!("{threads} workers{on_workers}");
        let (mut many, summary) = pass_with(path, threads, analyzer, rows);
        if with_rows {
            // With worker threads every HTTP and TCP record came as its row, and nothing else
            // did; on one thread, records as they are.
            let rows = count(&many, ROW);
            let expected = if threads == 1 {
                0
            } else {
                count(&one, "http ") + count(&one, "tcp ")
            };
            assert_eq!(rows, expected, "{threads_and_rows}");
            for record in &mut many {
                if let Some(text) = record.strip_prefix(ROW) {
                    *record = text.to_string();
                }
            }
        }
        assert_eq!(
            one_summary,
            summary,
            "{}: counters differ with {threads_and_rows}",
            path.display()
        );
        if let Some(i) = (0..one.len().max(many.len())).find(|&i| one.get(i) != many.get(i)) {
            panic!(
                "{}: record {i} differs with {threads_and_rows}:\n  1: {:?}\n  {threads}: {:?}",
                path.display(),
                one.get(i),
                many.get(i)
            );
        }
    }
    one
}

fn count(records: &[String], prefix: &str) -> usize {
    records.iter().filter(|r| r.starts_with(prefix)).count()
}

#[test]
fn synthetic_captures_give_the_same_records_for_every_worker_count() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "busy.pcap",
            &[
                "--requests",
                "3000",
                "--seed",
                "7",
                "--concurrency",
                "64",
                "--clients",
                "40",
                "--servers",
                "6",
                "--pipeline-prob",
                "0.3",
                "--dns-prob",
                "0.3",
                "--dns-unanswered-prob",
                "0.2",
                "--ipv6-fraction",
                "0.3",
            ],
        ),
        (
            "lossy.pcap",
            &[
                "--requests",
                "1500",
                "--seed",
                "11",
                "--concurrency",
                "32",
                "--retransmit-prob",
                "0.05",
                "--loss-prob",
                "0.02",
                "--reorder-prob",
                "0.05",
                "--header-split-prob",
                "0.3",
                "--chunked-prob",
                "0.3",
            ],
        ),
        (
            // Whole microseconds and many connections at once: transactions starting at the
            // same instant on different connections (and so on different workers) abound.
            "ties.pcap",
            &[
                "--requests",
                "3000",
                "--seed",
                "5",
                "--concurrency",
                "200",
                "--clients",
                "100",
                "--microsecond",
                "--latency",
                "constant",
                "--latency-ms",
                "1",
                "--dns-prob",
                "0.5",
            ],
        ),
        (
            "few_workers_busy.pcap",
            &[
                "--requests",
                "800",
                "--seed",
                "2",
                "--concurrency",
                "2",
                "--clients",
                "1",
            ],
        ),
    ];
    for (name, args) in cases {
        let path = synth(name, args);
        let records = same_for_every_worker_count(&path, &AnalyzerConfig::default());
        assert!(
            count(&records, "http ") > 500,
            "{name}: too few HTTP rows to mean anything"
        );
        assert!(count(&records, "flow ") > 0, "{name}: no flows");
    }
}

#[test]
fn constant_sweeping_gives_the_same_records_for_every_worker_count() {
    // Timeouts far below the think times: connections idle out and DNS queries time out at
    // nearly every sweep, which every worker runs at the same packets.
    let path = synth(
        "sweeps.pcap",
        &[
            "--requests",
            "1500",
            "--seed",
            "9",
            "--concurrency",
            "50",
            "--dns-prob",
            "0.4",
            "--dns-unanswered-prob",
            "0.3",
            "--max-requests-per-connection",
            "20",
        ],
    );
    let analyzer = AnalyzerConfig {
        idle_timeout_ns: 30_000_000,
        dns_timeout_ns: 5_000_000,
        ..Default::default()
    };
    let records = same_for_every_worker_count(&path, &analyzer);
    let unanswered = records
        .iter()
        .filter(|r| r.starts_with("dns ") && r.contains("unanswered"))
        .count();
    assert!(
        unanswered > 10,
        "the timeouts were not exercised ({unanswered} unanswered)"
    );
}

/// Moves the timestamp of about one packet in `one_in` back by up to 50 ms (classic pcap,
/// little-endian): the capture is then not in time order, as merged or multi-queue captures
/// can be.
fn shake_timestamps(from: &Path, to: &Path, one_in: u64) {
    let mut bytes = std::fs::read(from).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0x4d, 0x3c, 0xb2, 0xa1],
        "nanosecond pcap expected"
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut at = 24;
    while at + 16 <= bytes.len() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        if state.is_multiple_of(one_in) {
            let sec = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
            let ns = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as u64;
            let t = (sec * 1_000_000_000 + ns).saturating_sub((state >> 20) % 50_000_000);
            bytes[at..at + 4].copy_from_slice(&((t / 1_000_000_000) as u32).to_le_bytes());
            bytes[at + 4..at + 8].copy_from_slice(&((t % 1_000_000_000) as u32).to_le_bytes());
        }
        at += 16 + caplen;
    }
    std::fs::write(to, bytes).unwrap();
}

#[test]
fn timestamps_running_backwards_give_the_same_records_for_every_worker_count() {
    let ordered = synth(
        "ordered.pcap",
        &[
            "--requests",
            "2000",
            "--seed",
            "13",
            "--concurrency",
            "80",
            "--dns-prob",
            "0.3",
            "--pipeline-prob",
            "0.2",
        ],
    );
    let shaken = common::scratch("threads", "shaken.pcap");
    shake_timestamps(&ordered, &shaken, 7);
    let records = same_for_every_worker_count(&shaken, &AnalyzerConfig::default());
    assert!(count(&records, "http ") > 500);
}

/// Floods under a small flow budget: the flows evicted for room, swept and ended at the end
/// are the same for every worker count, also when the flow table is split over flow threads
/// (from 3 workers on here, planned as on that many cores); fragments never completed too.
#[test]
fn floods_under_a_flow_budget_give_the_same_records_for_every_worker_count() {
    let small_budget = AnalyzerConfig {
        max_flows: 200,
        ..Default::default()
    };
    for (name, kind, connections, per) in [
        ("syn_flood.pcap", "syn-flood", "20000", "1"),
        ("no_responses.pcap", "no-responses", "600", "3"),
        ("ipv6_fragments.pcap", "ipv6-fragments", "2000", "64"),
    ] {
        let path = synth(
            name,
            &["--hostile", kind, "--count", connections, "--per", per],
        );
        let records = same_for_every_worker_count(&path, &small_budget);
        if kind == "ipv6-fragments" {
            // No datagram completes: no flow, every fragment still counted.
            assert_eq!(count(&records, "flow "), 0, "{name}");
            continue;
        }
        let flows = count(&records, "flow ");
        assert!(flows >= 600, "{name}: {flows} flows");
        let (_, summary) = pass(&path, 1, &small_budget);
        assert!(
            summary.contains("--max-flows 200"),
            "{name}: evictions reported: {summary}"
        );
    }
}

#[test]
fn corpus_captures_give_the_same_records_for_every_worker_count() {
    let Some(corpus) =
        common::corpus_dir("corpus_captures_give_the_same_records_for_every_worker_count")
    else {
        return;
    };
    let mut http = 0;
    let mut dns = 0;
    for name in [
        "ndpi__1kxun.pcap",
        "ndpi__alexa-app.pcapng",
        "cs__http_espn.pcapng",
        "cs__http_espn_fail.pcapng",
        "cs__http_ip4and6.pcapng",
        "cs__dns_lab.pcapng",
        "zeek__bro.org.pcap",
        "pcapparser__wireshark_samples-test.pcapng",
        "sv__tls-subjectaltname__input.pcap",
        "ndpi__webdav.pcap",
    ] {
        let records = same_for_every_worker_count(&corpus.join(name), &AnalyzerConfig::default());
        http += count(&records, "http ");
        dns += count(&records, "dns ");
    }
    assert!(
        http > 200 && dns > 100,
        "corpus rows: {http} HTTP, {dns} DNS"
    );
}

/// The sample that ships with the repo.
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap.gz")
}

fn cli_output(args: &[&str], threads: Option<usize>, env: Option<&str>) -> Vec<u8> {
    let mut command = common::tracetail();
    command.args(args);
    if let Some(n) = threads {
        command.arg(format!("--threads={n}"));
    }
    command.arg(sample());
    command.env_remove("TRACETAIL_THREADS");
    if let Some(value) = env {
        command.env("TRACETAIL_THREADS", value);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "tracetail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn every_row_command_prints_the_same_bytes_for_every_thread_count() {
    let commands: [&[&str]; 15] = [
        &["http", "--json"],
        &["http", "--csv"],
        &["http"],
        // Text lines are written on the workers too, in each file's time style.
        &["http", "--time-format", "relative"],
        &["http", "--time-format", "iso"],
        &["dns", "--json"],
        &["dns", "--csv"],
        &["dns"],
        &["dns", "--time-format", "relative"],
        &["tcp"],
        &["sessions", "--json"],
        &["sessions"],
        &["latency", "--json"],
        &["latency", "--metric", "dns"],
        &["summary"],
    ];
    for args in commands {
        let one = cli_output(args, Some(1), None);
        assert!(one.len() > 100, "{args:?}: too little output");
        for threads in WORKER_COUNTS.skip(1) {
            assert!(
                cli_output(args, Some(threads), None) == one,
                "{args:?}: output differs with --threads {threads}"
            );
        }
        // The default (one worker per core) and the environment variable agree too.
        assert!(cli_output(args, None, None) == one, "{args:?}: default");
        assert!(
            cli_output(args, None, Some("3")) == one,
            "{args:?}: TRACETAIL_THREADS=3"
        );
    }
}

#[test]
fn threads_must_be_at_least_one() {
    let out = common::tracetail()
        .args(["http", "--threads", "0"])
        .arg(sample())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// 96 clients each open a connection and send a request at the same nanosecond, and 96
/// resolvers' clients send a query at another shared nanosecond; nothing is ever answered.
/// The unanswered rows all tie on their start time, come from connections dealt to different
/// workers, and are emitted by work every worker does (the DNS timeout sweep, the end of the
/// capture): their order must still not depend on the dealing.
fn write_simultaneous_unanswered(path: &Path) {
    use tracetail::capture::writer::PcapWriter;
    use tracetail::capture::LinkType;
    use tracetail::synth::packet::{PacketBuilder, TcpFields};
    let mut b = PacketBuilder::new();
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    for i in 0..96u16 {
        let mut client = common::client_endpoints(80);
        client.src_ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(
            10,
            1,
            (i / 200) as u8,
            (i % 200) as u8 + 1,
        ));
        client.src_port = 30000 + i;
        let seg = |seq, flags| TcpFields {
            seq,
            ack: 0,
            flags,
            window: 65535,
        };
        frames.push((t0, b.tcp(&client, seg(100, 0x02), |_| {}).to_vec()));
        frames.push((
            t0 + 1_000,
            b.tcp(&client, seg(101, 0x18), |p| {
                p.extend_from_slice(b"GET /same-instant HTTP/1.1\r\nHost: x\r\n\r\n")
            })
            .to_vec(),
        ));
        let mut asker = common::client_endpoints(53);
        asker.src_port = 20000 + i;
        let id = i.to_be_bytes();
        let query = [
            id[0], id[1], 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'q', 0, 0, 1, 0, 1,
        ];
        frames.push((
            t0 + 2_000,
            b.udp(&asker, |p| p.extend_from_slice(&query)).to_vec(),
        ));
    }
    // Half of the queries time out at a sweep (a packet long after), the rest at the end.
    let late = common::client_endpoints(9);
    frames.push((t0 + 60_000_000_000, b.udp(&late, |p| p.push(0)).to_vec()));
    for i in 96..160u16 {
        let mut asker = common::client_endpoints(53);
        asker.src_port = 20000 + i;
        let id = i.to_be_bytes();
        let query = [
            id[0], id[1], 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'r', 0, 0, 1, 0, 1,
        ];
        frames.push((
            t0 + 60_000_001_000,
            b.udp(&asker, |p| p.extend_from_slice(&query)).to_vec(),
        ));
    }
    frames.sort_by_key(|(t, _)| *t);
    let file = std::fs::File::create(path).unwrap();
    let mut writer = PcapWriter::new(file, LinkType::ETHERNET, 65535, true).unwrap();
    for (t, frame) in &frames {
        writer.write_packet(*t, frame, frame.len() as u32).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn simultaneous_unanswered_rows_keep_one_order_for_every_worker_count() {
    let path = common::scratch("threads", "simultaneous.pcap");
    write_simultaneous_unanswered(&path);
    let records = same_for_every_worker_count(&path, &AnalyzerConfig::default());
    let unanswered = |prefix: &str| {
        records
            .iter()
            .filter(|r| r.starts_with(prefix) && r.contains("unanswered"))
            .count()
    };
    assert_eq!(unanswered("http "), 96);
    assert_eq!(unanswered("dns "), 160);
}

#[test]
fn skipping_the_counts_leaves_every_record_as_it_was() {
    let path = synth(
        "skip-counts.pcap",
        &["--requests", "800", "--seed", "11", "--dns-prob", "0.3"],
    );
    for threads in [1, 2, 3] {
        let pass = |skip_counts: bool| {
            let options = PassOptions {
                transactions: true,
                skip_counts,
                threads,
                cores: (threads >= 3).then_some(threads),
                ..Default::default()
            };
            let mut records = Vec::new();
            let report = analyze_file(&path, &options, &mut |record| {
                records.push(text_of(&record));
            })
            .unwrap();
            (records, report)
        };
        let (counted, counted_report) = pass(false);
        let (skipped, skipped_report) = pass(true);
        assert!(counted.len() > 800, "{threads} workers: {}", counted.len());
        assert_eq!(counted, skipped, "{threads} workers");
        assert_eq!(
            format!("{:?}", counted_report.analyzer),
            format!("{:?}", skipped_report.analyzer),
            "{threads} workers"
        );
        assert!(counted_report.counts.packets > 0);
        assert_eq!(skipped_report.counts.packets, 0, "{threads} workers");
        assert_eq!(skipped_report.counts.tcp, 0, "{threads} workers");
    }
}

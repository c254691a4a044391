//! Runs the corpus captures through reader -> decode -> defrag -> TransactionAnalyzer and compares the
//! HTTP and DNS timings with tshark 4.0's (`oracle/`):
//!
//! * `http.time` of `<file>.http_responses.tsv` (request-completing frame -> response-completing
//!   frame) against our `tshark_ns()` = response_last − request_last, for the transaction
//!   whose `response_last_ns` is that frame's time and whose status is the frame's code;
//! * `http.time` of `*_headers_only.tsv` (frame completing the response head) against
//!   `tshark_head_ns()` = response_head − request_head, matched on `response_head_ns`;
//! * `dns.time` against `latency_ns()`, matched on response time and id.
//!
//! tshark is a reference, not ground truth (it mis-pairs pipelined requests, see
//! shared/reference/anchors.md), so rows are classified, printed, and the test asserts
//! agreement thresholds rather than equality.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tracetail::analyzers::{
    AnalyzerConfig, DnsTransaction, Event, HttpTransaction, TransactionAnalyzer,
};
use tracetail::capture::CaptureReader;
use tracetail::decode::defrag::{Defragmenter, Outcome};
use tracetail::decode::{decode, Transport};

fn corpus_dir() -> Option<PathBuf> {
    common::corpus_dir(module_path!())
}

/// "1258577884.862990000" -> ns. Empty or unparsable -> None.
fn parse_ns(text: &str) -> Option<i64> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut frac = frac.to_string();
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while frac.len() < 9 {
        frac.push('0');
    }
    Some(secs * 1_000_000_000 + frac.parse::<i64>().ok()?)
}

/// Canonical bidirectional 5-tuple.
type FlowKey = (IpAddr, u16, IpAddr, u16, u8);

/// Runs one capture; a bidirectional 5-tuple is one flow, a new SYN after data starts a new one.
fn analyze(path: &Path) -> (Vec<HttpTransaction>, Vec<DnsTransaction>) {
    let mut reader = CaptureReader::open(path).expect("readable capture");
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig::default());
    let mut flows: HashMap<FlowKey, (u64, bool)> = HashMap::new();
    let mut next_id = 0u64;
    let mut defrag = Defragmenter::default();
    let mut out = Vec::new();
    let (mut monotonic, mut last_ts) = (true, i64::MIN);
    while let Ok(Some(packet)) = reader.next_packet() {
        let ts = packet.timestamp_ns;
        let frame = decode(packet.link_type, packet.data);
        // As the pipeline does: fragments reach the analyzer as the datagram they complete.
        let reassembled;
        let decoded = if frame.fragment.is_none() {
            frame
        } else {
            match defrag.push(ts, packet.original_len, &frame) {
                Outcome::Held => continue,
                Outcome::PassOn => frame,
                Outcome::Complete(datagram) => {
                    reassembled = datagram;
                    reassembled.decode()
                }
            }
        };
        let Some((src, dst)) = decoded.ip_endpoints() else {
            continue;
        };
        let (sport, dport, proto, syn_only, has_data) = match decoded.transport {
            Transport::Tcp(t) => (
                t.src_port,
                t.dst_port,
                6,
                t.flags.syn() && !t.flags.ack(),
                !t.payload.is_empty(),
            ),
            Transport::Udp(u) => (u.src_port, u.dst_port, 17, false, true),
            _ => continue,
        };
        let key = if (src, sport) <= (dst, dport) {
            (src, sport, dst, dport, proto)
        } else {
            (dst, dport, src, sport, proto)
        };
        let entry = flows.entry(key).or_insert_with(|| {
            next_id += 1;
            (next_id, false)
        });
        if syn_only && entry.1 {
            analyzer.on_flow_end(entry.0, &mut out);
            next_id += 1;
            *entry = (next_id, false);
        }
        entry.1 |= has_data;
        let id = entry.0;
        // The watermark promise: nothing emitted later starts before it. (Only checkable
        // while capture time does not go backwards.)
        monotonic &= ts >= last_ts;
        last_ts = ts;
        let watermark = analyzer.low_watermark_ns();
        let emitted_before = out.len();
        analyzer.on_packet(ts, id, &decoded, &mut out);
        if let (Some(w), true) = (watermark, monotonic) {
            for event in &out[emitted_before..] {
                let key = match event {
                    Event::Http(t) => t.request_first_ns.or(t.response_first_ns),
                    Event::Dns(t) => t.query_ns.or(t.response_ns),
                    Event::Tcp(t) => t.request_first_ns.or(t.response_first_ns),
                    Event::Tls(t) => t.client_hello_ns.or(Some(t.first_record_ns)),
                    Event::Http2(c) => Some(c.first_ns),
                };
                assert!(
                    key >= Some(w),
                    "{}: {event:?} starts before watermark {w}",
                    path.display()
                );
            }
        }
    }
    analyzer.finish(&mut out);
    assert_eq!(
        analyzer.low_watermark_ns(),
        None,
        "{}: state left after finish",
        path.display()
    );
    let mut http = Vec::new();
    let mut dns = Vec::new();
    for e in out {
        match e {
            Event::Http(t) => http.push(*t),
            Event::Dns(t) => dns.push(*t),
            Event::Tcp(_) => {}
            Event::Tls(_) | Event::Http2(_) => {}
        }
    }
    (http, dns)
}

fn read_tsv(path: &Path) -> Option<Vec<HashMap<String, String>>> {
    common::try_read_tsv(path)
}

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    /// Oracle rows with a single message and a time.
    rows: u64,
    /// Same message found and the same time to the nanosecond.
    exact: u64,
    /// Same message found, different time.
    differ: u64,
    /// No transaction of ours matches the frame.
    missing: u64,
    /// Oracle rows without a time (tshark did not pair) where we have a paired transaction.
    we_pair_tshark_not: u64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.rows += o.rows;
        self.exact += o.exact;
        self.differ += o.differ;
        self.missing += o.missing;
        self.we_pair_tshark_not += o.we_pair_tshark_not;
    }
}

/// Compares one HTTP responses TSV. `first` selects response_head (headers-only oracle).
fn compare_http(
    rows: &[HashMap<String, String>],
    txs: &[HttpTransaction],
    first: bool,
    file: &str,
) -> Tally {
    let mut t = Tally::default();
    for row in rows {
        let code = &row["http.response.code"];
        if code.contains(',') {
            continue;
        }
        let Some(frame_ns) = parse_ns(&row["frame.time_epoch"]) else {
            continue;
        };
        let status: Option<u16> = code.parse().ok();
        let candidates: Vec<&HttpTransaction> = txs
            .iter()
            .filter(|x| {
                let at = if first {
                    x.response_head_ns
                } else {
                    x.response_last_ns
                };
                at == Some(frame_ns) && x.status == status
            })
            .collect();
        let ours = |x: &HttpTransaction| {
            if first {
                x.tshark_head_ns()
            } else {
                x.tshark_ns()
            }
        };
        match parse_ns(&row["http.time"]) {
            None => {
                if candidates.iter().any(|x| ours(x).is_some()) {
                    t.we_pair_tshark_not += 1;
                }
            }
            Some(oracle) => {
                t.rows += 1;
                if candidates.is_empty() {
                    t.missing += 1;
                    println!(
                        "  {file}: frame {} ({}) not found",
                        row["frame.number"],
                        if first { "head" } else { "full" }
                    );
                } else if candidates.iter().any(|x| ours(x) == Some(oracle)) {
                    t.exact += 1;
                } else {
                    t.differ += 1;
                    let got: Vec<_> = candidates
                        .iter()
                        .map(|x| (ours(x), x.uri.clone(), x.flags.clone()))
                        .collect();
                    println!(
                        "  {file}: frame {} ({}) tshark {oracle} ns, ours {got:?}",
                        row["frame.number"],
                        if first { "head" } else { "full" }
                    );
                }
            }
        }
    }
    t
}

fn compare_dns(rows: &[HashMap<String, String>], txs: &[DnsTransaction], file: &str) -> Tally {
    let mut t = Tally::default();
    for row in rows {
        let Some(frame_ns) = parse_ns(&row["frame.time_epoch"]) else {
            continue;
        };
        let Ok(id) = u16::from_str_radix(row["dns.id"].trim_start_matches("0x"), 16) else {
            continue;
        };
        let candidates: Vec<&DnsTransaction> = txs
            .iter()
            .filter(|x| x.response_ns == Some(frame_ns) && x.id == id)
            .collect();
        match parse_ns(&row["dns.time"]) {
            None => {
                if candidates.iter().any(|x| x.latency_ns().is_some()) {
                    t.we_pair_tshark_not += 1;
                }
            }
            Some(oracle) => {
                t.rows += 1;
                if candidates.is_empty() {
                    t.missing += 1;
                    println!("  {file}: dns frame {} not found", row["frame.number"]);
                } else if candidates.iter().any(|x| x.latency_ns() == Some(oracle)) {
                    t.exact += 1;
                } else {
                    t.differ += 1;
                    let got: Vec<_> = candidates
                        .iter()
                        .map(|x| (x.latency_ns(), x.flags.clone()))
                        .collect();
                    println!(
                        "  {file}: dns frame {} tshark {oracle} ns, ours {got:?}",
                        row["frame.number"]
                    );
                }
            }
        }
    }
    t
}

/// Files where tshark and we disagree for an understood reason. Every other file must agree
/// on every comparable row (no `differ`, no `missing`).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "sv__filestore-5408__input.pcap",
        "tshark dates 6 requests by the copy of their last segment quoted in an ICMP \
         'fragmentation needed' error (and its retransmission); we by the first capture of the bytes",
    ),
    (
        "zeek__erspan.pcap",
        "two DNS responses arrive 11 s after their query, past our 10 s DNS timeout, so we \
         report them as orphans (HTTP in the fragmented ERSPAN packets matches)",
    ),
    (
        "zeek__100-continue.pcap",
        "headers-only: tshark pairs the interim 100 Continue with the request; we pair the final response",
    ),
    ("zeek__http-body-match.pcap", "headers-only: tshark pairs interim 100 Continue responses"),
    ("ndpi__1kxun.pcap", "headers-only: tshark pairs interim 100 Continue responses"),
    ("ndpi__fuzz-2006-09-29-28586.pcap", "headers-only: tshark pairs an interim 100 Continue"),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "a fuzzed IPv4 total length cuts a DNS query to 9 bytes; tshark reads the UDP length",
    ),
    (
        "zeek__ipv6-fragmented-dns.pcap",
        "tshark pairs the (IPv6-fragmented) response with the retransmitted query; we with \
         the first one, flagged retransmitted_query",
    ),
    ("libpcap__http_PPI.pcap", "link type PPI is not decoded"),
    ("zeek__radiotap.pcap", "802.11 radiotap frames: the DNS response is not decoded"),
];

#[test]
fn corpus_http_and_dns_timings_against_tshark() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let counts = read_tsv(&dir.join("oracle/counts.tsv")).expect("counts.tsv");
    let mut totals = [Tally::default(); 3];
    let mut files = 0;
    let mut unexplained = Vec::new();
    for row in &counts {
        let file = &row["file"];
        if row["tshark_status"].starts_with("unreadable") {
            continue;
        }
        let oracle = |suffix: &str| read_tsv(&dir.join(format!("oracle/{file}.{suffix}")));
        let full = oracle("http_responses.tsv");
        let head = oracle("http_responses_headers_only.tsv");
        let dns = oracle("dns_responses.tsv");
        if full.is_none() && dns.is_none() {
            continue;
        }
        files += 1;
        let (http_txs, dns_txs) = analyze(&dir.join(file));
        let mut tallies = [Tally::default(); 3];
        if let Some(rows) = &full {
            tallies[0] = compare_http(rows, &http_txs, false, file);
        }
        if let Some(rows) = &head {
            tallies[1] = compare_http(rows, &http_txs, true, file);
        }
        if let Some(rows) = &dns {
            tallies[2] = compare_dns(rows, &dns_txs, file);
        }
        if tallies.iter().any(|t| t.rows + t.we_pair_tshark_not > 0) {
            println!(
                "{file}: http {} txs; full {:?}; head {:?}; dns {} txs {:?}",
                http_txs.len(),
                tallies[0],
                tallies[1],
                dns_txs.len(),
                tallies[2]
            );
        }
        let disagree = tallies.iter().any(|t| t.differ + t.missing > 0);
        let known = KNOWN_DIFFERENCES.iter().any(|(f, _)| f == file);
        if disagree && !known {
            unexplained.push(format!("{file}: {tallies:?}"));
        }
        for (total, t) in totals.iter_mut().zip(tallies) {
            total.add(t);
        }
    }
    println!("files: {files}");
    for (name, t) in ["http.time (full)", "http.time (headers only)", "dns.time"]
        .iter()
        .zip(totals)
    {
        println!("TOTAL {name}: {t:?}");
    }
    assert!(
        unexplained.is_empty(),
        "unexplained differences:\n{}",
        unexplained.join("\n")
    );
    // Measured: http full 1561/1567, headers-only 1564/1577, dns 196/200 exact; the rest is
    // in KNOWN_DIFFERENCES. Allow a little slack for other modules' changes (e.g. decode).
    let [full, head, dns] = totals;
    assert!(
        full.rows >= 1500 && full.exact * 100 >= full.rows * 99,
        "{full:?}"
    );
    assert!(
        head.rows >= 1500 && head.exact * 100 >= head.rows * 98,
        "{head:?}"
    );
    assert!(
        dns.rows >= 190 && dns.exact * 100 >= dns.rows * 96,
        "{dns:?}"
    );
}

/// Debug aid: `TRACETAIL_DUMP=<file> cargo test --test analyzers_corpus dump -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump() {
    let (Some(dir), Ok(file)) = (corpus_dir(), std::env::var("TRACETAIL_DUMP")) else {
        return;
    };
    let (http, dns) = analyze(&dir.join(file));
    for t in &http {
        println!(
            "{} d{} {} {} {:?} {:?} req {:?}..{:?} resp {:?}..{:?} {:?} {}B/{}B",
            t.connection_id,
            t.depth,
            t.method,
            t.uri.chars().take(40).collect::<String>(),
            t.status,
            t.host,
            t.request_first_ns,
            t.request_last_ns,
            t.response_first_ns,
            t.response_last_ns,
            t.flags,
            t.request_bytes,
            t.response_bytes
        );
    }
    for t in &dns {
        println!("{t:?}");
    }
}

/// Every readable corpus capture goes through the analyzer without panicking and leaves no
/// state behind (fuzzed and truncated files included).
#[test]
fn corpus_all_captures_analyze_cleanly() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let mut files = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !(name.contains(".pcap") || name.ends_with(".cap"))
            || CaptureReader::open(&path).is_err()
        {
            continue;
        }
        files += 1;
        let (http, dns) = analyze(&path);
        for t in &http {
            for (a, b) in [
                (t.request_first_ns, t.request_last_ns),
                (t.response_first_ns, t.response_last_ns),
            ] {
                if let (Some(a), Some(b)) = (a, b) {
                    assert!(a <= b, "{name}: first after last in {t:?}");
                }
            }
        }
        let _ = dns;
    }
    println!("analyzed {files} captures");
    assert!(files > 50);
}

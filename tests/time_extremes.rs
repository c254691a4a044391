//! Capture-time arithmetic saturates: packets dated near `i64::MIN` and `i64::MAX` (a pcapng
//! timestamp beyond 2262 is clamped to `i64::MAX` by the reader) go through flows, the idle
//! sweep, DNS timeouts, pairing and latencies without overflow. Tests run in a debug build,
//! where an overflow panics.

mod common;

use tracetail::analyzers::{AnalyzerConfig, Event, TransactionAnalyzer};
use tracetail::capture::writer::PcapNgWriter;
use tracetail::capture::{LinkType, Packet};
use tracetail::decode::decode;
use tracetail::flows::FlowTable;
use tracetail::synth::packet::{PacketBuilder, TcpFields};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// One HTTP exchange on port 80 (handshake, request, response, FIN from both sides) and a
/// DNS query that is never answered, as Ethernet frames dated `times[i]`.
fn frames(times: [i64; 9]) -> Vec<(i64, Vec<u8>)> {
    let client = common::client_endpoints(80);
    let server = client.reversed();
    let resolver = common::client_endpoints(53);
    let mut b = PacketBuilder::new();
    let seg = |seq, ack, flags| TcpFields {
        seq,
        ack,
        flags,
        window: 65535,
    };
    let (c, s) = (1000u32, 5000u32);
    let req_len = REQUEST.len() as u32;
    let resp_len = RESPONSE.len() as u32;
    let query = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1,
    ];
    let mut out: Vec<Vec<u8>> = vec![
        b.tcp(&client, seg(c, 0, SYN), |_| {}).to_vec(),
        b.tcp(&server, seg(s, c + 1, SYN | ACK), |_| {}).to_vec(),
        b.tcp(&client, seg(c + 1, s + 1, ACK), |_| {}).to_vec(),
        b.tcp(&client, seg(c + 1, s + 1, PSH_ACK), |p| {
            p.extend_from_slice(REQUEST)
        })
        .to_vec(),
        b.tcp(&server, seg(s + 1, c + 1 + req_len, PSH_ACK), |p| {
            p.extend_from_slice(RESPONSE)
        })
        .to_vec(),
        b.udp(&resolver, |p| p.extend_from_slice(&query)).to_vec(),
    ];
    out.push(
        b.tcp(
            &client,
            seg(c + 1 + req_len, s + 1 + resp_len, FIN_ACK),
            |_| {},
        )
        .to_vec(),
    );
    out.push(
        b.tcp(
            &server,
            seg(s + 1 + resp_len, c + 2 + req_len, FIN_ACK),
            |_| {},
        )
        .to_vec(),
    );
    out.push(
        b.tcp(&client, seg(c + 2 + req_len, s + 2 + resp_len, ACK), |_| {})
            .to_vec(),
    );
    times.into_iter().zip(out).collect()
}

/// The library end to end at both ends of time, one packet per extreme jump.
#[test]
fn analyzers_and_flows_saturate_at_both_ends_of_time() {
    let min = i64::MIN;
    let max = i64::MAX;
    // Handshake at the dawn of time, request and response at its end: every difference is
    // beyond i64.
    let frames = frames([
        min,
        min + 1,
        min + 2,
        max - 10,
        max - 5,
        max - 4,
        max,
        max,
        max,
    ]);
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig {
        idle_timeout_ns: 100,
        dns_timeout_ns: 100,
        ..AnalyzerConfig::default()
    });
    let mut flows = FlowTable::new(false);
    let mut events = Vec::new();
    for (ts, frame) in &frames {
        let packet = Packet {
            timestamp_ns: *ts,
            link_type: LinkType::ETHERNET,
            original_len: frame.len() as u32,
            interface_id: 0,
            data: frame,
        };
        let decoded = decode(LinkType::ETHERNET, frame);
        let update = flows.on_packet(&packet, &decoded).expect("a flow");
        analyzer.on_packet(*ts, update.flow_id, &decoded, &mut events);
        flows.evict(*ts, 100, 100);
    }
    for record in flows.finish_open() {
        let _ = (record.duration_ns(), record.handshake_ns());
        analyzer.on_flow_end(record.flow_id, &mut events);
    }
    analyzer.finish(&mut events);
    let http: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Http(t) => Some(t),
            _ => None,
        })
        .collect();
    // The idle sweep at max - 10 flushed the connection idle since min + 2: the request that
    // follows opens a new one. Its exchange is intact and its latencies are exact.
    let answered = http
        .iter()
        .find(|t| t.status == Some(200))
        .expect("the exchange near i64::MAX is paired");
    assert_eq!(answered.request_first_ns, Some(max - 10));
    assert_eq!(answered.ttfb_ns(), Some(5));
    let dns = events.iter().find_map(|e| match e {
        Event::Dns(t) => Some(t),
        _ => None,
    });
    assert_eq!(dns.expect("the query is reported").latency_ns(), None);
    assert_eq!(analyzer.low_watermark_ns(), None);
}

/// Saturated latencies: a request at i64::MIN answered at i64::MAX reports i64::MAX.
#[test]
fn latencies_beyond_i64_saturate() {
    let frames = frames([
        i64::MIN,
        i64::MIN,
        i64::MIN,
        i64::MIN,
        i64::MAX,
        i64::MAX,
        i64::MAX,
        i64::MAX,
        i64::MAX,
    ]);
    // Nothing is ever idle for longer than this, so the exchange spans all of time.
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig {
        idle_timeout_ns: i64::MAX,
        dns_timeout_ns: i64::MAX,
        ..AnalyzerConfig::default()
    });
    let mut events = Vec::new();
    for (ts, frame) in &frames {
        analyzer.on_packet(*ts, 1, &decode(LinkType::ETHERNET, frame), &mut events);
    }
    analyzer.finish(&mut events);
    let t = events
        .iter()
        .find_map(|e| match e {
            Event::Http(t) if t.status == Some(200) => Some(t),
            _ => None,
        })
        .expect("paired");
    assert_eq!(t.request_first_ns, Some(i64::MIN));
    assert_eq!(t.ttfb_ns(), Some(i64::MAX));
    assert_eq!(t.total_ns(), Some(i64::MAX));
    assert_eq!(t.server_ns(), Some(i64::MAX));
}

/// The binary (a debug build in tests) on a pcapng whose last packets are dated beyond 2262:
/// every command that reads captures finishes without overflow.
#[test]
fn commands_survive_timestamps_clamped_to_i64_max() {
    let path = common::scratch("time_extremes", "far_future.pcapng");
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapNgWriter::new(file).unwrap();
    let iface = w.add_interface(LinkType::ETHERNET, 65535, 9).unwrap();
    let max = i64::MAX;
    for (ts, frame) in frames([0, 1, 2, max - 10, max - 5, max - 4, max, max, max]) {
        w.write_packet(iface, ts, &frame, frame.len() as u32)
            .unwrap();
    }
    w.finish().unwrap();
    for args in [
        vec!["summary", "--json"],
        vec!["sessions", "--json"],
        vec!["http", "--json"],
        vec!["dns", "--json"],
        vec!["latency", "--json"],
    ] {
        let out = common::tracetail().args(&args).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("overflow"), "{args:?}: {stderr}");
        if args[0] == "http" {
            let rows: Vec<serde_json::Value> = out
                .stdout
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            let answered = rows
                .iter()
                .find(|r| r["status"] == 200)
                .expect("the exchange near i64::MAX is paired");
            assert_eq!(answered["request_first_ns"], max - 10);
            assert_eq!(answered["response_first_ns"], max - 5);
        }
    }
}

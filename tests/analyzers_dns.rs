//! DNS matching over UDP and TCP on hand-built decoded packets.

use std::net::{IpAddr, Ipv4Addr};
use tracetail::analyzers::{AnalyzerConfig, DnsTransaction, Event, TransactionAnalyzer};
use tracetail::decode::{Decoded, Ipv4Info, Network, TcpFlags, TcpInfo, Transport, UdpInfo};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8));

fn ipv4(src: IpAddr, dst: IpAddr, protocol: u8) -> Network {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        unreachable!()
    };
    Network::Ipv4(Ipv4Info {
        src: s,
        dst: d,
        protocol,
        ttl: 64,
        header_len: 20,
        total_len: 0,
        identification: 0,
        is_fragment: false,
        fragment_offset: 0,
        has_options: false,
    })
}

fn udp<'a>(src: (IpAddr, u16), dst: (IpAddr, u16), payload: &'a [u8]) -> Decoded<'a> {
    Decoded {
        network: ipv4(src.0, dst.0, 17),
        transport: Transport::Udp(UdpInfo {
            src_port: src.1,
            dst_port: dst.1,
            payload,
            payload_missing: 0,
        }),
        ..Default::default()
    }
}

fn tcp<'a>(
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    flags: u8,
    payload: &'a [u8],
) -> Decoded<'a> {
    Decoded {
        network: ipv4(src.0, dst.0, 6),
        transport: Transport::Tcp(TcpInfo {
            src_port: src.1,
            dst_port: dst.1,
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 1000,
            payload,
            payload_missing: 0,
        }),
        ..Default::default()
    }
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

/// A response with `answers` A records whose names are compression pointers to the question.
fn response(id: u16, name: &str, qtype: u16, rcode: u8, answers: u16) -> Vec<u8> {
    let mut m = query(id, name, qtype);
    m[2] = 0x81;
    m[3] = 0x80 | rcode;
    m[6..8].copy_from_slice(&answers.to_be_bytes());
    for i in 0..answers {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, i as u8]);
    }
    m
}

fn dns(events: &[Event]) -> Vec<DnsTransaction> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Dns(t) => Some(t.as_ref().clone()),
            _ => None,
        })
        .collect()
}

fn analyzer() -> TransactionAnalyzer {
    TransactionAnalyzer::new(AnalyzerConfig::default())
}

/// A pass that turned DNS over UDP off (`http`, `tcp`) neither pairs nor holds its packets.
#[test]
fn udp_dns_off_looks_at_nothing() {
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        dns_over_udp: false,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    let (c, s) = ((CLIENT, 51000), (SERVER, 53));
    a.on_packet(
        1_000,
        1,
        &udp(c, s, &query(7, "www.example.com", 1)),
        &mut out,
    );
    assert_eq!(a.low_watermark_ns(), None, "nothing held back");
    let answer = response(7, "www.example.com", 1, 0, 1);
    a.on_packet(2_000, 1, &udp(s, c, &answer), &mut out);
    a.finish(&mut out);
    assert!(dns(&out).is_empty());
    assert_eq!(a.stats().dns_queries + a.stats().dns_orphan_responses, 0);
}

#[test]
fn udp_query_response() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let c = (CLIENT, 51000);
    let s = (SERVER, 53);
    a.on_packet(
        1_000,
        1,
        &udp(c, s, &query(0x1234, "www.example.com", 1)),
        &mut out,
    );
    assert_eq!(a.low_watermark_ns(), Some(1_000));
    a.on_packet(
        24_400,
        1,
        &udp(s, c, &response(0x1234, "www.example.com", 1, 0, 2)),
        &mut out,
    );
    let txs = dns(&out);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    assert_eq!(
        (t.client_ip, t.client_port, t.server_ip, t.server_port),
        (CLIENT, 51000, SERVER, 53)
    );
    assert_eq!((t.transport, t.id), ("udp", 0x1234));
    assert_eq!(
        (t.query_name.as_str(), t.query_type),
        ("www.example.com", 1)
    );
    assert_eq!((t.rcode, t.answers), (Some(0), 2));
    assert_eq!(t.latency_ns(), Some(23_400));
    assert!(t.flags.is_empty());
    assert_eq!(a.low_watermark_ns(), None);
    assert_eq!(a.stats().dns_queries, 1);
}

#[test]
fn retransmitted_query_pairs_with_first_and_duplicate_response_is_dropped() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let c = (CLIENT, 51000);
    let s = (SERVER, 53);
    let q = query(7, "slow.example", 28);
    a.on_packet(100, 1, &udp(c, s, &q), &mut out);
    a.on_packet(1_100, 1, &udp(c, s, &q), &mut out);
    let r = response(7, "slow.example", 28, 3, 0);
    a.on_packet(1_500, 1, &udp(s, c, &r), &mut out);
    a.on_packet(1_600, 1, &udp(s, c, &r), &mut out);
    let txs = dns(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].latency_ns(), Some(1_400));
    assert_eq!(txs[0].rcode, Some(3));
    assert_eq!(txs[0].flags, vec!["retransmitted_query"]);
    assert_eq!(a.stats().dns_duplicate_responses, 1);
}

#[test]
fn ids_and_ports_keep_concurrent_queries_apart() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let s = (SERVER, 53);
    a.on_packet(
        10,
        1,
        &udp((CLIENT, 1000), s, &query(1, "a.x", 1)),
        &mut out,
    );
    a.on_packet(
        11,
        2,
        &udp((CLIENT, 1001), s, &query(1, "b.x", 1)),
        &mut out,
    );
    a.on_packet(
        12,
        1,
        &udp((CLIENT, 1000), s, &query(2, "c.x", 1)),
        &mut out,
    );
    a.on_packet(
        20,
        1,
        &udp(s, (CLIENT, 1000), &response(2, "c.x", 1, 0, 1)),
        &mut out,
    );
    a.on_packet(
        30,
        2,
        &udp(s, (CLIENT, 1001), &response(1, "b.x", 1, 0, 1)),
        &mut out,
    );
    a.on_packet(
        40,
        1,
        &udp(s, (CLIENT, 1000), &response(1, "a.x", 1, 0, 1)),
        &mut out,
    );
    let got: Vec<_> = dns(&out)
        .iter()
        .map(|t| (t.query_name.clone(), t.latency_ns().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![("c.x".into(), 8), ("b.x".into(), 19), ("a.x".into(), 30)]
    );
}

#[test]
fn unanswered_and_orphan() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let c = (CLIENT, 5000);
    let s = (SERVER, 53);
    a.on_packet(10, 1, &udp(c, s, &query(9, "lost.example", 1)), &mut out);
    a.on_packet(
        20,
        1,
        &udp(s, c, &response(10, "other.example", 1, 0, 1)),
        &mut out,
    );
    assert_eq!(a.low_watermark_ns(), Some(10));
    a.finish(&mut out);
    let txs = dns(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(
        (txs[0].flags.clone(), txs[0].query_ns, txs[0].response_ns),
        (vec!["orphan_response"], None, Some(20))
    );
    assert_eq!(
        (txs[1].flags.clone(), txs[1].query_ns, txs[1].response_ns),
        (vec!["unanswered"], Some(10), None)
    );
    assert_eq!(a.stats().dns_unanswered, 1);
    assert_eq!(a.low_watermark_ns(), None);
}

#[test]
fn unanswered_query_times_out_while_capture_continues() {
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        dns_timeout_ns: 1_000,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    a.on_packet(
        0,
        1,
        &udp((CLIENT, 5000), (SERVER, 53), &query(1, "t.x", 1)),
        &mut out,
    );
    a.on_packet(
        2_000,
        2,
        &udp((CLIENT, 6000), (SERVER, 9999), b"not dns"),
        &mut out,
    );
    let txs = dns(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].flags, vec!["unanswered"]);
}

#[test]
fn nonstandard_port_needs_an_answer() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let c = (CLIENT, 40000);
    let s = (SERVER, 5300);
    a.on_packet(10, 1, &udp(c, s, &query(3, "alt.example", 1)), &mut out);
    a.on_packet(
        15,
        1,
        &udp(s, c, &response(3, "alt.example", 1, 0, 1)),
        &mut out,
    );
    a.on_packet(
        20,
        2,
        &udp((CLIENT, 40001), s, &query(4, "never.example", 1)),
        &mut out,
    );
    a.on_packet(
        30,
        3,
        &udp(
            (CLIENT, 40002),
            (SERVER, 7777),
            b"\x00\x05random bytes here",
        ),
        &mut out,
    );
    a.finish(&mut out);
    let txs = dns(&out);
    assert_eq!(txs.len(), 1, "{txs:?}");
    assert_eq!(
        (txs[0].query_name.as_str(), txs[0].latency_ns()),
        ("alt.example", Some(5))
    );
    assert_eq!(a.stats().dns_parse_errors, 0);
}

#[test]
fn compression_loop_is_a_parse_error_but_the_id_still_pairs() {
    let mut a = analyzer();
    let mut out = Vec::new();
    // Question name = pointer to itself.
    let mut evil_response = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
    evil_response.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let mut evil_query = evil_response.clone();
    evil_query[2] = 0x01;
    evil_query[3] = 0x00;
    a.on_packet(
        5,
        1,
        &udp((CLIENT, 1234), (SERVER, 53), &evil_query),
        &mut out,
    );
    a.on_packet(
        10,
        1,
        &udp((SERVER, 53), (CLIENT, 1234), &evil_response),
        &mut out,
    );
    // Too short for a header: counted, nothing emitted.
    a.on_packet(
        11,
        1,
        &udp((SERVER, 53), (CLIENT, 1234), &evil_response[..5]),
        &mut out,
    );
    let txs = dns(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (
            txs[0].latency_ns(),
            txs[0].flags.clone(),
            txs[0].query_name.as_str()
        ),
        (Some(5), vec!["malformed"], "")
    );
    assert_eq!(a.stats().dns_parse_errors, 3);
}

#[test]
fn dns_over_tcp_with_split_and_coalesced_messages() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let c = (CLIENT, 45000);
    let s = (SERVER, 53);
    let syn = TcpFlags::SYN;
    let ack = TcpFlags::ACK | TcpFlags::PSH;
    a.on_packet(0, 5, &tcp(c, s, 100, syn, b""), &mut out);
    a.on_packet(1, 5, &tcp(s, c, 900, syn | TcpFlags::ACK, b""), &mut out);
    let framed = |m: Vec<u8>| {
        let mut f = (m.len() as u16).to_be_bytes().to_vec();
        f.extend(m);
        f
    };
    let mut queries = framed(query(1, "one.example", 1));
    queries.extend(framed(query(2, "two.example", 16)));
    // Both queries in one segment.
    a.on_packet(10, 5, &tcp(c, s, 101, ack, &queries), &mut out);
    let mut responses = framed(response(2, "two.example", 16, 0, 1));
    responses.extend(framed(response(1, "one.example", 1, 0, 3)));
    // Responses split: the length prefix of the second message is cut in half.
    let cut = framed(response(2, "two.example", 16, 0, 1)).len() + 1;
    a.on_packet(20, 5, &tcp(s, c, 901, ack, &responses[..cut]), &mut out);
    a.on_packet(
        25,
        5,
        &tcp(s, c, 901 + cut as u32, ack, &responses[cut..]),
        &mut out,
    );
    a.on_flow_end(5, &mut out);
    let txs = dns(&out);
    let got: Vec<_> = txs
        .iter()
        .map(|t| {
            (
                t.transport,
                t.query_name.as_str(),
                t.answers,
                t.latency_ns(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("tcp", "two.example", 1, Some(10)),
            ("tcp", "one.example", 3, Some(15))
        ]
    );
    assert_eq!(a.stats().http_connections, 0);
}

#[test]
fn mdns_response_without_query_is_orphan() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mdns = (IpAddr::V4(Ipv4Addr::new(224, 0, 0, 251)), 5353);
    a.on_packet(
        10,
        1,
        &udp((CLIENT, 5353), mdns, &response(0, "printer.local", 1, 0, 1)),
        &mut out,
    );
    let txs = dns(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].flags, vec!["orphan_response"]);
    assert_eq!(txs[0].query_name, "printer.local");
}

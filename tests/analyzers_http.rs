//! TCP reassembly + HTTP/1.x analysis on hand-built decoded packets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tracetail::analyzers::{AnalyzerConfig, Event, HttpTransaction, TransactionAnalyzer};
use tracetail::decode::{Decoded, Ipv4Info, Ipv6Info, Network, TcpFlags, TcpInfo, Transport};

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH | TcpFlags::ACK;

fn packet<'a>(
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    flags: u8,
    payload: &'a [u8],
    missing: u32,
) -> Decoded<'a> {
    let network = match (src.0, dst.0) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Network::Ipv4(Ipv4Info {
            src: s,
            dst: d,
            protocol: 6,
            ttl: 64,
            header_len: 20,
            total_len: 40 + payload.len() as u16,
            identification: 0,
            is_fragment: false,
            fragment_offset: 0,
            has_options: false,
        }),
        (IpAddr::V6(s), IpAddr::V6(d)) => Network::Ipv6(Ipv6Info {
            src: s,
            dst: d,
            next_header: 6,
            transport_protocol: 6,
            payload_len: 20 + payload.len() as u16,
            hop_limit: 64,
            is_fragment: false,
        }),
        _ => unreachable!(),
    };
    Decoded {
        network,
        transport: Transport::Tcp(TcpInfo {
            src_port: src.1,
            dst_port: dst.1,
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 65535,
            payload,
            payload_missing: missing,
        }),
        ..Default::default()
    }
}

/// One TCP connection: tracks sequence numbers so tests read like a conversation.
struct Conn {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    flow: u64,
    /// Next sequence number per side (0 client, 1 server).
    seq: [u32; 2],
}

impl Conn {
    fn new(flow: u64, server_port: u16) -> Conn {
        Conn {
            client: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000 + flow as u16),
            server: (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), server_port),
            flow,
            seq: [1000, 5000],
        }
    }
    fn ends(&self, side: usize) -> ((IpAddr, u16), (IpAddr, u16)) {
        if side == 0 {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        }
    }
    fn handshake(&mut self, a: &mut TransactionAnalyzer, t: i64, out: &mut Vec<Event>) {
        let (c, s) = self.ends(0);
        a.on_packet(t, self.flow, &packet(c, s, self.seq[0], SYN, b"", 0), out);
        a.on_packet(
            t + 1,
            self.flow,
            &packet(s, c, self.seq[1], SYN | ACK, b"", 0),
            out,
        );
        self.seq[0] += 1;
        self.seq[1] += 1;
        a.on_packet(
            t + 2,
            self.flow,
            &packet(c, s, self.seq[0], ACK, b"", 0),
            out,
        );
    }
    /// Sends `data` from `side` in order at time `t`.
    fn send(
        &mut self,
        a: &mut TransactionAnalyzer,
        side: usize,
        t: i64,
        data: &[u8],
        out: &mut Vec<Event>,
    ) {
        let seq = self.seq[side];
        self.send_at(a, side, t, seq, data, out);
        self.seq[side] = seq.wrapping_add(data.len() as u32);
    }
    /// Sends `data` at an explicit sequence number (for reordering); does not advance.
    fn send_at(
        &self,
        a: &mut TransactionAnalyzer,
        side: usize,
        t: i64,
        seq: u32,
        data: &[u8],
        out: &mut Vec<Event>,
    ) {
        let (src, dst) = self.ends(side);
        a.on_packet(t, self.flow, &packet(src, dst, seq, PSH, data, 0), out);
    }
    fn fin(&mut self, a: &mut TransactionAnalyzer, side: usize, t: i64, out: &mut Vec<Event>) {
        let (src, dst) = self.ends(side);
        a.on_packet(
            t,
            self.flow,
            &packet(src, dst, self.seq[side], FIN, b"", 0),
            out,
        );
        self.seq[side] = self.seq[side].wrapping_add(1);
    }
}

fn http(events: &[Event]) -> Vec<HttpTransaction> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Http(t) => Some(t.as_ref().clone()),
            _ => None,
        })
        .collect()
}

fn analyzer() -> TransactionAnalyzer {
    TransactionAnalyzer::new(AnalyzerConfig::default())
}

const GET: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: t\r\n\r\n";
const OK5: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn simple_get_in_order_with_exact_fields() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(7, 80);
    c.handshake(&mut a, 100, &mut out);
    c.send(&mut a, 0, 1_000, GET, &mut out);
    assert_eq!(a.low_watermark_ns(), Some(1_000));
    c.send(&mut a, 1, 3_000, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    assert_eq!(t.connection_id, 7);
    assert_eq!(t.depth, 1);
    assert_eq!((t.client_ip, t.client_port), c.client);
    assert_eq!((t.server_ip, t.server_port), c.server);
    assert_eq!(t.method, "GET");
    assert_eq!(t.uri, "/index.html");
    assert_eq!(t.host.as_deref(), Some("example.org"));
    assert_eq!(t.version, "1.1");
    assert_eq!(t.status, Some(200));
    assert_eq!(t.request_bytes, GET.len() as u64);
    assert_eq!(t.response_bytes, OK5.len() as u64);
    assert_eq!(t.request_body_bytes, 0);
    assert_eq!(t.response_body_bytes, 5);
    assert_eq!(t.request_first_ns, Some(1_000));
    assert_eq!(t.request_last_ns, Some(1_000));
    assert_eq!(t.response_first_ns, Some(3_000));
    assert_eq!(t.response_last_ns, Some(3_000));
    assert!(t.flags.is_empty(), "{:?}", t.flags);
    assert_eq!(t.tshark_ns(), Some(2_000));
    assert_eq!(a.low_watermark_ns(), None);
    let s = a.stats();
    assert_eq!(
        (s.tcp_connections, s.http_connections, s.http_transactions),
        (1, 1, 1)
    );
}

#[test]
fn out_of_order_request_times_use_first_arrival_and_completing_packet() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let (head, tail) = GET.split_at(20);
    let base = c.seq[0];
    // The second half arrives first (t=10), the first half at t=30.
    c.send_at(&mut a, 0, 10, base + head.len() as u32, tail, &mut out);
    assert_eq!(
        a.low_watermark_ns(),
        Some(10),
        "buffered bytes hold the watermark"
    );
    c.send_at(&mut a, 0, 30, base, head, &mut out);
    c.seq[0] = base + GET.len() as u32;
    // Response in two segments, reversed as well: body (t=50) before head (t=60).
    let (rh, rb) = OK5.split_at(OK5.len() - 5);
    let sbase = c.seq[1];
    c.send_at(&mut a, 1, 50, sbase + rh.len() as u32, rb, &mut out);
    c.send_at(&mut a, 1, 60, sbase, rh, &mut out);
    let t = &http(&out)[0];
    assert_eq!(t.request_first_ns, Some(10));
    assert_eq!(t.request_last_ns, Some(30));
    assert_eq!(t.response_first_ns, Some(50));
    assert_eq!(t.response_last_ns, Some(60));
    assert!(t.flags.is_empty());
}

#[test]
fn retransmissions_do_not_change_timing_or_content() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let base = c.seq[0];
    c.send(&mut a, 0, 10, GET, &mut out);
    c.send_at(&mut a, 0, 20, base, GET, &mut out); // full retransmission
    let sbase = c.seq[1];
    c.send_at(&mut a, 1, 30, sbase, &OK5[..10], &mut out);
    c.send_at(&mut a, 1, 31, sbase + 5, &OK5[5..20], &mut out); // overlap
    c.send_at(&mut a, 1, 32, sbase + 20, &OK5[20..], &mut out);
    c.send_at(&mut a, 1, 33, sbase, OK5, &mut out); // late duplicate of everything
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    assert_eq!(
        (t.request_first_ns, t.request_last_ns),
        (Some(10), Some(10))
    );
    assert_eq!(
        (t.response_first_ns, t.response_last_ns),
        (Some(30), Some(32))
    );
    assert_eq!(t.response_body_bytes, 5);
    assert_eq!(
        a.stats().tcp_retransmitted_bytes,
        (GET.len() + 5 + OK5.len()) as u64
    );
}

#[test]
fn sequence_numbers_wrap_inside_a_request() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 8000);
    c.seq = [u32::MAX - 10, u32::MAX - 3];
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &GET[..5], &mut out);
    c.send(&mut a, 0, 11, &GET[5..], &mut out); // crosses 2^32
    c.send(&mut a, 1, 20, OK5, &mut out);
    c.send(&mut a, 0, 30, GET, &mut out);
    c.send(&mut a, 1, 40, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].request_last_ns, Some(11));
    assert_eq!(txs[1].depth, 2);
    assert_eq!(txs[1].tshark_ns(), Some(10));
}

#[test]
fn gap_in_body_is_flagged_and_the_connection_stays_in_sync() {
    // Small reorder budget so the hole is declared while the connection is still open.
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        max_reorder_bytes: 400,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n".to_vec();
    let head_len = resp.len();
    resp.extend(std::iter::repeat_n(b'x', 900));
    c.send(&mut a, 1, 20, &resp[..head_len + 100], &mut out);
    // 300 body bytes lost, then the rest arrives.
    let lost_from = c.seq[1];
    c.seq[1] += 300;
    c.send(
        &mut a,
        1,
        21,
        &resp[head_len + 400..head_len + 700],
        &mut out,
    );
    c.send(&mut a, 1, 22, &resp[head_len + 700..], &mut out);
    // Next transaction on the same connection is clean.
    c.send(&mut a, 0, 30, GET, &mut out);
    c.send(&mut a, 1, 40, OK5, &mut out);
    let _ = lost_from;
    let txs = http(&out);
    assert_eq!(txs.len(), 2, "{txs:#?}");
    assert_eq!(txs[0].flags, vec!["gap"]);
    assert_eq!(txs[0].response_body_bytes, 600);
    assert_eq!(txs[0].response_last_ns, Some(22));
    assert!(txs[1].flags.is_empty(), "{:?}", txs[1].flags);
    assert_eq!(txs[1].status, Some(200));
    let s = a.stats();
    assert_eq!((s.tcp_gaps, s.tcp_gap_bytes), (1, 300));
    assert_eq!(s.http_transactions_with_gaps, 1);
}

#[test]
fn gap_found_at_flow_end_flags_transaction() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(3, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789abcdefghij0123456789";
    c.send(&mut a, 1, 20, &resp[..45], &mut out);
    let base = c.seq[1];
    c.send_at(&mut a, 1, 22, base + 10, &resp[55..], &mut out);
    assert!(http(&out).is_empty());
    a.on_flow_end(3, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].flags, vec!["gap"]);
    assert_eq!(txs[0].response_body_bytes, 20);
    assert_eq!(a.low_watermark_ns(), None);
}

/// A bare ACK (no payload, no SYN/FIN/RST) takes a short path when nothing is held out of
/// order; what it acknowledges must still count: data arriving later behind a hole the
/// client already acknowledged makes the hole a gap at once, not at the flow's end.
#[test]
fn bare_ack_past_a_hole_makes_it_a_gap_when_the_data_after_it_arrives() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(4, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789abcdefghij0123456789";
    c.send(&mut a, 1, 20, &resp[..45], &mut out);
    let base = c.seq[1];
    // The client acknowledges everything (the capture missed 10 bytes) before the data after
    // the hole shows up in the capture.
    let (client, server) = c.ends(0);
    let mut bare = packet(client, server, c.seq[0], ACK, b"", 0);
    if let Transport::Tcp(t) = &mut bare.transport {
        t.ack = base + (resp.len() - 45) as u32;
    }
    a.on_packet(21, 4, &bare, &mut out);
    assert!(http(&out).is_empty());
    c.send_at(&mut a, 1, 22, base + 10, &resp[55..], &mut out);
    let txs = http(&out);
    assert_eq!(
        txs.len(),
        1,
        "the acknowledged hole is a gap before the flow ends"
    );
    assert_eq!(txs[0].flags, vec!["gap"]);
    assert_eq!(txs[0].response_body_bytes, 20);
    assert_eq!(txs[0].response_last_ns, Some(22));
    assert_eq!(a.stats().tcp_gap_bytes, 10);
}

#[test]
fn snaplen_cut_payload_is_a_gap() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    let (s, d) = c.ends(1);
    a.on_packet(20, 1, &packet(s, d, c.seq[1], PSH, resp, 100), &mut out);
    c.seq[1] += resp.len() as u32 + 100;
    c.send(&mut a, 0, 30, GET, &mut out);
    c.send(&mut a, 1, 40, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].flags, vec!["gap"]);
    assert_eq!(txs[0].response_last_ns, Some(20));
    assert!(txs[1].flags.is_empty());
}

fn pipelined_requests() -> Vec<u8> {
    [
        &b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /c HTTP/1.1\r\nHost: h\r\n\r\n",
    ]
    .concat()
}

const RA: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
const RB: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbb";
const RC: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nccc";

#[test]
fn pipelining_three_requests_one_segment_responses_one_segment() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &pipelined_requests(), &mut out);
    c.send(&mut a, 1, 20, &[RA, RB, RC].concat(), &mut out);
    let txs = http(&out);
    let got: Vec<_> = txs
        .iter()
        .map(|t| (t.uri.as_str(), t.status, t.depth))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/a", Some(200), 1),
            ("/b", Some(404), 2),
            ("/c", Some(201), 3)
        ]
    );
    for t in &txs {
        assert_eq!(
            (t.request_first_ns, t.request_last_ns),
            (Some(10), Some(10))
        );
        assert_eq!(
            (t.response_first_ns, t.response_last_ns),
            (Some(20), Some(20))
        );
        assert!(t.flags.is_empty());
    }
}

/// Pipelined requests, the middle segment late (reordered or lost and retransmitted): a
/// request whose bytes all arrived ahead of the hole was complete at its own arrival; the
/// hole delays only the request it is in (found by synth ground truth, seed 11 flow 0).
#[test]
fn pipelined_request_after_a_hole_is_complete_at_its_own_arrival() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let reqs = pipelined_requests();
    let one = reqs.len() / 3;
    let base = c.seq[0];
    // Segments: [0, one+5) at 10, [one+10, end) at 20, the hole [one+5, one+10) at 30.
    c.send_at(&mut a, 0, 10, base, &reqs[..one + 5], &mut out);
    c.send_at(
        &mut a,
        0,
        20,
        base + one as u32 + 10,
        &reqs[one + 10..],
        &mut out,
    );
    c.send_at(
        &mut a,
        0,
        30,
        base + one as u32 + 5,
        &reqs[one + 5..one + 10],
        &mut out,
    );
    // A duplicate of the last request's bytes changes nothing.
    c.send_at(
        &mut a,
        0,
        35,
        base + 2 * one as u32,
        &reqs[2 * one..],
        &mut out,
    );
    c.seq[0] = base + reqs.len() as u32;
    c.send(&mut a, 1, 40, &[RA, RB, RC].concat(), &mut out);
    let txs = http(&out);
    let times: Vec<_> = txs
        .iter()
        .map(|t| (t.uri.as_str(), t.request_first_ns, t.request_last_ns))
        .collect();
    assert_eq!(
        times,
        vec![
            ("/a", Some(10), Some(10)),
            ("/b", Some(10), Some(30)),
            ("/c", Some(20), Some(20)),
        ]
    );
    assert!(txs.iter().all(|t| t.flags.is_empty()));
}

#[test]
fn pipelining_responses_over_several_segments() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &pipelined_requests(), &mut out);
    let all = [RA, RB, RC].concat();
    // Segment 1: RA + first 10 bytes of RB; segment 2: rest of RB + 5 of RC; segment 3: rest.
    let cut1 = RA.len() + 10;
    let cut2 = RA.len() + RB.len() + 5;
    c.send(&mut a, 1, 20, &all[..cut1], &mut out);
    assert_eq!(
        http(&out).len(),
        1,
        "first response complete after segment 1"
    );
    c.send(&mut a, 1, 25, &all[cut1..cut2], &mut out);
    c.send(&mut a, 1, 27, &all[cut2..], &mut out);
    let txs = http(&out);
    let times: Vec<_> = txs
        .iter()
        .map(|t| {
            (
                t.uri.as_str(),
                t.response_first_ns.unwrap(),
                t.response_last_ns.unwrap(),
            )
        })
        .collect();
    assert_eq!(times, vec![("/a", 20, 20), ("/b", 20, 25), ("/c", 25, 27)]);
    assert_eq!(txs[2].response_body_bytes, 3);
    assert_eq!(txs[2].tshark_ns(), Some(17));
}

#[test]
fn split_headers_over_three_segments() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &GET[..3], &mut out);
    c.send(&mut a, 0, 11, &GET[3..30], &mut out);
    c.send(&mut a, 0, 12, &GET[30..], &mut out);
    c.send(&mut a, 1, 20, &OK5[..18], &mut out);
    c.send(&mut a, 1, 21, &OK5[18..], &mut out);
    let t = &http(&out)[0];
    assert_eq!(t.host.as_deref(), Some("example.org"));
    assert_eq!(
        (t.request_first_ns, t.request_last_ns),
        (Some(10), Some(12))
    );
    assert_eq!(
        (t.response_first_ns, t.response_last_ns),
        (Some(20), Some(21))
    );
    assert_eq!(t.request_bytes, GET.len() as u64);
}

#[test]
fn chunked_response_with_trailers_then_next_response() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &pipelined_requests()[..56], &mut out);
    let chunked: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
        4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n";
    // Split in awkward places: inside a size line, inside data, inside trailers.
    c.send(&mut a, 1, 20, &chunked[..55], &mut out);
    c.send(&mut a, 1, 21, &chunked[55..70], &mut out);
    c.send(&mut a, 1, 22, &chunked[70..chunked.len() - 3], &mut out);
    assert!(http(&out).is_empty());
    c.send(&mut a, 1, 23, &chunked[chunked.len() - 3..], &mut out);
    c.send(&mut a, 1, 30, RB, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].response_body_bytes, 4 + 5 + 14);
    assert_eq!(txs[0].response_bytes, chunked.len() as u64);
    assert_eq!(txs[0].response_last_ns, Some(23));
    assert_eq!(txs[1].status, Some(404));
    assert!(txs.iter().all(|t| t.flags.is_empty()));
}

#[test]
fn chunked_request_body() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let req =
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    c.send(&mut a, 0, 10, &req[..50], &mut out);
    c.send(&mut a, 0, 12, &req[50..], &mut out);
    c.send(&mut a, 1, 20, OK5, &mut out);
    let t = &http(&out)[0];
    assert_eq!(t.method, "POST");
    assert_eq!(t.request_body_bytes, 3);
    assert_eq!(t.request_last_ns, Some(12));
}

#[test]
fn bodiless_responses_head_204_304_and_1xx() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let reqs = b"HEAD /h HTTP/1.1\r\n\r\nDELETE /d HTTP/1.1\r\n\r\nGET /n HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    c.send(&mut a, 0, 10, reqs, &mut out);
    let resps = [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"[..],
        b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n",
        OK5,
    ]
    .concat();
    c.send(&mut a, 1, 20, &resps, &mut out);
    let txs = http(&out);
    let got: Vec<_> = txs
        .iter()
        .map(|t| (t.method.as_str(), t.status, t.response_body_bytes))
        .collect();
    assert_eq!(
        got,
        vec![
            ("HEAD", Some(200), 0),
            ("DELETE", Some(204), 0),
            ("GET", Some(304), 0),
            ("GET", Some(200), 5)
        ]
    );
    assert!(txs.iter().all(|t| t.flags.is_empty()), "{txs:#?}");
}

#[test]
fn expect_100_continue() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(
        &mut a,
        0,
        10,
        b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        &mut out,
    );
    c.send(&mut a, 1, 20, b"HTTP/1.1 100 Continue\r\n\r\n", &mut out);
    c.send(&mut a, 0, 30, b"data", &mut out);
    c.send(
        &mut a,
        1,
        40,
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    let t = &txs[0];
    assert_eq!(t.flags, vec!["continue"]);
    assert_eq!(t.status, Some(201));
    assert_eq!(
        (t.request_first_ns, t.request_last_ns),
        (Some(10), Some(30))
    );
    assert_eq!(
        (t.response_first_ns, t.response_last_ns),
        (Some(40), Some(40))
    );
    assert_eq!(t.request_body_bytes, 4);
}

#[test]
fn response_until_close() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, b"GET / HTTP/1.0\r\n\r\n", &mut out);
    c.send(
        &mut a,
        1,
        20,
        b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nfirst ",
        &mut out,
    );
    c.send(&mut a, 1, 21, b"second", &mut out);
    assert!(http(&out).is_empty());
    c.fin(&mut a, 1, 25, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].version, "1.0");
    assert_eq!(txs[0].response_body_bytes, 12);
    assert_eq!(txs[0].response_last_ns, Some(21));
    assert!(txs[0].flags.is_empty());
}

#[test]
fn until_close_without_close_is_incomplete() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, b"GET / HTTP/1.0\r\n\r\n", &mut out);
    c.send(&mut a, 1, 20, b"HTTP/1.0 200 OK\r\n\r\npartial", &mut out);
    a.finish(&mut out);
    let txs = http(&out);
    assert_eq!(txs[0].flags, vec!["response_incomplete"]);
    assert_eq!(txs[0].response_body_bytes, 7);
}

#[test]
fn unanswered_requests_at_finish_and_flow_end_is_per_flow() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c1 = Conn::new(1, 80);
    let mut c2 = Conn::new(2, 80);
    c1.handshake(&mut a, 0, &mut out);
    c2.handshake(&mut a, 0, &mut out);
    c1.send(&mut a, 0, 10, GET, &mut out);
    c2.send(&mut a, 0, 11, &pipelined_requests(), &mut out);
    c2.send(&mut a, 1, 12, RA, &mut out);
    assert_eq!(a.low_watermark_ns(), Some(10));
    a.on_flow_end(1, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2, "flow 1's request + flow 2's answered one");
    assert_eq!(txs[1].connection_id, 1);
    assert_eq!(txs[1].flags, vec!["unanswered"]);
    assert_eq!(a.low_watermark_ns(), Some(11));
    a.finish(&mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 4);
    assert!(txs[2..]
        .iter()
        .all(|t| t.flags == vec!["unanswered"] && t.connection_id == 2));
    assert_eq!(a.stats().http_unanswered, 3);
    assert_eq!(a.low_watermark_ns(), None);
}

#[test]
fn orphan_response_without_request() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 8080);
    // Capture starts mid-connection: only the server speaks, no handshake.
    c.send(&mut a, 1, 20, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].method, "");
    assert_eq!(txs[0].flags, vec!["orphan_response"]);
    assert_eq!((txs[0].client_ip, txs[0].client_port), c.client);
    assert_eq!(a.stats().http_orphan_responses, 1);
}

#[test]
fn any_port_any_method_ipv6() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 12345);
    c.client.0 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    c.server.0 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    c.server.1 = 12345;
    c.handshake(&mut a, 0, &mut out);
    c.send(
        &mut a,
        0,
        10,
        b"PATCH /p HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        &mut out,
    );
    c.send(
        &mut a,
        1,
        20,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    c.send(&mut a, 0, 30, b"X-CUSTOM_VERB * HTTP/1.1\r\n\r\n", &mut out);
    c.send(
        &mut a,
        1,
        40,
        b"HTTP/1.1 405 Nope\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].method, "PATCH");
    assert_eq!(txs[1].method, "X-CUSTOM_VERB");
    assert_eq!(txs[1].status, Some(405));
}

#[test]
fn non_http_connection_is_ignored() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 443);
    c.handshake(&mut a, 0, &mut out);
    c.send(
        &mut a,
        0,
        10,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
        &mut out,
    );
    c.send(
        &mut a,
        1,
        20,
        &[0x16, 0x03, 0x03, 0x00, 0x01, 0x02],
        &mut out,
    );
    c.send(&mut a, 0, 30, GET, &mut out);
    c.send(&mut a, 1, 40, OK5, &mut out);
    a.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(a.stats().tcp_other_connections, 1);
    assert_eq!(a.stats().http_connections, 0);
}

#[test]
fn malformed_first_request_is_recognised_by_the_status_line() {
    // As in zeek's methods.pcap: request lines without a target or version.
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(
        &mut a,
        0,
        10,
        b"GET /HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
        &mut out,
    );
    c.send(
        &mut a,
        1,
        20,
        b"HTTP/1.0 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad",
        &mut out,
    );
    c.send(&mut a, 0, 30, GET, &mut out);
    c.send(&mut a, 1, 40, OK5, &mut out);
    let txs = http(&out);
    let got: Vec<_> = txs
        .iter()
        .map(|t| (t.uri.as_str(), t.status, t.flags.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("", Some(400), vec!["malformed"]),
            ("/index.html", Some(200), vec![])
        ]
    );
    assert_eq!(txs[0].tshark_ns(), Some(10));
    assert_eq!(a.stats().http_parse_errors, 1);
}

#[test]
fn garbage_request_gets_placeholder_and_parsing_resyncs() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    c.send(&mut a, 1, 15, OK5, &mut out);
    c.send(
        &mut a,
        0,
        20,
        b"\x00\x01\x02 garbage\r\nmore: garbage\r\n",
        &mut out,
    );
    c.send(&mut a, 0, 21, b"GET /after HTTP/1.1\r\n\r\n", &mut out);
    c.send(
        &mut a,
        1,
        30,
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    c.send(&mut a, 1, 31, OK5, &mut out);
    let txs = http(&out);
    let got: Vec<_> = txs
        .iter()
        .map(|t| (t.uri.as_str(), t.status, t.flags.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/index.html", Some(200), vec![]),
            ("", Some(400), vec!["malformed"]),
            ("/after", Some(200), vec![])
        ]
    );
    assert_eq!(a.stats().http_parse_errors, 1);
}

#[test]
fn never_ending_header_is_bounded_and_malformed() {
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        max_header_bytes: 1024,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, b"GET / HTTP/1.1\r\n", &mut out);
    let line = b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    for i in 0..200 {
        c.send(&mut a, 0, 11 + i, line, &mut out);
    }
    c.send(&mut a, 0, 300, b"\r\nGET /ok HTTP/1.1\r\n\r\n", &mut out);
    c.send(
        &mut a,
        1,
        400,
        b"HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n",
        &mut out,
    );
    c.send(&mut a, 1, 401, OK5, &mut out);
    a.finish(&mut out);
    let txs = http(&out);
    assert_eq!(a.stats().http_parse_errors, 1);
    let got: Vec<_> = txs
        .iter()
        .map(|t| (t.uri.as_str(), t.status, t.flags.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("", Some(431), vec!["malformed"]),
            ("/ok", Some(200), vec![])
        ]
    );
}

#[test]
fn chunk_size_overflow_is_malformed_and_resyncs() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &pipelined_requests()[..56], &mut out);
    c.send(
        &mut a,
        1,
        20,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\nxx\r\n",
        &mut out,
    );
    c.send(&mut a, 1, 30, RB, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].flags, vec!["malformed"]);
    assert_eq!(txs[1].status, Some(404));
    assert!(txs[1].flags.is_empty());
    assert_eq!(a.stats().http_parse_errors, 1);
}

#[test]
fn rst_ends_connection_and_reused_tuple_is_new_flow() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    let (s, d) = c.ends(1);
    a.on_packet(20, 1, &packet(s, d, c.seq[1], RST, b"", 0), &mut out);
    a.on_flow_end(1, &mut out);
    let mut c2 = Conn::new(2, 80);
    c2.client = c.client;
    c2.handshake(&mut a, 30, &mut out);
    c2.send(&mut a, 0, 40, GET, &mut out);
    c2.send(&mut a, 1, 50, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 2);
    assert_eq!(
        (txs[0].connection_id, txs[0].flags.clone()),
        (1, vec!["unanswered"])
    );
    assert_eq!(
        (txs[1].connection_id, txs[1].depth, txs[1].status),
        (2, 1, Some(200))
    );
}

#[test]
fn excessive_pipelining_reports_oldest_unanswered() {
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        max_pending_requests: 2,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    c.send(&mut a, 0, 10, &pipelined_requests(), &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (txs[0].uri.as_str(), txs[0].flags.clone()),
        ("/a", vec!["unanswered"])
    );
}

#[test]
fn connect_tunnel_stops_parsing() {
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 3128);
    c.handshake(&mut a, 0, &mut out);
    c.send(
        &mut a,
        0,
        10,
        b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
        &mut out,
    );
    c.send(
        &mut a,
        1,
        20,
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        &mut out,
    );
    c.send(&mut a, 0, 30, &[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5], &mut out);
    c.send(&mut a, 1, 40, &[0x16, 3, 3, 0, 1, 0], &mut out);
    a.finish(&mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (txs[0].method.as_str(), txs[0].status),
        ("CONNECT", Some(200))
    );
    assert!(txs[0].flags.is_empty());
    assert_eq!(a.stats().http_parse_errors, 0);
}

#[test]
fn random_bytes_never_panic() {
    // Deterministic pseudo-random payloads on an HTTP connection, in both directions,
    // with random sequence jumps.
    let mut state: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut a = TransactionAnalyzer::new(AnalyzerConfig {
        max_reorder_bytes: 2048,
        max_header_bytes: 512,
        ..AnalyzerConfig::default()
    });
    let mut out = Vec::new();
    for flow in 0..50u64 {
        let mut c = Conn::new(flow, 80);
        c.handshake(&mut a, 0, &mut out);
        c.send(&mut a, 0, 1, b"GET / HTTP/1.1\r\n", &mut out);
        for i in 0..40 {
            let side = (next() % 2) as usize;
            let len = (next() % 300) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 4 == 0 {
                let snippets: [&[u8]; 5] = [
                    b"\r\n",
                    b"HTTP/1.1 200 OK\r\n",
                    b"Transfer-Encoding: chunked\r\n\r\n",
                    b"\r\n\r\n",
                    b"GET / HTTP/1.1\r\n",
                ];
                data.extend_from_slice(snippets[(next() % 5) as usize]);
            }
            let jump = if next() % 8 == 0 {
                (next() % 5000) as u32
            } else {
                0
            };
            let seq = c.seq[side].wrapping_add(jump);
            c.send_at(&mut a, side, 2 + i, seq, &data, &mut out);
            c.seq[side] = seq.wrapping_add(data.len() as u32);
        }
    }
    a.finish(&mut out);
    assert_eq!(a.low_watermark_ns(), None);
}

#[test]
fn capture_starting_with_keepalive_byte() {
    // No handshake; the first client segment is a 1-byte keep-alive (as in scapy's
    // http_chunk.pcap), the request follows at the next sequence number.
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.send(&mut a, 0, 5, b"\0", &mut out);
    c.send(&mut a, 0, 10, GET, &mut out);
    c.send(&mut a, 1, 20, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (txs[0].uri.as_str(), txs[0].status),
        ("/index.html", Some(200))
    );
    assert_eq!(txs[0].request_first_ns, Some(10));
    assert!(txs[0].flags.is_empty());
}

#[test]
fn syn_after_reset_on_the_same_flow_id_starts_over() {
    // The flow table may keep one id for a reused tuple; the analyzer restarts on the SYN.
    let mut a = analyzer();
    let mut out = Vec::new();
    let mut c = Conn::new(1, 80);
    c.handshake(&mut a, 0, &mut out);
    let (s, d) = c.ends(0);
    a.on_packet(5, 1, &packet(s, d, c.seq[0], RST, b"", 0), &mut out);
    c.seq = [70_000, 90_000];
    c.handshake(&mut a, 10, &mut out);
    c.send(&mut a, 0, 20, GET, &mut out);
    c.send(&mut a, 1, 30, OK5, &mut out);
    let txs = http(&out);
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (txs[0].depth, txs[0].status, txs[0].tshark_ns()),
        (1, Some(200), Some(10))
    );
    assert_eq!(a.stats().tcp_connections, 2);
}

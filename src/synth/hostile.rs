//! Hostile traces: captures crafted the way an attacker would, to check that memory and time
//! stay bounded (`tracetail synth --hostile KIND`, the tests in `tests/hostile.rs` and
//! `scripts/bench.sh`). Each kind takes two sizes, `count` (connections, queries...) and `per`
//! (segments or requests per connection, bytes of a header).

use super::packet::{tcp_flags, Endpoints, PacketBuilder, TcpFields};
use crate::capture::{LinkType, PcapWriter};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum HostileKind {
    /// `count` connections that send a SYN and nothing else (a SYN flood).
    SynFlood,
    /// `count` HTTP connections with `per` requests each and no response.
    NoResponses,
    /// `count` connections, each with `per` one-byte segments behind a hole that never fills.
    OutOfOrder,
    /// `count` connections, each with `per` one-byte segments 1000 bytes apart (far apart, so
    /// nothing merges).
    FarApart,
    /// One request whose header block is `per` bytes long, sent one byte per segment.
    ByteByByteHeader,
    /// `count` connections with `per` requests, each request cut by a hole in its head (bytes
    /// the server acknowledges but the capture lacks), no responses.
    GappedRequests,
    /// `count` DNS queries over UDP that are never answered.
    DnsUnanswered,
    /// `count` IPv6 fragments (UDP, `per` bytes of data each, rounded up to 8), each the last
    /// piece of a datagram whose other pieces never come.
    Ipv6Fragments,
    /// `count` connections with `per` requests each, answered at once, while one response
    /// that started before them is still streaming (a byte after each connection) when the
    /// capture ends: every row after its request waits for it, to be written in time order.
    HeldBack,
    /// `count` connections, each sending a request head of `per` bytes in 1400-byte segments
    /// that never ends (no blank line): every connection holds its head so far.
    OpenHeads,
    /// `count` cleartext HTTP/2 connections (prior knowledge) with `per` requests each, every
    /// one on a new stream that is never answered.
    H2Streams,
    /// `count` HTTP connections, each sending `per` pipelined requests in one burst, then
    /// receiving all their (empty) responses in another: each response segment finishes
    /// `per` transactions, so an epoch of packets makes many rows.
    PipelinedBurst,
}

/// Time between packets of a flood (1 µs).
const STEP_NS: i64 = 1_000;
const START_NS: i64 = 1_700_000_000_000_000_000;

/// Writes one hostile trace as nanosecond pcap (Ethernet).
pub fn write_hostile<W: Write>(kind: HostileKind, count: u64, per: u64, out: W) -> io::Result<W> {
    let mut trace = Trace {
        writer: PcapWriter::new(out, LinkType::ETHERNET, 65535, true)?,
        builder: PacketBuilder::new(),
        now_ns: START_NS,
    };
    match kind {
        HostileKind::SynFlood => {
            for i in 0..count {
                let ends = client(i);
                trace.tcp(&ends, 1000, 0, tcp_flags::SYN, b"")?;
            }
        }
        HostileKind::NoResponses => {
            for i in 0..count {
                let ends = client(i);
                let mut seq = trace.handshake(&ends)?;
                for r in 0..per {
                    let req = format!("GET /r{r} HTTP/1.1\r\nHost: h\r\n\r\n");
                    trace.tcp(&ends, seq, 1, tcp_flags::ACK, req.as_bytes())?;
                    seq = seq.wrapping_add(req.len() as u32);
                }
            }
        }
        HostileKind::OutOfOrder | HostileKind::FarApart => {
            let stride = if kind == HostileKind::FarApart {
                1000
            } else {
                1
            };
            let conns: Vec<(Endpoints, u32)> = (0..count)
                .map(|i| Ok((client(i), trace.handshake(&client(i))?)))
                .collect::<io::Result<_>>()?;
            for s in 0..per {
                for (ends, seq) in &conns {
                    // Offset 0 (the hole) never arrives.
                    let at = seq.wrapping_add(1 + (s * stride) as u32);
                    trace.tcp(ends, at, 1, tcp_flags::ACK, b"x")?;
                }
            }
        }
        HostileKind::ByteByByteHeader => {
            let ends = client(0);
            let mut seq = trace.handshake(&ends)?;
            let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
            let filler = per.saturating_sub(head.len() as u64 + 4);
            head.extend(std::iter::repeat_n(b'a', filler as usize));
            head.extend_from_slice(b"\r\n\r\n");
            for b in head {
                trace.tcp(&ends, seq, 1, tcp_flags::ACK, &[b])?;
                seq = seq.wrapping_add(1);
            }
        }
        HostileKind::GappedRequests => {
            for i in 0..count {
                let ends = client(i);
                let mut seq = trace.handshake(&ends)?;
                for r in 0..per {
                    let req = format!(
                        "POST /r{r} HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
                    );
                    // Ten bytes inside the head, after the request line, never appear in the
                    // capture; the server acknowledges them, so they are a gap at once.
                    let req = req.as_bytes();
                    let hole = req.iter().position(|&b| b == b'\n').unwrap_or(0) + 3;
                    trace.tcp(&ends, seq, 1, tcp_flags::ACK, &req[..hole])?;
                    let after = seq.wrapping_add(hole as u32 + 10);
                    trace.tcp(&ends, after, 1, tcp_flags::ACK, &req[hole + 10..])?;
                    seq = seq.wrapping_add(req.len() as u32);
                    trace.tcp(&ends.reversed(), 1, seq, tcp_flags::ACK, b"")?;
                }
            }
        }
        HostileKind::DnsUnanswered => {
            for i in 0..count {
                let mut ends = client(i);
                ends.dst_port = 53;
                let id = (i & 0xffff) as u16;
                let mut query = id.to_be_bytes().to_vec();
                query.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
                query.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
                trace.udp(&ends, &query)?;
            }
        }
        HostileKind::HeldBack => {
            let stream = client(count);
            let request = b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n";
            let mut stream_seq = trace.handshake(&stream)?;
            trace.tcp(&stream, stream_seq, 1, tcp_flags::ACK, request)?;
            stream_seq = stream_seq.wrapping_add(request.len() as u32);
            let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n";
            trace.tcp(&stream.reversed(), 1, stream_seq, tcp_flags::ACK, head)?;
            let mut streamed = 1u32.wrapping_add(head.len() as u32);
            let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            for i in 0..count {
                let ends = client(i);
                let (mut seq, mut server_seq) = (trace.handshake(&ends)?, 1u32);
                for r in 0..per {
                    let req = format!("GET /r{r} HTTP/1.1\r\nHost: h\r\n\r\n");
                    trace.tcp(&ends, seq, server_seq, tcp_flags::ACK, req.as_bytes())?;
                    seq = seq.wrapping_add(req.len() as u32);
                    trace.tcp(&ends.reversed(), server_seq, seq, tcp_flags::ACK, response)?;
                    server_seq = server_seq.wrapping_add(response.len() as u32);
                }
                trace.tcp(
                    &stream.reversed(),
                    streamed,
                    stream_seq,
                    tcp_flags::ACK,
                    b"x",
                )?;
                streamed = streamed.wrapping_add(1);
            }
        }
        HostileKind::OpenHeads => {
            let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
            head.resize(per.max(head.len() as u64) as usize, b'a');
            let conns: Vec<(Endpoints, u32)> = (0..count)
                .map(|i| Ok((client(i), trace.handshake(&client(i))?)))
                .collect::<io::Result<_>>()?;
            for (at, piece) in (0..).step_by(1400).zip(head.chunks(1400)) {
                for (ends, seq) in &conns {
                    trace.tcp(ends, seq.wrapping_add(at), 1, tcp_flags::ACK, piece)?;
                }
            }
        }
        HostileKind::H2Streams => {
            for i in 0..count {
                let ends = client(i);
                let mut seq = trace.handshake(&ends)?;
                let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
                opening.extend_from_slice(&h2_frame(H2_SETTINGS, 0, 0, b""));
                trace.tcp(&ends, seq, 1, tcp_flags::ACK, &opening)?;
                seq = seq.wrapping_add(opening.len() as u32);
                let settings = h2_frame(H2_SETTINGS, 0, 0, b"");
                trace.tcp(&ends.reversed(), 1, seq, tcp_flags::ACK, &settings)?;
                let server_seq = 1u32.wrapping_add(settings.len() as u32);
                for r in 0..per {
                    // GET http://h/rN from the static table and literals never indexed, so
                    // the header table stays empty.
                    let path = format!("/r{r}");
                    let mut block = vec![0x82, 0x86, 0x01, 1, b'h', 0x04, path.len() as u8];
                    block.extend_from_slice(path.as_bytes());
                    let stream = (2 * r + 1) as u32;
                    let frame =
                        h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, stream, &block);
                    trace.tcp(&ends, seq, server_seq, tcp_flags::ACK, &frame)?;
                    seq = seq.wrapping_add(frame.len() as u32);
                }
            }
        }
        HostileKind::PipelinedBurst => {
            let requests: Vec<u8> = (0..per)
                .flat_map(|r| format!("GET /r{r} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes())
                .collect();
            let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(per as usize);
            for i in 0..count {
                let ends = client(i);
                let seq = trace.handshake(&ends)?;
                trace.burst(&ends, seq, 1, &requests)?;
                trace.burst(
                    &ends.reversed(),
                    1,
                    seq.wrapping_add(requests.len() as u32),
                    &responses,
                )?;
            }
        }
        HostileKind::Ipv6Fragments => {
            let data = vec![0x55; per.max(1).div_ceil(8) as usize * 8];
            for i in 0..count {
                trace.last_ipv6_fragment(i as u32, &data)?;
            }
        }
    }
    trace.writer.finish()
}

const H2_HEADERS: u8 = 1;
const H2_SETTINGS: u8 = 4;
const H2_END_STREAM: u8 = 0x1;
const H2_END_HEADERS: u8 = 0x4;

/// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Client `i` (a distinct address and port) talking to 192.0.2.80:80.
fn client(i: u64) -> Endpoints {
    let host = (i / 50_000) as u32;
    Endpoints {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src_ip: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + host)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)),
        src_port: 10_000 + (i % 50_000) as u16,
        dst_port: 80,
    }
}

struct Trace<W: Write> {
    writer: PcapWriter<W>,
    builder: PacketBuilder,
    now_ns: i64,
}

impl<W: Write> Trace<W> {
    fn tcp(
        &mut self,
        ends: &Endpoints,
        seq: u32,
        ack: u32,
        flags: u8,
        data: &[u8],
    ) -> io::Result<()> {
        let fields = TcpFields {
            seq,
            ack,
            flags,
            window: 65535,
        };
        let frame = self
            .builder
            .tcp(ends, fields, |b| b.extend_from_slice(data));
        self.now_ns += STEP_NS;
        self.writer
            .write_packet(self.now_ns, frame, frame.len() as u32)
    }

    fn udp(&mut self, ends: &Endpoints, data: &[u8]) -> io::Result<()> {
        let frame = self.builder.udp(ends, |b| b.extend_from_slice(data));
        self.now_ns += STEP_NS;
        self.writer
            .write_packet(self.now_ns, frame, frame.len() as u32)
    }

    /// The last fragment (offset 1232, more-fragments clear) of IPv6 datagram `id` from
    /// 2001:db8::1 to 2001:db8::2, carrying UDP.
    fn last_ipv6_fragment(&mut self, id: u32, data: &[u8]) -> io::Result<()> {
        let mut frame = Vec::with_capacity(14 + 48 + data.len());
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&(8 + data.len() as u16).to_be_bytes());
        frame.extend_from_slice(&[44, 64]); // next header: fragment; hop limit
        for last in [1u8, 2] {
            frame.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            frame.extend_from_slice(&[0; 11]);
            frame.push(last);
        }
        let offset_units: u16 = 1232 / 8;
        frame.extend_from_slice(&[17, 0]); // UDP, reserved
        frame.extend_from_slice(&(offset_units << 3).to_be_bytes()); // M clear
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(data);
        self.now_ns += STEP_NS;
        self.writer
            .write_packet(self.now_ns, &frame, frame.len() as u32)
    }

    /// SYN, SYN-ACK, ACK (client ISN 1000, server ISN 0); returns the client's next seq.
    /// `data` from `seq` in as few segments as one frame allows (a capture of offloaded
    /// segments shows bursts this way).
    fn burst(&mut self, ends: &Endpoints, seq: u32, ack: u32, data: &[u8]) -> io::Result<()> {
        const MAX_SEGMENT: usize = 60_000;
        for (at, piece) in (0..).step_by(MAX_SEGMENT).zip(data.chunks(MAX_SEGMENT)) {
            self.tcp(ends, seq.wrapping_add(at), ack, tcp_flags::ACK, piece)?;
        }
        Ok(())
    }

    fn handshake(&mut self, ends: &Endpoints) -> io::Result<u32> {
        self.tcp(ends, 1000, 0, tcp_flags::SYN, b"")?;
        self.tcp(
            &ends.reversed(),
            0,
            1001,
            tcp_flags::SYN | tcp_flags::ACK,
            b"",
        )?;
        self.tcp(ends, 1001, 1, tcp_flags::ACK, b"")?;
        Ok(1001)
    }
}

//! HTTP/1.x message parsing and request/response pairing (pipelining-aware).
//!
//! Split by concern: `detect` (is this a request or status line, where does the next message
//! start), `head` (head parsing), `framing` (chunk sizes), `analyzer` (the plug-in for the
//! analyzer seam); this module holds the per-connection state machine and the pairing FIFO.
//!
//! Works on the reassembled byte streams of one TCP connection (`HttpConn`), on any port:
//! the direction whose first bytes look like a request line (`token SP target SP HTTP/1.x`)
//! is the client, a direction starting with `HTTP/1.x NNN` is the server. Heads of the usual
//! shape are read by `plain`, the others with `httparse` (64 header slots, retried with 1024
//! on `TooManyHeaders`), with the same answers. Bodies follow
//! RFC 9112 framing: no body for HEAD responses, 1xx, 204 and 304; chunked (trailers
//! included); Content-Length; otherwise, for responses, until the connection closes.
//!
//! Pairing: requests enter a FIFO per connection and each final response answers the oldest
//! request without one, which is what pipelining requires (tshark 4.0 gets this wrong).
//! Interim `1xx` responses (except 101) are skipped; `100` sets the flag `continue`.
//!
//! Robustness: a head longer than `max_header_bytes`, a head httparse rejects, or a chunk
//! size that does not fit in 60 bits counts as `http_parse_errors`; the message gets the
//! flag `malformed` (a placeholder transaction for a bad request, so the FIFO stays aligned
//! with the server's error response) and the direction resyncs at the next line that looks
//! like a request (client) or a status line (server). A TCP gap inside a body of known length
//! is skipped exactly; elsewhere the message spanning it is flagged `gap` and the direction
//! resyncs. Buffers are bounded by `max_header_bytes` (heads, trailers, resync) and 4 KiB
//! (chunk-size lines).
//!
//! Known limit: when a server-side gap swallows whole responses, later responses are paired
//! with the oldest unanswered requests (the first one after the gap carries the flag `gap`).

mod analyzer;
mod detect;
mod framing;
mod head;
mod plain;

pub use analyzer::REGISTRATION;
pub(crate) use detect::{classify, Looks};
use detect::{
    find_message_start, is_target_byte, is_token_byte, request_target_in_progress, MAX_METHOD_LEN,
};
use framing::parse_chunk_size;
pub(crate) use head::{parse_head, Head, HeadResult};
use plain::find_byte;

use super::pairing::{elapsed, PairingQueue};
use super::{AnalyzerStats, Ctx, Event};
use compact_str::CompactString;
use std::net::IpAddr;

/// One HTTP request and its response, in nanoseconds since the epoch.
///
/// `*_first_ns` is the capture time of the earliest packet that carried any byte of the
/// message; `*_last_ns` the capture time of the packet that completed it (the moment all its
/// bytes had been seen, so a late retransmission that fills a hole sets it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpTransaction {
    /// Index of the TCP connection in the capture (order of first packet), as in `sessions`.
    pub connection_id: u64,
    /// Position of this transaction on its connection, from 1 (Zeek's `trans_depth`).
    pub depth: u32,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// Empty for a response whose request was not seen.
    pub method: CompactString,
    pub host: Option<CompactString>,
    pub uri: CompactString,
    pub version: CompactString,
    pub status: Option<u16>,
    /// Bytes of the request / response messages (head + body) as seen.
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_body_bytes: u64,
    pub response_body_bytes: u64,
    pub request_first_ns: Option<i64>,
    pub request_last_ns: Option<i64>,
    /// Capture time of the packet that completed the request head (request line and
    /// headers); equals `request_last_ns` for a request without body.
    pub request_head_ns: Option<i64>,
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
    /// Capture time of the packet that completed the response head (status line and
    /// headers): tshark's response frame with `http.desegment_body:FALSE`.
    pub response_head_ns: Option<i64>,
    /// Problems, as short stable words: `gap`, `unanswered`, `orphan_response`,
    /// `request_incomplete`, `response_incomplete`, `malformed`, `continue` (a 100 Continue came first),
    /// `clock_backwards` (capture time stepped back between request and response: a latency is negative).
    pub flags: Vec<&'static str>,
    /// Carried inside TLS and decrypted from a key log (timestamps are those of the TLS
    /// records: see [`crate::analyzers::tls`]).
    pub tls: bool,
    /// The TLS server name (SNI) of the connection, when inside TLS.
    pub sni: Option<String>,
    /// The HTTP/2 stream the exchange travelled on (`None` for HTTP/1.x).
    pub stream_id: Option<u32>,
    /// The gRPC call, when the request's content-type is `application/grpc*`.
    pub grpc: Option<GrpcCall>,
}

/// A gRPC call carried by one HTTP/2 stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GrpcCall {
    /// From the path `/package.Service/Method`.
    pub service: String,
    pub method: String,
    /// `grpc-status` from the trailers (or a trailers-only response).
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded.
    pub message: Option<String>,
    /// Length-prefixed messages seen each way (more than one for streaming calls).
    pub request_messages: u64,
    pub response_messages: u64,
}

impl HttpTransaction {
    /// A transaction between `client` and `server` with nothing seen yet (HTTP/1.x fields;
    /// HTTP/2 sets its version and stream).
    pub(crate) fn empty(
        connection_id: u64,
        depth: u32,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
    ) -> Self {
        HttpTransaction {
            connection_id,
            depth,
            client_ip: client.0,
            client_port: client.1,
            server_ip: server.0,
            server_port: server.1,
            method: CompactString::default(),
            host: None,
            uri: CompactString::default(),
            version: CompactString::default(),
            status: None,
            request_bytes: 0,
            response_bytes: 0,
            request_body_bytes: 0,
            response_body_bytes: 0,
            request_first_ns: None,
            request_last_ns: None,
            request_head_ns: None,
            response_first_ns: None,
            response_last_ns: None,
            response_head_ns: None,
            flags: Vec::new(),
            tls: false,
            sni: None,
            stream_id: None,
            grpc: None,
        }
    }

    /// Time to first byte: response first − request first.
    pub fn ttfb_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_first_ns)
    }
    /// Total: response last − request first.
    pub fn total_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_first_ns)
    }
    /// Server time: response first − request last.
    pub fn server_ns(&self) -> Option<i64> {
        elapsed(self.response_first_ns, self.request_last_ns)
    }
    /// tshark's `http.time` with `http.desegment_body:FALSE` (bodies not reassembled, so
    /// both messages are dated by their heads): response head − request head.
    pub fn tshark_head_ns(&self) -> Option<i64> {
        elapsed(self.response_head_ns, self.request_head_ns)
    }
    /// tshark's `http.time`: response last − request last.
    pub fn tshark_ns(&self) -> Option<i64> {
        elapsed(self.response_last_ns, self.request_last_ns)
    }
}

/// Longest chunk-size line (size + extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;
/// Room a head split over packets gets when its first piece is held.
const HELD_HEAD_ROOM: usize = 512;
/// Bytes held from a direction whose start is not HTTP while the other side decides.
const MAX_REJECTED_HELD: usize = 8 << 10;
/// Whether `bytes` hold the blank line that ends a head (`\n\r\n` or `\n\n`); only the
/// newlines are looked at, found eight bytes at a time.
fn has_head_end(bytes: &[u8]) -> bool {
    let mut from = 0;
    while let Some(found) = find_byte(&bytes[from..], b'\n') {
        let newline = from + found;
        if matches!(
            bytes.get(newline + 1..),
            Some([b'\n', ..] | [b'\r', b'\n', ..])
        ) {
            return true;
        }
        from = newline + 1;
    }
    false
}

pub(crate) fn add_flag(flags: &mut Vec<&'static str>, flag: &'static str) {
    if !flags.contains(&flag) {
        flags.push(flag);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Roles not known yet; bytes wait in `buf`.
    #[default]
    Detect,
    Head,
    Body {
        remaining: u64,
    },
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    /// The CRLF after chunk data.
    ChunkDataEnd,
    Trailers,
    UntilClose,
    /// Looking for the next message start after garbage or a gap.
    Resync,
    /// Nothing more is parsed in this direction.
    Dead,
}

/// A message being received.
#[derive(Debug, Clone)]
struct Msg {
    first_ns: i64,
    last_ns: i64,
    bytes: u64,
    body_bytes: u64,
    gap: bool,
    /// `depth` of the transaction this message belongs to, once its head is parsed.
    tx: Option<u32>,
    /// An interim (1xx) response: not paired, not counted.
    interim: bool,
    trailer_bytes: usize,
    /// Stream offset of the first byte.
    start_offset: u64,
    /// What the sender had acknowledged of the other direction when the message started.
    peer_ack: Option<u64>,
}

#[derive(Debug, Default)]
struct DirParser {
    state: State,
    buf: Vec<u8>,
    /// Earliest and latest arrival of the bytes in `buf` (detection and resync only).
    buf_first_ns: i64,
    buf_last_ns: i64,
    msg: Option<Msg>,
    /// In `Resync` after a malformed head: drop bytes through the next newline first.
    resync_skip_line: bool,
    /// The next message follows a gap: flag it.
    gap_before_next: bool,
    /// Detection: whether skipping one leading keep-alive byte was considered.
    first_byte_checked: bool,
    /// Detection: this direction's first bytes are neither a request nor a status line.
    /// The other direction decides (a status line there makes these bytes a malformed request).
    rejected: bool,
    /// Detection: `buf` is a request line whose target is still arriving.
    target_in_progress: bool,
}

/// What HTTP keeps with a transaction in the pairing queue, keyed by depth. The queue's
/// `answered` is "a response started", its `done` "request and response complete"; the
/// times live in the transaction itself. A transaction holds the watermark once one of its
/// messages is complete (the message in progress holds it before).
#[derive(Debug)]
struct PendingTx {
    /// Boxed: the queue moves its entries around; a pointer is cheaper to move than a row.
    /// The same box becomes the event.
    tx: Box<HttpTransaction>,
    request_done: bool,
    response_done: bool,
    /// Server-stream offset the client had acknowledged when it sent the request.
    request_peer_ack: Option<u64>,
    /// The request asked for `Upgrade: h2c`.
    upgrade_h2c: bool,
}

/// A request answered by `101 Switching Protocols` to `h2c`: the connection continues as
/// HTTP/2 with this request as stream 1.
#[derive(Debug)]
pub(crate) struct H2cUpgrade {
    pub request: HttpTransaction,
    pub request_done: bool,
    /// Bytes of the server's chunk after the 101 head (the start of its HTTP/2 frames).
    pub rest: Vec<u8>,
}

impl PendingTx {
    fn new(tx: HttpTransaction, request_peer_ack: Option<u64>) -> Self {
        PendingTx {
            tx: Box::new(tx),
            request_done: false,
            response_done: false,
            request_peer_ack,
            upgrade_h2c: false,
        }
    }
}

type Waiting = super::pairing::Pending<u32, PendingTx>;

/// Marks the transaction `done` for the queue once both its messages are.
fn update_done(p: &mut Waiting) {
    p.done = p.item.request_done && p.item.response_done;
}

/// HTTP state of one TCP connection; direction `d` is sent by `senders[d]`.
#[derive(Debug)]
pub(crate) struct HttpConn {
    connection_id: u64,
    senders: [(IpAddr, u16); 2],
    client_dir: Option<usize>,
    dirs: [DirParser; 2],
    /// Transactions in depth order (pipelined: the oldest unanswered gets the next response).
    txs: PairingQueue<u32, PendingTx>,
    /// How many of `txs` wait for a response (`!response_started`), kept so the
    /// `max_pending_requests` check costs nothing per request.
    waiting: usize,
    next_depth: u32,
    not_http: bool,
    /// After `101 Switching Protocols` or a successful CONNECT the bytes are not HTTP.
    tunnel: bool,
    /// Stream offset just past the last byte (or gap) delivered, per direction.
    stream_end: [u64; 2],
    /// ACK (as an offset of the other direction) of the packet being processed, per sender.
    peer_ack: [Option<u64>; 2],
    /// Set by a `101` to `Upgrade: h2c`: the analyzer hands the connection to HTTP/2.
    /// Boxed: inline, its request (432 bytes) nearly doubled every connection's state.
    h2c: Option<Box<H2cUpgrade>>,
}

impl HttpConn {
    pub(crate) fn new(connection_id: u64, senders: [(IpAddr, u16); 2]) -> Self {
        HttpConn {
            connection_id,
            senders,
            client_dir: None,
            dirs: [DirParser::default(), DirParser::default()],
            txs: PairingQueue::consecutive(usize::MAX, |&depth| u64::from(depth)),
            waiting: 0,
            next_depth: 1,
            not_http: false,
            tunnel: false,
            stream_end: [0; 2],
            peer_ack: [None; 2],
            h2c: None,
        }
    }

    /// The connection switched to HTTP/2 (`Upgrade: h2c` answered by `101`).
    pub(crate) fn take_h2c(&mut self) -> Option<Box<H2cUpgrade>> {
        self.h2c.take()
    }

    pub(crate) fn connection(&self) -> (u64, [(IpAddr, u16); 2], Option<usize>) {
        (self.connection_id, self.senders, self.client_dir)
    }

    /// Records the acknowledgment carried by the packet `sender` is sending now.
    pub(crate) fn set_peer_ack(&mut self, sender: usize, acked: Option<u64>) {
        self.peer_ack[sender] = acked;
    }

    /// False once the connection turned out not to carry HTTP.
    pub(crate) fn is_http(&self) -> bool {
        !self.not_http
    }

    fn is_client(&self, dir: usize) -> bool {
        self.client_dir == Some(dir)
    }

    /// In-order bytes of direction `dir`; `arrival_ns` and `last_arrival_ns` are the earliest
    /// and latest capture times at which any of them was first seen. A message is complete
    /// when its own bytes have all been seen (the latest arrival among them), not when the
    /// stream before it is: a pipelined request that arrived whole ahead of a hole in the
    /// previous one was complete at its own arrival.
    pub(crate) fn on_data(
        &mut self,
        dir: usize,
        bytes: &[u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        self.stream_end[dir] += bytes.len() as u64;
        if self.not_http || self.tunnel || bytes.is_empty() {
            return;
        }
        if self.client_dir.is_some() {
            self.feed(dir, bytes, arrival_ns, last_arrival_ns, ctx);
            return;
        }
        let other_rejected = self.dirs[1 - dir].rejected;
        let d = &mut self.dirs[dir];
        let mut bytes = bytes;
        let extends_target = d.target_in_progress && bytes.iter().all(|&b| is_target_byte(b));
        let mut looks = if d.rejected {
            Looks::No
        } else if extends_target {
            // Linear in a long target: only its new bytes are looked at.
            Looks::NeedMore
        } else if d.buf.is_empty() {
            classify(bytes)
        } else {
            let mut joined = d.buf.clone();
            joined.extend_from_slice(bytes);
            classify(&joined)
        };
        if looks == Looks::No && !d.rejected && !d.first_byte_checked {
            // A capture that starts mid-connection often begins with a TCP keep-alive: one
            // old byte (seq = next - 1) that looks like data. Allow skipping it once.
            if d.buf.len() + bytes.len() == 1 {
                looks = Looks::NeedMore;
            } else {
                d.first_byte_checked = true;
                let mut rest = d.buf.clone();
                rest.extend_from_slice(bytes);
                let without = classify(&rest[1..]);
                if without != Looks::No {
                    if d.buf.is_empty() {
                        bytes = &bytes[1..];
                    } else {
                        d.buf.remove(0);
                    }
                    looks = without;
                }
            }
        }
        match looks {
            Looks::No if !other_rejected => {
                // Keep a bounded prefix: enough to resync after the malformed head.
                if !d.rejected && d.buf.is_empty() {
                    d.buf_first_ns = arrival_ns;
                    d.buf_last_ns = last_arrival_ns;
                }
                d.rejected = true;
                d.buf_last_ns = d.buf_last_ns.max(last_arrival_ns);
                let room = MAX_REJECTED_HELD.saturating_sub(d.buf.len());
                d.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Looks::No => {
                self.not_http = true;
                self.dirs = [DirParser::default(), DirParser::default()];
            }
            Looks::NeedMore => {
                if d.buf.is_empty() {
                    d.buf_first_ns = arrival_ns;
                    d.buf_last_ns = last_arrival_ns;
                }
                d.buf_first_ns = d.buf_first_ns.min(arrival_ns);
                d.buf_last_ns = d.buf_last_ns.max(last_arrival_ns);
                d.buf.extend_from_slice(bytes);
                if !extends_target {
                    d.target_in_progress = request_target_in_progress(&d.buf);
                }
                if d.buf.len() > ctx.config.max_header_bytes {
                    if d.target_in_progress {
                        // A request line longer than the limit: the client side of HTTP with
                        // a malformed first request (the head path flags it), as an
                        // over-long header field would be.
                        self.start_as(dir, Looks::Request, &[], arrival_ns, last_arrival_ns, ctx);
                    } else {
                        self.not_http = true;
                        self.dirs = [DirParser::default(), DirParser::default()];
                    }
                }
            }
            Looks::Request | Looks::Response => {
                self.start_as(dir, looks, bytes, arrival_ns, last_arrival_ns, ctx)
            }
        }
    }

    /// Direction `dir` starts with a request or status line (`looks`): roles are known, the
    /// bytes held by both directions are parsed, then `bytes`.
    fn start_as(
        &mut self,
        dir: usize,
        looks: Looks,
        bytes: &[u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        let client = if looks == Looks::Request {
            dir
        } else {
            1 - dir
        };
        self.client_dir = Some(client);
        ctx.stats.http_connections += 1;
        if ctx.config.detect_only {
            // The protocol is known, which is all the pass wants: the analyzer is dropped after
            // this chunk (settled), so nothing held or sent is parsed.
            self.dirs = [DirParser::default(), DirParser::default()];
            return;
        }
        for d in [1 - dir, dir] {
            self.dirs[d].state = State::Head;
            let held = std::mem::take(&mut self.dirs[d].buf);
            if !held.is_empty() {
                let (first, last) = (self.dirs[d].buf_first_ns, self.dirs[d].buf_last_ns);
                self.feed(d, &held, first, last, ctx);
            }
        }
        if !bytes.is_empty() {
            self.feed(dir, bytes, arrival_ns, last_arrival_ns, ctx);
        }
    }

    /// Processes bytes; resyncing can hand back owned bytes to process again.
    fn feed(
        &mut self,
        dir: usize,
        bytes: &[u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        let mut again = self.feed_slice(dir, bytes, arrival_ns, last_arrival_ns, ctx);
        while let Some((owned, arrival)) = again {
            again = self.feed_slice(dir, &owned, arrival, last_arrival_ns, ctx);
        }
    }

    fn feed_slice(
        &mut self,
        dir: usize,
        mut input: &[u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) -> Option<(Vec<u8>, i64)> {
        while !input.is_empty() {
            if self.tunnel {
                if let Some(up) = self.h2c.as_mut() {
                    up.rest.extend_from_slice(input);
                }
                return None;
            }
            match self.dirs[dir].state {
                State::Detect | State::Dead => return None,
                State::Resync => return self.resync(dir, input, arrival_ns, ctx),
                State::Head => {
                    let (rest, again) = self.head(dir, input, arrival_ns, last_arrival_ns, ctx);
                    if again.is_some() {
                        return again;
                    }
                    input = rest;
                }
                State::Body { remaining } => {
                    let n = remaining.min(input.len() as u64);
                    self.consume(dir, n as usize, arrival_ns, last_arrival_ns, true, ctx);
                    input = &input[n as usize..];
                    if n == remaining {
                        self.complete_msg(dir, ctx);
                    } else {
                        self.dirs[dir].state = State::Body {
                            remaining: remaining - n,
                        };
                    }
                }
                State::ChunkData { remaining } => {
                    let n = remaining.min(input.len() as u64);
                    self.consume(dir, n as usize, arrival_ns, last_arrival_ns, true, ctx);
                    input = &input[n as usize..];
                    self.dirs[dir].state = if n == remaining {
                        State::ChunkDataEnd
                    } else {
                        State::ChunkData {
                            remaining: remaining - n,
                        }
                    };
                }
                State::ChunkDataEnd => {
                    let b = input[0];
                    self.consume(dir, 1, arrival_ns, last_arrival_ns, false, ctx);
                    input = &input[1..];
                    match b {
                        b'\r' => {}
                        b'\n' => self.dirs[dir].state = State::ChunkSize,
                        _ => {
                            if let Some(rest) = self.malformed(dir, input, ctx) {
                                return Some((rest, arrival_ns));
                            }
                            return None;
                        }
                    }
                }
                State::ChunkSize | State::Trailers => {
                    let (rest, again) =
                        self.chunk_line(dir, input, arrival_ns, last_arrival_ns, ctx);
                    if again.is_some() {
                        return again.map(|v| (v, arrival_ns));
                    }
                    input = rest;
                }
                State::UntilClose => {
                    self.consume(dir, input.len(), arrival_ns, last_arrival_ns, true, ctx);
                    input = &[];
                }
            }
        }
        None
    }

    /// Counts `n` bytes of the current message.
    fn consume(
        &mut self,
        dir: usize,
        n: usize,
        arrival_ns: i64,
        last_arrival_ns: i64,
        body: bool,
        ctx: &mut Ctx<'_>,
    ) {
        if n == 0 {
            return;
        }
        self.start_msg(dir, arrival_ns, self.stream_end[dir], ctx);
        let Some(msg) = self.dirs[dir].msg.as_mut() else {
            return;
        };
        if arrival_ns < msg.first_ns {
            ctx.marks.replace(msg.first_ns, arrival_ns);
            msg.first_ns = arrival_ns;
        }
        msg.last_ns = msg.last_ns.max(last_arrival_ns);
        msg.bytes += n as u64;
        if body {
            msg.body_bytes += n as u64;
        }
    }

    fn start_msg(&mut self, dir: usize, arrival_ns: i64, start_offset: u64, ctx: &mut Ctx<'_>) {
        let peer_ack = self.peer_ack[dir];
        let d = &mut self.dirs[dir];
        if d.msg.is_none() {
            ctx.marks.add(arrival_ns);
            d.msg = Some(Msg {
                first_ns: arrival_ns,
                last_ns: arrival_ns,
                bytes: 0,
                body_bytes: 0,
                gap: std::mem::take(&mut d.gap_before_next),
                tx: None,
                interim: false,
                trailer_bytes: 0,
                start_offset,
                peer_ack,
            });
        }
    }

    /// Head state: returns the unconsumed input, or bytes to re-process after a switch to resync.
    fn head<'i>(
        &mut self,
        dir: usize,
        mut input: &'i [u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) -> (&'i [u8], Option<(Vec<u8>, i64)>) {
        let request = self.is_client(dir);
        let d = &mut self.dirs[dir];
        if d.buf.is_empty() && d.msg.is_none() {
            // Empty lines between messages are allowed and belong to no message.
            let skip = input
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            input = &input[skip..];
            if input.is_empty() {
                return (input, None);
            }
        }
        let old_len = d.buf.len();
        let offset = self.stream_end[dir].saturating_sub(input.len() as u64);
        self.start_msg(dir, arrival_ns, offset, ctx);
        let d = &mut self.dirs[dir];
        let parsed = if old_len == 0 {
            ctx.stats.http_head_bytes_parsed += input.len() as u64;
            parse_head(input, request)
        } else {
            d.buf.extend_from_slice(input);
            // Only a blank line completes a head: look for one in the new bytes (and the three
            // before them), and parse the whole head once it is there, so a head arriving in
            // many pieces costs time linear in its length.
            if has_head_end(&d.buf[old_len.saturating_sub(3)..]) {
                ctx.stats.http_head_bytes_parsed += d.buf.len() as u64;
                parse_head(&d.buf, request)
            } else {
                HeadResult::Partial
            }
        };
        match parsed {
            HeadResult::Partial => {
                let total = old_len + input.len();
                if total > ctx.config.max_header_bytes {
                    let again = self.malformed(dir, if old_len == 0 { input } else { &[] }, ctx);
                    return (&[], again.map(|v| (v, arrival_ns)));
                }
                if old_len == 0 {
                    // Room for a usual head at once: its pieces then append without growing
                    // the buffer (kept for the connection's later heads).
                    let buf = &mut self.dirs[dir].buf;
                    buf.reserve(HELD_HEAD_ROOM.min(ctx.config.max_header_bytes));
                    buf.extend_from_slice(input);
                }
                self.consume(dir, input.len(), arrival_ns, last_arrival_ns, false, ctx);
                (&[], None)
            }
            HeadResult::Invalid => {
                let again = self.malformed(dir, if old_len == 0 { input } else { &[] }, ctx);
                (&[], again.map(|v| (v, arrival_ns)))
            }
            HeadResult::Complete(head) => {
                let used = head.len.saturating_sub(old_len).min(input.len());
                self.consume(dir, used, arrival_ns, last_arrival_ns, false, ctx);
                self.dirs[dir].buf.clear();
                if head.bad_length {
                    let again = self.malformed(dir, &input[used..], ctx);
                    return (&[], again.map(|v| (v, arrival_ns)));
                }
                if request {
                    self.on_request_head(dir, head, ctx);
                } else {
                    self.on_response_head(dir, head, ctx);
                }
                (&input[used..], None)
            }
        }
    }

    // Once a head, so out of line: `feed_slice` then sets up less on each of its calls.
    #[inline(never)]
    fn on_request_head(&mut self, dir: usize, head: Head, ctx: &mut Ctx<'_>) {
        let depth = self.next_depth;
        self.next_depth += 1;
        let mut tx = self.new_tx(dir, depth);
        let upgrade_h2c = head.upgrade_h2c;
        let mut request_peer_ack = None;
        if let Some(msg) = self.dirs[dir].msg.as_mut() {
            msg.tx = Some(depth);
            tx.request_first_ns = Some(msg.first_ns);
            tx.request_head_ns = Some(msg.last_ns);
            request_peer_ack = msg.peer_ack;
        }
        tx.method = head.method;
        tx.uri = head.uri;
        tx.host = head.host;
        tx.version = CompactString::const_new(head.version);
        let mut pending = PendingTx::new(tx, request_peer_ack);
        pending.upgrade_h2c = upgrade_h2c;
        self.push_request(depth, pending, ctx);
        self.dirs[dir].state = if head.chunked {
            State::ChunkSize
        } else {
            match head.content_length {
                Some(n) if n > 0 => State::Body { remaining: n },
                _ => State::Head,
            }
        };
        if self.dirs[dir].state == State::Head {
            self.complete_msg(dir, ctx);
        }
        // After completing it: a request shed for room is shed whole when it can be.
        self.evict_excess(ctx);
    }

    /// A request waiting for its response. The message in progress holds the watermark, so
    /// the transaction holds nothing yet; the queue has no limit of its own
    /// ([`Self::evict_excess`] applies HTTP's).
    fn push_request(&mut self, depth: u32, pending: PendingTx, ctx: &mut Ctx<'_>) {
        self.waiting += 1;
        ctx.stats.http_pending_requests += 1;
        let evicted = self.txs.push(depth, None, pending, ctx.marks);
        debug_assert!(evicted.is_none(), "the queue has no limit of its own");
    }

    /// The oldest request without a response: it gets the response that starts now.
    fn answer_oldest(&mut self, ctx: &mut Ctx<'_>) -> Option<&mut Waiting> {
        let p = self.txs.oldest_unanswered()?;
        p.answered = true;
        self.waiting -= 1;
        ctx.stats.http_pending_requests = ctx.stats.http_pending_requests.saturating_sub(1);
        Some(p)
    }

    /// Emits the transactions at the front that are complete, in depth order.
    fn emit_done(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(p) = self.txs.pop_front_done(ctx.marks) {
            emit(p.item, ctx);
        }
    }

    /// Keeps at most `max_pending_requests` requests waiting for a response on this connection
    /// and `max_pending_requests_total` over all of them.
    fn evict_excess(&mut self, ctx: &mut Ctx<'_>) {
        // Per connection, and over all connections: the connection adding a request sheds its
        // own oldest waiting one.
        while self.waiting > ctx.config.max_pending_requests
            || (self.waiting > 0
                && ctx.stats.http_pending_requests > ctx.config.max_pending_requests_total as u64)
        {
            let Some(depth) = self.txs.oldest_unanswered().map(|p| p.key) else {
                break;
            };
            if let Some(p) = self.txs.remove(&depth, ctx.marks) {
                let mut p = p.item;
                self.waiting -= 1;
                ctx.stats.http_pending_requests = ctx.stats.http_pending_requests.saturating_sub(1);
                add_flag(&mut p.tx.flags, "unanswered");
                if !p.request_done {
                    add_flag(&mut p.tx.flags, "request_incomplete");
                }
                emit(p, ctx);
            }
        }
        // What stays held between packets (one more existed for a moment before the eviction).
        let held = self.waiting as u64;
        ctx.stats.http_peak_pending_requests = ctx.stats.http_peak_pending_requests.max(held);
        let total = ctx.stats.http_pending_requests;
        ctx.stats.http_peak_pending_total = ctx.stats.http_peak_pending_total.max(total);
    }

    fn new_tx(&self, sender_dir: usize, depth: u32) -> HttpTransaction {
        let (client, server) = if self.is_client(sender_dir) {
            (self.senders[sender_dir], self.senders[1 - sender_dir])
        } else {
            (self.senders[1 - sender_dir], self.senders[sender_dir])
        };
        HttpTransaction::empty(self.connection_id, depth, client, server)
    }

    #[inline(never)]
    fn on_response_head(&mut self, dir: usize, head: Head, ctx: &mut Ctx<'_>) {
        let status = head.status;
        let first_ns = self.dirs[dir].msg.as_ref().map_or(0, |m| m.first_ns);
        let head_ns = self.dirs[dir].msg.as_ref().map(|m| m.last_ns);
        if (100..200).contains(&status) && status != 101 {
            if let Some(p) = self.txs.oldest_unanswered() {
                if status == 100 {
                    add_flag(&mut p.item.tx.flags, "continue");
                }
            }
            if let Some(msg) = self.dirs[dir].msg.as_mut() {
                msg.interim = true;
            }
            self.complete_msg(dir, ctx);
            return;
        }
        if self.dirs[dir].msg.as_ref().is_some_and(|m| m.gap) {
            self.realign_after_gap(dir, ctx);
        }
        let mut upgraded = None;
        // (HEAD request, CONNECT request): what the body and the tunnel depend on.
        let (head_request, connect_request) = match self.answer_oldest(ctx) {
            Some(p) => {
                if status == 101 && p.item.upgrade_h2c {
                    upgraded = Some(p.key);
                }
                let tx = &mut p.item.tx;
                tx.status = Some(status);
                tx.response_first_ns = Some(first_ns);
                tx.response_head_ns = head_ns;
                let depth = tx.depth;
                let request_kind = (tx.method == "HEAD", tx.method == "CONNECT");
                if let Some(msg) = self.dirs[dir].msg.as_mut() {
                    msg.tx = Some(depth);
                }
                request_kind
            }
            None => {
                let depth = self.next_depth;
                self.next_depth += 1;
                let mut tx = self.new_tx(dir, depth);
                tx.status = Some(status);
                tx.version = CompactString::const_new(head.version);
                tx.response_first_ns = Some(first_ns);
                tx.response_head_ns = head_ns;
                tx.flags.push("orphan_response");
                ctx.stats.http_orphan_responses += 1;
                if let Some(msg) = self.dirs[dir].msg.as_mut() {
                    msg.tx = Some(depth);
                }
                let mut orphan = PendingTx::new(tx, None);
                orphan.request_done = true;
                let evicted = self.txs.push(depth, None, orphan, ctx.marks);
                debug_assert!(evicted.is_none(), "the queue has no limit of its own");
                if let Some(p) = self.txs.by_key(&depth) {
                    p.answered = true;
                }
                (false, false)
            }
        };
        let success = (200..300).contains(&status);
        if let Some(p) = upgraded.and_then(|depth| self.txs.remove(&depth, ctx.marks)) {
            // The request becomes HTTP/2 stream 1: HTTP/2 reports it, with its response.
            self.h2c = Some(Box::new(H2cUpgrade {
                request: *p.item.tx,
                request_done: p.item.request_done,
                rest: Vec::new(),
            }));
        }
        if status == 101 || (connect_request && success) {
            self.complete_msg(dir, ctx);
            self.tunnel = true;
            return;
        }
        let no_body = head_request || status == 204 || status == 304;
        self.dirs[dir].state = if no_body {
            State::Head
        } else if head.chunked {
            State::ChunkSize
        } else {
            match head.content_length {
                Some(0) => State::Head,
                Some(n) => State::Body { remaining: n },
                None => State::UntilClose,
            }
        };
        if self.dirs[dir].state == State::Head {
            self.complete_msg(dir, ctx);
        }
    }

    /// A response head follows a server-side gap that may have swallowed whole responses.
    /// The response to request k starts at or after the server offset the client had
    /// acknowledged when sending k (the server sent those bytes before it got request k). So
    /// the response found at offset O answers, among waiting requests with ack ≤ O, the first
    /// of those with the largest ack; the waiting requests before it were answered inside the
    /// gap and are emitted with the flag `gap` and no response. With pipelined requests sent
    /// back to back (equal acks) this keeps plain FIFO order.
    // Rare paths stay out of line: `feed_slice`, which inlines the usual ones, then sets up
    // less on every call.
    #[inline(never)]
    fn realign_after_gap(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        let Some(offset) = self.dirs[dir].msg.as_ref().map(|m| m.start_offset) else {
            return;
        };
        let waiting: Vec<(u32, u64)> = self
            .txs
            .iter_mut()
            .filter(|p| !p.answered)
            .map(|p| (p.key, p.item.request_peer_ack.unwrap_or(0)))
            .collect();
        let Some(best_ack) = waiting
            .iter()
            .map(|&(_, ack)| ack)
            .filter(|&ack| ack <= offset)
            .max()
        else {
            return;
        };
        let Some(&(chosen, _)) = waiting.iter().find(|&&(_, ack)| ack == best_ack) else {
            return;
        };
        // Depths grow in queue order.
        for &(depth, _) in waiting.iter().take_while(|&&(d, _)| d < chosen) {
            let Some(p) = self.txs.by_key(&depth) else {
                continue;
            };
            p.answered = true;
            p.item.response_done = true;
            add_flag(&mut p.item.tx.flags, "gap");
            update_done(p);
            self.waiting -= 1;
            ctx.stats.http_pending_requests = ctx.stats.http_pending_requests.saturating_sub(1);
        }
        self.emit_done(ctx);
    }

    /// Chunk-size line or trailer lines.
    fn chunk_line<'i>(
        &mut self,
        dir: usize,
        input: &'i [u8],
        arrival_ns: i64,
        last_arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) -> (&'i [u8], Option<Vec<u8>>) {
        let newline = find_byte(input, b'\n');
        let take = newline.map_or(input.len(), |i| i + 1);
        self.consume(dir, take, arrival_ns, last_arrival_ns, false, ctx);
        let trailers = self.dirs[dir].state == State::Trailers;
        let d = &mut self.dirs[dir];
        // A line whole in this input is read in place; only a line split over packets is held.
        let split = newline.is_none() || !d.buf.is_empty();
        if split {
            d.buf.extend_from_slice(&input[..take]);
        }
        let limit = if trailers {
            ctx.config.max_header_bytes
        } else {
            MAX_CHUNK_LINE
        };
        let line_len = if split { d.buf.len() } else { take };
        let used_so_far = line_len + d.msg.as_ref().map_or(0, |m| m.trailer_bytes);
        if newline.is_none() {
            if used_so_far > limit {
                return (&[], self.malformed(dir, &[], ctx));
            }
            return (&[], None);
        }
        let held = if split {
            std::mem::take(&mut d.buf)
        } else {
            Vec::new()
        };
        let line = if split { &held[..] } else { &input[..take] };
        let rest = &input[take..];
        if trailers {
            if line == b"\r\n" || line == b"\n" {
                self.complete_msg(dir, ctx);
            } else {
                if let Some(msg) = d.msg.as_mut() {
                    msg.trailer_bytes += line.len();
                }
                if used_so_far > limit {
                    return (&[], self.malformed(dir, rest, ctx));
                }
            }
            return (rest, None);
        }
        match parse_chunk_size(line) {
            Some(0) => d.state = State::Trailers,
            Some(n) => d.state = State::ChunkData { remaining: n },
            None => return (&[], self.malformed(dir, rest, ctx)),
        }
        (rest, None)
    }

    /// The message in progress is broken: count it, flag it, and resync on the bytes after it.
    /// Returns bytes to re-process in resync state.
    #[cold]
    #[inline(never)]
    fn malformed(&mut self, dir: usize, rest: &[u8], ctx: &mut Ctx<'_>) -> Option<Vec<u8>> {
        ctx.stats.http_parse_errors += 1;
        let mut held = std::mem::take(&mut self.dirs[dir].buf);
        held.extend_from_slice(rest);
        // Keep the method of a bad request line: a HEAD still means no response body.
        let method_len = held.iter().take_while(|&&b| is_token_byte(b)).count();
        let method =
            (method_len > 0 && method_len <= MAX_METHOD_LEN && held.get(method_len) == Some(&b' '))
                .then(|| String::from_utf8_lossy(&held[..method_len]).into_owned());
        self.break_msg(dir, "malformed", method, ctx);
        let d = &mut self.dirs[dir];
        d.state = State::Resync;
        d.resync_skip_line = true;
        if held.is_empty() {
            None
        } else {
            Some(held)
        }
    }

    /// Ends the message in progress abnormally with `flag`, keeping the FIFO aligned.
    #[inline(never)]
    fn break_msg(
        &mut self,
        dir: usize,
        flag: &'static str,
        method: Option<String>,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(msg) = self.dirs[dir].msg.clone() else {
            return;
        };
        if msg.tx.is_none() && !msg.interim {
            // The head was never parsed: create what the other side will answer.
            if self.is_client(dir) {
                let depth = self.next_depth;
                self.next_depth += 1;
                let mut tx = self.new_tx(dir, depth);
                tx.request_first_ns = Some(msg.first_ns);
                tx.method = method.map(CompactString::from).unwrap_or_default();
                self.push_request(depth, PendingTx::new(tx, msg.peer_ack), ctx);
                if let Some(m) = self.dirs[dir].msg.as_mut() {
                    m.tx = Some(depth);
                }
                // Requests cut by gaps count against the limit like whole ones.
                self.evict_excess(ctx);
            } else if let Some(p) = self.answer_oldest(ctx) {
                p.item.tx.response_first_ns = Some(msg.first_ns);
                let depth = p.key;
                if let Some(m) = self.dirs[dir].msg.as_mut() {
                    m.tx = Some(depth);
                }
            }
        }
        let incomplete = if self.is_client(dir) {
            "request_incomplete"
        } else {
            "response_incomplete"
        };
        if let Some(depth) = self.dirs[dir].msg.as_ref().and_then(|m| m.tx) {
            if let Some(p) = self.txs.by_key(&depth) {
                add_flag(&mut p.item.tx.flags, flag);
                if flag != "malformed" && flag != incomplete {
                    add_flag(&mut p.item.tx.flags, incomplete);
                }
            }
        }
        self.complete_msg(dir, ctx);
    }

    /// The current message is complete (or given up): fill its transaction.
    fn complete_msg(&mut self, dir: usize, ctx: &mut Ctx<'_>) {
        let is_request = self.is_client(dir);
        let d = &mut self.dirs[dir];
        d.state = State::Head;
        d.buf.clear();
        let Some(msg) = d.msg.take() else {
            return;
        };
        // The message's hold on the watermark goes to its transaction (below) or is released.
        let Some(p) = msg.tx.and_then(|depth| self.txs.by_key(&depth)) else {
            ctx.marks.remove(msg.first_ns);
            return;
        };
        let tx = &mut p.item.tx;
        if msg.gap {
            add_flag(&mut tx.flags, "gap");
        }
        if is_request {
            tx.request_head_ns = tx.request_head_ns.or(Some(msg.last_ns));
            tx.request_first_ns = Some(msg.first_ns);
            tx.request_last_ns = Some(msg.last_ns);
            tx.request_bytes = msg.bytes;
            tx.request_body_bytes = msg.body_bytes;
            p.item.request_done = true;
        } else {
            tx.response_first_ns = Some(msg.first_ns);
            tx.response_last_ns = Some(msg.last_ns);
            tx.response_bytes = msg.bytes;
            tx.response_body_bytes = msg.body_bytes;
            p.item.response_done = true;
        }
        // From now on the transaction holds the watermark at its start.
        match p.item.tx.request_first_ns.or(p.item.tx.response_first_ns) {
            Some(start) => p.hold_instead_of(msg.first_ns, start, ctx.marks),
            None => ctx.marks.remove(msg.first_ns),
        }
        update_done(p);
        self.emit_done(ctx);
    }

    /// Resync state: look for a line that starts a message of this direction.
    #[inline(never)]
    fn resync(
        &mut self,
        dir: usize,
        input: &[u8],
        arrival_ns: i64,
        ctx: &mut Ctx<'_>,
    ) -> Option<(Vec<u8>, i64)> {
        let want = if self.is_client(dir) {
            Looks::Request
        } else {
            Looks::Response
        };
        let d = &mut self.dirs[dir];
        if d.buf.is_empty() {
            d.buf_first_ns = arrival_ns;
        }
        d.buf.extend_from_slice(input);
        if d.resync_skip_line {
            // The line that failed to parse must not be found again.
            match d.buf.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    d.buf.drain(..=nl);
                    d.resync_skip_line = false;
                }
                None => {
                    d.buf.clear();
                    return None;
                }
            }
        }
        let old_len = d.buf.len() - input.len().min(d.buf.len());
        match find_message_start(&d.buf, want) {
            Ok(start) => {
                let rest = d.buf.split_off(start);
                d.buf.clear();
                d.state = State::Head;
                let arrival = if start >= old_len {
                    arrival_ns
                } else {
                    d.buf_first_ns
                };
                Some((rest, arrival))
            }
            Err(keep_from) => {
                let keep_from =
                    keep_from.max(d.buf.len().saturating_sub(ctx.config.max_header_bytes));
                d.buf.drain(..keep_from);
                if keep_from >= old_len {
                    d.buf_first_ns = arrival_ns;
                }
                None
            }
        }
    }

    /// `len` bytes of direction `dir` were lost.
    pub(crate) fn on_gap(&mut self, dir: usize, len: u64, ctx: &mut Ctx<'_>) {
        self.stream_end[dir] += len;
        if self.not_http || self.tunnel {
            return;
        }
        if self.client_dir.is_none() {
            // Start over: detection needs the first bytes of a message.
            self.dirs[dir].buf.clear();
            return;
        }
        let d = &mut self.dirs[dir];
        let resync_after = |d: &mut DirParser| {
            d.state = State::Resync;
            d.resync_skip_line = false;
            d.gap_before_next = true;
            d.buf.clear();
        };
        match d.state {
            State::Detect | State::Dead => {}
            State::Resync => resync_after(d),
            State::UntilClose => {
                if let Some(m) = d.msg.as_mut() {
                    m.gap = true;
                }
            }
            State::Body { remaining } | State::ChunkData { remaining } if len <= remaining => {
                if let Some(m) = d.msg.as_mut() {
                    m.gap = true;
                }
                let left = remaining - len;
                d.state = match (d.state, left) {
                    (State::Body { .. }, 0) => State::Head,
                    (State::Body { .. }, _) => State::Body { remaining: left },
                    (_, 0) => State::ChunkDataEnd,
                    _ => State::ChunkData { remaining: left },
                };
                if d.state == State::Head {
                    self.complete_msg(dir, ctx);
                }
            }
            State::Head if d.msg.is_none() => resync_after(d),
            _ => {
                if let Some(m) = d.msg.as_mut() {
                    m.gap = true;
                }
                self.break_msg(dir, "gap", None, ctx);
                resync_after(&mut self.dirs[dir]);
            }
        }
    }

    /// The direction's stream ended (`clean`: FIN or RST seen, not a flush).
    pub(crate) fn on_end(&mut self, dir: usize, clean: bool, ctx: &mut Ctx<'_>) {
        if self.client_dir.is_none() || self.not_http {
            return;
        }
        let d = &mut self.dirs[dir];
        match d.state {
            State::UntilClose => {
                if !clean {
                    self.break_msg(dir, "response_incomplete", None, ctx);
                } else {
                    self.complete_msg(dir, ctx);
                }
            }
            State::Head | State::Resync | State::Detect | State::Dead if d.msg.is_none() => {}
            _ => {
                let flag = if self.is_client(dir) {
                    "request_incomplete"
                } else {
                    "response_incomplete"
                };
                self.break_msg(dir, flag, None, ctx);
            }
        }
        self.dirs[dir].state = State::Dead;
    }

    /// Emits every transaction still held (after both directions ended).
    pub(crate) fn flush(&mut self, ctx: &mut Ctx<'_>) {
        for dir in 0..2 {
            if self.dirs[dir].msg.is_some() {
                self.on_end(dir, false, ctx);
            }
            if let Some(msg) = self.dirs[dir].msg.take() {
                ctx.marks.remove(msg.first_ns);
            }
        }
        ctx.stats.http_pending_requests = ctx
            .stats
            .http_pending_requests
            .saturating_sub(self.waiting as u64);
        self.waiting = 0;
        for pending in self.txs.drain(ctx.marks) {
            let mut p = pending.item;
            if !pending.answered {
                add_flag(&mut p.tx.flags, "unanswered");
            } else if !p.response_done {
                add_flag(&mut p.tx.flags, "response_incomplete");
            }
            if !p.request_done {
                add_flag(&mut p.tx.flags, "request_incomplete");
            }
            emit(p, ctx);
        }
    }
}

fn emit(p: PendingTx, ctx: &mut Ctx<'_>) {
    emit_transaction(p.tx, ctx);
}

/// Counts a finished transaction (HTTP/1.x or an HTTP/2 stream) and sends it out.
pub(crate) fn emit_transaction(mut tx: Box<HttpTransaction>, ctx: &mut Ctx<'_>) {
    // Capture time that steps backwards can order a response before its request: never
    // report a negative latency without saying so.
    let times = [tx.ttfb_ns(), tx.total_ns(), tx.server_ns()];
    if times.iter().flatten().any(|&t| t < 0) {
        // An HTTP/2 stream may answer before its request ends (bidirectional streaming):
        // that is an overlap, not a clock fault, as long as the answer began after the request.
        let overlap = tx.stream_id.is_some()
            && tx.response_first_ns >= tx.request_first_ns
            && tx.total_ns().is_none_or(|t| t >= 0);
        add_flag(
            &mut tx.flags,
            if overlap {
                "overlapped"
            } else {
                "clock_backwards"
            },
        );
    }
    let stats: &mut AnalyzerStats = ctx.stats;
    stats.http_transactions += 1;
    if tx.flags.contains(&"gap") {
        stats.http_transactions_with_gaps += 1;
    }
    if tx.flags.contains(&"unanswered") {
        stats.http_unanswered += 1;
    }
    ctx.out.push(Event::Http(tx));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_request_and_status_lines() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Looks::Request);
        assert_eq!(classify(b"M-SEARCH * HTTP/1.1\n"), Looks::Request);
        assert_eq!(classify(b"PATCH /x?y=1 HTTP/1.0\r\nHost"), Looks::Request);
        assert_eq!(classify(b"HTTP/1.1 200 OK\r\n"), Looks::Response);
        assert_eq!(classify(b"HTTP/1.0 404\r\n"), Looks::Response);
        for prefix in [
            &b"G"[..],
            b"GET",
            b"GET ",
            b"GET /a",
            b"GET /a HTTP/1",
            b"GET /a HTTP/1.1\r",
            b"HTTP/1.",
            b"HTTP/1.1 20",
        ] {
            assert_eq!(classify(prefix), Looks::NeedMore, "{prefix:?}");
        }
        for no in [
            &b"\x16\x03\x01"[..],
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/2.0\r\n",
            b"PRI * HTTP/2.0\r\n",
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 2000 OK",
            b"HTTP/2 200\r\n",
            b"GET /a\x01 HTTP/1.1",
        ] {
            assert_eq!(classify(no), Looks::No, "{no:?}");
        }
    }

    #[test]
    fn message_starts_found_after_binary_garbage() {
        let resp = b"\xff\xd9HTTP/1.1 200 OK\r\n";
        assert_eq!(find_message_start(resp, Looks::Response), Ok(2));
        let req = b"junk\x00\x01GET /a?b=1 HTTP/1.1\r\nHost: x\r\n";
        assert_eq!(find_message_start(req, Looks::Request), Ok(6));
        // "HTTP/1." inside a header value is not a status line.
        assert_eq!(
            find_message_start(b"X-Via: HTTP/1.1 proxy\r\n", Looks::Response),
            Err(17)
        );
        // A request line still arriving is kept from its start.
        assert_eq!(find_message_start(b"zz\nGET /long", Looks::Request), Err(3));
        assert_eq!(
            find_message_start(b"\xffGET / HTTP/1", Looks::Request),
            Err(0)
        );
        assert_eq!(
            find_message_start(b"xx HTTP/1.1\r\n", Looks::Request),
            Err(13)
        );
    }

    #[test]
    fn head_end_is_a_blank_line() {
        // Every string of up to six bytes over CR, LF and a letter, against the definition.
        let definition = |bytes: &[u8]| {
            bytes
                .windows(2)
                .enumerate()
                .any(|(i, w)| w == b"\n\n" || (w == b"\n\r" && bytes.get(i + 2) == Some(&b'\n')))
        };
        let mut cases: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=6u32 {
            for n in 0..3usize.pow(len) {
                let case = (0..len).map(|i| b"\r\na"[n / 3usize.pow(i) % 3]).collect();
                cases.push(case);
            }
        }
        for case in &cases {
            assert_eq!(super::has_head_end(case), definition(case), "{case:?}");
        }
        assert!(cases.len() > 1000);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a\r\n"), Some(26));
        assert_eq!(parse_chunk_size(b"0\r\n"), Some(0));
        assert_eq!(parse_chunk_size(b"A;name=value\r\n"), Some(10));
        assert_eq!(
            parse_chunk_size(b"fffffffffffffff\r\n"),
            Some((1 << 60) - 1)
        );
        assert_eq!(
            parse_chunk_size(b"1000000000000000\r\n"),
            None,
            "2^60 and above"
        );
        assert_eq!(parse_chunk_size(b"ffffffffffffffffffff\r\n"), None);
        assert_eq!(parse_chunk_size(b"\r\n"), None);
        assert_eq!(parse_chunk_size(b"zz\r\n"), None);
    }

    #[test]
    fn head_parsing_with_many_headers_and_bad_lengths() {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..100 {
            req.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"Host: many\r\n\r\n");
        match parse_head(&req, true) {
            HeadResult::Complete(h) => {
                assert_eq!(h.len, req.len());
                assert_eq!(h.host.as_deref(), Some("many"));
            }
            other => panic!("{other:?}"),
        }
        let conflicting = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        match parse_head(conflicting, false) {
            HeadResult::Complete(h) => assert!(h.bad_length),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n", true),
            HeadResult::Partial
        ));
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", true),
            HeadResult::Invalid
        ));
    }
}

//! The HTTP/2 connection state machine, plugged into the analyzer seam.
//!
//! Each direction is cut into frames as its bytes arrive (a frame may span chunks, a chunk
//! may hold many frames). A frame is dated by the chunk carrying its first byte (`first_ns`)
//! and the latest chunk carrying any of its bytes (`last_ns`). DATA payloads stream through
//! (only counted, never held); other payloads are held until complete, bounded: header blocks
//! by `max_header_bytes`, other frames by [`MAX_CONTROL_PAYLOAD`].
//!
//! Streams are transactions in a [`PairingQueue`] keyed by stream id: request first = first
//! byte of the HEADERS that opened the stream (for a pushed stream, of its PUSH_PROMISE);
//! request last = completion of the client's END_STREAM frame; response first = first byte
//! of the server's final (non-1xx) HEADERS; response last = completion of the server's
//! END_STREAM frame (trailers included).
//!
//! Without the start of the connection (no preface), HPACK starts in the unknown state:
//! fields referring to dynamic entries the capture never saw are not guessed, the stream gets
//! `hpack_unknown`. A gap inside a frame of known length is skipped (HPACK becomes unknown if
//! it hit a header block); after a gap between frames, parsing resumes at the first chunk that
//! starts with plausible frames (the streams open across the gap get `gap`).

use super::detect::{evidence, looks_like_frames, Evidence};
use super::figures::Figures;
use super::frame::{self, flag, kind, Head, HEADER_LEN, PREFACE};
use super::hpack::{Decoder, MAX_TABLE_SIZE_CAP};
use super::stream::{HeaderSummary, Stream};
use crate::analyzers::http::{emit_transaction, HttpTransaction};
use crate::analyzers::pairing::{PairingQueue, Pending};
use crate::analyzers::seam::{
    Chunk, Claim, ConnInfo, Dir, Probe, Registration, Shared, TcpAnalyzer, Verdict,
};
use crate::analyzers::{Ctx, Event};
use std::net::IpAddr;

pub const REGISTRATION: Registration = Registration {
    name: "http2",
    probe: |p: &Probe<'_>| match evidence(p.first_bytes) {
        Evidence::Preface | Evidence::Frames => Claim::Yes,
        // A first segment too short to tell ("P", "PRI * "): held, then handed to HTTP/1.x
        // if it is not the preface (`Held`). Before HTTP/1.x's "maybe" in the registry.
        Evidence::PrefacePrefix => Claim::Maybe,
        Evidence::None => Claim::No,
    },
    new: |info: &ConnInfo| {
        Box::new(H2Conn::new(
            info.connection_id,
            info.senders,
            info.handshake_client,
        ))
    },
    observer: false,
};

/// Largest payload held for a frame that is not part of a header block (SETTINGS, GOAWAY
/// with its debug data, unknown types): the rest is skipped.
const MAX_CONTROL_PAYLOAD: usize = 1 << 16;
/// HPACK dynamic table size until SETTINGS say otherwise (RFC 9113 §6.5.2).
const DEFAULT_TABLE_SIZE: usize = 4096;
/// Frame length assumed acceptable when the receiver's SETTINGS were not seen: the largest
/// the length field allows (payloads are bounded by what is held, not by this).
const UNKNOWN_MAX_FRAME: usize = (1 << 24) - 1;

/// The first bytes of a connection while they are only a prefix of the preface.
#[derive(Debug)]
struct Held {
    dir: Dir,
    bytes: Vec<u8>,
    first_ns: i64,
    last_ns: i64,
}

impl Held {
    /// The held bytes as one chunk, dated by the first and latest of their segments.
    fn as_chunk(&self, ready_ns: i64) -> Chunk<'_> {
        Chunk {
            bytes: &self.bytes,
            first_ns: self.first_ns,
            last_ns: self.last_ns,
            ready_ns: ready_ns.max(self.last_ns),
        }
    }
}

/// A frame whose payload is arriving.
#[derive(Debug)]
struct FrameInProgress {
    head: Head,
    first_ns: i64,
    last_ns: i64,
    /// Payload bytes seen so far.
    got: usize,
    /// Held payload (not for DATA); at most the limit for the frame's kind.
    held: Vec<u8>,
    /// The payload went beyond what is held.
    overflow: bool,
    /// Part of the payload was never captured.
    gap: bool,
    /// DATA: padding length, once the pad length byte was seen (0 when not padded).
    pad: Option<usize>,
}

/// A header block being collected: HEADERS or PUSH_PROMISE, then CONTINUATION frames.
#[derive(Debug)]
struct HeaderBlock {
    stream_id: u32,
    /// PUSH_PROMISE: the promised stream.
    promised: Option<u32>,
    end_stream: bool,
    fragments: Vec<u8>,
    first_ns: i64,
    last_ns: i64,
    /// Bytes of the frames carrying the block, headers included.
    frame_bytes: u64,
    /// Why the block cannot be decoded (`headers_too_large`, `gap`, `malformed`): the stream
    /// is still timed, without its fields.
    broken: Option<&'static str>,
}

#[derive(Debug, Default)]
struct DirState {
    /// Client preface bytes still expected at the start of this direction.
    preface_left: usize,
    /// Whether this direction's first bytes were looked at.
    started: bool,
    header: [u8; HEADER_LEN],
    header_len: usize,
    header_first_ns: i64,
    frame: Option<FrameInProgress>,
    block: Option<HeaderBlock>,
    /// HPACK decoder for the blocks this direction sends (created with the first block).
    decoder: Option<HpackState>,
    /// What the decoder's last block said, once that block came again: a block the decoder
    /// replays says the same (cloned, not rebuilt field by field).
    last_summary: Option<HeaderSummary>,
    /// SETTINGS_HEADER_TABLE_SIZE this direction announced, applied when the peer acks it.
    announced_table_size: Option<usize>,
    /// Largest frame this direction may send (the peer's SETTINGS_MAX_FRAME_SIZE).
    max_frame: usize,
    /// Start time held in the watermark for a frame or header block in progress.
    mark: Option<i64>,
    /// Framing lost or a frame too large: nothing more is parsed.
    dead: bool,
    /// After a gap between frames: chunks are skipped until one starts with frames.
    resync: bool,
}

/// A direction's HPACK decoder (a newtype: the seam wants every analyzer `Debug`).
struct HpackState(Decoder);

impl std::fmt::Debug for HpackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HpackState {{ known_size: {} }}", self.0.known_size())
    }
}

/// HTTP/2 state of one TCP connection (or of the plaintext inside TLS).
#[derive(Debug)]
pub struct H2Conn {
    connection_id: u64,
    senders: [(IpAddr, u16); 2],
    client: Option<Dir>,
    dirs: [DirState; 2],
    /// The connection's start was seen (preface or upgrade): HPACK state is known.
    from_start: bool,
    streams: PairingQueue<u32, Stream>,
    /// `streams` has the configured limit (the configuration comes with the first stream).
    limit_set: bool,
    /// First and highest stream id opened in the capture, per parity (`[odd: the client's,
    /// even: pushed]`): a stream below the highest that is not waiting was closed already,
    /// one below the first may have been opened before the capture started.
    first_opened: [Option<u32>; 2],
    highest_opened: [u32; 2],
    next_depth: u32,
    /// Streams open at once, PING round trips, SETTINGS.
    figures: Figures,
    /// Nothing parsed yet: the connection can still be given up as not HTTP/2.
    undecided: bool,
    held: Option<Held>,
    rejected: bool,
    counted: bool,
    /// A stream may have become releasable since the last [`H2Conn::release_done`].
    releasable: bool,
    /// Streams of `streams` counted in the pass's pending HTTP requests
    /// ([`crate::analyzers::AnalyzerStats::http_pending_requests`]), see
    /// [`H2Conn::sync_pending`].
    pending_counted: u64,
}

impl H2Conn {
    pub fn new(connection_id: u64, senders: [(IpAddr, u16); 2], client: Option<Dir>) -> Self {
        let mut conn = H2Conn {
            connection_id,
            senders,
            client,
            dirs: Default::default(),
            from_start: false,
            // The queue's limit is set from the configuration at the first stream.
            streams: PairingQueue::new(usize::MAX),
            limit_set: false,
            first_opened: [None; 2],
            highest_opened: [0; 2],
            next_depth: 1,
            figures: Figures::default(),
            undecided: true,
            held: None,
            rejected: false,
            counted: false,
            releasable: false,
            pending_counted: 0,
        };
        for d in &mut conn.dirs {
            d.max_frame = UNKNOWN_MAX_FRAME;
        }
        conn
    }

    /// After HTTP/1.1 `Upgrade: h2c` and `101 Switching Protocols`: the client sends the
    /// preface next, the upgraded request is stream 1 (its response comes on stream 1),
    /// `request` holds its fields and times so far.
    pub(crate) fn after_upgrade(
        connection_id: u64,
        senders: [(IpAddr, u16); 2],
        client: Dir,
        mut request: HttpTransaction,
        request_done: bool,
        ctx: &mut Ctx<'_>,
    ) -> Self {
        let mut conn = H2Conn::new(connection_id, senders, Some(client));
        conn.from_start = true;
        conn.undecided = false;
        conn.counted = true;
        conn.dirs[client].preface_left = PREFACE.len();
        for d in &mut conn.dirs {
            d.started = true;
            d.max_frame = frame::DEFAULT_MAX_FRAME_SIZE;
        }
        request.version = "2".into();
        request.stream_id = Some(1);
        // The 101 is not the answer: the response comes on stream 1.
        request.status = None;
        request.response_first_ns = None;
        request.response_head_ns = None;
        request.depth = conn.next_depth;
        conn.next_depth += 1;
        request.flags.push("h2c_upgrade");
        conn.streams = PairingQueue::new(ctx.config.max_pending_requests);
        conn.limit_set = true;
        let first_ns = request.request_first_ns.unwrap_or_default();
        let last_ns = request.request_last_ns;
        let mut stream = Stream::new(request);
        stream.request_done = request_done;
        conn.figures.stream_opened(first_ns);
        conn.streams.push_request(1, first_ns, stream, ctx.marks);
        if let Some(p) = conn.streams.by_key(&1) {
            p.times.request_last_ns = last_ns;
        }
        conn
    }

    /// While the connection's first bytes are a short prefix of the preface they are held:
    /// `None` once they prove to be the preface (then they are fed, and the caller goes on),
    /// else the verdict for this chunk (held, or handed to HTTP/1.x with the held bytes).
    fn hold_short_preface(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Option<Verdict> {
        let mut held = match self.held.take() {
            Some(h) => h,
            None if !self.dirs.iter().any(|d| d.started)
                && evidence(chunk.bytes) == Evidence::PrefacePrefix =>
            {
                Held {
                    dir,
                    bytes: Vec::new(),
                    first_ns: chunk.first_ns,
                    last_ns: chunk.last_ns,
                }
            }
            None => return None,
        };
        let mut joined = held.bytes.clone();
        if held.dir == dir {
            joined.extend_from_slice(chunk.bytes);
        }
        match (held.dir == dir, evidence(&joined)) {
            (true, Evidence::PrefacePrefix) => {
                held.bytes = joined;
                held.last_ns = held.last_ns.max(chunk.last_ns);
                self.held = Some(held);
                return Some(Verdict::Continue);
            }
            (true, Evidence::Preface) => {
                // The held bytes keep their own times, this chunk its own.
                self.start_direction(dir, &joined);
                if !held.bytes.is_empty() {
                    self.feed(dir, &held.as_chunk(chunk.ready_ns), ctx);
                }
                self.feed(dir, chunk, ctx);
                return Some(Verdict::Continue);
            }
            _ => {}
        }
        // Not HTTP/2: HTTP/1.x gets the connection from its first byte.
        let info = ConnInfo {
            connection_id: self.connection_id,
            senders: self.senders,
            handshake_client: self.client,
            endpoint_connections: None,
        };
        let mut next = (crate::analyzers::http::REGISTRATION.new)(&info);
        let mut verdict = Verdict::Continue;
        if !held.bytes.is_empty() {
            verdict = next.on_data(held.dir, &held.as_chunk(chunk.ready_ns), ctx, shared);
        }
        if matches!(verdict, Verdict::Continue) {
            verdict = next.on_data(dir, chunk, ctx, shared);
        }
        Some(match verdict {
            Verdict::Continue => Verdict::HandOff(next),
            other => other,
        })
    }

    fn is_client(&self, dir: Dir) -> bool {
        self.client == Some(dir)
    }

    /// The first bytes of direction `dir`: the preface makes it the client and the HPACK
    /// state known; frames are taken as they come; anything else is not HTTP/2.
    fn start_direction(&mut self, dir: Dir, bytes: &[u8]) -> bool {
        self.dirs[dir].started = true;
        match evidence(bytes) {
            Evidence::Preface => {
                self.client = Some(dir);
                self.dirs[dir].preface_left = PREFACE.len();
                // Preface and SETTINGS come first: no header block can have been decoded.
                if self.dirs.iter().all(|d| d.decoder.is_none()) {
                    self.from_start = true;
                    for d in &mut self.dirs {
                        d.max_frame = frame::DEFAULT_MAX_FRAME_SIZE;
                    }
                }
                true
            }
            Evidence::Frames => true,
            // Frames may start past the first bytes seen only when the connection is known
            // to be HTTP/2 already (ALPN, the other direction).
            Evidence::None | Evidence::PrefacePrefix => !self.undecided,
        }
    }

    /// Feeds in-order bytes of `dir` dated `first_ns`..`last_ns`.
    fn feed(&mut self, dir: Dir, chunk: &Chunk<'_>, ctx: &mut Ctx<'_>) {
        if self.dirs[dir].resync {
            if !looks_like_frames(chunk.bytes) {
                return;
            }
            self.dirs[dir].resync = false;
        }
        let mut input = chunk.bytes;
        while !input.is_empty() && !self.dirs[dir].dead {
            let d = &mut self.dirs[dir];
            if d.preface_left > 0 {
                let at = PREFACE.len() - d.preface_left;
                let n = d.preface_left.min(input.len());
                if input[..n] != PREFACE[at..at + n] {
                    self.lose_framing(dir, "malformed", ctx);
                    break;
                }
                d.preface_left -= n;
                input = &input[n..];
                continue;
            }
            match d.frame.as_mut() {
                None => {
                    let parsed = if d.header_len == 0 && input.len() >= HEADER_LEN {
                        // A whole frame header in this chunk (the usual case): read in place.
                        d.header_first_ns = chunk.first_ns;
                        let (header, rest) = input.split_at(HEADER_LEN);
                        input = rest;
                        Some(Head::parse(header))
                    } else {
                        if d.header_len == 0 {
                            d.header_first_ns = chunk.first_ns;
                        }
                        let n = (HEADER_LEN - d.header_len).min(input.len());
                        d.header[d.header_len..d.header_len + n].copy_from_slice(&input[..n]);
                        d.header_len += n;
                        input = &input[n..];
                        (d.header_len == HEADER_LEN).then(|| {
                            d.header_len = 0;
                            Head::parse(&d.header)
                        })
                    };
                    if let Some(parsed) = parsed {
                        let Some(head) = parsed else {
                            break;
                        };
                        let first_ns = d.header_first_ns;
                        self.begin_frame(dir, head, first_ns, chunk.last_ns, ctx);
                        // A whole frame in this chunk is read in place, not held.
                        let d = &mut self.dirs[dir];
                        let whole = d.frame.as_ref().is_some_and(|f| {
                            f.head.frame_type != kind::DATA && f.head.length <= input.len()
                        });
                        if whole {
                            if let Some(mut f) = d.frame.take() {
                                let (payload, rest) = input.split_at(f.head.length);
                                input = rest;
                                let limit =
                                    held_limit(f.head.frame_type, ctx.config.max_header_bytes);
                                f.got = f.head.length;
                                f.overflow = payload.len() > limit;
                                let payload = &payload[..payload.len().min(limit)];
                                self.end_frame(dir, f, payload, ctx);
                            }
                        }
                    }
                }
                Some(f) => {
                    let n = (f.head.length - f.got).min(input.len());
                    f.last_ns = f.last_ns.max(chunk.last_ns);
                    self.payload_piece(dir, &input[..n], ctx);
                    input = &input[n..];
                }
            }
            self.end_frame_if_complete(dir, ctx);
        }
        self.sync_mark(dir, ctx);
    }

    /// Ends the frame in progress once its payload is all there.
    fn end_frame_if_complete(&mut self, dir: Dir, ctx: &mut Ctx<'_>) {
        let d = &mut self.dirs[dir];
        if d.frame.as_ref().is_some_and(|f| f.got == f.head.length) {
            if let Some(mut f) = d.frame.take() {
                let held = std::mem::take(&mut f.held);
                self.end_frame(dir, f, &held, ctx);
            }
        }
    }

    /// A frame header arrived.
    fn begin_frame(
        &mut self,
        dir: Dir,
        head: Head,
        first_ns: i64,
        last_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        if self.undecided && !head.is_plausible(self.dirs[dir].max_frame.max(1 << 20)) {
            self.rejected = true;
            self.dirs[dir].dead = true;
            return;
        }
        self.undecided = false;
        if !self.counted {
            self.counted = true;
            ctx.stats.http_connections += 1;
        }
        // The connection's span (its figures go out with its flow record, not in time
        // order, so they hold nothing back).
        self.figures.frame(first_ns);
        let d = &mut self.dirs[dir];
        if head.length > d.max_frame {
            // Either a peer breaking the limit or bytes that are not frames: nothing after
            // this can be trusted to be a frame boundary.
            self.lose_framing(dir, "frame_too_large", ctx);
            return;
        }
        d.frame = Some(FrameInProgress {
            head,
            first_ns,
            last_ns,
            got: 0,
            held: Vec::new(),
            overflow: false,
            gap: false,
            pad: (!head.has_flag(flag::PADDED)).then_some(0),
        });
    }

    /// Payload bytes of the frame in progress.
    fn payload_piece(&mut self, dir: Dir, piece: &[u8], ctx: &mut Ctx<'_>) {
        let max_header_bytes = ctx.config.max_header_bytes;
        let request = self.is_client(dir);
        let Some(f) = self.dirs[dir].frame.as_mut() else {
            return;
        };
        let start = f.got;
        f.got += piece.len();
        if f.head.frame_type != kind::DATA {
            let room = held_limit(f.head.frame_type, max_header_bytes).saturating_sub(f.held.len());
            f.held.extend_from_slice(&piece[..piece.len().min(room)]);
            f.overflow |= piece.len() > room;
            return;
        }
        // DATA streams through: only the data between pad length and padding is counted.
        let mut piece = piece;
        let mut at = start;
        if f.pad.is_none() {
            let Some((&pad, rest)) = piece.split_first() else {
                return;
            };
            f.pad = Some(pad as usize);
            piece = rest;
            at += 1;
        }
        let data_start = usize::from(f.head.has_flag(flag::PADDED));
        let data_end = f
            .head
            .length
            .saturating_sub(f.pad.unwrap_or(0))
            .max(data_start);
        let from = at.max(data_start);
        let to = (at + piece.len()).min(data_end);
        if from >= to {
            return;
        }
        let data = &piece[from - at..to - at];
        let stream_id = f.head.stream_id;
        if self.client.is_some() {
            if let Some(p) = self.streams.by_key(&stream_id) {
                p.item.add_body(request, data);
            }
        }
    }

    /// A whole frame arrived.
    /// `payload`: what was held of it (all of it unless `f.overflow`).
    fn end_frame(&mut self, dir: Dir, f: FrameInProgress, payload: &[u8], ctx: &mut Ctx<'_>) {
        let head = f.head;
        self.figures.frame(f.last_ns);
        let frame_bytes = (HEADER_LEN + head.length) as u64;
        match head.frame_type {
            kind::HEADERS | kind::PUSH_PROMISE => {
                if self.dirs[dir].block.take().is_some() {
                    // The previous block never ended: its fields are lost, and so the table.
                    self.hpack_lost(dir);
                }
                let parts = frame::padded_parts(&head, payload);
                let broken = if f.gap {
                    Some("gap")
                } else if f.overflow {
                    Some("headers_too_large")
                } else if parts.is_none() {
                    Some("malformed")
                } else {
                    None
                };
                let promised = parts.and_then(|p| p.promised_stream);
                if head.frame_type == kind::PUSH_PROMISE && promised.is_none() {
                    // Which stream was promised is unknown: nothing to time.
                    self.broken_block(dir, broken.unwrap_or("malformed"), ctx);
                    return;
                }
                let content = match (broken, parts) {
                    (None, Some(p)) => p.content,
                    _ => &[],
                };
                let block = HeaderBlock {
                    stream_id: head.stream_id,
                    promised,
                    end_stream: head.frame_type == kind::HEADERS && head.has_flag(flag::END_STREAM),
                    fragments: Vec::new(),
                    first_ns: f.first_ns,
                    last_ns: f.last_ns,
                    frame_bytes,
                    broken,
                };
                if head.has_flag(flag::END_HEADERS) {
                    // One frame: decoded where it lies.
                    self.end_block(dir, block, content, ctx);
                } else {
                    let mut block = block;
                    block.fragments = content.to_vec();
                    self.dirs[dir].block = Some(block);
                }
            }
            kind::CONTINUATION => {
                let max = ctx.config.max_header_bytes;
                let Some(block) = self.dirs[dir].block.as_mut() else {
                    // The block's start was never seen (capture start, gap): HPACK is unknown
                    // from here.
                    self.hpack_lost(dir);
                    return;
                };
                block.last_ns = block.last_ns.max(f.last_ns);
                block.frame_bytes += frame_bytes;
                if f.gap {
                    block.broken = Some("gap");
                } else if f.overflow || block.fragments.len() + payload.len() > max {
                    block.broken.get_or_insert("headers_too_large");
                }
                if block.broken.is_some() {
                    block.fragments = Vec::new();
                } else {
                    block.fragments.extend_from_slice(payload);
                }
                if head.has_flag(flag::END_HEADERS) {
                    if let Some(mut block) = self.dirs[dir].block.take() {
                        let fragments = std::mem::take(&mut block.fragments);
                        self.end_block(dir, block, &fragments, ctx);
                    }
                }
            }
            kind::DATA => self.on_data_frame(dir, &head, frame_bytes, f.last_ns, ctx),
            kind::RST_STREAM => {
                self.on_stream_frame(dir, head.stream_id, frame_bytes);
                if let Some(p) = self.streams.by_key(&head.stream_id) {
                    p.item.flag("reset");
                    settle(p, true, f.last_ns, &mut self.figures, &mut self.releasable);
                }
                self.release_done(ctx);
            }
            kind::SETTINGS => self.on_settings(dir, &head, payload),
            kind::PING => {
                if let Some(data) = frame::ping(payload) {
                    let ack = head.has_flag(flag::ACK);
                    self.figures.ping(dir, ack, data, f.last_ns);
                }
            }
            kind::GOAWAY => {
                if let Some((last_id, _code)) = frame::goaway(payload) {
                    self.on_goaway(dir, last_id, f.last_ns, ctx);
                }
            }
            _ => self.on_stream_frame(dir, head.stream_id, frame_bytes),
        }
    }

    /// Counts a frame's bytes on its stream (connection-level frames count nowhere).
    fn on_stream_frame(&mut self, dir: Dir, stream_id: u32, frame_bytes: u64) {
        if stream_id == 0 || self.client.is_none() {
            return;
        }
        let request = self.is_client(dir);
        if let Some(p) = self.streams.by_key(&stream_id) {
            p.item.add_frame_bytes(request, frame_bytes);
        }
    }

    fn on_settings(&mut self, dir: Dir, head: &Head, payload: &[u8]) {
        let peer = 1 - dir;
        if head.has_flag(flag::ACK) {
            // The peer announced the table size it decodes with; its ACK means this direction
            // encodes within it from now on.
            if let Some(n) = self.dirs[peer].announced_table_size.take() {
                if let Some(HpackState(decoder)) = self.dirs[dir].decoder.as_mut() {
                    decoder.set_max_table_size(n);
                }
            }
            return;
        }
        for (id, value) in frame::settings(payload) {
            self.figures.setting(dir, id, value);
            match id {
                frame::setting::HEADER_TABLE_SIZE => {
                    self.dirs[dir].announced_table_size = Some(value as usize)
                }
                frame::setting::MAX_FRAME_SIZE => {
                    // Frames towards `dir` may be this large (applied at once: lenient).
                    let limit = &mut self.dirs[peer].max_frame;
                    *limit = (*limit).max(value as usize);
                }
                _ => {}
            }
        }
    }

    /// GOAWAY from `dir`: streams the peer opened above `last_id` were never processed (they
    /// end now); every stream still open carries the flag.
    fn on_goaway(&mut self, dir: Dir, last_id: u32, t_ns: i64, ctx: &mut Ctx<'_>) {
        let peer_is_client = !self.is_client(dir);
        for p in self.streams.iter_mut().filter(|p| !p.done) {
            p.item.flag("goaway");
            let peers_stream = (parity(p.key) == 0) == peer_is_client;
            if peers_stream && p.key > last_id {
                settle(p, true, t_ns, &mut self.figures, &mut self.releasable);
            }
        }
        self.release_done(ctx);
    }

    /// A complete header block from `dir`.
    fn end_block(&mut self, dir: Dir, block: HeaderBlock, fragments: &[u8], ctx: &mut Ctx<'_>) {
        let mut summary = HeaderSummary::default();
        let mut flags: Vec<&'static str> = Vec::new();
        if let Some(broken) = block.broken {
            self.broken_block(dir, broken, ctx);
            flags.push(broken);
        } else {
            let from_start = self.from_start;
            let HpackState(decoder) = self.dirs[dir].decoder.get_or_insert_with(|| {
                HpackState(if from_start {
                    Decoder::new(DEFAULT_TABLE_SIZE)
                } else {
                    Decoder::new_unknown(MAX_TABLE_SIZE_CAP)
                })
            });
            let max = ctx.config.max_header_bytes;
            let last_summary = &mut self.dirs[dir].last_summary;
            let replayed = match last_summary {
                Some(_) => decoder.replay_quietly(fragments, max, HeaderSummary::wants),
                None => None,
            };
            let decoded = match (replayed, last_summary.as_ref()) {
                (Some(info), Some(last)) => {
                    summary = last.clone();
                    Ok(info)
                }
                _ => {
                    let replay = decoder.would_replay(fragments, max, HeaderSummary::wants);
                    let decoded =
                        decoder.decode_wanted(fragments, max, HeaderSummary::wants, |n, v| {
                            summary.add(n, v)
                        });
                    // Kept from the first repeat on: blocks that never repeat cost no copy.
                    *last_summary = replay.then(|| summary.clone());
                    decoded
                }
            };
            match decoded {
                Ok(info) => {
                    if info.unknown_refs > 0 {
                        flags.push("hpack_unknown");
                    }
                    if info.dropped_fields > 0 {
                        flags.push("headers_too_large");
                    }
                }
                Err(_) => {
                    ctx.stats.http_parse_errors += 1;
                    flags.push("malformed");
                }
            }
        }
        if self.client.is_none() {
            self.client = if summary.method.is_some() {
                Some(dir)
            } else if summary.status.is_some() || block.promised.is_some() {
                Some(1 - dir)
            } else {
                // Nothing decodable says which side asks: the lower port serves.
                Some(usize::from(self.senders[0].1 < self.senders[1].1))
            };
        }
        if let Some(promised) = block.promised {
            self.on_push_promise(promised, block, summary, &flags, ctx);
        } else if self.is_client(dir) {
            self.on_request_block(block, summary, &flags, ctx);
        } else {
            self.on_response_block(block, summary, &flags, ctx);
        }
        self.release_done(ctx);
    }

    /// A new transaction on `stream_id` that started at `first_ns`.
    fn open_stream(&mut self, stream_id: u32, first_ns: i64, ctx: &mut Ctx<'_>) {
        if !self.limit_set {
            self.limit_set = true;
            self.streams = PairingQueue::new(ctx.config.max_pending_requests);
        }
        let (client, server) = match self.client {
            Some(c) => (self.senders[c], self.senders[1 - c]),
            None => (self.senders[0], self.senders[1]),
        };
        let tx = HttpTransaction {
            version: "2".into(),
            stream_id: Some(stream_id),
            ..HttpTransaction::empty(self.connection_id, self.next_depth, client, server)
        };
        self.next_depth += 1;
        self.figures.stream_opened(first_ns);
        if let Some(evicted) =
            self.streams
                .push_request(stream_id, first_ns, Stream::new(tx), ctx.marks)
        {
            // Too many streams in flight on this connection.
            self.shed_stream(evicted, first_ns, ctx);
        }
        ctx.stats.http_peak_pending_requests = ctx
            .stats
            .http_peak_pending_requests
            .max(self.streams.len() as u64);
    }

    /// After a chunk: over all connections (HTTP/1.x requests included), the connection
    /// whose streams took the pending requests past `max_pending_requests_total` sheds its
    /// own oldest, as HTTP/1.x does. Here rather than as a stream opens, so that a stream
    /// shed has its request head (one chunk opens at most `max_pending_requests` streams
    /// that stay).
    fn bound_pending(&mut self, now_ns: i64, ctx: &mut Ctx<'_>) {
        self.sync_pending(ctx);
        while ctx.stats.http_pending_requests > ctx.config.max_pending_requests_total as u64 {
            let Some(evicted) = self.streams.pop_front_where(ctx.marks, |_| true) else {
                break;
            };
            self.shed_stream(evicted, now_ns, ctx);
            self.sync_pending(ctx);
        }
        let stats = &mut *ctx.stats;
        stats.http_peak_pending_total = stats
            .http_peak_pending_total
            .max(stats.http_pending_requests);
    }

    /// A stream pushed out by a limit before it ended: reported as it stands.
    fn shed_stream(&mut self, mut evicted: Pending<u32, Stream>, now_ns: i64, ctx: &mut Ctx<'_>) {
        self.releasable = true;
        if !evicted.done {
            evicted.item.flag("unanswered");
            self.figures.stream_closed(now_ns);
        }
        emit(evicted, ctx);
    }

    /// Counts this connection's streams in flight among the pass's pending HTTP requests,
    /// the gauge HTTP/1.x counts its unanswered requests in, so that
    /// `max_pending_requests_total` bounds them over all connections too (streams in flight
    /// were bounded only per connection, and 2,000 connections of 100 streams held 300 MiB
    /// under a 64 MiB budget).
    fn sync_pending(&mut self, ctx: &mut Ctx<'_>) {
        let live = self.streams.len() as u64;
        let stats = &mut *ctx.stats;
        stats.http_pending_requests =
            (stats.http_pending_requests + live).saturating_sub(self.pending_counted);
        self.pending_counted = live;
    }

    /// Takes this connection's streams out of the gauge (the analyzer is dropped).
    fn release_pending(&mut self, ctx: &mut Ctx<'_>) {
        ctx.stats.http_pending_requests = ctx
            .stats
            .http_pending_requests
            .saturating_sub(std::mem::take(&mut self.pending_counted));
    }

    /// A stream opened in the capture by a request or a promise (not an orphan response).
    fn note_opened(&mut self, stream_id: u32) {
        let side = parity(stream_id);
        self.first_opened[side].get_or_insert(stream_id);
        self.highest_opened[side] = self.highest_opened[side].max(stream_id);
    }

    fn on_request_block(
        &mut self,
        block: HeaderBlock,
        summary: HeaderSummary,
        flags: &[&'static str],
        ctx: &mut Ctx<'_>,
    ) {
        let id = block.stream_id;
        let waiting = self
            .streams
            .by_key(&id)
            .map(|p| p.times.request_first_ns.is_none() && !p.item.request_done);
        let opening = waiting.unwrap_or(true);
        if waiting.is_none() {
            if id <= self.highest_opened[parity(id)] {
                // A late block on a stream already reported (stream ids are never reused).
                return;
            }
            self.note_opened(id);
            self.open_stream(id, block.first_ns, ctx);
        }
        let Some(p) = self.streams.by_key(&id) else {
            return;
        };
        for &f in flags {
            p.item.flag(f);
        }
        p.item.add_frame_bytes(true, block.frame_bytes);
        if opening {
            p.item.tx.request_head_ns = Some(block.last_ns);
            p.item.apply_request(summary);
        }
        if block.end_stream {
            p.times.request_last_ns = Some(block.last_ns);
            p.item.request_done = true;
            settle(
                p,
                p.item.is_done(),
                block.last_ns,
                &mut self.figures,
                &mut self.releasable,
            );
        }
    }

    fn on_response_block(
        &mut self,
        block: HeaderBlock,
        summary: HeaderSummary,
        flags: &[&'static str],
        ctx: &mut Ctx<'_>,
    ) {
        let id = block.stream_id;
        if self.streams.by_key(&id).is_none() {
            // Either the request was not captured (the capture started later), or the stream
            // is over (a late answer after a reset): only the first makes a row.
            let first = self.first_opened[parity(id)];
            if self.from_start || first.is_some_and(|f| id >= f) {
                return;
            }
            self.open_stream(id, block.first_ns, ctx);
            if let Some(p) = self.streams.by_key(&id) {
                p.times.request_first_ns = None;
                p.item.request_done = true;
                p.item.flag("orphan_response");
                ctx.stats.http_orphan_responses += 1;
            }
        }
        let Some(p) = self.streams.by_key(&id) else {
            return;
        };
        for &f in flags {
            p.item.flag(f);
        }
        p.item.add_frame_bytes(false, block.frame_bytes);
        if summary.is_interim() {
            if summary.status == Some(100) {
                p.item.flag("continue");
            }
        } else {
            if !p.item.response_started {
                // Without `:status` (HPACK unknown) the first response block is taken as final.
                p.item.response_started = true;
                p.answered = true;
                p.times.response_first_ns = Some(block.first_ns);
                p.item.tx.response_head_ns = Some(block.last_ns);
            }
            p.item.apply_response(&summary);
        }
        if block.end_stream {
            p.times.response_last_ns = Some(block.last_ns);
            p.item.response_done = true;
            settle(
                p,
                p.item.is_done(),
                block.last_ns,
                &mut self.figures,
                &mut self.releasable,
            );
        }
    }

    /// PUSH_PROMISE: the server opens `promised` with the request it answers; the promise's
    /// frames date the request.
    fn on_push_promise(
        &mut self,
        promised: u32,
        block: HeaderBlock,
        summary: HeaderSummary,
        flags: &[&'static str],
        ctx: &mut Ctx<'_>,
    ) {
        if self.streams.by_key(&promised).is_some()
            || promised <= self.highest_opened[parity(promised)]
        {
            return;
        }
        self.note_opened(promised);
        self.open_stream(promised, block.first_ns, ctx);
        let Some(p) = self.streams.by_key(&promised) else {
            return;
        };
        p.item.flag("push");
        for &f in flags {
            p.item.flag(f);
        }
        p.item.add_frame_bytes(true, block.frame_bytes);
        p.item.apply_request(summary);
        p.item.tx.request_head_ns = Some(block.last_ns);
        p.times.request_last_ns = Some(block.last_ns);
        p.item.request_done = true;
    }

    /// A whole DATA frame from `dir` (its payload was counted as it came): its bytes, and
    /// the end of the sender's side of the stream on END_STREAM. One lookup of the stream.
    fn on_data_frame(
        &mut self,
        dir: Dir,
        head: &Head,
        frame_bytes: u64,
        last_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        if self.client.is_none() {
            return;
        }
        let request = self.is_client(dir);
        let Some(p) = self.streams.by_key(&head.stream_id) else {
            return;
        };
        if head.stream_id != 0 {
            p.item.add_frame_bytes(request, frame_bytes);
        }
        if !head.has_flag(flag::END_STREAM) {
            return;
        }
        if request {
            p.times.request_last_ns = Some(last_ns);
            p.item.request_done = true;
        } else {
            p.times.response_last_ns = Some(last_ns);
            p.item.response_done = true;
        }
        settle(
            p,
            p.item.is_done(),
            last_ns,
            &mut self.figures,
            &mut self.releasable,
        );
        self.release_done(ctx);
    }

    /// A header block that cannot be decoded (`broken` says why): the table this direction
    /// decodes with is unknown from here, since the block may have changed it.
    fn broken_block(&mut self, dir: Dir, broken: &'static str, ctx: &mut Ctx<'_>) {
        if broken == "malformed" {
            ctx.stats.http_parse_errors += 1;
        }
        self.hpack_lost(dir);
    }

    /// The blocks `dir` sent since the table was last known were not all decoded.
    fn hpack_lost(&mut self, dir: Dir) {
        self.dirs[dir].decoder = Some(HpackState(Decoder::new_unknown(MAX_TABLE_SIZE_CAP)));
    }

    /// A gap between frames (or across a frame's end): where the next frame starts is
    /// unknown. Parsing resumes at the first chunk (a segment, a TLS record) that starts with
    /// a run of plausible frames; the streams open now get `gap`, and HPACK is unknown from
    /// here (the blocks lost may have changed the table).
    fn resync_after_gap(&mut self, dir: Dir, ctx: &mut Ctx<'_>) {
        if self.undecided {
            return self.lose_framing(dir, "gap", ctx);
        }
        let d = &mut self.dirs[dir];
        d.resync = true;
        d.frame = None;
        d.block = None;
        d.header_len = 0;
        for p in self.streams.iter_mut().filter(|p| !p.done) {
            p.item.flag("gap");
        }
        self.hpack_lost(dir);
        self.sync_mark(dir, ctx);
    }

    /// The framing of `dir` cannot be followed any more: every stream still waiting gets
    /// `flag`, and nothing more is parsed in that direction.
    fn lose_framing(&mut self, dir: Dir, flag: &'static str, ctx: &mut Ctx<'_>) {
        let d = &mut self.dirs[dir];
        d.dead = true;
        d.frame = None;
        d.block = None;
        d.header_len = 0;
        if self.undecided {
            self.rejected = true;
            return;
        }
        if flag == "malformed" {
            ctx.stats.http_parse_errors += 1;
        }
        for p in self.streams.iter_mut().filter(|p| !p.done) {
            p.item.flag(flag);
        }
    }

    /// Emits finished streams at the front of the queue (request order).
    fn release_done(&mut self, ctx: &mut Ctx<'_>) {
        // After a release the front waits; only a stream over or an eviction changes that.
        if !std::mem::take(&mut self.releasable) {
            return;
        }
        while let Some(p) = self.streams.pop_front_done(ctx.marks) {
            emit(p, ctx);
        }
    }

    /// Releases what the directions hold in the watermark (the connection is over).
    fn release_marks(&mut self, ctx: &mut Ctx<'_>) {
        for d in &mut self.dirs {
            if let Some(t) = d.mark.take() {
                ctx.marks.remove(t);
            }
        }
    }

    /// Holds the start of a frame or header block still arriving in the watermark.
    fn sync_mark(&mut self, dir: Dir, ctx: &mut Ctx<'_>) {
        let d = &mut self.dirs[dir];
        let wanted = d
            .block
            .as_ref()
            .map(|b| b.first_ns)
            .or_else(|| d.frame.as_ref().map(|f| f.first_ns))
            .or((d.header_len > 0).then_some(d.header_first_ns));
        if wanted != d.mark {
            if let Some(old) = d.mark {
                ctx.marks.remove(old);
            }
            if let Some(new) = wanted {
                ctx.marks.add(new);
            }
            d.mark = wanted;
        }
    }
}

/// Most payload bytes held for a frame of this type (the rest is counted, not kept).
fn held_limit(frame_type: u8, max_header_bytes: usize) -> usize {
    match frame_type {
        // Padding, priority and the promised id on top of the block.
        kind::HEADERS | kind::PUSH_PROMISE | kind::CONTINUATION => max_header_bytes + 261,
        _ => MAX_CONTROL_PAYLOAD,
    }
}

/// Sets whether a stream is over, counting its end in the connection's figures; a stream over
/// may be `releasable`.
fn settle(
    p: &mut Pending<u32, Stream>,
    done: bool,
    t_ns: i64,
    figures: &mut Figures,
    releasable: &mut bool,
) {
    if done && !p.done {
        figures.stream_closed(t_ns);
    }
    *releasable |= done;
    p.done = done;
}

/// Index by who opens a stream: 0 for odd ids (the client's), 1 for even ones (pushed).
fn parity(stream_id: u32) -> usize {
    usize::from(stream_id.is_multiple_of(2))
}

fn emit(p: Pending<u32, Stream>, ctx: &mut Ctx<'_>) {
    let times = p.times;
    let mut tx = p.item.into_transaction();
    tx.request_first_ns = times.request_first_ns;
    tx.request_last_ns = times.request_last_ns;
    tx.response_first_ns = times.response_first_ns;
    tx.response_last_ns = times.response_last_ns;
    emit_transaction(tx, ctx);
}

impl TcpAnalyzer for H2Conn {
    fn held_bytes(&self) -> usize {
        let held = self.held.as_ref().map_or(0, |h| h.bytes.capacity());
        let dirs: usize = self
            .dirs
            .iter()
            .map(|d| {
                d.frame.as_ref().map_or(0, |f| f.held.capacity())
                    + d.block.as_ref().map_or(0, |b| b.fragments.capacity())
                    + d.decoder.as_ref().map_or(0, |h| h.0.held_bytes())
            })
            .sum();
        held + dirs
    }

    fn protocol(&self) -> &'static str {
        "http2"
    }

    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Verdict {
        let verdict = self.data(dir, chunk, ctx, shared);
        match verdict {
            // Most chunks open and close no stream.
            Verdict::Continue if self.streams.len() as u64 != self.pending_counted => {
                self.bound_pending(chunk.last_ns, ctx)
            }
            Verdict::Continue => {}
            // Dropped: its streams leave the gauge with it.
            Verdict::Reject | Verdict::HandOff(_) => self.release_pending(ctx),
        }
        verdict
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ctx: &mut Ctx<'_>) {
        self.gap(dir, len, ctx);
        self.sync_pending(ctx);
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        self.release_marks(ctx);
        if ctx.config.http2_connections {
            let figures = std::mem::take(&mut self.figures);
            let client = self.client.unwrap_or(0);
            if let Some(c) = figures.finish(self.connection_id, self.senders, client) {
                ctx.out.push(Event::Http2(Box::new(c)));
            }
        }
        for p in self.streams.drain(ctx.marks) {
            emit(p, ctx);
        }
        self.sync_pending(ctx);
    }
}

impl H2Conn {
    /// [`TcpAnalyzer::on_data`] before the streams are counted (inlined there, its one
    /// caller: called, it cost ~25 instructions a chunk more).
    #[inline(always)]
    fn data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Verdict {
        if let Some(verdict) = self.hold_short_preface(dir, chunk, ctx, shared) {
            return verdict;
        }
        if !self.dirs[dir].started && !self.start_direction(dir, chunk.bytes) {
            self.rejected = true;
        }
        if !self.rejected {
            self.feed(dir, chunk, ctx);
        }
        if self.rejected {
            // Dropped without a flush: nothing may stay in the watermark.
            self.release_marks(ctx);
            Verdict::Reject
        } else {
            Verdict::Continue
        }
    }

    fn gap(&mut self, dir: Dir, len: u64, ctx: &mut Ctx<'_>) {
        let d = &mut self.dirs[dir];
        if d.dead || !d.started {
            return;
        }
        let Some(f) = d.frame.as_mut() else {
            self.resync_after_gap(dir, ctx);
            return;
        };
        let left = (f.head.length - f.got) as u64;
        if len > left {
            self.resync_after_gap(dir, ctx);
            return;
        }
        // Inside a frame of known length: skip exactly (a DATA frame's pad length byte, if
        // lost, leaves the padding counted as data).
        f.got += len as usize;
        f.gap = true;
        f.pad.get_or_insert(0);
        if let Some(p) = self.streams.by_key(&f.head.stream_id) {
            p.item.flag("gap");
        }
        self.end_frame_if_complete(dir, ctx);
        self.sync_mark(dir, ctx);
    }
}

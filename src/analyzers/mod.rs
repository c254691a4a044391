//! Protocol analyzers: TCP reassembly feeding HTTP/1.x, and DNS over UDP and TCP.
//!
//! The [`TransactionAnalyzer`] takes decoded packets in capture order and emits finished
//! transactions. Per-connection state is bounded ([`AnalyzerConfig`]) and dropped when a
//! connection closes or idles out, so memory follows the connections open at once, not the
//! size of the file.
//!
//! Timing (shared with the ground-truth generator): a message's `*_first_ns` is the capture
//! time of the earliest packet that carried any of its bytes (first copy: retransmissions do
//! not move it); `*_last_ns` the capture time at which all its own bytes had been seen, i.e.
//! the latest first-copy arrival among them: the packet carrying its last byte, or the late
//! segment that filled a hole inside it. A hole in an earlier message does not delay a later
//! one (a pipelined request that arrived whole ahead of its predecessor's missing segment was
//! complete at its own arrival). Bytes after a hole declared a gap count as seen when they
//! arrived. `*_head_ns` is the same for the end of the head, which is what tshark reports with
//! `http.desegment_body:FALSE` (tshark dates by in-order reassembly instead, which only differs
//! when reordering spans two messages). DNS over TCP is dated by in-order reassembly. Measured on the
//! corpus (tests/analyzers_corpus.rs): `tshark_ns()` equals tshark's `http.time` to the
//! nanosecond for 1556 of 1567 responses, `dns.time` for 194 of 200; the rest are listed
//! there with the reason.
//!
//! Holes: a hole is a gap when the peer's ACK covers it and data follows (the receiver got
//! bytes the capture missed: they will never be retransmitted), when more than
//! `max_reorder_bytes` wait behind it, or when the stream is flushed (RST, flow end, idle,
//! capture end). Bytes cut by the snapshot length are gaps immediately.
//!
//! Memory per TCP connection: up to `max_reorder_bytes` (+160 bytes per piece) per direction of
//! out-of-order data, a head / resync buffer of `max_header_bytes` per direction, at most
//! `max_pending_requests` waiting transactions (HTTP/2: streams in flight); DNS: at most
//! `max_dns_pending` pending queries. Over all connections, waiting transactions are held up
//! to `max_pending_requests_total`, and out-of-order data and what the analyzers buffer
//! ([`seam::TcpAnalyzer::held_bytes`]) are held up to `max_reassembly_bytes`: above it the
//! direction holding the oldest out-of-order data is given up as gaps (counted in
//! `tcp_reassembly_sheds`), then the connection whose analyzers hold the most
//! (`tcp_analysis_sheds`).

pub mod dns;
pub mod http;
pub mod http2;
pub mod pairing;
pub mod reassembly;
pub mod seam;
pub mod tcp;
pub mod tls;
pub mod transaction;

pub use dns::DnsTransaction;
pub use http::{GrpcCall, HttpTransaction};
pub use tcp::TcpExchange;
pub use tls::TlsConnection;
pub use transaction::Transaction;

use crate::decode::{Decoded, Transport};
use crate::flows::CaptureClock;
use reassembly::{Segment, StreamReassembler, StreamSink};
use rustc_hash::FxHashMap;
use seam::{
    BoxedAnalyzer, Chunk, ConnInfo, Dir, Probe, Registration, SegmentView, Shared, TcpAnalyzer,
    Verdict,
};
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::IpAddr;

/// Limits that keep per-connection memory bounded.
#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    /// Out-of-order bytes buffered per direction before a gap is declared (default 4 MiB).
    pub max_reorder_bytes: usize,
    /// Flows (and so connections) open at once; beyond it the oldest half-open or idle flows
    /// are ended early (default [`crate::flows::DEFAULT_MAX_FLOWS`], ~256 MiB of state).
    pub max_flows: usize,
    /// Out-of-order bytes (with per-piece overhead) and bytes the analyzers buffer, held over
    /// all connections; above it the oldest out-of-order data is given up as gaps, then the
    /// connections whose analyzers hold the most (default 256 MiB).
    pub max_reassembly_bytes: usize,
    /// Longest HTTP header block accepted before the message is marked malformed (64 KiB).
    pub max_header_bytes: usize,
    /// Requests in flight on one connection before the oldest is reported unanswered (100).
    pub max_pending_requests: usize,
    /// Requests waiting for a response over all connections (default 250,000, ~256 MiB),
    /// HTTP/2 streams in flight included; beyond it the connection adding one reports its
    /// oldest waiting request (or stream) `unanswered`.
    pub max_pending_requests_total: usize,
    /// DNS queries waiting for a response over the whole pass (default 131,072, ~110 MiB).
    /// Kept per lane (`max_dns_pending / LANES` each, see [`crate::flows::lanes`]): beyond a
    /// lane's share its oldest query is reported unanswered, the same for every `--threads`.
    pub max_dns_pending: usize,
    /// IP datagrams being reassembled from fragments at once (default 1024, at most 64 KiB
    /// each); beyond it the oldest is dropped.
    pub max_fragment_datagrams: usize,
    /// A connection with no packet for this long (capture time) is flushed (default 300 s).
    pub idle_timeout_ns: i64,
    /// A DNS query without a response for this long (capture time) is reported unanswered
    /// (default 10 s: resolvers retry after a few seconds). Until then it holds back the
    /// time-ordered output, so this also bounds how much finished output waits in memory.
    pub dns_timeout_ns: i64,
    /// Observer analyzers (registered with `observer: true`) to run beside the protocol
    /// analyzer on every TCP connection, by name (none by default).
    pub observers: Vec<&'static str>,
    /// What the TLS analyzer does besides detecting TLS (rows per connection).
    pub tls: tls::TlsOptions,
    /// Finished records (rows) held at once while an earlier transaction is still in
    /// progress, so that they come out in time order; beyond it the earliest go out anyway
    /// and a warning counts those written after a later one (`--max-held-rows`). A
    /// response streaming for the whole capture would otherwise hold every later row. A
    /// threaded pass also lets its workers hand over at most 1 KiB per record of it before
    /// the merger takes them (beyond one epoch's rows, up to four where rows turn heavy): past it,
    /// epochs go one at a time.
    pub max_held_records: usize,
    /// Emit one [`http2::Http2Connection`] per HTTP/2 connection (`sessions --json --http2`,
    /// the report). A pass hands each one over just before its connection's flow record
    /// (without flow records, as the connection ends), not in time order, so it holds back
    /// no row. Off by default.
    pub http2_connections: bool,
    /// The pass wants no rows of the claiming analyzers, only the protocol name they decide
    /// (the observers' `protocol` column, e.g. `tcp`): a claimer is dropped once it has
    /// [settled](seam::TcpAnalyzer::settled), its transactions in progress discarded, and
    /// only the observers keep working. Off by default.
    pub detect_only: bool,
    /// Pair DNS queries and responses carried over UDP (on by default). A pass that reports
    /// no DNS turns it off, so that its UDP packets cost nothing and hold nothing back (DNS
    /// over TCP is still recognised, as the protocol of its connection).
    pub dns_over_udp: bool,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            max_reorder_bytes: 4 << 20,
            max_reassembly_bytes: 256 << 20,
            max_flows: crate::flows::DEFAULT_MAX_FLOWS,
            max_header_bytes: 64 << 10,
            max_pending_requests: 100,
            max_pending_requests_total: 250_000,
            max_dns_pending: dns::DEFAULT_MAX_PENDING_QUERIES,
            max_fragment_datagrams: crate::decode::defrag::DEFAULT_MAX_DATAGRAMS,
            idle_timeout_ns: 300_000_000_000,
            dns_timeout_ns: 10_000_000_000,
            observers: Vec::new(),
            tls: tls::TlsOptions::default(),
            http2_connections: false,
            detect_only: false,
            dns_over_udp: true,
            max_held_records: DEFAULT_MAX_HELD_RECORDS,
        }
    }
}

/// Default [`AnalyzerConfig::max_held_records`]: ~267 MiB of rows of ~1.4 KiB.
pub const DEFAULT_MAX_HELD_RECORDS: usize = 200_000;

/// A finished transaction.
///
/// Every row is boxed: an event is moved several times on its way to the merger, which may
/// hold hundreds of thousands (a capture's end flushing every unanswered request), and an
/// HTTP transaction already lives in a box while it waits for its response.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Http(Box<HttpTransaction>),
    Dns(Box<DnsTransaction>),
    /// One request/response exchange of the generic analyzer (observer `tcp`).
    Tcp(Box<TcpExchange>),
    /// One TLS connection (only when [`tls::TlsOptions::rows`] is on).
    Tls(Box<TlsConnection>),
    /// One HTTP/2 connection's figures (only when [`AnalyzerConfig::http2_connections`] is on).
    Http2(Box<http2::Http2Connection>),
}

/// Counters describing what the analyzers saw and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AnalyzerStats {
    pub tcp_connections: u64,
    pub http_connections: u64,
    pub http_transactions: u64,
    pub http_unanswered: u64,
    pub http_orphan_responses: u64,
    pub http_parse_errors: u64,
    pub http_transactions_with_gaps: u64,
    pub tcp_gaps: u64,
    pub tcp_gap_bytes: u64,
    pub tcp_retransmitted_bytes: u64,
    pub dns_queries: u64,
    pub dns_unanswered: u64,
    pub dns_parse_errors: u64,
    /// DNS responses whose query was answered already (not emitted again).
    pub dns_duplicate_responses: u64,
    /// DNS responses with no matching query (emitted with flag `orphan_response`).
    pub dns_orphan_responses: u64,
    /// UDP datagrams to or from a DNS port in a pass that does not read DNS over UDP
    /// ([`AnalyzerConfig::dns_over_udp`] off): how `latency` knows to suggest `--metric dns`.
    #[serde(skip)]
    pub dns_datagrams_unread: u64,
    /// TCP connections carrying data that is neither HTTP/1.x nor DNS (not analysed further).
    pub tcp_other_connections: u64,
    /// TCP connections carrying TLS (one `tls` row each when rows are on).
    pub tls_connections: u64,
    /// TLS connections whose records were decrypted with keys from a key log.
    pub tls_decrypted_connections: u64,
    /// Most HTTP requests waiting for a response on one connection at once (bounded by
    /// `max_pending_requests`).
    pub http_peak_pending_requests: u64,
    /// Most HTTP requests waiting for a response over all connections at once (bounded by
    /// `max_pending_requests_total`).
    pub http_peak_pending_total: u64,
    /// Requests waiting for a response over all connections now, HTTP/2 streams in flight
    /// included (a gauge, not a count).
    #[serde(skip)]
    pub http_pending_requests: u64,
    /// Bytes handed to the HTTP head parser (a work measure: linear in the bytes of heads,
    /// however many pieces they arrive in).
    pub http_head_bytes_parsed: u64,
    /// Most bytes held by the TCP analysis over all connections at once: out-of-order data
    /// (with per-piece overhead) and what the protocol analyzers buffer (message heads
    /// waiting for their end, frames, TLS records, header tables).
    pub tcp_peak_reassembly_bytes: u64,
    /// Times the global reassembly budget made the oldest held data a gap, and the bytes given up.
    pub tcp_reassembly_sheds: u64,
    pub tcp_reassembly_shed_bytes: u64,
    /// Connections whose analysis the same budget gave up (their analyzers held the most),
    /// and the bytes their analyzers held.
    pub tcp_analysis_sheds: u64,
    pub tcp_analysis_shed_bytes: u64,
    /// DNS queries reported unanswered early because their lane was over its share of
    /// `max_dns_pending`.
    pub dns_pending_sheds: u64,
    /// Unfinished IP datagrams dropped because `max_fragment_datagrams` were in progress.
    pub ip_fragment_sheds: u64,
}

impl AnalyzerStats {
    /// Warnings for the report: limits that shed state.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.tcp_reassembly_sheds > 0 {
            warnings.push(format!(
                "the reassembly budget (--max-reassembly-bytes) was reached: {} times the oldest \
                 out-of-order data ({} bytes with overhead) was given up as gaps",
                self.tcp_reassembly_sheds, self.tcp_reassembly_shed_bytes
            ));
        }
        if self.tcp_analysis_sheds > 0 {
            warnings.push(format!(
                "the reassembly budget (--max-reassembly-bytes) was reached: the analysis of {} \
                 connections whose analyzers held the most (message heads or frames waiting \
                 for their end, {} bytes) was given up, their transactions so far written as \
                 they stood",
                self.tcp_analysis_sheds, self.tcp_analysis_shed_bytes
            ));
        }
        if self.dns_pending_sheds > 0 {
            warnings.push(format!(
                "the DNS pending-query budget (--max-dns-pending) was reached: {} queries were \
                 reported unanswered before their timeout",
                self.dns_pending_sheds
            ));
        }
        if self.ip_fragment_sheds > 0 {
            warnings.push(format!(
                "the IP fragment budget (--max-fragments) was reached: {} unfinished datagrams \
                 were dropped",
                self.ip_fragment_sheds
            ));
        }
        warnings
    }

    /// Adds another analyzer's counters (the workers of a sharded pass).
    pub fn merge(&mut self, other: &AnalyzerStats) {
        // Destructured without `..`: a new counter must be added here to compile.
        let AnalyzerStats {
            tcp_connections,
            http_connections,
            http_transactions,
            http_unanswered,
            http_orphan_responses,
            http_parse_errors,
            http_transactions_with_gaps,
            tcp_gaps,
            tcp_gap_bytes,
            tcp_retransmitted_bytes,
            dns_queries,
            dns_unanswered,
            dns_parse_errors,
            dns_duplicate_responses,
            dns_orphan_responses,
            dns_datagrams_unread,
            tcp_other_connections,
            tls_connections,
            tls_decrypted_connections,
            http_peak_pending_requests,
            http_peak_pending_total,
            http_pending_requests,
            http_head_bytes_parsed,
            tcp_peak_reassembly_bytes,
            tcp_reassembly_sheds,
            tcp_reassembly_shed_bytes,
            tcp_analysis_sheds,
            tcp_analysis_shed_bytes,
            dns_pending_sheds,
            ip_fragment_sheds,
        } = other;
        self.tcp_connections += tcp_connections;
        self.http_connections += http_connections;
        self.http_transactions += http_transactions;
        self.http_unanswered += http_unanswered;
        self.http_orphan_responses += http_orphan_responses;
        self.http_parse_errors += http_parse_errors;
        self.http_transactions_with_gaps += http_transactions_with_gaps;
        self.tcp_gaps += tcp_gaps;
        self.tcp_gap_bytes += tcp_gap_bytes;
        self.tcp_retransmitted_bytes += tcp_retransmitted_bytes;
        self.dns_queries += dns_queries;
        self.dns_unanswered += dns_unanswered;
        self.dns_parse_errors += dns_parse_errors;
        self.dns_duplicate_responses += dns_duplicate_responses;
        self.dns_orphan_responses += dns_orphan_responses;
        self.dns_datagrams_unread += dns_datagrams_unread;
        self.tcp_other_connections += tcp_other_connections;
        self.tls_connections += tls_connections;
        self.tls_decrypted_connections += tls_decrypted_connections;
        // Per connection: the largest. Over all connections: each worker's peak came at its
        // own moment, so their sum is an upper bound of the pass's peak.
        self.http_peak_pending_requests = self
            .http_peak_pending_requests
            .max(*http_peak_pending_requests);
        self.http_peak_pending_total += http_peak_pending_total;
        self.http_pending_requests += http_pending_requests;
        self.http_head_bytes_parsed += http_head_bytes_parsed;
        self.tcp_peak_reassembly_bytes += tcp_peak_reassembly_bytes;
        self.tcp_reassembly_sheds += tcp_reassembly_sheds;
        self.tcp_reassembly_shed_bytes += tcp_reassembly_shed_bytes;
        self.tcp_analysis_sheds += tcp_analysis_sheds;
        self.tcp_analysis_shed_bytes += tcp_analysis_shed_bytes;
        self.dns_pending_sheds += dns_pending_sheds;
        self.ip_fragment_sheds += ip_fragment_sheds;
    }
}

/// When the idle / DNS-timeout sweep runs: at the first packet at least a quarter of the
/// shorter timeout after the previous sweep (capture time). The pipeline keeps the same
/// schedule over the whole capture when it shards connections over several analyzers, so
/// every analyzer sweeps at the same packets whatever the number of workers.
#[derive(Debug, Clone)]
pub struct SweepSchedule {
    period_ns: i64,
    next_ns: Option<i64>,
}

impl SweepSchedule {
    pub fn new(config: &AnalyzerConfig) -> Self {
        let timeout = config.idle_timeout_ns.max(1);
        let dns_timeout = config.dns_timeout_ns.max(1);
        SweepSchedule {
            period_ns: (timeout.min(dns_timeout) / 4).max(1),
            next_ns: None,
        }
    }

    /// Whether a packet at `now_ns` triggers a sweep.
    pub fn due(&mut self, now_ns: i64) -> bool {
        let period_ns = self.period_ns;
        let next = *self
            .next_ns
            .get_or_insert_with(|| now_ns.saturating_add(period_ns));
        if now_ns < next {
            return false;
        }
        self.next_ns = Some(now_ns.saturating_add(self.period_ns));
        true
    }
}

/// Multiset of start times of everything in progress; its minimum is the low watermark.
///
/// Counted in a hash map, with a min-heap of the times for the minimum. A time whose count
/// drops to zero leaves the heap when it reaches the top, or at a rebuild once stale entries
/// outnumber live ones (so the heap stays within twice the live times). Adding a time at or
/// after the minimum (the usual case: things start now) and removing one cost O(1) apart
/// from the amortised pops, where a B-tree paid a search and node edits for both.
#[derive(Debug, Default)]
pub struct Watermark {
    counts: FxHashMap<i64, u32>,
    /// Every time in `counts` at least once (plus stale ones); its top is always in `counts`.
    heap: BinaryHeap<Reverse<i64>>,
}

/// Stale heap entries tolerated beyond the live times before the heap is rebuilt.
const WATERMARK_STALE_KEPT: usize = 64;

impl Watermark {
    pub fn add(&mut self, t: i64) {
        let count = self.counts.entry(t).or_insert(0);
        *count += 1;
        if *count == 1 {
            self.heap.push(Reverse(t));
        }
    }
    /// Removes one occurrence of `t` (nothing if there is none).
    pub fn remove(&mut self, t: i64) {
        let Entry::Occupied(mut count) = self.counts.entry(t) else {
            return;
        };
        *count.get_mut() -= 1;
        if *count.get() > 0 {
            return;
        }
        count.remove();
        while self
            .heap
            .peek()
            .is_some_and(|top| !self.counts.contains_key(&top.0))
        {
            self.heap.pop();
        }
        if self.heap.len() > 2 * self.counts.len() + WATERMARK_STALE_KEPT {
            let mut live = std::mem::take(&mut self.heap).into_vec();
            live.clear();
            live.extend(self.counts.keys().map(|&t| Reverse(t)));
            self.heap = BinaryHeap::from(live);
        }
    }
    pub fn replace(&mut self, old: i64, new: i64) {
        if old != new {
            self.remove(old);
            self.add(new);
        }
    }
    pub fn min(&self) -> Option<i64> {
        self.heap.peek().map(|top| top.0)
    }
}

/// What the analyzers share while handling one packet.
pub struct Ctx<'a> {
    pub config: &'a AnalyzerConfig,
    pub stats: &'a mut AnalyzerStats,
    pub marks: &'a mut Watermark,
    pub out: &'a mut Vec<Event>,
}

/// Which analyzers a connection has.
#[derive(Debug)]
enum Analyzers {
    /// No payload yet: nothing was probed.
    Undecided,
    /// The analyzer that claimed the connection (gone once it rejected it) and the observers
    /// running beside it.
    Running {
        claimer: Option<BoxedAnalyzer>,
        observers: Vec<BoxedAnalyzer>,
    },
    /// Nobody is interested: packets are ignored until the flow ends.
    Ignored,
}

impl Analyzers {
    /// Bytes the running analyzers hold (see [`TcpAnalyzer::held_bytes`]).
    #[inline(always)]
    fn held_bytes(&self) -> usize {
        let Analyzers::Running { claimer, observers } = self else {
            return 0;
        };
        let mut held = claimer.as_ref().map_or(0, |a| a.held_bytes());
        for a in observers {
            held += a.held_bytes();
        }
        held
    }

    /// Every running analyzer, claimer first.
    fn each(&mut self, mut f: impl FnMut(&mut dyn TcpAnalyzer)) {
        if let Analyzers::Running { claimer, observers } = self {
            // Not `chain`ed: the chained iterator kept this from being inlined.
            if let Some(a) = claimer {
                f(a.as_mut());
            }
            for a in observers {
                f(a.as_mut());
            }
        }
    }
}

/// Most emptied connection boxes an analyzer keeps for reuse (~100 KiB): connections end
/// in bursts (at each sweep), and a box freed then and allocated again later missed the
/// allocator's per-thread cache both times (`http --json` 315.3 -> 314.5 M instructions on
/// the first 100,000 small packets; 32 boxes bought almost nothing, 512 0.2 % more).
const SPARE_CONNS: usize = 256;

/// `value` in a box from `spare` when there is one, else in a new box.
#[allow(clippy::vec_box)]
fn reuse_box<T>(spare: &mut Vec<Box<T>>, value: T) -> Box<T> {
    match spare.pop() {
        Some(mut boxed) => {
            *boxed = value;
            boxed
        }
        None => Box::new(value),
    }
}

#[derive(Debug)]
struct TcpConn {
    info: ConnInfo,
    streams: [StreamReassembler; 2],
    /// The earliest out-of-order arrival registered in the watermark, per direction.
    marked: [Option<i64>; 2],
    analyzers: Analyzers,
    /// What the analyzers held after the last packet (counted in the budget).
    analysis_held: usize,
    last_ns: i64,
    /// Latest capture time of the connection's packets: idleness is measured from it, so a
    /// packet dated backwards does not make an active connection look idle.
    newest_ns: i64,
}

/// Delivers one direction's reassembled stream to the connection's analyzers.
struct AnalyzerSink<'s, 'c> {
    analyzers: &'s mut Analyzers,
    shared: &'s mut Shared,
    ctx: &'s mut Ctx<'c>,
    dir: Dir,
}

impl AnalyzerSink<'_, '_> {
    /// Applies a verdict to the analyzer in `slot`; false when it is gone.
    fn apply(slot: &mut BoxedAnalyzer, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Continue => true,
            Verdict::Reject => false,
            Verdict::HandOff(next) => {
                *slot = next;
                true
            }
        }
    }
}

impl AnalyzerSink<'_, '_> {
    /// Detect-only: replaces a settled claimer by its protocol name. What it holds is
    /// flushed (so its watermark entries go) and the rows that produces are discarded.
    fn keep_only_protocol(slot: &mut BoxedAnalyzer, ctx: &mut Ctx<'_>) {
        let kept = ctx.out.len();
        slot.flush(ctx);
        ctx.out.truncate(kept);
        *slot = Box::new(seam::Detected(slot.protocol()));
    }
}

impl StreamSink for AnalyzerSink<'_, '_> {
    fn data(&mut self, bytes: &[u8], arrival_ns: i64, ready_ns: i64) {
        let Analyzers::Running { claimer, observers } = self.analyzers else {
            return;
        };
        // A piece is one packet's first copy: its bytes all arrived at `arrival_ns`.
        let chunk = Chunk {
            bytes,
            first_ns: arrival_ns,
            last_ns: arrival_ns,
            ready_ns,
        };
        if let Some(a) = claimer {
            let verdict = a.on_data(self.dir, &chunk, self.ctx, self.shared);
            if self.ctx.config.detect_only && matches!(verdict, Verdict::Continue) && a.settled() {
                Self::keep_only_protocol(a, self.ctx);
            }
            if !matches!(verdict, Verdict::Continue) {
                if !Self::apply(a, verdict) {
                    self.ctx.stats.tcp_other_connections += 1;
                    *claimer = None;
                }
                let claimed = claimer.as_ref().map(|c| c.protocol());
                for o in observers.iter_mut() {
                    o.on_claim(claimed);
                }
            }
        }
        // Most connections have no observer: keep their path short.
        if observers.is_empty() {
            if claimer.is_none() {
                *self.analyzers = Analyzers::Ignored;
            }
            return;
        }
        observers.retain_mut(|a| {
            let verdict = a.on_data(self.dir, &chunk, self.ctx, self.shared);
            Self::apply(a, verdict)
        });
        if claimer.is_none() && observers.is_empty() {
            *self.analyzers = Analyzers::Ignored;
        }
    }
    fn gap(&mut self, len: u64, _ready_ns: i64) {
        self.ctx.stats.tcp_gaps += 1;
        self.ctx.stats.tcp_gap_bytes += len;
        let (dir, ctx) = (self.dir, &mut *self.ctx);
        self.analyzers.each(|a| a.on_gap(dir, len, ctx));
    }
    fn end(&mut self, _ts_ns: i64, clean: bool) {
        let (dir, ctx) = (self.dir, &mut *self.ctx);
        self.analyzers.each(|a| a.on_end(dir, clean, ctx));
    }
}

/// Reassembles TCP, parses HTTP and DNS, and emits [`Event`]s.
///
/// Connections are flushed by [`on_flow_end`](Self::on_flow_end), by
/// [`finish`](Self::finish), or when idle longer than `idle_timeout_ns` (capture time as
/// [`CaptureClock`] keeps it, checked every quarter of the timeout); DNS queries unanswered after `dns_timeout_ns` are reported.
pub struct TransactionAnalyzer {
    registry: &'static [Registration],
    config: AnalyzerConfig,
    stats: AnalyzerStats,
    marks: Watermark,
    /// Boxed: a slot is then 16 bytes, not a connection's whole state, so the table's room
    /// for growth (up to half its slots) costs little (a SYN flood held 28 MB in the table of
    /// 8 shards for 16 MB of connections).
    conns: FxHashMap<u64, Box<TcpConn>>,
    /// Boxes of ended connections, emptied, for the next ones (at most [`SPARE_CONNS`]):
    /// the boxes themselves are what is kept.
    #[allow(clippy::vec_box)]
    spare_conns: Vec<Box<TcpConn>>,
    /// Connections analysed to their end (both directions ended) while their flow lingers,
    /// with their last packet's time: their later packets (the last ACK, retransmissions)
    /// could change nothing, so they are dropped until the flow ends, goes idle or a new
    /// SYN starts it over. Ending a connection then, not 2 s later when the flow table lets
    /// go of its flow, keeps fewer connections' state in the caches (5–10 % less CPU on
    /// short connections).
    closed: FxHashMap<u64, i64>,
    shared: Shared,
    /// `None`: the caller sweeps ([`sweep_now`](Self::sweep_now)).
    sweeps: Option<SweepSchedule>,
    /// Endpoint counts for the connection the next packet opens.
    connection_hint: Option<(u64, [u32; 2])>,
    /// Capture time for the sweeps (a stray future-dated packet is kept out of it).
    clock: CaptureClock,
    /// Out-of-order bytes held over all connections (sum of the streams' buffered cost).
    reassembly_bytes: usize,
    /// Directions holding out-of-order data, by the arrival of their oldest held byte: the
    /// budget sheds from the front.
    held_since: BTreeMap<(i64, u64, usize), ()>,
    /// Bytes the protocol analyzers hold over all connections, under the same budget.
    analysis_bytes: usize,
    /// Connections whose analyzers hold something, by how much (the budget sheds the most).
    analysis_holders: std::collections::BTreeSet<(usize, u64)>,
}

impl TransactionAnalyzer {
    pub fn new(config: AnalyzerConfig) -> Self {
        Self::with_registry(config, seam::REGISTRY)
    }

    /// Like [`new`](Self::new) with another set of TCP analyzers than [`seam::REGISTRY`]
    /// (e.g. to try an analyzer before registering it).
    pub fn with_registry(config: AnalyzerConfig, registry: &'static [Registration]) -> Self {
        let tls_keys = tls::KeyLogs::new(config.tls.keys.clone());
        TransactionAnalyzer {
            registry,
            stats: AnalyzerStats::default(),
            marks: Watermark::default(),
            conns: FxHashMap::default(),
            spare_conns: Vec::new(),
            closed: FxHashMap::default(),
            sweeps: Some(SweepSchedule::new(&config)),
            config,
            shared: Shared {
                tls_keys,
                ..Shared::default()
            },
            connection_hint: None,
            clock: CaptureClock::default(),
            reassembly_bytes: 0,
            held_since: BTreeMap::new(),
            analysis_bytes: 0,
            analysis_holders: std::collections::BTreeSet::new(),
        }
    }

    /// The next packet opens connection `flow_id`, whose sender and receiver endpoints have
    /// taken part in `seen` connections so far (counted by the caller over the whole capture,
    /// see [`seam::ConnInfo::endpoint_connections`]).
    pub fn hint_new_connection(&mut self, flow_id: u64, seen: [u32; 2]) {
        self.connection_hint = Some((flow_id, seen));
    }

    /// From now on the caller decides when idle connections and DNS timeouts are swept, by
    /// calling [`sweep_now`](Self::sweep_now) (a sharded pass keeps one schedule for all its
    /// analyzers, see [`SweepSchedule`]); `on_packet` no longer sweeps by itself.
    pub fn sweep_by_caller(&mut self) {
        self.sweeps = None;
    }

    /// Adds TLS secrets found in the capture (pcapng Decryption Secrets Blocks): connections
    /// whose encrypted records come later can use them.
    pub fn add_tls_secrets(&mut self, secrets: tls::KeyLog) {
        self.shared.tls_keys = self.shared.tls_keys.with(secrets);
    }

    /// Replaces the TLS secrets with `keys`: the `--keylog` files and the capture's secrets
    /// blocks so far, as the caller added them (one whole shared by every worker of a pass).
    pub fn set_tls_keys(&mut self, keys: tls::KeyLogs) {
        self.shared.tls_keys = keys;
    }

    /// Feeds one packet (in capture order); finished transactions are pushed to `out`.
    /// `flow_id` is the conversation the flow table assigned to this packet: state is kept per
    /// flow id, so a reused 5-tuple (new SYN after a close) starts a new connection, and HTTP
    /// rows carry the same id as `sessions`.
    pub fn on_packet(
        &mut self,
        timestamp_ns: i64,
        flow_id: u64,
        packet: &Decoded<'_>,
        out: &mut Vec<Event>,
    ) {
        let endpoints = packet.ip_endpoints();
        self.on_transport(timestamp_ns, flow_id, endpoints, &packet.transport, out);
    }

    /// [`on_packet`](Self::on_packet) for a packet already reduced to what the analyzers read:
    /// its IP endpoints (the innermost, as [`Decoded::ip_endpoints`]) and its transport
    /// header and payload. Pipeline workers are handed packets in this form.
    pub fn on_transport(
        &mut self,
        timestamp_ns: i64,
        flow_id: u64,
        endpoints: Option<(IpAddr, IpAddr)>,
        transport: &Transport<'_>,
        out: &mut Vec<Event>,
    ) {
        let now_ns = self.clock.observe(timestamp_ns);
        if self.sweeps.as_mut().is_some_and(|s| s.due(now_ns)) {
            self.sweep_now(now_ns, out);
        }
        let Some((src_ip, dst_ip)) = endpoints else {
            return;
        };
        match *transport {
            Transport::Tcp(tcp) => {
                let src = (src_ip, tcp.src_port);
                let dst = (dst_ip, tcp.dst_port);
                // A new SYN on a connection that was reset or closed: the flow table kept the
                // flow id (e.g. port reuse soon after), so start the connection over.
                if tcp.flags.syn() && !tcp.flags.ack() {
                    let closed = self.conns.get(&flow_id).is_some_and(|c| {
                        c.streams.iter().any(StreamReassembler::is_ended)
                            || matches!(c.analyzers, Analyzers::Ignored)
                    });
                    if closed {
                        self.on_flow_end(flow_id, out);
                    }
                }
                let max_reorder = self.config.max_reorder_bytes;
                let stats = &mut self.stats;
                let hint = self.connection_hint.take();
                let spare = &mut self.spare_conns;
                let conn = match self.conns.entry(flow_id) {
                    Entry::Occupied(conn) => conn.into_mut(),
                    Entry::Vacant(vacant) => {
                        // A connection analysed to its end: only a new SYN (its ports
                        // reused) starts it over.
                        if let Some(last_ns) = self.closed.get_mut(&flow_id) {
                            let new_syn = tcp.flags.syn() && !tcp.flags.ack();
                            if !new_syn {
                                *last_ns = (*last_ns).max(timestamp_ns);
                                return;
                            }
                            self.closed.remove(&flow_id);
                        }
                        stats.tcp_connections += 1;
                        vacant.insert(reuse_box(
                            spare,
                            TcpConn {
                                info: ConnInfo {
                                    connection_id: flow_id,
                                    senders: [src, dst],
                                    handshake_client: None,
                                    endpoint_connections: hint
                                        .filter(|(id, _)| *id == flow_id)
                                        .map(|(_, seen)| seen),
                                },
                                streams: [
                                    StreamReassembler::new(max_reorder),
                                    StreamReassembler::new(max_reorder),
                                ],
                                marked: [None, None],
                                analyzers: Analyzers::Undecided,
                                analysis_held: 0,
                                last_ns: timestamp_ns,
                                newest_ns: timestamp_ns,
                            },
                        ))
                    }
                };
                conn.last_ns = timestamp_ns;
                conn.newest_ns = conn.newest_ns.max(timestamp_ns);
                if matches!(conn.analyzers, Analyzers::Ignored) {
                    return;
                }
                let dir = if src == conn.info.senders[0] { 0 } else { 1 };
                if tcp.flags.syn() && matches!(conn.analyzers, Analyzers::Undecided) {
                    // SYN from the client, SYN-ACK from the server.
                    let client = if tcp.flags.ack() { 1 - dir } else { dir };
                    conn.info.handshake_client = Some(client);
                }
                if matches!(conn.analyzers, Analyzers::Undecided) && !tcp.payload.is_empty() {
                    let probe = Probe {
                        dir,
                        first_bytes: tcp.payload,
                        senders: conn.info.senders,
                    };
                    let (claimer, observers) =
                        seam::choose(self.registry, &probe, &conn.info, &self.config.observers);
                    conn.analyzers = if claimer.is_none() && observers.is_empty() {
                        self.stats.tcp_other_connections += 1;
                        Analyzers::Ignored
                    } else {
                        Analyzers::Running { claimer, observers }
                    };
                }
                let peer = 1 - dir;
                // The usual segment, on a connection with nothing held out of order: a bare
                // ACK (41 % of the small-packet trace's packets), or the next bytes of its
                // direction. Only the analyzers' view of it, the peer's acknowledged offset
                // and the delivered bytes change; what the full path below would do besides
                // (reassembly, marks, the out-of-order budget) is a no-op then.
                let plain = tcp.payload_missing == 0
                    && !(tcp.flags.syn() || tcp.flags.fin() || tcp.flags.rst())
                    && (tcp.flags.ack() || !tcp.payload.is_empty());
                if plain
                    && conn.streams.iter().all(StreamReassembler::is_quiet)
                    && (tcp.payload.is_empty() || conn.streams[dir].is_next(tcp.seq))
                {
                    let view = SegmentView {
                        dir,
                        ts_ns: timestamp_ns,
                        seq: tcp.seq,
                        ack: tcp.flags.ack(),
                        acked_offset: if tcp.flags.ack() {
                            conn.streams[peer].offset_of(tcp.ack)
                        } else {
                            None
                        },
                        syn: false,
                        fin: false,
                        rst: false,
                        payload: tcp.payload,
                    };
                    let mut ctx = Ctx {
                        config: &self.config,
                        stats: &mut self.stats,
                        marks: &mut self.marks,
                        out,
                    };
                    conn.analyzers.each(|a| a.on_segment(&view, &mut ctx));
                    if tcp.flags.ack() {
                        conn.streams[peer].note_peer_ack(tcp.ack);
                    }
                    if tcp.payload.is_empty() {
                        return;
                    }
                    let mut sink = AnalyzerSink {
                        analyzers: &mut conn.analyzers,
                        shared: &mut self.shared,
                        ctx: &mut ctx,
                        dir,
                    };
                    conn.streams[dir].deliver_next(tcp.payload, timestamp_ns, &mut sink);
                    conn.free_streams_if_ignored();
                    sync_analysis_held(
                        flow_id,
                        conn,
                        &mut self.analysis_bytes,
                        &mut self.analysis_holders,
                    );
                    self.enforce_reassembly_budget(out);
                    return;
                }
                let segment = Segment {
                    seq: tcp.seq,
                    payload: tcp.payload,
                    missing: tcp.payload_missing,
                    syn: tcp.flags.syn(),
                    fin: tcp.flags.fin(),
                    rst: tcp.flags.rst(),
                    ts_ns: timestamp_ns,
                };
                let mut ctx = Ctx {
                    config: &self.config,
                    stats: &mut self.stats,
                    marks: &mut self.marks,
                    out,
                };
                let view = SegmentView {
                    dir,
                    ts_ns: timestamp_ns,
                    seq: tcp.seq,
                    ack: tcp.flags.ack(),
                    acked_offset: if tcp.flags.ack() {
                        conn.streams[peer].offset_of(tcp.ack)
                    } else {
                        None
                    },
                    syn: segment.syn,
                    fin: segment.fin,
                    rst: segment.rst,
                    payload: tcp.payload,
                };
                conn.analyzers.each(|a| a.on_segment(&view, &mut ctx));
                let before = conn.streams[dir].retransmitted_bytes;
                let held_before = conn.held_bytes();
                let shared = &mut self.shared;
                if segment.rst {
                    // A reset ends both directions.
                    for d in [dir, peer] {
                        let mut sink = AnalyzerSink {
                            analyzers: &mut conn.analyzers,
                            shared,
                            ctx: &mut ctx,
                            dir: d,
                        };
                        conn.streams[d].flush(timestamp_ns, true, &mut sink);
                    }
                } else {
                    if tcp.flags.ack() {
                        let mut sink = AnalyzerSink {
                            analyzers: &mut conn.analyzers,
                            shared,
                            ctx: &mut ctx,
                            dir: peer,
                        };
                        conn.streams[peer].on_peer_ack(tcp.ack, timestamp_ns, &mut sink);
                    }
                    let mut sink = AnalyzerSink {
                        analyzers: &mut conn.analyzers,
                        shared,
                        ctx: &mut ctx,
                        dir,
                    };
                    conn.streams[dir].push(&segment, &mut sink);
                }
                ctx.stats.tcp_retransmitted_bytes += conn.streams[dir].retransmitted_bytes - before;
                conn.free_streams_if_ignored();
                for d in 0..2 {
                    sync_mark(conn, d, ctx.marks, &mut self.held_since);
                }
                let held_after = conn.held_bytes();
                self.reassembly_bytes = self.reassembly_bytes + held_after - held_before;
                // What the analyzers hold changes with the bytes delivered to them (payload,
                // or out-of-order data an ACK releases) and at the end of a direction; a
                // packet with none of these is counted with the connection's next one.
                let delivered = !tcp.payload.is_empty() || held_after != held_before;
                if delivered || segment.fin || segment.rst {
                    sync_analysis_held(
                        flow_id,
                        conn,
                        &mut self.analysis_bytes,
                        &mut self.analysis_holders,
                    );
                }
                // Both directions ended: nothing the connection's later packets bring
                // can change its analysis (see `closed`).
                let ended = conn.streams.iter().all(StreamReassembler::is_ended);
                let newest_ns = conn.newest_ns;
                self.enforce_reassembly_budget(out);
                if ended {
                    self.on_flow_end(flow_id, out);
                    self.closed.insert(flow_id, newest_ns);
                }
            }
            Transport::Udp(udp) => {
                let src = (src_ip, udp.src_port);
                let dst = (dst_ip, udp.dst_port);
                if !self.config.dns_over_udp {
                    if dns::on_dns_port(src.1, dst.1) {
                        self.stats.dns_datagrams_unread += 1;
                    }
                } else if self.shared.dns.wants_udp(src, dst, udp.payload) {
                    let mut ctx = Ctx {
                        config: &self.config,
                        stats: &mut self.stats,
                        marks: &mut self.marks,
                        out,
                    };
                    self.shared.dns.on_message(
                        false,
                        src,
                        dst,
                        udp.payload,
                        timestamp_ns,
                        &mut ctx,
                    );
                }
            }
            _ => {}
        }
    }

    /// Over the global reassembly budget: the direction holding the oldest out-of-order data
    /// gives it up (its holes become gaps, what follows them is delivered), until under;
    /// with none left, the connection whose analyzers hold the most is given up.
    fn enforce_reassembly_budget(&mut self, out: &mut Vec<Event>) {
        self.stats.tcp_peak_reassembly_bytes = self
            .stats
            .tcp_peak_reassembly_bytes
            .max((self.reassembly_bytes + self.analysis_bytes) as u64);
        while self.reassembly_bytes + self.analysis_bytes > self.config.max_reassembly_bytes {
            let Some((&(since, id, dir), _)) = self.held_since.first_key_value() else {
                match self.analysis_holders.last() {
                    Some(&(_, id)) => self.shed_analysis(id, out),
                    None => break,
                }
                continue;
            };
            let Some(conn) = self.conns.get_mut(&id) else {
                self.held_since.remove(&(since, id, dir));
                continue;
            };
            let held_before = conn.held_bytes();
            let mut ctx = Ctx {
                config: &self.config,
                stats: &mut self.stats,
                marks: &mut self.marks,
                out,
            };
            let mut sink = AnalyzerSink {
                analyzers: &mut conn.analyzers,
                shared: &mut self.shared,
                ctx: &mut ctx,
                dir,
            };
            conn.streams[dir].give_up_held(conn.newest_ns, &mut sink);
            sync_mark(conn, dir, ctx.marks, &mut self.held_since);
            let freed = held_before - conn.held_bytes();
            self.reassembly_bytes -= freed;
            self.stats.tcp_reassembly_sheds += 1;
            self.stats.tcp_reassembly_shed_bytes += freed as u64;
            // What was delivered may have changed what the analyzers hold.
            sync_analysis_held(
                id,
                conn,
                &mut self.analysis_bytes,
                &mut self.analysis_holders,
            );
        }
    }

    /// Gives up the analysis of connection `id`: its analyzers write what they have (as
    /// at the end of the connection) and go, and its packets are ignored from now on.
    fn shed_analysis(&mut self, id: u64, out: &mut Vec<Event>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            // Not expected (the index follows the connections), but a stale entry must not
            // stop the budget: drop it.
            self.analysis_holders.retain(|&(_, holder)| holder != id);
            return;
        };
        let mut ctx = Ctx {
            config: &self.config,
            stats: &mut self.stats,
            marks: &mut self.marks,
            out,
        };
        conn.analyzers.each(|a| a.flush(&mut ctx));
        conn.analyzers = Analyzers::Ignored;
        let held_before = conn.held_bytes();
        for d in 0..2 {
            conn.streams[d] = StreamReassembler::new(0);
            sync_mark(conn, d, ctx.marks, &mut self.held_since);
        }
        self.reassembly_bytes -= held_before;
        let freed = conn.analysis_held;
        sync_analysis_held(
            id,
            conn,
            &mut self.analysis_bytes,
            &mut self.analysis_holders,
        );
        self.stats.tcp_analysis_sheds += 1;
        self.stats.tcp_analysis_shed_bytes += freed as u64;
    }

    /// Flushes connections idle longer than `idle_timeout_ns` at `now_ns` and times out DNS
    /// queries older than `dns_timeout_ns`.
    pub fn sweep_now(&mut self, now_ns: i64, out: &mut Vec<Event>) {
        let timeout = self.config.idle_timeout_ns.max(1);
        let dns_timeout = self.config.dns_timeout_ns.max(1);
        let idle: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| now_ns.saturating_sub(c.newest_ns) > timeout)
            .map(|(&id, _)| id)
            .collect();
        for id in idle {
            self.on_flow_end(id, out);
        }
        self.closed
            .retain(|_, last_ns| now_ns.saturating_sub(*last_ns) <= timeout);
        let mut ctx = Ctx {
            config: &self.config,
            stats: &mut self.stats,
            marks: &mut self.marks,
            out,
        };
        self.shared
            .dns
            .expire(now_ns.saturating_sub(dns_timeout), &mut ctx);
    }

    /// The flow table dropped this flow (closed or idle): flush its state.
    pub fn on_flow_end(&mut self, flow_id: u64, out: &mut Vec<Event>) {
        let Some(mut conn) = self.conns.remove(&flow_id) else {
            self.closed.remove(&flow_id);
            return;
        };
        self.reassembly_bytes -= conn.held_bytes();
        self.analysis_bytes -= conn.analysis_held;
        self.analysis_holders.remove(&(conn.analysis_held, flow_id));
        let mut ctx = Ctx {
            config: &self.config,
            stats: &mut self.stats,
            marks: &mut self.marks,
            out,
        };
        for d in 0..2 {
            let mut sink = AnalyzerSink {
                analyzers: &mut conn.analyzers,
                shared: &mut self.shared,
                ctx: &mut ctx,
                dir: d,
            };
            conn.streams[d].flush(conn.last_ns, false, &mut sink);
        }
        for d in 0..2 {
            if let Some(t) = conn.marked[d].take() {
                ctx.marks.remove(t);
                self.held_since.remove(&(t, flow_id, d));
            }
        }
        conn.analyzers.each(|a| a.flush(&mut ctx));
        if self.spare_conns.len() < SPARE_CONNS {
            // What the connection holds goes now (its analyzers; the flushed streams' empty
            // maps keep a node each), not while the box waits for the next connection.
            conn.analyzers = Analyzers::Ignored;
            conn.streams
                .iter_mut()
                .for_each(StreamReassembler::drop_pending);
            self.spare_conns.push(conn);
        }
    }

    /// Smallest `request_first_ns` / query time of any transaction still in progress, so a
    /// caller can release finished ones in time order without holding them all: every event
    /// emitted later has `request_first_ns` (or, for an orphan response, `response_first_ns`;
    /// for DNS `query_ns`, else `response_ns`) at or after this value.
    ///
    /// Also covers messages whose head is still incomplete and bytes held out of order by the
    /// reassembler (their arrival time may become a `request_first_ns`). An unanswered request
    /// or query holds it back until its connection ends or `idle_timeout_ns` (`dns_timeout_ns` for DNS) passes.
    pub fn low_watermark_ns(&self) -> Option<i64> {
        self.marks.min()
    }

    /// Ends the capture: incomplete and unanswered transactions are emitted as such.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let mut ids: Vec<u64> = self.conns.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.on_flow_end(id, out);
        }
        let mut ctx = Ctx {
            config: &self.config,
            stats: &mut self.stats,
            marks: &mut self.marks,
            out,
        };
        self.shared.dns.finish(&mut ctx);
    }

    /// Connections with state held (for diagnostics and memory tests).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    pub fn stats(&self) -> &AnalyzerStats {
        &self.stats
    }
}

/// Keeps the count of what connection `id`'s analyzers hold, and the budget's index of
/// holders, current. Called after every packet: almost always nothing changed.
#[inline(always)]
fn sync_analysis_held(
    id: u64,
    conn: &mut TcpConn,
    total: &mut usize,
    holders: &mut std::collections::BTreeSet<(usize, u64)>,
) {
    let now = conn.analyzers.held_bytes();
    let before = conn.analysis_held;
    if now == before {
        return;
    }
    if before > 0 {
        holders.remove(&(before, id));
    }
    if now > 0 {
        holders.insert((now, id));
    }
    *total = *total + now - before;
    conn.analysis_held = now;
}

/// Keeps the watermark entry and the budget's index for a direction's out-of-order bytes
/// current.
#[inline(always)]
fn sync_mark(
    conn: &mut TcpConn,
    dir: usize,
    marks: &mut Watermark,
    held_since: &mut BTreeMap<(i64, u64, usize), ()>,
) {
    // Inlined: called twice per packet, and almost always nothing changed.
    let now = conn.streams[dir].min_pending_arrival();
    if now != conn.marked[dir] {
        move_mark(conn, dir, now, marks, held_since);
    }
}

/// Only out-of-order bytes move the mark: rare on usual traffic, so kept out of line.
#[cold]
fn move_mark(
    conn: &mut TcpConn,
    dir: usize,
    now: Option<i64>,
    marks: &mut Watermark,
    held_since: &mut BTreeMap<(i64, u64, usize), ()>,
) {
    let id = conn.info.connection_id;
    if let Some(old) = conn.marked[dir] {
        marks.remove(old);
        held_since.remove(&(old, id, dir));
    }
    if let Some(new) = now {
        marks.add(new);
        held_since.insert((new, id, dir), ());
    }
    conn.marked[dir] = now;
}

impl TcpConn {
    /// Once no analyzer runs, the streams' buffers are freed: nothing more is parsed on this
    /// connection. (Always inlined: with `#[inline]` alone `on_transport` compiled to 0.7 %
    /// more instructions on the bench cut's `http --json`.)
    #[inline(always)]
    fn free_streams_if_ignored(&mut self) {
        if matches!(self.analyzers, Analyzers::Ignored) {
            for d in 0..2 {
                self.streams[d] = StreamReassembler::new(0);
            }
        }
    }

    /// Out-of-order bytes (with per-piece overhead) held in both directions.
    fn held_bytes(&self) -> usize {
        self.streams[0].buffered_cost() + self.streams[1].buffered_cost()
    }
}

/// A deterministic pseudo-random sequence (xorshift64) for the tests that mutate inputs.
#[cfg(test)]
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[cfg(test)]
mod watermark_tests {
    use super::{xorshift, Watermark};
    use std::collections::BTreeMap;

    /// The B-tree multiset the watermark replaced: the reference for its answers.
    #[derive(Default)]
    struct Model(BTreeMap<i64, u32>);

    impl Model {
        fn add(&mut self, t: i64) {
            *self.0.entry(t).or_insert(0) += 1;
        }
        fn remove(&mut self, t: i64) {
            if let Some(n) = self.0.get_mut(&t) {
                *n -= 1;
                if *n == 0 {
                    self.0.remove(&t);
                }
            }
        }
        fn min(&self) -> Option<i64> {
            self.0.keys().next().copied()
        }
    }

    #[test]
    fn answers_as_a_sorted_multiset_would_and_stays_small() {
        // Times mostly growing with jitter and repeats; removals of live, old and absent times.
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut marks, mut model) = (Watermark::default(), Model::default());
        let mut live: Vec<i64> = Vec::new();
        // One early time held throughout, as a stalled connection would.
        marks.add(-5);
        model.add(-5);
        for step in 0..200_000i64 {
            let r = next();
            match r % 8 {
                0..=3 => {
                    let t = step / 4 + (r >> 8) as i64 % 16 - 8;
                    marks.add(t);
                    model.add(t);
                    live.push(t);
                }
                4..=6 if !live.is_empty() => {
                    let at = (r >> 8) as usize % live.len().min(64);
                    let t = live.swap_remove(live.len() - 1 - at);
                    marks.remove(t);
                    model.remove(t);
                }
                _ => {
                    // Absent (or already removed) times change nothing.
                    let t = step / 4 - 1000 + (r >> 8) as i64 % 2000;
                    if !model.0.contains_key(&t) {
                        marks.remove(t);
                    }
                }
            }
            assert_eq!(marks.min(), model.min(), "step {step}");
            assert!(marks.heap.len() <= 2 * marks.counts.len() + super::WATERMARK_STALE_KEPT + 1);
        }
        for t in live {
            marks.remove(t);
            model.remove(t);
            assert_eq!(marks.min(), model.min());
        }
        assert_eq!(marks.min(), Some(-5));
        marks.replace(-5, 7);
        assert_eq!(marks.min(), Some(7));
        marks.remove(7);
        assert_eq!(marks.min(), None);
    }
}

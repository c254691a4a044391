//! The analyzer seam: how a protocol plugs into TCP reassembly (in the spirit of Zeek's
//! application analyzers).
//!
//! A protocol is one module that implements [`TcpAnalyzer`] and adds one [`Registration`] line
//! to [`REGISTRY`]. For each TCP connection, [`super::TransactionAnalyzer`]:
//!
//! 1. shows the first payload seen (either direction) to every registered `probe`; the first
//!    [`Claim::Yes`] wins, else the first [`Claim::Maybe`] (ports are only a hint a probe may
//!    use; content decides). Registrations with `observer: true` do not compete: they run
//!    beside the claiming analyzer when the pass enables them by name
//!    ([`super::AnalyzerConfig::observers`]), e.g. a generic request/response timer that
//!    watches every connection, HTTP or not;
//! 2. calls the optional per-segment hook [`TcpAnalyzer::on_segment`] for every packet, before
//!    reassembly (for analyzers that care about packet boundaries or raw ACKs);
//! 3. delivers each direction's reassembled stream as [`Chunk`]s (bytes with capture times),
//!    gaps (bytes the capture never saw) and the end of each direction;
//! 4. after each chunk, honours the analyzer's [`Verdict`]: keep going, give up (not this
//!    protocol), or hand the connection to another analyzer (HTTP `Upgrade: h2c` + `101`, or a
//!    TLS layer feeding decrypted bytes to the inner protocol's analyzer).
//!
//! Finished transactions go to [`Ctx::out`]; anything still in progress must hold its start
//! time in [`Ctx::marks`] (the pairing queue in [`super::pairing`] does this) so the pipeline can
//! release rows in time order. State lives in the analyzer value, one per connection, so
//! connections can later be sharded over workers; state shared across connections (DNS pairs
//! queries over UDP and TCP) lives in [`Shared`], owned by the pass.

use super::dns::DnsTracker;
use super::Ctx;
use std::fmt::Debug;
use std::net::IpAddr;

/// A direction of a connection: `0` is the sender of the first packet seen, `1` the other.
pub type Dir = usize;

/// Who the connection is between, handed to analyzer constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    /// Index of the connection in the capture, as in `sessions` (the flow id).
    pub connection_id: u64,
    /// Sender of each direction.
    pub senders: [(IpAddr, u16); 2],
    /// The direction that opened the connection, when its SYN or SYN-ACK was captured before
    /// the first payload (the other side is the server).
    pub handshake_client: Option<Dir>,
    /// Connections each sender's endpoint has taken part in so far (this one included),
    /// counted by the reader in capture order, so every worker count sees the same numbers;
    /// `None` when the caller did not count (see
    /// [`super::TransactionAnalyzer::hint_new_connection`]; a pass counts only when an
    /// observer runs).
    pub endpoint_connections: Option<[u32; 2]>,
}

/// A piece of one direction's in-order byte stream.
///
/// For plain TCP a chunk is one packet's first copy: `first_ns == last_ns` is its arrival.
/// A layer that rebuilds records (TLS) dates plaintext by the packet carrying the first byte
/// of its record (`first_ns`) and the packet completing it (`last_ns`).
#[derive(Debug, Clone, Copy)]
pub struct Chunk<'a> {
    pub bytes: &'a [u8],
    pub first_ns: i64,
    pub last_ns: i64,
    /// When the chunk became deliverable in order (every byte before it seen): the time that
    /// in-order reassemblers such as tshark's report. Never earlier than `last_ns`.
    pub ready_ns: i64,
}

/// One TCP segment as seen on the wire (before reassembly), for [`TcpAnalyzer::on_segment`].
#[derive(Debug, Clone, Copy)]
pub struct SegmentView<'a> {
    pub dir: Dir,
    pub ts_ns: i64,
    pub seq: u32,
    /// The ACK flag is set (then `acked_offset` is meaningful).
    pub ack: bool,
    /// Acknowledgment as an offset of the other direction's stream, when known.
    pub acked_offset: Option<u64>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

/// What an analyzer wants after seeing a chunk.
#[derive(Debug)]
pub enum Verdict {
    /// Keep feeding this analyzer.
    Continue,
    /// The connection is not this protocol: drop this analyzer (for the claiming analyzer,
    /// counted as `tcp_other_connections`; observers keep running).
    Reject,
    /// Replace this analyzer by another from the next chunk on. The handing analyzer has
    /// emitted its own transactions and fed the new one any bytes left in this chunk.
    HandOff(BoxedAnalyzer),
}

/// A protocol analyzer for one TCP connection. Every hook but `on_data` has a default.
pub trait TcpAnalyzer: Debug + Send {
    /// Protocol name, as in the `protocol` column.
    fn protocol(&self) -> &'static str;

    /// Every segment of the connection before reassembly (most analyzers ignore it).
    fn on_segment(&mut self, _segment: &SegmentView<'_>, _ctx: &mut Ctx<'_>) {}

    /// In-order bytes of direction `dir`.
    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> Verdict;

    /// `len` bytes of direction `dir` were never captured (the stream continues after them).
    fn on_gap(&mut self, _dir: Dir, _len: u64, _ctx: &mut Ctx<'_>) {}

    /// Direction `dir` ended: `clean` for a FIN, false for a reset, idle timeout or capture end.
    fn on_end(&mut self, _dir: Dir, _clean: bool, _ctx: &mut Ctx<'_>) {}

    /// The connection is gone (both directions ended): emit whatever is still held and release
    /// its watermark entries.
    fn flush(&mut self, _ctx: &mut Ctx<'_>) {}

    /// Bytes this analyzer holds for the connection: buffers waiting for the end of a
    /// message, header tables. They count in the pass's reassembly budget
    /// ([`super::AnalyzerConfig::max_reassembly_bytes`]), which gives up the connections
    /// whose analyzers hold the most when out-of-order data alone cannot make room. The
    /// default, nothing, suits analyzers that buffer nothing.
    fn held_bytes(&self) -> usize {
        0
    }
    /// For observers: the protocol the claiming analyzer speaks from now on (`None` when
    /// nothing claimed the connection or the claimer rejected it).
    fn on_claim(&mut self, _protocol: Option<&'static str>) {}

    /// For claimers: detection is over, [`protocol`](Self::protocol) is final (no `Reject`
    /// or `HandOff` from now on). A pass that wants only the protocol's name
    /// ([`super::AnalyzerConfig::detect_only`]) then stops feeding it. The default, never,
    /// is always correct.
    fn settled(&self) -> bool {
        false
    }
}

/// What stays of a settled claimer in a detect-only pass: its protocol name, nothing to run
/// (not `settled` itself, so it is not replaced again).
#[derive(Debug)]
pub(crate) struct Detected(pub &'static str);

impl TcpAnalyzer for Detected {
    fn protocol(&self) -> &'static str {
        self.0
    }

    fn on_data(&mut self, _: Dir, _: &Chunk<'_>, _: &mut Ctx<'_>, _: &mut Shared) -> Verdict {
        Verdict::Continue
    }
}

/// State shared by the connections of one pass.
#[derive(Debug, Default)]
pub struct Shared {
    /// DNS pairs queries and responses across UDP and TCP.
    pub(crate) dns: DnsTracker,
    /// TLS secrets: the `--keylog` files, then those of pcapng Decryption Secrets Blocks as
    /// the capture reaches them.
    pub(crate) tls_keys: super::tls::KeyLogs,
}

/// What a probe sees: the first payload of the connection and its endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// Direction that sent `first_bytes`.
    pub dir: Dir,
    pub first_bytes: &'a [u8],
    pub senders: [(IpAddr, u16); 2],
}

impl Probe<'_> {
    /// Whether either endpoint uses `port` (a hint, not a proof).
    pub fn has_port(&self, port: u16) -> bool {
        self.senders.iter().any(|s| s.1 == port)
    }
}

/// A probe's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Certainly this protocol.
    Yes,
    /// Possibly: taken when nothing says `Yes`; the analyzer may still [`Verdict::Reject`].
    Maybe,
    No,
}

/// An analyzer of one connection.
pub type BoxedAnalyzer = Box<dyn TcpAnalyzer>;

/// One line of the registry.
pub struct Registration {
    pub name: &'static str,
    pub probe: fn(&Probe<'_>) -> Claim,
    pub new: fn(&ConnInfo) -> BoxedAnalyzer,
    /// Runs beside the claiming analyzer on every connection, when the pass enables it.
    pub observer: bool,
}

/// Every TCP protocol analyzer, in probe order. Adding a protocol: one line here.
pub static REGISTRY: &[Registration] = &[
    super::dns::REGISTRATION,
    // Before HTTP: HTTP's probe says "maybe" to anything.
    super::tls::REGISTRATION,
    // HTTP/2 says "yes" only to its preface or a run of plausible frames.
    super::http2::REGISTRATION,
    super::http::REGISTRATION,
    super::tcp::REGISTRATION,
];

/// The analyzers for a new connection: the claiming one (if any) and the enabled observers.
pub(crate) fn choose(
    registry: &[Registration],
    probe: &Probe<'_>,
    info: &ConnInfo,
    observers: &[&str],
) -> (Option<BoxedAnalyzer>, Vec<BoxedAnalyzer>) {
    let claims = registry.iter().filter(|r| !r.observer);
    let mut maybe = None;
    let mut chosen = None;
    for r in claims {
        match (r.probe)(probe) {
            Claim::Yes => {
                chosen = Some(r);
                break;
            }
            Claim::Maybe if maybe.is_none() => maybe = Some(r),
            _ => {}
        }
    }
    let claimer = chosen.or(maybe).map(|r| (r.new)(info));
    let claimed = claimer.as_ref().map(|c| c.protocol());
    let observers = registry
        .iter()
        .filter(|r| r.observer && observers.contains(&r.name))
        .map(|r| {
            let mut observer = (r.new)(info);
            observer.on_claim(claimed);
            observer
        })
        .collect();
    (claimer, observers)
}

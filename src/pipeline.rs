//! One pass over a capture, wiring capture -> decode -> flows -> analyzers.
//!
//! Commands describe what they need in [`PassOptions`]; [`analyze`] reads a capture (any
//! [`CaptureReader`]: a file, stdin, bytes in memory) once and hands every result to a sink as
//! soon as it is final, so memory follows the flows and transactions open at once, not the
//! size of the file. The sink can stop the pass ([`ControlFlow::Break`], e.g. the reader of
//! the output went away): nothing more is read. HTTP and DNS rows come out in time order of
//! their first byte: finished transactions wait in a small heap until no transaction still in
//! progress can start earlier. Progress is reported through [`Progress`]; the library draws
//! nothing itself.

use crate::analyzers::{
    AnalyzerConfig, AnalyzerStats, DnsTransaction, Event, HttpTransaction, TransactionAnalyzer,
};
use crate::capture::{CaptureError, CaptureFormat, CaptureReader, Compression, LinkType, Packet};
use crate::decode::defrag::{Defragmenter, Outcome, Reassembled};
use crate::decode::{decode, Decoded, Network, TcpInfo, Transport, UdpInfo};
use crate::flows::{scapy, FlowRecord, FlowTable, PacketSelection, ProtocolCounts};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::ControlFlow;
use std::path::Path;

/// What one pass should compute.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Track conversations and hand out [`FlowRecord`]s.
    pub flows: bool,
    /// Reassemble TCP and produce HTTP / DNS transactions.
    pub transactions: bool,
    /// Count Scapy session keys.
    pub scapy_keys: bool,
    pub analyzer: AnalyzerConfig,
    /// Which packets the pass looks at (`--filter`, `--start`, `--end`); all when `None`.
    /// The others are counted in [`ProtocolCounts::filtered_out`] and go nowhere else.
    pub select: Option<PacketSelection>,
    /// Keep per-interval counts of this width (`summary --intervals`).
    pub intervals_ns: Option<i64>,
    /// Keep per-interval counts of a width that adapts to the capture (the report's rates
    /// over time); overrides `intervals_ns`. See [`ProtocolCounts::with_adaptive_intervals`].
    pub adaptive_intervals: bool,
    /// Threads for one pass: 1 runs everything on the caller's thread; 0 (the default) or more
    /// reads and decodes on a second thread when transactions are on.
    pub threads: usize,
}

/// Told how far a pass has read, from the reading thread (a progress bar, a log line...).
pub trait Progress: Send {
    /// Bytes of the capture stream read so far (decompressed bytes for compressed input).
    fn advance(&mut self, position: u64);
}

/// One result of a pass.
#[derive(Debug, Clone)]
pub enum Record {
    Flow(FlowRecord),
    Http(HttpTransaction),
    Dns(DnsTransaction),
}

/// Everything a pass learned about one file besides the streamed records.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub file: String,
    pub format: Option<CaptureFormat>,
    pub compression: Option<Compression>,
    /// Byte order of the file (pcapng: its last section).
    pub big_endian: bool,
    /// Decimal digits of the timestamps (6 µs, 9 ns); `None` when the file has no interface.
    pub timestamp_digits: Option<u8>,
    pub counts: ProtocolCounts,
    /// Damage and truncation found after the header (the analysis covers data before it).
    pub warnings: Vec<String>,
    /// Scapy session key -> packets (when requested).
    pub scapy_sessions: BTreeMap<String, u64>,
    pub analyzer: AnalyzerStats,
    /// Largest number of flows open at once (memory follows this).
    pub peak_open_flows: usize,
    /// The sink stopped the pass before the end of the capture.
    pub stopped: bool,
}

/// How long (capture time) a closed TCP flow is kept for stray packets (its reassembly state
/// lives as long), and how often the table is swept: both bound the memory of closed
/// connections on busy traces.
const CLOSED_LINGER_NS: i64 = 2_000_000_000;
const EVICT_EVERY_PACKETS: u64 = 1 << 13;

/// Reads one capture file (`-`: stdin) and streams its records to `emit`, to the end. An
/// unreadable file is an `Err`; damage later in the file ends the pass early with a warning
/// in the report. See [`analyze`] for a pass over any reader that the sink can stop.
pub fn analyze_file(
    path: &Path,
    options: &PassOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<FileReport, CaptureError> {
    let reader = CaptureReader::open(path)?;
    Ok(analyze(reader, options, None, &mut |record| {
        emit(record);
        ControlFlow::Continue(())
    }))
}

/// Reads one capture and streams its records to `sink` until the capture ends or the sink
/// returns [`ControlFlow::Break`] (then reading stops at once and the report says `stopped`).
///
/// Work is split in two stages: the *front* reads, decodes, counts and assigns flows; the
/// *back* reassembles, parses transactions and emits them in time order. With transactions
/// on, the front runs on a second thread (both cores) and hands the back batches of packets
/// whose payloads are copied into one arena per batch; otherwise both run on this thread. The
/// back sees exactly the same sequence either way (`threads: 1` forces one thread).
pub fn analyze<'a>(
    reader: CaptureReader,
    options: &'a PassOptions,
    progress: Option<&'a mut dyn Progress>,
    sink: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> FileReport {
    let mut report = FileReport {
        file: reader.name().to_string(),
        format: Some(reader.format()),
        compression: Some(reader.compression()),
        ..Default::default()
    };
    let mut front = Front::new(reader, options, progress);
    let mut back = Back::new(options);
    let threaded = options.transactions && options.threads != 1;

    if threaded {
        // Two batches in flight at most: memory stays bounded by the batch size.
        let (to_back, from_front) = std::sync::mpsc::sync_channel::<Batch>(2);
        let (to_front, recycled) = std::sync::mpsc::channel::<Batch>();
        front = std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                let mut batch = Batch::default();
                while front.step(&mut batch) {
                    if batch.is_full() {
                        let next = recycled.try_recv().unwrap_or_default();
                        // The back hung up: the sink stopped the pass.
                        if to_back.send(std::mem::replace(&mut batch, next)).is_err() {
                            return front;
                        }
                    }
                }
                front.finish(&mut batch);
                let _ = to_back.send(batch);
                front
            });
            // Leaving this loop drops the receiver, which ends the reading thread.
            for mut batch in from_front {
                if back.process(&mut batch, sink).is_break() {
                    break;
                }
                batch.clear();
                let _ = to_front.send(batch);
            }
            worker
                .join()
                .expect("the capture reading thread does not panic")
        });
    } else {
        let mut batch = Batch::default();
        while front.step(&mut batch) {
            if batch.is_full() {
                if back.process(&mut batch, sink).is_break() {
                    break;
                }
                batch.clear();
            }
        }
        if !back.stopped {
            front.finish(&mut batch);
            let _ = back.process(&mut batch, sink);
        }
    }

    if !back.stopped {
        back.finish(sink);
    }
    report.stopped = back.stopped;
    front.counts.finalize();
    report.counts = front.counts;
    report.scapy_sessions = front.scapy_sessions;
    report.peak_open_flows = front.peak_open_flows;
    report.big_endian = front.reader.is_big_endian();
    report.timestamp_digits = front.reader.timestamp_digits();
    report.warnings = front.warnings;
    report
        .warnings
        .extend(front.reader.warnings().iter().map(|w| w.to_string()));
    report.analyzer = back.analyzer.map(|a| a.stats().clone()).unwrap_or_default();
    report
}

/// What the front hands the back, in capture order.
enum Work {
    /// A packet of a flow; its payload is `arena[payload]` of the batch.
    Packet {
        timestamp_ns: i64,
        flow_id: u64,
        network: Network,
        inner_network: Option<Network>,
        transport: Transport<'static>,
        payload: std::ops::Range<usize>,
    },
    /// The flow table let go of a flow (closed, idle, or the capture ended).
    FlowEnd(FlowRecord),
    /// Capture time has advanced to here (for releasing finished transactions).
    Clock(i64),
}

/// A run of work items with their payload bytes in one buffer.
#[derive(Default)]
struct Batch {
    items: Vec<Work>,
    arena: Vec<u8>,
}

impl Batch {
    const ITEMS: usize = 2048;
    const BYTES: usize = 1 << 20;

    fn is_full(&self) -> bool {
        self.items.len() >= Self::ITEMS || self.arena.len() >= Self::BYTES
    }

    fn clear(&mut self) {
        self.items.clear();
        self.arena.clear();
    }
}

/// Reading, decoding, counting and flow assignment.
struct Front<'o> {
    reader: CaptureReader,
    options: &'o PassOptions,
    progress: Option<&'o mut dyn Progress>,
    flows: FlowTable,
    defrag: Defragmenter,
    counts: ProtocolCounts,
    scapy_sessions: BTreeMap<String, u64>,
    warnings: Vec<String>,
    peak_open_flows: usize,
    packets: u64,
    now_ns: i64,
    first_ns: Option<i64>,
}

impl<'o> Front<'o> {
    fn new(
        reader: CaptureReader,
        options: &'o PassOptions,
        progress: Option<&'o mut dyn Progress>,
    ) -> Self {
        Front {
            reader,
            options,
            progress,
            flows: FlowTable::new(false),
            defrag: Defragmenter::default(),
            counts: if options.adaptive_intervals {
                ProtocolCounts::with_adaptive_intervals()
            } else {
                ProtocolCounts::with_intervals(options.intervals_ns)
            },
            scapy_sessions: BTreeMap::new(),
            warnings: Vec::new(),
            peak_open_flows: 0,
            packets: 0,
            now_ns: i64::MIN,
            first_ns: None,
        }
    }

    /// Reads one packet into `batch`; false at the end of the capture.
    fn step(&mut self, batch: &mut Batch) -> bool {
        let options = self.options;
        // Flows are needed for transactions too (they assign connection ids).
        let want_flows = options.flows || options.transactions;
        let packet = match self.reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => return false,
            Err(err) => {
                self.warnings.push(err.to_string());
                return false;
            }
        };
        self.packets += 1;
        let first_ns = *self.first_ns.get_or_insert(packet.timestamp_ns);
        let decoded = decode(packet.link_type, packet.data);
        // The one place packets are selected: the rest go nowhere but this count.
        let selected = options
            .select
            .as_ref()
            .is_none_or(|s| s.keeps(&packet, &decoded, first_ns));
        if selected {
            self.now_ns = self.now_ns.max(packet.timestamp_ns);
            self.counts.add(&packet, &decoded);
        } else {
            self.counts.filtered_out += 1;
        }
        if selected && options.scapy_keys {
            let key = scapy::session_key(&decoded);
            *self.scapy_sessions.entry(key).or_default() += 1;
        }
        if selected && want_flows {
            // Fragments go to the flow table and the analyzers only as the datagram they
            // complete (dated by the completing fragment); everything else as it is.
            if decoded.fragment.is_none() {
                forward(&mut self.flows, options, &packet, &decoded, batch);
            } else {
                let wire_len = packet.original_len.max(packet.data.len() as u32);
                match self.defrag.push(packet.timestamp_ns, wire_len, &decoded) {
                    Outcome::Held => {}
                    Outcome::PassOn => forward(&mut self.flows, options, &packet, &decoded, batch),
                    Outcome::Complete(datagram) => forward_reassembled(
                        &mut self.flows,
                        &mut self.defrag,
                        options,
                        &packet,
                        datagram,
                        batch,
                    ),
                }
            }
        }
        if self.packets.is_multiple_of(EVICT_EVERY_PACKETS) {
            if want_flows {
                self.peak_open_flows = self.peak_open_flows.max(self.flows.open_flows());
                self.defrag.expire(self.now_ns);
                let idle = options.analyzer.idle_timeout_ns;
                for record in self.flows.evict(self.now_ns, CLOSED_LINGER_NS, idle) {
                    batch.items.push(Work::FlowEnd(record));
                }
            }
            if let Some(progress) = self.progress.as_mut() {
                progress.advance(self.reader.position());
            }
        }
        if self.packets.is_multiple_of(1024) {
            batch.items.push(Work::Clock(self.now_ns));
        }
        true
    }

    /// The capture ended: every flow still open ends, in flow order.
    fn finish(&mut self, batch: &mut Batch) {
        self.peak_open_flows = self.peak_open_flows.max(self.flows.open_flows());
        let mut remaining = self.flows.finish_open();
        remaining.sort_by_key(|r| r.flow_id);
        batch.items.extend(remaining.into_iter().map(Work::FlowEnd));
        batch.items.push(Work::Clock(self.now_ns));
    }
}

/// Hands one packet to the flow table and, for transactions, to the batch (payload copied
/// into the batch arena).
fn forward(
    flows: &mut FlowTable,
    options: &PassOptions,
    packet: &Packet<'_>,
    decoded: &Decoded<'_>,
    batch: &mut Batch,
) {
    if let Some(update) = flows.on_packet(packet, decoded) {
        if options.transactions {
            let (transport, bytes): (Transport<'static>, &[u8]) = match decoded.transport {
                Transport::Tcp(t) => (
                    Transport::Tcp(TcpInfo {
                        src_port: t.src_port,
                        dst_port: t.dst_port,
                        seq: t.seq,
                        ack: t.ack,
                        flags: t.flags,
                        window: t.window,
                        payload: &[],
                        payload_missing: t.payload_missing,
                    }),
                    t.payload,
                ),
                Transport::Udp(u) => (
                    Transport::Udp(UdpInfo {
                        src_port: u.src_port,
                        dst_port: u.dst_port,
                        payload: &[],
                        payload_missing: u.payload_missing,
                    }),
                    u.payload,
                ),
                Transport::Icmp {
                    icmp_type,
                    code,
                    identifier,
                } => (
                    Transport::Icmp {
                        icmp_type,
                        code,
                        identifier,
                    },
                    &[],
                ),
                Transport::Icmpv6 { icmp_type, code } => {
                    (Transport::Icmpv6 { icmp_type, code }, &[])
                }
                Transport::Other { protocol } => (Transport::Other { protocol }, &[]),
                Transport::None => (Transport::None, &[]),
            };
            let start = batch.arena.len();
            batch.arena.extend_from_slice(bytes);
            batch.items.push(Work::Packet {
                timestamp_ns: packet.timestamp_ns,
                flow_id: update.flow_id,
                network: decoded.network,
                inner_network: decoded.inner_network,
                transport,
                payload: start..batch.arena.len(),
            });
        }
    }
}

/// Tunnels nested inside a reassembled datagram that are themselves fragmented are reassembled
/// too, up to this depth (each round reaches one tunnel deeper, so it ends anyway).
const MAX_NESTED_REASSEMBLY: usize = 4;

/// A datagram rebuilt from fragments goes on like a frame of its own, as raw IP whose wire
/// length is that of all its fragments; a fragmented packet tunnelled inside it goes back to
/// the defragmenter.
fn forward_reassembled(
    flows: &mut FlowTable,
    defrag: &mut Defragmenter,
    options: &PassOptions,
    packet: &Packet<'_>,
    mut datagram: Reassembled,
    batch: &mut Batch,
) {
    for _ in 0..MAX_NESTED_REASSEMBLY {
        let decoded = datagram.decode();
        let rebuilt = Packet {
            timestamp_ns: packet.timestamp_ns,
            link_type: LinkType::RAW,
            original_len: u32::try_from(datagram.wire_len).unwrap_or(u32::MAX),
            interface_id: packet.interface_id,
            data: datagram.datagram(),
        };
        if decoded.fragment.is_some() {
            match defrag.push(packet.timestamp_ns, rebuilt.original_len, &decoded) {
                Outcome::Held => return,
                Outcome::PassOn => {}
                Outcome::Complete(inner) => {
                    datagram = inner;
                    continue;
                }
            }
        }
        forward(flows, options, &rebuilt, &decoded, batch);
        return;
    }
}

/// Reassembly, transactions and time-ordered output.
struct Back {
    analyzer: Option<TransactionAnalyzer>,
    emit_flows: bool,
    events: Vec<Event>,
    ordered: TimeOrderedQueue,
    now_ns: i64,
    /// The sink asked to stop: nothing more is emitted.
    stopped: bool,
}

/// Where records go; `Break` stops the pass.
type Sink<'s> = dyn FnMut(Record) -> ControlFlow<()> + 's;

impl Back {
    fn new(options: &PassOptions) -> Self {
        Back {
            analyzer: options
                .transactions
                .then(|| TransactionAnalyzer::new(options.analyzer.clone())),
            emit_flows: options.flows,
            events: Vec::new(),
            ordered: TimeOrderedQueue::default(),
            now_ns: i64::MIN,
            stopped: false,
        }
    }

    /// Handles a batch; `Break` once the sink stopped the pass (now or earlier).
    fn process(&mut self, batch: &mut Batch, emit: &mut Sink<'_>) -> ControlFlow<()> {
        if self.stopped {
            return ControlFlow::Break(());
        }
        let flow = self.process_items(batch, emit);
        self.stopped = flow.is_break();
        flow
    }

    fn process_items(&mut self, batch: &mut Batch, emit: &mut Sink<'_>) -> ControlFlow<()> {
        for item in batch.items.drain(..) {
            match item {
                Work::Packet {
                    timestamp_ns,
                    flow_id,
                    network,
                    inner_network,
                    transport,
                    payload,
                } => {
                    self.now_ns = self.now_ns.max(timestamp_ns);
                    let bytes = &batch.arena[payload];
                    let transport = match transport {
                        Transport::Tcp(t) => Transport::Tcp(TcpInfo {
                            payload: bytes,
                            ..t
                        }),
                        Transport::Udp(u) => Transport::Udp(UdpInfo {
                            payload: bytes,
                            ..u
                        }),
                        other => other,
                    };
                    let decoded = Decoded {
                        network,
                        inner_network,
                        transport,
                        ..Default::default()
                    };
                    if let Some(analyzer) = self.analyzer.as_mut() {
                        analyzer.on_packet(timestamp_ns, flow_id, &decoded, &mut self.events);
                    }
                }
                Work::FlowEnd(record) => {
                    if let Some(analyzer) = self.analyzer.as_mut() {
                        analyzer.on_flow_end(record.flow_id, &mut self.events);
                    }
                    if self.emit_flows {
                        emit(Record::Flow(record))?;
                    }
                }
                Work::Clock(now_ns) => {
                    self.now_ns = self.now_ns.max(now_ns);
                    self.release(emit)?;
                }
            }
            if !self.events.is_empty() {
                self.release(emit)?;
            }
        }
        ControlFlow::Continue(())
    }

    fn release(&mut self, emit: &mut Sink<'_>) -> ControlFlow<()> {
        self.ordered.extend(self.events.drain(..));
        let watermark = self
            .analyzer
            .as_ref()
            .and_then(|a| a.low_watermark_ns())
            .unwrap_or(i64::MAX)
            .min(self.now_ns);
        self.ordered.release(watermark, emit)
    }

    fn finish(&mut self, emit: &mut Sink<'_>) {
        if let Some(analyzer) = self.analyzer.as_mut() {
            analyzer.finish(&mut self.events);
        }
        self.ordered.extend(self.events.drain(..));
        self.stopped |= self.ordered.release(i64::MAX, emit).is_break();
    }
}

/// Holds finished transactions until every transaction that could start earlier is done.
#[derive(Default)]
struct TimeOrderedQueue {
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    slots: Vec<Option<Event>>,
    free: Vec<usize>,
    seq: u64,
}

impl TimeOrderedQueue {
    fn extend(&mut self, events: impl Iterator<Item = Event>) {
        for event in events {
            let start = event_start_ns(&event);
            let slot = match self.free.pop() {
                Some(i) => {
                    self.slots[i] = Some(event);
                    i
                }
                None => {
                    self.slots.push(Some(event));
                    self.slots.len() - 1
                }
            };
            self.heap.push(Reverse((start, self.seq, slot)));
            self.seq += 1;
        }
    }

    fn release(&mut self, watermark: i64, emit: &mut Sink<'_>) -> ControlFlow<()> {
        while let Some(Reverse((start, _, slot))) = self.heap.peek().copied() {
            if start > watermark {
                break;
            }
            self.heap.pop();
            if let Some(event) = self.slots[slot].take() {
                self.free.push(slot);
                emit(match event {
                    Event::Http(t) => Record::Http(t),
                    Event::Dns(t) => Record::Dns(t),
                })?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// When the event's exchange started (its request, else its response): the release order.
fn event_start_ns(event: &Event) -> i64 {
    event
        .transaction()
        .exchange()
        .start_ns()
        .unwrap_or(i64::MIN)
}

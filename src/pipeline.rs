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

use crate::analyzers::http2::Http2Connection;
use crate::analyzers::tcp::EndpointCounts;
use crate::analyzers::{
    AnalyzerConfig, AnalyzerStats, DnsTransaction, Event, HttpTransaction, SweepSchedule,
    TcpExchange, TlsConnection, TransactionAnalyzer,
};
use crate::capture::{
    CaptureError, CaptureFormat, CaptureReader, Compression, MappedBytes, Packet,
};
use crate::decode::defrag::{Defragmenter, Outcome, Reassembled};
use crate::decode::{decode_into, Decoded, TcpInfo, Transport, UdpInfo};
use crate::flows::{
    scapy, CaptureClock, FlowKeyed, FlowRecord, FlowTable, FlowUpdate, PacketSelection,
    ProtocolCounts,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

mod flow_threads;
mod pool;
use flow_threads::{Accounted, Ended, FlowWork, FromFlows, Numbering, SweepAt, ToFlows};
use pool::{ShardPool, Taken};

/// What one pass should compute.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Track conversations and hand out [`FlowRecord`]s.
    pub flows: bool,
    /// Reassemble TCP and produce HTTP / DNS transactions.
    pub transactions: bool,
    /// Count Scapy session keys.
    pub scapy_keys: bool,
    /// Leave [`FileReport::counts`] empty: for a caller that reads only the records (the
    /// CLI's `http`, `tcp`, `dns`, `tls`). Counting is ~4 % of an `http --json` pass.
    pub skip_counts: bool,
    pub analyzer: AnalyzerConfig,
    /// Which packets the pass looks at (`--filter`, `--start`, `--end`); all when `None`.
    /// The others are counted in [`ProtocolCounts::filtered_out`] and go nowhere else.
    pub select: Option<PacketSelection>,
    /// Keep per-interval counts of this width (`summary --intervals`).
    pub intervals_ns: Option<i64>,
    /// Keep per-interval counts of a width that adapts to the capture (the report's rates
    /// over time); overrides `intervals_ns`. See [`ProtocolCounts::with_adaptive_intervals`].
    pub adaptive_intervals: bool,
    /// Analysis workers for one pass (connections are dealt to them by endpoint pair; the
    /// records are the same for every count): 1 runs everything on the caller's thread; 0
    /// (the default) one per core. With transactions on and more than one, the reading and
    /// every worker run on threads of their own.
    pub threads: usize,
    /// Benchmarks only: each worker also waits this long per packet dealt to it (sleeping,
    /// once per batch, so it costs no CPU), as if its analysis were that much slower. Shows
    /// how many workers the reader can feed on a machine with fewer cores than workers
    /// (`TRACETAIL_BENCH_WORKER_NS` in the CLI; `scripts/bench.sh`). 0 (the default): off.
    pub simulated_work_ns: u64,
    /// The cores to plan threads for instead of the machine's (`TRACETAIL_BENCH_CORES` in the
    /// CLI: `scripts/bench_threads_model.sh` counts a bigger machine's threads on this one).
    /// `None` (the default): the machine's.
    pub cores: Option<usize>,
    /// Rows written where the records are made: when workers run on threads of their own,
    /// each transaction record (flows excepted) is handed to this encoder on the worker that
    /// made it, and when it writes a row the sink gets [`Record::Row`] with those bytes in the
    /// record's place, in the same order. The one thread that puts records in time order then
    /// only moves bytes (what lets a pass use more cores: see the README's Performance). On
    /// one thread (`threads: 1`) the sink gets the records themselves, so it must be able to
    /// write a row from either. `None` (the default): records as they are.
    pub rows: Option<RowEncoder>,
}

/// Appends the row of a record to the buffer (which may hold other rows before it: leave
/// them as they are); `false` when it writes none for that record (the record then reaches
/// the sink as it is). Called on worker threads.
pub type EncodeRow = dyn Fn(&Record, &mut Vec<u8>) -> bool + Send + Sync;

/// A row encoder for [`PassOptions::rows`].
#[derive(Clone)]
pub struct RowEncoder(pub Arc<EncodeRow>);

impl std::fmt::Debug for RowEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowEncoder(..)")
    }
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
    /// A request/response exchange of the generic TCP analyzer (when enabled).
    Tcp(TcpExchange),
    /// One TLS connection (when the analyzer config asks for TLS rows).
    Tls(TlsConnection),
    /// One HTTP/2 connection's figures (when the analyzer config asks for them), just before
    /// its connection's [`Record::Flow`] when the pass tracks flows.
    Http2(Http2Connection),
    /// The row [`PassOptions::rows`] wrote for a record, in that record's place.
    Row(RowBytes),
}

/// The bytes of one row ([`Record::Row`]; derefs to `[u8]`). A row written on a worker stays
/// where the worker wrote it, in the buffer of that epoch's rows, when it goes out in the same
/// epoch (the usual case): the merger then neither copies it nor allocates for it.
#[derive(Clone)]
pub struct RowBytes(RowStore);

#[derive(Clone)]
enum RowStore {
    Own(Vec<u8>),
    /// A range of a worker's buffer of one epoch's rows, freed with its last row.
    Shared(Arc<Vec<u8>>, std::ops::Range<usize>),
}

impl RowBytes {
    /// The row at `range` of `rows` (an empty row where `range` is outside).
    fn shared(rows: &Arc<Vec<u8>>, range: std::ops::Range<usize>) -> RowBytes {
        let range = if rows.get(range.clone()).is_some() {
            range
        } else {
            0..0
        };
        RowBytes(RowStore::Shared(Arc::clone(rows), range))
    }

    fn is_shared(&self) -> bool {
        matches!(self.0, RowStore::Shared(..))
    }

    /// Copies a shared row into a buffer of its own, so it no longer keeps its epoch's buffer.
    fn own(&mut self) {
        if let RowStore::Shared(rows, range) = &self.0 {
            self.0 = RowStore::Own(rows[range.clone()].to_vec());
        }
    }
}

impl std::ops::Deref for RowBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            RowStore::Own(row) => row,
            RowStore::Shared(rows, range) => &rows[range.clone()],
        }
    }
}

impl From<Vec<u8>> for RowBytes {
    fn from(row: Vec<u8>) -> RowBytes {
        RowBytes(RowStore::Own(row))
    }
}

impl std::fmt::Debug for RowBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowBytes({:?})", String::from_utf8_lossy(self))
    }
}

impl From<Event> for Record {
    fn from(event: Event) -> Record {
        match event {
            Event::Http(t) => Record::Http(*t),
            Event::Dns(t) => Record::Dns(*t),
            Event::Tcp(t) => Record::Tcp(*t),
            Event::Tls(t) => Record::Tls(*t),
            Event::Http2(t) => Record::Http2(*t),
        }
    }
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
    /// Largest number of finished records held at once for their time order.
    pub peak_held_records: usize,
    /// With several workers: the most memory their outputs held at once on the way to the
    /// merger (rows, and events without rows), in bytes (0 on one thread, where rows go to
    /// the sink as made).
    pub peak_rows_in_flight_bytes: usize,
    /// The limit past which the dealer waits for the merger (see
    /// [`AnalyzerConfig::max_held_records`](crate::analyzers::AnalyzerConfig::max_held_records)).
    pub max_rows_in_flight_bytes: usize,
    /// The sink stopped the pass before the end of the capture.
    pub stopped: bool,
}

/// How long (capture time) a closed TCP flow is kept for stray packets (its analyzers have
/// ended already, when both directions did), and how often the table is swept: both bound the
/// memory of closed connections on busy traces.
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
/// Work is split in three stages. The *front* reads, decodes, counts, reassembles IP
/// fragments and assigns flows (numbered in order of first packet over the whole table, and
/// the table's budget kept per part of it, so flow ids and what the budget sheds are the
/// same whatever the number of workers, also when the table's parts run on flow threads).
/// With transactions on, it deals TCP and UDP packets to shards by a hash of
/// the unordered endpoint pair, so both directions of a connection, and DNS queries with
/// their responses over UDP and TCP, meet in one shard; `threads` *workers* run the shards,
/// each of which reassembles and parses its connections. The *merger* (on the caller's
/// thread) puts the workers' transactions back in time order. The capture is cut into epochs of a few
/// thousand packets; at each epoch's end the merger releases every transaction that no
/// transaction still in progress on any worker can precede, in one total order (see
/// [`OrderKey`]) that does not depend on how connections were dealt, so the records are the
/// same, byte for byte, for every number of workers. `threads: 1` runs all three stages on
/// this thread; more runs the front and the workers on threads of their own (connections are
/// dealt to shards that any worker thread may run, see [`run_threaded`]; two workers on two
/// cores: the front's thread and one worker thread share them), and from 3 workers on the
/// front of a mapped file is split: a reader finds packets, decoding threads decode and count
/// chunks of them (on more than two cores; else the reader does), and a dealer runs the flow
/// table and deals. Workers read payloads in place in a mapped file.
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
    let workers = if options.transactions {
        worker_count(options.threads)
    } else {
        0
    };
    let threaded = workers > 1 || (options.transactions && options.threads != 1);
    // On one thread a row costs the same written here or by the sink, which also saves
    // each row its own allocation: records go to the sink as they are.
    let rows = options.rows.clone().filter(|_| threaded);
    let mut merger = Merger::new(options.flows, rows, options.analyzer.max_held_records);
    let mut shards = Vec::new();
    let mut peak_in_flight = 0;
    let mut reader = reader;
    // Workers read payloads where they lie in a mapped file rather than copies (and, with a
    // split front, the decoded packets where the decoding threads left them, which borrow
    // it: so it outlives the front).
    let file = threaded
        .then(|| reader.share_mapped(KEEP_PACKETS_FOR_WORKERS, KEEP_BYTES_FOR_WORKERS))
        .flatten();
    let mut front = if threaded {
        // The front is one thread below SPLIT_FRONT_FROM_WORKERS: with two workers and no
        // third core, it and one worker thread share the analysis, so that three busy threads
        // (front, two workers) do not share two cores. Not when the workers' cost is
        // simulated (it takes no core).
        let cores = options
            .cores
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let front_helps = workers == 2
            && cores <= 2
            && options.simulated_work_ns == 0
            && SPLIT_FRONT_FROM_WORKERS > 2;
        let worker_threads = if front_helps { 1 } else { workers };
        let decoders = decoder_count(worker_threads, cores);
        let dealt_to = Workers::Threads(shard_count(workers));
        let mut front = Front::new(reader, options, progress, dealt_to);
        front.deal.file = file.clone();
        let (front, threaded_shards, peak) = run_threaded(
            front,
            worker_threads,
            front_helps,
            decoders,
            file.as_ref(),
            &mut merger,
            sink,
        );
        shards = threaded_shards;
        peak_in_flight = peak;
        front
    } else {
        // One worker on this thread: the front hands it each packet as read, no copy.
        let inline = options.transactions.then(|| {
            let mut shard = Shard::new(options, 1);
            shard.rows = RowWriting::default();
            Box::new(shard)
        });
        let mut front = Front::new(reader, options, progress, Workers::Inline(inline));
        loop {
            let more = front.fill_epoch();
            let (epoch, batches) = front.deal.take_epoch(!more);
            debug_assert!(batches.outs.len() <= 1 && batches.batches.is_empty());
            if merger.epoch(epoch, batches.outs, sink).is_break() || !more {
                break;
            }
        }
        front
    };
    if let Workers::Inline(Some(shard)) =
        std::mem::replace(&mut front.deal.workers, Workers::Threads(0))
    {
        shards.push(*shard);
    }

    report.stopped = merger.stopped;
    report.peak_held_records = merger.peak_held;
    report.peak_rows_in_flight_bytes = peak_in_flight;
    report.max_rows_in_flight_bytes = max_row_bytes_in_flight(options);
    let read = front.read;
    report.counts = read.counts;
    report.counts.finalize();
    report.scapy_sessions = read.scapy_sessions;
    report.peak_open_flows = front.deal.peak_open_flows;
    report.big_endian = front.reader.is_big_endian();
    report.timestamp_digits = front.reader.timestamp_digits();
    report.warnings = read.warnings;
    report.warnings.extend(read.clock.warning());
    report.warnings.extend(front.deal.flows.warning());
    report.warnings.extend(merger.warning());
    report
        .warnings
        .extend(front.reader.warnings().iter().map(|w| w.to_string()));
    for shard in &shards {
        report.analyzer.merge(shard.analyzer.stats());
    }
    report.analyzer.ip_fragment_sheds = front.deal.defrag.stats().evicted;
    report.warnings.extend(report.analyzer.warnings());
    report
}

/// [`PassOptions::simulated_work_ns`] for `packets` packets: one sleep.
fn simulate_work(options: &PassOptions, packets: u64) {
    if options.simulated_work_ns > 0 && packets > 0 {
        let ns = options.simulated_work_ns.saturating_mul(packets);
        std::thread::sleep(std::time::Duration::from_nanos(ns));
    }
}

/// Workers for `threads` (0: one per core).
fn worker_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Batches a thread may run ahead of the next stage (memory stays bounded by the epoch size).
const EPOCHS_IN_FLIGHT: usize = 2;

/// Bytes of rows (and events) per row of `--max-held-rows` that the workers may hand over
/// before the merger takes them: past it the dealer waits ([`EpochOuts::wait_for_room`]).
/// Rows the merger holds for their time order count against `--max-held-rows` itself.
const ROW_BYTES_IN_FLIGHT_PER_HELD_ROW: usize = 1024;

fn max_row_bytes_in_flight(options: &PassOptions) -> usize {
    options
        .analyzer
        .max_held_records
        .saturating_mul(ROW_BYTES_IN_FLIGHT_PER_HELD_ROW)
}

/// File bytes behind the reader kept resident for workers reading payloads in place: the
/// packets that can be in flight (epochs queued for and run by the shards, the one being
/// filled, chunks between a split front's threads) with room to spare, at most 16 MiB
/// (a worker further behind faults pages in again).
const KEEP_PACKETS_FOR_WORKERS: u64 = ((EPOCHS_IN_FLIGHT as u64 + 2) * Front::EPOCH_ITEMS as u64
    + (CHUNKS_IN_FLIGHT as u64 + 1) * STEPS_PER_CHUNK as u64)
    * 2;
const KEEP_BYTES_FOR_WORKERS: usize = 16 << 20;

/// Shards per worker. A connection's shard is fixed, the thread that runs the shard is not,
/// so a worker dealt heavier connections than the others leaves its other shards to them
/// (48 HTTPS connections over 4 workers, one shard each: the busiest had 2.1x the work of the
/// least busy). With two workers on two cores, 8 shards: enough that the front's thread can
/// take a small part of an epoch (an eighth), few enough that each epoch's fixed costs stay
/// small.
const SHARDS_PER_WORKER: usize = 4;

/// How many shards a threaded pass with `workers` workers deals connections to.
fn shard_count(workers: usize) -> usize {
    (workers * SHARDS_PER_WORKER).clamp(1, crate::flows::lanes::LANES)
}

/// The front on a thread of its own (several for a mapped file from
/// [`SPLIT_FRONT_FROM_WORKERS`] workers on: reader, decoders, flow threads, dealer),
/// `worker_threads` threads that run the shards' batches ([`ShardPool`]: each
/// shard's epochs in order, on whichever thread is free), the merger on this thread. With
/// `front_helps` (two workers on two cores: one worker thread) the front's thread runs
/// batches too while the worker thread is more than an epoch behind, so the two balance
/// themselves whatever share of the pass reading takes (a fixed split of the lanes suited
/// small packets or large ones, not both, and left the front idle when analysis is heavy).
fn run_threaded<'o, 'f>(
    mut front: Front<'o, 'f>,
    worker_threads: usize,
    front_helps: bool,
    decoders: usize,
    file: Option<&'f MappedBytes>,
    merger: &mut Merger,
    sink: &mut Sink<'_>,
) -> (Front<'o, 'f>, Vec<Shard>, usize) {
    use std::sync::mpsc::{channel, sync_channel};
    let options = front.options;
    let shards = front.deal.shards();
    let pool = ShardPool::new((0..shards).map(|_| Shard::new(options, shards)).collect());
    // Unbounded: the front waits for the merger (EPOCHS_IN_FLIGHT), which waits for every
    // shard's output of an epoch, so at most a few epochs wait here.
    let (to_merger, from_shards) = channel::<Vec<ShardOut>>();
    let outs = EpochOuts::new(shards, to_merger, max_row_bytes_in_flight(options));
    let front = std::thread::scope(|scope| {
        let (pool, outs) = (&pool, &outs);
        let workers: Vec<_> = (0..worker_threads)
            .map(|thread| {
                scope.spawn(move || {
                    // While no batch can run, the worker hands back the pages the reader is
                    // done with and maps those ahead of it, so the reader does not stop on
                    // page faults and system calls.
                    let meanwhile =
                        || file.is_some_and(|file| file.hand_back() || file.map_ahead());
                    while let Some(taken) = pool.take_for(thread, worker_threads, &meanwhile) {
                        if !run_taken(options, pool, taken, file, outs) {
                            break;
                        }
                    }
                })
            })
            .collect();
        let (epoch_to_merger, epochs) = sync_channel::<Epoch>(EPOCHS_IN_FLIGHT);
        let dealing = Dealing {
            options,
            pool,
            outs,
            to_merger: epoch_to_merger,
            file,
            helps: front_helps,
        };
        let front =
            match file.filter(|_| !front_helps && worker_threads >= SPLIT_FRONT_FROM_WORKERS) {
                // Reading and dealing on one thread.
                None => FrontThreads::One(scope.spawn(move || {
                    pool.close(dealing.deal_epochs(&mut front));
                    front
                })),
                // Finding packets on one thread, decoding and counting them on others, in
                // chunks, dealing them in order on one more; with decoding threads, the flow
                // table's parts on as many flow threads between them and the dealer.
                Some(file) => {
                    let Front {
                        mut reader,
                        options,
                        mut progress,
                        mut read,
                        mut deal,
                    } = front;
                    let (to_decoders, found) = sync_channel::<Chunk<'_>>(CHUNKS_IN_FLIGHT);
                    let (to_dealer, decoded) = sync_channel::<Chunk<'_>>(CHUNKS_IN_FLIGHT);
                    let (used_chunk, used_chunks) = channel::<Spent<'_>>();
                    let in_order = InOrder {
                        counts: read.counts.clone(),
                        scapy_sessions: BTreeMap::new(),
                        clock: std::mem::take(&mut read.clock),
                        now_ns: read.now_ns,
                    };
                    // Without decoding threads the reader decodes and feeds the dealer.
                    let decode_here = decoders == 0;
                    let to_next = if decode_here {
                        to_dealer.clone()
                    } else {
                        to_decoders
                    };
                    let reading = scope.spawn(move || {
                        let progress_now = progress.as_deref_mut();
                        read_ahead(
                            &mut reader,
                            &mut read,
                            progress_now,
                            file,
                            decode_here,
                            &to_next,
                            &used_chunks,
                        );
                        (reader, read, progress)
                    });
                    let found = Arc::new(std::sync::Mutex::new(found));
                    let decoding = (0..decoders)
                        .map(|_| {
                            let (found, to_dealer) = (Arc::clone(&found), to_dealer.clone());
                            scope.spawn(move || decode_chunks(options, &found, &to_dealer))
                        })
                        .collect();
                    drop(to_dealer);
                    // With decoding threads, as many flow threads: the flow table's parts
                    // split over them (see flow_threads).
                    let flow_threads = if options.flows || options.transactions {
                        decoders
                    } else {
                        0
                    };
                    let mut flow_ends = (Vec::new(), Vec::new());
                    let flowing = (0..flow_threads)
                        .map(|thread| {
                            let (to, chunks) = sync_channel(FLOW_CHUNKS_AHEAD + 1);
                            let (answer, answers) = sync_channel(FLOW_CHUNKS_AHEAD + 1);
                            flow_ends.0.push(to);
                            flow_ends.1.push(answers);
                            scope.spawn(move || {
                                flow_threads::run_flow_thread(
                                    thread,
                                    flow_threads,
                                    options,
                                    &chunks,
                                    &answer,
                                )
                            })
                        })
                        .collect();
                    let sequencer = Sequencer {
                        options,
                        chunks: decoded,
                        early: BTreeMap::new(),
                        next_seq: 0,
                        in_order,
                    };
                    // With flow threads, chunks are put in order, counted, timed and their IP
                    // fragments reassembled on a thread of their own, which hands them to the
                    // flow threads and the dealer; without, the dealer does it.
                    let (flows, sequencing, sequencer) = if flow_threads > 0 {
                        let (to_dealer, prepared) = sync_channel(FLOW_CHUNKS_AHEAD);
                        let to_flows = flow_ends.0.clone();
                        // The sequencer reassembles; the dealer's stand-in stays unused (only
                        // `Dealer::take`, for a front without flow threads, reassembles) and
                        // the real one comes back when the threads are joined.
                        let defrag = std::mem::replace(&mut deal.defrag, Defragmenter::new(1, 0));
                        let sequencing =
                            scope.spawn(move || sequencer.run(defrag, &to_flows, &to_dealer));
                        let flows = FlowThreads::new(flow_ends.0, flow_ends.1, prepared);
                        (Some(flows), Some(sequencing), None)
                    } else {
                        (None, None, Some(sequencer))
                    };
                    let dealing = scope.spawn(move || {
                        let mut source = SplitDealer {
                            deal,
                            chunk: None,
                            next: 0,
                            secrets: Default::default(),
                            lent: Default::default(),
                            sequencer,
                            used_chunk,
                            flows,
                        };
                        pool.close(dealing.deal_epochs(&mut source));
                        (source.deal, source.sequencer.map(|s| s.in_order))
                    });
                    FrontThreads::Split {
                        reading,
                        decoding,
                        sequencing,
                        dealing,
                        flowing,
                        options,
                    }
                }
            };
        for epoch in epochs {
            let last = epoch.last;
            let Ok(shard_outs) = from_shards.recv() else {
                break;
            };
            let bytes = shard_outs.iter().map(|out| out.bytes).sum();
            let flow = merger.epoch(epoch, shard_outs, sink);
            outs.took(bytes);
            if flow.is_break() || last {
                break;
            }
        }
        // Leaving early (the sink stopped the pass): the others see the channels close.
        outs.hang_up();
        drop(from_shards);
        pool.close(merger.stopped);
        let front = front.join();
        for worker in workers {
            worker.join().expect("analysis workers do not panic");
        }
        front
    });
    let shards = pool
        .into_shards()
        .expect("every shard is back once its threads ended");
    let peak = outs.lock().peak;
    (front, shards, peak)
}

/// The shards' outputs, gathered by epoch: the merger gets each epoch's at once (woken once
/// an epoch rather than once a shard).
struct EpochOuts {
    gathering: std::sync::Mutex<Gathering>,
    /// The merger took an epoch's outputs, or hung up.
    taken: std::sync::Condvar,
    /// Bytes of outputs the merger has not taken yet past which the dealer waits
    /// ([`EpochOuts::wait_for_room`]).
    max_bytes: usize,
}

struct Gathering {
    /// `None` once [`EpochOuts::hang_up`] dropped it.
    to_merger: Option<std::sync::mpsc::Sender<Vec<ShardOut>>>,
    /// Epochs not yet complete, the earliest first: each shard's output, once it came.
    epochs: std::collections::VecDeque<Vec<Option<ShardOut>>>,
    /// Per shard, how many outputs it sent.
    done: Vec<usize>,
    /// How many epochs went to the merger.
    sent: usize,
    /// Memory of the outputs sent here that the merger has not taken yet
    /// ([`ShardOut::bytes`]).
    bytes: usize,
    /// Epochs the merger took, and whether the last one's outputs held more than the limit
    /// (as if so before the first).
    taken: usize,
    heavy: bool,
    /// The most `bytes` was.
    peak: usize,
}

impl EpochOuts {
    fn new(
        shards: usize,
        to_merger: std::sync::mpsc::Sender<Vec<ShardOut>>,
        max_bytes: usize,
    ) -> Self {
        EpochOuts {
            gathering: std::sync::Mutex::new(Gathering {
                to_merger: Some(to_merger),
                epochs: std::collections::VecDeque::new(),
                done: vec![0; shards],
                sent: 0,
                bytes: 0,
                taken: 0,
                // Until the first epoch is taken its weight is unknown: several heavy epochs
                // would be dealt before any output showed it.
                heavy: true,
                peak: 0,
            }),
            taken: std::sync::Condvar::new(),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gathering> {
        self.gathering.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the sender: the merger, waiting for an epoch's outputs, sees the channel close
    /// (and the dealer, waiting for room, goes on).
    fn hang_up(&self) {
        self.lock().to_merger = None;
        self.taken.notify_all();
    }

    /// The merger took an epoch's outputs, holding `bytes` ([`ShardOut::bytes`]).
    fn took(&self, bytes: usize) {
        let mut gathering = self.lock();
        gathering.bytes = gathering.bytes.saturating_sub(bytes);
        gathering.taken += 1;
        gathering.heavy = bytes > self.max_bytes;
        drop(gathering);
        self.taken.notify_all();
    }

    /// Called by the dealer before it deals the epoch after the first `dealt`: waits while
    /// the outputs the merger has not taken yet hold more than the limit, and after an epoch
    /// whose outputs did, until the merger has taken every epoch dealt (or until it hangs
    /// up). Epochs whose packets each finish many rows (pipelined requests answered
    /// together, unanswered ones flushed) then go through one at a time, the next one read
    /// meanwhile, so the rows between the threads are about one epoch's, not the several
    /// that could be dealt ahead (still several where light epochs turn heavy: those dealt
    /// before the first heavy output shows); other epochs never wait. It changes no output:
    /// epochs end at the same packets.
    fn wait_for_room(&self, dealt: usize) {
        let mut gathering = self.lock();
        while !self.has_room(&gathering, dealt) {
            gathering = self
                .taken
                .wait(gathering)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether [`EpochOuts::wait_for_room`] would go on at once.
    fn room_now(&self, dealt: usize) -> bool {
        self.has_room(&self.lock(), dealt)
    }

    fn has_room(&self, g: &Gathering, dealt: usize) -> bool {
        g.to_merger.is_none() || (g.bytes <= self.max_bytes && (!g.heavy || g.taken >= dealt))
    }

    /// Shard `index`'s next output (each shard's come in order); false if the merger hung up.
    fn send(&self, index: usize, out: ShardOut) -> bool {
        let mut gathering = self.lock();
        let g = &mut *gathering;
        g.bytes += out.bytes;
        g.peak = g.peak.max(g.bytes);
        let shards = g.done.len();
        let at = g.done[index] - g.sent;
        g.done[index] += 1;
        while g.epochs.len() <= at {
            g.epochs.push_back((0..shards).map(|_| None).collect());
        }
        g.epochs[at][index] = Some(out);
        // A shard runs its epochs in order, so an epoch is complete only once every earlier
        // one is.
        while g
            .epochs
            .front()
            .is_some_and(|outs| outs.iter().all(Option::is_some))
        {
            let outs = g.epochs.pop_front().unwrap_or_default();
            g.sent += 1;
            let Some(to_merger) = &g.to_merger else {
                return false;
            };
            if to_merger
                .send(outs.into_iter().flatten().collect())
                .is_err()
            {
                return false;
            }
        }
        true
    }
}

/// Runs one shard's batch and sends its output to the merger; false if the merger hung up.
fn run_taken<'f>(
    options: &PassOptions,
    pool: &ShardPool<Shard, Batch<'f>>,
    taken: Taken<Shard, Batch<'f>>,
    file: Option<&MappedBytes>,
    outs: &EpochOuts,
) -> bool {
    let Taken {
        index,
        mut shard,
        mut batch,
    } = taken;
    let _guard = HangUpOnPanic { pool, outs };
    simulate_work(options, batch.packets);
    let out = shard.process(&mut batch, file);
    batch.clear();
    // Sent before the shard goes back, so each shard's outputs reach the merger in order.
    let sent = outs.send(index, out);
    pool.put_back(index, shard, batch);
    if !sent {
        pool.close(true);
    }
    sent
}

/// Ends the pass if a shard's batch panics: the shard never comes back, so without this the
/// merger would wait for its output forever instead of the panic reaching the caller.
struct HangUpOnPanic<'a, 'f> {
    pool: &'a ShardPool<Shard, Batch<'f>>,
    outs: &'a EpochOuts,
}

impl Drop for HangUpOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.outs.hang_up();
            self.pool.close(true);
        }
    }
}

/// The dealing thread's ends of the pool and of the channel to the merger.
struct Dealing<'p, 'f> {
    options: &'p PassOptions,
    pool: &'p ShardPool<Shard, Batch<'f>>,
    outs: &'p EpochOuts,
    to_merger: std::sync::mpsc::SyncSender<Epoch>,
    file: Option<&'p MappedBytes>,
    /// Runs batches while the worker threads are more than an epoch behind (at the end:
    /// while any is queued).
    helps: bool,
}

impl<'f> Dealing<'_, 'f> {
    /// Deals epoch after epoch to the shards and tells the merger each epoch's end, until the
    /// capture ends or the pass stopped (true then).
    fn deal_epochs<'o>(&self, source: &mut dyn EpochSource<'o, 'f>) -> bool {
        let mut epochs_dealt = 0;
        loop {
            let more = source.fill();
            let deal = source.dealer();
            let (epoch, dealt) = deal.take_epoch(!more);
            let shards = dealt.batches.len();
            if self.helps && !self.outs.room_now(epochs_dealt) {
                // The front's thread runs what is queued rather than wait for others to.
                while let Some(taken) = self.pool.try_take(0) {
                    if !run_taken(self.options, self.pool, taken, self.file, self.outs) {
                        return true;
                    }
                }
            }
            self.outs.wait_for_room(epochs_dealt);
            epochs_dealt += 1;
            self.pool.deal(dealt.batches);
            for (shard, batch) in self.pool.take_spare() {
                deal.recycle(shard, batch);
            }
            if self.helps {
                let keep_queued = if more { shards } else { 0 };
                while let Some(taken) = self.pool.try_take(keep_queued) {
                    if !run_taken(self.options, self.pool, taken, self.file, self.outs) {
                        return true;
                    }
                }
            }
            if self.to_merger.send(epoch).is_err() {
                return true;
            }
            if !more {
                return false;
            }
        }
    }
}

/// With this many workers or more (a machine with more than two cores, by default), reading,
/// decoding and dealing run on threads of their own (for a mapped file), so the front feeds
/// more workers.
const SPLIT_FRONT_FROM_WORKERS: usize = 3;

/// Packets in one hand-over from the reading thread to the dealing thread, and hand-overs
/// waiting at once.
const STEPS_PER_CHUNK: usize = 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// The front's threads in a threaded pass.
enum FrontThreads<'s, 'o, 'f> {
    One(std::thread::ScopedJoinHandle<'s, Front<'o, 'f>>),
    Split {
        reading: std::thread::ScopedJoinHandle<'s, SplitReading<'o>>,
        decoding: Vec<std::thread::ScopedJoinHandle<'s, ()>>,
        /// With flow threads: the thread putting chunks in order, giving back the pass's
        /// counts and clock, and its defragmenter.
        sequencing: Option<std::thread::ScopedJoinHandle<'s, (InOrder, Defragmenter)>>,
        /// The dealer, and the counts and clock when it put the chunks in order itself.
        dealing: std::thread::ScopedJoinHandle<'s, (Dealer<'o, 'f>, Option<InOrder>)>,
        /// The flow threads, each giving back its table.
        flowing: Vec<std::thread::ScopedJoinHandle<'s, FlowTable>>,
        options: &'o PassOptions,
    },
}

/// What the reading thread of a split front hands back.
type SplitReading<'o> = (CaptureReader, Reading<'o>, Option<&'o mut dyn Progress>);

impl<'o, 'f> FrontThreads<'_, 'o, 'f> {
    /// The front again once its threads ended.
    fn join(self) -> Front<'o, 'f> {
        const READER_PANIC: &str = "the capture reading thread does not panic";
        match self {
            FrontThreads::One(front) => front.join().expect(READER_PANIC),
            FrontThreads::Split {
                reading,
                decoding,
                sequencing,
                dealing,
                flowing,
                options,
            } => {
                let (mut deal, in_order) =
                    dealing.join().expect("the dealing thread does not panic");
                let in_order = match sequencing {
                    Some(sequencing) => {
                        let (in_order, defrag) = sequencing
                            .join()
                            .expect("the sequencing thread does not panic");
                        deal.defrag = defrag;
                        in_order
                    }
                    None => in_order.expect("the dealer put the chunks in order"),
                };
                for flows in flowing {
                    let table = flows.join().expect("the flow threads do not panic");
                    deal.flows.evictions += table.evictions;
                }
                for decoder in decoding {
                    decoder.join().expect("the decoding threads do not panic");
                }
                let (reader, mut read, progress) = reading.join().expect(READER_PANIC);
                read.counts = in_order.counts;
                read.scapy_sessions = in_order.scapy_sessions;
                read.clock = in_order.clock;
                read.now_ns = in_order.now_ns;
                Front {
                    reader,
                    options,
                    progress,
                    read,
                    deal,
                }
            }
        }
    }
}

/// Where the front fills epochs from: its own reader, or the reading thread's chunks.
trait EpochSource<'o, 'f> {
    /// Fills the dealer's epoch; false at the end of the capture.
    fn fill(&mut self) -> bool;
    fn dealer(&mut self) -> &mut Dealer<'o, 'f>;
}

impl<'o, 'f> EpochSource<'o, 'f> for Front<'o, 'f> {
    fn fill(&mut self) -> bool {
        self.fill_epoch()
    }
    fn dealer(&mut self) -> &mut Dealer<'o, 'f> {
        &mut self.deal
    }
}

/// Where a packet lies in a split front's chunk: the chunk and the step's index in it.
type StepAt<'a, 'f> = (&'a Arc<Chunk<'f>>, u32);

/// A packet of a split front's chunk as the dealer takes it: where it lies, and the flow
/// key the decoding thread worked out (none for a fragment).
type InChunk<'a, 'f> = (StepAt<'a, 'f>, Option<&'a FlowKeyed>);

/// Packets on their way from the reading thread through a decoding thread to the dealing
/// thread, numbered so that the dealer takes them in the order they were read.
struct Chunk<'f> {
    seq: u64,
    /// The packets the reading thread found, in order, until the decoding thread makes them
    /// `steps` (filling the ~400-byte steps had cost the reader 11–23 % of its instructions).
    found: Vec<Packet<'f>>,
    /// Packets read before this chunk's first.
    packets_before: u64,
    steps: Vec<Step<'f>>,
    /// Time of the file's first packet (for `--start`/`--end`).
    first_ns: i64,
    /// The counts of these packets alone ([`ProtocolCounts::append`]ed in order).
    counts: ProtocolCounts,
    scapy_sessions: BTreeMap<String, u64>,
    /// Datagrams the chunk's fragments completed (see [`Forward::Datagram`]).
    reassembled: Vec<Reassembled>,
    /// TLS secrets the capture held just before a packet, by index in the chunk (rarely
    /// any).
    secrets: Vec<(usize, Vec<crate::analyzers::tls::KeyLog>)>,
}

/// A chunk's buffers, back from the dealer to the reading thread to be filled again.
type Spent<'f> = (Vec<Packet<'f>>, Vec<Step<'f>>);

/// Decoding threads of a split front: one for every four worker threads (at most 8). The
/// reader then only finds the packets in the file, and the dealer is the front's busiest
/// thread (decoding and counting were ~400 of the reader's ~700 instructions a packet).
/// None on a machine of two cores, where more workers than cores were asked for: the reader
/// decodes, as more threads there only cost hand-overs (4 workers: ~4 % more CPU).
fn decoder_count(worker_threads: usize, cores: usize) -> usize {
    if cores <= 2 {
        0
    } else {
        worker_threads.div_ceil(4).clamp(1, 8)
    }
}

/// What a split front keeps in capture order for the reading stage (on the sequencer, or the
/// dealer without flow threads).
struct InOrder {
    counts: ProtocolCounts,
    scapy_sessions: BTreeMap<String, u64>,
    clock: CaptureClock,
    now_ns: i64,
}

/// The dealing thread's end of a split front: packets found by the reading thread and
/// decoded by the decoding threads, taken in order.
struct SplitDealer<'o, 'f> {
    deal: Dealer<'o, 'f>,
    /// The chunk being dealt (shared with the batches its packets go to), and its next step.
    chunk: Option<Arc<Chunk<'f>>>,
    next: usize,
    /// TLS secrets its steps held (taken out before it was shared), by step.
    secrets: std::collections::VecDeque<(usize, Vec<crate::analyzers::tls::KeyLog>)>,
    /// Chunks dealt, in order, until the workers are done with them; then their steps go back
    /// to the reading thread to be filled again.
    lent: std::collections::VecDeque<Arc<Chunk<'f>>>,
    /// Without flow threads: the chunks from the decoding threads, put in order here.
    sequencer: Option<Sequencer<'o, 'f>>,
    used_chunk: std::sync::mpsc::Sender<Spent<'f>>,
    /// With flow threads: their ends.
    flows: Option<FlowThreads<'f>>,
}

/// Puts the chunks the decoding threads finish (in any order) back in capture order and
/// adds their counts to the pass's; with flow threads, on a thread of its own, it also runs
/// the clock and IP reassembly over each chunk and hands it to the flow threads and the
/// dealer (that work, ~50 instructions a packet, was the dealer's, the busiest thread of a
/// split front).
struct Sequencer<'o, 'f> {
    options: &'o PassOptions,
    chunks: std::sync::mpsc::Receiver<Chunk<'f>>,
    /// Decoded chunks that came before their turn, and the number of the next one to take.
    early: BTreeMap<u64, Chunk<'f>>,
    next_seq: u64,
    in_order: InOrder,
}

/// A flow thread's work on the chunk being dealt, as the dealer takes it in step order.
#[derive(Default)]
struct TakenWork {
    /// Its packets' updates, taken up to `next` (read in place: a peeking iterator moved each
    /// twice).
    updates: Vec<(u32, Accounted)>,
    next: usize,
    evictions: std::collections::VecDeque<(u32, usize, FlowRecord)>,
    sweeps: std::collections::VecDeque<SweepAt>,
}

/// Chunks the sequencer may hand the dealer ahead of it (the flow threads hold one more).
const FLOW_CHUNKS_AHEAD: usize = 2;

/// The dealing thread's ends of the flow threads (see [`flow_threads`]).
struct FlowThreads<'f> {
    to: Vec<std::sync::mpsc::SyncSender<ToFlows<'f>>>,
    from: Vec<std::sync::mpsc::Receiver<FromFlows>>,
    /// The chunks the sequencer sent them, in capture order, for the dealer.
    prepared: std::sync::mpsc::Receiver<Arc<Chunk<'f>>>,
    numbering: Numbering,
    /// Each thread's work on the chunk being dealt, taken in step order.
    work: Vec<TakenWork>,
    /// Flows evicted for room since the last sweep point, numbered.
    evicted: Vec<FlowRecord>,
    /// The thread holding each part of the table (`part % threads`, looked up).
    thread_of_part: [u8; crate::flows::table::MAX_PARTS],
}

impl<'f> FlowThreads<'f> {
    fn new(
        to: Vec<std::sync::mpsc::SyncSender<ToFlows<'f>>>,
        from: Vec<std::sync::mpsc::Receiver<FromFlows>>,
        prepared: std::sync::mpsc::Receiver<Arc<Chunk<'f>>>,
    ) -> Self {
        let threads = to.len();
        FlowThreads {
            to,
            from,
            prepared,
            numbering: Numbering::new(threads),
            work: (0..threads).map(|_| TakenWork::default()).collect(),
            evicted: Vec::new(),
            thread_of_part: std::array::from_fn(|part| (part % threads.max(1)) as u8),
        }
    }

    fn threads(&self) -> usize {
        self.to.len()
    }

    /// The next chunk the sequencer sent, and each thread's work on it (`None` at the end of
    /// the capture, or when a flow thread is gone).
    fn take_oldest(&mut self) -> Option<Arc<Chunk<'f>>> {
        let chunk = self.prepared.recv().ok()?;
        for thread in 0..self.threads() {
            let Ok(FromFlows::Chunk(work)) = self.from[thread].recv() else {
                return None;
            };
            let FlowWork {
                updates,
                evicted,
                sweeps,
            } = work;
            self.work[thread] = TakenWork {
                updates,
                next: 0,
                evictions: evicted.into(),
                sweeps: sweeps.into(),
            };
        }
        Some(chunk)
    }

    /// The numbered update of step `at` of the chunk being dealt (its flow in part `part`),
    /// after numbering the flows evicted for room there (before the packet's own flow can
    /// take one of their slots).
    #[inline(always)]
    fn update_at(&mut self, at: u32, part: u8) -> Option<Accounted> {
        let thread =
            usize::from(self.thread_of_part[usize::from(part) % crate::flows::table::MAX_PARTS]);
        let mut work = self.work.get_mut(thread)?;
        if work.evictions.front().is_some_and(|(when, ..)| *when == at) {
            self.number_evictions(thread, at);
            work = &mut self.work[thread];
        }
        let (when, (update, payload)) = work.updates.get(work.next)?;
        if *when != at {
            return None;
        }
        work.next += 1;
        Some((self.numbering.number(thread, *update), *payload))
    }

    /// The flows thread `thread` evicted for room at step `at`, numbered into `evicted`.
    #[cold]
    fn number_evictions(&mut self, thread: usize, at: u32) {
        let evictions = &mut self.work[thread].evictions;
        while evictions.front().is_some_and(|(when, ..)| *when == at) {
            if let Some((_, slot, record)) = evictions.pop_front() {
                self.evicted
                    .push(self.numbering.record(thread, slot, record));
            }
        }
    }

    /// The sweep point at step `at`: the flows open before it over all threads, the flows
    /// evicted for room since the last one and those it ended, numbered.
    fn sweep_at(&mut self, at: u32) -> (usize, Vec<FlowRecord>, Vec<FlowRecord>) {
        let mut open = 0;
        let mut runs = Vec::with_capacity(self.threads());
        for thread in 0..self.threads() {
            let sweeps = &mut self.work[thread].sweeps;
            if sweeps.front().is_some_and(|(when, ..)| *when == at) {
                let Some((_, before, mut ended)) = sweeps.pop_front() else {
                    continue;
                };
                open += before;
                for (slot, record) in &mut ended {
                    record.flow_id = self.numbering.id(thread, *slot);
                }
                runs.push(ended);
            }
        }
        (open, std::mem::take(&mut self.evicted), merge_runs(runs))
    }

    /// The capture ended: the flows open over all threads, and every flow still open or
    /// evicted since the last sweep point, numbered.
    fn finish(&mut self) -> (usize, Vec<FlowRecord>) {
        let mut open = 0;
        // Each thread's open flows come in flow order, as do the evicted ones once sorted
        // (they are few): merged, not sorted together (sorting moved the ~200-byte records:
        // 0.65 M instructions at the end of the first 100,000 small packets).
        let mut evicted: Ended = std::mem::take(&mut self.evicted)
            .into_iter()
            .map(|record| (0, record))
            .collect();
        evicted.sort_unstable_by_key(|(_, record)| record.flow_id);
        let mut runs = vec![evicted];
        for to in &self.to {
            let _ = to.send(ToFlows::Finish);
        }
        for thread in 0..self.threads() {
            if let Ok(FromFlows::Finished {
                open: before,
                mut ended,
            }) = self.from[thread].recv()
            {
                open += before;
                for (slot, record) in &mut ended {
                    record.flow_id = self.numbering.id(thread, *slot);
                }
                runs.push(ended);
            }
        }
        (open, merge_runs(runs))
    }
}

/// The records of runs each in flow order, merged into one run in flow order, each record
/// moved once (sorting them together moved ~200-byte records several times: 7 % of the
/// dealer's instructions on small packets).
fn merge_runs(runs: Vec<Ended>) -> Vec<FlowRecord> {
    let mut merged = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    let mut runs: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
    loop {
        // Few runs (one per flow thread): the smallest head by a scan, looked at in place.
        let mut next: Option<(u64, usize)> = None;
        for (i, run) in runs.iter().enumerate() {
            if let Some((_, head)) = run.as_slice().first() {
                if next.is_none_or(|(id, _)| head.flow_id < id) {
                    next = Some((head.flow_id, i));
                }
            }
        }
        let Some((_, i)) = next else {
            return merged;
        };
        if let Some((_, record)) = runs[i].next() {
            merged.push(record);
        }
    }
}

impl<'f> Sequencer<'_, 'f> {
    /// With flow threads: takes the chunks in order, prepares them and hands each to the
    /// flow threads, then to the dealer, until the decoding threads or the dealer end; gives
    /// back the pass's counts and clock and the defragmenter.
    fn run(
        mut self,
        mut defrag: Defragmenter,
        to_flows: &[std::sync::mpsc::SyncSender<ToFlows<'f>>],
        to_dealer: &std::sync::mpsc::SyncSender<Arc<Chunk<'f>>>,
    ) -> (InOrder, Defragmenter) {
        while let Some(mut chunk) = self.next_chunk() {
            self.prepare(&mut chunk, &mut defrag);
            let chunk = Arc::new(chunk);
            for to in to_flows {
                // A flow thread gone (it panicked): the dealer misses its answer.
                let _ = to.send(ToFlows::Chunk(Arc::clone(&chunk)));
            }
            if to_dealer.send(chunk).is_err() {
                break;
            }
        }
        (self.in_order, defrag)
    }

    /// The clock and IP reassembly over a chunk in capture order, before the flow threads
    /// see it: each step's time and what it hands the flow table ([`Step::forward`]).
    fn prepare(&mut self, chunk: &mut Chunk<'f>, defrag: &mut Defragmenter) {
        let want_flows = self.options.flows || self.options.transactions;
        let parts = crate::flows::table::part_count(self.options.analyzer.max_flows);
        let in_order = &mut self.in_order;
        for step in &mut chunk.steps {
            if step.selected {
                // A lone packet dated far ahead does not move the clock (see CaptureClock).
                in_order.now_ns = in_order.clock.observe(step.packet.timestamp_ns);
            }
            step.now_ns = in_order.now_ns;
            step.forward = Forward::None;
            if step.selected && want_flows {
                if step.decoded.fragment.is_none() {
                    step.forward = Forward::Step;
                } else {
                    let packet = &step.packet;
                    let wire_len = packet.original_len.max(packet.data.len() as u32);
                    let datagram = match defrag.push(packet.timestamp_ns, wire_len, &step.decoded) {
                        Outcome::Held => None,
                        Outcome::PassOn => {
                            step.keyed = FlowKeyed::of(&step.decoded);
                            step.forward = Forward::Step;
                            None
                        }
                        Outcome::Complete(datagram) => reassemble_nested(defrag, packet, datagram),
                    };
                    if let Some(datagram) = datagram {
                        step.keyed = FlowKeyed::of(&datagram.decode());
                        step.forward = Forward::Datagram(chunk.reassembled.len());
                        chunk.reassembled.push(datagram);
                    }
                    step.part = step.keyed.map_or(0, |k| k.part(parts) as u8);
                }
            }
            if want_flows && step.packets.is_multiple_of(EVICT_EVERY_PACKETS) {
                defrag.expire(in_order.now_ns);
            }
        }
    }

    /// Adds a chunk's counts to the pass's, in capture order.
    fn take_counts(&mut self, chunk: &mut Chunk<'f>) {
        let in_order = &mut self.in_order;
        in_order.counts.append(std::mem::take(&mut chunk.counts));
        for (key, n) in std::mem::take(&mut chunk.scapy_sessions) {
            *in_order.scapy_sessions.entry(key).or_default() += n;
        }
    }

    /// The next chunk in capture order, its counts taken; `None` once every decoding thread
    /// ended.
    fn next_chunk(&mut self) -> Option<Chunk<'f>> {
        loop {
            if let Some(mut chunk) = self.early.remove(&self.next_seq) {
                self.next_seq += 1;
                self.take_counts(&mut chunk);
                return Some(chunk);
            }
            let chunk = self.chunks.recv().ok()?;
            self.early.insert(chunk.seq, chunk);
        }
    }
}

impl<'f> SplitDealer<'_, 'f> {
    /// With flow threads: the next chunk the sequencer prepared, with their work on it;
    /// `None` at the end of the capture (every flow ended, its records left with the dealer
    /// for [`Dealer::finish`]).
    fn next_accounted_chunk(&mut self) -> Option<Chunk<'f>> {
        let flows = self.flows.as_mut()?;
        match flows.take_oldest() {
            Some(chunk) => Some(
                Arc::into_inner(chunk)
                    .expect("the flow threads let go of a chunk before answering"),
            ),
            None => {
                self.deal.accounted_end = Some(flows.finish());
                None
            }
        }
    }

    /// Lends the chunk dealt to the batches and takes the next one; false at the end of the
    /// capture.
    fn next_to_deal(&mut self) -> bool {
        if let Some(dealt) = self.chunk.take() {
            self.lent.push_back(dealt);
        }
        self.give_back_returned();
        let chunk = match self.sequencer.as_mut() {
            Some(sequencer) => sequencer.next_chunk(),
            None => self.next_accounted_chunk(),
        };
        let Some(mut chunk) = chunk else {
            return false;
        };
        // Taken out before the chunk is shared (rarely any).
        if !chunk.secrets.is_empty() {
            self.secrets.extend(std::mem::take(&mut chunk.secrets));
        }
        self.chunk = Some(Arc::new(chunk));
        self.next = 0;
        true
    }

    /// Hands the steps of the chunks the workers are done with (the oldest first) back to
    /// the reading thread, which fills them again rather than allocating.
    fn give_back_returned(&mut self) {
        while self.lent.front().is_some_and(|c| Arc::strong_count(c) == 1) {
            if let Some(chunk) = self.lent.pop_front().and_then(Arc::into_inner) {
                // The reading thread may have ended: its chunks are not needed then.
                let _ = self.used_chunk.send((chunk.found, chunk.steps));
            }
        }
    }
}

impl<'o, 'f> EpochSource<'o, 'f> for SplitDealer<'o, 'f> {
    fn fill(&mut self) -> bool {
        let want_flows = self.deal.options.flows || self.deal.options.transactions;
        while !self.deal.epoch_full() {
            let Some(chunk) = self.chunk.as_ref().filter(|c| self.next < c.steps.len()) else {
                if !self.next_to_deal() {
                    return false;
                }
                continue;
            };
            let at = self.next;
            let step = &chunk.steps[at];
            self.next += 1;
            if self.secrets.front().is_some_and(|(i, _)| *i == at) {
                if let Some((_, secrets)) = self.secrets.pop_front() {
                    for keys in secrets {
                        self.deal.tls_secrets(keys);
                    }
                }
            }
            if let Some(flows) = self.flows.as_mut() {
                // The flow threads accounted the packet; the clock and IP reassembly ran
                // before (Sequencer::prepare).
                let update = match step.forward {
                    Forward::None => None,
                    _ => flows.update_at(at as u32, step.part),
                };
                self.deal.take_accounted(chunk, (at, step), update);
                if want_flows && step.packets.is_multiple_of(EVICT_EVERY_PACKETS) {
                    let (open, evicted, swept) = flows.sweep_at(at as u32);
                    self.deal.sweep_accounted(open, evicted, swept);
                }
                continue;
            }
            let Some(in_order) = self.sequencer.as_mut().map(|s| &mut s.in_order) else {
                return false;
            };
            if step.selected {
                // A lone packet dated far ahead does not move the clock (see CaptureClock).
                in_order.now_ns = in_order.clock.observe(step.packet.timestamp_ns);
            }
            let (packet, decoded) = (&step.packet, &step.decoded);
            self.deal.take(
                packet,
                decoded,
                step.selected,
                in_order.now_ns,
                step.packets,
                Some(((chunk, at as u32), step.keyed.as_ref())),
            );
        }
        true
    }
    fn dealer(&mut self) -> &mut Dealer<'o, 'f> {
        &mut self.deal
    }
}

/// The reading thread of a split front: finds the packets of a mapped file and hands them
/// out in numbered chunks to the decoding threads, until the capture ends or they hang up.
fn read_ahead<'f>(
    reader: &mut CaptureReader,
    read: &mut Reading<'_>,
    mut progress: Option<&mut (dyn Progress + '_)>,
    file: &'f MappedBytes,
    decode_here: bool,
    to_next: &std::sync::mpsc::SyncSender<Chunk<'f>>,
    used_chunks: &std::sync::mpsc::Receiver<Spent<'f>>,
) {
    let bytes = file.bytes();
    for seq in 0.. {
        // A used chunk comes back whole: its buffers are filled again.
        let (mut found, steps) = used_chunks.try_recv().unwrap_or_else(|_| {
            let room = STEPS_PER_CHUNK;
            (Vec::with_capacity(room), Vec::with_capacity(room))
        });
        found.clear();
        let packets_before = read.packets;
        let mut secrets = Vec::new();
        let mut ended = false;
        while found.len() < STEPS_PER_CHUNK {
            let Some(packet) = read.next_packet(reader) else {
                ended = true;
                break;
            };
            // The same bytes, borrowed from the mapping the dealer and workers share (a
            // mapped reader's packets always lie in it).
            let data = file.range_of(packet.data).map_or(&[][..], |at| &bytes[at]);
            let packet = Packet {
                timestamp_ns: packet.timestamp_ns,
                link_type: packet.link_type,
                original_len: packet.original_len,
                interface_id: packet.interface_id,
                data,
            };
            if let Some(keys) = read.take_secrets() {
                secrets.push((found.len(), keys));
            }
            read.packets += 1;
            read.first_ns.get_or_insert(packet.timestamp_ns);
            found.push(packet);
            read.tell_progress(reader, progress.as_deref_mut());
        }
        let mut chunk = Chunk {
            seq,
            found,
            packets_before,
            steps,
            first_ns: read.first_ns.unwrap_or_default(),
            // Empty, with the pass's intervals: the chunk's packets are counted apart.
            counts: read.counts.clone(),
            scapy_sessions: BTreeMap::new(),
            reassembled: Vec::new(),
            secrets,
        };
        if decode_here {
            decode_chunk(read.options, &mut chunk);
        }
        if to_next.send(chunk).is_err() || ended {
            return;
        }
    }
}

/// A decoding thread of a split front: decodes, selects and counts the packets of the
/// chunks it takes, each apart, until the reader ends or the dealer hangs up.
fn decode_chunks<'f>(
    options: &PassOptions,
    chunks: &std::sync::Mutex<std::sync::mpsc::Receiver<Chunk<'f>>>,
    to_dealer: &std::sync::mpsc::SyncSender<Chunk<'f>>,
) {
    loop {
        // Held while waiting: the other decoding threads would wait on the channel anyway.
        let taken = chunks
            .lock()
            .expect("a decoding thread does not panic holding the chunks")
            .recv();
        let Ok(mut chunk) = taken else {
            return;
        };
        decode_chunk(options, &mut chunk);
        if to_dealer.send(chunk).is_err() {
            return;
        }
    }
}

/// Decodes, selects and counts a chunk's packets (the counts the chunk's own), and works
/// out the flow key the dealer's flow table needs of each.
fn decode_chunk(options: &PassOptions, chunk: &mut Chunk<'_>) {
    let first_ns = chunk.first_ns;
    let want_flows = options.flows || options.transactions;
    let parts = crate::flows::table::part_count(options.analyzer.max_flows);
    let Chunk {
        found,
        packets_before,
        steps,
        counts,
        scapy_sessions,
        ..
    } = chunk;
    // Steps of a used chunk are overwritten in place (pushing a step built on the stack
    // copies all of it).
    steps.truncate(found.len());
    for (i, packet) in found.drain(..).enumerate() {
        let packets = *packets_before + i as u64 + 1;
        if let Some(step) = steps.get_mut(i) {
            step.packet = packet;
            step.packets = packets;
            step.decoded.clear();
        } else {
            steps.push(Step {
                packet,
                decoded: Decoded::default(),
                selected: false,
                keyed: None,
                packets,
                part: 0,
                now_ns: i64::MIN,
                forward: Forward::None,
            });
        }
        let step = &mut steps[i];
        step.selected = decode_select_count(
            options,
            first_ns,
            &step.packet,
            &mut step.decoded,
            counts,
            scapy_sessions,
        );
        let keyed = step.selected && want_flows && step.decoded.fragment.is_none();
        step.keyed = if keyed {
            FlowKeyed::of(&step.decoded)
        } else {
            None
        };
        step.part = step.keyed.map_or(0, |k| k.part(parts) as u8);
    }
}

/// What the front hands a worker, in capture order. `item` numbers the work of the whole
/// pass (the same for every number of workers): it orders what the workers emit.
enum Work {
    /// A TCP or UDP packet whose headers the dealer copied (`Batch::copied[copied]`): items
    /// stay 40 bytes, as the split front deals most packets as [`Work::Chunked`] (with the
    /// headers inline every item took ~140 bytes to write, and to copy when a batch grew).
    Packet {
        item: u64,
        flow_id: u64,
        /// The packet opens a TCP connection: its endpoints' connection counts.
        new_connection: Option<[u32; 2]>,
        copied: u32,
    },
    /// A TCP or UDP packet of a chunk a split front decoded, read where the decoding thread
    /// left it (`Batch::chunks[chunk].steps[step]`): the dealer hands out only its number
    /// and flow, not a copy of its headers.
    Chunked {
        item: u64,
        flow_id: u64,
        new_connection: Option<[u32; 2]>,
        chunk: u32,
        step: u32,
    },
    /// The flow table let go of a TCP flow (closed, idle, or the capture ended).
    FlowEnd { item: u64, flow_id: u64 },
    /// Time to flush idle connections and time out DNS queries (sent to every worker).
    Sweep { item: u64, now_ns: i64 },
    /// TLS secrets from a pcapng Decryption Secrets Block, for the packets after it (sent to
    /// every worker).
    /// Carries the pass's key logs with the block's added, shared by every worker.
    TlsSecrets(crate::analyzers::tls::KeyLogs),
}

/// The headers of a [`Work::Packet`], copied out of the packet.
struct CopiedHeaders {
    timestamp_ns: i64,
    /// Source and destination (of the innermost IP header).
    endpoints: (IpAddr, IpAddr),
    /// Without its payload, which is at `payload`.
    transport: Transport<'static>,
    payload: PayloadAt,
}

/// Where a dealt packet's payload lies.
enum PayloadAt {
    /// In the batch's arena (copied: the capture is read as a stream, or rebuilt from
    /// fragments).
    Batch(std::ops::Range<usize>),
    /// In the mapped capture file, read in place.
    File(std::ops::Range<usize>),
}

/// One worker's work of one epoch, with the payload bytes in one buffer.
#[derive(Default)]
struct Batch<'f> {
    items: Vec<Work>,
    /// The headers [`Work::Packet`] items point to.
    copied: Vec<CopiedHeaders>,
    /// How many of `items` are packets.
    packets: u64,
    arena: Vec<u8>,
    /// The split front's chunks that [`Work::Chunked`] items point into.
    chunks: Vec<Arc<Chunk<'f>>>,
    /// The capture ends with this epoch: the worker finishes its connections.
    last: bool,
}

impl Batch<'_> {
    /// Room for twice an even share of an epoch's items over `shards`: what every batch
    /// starts with, and the most that the fullest shard's share gives the others.
    fn even_room(shards: usize) -> usize {
        2 * Front::EPOCH_ITEMS / shards.max(1)
    }

    /// Room in this (empty) batch for `items` items, `copied` copied headers and `bytes`
    /// payload bytes. Short of it, it gets new buffers that big rather than growing the old
    /// (`reserve` would copy their stale contents).
    fn make_room(&mut self, items: usize, copied: usize, bytes: usize) {
        if self.items.capacity() < items {
            self.items = Vec::with_capacity(items);
        }
        if self.copied.capacity() < copied {
            self.copied = Vec::with_capacity(copied);
        }
        if self.arena.capacity() < bytes {
            self.arena = Vec::with_capacity(bytes);
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.copied.clear();
        self.packets = 0;
        self.arena.clear();
        self.chunks.clear();
        self.last = false;
    }
}

/// What the front tells the merger about one epoch.
struct Epoch {
    /// Flows the flow table let go of, in order.
    flows: Vec<FlowRecord>,
    /// Capture time at the end of the epoch (the latest timestamp read).
    now_ns: i64,
    last: bool,
}

/// Everything before the workers: the reader, the [`Reading`] stage (decoding, selecting,
/// counting) and the [`Dealer`] (flows, dealing). On one thread the two stages take each
/// packet in turn; with enough workers and a mapped file they run on threads of their own,
/// decoding on several ([`run_threaded`]).
struct Front<'o, 'f> {
    reader: CaptureReader,
    options: &'o PassOptions,
    progress: Option<&'o mut dyn Progress>,
    read: Reading<'o>,
    deal: Dealer<'o, 'f>,
}

/// Decoding, selecting and counting each packet, in capture order.
struct Reading<'o> {
    options: &'o PassOptions,
    counts: ProtocolCounts,
    scapy_sessions: BTreeMap<String, u64>,
    warnings: Vec<String>,
    packets: u64,
    /// Capture time for idle eviction (a stray future-dated packet is kept out of it).
    clock: CaptureClock,
    now_ns: i64,
    first_ns: Option<i64>,
    secrets: std::sync::Arc<crate::capture::SecretsInbox>,
}

/// One packet through the reading stage, on its way to the dealer.
struct Step<'a> {
    packet: Packet<'a>,
    decoded: Decoded<'a>,
    /// Kept by `--filter`/`--start`/`--end` (the others were only counted).
    selected: bool,
    /// The flow table's key of a selected, unfragmented IP packet, worked out by the
    /// decoding thread.
    keyed: Option<FlowKeyed>,
    /// Packets read so far, this one included.
    packets: u64,
    /// With flow threads: the part of the flow table `keyed` falls in (decoding thread)...
    part: u8,
    /// ...capture time after this packet, and what goes to the flow table (the sequencer,
    /// before the flow threads see the chunk).
    now_ns: i64,
    forward: Forward,
}

/// What a packet hands the flow table and the analyzers (worked out in capture order).
#[derive(Debug, Clone, Copy)]
enum Forward {
    /// Nothing: not selected, or a fragment held for its datagram.
    None,
    /// The packet itself.
    Step,
    /// The datagram its fragment completed (the chunk's `reassembled[i]`).
    Datagram(usize),
}

/// Where the dealer puts TCP and UDP packets.
enum Workers<'f> {
    /// Shards run on worker threads: per shard, the epoch's batch (payloads copied) and
    /// emptied batches to fill again.
    Batches {
        batches: Vec<Batch<'f>>,
        spare: Vec<Vec<Batch<'f>>>,
        /// Each lane's shard ([`worker_of_lane`] looked up: it divided by the shard count
        /// for every packet dealt).
        shard_of_lane: Box<[u16; crate::flows::lanes::LANES]>,
    },
    /// One worker (none without transactions) fed as packets are read.
    Inline(Option<Box<Shard>>),
    /// Before the batches exist (and after the inline worker was taken back).
    Threads(usize),
}

impl<'f> Workers<'f> {
    /// Empty batches for `n` workers.
    fn batches(n: usize) -> Workers<'f> {
        // The first epoch's too have room for twice an even share (see Dealer::take_epoch):
        // empty, they grew by doubling, copying their items each time.
        let batch = || {
            let mut batch = Batch::default();
            batch.make_room(Batch::even_room(n), Batch::even_room(n), 0);
            batch
        };
        Workers::Batches {
            batches: (0..n).map(|_| batch()).collect(),
            spare: (0..n).map(|_| Vec::new()).collect(),
            shard_of_lane: Box::new(std::array::from_fn(|lane| worker_of_lane(lane, n) as u16)),
        }
    }
}

/// An epoch dealt: the batches for worker threads, or what the inline worker emitted.
struct Dealt<'f> {
    batches: Vec<Batch<'f>>,
    outs: Vec<ShardOut>,
}

/// IP reassembly, flow assignment and dealing packets to workers, one epoch at a time.
struct Dealer<'o, 'f> {
    options: &'o PassOptions,
    flows: FlowTable,
    defrag: Defragmenter,
    peak_open_flows: usize,
    workers: Workers<'f>,
    /// The flows that ended in the epoch being filled.
    ended: Vec<FlowRecord>,
    items: u64,
    epoch_items: usize,
    epoch_bytes: usize,
    sweeps: SweepSchedule,
    /// Connections per endpoint (the generic analyzer's `repeated_port` rule).
    endpoints: EndpointCounts,
    /// Capture time as the front's clock has it (stray future-dated packets kept out).
    now_ns: i64,
    /// Packets handed to the inline worker in this epoch.
    inline_packets: u64,
    /// With flow threads, at the end of the capture: the flows open then (over all
    /// threads), and every flow still open or evicted since the last sweep point, numbered.
    accounted_end: Option<(usize, Vec<FlowRecord>)>,
    /// The mapped capture file, when workers read payloads from it in place.
    file: Option<MappedBytes>,
    /// The key logs met so far (`--keylog`, then the capture's secrets blocks).
    tls_keys: crate::analyzers::tls::KeyLogs,
}

impl<'o, 'f> Front<'o, 'f> {
    /// Work items and payload bytes in one epoch (over all workers).
    const EPOCH_ITEMS: usize = 4096;
    const EPOCH_BYTES: usize = 2 << 20;

    fn new(
        reader: CaptureReader,
        options: &'o PassOptions,
        progress: Option<&'o mut dyn Progress>,
        workers: Workers<'f>,
    ) -> Self {
        let workers = match workers {
            Workers::Threads(n) => Workers::batches(n),
            other => other,
        };
        Front {
            read: Reading {
                options,
                secrets: reader.secrets_inbox(),
                counts: if options.adaptive_intervals {
                    ProtocolCounts::with_adaptive_intervals()
                } else {
                    ProtocolCounts::with_intervals(options.intervals_ns)
                },
                scapy_sessions: BTreeMap::new(),
                warnings: Vec::new(),
                packets: 0,
                clock: CaptureClock::default(),
                now_ns: i64::MIN,
                first_ns: None,
            },
            reader,
            options,
            progress,
            deal: Dealer {
                options,
                flows: {
                    let table = FlowTable::new(false).with_max_flows(options.analyzer.max_flows);
                    // Worker threads are dealt packets by their flow's lane.
                    match workers {
                        Workers::Batches { .. } => table.with_lanes(),
                        _ => table,
                    }
                },
                defrag: Defragmenter::new(
                    options.analyzer.max_fragment_datagrams,
                    crate::decode::defrag::DEFAULT_TIMEOUT_NS,
                ),
                peak_open_flows: 0,
                workers,
                ended: Vec::new(),
                items: 0,
                epoch_items: 0,
                epoch_bytes: 0,
                sweeps: SweepSchedule::new(&options.analyzer),
                endpoints: EndpointCounts::default(),
                tls_keys: crate::analyzers::tls::KeyLogs::new(options.analyzer.tls.keys.clone()),
                now_ns: i64::MIN,
                inline_packets: 0,
                accounted_end: None,
                file: None,
            },
        }
    }

    /// Reads packets until the epoch is full; false at the end of the capture.
    fn fill_epoch(&mut self) -> bool {
        while !self.deal.epoch_full() {
            if !self.step() {
                return false;
            }
        }
        true
    }

    /// Reads one packet and deals it; false at the end of the capture.
    fn step(&mut self) -> bool {
        let Some(packet) = self.read.next_packet(&mut self.reader) else {
            return false;
        };
        // An `Option`: dropping an empty vector (or its iterator) was a call, ~18-27
        // instructions a packet, whenever the compiler did not see it was empty.
        if let Some(secrets) = self.read.take_secrets() {
            for keys in secrets {
                self.deal.tls_secrets(keys);
            }
        }
        // Decoded in place: `decode` returning it by value cost a 380-byte copy per packet.
        let mut decoded = Decoded::default();
        let selected = self.read.read(&packet, &mut decoded);
        let (now_ns, packets) = (self.read.now_ns, self.read.packets);
        self.deal
            .take(&packet, &decoded, selected, now_ns, packets, None);
        self.read
            .tell_progress(&self.reader, self.progress.as_deref_mut());
        true
    }
}

impl Reading<'_> {
    /// The reader's next packet; `None` at the end (an I/O error becomes this file's warning).
    #[inline(always)]
    fn next_packet<'r>(&mut self, reader: &'r mut CaptureReader) -> Option<Packet<'r>> {
        match reader.next_packet() {
            Ok(packet) => packet,
            Err(err) => {
                self.warnings.push(err.to_string());
                None
            }
        }
    }

    /// Every [`EVICT_EVERY_PACKETS`] packets read, tells `progress` how far reading got.
    #[inline(always)]
    fn tell_progress(&self, reader: &CaptureReader, progress: Option<&mut (dyn Progress + '_)>) {
        if self.packets.is_multiple_of(EVICT_EVERY_PACKETS) {
            if let Some(progress) = progress {
                progress.advance(reader.position());
            }
        }
    }

    /// TLS secrets met in the capture since the last call (checked here, so a bad line is a
    /// warning of this file).
    #[inline(always)]
    fn take_secrets(&mut self) -> Option<Vec<crate::analyzers::tls::KeyLog>> {
        // Asked once a packet; secrets are rare.
        if !self.secrets.is_waiting() {
            return None;
        }
        Some(self.parse_secrets())
    }

    #[cold]
    #[inline(never)]
    fn parse_secrets(&mut self) -> Vec<crate::analyzers::tls::KeyLog> {
        let mut found = Vec::new();
        for text in self.secrets.take() {
            let mut keys = crate::analyzers::tls::KeyLog::default();
            let source = "pcapng decryption secrets block";
            if let Err(e) = keys.add_text(source, &text) {
                self.warnings
                    .push(format!("{e} (the lines before it are used)"));
            }
            found.push(keys);
        }
        found
    }

    /// Decodes, selects and counts one packet; true when it is selected.
    #[inline(always)]
    fn read<'a>(&mut self, packet: &Packet<'a>, decoded: &mut Decoded<'a>) -> bool {
        self.packets += 1;
        let first_ns = *self.first_ns.get_or_insert(packet.timestamp_ns);
        let selected = decode_select_count(
            self.options,
            first_ns,
            packet,
            decoded,
            &mut self.counts,
            &mut self.scapy_sessions,
        );
        if selected {
            // A lone packet dated far ahead does not move the clock (see CaptureClock).
            self.now_ns = self.clock.observe(packet.timestamp_ns);
        }
        selected
    }
}

/// Decodes, selects and counts one packet into `counts` (and Scapy's sessions); true when it
/// is selected. `first_ns`: the time of the file's first packet (for `--start`/`--end`).
#[inline(always)]
fn decode_select_count<'a>(
    options: &PassOptions,
    first_ns: i64,
    packet: &Packet<'a>,
    decoded: &mut Decoded<'a>,
    counts: &mut ProtocolCounts,
    scapy_sessions: &mut BTreeMap<String, u64>,
) -> bool {
    decode_into(packet.link_type, packet.data, decoded);
    // The one place packets are selected: the rest go nowhere but this count.
    let selected = options
        .select
        .as_ref()
        .is_none_or(|s| s.keeps(packet, decoded, first_ns));
    if options.skip_counts {
    } else if selected {
        counts.add(packet, decoded);
    } else {
        counts.filtered_out += 1;
    }
    if selected && options.scapy_keys {
        let key = scapy::session_key(decoded);
        *scapy_sessions.entry(key).or_default() += 1;
    }
    selected
}

impl<'o, 'f> Dealer<'o, 'f> {
    /// Whether the epoch being filled is full (epochs end at the same packets in every mode:
    /// they are the merger's release points).
    fn epoch_full(&self) -> bool {
        self.epoch_items >= Front::EPOCH_ITEMS || self.epoch_bytes >= Front::EPOCH_BYTES
    }

    /// One packet from the reading stage: its flow, its worker; every
    /// [`EVICT_EVERY_PACKETS`] packets read, a sweep of the flow table.
    #[inline(always)]
    fn take(
        &mut self,
        packet: &Packet<'_>,
        decoded: &Decoded<'_>,
        selected: bool,
        now_ns: i64,
        packets: u64,
        in_chunk: Option<InChunk<'_, 'f>>,
    ) {
        let (at, keyed) = in_chunk.map_or((None, None), |(at, keyed)| (Some(at), keyed));
        // Flows are needed for transactions too (they assign connection ids).
        let want_flows = self.options.flows || self.options.transactions;
        self.epoch_items += 1;
        if selected {
            self.now_ns = now_ns;
        }
        if selected && want_flows {
            // Fragments go to the flow table and the analyzers only as the datagram they
            // complete (dated by the completing fragment); everything else as it is.
            if decoded.fragment.is_none() {
                self.forward(packet, decoded, keyed, at);
            } else {
                let wire_len = packet.original_len.max(packet.data.len() as u32);
                match self.defrag.push(packet.timestamp_ns, wire_len, decoded) {
                    Outcome::Held => {}
                    Outcome::PassOn => self.forward(packet, decoded, None, at),
                    Outcome::Complete(datagram) => self.forward_reassembled(packet, datagram),
                }
            }
        }
        if want_flows && packets.is_multiple_of(EVICT_EVERY_PACKETS) {
            self.evict(self.now_ns);
        }
    }

    /// Hands out the epoch filled so far (with `last`, after ending every open flow).
    fn take_epoch(&mut self, last: bool) -> (Epoch, Dealt<'f>) {
        if last {
            self.finish();
        }
        let mut dealt = Dealt {
            batches: Vec::new(),
            outs: Vec::new(),
        };
        match &mut self.workers {
            Workers::Batches { batches, spare, .. } => {
                // Every shard's next batch has room for a quarter more than the fullest of
                // this epoch, up to twice an even share: a shard's share varies from epoch
                // to epoch (150 to 430 items of 4,096 over 16 shards on the small-packet
                // trace), and room for only its own last share made most batches grow,
                // copying their items (7 % of the dealer's instructions when items were ~140
                // bytes; 40 now). Copied headers follow the same rule.
                // Payload bytes (copied only from streams) get room for the shard's own.
                // An emptied batch keeps its room.
                let room = |n: usize| n + n / 4;
                let even = Batch::even_room(batches.len());
                let fullest = |len: fn(&Batch) -> usize| {
                    room(batches.iter().map(len).max().unwrap_or(0)).min(even)
                };
                let (items, copied) = (fullest(|b| b.items.len()), fullest(|b| b.copied.len()));
                let fresh = spare
                    .iter_mut()
                    .zip(batches.iter())
                    .map(|(s, filled)| {
                        let mut batch = s.pop().unwrap_or_default();
                        batch.make_room(
                            items.max(room(filled.items.len())),
                            copied.max(room(filled.copied.len())),
                            filled.arena.len(),
                        );
                        batch
                    })
                    .collect();
                dealt.batches = std::mem::replace(batches, fresh);
                for batch in &mut dealt.batches {
                    batch.last = last;
                }
            }
            Workers::Inline(Some(shard)) => {
                simulate_work(self.options, std::mem::take(&mut self.inline_packets));
                if last {
                    shard.finish();
                }
                dealt.outs.push(shard.take_out());
            }
            Workers::Inline(None) | Workers::Threads(_) => {}
        }
        self.epoch_items = 0;
        self.epoch_bytes = 0;
        // The next epoch's ended flows start with as much room (see FlowTable::evict).
        let room = self.ended.len();
        let epoch = Epoch {
            flows: std::mem::replace(&mut self.ended, Vec::with_capacity(room)),
            now_ns: self.now_ns,
            last,
        };
        (epoch, dealt)
    }

    /// How many shards (batches per epoch) the dealer deals to.
    fn shards(&self) -> usize {
        match &self.workers {
            Workers::Batches { batches, .. } => batches.len(),
            Workers::Threads(n) => *n,
            Workers::Inline(_) => 1,
        }
    }

    /// A shard's emptied batch, to fill again.
    fn recycle(&mut self, worker: usize, batch: Batch<'f>) {
        if let Workers::Batches { spare, .. } = &mut self.workers {
            spare[worker].push(batch);
        }
    }
}

impl<'f> Dealer<'_, 'f> {
    /// Lets go of closed and idle flows, and of fragments too old to complete.
    fn evict(&mut self, now_ns: i64) {
        self.peak_open_flows = self.peak_open_flows.max(self.flows.open_flows());
        self.defrag.expire(now_ns);
        let idle = self.options.analyzer.idle_timeout_ns;
        for record in self.flows.evict(now_ns, CLOSED_LINGER_NS, idle) {
            self.flow_ended(record);
        }
    }

    /// The capture ended: every flow still open ends, in flow order.
    fn finish(&mut self) {
        let (open, mut remaining) = match self.accounted_end.take() {
            Some(end) => end,
            None => (self.flows.open_flows(), self.flows.finish_open()),
        };
        self.peak_open_flows = self.peak_open_flows.max(open);
        // Open flows come in flow order; only flows evicted for room since the last sweep
        // (rare) can be out of it. (Flow ids are unique: any sort orders alike.)
        if !remaining.is_sorted_by_key(|r| r.flow_id) {
            remaining.sort_unstable_by_key(|r| r.flow_id);
        }
        for record in remaining {
            self.flow_ended(record);
        }
    }

    /// TLS secrets from the capture go to every worker, in order with the packets.
    fn tls_secrets(&mut self, keys: crate::analyzers::tls::KeyLog) {
        // Added here once, in capture order; every worker gets the same (shared) whole.
        self.tls_keys = self.tls_keys.with(keys);
        match &mut self.workers {
            Workers::Batches { batches, .. } => {
                for batch in batches {
                    batch.items.push(Work::TlsSecrets(self.tls_keys.clone()));
                }
            }
            Workers::Inline(Some(shard)) => shard.analyzer.set_tls_keys(self.tls_keys.clone()),
            Workers::Inline(None) | Workers::Threads(_) => {}
        }
    }

    /// A flow ended: its record goes to the merger, the end of a TCP flow to its worker.
    fn flow_ended(&mut self, record: FlowRecord) {
        if self.options.transactions && record.protocol == "tcp" {
            let item = self.next_item();
            match &mut self.workers {
                Workers::Batches { batches, .. } => {
                    let worker = worker_of(
                        (record.client_ip, record.client_port),
                        (record.server_ip, record.server_port),
                        batches.len(),
                    );
                    batches[worker].items.push(Work::FlowEnd {
                        item,
                        flow_id: record.flow_id,
                    });
                }
                Workers::Inline(Some(shard)) => shard.flow_end(item, record.flow_id),
                Workers::Inline(None) | Workers::Threads(_) => {}
            }
        }
        if self.options.flows {
            self.ended.push(record);
        }
    }

    fn next_item(&mut self) -> u64 {
        self.items += 1;
        self.items
    }

    /// Hands one packet to the flow table and, for transactions, to its worker (payload
    /// copied into the worker's batch).
    #[inline(always)]
    fn forward(
        &mut self,
        packet: &Packet<'_>,
        decoded: &Decoded<'_>,
        keyed: Option<&FlowKeyed>,
        at: Option<StepAt<'_, 'f>>,
    ) {
        let update = match keyed {
            Some(keyed) => self.flows.on_keyed(packet, keyed),
            None => self.flows.on_packet(packet, decoded),
        };
        if let Some(update) = update {
            self.deal(packet, decoded, update, at);
        }
    }

    /// Deals a packet the flow table accepted (`update`) to its worker: where it lies in a
    /// split front's chunk (`at`) when there is one, else a copy of its headers.
    #[inline(always)]
    fn deal(
        &mut self,
        packet: &Packet<'_>,
        decoded: &Decoded<'_>,
        update: FlowUpdate,
        at: Option<StepAt<'_, 'f>>,
    ) {
        if !self.options.transactions {
            return;
        }
        self.sweep_if_due();
        // Only TCP and UDP reach the analyzers (the flow table gave us IP endpoints).
        let (bytes, ports) = match &decoded.transport {
            Transport::Tcp(t) => (t.payload, (t.src_port, t.dst_port)),
            Transport::Udp(u) => (u.payload, (u.src_port, u.dst_port)),
            _ => return,
        };
        if let (Some((chunk, step)), Workers::Batches { .. }) = (at, &self.workers) {
            if !decoded.has_ip_endpoints() {
                return;
            }
            let new_connection = self.connection_counts(decoded, ports, &update);
            self.push_chunked(chunk, step, &update, new_connection, bytes.len());
            return;
        }
        let Some((src, dst)) = decoded.ip_endpoints() else {
            return;
        };
        let new_connection = self.connection_counts(decoded, ports, &update);
        let item = self.next_item();
        // Epochs end at the same packets in every mode (they are the release points).
        self.epoch_bytes += bytes.len();
        let batches = match &mut self.workers {
            Workers::Batches { batches, .. } => batches,
            Workers::Inline(Some(shard)) => {
                self.inline_packets += 1;
                shard.packet(
                    item,
                    packet.timestamp_ns,
                    update.flow_id,
                    new_connection,
                    (src, dst),
                    &decoded.transport,
                );
                return;
            }
            Workers::Inline(None) | Workers::Threads(_) => return,
        };
        // The payload travels in the batch's arena.
        let transport = match decoded.transport {
            Transport::Tcp(t) => Transport::Tcp(TcpInfo {
                src_port: t.src_port,
                dst_port: t.dst_port,
                seq: t.seq,
                ack: t.ack,
                flags: t.flags,
                window: t.window,
                payload: &[],
                payload_missing: t.payload_missing,
            }),
            Transport::Udp(u) => Transport::Udp(UdpInfo {
                src_port: u.src_port,
                dst_port: u.dst_port,
                payload: &[],
                payload_missing: u.payload_missing,
            }),
            _ => return,
        };
        // The flow table hashed the endpoint pair into a lane once, when the flow opened.
        let worker = worker_of_lane(update.lane, batches.len());
        let batch = &mut batches[worker];
        batch.packets += 1;
        let payload = match self.file.as_ref().and_then(|file| file.range_of(bytes)) {
            Some(in_file) => PayloadAt::File(in_file),
            None => {
                let start = batch.arena.len();
                batch.arena.extend_from_slice(bytes);
                PayloadAt::Batch(start..batch.arena.len())
            }
        };
        batch.items.push(Work::Packet {
            item,
            flow_id: update.flow_id,
            new_connection,
            copied: batch.copied.len() as u32,
        });
        batch.copied.push(CopiedHeaders {
            timestamp_ns: packet.timestamp_ns,
            endpoints: (src, dst),
            transport,
            payload,
        });
    }

    /// Every packet the flow table accepted counts for the analyzers' sweep schedule, as it
    /// would on a single analyzer fed every packet: when a sweep is due, every worker gets one.
    #[inline(always)]
    fn sweep_if_due(&mut self) {
        if self.sweeps.due(self.now_ns) {
            let now_ns = self.now_ns;
            let item = self.next_item();
            match &mut self.workers {
                Workers::Batches { batches, .. } => {
                    for batch in batches {
                        batch.items.push(Work::Sweep { item, now_ns });
                    }
                }
                Workers::Inline(Some(shard)) => shard.sweep(item, now_ns),
                Workers::Inline(None) | Workers::Threads(_) => {}
            }
        }
    }

    /// Deals step `step` of a split front's `chunk` (a TCP or UDP packet with `bytes` of
    /// payload) to its flow's shard: its number and flow, not a copy of its headers.
    #[inline(always)]
    fn push_chunked(
        &mut self,
        chunk: &Arc<Chunk<'f>>,
        step: u32,
        update: &FlowUpdate,
        new_connection: Option<[u32; 2]>,
        bytes: usize,
    ) {
        let item = self.next_item();
        self.epoch_bytes += bytes;
        let Workers::Batches {
            batches,
            shard_of_lane,
            ..
        } = &mut self.workers
        else {
            return;
        };
        let batch = &mut batches[usize::from(shard_of_lane[update.lane])];
        batch.packets += 1;
        // A batch takes each chunk once, the first time it is dealt a packet of it.
        if !batch.chunks.last().is_some_and(|c| Arc::ptr_eq(c, chunk)) {
            batch.chunks.push(Arc::clone(chunk));
        }
        batch.items.push(Work::Chunked {
            item,
            flow_id: update.flow_id,
            new_connection,
            chunk: (batch.chunks.len() - 1) as u32,
            step,
        });
    }

    /// The endpoints' connection counts of a packet opening a TCP connection. Counted here,
    /// where every connection passes in capture order, so the generic analyzer's server rule
    /// is the same for every worker count; only when an observer (the generic analyzer) runs:
    /// it is their only reader, and the table of up to 64k endpoints cost ~2 % of an `http`
    /// pass in cache misses.
    #[inline(always)]
    fn connection_counts(
        &mut self,
        decoded: &Decoded<'_>,
        ports: (u16, u16),
        update: &FlowUpdate,
    ) -> Option<[u32; 2]> {
        if !(update.is_new
            && matches!(decoded.transport, Transport::Tcp(_))
            && !self.options.analyzer.observers.is_empty())
        {
            return None;
        }
        let (src, dst) = decoded.ip_endpoints()?;
        Some([
            self.endpoints.count((src, ports.0)),
            self.endpoints.count((dst, ports.1)),
        ])
    }

    /// A datagram rebuilt from fragments goes on like a frame of its own, as raw IP whose
    /// wire length is that of all its fragments; a fragmented packet tunnelled inside it goes
    /// back to the defragmenter.
    fn forward_reassembled(&mut self, packet: &Packet<'_>, datagram: Reassembled) {
        if let Some(datagram) = reassemble_nested(&mut self.defrag, packet, datagram) {
            let decoded = datagram.decode();
            let rebuilt = flow_threads::rebuilt_packet(packet, &datagram);
            self.forward(&rebuilt, &decoded, None, None);
        }
    }

    /// [`Dealer::take`] for a packet the front's flow threads accounted: `update` numbered,
    /// the clock and IP reassembly done in capture order before (see [`Sequencer`]).
    #[inline(always)]
    fn take_accounted(
        &mut self,
        chunk: &Arc<Chunk<'f>>,
        (at, step): (usize, &Step<'f>),
        update: Option<Accounted>,
    ) {
        self.epoch_items += 1;
        if step.selected {
            self.now_ns = step.now_ns;
        }
        let Some((update, payload)) = update else {
            return;
        };
        match step.forward {
            Forward::None => {}
            // What `deal` would work out of the packet's headers, the flow thread did
            // (`payload`): the dealer reads the step only for a new connection's counts.
            Forward::Step => {
                if !self.options.transactions {
                    return;
                }
                self.sweep_if_due();
                let Some(bytes) = payload else {
                    return;
                };
                // A new flow's first packet only: the decoded headers lie in other cache lines.
                let new_connection = match update.is_new {
                    true => match step.decoded.transport {
                        Transport::Tcp(t) => {
                            self.connection_counts(&step.decoded, (t.src_port, t.dst_port), &update)
                        }
                        _ => None,
                    },
                    false => None,
                };
                self.push_chunked(chunk, at as u32, &update, new_connection, bytes as usize);
            }
            Forward::Datagram(i) => {
                let datagram = &chunk.reassembled[i];
                let decoded = datagram.decode();
                let rebuilt = flow_threads::rebuilt_packet(&step.packet, datagram);
                self.deal(&rebuilt, &decoded, update, None);
            }
        }
    }

    /// A sweep point the flow threads reached: `open` flows before it, the flows evicted for
    /// room since the last one and those it ended (numbered), each in flow order as one
    /// table gives them ([`FlowTable::evict`]).
    fn sweep_accounted(
        &mut self,
        open: usize,
        mut evicted: Vec<FlowRecord>,
        mut swept: Vec<FlowRecord>,
    ) {
        self.peak_open_flows = self.peak_open_flows.max(open);
        // `swept` comes merged in flow order (`merge_runs`); sorted only if it is not, which
        // stays as the guarantee (the standard sort moves short runs through scratch space
        // even when they are sorted). Flow ids are unique, so any sort orders alike.
        for records in [&mut evicted, &mut swept] {
            if !records.is_sorted_by_key(|r| r.flow_id) {
                records.sort_unstable_by_key(|r| r.flow_id);
            }
        }
        for record in evicted.into_iter().chain(swept) {
            self.flow_ended(record);
        }
    }
}

/// The datagram to hand on after `datagram` was put back together: itself, or (a
/// fragmented packet tunnelled inside it going back to the defragmenter) the one that
/// completes; `None` while held.
fn reassemble_nested(
    defrag: &mut Defragmenter,
    packet: &Packet<'_>,
    mut datagram: Reassembled,
) -> Option<Reassembled> {
    for _ in 0..MAX_NESTED_REASSEMBLY {
        let decoded = datagram.decode();
        if decoded.fragment.is_none() {
            return Some(datagram);
        }
        let wire_len = u32::try_from(datagram.wire_len).unwrap_or(u32::MAX);
        match defrag.push(packet.timestamp_ns, wire_len, &decoded) {
            Outcome::Held => return None,
            Outcome::PassOn => return Some(datagram),
            Outcome::Complete(inner) => datagram = inner,
        }
    }
    None
}

/// Tunnels nested inside a reassembled datagram that are themselves fragmented are reassembled
/// too, up to this depth (each round reaches one tunnel deeper, so it ends anyway).
const MAX_NESTED_REASSEMBLY: usize = 4;

/// The worker of a conversation: its lane's (see [`crate::flows::lanes`]).
fn worker_of(a: (IpAddr, u16), b: (IpAddr, u16), workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    worker_of_lane(crate::flows::lanes::lane_of(a, b), workers)
}

/// The worker of lane `lane` among `workers`.
fn worker_of_lane(lane: usize, workers: usize) -> usize {
    lane % workers.max(1)
}

/// One worker's part of a budget of `total` over all connections, split between `workers`.
fn budget_share(total: usize, workers: usize) -> usize {
    (total / workers.max(1)).max(1)
}

/// The total order of transactions: by start time, then by the work item whose handling
/// emitted them (the capture order, the same for every number of workers), then by `rank`:
/// the order the worker emitted them for work one worker does; for a sweep or the end of
/// the capture (which every worker does), the merger ranks them by connection or DNS
/// exchange (see [`Merger::rank_everywhere`]). Small and cheap to compare: the merger's heap
/// holds one per transaction waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OrderKey {
    start_ns: i64,
    item: u64,
    rank: u64,
}

/// Which exchange a transaction belongs to, for events emitted by work every worker does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Exchange {
    Http(u64),
    /// A generic request/response exchange: its connection.
    Tcp(u64),
    /// A TLS connection's row: its connection.
    Tls(u64),
    /// An HTTP/2 connection's figures: its connection.
    Http2(u64),
    Dns {
        transport: &'static str,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        id: u16,
    },
}

impl Exchange {
    fn of(event: &Event) -> Exchange {
        match event {
            Event::Http(t) => Exchange::Http(t.connection_id),
            Event::Tcp(t) => Exchange::Tcp(t.connection_id),
            Event::Tls(t) => Exchange::Tls(t.connection_id),
            Event::Http2(t) => Exchange::Http2(t.connection_id),
            Event::Dns(t) => Exchange::Dns {
                transport: t.transport,
                client: (t.client_ip, t.client_port),
                server: (t.server_ip, t.server_port),
                id: t.id,
            },
        }
    }
}

/// The item number of the end of the capture (after every other).
const FINISH_ITEM: u64 = u64::MAX;

/// One worker: reassembly and transactions for the connections dealt to it.
struct Shard {
    analyzer: TransactionAnalyzer,
    events: Vec<Event>,
    /// Emitted since the last epoch, keyed: by work only this worker did, and by work every
    /// worker did (to be ranked by the merger, which writes their rows).
    out: Vec<(OrderKey, Made)>,
    /// The rows [`Made::Row`] points into, for this epoch.
    row_bytes: Vec<u8>,
    everywhere: Vec<(OrderKey, Event)>,
    /// HTTP/2 connections' figures, which go out with their flow records, not in time order.
    figures: Vec<Http2Connection>,
    emitted: u64,
    /// Capacity `out` and `row_bytes` start each epoch with (see [`Shard::take_out`]).
    out_capacity: usize,
    row_bytes_capacity: usize,
    /// Bytes `out` holds outside `row_bytes` (rows of their own, events, records), this epoch.
    out_heap_bytes: usize,
    rows: RowWriting,
}

/// Writes rows where events become records ([`PassOptions::rows`]).
#[derive(Default)]
struct RowWriting {
    encoder: Option<RowEncoder>,
    /// Capacity a row starts with: the longest row so far (up to a bound), so a row is
    /// rarely copied while it grows.
    capacity: usize,
}

impl RowWriting {
    fn new(encoder: Option<RowEncoder>) -> Self {
        RowWriting {
            encoder,
            capacity: 0,
        }
    }

    /// `event` as a worker hands it over: its row appended to `bytes` (the worker's rows of
    /// the epoch) when there is an encoder that writes one. One buffer per epoch rather than
    /// one per row: rows allocated on a worker and freed on the merger's thread made the two
    /// threads wait on each other's allocator locks (~4,000 futex calls in a 1 M-packet pass).
    fn made(&self, event: Event, bytes: &mut Vec<u8>) -> Made {
        let Some(encoder) = &self.encoder else {
            return Made::Event(event);
        };
        let record = Record::from(event);
        // Past a bound, rows get a buffer each: the merger copies rows out while the epoch's
        // buffer is still whole, so a burst of rows (a capture's end flushing 250k unanswered
        // requests) would be held twice.
        let start = bytes.len();
        if (encoder.0)(&record, bytes) {
            if start < MAX_ROW_BYTES_CAPACITY {
                return Made::Row(start..bytes.len());
            }
            // Written here first so its own buffer is exactly as long as the row.
            let row = bytes[start..].to_vec();
            bytes.truncate(start);
            Made::Own(row)
        } else {
            bytes.truncate(start);
            Made::Record(Box::new(record))
        }
    }

    /// `event` as the merger will hold it (made on the merger's thread): its row when there
    /// is an encoder that writes one.
    fn hold(&mut self, event: Event) -> Held {
        let Some(encoder) = &self.encoder else {
            return Held::Event(event);
        };
        let record = Record::from(event);
        let mut row = Vec::with_capacity(self.capacity);
        if (encoder.0)(&record, &mut row) {
            self.capacity = self.capacity.max(row.len()).min(MAX_ROW_CAPACITY);
            Held::Row(row.into())
        } else {
            Held::Record(Box::new(record))
        }
    }
}

/// What a worker hands the merger for one record.
enum Made {
    Event(Event),
    /// The row [`PassOptions::rows`] wrote for it, at this range of [`ShardOut::rows`].
    Row(std::ops::Range<usize>),
    /// Its row in a buffer of its own (past [`MAX_ROW_BYTES_CAPACITY`] in one epoch).
    Own(Vec<u8>),
    /// A record the encoder wrote no row for.
    Record(Box<Record>),
}

/// What an event or a record the merger keeps as a struct holds on the heap, roughly (an
/// HTTP transaction: a 432-byte box and its strings), for [`ShardOut::bytes`].
const EVENT_HEAP_BYTES: usize = 512;

impl Made {
    /// Bytes it holds beside its place in [`ShardOut::events`] and the epoch's row buffer.
    #[inline(always)]
    fn heap_bytes(&self) -> usize {
        match self {
            Made::Row(_) => 0,
            Made::Own(row) => row.capacity(),
            Made::Event(_) | Made::Record(_) => EVENT_HEAP_BYTES,
        }
    }

    /// As the merger holds it: a row where its worker wrote it, in `rows` (the merger copies
    /// out those still held when the epoch's release is done: see [`Merger::take`]).
    fn held(self, rows: &Arc<Vec<u8>>) -> Held {
        match self {
            Made::Event(event) => Held::Event(event),
            Made::Row(range) => Held::Row(RowBytes::shared(rows, range)),
            Made::Own(row) => Held::Row(row.into()),
            Made::Record(record) => Held::Record(record),
        }
    }
}

/// What the merger holds for one record until its time comes.
enum Held {
    Event(Event),
    /// The row [`PassOptions::rows`] wrote for it.
    Row(RowBytes),
    /// A record the encoder wrote no row for.
    Record(Box<Record>),
}

impl Held {
    fn into_record(self) -> Record {
        match self {
            Held::Event(event) => Record::from(event),
            Held::Row(row) => Record::Row(row),
            Held::Record(record) => *record,
        }
    }
}

/// The most a row's first allocation reserves.
const MAX_ROW_CAPACITY: usize = 4096;

/// Events an emptied `out` keeps room for (an epoch has at most [`Front::EPOCH_ITEMS`] work
/// items; a few emit more than one event).
const MAX_OUT_CAPACITY: usize = 8192;

/// The most bytes of rows a worker writes into one epoch's buffer (a 4096-packet epoch of
/// small packets writes ~250 KB); more rows get buffers of their own.
const MAX_ROW_BYTES_CAPACITY: usize = 1 << 20;

/// What a worker hands the merger after one epoch.
struct ShardOut {
    events: Vec<(OrderKey, Made)>,
    /// The bytes of the rows in `events`.
    rows: Vec<u8>,
    everywhere: Vec<(OrderKey, Event)>,
    /// HTTP/2 connections' figures, in the order this worker emitted them.
    figures: Vec<Http2Connection>,
    /// Every transaction this worker emits later starts at or after this time.
    low_watermark_ns: Option<i64>,
    /// Memory this output holds (its buffers, rows and events), for the bound on what the
    /// workers hand over before the merger takes it ([`EpochOuts::wait_for_room`]).
    bytes: usize,
}

impl Shard {
    /// One of `workers`: the budgets over all connections are split evenly between them (as
    /// their lanes are), so the pass as a whole stays within them.
    fn new(options: &PassOptions, workers: usize) -> Self {
        let mut config = options.analyzer.clone();
        let share = |total: usize| budget_share(total, workers);
        config.max_reassembly_bytes = share(config.max_reassembly_bytes);
        config.max_pending_requests_total = share(config.max_pending_requests_total);
        let mut analyzer = TransactionAnalyzer::new(config);
        // The front keeps one sweep schedule for all workers.
        analyzer.sweep_by_caller();
        Shard {
            analyzer,
            events: Vec::new(),
            out: Vec::new(),
            everywhere: Vec::new(),
            figures: Vec::new(),
            emitted: 0,
            row_bytes: Vec::new(),
            out_capacity: 0,
            row_bytes_capacity: 0,
            out_heap_bytes: 0,
            rows: RowWriting::new(options.rows.clone()),
        }
    }

    /// Handles one epoch's batch (and, for the last, the end of the capture).
    fn process(&mut self, batch: &mut Batch<'_>, file: Option<&MappedBytes>) -> ShardOut {
        // Items are read where they lie (moving each 40-byte item out cost more); they are
        // dropped together when `run_taken` clears the batch.
        for work in &mut batch.items {
            match work {
                Work::Packet {
                    item,
                    flow_id,
                    new_connection,
                    copied,
                } => {
                    let CopiedHeaders {
                        timestamp_ns,
                        endpoints,
                        transport,
                        payload,
                    } = &batch.copied[*copied as usize];
                    let bytes = match payload {
                        PayloadAt::Batch(range) => &batch.arena[range.clone()],
                        PayloadAt::File(range) => match file {
                            Some(file) => &file.bytes()[range.clone()],
                            None => &[],
                        },
                    };
                    let transport = match *transport {
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
                    self.packet(
                        *item,
                        *timestamp_ns,
                        *flow_id,
                        *new_connection,
                        *endpoints,
                        &transport,
                    );
                }
                Work::Chunked {
                    item,
                    flow_id,
                    new_connection,
                    chunk,
                    step,
                } => {
                    let step = &batch.chunks[*chunk as usize].steps[*step as usize];
                    // The dealer dealt it for having IP endpoints.
                    if let Some(endpoints) = step.decoded.ip_endpoints() {
                        self.packet(
                            *item,
                            step.packet.timestamp_ns,
                            *flow_id,
                            *new_connection,
                            endpoints,
                            &step.decoded.transport,
                        );
                    }
                }
                Work::FlowEnd { item, flow_id } => self.flow_end(*item, *flow_id),
                Work::Sweep { item, now_ns } => self.sweep(*item, *now_ns),
                Work::TlsSecrets(keys) => self.analyzer.set_tls_keys(std::mem::take(keys)),
            }
        }
        if batch.last {
            self.finish();
        }
        self.take_out()
    }

    fn packet(
        &mut self,
        item: u64,
        timestamp_ns: i64,
        flow_id: u64,
        new_connection: Option<[u32; 2]>,
        endpoints: (IpAddr, IpAddr),
        transport: &Transport<'_>,
    ) {
        if let Some(seen) = new_connection {
            self.analyzer.hint_new_connection(flow_id, seen);
        }
        self.analyzer.on_transport(
            timestamp_ns,
            flow_id,
            Some(endpoints),
            transport,
            &mut self.events,
        );
        self.collect(item, false);
    }

    fn flow_end(&mut self, item: u64, flow_id: u64) {
        self.analyzer.on_flow_end(flow_id, &mut self.events);
        self.collect(item, false);
    }

    fn sweep(&mut self, item: u64, now_ns: i64) {
        self.analyzer.sweep_now(now_ns, &mut self.events);
        self.collect(item, true);
    }

    fn finish(&mut self) {
        self.analyzer.finish(&mut self.events);
        self.collect(FINISH_ITEM, true);
    }

    /// What this worker emitted since the last call, and its watermark.
    fn take_out(&mut self) -> ShardOut {
        // Start the next epoch at the most an epoch emitted so far (up to a bound), not at
        // nothing or at this one's length, so events (hundreds of bytes each) are rarely
        // copied again while the vector doubles.
        self.out_capacity = self.out_capacity.max(self.out.len()).min(MAX_OUT_CAPACITY);
        self.row_bytes_capacity =
            (self.row_bytes_capacity.max(self.row_bytes.len())).min(MAX_ROW_BYTES_CAPACITY);
        let capacity = self.out_capacity;
        let row_bytes = Vec::with_capacity(self.row_bytes_capacity);
        let bytes = std::mem::take(&mut self.out_heap_bytes)
            + self.row_bytes.capacity()
            + self.out.capacity() * std::mem::size_of::<(OrderKey, Made)>()
            + self.everywhere.capacity() * std::mem::size_of::<(OrderKey, Event)>();
        ShardOut {
            bytes,
            events: std::mem::replace(&mut self.out, Vec::with_capacity(capacity)),
            rows: std::mem::replace(&mut self.row_bytes, row_bytes),
            everywhere: std::mem::take(&mut self.everywhere),
            figures: std::mem::take(&mut self.figures),
            low_watermark_ns: self.analyzer.low_watermark_ns(),
        }
    }

    /// Keys the events the last piece of work emitted; `everywhere`: every worker did it.
    fn collect(&mut self, item: u64, everywhere: bool) {
        // Most packets emit nothing.
        if self.events.is_empty() {
            return;
        }
        for event in self.events.drain(..) {
            let event = match event {
                Event::Http2(figures) => {
                    self.figures.push(*figures);
                    continue;
                }
                event => event,
            };
            let key = OrderKey {
                start_ns: event_start_ns(&event),
                item,
                rank: self.emitted,
            };
            self.emitted += 1;
            if everywhere {
                self.out_heap_bytes += EVENT_HEAP_BYTES;
                self.everywhere.push((key, event));
            } else {
                let made = self.rows.made(event, &mut self.row_bytes);
                self.out_heap_bytes += made.heap_bytes();
                self.out.push((key, made));
            }
        }
    }
}

/// Where records go; `Break` stops the pass.
type Sink<'s> = dyn FnMut(Record) -> ControlFlow<()> + 's;

/// Puts the workers' transactions back in one time order and hands records to the sink.
struct Merger {
    emit_flows: bool,
    heap: BinaryHeap<Reverse<(OrderKey, usize)>>,
    /// Finished records held for their time order at most (see [`Merger::release_early`]).
    max_held: usize,
    /// The most held at once; how many went out early, and how many were written after a
    /// later one.
    peak_held: usize,
    released_early: u64,
    out_of_order: u64,
    /// The latest key written so far.
    last_written: Option<OrderKey>,
    /// HTTP/2 connections' figures waiting for their flow records, by connection.
    figures: BTreeMap<u64, Http2Connection>,
    slots: Vec<Option<Held>>,
    /// Slots given this epoch a row still in its worker's buffer ([`RowBytes`]).
    shared_rows: Vec<usize>,
    /// Writes the rows of the events every worker made.
    rows: RowWriting,
    free: Vec<usize>,
    /// The sink asked to stop: nothing more is emitted.
    stopped: bool,
}

impl Merger {
    fn new(emit_flows: bool, rows: Option<RowEncoder>, max_held: usize) -> Self {
        Merger {
            emit_flows,
            heap: BinaryHeap::new(),
            max_held: max_held.max(1),
            peak_held: 0,
            released_early: 0,
            out_of_order: 0,
            last_written: None,
            figures: BTreeMap::new(),
            slots: Vec::new(),
            shared_rows: Vec::new(),
            rows: RowWriting::new(rows),
            free: Vec::new(),
            stopped: false,
        }
    }

    /// Takes one epoch: the flows that ended, then every transaction no transaction still in
    /// progress can precede. `Break` once the sink stopped the pass.
    fn epoch(&mut self, epoch: Epoch, outs: Vec<ShardOut>, emit: &mut Sink<'_>) -> ControlFlow<()> {
        let flow = self.take(epoch, outs, emit);
        self.stopped = flow.is_break();
        flow
    }

    fn take(
        &mut self,
        epoch: Epoch,
        mut outs: Vec<ShardOut>,
        emit: &mut Sink<'_>,
    ) -> ControlFlow<()> {
        for out in &mut outs {
            for figures in out.figures.drain(..) {
                // A connection's later figures (its analysis was given up and began again)
                // replace the earlier ones.
                self.figures.insert(figures.connection_id, figures);
            }
        }
        self.flows_and_figures(epoch.flows, epoch.last, emit)?;
        let mut watermark = epoch.now_ns;
        let mut everywhere = Vec::new();
        for out in outs {
            if let Some(low) = out.low_watermark_ns {
                watermark = watermark.min(low);
            }
            everywhere.extend(out.everywhere);
            let rows = Arc::new(out.rows);
            self.hold(
                out.events
                    .into_iter()
                    .map(|(key, made)| (key, made.held(&rows))),
            );
        }
        Self::rank_everywhere(&mut everywhere);
        let everywhere: Vec<_> = everywhere
            .into_iter()
            .map(|(key, event)| (key, self.rows.hold(event)))
            .collect();
        self.hold(everywhere);
        if epoch.last {
            // Everything is finished: release it all.
            watermark = i64::MAX;
        }
        self.peak_held = self.peak_held.max(self.heap.len());
        while let Some(Reverse((key, _))) = self.heap.peek() {
            if key.start_ns > watermark {
                break;
            }
            self.release_first(emit)?;
        }
        self.release_early(emit)?;
        // Rows that wait for a later epoch get buffers of their own, so a worker's buffer of
        // one epoch's rows is freed with the epoch, not kept whole for one row held long.
        for slot in self.shared_rows.drain(..) {
            if let Some(Held::Row(row)) = &mut self.slots[slot] {
                row.own();
            }
        }
        ControlFlow::Continue(())
    }

    /// A transaction in progress for long (a response still streaming, a request never
    /// answered on a busy connection) holds back every later one. Past `max_held` records
    /// waiting, the earliest go out anyway, and the report counts those written after a
    /// later one. The heap holds the same records at each epoch's end for every number of
    /// workers, so this happens at the same records too.
    fn release_early(&mut self, emit: &mut Sink<'_>) -> ControlFlow<()> {
        while self.heap.len() > self.max_held {
            self.released_early += 1;
            self.release_first(emit)?;
        }
        ControlFlow::Continue(())
    }

    /// The flows that ended, each just after its HTTP/2 figures (when there are any):
    /// figures wait for their flow's record, so they hold back no row. Without flow
    /// records, figures go out as their connections end, by connection.
    fn flows_and_figures(
        &mut self,
        flows: Vec<FlowRecord>,
        last: bool,
        emit: &mut Sink<'_>,
    ) -> ControlFlow<()> {
        if self.emit_flows {
            for record in flows {
                if let Some(figures) = self.figures.remove(&record.flow_id) {
                    emit(Record::Http2(figures))?;
                }
                emit(Record::Flow(record))?;
            }
        }
        if !self.emit_flows || last {
            for (_, figures) in std::mem::take(&mut self.figures) {
                emit(Record::Http2(figures))?;
            }
        }
        ControlFlow::Continue(())
    }

    /// Writes the earliest record held.
    fn release_first(&mut self, emit: &mut Sink<'_>) -> ControlFlow<()> {
        let Some(Reverse((key, slot))) = self.heap.pop() else {
            return ControlFlow::Continue(());
        };
        match self.last_written {
            Some(last) if key < last => self.out_of_order += 1,
            _ => self.last_written = Some(key),
        }
        match self.slots[slot].take() {
            Some(held) => {
                self.free.push(slot);
                emit(held.into_record())
            }
            None => ControlFlow::Continue(()),
        }
    }

    /// The warning of a pass whose records were not all written in time order.
    fn warning(&self) -> Option<String> {
        (self.released_early > 0).then(|| {
            let (n, was) = match self.out_of_order {
                1 => ("1 row".to_string(), "was"),
                n => (format!("{n} rows"), "were"),
            };
            format!(
                "the held-rows budget (--max-held-rows {}) was reached: rows waited behind a \
                 transaction in progress for long, and {n} {was} written after a row that \
                 starts later",
                self.max_held
            )
        })
    }
}

impl Merger {
    /// Keeps events until the watermark passes them.
    fn hold(&mut self, events: impl IntoIterator<Item = (OrderKey, Held)>) {
        for (key, event) in events {
            let shared = matches!(&event, Held::Row(row) if row.is_shared());
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
            if shared {
                self.shared_rows.push(slot);
            }
            self.heap.push(Reverse((key, slot)));
        }
    }

    /// Ranks the events of work every worker did (sweeps, the end of the capture; each such
    /// piece of work falls in one epoch): by start, work item, then exchange, which does not
    /// depend on the dealing; the worker's own order only among events of one exchange, which
    /// all come from one worker.
    fn rank_everywhere(events: &mut [(OrderKey, Event)]) {
        if events.is_empty() {
            return;
        }
        events.sort_by_cached_key(|(key, event)| {
            (key.start_ns, key.item, Exchange::of(event), key.rank)
        });
        for (rank, (key, _)) in events.iter_mut().enumerate() {
            key.rank = rank as u64;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::lanes::LANES;

    #[test]
    fn what_a_worker_hands_over_and_the_merger_holds_stays_small() {
        // A burst of rows (a capture's end flushing every unanswered request) is held as
        // hundreds of thousands of these: a DNS or TCP row inside the event made each ~190
        // bytes, and the no-responses hostile trace took 150 MiB more.
        let sizes = [
            std::mem::size_of::<Event>(),
            std::mem::size_of::<Made>(),
            std::mem::size_of::<Option<Held>>(),
        ];
        assert!(
            sizes[0] <= 16 && sizes[1] <= 32 && sizes[2] <= 32,
            "{sizes:?}"
        );
        // Each packet dealt to a worker is one of these, written by the front and read on
        // another core; the split front's dealer writes one a packet. The copied headers of
        // a `Work::Packet` lie beside (its IP endpoints, not both decoded network headers).
        let (work, copied) = (size_of::<Work>(), size_of::<CopiedHeaders>());
        assert!(work <= 40 && copied <= 128, "{work} {copied}");
    }

    #[test]
    fn flows_swept_by_several_flow_threads_come_out_merged_in_flow_order() {
        let record = |flow_id: u64| {
            let (client, server) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
            FlowRecord::opened(flow_id, "tcp".into(), (client, 40000), (server, 80), 0)
        };
        // Each thread's flows in its (the pass's) flow order, the slot beside each.
        let run =
            |ids: &[u64]| -> Ended { ids.iter().map(|&id| (id as usize, record(id))).collect() };
        let merged = merge_runs(vec![
            run(&[2, 3, 9, 10]),
            run(&[]),
            run(&[0, 4, 11]),
            run(&[1, 5, 6, 7, 8, 12]),
        ]);
        let ids: Vec<u64> = merged.iter().map(|r| r.flow_id).collect();
        assert_eq!(ids, (0..=12).collect::<Vec<u64>>());
        assert!(merge_runs(Vec::new()).is_empty());
        let one: Vec<u64> = merge_runs(vec![run(&[3, 7])])
            .iter()
            .map(|r| r.flow_id)
            .collect();
        assert_eq!(one, [3, 7]);
    }

    #[test]
    fn a_panic_in_a_shards_batch_hangs_up_on_the_merger_instead_of_leaving_it_waiting() {
        let options = PassOptions::default();
        let pool = ShardPool::new(vec![Shard::new(&options, 2), Shard::new(&options, 2)]);
        let (to_merger, from_shards) = std::sync::mpsc::channel();
        let outs = EpochOuts::new(2, to_merger, usize::MAX);
        std::thread::scope(|scope| {
            let failed = scope.spawn(|| {
                let _guard = HangUpOnPanic {
                    pool: &pool,
                    outs: &outs,
                };
                panic!("a bug in an analyzer");
            });
            let waited = from_shards.recv_timeout(std::time::Duration::from_secs(10));
            assert!(matches!(
                waited,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
            ));
            assert!(failed.join().is_err());
        });
        assert!(pool.take(&|| false).is_none(), "the pool stopped");
        // Without a panic the guard does nothing.
        let (to_merger, from_shards) = std::sync::mpsc::channel();
        let outs = EpochOuts::new(1, to_merger, usize::MAX);
        drop(HangUpOnPanic {
            pool: &ShardPool::new(vec![Shard::new(&options, 1)]),
            outs: &outs,
        });
        assert!(outs.send(0, Shard::new(&options, 1).take_out()));
        assert_eq!(from_shards.try_recv().map(|outs| outs.len()), Ok(1));
    }

    #[test]
    fn after_a_heavy_epoch_the_dealer_waits_until_the_merger_took_every_epoch_dealt() {
        let options = PassOptions::default();
        let (to_merger, from_shards) = std::sync::mpsc::channel();
        let outs = EpochOuts::new(1, to_merger, 100);
        let out = |bytes| ShardOut {
            bytes,
            ..Shard::new(&options, 1).take_out()
        };
        // The first epoch goes alone: its weight is not known yet.
        assert!(outs.room_now(0));
        assert!(!outs.room_now(1));
        assert!(outs.send(0, out(0)));
        outs.took(0);
        // Light outputs: no waiting, whatever was dealt.
        assert!(outs.send(0, out(60)));
        assert!(outs.room_now(3));
        assert!(outs.send(0, out(60)));
        assert!(!outs.room_now(3), "120 bytes not taken, over 100");
        outs.took(60);
        assert!(outs.room_now(3), "a light epoch taken: 60 bytes left");
        outs.took(60);
        // A heavy epoch: once taken, room only when every epoch dealt was taken.
        assert!(outs.send(0, out(150)));
        assert!(!outs.room_now(3));
        outs.took(150);
        assert!(outs.room_now(4), "4 dealt, 4 taken");
        assert!(!outs.room_now(5), "5 dealt, 4 taken after a heavy one");
        std::thread::scope(|scope| {
            let dealer = scope.spawn(|| outs.wait_for_room(5));
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!dealer.is_finished(), "the dealer waits for the merger");
            assert!(outs.send(0, out(10)));
            outs.took(10);
            dealer.join().unwrap();
        });
        assert!(
            outs.room_now(9),
            "a light epoch taken ends the waiting after a heavy one"
        );
        assert_eq!(from_shards.try_iter().count(), 5);
        // A merger that hung up (the pass stopped) never keeps the dealer waiting.
        assert!(outs.send(0, out(1000)));
        assert!(!outs.room_now(9));
        outs.hang_up();
        assert!(outs.room_now(9));
        outs.wait_for_room(9);
    }

    #[test]
    fn lanes_and_budgets_are_split_evenly() {
        let lanes_of = |worker, workers| {
            (0..LANES)
                .filter(|&lane| worker_of_lane(lane, workers) == worker)
                .count()
        };
        assert_eq!(lanes_of(0, 2), LANES / 2);
        let pooled = shard_count(2);
        assert_eq!(pooled, 8);
        assert_eq!(lanes_of(5, pooled), LANES / pooled);
        assert_eq!(lanes_of(2, 3), LANES / 3);
        for total in [1, 5000, 4 << 20, 256 << 20] {
            assert_eq!(budget_share(total, 2), (total / 2).max(1));
            assert!(budget_share(total, pooled) * pooled <= total.max(pooled));
        }
    }

    #[test]
    fn rows_go_out_from_their_workers_buffer_and_rows_held_longer_get_their_own() {
        let mut merger = Merger::new(false, None, 1000);
        let key = |start_ns, item| OrderKey {
            start_ns,
            item,
            rank: item,
        };
        let out = ShardOut {
            events: vec![
                (key(10, 1), Made::Row(0..6)),
                (key(30, 2), Made::Row(6..14)),
            ],
            rows: b"first\nheld on\n".to_vec(),
            everywhere: Vec::new(),
            figures: Vec::new(),
            low_watermark_ns: Some(20),
            bytes: 14,
        };
        let epoch = |now_ns, last| Epoch {
            flows: Vec::new(),
            now_ns,
            last,
        };
        let mut written = Vec::new();
        let mut emit = |record: Record| {
            if let Record::Row(row) = record {
                written.push(String::from_utf8(row.to_vec()).unwrap());
            }
            ControlFlow::Continue(())
        };
        let _ = merger.epoch(epoch(40, false), vec![out], &mut emit);
        // The row starting after the worker's low watermark waits, copied out of the buffer.
        let held: Vec<_> = merger.slots.iter().flatten().collect();
        assert!(
            matches!(held[..], [Held::Row(ref row)] if !row.is_shared() && **row == *b"held on\n"),
            "{}",
            held.len()
        );
        let _ = merger.epoch(epoch(50, true), Vec::new(), &mut emit);
        assert_eq!(written, ["first\n", "held on\n"]);
    }
}

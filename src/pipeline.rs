//! One pass over a capture, wiring capture -> decode -> flows -> analyzers.
//!
//! Commands describe what they need in [`PassOptions`]; [`analyze_file`] reads the file once
//! and hands every result to a callback as soon as it is final, so memory follows the flows
//! and transactions open at once, not the size of the file. HTTP and DNS rows come out in
//! time order of their first byte: finished transactions wait in a small heap until no
//! transaction still in progress can start earlier.

use crate::analyzers::{
    AnalyzerConfig, AnalyzerStats, DnsTransaction, Event, HttpTransaction, TransactionAnalyzer,
};
use crate::capture::{CaptureError, CaptureFormat, CaptureReader, Compression};
use crate::decode::decode;
use crate::flows::{scapy, FlowRecord, FlowTable, ProtocolCounts};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
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
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    pub analyzer: AnalyzerConfig,
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
    pub counts: ProtocolCounts,
    /// Damage and truncation found after the header (the analysis covers data before it).
    pub warnings: Vec<String>,
    /// Scapy session key -> packets (when requested).
    pub scapy_sessions: BTreeMap<String, u64>,
    pub analyzer: AnalyzerStats,
    /// Largest number of flows open at once (memory follows this).
    pub peak_open_flows: usize,
}

/// How long (capture time) a closed TCP flow is kept for stray packets, and how long an idle
/// flow lives, in streaming mode.
const CLOSED_LINGER_NS: i64 = 10_000_000_000;
const EVICT_EVERY_PACKETS: u64 = 1 << 16;

/// Reads one capture and streams its records to `emit`. An unreadable file is an `Err`;
/// damage later in the file ends the pass early with a warning in the report.
pub fn analyze_file(
    path: &Path,
    options: &PassOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<FileReport, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut report = FileReport {
        file: reader.name().to_string(),
        format: Some(reader.format()),
        compression: Some(reader.compression()),
        ..Default::default()
    };
    let progress = options
        .progress
        .then(|| crate::report::progress::bar_for(path))
        .flatten();

    // Flows are needed for transactions too (they assign connection ids).
    let want_flows = options.flows || options.transactions;
    let mut flows = FlowTable::new(false);
    let mut analyzer = options
        .transactions
        .then(|| TransactionAnalyzer::new(options.analyzer.clone()));
    let mut events: Vec<Event> = Vec::new();
    let mut ordered = TimeOrderedQueue::default();
    let mut packets: u64 = 0;
    let mut now_ns = i64::MIN;

    loop {
        let packet = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(err) => {
                report.warnings.push(err.to_string());
                break;
            }
        };
        packets += 1;
        now_ns = now_ns.max(packet.timestamp_ns);
        let decoded = decode(packet.link_type, packet.data);
        report.counts.add(&packet, &decoded);
        if options.scapy_keys {
            let key = scapy::session_key(&decoded);
            *report.scapy_sessions.entry(key).or_default() += 1;
        }
        if want_flows {
            if let Some(update) = flows.on_packet(&packet, &decoded) {
                if let Some(analyzer) = analyzer.as_mut() {
                    analyzer.on_packet(packet.timestamp_ns, update.flow_id, &decoded, &mut events);
                }
            }
        }
        if packets.is_multiple_of(EVICT_EVERY_PACKETS) {
            if want_flows {
                report.peak_open_flows = report.peak_open_flows.max(flows.open_flows());
                let idle = options.analyzer.idle_timeout_ns;
                for record in flows.evict(now_ns, CLOSED_LINGER_NS, idle) {
                    if let Some(analyzer) = analyzer.as_mut() {
                        analyzer.on_flow_end(record.flow_id, &mut events);
                    }
                    if options.flows {
                        emit(Record::Flow(record));
                    }
                }
            }
            if let Some(bar) = &progress {
                bar.set_position(reader.position());
            }
        }
        if !events.is_empty() || (analyzer.is_some() && packets.is_multiple_of(1024)) {
            ordered.extend(events.drain(..));
            let watermark = analyzer
                .as_ref()
                .and_then(|a| a.low_watermark_ns())
                .unwrap_or(i64::MAX)
                .min(now_ns);
            ordered.release(watermark, emit);
        }
    }

    report.peak_open_flows = report.peak_open_flows.max(flows.open_flows());
    let mut remaining = flows.finish_open();
    remaining.sort_by_key(|r| r.flow_id);
    for record in remaining {
        if let Some(analyzer) = analyzer.as_mut() {
            analyzer.on_flow_end(record.flow_id, &mut events);
        }
        if options.flows {
            emit(Record::Flow(record));
        }
    }
    if let Some(analyzer) = analyzer.as_mut() {
        analyzer.finish(&mut events);
        report.analyzer = analyzer.stats().clone();
    }
    ordered.extend(events.drain(..));
    ordered.release(i64::MAX, emit);
    report
        .warnings
        .extend(reader.warnings().iter().map(|w| w.to_string()));
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(report)
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

    fn release(&mut self, watermark: i64, emit: &mut dyn FnMut(Record)) {
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
                });
            }
        }
    }
}

fn event_start_ns(event: &Event) -> i64 {
    match event {
        Event::Http(t) => t
            .request_first_ns
            .or(t.response_first_ns)
            .unwrap_or(i64::MIN),
        Event::Dns(t) => t.query_ns.or(t.response_ns).unwrap_or(i64::MIN),
    }
}

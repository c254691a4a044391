//! The flow table split over threads: each flow thread holds the parts `part % threads ==
//! thread` of the table (see [`crate::flows::table::MAX_PARTS`]) and accounts the packets of
//! their flows, chunk after chunk in capture order, ahead of the dealer. The dealer then only
//! numbers the flows (in order of first packet over all threads, as one table does) and deals.
//!
//! A part's work depends on its own flows alone (its budget too), so the threads' tables end,
//! evict and sweep exactly the flows one table would. What ties them together is handed to
//! the dealer with each chunk: per packet the thread's update (its own flow numbers, and the
//! slot the flow has), the flows evicted for room at that packet, and at every sweep point
//! the flows swept and the open count. The dealer follows each thread's flows by slot: a
//! flow's number is looked up by the slot it holds, and flows evicted at a packet are
//! numbered before a new flow of that packet can take their slot.

use super::{Chunk, Forward, PassOptions, CLOSED_LINGER_NS, EVICT_EVERY_PACKETS};
use crate::capture::{LinkType, Packet};
use crate::decode::Transport;
use crate::flows::{FlowKeyed, FlowRecord, FlowTable, FlowUpdate};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

/// What the dealer sends each flow thread.
pub(super) enum ToFlows<'f> {
    /// The next chunk in capture order (shared by every flow thread and, after, the dealer).
    Chunk(Arc<Chunk<'f>>),
    /// The capture ended: end the flows still open.
    Finish,
}

/// A packet the flow table accepted: its update (with the thread's flow numbers) and, when
/// the step's own packet goes to a worker (TCP or UDP between IP endpoints), its payload's
/// length, worked out here so that the dealer need not read the packet's headers.
pub(super) type Accounted = (FlowUpdate, Option<u32>);

/// One flow thread's part of a chunk, by index of the step in the chunk.
#[derive(Default)]
pub(super) struct FlowWork {
    /// The packets of its flows.
    pub updates: Vec<(u32, Accounted)>,
    /// Flows evicted for room while accounting a packet: slot and record.
    pub evicted: Vec<(u32, usize, FlowRecord)>,
    /// At each sweep point: the flows open before it and those it ended.
    pub sweeps: Vec<SweepAt>,
}

/// Flows a table ended, each with the slot it had.
pub(super) type Ended = Vec<(usize, FlowRecord)>;

/// A sweep point (index of the step), the flows open before it, and those it ended.
pub(super) type SweepAt = (u32, usize, Ended);

/// What a flow thread answers.
pub(super) enum FromFlows {
    Chunk(FlowWork),
    /// After [`ToFlows::Finish`]: the flows evicted for room since the last packet's answer
    /// (none), the open count, and the open flows ended (slot, record).
    Finished {
        open: usize,
        ended: Ended,
    },
}

/// The packet and flow key a step hands the flow table, if any: the step's own, or the
/// datagram its fragment completed.
#[inline(always)]
pub(super) fn flow_input<'c>(
    chunk: &'c Chunk<'_>,
    step: &'c super::Step<'_>,
) -> Option<(Packet<'c>, FlowKeyed)> {
    let keyed = step.keyed?;
    match step.forward {
        Forward::None => None,
        Forward::Step => Some((step.packet, keyed)),
        Forward::Datagram(at) => {
            let datagram = &chunk.reassembled[at];
            Some((rebuilt_packet(&step.packet, datagram), keyed))
        }
    }
}

/// The payload length of a step's own packet when the dealer hands it to a worker: TCP or
/// UDP between IP endpoints (a datagram its fragment completed is the dealer's to look at).
fn dealt_payload(step: &super::Step<'_>) -> Option<u32> {
    if !matches!(step.forward, Forward::Step) || !step.decoded.has_ip_endpoints() {
        return None;
    }
    let payload = match &step.decoded.transport {
        Transport::Tcp(t) => t.payload,
        Transport::Udp(u) => u.payload,
        _ => return None,
    };
    Some(payload.len() as u32)
}

/// A datagram rebuilt from fragments as a frame of its own: raw IP, dated by the fragment
/// that completed it, its wire length that of all its fragments.
pub(super) fn rebuilt_packet<'d>(
    completing: &Packet<'_>,
    datagram: &'d crate::decode::defrag::Reassembled,
) -> Packet<'d> {
    Packet {
        timestamp_ns: completing.timestamp_ns,
        link_type: LinkType::RAW,
        original_len: u32::try_from(datagram.wire_len).unwrap_or(u32::MAX),
        interface_id: completing.interface_id,
        data: datagram.datagram(),
    }
}

/// Flow thread `thread` of `threads`: accounts the packets of its parts' flows, chunk after
/// chunk, until the dealer hangs up; gives back its table (for its eviction count).
pub(super) fn run_flow_thread(
    thread: usize,
    threads: usize,
    options: &PassOptions,
    chunks: &Receiver<ToFlows<'_>>,
    answers: &SyncSender<FromFlows>,
) -> FlowTable {
    let mut table = FlowTable::new(false)
        .with_max_flows(options.analyzer.max_flows)
        .with_lanes();
    let want_flows = options.flows || options.transactions;
    // Packets go to workers only when the pass has transactions.
    let deals = options.transactions;
    let idle_ns = options.analyzer.idle_timeout_ns;
    while let Ok(message) = chunks.recv() {
        let answer = match message {
            ToFlows::Chunk(chunk) => {
                let mut work = FlowWork::default();
                for (at, step) in chunk.steps.iter().enumerate() {
                    let at = at as u32;
                    // Another thread's part: nothing to build for it.
                    let mine = usize::from(step.part) % threads == thread;
                    if let Some((packet, keyed)) = mine.then(|| flow_input(&chunk, step)).flatten()
                    {
                        if let Some(update) = table.on_keyed(&packet, &keyed) {
                            let payload = deals.then(|| dealt_payload(step)).flatten();
                            work.updates.push((at, (update, payload)));
                        }
                        if table.evicted_waiting() > 0 {
                            let evicted = table.take_evicted();
                            work.evicted
                                .extend(evicted.map(|(slot, record)| (at, slot, record)));
                        }
                    }
                    if want_flows && step.packets.is_multiple_of(EVICT_EVERY_PACKETS) {
                        let open = table.open_flows();
                        let swept = table.sweep(step.now_ns, CLOSED_LINGER_NS, idle_ns);
                        work.sweeps.push((at, open, swept));
                    }
                }
                // Let go of the chunk before answering: the dealer takes it back whole.
                drop(chunk);
                FromFlows::Chunk(work)
            }
            ToFlows::Finish => FromFlows::Finished {
                open: table.open_flows(),
                ended: table.end_open(),
            },
        };
        if answers.send(answer).is_err() {
            break;
        }
    }
    table
}

/// The dealer's side: numbers the threads' flows in order of first packet and follows them
/// by slot.
pub(super) struct Numbering {
    /// Per thread, the flow id of the flow in each slot.
    ids: Vec<Vec<u64>>,
    next_id: u64,
}

impl Numbering {
    pub fn new(threads: usize) -> Self {
        Numbering {
            ids: vec![Vec::new(); threads],
            next_id: 0,
        }
    }

    /// Thread `thread`'s update with the pass's flow id (a new flow takes the next one).
    #[inline(always)]
    pub fn number(&mut self, thread: usize, mut update: FlowUpdate) -> FlowUpdate {
        let ids = &mut self.ids[thread];
        if update.is_new {
            if ids.len() <= update.slot {
                ids.resize(update.slot + 1, 0);
            }
            ids[update.slot] = self.next_id;
            update.flow_id = self.next_id;
            self.next_id += 1;
        } else {
            update.flow_id = ids.get(update.slot).copied().unwrap_or_default();
        }
        update
    }

    /// A record thread `thread` ended from `slot`, with the pass's flow id.
    pub fn record(&self, thread: usize, slot: usize, mut record: FlowRecord) -> FlowRecord {
        record.flow_id = self.id(thread, slot);
        record
    }

    /// The pass's flow id of the flow thread `thread` holds in `slot`.
    pub fn id(&self, thread: usize, slot: usize) -> u64 {
        self.ids[thread].get(slot).copied().unwrap_or_default()
    }
}

//! The conversation table: one entry per bidirectional flow, keyed by protocol and the two
//! endpoints in canonical order, with per-direction counters and TCP state.

use super::FlowRecord;
use crate::capture::Packet;
use crate::decode::{Decoded, Network, TcpFlags, Transport};
use compact_str::CompactString;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A flow's identity: the protocol and its two endpoints, the lower first. Addresses are
/// 128-bit numbers and the small fields share one word, so hashing a key is five words and
/// comparing it five word compares (an `IpAddr` pair hashed and compared field by field cost
/// about a third of the table's time per packet). The ports sit in the word's top bits: the
/// table's hasher must mix them down (foldhash's `quality` does; FxHash did not, see the
/// tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    low_addr: u128,
    high_addr: u128,
    /// Low port, high port, protocol and whether the addresses are IPv6 (an IPv4 address
    /// and an IPv6 one with the same number are different endpoints).
    ports_protocol: u64,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst` (address numbers, see [`address_number`]),
    /// and whether `src` is the lower endpoint.
    #[inline]
    fn of(protocol: u8, ipv6: bool, src: (u128, u16), dst: (u128, u16)) -> (FlowKey, bool) {
        // Spelled out: comparing the (u128, u16) tuples cost ~25 instructions a packet.
        let src_is_low = src.0 < dst.0 || (src.0 == dst.0 && src.1 <= dst.1);
        let (low, high) = if src_is_low { (src, dst) } else { (dst, src) };
        let key = FlowKey {
            low_addr: low.0,
            high_addr: high.0,
            ports_protocol: u64::from(low.1) << 48
                | u64::from(high.1) << 32
                | u64::from(protocol) << 8
                | u64::from(ipv6),
        };
        (key, src_is_low)
    }

    /// The protocol and whether the addresses are IPv6, as [`FlowKey::of`] put them.
    #[inline]
    fn protocol(&self) -> (u8, bool) {
        (
            (self.ports_protocol >> 8) as u8,
            self.ports_protocol & 1 == 1,
        )
    }

    /// The source and destination (address number, port) of a packet whose source is the
    /// lower endpoint or not, as [`FlowKey::of`] said.
    #[inline]
    fn endpoints(&self, src_is_low: bool) -> (u128, u16, u128, u16) {
        let low = (self.low_addr, (self.ports_protocol >> 48) as u16);
        let high = (self.high_addr, (self.ports_protocol >> 32) as u16);
        let ((src, sport), (dst, dport)) = if src_is_low { (low, high) } else { (high, low) };
        (src, sport, dst, dport)
    }

    /// Both endpoints are the same address and port (a packet to itself).
    fn one_endpoint(&self) -> bool {
        self.low_addr == self.high_addr
            && (self.ports_protocol >> 48) == (self.ports_protocol >> 32) & 0xffff
    }
}

/// An address back from its number.
fn ip_addr(number: u128, ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::from_bits(number))
    } else {
        IpAddr::V4(Ipv4Addr::from_bits(number as u32))
    }
}

/// The innermost IP header's source and destination as numbers (in the order `IpAddr`
/// sorts addresses of one family), and whether they are IPv6. Read straight from the header
/// summary: going through `IpAddr` cost a copy and a conversion of each address per packet.
#[inline]
fn address_numbers(decoded: &Decoded<'_>) -> Option<(u128, u128, bool)> {
    match decoded.inner_network.as_ref().unwrap_or(&decoded.network) {
        Network::Ipv4(ip) => Some((
            u128::from(ip.src.to_bits()),
            u128::from(ip.dst.to_bits()),
            false,
        )),
        Network::Ipv6(ip) => Some((ip.src.to_bits(), ip.dst.to_bits(), true)),
        _ => None,
    }
}

/// What the flow table needs of a packet, worked out from its decoded headers alone, so
/// that a decoding thread can do it off the dealer's thread ([`FlowTable::on_keyed`]).
#[derive(Debug, Clone, Copy)]
pub struct FlowKeyed {
    key: FlowKey,
    src_is_low: bool,
    tcp_flags: Option<TcpFlags>,
    /// Payload bytes on the wire, snapshot-cut ones included.
    payload: u64,
}

impl FlowKeyed {
    /// `None` for a packet without IP.
    #[inline(always)]
    pub fn of(decoded: &Decoded<'_>) -> Option<FlowKeyed> {
        let (src_addr, dst_addr, ipv6) = address_numbers(decoded)?;
        let (protocol, sport, dport, tcp_flags, payload) = match decoded.transport {
            Transport::Tcp(t) => (
                6u8,
                t.src_port,
                t.dst_port,
                Some(t.flags),
                t.payload.len() as u64 + u64::from(t.payload_missing),
            ),
            Transport::Udp(u) => (
                17,
                u.src_port,
                u.dst_port,
                None,
                u.payload.len() as u64 + u64::from(u.payload_missing),
            ),
            Transport::Icmp { .. } => (1, 0, 0, None, 0),
            Transport::Icmpv6 { .. } => (58, 0, 0, None, 0),
            Transport::Other { protocol } => (protocol, 0, 0, None, 0),
            Transport::None => (innermost_protocol(decoded), 0, 0, None, 0),
        };
        let (key, src_is_low) = FlowKey::of(protocol, ipv6, (src_addr, sport), (dst_addr, dport));
        Some(FlowKeyed {
            key,
            src_is_low,
            tcp_flags,
            payload,
        })
    }

    /// The part of a table of `parts` parts ([`part_count`]) that holds this packet's flow.
    #[inline]
    pub fn part(&self, parts: usize) -> usize {
        part_of(&self.key, parts)
    }
}

/// What the table says about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowUpdate {
    pub flow_id: u64,
    /// The packet travels from the flow's client (originator) to its server.
    pub from_client: bool,
    /// This packet opened the flow.
    pub is_new: bool,
    /// The flow's lane ([`super::lanes::lane_of`] of its endpoints), computed once per flow
    /// when the table was made [`FlowTable::with_lanes`]; 0 otherwise.
    pub lane: usize,
    /// Where the table keeps the flow while it is open (a later flow may get the same slot
    /// once this one ended): lets a table whose flows are numbered again elsewhere be
    /// followed by slot.
    pub slot: usize,
}

#[derive(Debug, Clone, Default)]
struct TcpState {
    client_syn: bool,
    server_synack: bool,
    client_fin: bool,
    server_fin: bool,
    client_rst: bool,
    server_rst: bool,
    client_data: bool,
    server_data: bool,
    syn_ns: Option<i64>,
    synack_ns: Option<i64>,
    ack_ns: Option<i64>,
}

impl TcpState {
    fn closed(&self) -> bool {
        self.client_rst || self.server_rst || (self.client_fin && self.server_fin)
    }

    /// Zeek's `conn_state` codes, from the flags seen.
    fn zeek_state(&self) -> &'static str {
        let established = self.client_syn && self.server_synack;
        if !self.client_syn && !self.server_synack {
            return "OTH";
        }
        if self.client_syn && !self.server_synack {
            if self.server_rst {
                return "REJ";
            }
            if self.client_rst {
                return "RSTOS0";
            }
            if self.client_fin {
                return "SH";
            }
            return "S0";
        }
        if !self.client_syn {
            if self.server_rst {
                return "RSTRH";
            }
            if self.server_fin {
                return "SHR";
            }
            return "OTH";
        }
        debug_assert!(established);
        if self.client_rst {
            "RSTO"
        } else if self.server_rst {
            "RSTR"
        } else if self.client_fin && self.server_fin {
            "SF"
        } else if self.client_fin {
            "S2"
        } else if self.server_fin {
            "S3"
        } else {
            "S1"
        }
    }
}

#[derive(Debug, Clone)]
struct FlowState {
    record: FlowRecord,
    tcp: Option<TcpState>,
    /// The client is the key's lower endpoint (tells a packet's direction without comparing
    /// addresses).
    client_is_low: bool,
    lane: u16,
    /// The IP protocol number (with the endpoints in `record`, the flow's key).
    protocol: u8,
}

impl FlowState {
    /// The key the table files this flow under.
    fn key(&self) -> FlowKey {
        let r = &self.record;
        let number = |ip: IpAddr| match ip {
            IpAddr::V4(ip) => u128::from(ip.to_bits()),
            IpAddr::V6(ip) => ip.to_bits(),
        };
        let client = (number(r.client_ip), r.client_port);
        let server = (number(r.server_ip), r.server_port);
        FlowKey::of(self.protocol, r.client_ip.is_ipv6(), client, server).0
    }

    /// Whether a sweep at `now_ns` ends the flow: idle, or closed and quiet since.
    fn due(&self, now_ns: i64, linger_ns: i64, idle_ns: i64) -> bool {
        let quiet = now_ns.saturating_sub(self.record.last_ns);
        quiet > idle_ns || (quiet > linger_ns && self.tcp.as_ref().is_some_and(TcpState::closed))
    }
}

/// A sweep's candidates, so that it visits the flows that may be due rather than every open
/// flow (scanning a table of tens of thousands of flows every 8,192 packets missed the cache
/// on each: ~3.5 % of an `http` pass's time, more under floods). Entries are (a time no later
/// than the flow's last packet, flow id, slot): every open flow has one in `open`, every
/// closed flow one in `closed` as well. A sweep pops the entries quiet long enough to
/// matter, looks at the flow itself, and files it again under its last packet if it is not
/// due, so it finds exactly the flows a full scan finds. Entries of flows gone otherwise are
/// skipped when popped, and dropped by a rebuild once they outnumber the flows.
#[derive(Default)]
struct SweepQueues {
    /// Every open flow, for the idle timeout.
    open: BinaryHeap<Reverse<(i64, u64, usize)>>,
    /// Closed flows, for the closed linger.
    closed: BinaryHeap<Reverse<(i64, u64, usize)>>,
}

/// Which of the [`SweepQueues`].
#[derive(Clone, Copy)]
enum Queue {
    Open,
    Closed,
}

impl SweepQueues {
    fn queue(&mut self, which: Queue) -> &mut BinaryHeap<Reverse<(i64, u64, usize)>> {
        match which {
            Queue::Open => &mut self.open,
            Queue::Closed => &mut self.closed,
        }
    }

    /// Files flow `flow_id` in `slot` under `last_ns`; rebuilds the queue from `flows` when
    /// stale entries have piled up.
    fn file(&mut self, which: Queue, entry: (i64, u64, usize), flows: &FlowSlots) {
        let queue = self.queue(which);
        queue.push(Reverse(entry));
        if queue.len() > 2 * flows.len() + SWEEP_QUEUE_SLACK {
            let live = flows.states().filter_map(|(slot, state)| {
                let closed = state.tcp.as_ref().is_some_and(TcpState::closed);
                (matches!(which, Queue::Open) || closed).then_some(Reverse((
                    state.record.last_ns,
                    state.record.flow_id,
                    slot,
                )))
            });
            *queue = live.collect();
        }
    }

    fn clear(&mut self) {
        self.open.clear();
        self.closed.clear();
    }
}

/// Stale entries a sweep queue may hold beyond twice the open flows before it is rebuilt.
const SWEEP_QUEUE_SLACK: usize = 4096;

/// Parts the flows are split into for the budget (fewer under a budget of fewer flows: each
/// part's share is at least one flow). A part has its own slab and its share of the budget,
/// and makes room by evicting its own oldest flows, so what a budget sheds depends on each
/// part's flows alone: tables that each hold some of the parts (a flow table split over
/// threads, see the README's Performance, "Bigger machines") shed the same flows as one that
/// holds all. A fixed number, not one per thread, for the same reason.
pub const MAX_PARTS: usize = 16;

/// Bits of a slot that name its part (the rest index the part's slab).
const PART_BITS: u32 = MAX_PARTS.trailing_zeros();

/// The parts of a table with a budget of `max_flows` flows ([`FlowTable::with_max_flows`]).
pub fn part_count(max_flows: usize) -> usize {
    MAX_PARTS.min(max_flows.max(1))
}

/// The part of `parts` that holds the flow `key`: a fixed mix of its words (no random seed,
/// unlike the hash map), the same for both directions (the key is canonical).
fn part_of(key: &FlowKey, parts: usize) -> usize {
    let words = (key.low_addr as u64)
        ^ ((key.low_addr >> 64) as u64).rotate_left(21)
        ^ (key.high_addr as u64).rotate_left(42)
        ^ ((key.high_addr >> 64) as u64).rotate_left(11)
        ^ key.ports_protocol.rotate_left(29);
    let mixed = (words ^ (words >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // The high bits, scaled to the range (no division).
    (((mixed >> 32) * parts as u64) >> 32) as usize
}

/// Flows each part's slab has room for from the start (when there are several).
const SLAB_ROOM: usize = 128;

/// One part's flows: a slab, the slots its removed flows left for the next inserts, and how
/// many are open.
#[derive(Default)]
struct PartSlab {
    states: Vec<Option<FlowState>>,
    free: Vec<usize>,
    open: usize,
}

/// The open flows: states in the slabs of their parts, found by key through one hash map
/// (a slot names the part and the place in its slab), with the last flow looked up
/// remembered (about half the packets of a capture follow one of the same flow, and then
/// skip hashing the 40-byte key and probing the map).
struct FlowSlots {
    index: HashMap<FlowKey, usize, foldhash::quality::RandomState>,
    /// Always [`MAX_PARTS`] slabs (a slot's part needs no bounds check), the first
    /// `part_count` in use.
    parts: Box<[PartSlab; MAX_PARTS]>,
    part_count: usize,
    last: Option<(FlowKey, usize)>,
}

impl Default for FlowSlots {
    fn default() -> Self {
        FlowSlots::new(1)
    }
}

impl FlowSlots {
    fn new(parts: usize) -> Self {
        let parts = parts.clamp(1, MAX_PARTS);
        // Split slabs start with some room: growing a small one from nothing is a copy each
        // time (one large slab grows in place), ~1 % of an `http` pass's instructions on a
        // 100k-packet cut.
        let room = if parts > 1 { SLAB_ROOM } else { 0 };
        FlowSlots {
            index: HashMap::default(),
            parts: Box::new(std::array::from_fn(|part| PartSlab {
                states: Vec::with_capacity(if part < parts { room } else { 0 }),
                ..PartSlab::default()
            })),
            part_count: parts,
            last: None,
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of `key`'s flow, if open.
    #[inline(always)]
    fn find(&mut self, key: &FlowKey) -> Option<usize> {
        match self.last {
            Some((last, slot)) if last == *key => Some(slot),
            _ => {
                let slot = *self.index.get(key)?;
                self.last = Some((*key, slot));
                Some(slot)
            }
        }
    }

    fn get(&mut self, key: &FlowKey) -> Option<&FlowState> {
        let slot = self.find(key)?;
        self.state(slot)
    }

    #[inline(always)]
    fn state(&self, slot: usize) -> Option<&FlowState> {
        let part = &self.parts[slot & (MAX_PARTS - 1)];
        part.states.get(slot >> PART_BITS)?.as_ref()
    }

    #[inline(always)]
    fn slot_mut(&mut self, slot: usize) -> Option<&mut FlowState> {
        let part = &mut self.parts[slot & (MAX_PARTS - 1)];
        part.states.get_mut(slot >> PART_BITS)?.as_mut()
    }

    /// Every open flow with its slot, part by part.
    fn states(&self) -> impl Iterator<Item = (usize, &FlowState)> {
        self.parts.iter().enumerate().flat_map(|(part, slab)| {
            slab.states
                .iter()
                .enumerate()
                .filter_map(move |(at, state)| Some(((at << PART_BITS) | part, state.as_ref()?)))
        })
    }

    fn insert(&mut self, key: FlowKey, part: usize, state: FlowState) -> usize {
        let slab = &mut self.parts[part];
        let at = match slab.free.pop() {
            Some(at) => {
                slab.states[at] = Some(state);
                at
            }
            None => {
                slab.states.push(Some(state));
                slab.states.len() - 1
            }
        };
        slab.open += 1;
        let slot = (at << PART_BITS) | part;
        self.index.insert(key, slot);
        self.last = Some((key, slot));
        slot
    }

    fn remove(&mut self, key: &FlowKey) -> Option<FlowState> {
        let slot = self.index.remove(key)?;
        if self.last.is_some_and(|(_, last)| last == slot) {
            self.last = None;
        }
        let slab = &mut self.parts[slot & (MAX_PARTS - 1)];
        let at = slot >> PART_BITS;
        slab.free.push(at);
        slab.open -= 1;
        slab.states.get_mut(at)?.take()
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (&FlowKey, &FlowState)> {
        self.index
            .iter()
            .filter_map(|(key, &slot)| Some((key, self.state(slot)?)))
    }

    /// Removes every open flow and returns them in flow order (sorting (flow id, slot) pairs
    /// moves no state: sorting the ended records instead cost ~800 instructions a flow).
    fn drain(&mut self) -> Vec<(usize, FlowState)> {
        let mut order: Vec<(u64, usize)> = self
            .states()
            .map(|(slot, state)| (state.record.flow_id, slot))
            .collect();
        order.sort_unstable();
        let drained = order
            .into_iter()
            .filter_map(|(_, slot)| {
                let state = self.parts[slot & (MAX_PARTS - 1)].states[slot >> PART_BITS].take();
                Some((slot, state?))
            })
            .collect();
        for slab in self.parts.iter_mut() {
            *slab = PartSlab::default();
        }
        self.index.clear();
        self.last = None;
        drained
    }
}

/// Tracks every flow; `finish` returns them in order of first packet.
pub struct FlowTable {
    flows: FlowSlots,
    ended: Vec<FlowRecord>,
    next_id: u64,
    keep_records: bool,
    /// Flows open at once before the oldest are evicted to make room.
    max_flows: usize,
    /// Each part's share of `max_flows` (see [`MAX_PARTS`]).
    part_max_flows: usize,
    /// Flows evicted for room, with the slots they had, handed out by the next
    /// [`FlowTable::evict`] (or [`FlowTable::take_evicted`]).
    evicted: Vec<(usize, FlowRecord)>,
    /// Flows evicted for room so far.
    pub evictions: u64,
    /// Hand out each flow's lane (see [`FlowUpdate::lane`]).
    with_lanes: bool,
    sweep: SweepQueues,
}

/// Default flow budget: about 256 MiB of flow state (a TCP flow with its reassembly and HTTP
/// state measured ~1.3 KiB under a SYN flood).
pub const DEFAULT_MAX_FLOWS: usize = 200_000;

impl Default for FlowTable {
    fn default() -> Self {
        Self::new(true)
    }
}

impl FlowTable {
    /// `keep_records`: keep ended flows for [`FlowTable::finish`] (the `sessions` view). Without
    /// it, ended flows are only handed out by [`FlowTable::evict`], so memory follows open flows.
    pub fn new(keep_records: bool) -> Self {
        FlowTable {
            flows: FlowSlots::default(),
            ended: Vec::new(),
            next_id: 0,
            keep_records,
            max_flows: usize::MAX,
            part_max_flows: usize::MAX,
            evicted: Vec::new(),
            evictions: 0,
            with_lanes: false,
            sweep: SweepQueues::default(),
        }
    }

    /// At most `max_flows` flows open at once, each of the [`MAX_PARTS`] parts at most its
    /// share: when a new flow would exceed its part's, the oldest quarter of the part is
    /// evicted, half-open and closed flows before established ones, each by its last packet
    /// (Zeek's and Suricata's flow managers shed the same way; Suricata's budget is kept per
    /// hash row too). Evicted flows end like idle ones: their records and transactions are
    /// complete up to the eviction. Before the first packet.
    pub fn with_max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
        let parts = part_count(self.max_flows);
        self.part_max_flows = self.max_flows / parts;
        self.flows = FlowSlots::new(parts);
        self
    }

    /// Each [`FlowUpdate`] carries its flow's lane (a sharded pass deals packets by it).
    pub fn with_lanes(mut self) -> Self {
        self.with_lanes = true;
        self
    }

    /// The parts the table is split into (see [`MAX_PARTS`]).
    pub fn part_count(&self) -> usize {
        self.flows.part_count
    }

    /// A warning for the report when flows were evicted for room.
    pub fn warning(&self) -> Option<String> {
        (self.evictions > 0).then(|| {
            format!(
                "the flow budget (--max-flows {}) was reached: {} flows were ended early, \
                 half-open and oldest first (a later packet of one starts a new flow)",
                self.max_flows, self.evictions
            )
        })
    }

    /// Evicts the oldest quarter of part `part`'s flows (half-open and closed ones first): one
    /// scan of the part per quarter, so constant time per new flow on average.
    #[cold]
    fn make_room(&mut self, part: usize) {
        // Ranked with the flow id last, and the victims taken in flow order: which flows go
        // and in what order does not depend on the hash table's order.
        // Sized first: collecting from the slab's iterator grew it by doubling (~8 % of
        // a flood's instructions in copies).
        let slab = &self.flows.parts[part];
        let mut ranked: Vec<((bool, i64, u64), usize)> = Vec::with_capacity(slab.open);
        ranked.extend(slab.states.iter().enumerate().filter_map(|(at, s)| {
            let s = s.as_ref()?;
            let established = s
                .tcp
                .as_ref()
                .is_none_or(|t| t.client_syn && t.server_synack && !t.closed());
            let slot = (at << PART_BITS) | part;
            Some(((established, s.record.last_ns, s.record.flow_id), slot))
        }));
        let victims = (ranked.len() / 4).max(1);
        if victims < ranked.len() {
            ranked.select_nth_unstable_by_key(victims, |(rank, _)| *rank);
        }
        ranked.truncate(victims);
        ranked.sort_unstable_by_key(|((_, _, flow_id), _)| *flow_id);
        for (_, slot) in ranked {
            let Some(key) = self.flows.state(slot).map(FlowState::key) else {
                continue;
            };
            if let Some(state) = self.flows.remove(&key) {
                let record = self.end(state);
                if !self.keep_records {
                    self.evicted.push((slot, record));
                }
                self.evictions += 1;
            }
        }
    }

    /// Accounts one packet. Returns `None` for packets that belong to no IP flow (ARP, non-IP).
    pub fn on_packet(&mut self, packet: &Packet<'_>, decoded: &Decoded<'_>) -> Option<FlowUpdate> {
        self.on_keyed(packet, &FlowKeyed::of(decoded)?)
    }

    /// [`FlowTable::on_packet`] with the packet's flow key worked out beforehand.
    #[inline(always)]
    pub fn on_keyed(&mut self, packet: &Packet<'_>, keyed: &FlowKeyed) -> Option<FlowUpdate> {
        let FlowKeyed {
            key,
            src_is_low,
            tcp_flags,
            payload,
        } = *keyed;
        let ts = packet.timestamp_ns;
        let wire = u64::from(packet.original_len.max(packet.data.len() as u32));

        // A fresh SYN on a flow that already closed starts a new connection (port reuse).
        // The flags first: only a SYN costs a lookup here.
        let fresh_syn = tcp_flags.is_some_and(|flags| flags.syn() && !flags.ack());
        if fresh_syn
            && self
                .flows
                .get(&key)
                .is_some_and(|state| state.tcp.as_ref().is_some_and(TcpState::closed))
        {
            if let Some(old) = self.flows.remove(&key) {
                self.end(old);
            }
        }

        let found = self.flows.find(&key);
        let is_new = found.is_none();
        let slot = match found {
            Some(slot) => slot,
            None => {
                let part = part_of(&key, self.flows.part_count);
                if self.flows.parts[part].open >= self.part_max_flows {
                    self.make_room(part);
                }
                // Only a new flow needs them: read back from the key.
                let (protocol, ipv6) = key.protocol();
                let (src_addr, sport, dst_addr, dport) = key.endpoints(src_is_low);
                let endpoints = ((src_addr, sport), (dst_addr, dport), src_is_low);
                let state = self.new_flow(protocol, ipv6, endpoints, tcp_flags, ts);
                let id = state.record.flow_id;
                let slot = self.flows.insert(key, part, state);
                self.sweep.file(Queue::Open, (ts, id, slot), &self.flows);
                slot
            }
        };
        let state = self.flows.slot_mut(slot)?;
        // A packet from an endpoint to itself counts as the client's whichever way it was
        // opened.
        let from_client = src_is_low == state.client_is_low || key.one_endpoint();
        let r = &mut state.record;
        r.first_ns = r.first_ns.min(ts);
        r.last_ns = r.last_ns.max(ts);
        if from_client {
            r.client_packets += 1;
            r.client_bytes += wire;
            r.client_payload_bytes += payload;
        } else {
            r.server_packets += 1;
            r.server_bytes += wire;
            r.server_payload_bytes += payload;
        }
        let mut closes = false;
        if let (Some(t), Some(flags)) = (state.tcp.as_mut(), tcp_flags) {
            // Only a FIN or a RST can close it.
            let ends = flags.fin() || flags.rst();
            let was_closed = ends && t.closed();
            track_tcp(t, flags, payload, from_client, ts);
            closes = ends && !was_closed && t.closed();
        }
        let update = FlowUpdate {
            flow_id: state.record.flow_id,
            from_client,
            is_new,
            lane: usize::from(state.lane),
            slot,
        };
        if closes {
            let entry = (state.record.last_ns, update.flow_id, slot);
            self.sweep.file(Queue::Closed, entry, &self.flows);
        }
        Some(update)
    }

    /// The state of a flow opened by a packet from `src` to `dst` (address numbers, ports;
    /// `src_is_low` as [`FlowKey::of`] says).
    fn new_flow(
        &mut self,
        protocol: u8,
        ipv6: bool,
        (src, dst, src_is_low): ((u128, u16), (u128, u16), bool),
        tcp_flags: Option<TcpFlags>,
        ts: i64,
    ) -> FlowState {
        let (sport, dport) = (src.1, dst.1);
        let (src, dst) = (ip_addr(src.0, ipv6), ip_addr(dst.0, ipv6));
        let id = self.next_id;
        self.next_id += 1;
        // The originator is the sender of the first packet, except that a SYN/ACK seen
        // first (handshake start missed) points the other way.
        let reversed = matches!(tcp_flags, Some(f) if f.syn() && f.ack());
        let client_is_low = src_is_low != reversed;
        let ((cip, cport), (sip, sport_)) = if reversed {
            ((dst, dport), (src, sport))
        } else {
            ((src, sport), (dst, dport))
        };
        FlowState {
            record: FlowRecord::opened(
                id,
                protocol_name(protocol),
                (cip, cport),
                (sip, sport_),
                ts,
            ),
            tcp: tcp_flags.map(|_| TcpState::default()),
            client_is_low,
            protocol,
            lane: if self.with_lanes {
                super::lanes::lane_of((src, sport), (dst, dport)) as u16
            } else {
                0
            },
        }
    }

    fn end(&mut self, mut state: FlowState) -> FlowRecord {
        finalize(&mut state);
        if self.keep_records {
            self.ended.push(state.record.clone());
        }
        state.record
    }

    /// Removes flows that are closed (and quiet for `linger_ns`) or idle for `idle_ns`, as of
    /// capture time `now_ns`, and returns them (in order of flow id). Keeps memory bounded on
    /// long captures. Flows evicted for room since the last call come first, in order of
    /// flow id too.
    pub fn evict(&mut self, now_ns: i64, linger_ns: i64, idle_ns: i64) -> Vec<FlowRecord> {
        // The next sweep's evictions start with as much room: under a flood, growing from
        // nothing each time copied ~12 % of the pass's instructions.
        let room = self.evicted.len();
        let mut evicted = std::mem::replace(&mut self.evicted, Vec::with_capacity(room));
        // In flow order whichever parts they came from (one after another, each in flow
        // order): the order tables holding some parts each can be merged to.
        evicted.sort_unstable_by_key(|(_, record)| record.flow_id);
        let swept = self.sweep(now_ns, linger_ns, idle_ns);
        let mut out = Vec::with_capacity(evicted.len() + swept.len());
        out.extend(evicted.into_iter().map(|(_, record)| record));
        out.extend(swept.into_iter().map(|(_, record)| record));
        out
    }

    /// The flows evicted for room since the last call, with the slots they had (in the order
    /// evicted): a table whose flow ids are numbered again elsewhere ([`FlowUpdate::slot`])
    /// hands them over before a later flow takes one of their slots.
    pub fn take_evicted(&mut self) -> impl Iterator<Item = (usize, FlowRecord)> + '_ {
        self.evicted.drain(..)
    }

    /// How many flows evicted for room wait to be handed out.
    pub fn evicted_waiting(&self) -> usize {
        self.evicted.len()
    }

    /// [`FlowTable::evict`] without the flows evicted for room: the closed and idle flows
    /// with their slots, in order of flow id.
    pub fn sweep(&mut self, now_ns: i64, linger_ns: i64, idle_ns: i64) -> Vec<(usize, FlowRecord)> {
        let mut out = Vec::new();
        let mut done: Vec<(u64, usize)> = Vec::new();
        self.pop_due(
            Queue::Open,
            idle_ns,
            (now_ns, linger_ns, idle_ns),
            &mut done,
        );
        self.pop_due(
            Queue::Closed,
            linger_ns,
            (now_ns, linger_ns, idle_ns),
            &mut done,
        );
        // In flow order, not the queues' or the hash table's: the same for any hash of the
        // key. A flow both idle and closed was popped twice.
        done.sort_unstable();
        done.dedup();
        out.reserve(done.len());
        for (_, slot) in done {
            let Some(key) = self.flows.state(slot).map(FlowState::key) else {
                continue;
            };
            let state = self.flows.remove(&key);
            debug_assert!(
                state.is_some(),
                "a flow's key rebuilt from its record finds it"
            );
            if let Some(state) = state {
                out.push((slot, self.end(state)));
            }
        }
        out
    }

    /// Pops from `which` the entries quiet for more than `after_ns` at `now_ns`: the due
    /// flows go to `done`, the others are filed again under their last packet.
    fn pop_due(
        &mut self,
        which: Queue,
        after_ns: i64,
        (now_ns, linger_ns, idle_ns): (i64, i64, i64),
        done: &mut Vec<(u64, usize)>,
    ) {
        let queue = self.sweep.queue(which);
        let mut again = Vec::new();
        while let Some(&Reverse((since_ns, flow_id, slot))) = queue.peek() {
            if now_ns.saturating_sub(since_ns) <= after_ns {
                break;
            }
            queue.pop();
            // A flow gone otherwise (evicted for room, its ports reused) left its entry.
            let Some(state) = self.flows.state(slot) else {
                continue;
            };
            if state.record.flow_id != flow_id {
                continue;
            }
            if state.due(now_ns, linger_ns, idle_ns) {
                done.push((flow_id, slot));
            } else {
                again.push(Reverse((state.record.last_ns, flow_id, slot)));
            }
        }
        queue.extend(again);
    }

    /// Number of flows currently open.
    pub fn open_flows(&self) -> usize {
        self.flows.len()
    }

    /// Ends the flows still open and returns them (streaming mode's last step): those evicted
    /// for room since the last sweep, then the open ones in flow order.
    pub fn finish_open(&mut self) -> Vec<FlowRecord> {
        let mut out: Vec<FlowRecord> = self.evicted.drain(..).map(|(_, r)| r).collect();
        out.extend(self.end_open().into_iter().map(|(_, record)| record));
        out
    }

    /// Ends the flows still open and returns them with their slots, in flow order (not
    /// those evicted for room: see [`FlowTable::take_evicted`]).
    pub fn end_open(&mut self) -> Vec<(usize, FlowRecord)> {
        self.sweep.clear();
        let open = self.flows.drain();
        open.into_iter()
            .map(|(slot, state)| (slot, self.end(state)))
            .collect()
    }

    /// Ends every flow; returns all kept records in order of first packet.
    pub fn finish(&mut self) -> Vec<FlowRecord> {
        self.sweep.clear();
        let open = self.flows.drain();
        for (_, state) in open {
            self.end(state);
        }
        let mut all = std::mem::take(&mut self.ended);
        all.sort_by_key(|r| r.flow_id);
        all
    }
}

#[inline(always)]
fn track_tcp(t: &mut TcpState, flags: TcpFlags, payload_len: u64, from_client: bool, ts: i64) {
    if from_client {
        if flags.syn() && !flags.ack() {
            t.client_syn = true;
            t.syn_ns.get_or_insert(ts);
        }
        if flags.ack() && !flags.syn() && t.synack_ns.is_some() && t.ack_ns.is_none() {
            t.ack_ns = Some(ts);
        }
        t.client_fin |= flags.fin();
        t.client_rst |= flags.rst();
        t.client_data |= payload_len > 0;
    } else {
        if flags.syn() && flags.ack() {
            t.server_synack = true;
            if t.syn_ns.is_some() {
                t.synack_ns.get_or_insert(ts);
            }
        }
        t.server_fin |= flags.fin();
        t.server_rst |= flags.rst();
        t.server_data |= payload_len > 0;
    }
}

fn finalize(state: &mut FlowState) {
    if let Some(t) = &state.tcp {
        state.record.tcp_state = Some(CompactString::const_new(t.zeek_state()));
        if let (Some(syn), Some(synack)) = (t.syn_ns, t.synack_ns) {
            state.record.syn_to_synack_ns = Some(synack.saturating_sub(syn));
            if let Some(ack) = t.ack_ns {
                state.record.synack_to_ack_ns = Some(ack.saturating_sub(synack));
            }
        }
    }
}

fn innermost_protocol(decoded: &Decoded<'_>) -> u8 {
    match decoded.inner_network.as_ref().unwrap_or(&decoded.network) {
        Network::Ipv4(ip) => ip.protocol,
        Network::Ipv6(ip) => ip.transport_protocol,
        _ => 255,
    }
}

fn protocol_name(protocol: u8) -> CompactString {
    match protocol {
        6 => CompactString::const_new("tcp"),
        17 => CompactString::const_new("udp"),
        1 => CompactString::const_new("icmp"),
        58 => CompactString::const_new("icmpv6"),
        n => compact_str::format_compact!("ip-{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key gives back what made it: protocol, IP version, and both endpoints whichever
    /// way the packet went (what `on_keyed` reads instead of the decoded headers).
    #[test]
    fn a_flow_key_gives_back_its_protocol_and_endpoints() {
        let a = (0x0a00_0001u128, 40_000u16);
        let b = (0x0a00_0002u128, 80u16);
        for (protocol, ipv6) in [(6u8, false), (17, true), (1, false)] {
            for (src, dst) in [(a, b), (b, a), (a, (a.0, 40_001)), (a, a)] {
                let (key, src_is_low) = FlowKey::of(protocol, ipv6, src, dst);
                assert_eq!(key.protocol(), (protocol, ipv6));
                assert_eq!(key.endpoints(src_is_low), (src.0, src.1, dst.0, dst.1));
            }
        }
    }

    /// One client opening connection after connection from consecutive ports (a SYN flood, a
    /// load test): with FxHash these keys differed only in bits a multiply moves out of the
    /// bucket index, probes grew with the table and a 100k-SYN flood cost 58,000
    /// instructions a packet. The table's hasher spreads them over the buckets, whatever its
    /// seed (foldhash's `fast` variant filled only 22,000 buckets with some seeds).
    #[test]
    fn consecutive_ports_spread_over_the_buckets() {
        use std::hash::BuildHasher;
        let client = u128::from(u32::from(Ipv4Addr::new(10, 0, 0, 1)));
        let server = u128::from(u32::from(Ipv4Addr::new(192, 0, 2, 80)));
        for _ in 0..8 {
            // A new seed each time.
            let hasher = FlowSlots::default().index.hasher().clone();
            let mut buckets = std::collections::HashSet::new();
            let mut tags = std::collections::HashSet::new();
            for port in 10_000..60_000u16 {
                let (key, _) = FlowKey::of(6, false, (client, port), (server, 80));
                let hash = hasher.hash_one(key);
                buckets.insert(hash & 0xffff);
                tags.insert(hash >> 57);
            }
            // 50,000 keys thrown at random into 65,536 buckets fill ~35,000.
            assert!(buckets.len() > 32_000, "{} buckets", buckets.len());
            assert_eq!(tags.len(), 128, "the control bytes' tags");
        }
    }
    use crate::capture::LinkType;
    use crate::decode::{Ipv4Info, TcpInfo};
    use std::net::Ipv4Addr;

    const C: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    fn tcp(
        src: Ipv4Addr,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
        flags: u8,
        payload: &'static [u8],
    ) -> Decoded<'static> {
        Decoded {
            network: Network::Ipv4(Ipv4Info {
                src,
                dst,
                protocol: 6,
                ttl: 64,
                header_len: 20,
                total_len: 40 + payload.len() as u16,
                identification: 0,
                is_fragment: false,
                fragment_offset: 0,
                has_options: false,
            }),
            transport: Transport::Tcp(TcpInfo {
                src_port: sport,
                dst_port: dport,
                seq: 0,
                ack: 0,
                flags: TcpFlags(flags),
                window: 1000,
                payload,
                payload_missing: 0,
            }),
            ..Default::default()
        }
    }

    fn feed(table: &mut FlowTable, ts: i64, d: &Decoded<'_>) -> FlowUpdate {
        let frame = [0u8; 60];
        let packet = Packet {
            timestamp_ns: ts,
            link_type: LinkType::ETHERNET,
            original_len: 60,
            interface_id: 0,
            data: &frame,
        };
        table.on_packet(&packet, d).expect("an IP flow")
    }

    const SYN: u8 = TcpFlags::SYN;
    const SYNACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u8 = TcpFlags::ACK;
    const FINACK: u8 = TcpFlags::FIN | TcpFlags::ACK;

    #[test]
    fn handshake_state_and_counters() {
        let mut t = FlowTable::new(true);
        let first = feed(&mut t, 1_000, &tcp(C, 40000, S, 80, SYN, b""));
        assert!(first.is_new && first.from_client);
        let back = feed(&mut t, 1_500, &tcp(S, 80, C, 40000, SYNACK, b""));
        assert!(!back.is_new && !back.from_client && back.flow_id == first.flow_id);
        feed(&mut t, 1_600, &tcp(C, 40000, S, 80, ACK, b""));
        feed(
            &mut t,
            1_700,
            &tcp(C, 40000, S, 80, ACK, b"GET / HTTP/1.1\r\n\r\n"),
        );
        feed(&mut t, 2_000, &tcp(S, 80, C, 40000, FINACK, b""));
        feed(&mut t, 2_100, &tcp(C, 40000, S, 80, FINACK, b""));
        let flows = t.finish();
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        assert_eq!(
            (f.client_ip, f.client_port, f.server_port),
            (std::net::IpAddr::V4(C), 40000, 80)
        );
        assert_eq!((f.client_packets, f.server_packets), (4, 2));
        assert_eq!(f.client_payload_bytes, 18);
        assert_eq!(f.tcp_state.as_deref(), Some("SF"));
        assert_eq!(
            (f.syn_to_synack_ns, f.synack_to_ack_ns, f.handshake_ns()),
            (Some(500), Some(100), Some(600))
        );
        assert_eq!(f.duration_ns(), 1_100);
    }

    #[test]
    fn synack_first_points_to_the_real_client() {
        let mut t = FlowTable::new(true);
        feed(&mut t, 10, &tcp(S, 80, C, 40000, SYNACK, b""));
        let flows = t.finish();
        assert_eq!(flows[0].client_ip, std::net::IpAddr::V4(C));
        assert_eq!(flows[0].tcp_state.as_deref(), Some("OTH"));
    }

    #[test]
    fn port_reuse_after_close_is_a_new_flow() {
        let mut t = FlowTable::new(true);
        let a = feed(&mut t, 1, &tcp(C, 40000, S, 80, SYN, b""));
        feed(
            &mut t,
            2,
            &tcp(S, 80, C, 40000, TcpFlags::RST | TcpFlags::ACK, b""),
        );
        let b = feed(&mut t, 3, &tcp(C, 40000, S, 80, SYN, b""));
        assert!(b.is_new && b.flow_id != a.flow_id);
        let flows = t.finish();
        assert_eq!(
            flows
                .iter()
                .map(|f| f.tcp_state.clone().unwrap())
                .collect::<Vec<_>>(),
            vec!["REJ", "S0"]
        );
    }

    fn over_ipv6(d: Decoded<'static>) -> Decoded<'static> {
        let Network::Ipv4(v4) = d.network else {
            unreachable!("built over IPv4")
        };
        // The IPv4-compatible address: as a number, the same as the IPv4 one.
        let six = |a: Ipv4Addr| std::net::Ipv6Addr::from_bits(u128::from(a.to_bits()));
        Decoded {
            network: Network::Ipv6(crate::decode::Ipv6Info {
                src: six(v4.src),
                dst: six(v4.dst),
                next_header: 6,
                transport_protocol: 6,
                payload_len: 20,
                hop_limit: 64,
                is_fragment: false,
            }),
            ..d
        }
    }

    #[test]
    fn ipv4_and_ipv6_endpoints_with_the_same_number_are_different_flows() {
        let mut t = FlowTable::new(true);
        let v4 = feed(&mut t, 1, &tcp(C, 40000, S, 80, SYN, b""));
        let v6 = feed(&mut t, 2, &over_ipv6(tcp(C, 40000, S, 80, SYN, b"")));
        let back = feed(&mut t, 3, &over_ipv6(tcp(S, 80, C, 40000, SYNACK, b"")));
        assert!(v4.is_new && v6.is_new && v4.flow_id != v6.flow_id);
        assert_eq!((back.flow_id, back.from_client), (v6.flow_id, false));
    }

    #[test]
    fn a_packet_to_itself_is_the_clients_even_when_a_synack_opened_the_flow() {
        let mut t = FlowTable::new(true);
        let first = feed(&mut t, 1, &tcp(C, 5000, C, 5000, SYNACK, b""));
        let second = feed(&mut t, 2, &tcp(C, 5000, C, 5000, ACK, b""));
        assert!(first.from_client && second.from_client && !second.is_new);
    }

    /// Parts: both directions of a flow in one, a client's consecutive ports spread evenly
    /// over all of them (a SYN flood fills them alike), the same part on every run.
    #[test]
    fn flows_spread_evenly_over_the_parts() {
        let client = u128::from(u32::from(Ipv4Addr::new(10, 0, 0, 1)));
        let server = u128::from(u32::from(Ipv4Addr::new(192, 0, 2, 80)));
        let mut per_part = [0usize; MAX_PARTS];
        for port in 10_000..60_000u16 {
            let (there, _) = FlowKey::of(6, false, (client, port), (server, 80));
            let (back, _) = FlowKey::of(6, false, (server, 80), (client, port));
            let part = part_of(&there, MAX_PARTS);
            assert_eq!(part, part_of(&back, MAX_PARTS));
            per_part[part] += 1;
        }
        let even = 50_000 / MAX_PARTS;
        assert!(
            per_part
                .iter()
                .all(|&n| n > even * 9 / 10 && n < even * 11 / 10),
            "{per_part:?}"
        );
        let (key, _) = FlowKey::of(17, true, (1, 53), (2, 4000));
        assert_eq!(part_of(&key, 16), 15, "a fixed mix, no random seed");
        assert_eq!(part_of(&key, 1), 0);
    }

    /// Under a budget each part holds at most its share, and makes room from its own flows:
    /// the oldest quarter of the part, in flow order.
    #[test]
    fn each_part_keeps_to_its_share_of_the_budget() {
        let mut t = FlowTable::new(false).with_max_flows(160);
        let mut opened = Vec::new();
        for port in 1..=2_000u16 {
            let update = feed(&mut t, i64::from(port), &tcp(C, port, S, 80, SYN, b""));
            opened.push(update.flow_id);
            let slabs = &t.flows.parts;
            assert!(
                slabs.iter().all(|slab| slab.open <= 10),
                "share of 160 / 16"
            );
            assert!(t.open_flows() <= 160);
        }
        assert_eq!(t.evictions as usize + t.open_flows(), 2_000);
        // Evicted in batches of a quarter of a part (2 of 10), each batch in flow order.
        let evicted: Vec<u64> = t.evicted.iter().map(|(_, r)| r.flow_id).collect();
        assert_eq!(evicted.len() as u64, t.evictions);
        for batch in evicted.chunks(2) {
            assert!(batch.windows(2).all(|w| w[0] < w[1]), "{batch:?}");
        }
        let budget = t.warning().expect("evictions reported");
        assert!(budget.contains("--max-flows 160"), "{budget}");
    }

    #[test]
    fn swept_flows_come_out_in_flow_order() {
        let mut t = FlowTable::new(false);
        for port in 1..=200 {
            feed(&mut t, 0, &tcp(C, port, S, 80, SYN, b""));
        }
        let ids: Vec<u64> = t
            .evict(10_000, 50, 1_000)
            .iter()
            .map(|r| r.flow_id)
            .collect();
        assert_eq!(ids, (0..200).collect::<Vec<u64>>());
    }

    #[test]
    fn eviction_returns_closed_and_idle_flows_only() {
        let mut t = FlowTable::new(false);
        feed(&mut t, 0, &tcp(C, 1, S, 80, SYN, b""));
        feed(&mut t, 0, &tcp(C, 2, S, 80, SYN, b""));
        feed(&mut t, 1, &tcp(S, 80, C, 2, TcpFlags::RST, b""));
        let gone = t.evict(100, 50, 1_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].client_port, 2);
        assert_eq!(t.open_flows(), 1);
        assert_eq!(t.evict(2_000, 50, 1_000).len(), 1);
        assert!(t.finish().is_empty(), "streaming mode keeps nothing");
    }

    /// The flows a full scan of the table finds due, in flow order (what a sweep must end).
    fn due_by_scan(t: &FlowTable, now_ns: i64, linger_ns: i64, idle_ns: i64) -> Vec<u64> {
        let mut ids: Vec<u64> = t
            .flows
            .iter()
            .filter(|(_, s)| s.due(now_ns, linger_ns, idle_ns))
            .map(|(_, s)| s.record.flow_id)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn sweeps_end_exactly_the_flows_a_full_scan_finds_due() {
        // Random traffic over a few hundred 5-tuples: handshakes, data, FINs, RSTs, port
        // reuse, clocks that step back, a small flow budget (evictions for room leave stale
        // entries). Before each sweep, the due flows are found by scanning every flow.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (max_flows, linger, idle) in
            [(usize::MAX, 50, 1_000), (120, 50, 1_000), (400, 300, 100)]
        {
            let mut t = FlowTable::new(false).with_max_flows(max_flows);
            let mut ts = 0i64;
            let mut swept = 0;
            for step in 0..40_000u64 {
                ts += next(7) as i64 - 1; // mostly forward, sometimes back
                let port = 1000 + next(300) as u16;
                let flags = [SYN, SYNACK, ACK, ACK, ACK, FINACK, TcpFlags::RST][next(7) as usize];
                let mut packet = if next(2) == 0 {
                    tcp(C, port, S, 80, flags, b"")
                } else {
                    tcp(S, 80, C, port, flags, b"")
                };
                // Some flows over IPv6, some of a protocol without ports (GRE).
                if port.is_multiple_of(5) {
                    packet = over_ipv6(packet);
                } else if port.is_multiple_of(7) {
                    packet.transport = Transport::Other { protocol: 47 };
                }
                feed(&mut t, ts, &packet);
                if step % 97 == 0 {
                    let now = ts + next(1_500) as i64;
                    let want = due_by_scan(&t, now, linger, idle);
                    // Flows evicted for room since the last sweep come first; the rest are
                    // exactly the due ones, in flow order.
                    let for_room = t.evicted_waiting();
                    let got: Vec<u64> = t.evict(now, linger, idle)[for_room..]
                        .iter()
                        .map(|r| r.flow_id)
                        .collect();
                    assert_eq!(got, want, "sweep at {now}");
                    swept += want.len();
                    assert!(
                        t.flows.iter().all(|(k, s)| *k == s.key()),
                        "keys rebuilt from flows"
                    );
                    let bound = 2 * t.flows.len() + SWEEP_QUEUE_SLACK + 1;
                    assert!(t.sweep.open.len() <= bound && t.sweep.closed.len() <= bound);
                }
            }
            assert!(swept > 1_000, "the test sweeps flows ({swept})");
        }
    }
}

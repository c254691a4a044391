//! Packet and byte counts by protocol, link type and decode problem, plus a protocol
//! hierarchy in the spirit of `tshark -z io,phs`.

use crate::capture::{LinkType, Packet};
use crate::decode::{Decoded, LayerPath, Network, Transport};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Counts for one capture (or the total over several). Merge with [`ProtocolCounts::merge`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProtocolCounts {
    pub packets: u64,
    /// Bytes present in the file (captured lengths).
    pub captured_bytes: u64,
    /// Bytes on the wire (original lengths).
    pub wire_bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// Frames with a TCP header anywhere (inner tunnel headers and headers quoted in ICMP
    /// errors included), like tshark's `tcp` display filter.
    pub tcp: u64,
    /// Frames with a UDP header anywhere, like tshark's `udp` filter.
    pub udp: u64,
    pub icmp: u64,
    pub icmpv6: u64,
    pub arp: u64,
    /// IP packets whose transport is none of the above (GRE, IGMP, non-first fragments, ...).
    pub other_ip: u64,
    /// Frames without IP or ARP (LLDP, STP, unsupported link types, ...).
    pub non_ip: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    /// IPv4/IPv6 fragments (the transport of a non-first fragment is not decoded).
    pub ip_fragments: u64,
    /// Packets per link type name.
    pub link_types: BTreeMap<String, u64>,
    /// Packets that could not be fully decoded, by reason.
    pub undecodable: BTreeMap<String, u64>,
    /// Protocol hierarchy: path `eth:ip:tcp` -> (frames, bytes).
    pub hierarchy: BTreeMap<String, (u64, u64)>,
    /// Packets read but not selected (`--filter`, `--start`, `--end`); not in any count above.
    pub filtered_out: u64,
    /// Selected packets dated earlier than the packet before them.
    pub backwards: u64,
    /// The first such step back.
    pub first_backwards: Option<TimeStep>,
    /// The longest step forward between consecutive selected packets.
    pub longest_gap: Option<TimeStep>,
    /// Interval width for [`Self::intervals`]; `None` keeps no intervals.
    pub interval_ns: Option<i64>,
    /// Counts per interval, keyed by interval start (multiples of the width since the epoch).
    pub intervals: BTreeMap<i64, IntervalCounts>,
    /// Widen [`Self::interval_ns`] tenfold whenever more intervals than this are kept (see
    /// [`ProtocolCounts::with_adaptive_intervals`]).
    #[serde(skip)]
    interval_limit: Option<usize>,
    /// Per-packet tallies kept in cheap forms (no string work per packet); folded into
    /// `link_types`, `undecodable` and `hierarchy` by [`ProtocolCounts::finalize`].
    #[serde(skip)]
    pending: PendingTallies,
    /// Time of the last packet counted (for steps back and gaps).
    #[serde(skip)]
    previous_ns: Option<i64>,
    /// The first packet counted: its number (as in [`TimeStep::packet`]) and time, for the
    /// step into these counts when they are appended to earlier ones ([`Self::append`]).
    #[serde(skip)]
    first_counted: Option<(u64, i64)>,
}

/// Two consecutive packets of a file: where time jumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeStep {
    /// 1-based number of the later packet in the file (as tshark and Wireshark number them).
    pub packet: u64,
    pub previous_ns: i64,
    pub ns: i64,
}

/// What happened in one interval of `summary --intervals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntervalCounts {
    pub packets: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    pub tcp: u64,
    pub udp: u64,
    /// HTTP requests and DNS queries whose first byte falls in the interval.
    pub requests: u64,
    /// HTTP responses and DNS responses whose first byte falls in the interval.
    pub responses: u64,
}

impl IntervalCounts {
    pub fn add(&mut self, other: &IntervalCounts) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.tcp += other.tcp;
        self.udp += other.udp;
        self.requests += other.requests;
        self.responses += other.responses;
    }
}

#[derive(Debug, Clone, Default)]
struct PendingTallies {
    link_types: Vec<(LinkType, u64)>,
    paths: HashMap<LayerPath, (u64, u64)>,
    /// The first distinct paths seen, counted without hashing (the map takes the rest).
    recent: Vec<(LayerPath, u64, u64)>,
    /// Where in `recent` the last two distinct paths seen were, the latest first (IPv4 and
    /// IPv6 packets, or data and pure ACKs, take turns).
    last_paths: [usize; 2],
    problems: Vec<(crate::decode::DecodeProblem, u64)>,
}

impl ProtocolCounts {
    /// Counts that also keep per-interval tallies of `width_ns` (when `Some` and positive).
    pub fn with_intervals(width_ns: Option<i64>) -> Self {
        ProtocolCounts {
            interval_ns: width_ns.filter(|w| *w > 0),
            ..Default::default()
        }
    }

    /// Counts with intervals whose width adapts to the capture: from 1 µs, ten times wider
    /// whenever more than [`ADAPTIVE_INTERVALS_MAX`] intervals hold packets. Memory stays
    /// bounded and every width is a power of ten, so any 1-2-5 multiple of it can be drawn
    /// exactly (the report's rates over time).
    pub fn with_adaptive_intervals() -> Self {
        ProtocolCounts {
            interval_ns: Some(ADAPTIVE_INTERVAL_START_NS),
            interval_limit: Some(ADAPTIVE_INTERVALS_MAX),
            ..Default::default()
        }
    }

    pub fn add(&mut self, packet: &Packet<'_>, decoded: &Decoded<'_>) {
        let ts = packet.timestamp_ns;
        if let Some(previous_ns) = self.previous_ns {
            let step = TimeStep {
                packet: self.packets + self.filtered_out + 1,
                previous_ns,
                ns: ts,
            };
            self.step(step);
        } else {
            self.first_counted = Some((self.packets + self.filtered_out + 1, ts));
        }
        self.previous_ns = Some(ts);
        self.packets += 1;
        self.captured_bytes += packet.data.len() as u64;
        self.wire_bytes += u64::from(packet.original_len.max(packet.data.len() as u32));
        if let Some(width) = self.interval_ns {
            let bin = self
                .intervals
                .entry(ts.div_euclid(width) * width)
                .or_default();
            bin.packets += 1;
            bin.bytes += u64::from(packet.original_len.max(packet.data.len() as u32));
            bin.tcp += u64::from(decoded.has_tcp_anywhere());
            bin.udp += u64::from(decoded.has_udp_anywhere());
            if let Some(limit) = self.interval_limit {
                if self.intervals.len() > limit {
                    let mut width = width;
                    widen_intervals(&mut self.intervals, &mut width, limit, IntervalCounts::add);
                    self.interval_ns = Some(width);
                }
            }
        }
        self.first_ns = Some(self.first_ns.map_or(ts, |f| f.min(ts)));
        self.last_ns = Some(self.last_ns.map_or(ts, |l| l.max(ts)));
        self.count_link_type(packet.link_type);

        // Like tshark's `tcp` / `udp` display filters (what the corpus oracle counts).
        self.tcp += u64::from(decoded.has_tcp_anywhere());
        self.udp += u64::from(decoded.has_udp_anywhere());
        match decoded.transport {
            Transport::Icmp { .. } => self.icmp += 1,
            Transport::Icmpv6 { .. } => self.icmpv6 += 1,
            _ => {}
        }
        match decoded.network {
            Network::Ipv4(ip) => {
                self.ipv4 += 1;
                self.ip_fragments += u64::from(ip.is_fragment);
            }
            Network::Ipv6(ip) => {
                self.ipv6 += 1;
                self.ip_fragments += u64::from(ip.is_fragment);
            }
            Network::Arp(_) => self.arp += 1,
            Network::Other { .. } | Network::None => self.non_ip += 1,
        }
        if matches!(decoded.network, Network::Ipv4(_) | Network::Ipv6(_))
            && matches!(decoded.transport, Transport::None | Transport::Other { .. })
        {
            self.other_ip += 1;
        }
        if let Some(problem) = decoded.problem {
            let problems = &mut self.pending.problems;
            match problems.iter_mut().find(|(p, _)| *p == problem) {
                Some((_, n)) => *n += 1,
                None => problems.push((problem, 1)),
            }
        }
        let bytes = u64::from(packet.original_len.max(packet.data.len() as u32));
        // Few distinct paths occur in practice: find this one among them, first where the
        // last two packets' were (runs of one path are the rule).
        let pending = &mut self.pending;
        let recent = &mut pending.recent;
        let [latest, before] = pending.last_paths;
        let is_this = |i: usize| {
            recent
                .get(i)
                .is_some_and(|(path, _, _)| *path == decoded.layers)
        };
        let found = if is_this(latest) {
            Some(latest)
        } else if is_this(before) {
            pending.last_paths = [before, latest];
            Some(before)
        } else {
            let found = recent
                .iter()
                .position(|(path, _, _)| *path == decoded.layers);
            if let Some(i) = found {
                pending.last_paths = [i, latest];
            }
            found
        };
        if let Some(i) = found {
            let entry = &mut recent[i];
            entry.1 += 1;
            entry.2 += bytes;
        } else if recent.len() < 32 {
            pending.last_paths = [recent.len(), latest];
            recent.push((decoded.layers, 1, bytes));
        } else {
            let entry = self.pending.paths.entry(decoded.layers).or_default();
            entry.0 += 1;
            entry.1 += bytes;
        }
    }

    fn count_link_type(&mut self, link_type: LinkType) {
        // [`tally`] spelled out, here and for problems in `add`: called through it, the
        // compiler inlined the front differently (+0.35 % instructions on `http --json`).
        let types = &mut self.pending.link_types;
        match types.iter_mut().find(|(t, _)| *t == link_type) {
            Some((_, n)) => *n += 1,
            None => types.push((link_type, 1)),
        }
    }

    /// Folds the per-packet tallies into the named maps. Call once a file is read (the
    /// pipeline does); calling it again is harmless.
    pub fn finalize(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (link_type, n) in pending.link_types {
            *self.link_types.entry(link_type.name()).or_default() += n;
        }
        for (problem, n) in pending.problems {
            *self.undecodable.entry(problem.describe()).or_default() += n;
        }
        let mut paths = pending.paths;
        for (path, frames, bytes) in pending.recent {
            let entry = paths.entry(path).or_default();
            entry.0 += frames;
            entry.1 += bytes;
        }
        for (path, (frames, bytes)) in paths {
            // Every prefix of a path is a level of the hierarchy (`eth`, `eth:ip`, `eth:ip:tcp`).
            let mut name = String::with_capacity(48);
            for layer in path.layers() {
                if !name.is_empty() {
                    name.push(':');
                }
                name.push_str(layer.name());
                let entry = self.hierarchy.entry(name.clone()).or_default();
                entry.0 += frames;
                entry.1 += bytes;
            }
        }
    }

    /// Adds another file's counts into this total.
    pub fn merge(&mut self, other: &ProtocolCounts) {
        self.finalize();
        let mut other = other.clone();
        other.finalize();
        let other = &other;
        self.add_totals(other);
        self.add_intervals(other.interval_ns, other.intervals.clone());
        for (k, v) in &other.link_types {
            *self.link_types.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.undecodable {
            *self.undecodable.entry(k.clone()).or_default() += v;
        }
        for (k, (f, b)) in &other.hierarchy {
            let e = self.hierarchy.entry(k.clone()).or_default();
            e.0 += f;
            e.1 += b;
        }
    }

    /// Adds the counts of the packets that come right after these in the same file, counted
    /// apart (a chunk decoded on another thread): the result is what one `ProtocolCounts`
    /// counting all of them in order holds, steps back and gaps across the seam included.
    pub fn append(&mut self, later: ProtocolCounts) {
        let offset = self.packets + self.filtered_out;
        let shift = |step: TimeStep| TimeStep {
            packet: step.packet + offset,
            ..step
        };
        if let (Some(previous_ns), Some((packet, ns))) = (self.previous_ns, later.first_counted) {
            self.step(TimeStep {
                packet: packet + offset,
                previous_ns,
                ns,
            });
        }
        if self.first_backwards.is_none() {
            self.first_backwards = later.first_backwards.map(shift);
        }
        // The earliest of the longest: a later gap replaces only a longer one, as in `add`.
        if let Some(gap) = later.longest_gap.map(shift) {
            if self
                .longest_gap
                .is_none_or(|g| gap.ns - gap.previous_ns > g.ns - g.previous_ns)
            {
                self.longest_gap = Some(gap);
            }
        }
        self.first_counted = self.first_counted.or(later
            .first_counted
            .map(|(packet, ns)| (packet + offset, ns)));
        self.previous_ns = later.previous_ns.or(self.previous_ns);
        self.add_totals(&later);
        self.append_intervals(later.interval_ns, later.intervals);
        let pending = &mut self.pending;
        for (link_type, n) in later.pending.link_types {
            tally(&mut pending.link_types, link_type, n);
        }
        for (problem, n) in later.pending.problems {
            tally(&mut pending.problems, problem, n);
        }
        // Into the map: `finalize` adds up a path found in both it and `recent`.
        let paths = later.pending.recent.into_iter().chain(
            later
                .pending
                .paths
                .into_iter()
                .map(|(path, (frames, bytes))| (path, frames, bytes)),
        );
        for (path, frames, bytes) in paths {
            let entry = pending.paths.entry(path).or_default();
            entry.0 += frames;
            entry.1 += bytes;
        }
    }

    /// The totals of `merge` and `append`: packets, bytes, the first and last times, the
    /// per-protocol counters, packets filtered out and steps back.
    fn add_totals(&mut self, other: &ProtocolCounts) {
        self.packets += other.packets;
        self.captured_bytes += other.captured_bytes;
        self.wire_bytes += other.wire_bytes;
        self.first_ns = match (self.first_ns, other.first_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ns = match (self.last_ns, other.last_ns) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (field, add) in [
            (&mut self.tcp, other.tcp),
            (&mut self.udp, other.udp),
            (&mut self.icmp, other.icmp),
            (&mut self.icmpv6, other.icmpv6),
            (&mut self.arp, other.arp),
            (&mut self.other_ip, other.other_ip),
            (&mut self.non_ip, other.non_ip),
            (&mut self.ipv4, other.ipv4),
            (&mut self.ipv6, other.ipv6),
            (&mut self.ip_fragments, other.ip_fragments),
        ] {
            *field += add;
        }
        self.filtered_out += other.filtered_out;
        self.backwards += other.backwards;
    }

    /// A step between consecutive selected packets: back, or a gap (the first longest kept).
    #[inline(always)]
    fn step(&mut self, step: TimeStep) {
        if step.ns < step.previous_ns {
            self.backwards += 1;
            self.first_backwards.get_or_insert(step);
        } else if self
            .longest_gap
            .is_none_or(|g| step.ns - step.previous_ns > g.ns - g.previous_ns)
        {
            self.longest_gap = Some(step);
        }
    }

    /// Adds interval tallies of width `theirs`: adaptive widths may differ (of two files, or
    /// of a chunk and what came before it), and both go to the wider, a multiple of the other.
    fn add_intervals(&mut self, theirs: Option<i64>, mut bins: BTreeMap<i64, IntervalCounts>) {
        match (self.interval_ns, theirs) {
            (Some(mine), Some(their)) if mine < their => {
                self.intervals = rebin(&self.intervals, their, IntervalCounts::add);
                self.interval_ns = Some(their);
            }
            (Some(mine), Some(their)) if mine > their => {
                bins = rebin(&bins, mine, IntervalCounts::add);
            }
            _ => self.interval_ns = self.interval_ns.or(theirs),
        }
        for (start, bin) in &bins {
            self.intervals.entry(*start).or_default().add(bin);
        }
    }

    /// [`Self::append`]'s intervals: [`Self::add_intervals`], then the limit applied to the
    /// union as it was to each packet.
    fn append_intervals(&mut self, theirs: Option<i64>, bins: BTreeMap<i64, IntervalCounts>) {
        self.add_intervals(theirs, bins);
        if let (Some(limit), Some(mut width)) = (self.interval_limit, self.interval_ns) {
            if self.intervals.len() > limit {
                widen_intervals(&mut self.intervals, &mut width, limit, IntervalCounts::add);
                self.interval_ns = Some(width);
            }
        }
    }

    /// Counts an HTTP request or DNS query (`response` false) or a response at `ts` in its
    /// interval (no-op without intervals).
    pub fn count_message(&mut self, ts: i64, response: bool) {
        if let Some(width) = self.interval_ns {
            count_message_in(&mut self.intervals, width, ts, response);
        }
    }

    pub fn duration_ns(&self) -> i64 {
        match (self.first_ns, self.last_ns) {
            (Some(f), Some(l)) => l.saturating_sub(f),
            _ => 0,
        }
    }
}

/// Counts a request (`response` false) or a response at `ts` in its interval of `width`.
pub fn count_message_in(
    bins: &mut BTreeMap<i64, IntervalCounts>,
    width: i64,
    ts: i64,
    response: bool,
) {
    let bin = bins.entry(ts.div_euclid(width) * width).or_default();
    if response {
        bin.responses += 1;
    } else {
        bin.requests += 1;
    }
}

/// First width of [`ProtocolCounts::with_adaptive_intervals`].
pub const ADAPTIVE_INTERVAL_START_NS: i64 = 1_000;
/// Most intervals adaptive counts keep before widening.
pub const ADAPTIVE_INTERVALS_MAX: usize = 10_000;

/// `bins` (keyed by interval start) in intervals of `width`, a multiple of their width.
pub fn rebin<V: Default>(
    bins: &BTreeMap<i64, V>,
    width: i64,
    add: impl Fn(&mut V, &V),
) -> BTreeMap<i64, V> {
    let mut wider: BTreeMap<i64, V> = BTreeMap::new();
    for (start, bin) in bins {
        add(
            wider.entry(start.div_euclid(width) * width).or_default(),
            bin,
        );
    }
    wider
}

/// Makes `width` ten times wider, merging `bins`, until at most `limit` intervals remain.
pub fn widen_intervals<V: Default>(
    bins: &mut BTreeMap<i64, V>,
    width: &mut i64,
    limit: usize,
    add: impl Fn(&mut V, &V),
) {
    while bins.len() > limit && *width <= i64::MAX / 10 {
        *width *= 10;
        *bins = rebin(bins, *width, &add);
    }
}

/// Adds `n` to `key`'s tally in a short list (a few distinct keys: a scan, no hashing), as
/// `ProtocolCounts::add` does per packet.
#[inline(always)]
fn tally<K: PartialEq>(list: &mut Vec<(K, u64)>, key: K, n: u64) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, m)) => *m += n,
        None => list.push((key, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(n: u64) -> IntervalCounts {
        IntervalCounts {
            packets: n,
            ..Default::default()
        }
    }

    #[test]
    fn widening_keeps_every_count_and_bounds_the_intervals() {
        let mut bins = BTreeMap::new();
        let mut width = ADAPTIVE_INTERVAL_START_NS;
        // 5,000 packets a millisecond apart, then 5,000 more three years later.
        let times = (0..5_000i64)
            .map(|i| i * 1_000_000)
            .chain((0..5_000i64).map(|i| 94_608_000_000_000_000 + i * 1_000_000));
        for t in times {
            bins.entry(t.div_euclid(width) * width)
                .or_insert_with(IntervalCounts::default)
                .packets += 1;
            widen_intervals(&mut bins, &mut width, 1_000, IntervalCounts::add);
        }
        assert!(bins.len() <= 1_000, "{} intervals", bins.len());
        assert_eq!(
            width, 10_000_000,
            "1 ms apart needs 10 ms to fit 1,000 intervals"
        );
        assert_eq!(bins.values().map(|b| b.packets).sum::<u64>(), 10_000);
        assert!(bins.keys().all(|start| start % width == 0));
        // Any multiple of the width adds up exactly, interval by interval.
        let wider = rebin(&bins, 50_000_000, IntervalCounts::add);
        assert_eq!(wider.get(&0), Some(&packets(50)));
        assert_eq!(wider.values().map(|b| b.packets).sum::<u64>(), 10_000);
    }

    #[test]
    fn merging_files_of_different_widths_goes_to_the_wider() {
        let mut a = ProtocolCounts::with_intervals(Some(1_000));
        a.intervals.insert(1_000, packets(1));
        a.intervals.insert(5_000, packets(2));
        let mut b = ProtocolCounts::with_intervals(Some(10_000));
        b.intervals.insert(0, packets(4));
        a.merge(&b);
        assert_eq!(a.interval_ns, Some(10_000));
        assert_eq!(a.intervals.len(), 1);
        assert_eq!(a.intervals[&0], packets(7));
    }

    /// Frames of a few kinds: Ethernet with IPv4 and TCP, with IPv4 and UDP, with an unknown
    /// EtherType, and one cut short (a decode problem).
    fn frame(kind: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        match kind % 4 {
            0 | 1 => {
                f.extend_from_slice(&[0x08, 0x00]);
                let protocol = if kind.is_multiple_of(4) { 6 } else { 17 };
                let transport_len = if protocol == 6 { 20 } else { 8 };
                let total = (20 + transport_len) as u16;
                f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0]);
                f.extend_from_slice(&[64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
                let mut t = vec![0u8; transport_len];
                t[..4].copy_from_slice(&[0x30, 0x39, 0x00, 0x50]);
                if protocol == 6 {
                    t[12] = 0x50;
                    t[13] = 0x10;
                } else {
                    t[5] = 8;
                }
                f.extend_from_slice(&t);
            }
            2 => f.extend_from_slice(&[0x88, 0xcc, 1, 2, 3, 4]),
            _ => f.extend_from_slice(&[0x08, 0x00, 0x45, 0]),
        }
        f
    }

    /// Counting packets in chunks, each apart, and appending the chunks in order gives what
    /// counting them all in order gives: steps back and the longest gap across seams (with
    /// their packet numbers), filtered packets, adaptive intervals widened by the union.
    #[test]
    fn chunks_counted_apart_and_appended_equal_one_count() {
        let frames: Vec<Vec<u8>> = (0..4).map(frame).collect();
        // Mostly 1-3 µs apart (more than 10,000 distinct microseconds: the intervals widen),
        // with steps back and long gaps at chosen packets, some on chunk seams.
        let mut ts = 1_700_000_000_000_000_000i64;
        let times: Vec<i64> = (0..25_000u64)
            .map(|i| {
                ts += match i {
                    _ if i % 997 == 0 => -5_000,
                    4096 | 12_288 => 90_000_000,
                    7_000 => 90_000_000,
                    _ => 1_000 + (i % 3) as i64 * 1_000,
                };
                ts
            })
            .collect();
        let count = |counts: &mut ProtocolCounts, i: usize| {
            if i % 5 == 3 {
                counts.filtered_out += 1;
                return;
            }
            let data = &frames[i % 4];
            let packet = Packet {
                timestamp_ns: times[i],
                link_type: LinkType::ETHERNET,
                original_len: data.len() as u32,
                interface_id: 0,
                data,
            };
            counts.add(&packet, &crate::decode::decode(packet.link_type, data));
        };
        let mut whole = ProtocolCounts::with_adaptive_intervals();
        (0..times.len()).for_each(|i| count(&mut whole, i));
        whole.finalize();
        let expected = serde_json::to_string(&whole).unwrap();
        assert!(whole.backwards > 20 && whole.interval_ns > Some(ADAPTIVE_INTERVAL_START_NS));
        for chunk in [1, 7, 1024, 4096, 30_000] {
            let mut total = ProtocolCounts::with_adaptive_intervals();
            for start in (0..times.len()).step_by(chunk) {
                let mut part = ProtocolCounts::with_adaptive_intervals();
                (start..(start + chunk).min(times.len())).for_each(|i| count(&mut part, i));
                total.append(part);
            }
            total.finalize();
            assert_eq!(
                serde_json::to_string(&total).unwrap(),
                expected,
                "chunks of {chunk}"
            );
        }
    }
}

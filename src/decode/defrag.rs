//! IP fragment reassembly, IPv4 and IPv6.
//!
//! [`super::decode`] reports the outermost fragmented IP header of a frame in
//! [`Decoded::fragment`]; [`Defragmenter::push`] collects those pieces per datagram, keyed by
//! (IP version, source, destination, protocol, identification), and once every byte from 0 to
//! the end announced by the last fragment (more-fragments clear) is present it hands back a
//! [`Reassembled`] datagram: an owned copy with a rebuilt header (no fragmentation, right
//! lengths; checksums are not recomputed) that decodes like any unfragmented packet. The link
//! and outer headers (a tunnel around a fragmented inner packet) come from the first fragment.
//!
//! Where fragments overlap, the bytes that arrived first win (and the overlap is counted). Memory
//! is bounded: a datagram holds at most 64 KiB, at most `max_datagrams` are in progress (the
//! oldest goes first), and a datagram unfinished after `timeout_ns` of capture time is dropped.
//! A fragment that cannot be used (cut by the snapshot length, or reaching past 64 KiB) is
//! left to the caller to treat as the frame it is.

use super::{decode_ip, Decoded, Fragment, LayerPath, LinkInfo, Network};
use std::collections::{BTreeMap, HashMap};

/// The largest datagram rebuilt: the IPv4 total length / IPv6 payload length limit.
pub const MAX_DATAGRAM_LEN: usize = 65_535;
/// Datagrams in progress at once, by default (worst case 64 MiB of held payload).
pub const DEFAULT_MAX_DATAGRAMS: usize = 1024;
/// How long (capture time) an unfinished datagram is kept, by default (Linux's ipfrag_time).
pub const DEFAULT_TIMEOUT_NS: i64 = 30_000_000_000;

/// What happened to the fragments offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments offered to [`Defragmenter::push`].
    pub fragments: u64,
    /// Datagrams put back together.
    pub completed: u64,
    /// Unfinished datagrams dropped after the timeout.
    pub expired: u64,
    /// Unfinished datagrams dropped to make room (too many in progress).
    pub evicted: u64,
    /// Fragments that overlapped bytes already held (exact duplicates included).
    pub overlapping: u64,
    /// Fragments cut by the snapshot length (not usable for reassembly).
    pub truncated: u64,
    /// Fragments reaching past [`MAX_DATAGRAM_LEN`].
    pub oversize: u64,
}

/// The answer to one [`Defragmenter::push`].
#[derive(Debug)]
pub enum Outcome {
    /// The fragment is held until its datagram is complete.
    Held,
    /// Not usable for reassembly (or not a fragment): use the frame as it is.
    PassOn,
    /// This fragment completed its datagram.
    Complete(Reassembled),
}

/// A datagram rebuilt from its fragments.
#[derive(Debug, Clone)]
pub struct Reassembled {
    datagram: Vec<u8>,
    /// Boxed: the layer path makes it large, and `Outcome` should stay small.
    context: Box<Context>,
    /// Sum of the frame lengths of the fragments used (the datagram's cost on the wire).
    pub wire_len: u64,
    /// Fragments that made it up.
    pub fragments: u32,
}

impl Reassembled {
    /// The rebuilt IP datagram (header + whole payload).
    pub fn datagram(&self) -> &[u8] {
        &self.datagram
    }

    /// Decodes the datagram, with the link and outer headers of its first fragment.
    pub fn decode(&self) -> Decoded<'_> {
        let inner = decode_ip(&self.datagram);
        let ctx = &self.context;
        let (network, inner_network) = if ctx.inner {
            (ctx.network, inner.inner_network.or(Some(inner.network)))
        } else {
            (inner.network, inner.inner_network)
        };
        let mut layers = ctx.layers;
        // The context ends with the fragmented IP header, which the datagram starts with again.
        layers.truncate(ctx.layer_depth.saturating_sub(1));
        for layer in inner.layers.layers() {
            layers.push(layer);
        }
        Decoded {
            link: ctx.link,
            network,
            inner_network,
            layers,
            ..inner
        }
    }
}

/// What a datagram keeps of its first fragment's frame.
#[derive(Debug, Clone)]
struct Context {
    link: LinkInfo,
    network: Network,
    layers: LayerPath,
    layer_depth: usize,
    inner: bool,
}

impl Context {
    fn of(decoded: &Decoded<'_>, fragment: &Fragment<'_>) -> Self {
        Context {
            link: decoded.link,
            network: decoded.network,
            layers: decoded.layers,
            layer_depth: fragment.layer_depth as usize,
            inner: fragment.inner,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    ipv6: bool,
    addresses: [u8; 32],
    protocol: u8,
    identification: u32,
}

impl Key {
    fn of(fragment: &Fragment<'_>) -> Self {
        let mut addresses = [0u8; 32];
        // The walk hands out complete headers (20+ / 40 bytes), so these ranges exist.
        let source = if fragment.ipv6 {
            fragment.header.get(8..40)
        } else {
            fragment.header.get(12..20)
        };
        if let Some(source) = source {
            addresses[..source.len()].copy_from_slice(source);
        }
        Key {
            ipv6: fragment.ipv6,
            addresses,
            protocol: fragment.protocol,
            identification: fragment.identification,
        }
    }
}

/// One datagram in progress.
struct Datagram {
    first_seen_ns: i64,
    /// Arrival order, to break ties between equal timestamps deterministically.
    sequence: u64,
    /// From the offset-0 fragment once it arrived, else from the first one seen.
    header: Vec<u8>,
    context: Context,
    has_first: bool,
    payload: Vec<u8>,
    /// Byte ranges of `payload` held: sorted, disjoint, not touching.
    covered: Vec<(u32, u32)>,
    /// Payload length, known from the fragment with more-fragments clear.
    total: Option<u32>,
    wire_len: u64,
    fragments: u32,
}

impl Datagram {
    /// Copies the bytes of `data` not yet held (first copy wins); true if any were held.
    fn insert(&mut self, start: u32, data: &[u8]) -> bool {
        let end = start + data.len() as u32;
        if data.is_empty() {
            return false;
        }
        if self.payload.len() < end as usize {
            self.payload.resize(end as usize, 0);
        }
        let payload = &mut self.payload;
        let mut overlapped = false;
        let mut cursor = start;
        for &(held_start, held_end) in &self.covered {
            if held_end <= cursor {
                continue;
            }
            if held_start >= end {
                break;
            }
            if held_start > cursor {
                copy_new(payload, start, data, cursor, held_start);
            }
            overlapped = true;
            cursor = held_end;
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            copy_new(payload, start, data, cursor, end);
        }
        // Insert [start, end) and merge it with every range it touches.
        let first = self.covered.partition_point(|&(_, e)| e < start);
        let last = self.covered.partition_point(|&(s, _)| s <= end);
        let merged = self.covered[first..last]
            .iter()
            .fold((start, end), |(s, e), &(hs, he)| (s.min(hs), e.max(he)));
        self.covered.splice(first..last, [merged]);
        overlapped
    }

    fn is_complete(&self) -> bool {
        match self.total {
            Some(0) => true,
            Some(total) => self
                .covered
                .first()
                .is_some_and(|&(s, e)| s == 0 && e >= total),
            None => false,
        }
    }

    fn rebuild(mut self, ipv6: bool, protocol: u8) -> Reassembled {
        let total = self.total.unwrap_or(0) as usize;
        self.payload.truncate(total);
        let mut datagram = Vec::with_capacity(self.header.len() + total);
        datagram.extend_from_slice(&self.header);
        if ipv6 {
            datagram[4..6].copy_from_slice(&(total as u16).to_be_bytes());
            datagram[6] = protocol;
        } else {
            // Fragments may disagree on the header length; never wrap around.
            let total_len = u16::try_from(self.header.len() + total).unwrap_or(u16::MAX);
            datagram[2..4].copy_from_slice(&total_len.to_be_bytes());
            // Keep don't-fragment; clear more-fragments and the offset.
            datagram[6] &= 0x40;
            datagram[7] = 0;
        }
        datagram.extend_from_slice(&self.payload);
        Reassembled {
            datagram,
            context: Box::new(self.context),
            wire_len: self.wire_len,
            fragments: self.fragments,
        }
    }
}

/// Copies `data` (which belongs at `start`) into `payload[from..to]`.
fn copy_new(payload: &mut [u8], start: u32, data: &[u8], from: u32, to: u32) {
    let source = &data[(from - start) as usize..(to - start) as usize];
    payload[from as usize..to as usize].copy_from_slice(source);
}

/// Reassembles IP datagrams from their fragments. See the module docs.
pub struct Defragmenter {
    in_progress: HashMap<Key, Datagram>,
    /// The same datagrams by age (first fragment's time, then arrival): eviction and
    /// timeouts take the oldest without a scan.
    by_age: BTreeMap<(i64, u64), Key>,
    max_datagrams: usize,
    timeout_ns: i64,
    sequence: u64,
    stats: DefragStats,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DATAGRAMS, DEFAULT_TIMEOUT_NS)
    }
}

impl Defragmenter {
    /// `max_datagrams` in progress at once (at least 1), each dropped `timeout_ns` after its
    /// first fragment if still unfinished.
    pub fn new(max_datagrams: usize, timeout_ns: i64) -> Self {
        Defragmenter {
            in_progress: HashMap::new(),
            by_age: BTreeMap::new(),
            max_datagrams: max_datagrams.max(1),
            timeout_ns,
            sequence: 0,
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Datagrams waiting for fragments.
    pub fn in_progress(&self) -> usize {
        self.in_progress.len()
    }

    /// Offers the fragment of `decoded` (a frame of `wire_len` bytes on the wire, seen at
    /// `now_ns`).
    pub fn push(&mut self, now_ns: i64, wire_len: u32, decoded: &Decoded<'_>) -> Outcome {
        let Some(fragment) = decoded.fragment else {
            return Outcome::PassOn;
        };
        self.stats.fragments += 1;
        if fragment.data_missing > 0 {
            self.stats.truncated += 1;
            return Outcome::PassOn;
        }
        let start = u32::from(fragment.offset);
        let end = start + fragment.data.len() as u32;
        let header_share = if fragment.ipv6 {
            0
        } else {
            fragment.header.len()
        };
        let minimum_header = if fragment.ipv6 { 40 } else { 20 };
        if header_share + end as usize > MAX_DATAGRAM_LEN || fragment.header.len() < minimum_header
        {
            self.stats.oversize += 1;
            return Outcome::PassOn;
        }

        let key = Key::of(&fragment);
        if let Some(stale) = self.in_progress.get(&key) {
            if now_ns.saturating_sub(stale.first_seen_ns) > self.timeout_ns {
                self.remove(&key);
                self.stats.expired += 1;
            }
        }
        if !self.in_progress.contains_key(&key) && self.in_progress.len() >= self.max_datagrams {
            self.evict_oldest();
        }
        let sequence = self.sequence;
        let by_age = &mut self.by_age;
        let datagram = self.in_progress.entry(key).or_insert_with(|| {
            by_age.insert((now_ns, sequence), key);
            Datagram {
                first_seen_ns: now_ns,
                sequence,
                header: fragment.header.to_vec(),
                context: Context::of(decoded, &fragment),
                has_first: false,
                payload: Vec::new(),
                covered: Vec::new(),
                total: None,
                wire_len: 0,
                fragments: 0,
            }
        });
        self.sequence += 1;
        if fragment.offset == 0 && !datagram.has_first {
            datagram.has_first = true;
            datagram.header = fragment.header.to_vec();
            datagram.context = Context::of(decoded, &fragment);
        }
        if !fragment.more_fragments && datagram.total.is_none() {
            datagram.total = Some(end);
        }
        if datagram.insert(start, fragment.data) {
            self.stats.overlapping += 1;
        }
        datagram.wire_len += u64::from(wire_len);
        datagram.fragments += 1;
        if !datagram.is_complete() {
            return Outcome::Held;
        }
        let datagram = self.remove(&key).expect("present");
        self.stats.completed += 1;
        Outcome::Complete(datagram.rebuild(fragment.ipv6, fragment.protocol))
    }

    /// Drops datagrams unfinished `timeout_ns` after their first fragment.
    pub fn expire(&mut self, now_ns: i64) {
        while let Some((&(first_seen_ns, _), &key)) = self.by_age.first_key_value() {
            if now_ns.saturating_sub(first_seen_ns) <= self.timeout_ns {
                break;
            }
            self.remove(&key);
            self.stats.expired += 1;
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.by_age.pop_first() {
            self.in_progress.remove(&key);
            self.stats.evicted += 1;
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Datagram> {
        let datagram = self.in_progress.remove(key)?;
        self.by_age
            .remove(&(datagram.first_seen_ns, datagram.sequence));
        Some(datagram)
    }
}

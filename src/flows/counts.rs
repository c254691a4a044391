//! Packet and byte counts by protocol, link type and decode problem, plus a protocol
//! hierarchy in the spirit of `tshark -z io,phs`.

use crate::capture::{LinkType, Packet};
use crate::decode::{Decoded, Network, Transport};
use serde::Serialize;
use std::collections::BTreeMap;

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
}

impl ProtocolCounts {
    pub fn add(&mut self, packet: &Packet<'_>, decoded: &Decoded<'_>) {
        self.packets += 1;
        self.captured_bytes += packet.data.len() as u64;
        self.wire_bytes += u64::from(packet.original_len.max(packet.data.len() as u32));
        let ts = packet.timestamp_ns;
        self.first_ns = Some(self.first_ns.map_or(ts, |f| f.min(ts)));
        self.last_ns = Some(self.last_ns.map_or(ts, |l| l.max(ts)));
        self.count_link_type(packet.link_type);

        let (is_tcp, is_udp) = has_tcp_udp_anywhere(decoded);
        self.tcp += u64::from(is_tcp);
        self.udp += u64::from(is_udp);
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
            *self.undecodable.entry(problem.describe()).or_default() += 1;
        }
        self.count_hierarchy(
            decoded.layers.as_slice(),
            u64::from(packet.original_len.max(packet.data.len() as u32)),
        );
    }

    fn count_link_type(&mut self, link_type: LinkType) {
        // Avoid allocating a name per packet for the common case of one link type.
        if let Some(n) = self.link_types.get_mut(link_type.name().as_str()) {
            *n += 1;
        } else {
            self.link_types.insert(link_type.name(), 1);
        }
    }

    fn count_hierarchy(&mut self, layers: &[&'static str], bytes: u64) {
        let mut path = String::with_capacity(48);
        for name in layers {
            if !path.is_empty() {
                path.push(':');
            }
            path.push_str(name);
            if let Some(entry) = self.hierarchy.get_mut(path.as_str()) {
                entry.0 += 1;
                entry.1 += bytes;
            } else {
                self.hierarchy.insert(path.clone(), (1, bytes));
            }
        }
    }

    /// Adds another file's counts into this total.
    pub fn merge(&mut self, other: &ProtocolCounts) {
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

    pub fn duration_ns(&self) -> i64 {
        match (self.first_ns, self.last_ns) {
            (Some(f), Some(l)) => l - f,
            _ => 0,
        }
    }
}

/// Whether a frame has a TCP / UDP header anywhere, the way tshark's `tcp` and `udp` display
/// filters match (that is what the corpus oracle counts).
fn has_tcp_udp_anywhere(decoded: &Decoded<'_>) -> (bool, bool) {
    let quoted = decoded.icmp_quoted_protocol;
    (
        matches!(decoded.transport, Transport::Tcp(_)) || quoted == Some(6),
        matches!(decoded.transport, Transport::Udp(_)) || quoted == Some(17),
    )
}

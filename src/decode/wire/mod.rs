//! Zero-copy views over protocol headers, in the style of smoltcp's `wire` module.
//!
//! Every view wraps a byte buffer (`T: AsRef<[u8]>`) and can only be built through
//! `new_checked`, which proves that each field the accessors read lies inside the buffer.
//! Accessors then read big-endian fields in place: no copy, no allocation, no panic (field
//! reads go through [`be16`]/[`be32`], which return 0 instead of indexing out of bounds, so even
//! a broken invariant cannot panic).
//!
//! Lengths that a header *declares* (IPv4 total length, UDP length, ...) may exceed the captured
//! bytes when the snapshot length cut the frame: `payload()` returns what was captured and
//! `payload_missing()` how many bytes the snapshot dropped.

mod arp;
mod ethernet;
mod gre;
mod icmp;
mod ieee80211;
mod ipnet;
mod ipoib;
mod ipv4;
mod ipv6;
mod loopback;
mod mpls;
mod nflog;
mod pktap;
mod ppi;
mod pppoe;
mod radiotap;
mod sll;
mod tcp;
mod udp;

pub use arp::ArpPacket;
pub use ethernet::{EthernetFrame, VlanTag};
pub use gre::{ErspanHeader, GreHeader};
pub use icmp::{icmpv4_has_identifier, icmpv4_is_error, icmpv6_is_error, IcmpPacket};
pub use ieee80211::{AmsduSubframe, FrameType, Ieee80211Frame, LlcHeader};
pub use ipnet::{IpnetFamily, IpnetHeader};
pub use ipoib::IpoibHeader;
pub use ipv4::Ipv4Packet;
pub use ipv6::{AuthHeader, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6Packet};
pub use loopback::{LoopbackFamily, LoopbackHeader};
pub use mpls::MplsLabel;
pub use nflog::NflogHeader;
pub use pktap::PktapHeader;
pub use ppi::PpiHeader;
pub use pppoe::{PppFrame, PppoeHeader};
pub use radiotap::RadiotapHeader;
pub use sll::{Sll2Header, SllHeader};
pub use tcp::TcpPacket;
pub use udp::UdpPacket;

/// Why a view could not be built over a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The buffer ends before the header does.
    Truncated,
    /// A field holds an impossible value; the string names it (e.g. "ipv4 header length").
    Malformed(&'static str),
}

pub type Result<T> = core::result::Result<T, WireError>;

/// EtherType values (IEEE registry) that the decoder dispatches on.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (the outer tag of QinQ).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag still emitted by some switches.
    pub const QINQ_LEGACY: u16 = 0x9100;
    pub const IPV6: u16 = 0x86dd;
    pub const PPPOE_DISCOVERY: u16 = 0x8863;
    pub const PPPOE_SESSION: u16 = 0x8864;
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    /// GRE protocol type of bridged Ethernet (NVGRE, EoGRE).
    pub const TRANSPARENT_ETHERNET: u16 = 0x6558;
    /// GRE protocol type of ERSPAN type I/II.
    pub const ERSPAN_II: u16 = 0x88be;
    /// GRE protocol type of ERSPAN type III.
    pub const ERSPAN_III: u16 = 0x22eb;
    /// GRE protocol type of PPP (PPTP's enhanced GRE).
    pub const PPP: u16 = 0x880b;
    /// Values up to this one are an 802.3 length, not an EtherType.
    pub const MAX_802_3_LENGTH: u16 = 1500;

    /// Is this the EtherType of an 802.1Q / 802.1ad tag?
    #[inline]
    pub fn is_vlan(ethertype: u16) -> bool {
        matches!(ethertype, VLAN | QINQ | QINQ_LEGACY)
    }
}

/// IP protocol numbers (IANA), shared by IPv4's `protocol` and IPv6's `next header`.
pub mod ip_protocol {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const IPV4_IN_IP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_IN_IP: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AUTH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DESTINATION_OPTIONS: u8 = 60;
    pub const SCTP: u8 = 132;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

/// Reads a big-endian u16 at `at`, or 0 if the buffer is too short (never panics).
#[inline(always)]
pub(crate) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.wrapping_add(2)) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian u32 at `at`, or 0 if the buffer is too short (never panics).
#[inline(always)]
pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Reads a little-endian u16 at `at`, or 0 if the buffer is too short (radiotap, PPI, PKTAP).
#[inline(always)]
pub(crate) fn le16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at.wrapping_add(2)) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a little-endian u32 at `at`, or 0 if the buffer is too short.
#[inline(always)]
pub(crate) fn le32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Reads one byte at `at`, or 0 if the buffer is too short.
#[inline(always)]
pub(crate) fn byte(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

/// `bytes[from..to]` clipped to the buffer (empty when `from` is past the end).
#[inline(always)]
pub(crate) fn clip(bytes: &[u8], from: usize, to: usize) -> &[u8] {
    let to = to.min(bytes.len());
    bytes.get(from..to).unwrap_or(&[])
}

/// Copies `N` bytes at `at`, or zeros if the buffer is too short.
#[inline(always)]
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    match bytes.get(at..at.wrapping_add(N)) {
        Some(slice) => {
            let mut out = [0u8; N];
            out.copy_from_slice(slice);
            out
        }
        None => [0u8; N],
    }
}

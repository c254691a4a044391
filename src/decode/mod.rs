//! Decoding: frame bytes -> link, network and transport headers.
//!
//! `wire` holds zero-copy views over header bytes (`Ipv4Packet<T: AsRef<[u8]>>` with field
//! accessors, in the style of smoltcp); [`decode`] walks a frame through them once and fills
//! the small, copyable [`Decoded`] summary that the rest of tracetail works on. Headers that
//! are present in a truncated snapshot are still used; what is missing is reported in
//! [`Decoded::problem`] rather than dropping the packet.
//!
//! IP fragments are reported in [`Decoded::fragment`]; [`defrag::Defragmenter`] puts their
//! datagrams back together and [`decode_ip`] decodes the result.

pub mod defrag;
pub mod wire;

mod walk;

use crate::capture::LinkType;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Everything tracetail needs to know about one frame.
#[derive(Debug, Clone, Default)]
pub struct Decoded<'a> {
    pub link: LinkInfo,
    /// The first (outermost) IP header, or ARP / another EtherType.
    pub network: Network,
    /// The innermost IP header when IP is tunnelled (GRE, IP-in-IP, ...); `None` otherwise.
    pub inner_network: Option<Network>,
    /// The transport header that follows the innermost IP header.
    pub transport: Transport<'a>,
    /// Protocol path as in `tshark -z io,phs`, outermost first (e.g. `eth`, `vlan`, `ip`, `tcp`).
    pub layers: LayerPath,
    /// Why decoding stopped early, if it did (the packet is counted as malformed).
    pub problem: Option<DecodeProblem>,
    /// The protocol of the IP header quoted inside an ICMP / ICMPv6 error, when at least one
    /// byte of that quoted transport header was captured. tshark's `tcp` / `udp` display
    /// filters match such quoted headers, so "frames with TCP anywhere" needs this.
    pub icmp_quoted_protocol: Option<u8>,
    /// The outermost IP header that is a fragment, with its share of the datagram; what
    /// [`defrag::Defragmenter`] needs to put the datagram back together.
    pub fragment: Option<Fragment<'a>>,
}

/// One IP fragment as found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub ipv6: bool,
    /// The header to rebuild the datagram from: the IPv4 header with its options, or the
    /// fixed 40-byte IPv6 header (extension headers before the fragment header are dropped).
    pub header: &'a [u8],
    /// The protocol of the fragmented payload (IPv4 protocol, IPv6 fragment header's next header).
    pub protocol: u8,
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub identification: u32,
    /// Where `data` goes in the datagram's payload, in bytes.
    pub offset: u16,
    pub more_fragments: bool,
    /// The fragment's bytes present in the capture.
    pub data: &'a [u8],
    /// Bytes of this fragment cut by the snapshot length (such a fragment cannot be used).
    pub data_missing: u32,
    /// The fragmented header is [`Decoded::inner_network`] (tunnelled), not `network`.
    pub inner: bool,
    /// Entries of [`Decoded::layers`] up to and including this IP header.
    pub layer_depth: u8,
}

/// Link layer facts (Scapy's session keys depend on whether an Ethernet layer exists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// An Ethernet II header was decoded (link type Ethernet with an EtherType, not 802.3
    /// length), as Scapy would find it: also inside PPI (Scapy decodes PPI), not inside PKTAP
    /// (Scapy has no PKTAP layer and sees raw bytes).
    pub has_ethernet: bool,
    /// The EtherType of the outermost Ethernet header (Scapy's `Ether.type`), before VLAN tags.
    pub outer_ethertype: Option<u16>,
    /// The EtherType after VLAN tags (the protocol actually carried).
    pub ethertype: Option<u16>,
    /// Number of 802.1Q/802.1ad tags walked.
    pub vlan_depth: u8,
    /// Source and destination MAC addresses; for 802.11 data frames the original source and
    /// final destination (tshark's `wlan.sa` / `wlan.da`), whichever address fields hold them.
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
}

/// `Network::Other { ethertype: ETHERTYPE_802_3 }` marks an 802.3 (length, LLC) frame, which
/// has no EtherType.
pub const ETHERTYPE_802_3: u16 = 0;

/// The network layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Network {
    /// Nothing decoded at the network layer (unsupported link type, truncated, ...).
    #[default]
    None,
    Ipv4(Ipv4Info),
    Ipv6(Ipv6Info),
    Arp(ArpInfo),
    /// An EtherType (or link protocol) that is not IP or ARP.
    Other {
        ethertype: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Info {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 47 GRE, ...).
    pub protocol: u8,
    pub ttl: u8,
    pub header_len: u8,
    pub total_len: u16,
    pub identification: u16,
    /// More-fragments set or a non-zero offset: the transport header is not parsed
    /// unless this is the first fragment.
    pub is_fragment: bool,
    /// Fragment offset in bytes (the header field times 8).
    pub fragment_offset: u16,
    pub has_options: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Info {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The `next header` field of the fixed header (Scapy's `IPv6.nh`).
    pub next_header: u8,
    /// The protocol after walking extension headers (6 TCP, 17 UDP, 58 ICMPv6, ...).
    pub transport_protocol: u8,
    pub payload_len: u16,
    pub hop_limit: u8,
    pub is_fragment: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpInfo {
    pub operation: u16,
    /// Sender / target protocol addresses when they are IPv4 (Scapy's `psrc` / `pdst`).
    pub sender_ip: Option<Ipv4Addr>,
    pub target_ip: Option<Ipv4Addr>,
}

/// The transport layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport<'a> {
    #[default]
    None,
    Tcp(TcpInfo<'a>),
    Udp(UdpInfo<'a>),
    Icmp {
        icmp_type: u8,
        code: u8,
        identifier: Option<u16>,
    },
    Icmpv6 {
        icmp_type: u8,
        code: u8,
    },
    /// Another IP protocol (the number is in the IP header).
    Other {
        protocol: u8,
    },
}

/// TCP flag bits as in the header's flags byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Payload bytes present in the capture (Ethernet padding removed via the IP length).
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire but cut by the snapshot length.
    pub payload_missing: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpInfo<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
    pub payload_missing: u32,
}

/// Why a packet could not be fully decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecodeProblem {
    /// The link type is not one tracetail decodes (counted per link type, not an error).
    UnsupportedLinkType,
    /// A header was cut by the snapshot length or the frame end.
    Truncated(&'static str),
    /// A header field is impossible (e.g. IPv4 IHL < 5).
    Malformed(&'static str),
}

impl DecodeProblem {
    pub fn describe(&self) -> String {
        match self {
            DecodeProblem::UnsupportedLinkType => "unsupported link type".into(),
            DecodeProblem::Truncated(what) => format!("truncated {what}"),
            DecodeProblem::Malformed(what) => format!("malformed {what}"),
        }
    }
}

/// Declares [`Layer`] once: each protocol with its name, in code order (the first is code 1;
/// 0 is left for the empty slots of a [`LayerPath`]).
macro_rules! layers {
    ($first:ident => $first_name:literal, $($layer:ident => $name:literal,)*) => {
        /// One protocol of a [`LayerPath`], named as in `tshark -z io,phs` by [`Layer::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Layer {
            $first = 1,
            $($layer,)*
        }

        impl Layer {
            /// Every layer, in code order (a layer's code is its index + 1).
            const ALL: &[Layer] = &[Layer::$first, $(Layer::$layer,)*];

            pub fn name(self) -> &'static str {
                match self {
                    Layer::$first => $first_name,
                    $(Layer::$layer => $name,)*
                }
            }
        }
    };
}

layers! {
    Ah => "ah",
    Arp => "arp",
    Chap => "chap",
    Data => "data",
    Erspan => "erspan",
    Esp => "esp",
    Eth => "eth",
    Gre => "gre",
    Icmp => "icmp",
    Icmpv6 => "icmpv6",
    Igmp => "igmp",
    Ip => "ip",
    IpCp => "ipcp",
    IpNet => "ipnet",
    IpoIb => "ipoib",
    Ipv6 => "ipv6",
    Ipv6Cp => "ipv6cp",
    Lcp => "lcp",
    Llc => "llc",
    Mpls => "mpls",
    Nflog => "nflog",
    Null => "null",
    Pap => "pap",
    Pktap => "pktap",
    Ppi => "ppi",
    Ppp => "ppp",
    PppoeD => "pppoed",
    PppoeS => "pppoes",
    PwEthCw => "pwethcw",
    Radiotap => "radiotap",
    Raw => "raw",
    Sctp => "sctp",
    Sll => "sll",
    Tcp => "tcp",
    Udp => "udp",
    Vlan => "vlan",
    Wlan => "wlan",
}

impl Layer {
    /// The layer of a [`LayerPath`] code; codes are only ever made from layers.
    #[inline]
    fn from_code(code: u8) -> Layer {
        Layer::ALL[usize::from(code)
            .saturating_sub(1)
            .min(Layer::ALL.len() - 1)]
    }
}

/// Up to 12 protocols, outermost first. One byte each, so a fresh path is two words of
/// zeros and two paths compare as 13 bytes (names as strings made `Decoded` ~190 bytes larger
/// and cost ~90 instructions a packet to clear, fill and compare).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LayerPath {
    /// `Layer as u8` codes; slots past `len` stay 0, so the derived comparison (a 13-byte
    /// compare) and hash see only the path.
    codes: [u8; 12],
    len: u8,
}

impl LayerPath {
    #[inline(always)]
    pub fn push(&mut self, layer: Layer) {
        if let Some(slot) = self.codes.get_mut(self.len as usize) {
            *slot = layer as u8;
            self.len += 1;
        }
    }

    pub fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
        self.codes[..self.len as usize]
            .iter()
            .map(|&code| Layer::from_code(code))
    }

    /// The protocol names, outermost first (e.g. `["eth", "ip", "tcp"]`).
    pub fn as_slice(&self) -> LayerNames {
        let mut names = LayerNames {
            names: [""; 12],
            len: self.len,
        };
        for (name, layer) in names.names.iter_mut().zip(self.layers()) {
            *name = layer.name();
        }
        names
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, layer: Layer) -> bool {
        self.codes[..self.len as usize].contains(&(layer as u8))
    }

    /// Keeps the first `len` protocols.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len.min(self.codes.len()) as u8);
        for slot in &mut self.codes[self.len as usize..] {
            *slot = 0;
        }
    }
}

/// The names of a [`LayerPath`]; derefs to `[&'static str]`.
#[derive(Clone, Copy)]
pub struct LayerNames {
    names: [&'static str; 12],
    len: u8,
}

impl std::ops::Deref for LayerNames {
    type Target = [&'static str];
    fn deref(&self) -> &[&'static str] {
        &self.names[..self.len as usize]
    }
}

impl std::fmt::Debug for LayerNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<const N: usize> PartialEq<[&str; N]> for LayerNames {
    fn eq(&self, other: &[&str; N]) -> bool {
        **self == other[..]
    }
}

impl PartialEq<[&str]> for LayerNames {
    fn eq(&self, other: &[&str]) -> bool {
        **self == *other
    }
}

impl Decoded<'_> {
    /// Does the frame carry a TCP header anywhere (the innermost transport, or quoted in an
    /// ICMP error)? This is what tshark's `tcp` display filter matches.
    pub fn has_tcp_anywhere(&self) -> bool {
        matches!(self.transport, Transport::Tcp(_))
            || self.icmp_quoted_protocol == Some(wire::ip_protocol::TCP)
    }

    /// Like [`Self::has_tcp_anywhere`] for UDP.
    pub fn has_udp_anywhere(&self) -> bool {
        matches!(self.transport, Transport::Udp(_))
            || self.icmp_quoted_protocol == Some(wire::ip_protocol::UDP)
    }

    /// Whether there is an IP header ([`Self::ip_endpoints`] is `Some`), without building
    /// the addresses.
    pub fn has_ip_endpoints(&self) -> bool {
        matches!(
            self.inner_network.as_ref().unwrap_or(&self.network),
            Network::Ipv4(_) | Network::Ipv6(_)
        )
    }

    /// Source and destination of the innermost IP header, if any.
    pub fn ip_endpoints(&self) -> Option<(IpAddr, IpAddr)> {
        // By reference: copying the `Network` (tens of bytes) cost ~100 instructions a packet.
        match self.inner_network.as_ref().unwrap_or(&self.network) {
            Network::Ipv4(ip) => Some((IpAddr::V4(ip.src), IpAddr::V4(ip.dst))),
            Network::Ipv6(ip) => Some((IpAddr::V6(ip.src), IpAddr::V6(ip.dst))),
            _ => None,
        }
    }
}

/// Decodes one frame of the given link type. Never panics, never allocates.
///
/// Headers are walked outermost first; the first problem met stops the walk and is recorded
/// in [`Decoded::problem`], keeping everything decoded before it.
#[inline]
pub fn decode(link_type: LinkType, frame: &[u8]) -> Decoded<'_> {
    let mut decoded = Decoded::default();
    decode_into(link_type, frame, &mut decoded);
    decoded
}

impl Decoded<'_> {
    /// Back to nothing decoded, for decoding another frame into the same place.
    #[inline(always)]
    pub fn clear(&mut self) {
        *self = Decoded::default();
    }
}

/// [`decode`] into `decoded`, which must be a fresh `Decoded::default()` (or
/// [cleared](Decoded::clear)): a hot loop that
/// keeps the summary in its own frame saves copying its ~380 bytes out of the call.
#[inline]
pub fn decode_into<'a>(link_type: LinkType, frame: &'a [u8], decoded: &mut Decoded<'a>) {
    walk::decode_into(link_type, frame, decoded);
}

/// Decodes a bare IP datagram (IPv4 or IPv6 by its version nibble), e.g. one rebuilt from
/// fragments. Unlike the raw link types, no `raw` layer is pushed.
pub fn decode_ip(datagram: &[u8]) -> Decoded<'_> {
    let mut decoded = Decoded::default();
    walk::decode_ip_into(datagram, &mut decoded);
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_code_maps_back_to_its_layer() {
        for (i, layer) in Layer::ALL.iter().enumerate() {
            assert_eq!(*layer as usize, i + 1, "{layer:?} out of code order");
            assert_eq!(Layer::from_code(*layer as u8), *layer);
        }
        let mut path = LayerPath::default();
        for layer in [
            Layer::Eth,
            Layer::Vlan,
            Layer::Ip,
            Layer::Gre,
            Layer::Ipv6,
            Layer::Tcp,
        ] {
            path.push(layer);
        }
        assert_eq!(path.as_slice(), ["eth", "vlan", "ip", "gre", "ipv6", "tcp"]);
        let mut shorter = path;
        shorter.truncate(3);
        assert_eq!(shorter.as_slice(), ["eth", "vlan", "ip"]);
        let mut same = LayerPath::default();
        for layer in [Layer::Eth, Layer::Vlan, Layer::Ip] {
            same.push(layer);
        }
        assert_eq!(
            shorter, same,
            "a truncated path equals the same path pushed"
        );
    }
}

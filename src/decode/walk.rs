//! The header walk behind [`super::decode`]: one function per protocol, each reading its header
//! through a `wire` view and handing the payload to the next one.
//!
//! Tunnels (GRE, IP-in-IP, MPLS, ...) make the walk recursive; `depth` counts nested tunnels
//! and stops at [`MAX_TUNNEL_DEPTH`], so a crafted frame cannot recurse without bound.

use super::wire::{
    ethertype, icmpv4_has_identifier, icmpv4_is_error, icmpv6_is_error, ip_protocol, AmsduSubframe,
    ArpPacket, AuthHeader, ErspanHeader, EthernetFrame, FrameType, GreHeader, IcmpPacket,
    Ieee80211Frame, IpnetFamily, IpnetHeader, IpoibHeader, Ipv4Packet, Ipv6ExtHeader,
    Ipv6FragmentHeader, Ipv6Packet, LlcHeader, LoopbackFamily, LoopbackHeader, MplsLabel,
    NflogHeader, PktapHeader, PpiHeader, PppFrame, PppoeHeader, RadiotapHeader, Sll2Header,
    SllHeader, TcpPacket, UdpPacket, VlanTag, WireError,
};
use super::{
    ArpInfo, DecodeProblem, Decoded, Fragment, Ipv4Info, Ipv6Info, Layer, Network, TcpFlags,
    TcpInfo, Transport, UdpInfo, ETHERTYPE_802_3,
};
use crate::capture::LinkType;

/// Nested tunnels followed before giving up (real traffic rarely exceeds 2 or 3).
const MAX_TUNNEL_DEPTH: u8 = 8;

const LINKTYPE_PPP: LinkType = LinkType(9);
const LINKTYPE_PPP_HDLC: LinkType = LinkType(50);
const LINKTYPE_IEEE802_11: LinkType = LinkType(105);
const LINKTYPE_RADIOTAP: LinkType = LinkType(127);
const LINKTYPE_PPI: LinkType = LinkType(192);
const LINKTYPE_IPNET: LinkType = LinkType(226);
const LINKTYPE_NFLOG: LinkType = LinkType(239);
const LINKTYPE_IPOIB: LinkType = LinkType(242);
const LINKTYPE_PKTAP: LinkType = LinkType(258);

/// PPP protocol numbers.
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS: u16 = 0x0281;

/// Fills `d` (a fresh `Decoded::default()`). Working through `&mut` instead of building and
/// returning a `Walk` by value saves copying the ~380-byte summary on every packet.
#[inline]
pub(super) fn decode_into<'a>(link_type: LinkType, frame: &'a [u8], d: &mut Decoded<'a>) {
    Walk { d }.link(link_type, frame, false);
}

/// Fills `d` from a bare IP datagram (see [`super::decode_ip`]).
pub(super) fn decode_ip_into<'a>(datagram: &'a [u8], d: &mut Decoded<'a>) {
    Walk { d }.ip_by_version(datagram, 0);
}

struct Walk<'w, 'a> {
    d: &'w mut Decoded<'a>,
}

impl<'a> Walk<'_, 'a> {
    /// Records the first problem only: later ones are consequences of it.
    #[inline]
    fn problem(&mut self, problem: DecodeProblem) {
        if self.d.problem.is_none() {
            self.d.problem = Some(problem);
        }
    }

    #[inline]
    fn wire_problem(&mut self, error: WireError, what: &'static str) {
        self.problem(match error {
            WireError::Truncated => DecodeProblem::Truncated(what),
            WireError::Malformed(field) => DecodeProblem::Malformed(field),
        });
    }

    /// The outermost IP header becomes `network`, any later one `inner_network`; a new IP
    /// header also resets the transport, which must be the one after the innermost IP.
    #[inline]
    fn ip_found(&mut self, network: Network) {
        match self.d.network {
            Network::None | Network::Other { .. } => self.d.network = network,
            _ => self.d.inner_network = Some(network),
        }
        self.d.transport = Transport::None;
    }

    /// Keeps the outermost fragmented IP header (reassembling it reveals anything inside);
    /// called right after [`Self::ip_found`] for that header.
    #[inline]
    fn fragment_found(&mut self, fragment: Fragment<'a>) {
        if self.d.fragment.is_none() {
            self.d.fragment = Some(Fragment {
                inner: self.d.inner_network.is_some(),
                layer_depth: self.d.layers.len() as u8,
                ..fragment
            });
        }
    }

    /// Marks a non-IP network protocol unless an IP header was already found.
    #[inline]
    fn other_network(&mut self, ethertype: u16) {
        if self.d.network == Network::None {
            self.d.network = Network::Other { ethertype };
        }
    }

    // ---- link layers ----

    /// Dispatches on the link type. `nested` is set for the frame inside a PPI or PKTAP
    /// pseudo-header, which may not hold another pseudo-header (no unbounded recursion).
    #[inline]
    fn link(&mut self, link_type: LinkType, frame: &'a [u8], nested: bool) {
        match link_type {
            LinkType::ETHERNET => self.ethernet(frame, 0, true),
            LinkType::NULL => self.loopback(frame, false),
            LinkType::LOOP => self.loopback(frame, true),
            LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => {
                self.d.layers.push(Layer::Raw);
                self.ip_by_version(frame, 0);
            }
            LinkType::IPV4 => self.ipv4(frame, 0),
            LinkType::IPV6 => self.ipv6(frame, 0),
            LinkType::LINUX_SLL => self.sll(frame),
            LinkType::LINUX_SLL2 => self.sll2(frame),
            LINKTYPE_NFLOG => self.nflog(frame),
            LINKTYPE_IPOIB => self.ipoib(frame),
            LINKTYPE_IEEE802_11 => self.ieee80211(frame, false),
            LINKTYPE_RADIOTAP => self.radiotap(frame),
            LINKTYPE_PPP | LINKTYPE_PPP_HDLC => self.ppp(frame, 0),
            LINKTYPE_IPNET => self.ipnet(frame),
            LINKTYPE_PPI if !nested => self.ppi(frame),
            LINKTYPE_PKTAP if !nested => self.pktap(frame),
            LINKTYPE_PPI | LINKTYPE_PKTAP => {
                self.problem(DecodeProblem::Malformed("nested pseudo-header"))
            }
            _ => self.problem(DecodeProblem::UnsupportedLinkType),
        }
    }

    /// The link type named by a PPI or PKTAP header (a DLT, equal to the LINKTYPE for every
    /// type we decode).
    fn inner_link(&mut self, dlt: u32, frame: &'a [u8]) {
        match u16::try_from(dlt) {
            Ok(link_type) => self.link(LinkType(link_type), frame, true),
            Err(_) => self.problem(DecodeProblem::UnsupportedLinkType),
        }
    }

    /// tshark's pseudo layers (`wlan_radio`, `pcap_pktdata`) are not pushed, like `ethertype`.
    fn radiotap(&mut self, bytes: &'a [u8]) {
        match RadiotapHeader::new_checked(bytes) {
            Ok(radiotap) => {
                self.d.layers.push(Layer::Radiotap);
                self.ieee80211(radiotap.payload(), radiotap.data_pad())
            }
            Err(e) => self.wire_problem(e, "radiotap header"),
        }
    }

    fn ppi(&mut self, bytes: &'a [u8]) {
        let ppi = match PpiHeader::new_checked(bytes) {
            Ok(ppi) => ppi,
            Err(e) => return self.wire_problem(e, "ppi header"),
        };
        self.d.layers.push(Layer::Ppi);
        let mut frame = ppi.payload();
        if ppi.dlt() == u32::from(LINKTYPE_IEEE802_11.0) && ppi.has_fcs() {
            frame = &frame[..frame.len().saturating_sub(4)];
        }
        // Scapy decodes PPI and the frame inside it, so an inner Ethernet header counts as
        // Scapy's `Ether` layer (unlike PKTAP's).
        self.inner_link(ppi.dlt(), frame);
    }

    fn pktap(&mut self, bytes: &'a [u8]) {
        let pktap = match PktapHeader::new_checked(bytes) {
            Ok(pktap) => pktap,
            Err(e) => return self.wire_problem(e, "pktap header"),
        };
        self.d.layers.push(Layer::Pktap);
        if !pktap.is_packet() {
            return;
        }
        self.inner_link(pktap.dlt(), pktap.payload());
        // Scapy has no PKTAP layer: the whole frame is Raw to it, so its session key is
        // `Other` even when the inner frame is Ethernet.
        self.d.link.has_ethernet = false;
    }

    fn ipnet(&mut self, bytes: &'a [u8]) {
        let ipnet = match IpnetHeader::new_checked(bytes) {
            Ok(ipnet) => ipnet,
            Err(e) => return self.wire_problem(e, "ipnet header"),
        };
        self.d.layers.push(Layer::IpNet);
        match ipnet.family() {
            IpnetFamily::Ipv4 => self.ipv4(ipnet.payload(), 0),
            IpnetFamily::Ipv6 => self.ipv6(ipnet.payload(), 0),
            IpnetFamily::Other(_) => self.d.layers.push(Layer::Data),
        }
    }

    /// An 802.11 frame (FCS already removed). Only unprotected data frames reach the network
    /// layer; management, control and encrypted frames end at `wlan` without a problem.
    /// `padded`: the MAC header is padded to 4 bytes (radiotap data-pad flag).
    fn ieee80211(&mut self, bytes: &'a [u8], padded: bool) {
        let wlan = match Ieee80211Frame::new_checked(bytes) {
            Ok(wlan) => wlan,
            Err(e) => return self.wire_problem(e, "wlan header"),
        };
        self.d.layers.push(Layer::Wlan);
        if wlan.protocol_version() != 0 || wlan.frame_type() != FrameType::Data {
            return;
        }
        self.d.link.src_mac = Some(wlan.source());
        self.d.link.dst_mac = Some(wlan.destination());
        if !wlan.data_has_body() {
            return;
        }
        let body = wlan.payload(padded);
        if wlan.protected() {
            if !body.is_empty() {
                self.d.layers.push(Layer::Data);
            }
            return;
        }
        if wlan.amsdu_present() {
            // Each A-MSDU subframe is a whole MSDU; the first one stands for the frame.
            match AmsduSubframe::new_checked(body) {
                Ok(subframe) => self.llc(subframe.payload()),
                Err(e) => self.wire_problem(e, "a-msdu subframe"),
            }
            return;
        }
        self.llc(body);
    }

    /// An 802.2 LLC header; SNAP headers with an EtherType continue into the EtherType walk.
    fn llc(&mut self, bytes: &'a [u8]) {
        if bytes.is_empty() {
            return;
        }
        let llc = match LlcHeader::new_checked(bytes) {
            Ok(llc) => llc,
            Err(e) => return self.wire_problem(e, "llc header"),
        };
        self.d.layers.push(Layer::Llc);
        match llc.ethertype() {
            Some(ethertype) => {
                self.d.link.ethertype = Some(ethertype);
                self.ethertype(ethertype, llc.snap_payload(), 0)
            }
            None => self.other_network(ETHERTYPE_802_3),
        }
    }

    /// An Ethernet frame; `outer` fills [`super::LinkInfo`] (inner frames of GRE/ERSPAN don't).
    #[inline]
    fn ethernet(&mut self, bytes: &'a [u8], depth: u8, outer: bool) {
        let eth = match EthernetFrame::new_checked(bytes) {
            Ok(eth) => eth,
            Err(e) => return self.wire_problem(e, "ethernet header"),
        };
        self.d.layers.push(Layer::Eth);
        let first_type = eth.ethertype();
        if outer {
            self.d.link.src_mac = Some(eth.src_addr());
            self.d.link.dst_mac = Some(eth.dst_addr());
        }
        if eth.is_802_3() {
            self.d.layers.push(Layer::Llc);
            self.other_network(ETHERTYPE_802_3);
            return;
        }
        if outer {
            self.d.link.has_ethernet = true;
            self.d.link.outer_ethertype = Some(first_type);
        }
        let Some((ethertype, payload, tags)) = self.vlan_tags(first_type, eth.payload()) else {
            return;
        };
        if outer {
            self.d.link.ethertype = Some(ethertype);
            self.d.link.vlan_depth = tags;
        }
        self.ethertype(ethertype, payload, depth);
    }

    /// Walks 802.1Q / 802.1ad tags; returns the carried EtherType, its payload and the tag count.
    #[inline]
    fn vlan_tags(
        &mut self,
        mut ethertype: u16,
        mut payload: &'a [u8],
    ) -> Option<(u16, &'a [u8], u8)> {
        let mut tags = 0u8;
        while ethertype::is_vlan(ethertype) {
            let tag = match VlanTag::new_checked(payload) {
                Ok(tag) => tag,
                Err(e) => {
                    self.wire_problem(e, "vlan tag");
                    return None;
                }
            };
            self.d.layers.push(Layer::Vlan);
            tags = tags.saturating_add(1);
            ethertype = tag.ethertype();
            payload = tag.payload();
        }
        Some((ethertype, payload, tags))
    }

    fn loopback(&mut self, bytes: &'a [u8], network_order: bool) {
        let header = match LoopbackHeader::new_checked(bytes) {
            Ok(header) => header,
            Err(e) => return self.wire_problem(e, "loopback header"),
        };
        self.d.layers.push(Layer::Null);
        let family = if network_order {
            header.family_network_order()
        } else {
            header.family_host_order()
        };
        match family {
            LoopbackFamily::Ipv4 => self.ipv4(header.payload(), 0),
            LoopbackFamily::Ipv6 => self.ipv6(header.payload(), 0),
            LoopbackFamily::Other(_) => self.d.layers.push(Layer::Data),
        }
    }

    fn sll(&mut self, bytes: &'a [u8]) {
        match SllHeader::new_checked(bytes) {
            Ok(sll) => self.cooked(sll.protocol(), sll.payload()),
            Err(e) => self.wire_problem(e, "sll header"),
        }
    }

    fn sll2(&mut self, bytes: &'a [u8]) {
        match Sll2Header::new_checked(bytes) {
            Ok(sll) => self.cooked(sll.protocol(), sll.payload()),
            Err(e) => self.wire_problem(e, "sll2 header"),
        }
    }

    fn nflog(&mut self, bytes: &'a [u8]) {
        let nflog = match NflogHeader::new_checked(bytes) {
            Ok(nflog) => nflog,
            Err(e) => return self.wire_problem(e, "nflog header"),
        };
        self.d.layers.push(Layer::Nflog);
        match nflog.packet() {
            Some(packet) => self.ip_by_version(packet, 0),
            None => self.problem(DecodeProblem::Truncated("nflog payload")),
        }
    }

    fn ipoib(&mut self, bytes: &'a [u8]) {
        match IpoibHeader::new_checked(bytes) {
            Ok(ipoib) => {
                self.d.layers.push(Layer::IpoIb);
                self.d.link.ethertype = Some(ipoib.ethertype());
                self.ethertype(ipoib.ethertype(), ipoib.payload(), 0)
            }
            Err(e) => self.wire_problem(e, "ipoib header"),
        }
    }

    /// The common part of SLL and SLL2: `protocol` is an EtherType for Ethernet-like devices.
    fn cooked(&mut self, protocol: u16, payload: &'a [u8]) {
        self.d.layers.push(Layer::Sll);
        // Values <= 1500 are Linux ETH_P_* pseudo protocols (802.2 LLC, 802.3, CAN, ...).
        if protocol <= ethertype::MAX_802_3_LENGTH {
            self.d.link.ethertype = Some(protocol);
            self.other_network(protocol);
            self.d.layers.push(Layer::Data);
            return;
        }
        let Some((ethertype, payload, tags)) = self.vlan_tags(protocol, payload) else {
            return;
        };
        self.d.link.ethertype = Some(ethertype);
        self.d.link.vlan_depth = tags;
        self.ethertype(ethertype, payload, 0);
    }

    /// Dispatches on an EtherType (after VLAN tags).
    #[inline(always)]
    fn ethertype(&mut self, ethertype: u16, payload: &'a [u8], depth: u8) {
        match ethertype {
            ethertype::IPV4 => self.ipv4(payload, depth),
            ethertype::IPV6 => self.ipv6(payload, depth),
            ethertype::ARP => self.arp(payload),
            ethertype::PPPOE_SESSION => self.pppoe(payload, depth),
            ethertype::PPPOE_DISCOVERY => {
                self.other_network(ethertype);
                self.d.layers.push(Layer::PppoeD);
            }
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => {
                self.other_network(ethertype);
                self.mpls(payload, depth)
            }
            _ => {
                self.other_network(ethertype);
                if !payload.is_empty() {
                    self.d.layers.push(Layer::Data);
                }
            }
        }
    }

    fn arp(&mut self, bytes: &'a [u8]) {
        let arp = match ArpPacket::new_checked(bytes) {
            Ok(arp) => arp,
            Err(e) => return self.wire_problem(e, "arp"),
        };
        self.d.layers.push(Layer::Arp);
        if matches!(self.d.network, Network::None | Network::Other { .. }) {
            self.d.network = Network::Arp(ArpInfo {
                operation: arp.operation(),
                sender_ip: arp.sender_ipv4(),
                target_ip: arp.target_ipv4(),
            });
        }
    }

    #[inline(never)]
    fn pppoe(&mut self, bytes: &'a [u8], depth: u8) {
        self.other_network(ethertype::PPPOE_SESSION);
        let pppoe = match PppoeHeader::new_checked(bytes) {
            Ok(pppoe) => pppoe,
            Err(e) => return self.wire_problem(e, "pppoe header"),
        };
        self.d.layers.push(Layer::PppoeS);
        self.ppp(pppoe.payload(), depth);
    }

    #[inline(never)]
    fn ppp(&mut self, bytes: &'a [u8], depth: u8) {
        let ppp = match PppFrame::new_checked(bytes) {
            Ok(ppp) => ppp,
            Err(e) => return self.wire_problem(e, "ppp header"),
        };
        self.d.layers.push(Layer::Ppp);
        match ppp.protocol() {
            PPP_IPV4 => self.ipv4(ppp.payload(), depth),
            PPP_IPV6 => self.ipv6(ppp.payload(), depth),
            PPP_MPLS => self.mpls(ppp.payload(), depth),
            0xc021 => self.d.layers.push(Layer::Lcp),
            0x8021 => self.d.layers.push(Layer::IpCp),
            0x8057 => self.d.layers.push(Layer::Ipv6Cp),
            0xc023 => self.d.layers.push(Layer::Pap),
            0xc223 => self.d.layers.push(Layer::Chap),
            _ => self.d.layers.push(Layer::Data),
        }
    }

    /// Pops MPLS labels to the bottom of the stack, then guesses the payload from its first
    /// nibble as routers and tshark do: 4 = IPv4, 6 = IPv6, 0 = pseudowire control word
    /// followed by Ethernet.
    #[inline(never)]
    fn mpls(&mut self, mut bytes: &'a [u8], depth: u8) {
        self.d.layers.push(Layer::Mpls);
        loop {
            let label = match MplsLabel::new_checked(bytes) {
                Ok(label) => label,
                Err(e) => return self.wire_problem(e, "mpls label"),
            };
            bytes = label.payload();
            if label.bottom_of_stack() {
                break;
            }
        }
        match bytes.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(bytes, depth + 1),
            Some(6) => self.ipv6(bytes, depth + 1),
            Some(0) if bytes.len() >= 4 + EthernetFrame::<&[u8]>::HEADER_LEN => {
                self.d.layers.push(Layer::PwEthCw);
                self.ethernet(&bytes[4..], depth + 1, false)
            }
            Some(_) => self.d.layers.push(Layer::Data),
            None => {}
        }
    }

    // ---- network layers ----

    /// Raw IP link types: the version nibble says which IP.
    fn ip_by_version(&mut self, bytes: &'a [u8], depth: u8) {
        match bytes.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(bytes, depth),
            Some(6) => self.ipv6(bytes, depth),
            Some(_) => self.problem(DecodeProblem::Malformed("ip version")),
            None => self.problem(DecodeProblem::Truncated("ip header")),
        }
    }

    #[inline]
    fn ipv4(&mut self, bytes: &'a [u8], depth: u8) {
        if depth > MAX_TUNNEL_DEPTH {
            return self.problem(DecodeProblem::Malformed("tunnel depth"));
        }
        let ip = match Ipv4Packet::new_checked(bytes) {
            Ok(ip) => ip,
            Err(e) => return self.wire_problem(e, "ipv4 header"),
        };
        self.d.layers.push(Layer::Ip);
        let info = Ipv4Info {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            protocol: ip.protocol(),
            ttl: ip.hop_limit(),
            header_len: ip.header_len(),
            total_len: ip.total_len(),
            identification: ip.ident(),
            is_fragment: ip.is_fragment(),
            fragment_offset: ip.frag_offset(),
            has_options: ip.header_len() > 20,
        };
        self.ip_found(Network::Ipv4(info));
        if info.is_fragment {
            self.fragment_found(Fragment {
                ipv6: false,
                header: &bytes[..info.header_len as usize],
                protocol: info.protocol,
                identification: u32::from(info.identification),
                offset: info.fragment_offset,
                more_fragments: ip.more_frags(),
                data: ip.payload(),
                data_missing: saturating_u32(ip.payload_missing()),
                inner: false,
                layer_depth: 0,
            });
        }
        // A later fragment starts mid-payload: there is no transport header to read.
        if info.fragment_offset != 0 {
            return;
        }
        self.ip_payload(
            info.protocol,
            ip.payload(),
            ip.payload_missing(),
            depth,
            false,
        );
    }

    fn ipv6(&mut self, bytes: &'a [u8], depth: u8) {
        if depth > MAX_TUNNEL_DEPTH {
            return self.problem(DecodeProblem::Malformed("tunnel depth"));
        }
        let ip = match Ipv6Packet::new_checked(bytes) {
            Ok(ip) => ip,
            Err(e) => return self.wire_problem(e, "ipv6 header"),
        };
        self.d.layers.push(Layer::Ipv6);
        let walked = walk_ipv6_extensions(ip.next_header(), ip.payload());
        if walked.auth_header {
            self.d.layers.push(Layer::Ah);
        }
        self.ip_found(Network::Ipv6(Ipv6Info {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            next_header: ip.next_header(),
            transport_protocol: walked.protocol,
            payload_len: ip.payload_len(),
            hop_limit: ip.hop_limit(),
            is_fragment: walked.fragment_offset.is_some(),
        }));
        if let Some(fields) = walked.fragment {
            self.fragment_found(Fragment {
                ipv6: true,
                header: &bytes[..Ipv6Packet::<&[u8]>::HEADER_LEN],
                protocol: fields.next_header,
                identification: fields.identification,
                offset: fields.offset,
                more_fragments: fields.more_fragments,
                data: fields.data,
                data_missing: saturating_u32(ip.payload_missing()),
                inner: false,
                layer_depth: 0,
            });
        }
        if let Some(problem) = walked.problem {
            return self.problem(problem);
        }
        if walked.fragment_offset.unwrap_or(0) != 0 {
            return;
        }
        self.ip_payload(
            walked.protocol,
            walked.payload,
            ip.payload_missing(),
            depth,
            true,
        );
    }

    /// Dispatches the payload of an IP header. `missing` = payload bytes cut by the snapshot.
    #[inline(always)]
    fn ip_payload(&mut self, protocol: u8, payload: &'a [u8], missing: usize, depth: u8, v6: bool) {
        match protocol {
            ip_protocol::TCP => self.tcp(payload, missing),
            ip_protocol::UDP => self.udp(payload, missing),
            ip_protocol::ICMP if !v6 => self.icmpv4(payload),
            ip_protocol::ICMPV6 if v6 => self.icmpv6(payload),
            ip_protocol::GRE => self.gre(payload, depth),
            ip_protocol::IPV4_IN_IP | ip_protocol::IPV6_IN_IP => {
                self.ip_in_ip(protocol, payload, depth + 1)
            }
            // IPv6 walks AH with its other extension headers; IPv4 meets it here.
            ip_protocol::AUTH if !v6 => self.ipv4_auth_header(payload, missing, depth),
            _ => {
                self.d.transport = Transport::Other { protocol };
                let name = match protocol {
                    ip_protocol::ESP => Layer::Esp,
                    ip_protocol::IGMP => Layer::Igmp,
                    ip_protocol::SCTP => Layer::Sctp,
                    ip_protocol::NO_NEXT_HEADER => return,
                    _ => Layer::Data,
                };
                if !payload.is_empty() {
                    self.d.layers.push(name);
                }
            }
        }
    }

    /// An IPv4 authentication header (IPv6 walks AH with its other extension headers).
    #[inline(never)]
    fn ipv4_auth_header(&mut self, payload: &'a [u8], missing: usize, depth: u8) {
        match AuthHeader::new_checked(payload) {
            Ok(ah) => {
                self.d.layers.push(Layer::Ah);
                self.ip_payload(ah.next_header(), ah.payload(), missing, depth + 1, false)
            }
            Err(e) => self.wire_problem(e, "ah header"),
        }
    }

    /// IP in IP. Not inlined, like the other tunnels: that breaks the walk's recursion, so
    /// the common path (Ethernet, IP, TCP/UDP) can be inlined into one function.
    #[inline(never)]
    fn ip_in_ip(&mut self, protocol: u8, payload: &'a [u8], depth: u8) {
        if protocol == ip_protocol::IPV4_IN_IP {
            self.ipv4(payload, depth)
        } else {
            self.ipv6(payload, depth)
        }
    }

    #[inline(never)]
    fn gre(&mut self, bytes: &'a [u8], depth: u8) {
        self.d.transport = Transport::Other {
            protocol: ip_protocol::GRE,
        };
        let gre = match GreHeader::new_checked(bytes) {
            Ok(gre) => gre,
            Err(e) => return self.wire_problem(e, "gre header"),
        };
        self.d.layers.push(Layer::Gre);
        let payload = gre.payload();
        let depth = depth + 1;
        match gre.protocol_type() {
            ethertype::IPV4 => self.ipv4(payload, depth),
            ethertype::IPV6 => self.ipv6(payload, depth),
            ethertype::TRANSPARENT_ETHERNET => self.ethernet(payload, depth, false),
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => self.mpls(payload, depth),
            ethertype::PPP => self.ppp(payload, depth),
            // Type I has no ERSPAN header; it is told apart by the absent GRE sequence number.
            ethertype::ERSPAN_II if !gre.sequence_present() => {
                self.d.layers.push(Layer::Erspan);
                self.ethernet(payload, depth, false)
            }
            ethertype::ERSPAN_II | ethertype::ERSPAN_III => {
                match ErspanHeader::new_checked(payload) {
                    Ok(erspan) => {
                        self.d.layers.push(Layer::Erspan);
                        self.ethernet(erspan.payload(), depth, false)
                    }
                    Err(e) => self.wire_problem(e, "erspan header"),
                }
            }
            _ => {
                if !payload.is_empty() {
                    self.d.layers.push(Layer::Data);
                }
            }
        }
    }

    // ---- transport layers ----

    #[inline(always)]
    fn tcp(&mut self, bytes: &'a [u8], missing: usize) {
        let tcp = match TcpPacket::new_checked(bytes) {
            Ok(tcp) => tcp,
            Err(e) => return self.wire_problem(e, "tcp header"),
        };
        self.d.layers.push(Layer::Tcp);
        if !tcp.is_header_complete() {
            self.problem(DecodeProblem::Truncated("tcp header"));
        }
        let payload = tcp.payload();
        let on_wire = (bytes.len() + missing).saturating_sub(tcp.header_len() as usize);
        self.d.transport = Transport::Tcp(TcpInfo {
            src_port: tcp.src_port(),
            dst_port: tcp.dst_port(),
            seq: tcp.seq_number(),
            ack: tcp.ack_number(),
            flags: TcpFlags(tcp.flags()),
            window: tcp.window_len(),
            payload,
            payload_missing: saturating_u32(on_wire.saturating_sub(payload.len())),
        });
    }

    #[inline(always)]
    fn udp(&mut self, bytes: &'a [u8], missing: usize) {
        let udp = match UdpPacket::new_checked(bytes) {
            Ok(udp) => udp,
            Err(e) => return self.wire_problem(e, "udp header"),
        };
        self.d.layers.push(Layer::Udp);
        let ip_payload_len = bytes.len() + missing;
        let payload = udp.payload(ip_payload_len);
        let on_wire = udp.declared_len(ip_payload_len) - UdpPacket::<&[u8]>::HEADER_LEN;
        self.d.transport = Transport::Udp(UdpInfo {
            src_port: udp.src_port(),
            dst_port: udp.dst_port(),
            payload,
            payload_missing: saturating_u32(on_wire.saturating_sub(payload.len())),
        });
    }

    fn icmpv4(&mut self, bytes: &'a [u8]) {
        let icmp = match IcmpPacket::new_checked(bytes) {
            Ok(icmp) => icmp,
            Err(e) => return self.wire_problem(e, "icmp header"),
        };
        self.d.layers.push(Layer::Icmp);
        let icmp_type = icmp.msg_type();
        self.d.transport = Transport::Icmp {
            icmp_type,
            code: icmp.msg_code(),
            identifier: if icmpv4_has_identifier(icmp_type) {
                icmp.identifier()
            } else {
                None
            },
        };
        if !icmp.is_header_complete() {
            return self.problem(DecodeProblem::Truncated("icmp header"));
        }
        if icmpv4_is_error(icmp_type) {
            self.quoted_ipv4(icmp.payload());
        }
    }

    fn icmpv6(&mut self, bytes: &'a [u8]) {
        let icmp = match IcmpPacket::new_checked(bytes) {
            Ok(icmp) => icmp,
            Err(e) => return self.wire_problem(e, "icmpv6 header"),
        };
        self.d.layers.push(Layer::Icmpv6);
        let icmp_type = icmp.msg_type();
        self.d.transport = Transport::Icmpv6 {
            icmp_type,
            code: icmp.msg_code(),
        };
        if icmpv6_is_error(icmp_type) && icmp.is_header_complete() {
            self.quoted_ipv6(icmp.payload());
        }
    }

    /// The IPv4 header (+ 8 or more bytes) quoted by an ICMP error. It does not change
    /// `network` or `transport`; a bad quote is not a problem of this packet.
    fn quoted_ipv4(&mut self, quote: &'a [u8]) {
        let Ok(ip) = Ipv4Packet::new_checked(quote) else {
            return;
        };
        self.d.layers.push(Layer::Ip);
        if ip.frag_offset() == 0 {
            self.quoted_transport(ip.protocol(), ip.payload());
        }
    }

    fn quoted_ipv6(&mut self, quote: &'a [u8]) {
        let Ok(ip) = Ipv6Packet::new_checked(quote) else {
            return;
        };
        self.d.layers.push(Layer::Ipv6);
        let walked = walk_ipv6_extensions(ip.next_header(), ip.payload());
        if walked.problem.is_none() && walked.fragment_offset.unwrap_or(0) == 0 {
            self.quoted_transport(walked.protocol, walked.payload);
        }
    }

    fn quoted_transport(&mut self, protocol: u8, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        self.d.icmp_quoted_protocol = Some(protocol);
        match protocol {
            ip_protocol::TCP => self.d.layers.push(Layer::Tcp),
            ip_protocol::UDP => self.d.layers.push(Layer::Udp),
            ip_protocol::ICMP => self.d.layers.push(Layer::Icmp),
            ip_protocol::ICMPV6 => self.d.layers.push(Layer::Icmpv6),
            _ => {}
        }
    }
}

/// Where an IPv6 extension-header walk ended.
struct Ipv6Walk<'a> {
    /// The first protocol that is not an extension header we walk (or the fragmented one).
    protocol: u8,
    payload: &'a [u8],
    /// Offset in bytes when a fragment header was met.
    fragment_offset: Option<u16>,
    /// The rest of the first fragment header met.
    fragment: Option<Ipv6FragmentFields<'a>>,
    auth_header: bool,
    problem: Option<DecodeProblem>,
}

struct Ipv6FragmentFields<'a> {
    identification: u32,
    offset: u16,
    more_fragments: bool,
    next_header: u8,
    /// The bytes after the fragment header.
    data: &'a [u8],
}

fn walk_ipv6_extensions(mut next_header: u8, mut payload: &[u8]) -> Ipv6Walk<'_> {
    let mut walk = Ipv6Walk {
        protocol: next_header,
        payload,
        fragment_offset: None,
        fragment: None,
        auth_header: false,
        problem: None,
    };
    // No count limit is needed: every extension header is at least 8 bytes long, so the walk
    // ends within payload.len() / 8 steps (tshark decodes chains of 100+ headers).
    loop {
        let step = match next_header {
            ip_protocol::HOP_BY_HOP
            | ip_protocol::ROUTING
            | ip_protocol::DESTINATION_OPTIONS
            | ip_protocol::MOBILITY
            | ip_protocol::HIP
            | ip_protocol::SHIM6 => {
                Ipv6ExtHeader::new_checked(payload).map(|h| (h.next_header(), h.payload()))
            }
            ip_protocol::FRAGMENT => Ipv6FragmentHeader::new_checked(payload).map(|h| {
                if walk.fragment.is_none() {
                    walk.fragment = Some(Ipv6FragmentFields {
                        identification: h.ident(),
                        offset: h.frag_offset(),
                        more_fragments: h.more_frags(),
                        next_header: h.next_header(),
                        data: h.payload(),
                    });
                }
                walk.fragment_offset = Some(h.frag_offset());
                (h.next_header(), h.payload())
            }),
            ip_protocol::AUTH => AuthHeader::new_checked(payload).map(|h| {
                walk.auth_header = true;
                (h.next_header(), h.payload())
            }),
            _ => return walk,
        };
        match step {
            Ok((next, rest)) => {
                next_header = next;
                payload = rest;
                walk.protocol = next;
                walk.payload = rest;
                // Past a non-first fragment the bytes are mid-datagram, not headers.
                if walk.fragment_offset.unwrap_or(0) != 0 {
                    return walk;
                }
            }
            Err(WireError::Truncated) => {
                walk.problem = Some(DecodeProblem::Truncated("ipv6 extension header"));
                return walk;
            }
            Err(WireError::Malformed(field)) => {
                walk.problem = Some(DecodeProblem::Malformed(field));
                return walk;
            }
        }
    }
}

fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

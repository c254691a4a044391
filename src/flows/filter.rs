//! Packet selection: a pcap-filter expression (the common subset tcpdump users type) and a
//! time window, checked on each decoded packet before anything counts it.
//!
//! The expression is tokenized, parsed by recursive descent into a small tree of [`Test`]s
//! and evaluated against [`Decoded`] — no BPF. Semantics follow libpcap reading a file:
//! - `not` binds tightest; `and` and `or` have *equal* precedence and group left to right
//!   (`a or b and c` is `(a or b) and c`), as in pcap-filter(7).
//! - Tests look at the headers right after the link layer (a tunnel's inner packet is not
//!   seen: `tcp` does not match TCP inside GRE), and at tags: each `vlan` moves every test
//!   parsed after it one 802.1Q tag deeper, so `ip` alone does not match a tagged frame.
//! - `host`/`net` with an IPv4 address match IPv4 and ARP (sender/target) addresses; an IPv6
//!   address matches IPv6 only. `port` matches TCP and UDP; on IPv6 only when TCP/UDP follows
//!   the fixed header directly (libpcap does not walk extension headers there).
//! - A bare value after `and`/`or` reuses the previous qualifiers (`port 80 or 443`).

use crate::capture::{LinkType, Packet};
use crate::decode::{Decoded, Network, Transport};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// A compiled filter expression.
#[derive(Debug, Clone)]
pub struct PacketFilter {
    /// `None` for an empty expression, which (as in tcpdump) selects every packet.
    root: Option<Node>,
}

/// Why an expression was not accepted: where (1-based character position) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter: at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for FilterError {}

/// What the supported grammar is, for error messages and `--help`.
pub const SUPPORTED: &str = "supported: host, net (CIDR, mask or partial), port, portrange, \
src/dst qualifiers, tcp, udp, icmp, icmp6, ip, ip6, arp, vlan [id], and/or/not/!/&&/||, parentheses";

#[derive(Debug, Clone)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Test(Test),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

/// Which network protocols an address test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddrProtos {
    /// IPv4 and ARP (an IPv4 address with no protocol qualifier).
    Ipv4AndArp,
    Ipv4,
    Ipv6,
    Arp,
}

/// Transport protocols a port test accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PortProtos {
    tcp: bool,
    udp: bool,
}

/// One primitive; `level` is the number of VLAN tags before the header it looks at.
#[derive(Debug, Clone, Copy)]
struct Test {
    level: u8,
    kind: TestKind,
}

#[derive(Debug, Clone, Copy)]
enum TestKind {
    /// The network protocol right after the link layer (EtherType or link type).
    Network(NetworkKind),
    /// IP protocol number in the IPv4 and/or IPv6 header.
    IpProto {
        v4: bool,
        v6: bool,
        protocol: u8,
    },
    Address {
        dir: Dir,
        protos: AddrProtos,
        net: IpNet,
    },
    Port {
        dir: Dir,
        protos: PortProtos,
        low: u16,
        high: u16,
    },
    Vlan {
        id: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetworkKind {
    Ipv4,
    Ipv6,
    Arp,
}

/// An address with a prefix length (`host` is a full-length prefix).
#[derive(Debug, Clone, Copy)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6_FRAGMENT: u8 = 44;
const PROTO_ICMPV6: u8 = 58;

impl PacketFilter {
    /// Parses a pcap-filter expression; an empty one selects every packet.
    pub fn parse(expression: &str) -> Result<PacketFilter, FilterError> {
        let tokens = tokenize(expression)?;
        if tokens.is_empty() {
            return Ok(PacketFilter { root: None });
        }
        let mut parser = Parser {
            tokens: &tokens,
            next: 0,
            vlan_level: 0,
            last: None,
            end: expression.chars().count() + 1,
        };
        let root = parser.expression()?;
        if let Some(token) = parser.peek() {
            return Err(parser.error_at(
                token,
                match token.text.as_str() {
                    ")" => "unbalanced ')'".to_string(),
                    other => format!("expected 'and' or 'or' before '{other}'"),
                },
            ));
        }
        Ok(PacketFilter { root: Some(root) })
    }

    /// Does the packet pass? `decoded` is `packet` decoded.
    pub fn matches(&self, packet: &Packet<'_>, decoded: &Decoded<'_>) -> bool {
        self.root
            .as_ref()
            .is_none_or(|root| eval(root, packet, decoded).unwrap_or(false))
    }
}

/// `None` when a test met missing bytes: the packet is rejected whatever the rest says.
fn eval(node: &Node, packet: &Packet<'_>, decoded: &Decoded<'_>) -> Option<bool> {
    Some(match node {
        Node::And(a, b) => eval(a, packet, decoded)? && eval(b, packet, decoded)?,
        Node::Or(a, b) => eval(a, packet, decoded)? || eval(b, packet, decoded)?,
        Node::Not(a) => !eval(a, packet, decoded)?,
        Node::Test(test) => test.matches(packet, decoded)?,
    })
}

/// The network header right after the link layer and `level` VLAN tags, as libpcap's
/// filter sees it: on Ethernet and Linux cooked captures straight from the frame bytes at
/// the fixed offset (so a header tracetail's decoder rejects, e.g. a bad IPv4 version, is
/// still tested as tcpdump does), elsewhere from the decoded headers.
///
/// Accessors return `None` when the bytes are not in the capture: like a BPF load out of
/// bounds, that rejects the packet for the whole expression (`not tcp` does not match a
/// frame cut before the IP protocol field).
enum NetworkView<'p> {
    /// Nothing this filter knows sits there (another EtherType, a tag, ...).
    Absent,
    Raw {
        kind: NetworkKind,
        bytes: &'p [u8],
    },
    Decoded {
        kind: NetworkKind,
        fields: DecodedFields,
    },
}

/// The facts a test needs, taken from the decoder's summary.
struct DecodedFields {
    protocol: Option<u8>,
    after_fragment_header: Option<u8>,
    addresses: Option<(IpAddr, IpAddr)>,
    /// Ports of a TCP/UDP header directly after this one (first fragment only).
    ports: Option<(u16, u16)>,
}

impl<'p> NetworkView<'p> {
    /// `None`: even the link-layer bytes that say what follows are missing.
    fn of(packet: &Packet<'p>, decoded: &Decoded<'_>, level: u8) -> Option<NetworkView<'p>> {
        let header_len = match packet.link_type {
            LinkType::ETHERNET => 14,
            LinkType::LINUX_SLL => 16,
            _ => {
                if level > 0 || decoded.link.vlan_depth > 0 {
                    return Some(NetworkView::Absent);
                }
                return Some(Self::from_decoded(decoded));
            }
        };
        let type_at = header_len - 2 + 4 * usize::from(level);
        let ethertype = packet
            .data
            .get(type_at..type_at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        let kind = match ethertype {
            ETHERTYPE_IPV4 => NetworkKind::Ipv4,
            ETHERTYPE_IPV6 => NetworkKind::Ipv6,
            ETHERTYPE_ARP => NetworkKind::Arp,
            _ => return Some(NetworkView::Absent),
        };
        let bytes = packet.data.get(type_at + 2..).unwrap_or(&[]);
        Some(NetworkView::Raw { kind, bytes })
    }

    fn from_decoded(decoded: &Decoded<'_>) -> NetworkView<'p> {
        // Ports only when the transport follows this very header (not a tunnelled one).
        let direct = decoded.inner_network.is_none();
        let ports = match decoded.transport {
            Transport::Tcp(t) if direct => Some((t.src_port, t.dst_port)),
            Transport::Udp(u) if direct => Some((u.src_port, u.dst_port)),
            _ => None,
        };
        let (kind, fields) = match decoded.network {
            Network::Ipv4(ip) => (
                NetworkKind::Ipv4,
                DecodedFields {
                    protocol: Some(ip.protocol),
                    after_fragment_header: None,
                    addresses: Some((IpAddr::V4(ip.src), IpAddr::V4(ip.dst))),
                    ports: ports.filter(|_| ip.fragment_offset == 0),
                },
            ),
            Network::Ipv6(ip) => (
                NetworkKind::Ipv6,
                DecodedFields {
                    protocol: Some(ip.next_header),
                    after_fragment_header: Some(ip.transport_protocol),
                    addresses: Some((IpAddr::V6(ip.src), IpAddr::V6(ip.dst))),
                    ports: ports.filter(|_| ip.next_header == ip.transport_protocol),
                },
            ),
            Network::Arp(arp) => (
                NetworkKind::Arp,
                DecodedFields {
                    protocol: None,
                    after_fragment_header: None,
                    addresses: arp
                        .sender_ip
                        .zip(arp.target_ip)
                        .map(|(s, t)| (IpAddr::V4(s), IpAddr::V4(t))),
                    ports: None,
                },
            ),
            Network::Other { .. } | Network::None => return NetworkView::Absent,
        };
        NetworkView::Decoded { kind, fields }
    }

    fn kind(&self) -> Option<NetworkKind> {
        match self {
            NetworkView::Absent => None,
            NetworkView::Raw { kind, .. } | NetworkView::Decoded { kind, .. } => Some(*kind),
        }
    }

    /// The IP protocol (IPv6: the fixed header's next header).
    fn protocol(&self) -> Option<u8> {
        match self {
            NetworkView::Raw { kind, bytes } => match kind {
                NetworkKind::Ipv4 => bytes.get(9).copied(),
                NetworkKind::Ipv6 => bytes.get(6).copied(),
                NetworkKind::Arp => None,
            },
            NetworkView::Decoded { fields, .. } => fields.protocol,
            NetworkView::Absent => None,
        }
    }

    /// IPv6: the protocol behind a fragment header that directly follows the fixed header.
    fn after_fragment_header(&self) -> Option<u8> {
        match self {
            NetworkView::Raw { bytes, .. } => bytes.get(40).copied(),
            NetworkView::Decoded { fields, .. } => fields.after_fragment_header,
            NetworkView::Absent => None,
        }
    }

    /// IPv4/IPv6 source and destination, or ARP sender and target protocol addresses (at
    /// libpcap's fixed Ethernet/IPv4 offsets).
    fn addresses(&self) -> Option<(IpAddr, IpAddr)> {
        let (kind, b) = match self {
            NetworkView::Raw { kind, bytes } => (*kind, *bytes),
            NetworkView::Decoded { fields, .. } => return fields.addresses,
            NetworkView::Absent => return None,
        };
        let v4 = |at: usize| {
            b.get(at..at + 4)
                .map(|x| IpAddr::V4(Ipv4Addr::new(x[0], x[1], x[2], x[3])))
        };
        let v6 = |at: usize| {
            b.get(at..at + 16).map(|x| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(x);
                IpAddr::V6(octets.into())
            })
        };
        match kind {
            NetworkKind::Ipv4 => Some((v4(12)?, v4(16)?)),
            NetworkKind::Ipv6 => Some((v6(8)?, v6(24)?)),
            NetworkKind::Arp => Some((v4(14)?, v4(24)?)),
        }
    }

    /// Ports of the TCP/UDP header that directly follows; `Some(None)` when there is none
    /// to look at (a later fragment), `None` when its bytes are missing.
    fn ports(&self) -> Option<Option<(u16, u16)>> {
        let (kind, b) = match self {
            NetworkView::Raw { kind, bytes } => (*kind, *bytes),
            NetworkView::Decoded { fields, .. } => return Some(fields.ports),
            NetworkView::Absent => return Some(None),
        };
        let be16 = |at: usize| b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
        let at = match kind {
            NetworkKind::Ipv4 => {
                if be16(6)? & 0x1fff != 0 {
                    return Some(None);
                }
                usize::from(b.first()? & 0x0f) * 4
            }
            NetworkKind::Ipv6 => 40,
            NetworkKind::Arp => return Some(None),
        };
        Some(Some((be16(at)?, be16(at + 2)?)))
    }
}

impl Test {
    /// `None` when a byte the test needs is not in the capture (rejects the whole packet).
    fn matches(&self, packet: &Packet<'_>, decoded: &Decoded<'_>) -> Option<bool> {
        if let TestKind::Vlan { id } = self.kind {
            return vlan_matches(packet, decoded, self.level, id);
        }
        let view = NetworkView::of(packet, decoded, self.level)?;
        let Some(kind) = view.kind() else {
            return Some(false);
        };
        Some(match self.kind {
            TestKind::Network(wanted) => kind == wanted,
            TestKind::IpProto { v4, v6, protocol } => match kind {
                NetworkKind::Ipv4 => v4 && view.protocol()? == protocol,
                // libpcap also looks behind one IPv6 fragment header.
                NetworkKind::Ipv6 => {
                    v6 && {
                        let first = view.protocol()?;
                        first == protocol
                            || (first == PROTO_IPV6_FRAGMENT
                                && view.after_fragment_header()? == protocol)
                    }
                }
                NetworkKind::Arp => false,
            },
            TestKind::Address { dir, protos, net } => {
                let wanted = match protos {
                    AddrProtos::Ipv4AndArp => {
                        matches!(kind, NetworkKind::Ipv4 | NetworkKind::Arp)
                    }
                    AddrProtos::Ipv4 => kind == NetworkKind::Ipv4,
                    AddrProtos::Ipv6 => kind == NetworkKind::Ipv6,
                    AddrProtos::Arp => kind == NetworkKind::Arp,
                };
                wanted && {
                    let (src, dst) = view.addresses()?;
                    dir.test(net.contains(src), net.contains(dst))
                }
            }
            TestKind::Port {
                dir,
                protos,
                low,
                high,
            } => {
                let protocol_ok = kind != NetworkKind::Arp
                    && match view.protocol()? {
                        PROTO_TCP => protos.tcp,
                        PROTO_UDP => protos.udp,
                        _ => false,
                    };
                let within = |p: u16| (low..=high).contains(&p);
                protocol_ok
                    && match view.ports()? {
                        Some((src, dst)) => dir.test(within(src), within(dst)),
                        None => false,
                    }
            }
            TestKind::Vlan { .. } => unreachable!("handled above"),
        })
    }
}

impl Dir {
    fn test(self, src: bool, dst: bool) -> bool {
        match self {
            Dir::Src => src,
            Dir::Dst => dst,
            Dir::SrcOrDst => src || dst,
            Dir::SrcAndDst => src && dst,
        }
    }
}

/// Is there an 802.1Q/802.1ad tag at `level` (with this VLAN id)? Ids are read from the frame
/// (Ethernet and Linux cooked captures, the link types that carry tags in the frame).
fn vlan_matches(
    packet: &Packet<'_>,
    decoded: &Decoded<'_>,
    level: u8,
    id: Option<u16>,
) -> Option<bool> {
    let first_tag = match packet.link_type {
        LinkType::ETHERNET => 14,
        LinkType::LINUX_SLL => 16,
        _ => return Some(decoded.link.vlan_depth > level && id.is_none()),
    };
    let be16 = |at: usize| {
        packet
            .data
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let tag_at = first_tag + 4 * usize::from(level);
    let tpid = be16(tag_at - 2)?;
    if !matches!(tpid, 0x8100 | 0x88a8 | 0x9100) {
        return Some(false);
    }
    Some(match id {
        None => true,
        Some(id) => be16(tag_at)? & 0x0fff == id,
    })
}

// ---- tokens ----

#[derive(Debug, Clone)]
struct Token {
    text: String,
    /// 1-based character position.
    position: usize,
}

fn tokenize(expression: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let word_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_');
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let text = if two == "&&" || two == "||" {
            i += 2;
            two
        } else if matches!(c, '(' | ')' | '!') && two != "!=" {
            i += 1;
            c.to_string()
        } else if word_char(c) {
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            chars[start..i].iter().collect()
        } else {
            return Err(FilterError {
                position: start + 1,
                message: format!(
                    "'{c}' is not supported: byte-offset and comparison expressions \
                     (e.g. tcp[13] & 2 != 0) are not implemented; {SUPPORTED}"
                ),
            });
        };
        tokens.push(Token {
            text,
            position: start + 1,
        });
    }
    Ok(tokens)
}

// ---- parser ----

/// Qualifiers written before a value (`ip6 src net`), reused by a bare value after and/or.
#[derive(Debug, Clone, Copy, Default)]
struct Qualifiers {
    proto: Option<ProtoQualifier>,
    dir: Option<Dir>,
    kind: Option<ValueKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtoQualifier {
    Ip,
    Ip6,
    Arp,
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Host,
    Net,
    Port,
    PortRange,
}

struct Parser<'t> {
    tokens: &'t [Token],
    next: usize,
    /// `vlan` primitives parsed so far: every later test looks one tag deeper per `vlan`.
    vlan_level: u8,
    last: Option<Qualifiers>,
    /// Position just past the end of the expression (for "expected more" errors).
    end: usize,
}

/// Keywords that pcap-filter has but this subset does not, with what to do instead.
const UNSUPPORTED: [&str; 30] = [
    "ether",
    "broadcast",
    "multicast",
    "gateway",
    "proto",
    "protochain",
    "less",
    "greater",
    "len",
    "rarp",
    "sctp",
    "igmp",
    "igrp",
    "pim",
    "vrrp",
    "carp",
    "ah",
    "esp",
    "atalk",
    "aarp",
    "decnet",
    "iso",
    "stp",
    "ipx",
    "netbeui",
    "mpls",
    "pppoed",
    "pppoes",
    "geneve",
    "wlan",
];

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.next)
    }

    fn peek_is(&self, words: &[&str]) -> bool {
        self.peek()
            .is_some_and(|t| words.contains(&t.text.as_str()))
    }

    fn error_at(&self, token: &Token, message: String) -> FilterError {
        FilterError {
            position: token.position,
            message,
        }
    }

    fn error_here(&self, message: String) -> FilterError {
        FilterError {
            position: self.peek().map_or(self.end, |t| t.position),
            message,
        }
    }

    /// expression := unary (("and" | "&&" | "or" | "||") unary)*, left to right, one level.
    fn expression(&mut self) -> Result<Node, FilterError> {
        let mut node = self.unary()?;
        while let Some(token) = self.peek() {
            let is_and = matches!(token.text.as_str(), "and" | "&&");
            let is_or = matches!(token.text.as_str(), "or" | "||");
            if !is_and && !is_or {
                break;
            }
            self.next += 1;
            let right = self.unary()?;
            node = if is_and {
                Node::And(Box::new(node), Box::new(right))
            } else {
                Node::Or(Box::new(node), Box::new(right))
            };
        }
        Ok(node)
    }

    /// unary := ("not" | "!") unary | "(" expression ")" | primitive
    fn unary(&mut self) -> Result<Node, FilterError> {
        let Some(token) = self.peek() else {
            return Err(self.error_here("the expression ends where a test was expected".into()));
        };
        match token.text.as_str() {
            "not" | "!" => {
                self.next += 1;
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            "(" => {
                self.next += 1;
                let inner = self.expression()?;
                match self.peek() {
                    Some(t) if t.text == ")" => {
                        self.next += 1;
                        Ok(inner)
                    }
                    _ => Err(self.error_here(format!(
                        "missing ')' for the '(' at position {}",
                        token.position
                    ))),
                }
            }
            ")" => Err(self.error_at(token, "a test was expected before ')'".into())),
            _ => self.primitive(),
        }
    }

    fn test(&self, kind: TestKind) -> Node {
        Node::Test(Test {
            level: self.vlan_level,
            kind,
        })
    }

    fn primitive(&mut self) -> Result<Node, FilterError> {
        let start = self.peek().expect("unary checked a token is there");
        let word = start.text.as_str();
        if UNSUPPORTED.contains(&word) {
            return Err(self.error_at(
                start,
                format!(
                    "'{word}' is a pcap-filter primitive tracetail does not support; {SUPPORTED}"
                ),
            ));
        }
        // Protocol names standing alone.
        let standalone = match word {
            "icmp" => Some(TestKind::IpProto {
                v4: true,
                v6: false,
                protocol: PROTO_ICMP,
            }),
            "icmp6" => Some(TestKind::IpProto {
                v4: false,
                v6: true,
                protocol: PROTO_ICMPV6,
            }),
            _ => None,
        };
        if let Some(kind) = standalone {
            self.next += 1;
            return Ok(self.test(kind));
        }
        if word == "vlan" {
            self.next += 1;
            let id = match self.peek() {
                Some(t) if t.text.chars().all(|c| c.is_ascii_digit()) => {
                    self.next += 1;
                    match t.text.parse::<u16>() {
                        Ok(id) if id < 4096 => Some(id),
                        _ => {
                            return Err(self.error_at(
                                t,
                                format!("VLAN id {} is out of range (0-4095)", t.text),
                            ))
                        }
                    }
                }
                _ => None,
            };
            let node = self.test(TestKind::Vlan { id });
            self.vlan_level = self.vlan_level.saturating_add(1);
            return Ok(node);
        }

        let mut q = Qualifiers::default();
        let mut any_qualifier = false;
        if let Some(proto) = proto_qualifier(word) {
            q.proto = Some(proto);
            any_qualifier = true;
            self.next += 1;
        }
        if self.peek_is(&["src", "dst"]) {
            let first = &self.tokens[self.next].text;
            self.next += 1;
            q.dir = Some(if first == "src" { Dir::Src } else { Dir::Dst });
            // `src or dst` / `src and dst` are one qualifier.
            let joined = self
                .tokens
                .get(self.next..self.next + 2)
                .filter(|t| matches!(t[0].text.as_str(), "or" | "and" | "||" | "&&"))
                .filter(|t| matches!(t[1].text.as_str(), "src" | "dst") && t[1].text != *first);
            if let Some(pair) = joined {
                let both = matches!(pair[0].text.as_str(), "and" | "&&");
                q.dir = Some(if both { Dir::SrcAndDst } else { Dir::SrcOrDst });
                self.next += 2;
            }
            any_qualifier = true;
        }
        if let Some(kind) = self.peek().and_then(|t| value_kind(&t.text)) {
            q.kind = Some(kind);
            any_qualifier = true;
            self.next += 1;
        }

        // A protocol name alone (`tcp`, `ip6`, `arp`).
        if q.dir.is_none() && q.kind.is_none() {
            if let Some(proto) = q.proto {
                let next_is_value = self.peek().is_some_and(|t| {
                    !is_keyword(&t.text) && !matches!(t.text.as_str(), "(" | ")" | "!")
                });
                if !next_is_value {
                    return Ok(self.test(protocol_test(proto)));
                }
            }
        }
        if !any_qualifier {
            // A bare value reuses the previous qualifiers (`port 80 or 443`).
            match self.last {
                Some(last) => q = last,
                None if is_keyword(word) => {
                    return Err(self.error_at(start, format!("'{word}' needs a value after it")))
                }
                None => q.kind = Some(ValueKind::Host),
            }
        }
        let Some(value) = self.peek() else {
            return Err(self.error_here(format!(
                "a value (address, network or port) was expected after '{}'",
                self.tokens[self.next - 1].text
            )));
        };
        if is_keyword(&value.text) || matches!(value.text.as_str(), "(" | ")" | "!") {
            return Err(self.error_at(
                value,
                format!(
                    "a value (address, network or port) was expected, not '{}'",
                    value.text
                ),
            ));
        }
        self.next += 1;
        self.last = Some(q);
        let dir = q.dir.unwrap_or(Dir::SrcOrDst);
        let kind = match q.kind.unwrap_or(ValueKind::Host) {
            ValueKind::Host | ValueKind::Net => self.address(q, dir, value)?,
            ValueKind::Port | ValueKind::PortRange => {
                let protos = match q.proto {
                    None => PortProtos {
                        tcp: true,
                        udp: true,
                    },
                    Some(ProtoQualifier::Tcp) => PortProtos {
                        tcp: true,
                        udp: false,
                    },
                    Some(ProtoQualifier::Udp) => PortProtos {
                        tcp: false,
                        udp: true,
                    },
                    Some(other) => {
                        return Err(self.error_at(
                            start,
                            format!(
                                "'{}' cannot qualify a port: use tcp or udp",
                                proto_name(other)
                            ),
                        ))
                    }
                };
                let (low, high) = if q.kind == Some(ValueKind::PortRange) {
                    let Some((a, b)) = value.text.split_once('-') else {
                        return Err(self.error_at(
                            value,
                            format!("portrange needs LOW-HIGH, not '{}'", value.text),
                        ));
                    };
                    let (a, b) = (self.port(value, a)?, self.port(value, b)?);
                    (a.min(b), a.max(b))
                } else {
                    let p = self.port(value, &value.text)?;
                    (p, p)
                };
                TestKind::Port {
                    dir,
                    protos,
                    low,
                    high,
                }
            }
        };
        Ok(self.test(kind))
    }

    fn port(&self, token: &Token, text: &str) -> Result<u16, FilterError> {
        if let Ok(n) = text.parse::<u16>() {
            return Ok(n);
        }
        well_known_port(text).ok_or_else(|| {
            self.error_at(
                token,
                format!("'{text}' is not a port number (0-65535) or a known service name"),
            )
        })
    }

    fn address(&mut self, q: Qualifiers, dir: Dir, value: &Token) -> Result<TestKind, FilterError> {
        let is_net = q.kind == Some(ValueKind::Net);
        let mut net = if is_net {
            self.network(value)?
        } else {
            match value.text.parse::<IpAddr>() {
                Ok(addr) => IpNet {
                    addr,
                    prefix: if addr.is_ipv4() { 32 } else { 128 },
                },
                Err(_) if value.text.contains('/') => {
                    return Err(self.error_at(
                        value,
                        format!("'{}' is a network: write 'net {}'", value.text, value.text),
                    ))
                }
                Err(_) => {
                    return Err(self.error_at(
                        value,
                        format!(
                            "'{}' is not an IP address nor a keyword of the supported subset \
                             (host names are not looked up); {SUPPORTED}",
                            value.text
                        ),
                    ))
                }
            }
        };
        // `net 10.0.0.0 mask 255.0.0.0`
        if is_net && self.peek_is(&["mask"]) {
            let mask_token = &self.tokens[self.next];
            let mask = self
                .tokens
                .get(self.next + 1)
                .and_then(|t| t.text.parse::<Ipv4Addr>().ok())
                .filter(|_| net.addr.is_ipv4() && !value.text.contains('/'))
                .ok_or_else(|| {
                    self.error_at(mask_token, "'mask' needs an IPv4 network and an IPv4 mask, e.g. net 10.0.0.0 mask 255.0.0.0".into())
                })?;
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(self.error_at(mask_token, format!("mask {mask} is not contiguous")));
            }
            net.prefix = bits.leading_ones() as u8;
            check_host_bits(net).map_err(|m| self.error_at(value, m))?;
            self.next += 2;
        }
        let protos = match (q.proto, net.addr) {
            (None, IpAddr::V4(_)) => AddrProtos::Ipv4AndArp,
            (None, IpAddr::V6(_)) => AddrProtos::Ipv6,
            (Some(ProtoQualifier::Ip), IpAddr::V4(_)) => AddrProtos::Ipv4,
            (Some(ProtoQualifier::Arp), IpAddr::V4(_)) => AddrProtos::Arp,
            (Some(ProtoQualifier::Ip6), IpAddr::V6(_)) => AddrProtos::Ipv6,
            (Some(p), _) => {
                return Err(self.error_at(
                    value,
                    format!(
                        "'{}' does not go with the address {}",
                        proto_name(p),
                        value.text
                    ),
                ))
            }
        };
        Ok(TestKind::Address { dir, protos, net })
    }

    /// `10.1.0.0/16`, `2001:db8::/32`, `10.1` (a partial dotted address: /16), `10.1.2.3`.
    fn network(&self, value: &Token) -> Result<IpNet, FilterError> {
        let text = value.text.as_str();
        let bad = |m: String| self.error_at(value, m);
        let net = if let Some((addr, len)) = text.split_once('/') {
            let prefix: u8 = len
                .parse()
                .map_err(|_| bad(format!("'{len}' is not a prefix length")))?;
            let addr = parse_partial_address(addr)
                .map(|(a, _)| a)
                .ok_or_else(|| bad(format!("'{addr}' is not an IP network")))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad(format!("prefix /{prefix} is longer than the address")));
            }
            IpNet { addr, prefix }
        } else {
            let (addr, prefix) = parse_partial_address(text)
                .ok_or_else(|| bad(format!("'{text}' is not an IP network")))?;
            IpNet { addr, prefix }
        };
        check_host_bits(net).map_err(bad)?;
        Ok(net)
    }
}

/// libpcap refuses a network whose host bits are set (`net 10.1.2.3/16`).
fn check_host_bits(net: IpNet) -> Result<(), String> {
    let host_bits_clear = match net.addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            u32::from(a) & !mask == 0
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            u128::from(a) & !mask == 0
        }
    };
    if host_bits_clear {
        Ok(())
    } else {
        Err(format!(
            "{}/{} has bits set beyond the prefix (write the network address)",
            net.addr, net.prefix
        ))
    }
}

/// An address, or 1-3 dotted IPv4 numbers standing for a /8, /16 or /24 network.
fn parse_partial_address(text: &str) -> Option<(IpAddr, u8)> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some((addr, if addr.is_ipv4() { 32 } else { 128 }));
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, part) in parts.iter().enumerate() {
        octets[i] = part.parse().ok()?;
    }
    Some((IpAddr::V4(Ipv4Addr::from(octets)), 8 * parts.len() as u8))
}

fn proto_qualifier(word: &str) -> Option<ProtoQualifier> {
    Some(match word {
        "ip" => ProtoQualifier::Ip,
        "ip6" => ProtoQualifier::Ip6,
        "arp" => ProtoQualifier::Arp,
        "tcp" => ProtoQualifier::Tcp,
        "udp" => ProtoQualifier::Udp,
        _ => return None,
    })
}

fn proto_name(p: ProtoQualifier) -> &'static str {
    match p {
        ProtoQualifier::Ip => "ip",
        ProtoQualifier::Ip6 => "ip6",
        ProtoQualifier::Arp => "arp",
        ProtoQualifier::Tcp => "tcp",
        ProtoQualifier::Udp => "udp",
    }
}

fn protocol_test(p: ProtoQualifier) -> TestKind {
    match p {
        ProtoQualifier::Ip => TestKind::Network(NetworkKind::Ipv4),
        ProtoQualifier::Ip6 => TestKind::Network(NetworkKind::Ipv6),
        ProtoQualifier::Arp => TestKind::Network(NetworkKind::Arp),
        ProtoQualifier::Tcp => TestKind::IpProto {
            v4: true,
            v6: true,
            protocol: PROTO_TCP,
        },
        ProtoQualifier::Udp => TestKind::IpProto {
            v4: true,
            v6: true,
            protocol: PROTO_UDP,
        },
    }
}

fn value_kind(word: &str) -> Option<ValueKind> {
    Some(match word {
        "host" => ValueKind::Host,
        "net" => ValueKind::Net,
        "port" => ValueKind::Port,
        "portrange" => ValueKind::PortRange,
        _ => return None,
    })
}

fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "and"
            | "or"
            | "not"
            | "&&"
            | "||"
            | "src"
            | "dst"
            | "host"
            | "net"
            | "mask"
            | "port"
            | "portrange"
            | "ip"
            | "ip6"
            | "arp"
            | "tcp"
            | "udp"
            | "icmp"
            | "icmp6"
            | "vlan"
    ) || UNSUPPORTED.contains(&word)
}

/// A few service names from /etc/services, so `port http` works without a lookup.
fn well_known_port(name: &str) -> Option<u16> {
    Some(match name {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" => 53,
        "http" | "www" => 80,
        "pop3" => 110,
        "ntp" => 123,
        "imap" => 143,
        "snmp" => 161,
        "https" => 443,
        _ => return None,
    })
}

/// One end of a time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// Nanoseconds since the Unix epoch (`--start 2024-05-01T12:00:00Z`).
    At(i64),
    /// Nanoseconds after the file's first packet (`--start 10`).
    AfterFirst(i64),
}

impl TimeBound {
    /// RFC 3339 (`2024-05-01T12:00:00.5Z`, `...+02:00`) or seconds after the first packet
    /// (`10`, `2.5`).
    pub fn parse(text: &str) -> Result<TimeBound, String> {
        if let Some(ns) = crate::units::parse_seconds_to_ns(text) {
            return Ok(TimeBound::AfterFirst(ns));
        }
        crate::units::parse_rfc3339_to_ns(text)
            .map(TimeBound::At)
            .ok_or_else(|| {
                format!(
                    "'{text}' is neither seconds after the first packet (e.g. 10 or 2.5) nor an \
                 RFC 3339 time (e.g. 2024-05-01T12:00:00Z)"
                )
            })
    }

    fn resolve(self, first_ns: i64) -> i64 {
        match self {
            TimeBound::At(ns) => ns,
            TimeBound::AfterFirst(ns) => first_ns.saturating_add(ns),
        }
    }
}

/// Which packets a pass looks at: a filter expression and a time window `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct PacketSelection {
    pub filter: Option<PacketFilter>,
    pub start: Option<TimeBound>,
    pub end: Option<TimeBound>,
}

impl PacketSelection {
    /// Does the pass look at this packet? `first_ns` is the time of the file's first packet.
    #[inline]
    pub fn keeps(&self, packet: &Packet<'_>, decoded: &Decoded<'_>, first_ns: i64) -> bool {
        let t = packet.timestamp_ns;
        self.start.is_none_or(|s| t >= s.resolve(first_ns))
            && self.end.is_none_or(|e| t < e.resolve(first_ns))
            && self
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(packet, decoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::synth::packet::{Endpoints, PacketBuilder, TcpFields};

    fn ends(src: &str, dst: &str, src_port: u16, dst_port: u16) -> Endpoints {
        Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: src.parse().unwrap(),
            dst_ip: dst.parse().unwrap(),
            src_port,
            dst_port,
        }
    }

    /// Does `expression` select the frame?
    fn selects(expression: &str, frame: &[u8]) -> bool {
        let packet = Packet {
            timestamp_ns: 0,
            link_type: LinkType::ETHERNET,
            original_len: frame.len() as u32,
            interface_id: 0,
            data: frame,
        };
        let filter = PacketFilter::parse(expression).unwrap();
        filter.matches(&packet, &decode(packet.link_type, frame))
    }

    fn tcp_frame(e: &Endpoints) -> Vec<u8> {
        let fields = TcpFields {
            seq: 1,
            ack: 0,
            flags: 0x02,
            window: 1000,
        };
        PacketBuilder::new().tcp(e, fields, |_| {}).to_vec()
    }

    /// The frame with an 802.1Q tag of `id` inserted after the MAC addresses.
    fn tagged(frame: &[u8], id: u16) -> Vec<u8> {
        let mut out = frame[..12].to_vec();
        out.extend_from_slice(&[0x81, 0x00]);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&frame[12..]);
        out
    }

    #[test]
    fn primitives_and_qualifiers() {
        let web = tcp_frame(&ends("10.1.2.3", "192.168.5.9", 40000, 80));
        for yes in [
            "tcp",
            "ip",
            "port 80",
            "dst port 80",
            "src port 40000",
            "tcp dst port http",
            "portrange 70-90",
            "host 10.1.2.3",
            "src host 10.1.2.3",
            "dst net 192.168.0.0/16",
            "net 10.1",
            "net 10.0.0.0 mask 255.0.0.0",
            "src or dst net 192.168.5.0/24",
            "not udp",
            "!ip6",
            "ip && tcp || udp",
        ] {
            assert!(selects(yes, &web), "{yes}");
        }
        for no in [
            "udp",
            "ip6",
            "arp",
            "icmp",
            "src port 80",
            "udp port 80",
            "dst host 10.1.2.3",
            "src and dst net 10.0.0.0/8",
            "vlan",
            "host ::1",
        ] {
            assert!(!selects(no, &web), "{no}");
        }
        let v6 = tcp_frame(&ends("2001:db8::1", "fe80::2", 5000, 443));
        assert!(selects("ip6 and tcp port 443 and ip6 net fe80::/10", &v6));
        assert!(!selects("ip", &v6));
    }

    #[test]
    fn and_or_have_equal_precedence_and_values_reuse_qualifiers() {
        let web = tcp_frame(&ends("10.1.2.3", "192.168.5.9", 40000, 80));
        // `(tcp or udp) and port 443`: false; `tcp or (udp and port 443)` would be true.
        assert!(!selects("tcp or udp and port 443", &web));
        assert!(selects("udp or tcp and port 80", &web));
        // `port 443 or 80` is `port 443 or port 80`.
        assert!(selects("port 443 or 80", &web));
        assert!(selects("host 1.1.1.1 or 10.1.2.3", &web));
        assert!(!selects("not (port 80 or 443)", &web));
    }

    #[test]
    fn vlan_moves_later_tests_one_tag_deeper() {
        let web = tcp_frame(&ends("10.1.2.3", "192.168.5.9", 40000, 80));
        let one = tagged(&web, 100);
        assert!(!selects("ip", &one), "ip alone does not look behind a tag");
        assert!(selects("vlan", &one));
        assert!(selects("vlan 100 and tcp port 80", &one));
        assert!(!selects("vlan 101", &one));
        let two = tagged(&one, 20);
        assert!(selects("vlan 20 and vlan 100 and host 10.1.2.3", &two));
        assert!(!selects("vlan and ip", &two));
    }

    #[test]
    fn a_frame_cut_before_a_tested_field_is_not_selected() {
        let web = tcp_frame(&ends("10.1.2.3", "192.168.5.9", 40000, 80));
        let cut = &web[..14 + 8];
        assert!(selects("ip", cut));
        assert!(
            !selects("not tcp", cut),
            "ip[9] is missing: rejected, as in BPF"
        );
        assert!(
            selects("ip or tcp", cut),
            "the load after a true `or` never happens"
        );
    }

    #[test]
    fn errors_name_the_position() {
        let err = |e: &str| PacketFilter::parse(e).unwrap_err();
        assert_eq!(err("tcp and").position, 8);
        assert_eq!(err("(tcp").position, 5);
        assert_eq!(err("tcp)").position, 4);
        assert_eq!(err("ether src 1.2.3.4").position, 1);
        assert_eq!(err("port 99999").position, 6);
        assert_eq!(err("tcp host 1.2.3.4").position, 10);
        assert!(err("net 1.2.3.4 mask 255.0.255.0")
            .message
            .contains("not contiguous"));
        assert!(PacketFilter::parse("").is_ok());
    }

    #[test]
    fn time_bounds_parse_both_forms() {
        assert_eq!(
            TimeBound::parse("2.5"),
            Ok(TimeBound::AfterFirst(2_500_000_000))
        );
        assert_eq!(
            TimeBound::parse("2023-11-14T22:13:20Z"),
            Ok(TimeBound::At(1_700_000_000_000_000_000))
        );
        assert!(TimeBound::parse("noon").is_err());
    }
}

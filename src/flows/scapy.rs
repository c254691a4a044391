//! Scapy-compatible session keys: exactly the strings Scapy 2.8's `PacketList.sessions()`
//! uses (scapy/plist.py, `_session_extractor`), so that course scripts can be checked
//! against tracetail line by line.
//!
//! Scapy's quirks are kept on purpose: keys are unidirectional; any packet without an
//! Ethernet layer (Linux SLL, raw IP, BSD loopback, 802.3) is `Other`; the ICMPv6 branch never
//! matches, so ICMPv6 shows as `IPv6 a > b nh=ICMPv6`; IP protocol names come from the
//! machine's `/etc/protocols`, as Scapy reads them.

use crate::decode::{Decoded, Layer, Network, Transport};
use std::collections::HashMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Scapy's session key for one decoded packet.
pub fn session_key(decoded: &Decoded<'_>) -> String {
    if !decoded.link.has_ethernet {
        return "Other".into();
    }
    // Scapy does not load its MPLS layer by default: everything behind an MPLS label is Raw.
    let behind_mpls = decoded.layers.contains(Layer::Mpls);
    let layers = if behind_mpls {
        IpLayers::default()
    } else {
        ip_layers(decoded)
    };
    if layers.v4.is_none() && layers.v6.is_none() {
        return match decoded.network {
            Network::Arp(arp) => {
                format!("ARP {} > {}", opt_ip(arp.sender_ip), opt_ip(arp.target_ip))
            }
            _ => format!(
                "Ethernet type={:04x}",
                decoded.link.outer_ethertype.unwrap_or(0)
            ),
        };
    }
    // "{IP:%IP.src%}{IPv6:%IPv6.src%}": the first IPv4 layer's address, then the first IPv6's.
    let mut src = String::new();
    let mut dst = String::new();
    if let Some((s, d)) = layers.v4 {
        let _ = write!(src, "{s}");
        let _ = write!(dst, "{d}");
    }
    if let Some((s, d)) = layers.v6 {
        let _ = write!(src, "{s}");
        let _ = write!(dst, "{d}");
    }
    match decoded.transport {
        Transport::Tcp(t) => format!("TCP {src}:{} > {dst}:{}", t.src_port, t.dst_port),
        Transport::Udp(u) => format!("UDP {src}:{} > {dst}:{}", u.src_port, u.dst_port),
        Transport::Icmp {
            icmp_type,
            code,
            identifier,
        } => {
            // Scapy reads the field's default (0) when the type has no identifier.
            format!(
                "ICMP {src} > {dst} type={icmp_type} code={code} id={:#x}",
                identifier.unwrap_or(0)
            )
        }
        _ => match layers.v6_next_header {
            Some(nh) => format!("IPv6 {src} > {dst} nh={}", ipv6_next_header_name(nh)),
            None => format!(
                "IP {src} > {dst} proto={}",
                ip_protocol_name(layers.v4_protocol.unwrap_or(0))
            ),
        },
    }
}

#[derive(Default)]
struct IpLayers {
    v4: Option<(IpAddr, IpAddr)>,
    v4_protocol: Option<u8>,
    v6: Option<(IpAddr, IpAddr)>,
    v6_next_header: Option<u8>,
}

fn ip_layers(decoded: &Decoded<'_>) -> IpLayers {
    let mut layers = IpLayers {
        v4: None,
        v4_protocol: None,
        v6: None,
        v6_next_header: None,
    };
    for net in [Some(decoded.network), decoded.inner_network]
        .into_iter()
        .flatten()
    {
        match net {
            Network::Ipv4(ip) if layers.v4.is_none() => {
                layers.v4 = Some((IpAddr::V4(ip.src), IpAddr::V4(ip.dst)));
                layers.v4_protocol = Some(ip.protocol);
            }
            Network::Ipv6(ip) if layers.v6.is_none() => {
                layers.v6 = Some((IpAddr::V6(ip.src), IpAddr::V6(ip.dst)));
                layers.v6_next_header = Some(ip.next_header);
            }
            _ => {}
        }
    }
    layers
}

fn opt_ip(ip: Option<std::net::Ipv4Addr>) -> String {
    ip.map_or_else(|| "??".into(), |ip| ip.to_string())
}

/// Scapy's `ipv6nh` names (scapy/layers/inet6.py), used for `IPv6.nh`.
fn ipv6_next_header_name(nh: u8) -> String {
    let name = match nh {
        0 => "Hop-by-Hop Option Header",
        4 => "IP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => "Routing Header",
        44 => "Fragment Header",
        47 => "GRE",
        50 => "ESP Header",
        51 => "AH Header",
        58 => "ICMPv6",
        59 => "No Next Header",
        60 => "Destination Option Header",
        112 => "VRRP",
        132 => "SCTP",
        135 => "Mobility Header",
        n => return n.to_string(),
    };
    name.into()
}

/// `IP.proto` as Scapy prints it: the name from /etc/protocols (made attribute-safe the way
/// Scapy's `fixname` does), or the number when the file does not name it.
fn ip_protocol_name(protocol: u8) -> String {
    static NAMES: OnceLock<HashMap<u8, String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        std::fs::read_to_string("/etc/protocols")
            .map(|t| parse_protocols(&t))
            .unwrap_or_default()
    });
    names
        .get(&protocol)
        .cloned()
        .unwrap_or_else(|| protocol.to_string())
}

fn parse_protocols(text: &str) -> HashMap<u8, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut fields = line.split_whitespace();
        let (Some(name), Some(number)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u8>() else {
            continue;
        };
        let mut fixed: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        if fixed.starts_with(|c: char| c.is_ascii_digit()) {
            fixed.insert_str(0, "n_");
        }
        // Later lines win, as in Scapy's dict.
        names.insert(number, fixed);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_file_is_parsed_like_scapy() {
        let names = parse_protocols(
            "ip 0 IP # comment\nhopopt 0 HOPOPT\nipv6-icmp 58 IPv6-ICMP\nax.25 93\n3pc 34\n",
        );
        assert_eq!(names[&0], "hopopt");
        assert_eq!(names[&58], "ipv6_icmp");
        assert_eq!(names[&93], "ax_25");
        assert_eq!(names[&34], "n_3pc");
    }

    #[test]
    fn next_header_names() {
        assert_eq!(ipv6_next_header_name(58), "ICMPv6");
        assert_eq!(ipv6_next_header_name(0), "Hop-by-Hop Option Header");
        assert_eq!(ipv6_next_header_name(200), "200");
    }
}

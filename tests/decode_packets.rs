//! `decode()` on literal frames: one test per link type / encapsulation, plus hand-damaged
//! variants (truncated snapshot, Ethernet padding, bad IHL, TSO length 0, fragments).

mod decode_fixtures;

use decode_fixtures::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use tracetail::capture::LinkType;
use tracetail::decode::{decode, DecodeProblem, Network, Transport, ETHERTYPE_802_3};

fn v4(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn v6(text: &str) -> Ipv6Addr {
    text.parse().unwrap()
}

fn ipv4_of(network: Network) -> tracetail::decode::Ipv4Info {
    match network {
        Network::Ipv4(ip) => ip,
        other => panic!("expected IPv4, got {other:?}"),
    }
}

fn ipv6_of(network: Network) -> tracetail::decode::Ipv6Info {
    match network {
        Network::Ipv6(ip) => ip,
        other => panic!("expected IPv6, got {other:?}"),
    }
}

fn tcp_of<'a>(transport: Transport<'a>) -> tracetail::decode::TcpInfo<'a> {
    match transport {
        Transport::Tcp(tcp) => tcp,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn udp_of<'a>(transport: Transport<'a>) -> tracetail::decode::UdpInfo<'a> {
    match transport {
        Transport::Udp(udp) => udp,
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn ethernet_ipv4_tcp_syn() {
    let frame = hex(ETH_IPV4_TCP_SYN);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert!(d.link.has_ethernet);
    assert_eq!(d.link.outer_ethertype, Some(0x0800));
    assert_eq!(d.link.ethertype, Some(0x0800));
    assert_eq!(d.link.vlan_depth, 0);
    assert_eq!(d.link.src_mac, Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
    assert_eq!(d.link.dst_mac, Some([0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]));
    let ip = ipv4_of(d.network);
    assert_eq!(ip.src, v4("10.0.0.1"));
    assert_eq!(ip.dst, v4("93.184.216.34"));
    assert_eq!(ip.protocol, 6);
    assert_eq!(ip.ttl, 64);
    assert_eq!(ip.identification, 0x1234);
    assert_eq!(ip.header_len, 20);
    assert_eq!(ip.total_len, 48);
    assert!(!ip.is_fragment && !ip.has_options);
    assert_eq!(d.inner_network, None);
    let tcp = tcp_of(d.transport);
    assert_eq!((tcp.src_port, tcp.dst_port), (40000, 80));
    assert_eq!(tcp.seq, 1000);
    assert!(tcp.flags.syn() && !tcp.flags.ack());
    assert_eq!(tcp.payload, b"");
    assert_eq!(tcp.payload_missing, 0);
    assert_eq!(d.layers.as_slice(), ["eth", "ip", "tcp"]);
    assert!(d.has_tcp_anywhere() && !d.has_udp_anywhere());
}

#[test]
fn qinq_tags_are_walked() {
    let frame = hex(ETH_QINQ_IPV4_UDP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(
        d.link.outer_ethertype,
        Some(0x88a8),
        "Scapy's Ether.type is the outer tag"
    );
    assert_eq!(d.link.ethertype, Some(0x0800));
    assert_eq!(d.link.vlan_depth, 2);
    let udp = udp_of(d.transport);
    assert_eq!((udp.src_port, udp.dst_port), (5353, 53));
    assert_eq!(udp.payload, b"abcd");
    assert_eq!(d.layers.as_slice(), ["eth", "vlan", "vlan", "ip", "udp"]);
}

#[test]
fn legacy_9100_tag_then_ipv6() {
    let frame = hex(ETH_VLAN9100_IPV6_TCP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.link.outer_ethertype, Some(0x9100));
    assert_eq!(d.link.vlan_depth, 1);
    let ip = ipv6_of(d.network);
    assert_eq!((ip.src, ip.dst), (v6("2001:db8::1"), v6("2001:db8::2")));
    assert_eq!((ip.next_header, ip.transport_protocol), (6, 6));
    let tcp = tcp_of(d.transport);
    assert_eq!((tcp.src_port, tcp.dst_port), (1234, 443));
    assert_eq!(tcp.payload, b"hello");
}

#[test]
fn linux_sll_has_no_ethernet() {
    let frame = hex(SLL_IPV4_TCP);
    let d = decode(LinkType::LINUX_SLL, &frame);
    assert_eq!(d.problem, None);
    assert!(!d.link.has_ethernet, "Scapy keys SLL packets as Other");
    assert_eq!(d.link.outer_ethertype, None);
    assert_eq!(d.link.ethertype, Some(0x0800));
    assert_eq!(ipv4_of(d.network).src, v4("192.168.1.2"));
    let tcp = tcp_of(d.transport);
    assert_eq!(
        (tcp.src_port, tcp.dst_port, tcp.payload),
        (8080, 55555, &b"xyz"[..])
    );
    assert_eq!(d.layers.as_slice(), ["sll", "ip", "tcp"]);
}

#[test]
fn linux_sll2_ipv6_udp() {
    let frame = hex(SLL2_IPV6_UDP);
    let d = decode(LinkType::LINUX_SLL2, &frame);
    assert_eq!(d.problem, None);
    assert!(!d.link.has_ethernet);
    assert_eq!(d.link.ethertype, Some(0x86dd));
    assert_eq!(ipv6_of(d.network).dst, v6("ff02::fb"));
    let udp = udp_of(d.transport);
    assert_eq!(
        (udp.src_port, udp.dst_port, udp.payload),
        (5353, 5353, &b"q"[..])
    );
}

#[test]
fn null_little_endian_ipv4_icmp_echo() {
    let frame = hex(NULL_LE_IPV4_ICMP);
    assert_eq!(&frame[..4], [2, 0, 0, 0]);
    let d = decode(LinkType::NULL, &frame);
    assert_eq!(d.problem, None);
    assert!(!d.link.has_ethernet);
    assert_eq!(ipv4_of(d.network).protocol, 1);
    assert_eq!(
        d.transport,
        Transport::Icmp {
            icmp_type: 8,
            code: 0,
            identifier: Some(0x1234)
        }
    );
    assert_eq!(d.layers.as_slice(), ["null", "ip", "icmp"]);
}

#[test]
fn null_big_endian_ipv6_macos_family() {
    let frame = hex(NULL_BE_IPV6_TCP);
    assert_eq!(&frame[..4], [0, 0, 0, 30]);
    let d = decode(LinkType::NULL, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv6_of(d.network).src, Ipv6Addr::LOCALHOST);
    assert_eq!(tcp_of(d.transport).dst_port, 6000);
}

#[test]
fn null_families_of_other_systems() {
    let mut frame = hex(NULL_BE_IPV6_TCP);
    for family in [10u32, 24, 28, 30] {
        frame[..4].copy_from_slice(&family.to_le_bytes());
        assert!(matches!(
            decode(LinkType::NULL, &frame).network,
            Network::Ipv6(_)
        ));
        frame[..4].copy_from_slice(&family.to_be_bytes());
        assert!(matches!(
            decode(LinkType::NULL, &frame).network,
            Network::Ipv6(_)
        ));
    }
    frame[..4].copy_from_slice(&99u32.to_le_bytes());
    let d = decode(LinkType::NULL, &frame);
    assert_eq!(d.network, Network::None);
    assert_eq!(d.layers.as_slice(), ["null", "data"]);
}

#[test]
fn loop_is_network_order() {
    let frame = hex(LOOP_IPV4_UDP);
    let d = decode(LinkType::LOOP, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv4_of(d.network).dst, v4("127.0.0.2"));
    assert_eq!(udp_of(d.transport).dst_port, 2);
    // The same header read as little-endian is family 0x02000000: not IPv4 for LOOP.
    let mut swapped = frame.clone();
    swapped[..4].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(decode(LinkType::LOOP, &swapped).network, Network::None);
}

#[test]
fn raw_link_types_use_the_version_nibble() {
    let frame = hex(RAW_IPV4_TCP);
    for link in [
        LinkType::RAW,
        LinkType::RAW_12,
        LinkType::RAW_14,
        LinkType::IPV4,
    ] {
        let d = decode(link, &frame);
        assert_eq!(d.problem, None, "{link:?}");
        assert!(!d.link.has_ethernet);
        assert_eq!(ipv4_of(d.network).src, v4("1.2.3.4"));
        assert!(tcp_of(d.transport).flags.fin());
    }
    let v6frame = hex(RAW_IPV6_HBH_FRAG_UDP);
    for link in [LinkType::RAW, LinkType::IPV6] {
        assert!(matches!(decode(link, &v6frame).network, Network::Ipv6(_)));
    }
    assert_eq!(
        decode(LinkType::RAW, &[0x50, 0, 0, 0]).problem,
        Some(DecodeProblem::Malformed("ip version"))
    );
}

#[test]
fn ipv6_hop_by_hop_then_first_fragment_parses_udp() {
    let frame = hex(RAW_IPV6_HBH_FRAG_UDP);
    let d = decode(LinkType::RAW, &frame);
    assert_eq!(d.problem, None);
    let ip = ipv6_of(d.network);
    assert_eq!(
        ip.next_header, 0,
        "Scapy's IPv6.nh is the first next header"
    );
    assert_eq!(ip.transport_protocol, 17);
    assert!(ip.is_fragment);
    let udp = udp_of(d.transport);
    assert_eq!((udp.src_port, udp.dst_port), (53, 40000));
    assert_eq!(udp.payload, b"0123456789");
}

#[test]
fn ipv6_later_fragment_has_no_transport() {
    let frame = hex(RAW_IPV6_FRAG_LATER);
    let d = decode(LinkType::RAW, &frame);
    assert_eq!(d.problem, None);
    let ip = ipv6_of(d.network);
    assert_eq!(
        (ip.next_header, ip.transport_protocol, ip.is_fragment),
        (44, 17, true)
    );
    assert_eq!(d.transport, Transport::None);
    assert!(!d.has_udp_anywhere());
}

#[test]
fn arp_sender_and_target() {
    let frame = hex(ETH_ARP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.link.outer_ethertype, Some(0x0806));
    match d.network {
        Network::Arp(arp) => {
            assert_eq!(arp.operation, 1);
            assert_eq!(arp.sender_ip, Some(v4("10.0.0.1")));
            assert_eq!(arp.target_ip, Some(v4("10.0.0.254")));
        }
        other => panic!("expected ARP, got {other:?}"),
    }
    assert_eq!(d.layers.as_slice(), ["eth", "arp"]);
}

#[test]
fn icmpv6_echo() {
    let frame = hex(ETH_IPV6_ICMPV6_ECHO);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv6_of(d.network).next_header, 58);
    assert_eq!(
        d.transport,
        Transport::Icmpv6 {
            icmp_type: 128,
            code: 0
        }
    );
    assert_eq!(d.icmp_quoted_protocol, None);
}

#[test]
fn udp_dns_payload() {
    let frame = hex(ETH_IPV4_UDP_DNS);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    let udp = udp_of(d.transport);
    assert_eq!((udp.src_port, udp.dst_port), (33333, 53));
    assert_eq!(udp.payload.len(), 71 - 14 - 20 - 8);
    assert_eq!(&udp.payload[..2], [0xbe, 0xef], "DNS id");
}

#[test]
fn pppoe_session_ipv4() {
    let frame = hex(ETH_PPPOE_IPV4_TCP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.link.outer_ethertype, Some(0x8864));
    assert_eq!(ipv4_of(d.network).src, v4("100.64.0.1"));
    assert_eq!(tcp_of(d.transport).payload, b"GET");
    assert_eq!(d.layers.as_slice(), ["eth", "pppoes", "ppp", "ip", "tcp"]);
}

#[test]
fn mpls_labels_popped_to_ipv4() {
    let frame = hex(ETH_MPLS2_IPV4_TCP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.link.outer_ethertype, Some(0x8847));
    assert_eq!(ipv4_of(d.network).dst, v4("172.16.0.2"));
    assert_eq!(tcp_of(d.transport).payload, b"login:");
    assert_eq!(d.layers.as_slice(), ["eth", "mpls", "ip", "tcp"]);
}

#[test]
fn gre_keyed_ipv4_tunnel() {
    let frame = hex(ETH_GRE_IPV4_UDP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    let outer = ipv4_of(d.network);
    assert_eq!((outer.src, outer.protocol), (v4("198.51.100.1"), 47));
    let inner = ipv4_of(d.inner_network.expect("inner IP"));
    assert_eq!(inner.src, v4("10.9.9.1"));
    assert_eq!(udp_of(d.transport).payload, b"zz");
    assert_eq!(d.layers.as_slice(), ["eth", "ip", "gre", "ip", "udp"]);
    let (src, _) = d.ip_endpoints().unwrap();
    assert_eq!(src, std::net::IpAddr::V4(v4("10.9.9.1")));
}

#[test]
fn erspan_type_ii_and_iii() {
    let frame = hex(ETH_GRE_ERSPAN2_ETH_IPV4_TCP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv4_of(d.network).dst, v4("10.200.0.224"));
    assert_eq!(ipv4_of(d.inner_network.unwrap()).src, v4("192.168.69.10"));
    assert!(tcp_of(d.transport).flags.syn());
    assert_eq!(
        d.layers.as_slice(),
        ["eth", "ip", "gre", "erspan", "eth", "ip", "tcp"]
    );
    // The inner Ethernet must not overwrite the outer link facts.
    assert_eq!(d.link.src_mac, Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));

    let frame = hex(ETH_GRE_ERSPAN3_ETH_IPV4_UDP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    let udp = udp_of(d.transport);
    assert_eq!((udp.src_port, udp.dst_port), (1000, 2000));
}

#[test]
fn ip_in_ip_and_ipv6_in_ipv4() {
    let d_frame = hex(ETH_IPIP_TCP);
    let d = decode(LinkType::ETHERNET, &d_frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv4_of(d.network).protocol, 4);
    assert_eq!(ipv4_of(d.inner_network.unwrap()).src, v4("10.0.0.5"));
    assert_eq!(tcp_of(d.transport).dst_port, 4);

    let frame = hex(ETH_6IN4_UDP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(ipv4_of(d.network).protocol, 41);
    assert_eq!(ipv6_of(d.inner_network.unwrap()).src, v6("2001:db8::5"));
    assert_eq!(udp_of(d.transport).src_port, 3);
}

#[test]
fn icmp_error_quotes_udp() {
    let frame = hex(ETH_ICMP_UNREACH_UDP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert_eq!(
        d.transport,
        Transport::Icmp {
            icmp_type: 3,
            code: 3,
            identifier: None
        }
    );
    assert_eq!(d.icmp_quoted_protocol, Some(17));
    assert!(d.has_udp_anywhere() && !d.has_tcp_anywhere());
    assert_eq!(d.inner_network, None, "a quoted header is not a tunnel");
    assert_eq!(d.layers.as_slice(), ["eth", "ip", "icmp", "ip", "udp"]);
}

#[test]
fn ipv4_options_are_skipped() {
    let frame = hex(ETH_IPV4_OPTIONS_TCP);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    let ip = ipv4_of(d.network);
    assert!(ip.has_options);
    assert_eq!(ip.header_len, 28);
    assert_eq!(tcp_of(d.transport).payload, b"data");
}

#[test]
fn ieee_802_3_frame_is_not_ethernet_ii() {
    let frame = hex(ETH_8023_LLC);
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    assert!(!d.link.has_ethernet, "Scapy decodes it as Dot3, not Ether");
    assert_eq!(d.link.outer_ethertype, None);
    assert_eq!(
        d.network,
        Network::Other {
            ethertype: ETHERTYPE_802_3
        }
    );
    assert_eq!(d.layers.as_slice(), ["eth", "llc"]);
}

#[test]
fn unsupported_link_type_is_counted_not_decoded() {
    let frame = hex(ETH_IPV4_TCP_SYN);
    let d = decode(LinkType(147), &frame);
    assert_eq!(d.problem, Some(DecodeProblem::UnsupportedLinkType));
    assert_eq!(d.network, Network::None);
    assert!(d.layers.as_slice().is_empty());
}

#[test]
fn ethernet_padding_is_trimmed_by_the_ip_length() {
    // A 60-byte minimum frame: 54 bytes of Ethernet/IPv4/TCP then 6 padding bytes + 4 FCS.
    let mut frame = hex(RAW_IPV4_TCP);
    let mut eth = hex(ETH_IPV4_TCP_SYN)[..14].to_vec();
    eth.append(&mut frame);
    eth.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 2, 3, 4]);
    let d = decode(LinkType::ETHERNET, &eth);
    assert_eq!(d.problem, None);
    let tcp = tcp_of(d.transport);
    assert_eq!(tcp.payload, b"", "padding is not TCP payload");
    assert_eq!(tcp.payload_missing, 0);

    let mut udp = hex(ETH_IPV4_UDP_DNS);
    udp.extend_from_slice(&[0u8; 9]);
    let d = decode(LinkType::ETHERNET, &udp);
    assert_eq!(udp_of(d.transport).payload.len(), 71 - 42);
}

#[test]
fn snapshot_cut_reports_missing_payload() {
    let frame = hex(ETH_PPPOE_IPV4_TCP);
    // Cut the last two payload bytes ("GET" -> "G").
    let cut = &frame[..frame.len() - 2];
    let d = decode(LinkType::ETHERNET, cut);
    assert_eq!(
        d.problem, None,
        "only payload is missing, every header is present"
    );
    let tcp = tcp_of(d.transport);
    assert_eq!(tcp.payload, b"G");
    assert_eq!(tcp.payload_missing, 2);

    let frame = hex(ETH_IPV4_UDP_DNS);
    let d = decode(LinkType::ETHERNET, &frame[..50]);
    let udp = udp_of(d.transport);
    assert_eq!(udp.payload.len(), 50 - 42);
    assert_eq!(udp.payload_missing, 71 - 50);
}

#[test]
fn truncated_headers_keep_what_was_decoded() {
    let frame = hex(ETH_IPV4_TCP_SYN);
    // Inside the TCP options: ports and flags are still known.
    let d = decode(LinkType::ETHERNET, &frame[..14 + 20 + 22]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("tcp header")));
    let tcp = tcp_of(d.transport);
    assert_eq!(tcp.dst_port, 80);
    assert_eq!(tcp.payload, b"");
    // Inside the fixed TCP header: IP is kept, transport is not.
    let d = decode(LinkType::ETHERNET, &frame[..14 + 20 + 10]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("tcp header")));
    assert_eq!(ipv4_of(d.network).dst, v4("93.184.216.34"));
    assert_eq!(d.transport, Transport::None);
    assert_eq!(d.layers.as_slice(), ["eth", "ip"]);
    // Inside the IP header.
    let d = decode(LinkType::ETHERNET, &frame[..14 + 12]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("ipv4 header")));
    assert!(d.link.has_ethernet);
    assert_eq!(d.network, Network::None);
    // Inside the Ethernet header.
    let d = decode(LinkType::ETHERNET, &frame[..13]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("ethernet header")));
    assert!(!d.link.has_ethernet);
    // Inside a VLAN tag.
    let qinq = hex(ETH_QINQ_IPV4_UDP);
    let d = decode(LinkType::ETHERNET, &qinq[..20]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("vlan tag")));
    assert_eq!(d.link.outer_ethertype, Some(0x88a8));
}

#[test]
fn ipv4_header_length_below_five_is_malformed() {
    let mut frame = hex(ETH_IPV4_TCP_SYN);
    frame[14] = 0x44;
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(
        d.problem,
        Some(DecodeProblem::Malformed("ipv4 header length"))
    );
    assert_eq!(d.network, Network::None);
    assert!(d.link.has_ethernet);
    frame[14] = 0x65;
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, Some(DecodeProblem::Malformed("ipv4 version")));
}

#[test]
fn tcp_data_offset_below_five_is_malformed() {
    let mut frame = hex(ETH_IPV4_TCP_SYN);
    frame[14 + 20 + 12] = 0x40;
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, Some(DecodeProblem::Malformed("tcp data offset")));
    assert_eq!(d.transport, Transport::None);
}

#[test]
fn ipv4_total_length_zero_means_captured_length() {
    // Segmentation offload on the capturing host leaves total length 0.
    let mut frame = hex(ETH_PPPOE_IPV4_TCP);
    let ip_at = 14 + 6 + 2;
    frame[ip_at + 2] = 0;
    frame[ip_at + 3] = 0;
    let d = decode(LinkType::ETHERNET, &frame);
    assert_eq!(d.problem, None);
    let tcp = tcp_of(d.transport);
    assert_eq!(tcp.payload, b"GET");
    assert_eq!(tcp.payload_missing, 0);
}

#[test]
fn ipv4_fragments() {
    let mut frame = hex(ETH_IPV4_UDP_DNS);
    // First fragment: more-fragments set, offset 0 -> transport is parsed.
    frame[14 + 6] = 0x20;
    let d = decode(LinkType::ETHERNET, &frame);
    let ip = ipv4_of(d.network);
    assert!(ip.is_fragment);
    assert_eq!(ip.fragment_offset, 0);
    assert_eq!(udp_of(d.transport).dst_port, 53);
    // Later fragment (offset 185*8): the bytes after the header are not a UDP header.
    frame[14 + 6] = 0x00;
    frame[14 + 7] = 185;
    let d = decode(LinkType::ETHERNET, &frame);
    let ip = ipv4_of(d.network);
    assert!(ip.is_fragment);
    assert_eq!(ip.fragment_offset, 1480);
    assert_eq!(d.transport, Transport::None);
    assert_eq!(d.problem, None);
}

#[test]
fn icmp_echo_reply_and_error_identifiers() {
    let mut frame = hex(NULL_LE_IPV4_ICMP);
    frame[4 + 20] = 0; // echo reply keeps the identifier
    assert!(matches!(
        decode(LinkType::NULL, &frame).transport,
        Transport::Icmp {
            identifier: Some(0x1234),
            ..
        }
    ));
    frame[4 + 20] = 11; // time exceeded has none
    assert!(matches!(
        decode(LinkType::NULL, &frame).transport,
        Transport::Icmp {
            icmp_type: 11,
            identifier: None,
            ..
        }
    ));
}

#[test]
fn tunnel_recursion_is_bounded() {
    // IPv4 protocol 4 whose payload is the same header again, 40 levels deep.
    let inner = hex(RAW_IPV4_TCP);
    let mut frame = inner.clone();
    for _ in 0..40 {
        let mut outer = inner[..20].to_vec();
        outer[9] = 4;
        let total = (20 + frame.len()) as u16;
        outer[2..4].copy_from_slice(&total.to_be_bytes());
        outer.extend_from_slice(&frame);
        frame = outer;
        if frame.len() > 60_000 {
            break;
        }
    }
    let d = decode(LinkType::RAW, &frame);
    assert_eq!(d.problem, Some(DecodeProblem::Malformed("tunnel depth")));
    // "raw" and the nine IP headers of depths 0..=8; the tenth is refused.
    assert_eq!(d.layers.as_slice().len(), 10);
    assert!(d.layers.as_slice()[1..].iter().all(|&name| name == "ip"));
}

#[test]
fn nflog_payload_tlv_in_either_byte_order() {
    let ip = hex(RAW_IPV4_TCP);
    // Header (AF_INET, version 0, resource 0), a 4-byte TLV of type 1, then NFULA_PAYLOAD.
    let mut little = vec![2, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0, 0];
    little.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
    little.extend_from_slice(&9u16.to_le_bytes());
    little.extend_from_slice(&ip);
    let d = decode(LinkType(239), &little);
    assert_eq!(d.problem, None);
    assert_eq!(ipv4_of(d.network).src, v4("1.2.3.4"));
    assert_eq!(d.layers.as_slice(), ["nflog", "ip", "tcp"]);

    let mut big = vec![2, 0, 0, 0, 0, 8, 0, 1, 0, 0, 0, 0];
    big.extend_from_slice(&((4 + ip.len()) as u16).to_be_bytes());
    big.extend_from_slice(&9u16.to_be_bytes());
    big.extend_from_slice(&ip);
    assert!(matches!(
        decode(LinkType(239), &big).transport,
        Transport::Tcp(_)
    ));

    // Without a payload TLV nothing is decoded, and that is reported.
    let d = decode(LinkType(239), &little[..12]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("nflog payload")));
}

#[test]
fn ip_over_infiniband() {
    let mut frame = vec![0u8; 40];
    frame.extend_from_slice(&[0x08, 0x00, 0x00, 0x00]);
    frame.extend_from_slice(&hex(RAW_IPV4_TCP));
    let d = decode(LinkType(242), &frame);
    assert_eq!(d.problem, None);
    assert!(!d.link.has_ethernet);
    assert_eq!(d.link.ethertype, Some(0x0800));
    assert_eq!(tcp_of(d.transport).src_port, 1);
    assert_eq!(d.layers.as_slice(), ["ipoib", "ip", "tcp"]);
}

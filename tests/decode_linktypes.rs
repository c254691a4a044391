//! `decode()` on literal frames of the wireless and pseudo-header link types: 802.11 (105),
//! radiotap (127), PPI (192), PKTAP (258), PPP (9, 50) and IPNET (226). tshark 4.0 decodes
//! each fixture to the layer path asserted here.

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

fn mac(last: u8) -> Option<[u8; 6]> {
    Some([0x02, 0, 0, 0, 0, last])
}

#[test]
fn radiotap_qos_data_with_fcs() {
    let frame = hex(RADIOTAP_QOS_IPV4_UDP_FCS);
    let d = decode(LinkType(127), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(
        d.layers.as_slice(),
        ["radiotap", "wlan", "llc", "ip", "udp"]
    );
    assert!(!d.link.has_ethernet);
    assert_eq!(d.link.ethertype, Some(0x0800));
    // To-DS: addr2 is the source, addr3 the destination.
    assert_eq!(d.link.src_mac, Some([0x00, 0x14, 0xa5, 0xcb, 0x6e, 0x1a]));
    assert_eq!(d.link.dst_mac, Some([0x00, 0x01, 0x02, 0x27, 0xf9, 0xb2]));
    let Network::Ipv4(ip) = d.network else {
        panic!("{:?}", d.network)
    };
    assert_eq!((ip.src, ip.dst), (v4("192.168.1.132"), v4("192.168.1.1")));
    let Transport::Udp(udp) = d.transport else {
        panic!("{:?}", d.transport)
    };
    assert_eq!((udp.src_port, udp.dst_port), (1031, 53));
    assert_eq!(udp.payload, b"abcd");
    assert_eq!(udp.payload_missing, 0);
}

#[test]
fn radiotap_fcs_is_trimmed_from_the_frame() {
    // A data frame (not null function) whose body is empty: only the 4 FCS bytes follow the
    // 24-byte MAC header. Radiotap: version, pad, it_len 9, present = Flags, Flags = FCS.
    let mut wlan = hex(WLAN_NULL_DATA);
    wlan[0] = 0x08;
    wlan.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let mut frame = vec![0, 0, 9, 0, 0x02, 0, 0, 0, 0x10];
    frame.extend_from_slice(&wlan);
    let d = decode(LinkType(127), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["radiotap", "wlan"]);
    // Without the flag the 4 bytes are the body, read as a (non-SNAP) LLC header.
    frame[8] = 0;
    let d = decode(LinkType(127), &frame);
    assert_eq!(d.layers.as_slice(), ["radiotap", "wlan", "llc"]);
    assert_eq!(
        d.network,
        Network::Other {
            ethertype: ETHERTYPE_802_3
        }
    );
}

#[test]
fn radiotap_data_pad_aligns_the_mac_header() {
    // Rebuild the fixture with the data-pad flag and 2 padding bytes after the 26-byte header.
    let original = hex(RADIOTAP_QOS_IPV4_UDP_FCS);
    let mut frame = original[..44].to_vec();
    frame[16] |= 0x20;
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(&original[44..]);
    let d = decode(LinkType(127), &frame);
    assert_eq!(d.problem, None);
    assert!(matches!(d.transport, Transport::Udp(_)));
}

#[test]
fn four_address_data_frame_ipv6_tcp() {
    let frame = hex(WLAN_4ADDR_IPV6_TCP);
    let d = decode(LinkType(105), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan", "llc", "ipv6", "tcp"]);
    assert_eq!(d.link.src_mac, mac(4));
    assert_eq!(d.link.dst_mac, mac(3));
    let Network::Ipv6(ip) = d.network else {
        panic!()
    };
    assert_eq!((ip.src, ip.dst), (v6("2001:db8::1"), v6("2001:db8::2")));
    let Transport::Tcp(tcp) = d.transport else {
        panic!()
    };
    assert_eq!((tcp.src_port, tcp.dst_port, tcp.seq), (40000, 443, 1000));
    assert!(tcp.flags.syn());
}

#[test]
fn qos_data_with_ht_control_carries_arp() {
    let frame = hex(WLAN_QOS_HTC_ARP);
    let d = decode(LinkType(105), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan", "llc", "arp"]);
    // From-DS: addr1 is the destination, addr3 the source.
    assert_eq!(d.link.src_mac, mac(3));
    assert_eq!(d.link.dst_mac, mac(1));
    let Network::Arp(arp) = d.network else {
        panic!("{:?}", d.network)
    };
    assert_eq!(arp.operation, 1);
    assert_eq!(arp.sender_ip, Some(v4("10.0.0.1")));
    assert_eq!(arp.target_ip, Some(v4("10.0.0.254")));
}

#[test]
fn protected_management_and_null_frames_stop_at_wlan() {
    let protected = hex(WLAN_PROTECTED);
    let d = decode(LinkType(105), &protected);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan", "data"]);
    assert_eq!(d.network, Network::None);

    let beacon = hex(WLAN_BEACON);
    let d = decode(LinkType(105), &beacon);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan"]);
    assert_eq!(d.network, Network::None);
    assert_eq!(d.link.src_mac, None);

    let null = hex(WLAN_NULL_DATA);
    let d = decode(LinkType(105), &null);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan"]);
    assert_eq!(d.network, Network::None);
}

#[test]
fn truncated_wlan_and_llc_are_reported() {
    let frame = hex(WLAN_4ADDR_IPV6_TCP);
    let d = decode(LinkType(105), &frame[..29]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("wlan header")));
    assert!(d.layers.as_slice().is_empty());
    // 30-byte header, then 5 of the 8 SNAP bytes.
    let d = decode(LinkType(105), &frame[..35]);
    assert_eq!(d.problem, Some(DecodeProblem::Truncated("llc header")));
    assert_eq!(d.layers.as_slice(), ["wlan"]);
}

#[test]
fn plain_llc_and_a_msdu() {
    // Spanning tree LLC (42 42 03) after a 3-address data header: not an EtherType.
    let mut frame = hex(WLAN_NULL_DATA);
    frame[0] = 0x08; // data, not null function
    frame.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0]);
    let d = decode(LinkType(105), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(
        d.network,
        Network::Other {
            ethertype: ETHERTYPE_802_3
        }
    );
    assert_eq!(d.layers.as_slice(), ["wlan", "llc"]);

    // A QoS frame with the A-MSDU bit: one subframe (DA, SA, length) holding LLC/SNAP/IP/TCP.
    let inner = hex(WLAN_4ADDR_IPV6_TCP);
    let msdu = &inner[30..]; // LLC onwards
    let mut frame = hex(WLAN_QOS_HTC_ARP)[..26].to_vec();
    frame[1] = 0x02; // from-DS only: no HT control
    frame[24] = 0x80; // A-MSDU present
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 9, 0x02, 0, 0, 0, 0, 8]);
    frame.extend_from_slice(&(msdu.len() as u16).to_be_bytes());
    frame.extend_from_slice(msdu);
    let d = decode(LinkType(105), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["wlan", "llc", "ipv6", "tcp"]);
}

#[test]
fn ppi_802_11_with_fcs() {
    let frame = hex(PPI_WLAN_IPV4_TCP_FCS);
    let d = decode(LinkType(192), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ppi", "wlan", "llc", "ip", "tcp"]);
    assert!(!d.link.has_ethernet);
    let Transport::Tcp(tcp) = d.transport else {
        panic!()
    };
    assert_eq!((tcp.src_port, tcp.dst_port), (1032, 80));
    assert_eq!(tcp.payload, b"GET / HTTP/1.0\r\n\r\n");
}

#[test]
fn ppi_ethernet_is_scapy_ethernet() {
    let frame = hex(PPI_ETH_IPV4_UDP);
    let d = decode(LinkType(192), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ppi", "eth", "ip", "udp"]);
    // Scapy decodes PPI / Ether, so its session key uses the IP layer.
    assert!(d.link.has_ethernet);
    assert_eq!(d.link.src_mac, Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
    let Transport::Udp(udp) = d.transport else {
        panic!()
    };
    assert_eq!((udp.src_port, udp.dst_port), (5353, 53));
    assert_eq!(udp.payload, b"xy");
}

#[test]
fn pktap_ethernet_is_not_scapy_ethernet() {
    let frame = hex(PKTAP_ETH_IPV4_UDP);
    let d = decode(LinkType(258), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["pktap", "eth", "ip", "udp"]);
    // Scapy has no PKTAP layer: the frame is Raw and its session key `Other`.
    assert!(!d.link.has_ethernet);
    assert_eq!(d.link.ethertype, Some(0x0800));
    let Network::Ipv4(ip) = d.network else {
        panic!()
    };
    assert_eq!((ip.src, ip.dst), (v4("10.32.4.27"), v4("10.32.100.15")));
    let Transport::Udp(udp) = d.transport else {
        panic!()
    };
    assert_eq!((udp.src_port, udp.dst_port), (63538, 53));
}

#[test]
fn pseudo_headers_do_not_nest_and_check_lengths() {
    // PKTAP naming PKTAP (dlt 258 at offset 8).
    let mut frame = hex(PKTAP_ETH_IPV4_UDP);
    frame[8..12].copy_from_slice(&258u32.to_le_bytes());
    let d = decode(LinkType(258), &frame);
    assert_eq!(
        d.problem,
        Some(DecodeProblem::Malformed("nested pseudo-header"))
    );
    // PKTAP length past the frame, and below the minimum.
    let mut frame = hex(PKTAP_ETH_IPV4_UDP);
    frame[0..4].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(
        decode(LinkType(258), &frame).problem,
        Some(DecodeProblem::Truncated("pktap header"))
    );
    frame[0..4].copy_from_slice(&20u32.to_le_bytes());
    assert_eq!(
        decode(LinkType(258), &frame).problem,
        Some(DecodeProblem::Malformed("pktap length"))
    );
    // PPI naming PPI, and an unknown DLT.
    let mut frame = hex(PPI_ETH_IPV4_UDP);
    frame[4] = 192;
    assert_eq!(
        decode(LinkType(192), &frame).problem,
        Some(DecodeProblem::Malformed("nested pseudo-header"))
    );
    frame[4..8].copy_from_slice(&0x0001_0000u32.to_le_bytes());
    let d = decode(LinkType(192), &frame);
    assert_eq!(d.problem, Some(DecodeProblem::UnsupportedLinkType));
    assert_eq!(d.layers.as_slice(), ["ppi"]);
}

#[test]
fn ppp_links() {
    let frame = hex(PPP_HDLC_IPV4_UDP);
    let d = decode(LinkType(50), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ppp", "ip", "udp"]);
    let Transport::Udp(udp) = d.transport else {
        panic!()
    };
    assert_eq!((udp.src_port, udp.dst_port), (1024, 53));
    assert_eq!(udp.payload, b"dns");

    let frame = hex(PPP_IPV6_TCP);
    let d = decode(LinkType(9), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ppp", "ipv6", "tcp"]);
    let Transport::Tcp(tcp) = d.transport else {
        panic!()
    };
    assert_eq!((tcp.src_port, tcp.dst_port), (2000, 22));

    // Address 0xff with a control byte other than 0x03 (as in tcpdump's fuzzed
    // ppp_ip_udp_dns.pcap): the protocol is still read after it, and 0x7e08 is unknown.
    let d = decode(LinkType(50), &[0xff, 0x5f, 0x7e, 0x08, 0x00, 0x45]);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ppp", "data"]);
    assert_eq!(d.network, Network::None);
}

#[test]
fn ipnet_ipv6_udp() {
    let frame = hex(IPNET_IPV6_UDP);
    let d = decode(LinkType(226), &frame);
    assert_eq!(d.problem, None);
    assert_eq!(d.layers.as_slice(), ["ipnet", "ipv6", "udp"]);
    let Network::Ipv6(ip) = d.network else {
        panic!()
    };
    assert_eq!((ip.src, ip.dst), (v6("fe80::1"), v6("ff02::1")));
    let Transport::Udp(udp) = d.transport else {
        panic!()
    };
    assert_eq!((udp.src_port, udp.dst_port), (546, 547));
}

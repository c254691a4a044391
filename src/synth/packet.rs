//! Ethernet II + IPv4/IPv6 + TCP/UDP frames with correct checksums, built into one reusable
//! buffer so that writing gigabytes allocates nothing per packet.

use crate::decode::wire::{ethertype, ip_protocol};
use std::net::IpAddr;

/// TCP flag bits (the low byte of the flags field).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

const ETHERNET_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const TCP_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;

/// Addresses of one direction of a conversation. Both IPs must be the same family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Endpoints {
    /// The same conversation seen from the other side.
    pub fn reversed(&self) -> Endpoints {
        Endpoints {
            src_mac: self.dst_mac,
            dst_mac: self.src_mac,
            src_ip: self.dst_ip,
            dst_ip: self.src_ip,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

/// TCP header fields that vary per segment (no options, data offset 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFields {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
}

/// Builds frames into an internal buffer. The payload is written by a closure straight into
/// place, then the lengths and checksums are filled in.
#[derive(Debug, Default)]
pub struct PacketBuilder {
    buf: Vec<u8>,
    ipv4_id: u16,
}

impl PacketBuilder {
    pub fn new() -> Self {
        PacketBuilder {
            buf: Vec::with_capacity(2048),
            ipv4_id: 0,
        }
    }

    /// An Ethernet/IP/TCP frame. `payload` appends the segment's data to the vector it is given.
    pub fn tcp(
        &mut self,
        ends: &Endpoints,
        fields: TcpFields,
        payload: impl FnOnce(&mut Vec<u8>),
    ) -> &[u8] {
        let transport_start = self.begin(ends, ip_protocol::TCP);
        self.buf.extend_from_slice(&ends.src_port.to_be_bytes());
        self.buf.extend_from_slice(&ends.dst_port.to_be_bytes());
        self.buf.extend_from_slice(&fields.seq.to_be_bytes());
        self.buf.extend_from_slice(&fields.ack.to_be_bytes());
        self.buf.push((TCP_HEADER_LEN as u8 / 4) << 4);
        self.buf.push(fields.flags);
        self.buf.extend_from_slice(&fields.window.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        payload(&mut self.buf);
        self.finish(ends, ip_protocol::TCP, transport_start, 16)
    }

    /// An Ethernet/IP/UDP datagram.
    pub fn udp(&mut self, ends: &Endpoints, payload: impl FnOnce(&mut Vec<u8>)) -> &[u8] {
        let transport_start = self.begin(ends, ip_protocol::UDP);
        self.buf.extend_from_slice(&ends.src_port.to_be_bytes());
        self.buf.extend_from_slice(&ends.dst_port.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0, 0, 0]); // length, checksum
        payload(&mut self.buf);
        let udp_len = (self.buf.len() - transport_start) as u16;
        self.buf[transport_start + 4..transport_start + 6].copy_from_slice(&udp_len.to_be_bytes());
        self.finish(ends, ip_protocol::UDP, transport_start, 6)
    }

    /// Ethernet and IP headers with zero lengths/checksums; returns the transport offset.
    fn begin(&mut self, ends: &Endpoints, protocol: u8) -> usize {
        self.buf.clear();
        self.buf.extend_from_slice(&ends.dst_mac);
        self.buf.extend_from_slice(&ends.src_mac);
        match (ends.src_ip, ends.dst_ip) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                self.buf.extend_from_slice(&ethertype::IPV4.to_be_bytes());
                self.ipv4_id = self.ipv4_id.wrapping_add(1);
                self.buf.push(0x45); // version 4, IHL 5
                self.buf.push(0); // DSCP/ECN
                self.buf.extend_from_slice(&[0, 0]); // total length
                self.buf.extend_from_slice(&self.ipv4_id.to_be_bytes());
                self.buf.extend_from_slice(&[0x40, 0]); // don't fragment
                self.buf.push(64); // TTL
                self.buf.push(protocol);
                self.buf.extend_from_slice(&[0, 0]); // header checksum
                self.buf.extend_from_slice(&src.octets());
                self.buf.extend_from_slice(&dst.octets());
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                self.buf.extend_from_slice(&ethertype::IPV6.to_be_bytes());
                self.buf.extend_from_slice(&[0x60, 0, 0, 0]);
                self.buf.extend_from_slice(&[0, 0]); // payload length
                self.buf.push(protocol);
                self.buf.push(64); // hop limit
                self.buf.extend_from_slice(&src.octets());
                self.buf.extend_from_slice(&dst.octets());
            }
            _ => panic!("Endpoints mix IPv4 and IPv6"),
        }
        self.buf.len()
    }

    /// Fills lengths and checksums; `checksum_at` is the checksum's offset in the transport header.
    fn finish(
        &mut self,
        ends: &Endpoints,
        protocol: u8,
        transport_start: usize,
        checksum_at: usize,
    ) -> &[u8] {
        let transport_len = self.buf.len() - transport_start;
        let mut sum = match (ends.src_ip, ends.dst_ip) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let ip = ETHERNET_HEADER_LEN;
                let total = (IPV4_HEADER_LEN + transport_len) as u16;
                self.buf[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
                let header_sum = ones_complement_sum(&self.buf[ip..ip + IPV4_HEADER_LEN], 0);
                self.buf[ip + 10..ip + 12].copy_from_slice(&(!fold(header_sum)).to_be_bytes());
                ones_complement_sum(&src.octets(), 0)
                    + ones_complement_sum(&dst.octets(), 0)
                    + u64::from(protocol)
                    + transport_len as u64
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let ip = ETHERNET_HEADER_LEN;
                debug_assert_eq!(transport_start, ip + IPV6_HEADER_LEN);
                self.buf[ip + 4..ip + 6].copy_from_slice(&(transport_len as u16).to_be_bytes());
                ones_complement_sum(&src.octets(), 0)
                    + ones_complement_sum(&dst.octets(), 0)
                    + u64::from(protocol)
                    + transport_len as u64
            }
            _ => unreachable!("checked in begin"),
        };
        sum = ones_complement_sum(&self.buf[transport_start..], sum);
        let mut checksum = !fold(sum);
        // UDP transmits a computed 0 as 0xffff (0 means "no checksum").
        if protocol == ip_protocol::UDP && checksum == 0 {
            checksum = 0xffff;
        }
        let at = transport_start + checksum_at;
        self.buf[at..at + 2].copy_from_slice(&checksum.to_be_bytes());
        &self.buf
    }
}

/// Adds `data` as big-endian 16-bit words (odd length padded with a zero byte) to `sum`.
/// Summing 32-bit words into a u64 and folding later gives the same ones-complement result
/// at half the additions.
pub fn ones_complement_sum(data: &[u8], mut sum: u64) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    sum + u64::from(u32::from_be_bytes(tail))
}

/// Folds a wide sum to 16 bits with end-around carry.
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Length of the headers in front of a TCP payload for this address family.
pub fn tcp_overhead(ip: IpAddr) -> usize {
    ETHERNET_HEADER_LEN
        + TCP_HEADER_LEN
        + match ip {
            IpAddr::V4(_) => IPV4_HEADER_LEN,
            IpAddr::V6(_) => IPV6_HEADER_LEN,
        }
}

/// Length of the headers in front of a UDP payload for this address family.
pub fn udp_overhead(ip: IpAddr) -> usize {
    ETHERNET_HEADER_LEN
        + UDP_HEADER_LEN
        + match ip {
            IpAddr::V4(_) => IPV4_HEADER_LEN,
            IpAddr::V6(_) => IPV6_HEADER_LEN,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4_ends() -> Endpoints {
        Endpoints {
            src_mac: [0x02, 0, 0, 0, 0, 1],
            dst_mac: [0x02, 0, 0, 0, 0, 2],
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            src_port: 40000,
            dst_port: 80,
        }
    }

    /// Verifying a checksum: the sum over the covered bytes including the checksum is 0xffff.
    fn verifies(pseudo: u64, covered: &[u8]) -> bool {
        fold(ones_complement_sum(covered, pseudo)) == 0xffff
    }

    #[test]
    fn ipv4_tcp_syn_bytes() {
        let mut b = PacketBuilder::new();
        let frame = b
            .tcp(
                &v4_ends(),
                TcpFields {
                    seq: 1,
                    ack: 0,
                    flags: tcp_flags::SYN,
                    window: 0xffff,
                },
                |_| {},
            )
            .to_vec();
        let expected: Vec<u8> = [
            &[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00][..],
            // IPv4: len 40, id 1, DF, TTL 64, TCP, checksum 0x26cd (as scapy computes)
            &[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0x26, 0xcd],
            &[10, 0, 0, 1, 10, 0, 0, 2],
            // TCP
            &[
                0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
            ],
            &[0xff, 0x4e, 0, 0], // checksum (scapy agrees), urgent
        ]
        .concat();
        assert_eq!(frame, expected);
    }

    #[test]
    fn checksums_verify_for_odd_payloads_both_families() {
        let mut b = PacketBuilder::new();
        for ends in [v4_ends(), {
            let mut e = v4_ends();
            e.src_ip = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
            e.dst_ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50));
            e
        }] {
            let overhead = tcp_overhead(ends.src_ip);
            let payload = b"GET / HTTP/1.1\r\n\r\nx";
            let frame = b
                .tcp(
                    &ends,
                    TcpFields {
                        seq: 0xdead_beef,
                        ack: 7,
                        flags: tcp_flags::ACK | tcp_flags::PSH,
                        window: 512,
                    },
                    |v| v.extend_from_slice(payload),
                )
                .to_vec();
            assert_eq!(frame.len(), overhead + payload.len());
            let (ip_len, pseudo) = match (ends.src_ip, ends.dst_ip) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    assert!(verifies(0, &frame[14..34]), "IPv4 header checksum");
                    let p =
                        ones_complement_sum(&s.octets(), 0) + ones_complement_sum(&d.octets(), 0);
                    (20, p)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    let p =
                        ones_complement_sum(&s.octets(), 0) + ones_complement_sum(&d.octets(), 0);
                    (40, p)
                }
                _ => unreachable!(),
            };
            let tcp = &frame[14 + ip_len..];
            assert!(verifies(pseudo + 6 + tcp.len() as u64, tcp), "TCP checksum");

            let udp_frame = b.udp(&ends, |v| v.extend_from_slice(b"abc")).to_vec();
            let udp = &udp_frame[14 + ip_len..];
            assert_eq!(udp.len(), 11);
            assert_eq!(&udp[4..6], &[0, 11]);
            assert!(verifies(pseudo + 17 + 11, udp), "UDP checksum");
        }
    }

    #[test]
    fn known_checksum_from_rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
        assert_eq!(
            fold(ones_complement_sum(
                &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7],
                0
            )),
            0xddf2
        );
    }
}

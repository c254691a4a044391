//! ARP (RFC 826) with variable hardware and protocol address lengths.

use super::{array, be16, byte, clip, ethertype, Result, WireError};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const FIXED_LEN: usize = 8;

    /// Checks the fixed part and that all four addresses (of the declared lengths) are present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = ArpPacket { buffer };
        let len = packet.buffer.as_ref().len();
        if len < Self::FIXED_LEN || len < packet.packet_len() {
            return Err(WireError::Truncated);
        }
        Ok(packet)
    }

    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn hardware_len(&self) -> u8 {
        byte(self.buffer.as_ref(), 4)
    }

    pub fn protocol_len(&self) -> u8 {
        byte(self.buffer.as_ref(), 5)
    }

    /// 1 request, 2 reply (3/4 RARP, 8/9 InARP).
    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// Header plus the four addresses.
    pub fn packet_len(&self) -> usize {
        Self::FIXED_LEN + 2 * (self.hardware_len() as usize + self.protocol_len() as usize)
    }

    fn is_ipv4(&self) -> bool {
        self.protocol_type() == ethertype::IPV4 && self.protocol_len() == 4
    }

    fn sender_proto_at(&self) -> usize {
        Self::FIXED_LEN + self.hardware_len() as usize
    }

    fn target_proto_at(&self) -> usize {
        Self::FIXED_LEN + 2 * self.hardware_len() as usize + self.protocol_len() as usize
    }

    /// Sender protocol address when it is IPv4 (Scapy's `psrc`).
    pub fn sender_ipv4(&self) -> Option<Ipv4Addr> {
        self.is_ipv4()
            .then(|| Ipv4Addr::from(array::<4>(self.buffer.as_ref(), self.sender_proto_at())))
    }

    /// Target protocol address when it is IPv4 (Scapy's `pdst`).
    pub fn target_ipv4(&self) -> Option<Ipv4Addr> {
        self.is_ipv4()
            .then(|| Ipv4Addr::from(array::<4>(self.buffer.as_ref(), self.target_proto_at())))
    }
}

impl<'a> ArpPacket<&'a [u8]> {
    pub fn sender_hardware_addr(&self) -> &'a [u8] {
        clip(self.buffer, Self::FIXED_LEN, self.sender_proto_at())
    }

    pub fn target_hardware_addr(&self) -> &'a [u8] {
        let start = self.sender_proto_at() + self.protocol_len() as usize;
        clip(self.buffer, start, self.target_proto_at())
    }
}

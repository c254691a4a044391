//! IPv4 header (RFC 791).

use super::{array, be16, byte, clip, Result, WireError};
use std::net::Ipv4Addr;

/// An IPv4 packet: the header (with options) and the payload it declares.
///
/// `new_checked` accepts a packet whose payload was cut by the snapshot length; it rejects a
/// header that is itself cut (`Truncated`) or impossible (`Malformed`).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const MIN_HEADER_LEN: usize = 20;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        if bytes.len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let packet = Ipv4Packet { buffer };
        if packet.version() != 4 {
            return Err(WireError::Malformed("ipv4 version"));
        }
        let header_len = packet.header_len() as usize;
        if header_len < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("ipv4 header length"));
        }
        if header_len > packet.buffer.as_ref().len() {
            return Err(WireError::Truncated);
        }
        let total_len = packet.total_len() as usize;
        // 0 is what TCP segmentation offload leaves in captures taken on the sender.
        if total_len != 0 && total_len < header_len {
            return Err(WireError::Malformed("ipv4 total length"));
        }
        Ok(packet)
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> u8 {
        (byte(self.buffer.as_ref(), 0) & 0x0f) * 4
    }

    pub fn dscp_ecn(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    /// The total length field as written (0 under TSO; see [`Self::declared_len`]).
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    pub fn dont_frag(&self) -> bool {
        byte(self.buffer.as_ref(), 6) & 0x40 != 0
    }

    pub fn more_frags(&self) -> bool {
        byte(self.buffer.as_ref(), 6) & 0x20 != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(self.buffer.as_ref(), 6) & 0x1fff) << 3
    }

    /// A fragment of a larger datagram (more-fragments set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        be16(self.buffer.as_ref(), 6) & 0x3fff != 0
    }

    pub fn hop_limit(&self) -> u8 {
        byte(self.buffer.as_ref(), 8)
    }

    pub fn protocol(&self) -> u8 {
        byte(self.buffer.as_ref(), 9)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 10)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), 12))
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), 16))
    }

    /// Length of the datagram on the wire: the total length field, or the captured length
    /// when the field is 0 (TSO).
    pub fn declared_len(&self) -> usize {
        match self.total_len() {
            0 => self.buffer.as_ref().len(),
            len => len as usize,
        }
    }

    /// Bytes of the datagram that are not in the buffer (cut by the snapshot length).
    pub fn payload_missing(&self) -> usize {
        self.declared_len()
            .saturating_sub(self.buffer.as_ref().len())
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// Options bytes (empty when IHL is 5).
    pub fn options(&self) -> &'a [u8] {
        clip(
            self.buffer,
            Self::MIN_HEADER_LEN,
            self.header_len() as usize,
        )
    }

    /// The captured payload, trimmed to the declared length (drops Ethernet padding).
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len() as usize, self.declared_len())
    }
}

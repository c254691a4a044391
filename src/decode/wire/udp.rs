//! UDP header (RFC 768).

use super::{be16, clip, Result, WireError};

#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const HEADER_LEN: usize = 8;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buffer })
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    /// The length field (header included) as written.
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// Always false: a checked view holds at least the header. (Pairs with `len` for clippy.)
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    /// Datagram length on the wire: the length field when it is plausible (>= 8 and within
    /// `ip_payload_len`, the length the IP header declares), otherwise `ip_payload_len`.
    pub fn declared_len(&self, ip_payload_len: usize) -> usize {
        let len = self.len() as usize;
        if (Self::HEADER_LEN..=ip_payload_len).contains(&len) {
            len
        } else {
            ip_payload_len
        }
    }
}

impl<'a> UdpPacket<&'a [u8]> {
    /// Captured datagram data, trimmed to [`Self::declared_len`].
    pub fn payload(&self, ip_payload_len: usize) -> &'a [u8] {
        clip(
            self.buffer,
            Self::HEADER_LEN,
            self.declared_len(ip_payload_len),
        )
    }
}

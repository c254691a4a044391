//! TCP header (RFC 9293).

use super::{be16, be32, byte, clip, Result, WireError};

/// A TCP segment.
///
/// `new_checked` requires the 20-byte fixed header and a sane data offset, but not the options:
/// a snapshot that cuts the options still yields ports, sequence numbers and flags
/// ([`Self::is_header_complete`] tells).
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    pub const MIN_HEADER_LEN: usize = 20;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let packet = TcpPacket { buffer };
        if (packet.header_len() as usize) < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("tcp data offset"));
        }
        Ok(packet)
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), 8)
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> u8 {
        (byte(self.buffer.as_ref(), 12) >> 4) * 4
    }

    /// The flags byte (FIN 0x01 ... CWR 0x80); the NS bit lives in the previous byte.
    pub fn flags(&self) -> u8 {
        byte(self.buffer.as_ref(), 13)
    }

    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 16)
    }

    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), 18)
    }

    /// Are all option bytes present?
    pub fn is_header_complete(&self) -> bool {
        self.buffer.as_ref().len() >= self.header_len() as usize
    }
}

impl<'a> TcpPacket<&'a [u8]> {
    /// Option bytes that were captured.
    pub fn options(&self) -> &'a [u8] {
        clip(
            self.buffer,
            Self::MIN_HEADER_LEN,
            self.header_len() as usize,
        )
    }

    /// Segment data (empty when the header itself is cut).
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len() as usize, usize::MAX)
    }
}

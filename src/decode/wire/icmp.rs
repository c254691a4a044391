//! ICMP (RFC 792) and ICMPv6 (RFC 4443) share the first 8 bytes: type, code, checksum and a
//! 4-byte "rest of header" whose meaning depends on the type.

use super::{be16, byte, clip, Result, WireError};

#[derive(Debug, Clone, Copy)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Type, code and checksum: enough to classify the message.
    pub const MIN_LEN: usize = 4;
    /// Including the 4-byte rest of header.
    pub const HEADER_LEN: usize = 8;

    /// Accepts 4 bytes or more; [`Self::is_header_complete`] says whether the 8-byte header is.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::MIN_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IcmpPacket { buffer })
    }

    pub fn msg_type(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn msg_code(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn is_header_complete(&self) -> bool {
        self.buffer.as_ref().len() >= Self::HEADER_LEN
    }

    /// Bytes 4..6: the identifier of echo, timestamp, information and address-mask messages.
    pub fn identifier(&self) -> Option<u16> {
        (self.buffer.as_ref().len() >= 6).then(|| be16(self.buffer.as_ref(), 4))
    }

    /// Bytes 6..8: the sequence number of the same messages.
    pub fn sequence(&self) -> Option<u16> {
        (self.buffer.as_ref().len() >= 8).then(|| be16(self.buffer.as_ref(), 6))
    }
}

impl<'a> IcmpPacket<&'a [u8]> {
    /// What follows the 8-byte header (for errors: the quoted IP header and 8+ bytes).
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

/// ICMPv4 types whose bytes 4..6 are an identifier (Scapy shows them as `id=`): echo reply,
/// echo, timestamp, timestamp reply, information request/reply, address mask request/reply.
pub fn icmpv4_has_identifier(msg_type: u8) -> bool {
    matches!(msg_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// ICMPv4 errors that quote the offending IP header: destination unreachable, source quench,
/// redirect, time exceeded, parameter problem.
pub fn icmpv4_is_error(msg_type: u8) -> bool {
    matches!(msg_type, 3 | 4 | 5 | 11 | 12)
}

/// ICMPv6 errors that quote the offending packet: destination unreachable, packet too big,
/// time exceeded, parameter problem.
pub fn icmpv6_is_error(msg_type: u8) -> bool {
    matches!(msg_type, 1..=4)
}

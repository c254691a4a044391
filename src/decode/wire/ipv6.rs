//! IPv6 fixed header (RFC 8200) and the extension headers the decoder walks.

use super::{array, be16, be32, byte, clip, Result, WireError};
use std::net::Ipv6Addr;

/// An IPv6 packet: the 40-byte fixed header and the payload it declares.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const HEADER_LEN: usize = 40;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let packet = Ipv6Packet { buffer };
        if packet.version() != 6 {
            return Err(WireError::Malformed("ipv6 version"));
        }
        Ok(packet)
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        (be16(self.buffer.as_ref(), 0) >> 4) as u8
    }

    pub fn flow_label(&self) -> u32 {
        be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    pub fn next_header(&self) -> u8 {
        byte(self.buffer.as_ref(), 6)
    }

    pub fn hop_limit(&self) -> u8 {
        byte(self.buffer.as_ref(), 7)
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), 8))
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), 24))
    }

    /// Payload length on the wire: the field, or what was captured when it is 0 (jumbogram
    /// or segmentation offload).
    pub fn declared_payload_len(&self) -> usize {
        match self.payload_len() {
            0 => self.buffer.as_ref().len().saturating_sub(Self::HEADER_LEN),
            len => len as usize,
        }
    }

    /// Bytes of the packet that are not in the buffer (cut by the snapshot length).
    pub fn payload_missing(&self) -> usize {
        (Self::HEADER_LEN + self.declared_payload_len()).saturating_sub(self.buffer.as_ref().len())
    }
}

impl<'a> Ipv6Packet<&'a [u8]> {
    /// The captured payload (extension headers included), trimmed to the declared length.
    pub fn payload(&self) -> &'a [u8] {
        clip(
            self.buffer,
            Self::HEADER_LEN,
            Self::HEADER_LEN + self.declared_payload_len(),
        )
    }
}

/// A generic extension header with the usual layout: next header, length in 8-octet units
/// not counting the first 8 (hop-by-hop, routing, destination options, mobility, HIP, shim6).
#[derive(Debug, Clone, Copy)]
pub struct Ipv6ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6ExtHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Ipv6ExtHeader { buffer };
        if header.buffer.as_ref().len() < 2 || header.buffer.as_ref().len() < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    pub fn next_header(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn header_len(&self) -> usize {
        (byte(self.buffer.as_ref(), 1) as usize + 1) * 8
    }
}

impl<'a> Ipv6ExtHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

/// The 8-byte IPv6 fragment header.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    pub const HEADER_LEN: usize = 8;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6FragmentHeader { buffer })
    }

    pub fn next_header(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        be16(self.buffer.as_ref(), 2) & 0xfff8
    }

    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), 2) & 1 != 0
    }

    pub fn ident(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
}

impl<'a> Ipv6FragmentHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

/// IPsec Authentication Header (RFC 4302; IPv4 protocol or IPv6 next header 51). Its length
/// is in 4-octet units minus 2, unlike the other extension headers.
#[derive(Debug, Clone, Copy)]
pub struct AuthHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AuthHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = AuthHeader { buffer };
        if header.buffer.as_ref().len() < 12 {
            return Err(WireError::Truncated);
        }
        if header.header_len() < 12 {
            return Err(WireError::Malformed("ah length"));
        }
        if header.buffer.as_ref().len() < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    pub fn next_header(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn header_len(&self) -> usize {
        (byte(self.buffer.as_ref(), 1) as usize + 2) * 4
    }

    pub fn spi(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
}

impl<'a> AuthHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

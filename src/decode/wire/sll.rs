//! Linux "cooked" capture headers: SLL (link type 113) and SLL2 (link type 276), written by
//! `tcpdump -i any`. Both carry the EtherType of the payload in a `protocol` field.

use super::{be16, be32, byte, clip, Result, WireError};

/// LINKTYPE_LINUX_SLL: packet type, ARPHRD type, address length, 8 address bytes, protocol.
#[derive(Debug, Clone, Copy)]
pub struct SllHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SllHeader<T> {
    pub const HEADER_LEN: usize = 16;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(SllHeader { buffer })
    }

    /// 0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us.
    pub fn packet_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn link_addr_len(&self) -> u16 {
        be16(self.buffer.as_ref(), 4)
    }

    /// The EtherType of the payload (for Ethernet-like devices).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), 14)
    }
}

impl<'a> SllHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

/// LINKTYPE_LINUX_SLL2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes.
#[derive(Debug, Clone, Copy)]
pub struct Sll2Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Sll2Header<T> {
    pub const HEADER_LEN: usize = 20;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Sll2Header { buffer })
    }

    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    pub fn interface_index(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }

    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 8)
    }

    pub fn packet_type(&self) -> u8 {
        byte(self.buffer.as_ref(), 10)
    }

    pub fn link_addr_len(&self) -> u8 {
        byte(self.buffer.as_ref(), 11)
    }
}

impl<'a> Sll2Header<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

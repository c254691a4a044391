//! BSD loopback headers: LINKTYPE_NULL (a 4-byte address family in the byte order of the
//! machine that captured) and LINKTYPE_LOOP (the same value in network byte order).

use super::{array, clip, Result, WireError};

/// What the address family says the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopbackFamily {
    Ipv4,
    Ipv6,
    /// Any other family value (as read).
    Other(u32),
}

impl LoopbackFamily {
    /// Maps a BSD/Linux address family number. AF_INET6 differs between systems: 24 (NetBSD,
    /// OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
    pub fn from_af(af: u32) -> Self {
        match af {
            2 => LoopbackFamily::Ipv4,
            10 | 24 | 28 | 30 => LoopbackFamily::Ipv6,
            other => LoopbackFamily::Other(other),
        }
    }
}

/// The 4-byte address family header.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LoopbackHeader<T> {
    pub const HEADER_LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(LoopbackHeader { buffer })
    }

    /// LINKTYPE_NULL: the family in the capturing host's byte order, which the file does not
    /// record. Families are small numbers, so whichever reading is below 65536 is the right one.
    pub fn family_host_order(&self) -> LoopbackFamily {
        let raw = array::<4>(self.buffer.as_ref(), 0);
        let little = u32::from_le_bytes(raw);
        let big = u32::from_be_bytes(raw);
        LoopbackFamily::from_af(if little < 0x1_0000 { little } else { big })
    }

    /// LINKTYPE_LOOP: the family in network byte order.
    pub fn family_network_order(&self) -> LoopbackFamily {
        LoopbackFamily::from_af(u32::from_be_bytes(array::<4>(self.buffer.as_ref(), 0)))
    }
}

impl<'a> LoopbackHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

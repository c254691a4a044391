//! LINKTYPE_IPNET (226): Solaris `ipnet` observability devices (`snoop` / `tcpdump` on
//! `/dev/ipnet`). A 24-byte big-endian header whose address family says which IP follows.

use super::{be32, byte, clip, Result, WireError};

/// Solaris address families.
const AF_INET: u8 = 2;
const AF_INET6: u8 = 26;

/// Version, family, hook type, packet length, interface indexes, zone ids.
#[derive(Debug, Clone, Copy)]
pub struct IpnetHeader<T: AsRef<[u8]>> {
    buffer: T,
}

/// What the address family says the payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpnetFamily {
    Ipv4,
    Ipv6,
    Other(u8),
}

impl<T: AsRef<[u8]>> IpnetHeader<T> {
    pub const HEADER_LEN: usize = 24;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(IpnetHeader { buffer })
    }

    pub fn family(&self) -> IpnetFamily {
        match byte(self.buffer.as_ref(), 1) {
            AF_INET => IpnetFamily::Ipv4,
            AF_INET6 => IpnetFamily::Ipv6,
            other => IpnetFamily::Other(other),
        }
    }

    pub fn packet_len(&self) -> u32 {
        be32(self.buffer.as_ref(), 4)
    }
}

impl<'a> IpnetHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

//! Ethernet II / 802.3 header and 802.1Q / 802.1ad VLAN tags.

use super::{array, be16, clip, ethertype, Result, WireError};

/// An Ethernet header: destination MAC, source MAC, EtherType (or 802.3 length).
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    pub const HEADER_LEN: usize = 14;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    pub fn dst_addr(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 0)
    }

    pub fn src_addr(&self) -> [u8; 6] {
        array(self.buffer.as_ref(), 6)
    }

    /// The EtherType, or the frame length for 802.3 frames (see [`Self::is_802_3`]).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 12)
    }

    /// An 802.3 frame carries a length (<= 1500) where Ethernet II has its EtherType; the
    /// payload is then LLC, and Scapy decodes it as `Dot3`, not `Ether`.
    pub fn is_802_3(&self) -> bool {
        self.ethertype() <= ethertype::MAX_802_3_LENGTH
    }
}

impl<'a> EthernetFrame<&'a [u8]> {
    /// Everything after the 14-byte header (including any padding and FCS).
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

/// One 802.1Q / 802.1ad tag: TCI (priority, DEI, VLAN id) and the next EtherType.
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    pub const HEADER_LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VlanTag { buffer })
    }

    pub fn priority(&self) -> u8 {
        (be16(self.buffer.as_ref(), 0) >> 13) as u8
    }

    pub fn drop_eligible(&self) -> bool {
        be16(self.buffer.as_ref(), 0) & 0x1000 != 0
    }

    pub fn vlan_id(&self) -> u16 {
        be16(self.buffer.as_ref(), 0) & 0x0fff
    }

    /// The EtherType of what follows the tag (another tag for QinQ).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
}

impl<'a> VlanTag<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, Self::HEADER_LEN, usize::MAX)
    }
}

//! LINKTYPE_PKTAP (258): Apple's packet-tap pseudo-header (`tcpdump -k` on macOS), which
//! tags each frame with its interface and process. Fields are in the capturing host's byte
//! order, little-endian on every Mac that writes them.

use super::{clip, le32, Result, WireError};

/// `pth_type_next` of a header followed by a link-layer frame.
const TYPE_PACKET: u32 = 1;

/// `pth_length`, `pth_type_next`, `pth_dlt`, interface name, flags, ..., process names.
#[derive(Debug, Clone, Copy)]
pub struct PktapHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PktapHeader<T> {
    /// The size of the version-1 header; `pth_length` may be larger (newer fields).
    pub const MIN_HEADER_LEN: usize = 108;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = PktapHeader { buffer };
        let len = header.buffer.as_ref().len();
        if len < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if header.header_len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("pktap length"));
        }
        if len < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    pub fn header_len(&self) -> usize {
        le32(self.buffer.as_ref(), 0) as usize
    }

    /// A link-layer frame follows (other values are not packets).
    pub fn is_packet(&self) -> bool {
        le32(self.buffer.as_ref(), 4) == TYPE_PACKET
    }

    /// The link type (DLT) of the frame that follows.
    pub fn dlt(&self) -> u32 {
        le32(self.buffer.as_ref(), 8)
    }

    /// The interface name (NUL-padded, 24 bytes).
    pub fn interface_name(&self) -> &[u8] {
        let name = clip(self.buffer.as_ref(), 12, 36);
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        &name[..end]
    }
}

impl<'a> PktapHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

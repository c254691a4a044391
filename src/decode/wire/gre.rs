//! GRE (RFC 2784/2890, RFC 1701 routing, RFC 2637 enhanced GRE of PPTP) and the ERSPAN
//! headers that GRE carries for mirrored traffic.

use super::{be16, be32, byte, clip, Result, WireError};

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_ROUTING: u16 = 0x4000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQUENCE: u16 = 0x1000;
/// Enhanced GRE (version 1) only.
const FLAG_ACK: u16 = 0x0080;

/// A GRE header with its optional fields.
#[derive(Debug, Clone, Copy)]
pub struct GreHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GreHeader<T> {
    pub const MIN_HEADER_LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let bytes = buffer.as_ref();
        if bytes.len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header = GreHeader { buffer };
        if header.version() > 1 {
            return Err(WireError::Malformed("gre version"));
        }
        header.compute_header_len()?;
        Ok(header)
    }

    fn flags(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// 0 for GRE, 1 for PPTP's enhanced GRE.
    pub fn version(&self) -> u8 {
        (self.flags() & 0x7) as u8
    }

    /// The EtherType of the payload.
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }

    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_CHECKSUM != 0
    }

    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_KEY != 0
    }

    pub fn sequence_present(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    fn key_at(&self) -> usize {
        let with_checksum = self.flags() & (FLAG_CHECKSUM | FLAG_ROUTING) != 0;
        4 + if with_checksum { 4 } else { 0 }
    }

    fn sequence_at(&self) -> usize {
        self.key_at() + if self.key_present() { 4 } else { 0 }
    }

    pub fn key(&self) -> Option<u32> {
        self.key_present()
            .then(|| be32(self.buffer.as_ref(), self.key_at()))
    }

    pub fn sequence_number(&self) -> Option<u32> {
        self.sequence_present()
            .then(|| be32(self.buffer.as_ref(), self.sequence_at()))
    }

    /// Header length including optional fields and any RFC 1701 source-route entries.
    pub fn header_len(&self) -> usize {
        self.compute_header_len().unwrap_or(usize::MAX)
    }

    fn compute_header_len(&self) -> Result<usize> {
        let bytes = self.buffer.as_ref();
        let flags = self.flags();
        let mut len = self.sequence_at() + if self.sequence_present() { 4 } else { 0 };
        if self.version() == 1 && flags & FLAG_ACK != 0 {
            len += 4;
        }
        if self.version() == 0 && flags & FLAG_ROUTING != 0 {
            // Source route entries: family (2), offset (1), length (1), data; a zero
            // family and length ends the list. Each step advances, so this terminates.
            loop {
                if bytes.len() < len + 4 {
                    return Err(WireError::Truncated);
                }
                let family = be16(bytes, len);
                let entry_len = byte(bytes, len + 3) as usize;
                len += 4 + entry_len;
                if family == 0 && entry_len == 0 {
                    break;
                }
            }
        }
        if bytes.len() < len {
            return Err(WireError::Truncated);
        }
        Ok(len)
    }
}

impl<'a> GreHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

/// ERSPAN type II (8 bytes, version 1) or type III (12 bytes plus an optional 8-byte platform
/// sub-header, version 2) header, followed by the mirrored Ethernet frame. Type I has no
/// header at all (GRE without a sequence number), so it has no view.
#[derive(Debug, Clone, Copy)]
pub struct ErspanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ErspanHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = ErspanHeader { buffer };
        let len = header.buffer.as_ref().len();
        if len < 8 {
            return Err(WireError::Truncated);
        }
        if !matches!(header.version(), 1 | 2) {
            return Err(WireError::Malformed("erspan version"));
        }
        if len < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    /// 1 = type II, 2 = type III.
    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0) >> 4
    }

    pub fn vlan(&self) -> u16 {
        be16(self.buffer.as_ref(), 0) & 0x0fff
    }

    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), 2) & 0x03ff
    }

    pub fn header_len(&self) -> usize {
        if self.version() == 1 {
            8
        } else {
            // Type III: the O flag (lowest bit of byte 11) announces the platform sub-header.
            let optional = byte(self.buffer.as_ref(), 11) & 1 != 0;
            12 + if optional { 8 } else { 0 }
        }
    }
}

impl<'a> ErspanHeader<&'a [u8]> {
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

//! LINKTYPE_NFLOG (239): Linux netfilter log messages (`iptables -j NFLOG`, `tcpdump -i
//! nflog`). A 4-byte header (address family, version, resource id) is followed by TLVs whose
//! length and type are in the *host* byte order of the capturing machine; TLV type 9
//! (NFULA_PAYLOAD) holds the logged IP packet.

use super::{array, byte, clip, Result, WireError};

/// NFULA_PAYLOAD: the packet itself.
const TLV_PAYLOAD: u16 = 9;

#[derive(Debug, Clone, Copy)]
pub struct NflogHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NflogHeader<T> {
    pub const HEADER_LEN: usize = 4;

    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(NflogHeader { buffer })
    }

    /// AF_INET (2) or AF_INET6 (10).
    pub fn family(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }
}

impl<'a> NflogHeader<&'a [u8]> {
    /// The value of the NFULA_PAYLOAD TLV, if present and complete.
    pub fn packet(&self) -> Option<&'a [u8]> {
        let bytes = self.buffer;
        let mut at = Self::HEADER_LEN;
        // Every TLV is at least 4 bytes long, so the walk advances each step.
        while at + 4 <= bytes.len() {
            let raw_len = array::<2>(bytes, at);
            let raw_type = array::<2>(bytes, at + 2);
            // Host byte order is not recorded: a TLV length is small and at least 4, so
            // the reading that fits the remaining bytes is the right one.
            let little = u16::from_le_bytes(raw_len) as usize;
            let big_endian = !(4..=bytes.len() - at).contains(&little);
            let (len, tlv_type) = if big_endian {
                (
                    u16::from_be_bytes(raw_len) as usize,
                    u16::from_be_bytes(raw_type),
                )
            } else {
                (little, u16::from_le_bytes(raw_type))
            };
            if len < 4 || len > bytes.len() - at {
                return None;
            }
            // The type's top bits are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
            if tlv_type & 0x3fff == TLV_PAYLOAD {
                return Some(clip(bytes, at + 4, at + len));
            }
            at += (len + 3) & !3;
        }
        None
    }
}

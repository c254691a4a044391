//! LINKTYPE_PPI (192): CACE's Per-Packet Information header, a little-endian pseudo-header
//! with typed fields, followed by a frame of the link type it names (usually 802.11).

use super::{byte, clip, le16, le32, Result, WireError};

/// PPI field type of the 802.11-Common field, which holds the FCS flag.
const FIELD_80211_COMMON: u16 = 2;
/// pph_flags bit 0: fields are padded to 32-bit boundaries.
const FLAG_ALIGNED: u8 = 0x01;
/// 802.11-Common flags bit 0: the 802.11 frame ends with an FCS.
const COMMON_FLAG_FCS: u16 = 0x0001;

/// `pph_version`, `pph_flags`, `pph_len` (LE u16, the whole header), `pph_dlt` (LE u32).
#[derive(Debug, Clone, Copy)]
pub struct PpiHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PpiHeader<T> {
    pub const MIN_HEADER_LEN: usize = 8;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = PpiHeader { buffer };
        let len = header.buffer.as_ref().len();
        if len < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if header.version() != 0 {
            return Err(WireError::Malformed("ppi version"));
        }
        if header.header_len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("ppi length"));
        }
        if len < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    pub fn flags(&self) -> u8 {
        byte(self.buffer.as_ref(), 1)
    }

    pub fn header_len(&self) -> usize {
        le16(self.buffer.as_ref(), 2) as usize
    }

    /// The link type (DLT) of the frame that follows.
    pub fn dlt(&self) -> u32 {
        le32(self.buffer.as_ref(), 4)
    }

    /// The 802.11-Common field says the 802.11 frame ends with a 4-byte FCS.
    pub fn has_fcs(&self) -> bool {
        let bytes = self.buffer.as_ref();
        let end = self.header_len();
        let mut at = Self::MIN_HEADER_LEN;
        // Each field is at least 4 bytes (its own header), so the walk advances every step.
        while at + 4 <= end {
            let field_type = le16(bytes, at);
            let data_len = le16(bytes, at + 2) as usize;
            let data = at + 4;
            if data + data_len > end {
                return false;
            }
            // The flags sit after the 8-byte TSF timer.
            if field_type == FIELD_80211_COMMON && data_len >= 10 {
                return le16(bytes, data + 8) & COMMON_FLAG_FCS != 0;
            }
            at = data + data_len;
            if self.flags() & FLAG_ALIGNED != 0 {
                at = (at + 3) & !3;
            }
        }
        false
    }
}

impl<'a> PpiHeader<&'a [u8]> {
    /// The encapsulated frame, FCS included (see [`Self::has_fcs`]).
    pub fn payload(&self) -> &'a [u8] {
        clip(self.buffer, self.header_len(), usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcs_flag_is_found_after_other_fields() {
        // Header (len 8 + 8 + 24 = 40, dlt 105), a 4-byte unknown field (type 0x7777), then
        // 802.11-Common with flags = FCS present.
        let mut bytes = vec![0u8, 0, 40, 0, 105, 0, 0, 0];
        bytes.extend_from_slice(&[0x77, 0x77, 4, 0, 9, 9, 9, 9]);
        bytes.extend_from_slice(&[2, 0, 20, 0]);
        bytes.extend_from_slice(&[0; 8]); // TSF timer
        bytes.extend_from_slice(&[1, 0]); // flags
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(&[0x80, 0x00]);
        let header = PpiHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!(header.dlt(), 105);
        assert!(header.has_fcs());
        assert_eq!(header.payload(), &[0x80, 0x00]);
        // Flags cleared: no FCS.
        bytes[28] = 0;
        assert!(!PpiHeader::new_checked(&bytes[..]).unwrap().has_fcs());
        // A field claiming more than the header holds ends the search.
        bytes[28] = 1;
        bytes[10] = 200;
        assert!(!PpiHeader::new_checked(&bytes[..]).unwrap().has_fcs());
    }

    #[test]
    fn bad_headers() {
        let short = [0u8, 0, 8, 0, 1, 0, 0];
        assert_eq!(
            PpiHeader::new_checked(&short[..]).err(),
            Some(WireError::Truncated)
        );
        let past_end = [0u8, 0, 9, 0, 1, 0, 0, 0];
        assert_eq!(
            PpiHeader::new_checked(&past_end[..]).err(),
            Some(WireError::Truncated)
        );
        let too_small = [0u8, 0, 7, 0, 1, 0, 0, 0];
        assert_eq!(
            PpiHeader::new_checked(&too_small[..]).err(),
            Some(WireError::Malformed("ppi length"))
        );
        let version = [2u8, 0, 8, 0, 1, 0, 0, 0];
        assert_eq!(
            PpiHeader::new_checked(&version[..]).err(),
            Some(WireError::Malformed("ppi version"))
        );
    }
}

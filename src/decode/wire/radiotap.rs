//! LINKTYPE_IEEE802_11_RADIOTAP (127): a little-endian radio information header
//! (radiotap.org) in front of an 802.11 frame.
//!
//! `it_len` says where the 802.11 frame starts, so most fields can be skipped; only the Flags
//! field is read, because it says whether the frame ends with a 4-byte FCS and whether the
//! driver padded the 802.11 header to 32 bits.

use super::{byte, clip, le16, le32, Result, WireError};

/// Present-bitmap bits of the first namespace used here.
const PRESENT_TSFT: u32 = 1 << 0;
const PRESENT_FLAGS: u32 = 1 << 1;
/// Another present bitmap follows this one.
const PRESENT_EXT: u32 = 1 << 31;

/// Bits of the Flags field.
const FLAG_FCS_AT_END: u8 = 0x10;
const FLAG_DATA_PAD: u8 = 0x20;

/// `it_version`, pad, `it_len` (LE), `it_present` (LE, chained by bit 31), then fields.
#[derive(Debug, Clone, Copy)]
pub struct RadiotapHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RadiotapHeader<T> {
    /// Version, pad, length and the first present bitmap.
    pub const MIN_HEADER_LEN: usize = 8;

    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = RadiotapHeader { buffer };
        let bytes = header.buffer.as_ref();
        if bytes.len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if header.version() != 0 {
            return Err(WireError::Malformed("radiotap version"));
        }
        if header.header_len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Malformed("radiotap length"));
        }
        if bytes.len() < header.header_len() {
            return Err(WireError::Truncated);
        }
        Ok(header)
    }

    pub fn version(&self) -> u8 {
        byte(self.buffer.as_ref(), 0)
    }

    /// `it_len`: the whole radiotap header, fields included.
    pub fn header_len(&self) -> usize {
        le16(self.buffer.as_ref(), 2) as usize
    }

    pub fn present(&self) -> u32 {
        le32(self.buffer.as_ref(), 4)
    }

    /// Where the fields start: after the chain of present bitmaps (each bit 31 announces
    /// one more). The chain is bounded by `it_len`.
    fn fields_at(&self) -> usize {
        let bytes = self.buffer.as_ref();
        let end = self.header_len();
        let mut at = 4;
        while at + 4 <= end && le32(bytes, at) & PRESENT_EXT != 0 {
            at += 4;
        }
        at + 4
    }

    /// The Flags field, when present and inside the header. It is the second field: after
    /// TSFT (8 bytes, aligned to 8 from the header start) when TSFT is present.
    pub fn flags(&self) -> Option<u8> {
        let present = self.present();
        if present & PRESENT_FLAGS == 0 {
            return None;
        }
        let mut at = self.fields_at();
        if present & PRESENT_TSFT != 0 {
            at = ((at + 7) & !7) + 8;
        }
        if at < self.header_len() {
            Some(byte(self.buffer.as_ref(), at))
        } else {
            None
        }
    }

    /// The 802.11 frame ends with its 4-byte frame check sequence.
    pub fn has_fcs(&self) -> bool {
        self.flags().is_some_and(|f| f & FLAG_FCS_AT_END != 0)
    }

    /// The 802.11 header is padded to a multiple of 4 bytes.
    pub fn data_pad(&self) -> bool {
        self.flags().is_some_and(|f| f & FLAG_DATA_PAD != 0)
    }
}

impl<'a> RadiotapHeader<&'a [u8]> {
    /// The 802.11 frame, without its FCS when the Flags field says there is one.
    pub fn payload(&self) -> &'a [u8] {
        let frame = clip(self.buffer, self.header_len(), usize::MAX);
        if self.has_fcs() {
            clip(frame, 0, frame.len().saturating_sub(4))
        } else {
            frame
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_after_aligned_tsft_in_an_extended_bitmap_chain() {
        // Two present words (bit 31 chains) end at 12; TSFT is aligned to 16, Flags follow
        // at 24; it_len 25; then a 10-byte ACK and its 4-byte FCS.
        let mut bytes = vec![0u8, 0, 25, 0];
        bytes.extend_from_slice(&0x8000_0003u32.to_le_bytes());
        bytes.extend_from_slice(&0x0000_0000u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]); // alignment padding
        bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]); // TSFT
        bytes.push(0x10); // Flags: FCS at end
        bytes.extend_from_slice(&[0xd4, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0xaa, 0xbb, 0xcc, 0xdd]);
        let header = RadiotapHeader::new_checked(&bytes[..]).unwrap();
        assert_eq!(header.header_len(), 25);
        assert_eq!(header.flags(), Some(0x10));
        assert!(header.has_fcs());
        assert_eq!(header.payload(), &[0xd4, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn flags_without_tsft_and_absent_flags() {
        let with_flags = [0u8, 0, 9, 0, 0x02, 0, 0, 0, 0x20, 0x08, 0x00];
        let header = RadiotapHeader::new_checked(&with_flags[..]).unwrap();
        assert!(header.data_pad());
        assert!(!header.has_fcs());
        assert_eq!(header.payload(), &[0x08, 0x00]);
        let no_flags = [0u8, 0, 8, 0, 0x04, 0, 0, 0, 0x10];
        assert_eq!(
            RadiotapHeader::new_checked(&no_flags[..]).unwrap().flags(),
            None
        );
    }

    #[test]
    fn bad_headers() {
        let short = [0u8, 0, 8, 0, 0];
        assert_eq!(
            RadiotapHeader::new_checked(&short[..]).err(),
            Some(WireError::Truncated)
        );
        let past_end = [0u8, 0, 12, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            RadiotapHeader::new_checked(&past_end[..]).err(),
            Some(WireError::Truncated)
        );
        let too_small = [0u8, 0, 4, 0, 0, 0, 0, 0];
        assert_eq!(
            RadiotapHeader::new_checked(&too_small[..]).err(),
            Some(WireError::Malformed("radiotap length"))
        );
        let version = [1u8, 0, 8, 0, 0, 0, 0, 0];
        assert_eq!(
            RadiotapHeader::new_checked(&version[..]).err(),
            Some(WireError::Malformed("radiotap version"))
        );
        // A present chain that never ends stays inside it_len; Flags past it_len are ignored.
        let endless = [
            0u8, 0, 12, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let header = RadiotapHeader::new_checked(&endless[..]).unwrap();
        assert_eq!(header.flags(), None);
        assert_eq!(header.payload(), &[] as &[u8]);
    }
}

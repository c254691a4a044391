//! Classic pcap: the 24-byte file header and record headers.
//!
//! Layout (libpcap's `pcap-savefile(5)`): magic, version major/minor (u16 each), thiszone,
//! sigfigs, snaplen, link-type field; then records of ts_sec, ts_frac, caplen, orig_len
//! (16 bytes), each followed by caplen bytes. Kuznetzov's "modified" format (magic
//! `a1b2cd34`) appends ifindex (4), protocol (2), pkt_type (1) and a pad byte to every
//! record header (24 bytes).

/// Length of the classic pcap file header.
pub(super) const FILE_HEADER_LEN: usize = 24;

/// The magics, read as a little-endian u32 from the first four bytes.
const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// Bits 16..25 of the link-type field are reserved; bits 26..31 carry FCS information.
const LINKTYPE_RESERVED_BITS: u32 = 0x03ff_0000;

/// Everything the record loop needs from the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PcapHeader {
    pub big_endian: bool,
    pub nanosecond: bool,
    pub modified: bool,
    pub version: (u16, u16),
    pub snaplen: u32,
    /// The full link-type field; the link type is its low 16 bits.
    pub link_type_field: u32,
}

impl PcapHeader {
    /// Which magic the first four bytes hold, if any: `(big_endian, nanosecond, modified)`.
    pub fn classify_magic(first4: [u8; 4]) -> Option<(bool, bool, bool)> {
        let le = u32::from_le_bytes(first4);
        let be = u32::from_be_bytes(first4);
        for (value, big_endian) in [(le, false), (be, true)] {
            match value {
                MAGIC_USEC => return Some((big_endian, false, false)),
                MAGIC_NSEC => return Some((big_endian, true, false)),
                MAGIC_MODIFIED => return Some((big_endian, false, true)),
                _ => {}
            }
        }
        None
    }

    /// Parses the header; `Err` carries a message for the caller's `CaptureError`.
    pub fn parse(bytes: &[u8; FILE_HEADER_LEN]) -> Result<PcapHeader, String> {
        let first4 = [bytes[0], bytes[1], bytes[2], bytes[3]];
        let (big_endian, nanosecond, modified) = Self::classify_magic(first4).ok_or_else(|| {
            format!(
                "not a pcap file (magic 0x{:08x})",
                u32::from_be_bytes(first4)
            )
        })?;
        let u16_at = |at: usize| read_u16(bytes, at, big_endian);
        let u32_at = |at: usize| read_u32(bytes, at, big_endian);
        let version = (u16_at(4), u16_at(6));
        if version.0 != 2 {
            return Err(format!(
                "unsupported pcap version {}.{} (expected 2.x)",
                version.0, version.1
            ));
        }
        Ok(PcapHeader {
            big_endian,
            nanosecond,
            modified,
            version,
            snaplen: u32_at(16),
            link_type_field: u32_at(20),
        })
    }

    pub fn link_type(&self) -> u16 {
        (self.link_type_field & 0xffff) as u16
    }

    pub fn reserved_bits(&self) -> u32 {
        self.link_type_field & LINKTYPE_RESERVED_BITS
    }

    pub fn record_header_len(&self) -> usize {
        if self.modified {
            24
        } else {
            16
        }
    }
}

#[inline(always)]
pub(super) fn read_u16(bytes: &[u8], at: usize, big_endian: bool) -> u16 {
    let raw = [bytes[at], bytes[at + 1]];
    if big_endian {
        u16::from_be_bytes(raw)
    } else {
        u16::from_le_bytes(raw)
    }
}

#[inline(always)]
pub(super) fn read_u32(bytes: &[u8], at: usize, big_endian: bool) -> u32 {
    let raw = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    if big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    }
}

#[inline(always)]
pub(super) fn read_u64(bytes: &[u8], at: usize, big_endian: bool) -> u64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    if big_endian {
        u64::from_be_bytes(raw)
    } else {
        u64::from_le_bytes(raw)
    }
}

//! pcapng pieces: block types, the interface description block, timestamp scaling.
//!
//! Every block is `type (4) | total length (4) | body | total length (4)` in the byte order
//! of its section; the section header block (SHB) announces that order with its
//! byte-order magic. The record loop itself lives in `mod.rs`.

use super::pcap::{read_u16, read_u32, read_u64};
use super::LinkType;

pub(super) const BLOCK_SHB: u32 = 0x0A0D_0D0A;
pub(super) const BLOCK_IDB: u32 = 0x0000_0001;
/// Obsolete Packet Block (pcapng drafts before EPB).
pub(super) const BLOCK_PB: u32 = 0x0000_0002;
pub(super) const BLOCK_SPB: u32 = 0x0000_0003;
pub(super) const BLOCK_EPB: u32 = 0x0000_0006;
/// Decryption Secrets Block, and its secrets type for TLS key logs ("TLSK").
pub(super) const BLOCK_DSB: u32 = 0x0000_000A;
pub(super) const SECRETS_TLS_KEY_LOG: u32 = 0x544c_534b;
/// Block type, length, secrets type, secrets length, trailing length.
pub(super) const MIN_DSB_LEN: usize = 20;

pub(super) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Smallest block: type, length, trailing length.
pub(super) const MIN_BLOCK_LEN: usize = 12;
/// type, length, BOM, major, minor, section length (8), trailing length.
pub(super) const MIN_SHB_LEN: usize = 28;
/// type, length, link type, reserved, snaplen, trailing length.
pub(super) const MIN_IDB_LEN: usize = 20;
/// type, length, interface, ts high, ts low, caplen, orig len, trailing length (EPB and PB).
pub(super) const MIN_EPB_LEN: usize = 32;
/// type, length, orig len, trailing length.
pub(super) const MIN_SPB_LEN: usize = 16;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Default `if_tsresol`: microseconds.
pub(super) const DEFAULT_TSRESOL: u8 = 6;

/// Converts a count of interface time units to nanoseconds, exactly (floor when the unit
/// is finer than a nanosecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TsScale {
    /// Unit = this many ns (10^-v with v <= 9).
    MulNs(u64),
    /// Unit = 1 / this many ns (10^-v with v > 9).
    DivNs(u128),
    /// Unit = 2^-p s: ns = units * 10^9 >> p.
    Pow2(u32),
}

impl TsScale {
    pub fn from_tsresol(tsresol: u8) -> TsScale {
        if tsresol & 0x80 != 0 {
            return TsScale::Pow2(u32::from(tsresol & 0x7f));
        }
        let exponent = u32::from(tsresol);
        if exponent <= 9 {
            TsScale::MulNs(10u64.pow(9 - exponent))
        } else {
            // 10^38 is the largest power of ten in a u128; anything finer floors to 0 ns
            // for every u64 count, which u128::MAX as divisor reproduces.
            TsScale::DivNs(10u128.checked_pow(exponent - 9).unwrap_or(u128::MAX))
        }
    }

    #[inline]
    pub fn to_ns(self, units: u64) -> u128 {
        match self {
            TsScale::MulNs(ns) => u128::from(units) * u128::from(ns),
            TsScale::DivNs(per_ns) => u128::from(units) / per_ns,
            TsScale::Pow2(p) => (u128::from(units) * 1_000_000_000) >> p,
        }
    }
}

/// Public description of one interface (classic pcap has exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub link_type: LinkType,
    /// Snapshot length; 0 means "no limit" in pcapng.
    pub snaplen: u32,
    /// Raw `if_tsresol` byte (6 = µs, 9 = ns, 0x80|n = 2^-n s); classic pcap: 6 or 9.
    pub tsresol: u8,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub ts_offset_s: i64,
}

/// An interface as the record loop uses it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Interface {
    pub info: InterfaceInfo,
    pub scale: TsScale,
    pub offset_ns: i128,
}

impl Interface {
    pub fn new(info: InterfaceInfo) -> Interface {
        Interface {
            info,
            scale: TsScale::from_tsresol(info.tsresol),
            offset_ns: i128::from(info.ts_offset_s) * 1_000_000_000,
        }
    }

    /// Nanoseconds since the epoch for a 64-bit timestamp in interface units, saturated
    /// to the i64 range (beyond year 2262).
    #[inline]
    pub fn timestamp_ns(&self, units: u64) -> i64 {
        let ns = self.scale.to_ns(units) as i128 + self.offset_ns;
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// Parses an IDB (whole block, trailing length included). `Err` = options run past the
/// block; the interface is still returned with what was read before.
pub(super) fn parse_idb(block: &[u8], big_endian: bool) -> (InterfaceInfo, Option<String>) {
    let mut info = InterfaceInfo {
        link_type: LinkType(read_u16(block, 8, big_endian)),
        snaplen: read_u32(block, 12, big_endian),
        tsresol: DEFAULT_TSRESOL,
        ts_offset_s: 0,
    };
    let options_end = block.len() - 4;
    let mut at = 16;
    while at + 4 <= options_end {
        let code = read_u16(block, at, big_endian);
        let len = usize::from(read_u16(block, at + 2, big_endian));
        let value_at = at + 4;
        if value_at + len > options_end {
            let message = format!(
                "interface description block: option {code} of length {len} runs past the block; \
                 remaining options ignored"
            );
            return (info, Some(message));
        }
        match code {
            OPT_ENDOFOPT => break,
            OPT_IF_TSRESOL if len >= 1 => info.tsresol = block[value_at],
            OPT_IF_TSOFFSET if len == 8 => {
                info.ts_offset_s = read_u64(block, value_at, big_endian) as i64
            }
            _ => {}
        }
        at = value_at + ((len + 3) & !3);
    }
    (info, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_exact() {
        assert_eq!(TsScale::from_tsresol(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(TsScale::from_tsresol(9).to_ns(7), 7);
        assert_eq!(TsScale::from_tsresol(0).to_ns(3), 3_000_000_000);
        // 10^-12: floor(1999 ps) = 1 ns.
        assert_eq!(TsScale::from_tsresol(12).to_ns(1999), 1);
        // 2^-10 s: 1 unit = 976562.5 ns -> floor.
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1), 976_562);
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(2), 1_953_125);
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1024), 1_000_000_000);
        // 2^-32 s (NTP-like fraction): u64::MAX units must not overflow.
        let ns = TsScale::from_tsresol(0x80 | 32).to_ns(u64::MAX);
        assert_eq!(ns, (u128::from(u64::MAX) * 1_000_000_000) >> 32);
        assert_eq!(TsScale::from_tsresol(0x80 | 127).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(127).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(28).to_ns(u64::MAX), 1);
    }
}

//! Writers for classic pcap and pcapng, used by `tracetail synth` and by tests.
//!
//! Both write straight into any [`Write`]; wrap it in a `BufWriter` for speed. Timestamps
//! are integer nanoseconds since the Unix epoch; a writer whose resolution is coarser
//! truncates (rounds toward negative infinity), never rounds up, so a written timestamp is
//! never later than the one given. Timestamps before 1970 cannot be stored in classic pcap
//! (unsigned seconds) and are an error there.

use super::LinkType;
use std::io::{self, Write};

/// Byte order helper: every multi-byte field goes through this, so the big-endian variants
/// cost nothing extra to maintain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn from_big_endian(big_endian: bool) -> Self {
        if big_endian {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        }
    }
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
    fn u64(self, v: u64) -> [u8; 8] {
        match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        }
    }
}

const PCAP_MAGIC_MICROSECOND: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOSECOND: u32 = 0xa1b2_3c4d;

/// Classic pcap writer (little-endian by default; microsecond or nanosecond magic).
pub struct PcapWriter<W: Write> {
    out: W,
    nanosecond: bool,
    order: ByteOrder,
    snaplen: u32,
    /// One record header + body, reused so each record is a single `write_all`.
    record: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header. `nanosecond` picks the `a1b23c4d` magic.
    pub fn new(out: W, link_type: LinkType, snaplen: u32, nanosecond: bool) -> io::Result<Self> {
        Self::with_byte_order(out, link_type, snaplen, nanosecond, false)
    }

    /// Like [`PcapWriter::new`], choosing the byte order of the file (readers must accept
    /// both; big-endian files come from SPARC/PowerPC captures).
    pub fn with_byte_order(
        mut out: W,
        link_type: LinkType,
        snaplen: u32,
        nanosecond: bool,
        big_endian: bool,
    ) -> io::Result<Self> {
        let order = ByteOrder::from_big_endian(big_endian);
        let magic = if nanosecond {
            PCAP_MAGIC_NANOSECOND
        } else {
            PCAP_MAGIC_MICROSECOND
        };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&order.u32(magic));
        header.extend_from_slice(&order.u16(2)); // version major
        header.extend_from_slice(&order.u16(4)); // version minor
        header.extend_from_slice(&order.u32(0)); // thiszone
        header.extend_from_slice(&order.u32(0)); // sigfigs
        header.extend_from_slice(&order.u32(snaplen));
        header.extend_from_slice(&order.u32(u32::from(link_type.0)));
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            nanosecond,
            order,
            snaplen,
            record: Vec::with_capacity(16 + 2048),
        })
    }

    /// Appends one record. `original_len` >= `data.len()`. Data longer than the snaplen is
    /// cut to it (caplen = snaplen), as a capturing kernel would.
    pub fn write_packet(
        &mut self,
        timestamp_ns: i64,
        data: &[u8],
        original_len: u32,
    ) -> io::Result<()> {
        if timestamp_ns < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "classic pcap cannot store a timestamp before 1970",
            ));
        }
        let seconds = timestamp_ns / 1_000_000_000;
        let seconds = u32::try_from(seconds).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "timestamp beyond 2106 does not fit classic pcap",
            )
        })?;
        let sub_ns = (timestamp_ns % 1_000_000_000) as u32;
        let fraction = if self.nanosecond {
            sub_ns
        } else {
            sub_ns / 1000
        };
        let captured = data.len().min(self.snaplen as usize);
        let original_len = original_len.max(u32::try_from(data.len()).unwrap_or(u32::MAX));
        let order = self.order;
        self.record.clear();
        self.record.extend_from_slice(&order.u32(seconds));
        self.record.extend_from_slice(&order.u32(fraction));
        self.record.extend_from_slice(&order.u32(captured as u32));
        self.record.extend_from_slice(&order.u32(original_len));
        self.record.extend_from_slice(&data[..captured]);
        self.out.write_all(&self.record)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

const BLOCK_SECTION_HEADER: u32 = 0x0a0d_0d0a;
const BLOCK_INTERFACE_DESCRIPTION: u32 = 0x0000_0001;
const BLOCK_ENHANCED_PACKET: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPTION_END: u16 = 0;
const OPTION_IF_TSRESOL: u16 = 9;

/// pcapng writer: one section, any number of interfaces.
pub struct PcapNgWriter<W: Write> {
    out: W,
    order: ByteOrder,
    /// Per interface: (snaplen, tsresol byte).
    interfaces: Vec<(u32, u8)>,
    block: Vec<u8>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header block.
    pub fn new(out: W) -> io::Result<Self> {
        Self::with_byte_order(out, false)
    }

    /// Like [`PcapNgWriter::new`], choosing the byte order of the section.
    pub fn with_byte_order(mut out: W, big_endian: bool) -> io::Result<Self> {
        let order = ByteOrder::from_big_endian(big_endian);
        let mut block = Vec::with_capacity(28);
        block.extend_from_slice(&order.u32(BLOCK_SECTION_HEADER));
        block.extend_from_slice(&order.u32(28));
        block.extend_from_slice(&order.u32(BYTE_ORDER_MAGIC));
        block.extend_from_slice(&order.u16(1)); // major
        block.extend_from_slice(&order.u16(0)); // minor
        block.extend_from_slice(&order.u64(u64::MAX)); // section length: unknown (-1)
        block.extend_from_slice(&order.u32(28));
        out.write_all(&block)?;
        Ok(PcapNgWriter {
            out,
            order,
            interfaces: Vec::new(),
            block: Vec::with_capacity(32 + 2048),
        })
    }

    /// Adds an interface description block; `tsresol` is the raw `if_tsresol` byte
    /// (6 = µs, 9 = ns, 0x80|n = 2^-n). Returns the interface id. The option is omitted when
    /// `tsresol` is 6, the default. Resolutions finer than 10^-18 s or 2^-63 s are refused
    /// because a 64-bit timestamp would overflow within seconds of the epoch.
    pub fn add_interface(
        &mut self,
        link_type: LinkType,
        snaplen: u32,
        tsresol: u8,
    ) -> io::Result<u32> {
        let too_fine = if tsresol & 0x80 != 0 {
            tsresol & 0x7f > 63
        } else {
            tsresol > 18
        };
        if too_fine {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("if_tsresol {tsresol:#04x} is finer than this writer supports"),
            ));
        }
        let order = self.order;
        let total: u32 = if tsresol == 6 { 20 } else { 32 };
        self.block.clear();
        self.block
            .extend_from_slice(&order.u32(BLOCK_INTERFACE_DESCRIPTION));
        self.block.extend_from_slice(&order.u32(total));
        self.block.extend_from_slice(&order.u16(link_type.0));
        self.block.extend_from_slice(&order.u16(0)); // reserved
        self.block.extend_from_slice(&order.u32(snaplen));
        if tsresol != 6 {
            self.block.extend_from_slice(&order.u16(OPTION_IF_TSRESOL));
            self.block.extend_from_slice(&order.u16(1));
            self.block.extend_from_slice(&[tsresol, 0, 0, 0]);
            self.block.extend_from_slice(&order.u16(OPTION_END));
            self.block.extend_from_slice(&order.u16(0));
        }
        self.block.extend_from_slice(&order.u32(total));
        self.out.write_all(&self.block)?;
        self.interfaces.push((snaplen, tsresol));
        Ok((self.interfaces.len() - 1) as u32)
    }

    /// Appends an enhanced packet block. The timestamp is converted to the interface's
    /// resolution by truncation toward negative infinity.
    pub fn write_packet(
        &mut self,
        interface_id: u32,
        timestamp_ns: i64,
        data: &[u8],
        original_len: u32,
    ) -> io::Result<()> {
        let &(snaplen, tsresol) = self.interfaces.get(interface_id as usize).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface {interface_id} was not added"),
            )
        })?;
        let units = timestamp_to_units(timestamp_ns, tsresol);
        // snaplen 0 means "no limit" in pcapng.
        let captured = if snaplen == 0 {
            data.len()
        } else {
            data.len().min(snaplen as usize)
        };
        let captured32 = u32::try_from(captured)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let padded = captured.div_ceil(4) * 4;
        let total = u32::try_from(32 + padded)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let original_len = original_len.max(captured32);
        let order = self.order;
        self.block.clear();
        self.block
            .extend_from_slice(&order.u32(BLOCK_ENHANCED_PACKET));
        self.block.extend_from_slice(&order.u32(total));
        self.block.extend_from_slice(&order.u32(interface_id));
        self.block
            .extend_from_slice(&order.u32((units >> 32) as u32));
        self.block.extend_from_slice(&order.u32(units as u32));
        self.block.extend_from_slice(&order.u32(captured32));
        self.block.extend_from_slice(&order.u32(original_len));
        self.block.extend_from_slice(&data[..captured]);
        self.block.resize(28 + padded, 0);
        self.block.extend_from_slice(&order.u32(total));
        self.out.write_all(&self.block)
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Nanoseconds since the epoch -> units of the `if_tsresol` resolution, as the 64-bit value
/// stored in an EPB. Negative times wrap like the two's-complement they are.
fn timestamp_to_units(timestamp_ns: i64, tsresol: u8) -> u64 {
    let ns = i128::from(timestamp_ns);
    let units = if tsresol & 0x80 != 0 {
        let shift = u32::from(tsresol & 0x7f);
        (ns << shift).div_euclid(1_000_000_000)
    } else {
        let exponent = u32::from(tsresol);
        if exponent >= 9 {
            ns * 10i128.pow(exponent - 9)
        } else {
            ns.div_euclid(10i128.pow(9 - exponent))
        }
    };
    units as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_microsecond_header_and_record_bytes() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65535, false).unwrap();
        // 1.234567891 s: the µs writer keeps 234567 µs (truncated, not rounded).
        w.write_packet(1_234_567_891, &[0xde, 0xad, 0xbe], 60)
            .unwrap();
        let bytes = w.finish().unwrap();
        let expected: Vec<u8> = [
            &[0xd4, 0xc3, 0xb2, 0xa1][..], // magic
            &[2, 0, 4, 0],                 // version 2.4
            &[0, 0, 0, 0],                 // thiszone
            &[0, 0, 0, 0],                 // sigfigs
            &[0xff, 0xff, 0, 0],           // snaplen 65535
            &[1, 0, 0, 0],                 // ethernet
            &[1, 0, 0, 0],                 // ts_sec 1
            &[0x47, 0x94, 0x03, 0x00],     // ts_usec 234567
            &[3, 0, 0, 0],                 // caplen
            &[60, 0, 0, 0],                // orig_len
            &[0xde, 0xad, 0xbe],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcap_nanosecond_magic_and_snaplen_cut() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW, 2, true).unwrap();
        w.write_packet(1_700_000_000_000_000_999, &[1, 2, 3, 4], 4)
            .unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&bytes[16..24], &[2, 0, 0, 0, 101, 0, 0, 0]);
        let record: Vec<u8> = [
            &1_700_000_000u32.to_le_bytes()[..],
            &999u32.to_le_bytes(),
            &2u32.to_le_bytes(), // caplen cut to the snaplen
            &4u32.to_le_bytes(),
            &[1, 2],
        ]
        .concat();
        assert_eq!(&bytes[24..], &record[..]);
    }

    #[test]
    fn pcap_big_endian_header_and_record_bytes() {
        let mut w =
            PcapWriter::with_byte_order(Vec::new(), LinkType::ETHERNET, 0x0004_0000, true, true)
                .unwrap();
        w.write_packet(5_000_000_007, &[0xaa], 1).unwrap();
        let bytes = w.finish().unwrap();
        let expected: Vec<u8> = [
            &[0xa1, 0xb2, 0x3c, 0x4d][..],
            &[0, 2, 0, 4],
            &[0, 0, 0, 0],
            &[0, 0, 0, 0],
            &[0, 4, 0, 0],
            &[0, 0, 0, 1],
            &[0, 0, 0, 5],
            &[0, 0, 0, 7],
            &[0, 0, 0, 1],
            &[0, 0, 0, 1],
            &[0xaa],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcap_refuses_times_before_the_epoch() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 100, true).unwrap();
        assert!(w.write_packet(-1, &[0], 1).is_err());
    }

    #[test]
    fn pcapng_section_interfaces_and_packet_bytes() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        assert_eq!(w.add_interface(LinkType::ETHERNET, 0, 6).unwrap(), 0);
        assert_eq!(w.add_interface(LinkType::ETHERNET, 1500, 9).unwrap(), 1);
        // 2^-20 s resolution.
        assert_eq!(w.add_interface(LinkType::RAW, 1500, 0x94).unwrap(), 2);
        // 1.5 s + 3 ns on the ns interface: 1_500_000_003 = 0x59682F03.
        w.write_packet(1, 1_500_000_003, &[9, 8, 7, 6, 5], 5)
            .unwrap();
        let bytes = w.finish().unwrap();
        let expected: Vec<u8> = [
            // SHB
            &[0x0a, 0x0d, 0x0d, 0x0a][..],
            &[28, 0, 0, 0],
            &[0x4d, 0x3c, 0x2b, 0x1a],
            &[1, 0, 0, 0],
            &[0xff; 8],
            &[28, 0, 0, 0],
            // IDB 0: µs, no options
            &[1, 0, 0, 0],
            &[20, 0, 0, 0],
            &[1, 0, 0, 0],
            &[0, 0, 0, 0],
            &[20, 0, 0, 0],
            // IDB 1: ns
            &[1, 0, 0, 0],
            &[32, 0, 0, 0],
            &[1, 0, 0, 0],
            &[0xdc, 0x05, 0, 0],
            &[9, 0, 1, 0, 9, 0, 0, 0],
            &[0, 0, 0, 0],
            &[32, 0, 0, 0],
            // IDB 2: 2^-20
            &[1, 0, 0, 0],
            &[32, 0, 0, 0],
            &[101, 0, 0, 0],
            &[0xdc, 0x05, 0, 0],
            &[9, 0, 1, 0, 0x94, 0, 0, 0],
            &[0, 0, 0, 0],
            &[32, 0, 0, 0],
            // EPB: 32 + 8 (5 bytes padded) = 40
            &[6, 0, 0, 0],
            &[40, 0, 0, 0],
            &[1, 0, 0, 0],
            &[0, 0, 0, 0],
            &[0x03, 0x2f, 0x68, 0x59],
            &[5, 0, 0, 0],
            &[5, 0, 0, 0],
            &[9, 8, 7, 6, 5, 0, 0, 0],
            &[40, 0, 0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn pcapng_big_endian_packet_block() {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), true).unwrap();
        w.add_interface(LinkType::ETHERNET, 65535, 6).unwrap();
        // µs interface: 4 294 967 296 µs = 2^32 µs, so the high word is 1.
        w.write_packet(0, 4_294_967_296_000 + 999, &[1, 2, 3, 4], 4)
            .unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[8..12], &[0x1a, 0x2b, 0x3c, 0x4d]);
        let epb: Vec<u8> = [
            &[0, 0, 0, 6][..],
            &[0, 0, 0, 36],
            &[0, 0, 0, 0],
            &[0, 0, 0, 1],
            &[0, 0, 0, 0],
            &[0, 0, 0, 4],
            &[0, 0, 0, 4],
            &[1, 2, 3, 4],
            &[0, 0, 0, 36],
        ]
        .concat();
        assert_eq!(&bytes[28 + 20..], &epb[..]);
    }

    #[test]
    fn timestamp_units_truncate_toward_the_past() {
        assert_eq!(timestamp_to_units(1_999, 6), 1);
        assert_eq!(timestamp_to_units(1_999, 9), 1_999);
        assert_eq!(timestamp_to_units(7, 10), 70);
        // 2^-20 s = 953.674... ns: 1 s is exactly 2^20 units, 1 s - 1 ns just below.
        assert_eq!(timestamp_to_units(1_000_000_000, 0x94), 1 << 20);
        assert_eq!(timestamp_to_units(999_999_999, 0x94), (1 << 20) - 1);
        assert_eq!(timestamp_to_units(-1, 6), u64::MAX);
    }

    #[test]
    fn pcapng_rejects_unknown_interface_and_too_fine_resolution() {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        assert!(w.write_packet(0, 0, &[], 0).is_err());
        assert!(w.add_interface(LinkType::ETHERNET, 0, 19).is_err());
        assert!(w.add_interface(LinkType::ETHERNET, 0, 0x80 | 64).is_err());
    }
}

//! Writers for classic pcap and pcapng, used by `tracetail synth` and by tests.

use super::LinkType;
use std::io::{self, Write};

/// Classic pcap writer (little-endian; microsecond or nanosecond magic).
pub struct PcapWriter<W: Write> {
    out: W,
    nanosecond: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header. `nanosecond` picks the `a1b23c4d` magic.
    pub fn new(out: W, link_type: LinkType, snaplen: u32, nanosecond: bool) -> io::Result<Self> {
        let _ = (link_type, snaplen);
        Ok(PcapWriter { out, nanosecond })
    }

    /// Appends one record. `original_len` >= `data.len()`.
    pub fn write_packet(
        &mut self,
        timestamp_ns: i64,
        data: &[u8],
        original_len: u32,
    ) -> io::Result<()> {
        let _ = (timestamp_ns, data, original_len, self.nanosecond);
        Err(io::Error::other("pcap writer not implemented yet"))
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// pcapng writer: one section, any number of interfaces.
pub struct PcapNgWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header block.
    pub fn new(out: W) -> io::Result<Self> {
        Ok(PcapNgWriter { out })
    }

    /// Adds an interface description block; `tsresol` is the raw `if_tsresol` byte
    /// (6 = µs, 9 = ns, 0x80|n = 2^-n). Returns the interface id.
    pub fn add_interface(
        &mut self,
        link_type: LinkType,
        snaplen: u32,
        tsresol: u8,
    ) -> io::Result<u32> {
        let _ = (link_type, snaplen, tsresol);
        Err(io::Error::other("pcapng writer not implemented yet"))
    }

    /// Appends an enhanced packet block.
    pub fn write_packet(
        &mut self,
        interface_id: u32,
        timestamp_ns: i64,
        data: &[u8],
        original_len: u32,
    ) -> io::Result<()> {
        let _ = (interface_id, timestamp_ns, data, original_len);
        Err(io::Error::other("pcapng writer not implemented yet"))
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

//! Reading (and writing) capture files: bytes on disk -> timestamped link-layer frames.
//!
//! One streaming reader handles classic pcap (either byte order, µs or ns), pcapng (many
//! sections and interfaces, `if_tsresol`/`if_tsoffset`), gzip and zstd compression (by
//! magic, never by extension) and stdin (`-`). Memory stays bounded: a frame is a slice into
//! a reusable buffer and no length field can trigger an allocation larger than
//! [`MAX_RECORD_LEN`].

mod linktype;
pub mod writer;

pub use linktype::LinkType;
pub use writer::{PcapNgWriter, PcapWriter};

use std::fmt;
use std::io::Read;
use std::path::Path;

/// Largest record body accepted (256 MiB). A bigger length field means the file is damaged.
pub const MAX_RECORD_LEN: usize = 256 * 1024 * 1024;

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time in nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Link type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// Length of the frame on the wire (may exceed `data.len()` when the snapshot was cut).
    pub original_len: u32,
    /// pcapng interface index within its section (0 for classic pcap).
    pub interface_id: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// What kind of file the reader found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap { big_endian: bool, nanosecond: bool },
    PcapNg,
}

/// Outer compression, recognised by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// A problem that stopped or skipped part of a file without losing what came before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureWarning {
    pub file: String,
    /// Byte offset in the (decompressed) capture stream.
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for CaptureWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: at byte offset {}: {}",
            self.file, self.offset, self.message
        )
    }
}

/// A file that cannot be read at all (not a capture, unreadable header, I/O error).
#[derive(Debug, thiserror::Error)]
#[error("{file}: at byte offset {offset}: {message}")]
pub struct CaptureError {
    pub file: String,
    pub offset: u64,
    pub message: String,
}

/// Streaming reader over any supported capture.
pub struct CaptureReader {
    name: String,
    _input: Box<dyn Read + Send>,
    warnings: Vec<CaptureWarning>,
}

impl CaptureReader {
    /// Opens a file by path; `-` reads standard input.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        Err(CaptureError {
            file: name,
            offset: 0,
            message: "capture reading not implemented yet".into(),
        })
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_read(name: &str, input: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        let _ = input;
        Err(CaptureError {
            file: name.into(),
            offset: 0,
            message: "capture reading not implemented yet".into(),
        })
    }

    /// The next frame, or `Ok(None)` at the end of the data. Damage or truncation after the
    /// file header ends the stream with `Ok(None)` and a [`CaptureWarning`]; `Err` is kept for
    /// I/O errors of the underlying stream.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        Ok(None)
    }

    /// Name given at open (the path, or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Warnings collected so far (truncation, damaged blocks, skipped records).
    pub fn warnings(&self) -> &[CaptureWarning] {
        &self.warnings
    }

    /// The capture format found in the header.
    pub fn format(&self) -> CaptureFormat {
        CaptureFormat::PcapNg
    }

    /// Outer compression found.
    pub fn compression(&self) -> Compression {
        Compression::None
    }

    /// Bytes of the capture stream consumed so far (after decompression), for progress.
    pub fn position(&self) -> u64 {
        0
    }
}

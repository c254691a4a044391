//! Reading (and writing) capture files: bytes on disk -> timestamped link-layer frames.
//!
//! One streaming reader handles classic pcap (either byte order, µs or ns), pcapng (many
//! sections and interfaces, `if_tsresol`/`if_tsoffset`), gzip and zstd compression (by
//! magic, never by extension) and stdin (`-`). Memory stays bounded: a frame is a slice into
//! a reusable buffer and no length field can trigger an allocation larger than
//! [`MAX_RECORD_LEN`] (the buffer grows only as a big record's bytes actually arrive).
//!
//! Error policy: a file whose header cannot be read is a [`CaptureError`] (file name, byte
//! offset, what was expected). After the header, damage never loses the packets before it:
//! a truncated record, a damaged pcapng block, an unsupported later section or a broken
//! compressed stream ends the stream with a [`CaptureWarning`]; a packet on an undefined
//! interface is skipped with a warning and reading goes on. Offsets are positions in the
//! decompressed capture stream (messages say so for gzip/zstd input).
//!
//! Format notes: the pcap link type is the low 16 bits of the header field (the upper bits
//! may carry FCS information); pcapng `if_tsresol` may be a power of 10 or of 2 and is
//! converted exactly (floor below 1 ns), `if_tsoffset` is added in whole seconds; a Simple
//! Packet Block has no timestamp and gets the last one seen in its section. zstd input is
//! decoded by ruzstd, which cannot hand out the last window of a damaged frame, so a
//! truncated `.zst` loses up to one window of packets before the damage (gzip loses none).

mod input;
mod linktype;
mod mapped;
mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;
pub mod writer;

pub use input::{
    max_zstd_window, set_max_zstd_window, ZstdWindowTooLarge, DEFAULT_MAX_ZSTD_WINDOW,
    MAX_ZSTD_WINDOW,
};
pub use linktype::LinkType;
pub use pcapng::InterfaceInfo;
pub use writer::{PcapNgWriter, PcapWriter};

pub use mapped::MappedBytes;
use mapped::MappedFile;
use pcap::{read_u32, PcapHeader};
use pcapng::Interface;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Largest record body accepted (256 MiB). A bigger length field means the file is damaged.
pub const MAX_RECORD_LEN: usize = 256 * 1024 * 1024;

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Capture time in nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Link type of the interface the frame was captured on.
    pub link_type: LinkType,
    /// Length of the frame on the wire (may exceed `data.len()` when the snapshot was cut;
    /// never smaller: a smaller stored value is raised to `data.len()`).
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
    /// Byte offset in the capture stream (after decompression when `decompressed`).
    pub offset: u64,
    pub message: String,
    /// The input was gzip/zstd: `offset` counts bytes of the decompressed stream.
    pub decompressed: bool,
    /// Reading stopped here: results cover only the data before this point. Otherwise one
    /// record was skipped (or a detail noted) and reading went on.
    pub ends_reading: bool,
}

impl fmt::Display for CaptureWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: at byte offset {}{}: {}",
            self.file,
            self.offset,
            offset_note(self.decompressed),
            self.message
        )?;
        if self.ends_reading {
            write!(f, " (results cover the data before this point)")?;
        }
        Ok(())
    }
}

/// Says which stream an offset counts bytes of, when it is not the file itself.
fn offset_note(decompressed: bool) -> &'static str {
    if decompressed {
        " of the decompressed stream"
    } else {
        ""
    }
}

/// A file that cannot be read at all (not a capture, unreadable header, I/O error).
#[derive(Debug, thiserror::Error)]
#[error("{file}: at byte offset {offset}{}: {message}", offset_note(*decompressed))]
pub struct CaptureError {
    pub file: String,
    pub offset: u64,
    pub message: String,
    /// The input was gzip/zstd: `offset` counts bytes of the decompressed stream.
    pub decompressed: bool,
}

/// Damage in the file header: the warning becomes the error (nothing was read, so "reading
/// stops" would say nothing).
impl From<CaptureWarning> for CaptureError {
    fn from(warning: CaptureWarning) -> Self {
        let message = match warning.message.strip_suffix("; reading stops") {
            Some(cause) => cause.to_string(),
            None => warning.message,
        };
        CaptureError {
            file: warning.file,
            offset: warning.offset,
            message,
            decompressed: warning.decompressed,
        }
    }
}

/// Largest pcapng block accepted: a maximal packet plus generous room for its options.
const MAX_BLOCK_LEN: usize = MAX_RECORD_LEN + 64 * 1024;

/// Size of the reusable read buffer; it grows only for a record that does not fit.
const INITIAL_BUFFER_LEN: usize = 1 << 20;

/// Warnings kept per reader; later ones are only counted ([`ReaderCounters::suppressed_warnings`]),
/// so a damaged multi-gigabyte file cannot fill memory with messages.
pub const MAX_WARNINGS: usize = 100;

/// Interfaces kept per pcapng section (each IDB costs at least 20 bytes of file).
const MAX_INTERFACES: usize = 1 << 16;

/// What the reader has seen so far, beyond the packets it returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderCounters {
    /// Packets returned by [`CaptureReader::next_packet`].
    pub packets: u64,
    /// Packet records dropped without stopping: undefined interface, captured length larger
    /// than its block (each also gives a warning).
    pub skipped_packets: u64,
    /// pcapng blocks without packets that were passed over on purpose: name resolution,
    /// interface statistics, decryption secrets (TLS key logs among them are also handed to
    /// [`CaptureReader::secrets_inbox`]), custom and unknown blocks.
    pub skipped_blocks: u64,
    /// Sections (pcapng SHBs; 1 for classic pcap).
    pub sections: u64,
    /// Warnings beyond [`MAX_WARNINGS`], counted but not kept.
    pub suppressed_warnings: u64,
}

/// Where a frame sits in the buffer, plus its metadata; turned into a [`Packet`] at the end
/// of `next_packet` (keeps the borrow of the buffer out of the parsing loop).
struct Frame {
    data_at: usize,
    caplen: usize,
    timestamp_ns: i64,
    link_type: LinkType,
    original_len: u32,
    interface_id: u32,
}

/// The bytes the reader parses: a buffer refilled from the stream, or a whole uncompressed
/// file mapped into memory (see [`mapped`]).
enum Buffer {
    Owned(Vec<u8>),
    Mapped(MappedFile),
}

impl std::ops::Deref for Buffer {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped(file) => file.bytes(),
        }
    }
}

/// Streaming reader over any supported capture.
///
/// Timestamps are exact integer nanoseconds; values beyond the i64 range (after year 2262)
/// saturate. `original_len` is never smaller than the captured length (some writers store
/// a smaller one; it is raised to the captured length). A Simple Packet Block carries no
/// timestamp: it gets the last timestamp seen in its section (0 if none yet).
pub struct CaptureReader {
    name: String,
    input: Box<dyn Read + Send>,
    /// `buf[start..end]` holds stream bytes not yet consumed.
    buf: Buffer,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    buf_offset: u64,
    input_ended: bool,
    /// A decompression error ended the input (already reported).
    stream_damaged: bool,
    /// No more packets will come (end of data, or damage reported as a warning).
    finished: bool,
    format: CaptureFormat,
    compression: Compression,
    /// Classic pcap: record header length (16, or 24 for the modified format).
    record_header_len: usize,
    modified_pcap: bool,
    /// Classic pcap: ns per unit of the fraction field (1000 or 1).
    frac_ns: i64,
    /// Byte order of the file (classic) or of the current section (pcapng).
    big_endian: bool,
    last_timestamp_ns: i64,
    interfaces: Vec<Interface>,
    warnings: Vec<CaptureWarning>,
    counters: ReaderCounters,
    secrets: Arc<SecretsInbox>,
}

/// TLS key log text from pcapng Decryption Secrets Blocks, handed from the reader to whoever
/// holds [`CaptureReader::secrets_inbox`] as the reader meets them (before the packets
/// after them are returned).
#[derive(Debug, Default)]
pub struct SecretsInbox {
    waiting: AtomicBool,
    texts: Mutex<Vec<String>>,
}

impl SecretsInbox {
    fn push(&self, text: String) {
        self.texts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
        self.waiting.store(true, Ordering::Release);
    }

    /// Whether texts wait (a plain load: cheap enough to ask once a packet).
    #[inline(always)]
    pub fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Key log texts met since the last call (cheap when there are none).
    pub fn take(&self) -> Vec<String> {
        // A plain load first: asked once a packet, an atomic swap would cost a locked
        // instruction every time.
        if !self.waiting.load(Ordering::Relaxed) || !self.waiting.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        std::mem::take(&mut *self.texts.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl CaptureReader {
    /// Opens a file by path; `-` reads standard input.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        if path.as_os_str() == "-" {
            return Self::from_read(&name, Box::new(io::stdin()));
        }
        match std::fs::File::open(path) {
            Ok(file) => match Self::open_mapped(&name, &file) {
                Some(reader) => reader,
                None => Self::from_read(&name, Box::new(file)),
            },
            Err(e) => Err(CaptureError {
                file: name,
                offset: 0,
                message: format!("cannot open: {e}"),
                decompressed: false,
            }),
        }
    }

    /// Reads a capture from any byte stream; `name` is used in messages. A zstd window above
    /// [`max_zstd_window`] is refused.
    pub fn from_read(name: &str, input: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::from_read_with_zstd_window(name, input, max_zstd_window())
    }

    /// As [`CaptureReader::from_read`], refusing zstd frames whose window exceeds
    /// `max_zstd_window` bytes (memory for a zstd stream is about one window).
    pub fn from_read_with_zstd_window(
        name: &str,
        input: Box<dyn Read + Send>,
        max_zstd_window: u64,
    ) -> Result<Self, CaptureError> {
        let sniffed = input::sniff(input, max_zstd_window).map_err(|e| CaptureError {
            file: name.to_string(),
            offset: 0,
            message: format!("cannot read: {e}"),
            decompressed: false,
        })?;
        let mut buf = vec![0; INITIAL_BUFFER_LEN];
        buf[..sniffed.prefix.len()].copy_from_slice(&sniffed.prefix);
        let end = sniffed.prefix.len();
        Self::with_buffer(
            name,
            sniffed.stream,
            Buffer::Owned(buf),
            end,
            sniffed.compression,
        )
    }

    /// A reader over `buf[..end]` and then `input` (mapped files: all of it in `buf`).
    fn with_buffer(
        name: &str,
        input: Box<dyn Read + Send>,
        buf: Buffer,
        end: usize,
        compression: Compression,
    ) -> Result<Self, CaptureError> {
        let mapped = matches!(buf, Buffer::Mapped(_));
        let mut reader = CaptureReader {
            name: name.to_string(),
            input,
            buf,
            start: 0,
            end,
            buf_offset: 0,
            input_ended: mapped,
            stream_damaged: false,
            finished: false,
            format: CaptureFormat::PcapNg,
            compression,
            record_header_len: 16,
            modified_pcap: false,
            frac_ns: 1000,
            big_endian: false,
            last_timestamp_ns: 0,
            interfaces: Vec::new(),
            warnings: Vec::new(),
            counters: ReaderCounters::default(),
            secrets: Arc::default(),
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// The next frame, or `Ok(None)` at the end of the data. Damage or truncation after the
    /// file header ends the stream with `Ok(None)` and a [`CaptureWarning`]; `Err` is kept for
    /// I/O errors of the underlying stream.
    #[inline(always)]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let frame = match self.buf {
            Buffer::Owned(_) => self.next_frame()?,
            Buffer::Mapped(_) => self.next_mapped_frame()?,
        };
        let Some(frame) = frame else {
            return Ok(None);
        };
        self.counters.packets += 1;
        Ok(Some(Packet {
            timestamp_ns: frame.timestamp_ns,
            link_type: frame.link_type,
            original_len: frame.original_len.max(frame.caplen as u32),
            interface_id: frame.interface_id,
            data: &self.buf[frame.data_at..frame.data_at + frame.caplen],
        }))
    }

    /// The next frame of either format, parsed from the bytes between `start` and `end`.
    #[inline(always)]
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        match self.format {
            CaptureFormat::Pcap { .. } => self.next_pcap_frame(),
            CaptureFormat::PcapNg => self.next_pcapng_frame(),
        }
    }

    /// Where TLS secrets embedded in the capture (pcapng Decryption Secrets Blocks) arrive.
    pub fn secrets_inbox(&self) -> Arc<SecretsInbox> {
        self.secrets.clone()
    }

    /// Name given at open (the path, or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Warnings collected so far (truncation, damaged blocks, skipped records), at most
    /// [`MAX_WARNINGS`].
    pub fn warnings(&self) -> &[CaptureWarning] {
        &self.warnings
    }

    /// Counts of packets, skipped records and blocks, sections, suppressed warnings.
    pub fn counters(&self) -> ReaderCounters {
        self.counters
    }

    /// The capture format found in the header.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte order of the file (pcapng: of the current section).
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// Decimal digits after the second that the timestamps carry: 6 for microseconds, 9 for
    /// nanoseconds; the finest of the interfaces (pcapng); `None` before any interface.
    pub fn timestamp_digits(&self) -> Option<u8> {
        self.interfaces
            .iter()
            .map(|i| match i.info.tsresol {
                // 2^-n seconds needs ceil(n * log10(2)) decimals to print exactly enough.
                r if r & 0x80 != 0 => ((u32::from(r & 0x7f) * 30103).div_ceil(100_000)) as u8,
                r => r,
            })
            .map(|d| d.min(9))
            .max()
    }

    /// True for Kuznetzov's "modified" pcap (magic `a1b2cd34`, 24-byte record headers).
    pub fn is_modified_pcap(&self) -> bool {
        self.modified_pcap
    }

    /// Human-readable format, e.g. `pcap (little-endian, µs), gzip`.
    pub fn format_description(&self) -> String {
        let format = match self.format {
            CaptureFormat::Pcap {
                big_endian,
                nanosecond,
            } => format!(
                "pcap{} ({}, {})",
                if self.modified_pcap { " modified" } else { "" },
                if big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                if nanosecond { "ns" } else { "µs" }
            ),
            CaptureFormat::PcapNg => "pcapng".to_string(),
        };
        match self.compression {
            Compression::None => format,
            Compression::Gzip => format!("{format}, gzip"),
            Compression::Zstd => format!("{format}, zstd"),
        }
    }

    /// Outer compression found.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Bytes of the capture stream consumed so far (after decompression), for progress.
    pub fn position(&self) -> u64 {
        self.buf_offset + self.start as u64
    }

    /// Number of interfaces defined so far in the current section (1 for classic pcap).
    pub fn interface_count(&self) -> usize {
        self.interfaces.len()
    }

    /// An interface of the current section (classic pcap: id 0 describes the file header).
    pub fn interface(&self, id: u32) -> Option<InterfaceInfo> {
        self.interfaces.get(id as usize).map(|i| i.info)
    }

    // ---- buffer management ----

    #[inline(always)]
    fn available(&self) -> usize {
        self.end - self.start
    }

    /// Makes `n` bytes available at `start`. `Ok(false)`: the stream ended first (a damaged
    /// compressed stream counts as ended, with a warning). `n` must be <= `MAX_BLOCK_LEN`.
    #[inline(always)]
    fn fill(&mut self, n: usize) -> Result<bool, CaptureError> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        match self.fill_slow(n) {
            Ok(enough) => Ok(enough),
            Err(e) if self.compression != Compression::None => {
                let kind = if self.compression == Compression::Gzip {
                    "gzip"
                } else {
                    "zstd"
                };
                let at = self.buf_offset + self.end as u64;
                let message = match e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<ZstdWindowTooLarge>())
                {
                    Some(too_large) => format!("{too_large}; reading stops"),
                    None => format!("{kind} stream is damaged or truncated ({e}); reading stops"),
                };
                self.warn_stop(at, message);
                self.stream_damaged = true;
                self.input_ended = true;
                Ok(false)
            }
            Err(e) => Err(CaptureError {
                file: self.name.clone(),
                offset: self.buf_offset + self.end as u64,
                message: format!("read error: {e}; reading stops"),
                decompressed: false,
            }),
        }
    }

    #[cold]
    #[inline(never)]
    fn fill_slow(&mut self, n: usize) -> io::Result<bool> {
        debug_assert!(n <= MAX_BLOCK_LEN);
        let Buffer::Owned(buf) = &mut self.buf else {
            // A mapped file is all there: short means the file ends here.
            return Ok(false);
        };
        // Move the unconsumed tail to the front so the read below gets the whole buffer.
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.buf_offset += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            if self.input_ended {
                return Ok(false);
            }
            if self.end == buf.len() {
                // A record bigger than the buffer: grow by doubling as its bytes actually
                // arrive, so a damaged length field costs no more memory than the data.
                let grown = (buf.len() * 2).min(n);
                buf.resize(grown, 0);
            }
            match self.input.read(&mut buf[self.end..]) {
                Ok(0) => self.input_ended = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    // ---- messages ----

    /// A note or a skipped record; reading goes on.
    fn warn(&mut self, offset: u64, message: String) {
        self.push_warning(offset, message, false);
    }

    /// A warning after which nothing more is read.
    fn warn_stop(&mut self, offset: u64, message: String) {
        self.push_warning(offset, message, true);
    }

    fn push_warning(&mut self, offset: u64, message: String, ends_reading: bool) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(CaptureWarning {
                file: self.name.clone(),
                offset,
                message,
                decompressed: self.compression != Compression::None,
                ends_reading,
            });
        } else {
            self.counters.suppressed_warnings += 1;
        }
    }

    /// Damage: report and end the stream.
    fn stop(&mut self, offset: u64, message: String) {
        self.warn_stop(offset, message);
        self.finished = true;
    }

    /// The data ended inside a record: report (unless a decompression error already
    /// explained it) and end the stream.
    fn truncated(&mut self, offset: u64, message: String) {
        if !self.stream_damaged {
            self.warn_stop(offset, message);
        }
        self.finished = true;
    }

    fn skip_packet(&mut self, offset: u64, message: String) {
        self.counters.skipped_packets += 1;
        self.warn(offset, message);
    }

    // ---- file header ----

    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        let inside = match self.compression {
            Compression::None => "",
            Compression::Gzip => " inside the gzip stream",
            Compression::Zstd => " inside the zstd stream",
        };
        let name = self.name.clone();
        let decompressed = self.compression != Compression::None;
        let header_error = |offset: u64, message: String| CaptureError {
            file: name.clone(),
            offset,
            message,
            decompressed,
        };
        let got_magic = self.fill(4)?;
        if self.stream_damaged {
            let warning = self.warnings.pop().expect("damage was reported");
            return Err(warning.into());
        }
        if !got_magic {
            let message = match self.available() {
                0 if self.compression == Compression::None => {
                    "empty file (0 bytes): not a pcap or pcapng file".to_string()
                }
                0 => format!("no data{inside}: not a pcap or pcapng file"),
                n => format!("only {n} bytes{inside}: too short for a pcap or pcapng file header"),
            };
            return Err(header_error(0, message));
        }
        let first4 = [
            self.buf[self.start],
            self.buf[self.start + 1],
            self.buf[self.start + 2],
            self.buf[self.start + 3],
        ];
        if PcapHeader::classify_magic(first4).is_some() {
            return self.read_pcap_header(inside);
        }
        if u32::from_le_bytes(first4) == pcapng::BLOCK_SHB {
            return self.read_first_section_header();
        }
        Err(header_error(
            0,
            format!(
                "not a pcap or pcapng file{inside} (magic 0x{:08x})",
                u32::from_be_bytes(first4)
            ),
        ))
    }

    fn read_pcap_header(&mut self, inside: &str) -> Result<(), CaptureError> {
        if !self.fill(pcap::FILE_HEADER_LEN)? {
            if self.stream_damaged {
                let warning = self.warnings.pop().expect("damage was reported");
                return Err(warning.into());
            }
            return Err(CaptureError {
                file: self.name.clone(),
                offset: 0,
                message: format!(
                    "file ends inside the 24-byte pcap file header{inside} ({} bytes present)",
                    self.available()
                ),
                decompressed: false,
            });
        }
        let mut raw = [0u8; pcap::FILE_HEADER_LEN];
        raw.copy_from_slice(&self.buf[self.start..self.start + pcap::FILE_HEADER_LEN]);
        let header = PcapHeader::parse(&raw).map_err(|message| CaptureError {
            file: self.name.clone(),
            offset: 0,
            message,
            decompressed: false,
        })?;
        if header.reserved_bits() != 0 {
            self.warn(
                20,
                format!(
                    "reserved bits of the pcap link-type field are set (0x{:08x}); \
                     using link type {}",
                    header.link_type_field,
                    header.link_type()
                ),
            );
        }
        self.format = CaptureFormat::Pcap {
            big_endian: header.big_endian,
            nanosecond: header.nanosecond,
        };
        self.modified_pcap = header.modified;
        self.record_header_len = header.record_header_len();
        self.frac_ns = if header.nanosecond { 1 } else { 1000 };
        self.big_endian = header.big_endian;
        self.interfaces.push(Interface::new(InterfaceInfo {
            link_type: LinkType(header.link_type()),
            snaplen: header.snaplen,
            tsresol: if header.nanosecond { 9 } else { 6 },
            ts_offset_s: 0,
        }));
        self.counters.sections = 1;
        self.start += pcap::FILE_HEADER_LEN;
        Ok(())
    }

    /// The first SHB goes through the normal block code; any damage there is fatal.
    fn read_first_section_header(&mut self) -> Result<(), CaptureError> {
        self.format = CaptureFormat::PcapNg;
        let warnings_before = self.warnings.len();
        let frame = self.pcapng_block()?;
        debug_assert!(frame.is_none(), "an SHB carries no packet");
        if self.finished {
            return Err(match self.warnings.len() > warnings_before {
                true => self.warnings.pop().expect("checked").into(),
                false => CaptureError {
                    file: self.name.clone(),
                    offset: 0,
                    message: "file ends inside the first section header block".to_string(),
                    decompressed: self.compression != Compression::None,
                },
            });
        }
        Ok(())
    }

    // ---- classic pcap records ----

    #[inline(always)]
    fn next_pcap_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let header_len = self.record_header_len;
        if !self.fill(header_len)? {
            let present = self.available();
            if present > 0 {
                let at = self.position();
                self.truncated(
                    at,
                    format!(
                        "file ends in the middle of a packet record \
                         (record header: {present} of {header_len} bytes present)"
                    ),
                );
            }
            self.finished = true;
            return Ok(None);
        }
        let be = self.big_endian;
        let header = &self.buf[self.start..self.start + 16];
        let ts_sec = read_u32(header, 0, be);
        let ts_frac = read_u32(header, 4, be);
        let caplen = read_u32(header, 8, be) as usize;
        let original_len = read_u32(header, 12, be);
        if caplen > MAX_RECORD_LEN {
            let at = self.position();
            self.stop(
                at,
                format!(
                    "packet record claims {caplen} captured bytes, more than the limit of \
                     {MAX_RECORD_LEN}: the file is damaged; reading stops"
                ),
            );
            return Ok(None);
        }
        let record_len = header_len + caplen;
        if !self.fill(record_len)? {
            let at = self.position();
            let present = self.available();
            self.truncated(
                at,
                format!(
                    "file ends in the middle of a packet record \
                     ({present} of {record_len} bytes present)"
                ),
            );
            return Ok(None);
        }
        let data_at = self.start + header_len;
        self.start += record_len;
        Ok(Some(Frame {
            data_at,
            caplen,
            timestamp_ns: i64::from(ts_sec) * 1_000_000_000 + i64::from(ts_frac) * self.frac_ns,
            link_type: self.interfaces[0].info.link_type,
            original_len,
            interface_id: 0,
        }))
    }

    // ---- pcapng blocks ----

    #[inline(always)]
    fn next_pcapng_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if let Some(frame) = self.whole_enhanced_packet_block() {
            return Ok(Some(frame));
        }
        while !self.finished {
            if let Some(frame) = self.pcapng_block()? {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }

    /// The common block in a few instructions: an Enhanced Packet Block that is whole in the
    /// buffer, well formed and on a defined interface, read from one fixed-size view of its
    /// header. Anything else (`None`, nothing consumed) goes to [`Self::pcapng_block`], which
    /// checks it field by field and reports what is wrong; for a block taken here it would
    /// return the same frame.
    #[inline(always)]
    fn whole_enhanced_packet_block(&mut self) -> Option<Frame> {
        use pcapng::*;
        let rest = self.buf.get(self.start..self.end)?;
        let header: &[u8; MIN_EPB_LEN] = rest.get(..MIN_EPB_LEN)?.try_into().ok()?;
        let be = self.big_endian;
        if read_u32(header, 0, be) != BLOCK_EPB {
            return None;
        }
        let total_len = read_u32(header, 4, be) as usize;
        let caplen = read_u32(header, 20, be) as usize;
        let block = rest.get(..total_len)?;
        let well_formed = total_len >= MIN_EPB_LEN
            && total_len.is_multiple_of(4)
            && total_len <= MAX_BLOCK_LEN
            && caplen <= total_len - MIN_EPB_LEN
            && read_u32(block, total_len - 4, be) as usize == total_len;
        if !well_formed {
            return None;
        }
        let interface_id = read_u32(header, 8, be);
        let interface = self.interfaces.get(interface_id as usize)?;
        let units =
            (u64::from(read_u32(header, 12, be)) << 32) | u64::from(read_u32(header, 16, be));
        let timestamp_ns = interface.timestamp_ns(units);
        let frame = Frame {
            data_at: self.start + 28,
            caplen,
            timestamp_ns,
            link_type: interface.info.link_type,
            original_len: read_u32(header, 24, be),
            interface_id,
        };
        self.start += total_len;
        self.last_timestamp_ns = timestamp_ns;
        Some(frame)
    }

    /// Reads one block: `Some` for a packet; `None` when the block carried none, or the
    /// stream ended (then `finished` is set).
    fn pcapng_block(&mut self) -> Result<Option<Frame>, CaptureError> {
        use pcapng::*;
        let at = self.position();
        if !self.fill(MIN_BLOCK_LEN)? {
            let present = self.available();
            if present > 0 {
                self.truncated(
                    at,
                    format!(
                        "file ends in the middle of a pcapng block header \
                         ({present} of {MIN_BLOCK_LEN} bytes present)"
                    ),
                );
            }
            self.finished = true;
            return Ok(None);
        }
        let head = &self.buf[self.start..self.start + MIN_BLOCK_LEN];
        let mut big_endian = self.big_endian;
        let is_section_header = read_u32(head, 0, false) == BLOCK_SHB;
        if is_section_header {
            // The SHB's own byte-order magic says how to read its length.
            let magic = read_u32(head, 8, false);
            if magic == BYTE_ORDER_MAGIC {
                big_endian = false;
            } else if magic.swap_bytes() == BYTE_ORDER_MAGIC {
                big_endian = true;
            } else {
                self.stop(
                    at,
                    format!(
                        "not a valid pcapng section header: byte-order magic is 0x{magic:08x}, \
                         expected 0x1a2b3c4d in either byte order; reading stops"
                    ),
                );
                return Ok(None);
            }
        }
        let block_type = read_u32(head, 0, big_endian);
        let total_len = read_u32(head, 4, big_endian) as usize;
        if total_len < MIN_BLOCK_LEN || !total_len.is_multiple_of(4) || total_len > MAX_BLOCK_LEN {
            self.stop(
                at,
                format!(
                    "damaged pcapng block (type 0x{block_type:08x}): total length {total_len} \
                     is not a multiple of 4 between {MIN_BLOCK_LEN} and {MAX_BLOCK_LEN}; \
                     reading stops"
                ),
            );
            return Ok(None);
        }
        if !self.fill(total_len)? {
            let present = self.available();
            let what = match block_type {
                BLOCK_EPB | BLOCK_SPB | BLOCK_PB => "a packet record",
                _ => "a pcapng block",
            };
            self.truncated(
                at,
                format!(
                    "file ends in the middle of {what} \
                     (block type 0x{block_type:08x}, {present} of {total_len} bytes present)"
                ),
            );
            return Ok(None);
        }
        let block_start = self.start;
        let block = &self.buf[block_start..block_start + total_len];
        let trailing_len = read_u32(block, total_len - 4, big_endian) as usize;
        if trailing_len != total_len {
            self.stop(
                at,
                format!(
                    "damaged pcapng block (type 0x{block_type:08x}): leading length {total_len} \
                     but trailing length {trailing_len}; reading stops"
                ),
            );
            return Ok(None);
        }
        let fixed_len = match block_type {
            BLOCK_SHB => MIN_SHB_LEN,
            BLOCK_IDB => MIN_IDB_LEN,
            BLOCK_EPB | BLOCK_PB => MIN_EPB_LEN,
            BLOCK_SPB => MIN_SPB_LEN,
            BLOCK_DSB => MIN_DSB_LEN,
            _ => MIN_BLOCK_LEN,
        };
        if total_len < fixed_len {
            self.stop(
                at,
                format!(
                    "damaged pcapng block (type 0x{block_type:08x}): length {total_len} is \
                     shorter than its {fixed_len} bytes of fixed fields; reading stops"
                ),
            );
            return Ok(None);
        }
        match block_type {
            BLOCK_SHB => {
                let major = pcap::read_u16(block, 12, big_endian);
                let minor = pcap::read_u16(block, 14, big_endian);
                if major != 1 {
                    self.stop(
                        at,
                        format!(
                            "unsupported pcapng version {major}.{minor} in section header \
                             (expected 1.x); reading stops"
                        ),
                    );
                    return Ok(None);
                }
                self.big_endian = big_endian;
                self.interfaces.clear();
                self.last_timestamp_ns = 0;
                self.counters.sections += 1;
                self.start += total_len;
                Ok(None)
            }
            BLOCK_IDB => {
                let (info, problem) = parse_idb(block, big_endian);
                self.start += total_len;
                if let Some(message) = problem {
                    self.warn(at, message);
                }
                if self.interfaces.len() < MAX_INTERFACES {
                    self.interfaces.push(Interface::new(info));
                } else {
                    self.warn(
                        at,
                        format!("more than {MAX_INTERFACES} interfaces in one section; ignored"),
                    );
                }
                Ok(None)
            }
            BLOCK_EPB | BLOCK_PB => {
                let interface_id = if block_type == BLOCK_EPB {
                    read_u32(block, 8, big_endian)
                } else {
                    u32::from(pcap::read_u16(block, 8, big_endian))
                };
                let units = (u64::from(read_u32(block, 12, big_endian)) << 32)
                    | u64::from(read_u32(block, 16, big_endian));
                let caplen = read_u32(block, 20, big_endian) as usize;
                let original_len = read_u32(block, 24, big_endian);
                self.start += total_len;
                let room = total_len - MIN_EPB_LEN;
                if caplen > room {
                    self.skip_packet(
                        at,
                        format!(
                            "packet block claims {caplen} captured bytes but has room for \
                             {room}; packet skipped"
                        ),
                    );
                    return Ok(None);
                }
                let Some(interface) = self.interfaces.get(interface_id as usize) else {
                    let defined = self.interfaces.len();
                    self.skip_packet(
                        at,
                        format!(
                            "packet refers to interface {interface_id}, but only {defined} \
                             are defined in this section; packet skipped"
                        ),
                    );
                    return Ok(None);
                };
                let timestamp_ns = interface.timestamp_ns(units);
                let link_type = interface.info.link_type;
                self.last_timestamp_ns = timestamp_ns;
                Ok(Some(Frame {
                    data_at: block_start + 28,
                    caplen,
                    timestamp_ns,
                    link_type,
                    original_len,
                    interface_id,
                }))
            }
            BLOCK_SPB => {
                let original_len = read_u32(block, 8, big_endian);
                self.start += total_len;
                let Some(interface) = self.interfaces.first() else {
                    self.skip_packet(
                        at,
                        "simple packet block before any interface description; packet skipped"
                            .to_string(),
                    );
                    return Ok(None);
                };
                // No caplen field: the data is the original packet cut at the snaplen
                // (0 = no limit) and at the block's room.
                let room = total_len - MIN_SPB_LEN;
                let mut caplen = (original_len as usize).min(room);
                if interface.info.snaplen != 0 {
                    caplen = caplen.min(interface.info.snaplen as usize);
                }
                Ok(Some(Frame {
                    data_at: block_start + 12,
                    caplen,
                    timestamp_ns: self.last_timestamp_ns,
                    link_type: interface.info.link_type,
                    original_len,
                    interface_id: 0,
                }))
            }
            BLOCK_DSB => {
                // Counted as passed over (no packet); TLS key logs also go to the inbox.
                self.counters.skipped_blocks += 1;
                let secrets_type = read_u32(block, 8, big_endian);
                let len = read_u32(block, 12, big_endian) as usize;
                let data = block
                    .get(16..16 + len)
                    .filter(|_| len <= total_len - MIN_DSB_LEN);
                match data {
                    Some(text) if secrets_type == SECRETS_TLS_KEY_LOG => {
                        self.secrets.push(String::from_utf8_lossy(text).into_owned());
                    }
                    Some(_) => {}
                    None => self.warn(
                        at,
                        format!("decryption secrets block claims {len} bytes of secrets but has room for {}; ignored", total_len - MIN_DSB_LEN),
                    ),
                }
                self.start += total_len;
                Ok(None)
            }
            _ => {
                self.counters.skipped_blocks += 1;
                self.start += total_len;
                Ok(None)
            }
        }
    }
}

//! The byte stream under the capture parser: outer compression recognised by magic bytes.
//!
//! gzip goes through flate2's `MultiGzDecoder` (concatenated members, as `cat a.gz b.gz`
//! produces); zstd through ruzstd's `FrameDecoder`, driven here frame by frame because its
//! `StreamingDecoder` stops after the first frame. gzip's memory is bounded by its 32 KiB
//! window. A zstd frame declares its window (up to 3.75 TiB) and ruzstd allocates it without
//! checking on a decoder's first frame, so each frame header is read here first and a window
//! above the limit ([`DEFAULT_MAX_ZSTD_WINDOW`], as zstd's own decoder) is refused.

use super::Compression;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Largest zstd window accepted unless raised: 2^27 bytes (128 MiB), the limit zstd's own
/// decoder applies without `--long`/`--memory`.
pub const DEFAULT_MAX_ZSTD_WINDOW: u64 = 1 << 27;

/// Largest zstd window that can be allowed at all: 2^31 bytes (zstd's `ZSTD_WINDOWLOG_MAX`
/// on 64-bit systems).
pub const MAX_ZSTD_WINDOW: u64 = 1 << 31;

/// ruzstd refuses windows above 100 MiB when a decoder is reused for a later frame; such
/// frames get a fresh decoder instead (the limit above is the one that counts).
const RUZSTD_REUSE_LIMIT: u64 = 100 * 1024 * 1024;

/// The limit used by readers opened without an explicit one (set once by the command line).
static PROCESS_MAX_ZSTD_WINDOW: AtomicU64 = AtomicU64::new(DEFAULT_MAX_ZSTD_WINDOW);

/// Sets the zstd window limit for readers opened afterwards with [`super::CaptureReader::open`]
/// (clamped to [`MAX_ZSTD_WINDOW`]).
pub fn set_max_zstd_window(bytes: u64) {
    PROCESS_MAX_ZSTD_WINDOW.store(bytes.min(MAX_ZSTD_WINDOW), Ordering::Relaxed);
}

/// The current process-wide zstd window limit.
pub fn max_zstd_window() -> u64 {
    PROCESS_MAX_ZSTD_WINDOW.load(Ordering::Relaxed)
}

/// A zstd frame whose window is larger than allowed (the file may be a memory bomb).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZstdWindowTooLarge {
    /// Byte offset of the frame in the compressed file.
    pub frame_offset: u64,
    pub window: u64,
    pub limit: u64,
}

impl fmt::Display for ZstdWindowTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zstd frame at byte {} of the compressed file needs a {}-byte window, more than the \
             limit of {} bytes; if the file is trusted, raise it with --max-zstd-window",
            self.frame_offset, self.window, self.limit
        )
    }
}

impl std::error::Error for ZstdWindowTooLarge {}

/// Window size declared by a zstd frame header: `descriptor` is the byte after the magic,
/// `rest` the [`zstd_header_rest_len`] bytes after it. RFC 8878 §3.1.1.1.
fn zstd_frame_window(descriptor: u8, rest: &[u8]) -> u64 {
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window_descriptor = rest[0];
        let base = 1u64 << (10 + (window_descriptor >> 3));
        return base + base / 8 * u64::from(window_descriptor & 7);
    }
    // Single segment: the window is the content size, which follows the dictionary id.
    let dict_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let field = &rest[dict_len..];
    match descriptor >> 6 {
        0 => u64::from(field[0]),
        1 => u64::from(u16::from_le_bytes([field[0], field[1]])) + 256,
        2 => u64::from(u32::from_le_bytes([field[0], field[1], field[2], field[3]])),
        _ => u64::from_le_bytes(field[..8].try_into().expect("8 bytes")),
    }
}

/// Bytes of a zstd frame header after the descriptor byte (window, dictionary id, size).
fn zstd_header_rest_len(descriptor: u8) -> usize {
    let single_segment = descriptor & 0x20 != 0;
    let window = usize::from(!single_segment);
    let dict = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let size = match descriptor >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    window + dict + size
}

/// Result of sniffing the first bytes of the raw input.
pub(super) struct Sniffed {
    pub compression: Compression,
    /// The capture stream (decompressed when needed), minus `prefix`.
    pub stream: Box<dyn Read + Send>,
    /// Bytes already taken from plain input; they belong at the start of the capture stream.
    pub prefix: Vec<u8>,
}

/// Reads up to 4 bytes and picks the decompressor they announce.
pub(super) fn sniff(mut raw: Box<dyn Read + Send>, max_zstd_window: u64) -> io::Result<Sniffed> {
    let mut prefix = [0u8; 4];
    let got = read_up_to(&mut raw, &mut prefix)?;
    let prefix = prefix[..got].to_vec();
    let compression = compression_of(&prefix);
    if compression == Compression::None {
        return Ok(Sniffed {
            compression: Compression::None,
            stream: raw,
            prefix,
        });
    }
    let rejoined: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix).chain(raw));
    let decoded: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rejoined)),
        _ => Box::new(ZstdStream::new(rejoined, max_zstd_window)),
    };
    Ok(Sniffed {
        compression,
        stream: decoded,
        prefix: Vec::new(),
    })
}

/// The compression the first (up to 4) bytes of a file announce.
pub(super) fn compression_of(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix == ZSTD_MAGIC || is_zstd_skippable(prefix) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A zstd skippable frame's magic (0x184D2A50..=0x184D2A5F, little-endian); pzstd starts its
/// files with one.
fn is_zstd_skippable(prefix: &[u8]) -> bool {
    prefix.len() == 4 && prefix[0] & 0xf0 == 0x50 && prefix[1..] == [0x2a, 0x4d, 0x18]
}

/// Fills as much of `out` as the stream allows (short only at end of stream).
pub(super) fn read_up_to(input: &mut dyn Read, out: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < out.len() {
        match input.read(&mut out[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A reader that can look one byte ahead (to tell "no more zstd frames" from a new frame)
/// and counts the bytes it handed out (frame offsets in messages).
struct PeekOne<R> {
    inner: R,
    pending: Option<u8>,
    consumed: u64,
}

impl<R: Read> PeekOne<R> {
    fn at_end(&mut self) -> io::Result<bool> {
        if self.pending.is_some() {
            return Ok(false);
        }
        let mut one = [0u8; 1];
        if read_up_to(&mut self.inner, &mut one)? == 0 {
            return Ok(true);
        }
        self.pending = Some(one[0]);
        Ok(false)
    }
}

impl<R: Read> Read for PeekOne<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(byte) = self.pending.take() {
            out[0] = byte;
            self.consumed += 1;
            return Ok(1);
        }
        let n = self.inner.read(out)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// Decodes every zstd frame of a stream in turn, skipping skippable frames.
struct ZstdStream<R> {
    source: PeekOne<R>,
    decoder: FrameDecoder,
    in_frame: bool,
    /// A decoding error held back until the bytes decoded before it were handed out.
    pending_error: Option<io::Error>,
    max_window: u64,
}

impl<R: Read> ZstdStream<R> {
    fn new(source: R, max_window: u64) -> Self {
        ZstdStream {
            source: PeekOne {
                inner: source,
                pending: None,
                consumed: 0,
            },
            decoder: FrameDecoder::new(),
            in_frame: false,
            pending_error: None,
            max_window,
        }
    }

    /// Starts the next frame: reads its header, refuses an oversized window, then hands the
    /// header to ruzstd. Other magics (skippable frames, garbage) go to ruzstd unchanged.
    /// The outer error is ours (I/O, window too large), the inner one ruzstd's.
    fn start_frame(&mut self) -> io::Result<Result<(), FrameDecoderError>> {
        let frame_offset = self.source.consumed;
        let mut header = [0u8; 18];
        let got = read_up_to(&mut self.source, &mut header[..5])?;
        let mut len = got;
        let mut window = 0;
        if got == 5 && header[..4] == ZSTD_MAGIC {
            let rest = zstd_header_rest_len(header[4]);
            len += read_up_to(&mut self.source, &mut header[5..5 + rest])?;
            if len == 5 + rest {
                window = zstd_frame_window(header[4], &header[5..len]);
            }
        }
        if window > self.max_window {
            let too_large = ZstdWindowTooLarge {
                frame_offset,
                window,
                limit: self.max_window,
            };
            return Err(io::Error::new(io::ErrorKind::InvalidData, too_large));
        }
        if window > RUZSTD_REUSE_LIMIT {
            self.decoder = FrameDecoder::new();
        }
        Ok(self
            .decoder
            .reset(io::Cursor::new(&header[..len]).chain(&mut self.source)))
    }
}

fn zstd_error(e: FrameDecoderError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
}

impl<R: Read> Read for ZstdStream<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.at_end()? {
                    return Ok(0);
                }
                match self.start_frame()? {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let want = u64::from(length);
                        let skipped =
                            io::copy(&mut (&mut self.source).take(want), &mut io::sink())?;
                        if skipped < want {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "zstd: stream ends inside a skippable frame",
                            ));
                        }
                        continue;
                    }
                    Err(e) => return Err(zstd_error(e)),
                }
            }
            if let Some(e) = self.pending_error.take() {
                return Err(e);
            }
            while self.decoder.can_collect() < out.len() && !self.decoder.is_finished() {
                let wanted = out.len() - self.decoder.can_collect();
                let decoded = self
                    .decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted));
                if let Err(e) = decoded {
                    // Hand out what is collectable first. ruzstd keeps the last window of
                    // an unfinished frame uncollectable, so that part is lost on damage.
                    if self.decoder.can_collect() == 0 {
                        return Err(zstd_error(e));
                    }
                    self.pending_error = Some(zstd_error(e));
                    break;
                }
            }
            let n = self.decoder.read(out)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                self.in_frame = false;
            }
        }
    }
}

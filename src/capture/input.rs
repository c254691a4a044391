//! The byte stream under the capture parser: outer compression recognised by magic bytes.
//!
//! gzip goes through flate2's `MultiGzDecoder` (concatenated members, as `cat a.gz b.gz`
//! produces); zstd through ruzstd's `FrameDecoder`, driven here frame by frame because its
//! `StreamingDecoder` stops after the first frame. Both decoders keep their own memory
//! bounded (gzip: 32 KiB window; ruzstd refuses oversized windows).

use super::Compression;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::io::{self, Read};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Result of sniffing the first bytes of the raw input.
pub(super) struct Sniffed {
    pub compression: Compression,
    /// The capture stream (decompressed when needed), minus `prefix`.
    pub stream: Box<dyn Read + Send>,
    /// Bytes already taken from plain input; they belong at the start of the capture stream.
    pub prefix: Vec<u8>,
}

/// Reads up to 4 bytes and picks the decompressor they announce.
pub(super) fn sniff(mut raw: Box<dyn Read + Send>) -> io::Result<Sniffed> {
    let mut prefix = [0u8; 4];
    let got = read_up_to(&mut raw, &mut prefix)?;
    let prefix = prefix[..got].to_vec();
    let compression = if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix == ZSTD_MAGIC {
        Compression::Zstd
    } else {
        return Ok(Sniffed {
            compression: Compression::None,
            stream: raw,
            prefix,
        });
    };
    let rejoined: Box<dyn Read + Send> = Box::new(io::Cursor::new(prefix).chain(raw));
    let decoded: Box<dyn Read + Send> = match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(rejoined)),
        _ => Box::new(ZstdStream::new(rejoined)),
    };
    Ok(Sniffed {
        compression,
        stream: decoded,
        prefix: Vec::new(),
    })
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

/// A reader that can look one byte ahead (to tell "no more zstd frames" from a new frame).
struct PeekOne<R> {
    inner: R,
    pending: Option<u8>,
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
            return Ok(1);
        }
        self.inner.read(out)
    }
}

/// Decodes every zstd frame of a stream in turn, skipping skippable frames.
struct ZstdStream<R> {
    source: PeekOne<R>,
    decoder: FrameDecoder,
    in_frame: bool,
    /// A decoding error held back until the bytes decoded before it were handed out.
    pending_error: Option<io::Error>,
}

impl<R: Read> ZstdStream<R> {
    fn new(source: R) -> Self {
        ZstdStream {
            source: PeekOne {
                inner: source,
                pending: None,
            },
            decoder: FrameDecoder::new(),
            in_frame: false,
            pending_error: None,
        }
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
                match self.decoder.reset(&mut self.source) {
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

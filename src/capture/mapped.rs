//! Mapped input: a regular, uncompressed capture file is mapped into memory and parsed where it
//! lies in the page cache instead of being copied out (most of the system time of reading a
//! large file). Pages already parsed are handed back to the kernel as the reader moves on, so
//! resident memory stays small however large the file.

use super::{input, Buffer, CaptureError, CaptureReader, Compression};
use std::io;

/// A mapped file's consumed pages are dropped from memory in steps of this many bytes.
pub(super) const MAPPED_RELEASE_STEP: usize = 8 << 20;

/// A whole capture file mapped read-only.
pub(super) struct MappedFile {
    map: memmap2::Mmap,
    /// Bytes before this offset were handed back to the kernel (not resident any more).
    pub(super) released: usize,
}

impl MappedFile {
    /// The file's bytes.
    #[inline(always)]
    pub(super) fn bytes(&self) -> &[u8] {
        &self.map
    }
}

impl CaptureReader {
    /// A regular, uncompressed file is mapped and parsed in place (no copy out of the page
    /// cache: most of the system time of reading a large file). `None`: read it as a stream.
    pub(super) fn open_mapped(
        name: &str,
        file: &std::fs::File,
    ) -> Option<Result<Self, CaptureError>> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() < 4 || usize::try_from(meta.len()).is_err() {
            return None;
        }
        // SAFETY: a private, read-only mapping that this process never writes. Another
        // process truncating the file while it is read would fault the reads beyond the new
        // end (as for ripgrep and other tools that map their input); nothing else can change
        // what the slices show from under us in a way Rust's rules care about for `u8`s.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        if input::compression_of(&map[..4]) != Compression::None {
            return None;
        }
        let _ = map.advise(memmap2::Advice::Sequential);
        let len = map.len();
        let buf = Buffer::Mapped(MappedFile { map, released: 0 });
        Some(Self::with_buffer(
            name,
            Box::new(io::empty()),
            buf,
            len,
            Compression::None,
        ))
    }

    /// Hands the pages of a mapped file before `upto` (already parsed) back to the kernel, so
    /// they stop counting as this process's memory; they stay in the page cache.
    #[cold]
    pub(super) fn release_mapped(&mut self, upto: usize) {
        if let Buffer::Mapped(MappedFile { map, released }) = &mut self.buf {
            // Whole 64 KiB units (a multiple of every page size in use).
            let upto = upto & !0xffff;
            if upto > *released {
                // SAFETY: a private read-only file mapping: dropping its pages only means the
                // next access (none is planned: the bytes were parsed) reads them again from
                // the file; no content is lost.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        *released,
                        upto - *released,
                    )
                };
                *released = upto;
            }
        }
    }
}

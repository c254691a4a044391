//! Mapped input: a regular, uncompressed capture file is mapped into memory and parsed where it
//! lies in the page cache instead of being copied out (most of the system time of reading a
//! large file). Pages already parsed are handed back to the kernel as the reader moves on, so
//! resident memory stays small however large the file. With analysis workers, an idle one does
//! that, and maps the pages just ahead of the reader, so that the reader, which every other
//! thread waits for, makes neither the system calls nor the page faults.
//!
//! A file truncated by another process while it is read (`tcpdump -W` reusing a file, `>
//! file`, logrotate's copytruncate) must not end the process: touching a mapped page past the
//! new end raises SIGBUS. A SIGBUS handler, installed when the first file is mapped and
//! passing every other fault on to the handler it replaced, maps anonymous zero pages over
//! the missing part of one of our mappings and records where they start; the access then
//! reads zeros. The reader checks every record it is about to hand out: it touches the page
//! after the record (a page is dropped by truncation only when wholly past the new end), and
//! if a zero page was mapped since its last look, or there is no next page to touch (and at the
//! end of the data), it asks the file its current length (fstat). A record that does not fit
//! in it, or a stop that may have read zeros, is parsed again against the new length, so the
//! reader ends exactly as for a file that short from the start (the usual truncation warning
//! at the last whole record) and adds that the file shrank. Zeros are only ever a suffix of
//! what was there, so a pcapng block whose trailing length matched was read whole.
//!
//! The reader prefetches every cache line a few packets ahead of itself
//! ([`MappedFile::prefetch_ahead`]): each record's length says where the next starts, so
//! without it every first touch of a line waited a whole memory latency.
//!
//! Analysis workers read payloads in place through [`MappedBytes`] (which keeps the mapping
//! and its handler registration alive), some epochs behind the reader.
//!
//! Left to chance: bytes of a record already handed out, read after the file is truncated
//! under them (by the reader or, a few epochs later, by a worker), read as zeros (decoders
//! count such a packet malformed, an analyzer sees zeros; nothing faults); a truncation
//! between the mapping and the file header reads the header as zeros.

use super::{input, Buffer, CaptureError, CaptureReader, Compression, Frame};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A mapped file's consumed pages are dropped from memory in steps of this many bytes.
pub(super) const MAPPED_RELEASE_STEP: usize = 8 << 20;

/// The mapping itself, shared with whoever reads packet bytes after the reader moved on
/// (analysis workers read payloads in place instead of copies).
pub(super) struct SharedMap {
    // Fields drop in order: the handler forgets the range before it is unmapped.
    guard: sigbus::Guard,
    map: memmap2::Mmap,
    /// Where the reader is, while others read behind it (updated every [`KEEP_MARK_EVERY`]
    /// bytes).
    reader_at: AtomicUsize,
    /// Pages before this offset were mapped ahead of the reader ([`MappedBytes::map_ahead`]).
    mapped_ahead_to: AtomicUsize,
    /// Pages before this offset are done with; before `handed_back_to`, handed back to the
    /// kernel ([`SharedMap::hand_back`]).
    done_to: AtomicUsize,
    handed_back_to: AtomicUsize,
}

impl SharedMap {
    /// Hands the pages the reader is done with back to the kernel (they stop counting as
    /// this process's memory and stay in the page cache); `false` when there were fewer
    /// than [`HAND_BACK_MIN`] bytes of them.
    fn hand_back(&self) -> bool {
        let to = self.done_to.load(Ordering::Relaxed);
        let from = self.handed_back_to.load(Ordering::Relaxed);
        if to < from + HAND_BACK_MIN {
            return false;
        }
        // Whoever moves the mark hands the pages back.
        if self
            .handed_back_to
            .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: a read-only file mapping: dropping its pages only means the next access
            // (a worker far behind the reader) reads them again from the file; no content is
            // lost.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
        }
        true
    }
}

/// Pages the reader is done with that may wait for an idle worker to hand them back.
const HAND_BACK_LAG: usize = 4 << 20;

/// The least an idle worker hands back at once. Each hand-back of a mapping that other
/// threads use interrupts them to flush their TLBs (an IPI, costly in a VM): handing back
/// whatever was there, 1 MiB at a time, made ~590 calls on the 1 GB bench trace with two
/// workers; 2 MiB (and the reader's lag 2 -> 4 MiB) made ~410, for 5 % less CPU (user and
/// system) and 1.5 MiB more resident.
const HAND_BACK_MIN: usize = 2 << 20;

/// How far ahead of the reader idle workers map the file's pages. Little: mapped pages
/// count as the process's resident memory.
const MAP_AHEAD_BYTES: usize = 4 << 20;

/// What one call of [`MappedBytes::map_ahead`] maps (64 pages of 4 KiB).
const MAP_AHEAD_STEP: usize = 256 << 10;

/// How far ahead of the reader the file's bytes are prefetched: a few packets of any size
/// (a bare walk of the bench trace's 349k blocks, written in C to see the memory alone:
/// 10.2 ms at 2 KiB, 9.5 at 4, 9.1 at 8, 10.2 at 16, 35 without prefetching).
const PREFETCH_AHEAD: usize = 4 << 10;

const CACHE_LINE: usize = 64;

/// Asks for the cache line at `at` (a hint: never faults, whatever the address).
#[inline(always)]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing architecturally and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// A handle on a mapped capture file's bytes that keeps them mapped (and their truncation
/// survivable) for as long as it lives, on any thread.
#[derive(Clone)]
pub struct MappedBytes(std::sync::Arc<SharedMap>);

impl MappedBytes {
    /// The whole file's bytes (zeros where it was truncated under us).
    #[inline(always)]
    pub fn bytes(&self) -> &[u8] {
        &self.0.map
    }

    /// Hands back to the kernel the pages the reader is done with, for a worker that has
    /// nothing else to do (the reader's own time is the pass's); `false` when there are too
    /// few ([`HAND_BACK_MIN`]).
    pub fn hand_back(&self) -> bool {
        self.0.hand_back()
    }

    /// Maps the next pages ahead of the reader, for a worker that has nothing else to do:
    /// on large packets the reader, the thread every other waits for, spent a fifth of its
    /// time in page faults (`http --json` on the 1 GB bench trace with 2 workers: 0.43 ->
    /// 0.35 s). `false` when there is nothing to map now (the pages ahead are mapped, or the
    /// system cannot map ahead).
    pub fn map_ahead(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            let shared = &*self.0;
            let reader_at = shared.reader_at.load(Ordering::Relaxed);
            let limit = reader_at
                .saturating_add(MAP_AHEAD_BYTES)
                .min(shared.map.len());
            let from = shared
                .mapped_ahead_to
                .load(Ordering::Relaxed)
                .max(reader_at & !(MAP_AHEAD_STEP - 1));
            if from >= limit {
                return false;
            }
            let to = (from + MAP_AHEAD_STEP).min(limit);
            // Whoever moves the mark maps the step; another worker that computed the same
            // step skips it. Pages past a truncated end fail to map (EFAULT), not fault.
            if shared.mapped_ahead_to.fetch_max(to, Ordering::Relaxed) < to {
                let _ = shared
                    .map
                    .advise_range(memmap2::Advice::PopulateRead, from, to - from);
            }
            true
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Where `slice` lies in the file, when it lies in it.
    #[inline]
    pub fn range_of(&self, slice: &[u8]) -> Option<std::ops::Range<usize>> {
        let start = (slice.as_ptr() as usize).checked_sub(self.0.map.as_ptr() as usize)?;
        let end = start.checked_add(slice.len())?;
        (end <= self.0.map.len()).then_some(start..end)
    }
}

/// Bytes behind the reader kept resident for workers reading packets in place: the last
/// `packets` packets, at most `max_bytes` (further behind, a read faults the page in again).
#[derive(Default)]
struct KeepBehind {
    /// 0: nobody reads behind the reader.
    packets: u64,
    max_bytes: usize,
    /// (packets read, offset) taken every [`KEEP_MARK_EVERY`] bytes, oldest first.
    marks: std::collections::VecDeque<(u64, usize)>,
    /// The newest mark at least `packets` packets old.
    floor: usize,
}

/// How often, in bytes, the reader notes where it is when others read behind it.
const KEEP_MARK_EVERY: usize = 1 << 20;

/// A whole capture file mapped read-only.
pub(super) struct MappedFile {
    shared: std::sync::Arc<SharedMap>,
    /// The file, asked for its current length when a record may have been cut.
    file: std::fs::File,
    page_size: usize,
    /// Pages are considered for release when a record starts at or past this offset.
    check_at: usize,
    /// What stays resident behind the reader for others reading it in place.
    keep: KeepBehind,
    /// Bytes of the file known to be readable: the mapped length, less once it shrank.
    readable: usize,
    /// Where the zero pages the handler mapped began when we last looked (`usize::MAX`:
    /// none); a smaller value in the handler's table means a new fault.
    zeroed_seen: usize,
    /// The file shrank while it was read and the last warning does not say so yet.
    shrink_untold: bool,
    /// Bytes before this offset were prefetched ([`MappedFile::prefetch_ahead`]).
    prefetched_to: usize,
}

impl MappedFile {
    /// Maps `file` and registers the mapping with the SIGBUS handler; `None` when either
    /// cannot be done (the file is then read as a stream).
    fn open(file: &std::fs::File) -> Option<MappedFile> {
        // SAFETY: a read-only mapping that this process never writes. Another process
        // truncating the file is survived through the SIGBUS handler (registered below before
        // any byte is read); another process writing into it changes only `u8` values.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        let guard = sigbus::Guard::register(map.as_ptr() as usize, map.len())?;
        let readable = map.len();
        Some(MappedFile {
            shared: std::sync::Arc::new(SharedMap {
                guard,
                map,
                reader_at: AtomicUsize::new(0),
                mapped_ahead_to: AtomicUsize::new(0),
                done_to: AtomicUsize::new(0),
                handed_back_to: AtomicUsize::new(0),
            }),
            file: file.try_clone().ok()?,
            page_size: sigbus::page_size(),
            check_at: MAPPED_RELEASE_STEP,
            keep: KeepBehind::default(),
            readable,
            zeroed_seen: usize::MAX,
            shrink_untold: false,
            prefetched_to: 0,
        })
    }

    /// Asks the CPU for the bytes [`PREFETCH_AHEAD`] past `at` (the reader's position),
    /// every cache line from where the last call stopped. The reader's walk is a chain of
    /// dependent loads (each record's length says where the next one starts), so each miss
    /// cost a whole memory latency: `summary` on the first 349k packets of the bench trace
    /// (~880 bytes each) took 75 ms without, 45 ms with.
    #[inline(always)]
    fn prefetch_ahead(&mut self, at: usize) {
        let map = &self.shared.map;
        let to = at.saturating_add(PREFETCH_AHEAD).min(map.len());
        // After a jump (a large block skipped), only the distance ahead.
        let mut line = self.prefetched_to.max(at) & !(CACHE_LINE - 1);
        while line < to {
            prefetch(map.as_ptr().wrapping_add(line));
            line += CACHE_LINE;
        }
        self.prefetched_to = self.prefetched_to.max(line);
    }

    /// The file's bytes.
    #[inline(always)]
    pub(super) fn bytes(&self) -> &[u8] {
        &self.shared.map
    }

    /// A handle on the bytes for other threads.
    pub(super) fn share(&self) -> MappedBytes {
        MappedBytes(self.shared.clone())
    }

    /// Whether a record ending at `record_end` certainly lay inside the file when it was
    /// parsed; `false` means "ask [`MappedFile::current_len`]", not that it did not.
    #[inline(always)]
    fn record_is_intact(&self, record_end: usize, end: usize) -> bool {
        // Truncation drops the pages wholly past the new end (faulting later reads) and zeroes
        // the rest of the page the cut falls in (no fault): if the page after the record's
        // last byte is still there, the whole record was.
        let next_page = (record_end.saturating_sub(1) | (self.page_size - 1)) + 1;
        if next_page >= end {
            return false;
        }
        // SAFETY: `next_page < end <= map.len()`; a missing page is zero-filled by the handler.
        unsafe { std::ptr::read_volatile(self.shared.map.as_ptr().add(next_page)) };
        self.shared.guard.zeroed_from() >= self.zeroed_seen
    }

    /// Bytes of the file that can be trusted now: the length on disk, less any part the
    /// handler had to zero-fill (a file truncated and written again), never growing again.
    #[cold]
    fn current_len(&mut self) -> usize {
        self.zeroed_seen = self.shared.guard.zeroed_from();
        let on_disk = self
            .file
            .metadata()
            .ok()
            .and_then(|m| usize::try_from(m.len()).ok())
            .unwrap_or(usize::MAX);
        self.readable = self.readable.min(on_disk).min(self.zeroed_seen);
        self.readable
    }
}

impl CaptureReader {
    /// A handle on the mapped file's bytes for other threads (`None`: the capture is read as a
    /// stream, its bytes must be copied). The last `packets` packets behind the reader, at
    /// most `max_bytes`, stay resident for them (further behind, a read faults the page in
    /// again from the file).
    pub fn share_mapped(&mut self, packets: u64, max_bytes: usize) -> Option<MappedBytes> {
        match &mut self.buf {
            Buffer::Mapped(mapped) => {
                mapped.keep.packets = packets.max(1);
                mapped.keep.max_bytes = max_bytes;
                // Where the reader is is noted every mark from now on (see `map_ahead`).
                mapped.check_at = mapped.check_at.min(self.start + KEEP_MARK_EVERY);
                Some(mapped.share())
            }
            Buffer::Owned(_) => None,
        }
    }

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
        let mapped = MappedFile::open(file)?;
        if input::compression_of(&mapped.bytes()[..4]) != Compression::None {
            return None;
        }
        let _ = mapped.shared.map.advise(memmap2::Advice::Sequential);
        let len = mapped.bytes().len();
        Some(Self::with_buffer(
            name,
            Box::new(io::empty()),
            Buffer::Mapped(mapped),
            len,
            Compression::None,
        ))
    }

    /// The next frame of a mapped file, checked to lie inside the file as it is now (see the
    /// module comment); consumed pages are released as reading moves on.
    #[inline(always)]
    pub(super) fn next_mapped_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        let step_start = self.start;
        let frame = self.next_frame()?;
        if let (Some(parsed), Buffer::Mapped(mapped)) = (&frame, &mut self.buf) {
            mapped.prefetch_ahead(self.start);
            if mapped.record_is_intact(self.start, self.end) {
                if parsed.data_at >= mapped.check_at {
                    self.release_mapped(parsed.data_at);
                }
                return Ok(frame);
            }
        }
        self.check_step_against_file(step_start, frame)
    }

    /// The end of the data, or a record the fast check could not vouch for: compares with the
    /// file's current length. A record past it, or a stop that may have read zeros, is parsed
    /// again against the shorter file (each retry means the file shrank again, so this ends).
    #[cold]
    #[inline(never)]
    fn check_step_against_file(
        &mut self,
        step_start: usize,
        mut frame: Option<Frame>,
    ) -> Result<Option<Frame>, CaptureError> {
        loop {
            // Bytes before this were parsed from the file as it was and stand: the step's
            // record (a frame), or the blocks before the one reading stopped at.
            let parsed = if frame.is_some() {
                step_start
            } else {
                self.start
            };
            let Buffer::Mapped(mapped) = &mut self.buf else {
                return Ok(frame);
            };
            let len = mapped.current_len().max(parsed);
            if len >= self.end {
                break;
            }
            mapped.shrink_untold = true;
            let stopped_inside = frame.is_none() && self.start < self.end;
            self.end = len;
            if frame.is_some() && self.start <= len {
                break;
            }
            if stopped_inside {
                self.unsay_stop();
            }
            self.start = parsed;
            self.finished = false;
            frame = self.next_frame()?;
        }
        match &frame {
            Some(frame) => self.release_mapped(frame.data_at),
            None => self.tell_shrink(),
        }
        Ok(frame)
    }

    /// Takes back the warning reading stopped with (it may describe zeros read past a cut).
    fn unsay_stop(&mut self) {
        match self.warnings.last() {
            Some(last) if last.ends_reading => {
                self.warnings.pop();
            }
            _ => {
                self.counters.suppressed_warnings =
                    self.counters.suppressed_warnings.saturating_sub(1)
            }
        }
    }

    /// Reading ended in a file that shrank while it was read: the last warning says so (or
    /// one is added when the cut fell between two records).
    fn tell_shrink(&mut self) {
        let Buffer::Mapped(mapped) = &mut self.buf else {
            return;
        };
        if !std::mem::take(&mut mapped.shrink_untold) {
            return;
        }
        let note = format!(
            "the file shrank from {} to {} bytes while it was read",
            mapped.bytes().len(),
            mapped.readable
        );
        match self.warnings.last_mut() {
            Some(last) if last.ends_reading => {
                last.message = format!("{} ({note})", last.message);
            }
            _ => {
                let at = self.end as u64;
                self.warn_stop(at, format!("{note}; reading stops"));
            }
        }
    }

    /// Hands the pages of a mapped file before `upto` (already parsed) back to the kernel, so
    /// they stop counting as this process's memory; they stay in the page cache.
    #[cold]
    pub(super) fn release_mapped(&mut self, upto: usize) {
        let packets = self.counters.packets;
        if let Buffer::Mapped(MappedFile {
            shared,
            check_at,
            keep,
            ..
        }) = &mut self.buf
        {
            let upto = if keep.packets == 0 {
                *check_at = upto + MAPPED_RELEASE_STEP;
                upto
            } else {
                shared.reader_at.store(upto, Ordering::Relaxed);
                *check_at = upto + KEEP_MARK_EVERY;
                keep.marks.push_back((packets, upto));
                while let Some(&(seen, at)) = keep.marks.front() {
                    if packets - seen < keep.packets && keep.marks.len() <= 64 {
                        break;
                    }
                    keep.floor = keep.floor.max(at);
                    keep.marks.pop_front();
                }
                keep.floor.max(upto.saturating_sub(keep.max_bytes))
            };
            // Whole 64 KiB units (a multiple of every page size in use).
            let upto = upto & !0xffff;
            shared.done_to.fetch_max(upto, Ordering::Relaxed);
            // With workers, an idle one hands the pages back; the reader does when none was.
            let lag = if keep.packets == 0 { 0 } else { HAND_BACK_LAG };
            if upto > shared.handed_back_to.load(Ordering::Relaxed) + lag {
                shared.hand_back();
            }
        }
    }
}

/// The SIGBUS handler and the table of mapped ranges it may repair.
#[cfg(unix)]
mod sigbus {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    /// Files mapped at once; a file opened while all are taken is read as a stream.
    const SLOTS: usize = 256;

    /// One registered mapping: `start == 0` when free.
    struct Slot {
        taken: AtomicBool,
        start: AtomicUsize,
        len: AtomicUsize,
        /// Offset of the first zero page mapped over the range (`usize::MAX`: none).
        zeroed_from: AtomicUsize,
    }

    static TABLE: [Slot; SLOTS] = [const {
        Slot {
            taken: AtomicBool::new(false),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            zeroed_from: AtomicUsize::new(usize::MAX),
        }
    }; SLOTS];

    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

    /// The action that was in place before ours (Rust's stack-overflow reporter, usually).
    static PREVIOUS: OnceLock<Previous> = OnceLock::new();

    struct Previous(libc::sigaction);
    // SAFETY: plain data (a function address, flags and a signal mask), only read.
    unsafe impl Sync for Previous {}
    unsafe impl Send for Previous {}

    pub fn page_size() -> usize {
        PAGE_SIZE.load(Ordering::Relaxed)
    }

    /// A mapped range known to the handler while this lives.
    pub struct Guard {
        slot: &'static Slot,
    }

    impl Guard {
        /// Registers `len` bytes mapped at `start` (installing the handler the first time);
        /// `None` when the handler cannot be installed or the table is full.
        pub fn register(start: usize, len: usize) -> Option<Guard> {
            if !install() {
                return None;
            }
            let slot = TABLE.iter().find(|slot| {
                slot.taken
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })?;
            slot.zeroed_from.store(usize::MAX, Ordering::Relaxed);
            slot.len.store(len, Ordering::Release);
            slot.start.store(start, Ordering::Release);
            Some(Guard { slot })
        }

        /// Offset of the first zero page mapped over the range (`usize::MAX`: none).
        #[inline(always)]
        pub fn zeroed_from(&self) -> usize {
            self.slot.zeroed_from.load(Ordering::Acquire)
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            self.slot.start.store(0, Ordering::Release);
            self.slot.len.store(0, Ordering::Release);
            self.slot.taken.store(false, Ordering::Release);
        }
    }

    impl Slot {
        /// If `address` lies in this slot's range: maps zero pages from its page to the end
        /// of the range and records it. Runs inside the signal handler: atomics and one
        /// `mmap` system call only.
        fn zero_fill(&self, address: usize) -> bool {
            let start = self.start.load(Ordering::Acquire);
            let len = self.len.load(Ordering::Acquire);
            let offset = address.wrapping_sub(start);
            if start == 0 || offset >= len {
                return false;
            }
            let page = PAGE_SIZE.load(Ordering::Relaxed);
            let from = offset & !(page - 1);
            let to = (len + page - 1) & !(page - 1);
            // SAFETY: replaces pages inside our own read-only file mapping (which the file no
            // longer backs) with anonymous zero pages; nothing else lives at those addresses.
            let mapped = unsafe {
                libc::mmap(
                    (start + from) as *mut libc::c_void,
                    to - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if mapped == libc::MAP_FAILED {
                return false;
            }
            self.zeroed_from.fetch_min(from, Ordering::AcqRel);
            true
        }
    }

    /// Installs the handler once for the process; whether it is in place.
    fn install() -> bool {
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        *INSTALLED.get_or_init(|| {
            // SAFETY: sysconf and sigaction with initialised arguments; the previous action is
            // stored before ours can run.
            unsafe {
                let page = libc::sysconf(libc::_SC_PAGESIZE);
                if page > 0 {
                    PAGE_SIZE.store(page as usize, Ordering::Relaxed);
                }
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                    return false;
                }
                let _ = PREVIOUS.set(Previous(previous));
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0
            }
        })
    }

    extern "C" fn on_sigbus(
        signal: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) {
        // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
        let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // BUS_ADRERR: an address the mapping's file no longer backs (not a hardware error).
        if code == libc::BUS_ADRERR && TABLE.iter().any(|slot| slot.zero_fill(address)) {
            return;
        }
        pass_on(signal, info, context);
    }

    /// A fault that is not ours: the previous handler's, or the default action (the faulting
    /// access runs again on return and ends the process with SIGBUS, as without us).
    fn pass_on(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
        let previous = PREVIOUS.get().map(|p| &p.0);
        // SAFETY: calls the handler that was installed before ours, with its own signature,
        // or puts the default action back.
        unsafe {
            match previous {
                Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
                    if p.sa_flags & libc::SA_SIGINFO != 0 {
                        let handler: extern "C" fn(
                            libc::c_int,
                            *mut libc::siginfo_t,
                            *mut libc::c_void,
                        ) = std::mem::transmute(p.sa_sigaction);
                        handler(signal, info, context);
                    } else {
                        let handler: extern "C" fn(libc::c_int) =
                            std::mem::transmute(p.sa_sigaction);
                        handler(signal);
                    }
                }
                _ => {
                    let mut default: libc::sigaction = std::mem::zeroed();
                    default.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(signal, &default, std::ptr::null_mut());
                }
            }
        }
    }
}

/// Elsewhere a mapped file cannot be truncated while mapped, or no handler is written here:
/// files are read as streams.
#[cfg(not(unix))]
mod sigbus {
    pub struct Guard;
    impl Guard {
        pub fn register(_start: usize, _len: usize) -> Option<Guard> {
            None
        }
        pub fn zeroed_from(&self) -> usize {
            usize::MAX
        }
    }
    pub fn page_size() -> usize {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefetch mark runs [`PREFETCH_AHEAD`] ahead of the reader, in whole lines, never
    /// back, never past the file's last line, and after a jump only the distance ahead.
    #[test]
    fn prefetching_keeps_a_fixed_distance_ahead_of_the_reader() {
        let path = std::env::temp_dir().join(format!("tracetail-prefetch-{}", std::process::id()));
        std::fs::write(&path, vec![0u8; 3 << 20]).expect("a temporary file");
        let file = std::fs::File::open(&path).expect("opened");
        let mut mapped = MappedFile::open(&file).expect("mapped");
        std::fs::remove_file(&path).expect("removed");
        mapped.prefetch_ahead(0);
        assert_eq!(mapped.prefetched_to, PREFETCH_AHEAD);
        mapped.prefetch_ahead(100);
        assert_eq!(
            mapped.prefetched_to,
            (100 + PREFETCH_AHEAD).next_multiple_of(CACHE_LINE)
        );
        mapped.prefetch_ahead(50);
        assert_eq!(
            mapped.prefetched_to,
            (100 + PREFETCH_AHEAD).next_multiple_of(CACHE_LINE)
        );
        mapped.prefetch_ahead(1 << 20);
        assert_eq!(mapped.prefetched_to, (1 << 20) + PREFETCH_AHEAD);
        mapped.prefetch_ahead((3 << 20) - 10);
        assert_eq!(mapped.prefetched_to, 3 << 20);
    }
}

//! The usual head read without httparse: a request or status line and `Name: value` lines of
//! printable ASCII, every line ending in CRLF, at most [`HEADER_SLOTS`] headers.
//!
//! httparse validates and records every header, then tracetail looks at four of them; this
//! reader checks each line eight bytes at a time and keeps only what [`super::head::Head`]
//! needs. It accepts a subset of what httparse accepts and reads it the same way (the same
//! length, method, target, version, status and header values), and says `Incomplete` only
//! where httparse says `Partial` (the first piece of a head split over packets); anything else
//! (a tab, a bare LF, a byte outside printable ASCII, a folded line, an odd status line) is
//! `Other` and httparse decides, so what is accepted and rejected does not change.

use super::detect::is_token_byte;
use super::head::{note_header, Head, HEADER_SLOTS};
use compact_str::CompactString;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Position of the first byte of `bytes` that is `marked`, eight bytes at a time: `flags`
/// maps eight bytes (little endian) to a word with the top bit set in marked bytes, exact at
/// least for the lowest one; the last bytes short of eight are asked one by one.
#[inline(always)]
fn first_marked(
    bytes: &[u8],
    flags: impl Fn(u64) -> u64,
    marked: impl Fn(u8) -> bool,
) -> Option<usize> {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for (i, word) in words.enumerate() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let found = flags(u64::from_le_bytes(eight));
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let at = bytes.len() - tail.len();
    tail.iter().position(|&b| marked(b)).map(|i| at + i)
}

/// Length of the run of `bytes[from..]` in `lo..=0x7E` (printable ASCII from `lo`, in
/// `1..=0x7F`): sixteen bytes at a time, the last sixteen of `bytes` for the rest when there
/// are sixteen (a head's last line), else eight at a time.
#[inline(always)]
fn printable_run(bytes: &[u8], from: usize, lo: u8) -> usize {
    let mut at = from;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        while let Some(sixteen) = bytes.get(at..at + 16) {
            let outside = wide::outside_printable(sixteen, lo);
            if outside != 0 {
                return at - from + outside.trailing_zeros() as usize;
            }
            at += 16;
        }
        if let Some(last) = bytes.len().checked_sub(16) {
            // `at` is past `last`: the bytes before it were looked at already.
            let outside = wide::outside_printable(&bytes[last..], lo) >> (at - last);
            let run = if outside != 0 {
                outside.trailing_zeros() as usize
            } else {
                bytes.len() - at
            };
            return at - from + run;
        }
    }
    let below = ONES * u64::from(lo);
    // A byte under `lo` borrows into its top bit, 0x7F and up reach it when one is added,
    // 0x80 and up have it. Borrows and carries only start at such a byte, so the lowest
    // flagged byte is the first one outside.
    let outside = |x: u64| (x.wrapping_sub(below) | x.wrapping_add(ONES) | x) & HIGH;
    let rest = &bytes[at..];
    at - from + first_marked(rest, outside, |b| b < lo || b > 0x7e).unwrap_or(rest.len())
}

/// Position of the first `needle` in `bytes`, eight bytes at a time (what
/// `iter().position(|&b| b == needle)` answers).
#[inline]
pub(super) fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = ONES * u64::from(needle);
    // The needle's bytes become zero; a zero byte borrows into its top bit. A borrow can flag
    // a byte after a zero one, never before it, so the lowest flag is the first match.
    let found = |x: u64| {
        let x = x ^ pattern;
        x.wrapping_sub(ONES) & !x & HIGH
    };
    first_marked(bytes, found, |b| b == needle)
}

/// Why the plain reader read no head.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NotPlain {
    /// The bytes end inside a head of the usual shape: httparse says `Partial` as well (it
    /// reads left to right and stops at the first byte it rejects, and every byte so far is
    /// one it accepts there).
    Incomplete,
    /// Anything else: httparse decides.
    Other,
}

use NotPlain::{Incomplete, Other};

/// `bytes[at..]` starts with `literal`; `Incomplete` when the bytes end in a prefix of it.
#[inline(always)]
fn expect<const N: usize>(bytes: &[u8], at: usize, literal: &[u8; N]) -> Result<(), NotPlain> {
    match bytes.get(at..at + N) {
        // The whole literal is there (the usual case): one comparison.
        Some(have) if have == literal => Ok(()),
        Some(_) => Err(Other),
        None => {
            let have = bytes.get(at..).unwrap_or_default();
            if have.iter().zip(literal).all(|(a, b)| a == b) {
                Err(Incomplete)
            } else {
                Err(Other)
            }
        }
    }
}

/// `HTTP/1.0` or `HTTP/1.1` at `at`, as tracetail writes the version.
fn version(bytes: &[u8], at: usize) -> Result<&'static str, NotPlain> {
    expect(bytes, at, b"HTTP/1.")?;
    match bytes.get(at + 7) {
        Some(b'1') => Ok("1.1"),
        Some(b'0') => Ok("1.0"),
        Some(_) => Err(Other),
        None => Err(Incomplete),
    }
}

/// Length of the run of token bytes of `bytes[from..]`. Names are mostly letters, digits and
/// `-`: a run of those is found sixteen bytes at a time (in the last sixteen of `bytes` near
/// its end), and the bytes from the first other one are asked one by one (the colon after a
/// name ends it at once).
#[inline(always)]
fn token_run(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(sixteen) = bytes.get(at..at + 16) {
        at += wide::alphanumeric_or_dash(sixteen).trailing_ones() as usize;
    } else if let Some(last) = bytes.len().checked_sub(16) {
        // Bits past the end are shifted in as zeros: the run stops at the end.
        at += (wide::alphanumeric_or_dash(&bytes[last..]) >> (at - last)).trailing_ones() as usize;
    }
    let rest = &bytes[at..];
    at - from
        + rest
            .iter()
            .position(|&b| !is_token_byte(b))
            .unwrap_or(rest.len())
}

/// Sixteen bytes classified at once with SSE2 (always there on x86-64): each function gives
/// a mask with bit `i` set when byte `i` is of the kind it names.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod wide {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    // SAFETY (every `unsafe` here): the module is built only where SSE2 is enabled, and a
    // load reads the sixteen bytes of a slice of sixteen (`loadu`: any alignment).
    fn load(sixteen: &[u8]) -> __m128i {
        assert_eq!(sixteen.len(), 16);
        unsafe { _mm_loadu_si128(sixteen.as_ptr().cast()) }
    }

    /// Bytes outside `lo..=0x7E` (`lo` in `1..=0x7F`). Compared as signed bytes, 0x80 and up
    /// are negative: below `lo` like the control bytes.
    #[inline(always)]
    pub(super) fn outside_printable(sixteen: &[u8], lo: u8) -> u32 {
        debug_assert!((1..=0x7f).contains(&lo));
        let x = load(sixteen);
        unsafe {
            let below = _mm_cmplt_epi8(x, _mm_set1_epi8(lo as i8));
            let delete = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
            _mm_movemask_epi8(_mm_or_si128(below, delete)) as u32
        }
    }

    /// ASCII letters, digits and `-`: token bytes all.
    #[inline(always)]
    pub(super) fn alphanumeric_or_dash(sixteen: &[u8]) -> u32 {
        let x = load(sixteen);
        let within = |x: __m128i, lo: u8, hi: u8| unsafe {
            _mm_and_si128(
                _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
            )
        };
        unsafe {
            // Setting 0x20 lowercases letters and makes no other byte a lowercase letter.
            let letter = within(_mm_or_si128(x, _mm_set1_epi8(0x20)), b'a', b'z');
            let digit = within(x, b'0', b'9');
            let dash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'-' as i8));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), dash)) as u32
        }
    }
}

/// Bytes [`printable_run`] accepted, as text without a UTF-8 check.
#[inline(always)]
pub(super) fn ascii_text(printable: &[u8]) -> &str {
    debug_assert!(printable.is_ascii());
    // SAFETY: callers pass printable ASCII (what `printable_run` measured), which is UTF-8.
    unsafe { std::str::from_utf8_unchecked(printable) }
}

/// `bytes` without leading and trailing spaces (`trim_ascii` on printable ASCII, whose only
/// blank is the space, with one comparison a byte).
#[inline]
fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' '] = bytes {
        bytes = rest;
    }
    bytes
}

/// The request line (`METHOD SP target SP HTTP/1.x CRLF`) into `head`; the offset after it.
fn request_line(buf: &[u8], head: &mut Head) -> Result<usize, NotPlain> {
    let method_len = token_run(buf, 0);
    if method_len == buf.len() {
        return Err(Incomplete);
    }
    if method_len == 0 || buf[method_len] != b' ' {
        return Err(Other);
    }
    let target_start = method_len + 1;
    let target_end = target_start + printable_run(buf, target_start, b'!');
    if target_end == buf.len() {
        return Err(Incomplete);
    }
    if target_end == target_start || buf[target_end] != b' ' {
        return Err(Other);
    }
    let version_start = target_end + 1;
    head.version = version(buf, version_start)?;
    expect(buf, version_start + 8, b"\r\n")?;
    head.method = match &buf[..method_len] {
        // The usual methods need no UTF-8 check.
        b"GET" => CompactString::const_new("GET"),
        b"POST" => CompactString::const_new("POST"),
        other => CompactString::from(std::str::from_utf8(other).map_err(|_| Other)?),
    };
    head.uri = CompactString::from(ascii_text(&buf[target_start..target_end]));
    Ok(version_start + 10)
}

/// The status line (`HTTP/1.x SP NNN SP reason CRLF`) into `head`; the offset after it.
fn status_line(buf: &[u8], head: &mut Head) -> Result<usize, NotPlain> {
    head.version = version(buf, 0)?;
    expect(buf, 8, b" ")?;
    for at in 9..12 {
        match buf.get(at) {
            Some(b) if b.is_ascii_digit() => head.status = head.status * 10 + u16::from(b - b'0'),
            Some(_) => return Err(Other),
            None => return Err(Incomplete),
        }
    }
    expect(buf, 12, b" ")?;
    let reason_end = 13 + printable_run(buf, 13, b' ');
    expect(buf, reason_end, b"\r\n")?;
    Ok(reason_end + 2)
}

/// A head of the usual shape, read as httparse would read it: complete, or `Incomplete` when
/// the bytes end inside one, or `Other` for anything else (httparse then decides).
#[inline(always)]
pub(super) fn read_plain_head(buf: &[u8], request: bool) -> Result<Head, NotPlain> {
    let mut head = Head::default();
    let mut at = if request {
        request_line(buf, &mut head)?
    } else {
        status_line(buf, &mut head)?
    };
    // `Name: value` lines of printable ASCII, each ending in CRLF; the empty line ends the head.
    // (An exclusive range: `0..=N` costs a check more per step.)
    for _ in 0..HEADER_SLOTS + 1 {
        let line = &buf[at..];
        // Token bytes are printable: the name is the start of the printable run, which goes on
        // from where the name stops.
        let name_len = token_run(buf, at);
        let end = name_len + printable_run(buf, at + name_len, b' ');
        if let Err(stop) = expect(line, end, b"\r\n") {
            // The bytes end in this line: is it the start of `Name: value` or of the empty
            // line? (A name is complete only with its colon.)
            let in_name = name_len == end && (end == line.len() || end == 0);
            let started = in_name || (name_len > 0 && line[name_len] == b':');
            return Err(if stop == Incomplete && started {
                Incomplete
            } else {
                Other
            });
        }
        if end == 0 {
            head.len = at + 2;
            return Ok(head);
        }
        if name_len == 0 || line[name_len] != b':' {
            return Err(Other);
        }
        // Printable ASCII: the only blank to trim is the space, as httparse trims.
        let value = trim_spaces(&line[name_len + 1..end]);
        note_header::<true>(&mut head, &line[..name_len], value);
        at += end + 2;
    }
    // More headers than httparse's first slots.
    Err(Other)
}

#[cfg(test)]
mod tests {
    use super::{find_byte, is_token_byte, printable_run, read_plain_head, token_run, NotPlain};
    use crate::analyzers::http::head::{parse_head_httparse, HeadResult};
    use crate::analyzers::xorshift;

    #[test]
    fn find_byte_finds_the_first_match() {
        for len in 0..20usize {
            for at in 0..=len {
                for second in [None, Some(at + 1), Some(len.saturating_sub(1))] {
                    let mut bytes: Vec<u8> =
                        (0..len).map(|i| [b'a', 0x0b, 0x8a, 0xff][i % 4]).collect();
                    for i in [Some(at), second]
                        .into_iter()
                        .flatten()
                        .filter(|&i| i < len)
                    {
                        bytes[i] = b'\n';
                    }
                    let expected = bytes.iter().position(|&b| b == b'\n');
                    assert_eq!(find_byte(&bytes, b'\n'), expected, "{bytes:?}");
                }
            }
        }
    }

    /// Every start in buffers of 0..40 bytes (the sixteen-byte steps, the last sixteen and
    /// the short buffer's eight at a time), with one or two bytes outside placed anywhere.
    #[test]
    fn printable_run_finds_the_first_byte_outside() {
        for lo in [b' ', b'!'] {
            for len in 0..40usize {
                for bad in [0u8, 0x09, 0x0d, 0x1f, b' ', 0x7f, 0x80, 0xff] {
                    for at in 0..=len {
                        for second in [None, Some(len.saturating_sub(1)), Some(at / 2)] {
                            let mut bytes = vec![b'a'; len];
                            for i in [Some(at), second].into_iter().flatten() {
                                if i < len {
                                    bytes[i] = bad;
                                }
                            }
                            for from in 0..=len {
                                let expected = bytes[from..]
                                    .iter()
                                    .position(|&b| b < lo || b > 0x7e)
                                    .unwrap_or(len - from);
                                assert_eq!(
                                    printable_run(&bytes, from, lo),
                                    expected,
                                    "{bytes:?} from {from}, lo {lo}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// As `iter().position` over token bytes answers, from every start of random buffers of
    /// 0..40 bytes mostly of name bytes.
    #[test]
    fn token_run_is_the_run_of_token_bytes() {
        let alphabet = b"aZz09-_.!~:; \r\n\x80\xff@[`{";
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let i = next() as usize % (3 * alphabet.len());
                    // Two in three bytes a letter, so runs get long.
                    alphabet.get(i).copied().unwrap_or(b'k')
                })
                .collect();
            for from in 0..=len {
                let expected = bytes[from..]
                    .iter()
                    .position(|&b| !is_token_byte(b))
                    .unwrap_or(len - from);
                assert_eq!(token_run(&bytes, from), expected, "{bytes:?} from {from}");
            }
        }
    }

    /// Every head the plain reader accepts, httparse reads to the same fields; where it says
    /// `Incomplete`, httparse says `Partial`. Whether it read a complete head.
    fn same_as_httparse(buf: &[u8], request: bool) -> bool {
        let reference = parse_head_httparse(buf, request);
        match read_plain_head(buf, request) {
            Ok(plain) => {
                let HeadResult::Complete(reference) = reference else {
                    panic!("httparse does not accept what the plain reader read: {buf:?}");
                };
                assert_eq!(format!("{plain:?}"), format!("{reference:?}"), "{buf:?}");
                true
            }
            Err(NotPlain::Incomplete) => {
                assert!(
                    matches!(reference, HeadResult::Partial),
                    "{buf:?}: {reference:?}"
                );
                false
            }
            Err(NotPlain::Other) => false,
        }
    }

    #[test]
    fn reads_what_httparse_reads_or_leaves_it_to_httparse() {
        let requests: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
            b"POST /submit?x=1 HTTP/1.0\r\nhost:  b \r\nContent-Length: 12\r\n\r\nbody",
            b"PUT /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            b"PUT /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            b"GET /u HTTP/1.1\r\nUpgrade: websocket, h2c\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
            b"GET /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nHost: x\r\nHost: y\r\n\r\n",
            b"M-SEARCH * HTTP/1.1\r\n\r\n",
        ];
        for r in requests {
            assert!(same_as_httparse(r, true), "{r:?}");
        }
        let responses: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.0 404 Not  Found \r\nServer: x\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
        ];
        for r in responses {
            assert!(same_as_httparse(r, false), "{r:?}");
        }
        // Left to httparse: bare LF, tabs, folded lines, spaces before the colon, non-ASCII,
        // no reason phrase, two spaces, HTTP/2, partial heads, leading empty lines.
        let unusual: &[(&[u8], bool)] = &[
            (b"GET / HTTP/1.1\nHost: a\n\n", true),
            (b"GET / HTTP/1.1\r\nHost:\ta\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", true),
            (b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", true),
            (b"GET  / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/2.0\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", true),
            (b"\r\nGET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", true),
            (b"HTTP/1.1 200\r\n\r\n", false),
            (b"HTTP/1.1  200 OK\r\n\r\n", false),
            (b"HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", false),
            (b"HTTP/1.1 200 OK\r\nA : b\r\n\r\n", false),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", false),
        ];
        for (r, request) in unusual {
            let read = read_plain_head(r, *request);
            let incomplete = [&b"GET / HTTP/1.1\r\nHost: a\r\n"[..]].contains(r);
            let expected = if incomplete {
                NotPlain::Incomplete
            } else {
                NotPlain::Other
            };
            assert_eq!(read.err(), Some(expected), "{r:?}");
            same_as_httparse(r, *request);
        }
    }

    /// Heads of the usual shape with bytes changed at random (xorshift, fixed seed): whatever
    /// the plain reader accepts, httparse reads to the same fields.
    #[test]
    fn mutated_heads_are_read_as_httparse_reads_them() {
        let seeds: &[(&[u8], bool)] = &[
            (b"GET /a/b?c=d HTTP/1.1\r\nHost: h.example:80\r\nContent-Length: 10\r\nUpgrade: h2c\r\n\r\n", true),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 7\r\nServer: s\r\n\r\n", false),
        ];
        let alphabet = b" \t\r\n:,+-0129aAHhz/\x7f\x80\xff\x00\x0b";
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for round in 0..20_000 {
            let (seed, request) = seeds[round % seeds.len()];
            let mut head = seed.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % head.len() as u64) as usize;
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 => head[at] = byte,
                    1 => head.insert(at, byte),
                    _ => {
                        head.remove(at);
                    }
                }
            }
            if same_as_httparse(&head, request) {
                accepted += 1;
            }
            // And a piece of it, as a head split over packets arrives.
            let cut = (next() % (head.len() as u64 + 1)) as usize;
            same_as_httparse(&head[..cut], request);
        }
        // Both the accepted and the left-over paths were exercised.
        assert!(accepted > 1_000 && accepted < 19_000, "{accepted}");
    }

    #[test]
    fn every_prefix_of_a_usual_head_is_incomplete_as_for_httparse() {
        let heads: &[(&[u8], bool)] = &[
            (
                b"GET /a?b HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nContent-Length: 2\r\n\r\n",
                true,
            ),
            (
                b"HTTP/1.0 204 No Content\r\nUpgrade: h2c\r\nA:  b \r\n\r\n",
                false,
            ),
        ];
        for (head, request) in heads {
            assert!(same_as_httparse(head, *request));
            for cut in 0..head.len() {
                let piece = &head[..cut];
                assert_eq!(
                    read_plain_head(piece, *request).err(),
                    Some(NotPlain::Incomplete)
                );
                assert!(!same_as_httparse(piece, *request));
            }
        }
    }

    #[test]
    fn more_headers_than_slots_are_left_to_httparse() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..64 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let mut more = head.clone();
        head.extend_from_slice(b"\r\n");
        assert!(same_as_httparse(&head, true));
        more.extend_from_slice(b"X-64: v\r\n\r\n");
        assert_eq!(read_plain_head(&more, true).err(), Some(NotPlain::Other));
    }
}

//! Head parsing: request and status lines and the headers tracetail keeps (the usual shape by
//! `plain`, anything else with `httparse`).

use super::plain::{read_plain_head, NotPlain};
use compact_str::CompactString;
use std::mem::MaybeUninit;

/// The parts of a message head tracetail keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Head {
    pub(super) len: usize,
    pub(super) method: CompactString,
    pub(super) uri: CompactString,
    /// `1.0` or `1.1`: a literal, so a response head (whose version only an orphan keeps)
    /// allocates nothing for it.
    pub(super) version: &'static str,
    pub(super) status: u16,
    pub(super) host: Option<CompactString>,
    pub(super) content_length: Option<u64>,
    pub(super) chunked: bool,
    /// Conflicting or unparsable Content-Length.
    pub(super) bad_length: bool,
    /// `Upgrade: h2c` (a request asking to switch to cleartext HTTP/2).
    pub(super) upgrade_h2c: bool,
}

#[derive(Debug)]
pub(crate) enum HeadResult {
    Complete(Head),
    Partial,
    Invalid,
}

fn head_from_headers(len: usize, headers: &[httparse::Header<'_>], head: &mut Head) {
    head.len = len;
    for h in headers {
        note_header::<false>(head, h.name.as_bytes(), h.value);
    }
}

/// Whether the header name `name` (token bytes, as both readers ensure) is `lower` (lowercase
/// letters and `-`) in any case. On token bytes OR-ing 0x20 is `to_ascii_lowercase` as far as
/// letters and `-` go (only letters become letters, only `-` becomes `-`), and it compares
/// the whole name at once instead of byte by byte.
#[inline]
fn is_name<const N: usize>(name: &[u8], lower: &[u8; N]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else {
        return false;
    };
    let mut differ = 0;
    for (a, b) in name.iter().zip(lower) {
        differ |= (a | 0x20) ^ b;
    }
    differ == 0
}

/// Records the header `name: value` if it is one tracetail keeps (`name` of token bytes,
/// `value` as httparse gives it: leading and trailing blanks removed). `PRINTABLE`: the value
/// is known to be printable ASCII without spaces at either end (the plain reader's).
#[inline(always)]
pub(super) fn note_header<const PRINTABLE: bool>(head: &mut Head, name: &[u8], value: &[u8]) {
    // The length picks the one name a header can be: most headers are compared with none.
    match name.len() {
        // The first Host counts.
        4 if is_name(name, b"host") && head.host.is_none() => {
            // Valid UTF-8 (the usual case) is checked faster than the lossy path does; the
            // plain reader's values need neither the check nor trimming.
            let host = if PRINTABLE {
                CompactString::from(super::plain::ascii_text(value))
            } else {
                match std::str::from_utf8(value) {
                    Ok(text) => CompactString::from(text.trim()),
                    Err(_) => CompactString::from(String::from_utf8_lossy(value).trim()),
                }
            };
            head.host = Some(host);
        }
        14 if is_name(name, b"content-length") => {
            let parsed = content_length(value);
            match (parsed, head.content_length) {
                (Some(v), None) => head.content_length = Some(v),
                (Some(v), Some(old)) if v == old => {}
                _ => head.bad_length = true,
            }
        }
        7 if is_name(name, b"upgrade") => {
            head.upgrade_h2c = value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"));
        }
        17 if is_name(name, b"transfer-encoding") => {
            // Chunked counts when it is the final coding.
            let value = String::from_utf8_lossy(value);
            head.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
        }
        _ => {}
    }
}

/// A Content-Length value: what `str::trim().parse::<u64>()` accepts (digits with an optional
/// `+`, surrounded by whitespace), read from the bytes directly when they are ASCII.
fn content_length(value: &[u8]) -> Option<u64> {
    // The usual value: up to 19 digits, which cannot overflow.
    if (1..=19).contains(&value.len()) && value.iter().all(u8::is_ascii_digit) {
        return Some(value.iter().fold(0, |n, &b| n * 10 + u64::from(b - b'0')));
    }
    if !value.is_ascii() {
        return std::str::from_utf8(value).ok()?.trim().parse().ok();
    }
    // `char::is_whitespace` on ASCII (it includes the vertical tab, `trim_ascii` does not).
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = value.iter().position(|b| !space(b))?;
    let end = value.iter().rposition(|b| !space(b))? + 1;
    let digits = match &value[start..end] {
        [b'+', rest @ ..] => rest,
        all => all,
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// `HTTP/1.x` as tracetail writes the version: `1.0` or `1.1`, the only two httparse accepts.
fn http1_version(minor: Option<u8>) -> &'static str {
    match minor {
        Some(0) => "1.0",
        _ => "1.1",
    }
}

fn parse_head_with<'b>(
    buf: &'b [u8],
    request: bool,
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<HeadResult, httparse::Error> {
    let mut head = Head::default();
    if request {
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(buf, headers)? {
            httparse::Status::Partial => return Ok(HeadResult::Partial),
            httparse::Status::Complete(n) => {
                head.method = CompactString::from(req.method.unwrap_or_default());
                head.uri = CompactString::from(req.path.unwrap_or_default());
                head.version = http1_version(req.version);
                head_from_headers(n, req.headers, &mut head);
            }
        }
    } else {
        let mut resp = httparse::Response::new(&mut []);
        let status = httparse::ParserConfig::default()
            .allow_spaces_after_header_name_in_responses(true)
            .allow_obsolete_multiline_headers_in_responses(true)
            .allow_multiple_spaces_in_response_status_delimiters(true)
            .parse_response_with_uninit_headers(&mut resp, buf, headers)?;
        match status {
            httparse::Status::Partial => return Ok(HeadResult::Partial),
            httparse::Status::Complete(n) => {
                head.status = resp.code.unwrap_or(0);
                head.version = http1_version(resp.version);
                head_from_headers(n, resp.headers, &mut head);
            }
        }
    }
    Ok(HeadResult::Complete(head))
}

/// Header slots httparse is given first (a head with more is retried with 1024).
pub(super) const HEADER_SLOTS: usize = 64;

/// Parses a request or response head: the usual shape (or the start of one) by
/// [`read_plain_head`], the rest by httparse (same answers, see `plain`).
pub(crate) fn parse_head(buf: &[u8], request: bool) -> HeadResult {
    match read_plain_head(buf, request) {
        Ok(head) => HeadResult::Complete(head),
        Err(NotPlain::Incomplete) => HeadResult::Partial,
        Err(NotPlain::Other) => parse_head_httparse(buf, request),
    }
}

/// Parses a head with httparse; retries with more header slots when 64 are not enough.
/// The slots start uninitialised: zeroing 64 of them cost more than parsing a short head.
pub(super) fn parse_head_httparse(buf: &[u8], request: bool) -> HeadResult {
    let mut headers = [const { MaybeUninit::uninit() }; HEADER_SLOTS];
    match parse_head_with(buf, request, &mut headers) {
        Ok(r) => r,
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![MaybeUninit::uninit(); 1024];
            parse_head_with(buf, request, &mut many).unwrap_or(HeadResult::Invalid)
        }
        Err(_) => HeadResult::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::{content_length, is_name};
    use crate::analyzers::http::detect::is_token_byte;

    #[test]
    fn is_name_is_eq_ignore_ascii_case_on_tokens() {
        let names: [&[u8]; 4] = [b"host", b"upgrade", b"content-length", b"transfer-encoding"];
        let check = |name: &[u8]| {
            let expected = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
            assert_eq!(is_name(name, b"host"), expected(names[0]), "{name:?}");
            assert_eq!(is_name(name, b"upgrade"), expected(names[1]), "{name:?}");
            assert_eq!(
                is_name(name, b"content-length"),
                expected(names[2]),
                "{name:?}"
            );
            assert_eq!(
                is_name(name, b"transfer-encoding"),
                expected(names[3]),
                "{name:?}"
            );
        };
        // Each name with every token byte put at every position, and upper-cased.
        for name in names {
            check(&name.to_ascii_uppercase());
            for at in 0..name.len() {
                for b in (0..=255u8).filter(|&b| is_token_byte(b)) {
                    let mut changed = name.to_vec();
                    changed[at] = b;
                    check(&changed);
                }
            }
        }
    }

    #[test]
    fn content_length_reads_what_str_parse_reads() {
        let reference =
            |v: &[u8]| -> Option<u64> { std::str::from_utf8(v).ok()?.trim().parse().ok() };
        let mut cases: Vec<Vec<u8>> = [
            &b"0"[..],
            b"5",
            b" 42 ",
            b"\t7\r",
            b"+9",
            b"++9",
            b"-1",
            b"+",
            b"",
            b"  ",
            b"1 2",
            b"0x10",
            b"007",
            b"\x0b3\x0c",
            b"9999999999999999999",
            b"0000000000000000000",
            b"18446744073709551615",
            b"18446744073709551616",
            b"99999999999999999999",
            "\u{a0}12".as_bytes(),
            "12\u{3000}".as_bytes(),
            b"1\xff",
            b"\xff",
            "١٢".as_bytes(),
        ]
        .iter()
        .map(|c| c.to_vec())
        .collect();
        // Every one- and two-byte value over a small alphabet.
        let alphabet = b" \t\x0b+-09a\r";
        for &a in alphabet {
            cases.push(vec![a]);
            for &b in alphabet {
                cases.push(vec![a, b]);
            }
        }
        for case in cases {
            assert_eq!(content_length(&case), reference(&case), "{case:?}");
        }
    }
}

//! Detection: does a direction start with an HTTP/1.x request line or status line, and where
//! does the next message start after garbage or a gap.

/// While resyncing, bytes kept in case they begin a request line whose ` HTTP/1.` is still to come.
const MAX_REQUEST_LINE_HELD: usize = 8 << 10;
/// Longest method token accepted when recognising a request line.
pub(super) const MAX_METHOD_LEN: usize = 32;

/// What the first bytes of a direction look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Looks {
    Request,
    Response,
    NeedMore,
    No,
}

/// RFC 9110 `tchar`: the bytes of a method or header name (httparse's set), one lookup each.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(
            b as u8,
            b'0'..=b'9'
                | b'A'..=b'Z'
                | b'a'..=b'z'
                | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
                | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        );
        b += 1;
    }
    table
};

#[inline]
pub(super) fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

/// Classifies the start of a stream: a request line, a status line, or neither.
/// `NeedMore` means the bytes so far are a prefix of one of them.
pub(crate) fn classify(buf: &[u8]) -> Looks {
    const VERSION: &[u8] = b"HTTP/1.";
    // Status line: "HTTP/1.x NNN".
    let prefix_len = buf.len().min(VERSION.len());
    if buf[..prefix_len] == VERSION[..prefix_len] {
        if buf.len() < 13 {
            // "HTTP/1.1 200" needs 12 bytes plus the byte after the code.
            let ok = buf
                .iter()
                .enumerate()
                .skip(VERSION.len())
                .all(|(i, &b)| match i {
                    7 => b == b'0' || b == b'1',
                    8 => b == b' ',
                    _ => b.is_ascii_digit(),
                });
            return if ok { Looks::NeedMore } else { Looks::No };
        }
        let ok = (buf[7] == b'0' || buf[7] == b'1')
            && buf[8] == b' '
            && buf[9..12].iter().all(u8::is_ascii_digit)
            && matches!(buf[12], b' ' | b'\r' | b'\n');
        return if ok { Looks::Response } else { Looks::No };
    }
    // Request line: token SP target SP HTTP/1.x CRLF.
    let method_len = buf.iter().take_while(|&&b| is_token_byte(b)).count();
    if method_len == buf.len() {
        return if method_len <= MAX_METHOD_LEN {
            Looks::NeedMore
        } else {
            Looks::No
        };
    }
    if method_len == 0 || method_len > MAX_METHOD_LEN || buf[method_len] != b' ' {
        return Looks::No;
    }
    let rest = &buf[method_len + 1..];
    let target_len = rest.iter().take_while(|&&b| is_target_byte(b)).count();
    if target_len == rest.len() {
        return Looks::NeedMore;
    }
    if target_len == 0 || rest[target_len] != b' ' {
        return Looks::No;
    }
    let version = &rest[target_len + 1..];
    let n = version.len().min(VERSION.len());
    if version[..n] != VERSION[..n] {
        return Looks::No;
    }
    match (version.get(7), version.get(8), version.get(9)) {
        (None, _, _) => Looks::NeedMore,
        (Some(b'0' | b'1'), None, _) => Looks::NeedMore,
        (Some(b'0' | b'1'), Some(b'\n'), _) => Looks::Request,
        (Some(b'0' | b'1'), Some(b'\r'), None) => Looks::NeedMore,
        (Some(b'0' | b'1'), Some(b'\r'), Some(b'\n')) => Looks::Request,
        _ => Looks::No,
    }
}

/// A byte that can be part of a request target.
pub(super) fn is_target_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

/// `METHOD SP target` with the target's end not seen yet: a request line in progress (bytes
/// that only extend the target leave it so, and need no new classification).
pub(super) fn request_target_in_progress(buf: &[u8]) -> bool {
    let method_len = buf.iter().take_while(|&&b| b.is_ascii_uppercase()).count();
    (1..=MAX_METHOD_LEN).contains(&method_len)
        && buf.get(method_len) == Some(&b' ')
        && buf.len() > method_len + 1
        && buf[method_len + 1..].iter().all(|&b| is_target_byte(b))
}

/// Where a message of the wanted kind starts in `buf` (after garbage or a gap), found by its
/// anchor: `HTTP/1.` for a status line, ` HTTP/1.` preceded by `token SP target` for a request
/// line. Not restricted to line starts, since the bytes before may be the tail of a binary body.
/// `Err(keep_from)`: no complete candidate; bytes from `keep_from` may still start one.
pub(super) fn find_message_start(buf: &[u8], want: Looks) -> Result<usize, usize> {
    let anchor: &[u8] = if want == Looks::Response {
        b"HTTP/1."
    } else {
        b" HTTP/1."
    };
    let mut from = 0;
    while let Some(found) = buf[from..].windows(anchor.len()).position(|w| w == anchor) {
        let at = from + found;
        from = at + 1;
        let start = if want == Looks::Response {
            at
        } else {
            // Walk back over the target, its separating space and the method token.
            let target_start = buf[..at]
                .iter()
                .rposition(|&b| b <= b' ' || b == 0x7f)
                .map_or(0, |i| i + 1);
            if target_start == 0 || target_start == at || buf[target_start - 1] != b' ' {
                continue;
            }
            let method_end = target_start - 1;
            let method_len = buf[..method_end]
                .iter()
                .rev()
                .take(MAX_METHOD_LEN + 1)
                .take_while(|&&b| is_token_byte(b))
                .count();
            if method_len == 0 || method_len > MAX_METHOD_LEN {
                continue;
            }
            method_end - method_len
        };
        match classify(&buf[start..]) {
            l if l == want => return Ok(start),
            Looks::NeedMore => return Err(start),
            _ => {}
        }
    }
    // Keep what could be the beginning of a message whose anchor has not arrived yet.
    let keep = if want == Looks::Response {
        buf.len().saturating_sub(anchor.len() - 1)
    } else {
        buf.iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |nl| nl + 1)
            .max(buf.len().saturating_sub(MAX_REQUEST_LINE_HELD))
    };
    Err(keep)
}

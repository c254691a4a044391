//! Detection: the client preface proves HTTP/2; without it (a capture that starts in the
//! middle of a connection) a run of plausible frames that fills the first payload exactly.

use super::frame::{kind, Head, HEADER_LEN, PREFACE};

/// Longest frame the content probe accepts (peers may raise SETTINGS_MAX_FRAME_SIZE; 1 MiB is
/// more than the usual implementations use).
const PROBE_MAX_FRAME: usize = 1 << 20;

/// What the first bytes of a direction show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The client preface (the preface is complete, or the bytes are a prefix of at least
    /// 16 bytes of it: `PRI * HTTP/2.0\r\n` is not an HTTP/1.x request).
    Preface,
    /// Fewer than 16 bytes, all of them the preface's: maybe (more bytes will tell).
    PrefacePrefix,
    /// Frames, starting at the first byte.
    Frames,
    None,
}

/// Classifies the first payload of a connection.
pub fn evidence(bytes: &[u8]) -> Evidence {
    let n = bytes.len().min(PREFACE.len());
    if n > 0 && bytes[..n] == PREFACE[..n] {
        return if n >= 16 {
            Evidence::Preface
        } else {
            Evidence::PrefacePrefix
        };
    }
    if looks_like_frames(bytes) {
        Evidence::Frames
    } else {
        Evidence::None
    }
}

/// Whether `bytes` are whole plausible frames, possibly ending in the start of one more
/// (whose header, if present, is plausible). One frame alone must fill the bytes exactly (a
/// 24-bit length that lands on the end of the segment, the reserved bit clear, a known type
/// with only its flags: random binary rarely gets there) and not be a CONTINUATION.
pub fn looks_like_frames(bytes: &[u8]) -> bool {
    let mut at = 0;
    let mut whole = Vec::new();
    while at < bytes.len() {
        let Some(head) = Head::parse(&bytes[at..]) else {
            // A partial header at the end: fine after whole frames.
            break;
        };
        let reserved_bit = bytes[at + 5] & 0x80 != 0;
        if reserved_bit || !head.is_plausible(PROBE_MAX_FRAME) {
            return false;
        }
        let end = at + HEADER_LEN + head.length;
        if end > bytes.len() {
            break;
        }
        whole.push(head.frame_type);
        at = end;
    }
    match whole.as_slice() {
        [] => false,
        [only] => at == bytes.len() && *only != kind::CONTINUATION,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preface_and_frames_are_recognised() {
        assert_eq!(evidence(PREFACE), Evidence::Preface);
        assert_eq!(evidence(&PREFACE[..16]), Evidence::Preface);
        assert_eq!(evidence(b"PRI * HTTP/2"), Evidence::PrefacePrefix);
        assert_eq!(evidence(b"P"), Evidence::PrefacePrefix);
        assert_eq!(evidence(b"POST / HTTP/1.1\r\n"), Evidence::None);
        assert_eq!(
            evidence(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            Evidence::None
        );
        assert_eq!(
            evidence(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03"),
            Evidence::None
        );
        // SETTINGS (empty) + WINDOW_UPDATE, then half a HEADERS header.
        let mut frames = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
        frames.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0x10, 0]);
        assert_eq!(evidence(&frames), Evidence::Frames);
        frames.extend_from_slice(&[0, 0, 3, 1]);
        assert_eq!(evidence(&frames), Evidence::Frames);
        // ...but an implausible header after them is not.
        frames.extend_from_slice(&[0xee, 0, 0, 0, 0]);
        assert_eq!(evidence(&frames), Evidence::None);
        // One frame that fills the payload exactly (a capture starting with the last DATA of a
        // response), but not with the reserved bit set, nor a lone CONTINUATION.
        let one = |f: &[u8]| evidence(f) == Evidence::Frames;
        assert!(one(&[0, 0, 1, 1, 5, 0, 0, 0, 1, 0x82]));
        assert!(one(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0x82]));
        assert!(!one(&[0, 0, 1, 0, 1, 0x80, 0, 0, 1, 0x82]));
        assert!(!one(&[0, 0, 1, 9, 4, 0, 0, 0, 1, 0x82]));
        assert_eq!(evidence(&[0, 0, 2, 1, 5, 0, 0, 0, 1, 0x82]), Evidence::None);
        assert_eq!(evidence(&[]), Evidence::None);
    }
}

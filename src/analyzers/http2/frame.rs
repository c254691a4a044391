//! Zero-copy views of HTTP/2 frames (RFC 9113 §4.1, §6), in the style of smoltcp's `wire`.
//!
//! [`FrameHeader`] reads the 9-byte header; [`padded_parts`] strips padding and priority
//! from the payload of DATA, HEADERS and PUSH_PROMISE; small readers decode the fixed-layout
//! payloads (SETTINGS, RST_STREAM, GOAWAY, PING, WINDOW_UPDATE, PUSH_PROMISE). Every reader
//! bounds-checks: a short or lying length gives `None`, never a panic.

/// The client connection preface (RFC 9113 §3.4), sent before the client's first frame.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame header length.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE until the receiver says otherwise (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1 << 14;

/// Frame types (RFC 9113 §6).
pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (their meaning depends on the type).
pub mod flag {
    /// DATA, HEADERS: the last frame the sender sends on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgment.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block is complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads, padding trails.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: 5 bytes of priority follow the pad length.
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS parameters tracetail follows (RFC 9113 §6.5.2).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

/// Header field offsets.
mod field {
    use std::ops::Range;
    pub const LENGTH: Range<usize> = 0..3;
    pub const TYPE: usize = 3;
    pub const FLAGS: usize = 4;
    pub const STREAM_ID: Range<usize> = 5..9;
}

/// The 9-byte frame header.
#[derive(Debug, Clone, Copy)]
pub struct FrameHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FrameHeader<T> {
    /// A view over `buffer`, which must hold at least the 9 header bytes.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= HEADER_LEN).then_some(FrameHeader { buffer })
    }

    /// Payload length (24 bits).
    pub fn length(&self) -> usize {
        let b = &self.buffer.as_ref()[field::LENGTH];
        (b[0] as usize) << 16 | (b[1] as usize) << 8 | b[2] as usize
    }

    pub fn frame_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    pub fn has_flag(&self, f: u8) -> bool {
        self.flags() & f != 0
    }

    /// Stream identifier (the reserved top bit ignored).
    pub fn stream_id(&self) -> u32 {
        read_u31(&self.buffer.as_ref()[field::STREAM_ID])
    }
}

/// The fields of a header, copied out (the reader keeps them while the payload arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub length: usize,
    pub frame_type: u8,
    pub flags: u8,
    pub stream_id: u32,
}

impl Head {
    pub fn parse(bytes: &[u8]) -> Option<Head> {
        let h = FrameHeader::new_checked(bytes)?;
        Some(Head {
            length: h.length(),
            frame_type: h.frame_type(),
            flags: h.flags(),
            stream_id: h.stream_id(),
        })
    }

    pub fn has_flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Whether the header could start a real frame: a known type, only the flags that type
    /// defines, the stream id and length the type requires. Used to recognise HTTP/2 without
    /// the preface; the analyzer itself accepts anything the RFC allows.
    pub fn is_plausible(&self, max_len: usize) -> bool {
        let on_stream = self.stream_id != 0;
        let (flags, ok) = match self.frame_type {
            kind::DATA => (flag::END_STREAM | flag::PADDED, on_stream),
            kind::HEADERS => (
                flag::END_STREAM | flag::END_HEADERS | flag::PADDED | flag::PRIORITY,
                on_stream,
            ),
            kind::PRIORITY => (0, on_stream && self.length == 5),
            kind::RST_STREAM => (0, on_stream && self.length == 4),
            kind::SETTINGS => (flag::ACK, !on_stream && self.length.is_multiple_of(6)),
            kind::PUSH_PROMISE => (
                flag::END_HEADERS | flag::PADDED,
                on_stream && self.length >= 4,
            ),
            kind::PING => (flag::ACK, !on_stream && self.length == 8),
            kind::GOAWAY => (0, !on_stream && self.length >= 8),
            kind::WINDOW_UPDATE => (0, self.length == 4),
            kind::CONTINUATION => (flag::END_HEADERS, on_stream),
            _ => return false,
        };
        ok && self.flags & !flags == 0 && self.length <= max_len
    }
}

/// A DATA, HEADERS or PUSH_PROMISE payload without its padding and priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// Data, or the header block fragment (after the promised stream id for PUSH_PROMISE).
    pub content: &'a [u8],
    /// Pad length byte + padding.
    pub padding: usize,
    /// PUSH_PROMISE: the promised stream id.
    pub promised_stream: Option<u32>,
}

/// Splits a DATA, HEADERS or PUSH_PROMISE payload (RFC 9113 §6.1, §6.2, §6.6). `None` when the
/// padding or the fixed fields do not fit in the payload (a PROTOCOL_ERROR).
pub fn padded_parts<'a>(head: &Head, payload: &'a [u8]) -> Option<Parts<'a>> {
    let mut rest = payload;
    let mut padding = 0;
    if head.has_flag(flag::PADDED) && head.frame_type != kind::CONTINUATION {
        let (&pad, after) = rest.split_first()?;
        padding = pad as usize;
        rest = after.get(..after.len().checked_sub(padding)?)?;
        padding += 1;
    }
    let mut promised_stream = None;
    match head.frame_type {
        kind::HEADERS if head.has_flag(flag::PRIORITY) => rest = rest.get(5..)?,
        kind::PUSH_PROMISE => {
            promised_stream = Some(read_u31(rest.get(..4)?));
            rest = &rest[4..];
        }
        _ => {}
    }
    Some(Parts {
        content: rest,
        padding,
        promised_stream,
    })
}

/// SETTINGS parameters as (identifier, value) pairs; a trailing partial entry is ignored.
pub fn settings(payload: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    payload.chunks_exact(6).map(|e| {
        (
            u16::from_be_bytes([e[0], e[1]]),
            u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
        )
    })
}

/// GOAWAY: the last stream id the sender processed, and the error code.
pub fn goaway(payload: &[u8]) -> Option<(u32, u32)> {
    Some((read_u31(payload.get(..4)?), read_u32(payload.get(4..8)?)))
}

/// RST_STREAM: the error code.
pub fn rst_stream(payload: &[u8]) -> Option<u32> {
    payload.get(..4).map(read_u32)
}

/// PING: the 8 opaque bytes that the ACK echoes.
pub fn ping(payload: &[u8]) -> Option<[u8; 8]> {
    payload.get(..8)?.try_into().ok()
}

fn read_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn read_u31(b: &[u8]) -> u32 {
    read_u32(b) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Head {
        Head::parse(bytes).unwrap()
    }

    #[test]
    fn header_fields_from_literal_bytes() {
        // HEADERS, 0x0102 bytes, END_STREAM|END_HEADERS, stream 3 with the reserved bit set.
        let h = head(&[0x00, 0x01, 0x02, 0x01, 0x05, 0x80, 0x00, 0x00, 0x03]);
        assert_eq!(
            h,
            Head {
                length: 0x102,
                frame_type: kind::HEADERS,
                flags: flag::END_STREAM | flag::END_HEADERS,
                stream_id: 3,
            }
        );
        assert!(h.is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(Head::parse(&[0; 8]).is_none());
        // The largest length the field holds.
        assert_eq!(
            head(&[0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1]).length,
            (1 << 24) - 1
        );
    }

    #[test]
    fn plausibility_follows_each_type() {
        let settings = head(&[0, 0, 12, 4, 0, 0, 0, 0, 0]);
        assert!(settings.is_plausible(DEFAULT_MAX_FRAME_SIZE));
        // SETTINGS on a stream, of a length not a multiple of 6, PING of 7 bytes.
        assert!(!head(&[0, 0, 12, 4, 0, 0, 0, 0, 1]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0, 0, 7, 4, 0, 0, 0, 0, 0]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0, 0, 7, 6, 0, 0, 0, 0, 0]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        // DATA on stream 0, DATA with an undefined flag, an unknown type, too long.
        assert!(!head(&[0, 0, 1, 0, 0, 0, 0, 0, 0]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0, 0, 1, 0, 0x4, 0, 0, 0, 1]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0, 0, 1, 0x0a, 0, 0, 0, 0, 1]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0, 0x40, 1, 0, 0, 0, 0, 0, 1]).is_plausible(DEFAULT_MAX_FRAME_SIZE));
        // "GET / HTTP/1.1" and a TLS record are not frames.
        assert!(!head(b"GET / HTTP/1.1").is_plausible(DEFAULT_MAX_FRAME_SIZE));
        assert!(!head(&[0x16, 3, 1, 0, 0xc8, 1, 0, 0, 0xc4]).is_plausible(1 << 24));
    }

    #[test]
    fn padding_and_priority_are_removed() {
        // HEADERS, PADDED|PRIORITY: pad length 2, 5 priority bytes, block "ab", 2 pad bytes.
        let h = head(&[0, 0, 10, 1, 0x28, 0, 0, 0, 1]);
        let payload = [2, 0x80, 0, 0, 3, 15, b'a', b'b', 0, 0];
        let parts = padded_parts(&h, &payload).unwrap();
        assert_eq!(parts.content, b"ab");
        assert_eq!(parts.padding, 3);
        // Padding longer than the payload is an error, not a panic.
        assert!(padded_parts(&h, &[9, 1, 2]).is_none());
        assert!(padded_parts(&h, &[]).is_none());
        // PRIORITY flag with fewer than 5 bytes.
        let h = head(&[0, 0, 3, 1, 0x20, 0, 0, 0, 1]);
        assert!(padded_parts(&h, &[1, 2, 3]).is_none());
        // DATA, PADDED: one data byte, 1 pad byte.
        let h = head(&[0, 0, 3, 0, 0x9, 0, 0, 0, 1]);
        let parts = padded_parts(&h, &[1, b'x', 0]).unwrap();
        assert_eq!((parts.content, parts.padding), (&b"x"[..], 2));
        // PUSH_PROMISE: promised stream 2 (reserved bit set), then the block.
        let h = head(&[0, 0, 5, 5, 0x4, 0, 0, 0, 1]);
        let parts = padded_parts(&h, &[0x80, 0, 0, 2, 0x82]).unwrap();
        assert_eq!(parts.promised_stream, Some(2));
        assert_eq!(parts.content, &[0x82]);
        // CONTINUATION never has padding (0x8 is undefined there).
        let h = head(&[0, 0, 2, 9, 0x8, 0, 0, 0, 1]);
        assert_eq!(padded_parts(&h, &[7, 7]).unwrap().content, &[7, 7]);
    }

    #[test]
    fn fixed_payloads() {
        let s: Vec<_> = settings(&[0, 1, 0, 0, 0x10, 0, 0, 5, 0, 0, 0x40, 0, 9]).collect();
        assert_eq!(s, vec![(1, 4096), (5, 16384)]);
        assert_eq!(goaway(&[0x80, 0, 0, 7, 0, 0, 0, 2, b'x']), Some((7, 2)));
        assert_eq!(goaway(&[0, 0, 0, 7]), None);
        assert_eq!(rst_stream(&[0, 0, 0, 8]), Some(8));
        assert_eq!(
            ping(&[1, 2, 3, 4, 5, 6, 7, 8]),
            Some([1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert_eq!(ping(&[1]), None);
    }
}

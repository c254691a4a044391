//! One direction's TCP byte stream, stored compactly: literal bytes (HTTP heads, chunk
//! framing) and filler runs (bodies). A 2 MiB body costs a few bytes of memory, which keeps
//! the generator's memory bounded however large the responses are.

/// Printable filler text; a body byte at stream offset `o` is `FILLER[o % FILLER.len()]`.
const FILLER: &[u8] = b"tracetail synthetic body: the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz.\n";

#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Offset of the piece in the stream.
    start: u64,
    len: u64,
    /// Offset into `literal`, or `None` for filler.
    literal_at: Option<usize>,
}

#[derive(Debug, Default, Clone)]
pub struct ByteStream {
    literal: Vec<u8>,
    pieces: Vec<Piece>,
    len: u64,
}

impl ByteStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Total bytes in the stream.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_literal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.pieces.push(Piece {
            start: self.len,
            len: bytes.len() as u64,
            literal_at: Some(self.literal.len()),
        });
        self.literal.extend_from_slice(bytes);
        self.len += bytes.len() as u64;
    }

    pub fn push_filler(&mut self, len: u64) {
        if len == 0 {
            return;
        }
        self.pieces.push(Piece {
            start: self.len,
            len,
            literal_at: None,
        });
        self.len += len;
    }

    /// Appends stream bytes `[start, end)` to `out`.
    pub fn copy_range(&self, start: u64, end: u64, out: &mut Vec<u8>) {
        debug_assert!(start <= end && end <= self.len);
        let mut at = start;
        let mut index = self.pieces.partition_point(|p| p.start + p.len <= at);
        while at < end {
            let piece = self.pieces[index];
            let take_end = end.min(piece.start + piece.len);
            let within = (at - piece.start) as usize;
            let count = (take_end - at) as usize;
            match piece.literal_at {
                Some(base) => {
                    out.extend_from_slice(&self.literal[base + within..base + within + count])
                }
                None => {
                    let mut remaining = count;
                    let mut position = (at % FILLER.len() as u64) as usize;
                    while remaining > 0 {
                        let n = remaining.min(FILLER.len() - position);
                        out.extend_from_slice(&FILLER[position..position + n]);
                        remaining -= n;
                        position = 0;
                    }
                }
            }
            at = take_end;
            index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cross_pieces() {
        let mut s = ByteStream::new();
        s.push_literal(b"HEAD\r\n");
        s.push_filler(300);
        s.push_literal(b"\r\n0\r\n\r\n");
        assert_eq!(s.len(), 6 + 300 + 7);
        let mut whole = Vec::new();
        s.copy_range(0, s.len(), &mut whole);
        assert_eq!(&whole[..6], b"HEAD\r\n");
        assert_eq!(whole[6], FILLER[6 % FILLER.len()]);
        assert_eq!(&whole[306..], b"\r\n0\r\n\r\n");
        // Any split gives the same bytes.
        for cut in [0u64, 1, 5, 6, 7, 150, 305, 306, 310, 313] {
            let mut parts = Vec::new();
            s.copy_range(0, cut, &mut parts);
            s.copy_range(cut, s.len(), &mut parts);
            assert_eq!(parts, whole, "cut at {cut}");
        }
    }
}

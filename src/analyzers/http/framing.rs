//! Body framing (RFC 9112): chunk-size lines. Which framing a message uses is decided in the
//! connection state machine (`State::Body`, `ChunkSize`, ... in the parent module).

/// Chunk sizes at or above this are treated as an overflow (malformed), not a length.
const MAX_CHUNK_SIZE: u64 = 1 << 60;
/// Parses a chunk-size line (`1a;ext=1\r\n`); `None` for garbage or a size ≥ 2^60.
pub(super) fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let after = &line[digits..];
    let ok_after = matches!(after.first(), Some(b';' | b'\r' | b'\n' | b' ' | b'\t'));
    if !ok_after {
        return None;
    }
    let text = std::str::from_utf8(&line[..digits]).ok()?;
    let size = u64::from_str_radix(text, 16).ok()?;
    (size < MAX_CHUNK_SIZE).then_some(size)
}

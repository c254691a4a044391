//! HPACK header decoding (RFC 7541), for captures: a decoder that knows when it does not know.
//!
//! Why our own code and not a crate: `fluke-hpack` (a fork of the unmaintained `hpack` 0.3)
//! and `httlib-hpack` (one release, 2021) both decode a live connection from its first
//! byte. A capture often starts mid-connection, when the dynamic table already holds entries
//! nobody can see; neither crate can answer "that entry is unknown" and go on with the
//! entries inserted since — they fail the block (and with it the connection). Neither bounds
//! the decoded header list. The decoder below is small (RFC 7541 is short), tested against
//! every example of RFC 7541 appendix C, and fuzzed in tests/fuzz_inputs.rs.
//!
//! # Unknown table state
//! A [`Decoder::new_unknown`] (or any decoder after an [`HpackError`]) lists the entries it
//! saw inserted (newest first) and, behind them, an unknown remainder. The invariant: the
//! real table is always a prefix of "listed entries, then the unknown remainder". It holds
//! because eviction removes the oldest entries first and the decoder never evicts more than
//! the real table does: it evicts by a lower bound of the entries' sizes under an upper
//! bound of the maximum size. So every index the encoder sends (it only points into the
//! real table) points at the listed entry in the same position, or into the remainder:
//! answered "unknown" (counted, the field not emitted), never guessed. Once the remainder is
//! provably empty (less than 32 bytes of room for it, and no entry is smaller), an index past
//! the listed entries is an error, as in a decoder that saw everything.
//!
//! An entry inserted with its name taken from an unknown entry is listed with that name
//! unknown (and only its value's size counted): references to it are unknown too, but the
//! entries around it stay answered.
//!
//! Overestimating the table's maximum size is therefore safe, underestimating is not: a
//! decoder that did not see `SETTINGS_HEADER_TABLE_SIZE` should be given the upper bound
//! [`MAX_TABLE_SIZE_CAP`].
//!
//! # Memory
//! The dynamic table holds at most `max_table_size` bytes of RFC size (name + value + 32 per
//! entry), capped at [`MAX_TABLE_SIZE_CAP`] whatever the peer's SETTINGS say; the decoded
//! list is bounded by the caller's `max_list_bytes`; string scratch space is bounded by the
//! block's length.

pub mod huffman;

use std::collections::VecDeque;
use std::fmt;

/// The largest dynamic table this decoder keeps (64 KiB), whatever `SETTINGS_HEADER_TABLE_SIZE`
/// says: real peers use 4 KiB (the default) to 64 KiB; more would let one connection hold
/// unbounded memory.
pub const MAX_TABLE_SIZE_CAP: usize = 64 * 1024;

/// RFC 7541 section 4.1: each entry costs its name and value plus 32 bytes.
const ENTRY_OVERHEAD: usize = 32;

/// The static table (RFC 7541 appendix A); index 1 is element 0.
pub const STATIC_TABLE: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What decoding one header block found besides the fields it emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockInfo {
    /// Fields that referred to a dynamic-table entry from before the known state (not emitted).
    pub unknown_refs: u32,
    /// Fields dropped because the decoded list passed `max_list_bytes`.
    pub dropped_fields: u32,
}

/// A header block that is not valid HPACK. After it the decoder's table state is unknown
/// (the rest of the block may have inserted entries); later blocks decode with unknown
/// references counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ended inside a representation.
    Truncated,
    /// An integer longer than 32 bits.
    IntegerOverflow,
    /// Index 0, or an index past the dynamic table when the whole table is known.
    BadIndex(u32),
    /// A Huffman string with EOS or bad padding.
    Huffman(huffman::HuffmanError),
    /// A dynamic table size update above the limit from SETTINGS.
    SizeUpdateTooLarge { requested: u32, limit: usize },
    /// A dynamic table size update after the first field of the block.
    SizeUpdateNotAtStart,
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpackError::Truncated => write!(f, "header block ends inside a field"),
            HpackError::IntegerOverflow => write!(f, "integer longer than 32 bits"),
            HpackError::BadIndex(i) => write!(f, "index {i} is not in the header tables"),
            HpackError::Huffman(huffman::HuffmanError::Eos) => {
                write!(f, "Huffman string contains EOS")
            }
            HpackError::Huffman(huffman::HuffmanError::BadPadding) => {
                write!(f, "Huffman string has invalid padding")
            }
            HpackError::SizeUpdateTooLarge { requested, limit } => {
                write!(
                    f,
                    "table size update to {requested} above the limit {limit}"
                )
            }
            HpackError::SizeUpdateNotAtStart => {
                write!(f, "table size update after the first field of a block")
            }
        }
    }
}

impl std::error::Error for HpackError {}

impl From<huffman::HuffmanError> for HpackError {
    fn from(e: huffman::HuffmanError) -> Self {
        HpackError::Huffman(e)
    }
}

/// One dynamic-table entry in one buffer (entries come and go with every block, so the
/// buffer of an evicted entry is reused for the next).
struct Entry {
    /// The name, then the value.
    bytes: Vec<u8>,
    /// `None`: taken from an unknown entry (`bytes` holds the value only).
    name_len: Option<usize>,
}

impl Entry {
    /// An entry in `buffer` (an evicted entry's), unless that is much larger than needed:
    /// an entry never holds more than about twice its RFC size.
    fn new(name: Option<&[u8]>, value: &[u8], mut buffer: Vec<u8>) -> Self {
        let name_bytes = name.unwrap_or_default();
        let needed = name_bytes.len() + value.len();
        if buffer.capacity() > 2 * needed + ENTRY_OVERHEAD {
            buffer = Vec::new();
        }
        buffer.clear();
        buffer.reserve_exact(needed);
        buffer.extend_from_slice(name_bytes);
        buffer.extend_from_slice(value);
        Entry {
            bytes: buffer,
            name_len: name.map(<[u8]>::len),
        }
    }

    fn name(&self) -> Option<&[u8]> {
        self.name_len.map(|n| &self.bytes[..n])
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len.unwrap_or(0)..]
    }

    /// RFC size, or its lower bound when the name is unknown.
    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// The dynamic table as far as it is known: the entries seen inserted, newest first (a
/// superset of the real table's entries since the decoder's knowledge began), and whether
/// older, unseen entries may sit behind them.
struct DynamicTable {
    listed: VecDeque<Entry>,
    /// Sum of the listed entries' sizes (a lower bound when a name is unknown).
    listed_size: usize,
    /// Current maximum size (from size updates), at most `limit`.
    max_size: usize,
    /// SETTINGS_HEADER_TABLE_SIZE as acknowledged (capped): size updates may not exceed it.
    limit: usize,
    /// Entries from before the decoder's knowledge may still be present behind `known`.
    unknown_tail: bool,
    /// The buffer of the last evicted entry, for the next insert.
    spare: Vec<u8>,
}

impl DynamicTable {
    fn new(limit: usize, unknown_tail: bool) -> Self {
        let limit = limit.min(MAX_TABLE_SIZE_CAP);
        DynamicTable {
            listed: VecDeque::new(),
            listed_size: 0,
            max_size: limit,
            limit,
            unknown_tail,
            spare: Vec::new(),
        }
    }

    /// Forget everything: the table may hold anything that fits the limit.
    fn become_unknown(&mut self) {
        self.listed.clear();
        self.listed_size = 0;
        // The current maximum is unknown too; the limit is a safe overestimate.
        self.max_size = self.limit;
        self.unknown_tail = true;
    }

    /// Evict the oldest listed entries until `extra` more bytes fit, then decide whether the
    /// unknown remainder can still hold an entry.
    fn make_room(&mut self, extra: usize) {
        while self.listed_size + extra > self.max_size {
            match self.listed.pop_back() {
                Some(old) => {
                    self.listed_size -= old.size();
                    self.spare = old.bytes;
                }
                None => break,
            }
        }
        if self.max_size.saturating_sub(self.listed_size + extra) < ENTRY_OVERHEAD {
            self.unknown_tail = false;
        }
    }

    fn set_max_size(&mut self, n: usize) {
        self.max_size = n;
        self.make_room(0);
    }

    /// Inserts an entry; `name` `None` when it came from an unknown entry.
    fn insert(&mut self, name: Option<&[u8]>, value: &[u8]) {
        let size = name.map_or(0, <[u8]>::len) + value.len() + ENTRY_OVERHEAD;
        if size > self.max_size {
            // RFC 7541 section 4.4: an entry larger than the table empties it.
            self.listed.clear();
            self.listed_size = 0;
            self.unknown_tail = false;
            return;
        }
        self.make_room(size);
        let entry = Entry::new(name, value, std::mem::take(&mut self.spare));
        self.listed.push_front(entry);
        self.listed_size += size;
    }

    /// Resolves an index into the static table or the known dynamic entries.
    fn lookup(&self, index: u32) -> Result<Lookup<'_>, HpackError> {
        let i = index as usize;
        if i == 0 {
            return Err(HpackError::BadIndex(index));
        }
        if i <= STATIC_TABLE.len() {
            let (name, value) = STATIC_TABLE[i - 1];
            return Ok(Lookup::Found(name.as_bytes(), value.as_bytes()));
        }
        match self.listed.get(i - STATIC_TABLE.len() - 1) {
            Some(entry) => Ok(match entry.name() {
                Some(name) => Lookup::Found(name, entry.value()),
                None => Lookup::Unknown,
            }),
            None if self.unknown_tail => Ok(Lookup::Unknown),
            None => Err(HpackError::BadIndex(index)),
        }
    }
}

/// Where an index points.
enum Lookup<'a> {
    Found(&'a [u8], &'a [u8]),
    Unknown,
}

/// A header block decoder for one direction of one HTTP/2 connection.
pub struct Decoder {
    table: DynamicTable,
    /// Scratch for Huffman-decoded strings, reused across fields.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
    memo: HuffmanMemo,
}

impl Decoder {
    /// A decoder that saw the connection from its start. `max_table_size` is the
    /// SETTINGS_HEADER_TABLE_SIZE this side announced (4096 by default), capped at
    /// [`MAX_TABLE_SIZE_CAP`].
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size, false),
            name_buf: Vec::new(),
            value_buf: Vec::new(),
            memo: HuffmanMemo::default(),
        }
    }

    /// A decoder for a connection whose start the capture missed: the table holds entries
    /// it cannot see. Give an upper bound of the real size ([`MAX_TABLE_SIZE_CAP`] if no
    /// SETTINGS were seen): overestimating is safe, underestimating is not.
    pub fn new_unknown(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size, true),
            name_buf: Vec::new(),
            value_buf: Vec::new(),
            memo: HuffmanMemo::default(),
        }
    }

    /// SETTINGS_HEADER_TABLE_SIZE was acknowledged: the limit for size updates (capped at
    /// [`MAX_TABLE_SIZE_CAP`]). A table larger than the new limit shrinks now (the encoder
    /// must send the matching size update before using the table again).
    pub fn set_max_table_size(&mut self, n: usize) {
        let n = n.min(MAX_TABLE_SIZE_CAP);
        self.table.limit = n;
        if self.table.max_size > n {
            self.table.set_max_size(n);
        }
    }

    /// The newest dynamic-table entries (index 62 first) as far as they are known: up to
    /// the first whose name is unknown. Older ones may have been evicted already when the
    /// table is not fully known.
    pub fn known_entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.table
            .listed
            .iter()
            .map_while(|e| Some((e.name()?, e.value())))
    }

    /// RFC size of the listed entries: the table's size when it is fully known, else a
    /// lower bound of the size of the entries seen inserted.
    pub fn known_size(&self) -> usize {
        self.table.listed_size
    }

    /// The table holds nothing but the known entries.
    pub fn is_fully_known(&self) -> bool {
        !self.table.unknown_tail
    }

    /// Decodes one complete header block (HEADERS/PUSH_PROMISE + CONTINUATION fragments,
    /// padding and priority already removed), calling `emit(name, value)` per field in
    /// order. Fields whose dynamic-table entry is unknown are not emitted but counted, and
    /// so are fields past `max_list_bytes` (RFC size: name + value + 32 each); both still
    /// update the table. After an error the table state is unknown.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<BlockInfo, HpackError> {
        self.decode_wanted(block, max_list_bytes, |_| true, emit)
    }

    /// [`Decoder::decode`], emitting only the fields whose name `wanted` accepts. A value
    /// that is neither emitted nor inserted into the table is not Huffman-decoded, only
    /// validated and measured: same table, same counts, same errors, less work.
    pub fn decode_wanted(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: impl Fn(&[u8]) -> bool,
        mut emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<BlockInfo, HpackError> {
        let result = self.decode_fields(block, max_list_bytes, &wanted, &mut emit);
        if result.is_err() {
            self.table.become_unknown();
        }
        result
    }

    fn decode_fields(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: &dyn Fn(&[u8]) -> bool,
        emit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<BlockInfo, HpackError> {
        let mut info = BlockInfo::default();
        let mut list_bytes = 0usize;
        let mut at_start = true;
        let mut input = Reader {
            bytes: block,
            pos: 0,
        };
        // Counts a field (its name's and value's decoded lengths) against the list budget;
        // false when it must be dropped.
        let mut admit = |name_len: usize, value_len: usize, info: &mut BlockInfo| {
            list_bytes = list_bytes.saturating_add(name_len + value_len + ENTRY_OVERHEAD);
            if list_bytes > max_list_bytes {
                info.dropped_fields += 1;
                false
            } else {
                true
            }
        };
        while let Some(first) = input.peek() {
            if first & 0x80 != 0 {
                // 6.1 Indexed header field.
                at_start = false;
                let index = input.integer(7)?;
                match self.table.lookup(index)? {
                    Lookup::Found(name, value) => {
                        if admit(name.len(), value.len(), &mut info) && wanted(name) {
                            emit(name, value);
                        }
                    }
                    Lookup::Unknown => info.unknown_refs += 1,
                }
            } else if first & 0xe0 == 0x20 {
                // 6.3 Dynamic table size update: only before the first field.
                if !at_start {
                    return Err(HpackError::SizeUpdateNotAtStart);
                }
                let size = input.integer(5)?;
                if size as usize > self.table.limit {
                    return Err(HpackError::SizeUpdateTooLarge {
                        requested: size,
                        limit: self.table.limit,
                    });
                }
                self.table.set_max_size(size as usize);
            } else {
                // 6.2 Literals: with incremental indexing (01), never indexed (0001) or
                // without indexing (0000).
                at_start = false;
                let (prefix, indexing) = if first & 0xc0 == 0x40 {
                    (6, true)
                } else {
                    (4, false)
                };
                let name_index = input.integer(prefix)?;
                let known_name = if name_index == 0 {
                    input.string(&mut self.name_buf, &mut self.memo)?;
                    true
                } else {
                    match self.table.lookup(name_index)? {
                        Lookup::Found(name, _) => {
                            self.name_buf.clear();
                            self.name_buf.extend_from_slice(name);
                            true
                        }
                        Lookup::Unknown => false,
                    }
                };
                let emitted = known_name && wanted(&self.name_buf);
                if !(emitted || indexing) {
                    // Nobody reads this value: measure it, do not decode it.
                    let value_len = input.string_len(&mut self.memo)?;
                    if known_name {
                        admit(self.name_buf.len(), value_len, &mut info);
                    } else {
                        info.unknown_refs += 1;
                    }
                    continue;
                }
                input.string(&mut self.value_buf, &mut self.memo)?;
                if known_name {
                    if admit(self.name_buf.len(), self.value_buf.len(), &mut info) && emitted {
                        emit(&self.name_buf, &self.value_buf);
                    }
                } else {
                    info.unknown_refs += 1;
                }
                if indexing {
                    let name = known_name.then_some(&self.name_buf[..]);
                    self.table.insert(name, &self.value_buf);
                }
            }
        }
        Ok(info)
    }
}

/// The last few short Huffman strings decoded, by their encoded bytes. Encoders send the same
/// values block after block (nginx: `server`, `date` for a whole second, `content-type`, all
/// with incremental indexing, so they must be decoded every time); decoding is a function of
/// the bytes alone, so a hit is exact. Memory: at most `MEMO_SLOTS` short strings.
#[derive(Default)]
struct HuffmanMemo {
    slots: [MemoSlot; MEMO_SLOTS],
    /// The slot the next miss overwrites (round robin).
    next: usize,
}

const MEMO_SLOTS: usize = 8;
/// Longer strings are decoded each time: rarely repeated, and bounded memory.
const MEMO_MAX_ENCODED: usize = 64;

#[derive(Default)]
struct MemoSlot {
    encoded: Vec<u8>,
    decoded: Vec<u8>,
}

impl HuffmanMemo {
    /// The remembered decoding of `encoded`; on a miss a short string is decoded into a slot.
    fn lookup(&mut self, encoded: &[u8]) -> Result<Option<&[u8]>, huffman::HuffmanError> {
        if let Some(i) = self.slots.iter().position(|s| s.encoded == encoded) {
            return Ok(Some(&self.slots[i].decoded));
        }
        if encoded.len() > MEMO_MAX_ENCODED {
            return Ok(None);
        }
        let slot = &mut self.slots[self.next];
        slot.decoded.clear();
        if let Err(e) = huffman::decode(encoded, &mut slot.decoded) {
            slot.encoded.clear();
            slot.decoded.clear();
            return Err(e);
        }
        slot.encoded.clear();
        slot.encoded.extend_from_slice(encoded);
        self.next = (self.next + 1) % MEMO_SLOTS;
        Ok(Some(&slot.decoded))
    }

    /// Appends the decoded form of `encoded` to `out` ([`huffman::decode`], remembered).
    fn decode(&mut self, encoded: &[u8], out: &mut Vec<u8>) -> Result<(), huffman::HuffmanError> {
        match self.lookup(encoded)? {
            Some(decoded) => out.extend_from_slice(decoded),
            None => huffman::decode(encoded, out)?,
        }
        Ok(())
    }

    /// [`huffman::decoded_len`], remembered.
    fn decoded_len(&mut self, encoded: &[u8]) -> Result<usize, huffman::HuffmanError> {
        match self.lookup(encoded)? {
            Some(decoded) => Ok(decoded.len()),
            None => huffman::decoded_len(encoded),
        }
    }
}

/// A cursor over a header block.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// RFC 7541 section 5.1: an integer with an N-bit prefix. Values above u32::MAX are
    /// errors (no legitimate index, length or size comes near).
    fn integer(&mut self, prefix_bits: u8) -> Result<u32, HpackError> {
        decode_integer(self.bytes, &mut self.pos, prefix_bits)
    }

    /// RFC 7541 section 5.2: a string literal as sent, and whether it is Huffman-coded.
    fn raw_string(&mut self) -> Result<(bool, &[u8]), HpackError> {
        let huffman = self.peek().ok_or(HpackError::Truncated)? & 0x80 != 0;
        let len = self.integer(7)? as usize;
        let end = self.pos.checked_add(len).ok_or(HpackError::Truncated)?;
        let raw = self.bytes.get(self.pos..end).ok_or(HpackError::Truncated)?;
        self.pos = end;
        Ok((huffman, raw))
    }

    /// The decoded length of the next string literal (validated as [`Reader::string`] does).
    fn string_len(&mut self, memo: &mut HuffmanMemo) -> Result<usize, HpackError> {
        match self.raw_string()? {
            (true, raw) => Ok(memo.decoded_len(raw)?),
            (false, raw) => Ok(raw.len()),
        }
    }

    /// The next string literal, Huffman-decoded if flagged, into `out`.
    fn string(&mut self, out: &mut Vec<u8>, memo: &mut HuffmanMemo) -> Result<(), HpackError> {
        let (huffman, raw) = self.raw_string()?;
        out.clear();
        if huffman {
            memo.decode(raw, out)?;
        } else {
            out.extend_from_slice(raw);
        }
        Ok(())
    }
}

/// Decodes an HPACK integer with a `prefix_bits`-bit prefix (1..=8) starting at `*pos`,
/// advancing `*pos` past it.
pub fn decode_integer(bytes: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<u32, HpackError> {
    let mut reader_pos = *pos;
    let mut next = || -> Result<u8, HpackError> {
        let b = *bytes.get(reader_pos).ok_or(HpackError::Truncated)?;
        reader_pos += 1;
        Ok(b)
    };
    let max_prefix = ((1u16 << prefix_bits) - 1) as u8;
    let mut value = (next()? & max_prefix) as u64;
    if value == max_prefix as u64 {
        let mut shift = 0u32;
        loop {
            let b = next()?;
            value += ((b & 0x7f) as u64) << shift;
            if value > u32::MAX as u64 {
                return Err(HpackError::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 28 {
                // Only zero-padded continuation bytes could follow; refuse them too.
                return Err(HpackError::IntegerOverflow);
            }
        }
    }
    *pos = reader_pos;
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Through the memo, hits and misses alike, every string decodes as the plain decoder
    /// decodes it, errors included, also when more strings cycle than it has slots.
    #[test]
    fn memo_answers_as_the_decoder() {
        let mut memo = HuffmanMemo::default();
        // Short valid codes ('a' = 00011 + padding, "www.example.com", two of each length),
        // invalid ones (8 bits of padding, EOS), a long one past MEMO_MAX_ENCODED, and empty.
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![0b0001_1111],
            vec![
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
            ],
            vec![0xff],
            vec![0xff, 0xff, 0xff, 0xfc],
            vec![0x0f; MEMO_MAX_ENCODED + 5],
            vec![],
        ];
        inputs.extend((0..3 * MEMO_SLOTS as u8).map(|i| vec![i, i.wrapping_mul(7), 0xff]));
        for round in 0..3 {
            for input in inputs.iter().skip(round) {
                let mut expected = Vec::new();
                let expected_result = huffman::decode(input, &mut expected);
                let mut got = b"kept".to_vec();
                assert_eq!(
                    memo.decode(input, &mut got),
                    expected_result,
                    "{input:02x?}"
                );
                if expected_result.is_ok() {
                    assert_eq!(&got[4..], &expected[..], "{input:02x?}");
                }
                assert_eq!(
                    memo.decoded_len(input),
                    expected_result.map(|()| expected.len()),
                    "{input:02x?}"
                );
            }
        }
    }
}

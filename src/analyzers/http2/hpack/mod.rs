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
use std::sync::Arc;

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

/// One dynamic-table entry in one buffer, shared with the block memo: a replayed block
/// inserts its entries again by reference, without copying or allocating.
#[derive(Clone)]
struct Entry {
    /// The name, then the value.
    bytes: Arc<[u8]>,
    /// `None`: taken from an unknown entry (`bytes` holds the value only).
    name_len: Option<usize>,
}

impl Entry {
    fn new(name: Option<&[u8]>, value: &[u8]) -> Self {
        let name_bytes = name.unwrap_or_default();
        Entry {
            bytes: name_bytes.iter().chain(value).copied().collect(),
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
    /// Counts every change (inserts, evictions, size changes, forgetting): a block decoded
    /// twice at the same generation meets the same table.
    generation: u64,
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
            generation: 0,
        }
    }

    /// Forget everything: the table may hold anything that fits the limit.
    fn become_unknown(&mut self) {
        self.generation += 1;
        self.listed.clear();
        self.listed_size = 0;
        // The current maximum is unknown too; the limit is a safe overestimate.
        self.max_size = self.limit;
        self.unknown_tail = true;
    }

    /// Evict the oldest listed entries until `extra` more bytes fit, then decide whether the
    /// unknown remainder can still hold an entry.
    fn make_room(&mut self, extra: usize) {
        self.generation += 1;
        while self.listed_size + extra > self.max_size {
            match self.listed.pop_back() {
                Some(old) => self.listed_size -= old.size(),
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

    /// Inserts an entry.
    fn insert(&mut self, entry: Entry) {
        self.generation += 1;
        let size = entry.size();
        if size > self.max_size {
            // RFC 7541 section 4.4: an entry larger than the table empties it.
            self.listed.clear();
            self.listed_size = 0;
            self.unknown_tail = false;
            return;
        }
        self.make_room(size);
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
    /// The last block and its outcome, replayed when the same bytes come again.
    last_block: BlockMemo,
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
            last_block: BlockMemo::default(),
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
            last_block: BlockMemo::default(),
        }
    }

    /// SETTINGS_HEADER_TABLE_SIZE was acknowledged: the limit for size updates (capped at
    /// [`MAX_TABLE_SIZE_CAP`]). A table larger than the new limit shrinks now (the encoder
    /// must send the matching size update before using the table again).
    pub fn set_max_table_size(&mut self, n: usize) {
        let n = n.min(MAX_TABLE_SIZE_CAP);
        self.table.generation += 1;
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

    /// Bytes the decoder holds: the table's entries (their RFC size, 32 bytes of overhead
    /// each), its scratch strings and the block it remembers.
    pub fn held_bytes(&self) -> usize {
        self.table.listed_size
            + self.name_buf.capacity()
            + self.value_buf.capacity()
            + self.last_block.block.capacity()
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

    /// Whether [`Decoder::decode_wanted`] would replay `block` (the last block decoded, whose
    /// outcome cannot differ now): it would emit the same fields as then.
    pub fn would_replay(
        &self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: fn(&[u8]) -> bool,
    ) -> bool {
        self.last_block
            .can_replay(block, max_list_bytes, self.table.generation, wanted)
    }

    /// Replays `block` if [`Decoder::would_replay`] says so, without emitting its fields (the
    /// caller kept them from last time); `None`, and nothing done, otherwise.
    pub fn replay_quietly(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: fn(&[u8]) -> bool,
    ) -> Option<BlockInfo> {
        let generation = self.table.generation;
        self.last_block.replay(
            block,
            max_list_bytes,
            generation,
            wanted,
            None,
            &mut self.table,
        )
    }

    /// [`Decoder::decode`], emitting only the fields whose name `wanted` accepts. A value
    /// that is neither emitted nor inserted into the table is not Huffman-decoded, only
    /// validated and measured: same table, same counts, same errors, less work.
    pub fn decode_wanted(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: fn(&[u8]) -> bool,
        mut emit: impl FnMut(&[u8], &[u8]),
    ) -> Result<BlockInfo, HpackError> {
        let generation = self.table.generation;
        if let Some(info) = self.last_block.replay(
            block,
            max_list_bytes,
            generation,
            wanted,
            Some(&mut emit),
            &mut self.table,
        ) {
            return Ok(info);
        }
        self.last_block.start(block);
        let result = self.decode_fields(block, max_list_bytes, wanted, &mut emit);
        match result {
            Ok(info) => self
                .last_block
                .finish(info, max_list_bytes, wanted, generation),
            Err(_) => {
                self.last_block.forget();
                self.table.become_unknown();
            }
        }
        result
    }

    fn decode_fields(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        wanted: fn(&[u8]) -> bool,
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
                self.last_block.note_index(index);
                match self.table.lookup(index)? {
                    Lookup::Found(name, value) => {
                        if admit(name.len(), value.len(), &mut info) && wanted(name) {
                            self.last_block.record_emit(name, value);
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
                // The outcome depends on the table's limit and state from here.
                self.last_block.note_index(u32::MAX);
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
                self.last_block.note_index(name_index);
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
                let emitted = if known_name {
                    admit(self.name_buf.len(), self.value_buf.len(), &mut info) && emitted
                } else {
                    info.unknown_refs += 1;
                    false
                };
                if emitted {
                    self.last_block.record_emit(&self.name_buf, &self.value_buf);
                    emit(&self.name_buf, &self.value_buf);
                }
                if indexing {
                    let entry = Entry::new(known_name.then_some(&self.name_buf), &self.value_buf);
                    self.last_block.record_insert(&entry);
                    self.table.insert(entry);
                }
            }
        }
        Ok(info)
    }
}

/// The last header block decoded and what it did: the fields it emitted and the entries it
/// inserted, in order. Clients repeat a request's block byte for byte (the same call again,
/// a poll, a load test: every field indexed), servers their response heads (literals with
/// the same values: `server`, `date` within a second, `content-type`). A block seen again is
/// replayed instead of decoded when its outcome cannot differ:
///
/// * it refers to nothing in the dynamic table (static indexes and literals only, no size
///   update): its fields and counts are a function of its bytes alone; or
/// * the table is the one it was decoded against (same generation: nothing inserted,
///   evicted or forgotten since), as when a block of indexed fields repeats.
///
/// Its inserts are replayed into the table, so the table changes exactly as in decoding.
/// Memory: one block of at most `BLOCK_MEMO_MAX_BLOCK` bytes and `BLOCK_MEMO_MAX_FIELDS`
/// bytes of fields.
#[derive(Default)]
struct BlockMemo {
    /// The block remembered (empty: nothing is).
    block: Vec<u8>,
    /// The block being decoded is being recorded.
    recording: bool,
    /// The block referred to the dynamic table (or resized it).
    uses_table: bool,
    /// `Some(g)`: valid at table generation `g` only.
    generation: Option<u64>,
    max_list_bytes: usize,
    /// The fields it was decoded for (another choice would emit other fields).
    wanted: Option<fn(&[u8]) -> bool>,
    info: BlockInfo,
    /// Fields emitted, in order: ranges of `bytes`.
    emitted: Vec<(Span, Span)>,
    /// The names and values emitted, one after the other.
    bytes: Vec<u8>,
    /// Entries inserted, in order (shared with the table).
    inserted: Vec<Entry>,
    /// Bytes of the entries inserted.
    inserted_bytes: usize,
    /// Blocks replayed (tests check the memo is used, not only harmless).
    #[cfg(test)]
    replays: u64,
}

type Span = (u32, u32);

/// Where decoded fields go: `emit(name, value)`.
type Emit<'a> = &'a mut dyn FnMut(&[u8], &[u8]);

/// Longer blocks are not remembered (first blocks of a connection, cookies: rarely repeated).
const BLOCK_MEMO_MAX_BLOCK: usize = 512;
/// Most bytes of names and values remembered.
const BLOCK_MEMO_MAX_FIELDS: usize = 4096;

impl BlockMemo {
    /// Emits and inserts what `block` did last time, if it is the remembered block and its
    /// outcome cannot differ now; `None` when it must be decoded.
    fn replay(
        &mut self,
        block: &[u8],
        max_list_bytes: usize,
        generation: u64,
        wanted: fn(&[u8]) -> bool,
        emit: Option<Emit<'_>>,
        table: &mut DynamicTable,
    ) -> Option<BlockInfo> {
        if !self.can_replay(block, max_list_bytes, generation, wanted) {
            return None;
        }
        let span = |(from, to): Span| &self.bytes[from as usize..to as usize];
        if let Some(emit) = emit {
            for &(name, value) in &self.emitted {
                emit(span(name), span(value));
            }
        }
        for entry in &self.inserted {
            table.insert(entry.clone());
        }
        #[cfg(test)]
        {
            self.replays += 1;
        }
        Some(self.info)
    }

    fn can_replay(
        &self,
        block: &[u8],
        max_list_bytes: usize,
        generation: u64,
        wanted: fn(&[u8]) -> bool,
    ) -> bool {
        // Equal function addresses are the same function, or functions with the same code.
        self.wanted.is_some_and(|w| std::ptr::fn_addr_eq(w, wanted))
            && self.block == block
            && self.max_list_bytes == max_list_bytes
            && self.generation.is_none_or(|g| g == generation)
    }

    /// Decoding of `block` begins: remember it if it is short.
    fn start(&mut self, block: &[u8]) {
        self.forget();
        self.recording = !block.is_empty() && block.len() <= BLOCK_MEMO_MAX_BLOCK;
        if self.recording {
            self.block.extend_from_slice(block);
        }
    }

    fn forget(&mut self) {
        self.block.clear();
        self.emitted.clear();
        self.inserted.clear();
        self.inserted_bytes = 0;
        self.bytes.clear();
        self.wanted = None;
        self.recording = false;
        self.uses_table = false;
    }

    /// An index read from the block (`u32::MAX` for a size update).
    fn note_index(&mut self, index: u32) {
        if index as usize > STATIC_TABLE.len() {
            self.uses_table = true;
        }
    }

    /// A field the block emitted.
    fn record_emit(&mut self, name: &[u8], value: &[u8]) {
        if !self.recording {
            return;
        }
        if self.bytes.len() + name.len() + value.len() > BLOCK_MEMO_MAX_FIELDS {
            return self.forget();
        }
        let mut put = |bytes: &[u8]| {
            let from = self.bytes.len() as u32;
            self.bytes.extend_from_slice(bytes);
            (from, self.bytes.len() as u32)
        };
        let name = put(name);
        let value = put(value);
        self.emitted.push((name, value));
    }

    /// An entry the block inserted into the table.
    fn record_insert(&mut self, entry: &Entry) {
        if !self.recording {
            return;
        }
        self.inserted_bytes += entry.bytes.len();
        if self.inserted_bytes > BLOCK_MEMO_MAX_FIELDS {
            return self.forget();
        }
        self.inserted.push(entry.clone());
    }

    /// The block decoded without error, for `wanted`, at table `generation`.
    fn finish(
        &mut self,
        info: BlockInfo,
        max_list_bytes: usize,
        wanted: fn(&[u8]) -> bool,
        generation: u64,
    ) {
        if !self.recording {
            return self.forget();
        }
        self.recording = false;
        self.info = info;
        self.max_list_bytes = max_list_bytes;
        self.wanted = Some(wanted);
        self.generation = self.uses_table.then_some(generation);
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

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;
    type Outcome = (Fields, Result<BlockInfo, HpackError>);

    fn decode_with(
        d: &mut Decoder,
        block: &[u8],
        max: usize,
        wanted: fn(&[u8]) -> bool,
    ) -> Outcome {
        let mut fields = Vec::new();
        let result = d.decode_wanted(block, max, wanted, |n, v| {
            fields.push((n.to_vec(), v.to_vec()))
        });
        (fields, result)
    }

    fn table_of(d: &Decoder) -> (Fields, usize, bool, usize) {
        let entries = d
            .known_entries()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect();
        (
            entries,
            d.known_size(),
            d.is_fully_known(),
            d.table.listed.len(),
        )
    }

    /// A replayed block does exactly what decoding it does: the same fields, counts and
    /// errors, the same table after it. Blocks repeat at random (RFC 7541 appendix C blocks,
    /// indexed references to dynamic entries, inserts with evictions, size updates, unknown
    /// entries, list limits, broken blocks), `wanted` and the list limit change between
    /// blocks; the reference decoder forgets its memo before every block.
    #[test]
    fn replayed_blocks_decode_as_decoded_blocks() {
        let blocks: Vec<Vec<u8>> = [
            // C.3.1 to C.3.3 and C.4.1, C.4.2: requests (the later ones index the first's).
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            // C.5.1, C.5.2: responses with inserts (evicting in a 256-byte table).
            "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
             2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
             6c65 2e63 6f6d",
            "4803 3330 37c1 c0bf",
            // Static name, literal value, with indexing (an nginx-like response head).
            "88 7605 6e67 696e 78 5f0a 7465 7874 2f70 6c61 696e",
            // Size updates (to 4096, to 0) before a field.
            "3fe11f 82",
            "20 82",
            // A new name with indexing; indexed 62; never indexed and with indexing under
            // the name of entry 62; an unwanted value without indexing (user-agent).
            "4001 6101 62",
            "be",
            "1f2f 0178",
            "7e01 79",
            "0f2b 0361 6263",
            // Errors: index 0, integer overflow, cut inside a string, size update late.
            "80",
            "ffff ffff ffff",
            "8286 4105 61",
            "82 20",
            "",
        ]
        .iter()
        .map(|b| hex(b))
        .collect();
        let wanteds: [fn(&[u8]) -> bool; 3] = [|_| true, |n| n.starts_with(b":"), |_| false];
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let starts = [(256, false), (4096, false), (4096, true), (64, true)];
        let mut replays = 0;
        for (table_size, unknown) in starts {
            let make = || {
                if unknown {
                    Decoder::new_unknown(table_size)
                } else {
                    Decoder::new(table_size)
                }
            };
            let (mut memo, mut reference) = (make(), make());
            let mut block = 0;
            for step in 0..4000 {
                // Mostly the same block again, as clients and servers send them.
                if next(3) == 0 {
                    block = next(blocks.len());
                }
                let wanted = wanteds[if next(8) == 0 { next(3) } else { 0 }];
                let max = if next(8) == 0 { 60 } else { usize::MAX };
                if next(50) == 0 {
                    let n = [64, 256, 4096][next(3)];
                    memo.set_max_table_size(n);
                    reference.set_max_table_size(n);
                }
                reference.last_block.forget();
                let expected = decode_with(&mut reference, &blocks[block], max, wanted);
                let got = decode_with(&mut memo, &blocks[block], max, wanted);
                assert_eq!(got, expected, "step {step}, block {block}");
                assert_eq!(
                    table_of(&memo),
                    table_of(&reference),
                    "step {step}, block {block}"
                );
            }
            replays += memo.last_block.replays;
        }
        assert!(replays > 1000, "only {replays} blocks replayed");
    }

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

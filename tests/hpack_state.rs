//! HPACK decoder state beyond the RFC examples: captures that start mid-connection (unknown
//! dynamic table), recovery after errors, and the error cases that must never panic.
//!
//! The main check drives a reference encoder (below, written from RFC 7541 section 6 and
//! tracking its own table with eviction) with random header lists, random table sizes and
//! size updates, and compares two decoders against what it meant to send: one that saw the
//! whole connection must return every field exactly; one created with `new_unknown` after a
//! cut must return exactly the fields that do not depend on entries inserted before the cut
//! (directly, or through an entry whose name came from one),
//! and count the others as `unknown_refs`.

mod common;

use common::Rng;
use std::collections::VecDeque;
use tracetail::analyzers::http2::hpack::{BlockInfo, Decoder, HpackError, STATIC_TABLE};

/// One field as the encoder meant it, and whether a decoder that missed the start of the
/// connection cannot know it.
struct Intent {
    name: Vec<u8>,
    value: Vec<u8>,
    needs_pre_cut_entry: bool,
}

struct Entry {
    name: Vec<u8>,
    value: Vec<u8>,
    pre_cut: bool,
}

/// An HPACK encoder with its own dynamic table, choosing representations at random.
struct Encoder {
    table: VecDeque<Entry>,
    size: usize,
    max_size: usize,
}

fn put_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u8, mut value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_integer(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

fn random_bytes(rng: &mut Rng, max_len: usize) -> Vec<u8> {
    (0..rng.below(max_len + 1))
        .map(|_| b'a' + rng.below(26) as u8)
        .collect()
}

impl Encoder {
    fn new(max_size: usize) -> Self {
        Encoder {
            table: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let e = self.table.pop_back().unwrap();
            self.size -= e.name.len() + e.value.len() + 32;
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8], pre_cut: bool) {
        let size = name.len() + value.len() + 32;
        if size > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - size);
        self.table.push_front(Entry {
            name: name.to_vec(),
            value: value.to_vec(),
            pre_cut,
        });
        self.size += size;
    }

    /// The cut: a decoder starting now knows none of the present entries.
    fn cut(&mut self) {
        for e in &mut self.table {
            e.pre_cut = true;
        }
    }

    /// A random block of `fields` fields. With `unknown_names`, may insert entries whose
    /// name comes from a pre-cut entry (a late decoder knows their value, not their name
    /// or size).
    fn block(
        &mut self,
        rng: &mut Rng,
        fields: usize,
        limit: usize,
        unknown_names: bool,
    ) -> (Vec<u8>, Vec<Intent>) {
        let mut out = Vec::new();
        let mut intents = Vec::new();
        if rng.chance(6) {
            self.max_size = rng.below(limit + 1);
            self.evict_to(self.max_size);
            put_integer(&mut out, 0x20, 5, self.max_size);
        }
        for _ in 0..fields {
            let dynamic = self.table.len();
            let choice = rng.below(6);
            if choice == 0 || (choice == 1 && dynamic == 0) {
                let i = 1 + rng.below(61);
                put_integer(&mut out, 0x80, 7, i);
                let (n, v) = STATIC_TABLE[i - 1];
                intents.push(Intent {
                    name: n.into(),
                    value: v.into(),
                    needs_pre_cut_entry: false,
                });
            } else if choice == 1 {
                let d = rng.below(dynamic);
                put_integer(&mut out, 0x80, 7, 62 + d);
                let e = &self.table[d];
                intents.push(Intent {
                    name: e.name.clone(),
                    value: e.value.clone(),
                    needs_pre_cut_entry: e.pre_cut,
                });
            } else {
                // A literal: name new, static, or from the dynamic table.
                let (flags, prefix, indexing) = match rng.below(3) {
                    0 => (0x40, 6, true),
                    1 => (0x00, 4, false),
                    _ => (0x10, 4, false),
                };
                let value = random_bytes(rng, 40);
                let (name, name_pre_cut) = match rng.below(3) {
                    0 if dynamic > 0 => {
                        let d = rng.below(dynamic);
                        let e = &self.table[d];
                        if !unknown_names && indexing && e.pre_cut {
                            // Fall back to a new name.
                            let name = random_bytes(rng, 20);
                            put_integer(&mut out, flags, prefix, 0);
                            put_string(&mut out, &name);
                            (name, false)
                        } else {
                            let name = e.name.clone();
                            let pre_cut = e.pre_cut;
                            put_integer(&mut out, flags, prefix, 62 + d);
                            (name, pre_cut)
                        }
                    }
                    1 => {
                        let i = 1 + rng.below(61);
                        put_integer(&mut out, flags, prefix, i);
                        (STATIC_TABLE[i - 1].0.as_bytes().to_vec(), false)
                    }
                    _ => {
                        let name = random_bytes(rng, 20);
                        put_integer(&mut out, flags, prefix, 0);
                        put_string(&mut out, &name);
                        (name, false)
                    }
                };
                put_string(&mut out, &value);
                if indexing {
                    self.insert(&name, &value, name_pre_cut);
                }
                intents.push(Intent {
                    name,
                    value,
                    needs_pre_cut_entry: name_pre_cut,
                });
            }
        }
        (out, intents)
    }
}

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(d: &mut Decoder, block: &[u8]) -> (Fields, Result<BlockInfo, HpackError>) {
    let mut fields = Vec::new();
    let result = d.decode(block, usize::MAX, |n, v| {
        fields.push((n.to_vec(), v.to_vec()))
    });
    (fields, result)
}

/// Runs one random connection; returns (fields the late decoder could not know, fields).
fn run_connection(seed: u64, unknown_names: bool) -> (u32, usize) {
    let mut rng = Rng(seed | 1);
    let limit = [64, 256, 1024, 4096][rng.below(4)];
    let mut encoder = Encoder::new(limit);
    let mut full = Decoder::new(limit);
    let cut_at = rng.below(8);
    let mut late: Option<Decoder> = None;
    let (mut unknown_total, mut late_fields) = (0, 0);
    for block_no in 0..40 {
        if block_no == cut_at {
            encoder.cut();
            late = Some(Decoder::new_unknown(limit));
        }
        let fields = 1 + rng.below(12);
        let (block, intents) = encoder.block(&mut rng, fields, limit, unknown_names);
        let want: Fields = intents
            .iter()
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect();
        let (got, result) = decode(&mut full, &block);
        assert_eq!(
            result,
            Ok(BlockInfo::default()),
            "seed {seed} block {block_no}"
        );
        assert_eq!(got, want, "seed {seed} block {block_no}");
        assert!(full.is_fully_known());
        assert_eq!(
            full.known_size(),
            encoder.size,
            "seed {seed} block {block_no}"
        );

        let Some(late) = late.as_mut() else { continue };
        let (got, result) = decode(late, &block);
        let info = result.unwrap_or_else(|e| panic!("seed {seed} block {block_no}: {e}"));
        unknown_total += info.unknown_refs;
        late_fields += intents.len();
        assert_eq!(got.len() + info.unknown_refs as usize, intents.len());
        // Exactly the fields that need no pre-cut knowledge, nothing guessed, nothing lost.
        let knowable: Fields = intents
            .iter()
            .filter(|i| !i.needs_pre_cut_entry)
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect();
        assert_eq!(got, knowable, "seed {seed} block {block_no}");
        // The known entries are always the newest entries of the real table, in order.
        for (i, (n, v)) in late.known_entries().enumerate() {
            if let Some(e) = encoder.table.get(i) {
                assert_eq!((n, v), (&e.name[..], &e.value[..]), "seed {seed}");
            }
        }
    }
    (unknown_total, late_fields)
}

#[test]
fn late_decoder_answers_exactly_what_it_can_know() {
    let (mut unknown, mut fields) = (0, 0);
    for seed in 0..400 {
        let (u, f) = run_connection(seed * 7919 + 1, false);
        unknown += u;
        fields += f;
    }
    // The test must exercise both sides: unknown references and known ones.
    assert!(unknown > 100, "only {unknown} unknown references");
    assert!((unknown as usize) < fields / 2, "{unknown} of {fields}");
}

#[test]
fn late_decoder_with_unknown_names_loses_only_those_entries() {
    let (mut unknown, mut fields) = (0, 0);
    for seed in 0..400 {
        let (u, f) = run_connection(seed * 104_729 + 3, true);
        unknown += u;
        fields += f;
    }
    assert!(unknown > 100, "only {unknown} unknown references");
    assert!((unknown as usize) < fields / 2, "{unknown} of {fields}");
}

#[test]
fn unknown_reference_is_counted_not_guessed() {
    let mut d = Decoder::new_unknown(4096);
    // :method GET, then index 62 (an entry from before the capture), then :path /.
    let (fields, info) = decode(&mut d, &[0x82, 0xbe, 0x84]);
    assert_eq!(
        fields,
        vec![
            (b":method".to_vec(), b"GET".to_vec()),
            (b":path".to_vec(), b"/".to_vec())
        ]
    );
    assert_eq!(info.unwrap().unknown_refs, 1);
    // A literal whose name is an unknown entry: also unknown, value not shown alone.
    let (fields, info) = decode(&mut d, &[0x0f, 0x2f, 0x01, b'x']);
    assert!(fields.is_empty());
    assert_eq!(info.unwrap().unknown_refs, 1);
    // Inserting "a: b" makes index 62 known; 63 is still unknown.
    let (_, info) = decode(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']);
    assert_eq!(info.unwrap(), BlockInfo::default());
    let (fields, info) = decode(&mut d, &[0xbe, 0xbf]);
    assert_eq!(fields, vec![(b"a".to_vec(), b"b".to_vec())]);
    assert_eq!(info.unwrap().unknown_refs, 1);
    assert!(!d.is_fully_known());
    // Inserting a value under the name of an unknown entry (index 63): the new entry (62)
    // is unknown, but "a: b" behind it (now 63) is still answered.
    let (fields, info) = decode(&mut d, &[0x7f, 0x00, 0x01, b'v']); // 63 fills the 6-bit prefix
    assert!(fields.is_empty());
    assert_eq!(info.unwrap().unknown_refs, 1);
    let (fields, info) = decode(&mut d, &[0xbe, 0xbf]);
    assert_eq!(fields, vec![(b"a".to_vec(), b"b".to_vec())]);
    assert_eq!(info.unwrap().unknown_refs, 1);
    assert_eq!(
        d.known_entries().count(),
        0,
        "the newest entry's name is unknown"
    );
}

#[test]
fn table_becomes_fully_known_when_nothing_old_can_remain() {
    // 100-byte table: two 34-byte entries leave 32 bytes, room for one old entry; a third
    // leaves none, so index 65 is then an error, as for a decoder that saw everything.
    let mut d = Decoder::new_unknown(100);
    let insert = |d: &mut Decoder, n: u8| {
        let (_, r) = decode(d, &[0x40, 0x01, n, 0x01, n]);
        r.unwrap();
    };
    insert(&mut d, b'a');
    insert(&mut d, b'b');
    assert!(!d.is_fully_known());
    let (_, info) = decode(&mut d, &[0xc0]);
    assert_eq!(info.unwrap().unknown_refs, 1);
    // A size update to 68 leaves room for the two known entries only.
    let (_, r) = decode(&mut d, &[0x3f, 0x25]);
    r.unwrap();
    assert!(d.is_fully_known());
    assert_eq!(d.known_size(), 68);
    assert_eq!(decode(&mut d, &[0xc0]).1, Err(HpackError::BadIndex(64)));
    // An entry larger than the table empties it: fully known, and empty.
    let mut d = Decoder::new_unknown(37);
    let (_, r) = decode(
        &mut d,
        &[0x40, 0x05, b'l', b'o', b'n', b'g', b'!', 0x01, b'x'],
    );
    r.unwrap();
    assert!(d.is_fully_known());
    assert_eq!(d.known_size(), 0);
}

#[test]
fn after_an_error_the_table_is_unknown_then_learned_again() {
    let mut d = Decoder::new(4096);
    decode(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']).1.unwrap();
    assert!(d.is_fully_known());
    // Truncated: a literal whose value length runs past the end.
    assert_eq!(
        decode(&mut d, &[0x40, 0x01, b'c', 0x05, b'd']).1,
        Err(HpackError::Truncated)
    );
    assert!(!d.is_fully_known());
    assert_eq!(d.known_entries().count(), 0);
    let (fields, info) = decode(&mut d, &[0xbe]);
    assert!(fields.is_empty());
    assert_eq!(info.unwrap().unknown_refs, 1);
}

#[test]
fn malformed_blocks_are_errors() {
    let cases: &[(&[u8], HpackError)] = &[
        (&[0x80], HpackError::BadIndex(0)),
        (&[0xbe], HpackError::BadIndex(62)),
        (&[0x40 | 0x3f, 0x80], HpackError::Truncated),
        (
            &[0x3f, 0xe2, 0x1f],
            HpackError::SizeUpdateTooLarge {
                requested: 4097,
                limit: 4096,
            },
        ),
        (&[0x82, 0x20], HpackError::SizeUpdateNotAtStart),
        (&[0x00, 0x00], HpackError::Truncated),
        (
            &[0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f],
            HpackError::IntegerOverflow,
        ),
        (
            &[0x00, 0x81, 0xff, 0x00],
            HpackError::Huffman(
                tracetail::analyzers::http2::hpack::huffman::HuffmanError::BadPadding,
            ),
        ),
    ];
    for (block, want) in cases {
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, block).1.as_ref(), Err(want), "{block:02x?}");
        // The error text names the problem.
        assert!(!want.to_string().is_empty());
    }
    // Size updates at the start (two in a row, as after a SETTINGS change) are fine.
    let mut d = Decoder::new(4096);
    assert!(decode(&mut d, &[0x20, 0x3f, 0xe1, 0x0f, 0x82]).1.is_ok());
}

#[test]
fn settings_limit_caps_size_updates_and_memory() {
    let mut d = Decoder::new(1 << 30);
    // The SETTINGS value is capped at 64 KiB: an update to 64 KiB + 1 is refused.
    let mut block = Vec::new();
    put_integer(&mut block, 0x20, 5, 65_537);
    assert!(matches!(
        decode(&mut d, &block).1,
        Err(HpackError::SizeUpdateTooLarge { limit: 65_536, .. })
    ));
    // Lowering the setting shrinks the table now.
    let mut d = Decoder::new(4096);
    for n in b'a'..=b'z' {
        decode(&mut d, &[0x40, 0x01, n, 0x01, n]).1.unwrap();
    }
    assert_eq!(d.known_size(), 26 * 34);
    d.set_max_table_size(100);
    assert_eq!(d.known_size(), 68);
    assert_eq!(d.known_entries().next(), Some((&b"z"[..], &b"z"[..])));
}

#[test]
fn list_limit_drops_fields_but_keeps_the_table() {
    let mut d = Decoder::new(4096);
    // Three fields of 34 bytes each against a 70-byte limit: the third is dropped, yet
    // still inserted into the table.
    let block = [
        0x40, 0x01, b'a', 0x01, b'a', 0x40, 0x01, b'b', 0x01, b'b', 0x40, 0x01, b'c', 0x01, b'c',
    ];
    let mut fields = Vec::new();
    let info = d
        .decode(&block, 70, |n, v| fields.push((n.to_vec(), v.to_vec())))
        .unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(info.dropped_fields, 1);
    assert_eq!(d.known_entries().count(), 3);
}

//! JSON Lines and CSV rows from a [`RowColumns`] definition (the Arrow tables are built in
//! `crate::export`). Both resolve the column order once and then write each row without
//! allocating: the hot path of `tracetail http --json` on big captures.
//!
//! A cell (the text before a value and the value) that fits in a few dozen bytes (numbers,
//! booleans, nulls, IPv4 addresses, in JSON short strings with nothing to escape) is
//! assembled on the stack in a [`Cell`] and appended with one copy; other strings, lists and
//! IPv6 addresses are appended as they are written. The capture's name is escaped or quoted
//! once per file ([`JsonRows::capture`], [`CsvRows::capture`]). Each of these halved the instructions per row (see the commits).
//! Row types whose text columns are in table order (HTTP, DNS, TCP exchanges, TLS) are
//! written by [`unrolled`] writers, which call each getter directly; the others loop over the
//! getters' pointers.

use super::{Column, RowColumns, Value};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest text before a value: `,"` + name + `":` (names are at most 28 bytes).
const KEY_MAX: usize = 32;

/// The bytes of a [`Cell`]: a key, then a value of at most 24 bytes (`-` and 20 digits, a
/// quoted IPv4 address), and room for the fixed-size copy of a number's digits.
const CELL: usize = KEY_MAX + 40;

/// What goes before one column's value (`,"name":` in JSON, `,` in CSV), as the start of a
/// [`Cell`]: starting a cell is a fixed-size copy, not a call to `memcpy`. The text of a null
/// value follows it, so a null cell is the key's bytes as they are.
pub(crate) struct Key<R: 'static> {
    get: fn(&R) -> Value<'_>,
    cell: [u8; CELL],
    len: usize,
    null_len: usize,
}

impl<R> Key<R> {
    fn new(column: &Column<R>, text: &[u8], null: &[u8]) -> Self {
        assert!(
            text.len() <= KEY_MAX,
            "column name {} is too long for a key",
            column.name
        );
        let mut cell = [0; CELL];
        cell[..text.len()].copy_from_slice(text);
        cell[text.len()..text.len() + null.len()].copy_from_slice(null);
        Key {
            get: column.get,
            cell,
            len: text.len(),
            null_len: text.len() + null.len(),
        }
    }
}

/// One cell formatted on the stack: the key, then a short value.
struct Cell {
    bytes: [u8; CELL],
    len: usize,
}

impl Cell {
    #[inline(always)]
    fn start<R>(key: &Key<R>) -> Cell {
        Cell {
            bytes: key.cell,
            len: key.len,
        }
    }

    /// A cell with no key.
    fn empty() -> Cell {
        Cell {
            bytes: [0; CELL],
            len: 0,
        }
    }

    /// Appends a short constant (`null`, `true`, a quote).
    #[inline(always)]
    fn put(&mut self, text: &[u8]) {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text);
        self.len += text.len();
    }

    /// Appends `n` in decimal, as `Display` writes it.
    #[inline]
    fn put_u64(&mut self, n: u64) {
        let mut digits = [0; 2 * MAX_DIGITS];
        let start = write_decimal(&mut digits, n);
        // A fixed-size copy (the bytes after the digits are overwritten or not written out).
        self.bytes[self.len..self.len + MAX_DIGITS]
            .copy_from_slice(&digits[start..start + MAX_DIGITS]);
        self.len += MAX_DIGITS - start;
    }

    #[inline]
    fn put_i64(&mut self, n: i64) {
        if n < 0 {
            self.put(b"-");
        }
        self.put_u64(n.unsigned_abs());
    }

    /// Appends an IPv4 address as `Display` writes it (dotted decimal, no leading zeros):
    /// each octet is one 4-byte copy of its digits and a dot ([`OCTET_TEXT`]), the last dot
    /// taken back. Digit by digit, an address cost ~110 instructions.
    fn put_ipv4(&mut self, ip: Ipv4Addr) {
        for octet in ip.octets() {
            let (text, len) = OCTET_TEXT[usize::from(octet)];
            self.bytes[self.len..self.len + 4].copy_from_slice(&text);
            self.len += usize::from(len);
        }
        self.len -= 1;
    }

    fn text(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends [`Cell::text`] to `buf` (see [`push_prefix`]).
    #[inline(always)]
    fn push_to(&self, buf: &mut Vec<u8>) {
        push_prefix(buf, &self.bytes, self.len);
    }
}

/// Each octet's decimal digits followed by a dot, and how many bytes that is.
static OCTET_TEXT: [([u8; 4], u8); 256] = {
    let mut table = [([0u8; 4], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (mut text, mut len) = ([0u8; 4], 0);
        if n >= 100 {
            text[len] = b'0' + (n / 100) as u8;
            len += 1;
        }
        if n >= 10 {
            text[len] = b'0' + (n / 10 % 10) as u8;
            len += 1;
        }
        text[len] = b'0' + (n % 10) as u8;
        text[len + 1] = b'.';
        table[n] = (text, len as u8 + 2);
        n += 1;
    }
    table
};

/// Appends `bytes[..len]`: all of `bytes` with one copy of a size known when compiling
/// (inlined as a few vector moves), then the length cut back. A row is ~40 short cells, and
/// a call to `memcpy` for each took 5% of an `http --json` pass.
#[inline(always)]
fn push_prefix(buf: &mut Vec<u8>, bytes: &[u8; CELL], len: usize) {
    let at = buf.len();
    buf.extend_from_slice(bytes);
    buf.truncate(at + len);
}

/// Appends `n` in decimal, as `Display` writes it.
pub fn push_u64(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0; 2 * MAX_DIGITS];
    let start = write_decimal(&mut digits, n);
    buf.extend_from_slice(&digits[start..MAX_DIGITS]);
}

/// Appends `n` in decimal, as `Display` writes it.
pub fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

/// Appends `n` in exactly `width` decimal digits (zeros first; `n` below 10^`width`).
pub fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [0; 2 * MAX_DIGITS];
    let start = write_decimal(&mut digits, n);
    for _ in (MAX_DIGITS - start)..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&digits[start..MAX_DIGITS]);
}

/// The digits of `u64::MAX`.
const MAX_DIGITS: usize = 20;

/// "00" to "99": two digits per lookup.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `n` in decimal ending at `digits[MAX_DIGITS]`; returns where the digits start.
/// Four digits per division, as the `itoa` crate does (eight per division in 32-bit
/// arithmetic measured slower). Inlined: a row's 17 numbers paid a call each.
#[inline(always)]
fn write_decimal(digits: &mut [u8; 2 * MAX_DIGITS], mut n: u64) -> usize {
    let mut start = MAX_DIGITS;
    while n >= 10_000 {
        let four = (n % 10_000) as u32;
        n /= 10_000;
        let (high, low) = (digit_pair(four / 100), digit_pair(four % 100));
        start -= 4;
        let out: &mut [u8; 4] = (&mut digits[start..start + 4]).try_into().expect("4 bytes");
        *out = [high[0], high[1], low[0], low[1]];
    }
    let mut n = n as u32;
    if n >= 100 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&digit_pair(n % 100));
        n /= 100;
    }
    if n >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(&digit_pair(n));
    } else {
        start -= 1;
        digits[start] = b'0' + n as u8;
    }
    start
}

/// The two digits of `n` (below 100).
fn digit_pair(n: u32) -> [u8; 2] {
    let at = 2 * n as usize;
    [DIGIT_PAIRS[at], DIGIT_PAIRS[at + 1]]
}

/// An IPv6 address as `Display` writes it (RFC 5952: lowercase, no leading zeros, the first
/// longest run of two or more zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`). By hand:
/// going through `core::fmt` cost ~1,500 instructions an address.
fn push_ipv6(buf: &mut Vec<u8>, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        buf.extend_from_slice(b"::ffff:");
        push_ipv4(buf, v4);
        return;
    }
    let groups = ip.segments();
    // The first longest run of zero groups (start, length).
    let mut zeros = (0, 0);
    let mut run = (0, 0);
    for (i, &group) in groups.iter().enumerate() {
        if group == 0 {
            if run.1 == 0 {
                run.0 = i;
            }
            run.1 += 1;
            if run.1 > zeros.1 {
                zeros = run;
            }
        } else {
            run = (0, 0);
        }
    }
    // At most 39 bytes: formatted on the stack, copied once.
    let mut text = [0u8; 39];
    let mut len = 0;
    fn put_groups(text: &mut [u8; 39], len: &mut usize, groups: &[u16]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, &group) in groups.iter().enumerate() {
            if i > 0 {
                text[*len] = b':';
                *len += 1;
            }
            let digits = (16 - group.leading_zeros() as usize).div_ceil(4).max(1);
            for d in (0..digits).rev() {
                text[*len] = HEX[usize::from(group >> (4 * d)) & 0xf];
                *len += 1;
            }
        }
    }
    if zeros.1 > 1 {
        put_groups(&mut text, &mut len, &groups[..zeros.0]);
        text[len..len + 2].copy_from_slice(b"::");
        len += 2;
        put_groups(&mut text, &mut len, &groups[zeros.0 + zeros.1..]);
    } else {
        put_groups(&mut text, &mut len, &groups);
    }
    buf.extend_from_slice(&text[..len]);
}

/// An address as `Display` writes it.
/// Appends an address as `Display` writes it.
pub fn push_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(buf, v4),
        IpAddr::V6(v6) => push_ipv6(buf, v6),
    }
}

fn push_ipv4(buf: &mut Vec<u8>, ip: Ipv4Addr) {
    let mut cell = Cell::empty();
    cell.put_ipv4(ip);
    buf.extend_from_slice(cell.text());
}

/// Writes rows as JSON objects, one per line, with the bytes `serde_json` writes for a struct
/// with the same fields in the same order (tests compare the two).
pub struct JsonRows<R: 'static> {
    /// Each column with what goes before its value: `{"name":` for the first, `,"name":` for
    /// the others (names need no escaping).
    keys: Vec<Key<R>>,
    /// Writes the cells with each getter called directly, where the row type has it.
    unrolled: Option<UnrolledJson<R>>,
}

impl<R> JsonRows<R> {
    pub fn new(row: &RowColumns<R>) -> Self {
        let keys = row
            .json()
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let open = if i > 0 { "," } else { "{" };
                Key::new(c, format!("{open}\"{}\":", c.name).as_bytes(), b"null")
            })
            .collect();
        JsonRows {
            keys,
            unrolled: row.unrolled.as_ref().map(|u| u.json),
        }
    }

    /// The `capture` column's value for rows of the capture named `capture` (a JSON string):
    /// made once per file for [`JsonRows::push_row`].
    pub fn capture(capture: &str) -> Vec<u8> {
        let mut value = Vec::new();
        push_json_str(&mut value, capture);
        value
    }

    /// Appends the line of `row` to `buf`; `capture` fills the `capture` column.
    pub fn push_line(&self, buf: &mut Vec<u8>, capture: &str, row: &R) {
        self.push_row(buf, &Self::capture(capture), row);
    }

    /// [`JsonRows::push_line`] with the `capture` value made by [`JsonRows::capture`].
    pub fn push_row(&self, buf: &mut Vec<u8>, capture: &[u8], row: &R) {
        match self.unrolled {
            Some(unrolled) => unrolled(&self.keys, buf, capture, row),
            None => self.push_cells(buf, capture, row),
        }
        buf.extend_from_slice(b"}\n");
    }

    /// The cells of `row`, each through its getter's pointer.
    fn push_cells(&self, buf: &mut Vec<u8>, capture: &[u8], row: &R) {
        push_cells(buf, &self.keys, row, &mut Json { capture });
    }
}

/// Writers of the cells of one row type's rows with each column's getter called directly,
/// not through its pointer: see [`unrolled`].
pub(crate) struct Unrolled<R: 'static> {
    pub json: UnrolledJson<R>,
    pub csv: UnrolledCsv<R>,
}

/// Writes the JSON cells of a row (its keys and values, without the closing brace), given
/// the `capture` value.
pub(crate) type UnrolledJson<R> = fn(&[Key<R>], &mut Vec<u8>, &[u8], &R);

/// Writes the CSV fields of a row (without the line end), given scratch space and the
/// `capture` field.
pub(crate) type UnrolledCsv<R> = fn(&[Key<R>], &mut Vec<u8>, &mut Vec<u8>, &[u8], &R);

/// The [`Unrolled`] writers of the rows of `$row` whose columns are the `const` array
/// `$columns`, in that order in JSON and CSV. Each column's getter is called directly, so the
/// compiler inlines it and keeps only the arm of the value's `match` it returns: ~950
/// instructions fewer a row of `http --json` or `--csv` (35 columns), ~4 % of a pass on small
/// packets.
macro_rules! unrolled {
    ($row:ty, $columns:path) => {{
        use $crate::columns::writers::{csv_cells_unrolled, json_cells_unrolled, Key, Unrolled};
        fn json(keys: &[Key<$row>], buf: &mut Vec<u8>, capture: &[u8], row: &$row) {
            json_cells_unrolled($columns, keys, buf, capture, row)
        }
        fn csv(
            keys: &[Key<$row>],
            buf: &mut Vec<u8>,
            scratch: &mut Vec<u8>,
            capture: &[u8],
            row: &$row,
        ) {
            csv_cells_unrolled($columns, keys, buf, scratch, capture, row)
        }
        Unrolled { json, csv }
    }};
}
pub(crate) use unrolled;

/// The JSON cells of `row`, for [`unrolled`].
#[inline(always)]
pub(crate) fn json_cells_unrolled<R>(
    columns: &'static [Column<R>],
    keys: &[Key<R>],
    buf: &mut Vec<u8>,
    capture: &[u8],
    row: &R,
) {
    push_cells_unrolled(columns, keys, buf, row, &mut Json { capture });
}

/// The CSV fields of `row`, for [`unrolled`].
#[inline(always)]
pub(crate) fn csv_cells_unrolled<R>(
    columns: &'static [Column<R>],
    keys: &[Key<R>],
    buf: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    capture: &[u8],
    row: &R,
) {
    push_cells_unrolled(columns, keys, buf, row, &mut Csv { scratch, capture });
}

/// The cells of `row`: inlined into a writer of one `const` array of `columns`, each
/// `columns.get(i)` is known when compiling, and so is the getter it calls.
#[inline(always)]
fn push_cells_unrolled<R>(
    columns: &'static [Column<R>],
    keys: &[Key<R>],
    buf: &mut Vec<u8>,
    row: &R,
    format: &mut impl Format,
) {
    // At most UNROLLED_MAX columns: `RowColumns::with_unrolled` checks it when compiling.
    assert_eq!(
        keys.len(),
        columns.len(),
        "an unrolled row has its columns' keys"
    );
    macro_rules! cells {
        ($($i:literal)*) => {$(
            if let Some(column) = columns.get($i) {
                push_cell(buf, &keys[$i], (column.get)(row), format);
            }
        )*};
    }
    cells!(
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
        32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47
    );
}

/// The most columns [`push_cells_unrolled`] writes.
pub(crate) const UNROLLED_MAX: usize = 48;

/// Appends the cells of `row` (see [`push_cell`]).
#[inline(always)]
fn push_cells<R>(buf: &mut Vec<u8>, keys: &[Key<R>], row: &R, format: &mut impl Format) {
    for key in keys {
        push_cell(buf, key, (key.get)(row), format);
    }
}

/// How a text format writes values after their keys.
trait Format {
    /// Formats a short value (number, boolean, null, IPv4 address) into `cell`; false for
    /// the others.
    fn put_short(cell: &mut Cell, value: &Value<'_>) -> bool;
    /// Appends any other value.
    fn push_long(&mut self, buf: &mut Vec<u8>, value: Value<'_>);
}

/// JSON values; `capture` is the `capture` column's (see [`JsonRows::capture`]).
struct Json<'c> {
    capture: &'c [u8],
}

impl Format for Json<'_> {
    /// Numbers, booleans, nulls, quoted IPv4 addresses and short strings with nothing to
    /// escape; other strings, lists and IPv6 addresses are written straight into the line.
    #[inline(always)]
    fn put_short(cell: &mut Cell, value: &Value<'_>) -> bool {
        match *value {
            Value::Null => cell.put(b"null"),
            Value::UInt(n) => cell.put_u64(n),
            Value::Int(n) => cell.put_i64(n),
            Value::Bool(b) => cell.put(if b { b"true" } else { b"false" }),
            Value::Ip(IpAddr::V4(ip)) => {
                cell.put(b"\"");
                cell.put_ipv4(ip);
                cell.put(b"\"");
            }
            // A short string with nothing to escape (a method, a version, most hosts): in the
            // cell like a number, one copy with its key.
            Value::Str(s) if s.len() <= SHORT_STR && first_json_escape(s.as_bytes()).is_none() => {
                cell.put(b"\"");
                cell.put(s.as_bytes());
                cell.put(b"\"");
            }
            _ => return false,
        }
        true
    }
    #[inline(always)]
    fn push_long(&mut self, buf: &mut Vec<u8>, value: Value<'_>) {
        push_json_value(buf, value, self.capture);
    }
}

/// CSV fields; `capture` is the `capture` column's (see [`CsvRows::capture`]), `scratch`
/// holds a value being formatted.
struct Csv<'c, 's> {
    scratch: &'s mut Vec<u8>,
    capture: &'c [u8],
}

impl Format for Csv<'_, '_> {
    /// Numbers, booleans, nulls (empty) and IPv4 addresses: none of them needs quotes.
    #[inline(always)]
    fn put_short(cell: &mut Cell, value: &Value<'_>) -> bool {
        match *value {
            Value::Null => {}
            Value::UInt(n) => cell.put_u64(n),
            Value::Int(n) => cell.put_i64(n),
            Value::Bool(b) => cell.put(if b { b"true" } else { b"false" }),
            Value::Ip(IpAddr::V4(ip)) => cell.put_ipv4(ip),
            _ => return false,
        }
        true
    }
    /// Quoted where needed.
    #[inline(always)]
    fn push_long(&mut self, buf: &mut Vec<u8>, value: Value<'_>) {
        match value {
            Value::Str(s) => push_csv_field(buf, s.as_bytes()),
            Value::Capture => buf.extend_from_slice(self.capture),
            other => {
                self.scratch.clear();
                push_csv_text(self.scratch, &other, b"");
                push_csv_field(buf, self.scratch);
            }
        }
    }
}

/// Appends one cell: a null as its key's bytes, a short value formatted after its key in a
/// [`Cell`], any other value after its key.
#[inline(always)]
fn push_cell<R, F: Format>(buf: &mut Vec<u8>, key: &Key<R>, value: Value<'_>, format: &mut F) {
    if matches!(value, Value::Null) {
        push_prefix(buf, &key.cell, key.null_len);
        return;
    }
    let mut cell = Cell::start(key);
    if F::put_short(&mut cell, &value) {
        cell.push_to(buf);
    } else {
        push_prefix(buf, &key.cell, key.len);
        format.push_long(buf, value);
    }
}

fn push_json_value(buf: &mut Vec<u8>, value: Value<'_>, capture: &[u8]) {
    match value {
        Value::Str(s) => push_json_str(buf, s),
        Value::Owned(s) => push_json_str(buf, &s),
        Value::Capture => buf.extend_from_slice(capture),
        // Digits, dots, colons and hex letters: nothing to escape.
        Value::Ip(ip) => {
            buf.push(b'"');
            push_ip(buf, ip);
            buf.push(b'"');
        }
        Value::List(items) => push_json_list(buf, items),
        Value::Strings(items) => push_json_list(buf, items),
        short => {
            let mut cell = Cell::empty();
            Json::put_short(&mut cell, &short);
            buf.extend_from_slice(cell.text());
        }
    }
}

fn push_json_list(buf: &mut Vec<u8>, items: &[impl AsRef<str>]) {
    buf.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_json_str(buf, item.as_ref());
    }
    buf.push(b']');
}

/// `b` repeated in the 8 bytes of a word.
const fn every_byte(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether a byte of `word` is below `limit` (at most 128): exact, as the whole word's answer
/// (the classic "has less" bit trick).
fn has_byte_below(word: u64, limit: u8) -> bool {
    word.wrapping_sub(every_byte(limit)) & !word & every_byte(0x80) != 0
}

/// Whether a byte of `word` is `b`.
fn has_byte(word: u64, b: u8) -> bool {
    has_byte_below(word ^ every_byte(b), 1)
}

/// The first byte of `bytes` that `special` picks, looking at 8 bytes at a time with
/// `word_has_special` (which must answer true for a word holding such a byte): most strings
/// have none, and one word test is a fraction of eight byte tests.
fn first_special(
    bytes: &[u8],
    word_has_special: impl Fn(u64) -> bool,
    special: impl Fn(u8) -> bool,
) -> Option<usize> {
    let word_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let mut from = 0;
    while from + 8 <= bytes.len() && !word_has_special(word_at(from)) {
        from += 8;
    }
    // The last few bytes: as the (overlapping) last word when there is one.
    let tail_is_plain =
        from >= 8 && from + 8 > bytes.len() && !word_has_special(word_at(bytes.len() - 8));
    if tail_is_plain {
        return None;
    }
    let at = bytes[from..].iter().position(|&b| special(b))?;
    Some(from + at)
}

/// The longest string a JSON [`Cell`] takes after its key, with its quotes.
const SHORT_STR: usize = CELL - KEY_MAX - 2;

/// The first byte of `bytes` that JSON escapes (a control character, `"`, `\\`): sixteen
/// bytes at a time with SSE2 from sixteen on (the last sixteen overlapping the ones before),
/// about a third of the instructions of eight at a time on a row's strings (hosts, URIs).
#[inline(always)]
fn first_json_escape(bytes: &[u8]) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Some(last) = bytes.len().checked_sub(16) {
        let mut at = 0;
        while at < last {
            let escapes = sse2::json_escapes(&bytes[at..at + 16]);
            if escapes != 0 {
                return Some(at + escapes.trailing_zeros() as usize);
            }
            at += 16;
        }
        // The bytes before `at` were looked at already.
        let escapes = sse2::json_escapes(&bytes[last..]) >> (at - last);
        return (escapes != 0).then(|| at + escapes.trailing_zeros() as usize);
    }
    let word_needs_escape =
        |w: u64| has_byte_below(w, 0x20) || has_byte(w, b'"') || has_byte(w, b'\\');
    let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    first_special(bytes, word_needs_escape, needs_escape)
}

/// Sixteen bytes classified at once with SSE2 (always there on x86-64).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// A mask with bit `i` set when byte `i` is one JSON escapes: a control character (below
    /// 0x20, compared unsigned), `"` or `\\`.
    #[inline(always)]
    pub(super) fn json_escapes(sixteen: &[u8]) -> u32 {
        assert_eq!(sixteen.len(), 16);
        // SAFETY: the module is built only where SSE2 is enabled, and the load reads the
        // sixteen bytes of a slice of sixteen (`loadu`: any alignment).
        unsafe {
            let x = _mm_loadu_si128(sixteen.as_ptr().cast());
            let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
            let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))) as u32
        }
    }
}

/// A JSON string with serde_json's escapes: `\"`, `\\`, the short forms of control
/// characters that have one, `\u00xx` for the others; everything else as it is.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    // Most strings have nothing to escape: one scan, one copy.
    let Some(first) = first_json_escape(bytes) else {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    };
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[plain_from..i]);
        plain_from = i + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(escape);
        }
    }
    buf.extend_from_slice(&bytes[plain_from..]);
    buf.push(b'"');
}

/// Writes rows as CSV records: absent values empty, lists joined with `,`, booleans
/// `true`/`false`; quoting is the csv crate's (only where needed).
pub struct CsvRows<R: 'static> {
    /// Each column with what goes before its value: nothing for the first, `,` for the others.
    keys: Vec<Key<R>>,
    names: Vec<&'static str>,
    /// Writes the fields with each getter called directly, where the row type has it.
    unrolled: Option<UnrolledCsv<R>>,
}

impl<R> CsvRows<R> {
    pub fn new(row: &RowColumns<R>) -> Self {
        let columns = row.csv();
        let keys = (columns.iter().enumerate())
            .map(|(i, c)| Key::new(c, if i > 0 { b"," } else { b"" }, b""))
            .collect();
        let names = columns.iter().map(|c| c.name).collect();
        CsvRows {
            keys,
            names,
            unrolled: row.unrolled.as_ref().map(|u| u.csv),
        }
    }

    /// The header record.
    pub fn header(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.names.iter().copied()
    }

    /// The header record with its line end, as the csv crate writes it.
    pub fn push_header(&self, buf: &mut Vec<u8>) {
        for (i, name) in self.names.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            push_csv_field(buf, name.as_bytes());
        }
        buf.push(b'\n');
    }

    /// The `capture` column's field for rows of the capture named `capture` (quoted where
    /// needed): made once per file for [`CsvRows::push_record`].
    pub fn capture(capture: &str) -> Vec<u8> {
        let mut field = Vec::new();
        push_csv_field(&mut field, capture.as_bytes());
        field
    }

    /// Appends the record of `row` and its line end to `buf`: the bytes the csv crate writes
    /// for [`CsvRows::write`] (tests compare the two), without its per-field state machine.
    /// `capture` is made by [`CsvRows::capture`]; `scratch` holds lists being joined.
    pub fn push_record(&self, buf: &mut Vec<u8>, scratch: &mut Vec<u8>, capture: &[u8], row: &R) {
        let start = buf.len();
        match self.unrolled {
            Some(unrolled) => unrolled(&self.keys, buf, scratch, capture, row),
            None => self.push_fields(buf, scratch, capture, row),
        }
        if buf.len() == start {
            // A record of one empty field is written `""` (an empty line would be no record).
            buf.extend_from_slice(b"\"\"");
        }
        buf.push(b'\n');
    }

    /// The fields of `row`, each through its getter's pointer.
    fn push_fields(&self, buf: &mut Vec<u8>, scratch: &mut Vec<u8>, capture: &[u8], row: &R) {
        push_cells(buf, &self.keys, row, &mut Csv { scratch, capture });
    }

    /// Writes the record of `row` through the csv crate; `scratch` is reused for cells that
    /// need formatting.
    pub fn write<W: Write>(
        &self,
        out: &mut csv::Writer<W>,
        scratch: &mut Vec<u8>,
        capture: &str,
        row: &R,
    ) -> csv::Result<()> {
        for key in &self.keys {
            scratch.clear();
            push_csv_text(scratch, &(key.get)(row), capture.as_bytes());
            out.write_field(&scratch)?;
        }
        out.write_record(None::<&[u8]>)
    }
}

/// The text of a CSV field before quoting: absent values empty, lists joined with `,`.
fn push_csv_text(buf: &mut Vec<u8>, value: &Value<'_>, capture: &[u8]) {
    let mut cell = Cell::empty();
    if Csv::put_short(&mut cell, value) {
        buf.extend_from_slice(cell.text());
        return;
    }
    match value {
        Value::Str(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Owned(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Capture => buf.extend_from_slice(capture),
        Value::Ip(ip) => push_ip(buf, *ip),
        Value::List(items) => join(buf, items),
        Value::Strings(items) => join(buf, items),
        Value::Null | Value::UInt(_) | Value::Int(_) | Value::Bool(_) => {}
    }
}

/// Whether the csv crate quotes a field holding `text`: for a delimiter, a quote or a line end.
fn needs_csv_quotes(text: &[u8]) -> bool {
    let word_special =
        |w: u64| has_byte(w, b',') || has_byte(w, b'"') || has_byte(w, b'\n') || has_byte(w, b'\r');
    let special = |b: u8| matches!(b, b',' | b'"' | b'\n' | b'\r');
    first_special(text, word_special, special).is_some()
}

/// One field, quoted (its quotes doubled) where the csv crate quotes it.
fn push_csv_field(buf: &mut Vec<u8>, text: &[u8]) {
    if !needs_csv_quotes(text) {
        buf.extend_from_slice(text);
        return;
    }
    buf.push(b'"');
    for (i, part) in text.split(|&b| b == b'"').enumerate() {
        if i > 0 {
            buf.extend_from_slice(b"\"\"");
        }
        buf.extend_from_slice(part);
    }
    buf.push(b'"');
}

fn join(buf: &mut Vec<u8>, items: &[impl AsRef<str>]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(item.as_ref().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::{dns, flows, http, samples, tcp, tls};

    /// A deterministic stream of arbitrary numbers (xorshift).
    fn numbers(seed: u64) -> impl Iterator<Item = u64> {
        let mut x = seed;
        std::iter::repeat_with(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
    }

    fn cell_text(put: impl FnOnce(&mut Cell)) -> String {
        let mut cell = Cell::empty();
        put(&mut cell);
        String::from_utf8(cell.text().to_vec()).unwrap()
    }

    #[test]
    fn decimals_match_display() {
        let mut unsigned = vec![0, u64::MAX, u64::MAX - 1];
        for p in 0..20 {
            let power = 10u64.pow(p);
            unsigned.extend([power - 1, power, power + 1]);
        }
        unsigned.extend(numbers(1).take(2000));
        // Small and mid-sized numbers (ports, byte counts, latencies) as often as big ones.
        unsigned.extend(numbers(2).take(2000).map(|n| n >> (n % 64)));
        for &n in &unsigned {
            assert_eq!(cell_text(|c| c.put_u64(n)), n.to_string());
            for signed in [n as i64, (n as i64).wrapping_neg()] {
                assert_eq!(cell_text(|c| c.put_i64(signed)), signed.to_string());
            }
        }
        for n in [i64::MIN, i64::MIN + 1, i64::MAX, -1, 0, 1, -10, -9] {
            assert_eq!(cell_text(|c| c.put_i64(n)), n.to_string());
        }
    }

    #[test]
    fn ip_bytes_match_display() {
        let octets = [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 250, 255];
        let mut addrs: Vec<IpAddr> = Vec::new();
        for &a in &octets {
            for &b in &octets {
                addrs.push(Ipv4Addr::new(a, b, 255 - b, a / 2).into());
            }
        }
        for text in [
            "::",
            "::1",
            "1::",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "::1.2.3.4",
            "64:ff9b::192.0.2.33",
            "2001:db8::1:0:0:1",
            "2001:db8:0:0:1:0:0:1",
            "2001:0:0:1:0:0:0:1",
            "1:0:1:0:1:0:1:0",
            "0:1:0:1:0:1:0:1",
            "fe80::1ff:fe23:4567:890a",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            addrs.push(text.parse().unwrap());
        }
        // Groups drawn mostly from zero and a few widths, so every run layout occurs.
        let pick = [0u16, 0, 0, 1, 0xa, 0xab, 0xabc, 0xabcd, 0xffff, 0x0f00];
        let mut draws = numbers(3);
        for _ in 0..20_000 {
            let mut groups = [0u16; 8];
            for g in &mut groups {
                let n = draws.next().unwrap();
                *g = match n % 11 {
                    10 => (n >> 8) as u16,
                    i => pick[i as usize],
                };
            }
            addrs.push(Ipv6Addr::from(groups).into());
        }
        for ip in addrs {
            let mut buf = Vec::new();
            push_ip(&mut buf, ip);
            assert_eq!(String::from_utf8(buf).unwrap(), ip.to_string());
        }
    }

    /// Strings with each kind of byte at each place around the 8- and 16-byte blocks scanned
    /// at once.
    fn tricky_strings() -> Vec<String> {
        let mut strings = vec![String::new()];
        let specials = [
            "\"", "\\", ",", "\n", "\r", "\t", "\u{0}", "\u{1f}", "\u{7f}", " ", "é", "😀", "a",
        ];
        for len in 0..36 {
            for special in specials {
                for at in 0..=len {
                    let mut s = "x".repeat(len);
                    s.insert_str(at, special);
                    strings.push(s);
                }
            }
        }
        // Every byte value below 0x80, and multi-byte characters with high bytes near 0x80.
        strings.extend((0u8..0x80).map(|b| format!("abcdefgh{}ijklmnop", b as char)));
        strings.push("\u{80}\u{a0}\u{2020}\u{5c5c}\u{fffd}abcdefgh".into());
        strings
    }

    #[test]
    fn json_strings_are_serde_json_strings() {
        for s in tricky_strings() {
            let mut ours = Vec::new();
            push_json_str(&mut ours, &s);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&s).unwrap(),
                "{s:?}"
            );
        }
    }

    /// A string cell, short ones formatted in the [`Cell`] with their key and long or escaped
    /// ones appended after it, is the key and serde_json's string, under the shortest and the
    /// longest key, for strings around the longest a cell takes.
    #[test]
    fn json_string_cells_are_serde_json_strings() {
        let column = crate::columns::col(
            "x",
            crate::columns::ColumnType::Utf8,
            false,
            "",
            |s: &String| s.as_str().into(),
        );
        let mut strings = tricky_strings();
        for len in SHORT_STR - 2..SHORT_STR + 3 {
            for special in ["a", "\"", "\u{1}", "é"] {
                for at in [0, len / 2, len] {
                    let mut s = "y".repeat(len);
                    s.insert_str(at, special);
                    strings.push(s);
                }
            }
        }
        for key in [
            ",\"x\":".to_string(),
            format!(",\"{}\":", "k".repeat(KEY_MAX - 4)),
        ] {
            let key = Key::new(&column, key.as_bytes(), b"null");
            for s in &strings {
                let mut ours = Vec::new();
                push_cell(&mut ours, &key, Value::Str(s), &mut Json { capture: b"" });
                let expected = format!(
                    "{}{}",
                    String::from_utf8_lossy(&key.cell[..key.len]),
                    serde_json::to_string(s).unwrap()
                );
                assert_eq!(String::from_utf8(ours).unwrap(), expected, "{s:?}");
            }
        }
    }

    #[test]
    fn csv_fields_are_the_csv_crates() {
        for s in tricky_strings() {
            let mut ours = Vec::new();
            push_csv_field(&mut ours, s.as_bytes());
            ours.extend_from_slice(b",x\n");
            let mut theirs = csv::Writer::from_writer(Vec::new());
            theirs.write_record([s.as_str(), "x"]).unwrap();
            assert_eq!(ours, theirs.into_inner().unwrap(), "{s:?}");
        }
    }

    /// `push_record` writes what the csv crate writes for the same cells, and `push_row` what
    /// `push_line` writes (the latter is compared with serde_json by each command's tests).
    fn direct_writers_agree<R>(columns: &RowColumns<R>, rows: &[R]) {
        let csv_rows = CsvRows::new(columns);
        let json = JsonRows::new(columns);
        let mut theirs = csv::Writer::from_writer(Vec::new());
        theirs.write_record(csv_rows.header()).unwrap();
        let mut ours = Vec::new();
        csv_rows.push_header(&mut ours);
        let mut scratch = Vec::new();
        for capture in ["a.pcap", "dir,x/we\"ird\nname.pcap", ""] {
            for row in rows {
                csv_rows
                    .write(&mut theirs, &mut scratch, capture, row)
                    .unwrap();
                csv_rows.push_record(
                    &mut ours,
                    &mut scratch,
                    &CsvRows::<R>::capture(capture),
                    row,
                );
                let mut line = Vec::new();
                json.push_line(&mut line, capture, row);
                let object: serde_json::Value = serde_json::from_slice(&line).unwrap();
                assert_eq!(object["capture"], capture);
            }
        }
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs.into_inner().unwrap()).unwrap()
        );
    }

    /// A row type's unrolled writers write what the loops over the getters' pointers do.
    fn unrolled_writes_what_the_loop_writes<R>(columns: &RowColumns<R>, rows: &[R]) {
        let (json, csv) = (JsonRows::new(columns), CsvRows::new(columns));
        assert!(json.unrolled.is_some() && csv.unrolled.is_some());
        let mut scratch = Vec::new();
        for name in ["a.pcap", "dir,x/we\"ird\nname.pcap"] {
            let (json_capture, csv_capture) =
                (JsonRows::<R>::capture(name), CsvRows::<R>::capture(name));
            for row in rows {
                let (mut unrolled, mut looped) = (Vec::new(), Vec::new());
                json.push_row(&mut unrolled, &json_capture, row);
                json.push_cells(&mut looped, &json_capture, row);
                looped.extend_from_slice(b"}\n");
                csv.push_record(&mut unrolled, &mut scratch, &csv_capture, row);
                csv.push_fields(&mut looped, &mut scratch, &csv_capture, row);
                looped.push(b'\n');
                assert_eq!(
                    String::from_utf8(unrolled).unwrap(),
                    String::from_utf8(looped).unwrap()
                );
            }
        }
    }

    #[test]
    fn unrolled_rows_are_the_loops() {
        unrolled_writes_what_the_loop_writes(&http::HTTP, &samples::http());
        unrolled_writes_what_the_loop_writes(&dns::DNS, &samples::dns());
        unrolled_writes_what_the_loop_writes(&tcp::TCP, &samples::tcp());
        unrolled_writes_what_the_loop_writes(&tls::TLS, &samples::tls());
    }

    #[test]
    fn every_row_type_writes_the_csv_crates_bytes() {
        direct_writers_agree(&http::HTTP, &samples::http());
        direct_writers_agree(&dns::DNS, &samples::dns());
        direct_writers_agree(&tcp::TCP, &samples::tcp());
        direct_writers_agree(&flows::FLOWS, &samples::flows());
        direct_writers_agree(&tls::TLS, &samples::tls());
    }

    #[test]
    fn a_record_of_one_empty_field_is_quoted() {
        struct Row(Option<u64>);
        static ONE: &[Column<Row>] = &[crate::columns::col(
            "n",
            crate::columns::ColumnType::Int64,
            true,
            "a number",
            |r| r.0.into(),
        )];
        let columns = RowColumns::new(ONE);
        let rows = CsvRows::new(&columns);
        let mut theirs = csv::Writer::from_writer(Vec::new());
        let (mut ours, mut scratch) = (Vec::new(), Vec::new());
        for row in [Row(None), Row(Some(3))] {
            rows.write(&mut theirs, &mut scratch, "c", &row).unwrap();
            rows.push_record(&mut ours, &mut scratch, b"c", &row);
        }
        assert_eq!(ours, theirs.into_inner().unwrap());
        assert_eq!(ours, b"\"\"\n3\n");
    }
}

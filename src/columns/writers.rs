//! JSON Lines and CSV rows from a [`RowColumns`] definition (the Arrow tables are built in
//! `crate::export`). Both resolve the column order once and then write each row without
//! allocating: the hot path of `tracetail http --json` on big captures.

use super::{Column, RowColumns, Value};
use std::io::Write;

/// Writes rows as JSON objects, one per line, with the bytes `serde_json` writes for a struct
/// with the same fields in the same order (tests compare the two).
pub struct JsonRows<R: 'static> {
    /// Each column with what goes before its value: `"name":` for the first, `,"name":` for
    /// the others (names need no escaping).
    columns: Vec<(&'static Column<R>, Box<[u8]>)>,
}

impl<R> JsonRows<R> {
    pub fn new(row: &RowColumns<R>) -> Self {
        let columns = row
            .json()
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let comma = if i > 0 { "," } else { "" };
                let key = format!("{comma}\"{}\":", c.name);
                (c, key.into_bytes().into_boxed_slice())
            })
            .collect();
        JsonRows { columns }
    }

    /// Appends the line of `row` to `buf`; `capture` fills the `capture` column.
    pub fn push_line(&self, buf: &mut Vec<u8>, capture: &str, row: &R) {
        buf.push(b'{');
        for (column, key) in &self.columns {
            buf.extend_from_slice(key);
            push_json_value(buf, (column.get)(row), capture);
        }
        buf.extend_from_slice(b"}\n");
    }
}

fn push_json_value(buf: &mut Vec<u8>, value: Value<'_>, capture: &str) {
    match value {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Str(s) => push_json_str(buf, s),
        Value::Owned(s) => push_json_str(buf, &s),
        Value::Capture => push_json_str(buf, capture),
        Value::UInt(n) => buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Value::Int(n) => buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Value::Bool(b) => buf.extend_from_slice(if b { b"true" } else { b"false" }),
        // Digits, dots, colons and hex letters: nothing to escape.
        Value::Ip(ip) => {
            buf.push(b'"');
            push_ip(buf, ip);
            buf.push(b'"');
        }
        Value::List(items) => push_json_list(buf, items),
        Value::Strings(items) => push_json_list(buf, items),
    }
}

/// An address as `Display` writes it. IPv4 (nearly every row) is written by hand: going
/// through `core::fmt` cost ~1,000 instructions a row, a tenth of `http --json`.
fn push_ip(buf: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            // At most 15 bytes: formatted on the stack, copied once.
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    text[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    text[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                text[len] = b'0' + octet % 10;
                len += 1;
            }
            buf.extend_from_slice(&text[..len]);
        }
        std::net::IpAddr::V6(_) => write!(buf, "{ip}").expect("writing to a Vec cannot fail"),
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

/// A JSON string with serde_json's escapes: `\"`, `\\`, the short forms of control
/// characters that have one, `\u00xx` for the others; everything else as it is.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let needs_escape = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    // Most strings have nothing to escape: one scan, one copy.
    let Some(first) = bytes.iter().position(needs_escape) else {
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
    columns: Vec<&'static Column<R>>,
}

impl<R> CsvRows<R> {
    pub fn new(row: &RowColumns<R>) -> Self {
        CsvRows { columns: row.csv() }
    }

    /// The header record.
    pub fn header(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }

    /// Writes the record of `row`; `scratch` is reused for cells that need formatting.
    pub fn write<W: Write>(
        &self,
        out: &mut csv::Writer<W>,
        scratch: &mut Vec<u8>,
        capture: &str,
        row: &R,
    ) -> csv::Result<()> {
        for column in &self.columns {
            scratch.clear();
            let value = (column.get)(row);
            let cell: &[u8] = match &value {
                Value::Null => b"",
                Value::Str(s) => s.as_bytes(),
                Value::Owned(s) => s.as_bytes(),
                Value::Capture => capture.as_bytes(),
                Value::UInt(n) => {
                    scratch.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
                    &scratch[..]
                }
                Value::Int(n) => {
                    scratch.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
                    &scratch[..]
                }
                Value::Bool(b) => {
                    if *b {
                        b"true"
                    } else {
                        b"false"
                    }
                }
                Value::Ip(ip) => {
                    push_ip(scratch, *ip);
                    &scratch[..]
                }
                Value::List(items) => join(scratch, items),
                Value::Strings(items) => join(scratch, items),
            };
            out.write_field(cell)?;
        }
        out.write_record(None::<&[u8]>)
    }
}

fn join<'s>(scratch: &'s mut Vec<u8>, items: &[impl AsRef<str>]) -> &'s [u8] {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            scratch.push(b',');
        }
        scratch.extend_from_slice(item.as_ref().as_bytes());
    }
    scratch
}

#[cfg(test)]
mod tests {
    use super::push_ip;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn ip_bytes_match_display() {
        let octets = [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 250, 255];
        let mut addrs: Vec<IpAddr> = Vec::new();
        for &a in &octets {
            for &b in &octets {
                addrs.push(Ipv4Addr::new(a, b, 255 - b, a / 2).into());
            }
        }
        addrs.push(Ipv6Addr::LOCALHOST.into());
        addrs.push("::ffff:10.0.0.1".parse().unwrap());
        addrs.push("2001:db8::1:0:0:1".parse().unwrap());
        for ip in addrs {
            let mut buf = Vec::new();
            push_ip(&mut buf, ip);
            assert_eq!(String::from_utf8(buf).unwrap(), ip.to_string());
        }
    }
}

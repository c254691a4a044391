//! One column definition per row type, feeding every writer: JSON Lines and CSV (the CLI's
//! `--json`/`--csv`), the Arrow tables (Parquet export, Python) and the schema documentation.
//!
//! A row type's columns are a static slice of [`Column`]: name, type, nullability, meaning and
//! a function reading the value from the row as a small [`Value`]. Adding a column is one entry
//! in that slice; every output gets it, in the same place.
//!
//! ```text
//! col("status", Int32, true, "response status code; null if unanswered", |t| t.status.into()),
//! ```
//!
//! Names differ between the text formats and the tables in two regular ways, kept from the
//! first releases (both are contracts with users' scripts):
//! - a point in time is integer nanoseconds `*_ns` in JSON/CSV and a `timestamp[ns, UTC]`
//!   column `*_ts` in the tables ([`ColumnType::TimestampNsUtc`] renames it);
//! - the capture is `capture` (as named on the command line) in JSON/CSV and `capture_file`
//!   (the file name) in the tables ([`capture`]).
//!
//! Columns derived only for scripts reading text (`gap`, DNS `rcode_name`) are
//! [`text_only`].

pub mod dns;
pub mod flows;
pub mod http;
#[cfg(test)]
pub(crate) mod samples;
pub mod tcp;
pub mod tls;
pub mod writers;

use crate::analyzers::Transaction;
use std::net::IpAddr;

/// The column types of the tables (a small closed set, so the docs can name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Utf8,
    Int32,
    Int64,
    /// Timestamp(Nanosecond, "UTC"): Parquet `INT64 TIMESTAMP(NANOS, isAdjustedToUTC=true)`;
    /// integer nanoseconds since the epoch in JSON/CSV.
    TimestampNsUtc,
    /// `List<Utf8>` with non-null items.
    Utf8List,
    Boolean,
}

impl ColumnType {
    /// How the type is written in the schema table.
    pub fn doc_name(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "string",
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::TimestampNsUtc => "timestamp[ns, UTC]",
            ColumnType::Utf8List => "list<string>",
            ColumnType::Boolean => "bool",
        }
    }
}

/// One cell as a row hands it to the writers: borrowed, no allocation (but for text made
/// from the row, such as DNS type names).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Str(&'a str),
    Owned(String),
    /// Counters, ports, ids (JSON prints them as they are; tables clamp to the column type).
    UInt(u64),
    /// Times and latencies in nanoseconds.
    Int(i64),
    Bool(bool),
    /// Written as text (IPv4 dotted, IPv6 RFC 5952).
    Ip(IpAddr),
    List(&'a [&'static str]),
    Strings(&'a [String]),
    /// The capture the row came from: filled in by the writer (see [`capture`]).
    Capture,
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Str(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Str(v)
    }
}
impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::Owned(v)
    }
}
impl From<u64> for Value<'_> {
    fn from(v: u64) -> Self {
        Value::UInt(v)
    }
}
/// Ports, ids, depths: counters like any other.
macro_rules! from_smaller_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value<'_> {
            fn from(v: $t) -> Self {
                Value::UInt(v.into())
            }
        }
    )*};
}
from_smaller_unsigned!(u8, u16, u32);
impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<IpAddr> for Value<'_> {
    fn from(v: IpAddr) -> Self {
        Value::Ip(v)
    }
}
impl<'a> From<&'a [&'static str]> for Value<'a> {
    fn from(v: &'a [&'static str]) -> Self {
        Value::List(v)
    }
}
impl<'a> From<&'a Vec<&'static str>> for Value<'a> {
    fn from(v: &'a Vec<&'static str>) -> Self {
        Value::List(v)
    }
}
impl<'a> From<&'a Vec<String>> for Value<'a> {
    fn from(v: &'a Vec<String>) -> Self {
        Value::Strings(v)
    }
}
/// Absent values are `null` (JSON), empty (CSV), null (tables).
impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Where a column appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// JSON, CSV and the tables.
    All,
    /// JSON and CSV only (derived for scripts reading text).
    Text,
}

/// One column of a row type `R`.
pub struct Column<R: 'static> {
    /// Name in JSON and CSV.
    pub name: &'static str,
    /// Name in the Arrow tables (Parquet, Python).
    pub table_name: &'static str,
    pub ty: ColumnType,
    /// Whether the value can be absent (null).
    pub nullable: bool,
    /// What it holds (the schema documentation).
    pub doc: &'static str,
    /// Reads the value from a row.
    pub get: fn(&R) -> Value<'_>,
    pub outputs: Outputs,
}

impl<R> Column<R> {
    pub fn in_tables(&self) -> bool {
        self.outputs == Outputs::All
    }
}

/// `column` only in JSON and CSV.
pub const fn text_only<R>(column: Column<R>) -> Column<R> {
    Column {
        outputs: Outputs::Text,
        ..column
    }
}

/// A column. A point in time (`TimestampNsUtc`) named `x_ns` is `x_ts` in the tables.
pub const fn col<R>(
    name: &'static str,
    ty: ColumnType,
    nullable: bool,
    doc: &'static str,
    get: fn(&R) -> Value<'_>,
) -> Column<R> {
    let table_name = match ty {
        ColumnType::TimestampNsUtc => timestamp_table_name(name),
        _ => name,
    };
    Column {
        name,
        table_name,
        ty,
        nullable,
        doc,
        get,
        outputs: Outputs::All,
    }
}

/// `capture` in JSON/CSV (the path as given), `capture_file` in the tables (the file name,
/// so rows agree wherever a cluster task copied the capture).
pub const fn capture<R>() -> Column<R> {
    Column {
        name: "capture",
        table_name: "capture_file",
        ty: ColumnType::Utf8,
        nullable: false,
        doc: "capture the row came from, as given to the exporter",
        get: |_| Value::Capture,
        outputs: Outputs::All,
    }
}

/// `connection_id`: the `flow_id` of the row's TCP connection, as in `sessions`.
pub const fn connection_id<R>(get: fn(&R) -> Value<'_>) -> Column<R> {
    let doc = "`flow_id` of the TCP connection";
    col("connection_id", ColumnType::Int64, false, doc, get)
}

/// The endpoint columns of every transaction type (`client_ip`, `client_port`, `server_ip`,
/// `server_port`), read through [`Transaction`].
pub const fn client_ip<R: Transaction>() -> Column<R> {
    col(
        "client_ip",
        ColumnType::Utf8,
        false,
        "client address",
        |t| t.client().ip().into(),
    )
}
pub const fn client_port<R: Transaction>() -> Column<R> {
    col(
        "client_port",
        ColumnType::Int32,
        false,
        "client port",
        |t| t.client().port().into(),
    )
}
pub const fn server_ip<R: Transaction>() -> Column<R> {
    col(
        "server_ip",
        ColumnType::Utf8,
        false,
        "server address",
        |t| t.server().ip().into(),
    )
}
pub const fn server_port<R: Transaction>() -> Column<R> {
    col(
        "server_port",
        ColumnType::Int32,
        false,
        "server port",
        |t| t.server().port().into(),
    )
}

/// The four capture times of a request/response exchange, read through [`Transaction`];
/// `doc` says what dates each for the protocol.
pub const fn request_first_ns<R: Transaction>(doc: &'static str) -> Column<R> {
    col(
        "request_first_ns",
        ColumnType::TimestampNsUtc,
        true,
        doc,
        |t| t.exchange().request_first_ns.into(),
    )
}
pub const fn request_last_ns<R: Transaction>(doc: &'static str) -> Column<R> {
    col(
        "request_last_ns",
        ColumnType::TimestampNsUtc,
        true,
        doc,
        |t| t.exchange().request_last_ns.into(),
    )
}
pub const fn response_first_ns<R: Transaction>(doc: &'static str) -> Column<R> {
    col(
        "response_first_ns",
        ColumnType::TimestampNsUtc,
        true,
        doc,
        |t| t.exchange().response_first_ns.into(),
    )
}
pub const fn response_last_ns<R: Transaction>(doc: &'static str) -> Column<R> {
    col(
        "response_last_ns",
        ColumnType::TimestampNsUtc,
        true,
        doc,
        |t| t.exchange().response_last_ns.into(),
    )
}

/// The latencies derived from the four capture times, the same in every request/response
/// table (`--metric ttfb|total|server|tshark`).
pub const fn ttfb_ns<R: Transaction>() -> Column<R> {
    let doc = "`response_first_ts - request_first_ts`";
    col("ttfb_ns", ColumnType::Int64, true, doc, |t| {
        t.exchange().ttfb_ns().into()
    })
}
pub const fn total_ns<R: Transaction>() -> Column<R> {
    let doc = "`response_last_ts - request_first_ts`";
    col("total_ns", ColumnType::Int64, true, doc, |t| {
        t.exchange().total_ns().into()
    })
}
pub const fn server_ns<R: Transaction>() -> Column<R> {
    let doc = "`response_first_ts - request_last_ts`";
    col("server_ns", ColumnType::Int64, true, doc, |t| {
        t.exchange().server_ns().into()
    })
}
pub const fn tshark_ns<R: Transaction>() -> Column<R> {
    let doc = "`response_last_ts - request_last_ts` (tshark `http.time`)";
    col("tshark_ns", ColumnType::Int64, true, doc, |t| {
        t.exchange().tshark_ns().into()
    })
}

/// The table name of a time column: `request_first_ns` -> `request_first_ts`. Only the names
/// below occur; a new time column adds its pair here (a test checks every one is listed).
const fn timestamp_table_name(name: &'static str) -> &'static str {
    const PAIRS: &[(&str, &str)] = &[
        ("first_ns", "first_ts"),
        ("last_ns", "last_ts"),
        ("request_first_ns", "request_first_ts"),
        ("request_last_ns", "request_last_ts"),
        ("response_first_ns", "response_first_ts"),
        ("response_last_ns", "response_last_ts"),
        ("query_ns", "query_ts"),
        ("response_ns", "response_ts"),
    ];
    let mut i = 0;
    while i < PAIRS.len() {
        if const_str_eq(PAIRS[i].0, name) {
            return PAIRS[i].1;
        }
        i += 1;
    }
    name
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The columns of one row type, and the order the text formats write them in.
pub struct RowColumns<R: 'static> {
    /// In table order (the Arrow schema, the docs).
    pub columns: &'static [Column<R>],
    /// JSON order by name, where it differs from `columns` (the `sessions --json` order
    /// predates the tables); `None`: the columns in order.
    pub json_order: Option<&'static [&'static str]>,
    /// CSV order by name, likewise.
    pub csv_order: Option<&'static [&'static str]>,
    /// The JSON and CSV cells of a row written with each getter called directly (see
    /// [`writers::unrolled`]); `None`: through the getters' pointers.
    unrolled: Option<writers::Unrolled<R>>,
}

impl<R> RowColumns<R> {
    /// Columns written in the same order everywhere.
    pub const fn new(columns: &'static [Column<R>]) -> Self {
        RowColumns {
            columns,
            json_order: None,
            csv_order: None,
            unrolled: None,
        }
    }

    /// These columns with their JSON and CSV cells written by `writers`, made by
    /// [`writers::unrolled`] from the same `columns` (in table order in both formats).
    pub(crate) const fn with_unrolled(self, writers: writers::Unrolled<R>) -> Self {
        assert!(
            self.json_order.is_none() && self.csv_order.is_none(),
            "unrolled cells are in table order"
        );
        assert!(
            self.columns.len() <= writers::UNROLLED_MAX,
            "more columns than an unrolled writer writes: raise UNROLLED_MAX and its indices"
        );
        RowColumns {
            unrolled: Some(writers),
            ..self
        }
    }

    /// The columns of JSON Lines, in order.
    pub fn json(&self) -> Vec<&'static Column<R>> {
        self.text_columns(self.json_order)
    }

    /// The columns of CSV, in order.
    pub fn csv(&self) -> Vec<&'static Column<R>> {
        self.text_columns(self.csv_order)
    }

    /// The columns of the Arrow tables, in order.
    pub fn table(&self) -> impl Iterator<Item = &'static Column<R>> {
        self.columns.iter().filter(|c| c.in_tables())
    }

    fn text_columns(&self, order: Option<&[&str]>) -> Vec<&'static Column<R>> {
        let columns: &'static [Column<R>] = self.columns;
        match order {
            None => columns.iter().collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    columns
                        .iter()
                        .find(|c| c.name == *name)
                        .unwrap_or_else(|| panic!("no column {name} (a test checks every order)"))
                })
                .collect(),
        }
    }

    /// The CSV header.
    pub fn csv_header(&self) -> Vec<&'static str> {
        self.csv().iter().map(|c| c.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<R>(what: &str, row: &RowColumns<R>) {
        let mut names: Vec<&str> = row.columns.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), row.columns.len(), "{what}: duplicate name");
        // The orders name existing columns, each once.
        for order in [row.json_order, row.csv_order].into_iter().flatten() {
            let mut seen: Vec<&str> = order.to_vec();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), order.len(), "{what}: a name twice in an order");
            for name in order {
                assert!(names.contains(name), "{what}: order names unknown {name}");
            }
        }
        for c in row.columns {
            // Names are written into JSON without escaping.
            assert!(
                c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{what}: {}",
                c.name
            );
            if c.ty == ColumnType::TimestampNsUtc {
                assert!(
                    c.name.ends_with("_ns") && c.table_name.ends_with("_ts"),
                    "{what}: time column {} needs its `_ts` name in timestamp_table_name",
                    c.name
                );
            }
        }
        assert_eq!(row.columns[0].name, "capture", "{what}");
    }

    #[test]
    fn every_row_type_has_unique_names_and_valid_orders() {
        check("flows", &flows::FLOWS);
        check("http", &http::HTTP);
        check("dns", &dns::DNS);
        check("tcp", &tcp::TCP);
        check("tls", &tls::TLS);
    }
}

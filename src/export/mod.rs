//! Parquet export of flows, HTTP and DNS transactions (and on request the `tcp` exchanges and
//! `tls` connections), for Spark, DuckDB, pandas/pyarrow and DataFusion (the schema and batch
//! builders with the cargo feature `arrow`, the Parquet writer with `parquet`). Every table's
//! columns come from its row type's definition in [`crate::columns`], the one the CLI's
//! `--json` and `--csv` use too.
//!
//! Percentiles do not merge across shards, so a cluster needs the raw per-request rows: this
//! module writes them, one set of files per capture, streaming (bounded memory, any capture
//! size).
//!
//! # Layout
//!
//! One folder per table, one file per capture in each:
//!
//! ```text
//! <dir>/flows/<capture stem>.parquet
//! <dir>/http/<capture stem>.parquet
//! <dir>/dns/<capture stem>.parquet
//! <dir>/tcp/<capture stem>.parquet     (export --protocol tcp)
//! <dir>/tls/<capture stem>.parquet     (export --protocol tls)
//! ```
//!
//! so a whole table is one glob or folder for every engine: `spark.read.parquet("<dir>/http")`,
//! DuckDB `FROM '<dir>/http/*.parquet'`, `pyarrow.dataset.dataset("<dir>/http")`. All three
//! files are written for every capture, even with zero rows, so "one capture = one file per
//! table" holds and an empty table still has its schema.
//!
//! The stem is the capture's file name without compression (`.gz`, `.zst`, `.zstd`) and capture
//! (`.pcap`, `.pcapng`, `.cap`) extensions: `day1/web.pcap.gz` -> `web`; `-` (stdin) -> `stdin`.
//! Spark and Hadoop skip files whose name starts with `_` or `.`, so such a stem gets a `c`
//! prefix (`_x.pcap` -> `c_x`). Captures with the same stem in different folders would land in
//! the same file: the caller (the CLI) must reject that.
//!
//! Files are written as `.<stem>.parquet.inprogress` and renamed when complete, so a crashed
//! or failed export never leaves a truncated file that a glob picks up, and a retried Spark task
//! simply replaces the file (rename is atomic on one filesystem).
//!
//! # Format
//!
//! Arrow schema stored in the file (metadata `tracetail.schema_version` = [`SCHEMA_VERSION`]),
//! Snappy compression, batches of [`BATCH_ROWS`] rows, row groups of at most
//! [`ROW_GROUP_ROWS`] rows. Memory per table is one batch of builders plus one encoded row
//! group, whatever the capture size.
//!
//! Timestamps are `timestamp[ns, UTC]` (Parquet `TIMESTAMP(NANOS, true)`). DuckDB, pyarrow and
//! pandas read them as timestamps. **Spark (3.x and 4.x) rejects nanosecond timestamps**
//! (`PARQUET_TYPE_ILLEGAL`) unless `spark.sql.legacy.parquet.nanosAsLong=true`, which reads them
//! as `bigint` nanoseconds since the epoch; the latencies (`*_ns`) are plain `int64` in every
//! engine. Unsigned Rust values are written as signed (`u16` ports and ids -> int32, `u64`
//! counters -> int64) because Spark has no unsigned types.
//!
//! # Schema
//!
//! (Generated from [`schema`]; `spark/README.md` carries the same text, a test keeps them equal.)
//!
#![doc = include_str!("schema.md")]
//!
//! # Intended CLI (`tracetail export`, wired by `src/cli/export.rs`)
//!
//! ```text
//! tracetail export FILE... -o DIR [--tables flows,http,dns]
//! ```
//!
//! - For each capture FILE (in order; `-` = stdin): one pass of the pipeline,
//!   `TableWriters::create(DIR, <FILE's file name>)`, `push_flow` / `push_http` / `push_dns`
//!   for every record, `finish()`; print one line per capture to stderr
//!   (`web.pcap: 1234 flows, 5678 http, 90 dns -> DIR/{flows,http,dns}/web.parquet`).
//! - Two FILEs with the same [`capture_stem`] are an error before anything is written.
//! - A capture that fails to read is reported, its `.inprogress` files removed (dropping the
//!   writers does that), the other captures still exported; the exit code is non-zero if any
//!   capture failed (so a Spark task can retry).
//! - The `capture_file` column holds the file name (not the full path), so rows agree no matter
//!   where a cluster task copied the capture.
//! - Built without the feature, `tracetail export` prints
//!   `error: this tracetail was built without Parquet support; rebuild with
//!   'cargo build --release --features parquet' (or 'cargo install tracetail --features parquet')`
//!   and exits with status 2.

pub mod schema;

#[cfg(feature = "parquet")]
mod parquet;
mod rows;

pub use rows::{
    BatchBuilder, DnsBatches, DnsRows, FlowBatches, FlowRows, HttpBatches, HttpRows, RowBuffer,
    TableRow, TableRows, TcpBatches, TcpRows, TlsBatches, TlsRows,
};
pub use schema::{Table, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

#[cfg(feature = "parquet")]
pub use parquet::{
    table_path, ExportError, ExportSummary, TableSummary, TableWriters, ROW_GROUP_BYTES,
    ROW_GROUP_ROWS,
};

use std::path::Path;

/// Rows buffered per table before they are encoded into the Parquet writer.
pub const BATCH_ROWS: usize = 1 << 16;

/// The file stem used for a capture's three files (see the module docs).
pub fn capture_stem(capture_file_name: &str) -> String {
    let name = Path::new(capture_file_name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let mut stem = name;
    for suffix in [".gz", ".zst", ".zstd"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
            break;
        }
    }
    for suffix in [".pcapng", ".pcap", ".cap"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            stem = s;
            break;
        }
    }
    if stem.is_empty() || capture_file_name == "-" {
        return "stdin".to_string();
    }
    if stem.starts_with(['_', '.']) {
        format!("c{stem}")
    } else {
        stem.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_strip_compression_and_capture_extensions() {
        assert_eq!(capture_stem("day1/web.pcap.gz"), "web");
        assert_eq!(capture_stem("web.pcapng.zst"), "web");
        assert_eq!(capture_stem("web.cap"), "web");
        assert_eq!(capture_stem("a.b.pcap"), "a.b");
        assert_eq!(capture_stem("trace.dump"), "trace.dump");
        assert_eq!(capture_stem("-"), "stdin");
        assert_eq!(capture_stem(".pcap"), "stdin");
        assert_eq!(capture_stem("_hidden.pcap"), "c_hidden");
        assert_eq!(capture_stem(".dot.pcap"), "c.dot");
    }

    /// Regenerates `schema.md`: `TRACETAIL_WRITE_SCHEMA_MD=1 cargo test --features parquet
    /// --lib export::tests::write_schema_md -- --ignored`, then paste it into spark/README.md.
    #[test]
    #[ignore]
    fn write_schema_md() {
        if std::env::var_os("TRACETAIL_WRITE_SCHEMA_MD").is_some() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/export/schema.md");
            std::fs::write(path, schema::schema_markdown()).unwrap();
        }
    }

    #[test]
    fn schema_doc_file_is_generated_text() {
        let generated = schema::schema_markdown();
        assert_eq!(
            include_str!("schema.md"),
            generated,
            "src/export/schema.md is stale: regenerate it from schema::schema_markdown()"
        );
    }

    #[test]
    fn spark_readme_carries_the_schema() {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("spark/README.md");
        let text = std::fs::read_to_string(&readme).expect("spark/README.md");
        assert!(
            text.contains(&schema::schema_markdown()),
            "the schema section of spark/README.md differs from schema::schema_markdown()"
        );
    }

    #[test]
    fn every_table_schema_starts_with_capture_file_and_has_unique_names() {
        for table in Table::ALL {
            let schema = table.schema();
            assert_eq!(schema.field(0).name(), "capture_file");
            let columns = table.columns();
            let mut names: Vec<&str> = columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), columns.len(), "{table:?}");
        }
    }
}

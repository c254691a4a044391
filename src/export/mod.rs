//! Parquet export of flows, HTTP and DNS transactions, for Spark, DuckDB, pandas/pyarrow and
//! DataFusion (only built with the cargo feature `parquet`).
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

mod rows;

pub use schema::{Table, SCHEMA_VERSION, SCHEMA_VERSION_KEY};

use crate::analyzers::{DnsTransaction, HttpTransaction};
use crate::flows::FlowRecord;
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use rows::{DnsRows, FlowRows, HttpRows, RowBuffer};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Rows buffered per table before they are encoded into the Parquet writer.
pub const BATCH_ROWS: usize = 1 << 16;

/// Largest row group. Four batches: big enough for efficient scans in Spark and DuckDB, small
/// enough to bound the encoded pages held in memory.
pub const ROW_GROUP_ROWS: usize = 4 * BATCH_ROWS;

/// A row group is also cut when its encoded size estimate passes this many bytes.
pub const ROW_GROUP_BYTES: usize = 128 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: parquet: {source}")]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("{path}: arrow: {source}")]
    Arrow { path: PathBuf, source: ArrowError },
}

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

/// Where `table`'s file for the capture with `stem` goes under `dir`.
pub fn table_path(dir: &Path, table: Table, stem: &str) -> PathBuf {
    dir.join(table.dir_name()).join(format!("{stem}.parquet"))
}

/// One table's file being written.
struct TableFile<B: RowBuffer> {
    table: Table,
    final_path: PathBuf,
    temp_path: PathBuf,
    schema: SchemaRef,
    buffer: B,
    /// `None` once finished.
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: u64,
}

impl<B: RowBuffer> TableFile<B> {
    fn create(dir: &Path, table: Table, stem: &str) -> Result<Self, ExportError> {
        let folder = dir.join(table.dir_name());
        std::fs::create_dir_all(&folder).map_err(|source| ExportError::Io {
            path: folder.clone(),
            source,
        })?;
        let final_path = table_path(dir, table, stem);
        let temp_path = folder.join(format!(".{stem}.parquet.inprogress"));
        let file = File::create(&temp_path).map_err(|source| ExportError::Io {
            path: temp_path.clone(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_created_by(format!("tracetail {}", env!("CARGO_PKG_VERSION")))
            .build();
        let schema = table.schema();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))
            .map_err(|source| ExportError::Parquet {
                path: temp_path.clone(),
                source,
            })?;
        Ok(TableFile {
            table,
            final_path,
            temp_path,
            schema,
            buffer: B::default(),
            writer: Some(writer),
            rows: 0,
        })
    }

    fn push(&mut self, row: &B::Row, capture_file: &str) -> Result<(), ExportError> {
        self.buffer.push(row);
        self.rows += 1;
        if self.buffer.len() >= BATCH_ROWS {
            self.write_batch(capture_file)?;
        }
        Ok(())
    }

    fn write_batch(&mut self, capture_file: &str) -> Result<(), ExportError> {
        if self.buffer.len() == 0 {
            return Ok(());
        }
        let batch = self
            .buffer
            .take_batch(&self.schema, capture_file)
            .map_err(|source| ExportError::Arrow {
                path: self.temp_path.clone(),
                source,
            })?;
        let writer = self.writer.as_mut().expect("write after finish");
        writer.write(&batch).map_err(|source| ExportError::Parquet {
            path: self.temp_path.clone(),
            source,
        })
    }

    fn finish(&mut self, capture_file: &str) -> Result<TableSummary, ExportError> {
        self.write_batch(capture_file)?;
        if let Some(writer) = self.writer.take() {
            let parquet_err = |source| ExportError::Parquet {
                path: self.temp_path.clone(),
                source,
            };
            let buffered = writer.into_inner().map_err(parquet_err)?;
            // into_inner wrote the footer; flush and close the file before renaming it.
            let file = buffered.into_inner().map_err(|e| ExportError::Io {
                path: self.temp_path.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(|source| ExportError::Io {
                path: self.temp_path.clone(),
                source,
            })?;
            drop(file);
            std::fs::rename(&self.temp_path, &self.final_path).map_err(|source| {
                ExportError::Io {
                    path: self.final_path.clone(),
                    source,
                }
            })?;
        }
        Ok(TableSummary {
            table: self.table,
            path: self.final_path.clone(),
            rows: self.rows,
        })
    }
}

impl<B: RowBuffer> Drop for TableFile<B> {
    /// An unfinished file is incomplete: remove it so nothing reads a file without a footer.
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// What one table's file received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    pub table: Table,
    pub path: PathBuf,
    pub rows: u64,
}

/// The three files of one capture: `flows`, `http` and `dns`, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub capture_file: String,
    pub tables: [TableSummary; 3],
}

/// Streaming writers for one capture's three tables.
///
/// ```no_run
/// # fn demo(flows: &[tracetail::flows::FlowRecord]) -> Result<(), tracetail::export::ExportError> {
/// use tracetail::export::TableWriters;
/// let mut writers = TableWriters::create("out".as_ref(), "web.pcap.gz")?;
/// for flow in flows {
///     writers.push_flow(flow)?;
/// }
/// let summary = writers.finish()?; // out/flows/web.parquet, out/http/web.parquet, ...
/// # Ok(()) }
/// ```
pub struct TableWriters {
    capture_file: String,
    flows: TableFile<FlowRows>,
    http: TableFile<HttpRows>,
    dns: TableFile<DnsRows>,
}

impl TableWriters {
    /// Creates `dir/{flows,http,dns}/` as needed and starts the capture's three files.
    /// `capture_file_name` fills the `capture_file` column and gives the file stem
    /// ([`capture_stem`]). Existing files for the same stem are replaced at [`finish`](Self::finish).
    pub fn create(dir: &Path, capture_file_name: &str) -> Result<Self, ExportError> {
        let stem = capture_stem(capture_file_name);
        Ok(TableWriters {
            capture_file: capture_file_name.to_string(),
            flows: TableFile::create(dir, Table::Flows, &stem)?,
            http: TableFile::create(dir, Table::Http, &stem)?,
            dns: TableFile::create(dir, Table::Dns, &stem)?,
        })
    }

    pub fn push_flow(&mut self, flow: &FlowRecord) -> Result<(), ExportError> {
        self.flows.push(flow, &self.capture_file)
    }

    pub fn push_http(&mut self, transaction: &HttpTransaction) -> Result<(), ExportError> {
        self.http.push(transaction, &self.capture_file)
    }

    pub fn push_dns(&mut self, transaction: &DnsTransaction) -> Result<(), ExportError> {
        self.dns.push(transaction, &self.capture_file)
    }

    /// Writes the last batches and footers and moves the files into place. Dropping the
    /// writers without calling this removes the partial files instead.
    pub fn finish(mut self) -> Result<ExportSummary, ExportError> {
        let flows = self.flows.finish(&self.capture_file)?;
        let http = self.http.finish(&self.capture_file)?;
        let dns = self.dns.finish(&self.capture_file)?;
        Ok(ExportSummary {
            capture_file: std::mem::take(&mut self.capture_file),
            tables: [flows, http, dns],
        })
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
            let mut names: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns().len(), "{table:?}");
        }
    }
}

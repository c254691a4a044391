//! The Parquet writer: one file per table and capture, written batch by batch from the same
//! [`BatchBuilder`]s every Arrow consumer gets (feature `parquet`).

use super::rows::{BatchBuilder, DnsRows, FlowRows, HttpRows, RowBuffer, TcpRows, TlsRows};
use super::{capture_stem, Table, BATCH_ROWS};
use crate::analyzers::{DnsTransaction, HttpTransaction, TcpExchange, TlsConnection};
use crate::flows::FlowRecord;
use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

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

/// Where `table`'s file for the capture with `stem` goes under `dir`.
pub fn table_path(dir: &Path, table: Table, stem: &str) -> PathBuf {
    dir.join(table.dir_name()).join(format!("{stem}.parquet"))
}

/// One table's file being written.
struct TableFile<B: RowBuffer> {
    final_path: PathBuf,
    temp_path: PathBuf,
    batches: BatchBuilder<B>,
    /// `None` once finished.
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: u64,
}

impl<B: RowBuffer> TableFile<B> {
    fn create(dir: &Path, stem: &str, capture_file: &str) -> Result<Self, ExportError> {
        let table = B::TABLE;
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
        let batches = BatchBuilder::new(capture_file);
        let writer = ArrowWriter::try_new(BufWriter::new(file), batches.schema(), Some(props))
            .map_err(|source| ExportError::Parquet {
                path: temp_path.clone(),
                source,
            })?;
        Ok(TableFile {
            final_path,
            temp_path,
            batches,
            writer: Some(writer),
            rows: 0,
        })
    }

    fn push(&mut self, row: &B::Row) -> Result<(), ExportError> {
        self.rows += 1;
        let full = self.batches.push(row);
        self.write(full)
    }

    /// Writes a batch the builder handed out (if any).
    fn write(&mut self, batch: Result<Option<RecordBatch>, ArrowError>) -> Result<(), ExportError> {
        let batch = batch.map_err(|source| ExportError::Arrow {
            path: self.temp_path.clone(),
            source,
        })?;
        let Some(batch) = batch else {
            return Ok(());
        };
        let writer = self.writer.as_mut().expect("write after finish");
        writer.write(&batch).map_err(|source| ExportError::Parquet {
            path: self.temp_path.clone(),
            source,
        })
    }

    fn finish(&mut self) -> Result<TableSummary, ExportError> {
        let last = self.batches.finish();
        self.write(last)?;
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
            table: B::TABLE,
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

/// The three files of one capture: `flows`, `http` and `dns`, in that order, and the `tcp`
/// and `tls` files when they were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub capture_file: String,
    pub tables: [TableSummary; 3],
    pub tcp: Option<TableSummary>,
    pub tls: Option<TableSummary>,
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
    tcp: Option<TableFile<TcpRows>>,
    tls: Option<TableFile<TlsRows>>,
}

impl TableWriters {
    /// Creates `dir/{flows,http,dns}/` as needed and starts the capture's three files.
    /// `capture_file_name` fills the `capture_file` column and gives the file stem
    /// ([`capture_stem`]). Existing files for the same stem are replaced at [`finish`](Self::finish).
    pub fn create(dir: &Path, capture_file_name: &str) -> Result<Self, ExportError> {
        let stem = capture_stem(capture_file_name);
        Ok(TableWriters {
            capture_file: capture_file_name.to_string(),
            flows: TableFile::create(dir, &stem, capture_file_name)?,
            http: TableFile::create(dir, &stem, capture_file_name)?,
            dns: TableFile::create(dir, &stem, capture_file_name)?,
            tcp: None,
            tls: None,
        })
    }

    /// As [`create`](Self::create), also starting the `tcp` table (`dir/tcp/`).
    pub fn create_with_tcp(dir: &Path, capture_file_name: &str) -> Result<Self, ExportError> {
        Self::create_with(dir, capture_file_name, &[Table::Tcp])
    }

    /// As [`create`](Self::create), also starting the tables written on request
    /// (`Table::Tcp`, `Table::Tls`) named in `extra`.
    pub fn create_with(
        dir: &Path,
        capture_file_name: &str,
        extra: &[Table],
    ) -> Result<Self, ExportError> {
        let mut writers = Self::create(dir, capture_file_name)?;
        let stem = capture_stem(capture_file_name);
        if extra.contains(&Table::Tcp) {
            writers.tcp = Some(TableFile::create(dir, &stem, capture_file_name)?);
        }
        if extra.contains(&Table::Tls) {
            writers.tls = Some(TableFile::create(dir, &stem, capture_file_name)?);
        }
        Ok(writers)
    }

    /// Appends a connection to the `tls` table; ignored when it was not started.
    pub fn push_tls(&mut self, connection: &TlsConnection) -> Result<(), ExportError> {
        match self.tls.as_mut() {
            Some(file) => file.push(connection),
            None => Ok(()),
        }
    }

    /// Appends an exchange to the `tcp` table; ignored when it was not started.
    pub fn push_tcp(&mut self, exchange: &TcpExchange) -> Result<(), ExportError> {
        match self.tcp.as_mut() {
            Some(file) => file.push(exchange),
            None => Ok(()),
        }
    }

    pub fn push_flow(&mut self, flow: &FlowRecord) -> Result<(), ExportError> {
        self.flows.push(flow)
    }

    pub fn push_http(&mut self, transaction: &HttpTransaction) -> Result<(), ExportError> {
        self.http.push(transaction)
    }

    pub fn push_dns(&mut self, transaction: &DnsTransaction) -> Result<(), ExportError> {
        self.dns.push(transaction)
    }

    /// Writes the last batches and footers and moves the files into place. Dropping the
    /// writers without calling this removes the partial files instead.
    pub fn finish(mut self) -> Result<ExportSummary, ExportError> {
        let flows = self.flows.finish()?;
        let http = self.http.finish()?;
        let dns = self.dns.finish()?;
        let tcp = self.tcp.as_mut().map(TableFile::finish).transpose()?;
        let tls = self.tls.as_mut().map(TableFile::finish).transpose()?;
        Ok(ExportSummary {
            capture_file: std::mem::take(&mut self.capture_file),
            tables: [flows, http, dns],
            tcp,
            tls,
        })
    }
}

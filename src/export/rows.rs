//! Column builders for one batch of each table: rows are appended cell by cell, as their
//! column definitions ([`crate::columns`]) read them, and turned into an Arrow `RecordBatch`
//! when the batch is full (or at the end). [`BatchBuilder`] is the one way rows become
//! batches, for the Parquet writer and for in-memory consumers alike.

use super::schema::{list_item_field, Table};
use super::BATCH_ROWS;
use crate::analyzers::{DnsTransaction, HttpTransaction, TcpExchange, TlsConnection};
use crate::columns::{self, Column, ColumnType, RowColumns, Value};
use crate::flows::FlowRecord;
use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{ArrowError, SchemaRef};
use std::fmt::Write;
use std::sync::Arc;

/// A row type with a table: which one, and its column definitions.
pub trait TableRow: Sized + 'static {
    const TABLE: Table;
    fn columns() -> &'static RowColumns<Self>;
}

impl TableRow for FlowRecord {
    const TABLE: Table = Table::Flows;
    fn columns() -> &'static RowColumns<Self> {
        &columns::flows::FLOWS
    }
}

impl TableRow for HttpTransaction {
    const TABLE: Table = Table::Http;
    fn columns() -> &'static RowColumns<Self> {
        &columns::http::HTTP
    }
}

impl TableRow for DnsTransaction {
    const TABLE: Table = Table::Dns;
    fn columns() -> &'static RowColumns<Self> {
        &columns::dns::DNS
    }
}

impl TableRow for TcpExchange {
    const TABLE: Table = Table::Tcp;
    fn columns() -> &'static RowColumns<Self> {
        &columns::tcp::TCP
    }
}

impl TableRow for TlsConnection {
    const TABLE: Table = Table::Tls;
    fn columns() -> &'static RowColumns<Self> {
        &columns::tls::TLS
    }
}

/// A table's in-progress batch.
pub trait RowBuffer: Default {
    /// The table whose columns this buffer fills.
    const TABLE: Table;
    type Row;
    fn push(&mut self, row: &Self::Row);
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Empties the builders into a batch with `schema` (columns in schema order).
    fn take_batch(
        &mut self,
        schema: &SchemaRef,
        capture_file: &str,
    ) -> Result<RecordBatch, ArrowError>;
}

/// Counters above `i64::MAX` cannot occur in practice; clamp rather than wrap to a negative.
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The Arrow builder of one column.
enum Builder {
    /// The `capture_file` column: the same value on every row, made when the batch is taken.
    Capture,
    /// Addresses are written as text: every engine can group and filter on it, and IPv4 and
    /// IPv6 share one column.
    Utf8(StringBuilder),
    /// Ports, ids, small counts (`u16`; a `u32` depth is clamped): Spark has no unsigned types.
    Int32(Int32Builder),
    Int64(Int64Builder),
    Timestamp(TimestampNanosecondBuilder),
    Boolean(BooleanBuilder),
    List(ListBuilder<StringBuilder>),
}

impl Builder {
    fn new<R>(column: &Column<R>) -> Builder {
        if column.table_name == "capture_file" {
            return Builder::Capture;
        }
        match column.ty {
            ColumnType::Utf8 => Builder::Utf8(StringBuilder::new()),
            ColumnType::Int32 => Builder::Int32(Int32Builder::new()),
            ColumnType::Int64 => Builder::Int64(Int64Builder::new()),
            ColumnType::TimestampNsUtc => {
                Builder::Timestamp(TimestampNanosecondBuilder::new().with_timezone("UTC"))
            }
            ColumnType::Boolean => Builder::Boolean(BooleanBuilder::new()),
            ColumnType::Utf8List => Builder::List(
                ListBuilder::new(StringBuilder::new()).with_field(Arc::new(list_item_field())),
            ),
        }
    }

    fn append(&mut self, value: Value<'_>) {
        match (self, value) {
            (Builder::Capture, _) => {}
            (Builder::Utf8(b), Value::Null) => b.append_null(),
            (Builder::Utf8(b), Value::Str(s)) => b.append_value(s),
            (Builder::Utf8(b), Value::Owned(s)) => b.append_value(s),
            (Builder::Utf8(b), Value::Ip(ip)) => {
                // Written into the builder: no String per address.
                write!(b, "{ip}").expect("writing to a builder cannot fail");
                b.append_value("");
            }
            (Builder::Int32(b), Value::Null) => b.append_null(),
            (Builder::Int32(b), Value::UInt(n)) => {
                b.append_value(i32::try_from(n).unwrap_or(i32::MAX))
            }
            (Builder::Int64(b), Value::Null) => b.append_null(),
            (Builder::Int64(b), Value::UInt(n)) => b.append_value(count(n)),
            (Builder::Int64(b), Value::Int(n)) => b.append_value(n),
            (Builder::Timestamp(b), Value::Null) => b.append_null(),
            (Builder::Timestamp(b), Value::Int(n)) => b.append_value(n),
            (Builder::Boolean(b), Value::Bool(v)) => b.append_value(v),
            (Builder::List(b), Value::List(items)) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (Builder::List(b), Value::Strings(items)) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            (builder, value) => builder.append_mismatch(value),
        }
    }

    /// A value that does not fit the column's type: a mistake in a column definition, which
    /// `every_column_fills_its_table_type` finds. Written as null (the batch then fails on
    /// a non-null column) rather than panicking on a user's capture.
    fn append_mismatch(&mut self, value: Value<'_>) {
        debug_assert!(false, "value {value:?} does not fit its column");
        match self {
            Builder::Capture => {}
            Builder::Utf8(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Boolean(b) => b.append_null(),
            Builder::List(b) => b.append(false),
        }
    }

    fn finish(&mut self, capture_file: &str, rows: usize) -> ArrayRef {
        match self {
            Builder::Capture => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                capture_file,
                rows,
            ))),
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::List(b) => Arc::new(b.finish()),
        }
    }
}

/// The in-progress batch of a row type's table: one builder per table column.
pub struct TableRows<R: TableRow> {
    rows: usize,
    columns: Vec<(&'static Column<R>, Builder)>,
}

impl<R: TableRow> Default for TableRows<R> {
    fn default() -> Self {
        TableRows {
            rows: 0,
            columns: R::columns().table().map(|c| (c, Builder::new(c))).collect(),
        }
    }
}

impl<R: TableRow> RowBuffer for TableRows<R> {
    const TABLE: Table = R::TABLE;
    type Row = R;

    fn push(&mut self, row: &R) {
        self.rows += 1;
        for (column, builder) in &mut self.columns {
            builder.append((column.get)(row));
        }
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn take_batch(
        &mut self,
        schema: &SchemaRef,
        capture_file: &str,
    ) -> Result<RecordBatch, ArrowError> {
        let rows = std::mem::take(&mut self.rows);
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|(_, builder)| builder.finish(capture_file, rows))
            .collect();
        RecordBatch::try_new(schema.clone(), arrays)
    }
}

/// The `flows` table's batch in progress.
pub type FlowRows = TableRows<FlowRecord>;
/// The `http` table's batch in progress.
pub type HttpRows = TableRows<HttpTransaction>;
/// The `dns` table's batch in progress.
pub type DnsRows = TableRows<DnsTransaction>;
/// The `tcp` table's batch in progress.
pub type TcpRows = TableRows<TcpExchange>;
/// The `tls` table's batch in progress.
pub type TlsRows = TableRows<TlsConnection>;

/// Rows of one table in, Arrow record batches of at most [`BATCH_ROWS`] rows out, with the
/// table's schema (see [`Table::schema`]). The Parquet writer writes exactly these batches.
pub struct BatchBuilder<B: RowBuffer> {
    schema: SchemaRef,
    capture_file: String,
    buffer: B,
}

/// Batches of the `flows` table.
pub type FlowBatches = BatchBuilder<FlowRows>;
/// Batches of the `http` table.
pub type HttpBatches = BatchBuilder<HttpRows>;
/// Batches of the `dns` table.
pub type DnsBatches = BatchBuilder<DnsRows>;
/// Batches of the `tcp` table.
pub type TcpBatches = BatchBuilder<TcpRows>;
/// Batches of the `tls` table.
pub type TlsBatches = BatchBuilder<TlsRows>;

impl<B: RowBuffer> BatchBuilder<B> {
    /// `capture_file` fills the `capture_file` column of every row.
    pub fn new(capture_file: &str) -> Self {
        BatchBuilder {
            schema: B::TABLE.schema(),
            capture_file: capture_file.to_string(),
            buffer: B::default(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Appends a row; every [`BATCH_ROWS`] rows the full batch is returned.
    pub fn push(&mut self, row: &B::Row) -> Result<Option<RecordBatch>, ArrowError> {
        self.buffer.push(row);
        if self.buffer.len() >= BATCH_ROWS {
            self.finish()
        } else {
            Ok(None)
        }
    }

    /// The rows not yet returned as a batch, if any.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.buffer.is_empty() {
            return Ok(None);
        }
        self.buffer
            .take_batch(&self.schema, &self.capture_file)
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::samples;
    use crate::columns::writers::JsonRows;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type, TimestampNanosecondType};
    use arrow_array::Array;
    use arrow_schema::DataType;
    use serde_json::Value as Json;

    /// Row `i` of an Arrow column as the JSON value it stands for.
    fn json_of(array: &dyn Array, i: usize) -> Json {
        if array.is_null(i) {
            return Json::Null;
        }
        match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(i).into(),
            DataType::Int32 => array.as_primitive::<Int32Type>().value(i).into(),
            DataType::Int64 => array.as_primitive::<Int64Type>().value(i).into(),
            DataType::Timestamp(..) => array
                .as_primitive::<TimestampNanosecondType>()
                .value(i)
                .into(),
            DataType::Boolean => array.as_boolean().value(i).into(),
            DataType::List(_) => {
                let items = array.as_list::<i32>().value(i);
                let items = items.as_string::<i32>();
                (0..items.len())
                    .map(|j| Json::from(items.value(j)))
                    .collect()
            }
            other => panic!("no JSON for {other}"),
        }
    }

    /// Every table column holds the value `--json` writes for it, row by row (one definition,
    /// two writers), and the batch has the documented schema.
    fn tables_equal_json<R: TableRow>(rows: &[R]) {
        let mut buffer = TableRows::<R>::default();
        for row in rows {
            buffer.push(row);
        }
        let batch = buffer
            .take_batch(&R::TABLE.schema(), "f.pcap")
            .expect("a batch with the documented schema");
        let json = JsonRows::new(R::columns());
        for (i, row) in rows.iter().enumerate() {
            let mut line = Vec::new();
            json.push_line(&mut line, "f.pcap", row);
            let object: Json = serde_json::from_slice(&line).unwrap();
            for (k, column) in R::columns().table().enumerate() {
                assert_eq!(
                    json_of(batch.column(k).as_ref(), i),
                    object[column.name],
                    "{:?} row {i} column {}",
                    R::TABLE,
                    column.name
                );
            }
        }
        assert!(buffer.is_empty(), "taking the batch empties the buffer");
    }

    #[test]
    fn every_column_fills_its_table_type() {
        tables_equal_json(&samples::flows());
        tables_equal_json(&samples::http());
        tables_equal_json(&samples::dns());
        tables_equal_json(&samples::tcp());
        tables_equal_json(&samples::tls());
    }

    #[test]
    fn out_of_range_counters_are_clamped_not_wrapped() {
        let mut rows = samples::http();
        rows[0].request_bytes = u64::MAX;
        rows[0].depth = u32::MAX;
        let mut buffer = HttpRows::default();
        buffer.push(&rows[0]);
        let batch = buffer.take_batch(&Table::Http.schema(), "f").unwrap();
        let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
        assert_eq!(
            column("request_bytes").as_primitive::<Int64Type>().value(0),
            i64::MAX
        );
        assert_eq!(
            column("depth").as_primitive::<Int32Type>().value(0),
            i32::MAX
        );
    }
}

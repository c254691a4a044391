//! Column builders for one batch of each table: rows are appended field by field and turned
//! into an Arrow `RecordBatch` when the batch is full (or at the end). [`BatchBuilder`] is the
//! one way rows become batches, for the Parquet writer and for in-memory consumers alike.

use super::schema::{list_item_field, Table};
use super::BATCH_ROWS;
use crate::analyzers::pairing::Exchange;
use crate::analyzers::{DnsTransaction, HttpTransaction, TcpExchange, Transaction};
use crate::flows::FlowRecord;
use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{ArrowError, SchemaRef};
use std::net::IpAddr;
use std::sync::Arc;

/// Counters above `i64::MAX` cannot occur in practice; clamp rather than wrap to a negative.
fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn timestamps() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

fn flag_list() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(list_item_field()))
}

fn append_flags(builder: &mut ListBuilder<StringBuilder>, flags: &[&'static str]) {
    for flag in flags {
        builder.values().append_value(flag);
    }
    builder.append(true);
}

/// The `capture_file` column: the same value on every row of a batch.
fn capture_column(capture_file: &str, rows: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
        capture_file,
        rows,
    )))
}

/// Addresses are written as text: every engine can group and filter on it, and IPv4 and IPv6
/// share one column.
fn append_ip(builder: &mut StringBuilder, ip: IpAddr) {
    builder.append_value(ip.to_string());
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

pub struct FlowRows {
    rows: usize,
    flow_id: Int64Builder,
    protocol: StringBuilder,
    client_ip: StringBuilder,
    client_port: Int32Builder,
    server_ip: StringBuilder,
    server_port: Int32Builder,
    first_ts: TimestampNanosecondBuilder,
    last_ts: TimestampNanosecondBuilder,
    duration_ns: Int64Builder,
    client_packets: Int64Builder,
    client_bytes: Int64Builder,
    client_payload_bytes: Int64Builder,
    server_packets: Int64Builder,
    server_bytes: Int64Builder,
    server_payload_bytes: Int64Builder,
    tcp_state: StringBuilder,
    syn_to_synack_ns: Int64Builder,
    synack_to_ack_ns: Int64Builder,
    handshake_ns: Int64Builder,
}

impl Default for FlowRows {
    fn default() -> Self {
        FlowRows {
            rows: 0,
            flow_id: Int64Builder::new(),
            protocol: StringBuilder::new(),
            client_ip: StringBuilder::new(),
            client_port: Int32Builder::new(),
            server_ip: StringBuilder::new(),
            server_port: Int32Builder::new(),
            first_ts: timestamps(),
            last_ts: timestamps(),
            duration_ns: Int64Builder::new(),
            client_packets: Int64Builder::new(),
            client_bytes: Int64Builder::new(),
            client_payload_bytes: Int64Builder::new(),
            server_packets: Int64Builder::new(),
            server_bytes: Int64Builder::new(),
            server_payload_bytes: Int64Builder::new(),
            tcp_state: StringBuilder::new(),
            syn_to_synack_ns: Int64Builder::new(),
            synack_to_ack_ns: Int64Builder::new(),
            handshake_ns: Int64Builder::new(),
        }
    }
}

impl RowBuffer for FlowRows {
    const TABLE: Table = Table::Flows;
    type Row = FlowRecord;

    fn push(&mut self, f: &FlowRecord) {
        self.rows += 1;
        self.flow_id.append_value(count(f.flow_id));
        self.protocol.append_value(&f.protocol);
        append_ip(&mut self.client_ip, f.client_ip);
        self.client_port.append_value(i32::from(f.client_port));
        append_ip(&mut self.server_ip, f.server_ip);
        self.server_port.append_value(i32::from(f.server_port));
        self.first_ts.append_value(f.first_ns);
        self.last_ts.append_value(f.last_ns);
        self.duration_ns.append_value(f.duration_ns());
        self.client_packets.append_value(count(f.client_packets));
        self.client_bytes.append_value(count(f.client_bytes));
        self.client_payload_bytes
            .append_value(count(f.client_payload_bytes));
        self.server_packets.append_value(count(f.server_packets));
        self.server_bytes.append_value(count(f.server_bytes));
        self.server_payload_bytes
            .append_value(count(f.server_payload_bytes));
        self.tcp_state.append_option(f.tcp_state.as_deref());
        self.syn_to_synack_ns.append_option(f.syn_to_synack_ns);
        self.synack_to_ack_ns.append_option(f.synack_to_ack_ns);
        self.handshake_ns.append_option(f.handshake_ns());
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
        let columns: Vec<ArrayRef> = vec![
            capture_column(capture_file, rows),
            Arc::new(self.flow_id.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_port.finish()),
            Arc::new(self.server_ip.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.first_ts.finish()),
            Arc::new(self.last_ts.finish()),
            Arc::new(self.duration_ns.finish()),
            Arc::new(self.client_packets.finish()),
            Arc::new(self.client_bytes.finish()),
            Arc::new(self.client_payload_bytes.finish()),
            Arc::new(self.server_packets.finish()),
            Arc::new(self.server_bytes.finish()),
            Arc::new(self.server_payload_bytes.finish()),
            Arc::new(self.tcp_state.finish()),
            Arc::new(self.syn_to_synack_ns.finish()),
            Arc::new(self.synack_to_ack_ns.finish()),
            Arc::new(self.handshake_ns.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// The four capture times and the latencies derived from them: the same eight columns, in this
/// order, in every request/response table (`http`, `tcp`).
struct ExchangeColumns {
    request_first_ts: TimestampNanosecondBuilder,
    request_last_ts: TimestampNanosecondBuilder,
    response_first_ts: TimestampNanosecondBuilder,
    response_last_ts: TimestampNanosecondBuilder,
    ttfb_ns: Int64Builder,
    total_ns: Int64Builder,
    server_ns: Int64Builder,
    tshark_ns: Int64Builder,
}

impl Default for ExchangeColumns {
    fn default() -> Self {
        ExchangeColumns {
            request_first_ts: timestamps(),
            request_last_ts: timestamps(),
            response_first_ts: timestamps(),
            response_last_ts: timestamps(),
            ttfb_ns: Int64Builder::new(),
            total_ns: Int64Builder::new(),
            server_ns: Int64Builder::new(),
            tshark_ns: Int64Builder::new(),
        }
    }
}

impl ExchangeColumns {
    fn append(&mut self, e: &Exchange) {
        self.request_first_ts.append_option(e.request_first_ns);
        self.request_last_ts.append_option(e.request_last_ns);
        self.response_first_ts.append_option(e.response_first_ns);
        self.response_last_ts.append_option(e.response_last_ns);
        self.ttfb_ns.append_option(e.ttfb_ns());
        self.total_ns.append_option(e.total_ns());
        self.server_ns.append_option(e.server_ns());
        self.tshark_ns.append_option(e.tshark_ns());
    }

    fn finish(&mut self) -> [ArrayRef; 8] {
        [
            Arc::new(self.request_first_ts.finish()),
            Arc::new(self.request_last_ts.finish()),
            Arc::new(self.response_first_ts.finish()),
            Arc::new(self.response_last_ts.finish()),
            Arc::new(self.ttfb_ns.finish()),
            Arc::new(self.total_ns.finish()),
            Arc::new(self.server_ns.finish()),
            Arc::new(self.tshark_ns.finish()),
        ]
    }
}

pub struct HttpRows {
    rows: usize,
    connection_id: Int64Builder,
    depth: Int32Builder,
    client_ip: StringBuilder,
    client_port: Int32Builder,
    server_ip: StringBuilder,
    server_port: Int32Builder,
    method: StringBuilder,
    host: StringBuilder,
    uri: StringBuilder,
    version: StringBuilder,
    status: Int32Builder,
    request_bytes: Int64Builder,
    response_bytes: Int64Builder,
    request_body_bytes: Int64Builder,
    response_body_bytes: Int64Builder,
    times: ExchangeColumns,
    flags: ListBuilder<StringBuilder>,
    tls: BooleanBuilder,
    sni: StringBuilder,
    stream_id: Int64Builder,
    grpc_service: StringBuilder,
    grpc_method: StringBuilder,
    grpc_status: Int64Builder,
    grpc_message: StringBuilder,
    grpc_request_messages: Int64Builder,
    grpc_response_messages: Int64Builder,
}

impl Default for HttpRows {
    fn default() -> Self {
        HttpRows {
            rows: 0,
            connection_id: Int64Builder::new(),
            depth: Int32Builder::new(),
            client_ip: StringBuilder::new(),
            client_port: Int32Builder::new(),
            server_ip: StringBuilder::new(),
            server_port: Int32Builder::new(),
            method: StringBuilder::new(),
            host: StringBuilder::new(),
            uri: StringBuilder::new(),
            version: StringBuilder::new(),
            status: Int32Builder::new(),
            request_bytes: Int64Builder::new(),
            response_bytes: Int64Builder::new(),
            request_body_bytes: Int64Builder::new(),
            response_body_bytes: Int64Builder::new(),
            times: ExchangeColumns::default(),
            flags: flag_list(),
            tls: BooleanBuilder::new(),
            sni: StringBuilder::new(),
            stream_id: Int64Builder::new(),
            grpc_service: StringBuilder::new(),
            grpc_method: StringBuilder::new(),
            grpc_status: Int64Builder::new(),
            grpc_message: StringBuilder::new(),
            grpc_request_messages: Int64Builder::new(),
            grpc_response_messages: Int64Builder::new(),
        }
    }
}

impl RowBuffer for HttpRows {
    const TABLE: Table = Table::Http;
    type Row = HttpTransaction;

    fn push(&mut self, t: &HttpTransaction) {
        self.rows += 1;
        self.connection_id.append_value(count(t.connection_id));
        // Depth counts transactions on one connection; clamp like the byte counters.
        self.depth
            .append_value(i32::try_from(t.depth).unwrap_or(i32::MAX));
        append_ip(&mut self.client_ip, t.client_ip);
        self.client_port.append_value(i32::from(t.client_port));
        append_ip(&mut self.server_ip, t.server_ip);
        self.server_port.append_value(i32::from(t.server_port));
        self.method.append_value(&t.method);
        self.host.append_option(t.host.as_deref());
        self.uri.append_value(&t.uri);
        self.version.append_value(&t.version);
        self.status.append_option(t.status.map(i32::from));
        self.request_bytes.append_value(count(t.request_bytes));
        self.response_bytes.append_value(count(t.response_bytes));
        self.request_body_bytes
            .append_value(count(t.request_body_bytes));
        self.response_body_bytes
            .append_value(count(t.response_body_bytes));
        self.times.append(&t.exchange());
        append_flags(&mut self.flags, &t.flags);
        self.tls.append_value(t.tls);
        self.sni.append_option(t.sni.as_deref());
        self.stream_id.append_option(t.stream_id.map(i64::from));
        let grpc = t.grpc.as_ref();
        self.grpc_service
            .append_option(grpc.map(|g| g.service.as_str()));
        self.grpc_method
            .append_option(grpc.map(|g| g.method.as_str()));
        self.grpc_status
            .append_option(grpc.and_then(|g| g.status).map(i64::from));
        self.grpc_message
            .append_option(grpc.and_then(|g| g.message.as_deref()));
        self.grpc_request_messages
            .append_option(grpc.map(|g| count(g.request_messages)));
        self.grpc_response_messages
            .append_option(grpc.map(|g| count(g.response_messages)));
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
        let mut columns: Vec<ArrayRef> = vec![
            capture_column(capture_file, rows),
            Arc::new(self.connection_id.finish()),
            Arc::new(self.depth.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_port.finish()),
            Arc::new(self.server_ip.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.uri.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.request_bytes.finish()),
            Arc::new(self.response_bytes.finish()),
            Arc::new(self.request_body_bytes.finish()),
            Arc::new(self.response_body_bytes.finish()),
        ];
        columns.extend(self.times.finish());
        columns.push(Arc::new(self.flags.finish()));
        columns.push(Arc::new(self.tls.finish()));
        columns.push(Arc::new(self.sni.finish()));
        columns.push(Arc::new(self.stream_id.finish()));
        columns.push(Arc::new(self.grpc_service.finish()));
        columns.push(Arc::new(self.grpc_method.finish()));
        columns.push(Arc::new(self.grpc_status.finish()));
        columns.push(Arc::new(self.grpc_message.finish()));
        columns.push(Arc::new(self.grpc_request_messages.finish()));
        columns.push(Arc::new(self.grpc_response_messages.finish()));
        RecordBatch::try_new(schema.clone(), columns)
    }
}

pub struct DnsRows {
    rows: usize,
    client_ip: StringBuilder,
    client_port: Int32Builder,
    server_ip: StringBuilder,
    server_port: Int32Builder,
    transport: StringBuilder,
    id: Int32Builder,
    query_name: StringBuilder,
    query_type: Int32Builder,
    rcode: Int32Builder,
    answers: Int32Builder,
    query_ts: TimestampNanosecondBuilder,
    response_ts: TimestampNanosecondBuilder,
    latency_ns: Int64Builder,
    flags: ListBuilder<StringBuilder>,
}

impl Default for DnsRows {
    fn default() -> Self {
        DnsRows {
            rows: 0,
            client_ip: StringBuilder::new(),
            client_port: Int32Builder::new(),
            server_ip: StringBuilder::new(),
            server_port: Int32Builder::new(),
            transport: StringBuilder::new(),
            id: Int32Builder::new(),
            query_name: StringBuilder::new(),
            query_type: Int32Builder::new(),
            rcode: Int32Builder::new(),
            answers: Int32Builder::new(),
            query_ts: timestamps(),
            response_ts: timestamps(),
            latency_ns: Int64Builder::new(),
            flags: flag_list(),
        }
    }
}

impl RowBuffer for DnsRows {
    const TABLE: Table = Table::Dns;
    type Row = DnsTransaction;

    fn push(&mut self, d: &DnsTransaction) {
        self.rows += 1;
        append_ip(&mut self.client_ip, d.client_ip);
        self.client_port.append_value(i32::from(d.client_port));
        append_ip(&mut self.server_ip, d.server_ip);
        self.server_port.append_value(i32::from(d.server_port));
        self.transport.append_value(d.transport);
        self.id.append_value(i32::from(d.id));
        self.query_name.append_value(&d.query_name);
        self.query_type.append_value(i32::from(d.query_type));
        self.rcode.append_option(d.rcode.map(i32::from));
        self.answers.append_value(i32::from(d.answers));
        self.query_ts.append_option(d.query_ns);
        self.response_ts.append_option(d.response_ns);
        self.latency_ns.append_option(d.latency_ns());
        append_flags(&mut self.flags, &d.flags);
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
        let columns: Vec<ArrayRef> = vec![
            capture_column(capture_file, rows),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_port.finish()),
            Arc::new(self.server_ip.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.transport.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.query_name.finish()),
            Arc::new(self.query_type.finish()),
            Arc::new(self.rcode.finish()),
            Arc::new(self.answers.finish()),
            Arc::new(self.query_ts.finish()),
            Arc::new(self.response_ts.finish()),
            Arc::new(self.latency_ns.finish()),
            Arc::new(self.flags.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns)
    }
}

pub struct TcpRows {
    rows: usize,
    connection_id: Int64Builder,
    exchange: Int32Builder,
    protocol: StringBuilder,
    client_ip: StringBuilder,
    client_port: Int32Builder,
    server_ip: StringBuilder,
    server_port: Int32Builder,
    server_rule: StringBuilder,
    request_bytes: Int64Builder,
    response_bytes: Int64Builder,
    times: ExchangeColumns,
    flags: ListBuilder<StringBuilder>,
}

impl Default for TcpRows {
    fn default() -> Self {
        TcpRows {
            rows: 0,
            connection_id: Int64Builder::new(),
            exchange: Int32Builder::new(),
            protocol: StringBuilder::new(),
            client_ip: StringBuilder::new(),
            client_port: Int32Builder::new(),
            server_ip: StringBuilder::new(),
            server_port: Int32Builder::new(),
            server_rule: StringBuilder::new(),
            request_bytes: Int64Builder::new(),
            response_bytes: Int64Builder::new(),
            times: ExchangeColumns::default(),
            flags: flag_list(),
        }
    }
}

impl RowBuffer for TcpRows {
    const TABLE: Table = Table::Tcp;
    type Row = TcpExchange;

    fn push(&mut self, t: &TcpExchange) {
        self.rows += 1;
        self.connection_id.append_value(count(t.connection_id));
        self.exchange
            .append_value(i32::try_from(t.exchange).unwrap_or(i32::MAX));
        self.protocol.append_value(t.protocol);
        append_ip(&mut self.client_ip, t.client_ip);
        self.client_port.append_value(i32::from(t.client_port));
        append_ip(&mut self.server_ip, t.server_ip);
        self.server_port.append_value(i32::from(t.server_port));
        self.server_rule.append_value(t.server_rule);
        self.request_bytes.append_value(count(t.request_bytes));
        self.response_bytes.append_value(count(t.response_bytes));
        self.times.append(&t.exchange());
        append_flags(&mut self.flags, &t.flags);
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
        let mut columns: Vec<ArrayRef> = vec![
            capture_column(capture_file, rows),
            Arc::new(self.connection_id.finish()),
            Arc::new(self.exchange.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.client_port.finish()),
            Arc::new(self.server_ip.finish()),
            Arc::new(self.server_port.finish()),
            Arc::new(self.server_rule.finish()),
            Arc::new(self.request_bytes.finish()),
            Arc::new(self.response_bytes.finish()),
        ];
        columns.extend(self.times.finish());
        columns.push(Arc::new(self.flags.finish()));
        RecordBatch::try_new(schema.clone(), columns)
    }
}

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

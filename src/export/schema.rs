//! The three table schemas, defined once: the Arrow schemas the writers use and the markdown
//! table in the documentation are both generated from [`FLOW_COLUMNS`], [`HTTP_COLUMNS`] and
//! [`DNS_COLUMNS`], so the documented schema cannot drift from the written one (a test renders
//! the markdown and compares it with `schema.md` and `spark/README.md`).

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;

/// Bumped whenever a column is renamed, retyped or removed (adding a column at the end keeps it).
/// Stored in the Arrow schema metadata under [`SCHEMA_VERSION_KEY`].
pub const SCHEMA_VERSION: &str = "1";
pub const SCHEMA_VERSION_KEY: &str = "tracetail.schema_version";

/// The column types used by the tables (a small closed set, so the docs can name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Utf8,
    Int32,
    Int64,
    /// Timestamp(Nanosecond, "UTC"): Parquet `INT64 TIMESTAMP(NANOS, isAdjustedToUTC=true)`.
    TimestampNsUtc,
    /// `List<Utf8>` with non-null items.
    Utf8List,
    Boolean,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::TimestampNsUtc => {
                DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
            }
            ColumnType::Utf8List => DataType::List(Arc::new(list_item_field())),
            ColumnType::Boolean => DataType::Boolean,
        }
    }

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

/// The element field of `flags` lists (named `item` like Arrow's default; never null).
pub fn list_item_field() -> Field {
    Field::new("item", DataType::Utf8, false)
}

/// One column: name, type, nullability and what it holds.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> Column {
    Column {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::{Boolean, Int32, Int64, TimestampNsUtc, Utf8, Utf8List};

const CAPTURE_FILE_DOC: &str = "capture the row came from, as given to the exporter";

/// `flows/<stem>.parquet`: one row per conversation ([`crate::flows::FlowRecord`]).
pub const FLOW_COLUMNS: &[Column] = &[
    col("capture_file", Utf8, false, CAPTURE_FILE_DOC),
    col(
        "flow_id",
        Int64,
        false,
        "index of the flow in order of first packet, from 0",
    ),
    col(
        "protocol",
        Utf8,
        false,
        "`tcp`, `udp`, `icmp`, `icmpv6` or `ip-<number>`",
    ),
    col(
        "client_ip",
        Utf8,
        false,
        "originator address (IPv4 dotted, IPv6 RFC 5952)",
    ),
    col(
        "client_port",
        Int32,
        false,
        "originator port (0 without ports)",
    ),
    col("server_ip", Utf8, false, "responder address"),
    col("server_port", Int32, false, "responder port"),
    col(
        "first_ts",
        TimestampNsUtc,
        false,
        "capture time of the first packet",
    ),
    col(
        "last_ts",
        TimestampNsUtc,
        false,
        "capture time of the last packet",
    ),
    col("duration_ns", Int64, false, "`last_ts - first_ts`"),
    col("client_packets", Int64, false, "packets sent by the client"),
    col(
        "client_bytes",
        Int64,
        false,
        "frame bytes (original length) sent by the client",
    ),
    col(
        "client_payload_bytes",
        Int64,
        false,
        "transport payload bytes sent by the client",
    ),
    col("server_packets", Int64, false, "packets sent by the server"),
    col(
        "server_bytes",
        Int64,
        false,
        "frame bytes sent by the server",
    ),
    col(
        "server_payload_bytes",
        Int64,
        false,
        "transport payload bytes sent by the server",
    ),
    col(
        "tcp_state",
        Utf8,
        true,
        "Zeek-style state (`S0`, `SF`, `REJ`, ...); null if not TCP",
    ),
    col("syn_to_synack_ns", Int64, true, "SYN -> SYN/ACK time"),
    col("synack_to_ack_ns", Int64, true, "SYN/ACK -> ACK time"),
    col(
        "handshake_ns",
        Int64,
        true,
        "SYN -> final ACK (sum of the two above)",
    ),
];

/// `http/<stem>.parquet`: one row per request/response ([`crate::analyzers::HttpTransaction`]).
pub const HTTP_COLUMNS: &[Column] = &[
    col("capture_file", Utf8, false, CAPTURE_FILE_DOC),
    col(
        "connection_id",
        Int64,
        false,
        "`flow_id` of the TCP connection",
    ),
    col("depth", Int32, false, "position on the connection, from 1"),
    col("client_ip", Utf8, false, "client address"),
    col("client_port", Int32, false, "client port"),
    col("server_ip", Utf8, false, "server address"),
    col("server_port", Int32, false, "server port"),
    col(
        "method",
        Utf8,
        false,
        "request method; empty if the request was not seen",
    ),
    col("host", Utf8, true, "`Host` header"),
    col("uri", Utf8, false, "request target as sent"),
    col("version", Utf8, false, "`HTTP/1.1`, `HTTP/1.0`"),
    col(
        "status",
        Int32,
        true,
        "response status code; null if unanswered",
    ),
    col("request_bytes", Int64, false, "request head + body bytes"),
    col("response_bytes", Int64, false, "response head + body bytes"),
    col("request_body_bytes", Int64, false, "request body bytes"),
    col("response_body_bytes", Int64, false, "response body bytes"),
    col(
        "request_first_ts",
        TimestampNsUtc,
        true,
        "first packet carrying request bytes",
    ),
    col(
        "request_last_ts",
        TimestampNsUtc,
        true,
        "packet completing the request",
    ),
    col(
        "response_first_ts",
        TimestampNsUtc,
        true,
        "first packet carrying response bytes",
    ),
    col(
        "response_last_ts",
        TimestampNsUtc,
        true,
        "packet completing the response",
    ),
    col(
        "ttfb_ns",
        Int64,
        true,
        "`response_first_ts - request_first_ts`",
    ),
    col(
        "total_ns",
        Int64,
        true,
        "`response_last_ts - request_first_ts`",
    ),
    col(
        "server_ns",
        Int64,
        true,
        "`response_first_ts - request_last_ts`",
    ),
    col(
        "tshark_ns",
        Int64,
        true,
        "`response_last_ts - request_last_ts` (tshark `http.time`)",
    ),
    col(
        "flags",
        Utf8List,
        false,
        "problems: `gap`, `unanswered`, `orphan_response`, ...",
    ),
    col(
        "tls",
        Boolean,
        false,
        "carried inside TLS and decrypted with `--keylog` keys",
    ),
    col(
        "sni",
        Utf8,
        true,
        "TLS server name of the connection, when inside TLS",
    ),
    col(
        "stream_id",
        Int64,
        true,
        "HTTP/2 stream of the exchange; null for HTTP/1.x",
    ),
    col(
        "grpc_service",
        Utf8,
        true,
        "gRPC service (`package.Service` from the path); null if not gRPC",
    ),
    col("grpc_method", Utf8, true, "gRPC method; null if not gRPC"),
    col(
        "grpc_status",
        Int64,
        true,
        "`grpc-status` of the trailers; null if not gRPC or not seen",
    ),
    col(
        "grpc_message",
        Utf8,
        true,
        "`grpc-message` of the trailers, percent-decoded",
    ),
    col(
        "grpc_request_messages",
        Int64,
        true,
        "gRPC messages the client sent; null if not gRPC",
    ),
    col(
        "grpc_response_messages",
        Int64,
        true,
        "gRPC messages the server sent; null if not gRPC",
    ),
];

/// `dns/<stem>.parquet`: one row per query/response ([`crate::analyzers::DnsTransaction`]).
pub const DNS_COLUMNS: &[Column] = &[
    col("capture_file", Utf8, false, CAPTURE_FILE_DOC),
    col("client_ip", Utf8, false, "client address"),
    col("client_port", Int32, false, "client port"),
    col("server_ip", Utf8, false, "server address"),
    col("server_port", Int32, false, "server port"),
    col("transport", Utf8, false, "`udp` or `tcp`"),
    col("id", Int32, false, "DNS message id"),
    col(
        "query_name",
        Utf8,
        false,
        "first question name, dotted, no trailing dot",
    ),
    col(
        "query_type",
        Int32,
        false,
        "first question type (1 = A, 28 = AAAA, ...)",
    ),
    col(
        "rcode",
        Int32,
        true,
        "response code (0 = NOERROR); null if unanswered",
    ),
    col("answers", Int32, false, "answer record count"),
    col(
        "query_ts",
        TimestampNsUtc,
        true,
        "capture time of the query",
    ),
    col(
        "response_ts",
        TimestampNsUtc,
        true,
        "capture time of the response",
    ),
    col("latency_ns", Int64, true, "`response_ts - query_ts`"),
    col(
        "flags",
        Utf8List,
        false,
        "`unanswered`, `orphan_response`, `malformed`, ...",
    ),
];

/// `tcp/<stem>.parquet` (`export --protocol tcp`): one row per request/response exchange of
/// the generic analyzer ([`crate::analyzers::TcpExchange`]), the columns of `tracetail tcp`.
pub const TCP_COLUMNS: &[Column] = &[
    col("capture_file", Utf8, false, CAPTURE_FILE_DOC),
    col(
        "connection_id",
        Int64,
        false,
        "`flow_id` of the TCP connection",
    ),
    col(
        "exchange",
        Int32,
        false,
        "position on the connection, from 1",
    ),
    col(
        "protocol",
        Utf8,
        false,
        "what the detector decided: `http`, `dns`, `unknown`",
    ),
    col("client_ip", Utf8, false, "client address"),
    col("client_port", Int32, false, "client port"),
    col("server_ip", Utf8, false, "server address"),
    col("server_port", Int32, false, "server port"),
    col(
        "server_rule",
        Utf8,
        false,
        "`syn`, `well_known_port`, `repeated_port` or `lower_port`",
    ),
    col("request_bytes", Int64, false, "payload of the request run"),
    col(
        "response_bytes",
        Int64,
        false,
        "payload of the response run",
    ),
    col(
        "request_first_ts",
        TimestampNsUtc,
        true,
        "first packet of the request run",
    ),
    col(
        "request_last_ts",
        TimestampNsUtc,
        true,
        "packet completing the request run",
    ),
    col(
        "response_first_ts",
        TimestampNsUtc,
        true,
        "first packet of the response run",
    ),
    col(
        "response_last_ts",
        TimestampNsUtc,
        true,
        "packet completing the response run",
    ),
    col(
        "ttfb_ns",
        Int64,
        true,
        "`response_first_ts - request_first_ts`",
    ),
    col(
        "total_ns",
        Int64,
        true,
        "`response_last_ts - request_first_ts`",
    ),
    col(
        "server_ns",
        Int64,
        true,
        "`response_first_ts - request_last_ts`",
    ),
    col(
        "tshark_ns",
        Int64,
        true,
        "`response_last_ts - request_last_ts`",
    ),
    col(
        "flags",
        Utf8List,
        false,
        "`server_first`, `no_request`, `overlapped`, `unanswered`, `gap`",
    ),
];

/// The tables, in the order they are documented and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Flows,
    Http,
    Dns,
    /// Written only when asked for (`export --protocol tcp`).
    Tcp,
}

impl Table {
    /// The tables `export` always writes.
    pub const ALL: [Table; 3] = [Table::Flows, Table::Http, Table::Dns];
    /// Every table, as documented: [`ALL`](Self::ALL) and those written on request.
    pub const DOCUMENTED: [Table; 4] = [Table::Flows, Table::Http, Table::Dns, Table::Tcp];

    /// Folder name under the export directory (also the table name in SQL examples).
    pub fn dir_name(self) -> &'static str {
        match self {
            Table::Flows => "flows",
            Table::Http => "http",
            Table::Dns => "dns",
            Table::Tcp => "tcp",
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Flows => FLOW_COLUMNS,
            Table::Http => HTTP_COLUMNS,
            Table::Dns => DNS_COLUMNS,
            Table::Tcp => TCP_COLUMNS,
        }
    }

    /// The Arrow schema written to `<dir>/<table>/<stem>.parquet`.
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, c.ty.data_type(), c.nullable))
            .collect();
        let metadata =
            HashMap::from([(SCHEMA_VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
        Arc::new(Schema::new_with_metadata(fields, metadata))
    }
}

/// The schema documentation as markdown: one `####` section and table per table.
/// `src/export/schema.md` and the schema section of `spark/README.md` hold exactly this text.
pub fn schema_markdown() -> String {
    let mut out = String::new();
    for table in Table::DOCUMENTED {
        out.push_str(&format!(
            "#### `{0}/<capture stem>.parquet`\n\n| column | type | nullable | meaning |\n|---|---|---|---|\n",
            table.dir_name()
        ));
        for c in table.columns() {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                c.name,
                c.ty.doc_name(),
                if c.nullable { "yes" } else { "no" },
                c.doc
            ));
        }
        out.push('\n');
    }
    out
}

//! Columns of HTTP transactions: `tracetail http --json/--csv`, the `http` table.

use super::writers::unrolled;
use super::ColumnType::{Boolean, Int32, Int64, Utf8, Utf8List};
use super::{
    capture, client_ip, client_port, col, connection_id, request_first_ns, request_last_ns,
    response_first_ns, response_last_ns, server_ip, server_ns, server_port, text_only, total_ns,
    tshark_ns, ttfb_ns, Column, RowColumns, Value,
};
use crate::analyzers::HttpTransaction;

pub static HTTP: RowColumns<HttpTransaction> =
    RowColumns::new(HTTP_COLUMNS).with_unrolled(unrolled!(HttpTransaction, HTTP_COLUMNS));

const HTTP_COLUMNS: &[Column<HttpTransaction>] = &[
    capture(),
    connection_id(|t| t.connection_id.into()),
    col(
        "depth",
        Int32,
        false,
        "position on the connection, from 1",
        |t| t.depth.into(),
    ),
    client_ip(),
    client_port(),
    server_ip(),
    server_port(),
    col(
        "method",
        Utf8,
        false,
        "request method; empty if the request was not seen",
        |t| t.method.as_str().into(),
    ),
    col("host", Utf8, true, "`Host` header", |t| {
        t.host.as_deref().into()
    }),
    col("uri", Utf8, false, "request target as sent", |t| {
        t.uri.as_str().into()
    }),
    col("version", Utf8, false, "`HTTP/1.1`, `HTTP/1.0`", |t| {
        t.version.as_str().into()
    }),
    col(
        "status",
        Int32,
        true,
        "response status code; null if unanswered",
        |t| t.status.into(),
    ),
    col(
        "request_bytes",
        Int64,
        false,
        "request head + body bytes",
        |t| t.request_bytes.into(),
    ),
    col(
        "response_bytes",
        Int64,
        false,
        "response head + body bytes",
        |t| t.response_bytes.into(),
    ),
    col(
        "request_body_bytes",
        Int64,
        false,
        "request body bytes",
        |t| t.request_body_bytes.into(),
    ),
    col(
        "response_body_bytes",
        Int64,
        false,
        "response body bytes",
        |t| t.response_body_bytes.into(),
    ),
    request_first_ns("first packet carrying request bytes"),
    request_last_ns("packet completing the request"),
    response_first_ns("first packet carrying response bytes"),
    response_last_ns("packet completing the response"),
    ttfb_ns(),
    total_ns(),
    server_ns(),
    tshark_ns(),
    col(
        "flags",
        Utf8List,
        false,
        "problems: `gap`, `unanswered`, `orphan_response`, ...",
        |t| (&t.flags).into(),
    ),
    text_only(col("gap", Boolean, false, "`flags` holds `gap`", |t| {
        t.flags.contains(&"gap").into()
    })),
    col(
        "tls",
        Boolean,
        false,
        "carried inside TLS and decrypted with `--keylog` keys",
        |t| t.tls.into(),
    ),
    col(
        "sni",
        Utf8,
        true,
        "TLS server name of the connection, when inside TLS",
        |t| t.sni.as_deref().into(),
    ),
    col(
        "stream_id",
        Int64,
        true,
        "HTTP/2 stream of the exchange; null for HTTP/1.x",
        |t| t.stream_id.into(),
    ),
    col(
        "grpc_service",
        Utf8,
        true,
        "gRPC service (`package.Service` from the path); null if not gRPC",
        |t| grpc(t, |g| (&g.service).into()),
    ),
    col(
        "grpc_method",
        Utf8,
        true,
        "gRPC method; null if not gRPC",
        |t| grpc(t, |g| (&g.method).into()),
    ),
    col(
        "grpc_status",
        Int64,
        true,
        "`grpc-status` of the trailers; null if not gRPC or not seen",
        |t| grpc(t, |g| g.status.into()),
    ),
    col(
        "grpc_message",
        Utf8,
        true,
        "`grpc-message` of the trailers, percent-decoded",
        |t| grpc(t, |g| g.message.as_ref().into()),
    ),
    col(
        "grpc_request_messages",
        Int64,
        true,
        "gRPC messages the client sent; null if not gRPC",
        |t| grpc(t, |g| g.request_messages.into()),
    ),
    col(
        "grpc_response_messages",
        Int64,
        true,
        "gRPC messages the server sent; null if not gRPC",
        |t| grpc(t, |g| g.response_messages.into()),
    ),
];

/// A value of the gRPC call; null when the transaction is not one.
fn grpc<'a>(
    t: &'a HttpTransaction,
    get: impl FnOnce(&'a crate::analyzers::GrpcCall) -> Value<'a>,
) -> Value<'a> {
    t.grpc.as_ref().map_or(Value::Null, get)
}

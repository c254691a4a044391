//! Columns of the generic analyzer's exchanges: `tracetail tcp --json/--csv`, the `tcp` table
//! (`export --protocol tcp`).

use super::writers::unrolled;
use super::ColumnType::{Int32, Int64, Utf8, Utf8List};
use super::{
    capture, client_ip, client_port, col, connection_id, request_first_ns, request_last_ns,
    response_first_ns, response_last_ns, server_ip, server_ns, server_port, total_ns, tshark_ns,
    ttfb_ns, Column, RowColumns,
};
use crate::analyzers::TcpExchange;

pub static TCP: RowColumns<TcpExchange> =
    RowColumns::new(TCP_COLUMNS).with_unrolled(unrolled!(TcpExchange, TCP_COLUMNS));

const TCP_COLUMNS: &[Column<TcpExchange>] = &[
    capture(),
    connection_id(|t| t.connection_id.into()),
    col(
        "exchange",
        Int32,
        false,
        "position on the connection, from 1",
        |t| t.exchange.into(),
    ),
    col(
        "protocol",
        Utf8,
        false,
        "what the detector decided: `http`, `dns`, `unknown`",
        |t| t.protocol.into(),
    ),
    client_ip(),
    client_port(),
    server_ip(),
    server_port(),
    col(
        "server_rule",
        Utf8,
        false,
        "`syn`, `well_known_port`, `repeated_port` or `lower_port`",
        |t| t.server_rule.into(),
    ),
    col(
        "request_bytes",
        Int64,
        false,
        "payload of the request run",
        |t| t.request_bytes.into(),
    ),
    col(
        "response_bytes",
        Int64,
        false,
        "payload of the response run",
        |t| t.response_bytes.into(),
    ),
    request_first_ns("first packet of the request run"),
    request_last_ns("packet completing the request run"),
    response_first_ns("first packet of the response run"),
    response_last_ns("packet completing the response run"),
    ttfb_ns(),
    total_ns(),
    server_ns(),
    tshark_ns(),
    col(
        "flags",
        Utf8List,
        false,
        "`server_first`, `no_request`, `overlapped`, `unanswered`, `gap`",
        |t| (&t.flags).into(),
    ),
];

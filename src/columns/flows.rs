//! Columns of conversations: `tracetail sessions --json/--csv`, the `flows` table.

use super::ColumnType::{Int32, Int64, TimestampNsUtc, Utf8};
use super::{capture, col, Column, RowColumns};
use crate::flows::FlowRecord;

/// The table order is the definition order; `sessions --json` and `--csv` keep the orders they
/// had before the tables existed (a contract with users' scripts).
pub static FLOWS: RowColumns<FlowRecord> = RowColumns {
    unrolled: None,
    columns: FLOW_COLUMNS,
    json_order: Some(&[
        "flow_id",
        "protocol",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "first_ns",
        "last_ns",
        "client_packets",
        "client_bytes",
        "client_payload_bytes",
        "server_packets",
        "server_bytes",
        "server_payload_bytes",
        "tcp_state",
        "syn_to_synack_ns",
        "synack_to_ack_ns",
        "capture",
        "duration_ns",
        "handshake_ns",
    ]),
    csv_order: Some(&[
        "capture",
        "flow_id",
        "protocol",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "first_ns",
        "last_ns",
        "duration_ns",
        "client_packets",
        "client_bytes",
        "server_packets",
        "server_bytes",
        "client_payload_bytes",
        "server_payload_bytes",
        "tcp_state",
        "syn_to_synack_ns",
        "synack_to_ack_ns",
    ]),
};

const FLOW_COLUMNS: &[Column<FlowRecord>] = &[
    capture(),
    col(
        "flow_id",
        Int64,
        false,
        "index of the flow in order of first packet, from 0",
        |f| f.flow_id.into(),
    ),
    col(
        "protocol",
        Utf8,
        false,
        "`tcp`, `udp`, `icmp`, `icmpv6` or `ip-<number>`",
        |f| f.protocol.as_str().into(),
    ),
    col(
        "client_ip",
        Utf8,
        false,
        "originator address (IPv4 dotted, IPv6 RFC 5952)",
        |f| f.client_ip.into(),
    ),
    col(
        "client_port",
        Int32,
        false,
        "originator port (0 without ports)",
        |f| f.client_port.into(),
    ),
    col("server_ip", Utf8, false, "responder address", |f| {
        f.server_ip.into()
    }),
    col("server_port", Int32, false, "responder port", |f| {
        f.server_port.into()
    }),
    col(
        "first_ns",
        TimestampNsUtc,
        false,
        "capture time of the first packet",
        |f| f.first_ns.into(),
    ),
    col(
        "last_ns",
        TimestampNsUtc,
        false,
        "capture time of the last packet",
        |f| f.last_ns.into(),
    ),
    col("duration_ns", Int64, false, "`last_ts - first_ts`", |f| {
        f.duration_ns().into()
    }),
    col(
        "client_packets",
        Int64,
        false,
        "packets sent by the client",
        |f| f.client_packets.into(),
    ),
    col(
        "client_bytes",
        Int64,
        false,
        "frame bytes (original length) sent by the client",
        |f| f.client_bytes.into(),
    ),
    col(
        "client_payload_bytes",
        Int64,
        false,
        "transport payload bytes sent by the client",
        |f| f.client_payload_bytes.into(),
    ),
    col(
        "server_packets",
        Int64,
        false,
        "packets sent by the server",
        |f| f.server_packets.into(),
    ),
    col(
        "server_bytes",
        Int64,
        false,
        "frame bytes sent by the server",
        |f| f.server_bytes.into(),
    ),
    col(
        "server_payload_bytes",
        Int64,
        false,
        "transport payload bytes sent by the server",
        |f| f.server_payload_bytes.into(),
    ),
    col(
        "tcp_state",
        Utf8,
        true,
        "Zeek-style state (`S0`, `SF`, `REJ`, ...); null if not TCP",
        |f| f.tcp_state.as_deref().into(),
    ),
    col(
        "syn_to_synack_ns",
        Int64,
        true,
        "SYN -> SYN/ACK time",
        |f| f.syn_to_synack_ns.into(),
    ),
    col(
        "synack_to_ack_ns",
        Int64,
        true,
        "SYN/ACK -> ACK time",
        |f| f.synack_to_ack_ns.into(),
    ),
    col(
        "handshake_ns",
        Int64,
        true,
        "SYN -> final ACK (sum of the two above)",
        |f| f.handshake_ns().into(),
    ),
];

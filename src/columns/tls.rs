//! Columns of TLS connections: `tracetail tls --json/--csv`, the `tls` table. The table keeps
//! the `--json` names (issue: one set of field names), so its points in time are `int64`
//! nanoseconds since the epoch (`*_hello_ns`, `*first_data_ns`), not timestamp columns.

use super::writers::unrolled;
use super::ColumnType::{Boolean, Int64, Utf8, Utf8List};
use super::{
    capture, client_ip, client_port, col, connection_id, server_ip, server_port, text_only, Column,
    RowColumns,
};
use crate::analyzers::TlsConnection;

pub static TLS: RowColumns<TlsConnection> =
    RowColumns::new(TLS_COLUMNS).with_unrolled(unrolled!(TlsConnection, TLS_COLUMNS));

const TLS_COLUMNS: &[Column<TlsConnection>] = &[
    capture(),
    connection_id(|t| t.connection_id.into()),
    client_ip(),
    client_port(),
    server_ip(),
    server_port(),
    col("sni", Utf8, true, "server name from the ClientHello", |t| {
        t.sni.as_ref().into()
    }),
    col(
        "alpn_offered",
        Utf8List,
        false,
        "ALPN protocols the client offered, in its order",
        |t| (&t.alpn_offered).into(),
    ),
    col(
        "alpn",
        Utf8,
        true,
        "ALPN protocol chosen (TLS 1.3: known only with keys)",
        |t| t.alpn.as_ref().into(),
    ),
    col(
        "version",
        Utf8,
        true,
        "negotiated version: `TLS 1.2`, `TLS 1.3`, ...",
        |t| t.version.as_ref().into(),
    ),
    col(
        "cipher_suite",
        Utf8,
        true,
        "IANA name, e.g. `TLS_AES_128_GCM_SHA256`",
        |t| t.cipher_suite.as_ref().into(),
    ),
    col(
        "resumed",
        Boolean,
        false,
        "an abbreviated (resumed) handshake; see `resumption`",
        |t| t.resumed.into(),
    ),
    col(
        "client_hello_ns",
        Int64,
        true,
        "capture time (ns since the epoch) of the record holding the ClientHello",
        |t| t.client_hello_ns.into(),
    ),
    col(
        "server_hello_ns",
        Int64,
        true,
        "capture time (ns since the epoch) of the record holding the ServerHello",
        |t| t.server_hello_ns.into(),
    ),
    col(
        "hello_ns",
        Int64,
        true,
        "`server_hello_ns - client_hello_ns`: one round trip plus server work",
        |t| t.hello_ns.into(),
    ),
    col(
        "handshake_ns",
        Int64,
        true,
        "ClientHello to the client's Finished (rule in `handshake_end`)",
        |t| t.handshake_ns.into(),
    ),
    col(
        "first_data_ns",
        Int64,
        true,
        "capture time (ns since the epoch) of the client's first application data record",
        |t| t.first_data_ns.into(),
    ),
    col(
        "alerts",
        Utf8List,
        false,
        "alerts as `client: fatal handshake_failure`",
        |t| (&t.alerts).into(),
    ),
    col(
        "decrypted",
        Boolean,
        false,
        "application data decrypted with `--keylog` keys",
        |t| t.decrypted.into(),
    ),
    col(
        "undecrypted_reason",
        Utf8,
        true,
        "why not decrypted: `no key`, `handshake not captured`, ...",
        |t| t.undecrypted_reason.as_ref().into(),
    ),
    col(
        "flags",
        Utf8List,
        false,
        "`hello_retry`, `sslv2_hello`, `gap`, `malformed`, `handshake_incomplete`, ...",
        |t| (&t.flags).into(),
    ),
    col(
        "legacy_version",
        Utf8,
        true,
        "legacy version field of the ServerHello",
        |t| t.legacy_version.as_ref().into(),
    ),
    col(
        "resumption",
        Utf8,
        true,
        "how the session was resumed: `session_id`, `ticket` or `psk`",
        |t| t.resumption.into(),
    ),
    col(
        "handshake_end",
        Utf8,
        true,
        "rule dating `handshake_ns`: `client_finished` or `first_client_encrypted_record`",
        |t| t.handshake_end.into(),
    ),
    col(
        "server_first_data_ns",
        Int64,
        true,
        "capture time (ns since the epoch) of the server's first application data record",
        |t| t.server_first_data_ns.into(),
    ),
    text_only(col("gap", Boolean, false, "`flags` holds `gap`", |t| {
        t.has_gap().into()
    })),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::samples;
    use crate::columns::writers::JsonRows;

    /// `tls --json` as serde writes the row (how the command wrote it before the columns).
    #[derive(serde::Serialize)]
    struct SerdeRow<'a> {
        capture: &'a str,
        #[serde(flatten)]
        connection: &'a TlsConnection,
        gap: bool,
    }

    #[test]
    fn json_rows_are_serde_json_bytes_of_the_connection() {
        let json = JsonRows::new(&TLS);
        for row in samples::tls() {
            let mut ours = Vec::new();
            json.push_line(&mut ours, "t.pcap", &row);
            let serde = SerdeRow {
                capture: "t.pcap",
                connection: &row,
                gap: row.has_gap(),
            };
            let mut want = serde_json::to_vec(&serde).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}

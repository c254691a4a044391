//! TLS: one row per connection with its handshake (SNI, ALPN, version, cipher suite,
//! resumption, alerts) and timing, detected by content on any port.
//!
//! Timing rules (each `*_ns` is the capture time of the packet carrying the first byte of the
//! TLS record named):
//! - `client_hello_ns` / `server_hello_ns`: the record holding the first ClientHello /
//!   ServerHello (a HelloRetryRequest counts: it is the server's answer; flag `hello_retry`);
//!   `hello_ns` = server_hello − client_hello: one round trip plus the server's work. After
//!   a HelloRetryRequest both times are the first ones, so `handshake_ns` includes the extra
//!   round trip the retry cost.
//! - `handshake_ns` = client's Finished − client_hello, where `handshake_end` says how the
//!   Finished was found: `client_finished` (TLS ≤ 1.2: the client's first record after its
//!   ChangeCipherSpec, which is the Finished) or `first_client_encrypted_record` (TLS 1.3
//!   without keys: the client's first encrypted record after the ServerHello).
//! - `first_data_ns`: the client's first application data record; `server_first_data_ns`: the
//!   server's (TLS 1.3 without keys: the server's first record after the client's Finished,
//!   which may be a NewSessionTicket).
//!
//! Memory per connection: one record being reassembled per direction (at most 5 + 18432
//! bytes) and one ClientHello/ServerHello being reassembled (at most 64 KiB); other handshake
//! messages are skipped, not buffered.

mod conn;
pub mod crypto;
pub mod keylog;
pub mod names;
pub mod wire;

use super::seam::{Claim, ConnInfo, Probe, Registration};
pub use conn::TlsConn;
pub use keylog::{KeyLog, KeyLogError, KeyLogs};
use std::net::IpAddr;
use std::sync::Arc;
use wire::RecordHeader;

/// What the TLS layer of a pass does, beyond detecting TLS connections.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Emit one [`TlsConnection`] row per TLS connection (the `tls` command, export, report).
    pub rows: bool,
    /// Secrets from `--keylog` files: connections they unlock are decrypted and their
    /// plaintext analysed (HTTP/1.x). pcapng Decryption Secrets Blocks add to them.
    pub keys: Arc<KeyLog>,
}

/// One TLS connection: its handshake and timing (see the module docs for the rules).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TlsConnection {
    /// Index of the TCP connection in the capture, as in `sessions` and `http`.
    pub connection_id: u64,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// Server name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn_offered: Vec<String>,
    /// ALPN protocol chosen (TLS 1.3: in the encrypted extensions, so only with keys).
    pub alpn: Option<String>,
    /// Negotiated version (`supported_versions` if present, else the ServerHello's).
    pub version: Option<String>,
    /// IANA name, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: Option<String>,
    /// An abbreviated (resumed) handshake: see `resumption` for how.
    pub resumed: bool,
    pub client_hello_ns: Option<i64>,
    pub server_hello_ns: Option<i64>,
    pub hello_ns: Option<i64>,
    pub handshake_ns: Option<i64>,
    pub first_data_ns: Option<i64>,
    /// Alerts as `client: fatal handshake_failure`; an encrypted alert as `server: encrypted`.
    pub alerts: Vec<String>,
    pub decrypted: bool,
    /// Why the application data was not decrypted (`no key`, `handshake not captured`...).
    pub undecrypted_reason: Option<String>,
    /// `hello_retry`, `sslv2_hello`, `gap`, `malformed`, `no_client_hello`,
    /// `no_server_hello`, `handshake_incomplete`.
    pub flags: Vec<&'static str>,
    /// The legacy version field of the ServerHello (TLS 1.3 says `TLS 1.2` there).
    pub legacy_version: Option<String>,
    /// How the session was resumed: `session_id`, `ticket` or `psk`.
    pub resumption: Option<&'static str>,
    /// Which rule dated `handshake_ns`: `client_finished` or `first_client_encrypted_record`.
    pub handshake_end: Option<&'static str>,
    pub server_first_data_ns: Option<i64>,
    /// Capture time of the first TLS record of the connection (either direction).
    #[serde(skip)]
    pub first_record_ns: i64,
}

impl TlsConnection {
    /// A row with nothing known yet but the endpoints (`senders[0]` taken as the client).
    pub fn new(info: &ConnInfo) -> Self {
        let [(client_ip, client_port), (server_ip, server_port)] = info.senders;
        TlsConnection {
            connection_id: info.connection_id,
            client_ip,
            client_port,
            server_ip,
            server_port,
            sni: None,
            alpn_offered: Vec::new(),
            alpn: None,
            version: None,
            cipher_suite: None,
            resumed: false,
            client_hello_ns: None,
            server_hello_ns: None,
            hello_ns: None,
            handshake_ns: None,
            first_data_ns: None,
            alerts: Vec::new(),
            decrypted: false,
            undecrypted_reason: None,
            flags: Vec::new(),
            legacy_version: None,
            resumption: None,
            handshake_end: None,
            server_first_data_ns: None,
            first_record_ns: 0,
        }
    }

    pub fn has_gap(&self) -> bool {
        self.flags.contains(&"gap")
    }
}

pub const REGISTRATION: Registration = Registration {
    name: "tls",
    probe,
    new: |info: &ConnInfo| Box::new(TlsConn::new(info)),
    observer: false,
};

/// TLS on any port: a plausible record header (a ClientHello, or any record type when the
/// capture starts mid-connection) or an SSLv2-format ClientHello.
fn probe(probe: &Probe<'_>) -> Claim {
    let bytes = probe.first_bytes;
    match RecordHeader::parse(bytes) {
        Some(Ok(h)) if h.content_type == wire::HANDSHAKE => match bytes.get(5) {
            Some(&t) if t == wire::CLIENT_HELLO || t == wire::SERVER_HELLO => Claim::Yes,
            None => Claim::Yes,
            Some(_) => Claim::Maybe,
        },
        Some(Ok(h)) if h.content_type != wire::HEARTBEAT => Claim::Maybe,
        _ if wire::sslv2_client_hello(bytes).is_some() => Claim::Yes,
        _ => Claim::No,
    }
}

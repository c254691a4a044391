//! TLS: one row per connection with its handshake (SNI, ALPN, version, cipher suite,
//! resumption, alerts) and timing, detected by content on any port.
//!
//! Timing rules (each `*_ns` is the capture time of the packet carrying the first byte of the
//! TLS record named):
//! - `client_hello_ns` / `server_hello_ns`: the record holding the first ClientHello /
//!   ServerHello (a HelloRetryRequest counts: it is the server's answer; flag `hello_retry`);
//!   `hello_ns` = server_hello − client_hello: one round trip plus the server's work.
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

pub mod names;
pub mod wire;

use super::seam::{Chunk, Claim, ConnInfo, Dir, Probe, Registration, Shared, TcpAnalyzer, Verdict};
use super::{Ctx, Event};
use std::net::IpAddr;
use wire::{ClientHello, Reader, RecordHeader, ServerHello, RECORD_HEADER_LEN};

/// Longest ClientHello / ServerHello reassembled (post-quantum key shares make hellos of a
/// few KiB; anything past this is reported `malformed`).
const MAX_HELLO_BYTES: usize = 64 << 10;

/// What the TLS layer of a pass does, beyond detecting TLS connections.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Emit one [`TlsConnection`] row per TLS connection (the `tls` command, export, report).
    pub rows: bool,
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

/// Column names of `tls --json` / `--csv`, in order (`capture` first, like `http`): a
/// contract with users' scripts, extend only. A test checks the JSON keys follow it.
pub const TLS_COLUMNS: [&str; 26] = [
    "capture",
    "connection_id",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "sni",
    "alpn_offered",
    "alpn",
    "version",
    "cipher_suite",
    "resumed",
    "client_hello_ns",
    "server_hello_ns",
    "hello_ns",
    "handshake_ns",
    "first_data_ns",
    "alerts",
    "decrypted",
    "undecrypted_reason",
    "flags",
    "legacy_version",
    "resumption",
    "handshake_end",
    "server_first_data_ns",
    // Kept last so the list above reads like the field list.
    "gap",
];

impl TlsConnection {
    /// The CSV cells in [`TLS_COLUMNS`] order; lists are joined with `,`, absent values empty.
    pub fn csv_values(&self, capture: &str) -> Vec<String> {
        let o = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            capture.into(),
            self.connection_id.to_string(),
            self.client_ip.to_string(),
            self.client_port.to_string(),
            self.server_ip.to_string(),
            self.server_port.to_string(),
            s(&self.sni),
            self.alpn_offered.join(","),
            s(&self.alpn),
            s(&self.version),
            s(&self.cipher_suite),
            self.resumed.to_string(),
            o(self.client_hello_ns),
            o(self.server_hello_ns),
            o(self.hello_ns),
            o(self.handshake_ns),
            o(self.first_data_ns),
            self.alerts.join(","),
            self.decrypted.to_string(),
            s(&self.undecrypted_reason),
            self.flags.join(","),
            s(&self.legacy_version),
            self.resumption.unwrap_or_default().into(),
            self.handshake_end.unwrap_or_default().into(),
            o(self.server_first_data_ns),
            self.has_gap().to_string(),
        ]
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

/// Handshake messages of one direction, reassembled across records. Only hellos are
/// buffered; other messages are counted through.
#[derive(Debug, Default)]
struct HandshakeStream {
    /// Header and (for hellos) body of the message in progress.
    buf: Vec<u8>,
    /// Body bytes of a skipped message still to come.
    skip: usize,
    /// Capture time of the record carrying the message's first byte.
    msg_first_ns: i64,
}

/// A complete handshake message, or its type only when it was skipped.
enum HandshakeMessage<'a> {
    Hello { kind: u8, body: &'a [u8] },
    Other,
    TooLong,
}

impl HandshakeStream {
    /// Feeds plaintext handshake bytes from one record; calls `f` for each message.
    fn feed(
        &mut self,
        mut bytes: &[u8],
        record_first_ns: i64,
        mut f: impl FnMut(HandshakeMessage<'_>, i64),
    ) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            if self.buf.is_empty() {
                self.msg_first_ns = record_first_ns;
            }
            if self.buf.len() < 4 {
                let n = (4 - self.buf.len()).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.buf.len() < 4 {
                    return;
                }
            }
            let kind = self.buf[0];
            let len = Reader::new(&self.buf[1..4]).u24().unwrap_or(0);
            if kind != wire::CLIENT_HELLO && kind != wire::SERVER_HELLO {
                f(HandshakeMessage::Other, self.msg_first_ns);
                self.buf.clear();
                self.skip = len;
                continue;
            }
            if len > MAX_HELLO_BYTES {
                f(HandshakeMessage::TooLong, self.msg_first_ns);
                self.buf.clear();
                self.skip = len;
                continue;
            }
            let n = (4 + len - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == 4 + len {
                f(
                    HandshakeMessage::Hello {
                        kind,
                        body: &self.buf[4..],
                    },
                    self.msg_first_ns,
                );
                self.buf.clear();
            }
        }
    }
}

/// One direction of a TLS connection.
#[derive(Debug, Default)]
struct Direction {
    /// A record not yet complete (header included) and when its first byte arrived.
    pending: Vec<u8>,
    pending_first_ns: i64,
    handshake: HandshakeStream,
    /// After this direction's ChangeCipherSpec (TLS ≤ 1.2) or the ServerHello (TLS 1.3).
    encrypted: bool,
    /// A gap or bytes that are not TLS: nothing more is parsed in this direction.
    stopped: bool,
    /// Whether any byte was seen (an SSLv2 hello can only come first).
    started: bool,
    first_data_ns: Option<i64>,
}

/// The TLS analyzer of one connection.
#[derive(Debug)]
pub struct TlsConn {
    /// Direction that sent the ClientHello.
    client: Option<Dir>,
    dirs: [Direction; 2],
    row: TlsConnection,
    /// Negotiated TLS 1.3.
    tls13: bool,
    client_hello: Option<HelloSummary>,
    /// Direction whose ChangeCipherSpec came first (the server's, on a resumed 1.2 session).
    first_ccs: Option<Dir>,
    client_finished_seen: bool,
    /// Start time held in the watermark until the row is emitted.
    marked: Option<i64>,
    seen_any: bool,
}

/// What a later step needs from the ClientHello.
#[derive(Debug, Clone)]
struct HelloSummary {
    session_id: Vec<u8>,
    offered_ticket: bool,
}

impl TlsConn {
    pub fn new(info: &ConnInfo) -> Self {
        let [(client_ip, client_port), (server_ip, server_port)] = info.senders;
        TlsConn {
            client: None,
            dirs: Default::default(),
            row: TlsConnection {
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
            },
            tls13: false,
            client_hello: None,
            first_ccs: None,
            client_finished_seen: false,
            marked: None,
            seen_any: false,
        }
    }

    fn flag(&mut self, flag: &'static str) {
        if !self.row.flags.contains(&flag) {
            self.row.flags.push(flag);
        }
    }

    /// The client's direction: the ClientHello's sender, else the first packet's sender.
    fn client_dir(&self) -> Dir {
        self.client.unwrap_or(0)
    }

    fn side(&self, dir: Dir) -> &'static str {
        if dir == self.client_dir() {
            "client"
        } else {
            "server"
        }
    }

    fn stop(&mut self, dir: Dir, flag: &'static str) {
        self.dirs[dir].stopped = true;
        self.dirs[dir].pending = Vec::new();
        self.dirs[dir].handshake = HandshakeStream::default();
        self.flag(flag);
    }

    /// Splits a chunk into records, buffering a record cut by a packet boundary.
    fn on_bytes(&mut self, dir: Dir, chunk: &Chunk<'_>, ctx: &mut Ctx<'_>) {
        let mut bytes = chunk.bytes;
        if !self.dirs[dir].started {
            self.dirs[dir].started = true;
            if let Some((version, len)) = wire::sslv2_client_hello(bytes) {
                self.on_sslv2_hello(dir, version, chunk.first_ns, ctx);
                bytes = bytes.get(len..).unwrap_or_default();
            }
        }
        while !bytes.is_empty() && !self.dirs[dir].stopped {
            let d = &mut self.dirs[dir];
            if d.pending.is_empty() {
                match RecordHeader::parse(bytes) {
                    Some(Err(())) => return self.stop(dir, "malformed"),
                    Some(Ok(h)) if bytes.len() >= RECORD_HEADER_LEN + h.length => {
                        let end = RECORD_HEADER_LEN + h.length;
                        self.on_record(dir, h, &bytes[RECORD_HEADER_LEN..end], chunk.first_ns, ctx);
                        bytes = &bytes[end..];
                    }
                    _ => {
                        d.pending.extend_from_slice(bytes);
                        d.pending_first_ns = chunk.first_ns;
                        return;
                    }
                }
            } else {
                if d.pending.len() < RECORD_HEADER_LEN {
                    let n = (RECORD_HEADER_LEN - d.pending.len()).min(bytes.len());
                    d.pending.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                }
                let h = match RecordHeader::parse(&d.pending) {
                    None => return,
                    Some(Err(())) => return self.stop(dir, "malformed"),
                    Some(Ok(h)) => h,
                };
                let n = (RECORD_HEADER_LEN + h.length - d.pending.len()).min(bytes.len());
                d.pending.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if d.pending.len() == RECORD_HEADER_LEN + h.length {
                    let record = std::mem::take(&mut d.pending);
                    let first_ns = d.pending_first_ns;
                    self.on_record(dir, h, &record[RECORD_HEADER_LEN..], first_ns, ctx);
                    // Keep the allocation for the next record.
                    let d = &mut self.dirs[dir];
                    if d.pending.is_empty() && !d.stopped {
                        d.pending = record;
                        d.pending.clear();
                    }
                }
            }
        }
    }

    fn note_first_record(&mut self, first_ns: i64, ctx: &mut Ctx<'_>) {
        if self.seen_any {
            return;
        }
        self.seen_any = true;
        self.row.first_record_ns = first_ns;
        if ctx.config.tls.rows {
            ctx.marks.add(first_ns);
            self.marked = Some(first_ns);
        }
    }

    fn on_sslv2_hello(&mut self, dir: Dir, version: u16, first_ns: i64, ctx: &mut Ctx<'_>) {
        self.note_first_record(first_ns, ctx);
        self.flag("sslv2_hello");
        if self.client.is_none() {
            self.client = Some(dir);
            self.row.client_hello_ns = Some(first_ns);
            // The version the client offers; the ServerHello will say what was chosen.
            self.row.legacy_version = Some(names::version_name(version));
        }
    }

    fn on_record(
        &mut self,
        dir: Dir,
        h: RecordHeader,
        body: &[u8],
        first_ns: i64,
        ctx: &mut Ctx<'_>,
    ) {
        self.note_first_record(first_ns, ctx);
        let encrypted = self.dirs[dir].encrypted;
        match h.content_type {
            wire::CHANGE_CIPHER_SPEC => {
                self.first_ccs.get_or_insert(dir);
                // TLS 1.3 sends a dummy ChangeCipherSpec for middleboxes: it changes nothing.
                if !self.tls13 {
                    self.dirs[dir].encrypted = true;
                }
            }
            wire::ALERT => {
                let side = self.side(dir);
                let alert = match body {
                    [level, description] if !encrypted => format!(
                        "{side}: {} {}",
                        names::alert_level_name(*level),
                        names::alert_name(*description)
                    ),
                    _ => format!("{side}: encrypted"),
                };
                self.row.alerts.push(alert);
            }
            wire::HANDSHAKE if !encrypted => {
                let mut stream = std::mem::take(&mut self.dirs[dir].handshake);
                stream.feed(body, first_ns, |message, msg_ns| match message {
                    HandshakeMessage::Hello { kind, body } => {
                        self.on_hello(dir, kind, body, msg_ns)
                    }
                    HandshakeMessage::Other => {}
                    HandshakeMessage::TooLong => self.flag("malformed"),
                });
                self.dirs[dir].handshake = stream;
            }
            wire::HANDSHAKE | wire::APPLICATION_DATA => {
                self.on_protected_record(dir, h.content_type, first_ns)
            }
            _ => {}
        }
    }

    /// A record the capture cannot read without keys: TLS ≤ 1.2 encrypted handshake records
    /// (the Finished) and application data; TLS 1.3 everything after the ServerHello.
    fn on_protected_record(&mut self, dir: Dir, content_type: u8, first_ns: i64) {
        let is_client = dir == self.client_dir();
        if is_client && !self.client_finished_seen {
            let finished = if self.tls13 {
                // Before the ServerHello, a 1.3 client's application records are early data.
                (self.row.server_hello_ns.is_some()).then_some("first_client_encrypted_record")
            } else {
                (content_type == wire::HANDSHAKE).then_some("client_finished")
            };
            if let Some(rule) = finished {
                self.client_finished_seen = true;
                self.row.handshake_end = Some(rule);
                self.row.handshake_ns =
                    self.row.client_hello_ns.map(|t| first_ns.saturating_sub(t));
                return;
            }
        }
        if content_type != wire::APPLICATION_DATA {
            return;
        }
        let d = &mut self.dirs[dir];
        if d.first_data_ns.is_some() {
            return;
        }
        if is_client {
            if self.client_finished_seen || self.client_hello.is_none() {
                d.first_data_ns = Some(first_ns);
            }
        } else if !self.tls13 || self.client_finished_seen {
            d.first_data_ns = Some(first_ns);
        }
    }

    fn on_hello(&mut self, dir: Dir, kind: u8, body: &[u8], msg_ns: i64) {
        if kind == wire::CLIENT_HELLO {
            let Some(hello) = ClientHello::parse(body) else {
                return self.flag("malformed");
            };
            if self.client.is_some_and(|c| c != dir) {
                return self.flag("malformed");
            }
            self.client = Some(dir);
            if self.client_hello.is_some() {
                // The second ClientHello after a HelloRetryRequest: timing keeps the first.
                return;
            }
            self.row.client_hello_ns = Some(msg_ns);
            let ext = &hello.extensions;
            self.row.sni = ext
                .server_name
                .map(|n| String::from_utf8_lossy(n).into_owned());
            self.row.alpn_offered = ext
                .alpn
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            self.client_hello = Some(HelloSummary {
                session_id: hello.session_id.to_vec(),
                offered_ticket: ext.session_ticket.is_some_and(|t| !t.is_empty()),
            });
        } else {
            let Some(hello) = ServerHello::parse(body) else {
                return self.flag("malformed");
            };
            if self.client.is_none() {
                self.client = Some(1 - dir);
            }
            if self.row.server_hello_ns.is_none() {
                self.row.server_hello_ns = Some(msg_ns);
            }
            if hello.is_hello_retry_request() {
                return self.flag("hello_retry");
            }
            let version = hello.version();
            self.tls13 = version == 0x0304;
            self.row.version = Some(names::version_name(version));
            self.row.legacy_version = Some(names::version_name(hello.legacy_version));
            self.row.cipher_suite = Some(names::cipher_suite_name(hello.cipher_suite));
            if let Some(alpn) = hello.extensions.alpn.first() {
                self.row.alpn = Some(String::from_utf8_lossy(alpn).into_owned());
            }
            if self.tls13 {
                if hello.extensions.pre_shared_key {
                    self.row.resumed = true;
                    self.row.resumption = Some("psk");
                }
                // Everything after the ServerHello is protected, both ways.
                for d in &mut self.dirs {
                    d.encrypted = true;
                }
            } else if let Some(ch) = &self.client_hello {
                if !ch.session_id.is_empty() && ch.session_id == hello.session_id {
                    self.row.resumed = true;
                    self.row.resumption = Some("session_id");
                }
            }
        }
    }

    /// Fills the derived fields and emits the row.
    fn finish_row(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(t) = self.marked.take() {
            ctx.marks.remove(t);
        }
        if !self.seen_any {
            return;
        }
        let client = self.client_dir();
        if client == 1 {
            let row = &mut self.row;
            std::mem::swap(&mut row.client_ip, &mut row.server_ip);
            std::mem::swap(&mut row.client_port, &mut row.server_port);
        }
        // TLS ≤ 1.2 abbreviated handshake: the server's ChangeCipherSpec comes first.
        if !self.tls13 && self.first_ccs == Some(1 - client) && !self.row.resumed {
            self.row.resumed = true;
            let ticket = self.client_hello.as_ref().is_some_and(|c| c.offered_ticket);
            self.row.resumption = Some(if ticket { "ticket" } else { "session_id" });
        }
        let row = &mut self.row;
        row.hello_ns = match (row.client_hello_ns, row.server_hello_ns) {
            (Some(c), Some(s)) => Some(s.saturating_sub(c)),
            _ => None,
        };
        row.first_data_ns = self.dirs[client].first_data_ns;
        row.server_first_data_ns = self.dirs[1 - client].first_data_ns;
        if self.client_hello.is_none() && !row.flags.contains(&"sslv2_hello") {
            row.flags.push("no_client_hello");
        }
        if row.server_hello_ns.is_none() {
            row.flags.push("no_server_hello");
        } else if !self.client_finished_seen {
            row.flags.push("handshake_incomplete");
        }
        row.undecrypted_reason = Some(if self.client_hello.is_none() {
            "handshake not captured".into()
        } else {
            "no key".into()
        });
        ctx.stats.tls_connections += 1;
        if ctx.config.tls.rows {
            ctx.out.push(Event::Tls(self.row.clone()));
        }
        self.seen_any = false;
    }
}

impl TcpAnalyzer for TlsConn {
    fn protocol(&self) -> &'static str {
        "tls"
    }

    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        _shared: &mut Shared,
    ) -> Verdict {
        if !self.dirs[dir].stopped {
            self.on_bytes(dir, chunk, ctx);
        }
        // Not TLS after all (garbage before any record): let the connection go.
        if !self.seen_any && self.dirs[dir].stopped {
            return Verdict::Reject;
        }
        Verdict::Continue
    }

    fn on_gap(&mut self, dir: Dir, _len: u64, _ctx: &mut Ctx<'_>) {
        // Records cannot be found again after lost bytes.
        if !self.dirs[dir].stopped {
            self.stop(dir, "gap");
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        self.finish_row(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_follow_the_columns() {
        let info = ConnInfo {
            connection_id: 3,
            senders: [
                ("10.0.0.1".parse().unwrap(), 5000),
                ("10.0.0.2".parse().unwrap(), 443),
            ],
        };
        let row = TlsConn::new(&info).row;
        let json = serde_json::to_value(&row).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        // `capture` is added by the writer, `gap` derived from the flags.
        assert_eq!(keys, TLS_COLUMNS[1..TLS_COLUMNS.len() - 1]);
        assert_eq!(row.csv_values("f").len(), TLS_COLUMNS.len());
    }
}

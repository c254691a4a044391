//! The TLS analyzer of one connection: records, handshake, timing and (with keys) decryption
//! feeding the inner protocol's analyzer.

use super::crypto::{self, OpenError, RecordKeys, Suite};
use super::keylog::ConnectionSecrets;
use super::wire::{self, ClientHello, Reader, RecordHeader, ServerHello, RECORD_HEADER_LEN};
use super::{names, TlsConnection};
use crate::analyzers::seam::{BoxedAnalyzer, Chunk, ConnInfo, Dir, Shared, TcpAnalyzer, Verdict};
use crate::analyzers::{Ctx, Event};

/// Longest handshake message reassembled (hellos, EncryptedExtensions; post-quantum key
/// shares make hellos of a few KiB). Longer ones are reported `malformed`.
const MAX_BUFFERED_MESSAGE: usize = 64 << 10;

/// Handshake message types whose bodies tracetail reads.
fn is_buffered(kind: u8) -> bool {
    matches!(
        kind,
        wire::CLIENT_HELLO | wire::SERVER_HELLO | wire::ENCRYPTED_EXTENSIONS
    )
}

/// When a TLS record was seen: the packet carrying its first byte, the packet completing it,
/// and when it became deliverable in order.
#[derive(Debug, Clone, Copy)]
struct RecordTimes {
    first_ns: i64,
    last_ns: i64,
    ready_ns: i64,
}

/// Handshake messages of one direction, reassembled across records. Only the messages in
/// [`is_buffered`] are kept; the others are counted through.
#[derive(Debug, Default)]
struct HandshakeStream {
    /// Header and (when buffered) body of the message in progress.
    buf: Vec<u8>,
    /// Body bytes of a skipped message still to come.
    skip: usize,
    /// Capture time of the record carrying the message's first byte.
    msg_first_ns: i64,
}

/// A handshake message: its body when buffered, else only its type.
enum HandshakeMessage<'a> {
    Buffered { kind: u8, body: &'a [u8] },
    Skipped { kind: u8 },
    TooLong,
}

impl HandshakeStream {
    /// Feeds handshake bytes from one record; calls `f` for each message with the capture
    /// time of its first byte's record.
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
            if !is_buffered(kind) || len > MAX_BUFFERED_MESSAGE {
                let message = if is_buffered(kind) {
                    HandshakeMessage::TooLong
                } else {
                    HandshakeMessage::Skipped { kind }
                };
                f(message, self.msg_first_ns);
                self.buf.clear();
                self.skip = len;
                continue;
            }
            let n = (4 + len - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.buf.len() == 4 + len {
                let body = &self.buf[4..];
                f(HandshakeMessage::Buffered { kind, body }, self.msg_first_ns);
                self.buf.clear();
            }
        }
    }
}

/// A key change a direction makes after the record being read (RFC 8446 §5.1: a key
/// change ends its record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyChange {
    /// After the Finished: handshake keys to application keys.
    ApplicationKeys,
    /// After a KeyUpdate: the next generation of application keys.
    Update,
}

/// One direction of a TLS connection.
#[derive(Debug, Default)]
struct Direction {
    /// A record not yet complete (header included) and when its first byte arrived.
    pending: Vec<u8>,
    pending_first_ns: i64,
    /// Plaintext handshake messages (hellos; TLS ≤ 1.2 all before ChangeCipherSpec).
    handshake: HandshakeStream,
    /// Handshake messages inside protected records (with keys).
    protected_handshake: HandshakeStream,
    /// After this direction's ChangeCipherSpec (TLS ≤ 1.2) or the ServerHello (TLS 1.3).
    encrypted: bool,
    /// A gap or bytes that are not TLS: nothing more is parsed in this direction.
    stopped: bool,
    /// Whether any byte was seen (an SSLv2 hello can only come first).
    started: bool,
    first_data_ns: Option<i64>,
    /// Record protection in use (with keys).
    keys: Option<RecordKeys>,
    /// TLS 1.3: the current application traffic secret (next generations derive from it).
    app_secret: Option<crypto::Secret>,
    key_change: Option<KeyChange>,
    records_decrypted: u64,
}

/// What a later step needs from the ClientHello.
#[derive(Debug, Clone)]
struct HelloSummary {
    random: [u8; 32],
    session_id: Vec<u8>,
    offered_ticket: bool,
}

/// The TLS analyzer of one connection.
#[derive(Debug)]
pub struct TlsConn {
    info: ConnInfo,
    /// Direction that sent the ClientHello.
    client: Option<Dir>,
    dirs: [Direction; 2],
    row: TlsConnection,
    /// Negotiated TLS 1.3.
    tls13: bool,
    client_hello: Option<HelloSummary>,
    server_random: Option<[u8; 32]>,
    cipher_suite: Option<u16>,
    /// The negotiated version (`supported_versions`, else the ServerHello's).
    version: Option<u16>,
    /// RFC 7366 encrypt-then-MAC negotiated (CBC suites).
    encrypt_then_mac: bool,
    /// Direction whose ChangeCipherSpec came first (the server's, on a resumed 1.2 session).
    first_ccs: Option<Dir>,
    client_finished_seen: bool,
    /// Start time held in the watermark until the row is emitted.
    marked: Option<i64>,
    seen_any: bool,
    /// Why records are not (or no longer) decrypted; `None` while decryption may work.
    undecrypted: Option<&'static str>,
    /// Secrets of this connection, once looked up.
    secrets: Option<ConnectionSecrets>,
    /// The inner protocol's analyzer (HTTP/1.x), fed decrypted application data.
    inner: Option<BoxedAnalyzer>,
    inner_chosen: bool,
    /// Reused buffer for decrypting records in place.
    scratch: Vec<u8>,
}

impl TlsConn {
    pub fn new(info: &ConnInfo) -> Self {
        TlsConn {
            info: *info,
            client: None,
            dirs: Default::default(),
            row: TlsConnection::new(info),
            tls13: false,
            client_hello: None,
            server_random: None,
            cipher_suite: None,
            version: None,
            encrypt_then_mac: false,
            first_ccs: None,
            client_finished_seen: false,
            marked: None,
            seen_any: false,
            undecrypted: None,
            secrets: None,
            inner: None,
            inner_chosen: false,
            scratch: Vec::new(),
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
        let d = &mut self.dirs[dir];
        d.stopped = true;
        d.pending = Vec::new();
        d.handshake = HandshakeStream::default();
        d.protected_handshake = HandshakeStream::default();
        self.flag(flag);
    }

    /// Splits a chunk into records, buffering a record cut by a packet boundary.
    fn on_bytes(&mut self, dir: Dir, chunk: &Chunk<'_>, ctx: &mut Ctx<'_>, shared: &mut Shared) {
        let mut bytes = chunk.bytes;
        if !self.dirs[dir].started {
            self.dirs[dir].started = true;
            if let Some((version, len)) = wire::sslv2_client_hello(bytes) {
                self.on_sslv2_hello(dir, version, chunk.first_ns, ctx);
                bytes = bytes.get(len..).unwrap_or_default();
            }
        }
        let whole = RecordTimes {
            first_ns: chunk.first_ns,
            last_ns: chunk.last_ns,
            ready_ns: chunk.ready_ns,
        };
        while !bytes.is_empty() && !self.dirs[dir].stopped {
            let d = &mut self.dirs[dir];
            if d.pending.is_empty() {
                match RecordHeader::parse(bytes) {
                    Some(Err(())) => return self.stop(dir, "malformed"),
                    Some(Ok(h)) if bytes.len() >= RECORD_HEADER_LEN + h.length => {
                        let end = RECORD_HEADER_LEN + h.length;
                        let body = &bytes[RECORD_HEADER_LEN..end];
                        self.on_record(dir, h, body, whole, ctx, shared);
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
                    let times = RecordTimes {
                        first_ns: d.pending_first_ns,
                        ..whole
                    };
                    self.on_record(dir, h, &record[RECORD_HEADER_LEN..], times, ctx, shared);
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
        times: RecordTimes,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) {
        self.note_first_record(times.first_ns, ctx);
        let encrypted = self.dirs[dir].encrypted;
        match h.content_type {
            wire::CHANGE_CIPHER_SPEC => {
                self.first_ccs.get_or_insert(dir);
                // TLS 1.3 sends a dummy ChangeCipherSpec for middleboxes: it changes nothing.
                if !self.tls13 {
                    self.dirs[dir].encrypted = true;
                }
            }
            wire::ALERT if !encrypted => self.on_alert(dir, body),
            wire::HANDSHAKE if !encrypted => {
                let mut stream = std::mem::take(&mut self.dirs[dir].handshake);
                stream.feed(body, times.first_ns, |message, msg_ns| match message {
                    HandshakeMessage::Buffered { kind, body } => {
                        self.on_hello(dir, kind, body, msg_ns)
                    }
                    HandshakeMessage::Skipped { .. } => {}
                    HandshakeMessage::TooLong => self.flag("malformed"),
                });
                self.dirs[dir].handshake = stream;
            }
            wire::ALERT | wire::HANDSHAKE | wire::APPLICATION_DATA => {
                let decrypted = self.decrypt(dir, h, body, times, ctx, shared);
                if !decrypted {
                    self.on_opaque_record(dir, h.content_type, times.first_ns);
                }
            }
            _ => {}
        }
    }

    fn on_alert(&mut self, dir: Dir, body: &[u8]) {
        let side = self.side(dir);
        let alert = match body {
            [level, description] => format!(
                "{side}: {} {}",
                names::alert_level_name(*level),
                names::alert_name(*description)
            ),
            _ => format!("{side}: malformed"),
        };
        self.row.alerts.push(alert);
    }

    /// A protected record read without keys: TLS ≤ 1.2 encrypted handshake records (the
    /// Finished), alerts and application data; TLS 1.3 everything after the ServerHello.
    fn on_opaque_record(&mut self, dir: Dir, content_type: u8, first_ns: i64) {
        let is_client = dir == self.client_dir();
        if content_type == wire::ALERT {
            let side = self.side(dir);
            self.row.alerts.push(format!("{side}: encrypted"));
            return;
        }
        if is_client && !self.client_finished_seen {
            let finished = if self.tls13 {
                // Before the ServerHello, a 1.3 client's protected records are early data.
                (self.row.server_hello_ns.is_some()).then_some("first_client_encrypted_record")
            } else {
                (content_type == wire::HANDSHAKE).then_some("client_finished")
            };
            if let Some(rule) = finished {
                self.on_client_finished(rule, first_ns);
                return;
            }
        }
        if content_type != wire::APPLICATION_DATA {
            return;
        }
        let seen_hello = self.client_hello.is_some();
        let (tls13, finished) = (self.tls13, self.client_finished_seen);
        let d = &mut self.dirs[dir];
        if d.first_data_ns.is_some() {
            return;
        }
        let is_data = if is_client {
            finished || !seen_hello
        } else {
            !tls13 || finished
        };
        if is_data {
            d.first_data_ns = Some(first_ns);
        }
    }

    fn on_client_finished(&mut self, rule: &'static str, first_ns: i64) {
        self.client_finished_seen = true;
        self.row.handshake_end = Some(rule);
        self.row.handshake_ns = self.row.client_hello_ns.map(|t| first_ns.saturating_sub(t));
    }

    /// Gives up decrypting (the row says why); returns false so the caller treats the
    /// record as opaque.
    fn give_up(&mut self, reason: &'static str) -> bool {
        self.undecrypted.get_or_insert(reason);
        false
    }

    /// Record protection for `dir`, set up from the key log on first use.
    fn ensure_keys(&mut self, dir: Dir, shared: &Shared) -> bool {
        if self.undecrypted.is_some() {
            return false;
        }
        if self.dirs[dir].keys.is_some() {
            return true;
        }
        let (Some(hello), Some(server_random)) = (&self.client_hello, self.server_random) else {
            return self.give_up("handshake not captured");
        };
        let Some(suite) = self.cipher_suite.and_then(Suite::from_id) else {
            return self.give_up("unsupported suite");
        };
        if self.secrets.is_none() {
            self.secrets = shared.tls_keys.get(&hello.random);
        }
        let Some(secrets) = &self.secrets else {
            return self.give_up("no key");
        };
        let is_client = dir == self.client_dir();
        let keys = if suite.tls13 {
            let (handshake, traffic) = if is_client {
                (&secrets.client_handshake, &secrets.client_traffic_0)
            } else {
                (&secrets.server_handshake, &secrets.server_traffic_0)
            };
            let Some(handshake) = handshake else {
                return self.give_up("no key");
            };
            self.dirs[dir].app_secret = traffic.clone();
            RecordKeys::tls13(suite, &handshake.0)
        } else {
            let Some(master) = &secrets.master else {
                return self.give_up("no key");
            };
            let block = crypto::Tls12KeyBlock::new(suite, &master.0, &hello.random, &server_random);
            let side = usize::from(!is_client);
            if suite.cipher.mac().is_some() {
                // CBC before TLS 1.2 uses another PRF (MD5+SHA-1) and chained IVs.
                if self.version != Some(0x0303) {
                    return self.give_up("unsupported suite");
                }
                RecordKeys::cbc(
                    suite,
                    &block.key[side],
                    &block.mac[side],
                    self.encrypt_then_mac,
                )
            } else {
                RecordKeys::new(suite, &block.key[side], &block.iv[side])
            }
        };
        match keys {
            Some(keys) => {
                self.dirs[dir].keys = Some(keys);
                true
            }
            None => self.give_up("unsupported suite"),
        }
    }

    /// Decrypts a protected record and handles its content; false when it cannot be
    /// decrypted (no key, wrong key...), so the caller falls back to what is visible.
    fn decrypt(
        &mut self,
        dir: Dir,
        h: RecordHeader,
        body: &[u8],
        times: RecordTimes,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) -> bool {
        if shared.tls_keys.is_empty() && self.secrets.is_none() {
            return self.give_up("no key");
        }
        if !self.ensure_keys(dir, shared) {
            return false;
        }
        let length = (h.length as u16).to_be_bytes();
        let version = h.version.to_be_bytes();
        let header = [h.content_type, version[0], version[1], length[0], length[1]];
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(body);
        let keys = self.dirs[dir].keys.as_mut().expect("ensured above");
        let opened = keys.open(header, &mut scratch);
        let handled = match opened {
            Ok((content_type, range)) => {
                self.dirs[dir].records_decrypted += 1;
                self.on_plaintext(dir, content_type, &scratch[range], times, ctx, shared);
                self.apply_key_change(dir);
                true
            }
            // TLS 1.3 0-RTT data goes before the client's handshake records under keys the
            // key log does not hold (early secrets): skipped, the Finished follows.
            Err(OpenError::Authentication)
                if self.tls13
                    && dir == self.client_dir()
                    && self.dirs[dir].records_decrypted == 0 =>
            {
                self.flag("early_data");
                true
            }
            Err(error) => {
                let reason = match error {
                    OpenError::Authentication if self.dirs[dir].records_decrypted == 0 => {
                        "wrong key"
                    }
                    OpenError::Authentication => "authentication failed",
                    OpenError::Malformed => "malformed record",
                };
                self.give_up(reason);
                // The plaintext stream is broken from here: the inner analyzer says so.
                if let Some(inner) = self.inner.as_mut() {
                    inner.on_gap(dir, h.length as u64, ctx);
                }
                false
            }
        };
        self.scratch = scratch;
        handled
    }

    fn on_plaintext(
        &mut self,
        dir: Dir,
        content_type: u8,
        plaintext: &[u8],
        times: RecordTimes,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) {
        match content_type {
            wire::HANDSHAKE => {
                let mut stream = std::mem::take(&mut self.dirs[dir].protected_handshake);
                stream.feed(plaintext, times.first_ns, |message, msg_ns| {
                    self.on_protected_handshake(dir, message, msg_ns)
                });
                self.dirs[dir].protected_handshake = stream;
            }
            wire::ALERT => self.on_alert(dir, plaintext),
            wire::APPLICATION_DATA => {
                self.dirs[dir].first_data_ns.get_or_insert(times.first_ns);
                if !plaintext.is_empty() {
                    self.feed_inner(dir, plaintext, times, ctx, shared);
                }
            }
            _ => {}
        }
    }

    fn on_protected_handshake(&mut self, dir: Dir, message: HandshakeMessage<'_>, msg_ns: i64) {
        match message {
            HandshakeMessage::Buffered {
                kind: wire::ENCRYPTED_EXTENSIONS,
                body,
            } => {
                let alpn = Reader::new(body)
                    .vec16()
                    .and_then(|block| wire::parse_extensions(block, false))
                    .and_then(|ext| {
                        ext.alpn
                            .first()
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                    });
                if alpn.is_some() {
                    self.row.alpn = alpn;
                }
            }
            HandshakeMessage::Skipped {
                kind: wire::FINISHED,
            } => {
                if dir == self.client_dir() && !self.client_finished_seen {
                    self.on_client_finished("client_finished", msg_ns);
                }
                if self.tls13 {
                    self.dirs[dir].key_change = Some(KeyChange::ApplicationKeys);
                }
            }
            HandshakeMessage::Skipped {
                kind: wire::KEY_UPDATE,
            } if self.tls13 => {
                self.flag("key_update");
                self.dirs[dir].key_change = Some(KeyChange::Update);
            }
            HandshakeMessage::TooLong => self.flag("malformed"),
            _ => {}
        }
    }

    /// TLS 1.3: switches `dir` to its next keys after a Finished or KeyUpdate.
    fn apply_key_change(&mut self, dir: Dir) {
        let Some(change) = self.dirs[dir].key_change.take() else {
            return;
        };
        let Some(suite) = self.cipher_suite.and_then(Suite::from_id) else {
            return;
        };
        let d = &mut self.dirs[dir];
        let secret = match (change, &d.app_secret) {
            (_, None) => {
                d.keys = None;
                self.undecrypted.get_or_insert("no key");
                return;
            }
            (KeyChange::ApplicationKeys, Some(s)) => s.clone(),
            (KeyChange::Update, Some(s)) => {
                crypto::Secret(crypto::tls13_next_secret(suite.hash, &s.0))
            }
        };
        d.keys = RecordKeys::tls13(suite, &secret.0);
        d.app_secret = Some(secret);
    }

    /// Hands decrypted application data to the inner analyzer (HTTP/1.x unless ALPN chose
    /// another protocol), dated by its record.
    fn feed_inner(
        &mut self,
        dir: Dir,
        plaintext: &[u8],
        times: RecordTimes,
        ctx: &mut Ctx<'_>,
        shared: &mut Shared,
    ) {
        if !self.inner_chosen {
            self.inner_chosen = true;
            match self.row.alpn.as_deref() {
                Some("h2") => {
                    let info = &self.info;
                    self.inner = Some(Box::new(crate::analyzers::http2::H2Conn::new(
                        info.connection_id,
                        info.senders,
                        Some(self.client_dir()),
                    )))
                }
                None | Some("http/1.1") | Some("http/1.0") => {
                    self.inner = Some((crate::analyzers::http::REGISTRATION.new)(&self.info))
                }
                Some(_) => self.flag("inner_not_analysed"),
            }
        }
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        let chunk = Chunk {
            bytes: plaintext,
            first_ns: times.first_ns,
            last_ns: times.last_ns,
            ready_ns: times.ready_ns,
        };
        let before = ctx.out.len();
        match inner.on_data(dir, &chunk, ctx, shared) {
            Verdict::Continue => {}
            Verdict::Reject => {
                self.inner = None;
                self.flag("inner_not_http");
            }
            Verdict::HandOff(next) => self.inner = Some(next),
        }
        self.mark_inner_events(ctx, before);
    }

    /// Transactions the inner analyzer emitted came through TLS.
    fn mark_inner_events(&self, ctx: &mut Ctx<'_>, from: usize) {
        for event in ctx.out.iter_mut().skip(from) {
            if let Event::Http(t) = event {
                t.tls = true;
                t.sni.clone_from(&self.row.sni);
            }
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
                random: hello.random.try_into().expect("32 bytes"),
                session_id: hello.session_id.to_vec(),
                offered_ticket: ext.session_ticket.is_some_and(|t| !t.is_empty()),
            });
        } else if kind == wire::SERVER_HELLO {
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
                // Only TLS 1.3 retries: the ChangeCipherSpec records around the second
                // ClientHello are middlebox dummies, not a switch to encrypted records.
                self.tls13 = true;
                return self.flag("hello_retry");
            }
            let version = hello.version();
            self.tls13 = version == 0x0304;
            self.server_random = hello.random.try_into().ok();
            self.cipher_suite = Some(hello.cipher_suite);
            self.version = Some(version);
            self.encrypt_then_mac = hello.extensions.encrypt_then_mac;
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
        self.seen_any = false;
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
        let decrypted_records: u64 = self.dirs.iter().map(|d| d.records_decrypted).sum();
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
        row.decrypted = self.undecrypted.is_none() && decrypted_records > 0;
        row.undecrypted_reason = if row.decrypted {
            None
        } else if let Some(reason) = self.undecrypted {
            Some(reason.into())
        } else if self.client_hello.is_none() {
            Some("handshake not captured".into())
        } else {
            Some("no encrypted records".into())
        };
        ctx.stats.tls_connections += 1;
        if row.decrypted {
            ctx.stats.tls_decrypted_connections += 1;
        }
        if ctx.config.tls.rows {
            ctx.out.push(Event::Tls(Box::new(self.row.clone())));
        }
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
        shared: &mut Shared,
    ) -> Verdict {
        if !self.dirs[dir].stopped {
            self.on_bytes(dir, chunk, ctx, shared);
        }
        // Not TLS after all: bytes that are no TLS record before any hello was understood.
        let no_hello = self.client_hello.is_none()
            && self.row.server_hello_ns.is_none()
            && !self.row.flags.contains(&"sslv2_hello");
        if self.dirs[dir].stopped && no_hello && !self.row.flags.contains(&"gap") {
            if let Some(t) = self.marked.take() {
                ctx.marks.remove(t);
            }
            return Verdict::Reject;
        }
        Verdict::Continue
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ctx: &mut Ctx<'_>) {
        // Records cannot be found again after lost bytes.
        if !self.dirs[dir].stopped {
            self.stop(dir, "gap");
            if let Some(inner) = self.inner.as_mut() {
                inner.on_gap(dir, len, ctx);
            }
        }
    }

    fn on_end(&mut self, dir: Dir, clean: bool, ctx: &mut Ctx<'_>) {
        if let Some(inner) = self.inner.as_mut() {
            let before = ctx.out.len();
            inner.on_end(dir, clean, ctx);
            self.mark_inner_events(ctx, before);
        }
    }

    /// Records and handshake messages waiting for their end, the decryption scratch, and
    /// what the inner protocol's analyzer holds.
    fn held_bytes(&self) -> usize {
        let dirs: usize = self
            .dirs
            .iter()
            .map(|d| {
                d.pending.capacity()
                    + d.handshake.buf.capacity()
                    + d.protected_handshake.buf.capacity()
            })
            .sum();
        let inner = self.inner.as_ref().map_or(0, |a| a.held_bytes());
        dirs + self.scratch.capacity() + inner
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(inner) = self.inner.as_mut() {
            let before = ctx.out.len();
            inner.flush(ctx);
            self.mark_inner_events(ctx, before);
        }
        self.finish_row(ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::{AnalyzerConfig, AnalyzerStats, Watermark};

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend((body.len() as u16).to_be_bytes());
        r.extend(body);
        r
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    fn extensions(list: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut block = Vec::new();
        for (kind, data) in list {
            block.extend(kind.to_be_bytes());
            block.extend((data.len() as u16).to_be_bytes());
            block.extend(data);
        }
        let mut out = (block.len() as u16).to_be_bytes().to_vec();
        out.extend(block);
        out
    }

    /// A ClientHello (SNI `a.example`, ALPN h2 + http/1.1) split over two handshake records,
    /// fed one byte per packet, then a TLS 1.2 ServerHello and the client's CCS + Finished.
    #[test]
    fn hello_split_over_records_and_packets() {
        let mut hello = vec![3, 3];
        hello.extend([7; 32]);
        hello.extend([0, 0, 2, 0xc0, 0x2f, 1, 0]);
        let sni = [
            vec![0, 12, 0],
            9u16.to_be_bytes().to_vec(),
            b"a.example".to_vec(),
        ]
        .concat();
        let alpn = [
            vec![0, 12, 2],
            b"h2".to_vec(),
            vec![8],
            b"http/1.1".to_vec(),
        ]
        .concat();
        hello.extend(extensions(&[(0, sni), (16, alpn)]));
        let ch = message(wire::CLIENT_HELLO, &hello);
        let (a, b) = ch.split_at(30);
        let client_bytes = [record(22, a), record(22, b)].concat();

        let mut sh = vec![3, 3];
        sh.extend([9; 32]);
        sh.extend([0, 0xc0, 0x2f, 0]);
        let server_bytes = record(22, &message(wire::SERVER_HELLO, &sh));

        let info = ConnInfo {
            connection_id: 1,
            senders: [
                ("10.0.0.1".parse().unwrap(), 40000),
                ("10.0.0.2".parse().unwrap(), 8443),
            ],
            handshake_client: None,
            endpoint_connections: None,
        };
        let mut config = AnalyzerConfig::default();
        config.tls.rows = true;
        let (mut stats, mut marks, mut out) =
            (AnalyzerStats::default(), Watermark::default(), Vec::new());
        let mut ctx = Ctx {
            config: &config,
            stats: &mut stats,
            marks: &mut marks,
            out: &mut out,
        };
        let mut shared = Shared::default();
        let mut conn = TlsConn::new(&info);
        let mut feed = |conn: &mut TlsConn, dir, bytes: &[u8], t0: i64, ctx: &mut Ctx<'_>| {
            for (i, byte) in bytes.iter().enumerate() {
                let t = t0 + i as i64;
                let chunk = Chunk {
                    bytes: std::slice::from_ref(byte),
                    first_ns: t,
                    last_ns: t,
                    ready_ns: t,
                };
                assert!(matches!(
                    conn.on_data(dir, &chunk, ctx, &mut shared),
                    Verdict::Continue
                ));
            }
        };
        feed(&mut conn, 0, &client_bytes, 1_000, &mut ctx);
        feed(&mut conn, 1, &server_bytes, 5_000, &mut ctx);
        let flight = [record(20, &[1]), record(22, &[0; 40])].concat();
        feed(&mut conn, 0, &flight, 9_000, &mut ctx);
        conn.flush(&mut ctx);
        let [Event::Tls(row)] = &out[..] else {
            panic!("one TLS row expected: {out:?}");
        };
        assert_eq!(row.sni.as_deref(), Some("a.example"));
        assert_eq!(row.alpn_offered, ["h2", "http/1.1"]);
        assert_eq!(row.version.as_deref(), Some("TLS 1.2"));
        assert_eq!(
            row.cipher_suite.as_deref(),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(row.client_hello_ns, Some(1_000));
        assert_eq!(row.server_hello_ns, Some(5_000));
        assert_eq!(row.hello_ns, Some(4_000));
        // The Finished record starts after the 6-byte ChangeCipherSpec record.
        assert_eq!(row.handshake_ns, Some(9_006 - 1_000));
        assert_eq!(row.handshake_end, Some("client_finished"));
        assert_eq!(row.undecrypted_reason.as_deref(), Some("no key"));
        assert!(row.flags.is_empty(), "{:?}", row.flags);
        assert_eq!(marks.min(), None, "the row's watermark entry is released");
    }
}

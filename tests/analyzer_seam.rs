//! The analyzer seam with analyzers written here: probing by content, an observer beside the
//! claiming analyzer, hand-off to another analyzer mid-connection, and rejection.

mod common;

use std::sync::Mutex;
use tracetail::analyzers::seam::{
    Chunk, Claim, ConnInfo, Dir, Probe, Registration, Shared, TcpAnalyzer, Verdict,
};
use tracetail::analyzers::{dns, http, AnalyzerConfig, Ctx, Event, TransactionAnalyzer};
use tracetail::capture::LinkType;
use tracetail::decode::decode;
use tracetail::synth::packet::{PacketBuilder, TcpFields};

/// Sends `messages` (client or server, bytes) on one TCP connection after a handshake, to
/// port `port`, one segment each, 1 ms apart from t = 1 s; then FINs. Returns the events.
fn run(analyzer: &mut TransactionAnalyzer, port: u16, messages: &[(bool, &[u8])]) -> Vec<Event> {
    let client = common::client_endpoints(port);
    let server = client.reversed();
    let mut b = PacketBuilder::new();
    let mut seq = [1000u32, 5000u32];
    let mut t = 1_000_000_000i64;
    let mut events = Vec::new();
    let mut send = |from_client: bool, flags: u8, payload: &[u8], b: &mut PacketBuilder| {
        let (ends, me) = if from_client {
            (&client, 0)
        } else {
            (&server, 1)
        };
        let fields = TcpFields {
            seq: seq[me],
            ack: seq[1 - me],
            flags,
            window: 65535,
        };
        let frame = b
            .tcp(ends, fields, |p| p.extend_from_slice(payload))
            .to_vec();
        let syn_or_fin = flags & 0x03 != 0;
        seq[me] = seq[me].wrapping_add(payload.len() as u32 + u32::from(syn_or_fin));
        analyzer.on_packet(t, 1, &decode(LinkType::ETHERNET, &frame), &mut events);
        t += 1_000_000;
    };
    send(true, 0x02, b"", &mut b);
    send(false, 0x12, b"", &mut b);
    send(true, 0x10, b"", &mut b);
    for (from_client, bytes) in messages {
        send(*from_client, 0x18, bytes, &mut b);
    }
    send(true, 0x11, b"", &mut b);
    send(false, 0x11, b"", &mut b);
    analyzer.finish(&mut events);
    events
}

/// What the recording analyzers saw: (analyzer, direction, bytes, first_ns).
type Seen = Mutex<Vec<(&'static str, Dir, Vec<u8>, i64)>>;

macro_rules! recorder {
    ($name:ident, $label:literal, $seen:ident, $verdict:expr) => {
        #[derive(Debug)]
        struct $name;
        impl TcpAnalyzer for $name {
            fn protocol(&self) -> &'static str {
                $label
            }
            fn on_data(
                &mut self,
                dir: Dir,
                chunk: &Chunk<'_>,
                _ctx: &mut Ctx<'_>,
                _shared: &mut Shared,
            ) -> Verdict {
                assert_eq!(chunk.first_ns, chunk.last_ns, "plain TCP: one arrival");
                assert!(chunk.ready_ns >= chunk.last_ns);
                $seen
                    .lock()
                    .unwrap()
                    .push(($label, dir, chunk.bytes.to_vec(), chunk.first_ns));
                $verdict(chunk.bytes)
            }
        }
    };
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static OBSERVED: Seen = Mutex::new(Vec::new());
recorder!(Observer, "observer", OBSERVED, |_| Verdict::Continue);

static OBSERVING: &[Registration] = &[
    Registration {
        name: "watch",
        probe: |_| Claim::No,
        new: |_| Box::new(Observer),
        observer: true,
    },
    dns::REGISTRATION,
    http::REGISTRATION,
];

#[test]
fn an_observer_sees_every_byte_beside_http_which_is_unchanged() {
    let messages: &[(bool, &[u8])] = &[(true, GET), (false, OK), (true, GET), (false, OK)];
    let plain = run(
        &mut TransactionAnalyzer::new(AnalyzerConfig::default()),
        80,
        messages,
    );
    // Not enabled: the observer does not run.
    run(
        &mut TransactionAnalyzer::with_registry(AnalyzerConfig::default(), OBSERVING),
        80,
        messages,
    );
    assert!(OBSERVED.lock().unwrap().is_empty());
    let config = AnalyzerConfig {
        observers: vec!["watch"],
        ..AnalyzerConfig::default()
    };
    let watched = run(
        &mut TransactionAnalyzer::with_registry(config, OBSERVING),
        80,
        messages,
    );
    assert_eq!(
        plain, watched,
        "HTTP rows do not change with an observer beside"
    );
    assert_eq!(plain.len(), 2);
    let seen = OBSERVED.lock().unwrap();
    let dirs: Vec<Dir> = seen.iter().map(|s| s.1).collect();
    assert_eq!(dirs, [0, 1, 0, 1]);
    let bytes: Vec<&[u8]> = seen.iter().map(|s| s.2.as_slice()).collect();
    assert_eq!(bytes, [GET, OK, GET, OK]);
    // Chunks are dated by their packets: the HTTP row's times are the observer's.
    let Event::Http(first) = &plain[0] else {
        panic!("http")
    };
    assert_eq!(first.request_first_ns, Some(seen[0].3));
    assert_eq!(first.response_first_ns, Some(seen[1].3));
}

static BEFORE: Seen = Mutex::new(Vec::new());
static AFTER: Seen = Mutex::new(Vec::new());
recorder!(Inner, "inner", AFTER, |_| Verdict::Continue);
recorder!(Outer, "outer", BEFORE, |bytes: &[u8]| {
    if bytes.starts_with(b"UPGRADE") {
        Verdict::HandOff(Box::new(Inner))
    } else {
        Verdict::Continue
    }
});

static HANDING: &[Registration] = &[
    Registration {
        name: "outer",
        probe: |p: &Probe<'_>| {
            if p.first_bytes.starts_with(b"HELLO") {
                Claim::Yes
            } else {
                Claim::No
            }
        },
        new: |_: &ConnInfo| Box::new(Outer),
        observer: false,
    },
    dns::REGISTRATION,
    http::REGISTRATION,
];

#[test]
fn content_decides_and_an_analyzer_hands_the_connection_on() {
    let messages: &[(bool, &[u8])] = &[
        (true, b"HELLO"),
        (false, b"HI"),
        (true, b"UPGRADE"),
        (false, b"after-1"),
        (true, b"after-2"),
    ];
    // Port 80 is only a hint: the content claims the connection for "outer", not HTTP.
    let mut analyzer = TransactionAnalyzer::with_registry(AnalyzerConfig::default(), HANDING);
    let events = run(&mut analyzer, 80, messages);
    assert!(
        events.is_empty(),
        "HTTP never saw the connection: {events:?}"
    );
    assert_eq!(analyzer.stats().http_parse_errors, 0);
    let before: Vec<Vec<u8>> = BEFORE.lock().unwrap().iter().map(|s| s.2.clone()).collect();
    let after: Vec<Vec<u8>> = AFTER.lock().unwrap().iter().map(|s| s.2.clone()).collect();
    assert_eq!(before, [&b"HELLO"[..], b"HI", b"UPGRADE"]);
    assert_eq!(after, [&b"after-1"[..], b"after-2"]);
}

#[test]
fn http_rejects_what_is_not_http() {
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig::default());
    let events = run(
        &mut analyzer,
        6379,
        &[(true, b"*1\r\n$4\r\nPING\r\n"), (false, b"+PONG\r\n")],
    );
    assert!(events.is_empty());
    assert_eq!(analyzer.stats().tcp_other_connections, 1);
    assert_eq!(analyzer.open_connections(), 0);
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

/// One TCP connection's packets, sent one at a time (1 ms apart) to an analyzer as flow 1.
struct Connection {
    tcp: common::TcpConversation,
    t: i64,
}

impl Connection {
    fn new(port: u16) -> Self {
        Connection {
            tcp: common::TcpConversation::new(port),
            t: 1_000_000_000,
        }
    }

    /// Sends a segment with `flags` from the client or the server, 1 ms after the last.
    fn send(
        &mut self,
        analyzer: &mut TransactionAnalyzer,
        from_client: bool,
        flags: u8,
        payload: &[u8],
        events: &mut Vec<Event>,
    ) {
        let t = self.t;
        self.tcp
            .send(analyzer, !from_client, flags, payload, t, events);
        self.t += 1_000_000;
    }

    /// Handshake, one request and its response, FIN from each side.
    fn exchange(&mut self, analyzer: &mut TransactionAnalyzer, events: &mut Vec<Event>) {
        self.send(analyzer, true, 0x02, b"", events);
        self.send(analyzer, false, 0x12, b"", events);
        self.send(analyzer, true, 0x10, b"", events);
        self.send(analyzer, true, 0x18, REQUEST, events);
        self.send(analyzer, false, 0x18, RESPONSE, events);
        self.send(analyzer, true, 0x11, b"", events);
        self.send(analyzer, false, 0x11, b"", events);
    }
}

#[test]
fn a_connection_is_analysed_to_its_end_when_both_sides_have_closed() {
    let mut analyzer = TransactionAnalyzer::new(AnalyzerConfig::default());
    let mut events = Vec::new();
    let mut conn = Connection::new(80);
    conn.exchange(&mut analyzer, &mut events);
    // The second FIN ends the connection: its state is gone without waiting for the flow
    // table to let go of the flow, and its transaction is out.
    assert_eq!(analyzer.open_connections(), 0);
    assert_eq!(events.len(), 1, "{events:?}");
    // The last ACK and a retransmitted response after that change nothing.
    conn.send(&mut analyzer, true, 0x10, b"", &mut events);
    conn.tcp.rewind(true, RESPONSE.len() as u32 + 1);
    conn.send(&mut analyzer, false, 0x18, RESPONSE, &mut events);
    assert_eq!(analyzer.open_connections(), 0);
    assert_eq!(analyzer.stats().tcp_connections, 1);
    assert_eq!(analyzer.stats().http_orphan_responses, 0);
    assert_eq!(events.len(), 1);
    // A new SYN on the same flow (its ports reused) starts the connection over.
    conn.tcp.skip(false, 8000);
    conn.tcp.skip(true, 11000);
    conn.exchange(&mut analyzer, &mut events);
    assert_eq!(analyzer.stats().tcp_connections, 2);
    assert_eq!(analyzer.stats().http_transactions, 2);
    assert_eq!(events.len(), 2);
    // The flow's end (the flow table letting go of it) finds nothing left to do.
    analyzer.on_flow_end(1, &mut events);
    analyzer.finish(&mut events);
    assert_eq!(events.len(), 2);
    assert_eq!(analyzer.stats().http_orphan_responses, 0);
}

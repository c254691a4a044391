//! The generic request/response analyzer: latency for any TCP service, whatever its protocol
//! (the worked example of adding an analyzer; see the README's architecture section).
//!
//! It is an observer: it runs beside whichever analyzer claimed the connection (HTTP, DNS, or
//! none), so its rows can be compared with the protocol's own. The model is pt-tcp-model's: a
//! request is a run of client-to-server payload, its response the run of server-to-client
//! payload that follows, until the client sends again. Each exchange has the four capture
//! times of an HTTP transaction with the same meaning (first copies only: retransmissions,
//! reordering and gaps come from the reassembler, so a retransmitted request is not a new
//! start), so `ttfb`, `total`, `server` and `tshark` keep their definitions. The time between
//! a response's last byte and the next request (keep-alive idle) belongs to no exchange.
//!
//! What bursts cannot tell apart is flagged rather than measured wrongly:
//! - `server_first`: the server spoke before the client (SMTP, FTP and MySQL greet first); the
//!   greeting is its own exchange without a request, so later pairs are not shifted by one.
//!   `no_request` is the same when the handshake was not captured (the request may be missing).
//! - `overlapped`: the ACK numbers show the two directions crossing: the server sent response
//!   bytes before it had received the whole request run (pipelined requests, an early
//!   `100 Continue`), or the client sent again before it had received the server bytes sent so
//!   far. Requests that all reach the server before it answers (a pipelined batch) look like
//!   one request at the TCP level and form one exchange (the batch).
//! - `unanswered`, `gap` (bytes never captured inside the exchange).
//!
//! Which side is the server, in this order (`server_rule`): the receiver of the SYN (`syn`);
//! the only side on a port below 1024 (`well_known_port`); the endpoint seen in more
//! connections of the capture so far (`repeated_port`); the lower port (`lower_port`).

use super::pairing::Exchange;
use super::seam::{
    BoxedAnalyzer, Chunk, Claim, ConnInfo, Dir, Probe, Registration, SegmentView, Shared,
    TcpAnalyzer, Verdict,
};
use super::transaction::Transaction;
use super::{Ctx, Event};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, SocketAddr};

/// Observer `tcp`: enabled by adding `"tcp"` to [`super::AnalyzerConfig::observers`].
pub const REGISTRATION: Registration = Registration {
    name: "tcp",
    probe: |_: &Probe<'_>| Claim::No,
    new: |info: &ConnInfo| Box::new(TcpTimer::new(info)) as BoxedAnalyzer,
    observer: true,
};

/// Protocol name of exchanges on connections nothing claimed.
pub const UNKNOWN_PROTOCOL: &str = "unknown";

/// One request/response exchange on a TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpExchange {
    pub connection_id: u64,
    /// Position on the connection, from 1 (a server greeting counts).
    pub exchange: u32,
    /// What the detector decided for the connection when the exchange ended (`unknown`).
    pub protocol: &'static str,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    /// Which rule chose the server side: `syn`, `well_known_port`, `repeated_port`,
    /// `lower_port`.
    pub server_rule: &'static str,
    /// Payload bytes of the request run and of the response run (gaps included).
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_first_ns: Option<i64>,
    pub request_last_ns: Option<i64>,
    pub response_first_ns: Option<i64>,
    pub response_last_ns: Option<i64>,
    pub flags: Vec<&'static str>,
}

impl TcpExchange {
    fn times(&self) -> Exchange {
        Exchange {
            request_first_ns: self.request_first_ns,
            request_last_ns: self.request_last_ns,
            response_first_ns: self.response_first_ns,
            response_last_ns: self.response_last_ns,
        }
    }
    pub fn ttfb_ns(&self) -> Option<i64> {
        self.times().ttfb_ns()
    }
    pub fn total_ns(&self) -> Option<i64> {
        self.times().total_ns()
    }
    pub fn server_ns(&self) -> Option<i64> {
        self.times().server_ns()
    }
    /// Response last − request last (tshark's `http.time` rule applied to the runs).
    pub fn tshark_ns(&self) -> Option<i64> {
        super::pairing::elapsed(self.response_last_ns, self.request_last_ns)
    }
}

impl Transaction for TcpExchange {
    fn protocol(&self) -> &'static str {
        self.protocol
    }
    fn client(&self) -> SocketAddr {
        SocketAddr::new(self.client_ip, self.client_port)
    }
    fn server(&self) -> SocketAddr {
        SocketAddr::new(self.server_ip, self.server_port)
    }
    fn exchange(&self) -> Exchange {
        self.times()
    }
    fn status(&self) -> Option<String> {
        None
    }
    fn flags(&self) -> &[&'static str] {
        &self.flags
    }
}

/// Connections seen per endpoint, for the `repeated_port` rule. Bounded: once full, new
/// endpoints are not counted (the rule then falls back to the lower port for them).
#[derive(Debug, Default)]
pub struct EndpointCounts {
    counts: FxHashMap<(IpAddr, u16), u32>,
}

impl EndpointCounts {
    const MAX_ENDPOINTS: usize = 1 << 16;

    /// Counts one more connection of `endpoint`; how many it has had.
    pub fn count(&mut self, endpoint: (IpAddr, u16)) -> u32 {
        let full = self.counts.len() >= Self::MAX_ENDPOINTS;
        match self.counts.get_mut(&endpoint) {
            Some(c) => {
                *c = c.saturating_add(1);
                *c
            }
            None if !full => {
                self.counts.insert(endpoint, 1);
                1
            }
            None => 1,
        }
    }
}

/// The exchange being built.
#[derive(Debug)]
struct Open {
    row: TcpExchange,
    /// Client stream offset just past the request run.
    request_end: u64,
    /// Start time held in the watermark.
    mark: i64,
}

/// Per-connection state of the generic analyzer.
#[derive(Debug)]
pub struct TcpTimer {
    info: ConnInfo,
    /// Direction of the client (decided on the first payload, see the module doc).
    client: Option<Dir>,
    server_rule: &'static str,
    protocol: &'static str,
    /// Stream bytes delivered so far per direction (gaps included): the offsets ACKs name.
    delivered: [u64; 2],
    /// Offset of the peer's stream acknowledged by the latest segment of each direction.
    acked: [Option<u64>; 2],
    open: Option<Open>,
    exchanges: u32,
    /// A gap in the client stream while no exchange was open: the next one carries it.
    gap_pending: bool,
}

impl TcpTimer {
    pub fn new(info: &ConnInfo) -> Self {
        TcpTimer {
            info: *info,
            client: None,
            server_rule: "",
            protocol: UNKNOWN_PROTOCOL,
            delivered: [0; 2],
            acked: [None; 2],
            open: None,
            exchanges: 0,
            gap_pending: false,
        }
    }

    /// Decides the client's direction (the rules in the module doc).
    fn decide_sides(&mut self) -> Dir {
        if let Some(c) = self.client {
            return c;
        }
        let [a, b] = self.info.senders;
        // Without counts (an analyzer fed by hand) no endpoint looks repeated.
        let seen = self.info.endpoint_connections.unwrap_or([0, 0]);
        let (client, rule) = if let Some(c) = self.info.handshake_client {
            (c, "syn")
        } else if (a.1 < 1024) != (b.1 < 1024) {
            (if a.1 < 1024 { 1 } else { 0 }, "well_known_port")
        } else if seen[0] != seen[1] {
            // The endpoint in more connections listens there.
            (if seen[0] > seen[1] { 1 } else { 0 }, "repeated_port")
        } else {
            // Equal ports: the sender of the first packet is taken as the client.
            (if a.1 < b.1 { 1 } else { 0 }, "lower_port")
        };
        self.client = Some(client);
        self.server_rule = rule;
        client
    }

    fn begin(&mut self, ctx: &mut Ctx<'_>, start_ns: i64) -> &mut Open {
        let client = self.client.unwrap_or(0);
        let (client_ip, client_port) = self.info.senders[client];
        let (server_ip, server_port) = self.info.senders[1 - client];
        self.exchanges = self.exchanges.saturating_add(1);
        ctx.marks.add(start_ns);
        let mut flags = Vec::new();
        if std::mem::take(&mut self.gap_pending) {
            flags.push("gap");
        }
        self.open.insert(Open {
            row: TcpExchange {
                connection_id: self.info.connection_id,
                exchange: self.exchanges,
                protocol: self.protocol,
                client_ip,
                client_port,
                server_ip,
                server_port,
                server_rule: self.server_rule,
                request_bytes: 0,
                response_bytes: 0,
                request_first_ns: None,
                request_last_ns: None,
                response_first_ns: None,
                response_last_ns: None,
                flags,
            },
            request_end: self.delivered[client],
            mark: start_ns,
        })
    }

    /// Emits the open exchange, if any.
    fn finish(&mut self, ctx: &mut Ctx<'_>) {
        let Some(open) = self.open.take() else {
            return;
        };
        ctx.marks.remove(open.mark);
        let mut row = open.row;
        row.protocol = self.protocol;
        if row.request_first_ns.is_some() && row.response_first_ns.is_none() {
            flag(&mut row.flags, "unanswered");
        }
        ctx.out.push(Event::Tcp(Box::new(row)));
    }
}

fn flag(flags: &mut Vec<&'static str>, name: &'static str) {
    if !flags.contains(&name) {
        flags.push(name);
    }
}

/// Widens `[first, last]` with a chunk (reordered chunks may arrive earlier than the run's
/// first byte so far).
fn widen(first: &mut Option<i64>, last: &mut Option<i64>, chunk: &Chunk<'_>) {
    *first = Some(first.map_or(chunk.first_ns, |f| f.min(chunk.first_ns)));
    *last = Some(last.map_or(chunk.last_ns, |l| l.max(chunk.last_ns)));
}

impl TcpAnalyzer for TcpTimer {
    fn protocol(&self) -> &'static str {
        "tcp"
    }

    fn on_claim(&mut self, protocol: Option<&'static str>) {
        self.protocol = protocol.unwrap_or(UNKNOWN_PROTOCOL);
    }

    fn on_segment(&mut self, segment: &SegmentView<'_>, _ctx: &mut Ctx<'_>) {
        if segment.ack {
            if let Some(offset) = segment.acked_offset {
                self.acked[segment.dir] = Some(offset);
            }
        }
    }

    fn on_data(
        &mut self,
        dir: Dir,
        chunk: &Chunk<'_>,
        ctx: &mut Ctx<'_>,
        _shared: &mut Shared,
    ) -> Verdict {
        let client = self.decide_sides();
        let server = 1 - client;
        let len = chunk.bytes.len() as u64;
        if dir == client {
            let answered = self
                .open
                .as_ref()
                .is_some_and(|o| o.row.response_first_ns.is_some());
            if answered {
                // The client sends again: the previous response is over.
                let crossed = self.acked[client].is_some_and(|a| a < self.delivered[server]);
                if crossed {
                    if let Some(o) = self.open.as_mut() {
                        flag(&mut o.row.flags, "overlapped");
                    }
                }
                self.finish(ctx);
                let open = self.begin(ctx, chunk.first_ns);
                if crossed {
                    flag(&mut open.row.flags, "overlapped");
                }
            } else if self.open.is_none() {
                self.begin(ctx, chunk.first_ns);
            }
            let end = self.delivered[client] + len;
            if let Some(open) = self.open.as_mut() {
                let row = &mut open.row;
                widen(&mut row.request_first_ns, &mut row.request_last_ns, chunk);
                row.request_bytes += len;
                open.request_end = end;
                if row.request_first_ns != Some(open.mark) {
                    let start = row.request_first_ns.unwrap_or(open.mark);
                    ctx.marks.replace(open.mark, start);
                    open.mark = start;
                }
            }
        } else {
            if self.open.is_none() {
                // The server speaks before any request (a greeting), or the request was
                // before the capture.
                let handshake = self.info.handshake_client.is_some();
                let open = self.begin(ctx, chunk.first_ns);
                let why = if handshake {
                    "server_first"
                } else {
                    "no_request"
                };
                flag(&mut open.row.flags, why);
            }
            let acked = self.acked[server];
            if let Some(open) = self.open.as_mut() {
                // Response bytes sent before the server had the whole request run.
                if open.row.request_first_ns.is_some()
                    && acked.is_some_and(|a| a < open.request_end)
                {
                    flag(&mut open.row.flags, "overlapped");
                }
                let row = &mut open.row;
                widen(&mut row.response_first_ns, &mut row.response_last_ns, chunk);
                row.response_bytes += len;
            }
        }
        self.delivered[dir] += len;
        Verdict::Continue
    }

    fn on_gap(&mut self, dir: Dir, len: u64, ctx: &mut Ctx<'_>) {
        self.delivered[dir] = self.delivered[dir].saturating_add(len);
        let answered = self
            .open
            .as_ref()
            .is_some_and(|o| o.row.response_first_ns.is_some());
        if answered && Some(dir) == self.client {
            // Missing client bytes after a response: a request the capture did not see.
            self.finish(ctx);
        }
        match self.open.as_mut() {
            Some(open) => {
                flag(&mut open.row.flags, "gap");
                if Some(dir) == self.client {
                    open.request_end = self.delivered[dir];
                    open.row.request_bytes += len;
                } else {
                    open.row.response_bytes += len;
                }
            }
            None => self.gap_pending = true,
        }
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>) {
        self.finish(ctx);
    }
}

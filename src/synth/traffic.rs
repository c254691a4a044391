//! Planning one client's visit: an optional DNS lookup, then a TCP connection with a
//! handshake, keep-alive HTTP/1.1 exchanges (some pipelined), faults, and a FIN close.
//!
//! The capture point is a tap next to the servers: a server's packets are seen as it sends
//! them and a client's packets as they arrive, so the server latency drawn from the model is
//! exactly `response_first - request_last` in the capture, and the client's round-trip time
//! shows between a server packet and the client's answer. Client-to-server segments can be
//! lost before the tap (only their retransmission is captured) or reordered; server segments
//! can be reordered or retransmitted spuriously (a duplicate).
//!
//! ACK numbers are those of a real receiver ([`plan_connection`] rewrites them last): never
//! above a hole it has not received (a lost client segment is not acknowledged before its
//! retransmission is captured), cumulative and never decreasing.

use super::latency::LatencyModel;
use super::packet::{tcp_flags, Endpoints};
use super::rng::Rng;
use super::stream::ByteStream;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Maximum segment size for both directions (Ethernet MTU 1500 minus IPv4 and TCP headers).
pub const MSS: u64 = 1460;
const CLIENT_WINDOW: u16 = 64240;
const SERVER_WINDOW: u16 = 65160;
const DNS_PORT: u16 = 53;

/// Probabilities and limits of the traffic mix.
#[derive(Debug, Clone)]
pub struct TrafficMix {
    /// Chance that a group of requests (2-4) is pipelined.
    pub pipeline_prob: f64,
    /// Chance, per data segment, of a spurious duplicate retransmission.
    pub duplicate_prob: f64,
    /// Chance, per client data segment, that the original is lost before the tap.
    pub loss_prob: f64,
    /// Chance, per burst of segments, that two adjacent segments swap places.
    pub reorder_prob: f64,
    /// Chance that a connection is preceded by a DNS query.
    pub dns_prob: f64,
    /// Chance that a DNS query is never answered.
    pub dns_unanswered_prob: f64,
    /// Chance that a message head is cut in one or two extra places (small segments).
    pub header_split_prob: f64,
    /// Chance that a response with a body uses chunked transfer encoding.
    pub chunked_prob: f64,
    /// Most requests on one connection.
    pub max_requests_per_connection: u32,
    /// Multiplies every body size (1.0 = the built-in mix, median response body ~3 KB).
    pub body_scale: f64,
}

impl Default for TrafficMix {
    fn default() -> Self {
        TrafficMix {
            pipeline_prob: 0.1,
            duplicate_prob: 0.01,
            loss_prob: 0.005,
            reorder_prob: 0.02,
            dns_prob: 0.3,
            dns_unanswered_prob: 0.03,
            header_split_prob: 0.1,
            chunked_prob: 0.2,
            max_requests_per_connection: 8,
            body_scale: 1.0,
        }
    }
}

/// A host that opens connections.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub mac: [u8; 6],
    pub rtt_ns: i64,
    next_port: u16,
}

/// A host that answers HTTP on one port.
#[derive(Debug, Clone)]
pub struct Server {
    pub ip: IpAddr,
    pub mac: [u8; 6],
    pub port: u16,
    pub host: String,
}

/// Clients, servers and resolvers the traffic is drawn from.
#[derive(Debug, Clone)]
pub struct World {
    pub clients: Vec<Client>,
    pub servers_v4: Vec<Server>,
    pub servers_v6: Vec<Server>,
    resolver_v4: (IpAddr, [u8; 6]),
    resolver_v6: (IpAddr, [u8; 6]),
}

const SERVER_PORTS: [u16; 8] = [80, 80, 80, 8080, 8080, 8000, 3000, 9090];
const HOST_WORDS: [&str; 12] = [
    "www", "api", "static", "cdn", "shop", "auth", "img", "search", "app", "news", "mail", "status",
];
const DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "test.example"];

impl World {
    pub fn new(rng: &mut Rng, clients: usize, servers: usize, ipv6_fraction: f64) -> World {
        let servers = servers.max(2);
        let v6_servers = ((servers as f64 * ipv6_fraction).round() as usize).clamp(1, servers - 1);
        let server_list = |count: usize, v6: bool, rng: &mut Rng| -> Vec<Server> {
            (0..count)
                .map(|i| {
                    let ip = if v6 {
                        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x80, 0, 0, 0, 0, i as u16 + 1))
                    } else if i < 200 {
                        IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8 + 1))
                    } else {
                        IpAddr::V4(Ipv4Addr::new(198, 51, (i / 250) as u8, (i % 250) as u8 + 1))
                    };
                    let host = format!(
                        "{}{}.{}",
                        HOST_WORDS[i % HOST_WORDS.len()],
                        if v6 { "6-" } else { "" }.to_string()
                            + &(i / HOST_WORDS.len()).to_string(),
                        DOMAINS[rng.index(DOMAINS.len())]
                    );
                    Server {
                        ip,
                        mac: [
                            0x02,
                            0x5e,
                            if v6 { 6 } else { 4 },
                            0,
                            (i >> 8) as u8,
                            i as u8,
                        ],
                        port: SERVER_PORTS[rng.index(SERVER_PORTS.len())],
                        host,
                    }
                })
                .collect()
        };
        let servers_v4 = server_list(servers - v6_servers, false, rng);
        let servers_v6 = server_list(v6_servers, true, rng);
        let clients = (0..clients.max(1))
            .map(|i| {
                let v6 = rng.chance(ipv6_fraction);
                let ip = if v6 {
                    IpAddr::V6(Ipv6Addr::new(
                        0xfd00,
                        0,
                        0,
                        0x10,
                        0,
                        0,
                        (i >> 16) as u16,
                        i as u16,
                    ))
                } else {
                    IpAddr::V4(Ipv4Addr::new(
                        10,
                        1 + (i >> 16) as u8,
                        (i >> 8) as u8,
                        i as u8,
                    ))
                };
                Client {
                    ip,
                    mac: [
                        0x02,
                        0xc1,
                        (i >> 24) as u8,
                        (i >> 16) as u8,
                        (i >> 8) as u8,
                        i as u8,
                    ],
                    rtt_ns: (rng.log_uniform(0.1, 50.0) * 1e6) as i64,
                    next_port: rng.range(32768, 60999) as u16,
                }
            })
            .collect();
        World {
            clients,
            servers_v4,
            servers_v6,
            resolver_v4: (
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
                [0x02, 0x53, 0, 0, 0, 4],
            ),
            resolver_v6: (
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x53)),
                [0x02, 0x53, 0, 0, 0, 6],
            ),
        }
    }
}

/// What a planned packet is. Sequence/ack values are relative to the sender's/peer's ISN
/// (`0` = the ISN itself, `1 + offset` = stream byte `offset`).
#[derive(Debug, Clone, Copy)]
pub enum PlannedKind {
    /// Payload `[start, end)` of the sender's stream.
    Data {
        from_client: bool,
        start: u64,
        end: u64,
        ack: u64,
        retransmission: bool,
        reordered: bool,
    },
    /// A segment without payload (SYN, SYN-ACK, ACK, FIN).
    Control {
        from_client: bool,
        flags: u8,
        seq: u64,
        ack: u64,
    },
    DnsQuery,
    DnsResponse,
}

#[derive(Debug, Clone, Copy)]
pub struct Planned {
    pub ts: i64,
    pub kind: PlannedKind,
}

/// One HTTP exchange as planned (the truth's timing comes from the emitted packets).
#[derive(Debug, Clone)]
pub struct TxPlan {
    pub method: &'static str,
    pub uri: String,
    pub status: u16,
    pub request: (u64, u64),
    pub response: (u64, u64),
    pub pipelined: bool,
    pub chunked: bool,
    pub drawn_latency_ns: i64,
}

/// A DNS lookup preceding a connection.
#[derive(Debug, Clone)]
pub struct DnsPlan {
    pub ends: Endpoints,
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    pub answer: IpAddr,
    pub answered: bool,
}

/// A fully planned connection: its packets in time order and its byte streams.
#[derive(Debug)]
pub struct Connection {
    /// Client -> server.
    pub ends: Endpoints,
    pub host: String,
    pub client_isn: u32,
    pub server_isn: u32,
    pub client_stream: ByteStream,
    pub server_stream: ByteStream,
    pub packets: VecDeque<Planned>,
    pub transactions: Vec<TxPlan>,
    pub dns: Option<DnsPlan>,
}

/// A data segment waiting for its times: stream range.
type Range = (u64, u64);

struct Planner<'a> {
    rng: &'a mut Rng,
    mix: &'a TrafficMix,
    rtt: i64,
    packets: Vec<Planned>,
}

impl Planner<'_> {
    fn push(&mut self, ts: i64, kind: PlannedKind) {
        self.packets.push(Planned { ts, kind });
    }

    /// Cuts `[start, end)` at MSS boundaries and, sometimes, inside message heads.
    fn segments(&mut self, start: u64, end: u64, heads: &[Range]) -> Vec<Range> {
        let mut cuts: Vec<u64> = Vec::new();
        for &(a, b) in heads {
            if b - a > 2 && self.rng.chance(self.mix.header_split_prob) {
                for _ in 0..self.rng.range(1, 2) {
                    cuts.push(self.rng.range(a + 1, b - 1));
                }
            }
        }
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut at = start;
        let mut next_cut = cuts.iter().copied().filter(|&c| c > start).peekable();
        while at < end {
            let mut stop = (at + MSS).min(end);
            while let Some(&c) = next_cut.peek() {
                if c <= at {
                    next_cut.next();
                } else {
                    if c < stop {
                        stop = c;
                    }
                    break;
                }
            }
            out.push((at, stop));
            at = stop;
        }
        out
    }

    /// Send times of back-to-back segments from `t0`: serialisation at ~1 Gbit/s plus
    /// jitter, and a round trip of waiting every 32 segments (congestion window).
    fn burst_times(&mut self, segments: &[Range], t0: i64) -> Vec<i64> {
        let mut t = t0;
        let mut times = Vec::with_capacity(segments.len());
        for (k, &(a, b)) in segments.iter().enumerate() {
            if k > 0 {
                t += 1_000 + (b - a) as i64 * 8 + self.rng.range(0, 4_000) as i64;
                if k % 32 == 0 {
                    t += self.rtt;
                }
            }
            times.push(t);
        }
        times
    }

    /// Plans the data packets of one burst with its faults; returns each segment's arrival
    /// (earliest captured copy).
    fn data_burst(
        &mut self,
        from_client: bool,
        segments: &[Range],
        mut times: Vec<i64>,
        ack: u64,
    ) -> Vec<i64> {
        let mut reordered = vec![false; segments.len()];
        if segments.len() >= 2 && self.rng.chance(self.mix.reorder_prob) {
            let k = self.rng.index(segments.len() - 1);
            times.swap(k, k + 1);
            reordered[k] = true;
            reordered[k + 1] = true;
        }
        let mut arrival = Vec::with_capacity(segments.len());
        for (k, &(start, end)) in segments.iter().enumerate() {
            let rto = 200_000_000 + self.rtt + self.rng.range(0, 20_000_000) as i64;
            let data = |retransmission| PlannedKind::Data {
                from_client,
                start,
                end,
                ack,
                retransmission,
                reordered: reordered[k],
            };
            if from_client && self.rng.chance(self.mix.loss_prob) {
                // Lost before the tap: fast retransmit if later segments can trigger
                // duplicate ACKs, otherwise after a retransmission timeout.
                let resend = if k + 1 < segments.len() {
                    times[k].max(times[k + 1]) + self.rtt + 50_000
                } else {
                    times[k] + rto
                };
                self.push(resend, data(true));
                arrival.push(resend);
            } else {
                self.push(times[k], data(false));
                if self.rng.chance(self.mix.duplicate_prob) {
                    self.push(times[k] + rto, data(true));
                }
                arrival.push(times[k]);
            }
        }
        arrival
    }
}

/// Earliest and completing arrival of the bytes `[a, b)` over planned segments.
fn message_times(segments: &[Range], arrival: &[i64], (a, b): Range) -> (i64, i64) {
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for (k, &(s, e)) in segments.iter().enumerate() {
        if s < b && e > a {
            first = first.min(arrival[k]);
            last = last.max(arrival[k]);
        }
    }
    (first, last)
}

const METHODS: [(&str, u32); 7] = [
    ("GET", 760),
    ("POST", 110),
    ("PUT", 40),
    ("PATCH", 30),
    ("DELETE", 25),
    ("HEAD", 20),
    ("OPTIONS", 15),
];
const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
];
const WORDS: [&str; 10] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
];

fn pick_method(rng: &mut Rng) -> &'static str {
    let total: u32 = METHODS.iter().map(|m| m.1).sum();
    let mut x = rng.range(0, u64::from(total) - 1) as u32;
    for (name, weight) in METHODS {
        if x < weight {
            return name;
        }
        x -= weight;
    }
    "GET"
}

fn pick_uri(rng: &mut Rng, method: &str) -> String {
    let id = rng.range(1, 99_999);
    let word = WORDS[rng.index(WORDS.len())];
    if method != "GET" && method != "HEAD" {
        return match rng.range(0, 2) {
            0 => format!("/api/v1/{word}/{id}"),
            1 => format!("/api/v2/items/{id}/{word}"),
            _ => "/submit".to_string(),
        };
    }
    match rng.range(0, 6) {
        0 => "/".to_string(),
        1 => format!("/static/{word}.{id:x}.js"),
        2 => format!("/images/{id}.png"),
        3 => format!("/search?q={word}&page={}", rng.range(1, 20)),
        4 => format!("/api/v1/{word}/{id}"),
        5 => "/health".to_string(),
        _ => format!("/articles/{}/{word}-{id}.html", 2020 + rng.range(0, 6)),
    }
}

/// Lognormal size with a median and a spread, clamped.
fn size(rng: &mut Rng, median: f64, sigma: f64, max: u64, scale: f64) -> u64 {
    ((rng.lognormal(median.ln(), sigma) * scale) as u64).min(max)
}

/// `Date:` header value (RFC 9110 IMF-fixdate) for a Unix time.
fn http_date(unix_seconds: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Appends one request to the stream; returns (head range end, method, uri).
fn build_request(
    rng: &mut Rng,
    mix: &TrafficMix,
    stream: &mut ByteStream,
    host_header: &str,
    head: &mut String,
) -> (&'static str, String) {
    let method = pick_method(rng);
    let uri = pick_uri(rng, method);
    head.clear();
    let _ = write!(
        head,
        "{method} {uri} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {}\r\nAccept: */*\r\n",
        USER_AGENTS[rng.index(USER_AGENTS.len())]
    );
    if rng.chance(0.3) {
        let _ = write!(head, "Cookie: session={:016x}", rng.next_u64());
        for _ in 0..rng.range(0, 6) {
            let _ = write!(head, "; pref{}={:x}", rng.range(0, 99), rng.next_u64());
        }
        head.push_str("\r\n");
    }
    let body = match method {
        "POST" | "PUT" | "PATCH" => if rng.chance(0.1) {
            size(rng, 30_000.0, 1.0, 256 << 10, mix.body_scale)
        } else {
            size(rng, 400.0, 1.0, 16 << 10, mix.body_scale)
        }
        .max(1),
        _ => 0,
    };
    if body > 0 {
        let _ = write!(
            head,
            "Content-Type: application/json\r\nContent-Length: {body}\r\n"
        );
    }
    head.push_str("\r\n");
    stream.push_literal(head.as_bytes());
    stream.push_filler(body);
    (method, uri)
}

/// Appends one response; returns (status, chunked).
fn build_response(
    rng: &mut Rng,
    mix: &TrafficMix,
    stream: &mut ByteStream,
    method: &str,
    now_ns: i64,
    head: &mut String,
) -> (u16, bool) {
    let roll = rng.unit();
    let status: u16 = match method {
        "DELETE" | "PUT" | "PATCH" if roll < 0.3 => 204,
        "OPTIONS" => 204,
        "GET" if roll < 0.05 => 304,
        _ if roll < 0.09 => 404,
        _ if roll < 0.11 => 301,
        _ if roll < 0.125 => 500,
        "POST" if roll < 0.3 => 201,
        _ => 200,
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let body_allowed = !matches!(status, 204 | 304);
    let body = if !body_allowed {
        0
    } else if status == 200 && rng.chance(0.05) {
        size(rng, 200_000.0, 1.0, 2 << 20, mix.body_scale)
    } else if status == 200 {
        size(rng, 3_000.0, 1.3, 512 << 10, mix.body_scale)
    } else {
        size(rng, 300.0, 0.5, 4 << 10, mix.body_scale)
    };
    let chunked = body_allowed && method != "HEAD" && body > 0 && rng.chance(mix.chunked_prob);
    let trailer = chunked && rng.chance(0.3);
    head.clear();
    let _ = write!(
        head,
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: tracetail-synth/1\r\n",
        http_date(now_ns.div_euclid(1_000_000_000))
    );
    if status == 301 {
        head.push_str("Location: /moved\r\n");
    }
    if body_allowed {
        head.push_str("Content-Type: text/html; charset=utf-8\r\n");
        if chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
            if trailer {
                head.push_str("Trailer: X-Checksum\r\n");
            }
        } else {
            // HEAD responses announce the length of the body they do not carry.
            let _ = write!(head, "Content-Length: {body}\r\n");
        }
    }
    if rng.chance(0.2) {
        let _ = write!(
            head,
            "Set-Cookie: id={:x}; Path=/; HttpOnly\r\n",
            rng.next_u64()
        );
    }
    head.push_str("\r\n");
    stream.push_literal(head.as_bytes());
    if method == "HEAD" {
        return (status, false);
    }
    if chunked {
        let mut remaining = body;
        let mut line = String::new();
        while remaining > 0 {
            let chunk = rng.range(1, 16_384).min(remaining);
            line.clear();
            let _ = write!(line, "{chunk:x}\r\n");
            stream.push_literal(line.as_bytes());
            stream.push_filler(chunk);
            stream.push_literal(b"\r\n");
            remaining -= chunk;
        }
        stream.push_literal(b"0\r\n");
        if trailer {
            line.clear();
            let _ = write!(line, "X-Checksum: {:08x}\r\n", rng.next_u64() as u32);
            stream.push_literal(line.as_bytes());
        }
        stream.push_literal(b"\r\n");
    } else {
        stream.push_filler(body);
    }
    (status, chunked)
}

/// Think time of a client between receiving a response and sending its next request.
fn think_ns(rng: &mut Rng) -> i64 {
    let roll = rng.unit();
    let mean_ms = if roll < 0.5 {
        0.5
    } else if roll < 0.9 {
        30.0
    } else {
        500.0
    };
    (rng.exponential(mean_ms) * 1e6) as i64 + 10_000
}

/// Plans a whole connection of `requests` transactions starting at `start_ns`.
pub fn plan_connection(
    rng: &mut Rng,
    world: &mut World,
    mix: &TrafficMix,
    latency: &LatencyModel,
    start_ns: i64,
    requests: u32,
) -> Connection {
    let client_index = rng.index(world.clients.len());
    let client_ip = world.clients[client_index].ip;
    let servers = if client_ip.is_ipv6() {
        &world.servers_v6
    } else {
        &world.servers_v4
    };
    // A few popular servers get most connections.
    let server = if rng.chance(0.5) {
        servers[rng.index(servers.len().min(3))].clone()
    } else {
        servers[rng.index(servers.len())].clone()
    };
    let resolver = if client_ip.is_ipv6() {
        world.resolver_v6
    } else {
        world.resolver_v4
    };
    let client = &mut world.clients[client_index];
    let mut take_port = || {
        let port = client.next_port;
        client.next_port = if port >= 60999 { 32768 } else { port + 1 };
        port
    };
    let mut planner = Planner {
        rng,
        mix,
        rtt: client.rtt_ns,
        packets: Vec::new(),
    };
    let rtt = planner.rtt;

    // DNS lookup.
    let mut t = start_ns;
    let mut dns = None;
    if planner.rng.chance(mix.dns_prob) {
        let answered = !planner.rng.chance(mix.dns_unanswered_prob);
        let ends = Endpoints {
            src_mac: client.mac,
            dst_mac: resolver.1,
            src_ip: client.ip,
            dst_ip: resolver.0,
            src_port: take_port(),
            dst_port: DNS_PORT,
        };
        planner.push(t, PlannedKind::DnsQuery);
        let resolver_ns = (planner.rng.lognormal((3.0f64).ln(), 1.0) * 1e6) as i64 + 50_000;
        if answered {
            planner.push(t + resolver_ns, PlannedKind::DnsResponse);
            t += resolver_ns + planner.rng.range(20_000, 500_000) as i64;
        } else {
            // The client gives up after a timeout and uses an address it had cached.
            t += 1_000_000_000;
        }
        dns = Some(DnsPlan {
            ends,
            id: planner.rng.next_u64() as u16,
            name: server.host.clone(),
            qtype: if client_ip.is_ipv6() { 28 } else { 1 },
            answer: server.ip,
            answered,
        });
    }

    let ends = Endpoints {
        src_mac: client.mac,
        dst_mac: server.mac,
        src_ip: client.ip,
        dst_ip: server.ip,
        src_port: take_port(),
        dst_port: server.port,
    };
    let host_header = if server.port == 80 {
        server.host.clone()
    } else {
        format!("{}:{}", server.host, server.port)
    };

    // Handshake as seen at the server: SYN, SYN-ACK a few µs later, ACK one RTT later.
    use tcp_flags::{ACK, FIN, SYN};
    planner.push(
        t,
        PlannedKind::Control {
            from_client: true,
            flags: SYN,
            seq: 0,
            ack: 0,
        },
    );
    t += planner.rng.range(10_000, 80_000) as i64;
    planner.push(
        t,
        PlannedKind::Control {
            from_client: false,
            flags: SYN | ACK,
            seq: 0,
            ack: 1,
        },
    );
    t += rtt;
    planner.push(
        t,
        PlannedKind::Control {
            from_client: true,
            flags: ACK,
            seq: 1,
            ack: 1,
        },
    );
    t += planner.rng.range(1_000, 300_000) as i64;

    let mut client_stream = ByteStream::new();
    let mut server_stream = ByteStream::new();
    let mut transactions: Vec<TxPlan> = Vec::new();
    let mut head = String::new();
    let mut last_response_end = t; // server send time of the previous response's last segment
    let mut remaining = requests.max(1);
    while remaining > 0 {
        let batch = if remaining >= 2 && planner.rng.chance(mix.pipeline_prob) {
            planner.rng.range(2, u64::from(remaining.min(4))) as u32
        } else {
            1
        };
        remaining -= batch;
        // Requests of the batch, back to back in the client stream.
        let batch_start = client_stream.len();
        let mut heads = Vec::new();
        let mut batch_txs = Vec::new();
        for _ in 0..batch {
            let a = client_stream.len();
            let (method, uri) = build_request(
                planner.rng,
                mix,
                &mut client_stream,
                &host_header,
                &mut head,
            );
            heads.push((a, a + head.len() as u64));
            batch_txs.push((method, uri, (a, client_stream.len())));
        }
        let batch_end = client_stream.len();
        let segments = planner.segments(batch_start, batch_end, &heads);
        let times = planner.burst_times(&segments, t);
        let server_acked = 1 + server_stream.len();
        let arrival = planner.data_burst(true, &segments, times, server_acked);
        let batch_complete = arrival.iter().copied().max().unwrap_or(t);

        for (j, (method, uri, request)) in batch_txs.into_iter().enumerate() {
            let (_, request_last) = message_times(&segments, &arrival, request);
            let drawn = latency.sample_ns(planner.rng);
            let ready = request_last + drawn;
            let response_first = if j == 0 {
                ready
            } else {
                ready.max(last_response_end + 1_000)
            };
            if j == 0 && response_first > batch_complete + 200_000 {
                // Pure ACK for the request data while the server works.
                planner.push(
                    batch_complete + 20_000,
                    PlannedKind::Control {
                        from_client: false,
                        flags: ACK,
                        seq: 1 + server_stream.len(),
                        ack: 1 + batch_end,
                    },
                );
            }
            let a = server_stream.len();
            let (status, chunked) = build_response(
                planner.rng,
                mix,
                &mut server_stream,
                method,
                response_first,
                &mut head,
            );
            let response = (a, server_stream.len());
            let resp_segments = planner.segments(a, response.1, &[(a, a + head.len() as u64)]);
            let times = planner.burst_times(&resp_segments, response_first);
            let send_end = *times.last().unwrap_or(&response_first);
            let resp_arrival = planner.data_burst(false, &resp_segments, times, 1 + batch_end);
            // The client acknowledges every second segment and the last, one RTT after the
            // tap saw every byte up to it (a reordered segment delays the ACK of the next).
            let mut received_through = i64::MIN;
            for (k, &(_, end)) in resp_segments.iter().enumerate() {
                received_through = received_through.max(resp_arrival[k]);
                if k % 2 == 1 || k + 1 == resp_segments.len() {
                    planner.push(
                        received_through + rtt,
                        PlannedKind::Control {
                            from_client: true,
                            flags: ACK,
                            seq: 1 + batch_end,
                            ack: 1 + end,
                        },
                    );
                }
            }
            last_response_end = send_end.max(resp_arrival.iter().copied().max().unwrap_or(0));
            transactions.push(TxPlan {
                method,
                uri,
                status,
                request,
                response,
                pipelined: j > 0,
                chunked,
                drawn_latency_ns: drawn,
            });
        }
        t = last_response_end + rtt + think_ns(planner.rng);
    }

    // Client closes: FIN, server FIN-ACK, final ACK. Never before a planned retransmission.
    let mut close = t;
    for p in &planner.packets {
        close = close.max(p.ts + 1_000);
    }
    let client_end = 1 + client_stream.len();
    let server_end = 1 + server_stream.len();
    planner.push(
        close,
        PlannedKind::Control {
            from_client: true,
            flags: FIN | ACK,
            seq: client_end,
            ack: server_end,
        },
    );
    let server_fin = close + planner.rng.range(10_000, 60_000) as i64;
    planner.push(
        server_fin,
        PlannedKind::Control {
            from_client: false,
            flags: FIN | ACK,
            seq: server_end,
            ack: client_end + 1,
        },
    );
    planner.push(
        server_fin + rtt,
        PlannedKind::Control {
            from_client: true,
            flags: ACK,
            seq: client_end + 1,
            ack: server_end + 1,
        },
    );
    let mut packets = planner.packets;
    packets.sort_by_key(|p| p.ts); // stable: equal times keep planning order
    make_acks_real(&mut packets, rtt);
    let client_isn = planner.rng.next_u64() as u32;
    let server_isn = planner.rng.next_u64() as u32;
    Connection {
        ends,
        host: host_header,
        client_isn,
        server_isn,
        client_stream,
        server_stream,
        packets: packets.into(),
        transactions,
        dns,
    }
}

/// Sequence space one side has received in order (relative: SYN = 0, stream byte `o` =
/// `1 + o`, FIN after the last byte); `next` is what its cumulative ACK may say.
#[derive(Debug, Default)]
struct InOrder {
    next: u64,
    /// Ranges received beyond a hole.
    ahead: Vec<Range>,
}

impl InOrder {
    fn add(&mut self, start: u64, end: u64) {
        if end <= self.next {
            return;
        }
        self.ahead.push((start, end));
        let mut next = self.next;
        loop {
            let before = next;
            self.ahead.retain(|&(a, b)| {
                if a <= next {
                    next = next.max(b);
                    false
                } else {
                    true
                }
            });
            if next == before {
                break;
            }
        }
        self.next = next;
    }
}

/// Rewrites every planned ACK number (packets in capture order) into one a real TCP receiver
/// would send: cumulative, never decreasing, and never covering sequence space it had not
/// received in order. The server sits at the tap, so it has received what was captured before
/// its packet; the client receives a server packet half a round trip after the tap saw it
/// and its ACK reaches the tap half a round trip later. An ACK above a hole would tell an
/// analyzer the bytes were received but missed by the capture (a gap), which a lost segment
/// that is retransmitted later is not.
fn make_acks_real(packets: &mut [Planned], rtt: i64) {
    // Client sequence space as the server has it, and server sequence space as the tap saw
    // it, with the capture time at which each in-order point was reached.
    let mut at_server = InOrder::default();
    let mut server_sent = InOrder::default();
    let mut server_sent_history: Vec<(i64, u64)> = Vec::new();
    let mut last_ack = [0u64; 2]; // by the client, by the server
    for p in packets.iter_mut() {
        let (from_client, range, ack) = match &mut p.kind {
            PlannedKind::Data {
                from_client,
                start,
                end,
                ack,
                ..
            } => (*from_client, Some((1 + *start, 1 + *end)), Some(ack)),
            PlannedKind::Control {
                from_client,
                flags,
                seq,
                ack,
            } => {
                let range =
                    (*flags & (tcp_flags::SYN | tcp_flags::FIN) != 0).then_some((*seq, *seq + 1));
                (
                    *from_client,
                    range,
                    (*flags & tcp_flags::ACK != 0).then_some(ack),
                )
            }
            PlannedKind::DnsQuery | PlannedKind::DnsResponse => continue,
        };
        if let Some(ack) = ack {
            let limit = if from_client {
                let seen_by = p.ts - rtt;
                let i = server_sent_history.partition_point(|&(ts, _)| ts <= seen_by);
                i.checked_sub(1).map_or(0, |i| server_sent_history[i].1)
            } else {
                at_server.next
            };
            let last = &mut last_ack[usize::from(!from_client)];
            *ack = (*ack).min(limit).max(*last);
            *last = *ack;
        }
        if let Some((start, end)) = range {
            if from_client {
                at_server.add(start, end);
            } else {
                let before = server_sent.next;
                server_sent.add(start, end);
                if server_sent.next != before {
                    server_sent_history.push((p.ts, server_sent.next));
                }
            }
        }
    }
}

/// Window advertised by each side.
pub fn window(from_client: bool) -> u16 {
    if from_client {
        CLIENT_WINDOW
    } else {
        SERVER_WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    /// Whether `ranges` cover `[0, end)` of a sequence space.
    fn covers(ranges: &mut [Range], end: u64) -> bool {
        ranges.sort_unstable();
        let mut next = 0;
        for &(a, b) in ranges.iter() {
            if a > next {
                break;
            }
            next = next.max(b);
        }
        next >= end
    }

    /// A receiver never acknowledges sequence space it has not received in order: the server
    /// (at the tap) what was captured before its packet, the client what the tap saw at least
    /// one RTT earlier. With lost client segments the old planner let the server ACK the
    /// whole batch, which an analyzer rightly reads as bytes the capture missed (a gap).
    #[test]
    fn acks_never_cover_bytes_not_yet_received() {
        let mut rng = Rng::new(7);
        let mut world = World::new(&mut rng, 20, 4, 0.3);
        let mix = TrafficMix {
            loss_prob: 0.2,
            duplicate_prob: 0.1,
            reorder_prob: 0.5,
            pipeline_prob: 0.7,
            header_split_prob: 0.5,
            ..TrafficMix::default()
        };
        let latency = LatencyModel::LogNormal {
            mu: 2.0,
            sigma: 0.5,
        };
        let mut client_retransmissions = 0;
        for _ in 0..40 {
            let conn = plan_connection(&mut rng, &mut world, &mix, &latency, 0, 6);
            let rtt = world
                .clients
                .iter()
                .find(|c| c.ip == conn.ends.src_ip)
                .unwrap()
                .rtt_ns;
            // Sequence ranges sent so far: (capture time, range), per sender.
            let mut sent: [Vec<(i64, Range)>; 2] = [Vec::new(), Vec::new()];
            let mut last_ack = [0u64; 2];
            for p in &conn.packets {
                let (from_client, range, ack) = match p.kind {
                    PlannedKind::Data {
                        from_client,
                        start,
                        end,
                        ack,
                        retransmission,
                        ..
                    } => {
                        client_retransmissions += usize::from(from_client && retransmission);
                        (from_client, Some((1 + start, 1 + end)), Some(ack))
                    }
                    PlannedKind::Control {
                        from_client,
                        flags,
                        seq,
                        ack,
                    } => (
                        from_client,
                        (flags & (tcp_flags::SYN | tcp_flags::FIN) != 0).then_some((seq, seq + 1)),
                        (flags & tcp_flags::ACK != 0).then_some(ack),
                    ),
                    _ => continue,
                };
                let side = usize::from(!from_client);
                if let Some(ack) = ack {
                    let seen_by = if from_client { p.ts - rtt } else { p.ts };
                    let mut received: Vec<Range> = sent[1 - side]
                        .iter()
                        .filter(|&&(ts, _)| ts <= seen_by)
                        .map(|&(_, r)| r)
                        .collect();
                    assert!(
                        covers(&mut received, ack),
                        "{} ACK {ack} at {} covers bytes not received",
                        if from_client { "client" } else { "server" },
                        p.ts
                    );
                    assert!(ack >= last_ack[side], "ACK went backwards");
                    last_ack[side] = ack;
                }
                if let Some(r) = range {
                    sent[side].push((p.ts, r));
                }
            }
            // Everything, FINs included, is acknowledged in the end.
            assert_eq!(last_ack[0], 2 + conn.server_stream.len());
            assert_eq!(last_ack[1], 2 + conn.client_stream.len());
        }
        assert!(client_retransmissions > 10, "{client_retransmissions}");
    }

    #[test]
    fn segments_respect_mss_and_cuts() {
        let mut rng = Rng::new(3);
        let mix = TrafficMix {
            header_split_prob: 1.0,
            ..TrafficMix::default()
        };
        let mut p = Planner {
            rng: &mut rng,
            mix: &mix,
            rtt: 1,
            packets: Vec::new(),
        };
        let segs = p.segments(100, 5000, &[(100, 400)]);
        assert_eq!(segs.first().unwrap().0, 100);
        assert_eq!(segs.last().unwrap().1, 5000);
        assert!(segs.windows(2).all(|w| w[0].1 == w[1].0));
        assert!(segs.iter().all(|&(a, b)| b > a && b - a <= MSS));
        // At least one cut inside the head.
        assert!(segs.iter().any(|&(_, b)| b > 100 && b < 400));
    }
}

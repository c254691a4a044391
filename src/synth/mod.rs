//! Synthetic HTTP/DNS captures with a ground truth of every transaction's timestamps.
//!
//! [`generate`] writes a capture of many overlapping keep-alive HTTP/1.1 connections (some
//! IPv6, several server ports, pipelining, chunked bodies, small header splits, lost,
//! duplicated and reordered segments) and DNS lookups, plus two CSV files describing what is
//! in it. The truth is computed from the packets as they are written, in capture order, with
//! the same definition the analyzers use: `*_first_ns` is the capture time of the earliest
//! packet carrying any byte of the message and `*_last_ns` the capture time of the packet
//! after which every byte of it had been seen.
//!
//! Memory stays bounded whatever the output size: each of `concurrency` slots holds one
//! planned connection (bodies are stored as lengths, not bytes) and packets are merged in
//! time order through a heap as they are written.

pub mod hostile;
pub mod latency;
pub mod packet;
pub mod rng;
pub mod stream;
pub mod traffic;

use crate::capture::{LinkType, PcapNgWriter, PcapWriter};
use latency::LatencyModel;
use packet::{Endpoints, PacketBuilder, TcpFields};
use rng::Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use traffic::{Connection, PlannedKind, TrafficMix, World};

/// When to stop starting new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Exactly this many HTTP transactions.
    Requests(u64),
    /// About this many capture bytes (connections in flight when it is reached still finish).
    Bytes(u64),
}

/// Container and timestamp resolution of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Pcap {
        nanosecond: bool,
    },
    /// pcapng with one Ethernet interface; `tsresol` is a power of ten from 0 to 9.
    PcapNg {
        tsresol: u8,
    },
}

impl OutputFormat {
    /// Nanoseconds per timestamp unit of the file. Every timestamp is floored to a multiple
    /// of it before it is written and before it enters the truth, so the truth is exact.
    pub fn quantum_ns(self) -> i64 {
        match self {
            OutputFormat::Pcap { nanosecond: true } => 1,
            OutputFormat::Pcap { nanosecond: false } => 1_000,
            OutputFormat::PcapNg { tsresol } => 10i64.pow(9 - u32::from(tsresol.min(9))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub seed: u64,
    pub target: Target,
    pub latency: LatencyModel,
    pub mix: TrafficMix,
    /// Connections open at once (each slot runs one connection after another).
    pub concurrency: usize,
    pub clients: usize,
    pub servers: usize,
    /// Share of clients (and servers) using IPv6.
    pub ipv6_fraction: f64,
    /// Capture time of the first packets, ns since the epoch.
    pub start_ns: i64,
    pub format: OutputFormat,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            target: Target::Requests(10_000),
            latency: LatencyModel::LogNormal {
                mu: 20f64.ln(),
                sigma: 0.8,
            },
            mix: TrafficMix::default(),
            concurrency: 64,
            clients: 400,
            servers: 24,
            ipv6_fraction: 0.1,
            start_ns: 1_700_000_000_000_000_000,
            format: OutputFormat::Pcap { nanosecond: true },
        }
    }
}

/// One row of the HTTP ground truth (`<out>.truth.csv`), in `request_first_ns` order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HttpTruthRow {
    /// Index of the TCP connection among TCP connections, in order of their SYN.
    pub connection_index: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub method: String,
    /// The Host header as sent (`name` or `name:port`).
    pub host: String,
    pub uri: String,
    pub status: u16,
    /// Whole message (head + body, with chunk framing) in bytes.
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_first_ns: i64,
    pub request_last_ns: i64,
    pub response_first_ns: i64,
    pub response_last_ns: i64,
    /// Sent before the previous response on the connection was complete.
    pub pipelined: bool,
    pub chunked: bool,
    /// A retransmitted segment (duplicate or recovering a loss) carried bytes of it.
    pub retransmitted: bool,
    /// A segment carrying bytes of it was swapped with its neighbour.
    pub reordered: bool,
    /// Position on the connection, from 1.
    pub depth: u32,
    /// Index among all flows (TCP connections and DNS 5-tuples) in order of first packet,
    /// as `sessions` and the analyzers' `connection_id` count them.
    pub flow_index: u64,
    /// Latency drawn from the model; equals response_first − request_last unless the
    /// request was pipelined behind a slower response.
    pub drawn_latency_ns: i64,
}

/// One row of the DNS ground truth (`<out>.dns.truth.csv`), in query order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DnsTruthRow {
    pub flow_index: u64,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    pub id: u16,
    pub query_name: String,
    pub query_type: u16,
    pub answered: bool,
    pub rcode: Option<u8>,
    pub answers: u16,
    pub query_ns: i64,
    pub response_ns: Option<i64>,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub packets: u64,
    /// Bytes of the capture stream (before any compression).
    pub capture_bytes: u64,
    pub tcp_connections: u64,
    pub http_transactions: u64,
    pub dns_queries: u64,
    pub dns_unanswered: u64,
    pub first_ns: i64,
    pub last_ns: i64,
}

enum Sink<W: Write> {
    Pcap(PcapWriter<W>),
    PcapNg(PcapNgWriter<W>),
}

impl<W: Write> Sink<W> {
    fn new(out: W, format: OutputFormat) -> io::Result<Self> {
        Ok(match format {
            OutputFormat::Pcap { nanosecond } => {
                Sink::Pcap(PcapWriter::new(out, LinkType::ETHERNET, 65535, nanosecond)?)
            }
            OutputFormat::PcapNg { tsresol } => {
                let mut w = PcapNgWriter::new(out)?;
                w.add_interface(LinkType::ETHERNET, 65535, tsresol)?;
                Sink::PcapNg(w)
            }
        })
    }

    /// Writes a frame; returns the bytes it took in the file.
    fn write(&mut self, ts: i64, frame: &[u8]) -> io::Result<u64> {
        match self {
            Sink::Pcap(w) => {
                w.write_packet(ts, frame, frame.len() as u32)?;
                Ok(16 + frame.len() as u64)
            }
            Sink::PcapNg(w) => {
                w.write_packet(0, ts, frame, frame.len() as u32)?;
                Ok(32 + frame.len().div_ceil(4) as u64 * 4)
            }
        }
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Sink::Pcap(w) => w.finish(),
            Sink::PcapNg(w) => w.finish(),
        }
    }
}

/// Rows kept in the order their first packet was written, released once complete.
struct OrderedRows<R> {
    base: u64,
    rows: VecDeque<Option<R>>,
}

impl<R: serde::Serialize> OrderedRows<R> {
    fn new() -> Self {
        OrderedRows {
            base: 0,
            rows: VecDeque::new(),
        }
    }
    fn reserve(&mut self) -> u64 {
        self.rows.push_back(None);
        self.base + self.rows.len() as u64 - 1
    }
    fn fill<W: Write>(&mut self, at: u64, row: R, out: &mut csv::Writer<W>) -> io::Result<()> {
        self.rows[(at - self.base) as usize] = Some(row);
        while let Some(Some(_)) = self.rows.front() {
            let row = self.rows.pop_front().flatten().expect("checked");
            self.base += 1;
            out.serialize(row).map_err(io::Error::other)?;
        }
        Ok(())
    }
}

/// Byte ranges of a stream seen so far (sorted, merged).
#[derive(Debug, Default)]
struct Coverage(Vec<(u64, u64)>);

impl Coverage {
    fn add(&mut self, start: u64, end: u64) {
        let ranges = &mut self.0;
        let i = ranges.partition_point(|r| r.1 < start);
        let mut j = i;
        let (mut a, mut b) = (start, end);
        while j < ranges.len() && ranges[j].0 <= end {
            a = a.min(ranges[j].0);
            b = b.max(ranges[j].1);
            j += 1;
        }
        ranges.splice(i..j, [(a, b)]);
    }
    fn contains(&self, start: u64, end: u64) -> bool {
        let i = self.0.partition_point(|r| r.1 < end);
        self.0.get(i).is_some_and(|r| r.0 <= start && r.1 >= end)
    }
}

#[derive(Debug, Default, Clone)]
struct TxTruth {
    request_first: Option<i64>,
    request_last: Option<i64>,
    response_first: Option<i64>,
    response_last: Option<i64>,
    retransmitted: bool,
    reordered: bool,
    row: Option<u64>,
}

/// A connection being written.
struct Active {
    conn: Connection,
    connection_index: u64,
    flow_index: u64,
    dns_row: Option<(u64, u64, i64)>, // (row slot, flow index, query time)
    truth: Vec<TxTruth>,
    coverage: [Coverage; 2],
}

struct Generator<'a, W: Write, T: Write, D: Write> {
    config: &'a SynthConfig,
    rng: Rng,
    world: World,
    sink: Sink<W>,
    builder: PacketBuilder,
    http_rows: OrderedRows<HttpTruthRow>,
    dns_rows: OrderedRows<DnsTruthRow>,
    http_out: csv::Writer<T>,
    dns_out: csv::Writer<D>,
    summary: Summary,
    flows: u64,
    planned_requests: u64,
}

/// Writes a synthetic capture to `capture`, the HTTP truth to `http_truth` and the DNS
/// truth to `dns_truth`. Deterministic for a given configuration.
pub fn generate<W: Write, T: Write, D: Write>(
    config: &SynthConfig,
    capture: W,
    http_truth: T,
    dns_truth: D,
) -> io::Result<(Summary, W)> {
    config
        .latency
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if let OutputFormat::PcapNg { tsresol } = config.format {
        if tsresol > 9 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "synth writes pcapng with if_tsresol 0..=9 (a power of ten) only",
            ));
        }
    }
    let mut rng = Rng::new(config.seed);
    let world = World::new(
        &mut rng,
        config.clients,
        config.servers,
        config.ipv6_fraction,
    );
    let mut g = Generator {
        config,
        rng,
        world,
        sink: Sink::new(capture, config.format)?,
        builder: PacketBuilder::new(),
        http_rows: OrderedRows::new(),
        dns_rows: OrderedRows::new(),
        http_out: csv::Writer::from_writer(http_truth),
        dns_out: csv::Writer::from_writer(dns_truth),
        summary: Summary::default(),
        flows: 0,
        planned_requests: 0,
    };
    g.summary.capture_bytes = match config.format {
        OutputFormat::Pcap { .. } => 24,
        OutputFormat::PcapNg { tsresol: 6 } => 28 + 20,
        OutputFormat::PcapNg { .. } => 28 + 32,
    };
    g.run()?;
    g.http_out.flush()?;
    g.dns_out.flush()?;
    let out = g.sink.finish()?;
    Ok((g.summary, out))
}

impl<W: Write, T: Write, D: Write> Generator<'_, W, T, D> {
    fn run(&mut self) -> io::Result<()> {
        let slots_count = self.config.concurrency.max(1);
        let mut slots: Vec<Option<Active>> = (0..slots_count).map(|_| None).collect();
        let mut heap: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
        for (index, slot) in slots.iter_mut().enumerate() {
            let start = self.config.start_ns + self.rng.range(0, 50_000_000) as i64;
            if let Some(active) = self.start_connection(start) {
                heap.push(Reverse((active.conn.packets[0].ts, index)));
                *slot = Some(active);
            }
        }
        let quantum = self.config.format.quantum_ns();
        while let Some(Reverse((ts, index))) = heap.pop() {
            let active = slots[index].as_mut().expect("scheduled slot is active");
            let planned = active.conn.packets.pop_front().expect("scheduled packet");
            debug_assert_eq!(planned.ts, ts);
            let written_ts = ts - ts.rem_euclid(quantum);
            self.emit(active, written_ts, planned.kind)?;
            if let Some(next) = active.conn.packets.front() {
                heap.push(Reverse((next.ts, index)));
                continue;
            }
            let done = slots[index].take().expect("active");
            self.finish_connection(done)?;
            let idle = (self.rng.exponential(10.0) * 1e6) as i64;
            if let Some(active) = self.start_connection(ts + idle) {
                heap.push(Reverse((active.conn.packets[0].ts, index)));
                slots[index] = Some(active);
            }
        }
        Ok(())
    }

    /// Plans the next connection, or `None` once the target is reached.
    fn start_connection(&mut self, start_ns: i64) -> Option<Active> {
        let max = self.config.mix.max_requests_per_connection.max(1);
        let mut requests = if self.rng.chance(0.4) {
            1
        } else {
            self.rng.range(1, u64::from(max)) as u32
        };
        match self.config.target {
            Target::Requests(total) => {
                let left = total.saturating_sub(self.planned_requests);
                if left == 0 {
                    return None;
                }
                requests = requests.min(left.min(u64::from(u32::MAX)) as u32);
            }
            Target::Bytes(total) => {
                if self.summary.capture_bytes >= total {
                    return None;
                }
            }
        }
        self.planned_requests += u64::from(requests);
        let conn = traffic::plan_connection(
            &mut self.rng,
            &mut self.world,
            &self.config.mix,
            &self.config.latency,
            start_ns,
            requests,
        );
        let count = conn.transactions.len();
        Some(Active {
            conn,
            connection_index: 0,
            flow_index: 0,
            dns_row: None,
            truth: vec![TxTruth::default(); count],
            coverage: [Coverage::default(), Coverage::default()],
        })
    }

    fn emit(&mut self, active: &mut Active, ts: i64, kind: PlannedKind) -> io::Result<()> {
        if self.summary.packets == 0 {
            self.summary.first_ns = ts;
        }
        self.summary.last_ns = ts;
        self.summary.packets += 1;
        let conn = &active.conn;
        let frame = match kind {
            PlannedKind::DnsQuery | PlannedKind::DnsResponse => {
                let dns = conn.dns.as_ref().expect("planned with a DNS lookup");
                let query = matches!(kind, PlannedKind::DnsQuery);
                if query {
                    self.summary.dns_queries += 1;
                    let flow = self.flows;
                    self.flows += 1;
                    let slot = self.dns_rows.reserve();
                    active.dns_row = Some((slot, flow, ts));
                }
                let ends = if query { dns.ends } else { dns.ends.reversed() };
                let frame = self.builder.udp(&ends, |out| write_dns(out, dns, !query));
                let bytes = self.sink.write(ts, frame)?;
                self.summary.capture_bytes += bytes;
                let (slot, flow, query_ns) = active.dns_row.expect("query came first");
                if !query || !dns.answered {
                    if !dns.answered {
                        self.summary.dns_unanswered += 1;
                    }
                    let row = DnsTruthRow {
                        flow_index: flow,
                        client_ip: dns.ends.src_ip.to_string(),
                        client_port: dns.ends.src_port,
                        server_ip: dns.ends.dst_ip.to_string(),
                        server_port: dns.ends.dst_port,
                        id: dns.id,
                        query_name: dns.name.clone(),
                        query_type: dns.qtype,
                        answered: dns.answered,
                        rcode: dns.answered.then_some(0),
                        answers: u16::from(dns.answered),
                        query_ns,
                        response_ns: (!query).then_some(ts),
                    };
                    self.dns_rows.fill(slot, row, &mut self.dns_out)?;
                }
                return Ok(());
            }
            PlannedKind::Control {
                from_client,
                flags,
                seq,
                ack,
            } => {
                if flags == packet::tcp_flags::SYN {
                    active.connection_index = self.summary.tcp_connections;
                    self.summary.tcp_connections += 1;
                    active.flow_index = self.flows;
                    self.flows += 1;
                }
                let (ends, fields) = tcp_header(conn, from_client, flags, seq, ack);
                self.builder.tcp(&ends, fields, |_| {})
            }
            PlannedKind::Data {
                from_client,
                start,
                end,
                ack,
                retransmission,
                reordered,
            } => {
                track_data(
                    active,
                    ts,
                    from_client,
                    start,
                    end,
                    retransmission,
                    reordered,
                    &mut self.http_rows,
                );
                let conn = &active.conn;
                let flags = packet::tcp_flags::ACK | packet::tcp_flags::PSH;
                let (ends, fields) = tcp_header(conn, from_client, flags, 1 + start, ack);
                let stream = if from_client {
                    &conn.client_stream
                } else {
                    &conn.server_stream
                };
                self.builder
                    .tcp(&ends, fields, |out| stream.copy_range(start, end, out))
            }
        };
        let bytes = self.sink.write(ts, frame)?;
        self.summary.capture_bytes += bytes;
        Ok(())
    }

    /// All packets of the connection are written: its rows are final.
    fn finish_connection(&mut self, active: Active) -> io::Result<()> {
        let conn = &active.conn;
        for (depth, (plan, truth)) in conn.transactions.iter().zip(&active.truth).enumerate() {
            let (Some(rf), Some(rl), Some(sf), Some(sl), Some(slot)) = (
                truth.request_first,
                truth.request_last,
                truth.response_first,
                truth.response_last,
                truth.row,
            ) else {
                return Err(io::Error::other(
                    "internal error: a planned transaction was not fully written",
                ));
            };
            self.summary.http_transactions += 1;
            let row = HttpTruthRow {
                connection_index: active.connection_index,
                client_ip: conn.ends.src_ip.to_string(),
                client_port: conn.ends.src_port,
                server_ip: conn.ends.dst_ip.to_string(),
                server_port: conn.ends.dst_port,
                method: plan.method.to_string(),
                host: conn.host.clone(),
                uri: plan.uri.clone(),
                status: plan.status,
                request_bytes: plan.request.1 - plan.request.0,
                response_bytes: plan.response.1 - plan.response.0,
                request_first_ns: rf,
                request_last_ns: rl,
                response_first_ns: sf,
                response_last_ns: sl,
                pipelined: plan.pipelined,
                chunked: plan.chunked,
                retransmitted: truth.retransmitted,
                reordered: truth.reordered,
                depth: depth as u32 + 1,
                flow_index: active.flow_index,
                drawn_latency_ns: plan.drawn_latency_ns,
            };
            self.http_rows.fill(slot, row, &mut self.http_out)?;
        }
        Ok(())
    }
}

/// Updates first/last times of the messages a data packet touches.
#[allow(clippy::too_many_arguments)]
fn track_data(
    active: &mut Active,
    ts: i64,
    from_client: bool,
    start: u64,
    end: u64,
    retransmission: bool,
    reordered: bool,
    rows: &mut OrderedRows<HttpTruthRow>,
) {
    let coverage = &mut active.coverage[usize::from(!from_client)];
    coverage.add(start, end);
    for (plan, truth) in active.conn.transactions.iter().zip(active.truth.iter_mut()) {
        let (a, b) = if from_client {
            plan.request
        } else {
            plan.response
        };
        if a >= end || b <= start {
            continue;
        }
        truth.retransmitted |= retransmission;
        truth.reordered |= reordered;
        let (first, last) = if from_client {
            (&mut truth.request_first, &mut truth.request_last)
        } else {
            (&mut truth.response_first, &mut truth.response_last)
        };
        if first.is_none() {
            *first = Some(ts);
            if from_client {
                truth.row = Some(rows.reserve());
            }
        }
        if last.is_none() && coverage.contains(a, b) {
            *last = Some(ts);
        }
    }
}

fn tcp_header(
    conn: &Connection,
    from_client: bool,
    flags: u8,
    seq: u64,
    ack: u64,
) -> (Endpoints, TcpFields) {
    let (ends, own_isn, peer_isn) = if from_client {
        (conn.ends, conn.client_isn, conn.server_isn)
    } else {
        (conn.ends.reversed(), conn.server_isn, conn.client_isn)
    };
    let ack_value = if flags & packet::tcp_flags::ACK != 0 {
        peer_isn.wrapping_add(ack as u32)
    } else {
        0
    };
    (
        ends,
        TcpFields {
            seq: own_isn.wrapping_add(seq as u32),
            ack: ack_value,
            flags,
            window: traffic::window(from_client),
        },
    )
}

/// A DNS query (RD set) or its answer (one A/AAAA record, name compressed to the question).
fn write_dns(out: &mut Vec<u8>, dns: &traffic::DnsPlan, response: bool) {
    out.extend_from_slice(&dns.id.to_be_bytes());
    out.extend_from_slice(if response {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    out.extend_from_slice(&[0, 1, 0, u8::from(response), 0, 0, 0, 0]);
    for label in dns.name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&dns.qtype.to_be_bytes());
    out.extend_from_slice(&[0, 1]);
    if response {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&dns.qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0x01, 0x2c]); // class IN, TTL 300
        match dns.answer {
            IpAddr::V4(a) => {
                out.extend_from_slice(&[0, 4]);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.extend_from_slice(&[0, 16]);
                out.extend_from_slice(&a.octets());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_merges_and_answers() {
        let mut c = Coverage::default();
        c.add(10, 20);
        c.add(30, 40);
        assert!(c.contains(12, 20));
        assert!(!c.contains(15, 35));
        c.add(20, 30);
        assert!(c.contains(10, 40));
        assert_eq!(c.0, vec![(10, 40)]);
        c.add(0, 5);
        c.add(5, 10);
        assert_eq!(c.0, vec![(0, 40)]);
    }
}

//! Latency samples drawn from transactions: which metric, grouped by what.
//!
//! A sample is 20 bytes (time, value, group index), so ten million requests fit in ~200 MB
//! and percentiles stay exact; group names are stored once.

use crate::analyzers::{DnsTransaction, HttpTransaction, TcpExchange, TlsConnection};
use crate::flows::FlowRecord;
use crate::pipeline::Record;
use crate::stats::percentile::{summarize, LatencySummary};
use crate::stats::{PercentileMethod, STANDARD_PERCENTILES};
use std::collections::HashMap;

/// The latency a table or plot is about. Names and meanings are documented in the README.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// HTTP response first byte − request first byte.
    #[default]
    Ttfb,
    /// HTTP response last byte − request first byte.
    Total,
    /// HTTP response first byte − request last byte.
    Server,
    /// HTTP response last byte − request last byte (tshark's `http.time`).
    Tshark,
    /// DNS response − query.
    Dns,
    /// TCP handshake: SYN -> final ACK of the three-way handshake.
    Handshake,
    /// TLS ServerHello − ClientHello (one round trip plus server work).
    TlsHello,
    /// TLS client's Finished − ClientHello.
    TlsHandshake,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Ttfb => "ttfb",
            Metric::Total => "total",
            Metric::Server => "server",
            Metric::Tshark => "tshark",
            Metric::Dns => "dns",
            Metric::Handshake => "handshake",
            Metric::TlsHello => "tls-hello",
            Metric::TlsHandshake => "tls-handshake",
        }
    }

    /// A short name for plot titles and axis labels.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Ttfb => "HTTP time to first byte",
            Metric::Total => "HTTP total time",
            Metric::Server => "HTTP server time",
            Metric::Tshark => "HTTP time (tshark http.time)",
            Metric::Dns => "DNS response time",
            Metric::Handshake => "TCP handshake time",
            Metric::TlsHello => "TLS hello time",
            Metric::TlsHandshake => "TLS handshake time",
        }
    }

    /// What the metric measures, with its definition.
    pub fn describe(self) -> &'static str {
        match self {
            Metric::Ttfb => "HTTP time to first byte (response first byte − request first byte)",
            Metric::Total => "HTTP total time (response last byte − request first byte)",
            Metric::Server => "HTTP server time (response first byte − request last byte)",
            Metric::Tshark => {
                "HTTP time as tshark's http.time (response last byte − request last byte)"
            }
            Metric::Dns => "DNS response time (response − query)",
            Metric::Handshake => "TCP handshake time (SYN → final ACK)",
            Metric::TlsHello => "TLS hello time (ServerHello − ClientHello)",
            Metric::TlsHandshake => "TLS handshake time (client Finished − ClientHello)",
        }
    }

    pub fn needs_flows(self) -> bool {
        self == Metric::Handshake
    }

    /// Taken from `tls` rows (the pass must emit them).
    pub fn is_tls(self) -> bool {
        matches!(self, Metric::TlsHello | Metric::TlsHandshake)
    }
}

/// Whose transactions a latency is taken from (`--protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Dns,
    /// Exchanges of the generic request/response analyzer (`tracetail tcp`), any protocol.
    Tcp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Dns => "dns",
            Protocol::Tcp => "tcp",
        }
    }

    /// The protocol a metric is about when `--protocol` is not given (what the commands did
    /// before it existed): `dns` for the DNS metric, `http` for the others.
    pub fn default_for(metric: Metric) -> Protocol {
        if metric == Metric::Dns {
            Protocol::Dns
        } else {
            Protocol::Http
        }
    }
}

/// How samples are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Server,
    Host,
    Uri,
    Client,
    Status,
    /// The capture file a sample came from (to compare captures side by side).
    Capture,
    /// TLS server name (HTTP inside TLS: its SNI, else the Host).
    Sni,
    /// gRPC `service/method`; transactions that are not gRPC calls are left out.
    #[serde(rename = "grpc-method")]
    GrpcMethod,
    /// gRPC status (`0 OK`, `5 NOT_FOUND`, …); transactions that are not gRPC calls are
    /// left out.
    #[serde(rename = "grpc-status")]
    GrpcStatus,
}

impl GroupBy {
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Server => "server",
            GroupBy::Host => "host",
            GroupBy::Uri => "uri",
            GroupBy::Client => "client",
            GroupBy::Status => "status",
            GroupBy::Capture => "capture",
            GroupBy::Sni => "sni",
            GroupBy::GrpcMethod => "grpc-method",
            GroupBy::GrpcStatus => "grpc-status",
        }
    }

    /// Groups only gRPC calls (other transactions are left out).
    pub fn is_grpc(self) -> bool {
        matches!(self, GroupBy::GrpcMethod | GroupBy::GrpcStatus)
    }
}

/// The canonical name of a gRPC status code (grpc/doc/statuscodes.md).
pub fn grpc_status_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES
        .get(code as usize)
        .copied()
        .unwrap_or("(unknown code)")
}

/// The group label of a gRPC status: `5 NOT_FOUND`, or `(no status)` when the call ended
/// without one (reset, cut off by the capture).
pub fn grpc_status_label(status: Option<u32>) -> String {
    match status {
        Some(code) => format!("{code} {}", grpc_status_name(code)),
        None => "(no status)".into(),
    }
}

/// One latency observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When the transaction started (ns since the epoch).
    pub timestamp_ns: i64,
    pub value_ns: i64,
    /// Index into [`SampleSet::groups`] (0 when not grouped).
    pub group: u32,
}

/// Samples of one metric, optionally grouped.
#[derive(Debug, Clone)]
pub struct SampleSet {
    pub metric: Metric,
    /// Whose transactions are sampled (the handshake metric samples TCP flows instead).
    pub protocol: Protocol,
    pub by: Option<GroupBy>,
    pub groups: Vec<String>,
    index: HashMap<String, u32>,
    pub samples: Vec<Sample>,
    /// Transactions of the right kind that had no value for the metric (unanswered, ...).
    pub missing: u64,
    /// Transactions without the grouping's key, not sampled: those that are not gRPC calls
    /// under `--by grpc-method|grpc-status`.
    pub left_out: u64,
    /// Group of the capture being read (for [`GroupBy::Capture`]), set by [`Self::add_record_from`].
    capture_group: u32,
}

/// `1.2.3.4:80` or `[2001:db8::1]:80` (SocketAddr's own form).
fn endpoint(ip: std::net::IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

impl SampleSet {
    pub fn new(metric: Metric, by: Option<GroupBy>) -> Self {
        let mut set = SampleSet {
            metric,
            protocol: Protocol::default_for(metric),
            by,
            groups: Vec::new(),
            index: HashMap::new(),
            samples: Vec::new(),
            missing: 0,
            left_out: 0,
            capture_group: 0,
        };
        if by.is_none() {
            set.group_index("all");
        }
        set
    }

    /// Samples `protocol`'s transactions: the request/response metrics (ttfb, total, server,
    /// tshark) apply to any protocol through its four capture times; `dns` is DNS's own.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Counts a transaction the grouping does not apply to.
    fn leave_out(&mut self) {
        self.left_out += 1;
    }

    fn group_index(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.groups.len() as u32;
        self.groups.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }

    /// Samples from here on come from this capture (the group of `--by capture`).
    pub fn set_capture(&mut self, capture: &str) {
        if self.by == Some(GroupBy::Capture)
            && self
                .groups
                .get(self.capture_group as usize)
                .map(String::as_str)
                != Some(capture)
        {
            self.capture_group = self.group_index(capture);
        }
    }

    /// [`Self::add_record`] for a record read from `capture`.
    pub fn add_record_from(&mut self, capture: &str, record: &Record) {
        self.set_capture(capture);
        self.add_record(record);
    }

    /// Takes what it needs from one pipeline record (a [`Record::Row`] written by
    /// [`Sampling::encode`] included).
    pub fn add_record(&mut self, record: &Record) {
        match record {
            Record::Row(row) => self.add_row(row),
            record => self.apply(self.sampling().take(record)),
        }
    }

    pub fn add_http(&mut self, t: &HttpTransaction) {
        self.apply(self.sampling().take_http(t));
    }

    pub fn add_dns(&mut self, t: &DnsTransaction) {
        self.apply(self.sampling().take_dns(t));
    }

    pub fn add_tcp(&mut self, t: &TcpExchange) {
        self.apply(self.sampling().take_tcp(t));
    }

    pub fn add_flow(&mut self, f: &FlowRecord) {
        self.apply(self.sampling().take_flow(f));
    }

    pub fn add_tls(&mut self, t: &TlsConnection) {
        self.apply(self.sampling().take_tls(t));
    }

    /// What this set takes from a record.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            metric: self.metric,
            protocol: self.protocol,
            by: self.by,
        }
    }

    /// Adds what [`Sampling::encode`] wrote for a record.
    pub fn add_row(&mut self, row: &[u8]) {
        if let Some(taken) = Taken::decode(row) {
            self.apply(taken);
        }
    }

    fn apply(&mut self, taken: Taken<'_>) {
        let (timestamp_ns, value_ns, group) = match taken {
            Taken::Nothing => return,
            Taken::Missing => {
                self.missing += 1;
                return;
            }
            Taken::LeftOut => return self.leave_out(),
            Taken::Sample {
                timestamp_ns,
                value_ns,
                group,
            } => (timestamp_ns, value_ns, group),
        };
        let group = match group {
            GroupKey::All => 0,
            GroupKey::Capture => self.capture_group,
            GroupKey::Name(name) => self.group_index(&name),
        };
        self.samples.push(Sample {
            timestamp_ns,
            value_ns,
            group,
        });
    }

    /// The same samples as one group (`all`), e.g. to plot a grouped set as a whole.
    pub fn ungrouped(&self) -> SampleSet {
        let mut set = SampleSet::new(self.metric, None).with_protocol(self.protocol);
        set.samples = self
            .samples
            .iter()
            .map(|s| Sample { group: 0, ..*s })
            .collect();
        set.missing = self.missing;
        set.left_out = self.left_out;
        set
    }

    /// All values, or those of one group.
    pub fn values(&self, group: Option<u32>) -> Vec<i64> {
        self.samples
            .iter()
            .filter(|s| group.is_none_or(|g| s.group == g))
            .map(|s| s.value_ns)
            .collect()
    }
    /// Percentile summaries: overall, then each group (largest first, ties by name).
    pub fn summaries(
        &self,
        method: PercentileMethod,
    ) -> (Option<LatencySummary>, Vec<(String, LatencySummary)>) {
        let mut all = self.values(None);
        let overall = summarize(&mut all, method, &STANDARD_PERCENTILES);
        let mut groups = Vec::new();
        if self.by.is_some() {
            let mut per_group: Vec<Vec<i64>> = vec![Vec::new(); self.groups.len()];
            for s in &self.samples {
                per_group[s.group as usize].push(s.value_ns);
            }
            for (i, mut values) in per_group.into_iter().enumerate() {
                if let Some(s) = summarize(&mut values, method, &STANDARD_PERCENTILES) {
                    groups.push((self.groups[i].clone(), s));
                }
            }
            groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
        }
        (overall, groups)
    }
}

/// What a [`SampleSet`] takes from records: its metric, protocol and grouping. Working a
/// record out needs nothing else, so a pass's workers can do it where the records are made
/// ([`Sampling::encode`]) and hand over a few bytes instead of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    pub metric: Metric,
    pub protocol: Protocol,
    pub by: Option<GroupBy>,
}

/// What one record gives a [`SampleSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken<'r> {
    /// Not a record this set samples.
    Nothing,
    /// A record of the right kind without a value for the metric (unanswered, cut).
    Missing,
    /// A record of the right kind without the grouping's key.
    LeftOut,
    Sample {
        timestamp_ns: i64,
        value_ns: i64,
        group: GroupKey<'r>,
    },
}

/// The group a sample joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey<'r> {
    /// The only group of an ungrouped set.
    All,
    /// The capture being read (`--by capture`): the set knows which.
    Capture,
    Name(std::borrow::Cow<'r, str>),
}

impl Taken<'_> {
    /// Tags of [`Sampling::encode`]'s bytes.
    const NOTHING: u8 = 0;
    const MISSING: u8 = 1;
    const LEFT_OUT: u8 = 2;
    const SAMPLE: u8 = 3;
    const ALL: u8 = 0;
    const CAPTURE: u8 = 1;
    const NAME: u8 = 2;

    /// Appends this to `buf`: a tag; for a sample its time and value (little-endian) and
    /// its group (a tag, then a name's bytes to the end).
    fn encode(&self, buf: &mut Vec<u8>) {
        let Taken::Sample {
            timestamp_ns,
            value_ns,
            group,
        } = self
        else {
            buf.push(match self {
                Taken::Missing => Self::MISSING,
                Taken::LeftOut => Self::LEFT_OUT,
                _ => Self::NOTHING,
            });
            return;
        };
        buf.push(Self::SAMPLE);
        buf.extend_from_slice(&timestamp_ns.to_le_bytes());
        buf.extend_from_slice(&value_ns.to_le_bytes());
        match group {
            GroupKey::All => buf.push(Self::ALL),
            GroupKey::Capture => buf.push(Self::CAPTURE),
            GroupKey::Name(name) => {
                buf.push(Self::NAME);
                buf.extend_from_slice(name.as_bytes());
            }
        }
    }

    /// Reads what [`Taken::encode`] wrote; `None` for bytes it did not write.
    fn decode(row: &[u8]) -> Option<Taken<'_>> {
        let (&tag, rest) = row.split_first()?;
        match tag {
            Self::NOTHING => return Some(Taken::Nothing),
            Self::MISSING => return Some(Taken::Missing),
            Self::LEFT_OUT => return Some(Taken::LeftOut),
            Self::SAMPLE => {}
            _ => return None,
        }
        let (timestamp, rest) = rest.split_first_chunk::<8>()?;
        let (value, rest) = rest.split_first_chunk::<8>()?;
        let (&group, name) = rest.split_first()?;
        let group = match group {
            Self::ALL => GroupKey::All,
            Self::CAPTURE => GroupKey::Capture,
            Self::NAME => GroupKey::Name(std::str::from_utf8(name).ok()?.into()),
            _ => return None,
        };
        Some(Taken::Sample {
            timestamp_ns: i64::from_le_bytes(*timestamp),
            value_ns: i64::from_le_bytes(*value),
            group,
        })
    }
}

impl Sampling {
    /// Writes what `record` gives a set into `buf`, for [`SampleSet::add_row`] (a pass's
    /// [`crate::pipeline::PassOptions::rows`]: the merging thread then moves ~20 bytes, not
    /// a transaction that the worker allocated). Always writes: a record this set does not
    /// sample is one byte, which [`SampleSet::add_row`] skips.
    pub fn encode(&self, record: &Record, buf: &mut Vec<u8>) -> bool {
        self.take(record).encode(buf);
        true
    }

    /// What `record` gives a set.
    pub fn take<'r>(&self, record: &'r Record) -> Taken<'r> {
        match record {
            Record::Http(t) => self.take_http(t),
            Record::Dns(t) => self.take_dns(t),
            Record::Tcp(t) => self.take_tcp(t),
            Record::Flow(f) => self.take_flow(f),
            Record::Tls(t) => self.take_tls(t),
            // Connection figures and written rows, not latency samples.
            Record::Http2(_) | Record::Row(_) => Taken::Nothing,
        }
    }

    pub fn take_http<'r>(&self, t: &'r HttpTransaction) -> Taken<'r> {
        if self.protocol != Protocol::Http {
            return Taken::Nothing;
        }
        // Checked before the value so that a non-gRPC request without a response counts as
        // left out, not as missing.
        if self.by.is_some_and(GroupBy::is_grpc) && t.grpc.is_none() {
            return Taken::LeftOut;
        }
        let value = match self.metric {
            Metric::Ttfb => t.ttfb_ns(),
            Metric::Total => t.total_ns(),
            Metric::Server => t.server_ns(),
            Metric::Tshark => t.tshark_ns(),
            _ => return Taken::Nothing,
        };
        let (Some(value_ns), Some(timestamp_ns)) = (value, t.request_first_ns) else {
            return Taken::Missing;
        };
        let group = match self.by {
            None => GroupKey::All,
            Some(GroupBy::Server) => name(endpoint(t.server_ip, t.server_port)),
            Some(GroupBy::Host) => name(t.host.as_deref().unwrap_or("(no host)")),
            Some(GroupBy::Uri) => name(t.uri.as_str()),
            Some(GroupBy::Client) => name(t.client_ip.to_string()),
            Some(GroupBy::Status) => name(
                t.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            Some(GroupBy::Capture) => GroupKey::Capture,
            Some(GroupBy::Sni) => {
                name(t.sni.as_deref().or(t.host.as_deref()).unwrap_or("(no sni)"))
            }
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => match (&t.grpc, self.by) {
                (Some(call), Some(GroupBy::GrpcMethod)) => {
                    name(format!("{}/{}", call.service, call.method))
                }
                (Some(call), _) => name(grpc_status_label(call.status)),
                (None, _) => return Taken::LeftOut,
            },
        };
        Taken::Sample {
            timestamp_ns,
            value_ns,
            group,
        }
    }

    pub fn take_dns<'r>(&self, t: &'r DnsTransaction) -> Taken<'r> {
        if self.protocol != Protocol::Dns {
            return Taken::Nothing;
        }
        // A DNS message has one time, so every request/response metric is its latency.
        let value = match self.metric {
            Metric::Dns | Metric::Ttfb | Metric::Total | Metric::Server | Metric::Tshark => {
                t.latency_ns()
            }
            Metric::Handshake | Metric::TlsHello | Metric::TlsHandshake => return Taken::Nothing,
        };
        let (Some(value_ns), Some(timestamp_ns)) = (value, t.query_ns) else {
            return Taken::Missing;
        };
        let group = match self.by {
            None => GroupKey::All,
            Some(GroupBy::Server) => name(endpoint(t.server_ip, t.server_port)),
            Some(GroupBy::Host) | Some(GroupBy::Uri) | Some(GroupBy::Sni) => {
                name(t.query_name.as_str())
            }
            Some(GroupBy::Client) => name(t.client_ip.to_string()),
            Some(GroupBy::Status) => {
                name(t.rcode.map(|r| r.to_string()).unwrap_or_else(|| "-".into()))
            }
            Some(GroupBy::Capture) => GroupKey::Capture,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return Taken::LeftOut,
        };
        Taken::Sample {
            timestamp_ns,
            value_ns,
            group,
        }
    }

    pub fn take_tcp<'r>(&self, t: &'r TcpExchange) -> Taken<'r> {
        if self.protocol != Protocol::Tcp {
            return Taken::Nothing;
        }
        let value = match self.metric {
            Metric::Ttfb => t.ttfb_ns(),
            Metric::Total => t.total_ns(),
            Metric::Server => t.server_ns(),
            Metric::Tshark => t.tshark_ns(),
            Metric::Dns | Metric::Handshake | Metric::TlsHello | Metric::TlsHandshake => {
                return Taken::Nothing
            }
        };
        let (Some(value_ns), Some(timestamp_ns)) = (value, t.request_first_ns) else {
            return Taken::Missing;
        };
        let group = match self.by {
            None => GroupKey::All,
            Some(GroupBy::Server) | Some(GroupBy::Host) => {
                name(endpoint(t.server_ip, t.server_port))
            }
            Some(GroupBy::Uri) | Some(GroupBy::Status) => name(t.protocol),
            Some(GroupBy::Client) => name(t.client_ip.to_string()),
            Some(GroupBy::Capture) => GroupKey::Capture,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return Taken::LeftOut,
            Some(GroupBy::Sni) => name("(no sni)"),
        };
        Taken::Sample {
            timestamp_ns,
            value_ns,
            group,
        }
    }

    pub fn take_flow<'r>(&self, f: &'r FlowRecord) -> Taken<'r> {
        if self.metric != Metric::Handshake || f.protocol != "tcp" {
            return Taken::Nothing;
        }
        let Some(value_ns) = f.handshake_ns() else {
            return Taken::Missing;
        };
        let group = match self.by {
            None => GroupKey::All,
            Some(GroupBy::Server)
            | Some(GroupBy::Host)
            | Some(GroupBy::Uri)
            | Some(GroupBy::Sni) => name(endpoint(f.server_ip, f.server_port)),
            Some(GroupBy::Client) => name(f.client_ip.to_string()),
            Some(GroupBy::Status) => name(f.tcp_state.as_deref().unwrap_or("-")),
            Some(GroupBy::Capture) => GroupKey::Capture,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return Taken::LeftOut,
        };
        Taken::Sample {
            timestamp_ns: f.first_ns,
            value_ns,
            group,
        }
    }

    pub fn take_tls<'r>(&self, t: &'r TlsConnection) -> Taken<'r> {
        let value = match self.metric {
            Metric::TlsHello => t.hello_ns,
            Metric::TlsHandshake => t.handshake_ns,
            _ => return Taken::Nothing,
        };
        let (Some(value_ns), Some(timestamp_ns)) = (value, t.client_hello_ns) else {
            return Taken::Missing;
        };
        let group = match self.by {
            None => GroupKey::All,
            Some(GroupBy::Server) | Some(GroupBy::Uri) => {
                name(endpoint(t.server_ip, t.server_port))
            }
            Some(GroupBy::Sni) | Some(GroupBy::Host) => {
                name(t.sni.as_deref().unwrap_or("(no sni)"))
            }
            Some(GroupBy::Client) => name(t.client_ip.to_string()),
            Some(GroupBy::Status) => name(t.version.as_deref().unwrap_or("-")),
            Some(GroupBy::Capture) => GroupKey::Capture,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return Taken::LeftOut,
        };
        Taken::Sample {
            timestamp_ns,
            value_ns,
            group,
        }
    }
}

/// A named group.
fn name<'r>(name: impl Into<std::borrow::Cow<'r, str>>) -> GroupKey<'r> {
    GroupKey::Name(name.into())
}

/// Transactions for unit tests (here and in the report).
#[cfg(test)]
pub(crate) mod test_rows {
    use crate::analyzers::{GrpcCall, HttpTransaction};
    use std::net::{IpAddr, Ipv4Addr};

    /// An HTTP/2 transaction that took `total_ns` (None: unanswered), a gRPC call to
    /// `service/method` with a status when `grpc` says so.
    pub fn http(grpc: Option<(&str, Option<u32>)>, total_ns: Option<i64>) -> HttpTransaction {
        HttpTransaction {
            connection_id: 1,
            depth: 1,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_port: 40000,
            server_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            server_port: 50051,
            method: "POST".into(),
            host: None,
            uri: "/".into(),
            version: "2".into(),
            status: Some(200),
            request_first_ns: Some(1_000),
            request_last_ns: Some(1_000),
            response_first_ns: total_ns.map(|t| 1_000 + t / 2),
            response_last_ns: total_ns.map(|t| 1_000 + t),
            flags: Vec::new(),
            tls: false,
            sni: None,
            stream_id: Some(1),
            grpc: grpc.map(|(method, status)| {
                let (service, method) = method.split_once('/').unwrap();
                GrpcCall {
                    service: service.into(),
                    method: method.into(),
                    status,
                    ..GrpcCall::default()
                }
            }),
            request_bytes: 0,
            response_bytes: 0,
            request_body_bytes: 0,
            response_body_bytes: 0,
            request_head_ns: None,
            response_head_ns: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_rows::http;
    use super::*;

    #[test]
    fn grpc_groupings_leave_out_other_transactions() {
        let rows = [
            http(Some(("pkg.Svc/Get", Some(0))), Some(10)),
            http(Some(("pkg.Svc/Get", Some(5))), Some(30)),
            http(Some(("pkg.Svc/List", None)), Some(20)),
            http(Some(("pkg.Svc/List", Some(4))), None),
            http(None, Some(99)),
            http(None, None),
        ];
        let mut by_method = SampleSet::new(Metric::Total, Some(GroupBy::GrpcMethod));
        let mut by_status = SampleSet::new(Metric::Total, Some(GroupBy::GrpcStatus));
        for t in &rows {
            by_method.add_http(t);
            by_status.add_http(t);
        }
        for set in [&by_method, &by_status] {
            assert_eq!(set.samples.len(), 3);
            assert_eq!(set.left_out, 2, "non-gRPC rows, answered or not");
            assert_eq!(set.missing, 1, "the gRPC call without a response");
        }
        let (_, groups) = by_method.summaries(PercentileMethod::NearestRank);
        let counts: Vec<(&str, u64)> = groups.iter().map(|(n, s)| (n.as_str(), s.count)).collect();
        assert_eq!(counts, [("pkg.Svc/Get", 2), ("pkg.Svc/List", 1)]);
        let (_, groups) = by_status.summaries(PercentileMethod::NearestRank);
        let mut names: Vec<&str> = groups.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        assert_eq!(names, ["(no status)", "0 OK", "5 NOT_FOUND"]);
        // Canonical names, and a code beyond them.
        assert_eq!(grpc_status_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_status_name(17), "(unknown code)");
    }

    /// Samples taken on the workers (encoded, then added from the bytes) are the samples
    /// taken from the records themselves, for every metric and grouping.
    #[test]
    fn encoded_samples_are_the_samples_of_the_records() {
        let mut host = http(None, Some(7));
        host.host = Some("h\u{e9}te.example".into());
        host.status = None;
        let records: Vec<Record> = [
            http(Some(("pkg.Svc/Get", Some(0))), Some(10)),
            http(Some(("pkg.Svc/List", None)), Some(20)),
            http(Some(("pkg.Svc/List", Some(4))), None),
            http(None, Some(99)),
            http(None, None),
            host,
        ]
        .into_iter()
        .map(Record::Http)
        .chain([
            Record::Row(b"not a sample".to_vec().into()),
            Record::Row(Vec::new().into()),
        ])
        .collect();
        let metrics = [
            Metric::Ttfb,
            Metric::Total,
            Metric::Server,
            Metric::Tshark,
            Metric::Dns,
        ];
        let groupings = [
            None,
            Some(GroupBy::Server),
            Some(GroupBy::Host),
            Some(GroupBy::Uri),
            Some(GroupBy::Client),
            Some(GroupBy::Status),
            Some(GroupBy::Capture),
            Some(GroupBy::Sni),
            Some(GroupBy::GrpcMethod),
            Some(GroupBy::GrpcStatus),
        ];
        let mut compared = 0;
        for metric in metrics {
            for by in groupings {
                let mut direct = SampleSet::new(metric, by);
                let mut encoded = SampleSet::new(metric, by);
                // The second capture: its group is not the first.
                for set in [&mut direct, &mut encoded] {
                    set.set_capture("a.pcap");
                    set.set_capture("b.pcap");
                }
                let sampling = encoded.sampling();
                for record in &records {
                    direct.add_record(record);
                    let mut row = Vec::new();
                    assert!(sampling.encode(record, &mut row));
                    encoded.add_record(&Record::Row(row.into()));
                }
                assert_eq!(encoded.samples, direct.samples, "{metric:?} {by:?}");
                assert_eq!(encoded.groups, direct.groups, "{metric:?} {by:?}");
                assert_eq!(
                    (encoded.missing, encoded.left_out),
                    (direct.missing, direct.left_out)
                );
                compared += direct.samples.len();
            }
        }
        assert!(compared > 100, "{compared}");
        // Bytes it did not write add nothing.
        let mut set = SampleSet::new(Metric::Ttfb, Some(GroupBy::Host));
        for row in [&[3u8, 1, 2][..], &[9], &[3; 17], &[3; 18]] {
            set.add_row(row);
        }
        assert!(set.samples.is_empty() && set.missing == 0);
    }
}

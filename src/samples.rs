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

    /// Takes what it needs from one pipeline record.
    pub fn add_record(&mut self, record: &Record) {
        match record {
            Record::Http(t) => self.add_http(t),
            Record::Dns(t) => self.add_dns(t),
            Record::Tcp(t) => self.add_tcp(t),
            Record::Flow(f) => self.add_flow(f),
            Record::Tls(t) => self.add_tls(t),
            // Connection figures and written rows, not latency samples.
            Record::Http2(_) | Record::Row(_) => {}
        }
    }

    pub fn add_http(&mut self, t: &HttpTransaction) {
        if self.protocol != Protocol::Http {
            return;
        }
        // Checked before the value so that a non-gRPC request without a response counts as
        // left out, not as missing.
        if self.by.is_some_and(GroupBy::is_grpc) && t.grpc.is_none() {
            return self.leave_out();
        }
        let value = match self.metric {
            Metric::Ttfb => t.ttfb_ns(),
            Metric::Total => t.total_ns(),
            Metric::Server => t.server_ns(),
            Metric::Tshark => t.tshark_ns(),
            _ => return,
        };
        let (Some(value), Some(ts)) = (value, t.request_first_ns) else {
            self.missing += 1;
            return;
        };
        let group = match self.by {
            None => 0,
            Some(GroupBy::Server) => self.group_index(&endpoint(t.server_ip, t.server_port)),
            Some(GroupBy::Host) => self.group_index(t.host.as_deref().unwrap_or("(no host)")),
            Some(GroupBy::Uri) => self.group_index(&t.uri),
            Some(GroupBy::Client) => self.group_index(&t.client_ip.to_string()),
            Some(GroupBy::Status) => self.group_index(
                &t.status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            Some(GroupBy::Capture) => self.capture_group,
            Some(GroupBy::Sni) => {
                self.group_index(t.sni.as_deref().or(t.host.as_deref()).unwrap_or("(no sni)"))
            }
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => match (&t.grpc, self.by) {
                (Some(call), Some(GroupBy::GrpcMethod)) => {
                    self.group_index(&format!("{}/{}", call.service, call.method))
                }
                (Some(call), _) => self.group_index(&grpc_status_label(call.status)),
                (None, _) => return self.leave_out(),
            },
        };
        self.samples.push(Sample {
            timestamp_ns: ts,
            value_ns: value,
            group,
        });
    }

    pub fn add_dns(&mut self, t: &DnsTransaction) {
        if self.protocol != Protocol::Dns {
            return;
        }
        // A DNS message has one time, so every request/response metric is its latency.
        let value = match self.metric {
            Metric::Dns | Metric::Ttfb | Metric::Total | Metric::Server | Metric::Tshark => {
                t.latency_ns()
            }
            Metric::Handshake | Metric::TlsHello | Metric::TlsHandshake => return,
        };
        let (Some(value), Some(ts)) = (value, t.query_ns) else {
            self.missing += 1;
            return;
        };
        let group = match self.by {
            None => 0,
            Some(GroupBy::Server) => self.group_index(&endpoint(t.server_ip, t.server_port)),
            Some(GroupBy::Host) | Some(GroupBy::Uri) | Some(GroupBy::Sni) => {
                self.group_index(&t.query_name)
            }
            Some(GroupBy::Client) => self.group_index(&t.client_ip.to_string()),
            Some(GroupBy::Status) => {
                self.group_index(&t.rcode.map(|r| r.to_string()).unwrap_or_else(|| "-".into()))
            }
            Some(GroupBy::Capture) => self.capture_group,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return self.leave_out(),
        };
        self.samples.push(Sample {
            timestamp_ns: ts,
            value_ns: value,
            group,
        });
    }

    pub fn add_tcp(&mut self, t: &TcpExchange) {
        if self.protocol != Protocol::Tcp {
            return;
        }
        let value = match self.metric {
            Metric::Ttfb => t.ttfb_ns(),
            Metric::Total => t.total_ns(),
            Metric::Server => t.server_ns(),
            Metric::Tshark => t.tshark_ns(),
            Metric::Dns | Metric::Handshake | Metric::TlsHello | Metric::TlsHandshake => return,
        };
        let (Some(value), Some(ts)) = (value, t.request_first_ns) else {
            self.missing += 1;
            return;
        };
        let group = match self.by {
            None => 0,
            Some(GroupBy::Server) | Some(GroupBy::Host) => {
                self.group_index(&endpoint(t.server_ip, t.server_port))
            }
            Some(GroupBy::Uri) | Some(GroupBy::Status) => self.group_index(t.protocol),
            Some(GroupBy::Client) => self.group_index(&t.client_ip.to_string()),
            Some(GroupBy::Capture) => self.capture_group,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return self.leave_out(),
            Some(GroupBy::Sni) => self.group_index("(no sni)"),
        };
        self.samples.push(Sample {
            timestamp_ns: ts,
            value_ns: value,
            group,
        });
    }

    pub fn add_flow(&mut self, f: &FlowRecord) {
        if self.metric != Metric::Handshake || f.protocol != "tcp" {
            return;
        }
        let Some(value) = f.handshake_ns() else {
            self.missing += 1;
            return;
        };
        let group = match self.by {
            None => 0,
            Some(GroupBy::Server)
            | Some(GroupBy::Host)
            | Some(GroupBy::Uri)
            | Some(GroupBy::Sni) => self.group_index(&endpoint(f.server_ip, f.server_port)),
            Some(GroupBy::Client) => self.group_index(&f.client_ip.to_string()),
            Some(GroupBy::Status) => self.group_index(f.tcp_state.as_deref().unwrap_or("-")),
            Some(GroupBy::Capture) => self.capture_group,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return self.leave_out(),
        };
        self.samples.push(Sample {
            timestamp_ns: f.first_ns,
            value_ns: value,
            group,
        });
    }

    pub fn add_tls(&mut self, t: &TlsConnection) {
        let value = match self.metric {
            Metric::TlsHello => t.hello_ns,
            Metric::TlsHandshake => t.handshake_ns,
            _ => return,
        };
        let (Some(value), Some(ts)) = (value, t.client_hello_ns) else {
            self.missing += 1;
            return;
        };
        let group = match self.by {
            None => 0,
            Some(GroupBy::Server) | Some(GroupBy::Uri) => {
                self.group_index(&endpoint(t.server_ip, t.server_port))
            }
            Some(GroupBy::Sni) | Some(GroupBy::Host) => {
                self.group_index(t.sni.as_deref().unwrap_or("(no sni)"))
            }
            Some(GroupBy::Client) => self.group_index(&t.client_ip.to_string()),
            Some(GroupBy::Status) => self.group_index(t.version.as_deref().unwrap_or("-")),
            Some(GroupBy::Capture) => self.capture_group,
            Some(GroupBy::GrpcMethod | GroupBy::GrpcStatus) => return self.leave_out(),
        };
        self.samples.push(Sample {
            timestamp_ns: ts,
            value_ns: value,
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
}

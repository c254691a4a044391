//! The HTML report (`tracetail report`, Python `tracetail.report`): capture summary, top
//! sessions, HTTP and DNS transaction summaries, percentile tables and every plot inline,
//! gathered from the records of one pass by a [`ReportBuilder`].

use crate::analyzers::http2::Http2Connection;
use crate::analyzers::{AnalyzerStats, TlsConnection};
use crate::flows::counts::{self, IntervalCounts};
use crate::flows::{FlowRecord, ProtocolCounts};
use crate::pipeline::{FileReport, PassOptions, Record};
use crate::report::explorer::Explorer;
use crate::report::html::Page;
use crate::report::plot::{self, PlotKind, PlotOptions};
use crate::samples::{grpc_status_label, GroupBy, Metric, Protocol, SampleSet};
use crate::stats::percentile::{self, LatencySummary};
use crate::stats::{PercentileMethod, STANDARD_PERCENTILES};
use crate::units::{bytes_human, duration_ns_to_human, epoch_ns_to_rfc3339, thousands};
use std::collections::BTreeMap;

/// What the page shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// Percentile definition used in every table and plot.
    pub method: PercentileMethod,
    /// Conversations listed (largest by bytes).
    pub top_sessions: usize,
    /// Add a side-by-side section grouping TTFB and DNS latency this way (`capture`: one
    /// group per input file, to compare captures).
    pub side_by_side: Option<GroupBy>,
    /// Add a section on the exchanges of the generic TCP analyzer (the pass must run the
    /// `tcp` observer).
    pub tcp: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            method: PercentileMethod::NearestRank,
            top_sessions: 25,
            side_by_side: None,
            tcp: false,
        }
    }
}

/// Everything the page needs, gathered in one pass.
struct Gathered {
    http: BTreeMap<Metric, SampleSet>,
    ttfb_by_server: SampleSet,
    dns: SampleSet,
    handshake: SampleSet,
    statuses: BTreeMap<String, u64>,
    methods: BTreeMap<String, u64>,
    /// HTTP/1.0, HTTP/1.1, 2 (HTTP/2 streams), and whether inside TLS.
    versions: BTreeMap<String, u64>,
    top_flows: Vec<FlowRecord>,
    flows_total: u64,
    http_explorer: Explorer,
    dns_explorer: Explorer,
    /// TTFB and DNS latency grouped by [`ReportOptions::side_by_side`].
    side_by_side: Option<(SampleSet, SampleSet)>,
    /// gRPC calls: total latency by `service/method`, and per method the calls by status.
    grpc_total: SampleSet,
    grpc_statuses: BTreeMap<String, BTreeMap<String, u64>>,
    /// Time to first byte of `tracetail tcp`'s exchanges, by server.
    tcp_ttfb: SampleSet,
    tcp_flagged: BTreeMap<&'static str, u64>,
    tls: TlsGathered,
    http2: Http2Gathered,
    /// Requests (HTTP requests, DNS queries) and responses per interval of `message_width`,
    /// which widens like the pass's packet intervals (bounded memory).
    messages: BTreeMap<i64, IntervalCounts>,
    message_width: i64,
}

/// What the TLS section needs: handshake times by server name and how the connections'
/// handshakes went (counts per value of each field).
struct TlsGathered {
    connections: u64,
    hello_by_sni: SampleSet,
    handshake_by_sni: SampleSet,
    handshake_by_server: SampleSet,
    /// (field, value) → connections, e.g. ("version", "TLS 1.3") → 12.
    counts: BTreeMap<(&'static str, String), u64>,
}

impl TlsGathered {
    fn new() -> Self {
        TlsGathered {
            connections: 0,
            hello_by_sni: SampleSet::new(Metric::TlsHello, Some(GroupBy::Sni)),
            handshake_by_sni: SampleSet::new(Metric::TlsHandshake, Some(GroupBy::Sni)),
            handshake_by_server: SampleSet::new(Metric::TlsHandshake, Some(GroupBy::Server)),
            counts: BTreeMap::new(),
        }
    }

    fn add(&mut self, t: &TlsConnection) {
        self.connections += 1;
        self.hello_by_sni.add_tls(t);
        self.handshake_by_sni.add_tls(t);
        self.handshake_by_server.add_tls(t);
        let mut count = |field: &'static str, value: &str| {
            *self.counts.entry((field, value.to_string())).or_default() += 1;
        };
        let or = |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.to_string());
        count("version", &or(&t.version, "(no ServerHello)"));
        count("cipher suite", &or(&t.cipher_suite, "(no ServerHello)"));
        let alpn = match (&t.alpn, t.version.as_deref()) {
            (Some(a), _) => a.clone(),
            // TLS 1.3 says the chosen protocol only inside the encrypted extensions.
            (None, Some("TLS 1.3")) if !t.decrypted && !t.alpn_offered.is_empty() => {
                "(encrypted: TLS 1.3 without keys)".to_string()
            }
            (None, _) if t.alpn_offered.is_empty() => "(none offered)".to_string(),
            (None, _) => "(none chosen)".to_string(),
        };
        count("ALPN chosen", &alpn);
        count(
            "resumption",
            match (t.resumption, t.server_hello_ns) {
                (Some(how), _) => how,
                (None, Some(_)) => "none (full handshake)",
                (None, None) => "(no ServerHello)",
            },
        );
        count(
            "handshake_ns rule",
            t.handshake_end.unwrap_or("(no client Finished seen)"),
        );
        let decryption = if t.decrypted {
            "decrypted".to_string()
        } else {
            format!("not decrypted: {}", or(&t.undecrypted_reason, "unknown"))
        };
        count("decryption", &decryption);
        for alert in &t.alerts {
            count("alert", alert);
        }
        for flag in &t.flags {
            count("flag", flag);
        }
    }
}

/// Busiest HTTP/2 connections listed (most streams open at once).
const HTTP2_BUSIEST: usize = 10;

/// What the HTTP/2 connections section needs: a few numbers per connection (fewer than its
/// streams' samples), the busiest connections, PING round trips and the SETTINGS seen.
struct Http2Gathered {
    /// Per connection: streams, most open at once, mean open.
    streams: Vec<f64>,
    max_open: Vec<f64>,
    mean_open: Vec<f64>,
    busiest: Vec<Http2Connection>,
    pings: u64,
    ping_rtts_ns: Vec<i64>,
    /// (sent by, setting, value) → connections, e.g. ("server", "MAX_CONCURRENT_STREAMS", 128).
    settings: BTreeMap<(&'static str, &'static str, u32), u64>,
}

impl Http2Gathered {
    fn new() -> Self {
        Http2Gathered {
            streams: Vec::new(),
            max_open: Vec::new(),
            mean_open: Vec::new(),
            busiest: Vec::new(),
            pings: 0,
            ping_rtts_ns: Vec::new(),
            settings: BTreeMap::new(),
        }
    }

    fn connections(&self) -> u64 {
        self.streams.len() as u64
    }

    fn add(&mut self, c: &Http2Connection) {
        self.streams.push(c.streams as f64);
        self.max_open.push(c.max_open_streams as f64);
        self.mean_open.push(c.mean_open_streams);
        self.pings += c.pings;
        self.ping_rtts_ns.extend(&c.ping_rtts_ns);
        for (side, settings) in [
            ("client", &c.client_settings),
            ("server", &c.server_settings),
        ] {
            for (name, value) in settings {
                *self.settings.entry((side, name, *value)).or_default() += 1;
            }
        }
        // Keep only the busiest: memory stays bounded on captures with many connections.
        self.busiest.push(c.clone());
        if self.busiest.len() > HTTP2_BUSIEST * 4 {
            self.keep_busiest();
        }
    }

    /// The busiest first (most open at once, then most streams, then earliest).
    fn keep_busiest(&mut self) {
        self.busiest.sort_by(|a, b| {
            (b.max_open_streams, b.streams)
                .cmp(&(a.max_open_streams, a.streams))
                .then(a.first_ns.cmp(&b.first_ns))
        });
        self.busiest.truncate(HTTP2_BUSIEST);
    }
}

/// What each `handshake_end` rule means, for the reader of the report.
fn handshake_rule_meaning(rule: &str) -> &'static str {
    match rule {
        "client_finished" => "to the client's Finished (TLS ≤ 1.2: its record after ChangeCipherSpec; with keys: the decrypted message)",
        "first_client_encrypted_record" => "TLS 1.3 without keys: to the client's first encrypted record after the ServerHello",
        _ => "no handshake time: the client's Finished was not in the capture",
    }
}

/// Most intervals the rates picture draws.
const RATE_INTERVALS_MOST: usize = 250;

fn flow_bytes(f: &FlowRecord) -> u64 {
    f.client_bytes + f.server_bytes
}

/// Collects what the page needs from the records of a pass (flows and transactions on), in
/// memory bounded by the samples and `top_sessions` flows.
pub struct ReportBuilder {
    options: ReportOptions,
    g: Gathered,
}

impl ReportBuilder {
    pub fn new(options: ReportOptions) -> Self {
        ReportBuilder {
            options,
            g: Gathered {
                http: [Metric::Ttfb, Metric::Total, Metric::Server, Metric::Tshark]
                    .into_iter()
                    .map(|m| (m, SampleSet::new(m, None)))
                    .collect(),
                ttfb_by_server: SampleSet::new(Metric::Ttfb, Some(GroupBy::Server)),
                dns: SampleSet::new(Metric::Dns, Some(GroupBy::Server)),
                handshake: SampleSet::new(Metric::Handshake, None),
                statuses: BTreeMap::new(),
                methods: BTreeMap::new(),
                versions: BTreeMap::new(),
                top_flows: Vec::new(),
                flows_total: 0,
                http_explorer: Explorer::new(Metric::Ttfb.label()),
                dns_explorer: Explorer::new(Metric::Dns.label()),
                side_by_side: options.side_by_side.map(|by| {
                    (
                        SampleSet::new(Metric::Ttfb, Some(by)),
                        SampleSet::new(Metric::Dns, Some(by)),
                    )
                }),
                grpc_total: SampleSet::new(Metric::Total, Some(GroupBy::GrpcMethod)),
                grpc_statuses: BTreeMap::new(),
                tcp_ttfb: SampleSet::new(Metric::Ttfb, Some(GroupBy::Server))
                    .with_protocol(Protocol::Tcp),
                tcp_flagged: BTreeMap::new(),
                tls: TlsGathered::new(),
                http2: Http2Gathered::new(),
                messages: BTreeMap::new(),
                message_width: counts::ADAPTIVE_INTERVAL_START_NS,
            },
        }
    }

    /// What the pass must compute for this page: flows, transactions, TLS rows and packet
    /// counts per interval (the rates over time).
    pub fn pass_options(base: PassOptions) -> PassOptions {
        let mut options = PassOptions {
            flows: true,
            transactions: true,
            adaptive_intervals: true,
            ..base
        };
        options.analyzer.tls.rows = true;
        options.analyzer.http2_connections = true;
        options
    }

    /// Counts a request (`response` false) or response starting at `ts` in its interval.
    fn count_message(&mut self, ts: Option<i64>, response: bool) {
        let Some(ts) = ts else { return };
        counts::count_message_in(&mut self.g.messages, self.g.message_width, ts, response);
        counts::widen_intervals(
            &mut self.g.messages,
            &mut self.g.message_width,
            counts::ADAPTIVE_INTERVALS_MAX,
            IntervalCounts::add,
        );
    }

    /// As [`Self::add`], telling which capture the record came from (for side-by-side by
    /// capture).
    pub fn add_from(&mut self, capture: &str, record: &Record) {
        if let Some((ttfb, dns)) = self.g.side_by_side.as_mut() {
            ttfb.add_record_from(capture, record);
            dns.add_record_from(capture, record);
        }
        self.add(record);
    }

    pub fn add(&mut self, record: &Record) {
        match record {
            Record::Http(t) => {
                self.count_message(t.request_first_ns, false);
                self.count_message(t.response_first_ns, true);
                for set in self.g.http.values_mut() {
                    set.add_http(t);
                }
                self.g.ttfb_by_server.add_http(t);
                self.g.http_explorer.add_http(t);
                let status = t
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no response".into());
                *self.g.statuses.entry(status).or_default() += 1;
                let method = if t.method.is_empty() {
                    "(no request)".to_string()
                } else {
                    t.method.to_string()
                };
                *self.g.methods.entry(method).or_default() += 1;
                // Rows carry "1.1" or "2"; the table names the protocol.
                let version = match (t.version.as_str(), t.stream_id) {
                    (_, Some(_)) => "HTTP/2".to_string(),
                    ("", None) => "(unknown)".to_string(),
                    (v, None) if v.starts_with("HTTP") => v.to_string(),
                    (v, None) => format!("HTTP/{v}"),
                };
                let carried = if t.tls { " in TLS" } else { "" };
                *self.g.versions.entry(version + carried).or_default() += 1;
                if let Some(call) = &t.grpc {
                    self.g.grpc_total.add_http(t);
                    *self
                        .g
                        .grpc_statuses
                        .entry(format!("{}/{}", call.service, call.method))
                        .or_default()
                        .entry(grpc_status_label(call.status))
                        .or_default() += 1;
                }
            }
            Record::Dns(t) => {
                self.count_message(t.query_ns, false);
                self.count_message(t.response_ns, true);
                self.g.dns.add_dns(t);
                self.g.dns_explorer.add_dns(t);
            }
            Record::Tcp(t) => {
                self.g.tcp_ttfb.add_tcp(t);
                for flag in &t.flags {
                    *self.g.tcp_flagged.entry(flag).or_default() += 1;
                }
            }
            Record::Flow(f) => {
                self.g.handshake.add_flow(f);
                self.g.flows_total += 1;
                // Keep only the largest flows: memory stays bounded on long captures.
                self.g.top_flows.push(f.clone());
                if self.g.top_flows.len() > self.options.top_sessions * 4 {
                    self.g
                        .top_flows
                        .sort_by_key(|f| std::cmp::Reverse(flow_bytes(f)));
                    self.g.top_flows.truncate(self.options.top_sessions);
                }
            }
            Record::Tls(t) => self.g.tls.add(t),
            Record::Http2(c) => self.g.http2.add(c),
            // The report asks for records, not rows.
            Record::Row(_) => {}
        }
    }

    /// The page, given the reports of the files read and how many could not be read.
    pub fn build(mut self, reports: &[FileReport], failed: usize) -> String {
        let top = self.options.top_sessions;
        self.g
            .top_flows
            .sort_by_key(|f| std::cmp::Reverse(flow_bytes(f)));
        self.g.top_flows.truncate(top);
        self.g.http2.keep_busiest();
        build_page(&self.options, reports, failed, &self.g)
    }
}

fn summary_row(name: &str, s: &LatencySummary) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        thousands(s.count),
        duration_ns_to_human(s.min as f64),
        duration_ns_to_human(s.mean),
    ];
    row.push(duration_ns_to_human(s.stddev));
    row.extend(STANDARD_PERCENTILES.iter().map(|p| {
        if crate::report::n_too_small(s.count, *p) {
            crate::report::N_TOO_SMALL.to_string()
        } else {
            s.at(*p).map(duration_ns_to_human).unwrap_or_default()
        }
    }));
    row.push(duration_ns_to_human(s.max as f64));
    row
}

const SUMMARY_HEADERS: [&str; 12] = [
    "", "count", "min", "mean", "stddev", "p50", "p90", "p95", "p99", "p99.9", "p99.99", "max",
];

fn plots_for(
    set: &SampleSet,
    kinds: &[PlotKind],
    method: PercentileMethod,
    top: usize,
) -> Vec<String> {
    let (series, hidden) = plot::groups_for_picture(set, top);
    if series.is_empty() {
        return Vec::new();
    }
    let opts = PlotOptions {
        width: 560,
        // Several groups need room for their legend and notes above the data.
        height: if series.len() > 1 { 540 } else { 400 },
        method,
        // The page stays light; the interactive explorer below has the transactions.
        max_points: 3000,
        notes: plot::hidden_groups_note(hidden, "; all are in the table")
            .into_iter()
            .collect(),
        ..PlotOptions::for_set(set)
    };
    kinds
        .iter()
        .filter_map(
            |kind| match plot::render_svg_string(*kind, &series, &opts) {
                Ok(svg) => Some(svg),
                Err(e) => {
                    eprintln!("warning: {kind:?} plot left out of the report: {e}");
                    None
                }
            },
        )
        .collect()
}

/// One table row per group (capture, server, ...) and a comparison plot, per metric.
fn side_by_side(page: &mut Page, ttfb: &SampleSet, dns: &SampleSet, method: PercentileMethod) {
    let by = ttfb.by.map_or("group", GroupBy::name);
    page.section(&format!("Side by side, by {by}"));
    for set in [ttfb, dns] {
        let (_, groups) = set.summaries(method);
        if groups.is_empty() {
            continue;
        }
        page.subheading(&format!("{} by {by}", set.metric.describe()));
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|(name, s)| summary_row(name, s))
            .collect();
        page.table(&SUMMARY_HEADERS, &rows, 1);
        page.plots(&plots_for(
            set,
            &[PlotKind::Compare, PlotKind::Cdf],
            method,
            12,
        ));
    }
}

fn build_page(
    options: &ReportOptions,
    reports: &[FileReport],
    failed: usize,
    g: &Gathered,
) -> String {
    let names: Vec<String> = reports.iter().map(|r| r.file.clone()).collect();
    let mut page = Page::new(&format!("tracetail report: {}", names.join(", ")));
    let mut total = ProtocolCounts::default();
    let mut analyzer = AnalyzerStats::default();
    for r in reports {
        total.merge(&r.counts);
        let a = &r.analyzer;
        analyzer.http_transactions += a.http_transactions;
        analyzer.http_unanswered += a.http_unanswered;
        analyzer.http_orphan_responses += a.http_orphan_responses;
        analyzer.http_transactions_with_gaps += a.http_transactions_with_gaps;
        analyzer.http_parse_errors += a.http_parse_errors;
        analyzer.tcp_gaps += a.tcp_gaps;
        analyzer.tcp_gap_bytes += a.tcp_gap_bytes;
        analyzer.tcp_retransmitted_bytes += a.tcp_retransmitted_bytes;
        analyzer.dns_unanswered += a.dns_unanswered;
    }

    // 1. The capture.
    page.section("Capture");
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| r.counts.clone())
        .chain(std::iter::once(total.clone()))
        .zip(
            names
                .iter()
                .cloned()
                .chain(std::iter::once("total".to_string())),
        )
        .map(|(c, name)| {
            vec![
                name,
                thousands(c.packets),
                bytes_human(c.wire_bytes),
                c.first_ns.map(epoch_ns_to_rfc3339).unwrap_or_default(),
                duration_ns_to_human(c.duration_ns() as f64),
                thousands(c.tcp),
                thousands(c.udp),
                thousands(c.icmp + c.icmpv6),
                thousands(c.arp),
                thousands(c.other_ip + c.non_ip),
                thousands(c.undecodable.values().sum()),
            ]
        })
        .collect();
    let shown = if reports.len() == 1 {
        &rows[..1]
    } else {
        &rows[..]
    };
    page.table(
        &[
            "file",
            "packets",
            "on the wire",
            "first packet (UTC)",
            "duration",
            "TCP",
            "UDP",
            "ICMP",
            "ARP",
            "other",
            "undecodable",
        ],
        shown,
        1,
    );
    for r in reports {
        for w in &r.warnings {
            page.warning(w);
        }
    }
    if failed > 0 {
        page.warning(&format!(
            "{} input file(s) could not be read; see the command's error output.",
            failed
        ));
    }
    page.subheading("Protocol hierarchy");
    let hierarchy: Vec<Vec<String>> = total
        .hierarchy
        .iter()
        .map(|(path, (frames, bytes))| {
            let depth = path.matches(':').count();
            vec![
                format!(
                    "{}{}",
                    "\u{a0}\u{a0}\u{a0}".repeat(depth),
                    path.rsplit(':').next().unwrap_or(path)
                ),
                thousands(*frames),
                bytes_human(*bytes),
            ]
        })
        .collect();
    page.table(&["protocol", "frames", "bytes"], &hierarchy, 1);
    rates_section(&mut page, &total, g);

    // Sections only for what the capture holds: a DNS-only capture gets a DNS report.
    let has_http = analyzer.http_transactions > 0 || !g.http[&Metric::Ttfb].samples.is_empty();
    let has_dns = !g.dns.samples.is_empty() || analyzer.dns_unanswered > 0;
    let has_handshakes = !g.handshake.samples.is_empty();
    let absent: Vec<&str> = [
        (has_http, "HTTP transactions"),
        (has_dns, "DNS queries"),
        (has_handshakes, "complete TCP handshakes"),
    ]
    .iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| *what)
    .collect();
    if !absent.is_empty() {
        page.paragraph(&format!(
            "No {} were found, so the report has no section for them.",
            absent.join(", no ")
        ));
    }
    // 2. Sessions.
    page.section("Top sessions");
    page.paragraph(&format!(
        "{} conversations in all; the {} largest by bytes:",
        thousands(g.flows_total),
        g.top_flows.len()
    ));
    let flow_rows: Vec<Vec<String>> = g
        .top_flows
        .iter()
        .map(|f| {
            vec![
                f.protocol.to_string(),
                std::net::SocketAddr::new(f.client_ip, f.client_port).to_string(),
                std::net::SocketAddr::new(f.server_ip, f.server_port).to_string(),
                duration_ns_to_human(f.duration_ns() as f64),
                thousands(f.client_packets),
                bytes_human(f.client_bytes),
                thousands(f.server_packets),
                bytes_human(f.server_bytes),
                f.tcp_state.as_deref().unwrap_or_default().to_string(),
                f.handshake_ns()
                    .map(|h| duration_ns_to_human(h as f64))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let headers: Vec<&str> = ["proto", "client", "server"]
        .into_iter()
        .chain(crate::flows::CONVERSATION_FIGURES)
        .collect();
    page.table(&headers, &flow_rows, 3);

    let mut metrics_shown = Vec::new();

    // 3. HTTP.
    if has_http {
        metrics_shown.extend([Metric::Ttfb, Metric::Total, Metric::Server, Metric::Tshark]);
        http_section(&mut page, options, &analyzer, g);
    }
    if !g.grpc_statuses.is_empty() {
        grpc_section(&mut page, options, g);
    }
    if g.http2.connections() > 0 {
        http2_section(&mut page, options, &g.http2);
    }

    // 4. DNS.
    if has_dns {
        metrics_shown.push(Metric::Dns);
        page.section("DNS");
        let (dns_all, dns_by_server) = g.dns.summaries(options.method);
        page.paragraph(&format!(
            "{} answered queries, {} unanswered.",
            thousands(g.dns.samples.len() as u64),
            thousands(analyzer.dns_unanswered)
        ));
        if let Some(all) = dns_all {
            let mut rows = vec![summary_row("all", &all)];
            rows.extend(dns_by_server.iter().map(|(n, s)| summary_row(n, s)));
            page.table(&SUMMARY_HEADERS, &rows, 1);
            page.plots(&plots_for(
                &g.dns.ungrouped(),
                &[PlotKind::Hist, PlotKind::Ccdf],
                options.method,
                1,
            ));
            explorer(&mut page, &g.dns_explorer, "xdns", &all);
        }
    }

    // 4b. Any TCP service (`report --protocol tcp`).
    if options.tcp {
        tcp_section(&mut page, options, g);
    }

    // 4c. TLS.
    if g.tls.connections > 0 {
        metrics_shown.extend([Metric::TlsHello, Metric::TlsHandshake]);
        tls_section(&mut page, options, &g.tls);
    }

    // 5. TCP handshakes.
    if let (Some(s), _) = g.handshake.summaries(options.method) {
        metrics_shown.push(Metric::Handshake);
        page.section("TCP handshakes");
        page.table(&SUMMARY_HEADERS, &[summary_row("SYN → ACK", &s)], 1);
        page.plots(&plots_for(
            &g.handshake,
            &[PlotKind::Hist],
            options.method,
            1,
        ));
    }

    if let Some((ttfb, dns)) = &g.side_by_side {
        side_by_side(&mut page, ttfb, dns, options.method);
    }

    // 6. Definitions.
    page.section("How to read this report");
    let defs: Vec<Vec<String>> = metrics_shown
        .iter()
        .map(|m| vec![m.name().to_string(), m.describe().to_string()])
        .collect();
    if !defs.is_empty() {
        page.table(&["metric", "definition"], &defs, 2);
    }
    if has_http {
        page.paragraph(
            "Each HTTP transaction keeps the capture times of the first and last byte of the request and of the response. \
             Times are those of the capture point: where it sits (client, server, middle) decides what the latencies include.",
        );
    }
    page.paragraph(&format!(
        "Percentiles are exact, computed from every sample: {}. A percentile p needs at least \
         1/(1−p) samples (100 for p99, 10,000 for p99.99); with fewer it is shown as \"(n too small)\".",
        options.method.describe()
    ));
    page.render(&format!(
        "made by tracetail {} from {} file(s)",
        env!("CARGO_PKG_VERSION"),
        names.len()
    ))
}

/// Packets, requests and responses per interval: a picture and a small table. The interval
/// width is chosen from the capture's span (gaps left out), in 1-2-5 steps.
fn rates_section(page: &mut Page, total: &ProtocolCounts, g: &Gathered) {
    let Some(packet_width) = total.interval_ns else {
        return; // the pass kept no intervals
    };
    let finest = packet_width.max(g.message_width);
    let starts: Vec<i64> = counts::rebin(&total.intervals, finest, IntervalCounts::add)
        .keys()
        .chain(counts::rebin(&g.messages, finest, IntervalCounts::add).keys())
        .copied()
        .collect::<std::collections::BTreeSet<i64>>()
        .into_iter()
        .collect();
    if starts.is_empty() {
        return;
    }
    let width = plot::rate_width(&starts, finest, RATE_INTERVALS_MOST);
    let mut bins = counts::rebin(&total.intervals, width, IntervalCounts::add);
    for (start, m) in counts::rebin(&g.messages, width, IntervalCounts::add) {
        bins.entry(start).or_default().add(&m);
    }
    let rates = plot::Rates {
        width_ns: width,
        intervals: bins.into_iter().collect(),
    };
    page.section("Rates over time");
    let opts = PlotOptions {
        width: 1000,
        height: 640,
        ..PlotOptions::default()
    };
    match plot::svg_string(&plot::Figure::Rates(&rates), &opts) {
        Ok(svg) => page.plots(&[svg]),
        Err(e) => eprintln!("warning: rates picture left out of the report: {e}"),
    }
    let seconds = width as f64 / 1e9;
    let busiest = |f: fn(&IntervalCounts) -> u64| {
        let (start, c) = rates
            .intervals
            .iter()
            .max_by_key(|(_, c)| f(c))
            .expect("intervals are not empty");
        (f(c), *start)
    };
    let sum = |f: fn(&IntervalCounts) -> u64| rates.intervals.iter().map(|(_, c)| f(c)).sum();
    let busy_time = (rates.intervals.len() as f64 * seconds).max(f64::MIN_POSITIVE);
    let rows: Vec<Vec<String>> = [
        (
            "packets",
            (|c| c.packets) as fn(&IntervalCounts) -> u64,
            false,
        ),
        ("bytes on the wire", |c| c.bytes, true),
        (
            "requests (HTTP requests + DNS queries)",
            |c| c.requests,
            false,
        ),
        ("responses (HTTP + DNS)", |c| c.responses, false),
    ]
    .into_iter()
    .map(|(what, f, bytes)| {
        let (most, at) = busiest(f);
        let show = |n: f64| {
            if bytes {
                format!("{}/s", bytes_human(n as u64))
            } else {
                format!("{}/s", thousands(n.round() as u64))
            }
        };
        vec![
            what.to_string(),
            if bytes {
                bytes_human(sum(f))
            } else {
                thousands(sum(f))
            },
            show(sum(f) as f64 / busy_time),
            show(most as f64 / seconds),
            if most > 0 {
                epoch_ns_to_rfc3339(at)
            } else {
                String::new()
            },
        ]
    })
    .collect();
    page.paragraph(&format!(
        "Intervals of {} ({} with traffic); requests and responses are counted in the interval \
         of their first byte. Rates average over the intervals with traffic.",
        plot::width_human(width),
        thousands(rates.intervals.len() as u64)
    ));
    page.table(
        &[
            "",
            "total",
            "mean rate",
            "busiest interval",
            "busiest interval starts (UTC)",
        ],
        &rows,
        1,
    );
}

/// The HTTP section: counts, percentile tables (every server), pictures and the explorer.
/// Per gRPC method: calls, their statuses, and total-latency percentiles; then the methods'
/// distributions side by side.
fn grpc_section(page: &mut Page, options: &ReportOptions, g: &Gathered) {
    page.section("gRPC calls");
    let calls: u64 = g.grpc_statuses.values().flat_map(|m| m.values()).sum();
    page.paragraph(&format!(
        "{} calls to {} methods. Latency is the whole call: first byte of the request to the \
         last byte of the response (trailers included). Percentiles: {}.",
        thousands(calls),
        g.grpc_statuses.len(),
        options.method.describe()
    ));
    let (_, by_method) = g.grpc_total.summaries(options.method);
    let latency: BTreeMap<&str, &LatencySummary> =
        by_method.iter().map(|(m, s)| (m.as_str(), s)).collect();
    let percentile = |s: Option<&&LatencySummary>, p: f64| -> String {
        match s {
            Some(s) if crate::report::n_too_small(s.count, p) => {
                crate::report::N_TOO_SMALL.to_string()
            }
            Some(s) => s.at(p).map(duration_ns_to_human).unwrap_or_default(),
            None => String::new(),
        }
    };
    let mut rows: Vec<(u64, Vec<String>)> = g
        .grpc_statuses
        .iter()
        .map(|(method, statuses)| {
            let count: u64 = statuses.values().sum();
            let statuses = statuses
                .iter()
                .map(|(status, n)| format!("{status} ×{}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", ");
            let s = latency.get(method.as_str());
            let row = vec![
                method.clone(),
                thousands(count),
                statuses,
                percentile(s, 50.0),
                percentile(s, 90.0),
                percentile(s, 99.0),
                s.map(|s| duration_ns_to_human(s.max as f64))
                    .unwrap_or_default(),
            ];
            (count, row)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, row)| row).collect();
    page.table(
        &["method", "calls", "statuses", "p50", "p90", "p99", "max"],
        &rows,
        3,
    );
    page.plots(&plots_for(
        &g.grpc_total,
        &[PlotKind::Compare],
        options.method,
        12,
    ));
}

fn http_section(page: &mut Page, options: &ReportOptions, analyzer: &AnalyzerStats, g: &Gathered) {
    page.section("HTTP transactions");
    page.paragraph(&format!(
        "{} transactions; {} unanswered, {} responses without a request, {} spanning a capture gap, {} parse errors. \
         TCP: {} gaps ({} missing), {} retransmitted.",
        thousands(analyzer.http_transactions),
        thousands(analyzer.http_unanswered),
        thousands(analyzer.http_orphan_responses),
        thousands(analyzer.http_transactions_with_gaps),
        thousands(analyzer.http_parse_errors),
        thousands(analyzer.tcp_gaps),
        bytes_human(analyzer.tcp_gap_bytes),
        bytes_human(analyzer.tcp_retransmitted_bytes),
    ));
    let counts = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| vec![k.clone(), thousands(*v)])
            .collect::<Vec<_>>()
    };
    page.subheading("Status codes, methods and versions");
    page.table(&["status", "transactions"], &counts(&g.statuses), 1);
    page.table(&["method", "transactions"], &counts(&g.methods), 1);
    page.table(&["version", "transactions"], &counts(&g.versions), 1);
    page.subheading("Latency percentiles (all HTTP transactions)");
    page.paragraph(&format!("Percentiles: {}.", options.method.describe()));
    let mut latency_rows = Vec::new();
    for (metric, set) in &g.http {
        if let (Some(s), _) = set.summaries(options.method) {
            latency_rows.push(summary_row(metric.label(), &s));
        }
    }
    page.table(&SUMMARY_HEADERS, &latency_rows, 1);
    page.paragraph("Definitions of the metrics are at the end of the report.");
    let (_, by_server) = g.ttfb_by_server.summaries(options.method);
    if !by_server.is_empty() {
        page.subheading(&format!(
            "Time to first byte by server (all {}; click a column to sort)",
            by_server.len()
        ));
        let rows: Vec<Vec<String>> = by_server
            .iter()
            .map(|(name, s)| summary_row(name, s))
            .collect();
        page.table(&SUMMARY_HEADERS, &rows, 1);
    }
    let ttfb = &g.http[&Metric::Ttfb];
    if ttfb.samples.is_empty() {
        return;
    }
    page.subheading(
        "Pictures of the time to first byte (always plot: summary numbers alone mislead)",
    );
    page.plots(&plots_for(
        ttfb,
        &[PlotKind::Hist, PlotKind::Ccdf, PlotKind::Timeline],
        options.method,
        1,
    ));
    page.plots(&plots_for(
        &g.ttfb_by_server,
        &[PlotKind::Spectrum, PlotKind::Compare, PlotKind::Cdf],
        options.method,
        8,
    ));
    if let (Some(all), _) = ttfb.summaries(options.method) {
        explorer(page, &g.http_explorer, "xhttp", &all);
    }
}

/// A count or mean of streams: whole numbers as counts, the rest with two decimals.
fn streams_figure(v: f64) -> String {
    if v.fract() == 0.0 && v >= 0.0 {
        thousands(v as u64)
    } else {
        format!("{v:.2}")
    }
}

/// min, mean, p50, p90, p99 and max of `values` (not empty), in a table's few columns.
fn short_summary(
    values: &[f64],
    method: PercentileMethod,
    show: fn(f64) -> String,
    show_mean: fn(f64) -> String,
) -> Vec<String> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as u64;
    let mut row = vec![
        show(sorted[0]),
        show_mean(sorted.iter().sum::<f64>() / n as f64),
    ];
    row.extend([50.0, 90.0, 99.0].iter().map(|&p| {
        if crate::report::n_too_small(n, p) {
            crate::report::N_TOO_SMALL.to_string()
        } else {
            show(percentile::percentile_f64(&sorted, p, method))
        }
    }));
    row.push(show(sorted[sorted.len() - 1]));
    row
}

/// HTTP/2 connections as a whole: how many streams each carried and kept open at once (the
/// busiest listed), PING round trips, and the SETTINGS each side sent.
fn http2_section(page: &mut Page, options: &ReportOptions, h2: &Http2Gathered) {
    page.section("HTTP/2 connections");
    let streams: f64 = h2.streams.iter().sum();
    page.paragraph(&format!(
        "{} HTTP/2 connections carried {} streams (their transactions are in the HTTP \
         section). A stream is open from the first frame of its request until both sides ended \
         it (END_STREAM each way, or RST_STREAM); the mean is over time, from the connection's \
         first frame to its last. A server caps the streams open at once with \
         MAX_CONCURRENT_STREAMS (\"server's limit\"; all SETTINGS are below). Percentiles: {}.",
        thousands(h2.connections()),
        thousands(streams as u64),
        options.method.describe()
    ));
    let rows: Vec<Vec<String>> = [
        ("streams", &h2.streams),
        ("most open at once", &h2.max_open),
        ("mean open", &h2.mean_open),
    ]
    .into_iter()
    .map(|(what, values)| {
        let mut row = vec![what.to_string()];
        row.extend(short_summary(
            values,
            options.method,
            streams_figure,
            |mean| format!("{mean:.2}"),
        ));
        row
    })
    .collect();
    page.table(
        &["per connection", "min", "mean", "p50", "p90", "p99", "max"],
        &rows,
        1,
    );

    let shown = h2.busiest.len() as u64;
    page.subheading(&if shown == h2.connections() {
        format!("Connections (all {shown}), most streams open at once first")
    } else {
        format!("Busiest connections (the {shown} with most streams open at once)")
    });
    let rows: Vec<Vec<String>> = h2
        .busiest
        .iter()
        .map(|c| {
            vec![
                std::net::SocketAddr::new(c.client_ip, c.client_port).to_string(),
                std::net::SocketAddr::new(c.server_ip, c.server_port).to_string(),
                thousands(c.streams),
                thousands(c.max_open_streams),
                format!("{:.2}", c.mean_open_streams),
                c.server_settings
                    .get("MAX_CONCURRENT_STREAMS")
                    .map(|v| thousands(u64::from(*v)))
                    .unwrap_or_else(|| "(not sent: none)".to_string()),
                duration_ns_to_human(c.last_ns.saturating_sub(c.first_ns) as f64),
                thousands(c.pings),
            ]
        })
        .collect();
    page.table(
        &[
            "client",
            "server",
            "streams",
            "most open",
            "mean open",
            "server's limit",
            "duration",
            "PINGs",
        ],
        &rows,
        2,
    );

    if h2.pings > 0 {
        page.subheading("PING round trips (PING → its PING ACK)");
        page.paragraph(&format!(
            "PINGs sent (either side): {}; answered in the capture: {} (the first 64 of each \
             connection are timed). A PING is answered by the peer's HTTP/2 stack at once, so \
             its round trip is the network's plus that stack's, without the application's work.",
            thousands(h2.pings),
            thousands(h2.ping_rtts_ns.len() as u64)
        ));
        if !h2.ping_rtts_ns.is_empty() {
            let rtts: Vec<f64> = h2.ping_rtts_ns.iter().map(|&ns| ns as f64).collect();
            let mut row = vec!["PING → ACK".to_string(), thousands(rtts.len() as u64)];
            row.extend(short_summary(
                &rtts,
                options.method,
                duration_ns_to_human,
                duration_ns_to_human,
            ));
            page.table(
                &["", "count", "min", "mean", "p50", "p90", "p99", "max"],
                &[row],
                1,
            );
        }
    }

    if !h2.settings.is_empty() {
        page.subheading("SETTINGS sent (the last value of each, per connection)");
        let rows: Vec<Vec<String>> = h2
            .settings
            .iter()
            .map(|((side, name, value), n)| {
                vec![
                    side.to_string(),
                    name.to_string(),
                    thousands(u64::from(*value)),
                    thousands(*n),
                ]
            })
            .collect();
        page.table(&["sent by", "setting", "value", "connections"], &rows, 2);
    }
}

/// The interactive explorer, with tail-zoom buttons at the exact p90 and p99 (when n allows).
fn explorer(page: &mut Page, explorer: &Explorer, id: &str, all: &LatencySummary) {
    if explorer.is_empty() {
        return;
    }
    let zoom: Vec<(&str, f64)> = [("p90", 90.0), ("p99", 99.0)]
        .into_iter()
        .filter(|(_, p)| !crate::report::n_too_small(all.count, *p))
        .filter_map(|(name, p)| all.at(p).map(|v| (name, v)))
        .collect();
    page.raw(&explorer.html(id, "Every transaction (interactive)", &zoom));
}

/// Exchanges of the generic request/response analyzer: time to first byte by server.
fn tcp_section(page: &mut Page, options: &ReportOptions, g: &Gathered) {
    page.section("TCP request/response exchanges (any protocol)");
    let flagged: Vec<String> = g
        .tcp_flagged
        .iter()
        .map(|(flag, n)| format!("{} {flag}", thousands(*n)))
        .collect();
    page.paragraph(&format!(
        "{} exchanges with a time to first byte (response first byte − request first byte), \
         {} without one; flags: {}. Each is a run of client bytes and the server bytes that \
         follow it, whatever the protocol (see `tracetail tcp`).",
        thousands(g.tcp_ttfb.samples.len() as u64),
        thousands(g.tcp_ttfb.missing),
        if flagged.is_empty() {
            "none".to_string()
        } else {
            flagged.join(", ")
        }
    ));
    let (all, by_server) = g.tcp_ttfb.summaries(options.method);
    if let Some(all) = all {
        let mut rows = vec![summary_row("all", &all)];
        rows.extend(by_server.iter().map(|(n, s)| summary_row(n, s)));
        page.table(&SUMMARY_HEADERS, &rows, 1);
        page.plots(&plots_for(
            &g.tcp_ttfb.ungrouped(),
            &[PlotKind::Hist, PlotKind::Ccdf],
            options.method,
            1,
        ));
    }
}

/// TLS connections: handshake times by server name and server, how the handshakes went
/// (versions, suites, ALPN, resumption, alerts) and what was decrypted.
fn tls_section(page: &mut Page, options: &ReportOptions, tls: &TlsGathered) {
    page.section("TLS handshakes");
    let decrypted = tls
        .counts
        .get(&("decryption", "decrypted".to_string()))
        .copied()
        .unwrap_or(0);
    let decryption = if decrypted == 0 {
        "none decrypted (give the clients' key log with --keylog to see the HTTP inside)"
            .to_string()
    } else {
        format!(
            "{} decrypted with the key log (their HTTP transactions are in the HTTP section)",
            thousands(decrypted)
        )
    };
    page.paragraph(&format!(
        "{} TLS connections (found by content, on any port), {decryption}. Hello time is \
         ServerHello − ClientHello (one round trip plus the server's work); handshake time is \
         ClientHello → the client's Finished, found by the rule in the last table.",
        thousands(tls.connections),
    ));
    let (hello, _) = tls.hello_by_sni.summaries(options.method);
    let (handshake, _) = tls.handshake_by_sni.summaries(options.method);
    let rows: Vec<Vec<String>> = [("hello time", hello), ("handshake time", handshake)]
        .into_iter()
        .filter_map(|(name, s)| s.map(|s| summary_row(name, &s)))
        .collect();
    if !rows.is_empty() {
        page.table(&SUMMARY_HEADERS, &rows, 1);
    }
    for (set, what) in [
        (&tls.hello_by_sni, "Hello time by server name (SNI)"),
        (&tls.handshake_by_sni, "Handshake time by server name (SNI)"),
        (&tls.handshake_by_server, "Handshake time by server"),
    ] {
        let (_, groups) = set.summaries(options.method);
        // One group would repeat the row above.
        if groups.len() < 2 {
            continue;
        }
        page.subheading(&format!(
            "{what} (all {}; click a column to sort)",
            groups.len()
        ));
        let rows: Vec<Vec<String>> = groups.iter().map(|(n, s)| summary_row(n, s)).collect();
        page.table(&SUMMARY_HEADERS, &rows, 1);
    }
    if !tls.handshake_by_sni.samples.is_empty() {
        page.plots(&plots_for(
            &tls.handshake_by_sni.ungrouped(),
            &[PlotKind::Hist, PlotKind::Ccdf],
            options.method,
            1,
        ));
    }
    page.subheading("How the handshakes went");
    let fields = [
        "version",
        "cipher suite",
        "ALPN chosen",
        "resumption",
        "decryption",
        "alert",
        "flag",
    ];
    let rows: Vec<Vec<String>> = fields
        .iter()
        .flat_map(|want| tls.counts.iter().filter(move |((f, _), _)| f == want))
        .map(|((field, value), n)| vec![field.to_string(), value.clone(), thousands(*n)])
        .collect();
    page.table(&["field", "value", "connections"], &rows, 2);
    page.subheading("Which rule dated the handshake time (handshake_end)");
    let rows: Vec<Vec<String>> = tls
        .counts
        .iter()
        .filter(|((field, _), _)| *field == "handshake_ns rule")
        .map(|((_, rule), n)| {
            vec![
                rule.clone(),
                handshake_rule_meaning(rule).to_string(),
                thousands(*n),
            ]
        })
        .collect();
    page.table(&["rule", "meaning", "connections"], &rows, 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::test_rows::http;

    #[test]
    fn grpc_breakdown_per_method_only_when_there_are_calls() {
        let mut builder = ReportBuilder::new(ReportOptions::default());
        for (call, total) in [
            (Some(("pkg.Svc/Get", Some(0))), Some(1_000_000)),
            (Some(("pkg.Svc/Get", Some(0))), Some(3_000_000)),
            (Some(("pkg.Svc/Get", Some(5))), Some(2_000_000)),
            (Some(("pkg.Svc/Watch", None)), None),
            (None, Some(9_000_000)),
        ] {
            builder.add(&Record::Http(http(call, total)));
        }
        let page = builder.build(&[], 0);
        assert!(page.contains("gRPC calls"));
        assert!(page.contains("4 calls to 2 methods"));
        // Get: 3 calls, two statuses, p50 of {1, 2, 3} ms and max 3 ms.
        let get = page
            .find("<td class=\"l\">pkg.Svc/Get</td>")
            .expect("Get row");
        let row = &page[get..get + page[get..].find("</tr>").unwrap()];
        for cell in ["3", "0 OK ×2, 5 NOT_FOUND ×1", "2.000ms", "3.000ms"] {
            assert!(row.contains(&format!(">{cell}</td>")), "{cell} in {row}");
        }
        // Watch: counted, without a status and without latency.
        assert!(page.contains("(no status) ×1"));

        let mut builder = ReportBuilder::new(ReportOptions::default());
        builder.add(&Record::Http(http(None, Some(1_000))));
        assert!(!builder.build(&[], 0).contains("gRPC calls"));
    }

    #[test]
    fn versions_table_names_the_protocol() {
        let mut builder = ReportBuilder::new(ReportOptions::default());
        let h2 = http(None, Some(1_000));
        let mut h1 = h2.clone();
        h1.version = "1.1".into();
        h1.stream_id = None;
        let mut h2_tls = h2.clone();
        h2_tls.tls = true;
        for t in [h1.clone(), h1, h2, h2_tls] {
            builder.add(&Record::Http(t));
        }
        let page = builder.build(&[], 0);
        for row in [
            "HTTP/1.1</td><td>2<",
            "HTTP/2</td><td>1<",
            "HTTP/2 in TLS</td><td>1<",
        ] {
            assert!(page.contains(row), "{row}");
        }
    }

    fn h2_connection(
        client_port: u16,
        streams: u64,
        max_open: u64,
        rtts: &[i64],
    ) -> Http2Connection {
        Http2Connection {
            connection_id: u64::from(client_port),
            client_ip: "10.0.0.1".parse().unwrap(),
            client_port,
            server_ip: "10.0.0.2".parse().unwrap(),
            server_port: 443,
            first_ns: 0,
            last_ns: 2_000_000,
            streams,
            max_open_streams: max_open,
            mean_open_streams: max_open as f64 / 2.0,
            pings: rtts.len() as u64,
            ping_rtts_ns: rtts.to_vec(),
            client_settings: [("ENABLE_PUSH", 0)].into_iter().collect(),
            server_settings: [("MAX_CONCURRENT_STREAMS", 128)].into_iter().collect(),
        }
    }

    /// The `<tr>` holding a cell with `first`.
    fn row_of<'a>(page: &'a str, first: &str) -> &'a str {
        let at = page
            .find(&format!("<td class=\"l\">{first}</td>"))
            .unwrap_or_else(|| panic!("row {first}"));
        &page[at..at + page[at..].find("</tr>").unwrap()]
    }

    #[test]
    fn http2_connections_section_only_when_there_are_connections() {
        let mut builder = ReportBuilder::new(ReportOptions::default());
        builder.add(&Record::Http(http(None, Some(1_000))));
        for (port, streams, max_open, rtts) in [
            (1001, 60, 4, &[][..]),
            (1002, 3, 1, &[40_000, 60_000][..]),
            (1003, 10, 2, &[50_000][..]),
        ] {
            builder.add(&Record::Http2(h2_connection(port, streams, max_open, rtts)));
        }
        let page = builder.build(&[], 0);
        assert!(page.contains("HTTP/2 connections"));
        assert!(page.contains("3 HTTP/2 connections carried 73 streams"));
        // Per connection: streams {3, 10, 60}, most open {1, 2, 4}, mean open {0.5, 1, 2}.
        let streams = row_of(&page, "streams");
        for cell in ["3", "24.33", "10", "60"] {
            assert!(
                streams.contains(&format!(">{cell}</td>")),
                "{cell} in {streams}"
            );
        }
        let most = row_of(&page, "most open at once");
        for cell in ["1", "2.33", "2", "4"] {
            assert!(most.contains(&format!(">{cell}</td>")), "{cell} in {most}");
        }
        assert!(row_of(&page, "mean open").contains(">0.50</td>"));
        // The busiest connection comes first, with the server's limit beside it.
        let busiest = row_of(&page, "10.0.0.1:1001");
        for cell in ["60", "4", "2.00", "128", "2.000ms", "0"] {
            assert!(
                busiest.contains(&format!(">{cell}</td>")),
                "{cell} in {busiest}"
            );
        }
        assert!(page.find("10.0.0.1:1001").unwrap() < page.find("10.0.0.1:1003").unwrap());
        // Three round trips: median 50 µs, max 60 µs.
        let ping = row_of(&page, "PING → ACK");
        for cell in ["3", "40.000µs", "50.000µs", "60.000µs"] {
            assert!(ping.contains(&format!(">{cell}</td>")), "{cell} in {ping}");
        }
        // SETTINGS: per side, setting and value, the connections that sent it.
        let limit = row_of(&page, "MAX_CONCURRENT_STREAMS");
        assert!(limit.contains(">128</td><td>3</td>"), "{limit}");
        assert!(row_of(&page, "client").contains(">ENABLE_PUSH</td>"));

        // No HTTP/2 connections: no section; no pings: no PING table.
        let mut builder = ReportBuilder::new(ReportOptions::default());
        builder.add(&Record::Http(http(None, Some(1_000))));
        assert!(!builder.build(&[], 0).contains("HTTP/2 connections"));
        let mut builder = ReportBuilder::new(ReportOptions::default());
        builder.add(&Record::Http2(h2_connection(1001, 1, 1, &[])));
        assert!(!builder.build(&[], 0).contains("PING round trips"));
    }
}

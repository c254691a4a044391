//! `tracetail report`: one self-contained HTML page — capture summary, top sessions, HTTP and
//! DNS transaction summaries, percentile tables and every plot inline. The first thing a new
//! user runs.

use super::common::{self, Inputs};
use super::latency::summaries;
use super::plot::series_of;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::analyzers::AnalyzerStats;
use tracetail::flows::{FlowRecord, ProtocolCounts};
use tracetail::pipeline::{PassOptions, Record};
use tracetail::report::html::Page;
use tracetail::report::plot::{self, PlotKind, PlotOptions};
use tracetail::samples::{GroupBy, Metric, SampleSet};
use tracetail::stats::percentile::LatencySummary;
use tracetail::stats::{PercentileMethod, STANDARD_PERCENTILES};
use tracetail::units::{bytes_human, duration_ns_to_human, epoch_ns_to_rfc3339, thousands};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// Output HTML file.
    #[arg(short, long, default_value = "report.html")]
    output: PathBuf,
    /// Percentile definition used in every table and plot.
    #[arg(long, value_enum, default_value_t = PercentileMethod::NearestRank)]
    method: PercentileMethod,
    /// Conversations listed (largest by bytes; 1 to 10000).
    #[arg(long, default_value_t = 25, value_parser = super::limits::int::<usize>(1, 10_000))]
    top_sessions: usize,
}

/// Everything the page needs, gathered in one pass.
struct Gathered {
    http: BTreeMap<Metric, SampleSet>,
    ttfb_by_server: SampleSet,
    dns: SampleSet,
    handshake: SampleSet,
    statuses: BTreeMap<String, u64>,
    methods: BTreeMap<String, u64>,
    top_flows: Vec<FlowRecord>,
    flows_total: u64,
}

fn flow_bytes(f: &FlowRecord) -> u64 {
    f.client_bytes + f.server_bytes
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut g = Gathered {
        http: [Metric::Ttfb, Metric::Total, Metric::Server, Metric::Tshark]
            .into_iter()
            .map(|m| (m, SampleSet::new(m, None)))
            .collect(),
        ttfb_by_server: SampleSet::new(Metric::Ttfb, Some(GroupBy::Server)),
        dns: SampleSet::new(Metric::Dns, Some(GroupBy::Server)),
        handshake: SampleSet::new(Metric::Handshake, None),
        statuses: BTreeMap::new(),
        methods: BTreeMap::new(),
        top_flows: Vec::new(),
        flows_total: 0,
    };
    let options = PassOptions {
        flows: true,
        transactions: true,
        progress: common::progress_wanted(),
        analyzer: args.analysis.config(),
        ..Default::default()
    };
    let top = args.top_sessions;
    let run = common::run_pass(&args.inputs.files, &options, &mut |_, record| {
        match &record {
            Record::Http(t) => {
                for set in g.http.values_mut() {
                    set.add_http(t);
                }
                g.ttfb_by_server.add_http(t);
                let status = t
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "no response".into());
                *g.statuses.entry(status).or_default() += 1;
                let method = if t.method.is_empty() {
                    "(no request)".to_string()
                } else {
                    t.method.clone()
                };
                *g.methods.entry(method).or_default() += 1;
            }
            Record::Dns(t) => g.dns.add_dns(t),
            Record::Flow(f) => {
                g.handshake.add_flow(f);
                g.flows_total += 1;
                // Keep only the largest flows: memory stays bounded on long captures.
                g.top_flows.push(f.clone());
                if g.top_flows.len() > top * 4 {
                    g.top_flows
                        .sort_by_key(|f| std::cmp::Reverse(flow_bytes(f)));
                    g.top_flows.truncate(top);
                }
            }
        }
        Ok(())
    })?;
    g.top_flows
        .sort_by_key(|f| std::cmp::Reverse(flow_bytes(f)));
    g.top_flows.truncate(top);

    let html = build_page(&args, &run, &g)?;
    std::fs::write(&args.output, html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.output.display()))?;
    eprintln!("wrote {}", args.output.display());
    Ok(run.exit_code())
}

fn summary_row(name: &str, s: &LatencySummary) -> Vec<String> {
    let mut row = vec![
        name.to_string(),
        thousands(s.count),
        duration_ns_to_human(s.min as f64),
        duration_ns_to_human(s.mean),
    ];
    row.push(duration_ns_to_human(s.stddev));
    row.extend(
        STANDARD_PERCENTILES
            .iter()
            .map(|p| s.at(*p).map(duration_ns_to_human).unwrap_or_default()),
    );
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
    let series = series_of(set, top);
    if series.is_empty() {
        return Vec::new();
    }
    let opts = PlotOptions {
        metric: set.metric.label().to_string(),
        width: 560,
        height: 380,
        method,
        ..Default::default()
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

fn build_page(args: &Args, run: &common::Run, g: &Gathered) -> anyhow::Result<String> {
    let names: Vec<String> = run.reports.iter().map(|r| r.file.clone()).collect();
    let mut page = Page::new(&format!("tracetail report: {}", names.join(", ")));
    let mut total = ProtocolCounts::default();
    let mut analyzer = AnalyzerStats::default();
    for r in &run.reports {
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
    let rows: Vec<Vec<String>> = run
        .reports
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
    let shown = if run.reports.len() == 1 {
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
    for r in &run.reports {
        for w in &r.warnings {
            page.warning(w);
        }
    }
    if run.failed > 0 {
        page.warning(&format!(
            "{} input file(s) could not be read; see the command's error output.",
            run.failed
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
                f.protocol.clone(),
                std::net::SocketAddr::new(f.client_ip, f.client_port).to_string(),
                std::net::SocketAddr::new(f.server_ip, f.server_port).to_string(),
                duration_ns_to_human(f.duration_ns() as f64),
                thousands(f.client_packets),
                bytes_human(f.client_bytes),
                thousands(f.server_packets),
                bytes_human(f.server_bytes),
                f.tcp_state.clone().unwrap_or_default(),
                f.handshake_ns()
                    .map(|h| duration_ns_to_human(h as f64))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    page.table(
        &[
            "proto",
            "client",
            "server",
            "duration",
            "pkts →",
            "bytes →",
            "pkts ←",
            "bytes ←",
            "state",
            "handshake",
        ],
        &flow_rows,
        3,
    );

    // 3. HTTP.
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
    page.subheading("Status codes and methods");
    page.table(&["status", "transactions"], &counts(&g.statuses), 1);
    page.table(&["method", "transactions"], &counts(&g.methods), 1);
    page.subheading("Latency percentiles (all HTTP transactions)");
    page.paragraph(&format!("Percentiles: {}.", args.method.describe()));
    let mut latency_rows = Vec::new();
    for (metric, set) in &g.http {
        if let (Some(s), _) = summaries(set, args.method) {
            latency_rows.push(summary_row(metric.label(), &s));
        }
    }
    page.table(&SUMMARY_HEADERS, &latency_rows, 1);
    page.paragraph("Definitions of the metrics are at the end of the report.");
    let (_, by_server) = summaries(&g.ttfb_by_server, args.method);
    if !by_server.is_empty() {
        page.subheading("Time to first byte by server");
        let rows: Vec<Vec<String>> = by_server
            .iter()
            .take(30)
            .map(|(name, s)| summary_row(name, s))
            .collect();
        page.table(&SUMMARY_HEADERS, &rows, 1);
    }
    let ttfb = &g.http[&Metric::Ttfb];
    page.subheading(
        "Pictures of the time to first byte (always plot: summary numbers alone mislead)",
    );
    page.plots(&plots_for(
        ttfb,
        &[PlotKind::Hist, PlotKind::Ccdf, PlotKind::Timeline],
        args.method,
        1,
    ));
    page.plots(&plots_for(
        &g.ttfb_by_server,
        &[PlotKind::Spectrum, PlotKind::Compare, PlotKind::Cdf],
        args.method,
        8,
    ));

    // 4. DNS.
    page.section("DNS");
    let (dns_all, dns_by_server) = summaries(&g.dns, args.method);
    page.paragraph(&format!(
        "{} answered queries, {} unanswered.",
        thousands(g.dns.samples.len() as u64),
        thousands(analyzer.dns_unanswered)
    ));
    if let Some(all) = dns_all {
        let mut rows = vec![summary_row("all", &all)];
        rows.extend(
            dns_by_server
                .iter()
                .take(20)
                .map(|(n, s)| summary_row(n, s)),
        );
        page.table(&SUMMARY_HEADERS, &rows, 1);
        page.plots(&plots_for(
            &g.dns.ungrouped(),
            &[PlotKind::Hist, PlotKind::Ccdf],
            args.method,
            1,
        ));
    }

    // 5. TCP handshakes.
    page.section("TCP handshakes");
    if let (Some(s), _) = summaries(&g.handshake, args.method) {
        page.table(&SUMMARY_HEADERS, &[summary_row("SYN → ACK", &s)], 1);
        page.plots(&plots_for(&g.handshake, &[PlotKind::Hist], args.method, 1));
    } else {
        page.paragraph("No complete three-way handshake in the capture.");
    }

    // 6. Definitions.
    page.section("How to read this report");
    let defs: Vec<Vec<String>> = [
        Metric::Ttfb,
        Metric::Total,
        Metric::Server,
        Metric::Tshark,
        Metric::Dns,
        Metric::Handshake,
    ]
    .iter()
    .map(|m| vec![m.name().to_string(), m.describe().to_string()])
    .collect();
    page.table(&["metric", "definition"], &defs, 2);
    page.paragraph(
        "Each HTTP transaction keeps the capture times of the first and last byte of the request and of the response. \
         Times are those of the capture point: where it sits (client, server, middle) decides what the latencies include.",
    );
    page.paragraph(&format!(
        "Percentiles are exact, computed from every sample: {}.",
        args.method.describe()
    ));
    Ok(page.render(&format!(
        "made by tracetail {} from {} file(s)",
        env!("CARGO_PKG_VERSION"),
        names.len()
    )))
}

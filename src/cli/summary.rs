//! `tracetail summary`: packet and byte counts, time span, protocols, undecodable packets.

use super::common::{self, Inputs, TimeFormat, TimeStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use tracetail::flows::ProtocolCounts;
use tracetail::pipeline::{FileReport, PassOptions, Record};
use tracetail::report::json::{self, interval_rows, time_anomalies, MAX_FILLED_INTERVALS};
use tracetail::units::{
    bytes_human, duration_ns_to_human, parse_seconds_to_ns, thousands, Resolution,
};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Print one JSON object (totals at the top level, per-file details under `files`).
    #[arg(long)]
    json: bool,
    /// Counts per interval of this length (`1s`, `100ms`, `5m`, or seconds): packets, bytes,
    /// TCP, UDP, HTTP requests + DNS queries, and their responses. Intervals start at
    /// multiples of the length since the epoch, so several captures line up.
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    intervals: Option<i64>,
    /// With --intervals: the interval table as CSV (one row per interval of all files).
    #[arg(long, requires = "intervals", conflicts_with = "json")]
    csv: bool,
    /// How the text output prints times.
    #[arg(long, value_enum, default_value_t = TimeFormat::Iso)]
    time_format: TimeFormat,
}

/// `1s`, `250ms`, `10us`, `5m`, `1h`, or plain seconds, as nanoseconds (positive).
fn parse_interval(text: &str) -> Result<i64, String> {
    let units: [(&str, i64); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|(suffix, scale)| text.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((text, 1_000_000_000));
    parse_seconds_to_ns(number)
        .and_then(|n| i128::from(n).checked_mul(i128::from(scale)))
        .map(|ns| ns / 1_000_000_000)
        .and_then(|ns| i64::try_from(ns).ok())
        .filter(|ns| *ns > 0)
        .ok_or_else(|| format!("'{text}' is not a positive duration such as 1s, 100ms or 5m"))
}

/// HTTP requests / DNS queries (false) and responses (true) by interval start, per file as
/// the pass streams them (files in command-line order; `path` tells runs apart).
type MessageBins = Vec<(*const Path, String, BTreeMap<i64, (u64, u64)>)>;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        select: args.inputs.selection(),
        // Requests and responses per interval need the transactions.
        transactions: args.intervals.is_some(),
        intervals_ns: args.intervals,
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let mut messages: MessageBins = Vec::new();
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let Some(width) = args.intervals else {
            return Ok(());
        };
        if messages
            .last()
            .is_none_or(|(p, _, _)| !std::ptr::eq(*p, path))
        {
            messages.push((
                path as *const Path,
                path.display().to_string(),
                BTreeMap::new(),
            ));
        }
        let bins = &mut messages.last_mut().expect("pushed above").2;
        let (request, response) = match &record {
            Record::Http(t) => (t.request_first_ns, t.response_first_ns),
            Record::Dns(t) => (t.query_ns, t.response_ns),
            Record::Flow(_)
            | Record::Tcp(_)
            | Record::Tls(_)
            | Record::Http2(_)
            | Record::Row(_) => (None, None),
        };
        for (ts, is_response) in [(request, false), (response, true)] {
            if let Some(ts) = ts {
                let bin = bins.entry(ts.div_euclid(width) * width).or_default();
                if is_response {
                    bin.1 += 1;
                } else {
                    bin.0 += 1;
                }
            }
        }
        Ok(())
    })?;
    let mut reports = run.reports.clone();
    // Files come back in the same order as their records (failed files have neither).
    let mut pending = messages.into_iter().peekable();
    for report in &mut reports {
        if pending
            .peek()
            .is_some_and(|(_, name, _)| *name == report.file)
        {
            let (_, _, bins) = pending.next().expect("peeked");
            for (start, (requests, responses)) in bins {
                let bin = report.counts.intervals.entry(start).or_default();
                bin.requests += requests;
                bin.responses += responses;
            }
        }
    }
    for report in &reports {
        for warning in time_anomalies(report) {
            eprintln!("warning: {}: {warning}", report.file);
        }
    }
    let mut total = ProtocolCounts::default();
    for report in &reports {
        total.merge(&report.counts);
    }
    let resolution = reports
        .iter()
        .filter_map(|r| r.timestamp_digits)
        .map(|digits| Resolution { digits })
        .reduce(Resolution::coarser)
        .unwrap_or(Resolution::NANOSECONDS);
    let mut style = TimeStyle {
        format: args.time_format,
        resolution,
        origin_ns: total.first_ns,
    };
    let mut out = common::stdout();
    if args.json {
        common::write_json_line(&mut out, &json::summary_json(&reports, &total, run.failed))?;
    } else if args.csv {
        write_intervals_csv(&mut out, &total, &mut style)?;
    } else {
        for report in &reports {
            let mut style = TimeStyle {
                origin_ns: report.counts.first_ns,
                resolution: report
                    .timestamp_digits
                    .map_or(Resolution::NANOSECONDS, |digits| Resolution { digits }),
                ..style
            };
            print_counts(
                &mut out,
                &report.file,
                Some(report),
                &report.counts,
                &mut style,
            )?;
        }
        if reports.len() > 1 {
            print_counts(&mut out, "total", None, &total, &mut style)?;
        }
        if args.intervals.is_some() {
            print_intervals(&mut out, &total, &mut style)?;
        }
    }
    out.flush()?;
    Ok(run.exit_code())
}

fn print_intervals(
    out: &mut impl Write,
    c: &ProtocolCounts,
    style: &mut TimeStyle,
) -> std::io::Result<()> {
    let width = c.interval_ns.unwrap_or(1);
    writeln!(
        out,
        "intervals of {} (requests: HTTP requests and DNS queries)",
        duration_ns_to_human(width as f64)
    )?;
    writeln!(
        out,
        "  {:<32} {:>10} {:>12} {:>10} {:>10} {:>9} {:>9}",
        "start", "packets", "bytes", "TCP", "UDP", "requests", "responses"
    )?;
    let rows = interval_rows(c);
    if rows.len() as i64 > MAX_FILLED_INTERVALS {
        writeln!(
            out,
            "  (empty intervals left out: the capture spans too many)"
        )?;
    }
    for (start, bin) in rows {
        writeln!(
            out,
            "  {:<32} {:>10} {:>12} {:>10} {:>10} {:>9} {:>9}",
            style.time(start),
            thousands(bin.packets),
            thousands(bin.bytes),
            thousands(bin.tcp),
            thousands(bin.udp),
            thousands(bin.requests),
            thousands(bin.responses)
        )?;
    }
    Ok(())
}

/// Columns of `summary --intervals --csv`. A contract: extend only.
const INTERVAL_COLUMNS: [&str; 8] = [
    "start_ns",
    "start",
    "packets",
    "bytes",
    "tcp",
    "udp",
    "requests",
    "responses",
];

fn write_intervals_csv(
    out: &mut impl Write,
    c: &ProtocolCounts,
    style: &mut TimeStyle,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(INTERVAL_COLUMNS)?;
    for (start, b) in interval_rows(c) {
        w.write_record([
            start.to_string(),
            style.time(start),
            b.packets.to_string(),
            b.bytes.to_string(),
            b.tcp.to_string(),
            b.udp.to_string(),
            b.requests.to_string(),
            b.responses.to_string(),
        ])?;
    }
    w.flush()
}

fn print_counts(
    out: &mut impl Write,
    title: &str,
    report: Option<&FileReport>,
    c: &ProtocolCounts,
    style: &mut TimeStyle,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    if let Some(r) = report {
        let format = match r.format {
            Some(tracetail::capture::CaptureFormat::Pcap {
                big_endian,
                nanosecond,
            }) => {
                format!(
                    "pcap, {}-endian, {}",
                    if big_endian { "big" } else { "little" },
                    if nanosecond { "ns" } else { "µs" }
                )
            }
            Some(tracetail::capture::CaptureFormat::PcapNg) => "pcapng".to_string(),
            None => "?".into(),
        };
        let compression = match r.compression {
            Some(tracetail::capture::Compression::Gzip) => ", gzip",
            Some(tracetail::capture::Compression::Zstd) => ", zstd",
            _ => "",
        };
        writeln!(out, "  format       {format}{compression}")?;
    }
    let link_types: Vec<String> = c
        .link_types
        .iter()
        .map(|(k, v)| format!("{k} ×{}", thousands(*v)))
        .collect();
    writeln!(
        out,
        "  link types   {}",
        if link_types.is_empty() {
            "-".into()
        } else {
            link_types.join(", ")
        }
    )?;
    writeln!(
        out,
        "  packets      {}   captured {}   on the wire {}",
        thousands(c.packets),
        bytes_human(c.captured_bytes),
        bytes_human(c.wire_bytes)
    )?;
    if let (Some(first), Some(last)) = (c.first_ns, c.last_ns) {
        writeln!(out, "  first        {}", style.time(first))?;
        writeln!(out, "  last         {}", style.time(last))?;
        writeln!(
            out,
            "  duration     {}",
            style.duration((last - first) as f64)
        )?;
    }
    if c.filtered_out > 0 {
        writeln!(
            out,
            "  not selected {} packets (--filter/--start/--end)",
            thousands(c.filtered_out)
        )?;
    }
    writeln!(
        out,
        "  protocols    TCP {}  UDP {}  ICMP {}  ICMPv6 {}  ARP {}  other IP {}  non-IP {}",
        thousands(c.tcp),
        thousands(c.udp),
        thousands(c.icmp),
        thousands(c.icmpv6),
        thousands(c.arp),
        thousands(c.other_ip),
        thousands(c.non_ip)
    )?;
    writeln!(
        out,
        "  IP           IPv4 {}  IPv6 {}  fragments {}",
        thousands(c.ipv4),
        thousands(c.ipv6),
        thousands(c.ip_fragments)
    )?;
    let bad: u64 = c.undecodable.values().sum();
    if bad > 0 {
        let reasons: Vec<String> = c
            .undecodable
            .iter()
            .map(|(k, v)| format!("{k}: {}", thousands(*v)))
            .collect();
        writeln!(
            out,
            "  undecodable  {} ({})",
            thousands(bad),
            reasons.join(", ")
        )?;
    } else {
        writeln!(out, "  undecodable  0")?;
    }
    if !c.hierarchy.is_empty() {
        writeln!(out, "  protocol hierarchy (frames, bytes):")?;
        for (path, (frames, bytes)) in &c.hierarchy {
            let depth = path.matches(':').count();
            let name = path.rsplit(':').next().unwrap_or(path);
            let label = format!("{}{}", "  ".repeat(depth), name);
            writeln!(
                out,
                "    {label:<28} {:>12}  {:>12}",
                thousands(*frames),
                thousands(*bytes)
            )?;
        }
    }
    writeln!(out)
}

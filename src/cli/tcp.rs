//! `tracetail tcp`: one row per request/response exchange on every TCP connection, whatever
//! the protocol (the generic analyzer, `tracetail::analyzers::tcp`), or with `--intervals`
//! pt-tcp-model-like figures per interval.

use super::common::{self, Inputs};
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::{tcp, TcpExchange};
use tracetail::columns::tcp::TCP;
use tracetail::columns::writers::push_u64;
use tracetail::pipeline::{PassOptions, Record};
use tracetail::stats::intervals::{IntervalRow, IntervalStats, MAX_INTERVALS};
use tracetail::units::{duration_ns_to_human, epoch_ns_to_string, push_duration_human, Resolution};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// Keep only connections whose server port is N (repeatable).
    #[arg(long = "port", value_name = "N")]
    ports: Vec<u16>,
    /// Per-interval figures instead of rows: arrivals, completions, concurrency, busy time,
    /// throughput and p99 of the total time, per interval of this length (e.g. 1s, 100ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ns)]
    intervals: Option<i64>,
    /// JSON Lines, one object per exchange (or per interval).
    #[arg(long)]
    json: bool,
    /// CSV with the same columns as --json.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

/// `1s`, `250ms`, `10us`, `500ns`, `2m`, or plain seconds (`0.5`) as nanoseconds.
fn parse_duration_ns(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 1s or 100ms"))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "ns" => 1.0,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return Err(format!("unknown unit '{unit}' (ns, us, ms, s, m, h)")),
    };
    let ns = value * scale;
    if !(ns >= 1.0 && ns < i64::MAX as f64) {
        return Err(format!("'{text}' must be at least 1ns"));
    }
    Ok(ns as i64)
}

/// The text line of one exchange (`tracetail tcp` without --json/--csv), appended to `line`:
/// `TCP exchange at {when} {client} -> {server} ({protocol}) #{n}  {a} B -> {b} B  ttfb {ttfb}
/// total {total}{  [flags]}`.
fn text_line(t: &TcpExchange, line: &mut Vec<u8>) {
    line.extend_from_slice(b"TCP exchange at ");
    match t.request_first_ns.or(t.response_first_ns) {
        Some(ns) => Resolution::NANOSECONDS.push_epoch(line, ns),
        None => line.push(b'?'),
    }
    line.push(b' ');
    common::push_endpoint(line, t.client_ip, t.client_port);
    line.extend_from_slice(b" -> ");
    common::push_endpoint(line, t.server_ip, t.server_port);
    line.extend_from_slice(b" (");
    line.extend_from_slice(t.protocol.as_bytes());
    line.extend_from_slice(b") #");
    push_u64(line, u64::from(t.exchange));
    line.extend_from_slice(b"  ");
    push_u64(line, t.request_bytes);
    line.extend_from_slice(b" B -> ");
    push_u64(line, t.response_bytes);
    line.extend_from_slice(b" B  ttfb ");
    let latency = |line: &mut Vec<u8>, ns: Option<i64>| match ns {
        Some(ns) => push_duration_human(line, ns),
        None => line.push(b'-'),
    };
    latency(line, t.ttfb_ns());
    line.extend_from_slice(b" total ");
    latency(line, t.total_ns());
    common::push_flags(line, &t.flags);
}

/// Whether `--port` keeps the exchange (every one without `--port`).
fn on_ports(ports: &[u16], t: &TcpExchange) -> bool {
    ports.is_empty() || ports.contains(&t.server_port)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut analyzer = args.analysis.config()?;
    analyzer.observers.push(tcp::REGISTRATION.name);
    // Only the tcp rows are wanted: HTTP & co. stop once they know their protocol.
    analyzer.detect_only = true;
    // Nor is DNS over UDP wanted.
    analyzer.dns_over_udp = false;
    // `inputs.pass` applies `--threads`.
    let options = args.inputs.pass(PassOptions {
        transactions: true,
        // Only the records are read: the protocol counts are not.
        skip_counts: true,
        select: args.inputs.selection(),
        analyzer,
        ..Default::default()
    });
    let keep = |t: &TcpExchange| on_ports(&args.ports, t);
    if let Some(length) = args.intervals {
        return run_intervals(&args, &options, length, keep);
    }
    let mut rows = common::RowWriter::new(args.json, args.csv, &TCP)?;
    let (mut unanswered, mut overlapped, mut greetings) = (0u64, 0u64, 0u64);
    // The counts are for the text summary (JSON and CSV rows are written on the workers).
    let ports = args.ports.clone();
    let run = common::write_rows(
        &args.inputs.files,
        &options,
        &mut rows,
        move |record| match record {
            Record::Tcp(t) if on_ports(&ports, t) => Some(t),
            _ => None,
        },
        |_, t, line| {
            unanswered += u64::from(t.flags.contains(&"unanswered"));
            overlapped += u64::from(t.flags.contains(&"overlapped"));
            greetings += u64::from(t.flags.contains(&"server_first"));
            text_line(t, line)
        },
    )?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text {
        writeln!(out, "{count} TCP exchanges ({unanswered} unanswered, {overlapped} overlapped: request and response crossed, {greetings} server greetings)")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

/// CSV header of `--intervals`, in the order of the JSON fields ([`IntervalRow`]).
const INTERVAL_COLUMNS: [&str; 8] = [
    "start_ns",
    "arrivals",
    "completions",
    "busy_ns",
    "weighted_ns",
    "concurrency",
    "throughput",
    "p99_ns",
];

fn run_intervals(
    args: &Args,
    options: &PassOptions,
    length: i64,
    keep: impl Fn(&TcpExchange) -> bool,
) -> anyhow::Result<ExitCode> {
    let mut stats = IntervalStats::default();
    let mut skipped = 0u64;
    let run = common::run_pass(&args.inputs.files, options, &mut |_, record| {
        if let Record::Tcp(t) = record {
            match (t.request_first_ns, t.response_last_ns) {
                (Some(start), Some(end)) if keep(&t) => stats.add(start, end),
                _ if keep(&t) => skipped += 1,
                _ => {}
            }
        }
        Ok(())
    })?;
    let rows = stats.rows(length).map_err(|n| {
        anyhow::anyhow!(
            "--intervals would make {n} intervals (at most {MAX_INTERVALS}); use a longer interval"
        )
    })?;
    let mut out = common::stdout();
    let total: u64 = rows.iter().map(|r| r.completions).sum();
    if args.json {
        for r in &rows {
            common::write_json_line(&mut out, r)?;
        }
    } else if args.csv {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(INTERVAL_COLUMNS)
            .map_err(common::csv_error)?;
        for r in &rows {
            w.write_record(interval_cells(r))
                .map_err(common::csv_error)?;
        }
        w.flush()?;
        return Ok(run.exit_code());
    } else {
        writeln!(
            out,
            "{:<23} {:>8} {:>11} {:>11} {:>9} {:>12} {:>10}",
            "interval start", "arrivals", "completions", "concurrency", "busy", "throughput", "p99"
        )?;
        for r in &rows {
            writeln!(
                out,
                "{:<23} {:>8} {:>11} {:>11.3} {:>8.1}% {:>10.1}/s {:>10}",
                epoch_ns_to_string(r.start_ns),
                r.arrivals,
                r.completions,
                r.concurrency,
                100.0 * r.busy_ns as f64 / length as f64,
                r.throughput,
                r.p99_ns
                    .map(|v| duration_ns_to_human(v as f64))
                    .unwrap_or_else(|| "-".into()),
            )?;
        }
        writeln!(out, "{total} exchanges in {} intervals of {}; {skipped} unanswered or without a request not counted", rows.len(), duration_ns_to_human(length as f64))?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

fn interval_cells(r: &IntervalRow) -> Vec<String> {
    vec![
        r.start_ns.to_string(),
        r.arrivals.to_string(),
        r.completions.to_string(),
        r.busy_ns.to_string(),
        r.weighted_ns.to_string(),
        r.concurrency.to_string(),
        r.throughput.to_string(),
        r.p99_ns.map(|v| v.to_string()).unwrap_or_default(),
    ]
}

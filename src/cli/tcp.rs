//! `tracetail tcp`: one row per request/response exchange on every TCP connection, whatever
//! the protocol (the generic analyzer, `tracetail::analyzers::tcp`), or with `--intervals`
//! pt-tcp-model-like figures per interval.

use super::common::{self, Inputs};
use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use tracetail::analyzers::{tcp, TcpExchange};
use tracetail::pipeline::{PassOptions, Record};
use tracetail::stats::intervals::{IntervalRow, IntervalStats, MAX_INTERVALS};
use tracetail::units::{duration_ns_to_human, epoch_ns_to_string};

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

/// One cell of a row: typed for JSON, printed for CSV.
enum Cell<'a> {
    Text(&'a str),
    Count(u64),
    Time(Option<i64>),
    Ip(IpAddr),
    List(&'a [&'static str]),
}

/// One column: its name (a contract with users' scripts: extend only) and how a row
/// fills it. This one list feeds `--json` and `--csv`.
struct Column {
    name: &'static str,
    get: fn(&TcpExchange) -> Cell<'_>,
}

const COLUMNS: &[Column] = &[
    Column {
        name: "connection_id",
        get: |t| Cell::Count(t.connection_id),
    },
    Column {
        name: "exchange",
        get: |t| Cell::Count(u64::from(t.exchange)),
    },
    Column {
        name: "protocol",
        get: |t| Cell::Text(t.protocol),
    },
    Column {
        name: "client_ip",
        get: |t| Cell::Ip(t.client_ip),
    },
    Column {
        name: "client_port",
        get: |t| Cell::Count(u64::from(t.client_port)),
    },
    Column {
        name: "server_ip",
        get: |t| Cell::Ip(t.server_ip),
    },
    Column {
        name: "server_port",
        get: |t| Cell::Count(u64::from(t.server_port)),
    },
    Column {
        name: "server_rule",
        get: |t| Cell::Text(t.server_rule),
    },
    Column {
        name: "request_bytes",
        get: |t| Cell::Count(t.request_bytes),
    },
    Column {
        name: "response_bytes",
        get: |t| Cell::Count(t.response_bytes),
    },
    Column {
        name: "request_first_ns",
        get: |t| Cell::Time(t.request_first_ns),
    },
    Column {
        name: "request_last_ns",
        get: |t| Cell::Time(t.request_last_ns),
    },
    Column {
        name: "response_first_ns",
        get: |t| Cell::Time(t.response_first_ns),
    },
    Column {
        name: "response_last_ns",
        get: |t| Cell::Time(t.response_last_ns),
    },
    Column {
        name: "ttfb_ns",
        get: |t| Cell::Time(t.ttfb_ns()),
    },
    Column {
        name: "total_ns",
        get: |t| Cell::Time(t.total_ns()),
    },
    Column {
        name: "server_ns",
        get: |t| Cell::Time(t.server_ns()),
    },
    Column {
        name: "tshark_ns",
        get: |t| Cell::Time(t.tshark_ns()),
    },
    Column {
        name: "flags",
        get: |t| Cell::List(&t.flags),
    },
];

/// Column names of `--json` and `--csv`, in order (`capture` first, as in `http`).
fn column_names() -> Vec<&'static str> {
    std::iter::once("capture")
        .chain(COLUMNS.iter().map(|c| c.name))
        .collect()
}

fn write_json(out: &mut dyn Write, capture: &str, t: &TcpExchange) -> std::io::Result<()> {
    // The row is built in memory and written once: one call into the writer per row, not
    // per field (the formatting machinery per field cost more than the analysis).
    let mut line = Vec::with_capacity(512);
    line.extend_from_slice(b"{\"capture\":");
    serde_json::to_writer(&mut line, capture)?;
    let mut numbers = itoa::Buffer::new();
    for c in COLUMNS {
        line.extend_from_slice(b",\"");
        line.extend_from_slice(c.name.as_bytes());
        line.extend_from_slice(b"\":");
        match (c.get)(t) {
            Cell::Text(s) => serde_json::to_writer(&mut line, s)?,
            Cell::Count(n) => line.extend_from_slice(numbers.format(n).as_bytes()),
            Cell::Time(Some(n)) => line.extend_from_slice(numbers.format(n).as_bytes()),
            Cell::Time(None) => line.extend_from_slice(b"null"),
            Cell::Ip(ip) => write!(line, "\"{ip}\"")?,
            Cell::List(l) => serde_json::to_writer(&mut line, l)?,
        }
    }
    line.extend_from_slice(b"}\n");
    out.write_all(&line)
}

fn csv_row(capture: &str, t: &TcpExchange) -> Vec<String> {
    std::iter::once(capture.to_string())
        .chain(COLUMNS.iter().map(|c| match (c.get)(t) {
            Cell::Text(s) => s.to_string(),
            Cell::Count(n) => n.to_string(),
            Cell::Time(v) => v.map(|n| n.to_string()).unwrap_or_default(),
            Cell::Ip(ip) => ip.to_string(),
            Cell::List(l) => l.join(","),
        }))
        .collect()
}

fn text_line(t: &TcpExchange) -> String {
    let when = t
        .request_first_ns
        .or(t.response_first_ns)
        .map(epoch_ns_to_string)
        .unwrap_or_else(|| "?".into());
    let client = std::net::SocketAddr::new(t.client_ip, t.client_port);
    let server = std::net::SocketAddr::new(t.server_ip, t.server_port);
    let latency = |v: Option<i64>| {
        v.map(|ns| duration_ns_to_human(ns as f64))
            .unwrap_or_else(|| "-".into())
    };
    let flags = if t.flags.is_empty() {
        String::new()
    } else {
        format!("  [{}]", t.flags.join(","))
    };
    format!(
        "TCP exchange at {when} {client} -> {server} ({}) #{}  {} B -> {} B  ttfb {} total {}{flags}",
        t.protocol,
        t.exchange,
        t.request_bytes,
        t.response_bytes,
        latency(t.ttfb_ns()),
        latency(t.total_ns()),
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut analyzer = args.analysis.config()?;
    analyzer.observers.push(tcp::REGISTRATION.name);
    // Only the tcp rows are wanted: HTTP & co. stop once they know their protocol.
    analyzer.detect_only = true;
    // `inputs.pass` applies `--threads`.
    let options = args.inputs.pass(PassOptions {
        transactions: true,
        select: args.inputs.selection(),
        analyzer,
        ..Default::default()
    });
    let keep = |t: &TcpExchange| args.ports.is_empty() || args.ports.contains(&t.server_port);
    if let Some(length) = args.intervals {
        return run_intervals(&args, &options, length, keep);
    }
    let mut rows = common::RowWriter::new(args.json, args.csv, &column_names())?;
    let (mut unanswered, mut overlapped, mut greetings) = (0u64, 0u64, 0u64);
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let Record::Tcp(t) = record else {
            return Ok(());
        };
        if !keep(&t) {
            return Ok(());
        }
        unanswered += u64::from(t.flags.contains(&"unanswered"));
        overlapped += u64::from(t.flags.contains(&"overlapped"));
        greetings += u64::from(t.flags.contains(&"server_first"));
        rows.row(
            path,
            |capture, out| write_json(out, capture, &t),
            |capture| csv_row(capture, &t),
            || text_line(&t),
        )
    })?;
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

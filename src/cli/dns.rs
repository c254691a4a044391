//! `tracetail dns`: one row per DNS query with its response and latency.

use super::common::{self, Inputs};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::DnsTransaction;
use tracetail::pipeline::{PassOptions, Record};

#[derive(clap::Args)]
// HTTP-only limits stay accepted (scripts may pass them) but out of `dns --help`.
#[command(
    mut_arg("max_header_bytes", |a| a.hide(true)),
    mut_arg("max_pending_requests", |a| a.hide(true))
)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// JSON Lines, one object per query.
    #[arg(long)]
    json: bool,
    /// CSV with the same columns as --json.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// How text rows print times (JSON and CSV always carry integer nanoseconds).
    #[arg(long, value_enum, default_value_t = common::TimeFormat::Epoch)]
    time_format: common::TimeFormat,
}

/// Column names of `--json` and `--csv`, in order. A contract with users' scripts: extend only.
pub const COLUMNS: [&str; 17] = [
    "capture",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "transport",
    "id",
    "query_name",
    "query_type",
    "rcode",
    "answers",
    "query_ns",
    "response_ns",
    "latency_ns",
    "flags",
    "query_type_name",
    "rcode_name",
];

/// A query type's mnemonic (RFC 1035 and successors), `TYPE<n>` for others (RFC 3597).
pub fn query_type_name(query_type: u16) -> String {
    let name = match query_type {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        other => return format!("TYPE{other}"),
    };
    name.to_string()
}

/// A response code's name (RFC 1035, 2136, 6891), `RCODE<n>` for others.
pub fn rcode_name(rcode: u8) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        other => return format!("RCODE{other}"),
    };
    name.to_string()
}

pub fn to_json(capture: &str, t: &DnsTransaction) -> serde_json::Value {
    json!({
        "capture": capture,
        "client_ip": t.client_ip.to_string(),
        "client_port": t.client_port,
        "server_ip": t.server_ip.to_string(),
        "server_port": t.server_port,
        "transport": t.transport,
        "id": t.id,
        "query_name": t.query_name,
        "query_type": t.query_type,
        "rcode": t.rcode,
        "answers": t.answers,
        "query_ns": t.query_ns,
        "response_ns": t.response_ns,
        "latency_ns": t.latency_ns(),
        "flags": t.flags,
        "query_type_name": query_type_name(t.query_type),
        "rcode_name": t.rcode.map(rcode_name),
    })
}

fn csv_row(capture: &str, t: &DnsTransaction) -> Vec<String> {
    let o = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        capture.into(),
        t.client_ip.to_string(),
        t.client_port.to_string(),
        t.server_ip.to_string(),
        t.server_port.to_string(),
        t.transport.into(),
        t.id.to_string(),
        t.query_name.clone(),
        t.query_type.to_string(),
        t.rcode.map(|r| r.to_string()).unwrap_or_default(),
        t.answers.to_string(),
        o(t.query_ns),
        o(t.response_ns),
        o(t.latency_ns()),
        t.flags.join(","),
        query_type_name(t.query_type),
        t.rcode.map(rcode_name).unwrap_or_default(),
    ]
}

/// The text line of one query (`tracetail dns` without --json/--csv).
fn text_line(t: &DnsTransaction, style: &mut common::TimeStyle) -> String {
    let when = t
        .query_ns
        .or(t.response_ns)
        .map(|ns| style.time(ns))
        .unwrap_or_default();
    let latency = t
        .latency_ns()
        .map(|ns| style.duration(ns as f64))
        .unwrap_or_else(|| "-".into());
    let flags = if t.flags.is_empty() {
        String::new()
    } else {
        format!("  [{}]", t.flags.join(","))
    };
    format!(
        "DNS query at {when} {}:{} -> {}:{} {} id={:#06x} {} {} {} answers={} latency {latency}{flags}",
        t.client_ip,
        t.client_port,
        t.server_ip,
        t.server_port,
        t.transport,
        t.id,
        t.query_name,
        query_type_name(t.query_type),
        t.rcode.map(rcode_name).unwrap_or_else(|| "-".into()),
        t.answers
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        transactions: true,
        select: args.inputs.selection(),
        analyzer: args.analysis.config(),
        ..Default::default()
    };
    let mut rows = common::RowWriter::new(args.json, args.csv, &COLUMNS)?;
    let mut styles = common::TimeStyles::new(args.time_format);
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let Record::Dns(t) = record else {
            return Ok(());
        };
        rows.row(
            path,
            |capture, out| common::write_json_line(out, &to_json(capture, &t)),
            |capture| csv_row(capture, &t),
            || text_line(&t, styles.for_file(path)),
        )
    })?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text && !run.nothing_read() {
        writeln!(out, "{count} DNS queries")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

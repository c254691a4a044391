//! `tracetail dns`: one row per DNS query with its response and latency.

use super::common::{self, Inputs};
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::DnsTransaction;
use tracetail::pipeline::{PassOptions, Record};
use tracetail::units::{duration_ns_to_human, epoch_ns_to_string};

#[derive(clap::Args)]
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
}

pub const COLUMNS: [&str; 15] = [
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
];

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
    ]
}

/// The text line of one query (`tracetail dns` without --json/--csv).
fn text_line(t: &DnsTransaction) -> String {
    let when = t
        .query_ns
        .or(t.response_ns)
        .map(epoch_ns_to_string)
        .unwrap_or_default();
    let latency = t
        .latency_ns()
        .map(|ns| duration_ns_to_human(ns as f64))
        .unwrap_or_else(|| "-".into());
    let flags = if t.flags.is_empty() {
        String::new()
    } else {
        format!("  [{}]", t.flags.join(","))
    };
    format!(
        "DNS query at {when} {}:{} -> {}:{} {} id={:#06x} {} type={} rcode={} answers={} latency {latency}{flags}",
        t.client_ip,
        t.client_port,
        t.server_ip,
        t.server_port,
        t.transport,
        t.id,
        t.query_name,
        t.query_type,
        t.rcode.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
        t.answers
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        transactions: true,
        analyzer: args.analysis.config()?,
        ..Default::default()
    };
    let mut rows = common::RowWriter::new(args.json, args.csv, &COLUMNS)?;
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let Record::Dns(t) = record else {
            return Ok(());
        };
        rows.row(
            path,
            |capture, out| common::write_json_line(out, &to_json(capture, &t)),
            |capture| csv_row(capture, &t),
            || text_line(&t),
        )
    })?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text {
        writeln!(out, "{count} DNS queries")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

//! `tracetail tls`: one row per TLS connection (handshake and timing), in time order of the
//! ClientHello.

use super::common::{self, Inputs};
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::tls::TlsConnection;
use tracetail::columns::tls::TLS;
use tracetail::pipeline::{PassOptions, Record};
use tracetail::units::{duration_ns_to_human, epoch_ns_to_string};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// JSON Lines, one object per TLS connection.
    #[arg(long)]
    json: bool,
    /// CSV with the same columns as --json.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

fn text_line(t: &TlsConnection) -> String {
    let when = t
        .client_hello_ns
        .or(t.server_hello_ns)
        .map(epoch_ns_to_string)
        .unwrap_or_else(|| "?".into());
    let server = std::net::SocketAddr::new(t.server_ip, t.server_port);
    let latency = |v: Option<i64>| {
        v.map(|ns| duration_ns_to_human(ns as f64))
            .unwrap_or_else(|| "-".into())
    };
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let alpn = match (&t.alpn, t.alpn_offered.is_empty()) {
        (Some(a), _) => format!("  alpn {a}"),
        (None, false) => format!("  alpn offered {}", t.alpn_offered.join(",")),
        (None, true) => String::new(),
    };
    let mut notes: Vec<String> = t.flags.iter().map(|f| f.to_string()).collect();
    if let Some(how) = t.resumption {
        notes.push(format!("resumed:{how}"));
    }
    notes.extend(t.alerts.iter().cloned());
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("  [{}]", notes.join(", "))
    };
    format!(
        "TLS at {when} to {server}  sni {}  {} {}{alpn}  hello {} handshake {}{notes}",
        or_dash(&t.sni),
        or_dash(&t.version),
        or_dash(&t.cipher_suite),
        latency(t.hello_ns),
        latency(t.handshake_ns),
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut analyzer = args.analysis.config()?;
    analyzer.tls.rows = true;
    // TLS rows only: DNS over UDP is not looked at.
    analyzer.dns_over_udp = false;
    let options = PassOptions {
        transactions: true,
        // Only the records are read: the protocol counts are not.
        skip_counts: true,
        analyzer,
        ..Default::default()
    };
    let mut rows = common::RowWriter::new(args.json, args.csv, &TLS)?;
    let run = common::write_rows(
        &args.inputs.files,
        &options,
        &mut rows,
        |record| match record {
            Record::Tls(t) => Some(t),
            _ => None,
        },
        |_, t, line| line.extend_from_slice(text_line(t).as_bytes()),
    )?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text {
        writeln!(out, "{count} TLS connections")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

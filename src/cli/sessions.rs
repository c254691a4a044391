//! `tracetail sessions`: conversations (default) or Scapy's session keys (`--scapy`).

use super::common::{self, Inputs};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::http2::Http2Connection;
use tracetail::flows::FlowRecord;
use tracetail::pipeline::{PassOptions, Record};
use tracetail::units::{bytes_human, thousands};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Scapy's `PacketList.sessions()` keys (unidirectional, `Other` without Ethernet) with
    /// their packet counts, exactly as Scapy 2.8 writes them.
    #[arg(long)]
    scapy: bool,
    /// JSON: with --scapy an object mapping key -> packets; otherwise one object per line
    /// per conversation.
    #[arg(long)]
    json: bool,
    /// CSV, one row per conversation (not with --scapy).
    #[arg(long, conflicts_with_all = ["json", "scapy"])]
    csv: bool,
    /// With --json: add `http2` to HTTP/2 conversations (streams open at once, PING round
    /// trips, SETTINGS). Runs the HTTP/2 analysis (as `http` does: slower, rows come at the end).
    #[arg(long, requires = "json", conflicts_with = "scapy")]
    http2: bool,
    #[command(flatten)]
    analysis: common::AnalysisArgs,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.scapy {
        return run_scapy(args);
    }
    let mut options = PassOptions {
        flows: true,
        select: args.inputs.selection(),
        ..Default::default()
    };
    if args.http2 {
        options.transactions = true;
        options.analyzer = args.analysis.config()?;
        options.analyzer.http2_connections = true;
    }
    let options = args.inputs.pass(options);
    // --http2: a conversation's figures may come before or after its row; joined at the end.
    let mut held: Vec<(String, u64, serde_json::Value)> = Vec::new();
    let mut figures: HashMap<(String, u64), Http2Connection> = HashMap::new();
    let mut out = common::stdout();
    let multi = args.inputs.files.len() > 1;
    let mut rows: Vec<(String, FlowRecord)> = Vec::new();
    let mut csv_writer = args.csv.then(|| csv::Writer::from_writer(common::stdout()));
    if let Some(w) = csv_writer.as_mut() {
        w.write_record(CSV_COLUMNS)?;
    }
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let flow = match record {
            Record::Flow(flow) => flow,
            Record::Http2(c) => {
                figures.insert((path.display().to_string(), c.connection_id), c);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let file = path.display().to_string();
        if args.json {
            let mut v = serde_json::to_value(&flow).map_err(std::io::Error::other)?;
            v["capture"] = json!(file);
            v["duration_ns"] = json!(flow.duration_ns());
            v["handshake_ns"] = json!(flow.handshake_ns());
            if args.http2 {
                held.push((file, flow.flow_id, v));
                return Ok(());
            }
            common::write_json_line(&mut out, &v)
        } else if let Some(w) = csv_writer.as_mut() {
            w.write_record(csv_row(&file, &flow))
                .map_err(common::csv_error)
        } else {
            rows.push((file, flow));
            Ok(())
        }
    })?;
    for (file, flow_id, mut v) in held {
        if let Some(c) = figures.remove(&(file, flow_id)) {
            v["http2"] = serde_json::to_value(&c)?;
        }
        common::write_json_line(&mut out, &v)?;
    }
    if !args.json && !args.csv && !run.nothing_read() {
        // Flows are streamed as they end; show them in order of first packet.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.flow_id.cmp(&b.1.flow_id)));
        print_table(&mut out, &rows, multi)?;
    }
    if let Some(mut w) = csv_writer {
        w.flush()?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

const CSV_COLUMNS: [&str; 19] = [
    "capture",
    "flow_id",
    "protocol",
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "first_ns",
    "last_ns",
    "duration_ns",
    "client_packets",
    "client_bytes",
    "server_packets",
    "server_bytes",
    "client_payload_bytes",
    "server_payload_bytes",
    "tcp_state",
    "syn_to_synack_ns",
    "synack_to_ack_ns",
];

fn csv_row(file: &str, f: &FlowRecord) -> Vec<String> {
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        file.to_string(),
        f.flow_id.to_string(),
        f.protocol.clone(),
        f.client_ip.to_string(),
        f.client_port.to_string(),
        f.server_ip.to_string(),
        f.server_port.to_string(),
        f.first_ns.to_string(),
        f.last_ns.to_string(),
        f.duration_ns().to_string(),
        f.client_packets.to_string(),
        f.client_bytes.to_string(),
        f.server_packets.to_string(),
        f.server_bytes.to_string(),
        f.client_payload_bytes.to_string(),
        f.server_payload_bytes.to_string(),
        f.tcp_state.clone().unwrap_or_default(),
        opt(f.syn_to_synack_ns),
        opt(f.synack_to_ack_ns),
    ]
}

fn endpoint(ip: std::net::IpAddr, port: u16, protocol: &str) -> String {
    let has_ports = protocol == "tcp" || protocol == "udp";
    if has_ports {
        std::net::SocketAddr::new(ip, port).to_string()
    } else {
        ip.to_string()
    }
}

fn print_table(
    out: &mut impl Write,
    rows: &[(String, FlowRecord)],
    multi: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5} {:<6} {:<45} {:>10} {:>9} {:>10} {:>9} {:>10} {:>6} {:>10}",
        "id",
        "proto",
        "client -> server",
        "duration",
        "pkts →",
        "bytes →",
        "pkts ←",
        "bytes ←",
        "state",
        "handshake"
    )?;
    let mut current_file = "";
    // Durations with the digits each capture has (`78µs` from a microsecond capture).
    let mut styles = common::TimeStyles::new(common::TimeFormat::Epoch);
    for (file, f) in rows {
        if multi && file != current_file {
            writeln!(out, "# {file}")?;
            current_file = file;
        }
        let style = styles.for_file(std::path::Path::new(file));
        let pair = format!(
            "{} -> {}",
            endpoint(f.client_ip, f.client_port, &f.protocol),
            endpoint(f.server_ip, f.server_port, &f.protocol)
        );
        writeln!(
            out,
            "{:>5} {:<6} {:<45} {:>10} {:>9} {:>10} {:>9} {:>10} {:>6} {:>10}",
            f.flow_id,
            f.protocol,
            pair,
            style.duration(f.duration_ns() as f64),
            thousands(f.client_packets),
            bytes_human(f.client_bytes),
            thousands(f.server_packets),
            bytes_human(f.server_bytes),
            f.tcp_state.as_deref().unwrap_or("-"),
            f.handshake_ns()
                .map(|h| style.duration(h as f64))
                .unwrap_or_else(|| "-".into()),
        )?;
    }
    writeln!(out, "{} conversations", thousands(rows.len() as u64))
}

fn run_scapy(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        scapy_keys: true,
        select: args.inputs.selection(),
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let run = common::run_pass(&args.inputs.files, &options, &mut |_, _| Ok(()))?;
    // Several files behave like one PacketList holding all of them.
    let mut sessions: BTreeMap<String, u64> = BTreeMap::new();
    for report in &run.reports {
        for (key, n) in &report.scapy_sessions {
            *sessions.entry(key.clone()).or_default() += n;
        }
    }
    let mut out = common::stdout();
    if args.json {
        common::write_json_line(&mut out, &sessions)?;
    } else {
        let width = sessions
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0);
        for (key, n) in &sessions {
            writeln!(out, "{key:<width$}  {n}")?;
        }
    }
    out.flush()?;
    Ok(run.exit_code())
}

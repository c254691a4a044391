//! `tracetail dns`: one row per DNS query with its response and latency.

use super::common::{self, Inputs};
#[cfg(test)]
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::DnsTransaction;
use tracetail::columns::dns::{query_type_name, rcode_name, DNS};
use tracetail::columns::writers::{push_ip, push_u64};
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

/// One `--json` row as it was written before the column definitions: the reference the
/// column-driven writer ([`DNS`]) is tested against.
#[cfg(test)]
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

/// One `--csv` record as it was written before the column definitions (test reference).
#[cfg(test)]
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

/// The text line of one query (`tracetail dns` without --json/--csv), appended to `line`:
/// `DNS query at {when} {ip}:{port} -> {ip}:{port} {transport} id={0x0000} {name} {type}
/// {rcode} answers={n} latency {latency}{  [flags]}`.
fn text_line(t: &DnsTransaction, style: &mut common::TimeStyle, line: &mut Vec<u8>) {
    line.extend_from_slice(b"DNS query at ");
    if let Some(ns) = t.query_ns.or(t.response_ns) {
        style.push_time(line, ns);
    }
    line.push(b' ');
    // Addresses and ports apart (no brackets around IPv6), as this line always had them.
    for (ip, port, after) in [
        (t.client_ip, t.client_port, &b" -> "[..]),
        (t.server_ip, t.server_port, b" "),
    ] {
        push_ip(line, ip);
        line.push(b':');
        push_u64(line, u64::from(port));
        line.extend_from_slice(after);
    }
    line.extend_from_slice(t.transport.as_bytes());
    // `{:#06x}`: four lowercase hex digits.
    line.extend_from_slice(b" id=0x");
    for shift in [12, 8, 4, 0] {
        line.push(b"0123456789abcdef"[usize::from(t.id >> shift & 0xf)]);
    }
    line.push(b' ');
    line.extend_from_slice(t.query_name.as_bytes());
    line.push(b' ');
    line.extend_from_slice(query_type_name(t.query_type).as_bytes());
    line.push(b' ');
    match t.rcode {
        Some(rcode) => line.extend_from_slice(rcode_name(rcode).as_bytes()),
        None => line.push(b'-'),
    }
    line.extend_from_slice(b" answers=");
    push_u64(line, u64::from(t.answers));
    line.extend_from_slice(b" latency ");
    style.push_duration(line, t.latency_ns());
    common::push_flags(line, &t.flags);
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        transactions: true,
        // Only the records are read: the protocol counts are not.
        skip_counts: true,
        select: args.inputs.selection(),
        analyzer: args.analysis.config()?,
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let mut rows = common::RowWriter::new(args.json, args.csv, &DNS)?
        .text_on_workers(args.time_format, text_line);
    let mut styles = common::TimeStyles::new(args.time_format);
    let run = common::write_rows(
        &args.inputs.files,
        &options,
        &mut rows,
        |record| match record {
            Record::Dns(t) => Some(t),
            _ => None,
        },
        |path, t, line| text_line(t, styles.for_file(path), line),
    )?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text && !run.nothing_read() {
        writeln!(out, "{count} DNS queries")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracetail::columns::writers::{CsvRows, JsonRows};

    fn rows() -> Vec<DnsTransaction> {
        let mut d = DnsTransaction {
            client_ip: "10.0.0.1".parse().unwrap(),
            client_port: 5353,
            server_ip: "2001:db8::53".parse().unwrap(),
            server_port: 53,
            transport: "udp",
            id: 0xffff,
            query_name: "we\"ird,na\\me.example".into(),
            query_type: 65280,
            rcode: Some(3),
            answers: 0,
            query_ns: Some(i64::MIN),
            response_ns: Some(i64::MAX),
            flags: vec!["duplicate_response", "clock_backwards"],
        };
        let mut rows = vec![d.clone()];
        d.rcode = None;
        d.query_type = 28;
        d.response_ns = None;
        d.flags.clear();
        rows.push(d.clone());
        d.rcode = Some(200);
        rows.push(d);
        rows
    }

    #[test]
    fn json_and_csv_rows_are_the_written_out_ones() {
        let json = JsonRows::new(&DNS);
        let csv_rows = CsvRows::new(&DNS);
        let mut ours = csv::Writer::from_writer(Vec::new());
        let mut reference = csv::Writer::from_writer(Vec::new());
        let mut scratch = Vec::new();
        for d in &rows() {
            let mut line = Vec::new();
            json.push_line(&mut line, "c.pcap", d);
            let mut want = serde_json::to_vec(&to_json("c.pcap", d)).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(line).unwrap(),
                String::from_utf8(want).unwrap()
            );
            csv_rows
                .write(&mut ours, &mut scratch, "c,.pcap", d)
                .unwrap();
            reference.write_record(csv_row("c,.pcap", d)).unwrap();
        }
        assert_eq!(ours.into_inner().unwrap(), reference.into_inner().unwrap());
        let header: Vec<&str> = csv_rows.header().collect();
        let keys = to_json("c", &rows()[0]);
        let keys: Vec<&str> = keys
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(header, keys);
    }
}

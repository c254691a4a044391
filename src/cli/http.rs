//! `tracetail http`: one row per HTTP transaction, in time order of the request's first byte.

use super::common::{self, Inputs};
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::HttpTransaction;
use tracetail::columns::http::HTTP;
use tracetail::columns::writers::push_u64;
use tracetail::pipeline::{PassOptions, Record};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// JSON Lines, one object per transaction.
    #[arg(long)]
    json: bool,
    /// CSV with the same columns as --json.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// How text rows print times (JSON and CSV always carry integer nanoseconds).
    #[arg(long, value_enum, default_value_t = common::TimeFormat::Epoch)]
    time_format: common::TimeFormat,
}

/// One `--json` row as serde writes it: the reference the column-driven writer
/// ([`tracetail::columns::http::HTTP`]) is tested against, written out field by field.
#[cfg(test)]
#[derive(serde::Serialize)]
pub struct JsonRow<'a> {
    capture: &'a str,
    connection_id: u64,
    depth: u32,
    client_ip: std::net::IpAddr,
    client_port: u16,
    server_ip: std::net::IpAddr,
    server_port: u16,
    method: &'a str,
    host: Option<&'a str>,
    uri: &'a str,
    version: &'a str,
    status: Option<u16>,
    request_bytes: u64,
    response_bytes: u64,
    request_body_bytes: u64,
    response_body_bytes: u64,
    request_first_ns: Option<i64>,
    request_last_ns: Option<i64>,
    response_first_ns: Option<i64>,
    response_last_ns: Option<i64>,
    ttfb_ns: Option<i64>,
    total_ns: Option<i64>,
    server_ns: Option<i64>,
    tshark_ns: Option<i64>,
    flags: &'a [&'static str],
    gap: bool,
    tls: bool,
    sni: Option<&'a str>,
    stream_id: Option<u32>,
    grpc_service: Option<&'a str>,
    grpc_method: Option<&'a str>,
    grpc_status: Option<u32>,
    grpc_message: Option<&'a str>,
    grpc_request_messages: Option<u64>,
    grpc_response_messages: Option<u64>,
}

#[cfg(test)]
pub fn to_json<'a>(capture: &'a str, t: &'a HttpTransaction) -> JsonRow<'a> {
    JsonRow {
        capture,
        connection_id: t.connection_id,
        depth: t.depth,
        client_ip: t.client_ip,
        client_port: t.client_port,
        server_ip: t.server_ip,
        server_port: t.server_port,
        method: &t.method,
        host: t.host.as_deref(),
        uri: &t.uri,
        version: &t.version,
        status: t.status,
        request_bytes: t.request_bytes,
        response_bytes: t.response_bytes,
        request_body_bytes: t.request_body_bytes,
        response_body_bytes: t.response_body_bytes,
        request_first_ns: t.request_first_ns,
        request_last_ns: t.request_last_ns,
        response_first_ns: t.response_first_ns,
        response_last_ns: t.response_last_ns,
        ttfb_ns: t.ttfb_ns(),
        total_ns: t.total_ns(),
        server_ns: t.server_ns(),
        tshark_ns: t.tshark_ns(),
        flags: &t.flags,
        gap: t.flags.contains(&"gap"),
        tls: t.tls,
        sni: t.sni.as_deref(),
        stream_id: t.stream_id,
        grpc_service: t.grpc.as_ref().map(|g| g.service.as_str()),
        grpc_method: t.grpc.as_ref().map(|g| g.method.as_str()),
        grpc_status: t.grpc.as_ref().and_then(|g| g.status),
        grpc_message: t.grpc.as_ref().and_then(|g| g.message.as_deref()),
        grpc_request_messages: t.grpc.as_ref().map(|g| g.request_messages),
        grpc_response_messages: t.grpc.as_ref().map(|g| g.response_messages),
    }
}

/// One `--csv` record as it was written before the column definitions: the reference the
/// column-driven writer is tested against.
#[cfg(test)]
fn csv_row(capture: &str, t: &HttpTransaction) -> Vec<String> {
    let o = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let grpc = t.grpc.as_ref();
    vec![
        capture.into(),
        t.connection_id.to_string(),
        t.depth.to_string(),
        t.client_ip.to_string(),
        t.client_port.to_string(),
        t.server_ip.to_string(),
        t.server_port.to_string(),
        t.method.to_string(),
        t.host.as_deref().unwrap_or_default().to_string(),
        t.uri.to_string(),
        t.version.to_string(),
        t.status.map(|s| s.to_string()).unwrap_or_default(),
        t.request_bytes.to_string(),
        t.response_bytes.to_string(),
        t.request_body_bytes.to_string(),
        t.response_body_bytes.to_string(),
        o(t.request_first_ns),
        o(t.request_last_ns),
        o(t.response_first_ns),
        o(t.response_last_ns),
        o(t.ttfb_ns()),
        o(t.total_ns()),
        o(t.server_ns()),
        o(t.tshark_ns()),
        t.flags.join(","),
        t.flags.contains(&"gap").to_string(),
        t.tls.to_string(),
        t.sni.clone().unwrap_or_default(),
        t.stream_id.map(|s| s.to_string()).unwrap_or_default(),
        grpc.map(|g| g.service.clone()).unwrap_or_default(),
        grpc.map(|g| g.method.clone()).unwrap_or_default(),
        grpc.and_then(|g| g.status)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        grpc.and_then(|g| g.message.clone()).unwrap_or_default(),
        grpc.map(|g| g.request_messages.to_string())
            .unwrap_or_default(),
        grpc.map(|g| g.response_messages.to_string())
            .unwrap_or_default(),
    ]
}

/// The text line of one transaction (`tracetail http` without --json/--csv), appended to
/// `line`: `HTTP request at {when} for server {ip:port}  {method} {host}{uri} -> {status}
/// ttfb {ttfb} total {total}{  [flags]}`.
fn text_line(t: &HttpTransaction, style: &mut common::TimeStyle, line: &mut Vec<u8>) {
    line.extend_from_slice(b"HTTP request at ");
    match t.request_first_ns.or(t.response_first_ns) {
        Some(ns) => style.push_time(line, ns),
        None => line.push(b'?'),
    }
    line.extend_from_slice(b" for server ");
    common::push_endpoint(line, t.server_ip, t.server_port);
    line.extend_from_slice(b"  ");
    let method = if t.method.is_empty() { "?" } else { &t.method };
    line.extend_from_slice(method.as_bytes());
    line.push(b' ');
    line.extend_from_slice(t.host.as_deref().unwrap_or("").as_bytes());
    line.extend_from_slice(t.uri.as_bytes());
    line.extend_from_slice(b" -> ");
    match t.status {
        Some(status) => push_u64(line, u64::from(status)),
        None => line.extend_from_slice(b"---"),
    }
    line.extend_from_slice(b"  ttfb ");
    style.push_duration(line, t.ttfb_ns());
    line.extend_from_slice(b" total ");
    style.push_duration(line, t.total_ns());
    common::push_flags(line, &t.flags);
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut analyzer = args.analysis.config()?;
    // HTTP rows only: DNS over UDP is not looked at.
    analyzer.dns_over_udp = false;
    let options = PassOptions {
        transactions: true,
        // Only the records are read: the protocol counts are not.
        skip_counts: true,
        select: args.inputs.selection(),
        analyzer,
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let mut rows = common::RowWriter::new(args.json, args.csv, &HTTP)?
        .text_on_workers(args.time_format, text_line);
    let mut styles = common::TimeStyles::new(args.time_format);
    let run = common::write_rows(
        &args.inputs.files,
        &options,
        &mut rows,
        |record| match record {
            Record::Http(t) => Some(t),
            _ => None,
        },
        |path, t, line| text_line(t, styles.for_file(path), line),
    )?;
    let text = rows.is_text();
    let count = rows.count;
    let mut out = rows.finish()?;
    if text && !run.nothing_read() {
        let stats: Vec<_> = run.reports.iter().map(|r| &r.analyzer).collect();
        let unanswered: u64 = stats.iter().map(|s| s.http_unanswered).sum();
        let gaps: u64 = stats.iter().map(|s| s.http_transactions_with_gaps).sum();
        let orphans: u64 = stats.iter().map(|s| s.http_orphan_responses).sum();
        writeln!(out, "{count} HTTP transactions ({unanswered} unanswered, {orphans} responses without a request, {gaps} spanning a capture gap)")?;
    }
    out.flush()?;
    Ok(run.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use tracetail::columns::writers::{CsvRows, JsonRows};

    fn serde_line(capture: &str, t: &HttpTransaction) -> Vec<u8> {
        let mut line = serde_json::to_vec(&to_json(capture, t)).unwrap();
        line.push(b'\n');
        line
    }

    /// Transactions with every kind of value: escapes, extremes, absent fields, gRPC.
    fn rows() -> Vec<HttpTransaction> {
        let mut rows = Vec::new();
        let mut t = HttpTransaction {
            connection_id: 7,
            depth: 2,
            client_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            client_port: 40000,
            server_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            server_port: 80,
            method: "GET".into(),
            host: Some("example.com".into()),
            uri: "/a?b=\"c\"&d=\\e\u{1}\u{1f}\u{7f}\t\n\r\u{8}\u{c}é😀,x".into(),
            version: "HTTP/1.1".into(),
            status: Some(200),
            request_first_ns: Some(i64::MIN),
            request_last_ns: Some(-5),
            response_first_ns: Some(i64::MAX),
            response_last_ns: None,
            flags: vec!["gap", "pipelined"],
            tls: true,
            sni: Some("bücher.example".into()),
            stream_id: None,
            grpc: None,
            request_bytes: 10,
            response_bytes: 20,
            request_body_bytes: 0,
            response_body_bytes: 3,
            request_head_ns: None,
            response_head_ns: None,
        };
        rows.push(t.clone());
        t.host = None;
        t.status = None;
        t.flags.clear();
        t.method = Default::default();
        t.request_first_ns = None;
        rows.push(t.clone());
        t.request_bytes = u64::MAX;
        t.response_body_bytes = 12345;
        rows.push(t.clone());
        t.stream_id = Some(u32::MAX);
        t.grpc = Some(tracetail::analyzers::GrpcCall {
            service: "helloworld.Greeter".into(),
            method: "SayHello".into(),
            status: Some(14),
            message: Some("unavailable: \"x\"\n".into()),
            request_messages: 1,
            response_messages: u64::MAX,
        });
        rows.push(t.clone());
        t.grpc.as_mut().unwrap().status = None;
        t.grpc.as_mut().unwrap().message = None;
        rows.push(t);
        rows
    }

    #[test]
    fn json_rows_are_serde_json_bytes() {
        let json = JsonRows::new(&HTTP);
        for (i, t) in rows().iter().enumerate() {
            for capture in ["a.pcap", "dir\\we\"ird\nname.pcap"] {
                let mut line = Vec::new();
                json.push_line(&mut line, capture, t);
                assert_eq!(
                    String::from_utf8(line).unwrap(),
                    String::from_utf8(serde_line(capture, t)).unwrap(),
                    "row {i}"
                );
            }
        }
    }

    #[test]
    fn csv_rows_are_the_written_out_records() {
        let columns = CsvRows::new(&HTTP);
        let mut ours = csv::Writer::from_writer(Vec::new());
        let mut reference = csv::Writer::from_writer(Vec::new());
        ours.write_record(columns.header()).unwrap();
        reference.write_record(JSON_FIELDS).unwrap();
        let mut scratch = Vec::new();
        for t in &rows() {
            for capture in ["a.pcap", "dir\\we\"ird\nname,x.pcap"] {
                columns.write(&mut ours, &mut scratch, capture, t).unwrap();
                reference.write_record(csv_row(capture, t)).unwrap();
            }
        }
        assert_eq!(
            String::from_utf8(ours.into_inner().unwrap()).unwrap(),
            String::from_utf8(reference.into_inner().unwrap()).unwrap()
        );
    }

    /// The CSV header is the JSON keys, in order.
    const JSON_FIELDS: [&str; 35] = [
        "capture",
        "connection_id",
        "depth",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "method",
        "host",
        "uri",
        "version",
        "status",
        "request_bytes",
        "response_bytes",
        "request_body_bytes",
        "response_body_bytes",
        "request_first_ns",
        "request_last_ns",
        "response_first_ns",
        "response_last_ns",
        "ttfb_ns",
        "total_ns",
        "server_ns",
        "tshark_ns",
        "flags",
        "gap",
        "tls",
        "sni",
        "stream_id",
        "grpc_service",
        "grpc_method",
        "grpc_status",
        "grpc_message",
        "grpc_request_messages",
        "grpc_response_messages",
    ];

    #[test]
    fn serde_reference_has_the_header_fields() {
        let value = serde_json::to_value(to_json("a", &rows()[0])).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, JSON_FIELDS);
    }
}

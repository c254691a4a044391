//! `tracetail sessions`: conversations (default) or Scapy's session keys (`--scapy`).

use super::common::{self, Inputs};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use tracetail::analyzers::http2::Http2Connection;
use tracetail::columns::flows::FLOWS;
use tracetail::columns::writers::{push_ip, push_u64, JsonRows};
use tracetail::flows::{FlowRecord, CONVERSATION_FIGURES};
use tracetail::pipeline::{PassOptions, Record};
use tracetail::units::{push_bytes_human, push_thousands, thousands};

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
    /// trips, SETTINGS). Runs the HTTP/2 analysis (as `http` does: slower).
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
        // Only the records are read: the protocol counts are not.
        skip_counts: true,
        select: args.inputs.selection(),
        // --max-flows, --memory-budget, --idle-timeout...: the flow table's limits.
        analyzer: args.analysis.config()?,
        ..Default::default()
    };
    if args.http2 {
        options.transactions = true;
        options.analyzer.http2_connections = true;
        // HTTP/2 figures only: DNS over UDP is not looked at.
        options.analyzer.dns_over_udp = false;
    }
    let options = args.inputs.pass(options);
    // --http2: an HTTP/2 conversation's figures come just before its flow record.
    let mut figures: Option<Http2Connection> = None;
    let json = JsonRows::new(&FLOWS);
    let multi = args.inputs.files.len() > 1;
    // Rows stream out as flows end: JSON and CSV as they come, the text table in order of
    // first packet (a row waits for the earlier ones, within the flow limit).
    let mut writer = (args.json || args.csv)
        .then(|| common::RowWriter::new(args.json, args.csv, &FLOWS))
        .transpose()?;
    let mut table = writer
        .is_none()
        .then(|| Table::new(common::stdout(), multi, options.analyzer.max_flows));
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        let flow = match record {
            Record::Flow(flow) => flow,
            Record::Http2(c) => {
                figures = Some(c);
                return Ok(());
            }
            _ => return Ok(()),
        };
        let figures = figures.take().filter(|c| c.connection_id == flow.flow_id);
        match (writer.as_mut(), table.as_mut(), figures) {
            (Some(w), _, Some(figures)) => {
                let mut line = Vec::with_capacity(1024);
                json.push_line(&mut line, &path.display().to_string(), &flow);
                // The row's object gains one field: `..., "http2": {...}}`.
                line.truncate(line.len() - 2);
                line.extend_from_slice(b",\"http2\":");
                serde_json::to_writer(&mut line, &figures)?;
                line.extend_from_slice(b"}\n");
                w.encoded(&line)
            }
            (Some(w), _, None) => w.row(path, &flow, |_| {}),
            (None, Some(table), _) => table.push(path, flow),
            (None, None, _) => Ok(()),
        }
    })?;
    let mut out = match (writer, table) {
        (Some(w), _) => w.finish()?,
        (None, Some(table)) => table.finish(!run.nothing_read())?,
        (None, None) => common::stdout(),
    };
    out.flush()?;
    Ok(run.exit_code())
}

/// The `--csv` header as it was written before the column definitions (test reference).
#[cfg(test)]
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

/// One `--csv` record as it was written before the column definitions (test reference).
#[cfg(test)]
fn csv_row(file: &str, f: &FlowRecord) -> Vec<String> {
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    vec![
        file.to_string(),
        f.flow_id.to_string(),
        f.protocol.to_string(),
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
        f.tcp_state.as_deref().unwrap_or_default().to_string(),
        opt(f.syn_to_synack_ns),
        opt(f.synack_to_ack_ns),
    ]
}

/// A conversation's endpoint: `ip:port` as `SocketAddr` writes it for TCP and UDP, the
/// address alone otherwise.
fn push_endpoint(line: &mut Vec<u8>, ip: std::net::IpAddr, port: u16, protocol: &str) {
    if protocol == "tcp" || protocol == "udp" {
        common::push_endpoint(line, ip, port);
    } else {
        push_ip(line, ip);
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// The table's columns (width in characters, alignment), for its heading and every row.
const COLUMNS: [(usize, Align); 10] = [
    (5, Align::Right),
    (6, Align::Left),
    (45, Align::Left),
    (10, Align::Right),
    (9, Align::Right),
    (10, Align::Right),
    (9, Align::Right),
    (10, Align::Right),
    (6, Align::Right),
    (10, Align::Right),
];

/// Appends what `write` writes, padded with spaces to `width` characters as `{:<width}` or
/// `{:>width}` would, then one space.
fn padded(line: &mut Vec<u8>, (width, align): (usize, Align), write: impl FnOnce(&mut Vec<u8>)) {
    let start = line.len();
    write(line);
    // Characters, not bytes (`µs`): every byte but UTF-8 continuation bytes starts one.
    let chars = line[start..].iter().filter(|&&b| b & 0xc0 != 0x80).count();
    let fill = width.saturating_sub(chars);
    match align {
        Align::Left => line.extend(std::iter::repeat_n(b' ', fill)),
        // The spaces go after, then turn to the front (a splice cost ~130 instructions).
        Align::Right => {
            line.extend(std::iter::repeat_n(b' ', fill));
            line[start..].rotate_right(fill);
        }
    }
    line.push(b' ');
}

/// The conversation table (`sessions` without --json/--csv), written as flows end: per file
/// in order of first packet, each row waiting until the rows of earlier flows are out. At
/// most `max_waiting` rows wait (the flow limit: a flow open for long would otherwise hold
/// back every later row, and memory with them); past that the earliest waiting row goes out
/// early, and the end says how many rows came out of order.
struct Table<W: Write> {
    out: W,
    multi: bool,
    max_waiting: usize,
    styles: common::TimeStyles,
    file: Option<std::path::PathBuf>,
    waiting: BTreeMap<u64, FlowRecord>,
    /// The highest flow id written for this file.
    written_up_to: Option<u64>,
    rows: u64,
    out_of_order: u64,
    header_written: bool,
    /// The row being written.
    line: Vec<u8>,
}

impl<W: Write> Table<W> {
    fn new(out: W, multi: bool, max_waiting: usize) -> Self {
        Table {
            out,
            multi,
            max_waiting: max_waiting.max(1),
            // Durations with the digits each capture has (`78µs` from a microsecond capture).
            styles: common::TimeStyles::new(common::TimeFormat::Epoch),
            file: None,
            waiting: BTreeMap::new(),
            written_up_to: None,
            rows: 0,
            out_of_order: 0,
            header_written: false,
            line: Vec::with_capacity(256),
        }
    }

    fn push(&mut self, path: &std::path::Path, flow: FlowRecord) -> std::io::Result<()> {
        if self.file.as_deref() != Some(path) {
            self.release(true)?;
            self.file = Some(path.to_path_buf());
            self.written_up_to = None;
        }
        self.waiting.insert(flow.flow_id, flow);
        self.release(false)
    }

    /// Writes the waiting rows that are due (`all`: every one, in order).
    fn release(&mut self, all: bool) -> std::io::Result<()> {
        while let Some((&first, _)) = self.waiting.first_key_value() {
            let next = self.written_up_to.map_or(0, |id| id + 1);
            if first > next && !all && self.waiting.len() <= self.max_waiting {
                break;
            }
            if let Some((_, flow)) = self.waiting.pop_first() {
                self.write_row(&flow)?;
            }
        }
        Ok(())
    }

    fn write_row(&mut self, f: &FlowRecord) -> std::io::Result<()> {
        if !self.header_written {
            self.write_header()?;
        }
        let file = self.file.as_deref().unwrap_or(std::path::Path::new(""));
        if self.multi && self.written_up_to.is_none() {
            writeln!(self.out, "# {}", file.display())?;
        }
        match self.written_up_to {
            Some(highest) if f.flow_id < highest => self.out_of_order += 1,
            _ => self.written_up_to = Some(f.flow_id),
        }
        self.rows += 1;
        let style = self.styles.for_file(file);
        // Written without the formatting machinery (a sixth of the cost).
        let line = &mut self.line;
        line.clear();
        padded(line, COLUMNS[0], |l| push_u64(l, f.flow_id));
        padded(line, COLUMNS[1], |l| {
            l.extend_from_slice(f.protocol.as_bytes())
        });
        let pair_at = line.len();
        padded(line, COLUMNS[2], |l| {
            push_endpoint(l, f.client_ip, f.client_port, &f.protocol);
            l.extend_from_slice(b" -> ");
            push_endpoint(l, f.server_ip, f.server_port, &f.protocol);
        });
        // A pair wider than its column (IPv6) ends the line, and the figures go on the next,
        // under their headings: the rows stream, so the column cannot widen to fit.
        if line.len() - pair_at > COLUMNS[2].0 + 1 {
            line.pop();
            line.push(b'\n');
            let figures_at: usize = COLUMNS[..3].iter().map(|(width, _)| width + 1).sum();
            line.extend(std::iter::repeat_n(b' ', figures_at));
        }
        padded(line, COLUMNS[3], |l| {
            style.push_duration(l, Some(f.duration_ns()))
        });
        let sides = [
            (f.client_packets, f.client_bytes),
            (f.server_packets, f.server_bytes),
        ];
        for (i, (packets, bytes)) in sides.into_iter().enumerate() {
            padded(line, COLUMNS[4 + 2 * i], |l| push_thousands(l, packets));
            padded(line, COLUMNS[5 + 2 * i], |l| push_bytes_human(l, bytes));
        }
        padded(line, COLUMNS[8], |l| {
            l.extend_from_slice(f.tcp_state.as_deref().unwrap_or("-").as_bytes())
        });
        padded(line, COLUMNS[9], |l| {
            style.push_duration(l, f.handshake_ns())
        });
        Self::end_line(line);
        self.out.write_all(line)
    }

    fn write_header(&mut self) -> std::io::Result<()> {
        self.header_written = true;
        let line = &mut self.line;
        line.clear();
        let headings = ["id", "proto", "client -> server"]
            .into_iter()
            .chain(CONVERSATION_FIGURES);
        for (column, heading) in COLUMNS.into_iter().zip(headings) {
            padded(line, column, |l| l.extend_from_slice(heading.as_bytes()));
        }
        Self::end_line(line);
        self.out.write_all(line)
    }

    /// One space between cells: the last cell's is the line's end.
    fn end_line(line: &mut Vec<u8>) {
        line.pop();
        line.push(b'\n');
    }

    /// Writes what still waits and the closing line (`read`: a capture was read, so the table
    /// is shown even without rows); returns the output.
    fn finish(mut self, read: bool) -> std::io::Result<W> {
        self.release(true)?;
        if read {
            if !self.header_written {
                self.write_header()?;
            }
            writeln!(self.out, "{} conversations", thousands(self.rows))?;
        }
        if self.out_of_order > 0 {
            eprintln!(
                "warning: {} conversations were printed out of order of first packet: more than {} waited for an earlier one still open (raise --max-flows or --memory-budget, or use --json)",
                thousands(self.out_of_order),
                thousands(self.max_waiting as u64)
            );
        }
        Ok(self.out)
    }
}

fn run_scapy(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        scapy_keys: true,
        skip_counts: true,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tracetail::columns::writers::{CsvRows, JsonRows};

    #[test]
    fn cells_are_padded_by_characters_as_format_pads_them() {
        for text in [
            "",
            "x",
            "458.564µs",
            "1.90 KiB",
            "a longer cell than its width",
        ] {
            for width in [0, 5, 10, 12] {
                let mut line = Vec::new();
                padded(&mut line, (width, Align::Right), |l| {
                    l.extend_from_slice(text.as_bytes())
                });
                padded(&mut line, (width, Align::Left), |l| {
                    l.extend_from_slice(text.as_bytes())
                });
                let want = format!("{text:>width$} {text:<width$} ");
                assert_eq!(String::from_utf8(line).unwrap(), want);
            }
        }
    }

    /// A `--json` line as it was written before the column definitions.
    fn reference_json(file: &str, flow: &FlowRecord) -> Vec<u8> {
        let mut v = serde_json::to_value(flow).unwrap();
        v["capture"] = json!(file);
        v["duration_ns"] = json!(flow.duration_ns());
        v["handshake_ns"] = json!(flow.handshake_ns());
        let mut line = serde_json::to_vec(&v).unwrap();
        line.push(b'\n');
        line
    }

    fn flows() -> Vec<FlowRecord> {
        let mut f = FlowRecord {
            flow_id: u64::MAX,
            protocol: "tcp".into(),
            client_ip: "10.0.0.1".parse().unwrap(),
            client_port: 65535,
            server_ip: "2001:db8::1".parse().unwrap(),
            server_port: 443,
            first_ns: i64::MIN,
            last_ns: i64::MAX,
            client_packets: 1,
            client_bytes: 2,
            client_payload_bytes: 3,
            server_packets: 4,
            server_bytes: 5,
            server_payload_bytes: 6,
            tcp_state: Some("SF".into()),
            syn_to_synack_ns: Some(7),
            synack_to_ack_ns: Some(8),
        };
        let mut rows = vec![f.clone()];
        f.protocol = "ip-47".into();
        f.tcp_state = None;
        f.syn_to_synack_ns = None;
        f.synack_to_ack_ns = None;
        rows.push(f);
        rows
    }

    #[test]
    fn json_and_csv_rows_are_the_written_out_ones() {
        let json = JsonRows::new(&FLOWS);
        let csv_rows = CsvRows::new(&FLOWS);
        let mut ours = csv::Writer::from_writer(Vec::new());
        let mut reference = csv::Writer::from_writer(Vec::new());
        ours.write_record(csv_rows.header()).unwrap();
        reference.write_record(CSV_COLUMNS).unwrap();
        let mut scratch = Vec::new();
        for f in &flows() {
            for file in ["a.pcap", "we\"ird,\n.pcap"] {
                let mut line = Vec::new();
                json.push_line(&mut line, file, f);
                assert_eq!(
                    String::from_utf8(line).unwrap(),
                    String::from_utf8(reference_json(file, f)).unwrap()
                );
                csv_rows.write(&mut ours, &mut scratch, file, f).unwrap();
                reference.write_record(csv_row(file, f)).unwrap();
            }
        }
        assert_eq!(
            String::from_utf8(ours.into_inner().unwrap()).unwrap(),
            String::from_utf8(reference.into_inner().unwrap()).unwrap()
        );
    }

    #[test]
    fn a_pair_too_wide_for_its_column_puts_the_figures_on_the_next_line_under_their_headings() {
        let mut table = Table::new(Vec::new(), false, 10);
        let path = std::path::Path::new("a.pcap");
        let mut f = flows().remove(0);
        for (id, client, server) in [
            (0, "10.0.0.1", "10.0.0.2"),
            (1, "2001:db8:1:2::1002", "2001:db8:1:2::1000"),
            (2, "10.0.0.3", "10.0.0.4"),
        ] {
            (f.flow_id, f.client_ip, f.server_ip) =
                (id, client.parse().unwrap(), server.parse().unwrap());
            (f.first_ns, f.last_ns) = (0, 4_597_000);
            table.push(path, f.clone()).unwrap();
        }
        table.release(true).unwrap();
        let text = String::from_utf8(table.out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[2].ends_with("[2001:db8:1:2::1000]:443"), "{text}");
        // Every line's figures end where the heading's do, the wrapped row's too.
        let ends = |line: &str| line.find("4.597ms").map(|at| at + "4.597ms".len());
        let duration_end = lines[0].find("duration").unwrap() + "duration".len();
        for line in [lines[1], lines[3], lines[4]] {
            assert_eq!(ends(line), Some(duration_end), "{text}");
            assert_eq!(line.chars().count(), lines[1].chars().count(), "{text}");
        }
    }
}

//! Pieces shared by the commands: input files, running passes, the one output writer, exit
//! codes.

use super::limits;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use tracetail::capture::{CaptureError, CaptureReader};
use tracetail::columns::writers::{push_ip, push_u64, CsvRows, JsonRows};
use tracetail::columns::RowColumns;
use tracetail::flows::{PacketFilter, PacketSelection, TimeBound};
use tracetail::pipeline::{analyze, FileReport, PassOptions, Record, RowEncoder};
use tracetail::units::Resolution;

/// Capture files named on the command line (`-` reads standard input), and which of their
/// packets to look at.
#[derive(clap::Args, Debug, Clone)]
pub struct Inputs {
    /// Capture files: pcap or pcapng, optionally gzip- or zstd-compressed; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only packets matching this pcap-filter expression, as tcpdump would select them
    /// (e.g. 'tcp port 80 and host 10.0.0.5'; README "Filters" lists the supported subset).
    #[arg(long, value_name = "EXPR", value_parser = parse_filter, help_heading = "Packet selection")]
    pub filter: Option<PacketFilter>,
    /// Only packets at or after this time: RFC 3339 (2024-05-01T12:00:00Z) or seconds after
    /// each file's first packet (10, 2.5).
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse, help_heading = "Packet selection")]
    pub start: Option<TimeBound>,
    /// Only packets before this time (same forms as --start).
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse, help_heading = "Packet selection")]
    pub end: Option<TimeBound>,
    /// Analysis workers (default: one per core; also TRACETAIL_THREADS). Connections are
    /// dealt to workers by endpoint pair: the output is the same for every count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

impl Inputs {
    /// The packet selection for [`PassOptions::select`]; `None` when nothing was asked for.
    pub fn selection(&self) -> Option<PacketSelection> {
        (self.filter.is_some() || self.start.is_some() || self.end.is_some()).then(|| {
            PacketSelection {
                filter: self.filter.clone(),
                start: self.start,
                end: self.end,
            }
        })
    }

    /// `options` with the worker count asked for on the command line.
    pub fn pass(&self, options: PassOptions) -> PassOptions {
        PassOptions {
            threads: self.threads.map_or(options.threads, usize::from),
            ..options
        }
    }
}

/// Parses `--filter`, pointing at the position of a mistake under the expression.
fn parse_filter(expression: &str) -> Result<PacketFilter, String> {
    PacketFilter::parse(expression).map_err(|e| {
        format!(
            "{e}\n    {expression}\n    {}^",
            " ".repeat(e.position.saturating_sub(1))
        )
    })
}

/// An input file other than a capture (`.hdr`, CSV) that cannot be read or parsed: the command
/// exits 1, as for an unreadable capture (2 stays for usage and output errors).
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct UnreadableInput(pub anyhow::Error);

/// Marks `err` as an unreadable input (for `map_err`).
pub fn unreadable(err: anyhow::Error) -> anyhow::Error {
    UnreadableInput(err).into()
}

/// Outcome of running one pass over every input.
pub struct Run {
    pub reports: Vec<FileReport>,
    pub failed: usize,
}

/// Says why a file could not be read and what to do about it.
fn report_unreadable(path: &Path, err: &tracetail::capture::CaptureError) {
    let name = path.display();
    if path.as_os_str() != "-" && !path.exists() {
        eprintln!("error: {name}: no such file");
        eprintln!("hint: check the path and the current directory; `-` reads standard input");
    } else if path.is_dir() {
        eprintln!("error: {name}: is a directory");
        eprintln!("hint: name the capture files in it, e.g. {name}/*.pcap");
    } else if err.message.starts_with("not a pcap or pcapng file") {
        eprintln!("error: {err}");
        eprintln!(
            "hint: tracetail reads pcap and pcapng files, also gzip- or zstd-compressed; convert \
             other capture formats with `editcap -F pcapng IN OUT` (Wireshark), or check with \
             `file {name}` what this file is"
        );
    } else {
        eprintln!("error: {err}");
        eprintln!("hint: check that the file is readable and complete (tracetail reads pcap and pcapng, also gzip/zstd-compressed)");
    }
}

impl Run {
    /// Every input failed: nothing was read, so commands print no results (not even zeros).
    pub fn nothing_read(&self) -> bool {
        self.reports.is_empty() && self.failed > 0
    }

    /// Exit status: 0 when every file was read, 1 when some could not be (the others are
    /// still reported).
    pub fn exit_code(&self) -> ExitCode {
        if self.failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Runs `options` over every file, streaming records to `emit(file_index, record)`.
/// Errors and warnings go to stderr as they happen, each naming the file and offset.
/// A write error (the reader of stdout went away, a full disk) stops reading at once and is
/// returned.
pub fn run_pass(
    files: &[PathBuf],
    options: &PassOptions,
    emit: &mut dyn FnMut(&Path, Record) -> io::Result<()>,
) -> anyhow::Result<Run> {
    run_pass_with_rows(files, options, &|_| None, emit)
}

/// [`run_pass`] with each file's rows written on the workers by `rows_for(file)` (see
/// [`PassOptions::rows`]): the sink then gets [`Record::Row`]s in those records' place.
pub fn run_pass_with_rows(
    files: &[PathBuf],
    options: &PassOptions,
    rows_for: &dyn Fn(&Path) -> Option<RowEncoder>,
    emit: &mut dyn FnMut(&Path, Record) -> io::Result<()>,
) -> anyhow::Result<Run> {
    let mut run = Run {
        reports: Vec::new(),
        failed: 0,
    };
    let mut io_error: Option<io::Error> = None;
    for path in files {
        let mut sink = |record: Record| match emit(path, record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                io_error = Some(e);
                ControlFlow::Break(())
            }
        };
        let rows = rows_for(path);
        let with_rows = rows.is_some().then(|| PassOptions {
            rows,
            ..options.clone()
        });
        match analyze_path(path, with_rows.as_ref().unwrap_or(options), &mut sink) {
            Ok(report) => {
                for warning in &report.warnings {
                    // Each warning says itself whether reading stopped there.
                    eprintln!("warning: {warning}{}", budget_hint(warning));
                }
                if let Some(note) = budget_peaks(&report, options) {
                    eprintln!("{note}");
                }
                run.reports.push(report);
            }
            Err(err) => {
                report_unreadable(path, &err);
                run.failed += 1;
            }
        }
        if let Some(e) = io_error.take() {
            return Err(e.into());
        }
    }
    Ok(run)
}

/// Runs the pass over `files` and writes one row per record `pick` finds: JSON and CSV rows
/// formatted on the workers ([`RowWriter::encoders`]), text lines made by `text` here, in
/// order (only for text output, appended to the line buffer it is given).
pub fn write_rows<R, P>(
    files: &[PathBuf],
    options: &PassOptions,
    rows: &mut RowWriter<R>,
    pick: P,
    mut text: impl FnMut(&Path, &R, &mut Vec<u8>),
) -> anyhow::Result<Run>
where
    R: Send + Sync + 'static,
    P: for<'r> Fn(&'r Record) -> Option<&'r R> + Clone + Send + Sync + 'static,
{
    let encoders = rows.encoders(pick.clone());
    run_pass_with_rows(files, options, &encoders, &mut |path, record| {
        if let Record::Row(row) = &record {
            return rows.encoded(row);
        }
        match pick(&record) {
            Some(row) => rows.row(path, row, |line| text(path, row, line)),
            None => Ok(()),
        }
    })
}

/// One pass over a capture file (`-`: stdin) with the CLI's progress bar (only on a terminal)
/// and worker count (`--threads`, else `TRACETAIL_THREADS`, else one per core).
pub fn analyze_path(
    path: &Path,
    options: &PassOptions,
    sink: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<FileReport, CaptureError> {
    let reader = CaptureReader::open(path)?;
    let mut options = options.clone();
    if options.threads == 0 {
        if let Ok(threads) = std::env::var("TRACETAIL_THREADS") {
            options.threads = threads.trim().parse().unwrap_or(options.threads);
        }
    }
    // Bench only (scripts/bench.sh's scaling section): see PassOptions::simulated_work_ns.
    if let Ok(ns) = std::env::var("TRACETAIL_BENCH_WORKER_NS") {
        options.simulated_work_ns = ns.trim().parse().unwrap_or(0);
    }
    // Bench only (scripts/bench_threads_model.sh): see PassOptions::cores.
    if let Ok(cores) = std::env::var("TRACETAIL_BENCH_CORES") {
        options.cores = cores.trim().parse().ok();
    }
    let mut bar = super::progress::bar_for(path);
    let progress = bar
        .as_mut()
        .map(|b| b as &mut dyn tracetail::pipeline::Progress);
    let report = analyze(reader, &options, progress, sink);
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(report)
}

/// Standard output as every command writes it: buffered, locked once, and a write error
/// other than a closed pipe names the output (a closed pipe ends the command quietly, see
/// `main`).
pub fn stdout() -> io::BufWriter<Stdout> {
    io::BufWriter::with_capacity(1 << 16, Stdout(io::stdout().lock()))
}

/// Locked standard output whose errors say they happened while writing the output.
pub struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    fn describe(e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            e
        } else {
            io::Error::new(e.kind(), format!("writing standard output: {e}"))
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(Self::describe)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(Self::describe)
    }
}

/// A CSV error as an I/O error, keeping the kind of an underlying I/O error (a closed pipe
/// stays a closed pipe).
pub fn csv_error(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Whether `err` (or anything it wraps) is a closed pipe: the reader of our output went away,
/// which is a normal way to stop (`tracetail http big.pcap | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = if let Some(io) = e.downcast_ref::<io::Error>() {
            Some(io.kind())
        } else if let Some(json) = e.downcast_ref::<serde_json::Error>() {
            json.io_error_kind()
        } else if let Some(csv) = e.downcast_ref::<csv::Error>() {
            match csv.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Writes a JSON value on one line.
pub fn write_json_line(
    out: &mut (impl Write + ?Sized),
    value: &impl serde::Serialize,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Writes one row per record to stdout as JSON Lines, CSV (with a header) or text lines, the
/// JSON and CSV columns as the row type defines them ([`RowColumns`]), naming each row's
/// capture file (the name is formatted once per file).
pub struct RowWriter<R: 'static> {
    /// Shared with the encoders that write rows on the workers ([`RowWriter::encoders`]).
    format: Arc<RowFormat<R>>,
    out: io::BufWriter<Stdout>,
    /// The file of the rows being written, and its name as the `capture` column holds it.
    capture: Option<(PathBuf, Vec<u8>)>,
    /// The JSON line or CSV record being formatted (reused).
    line: Vec<u8>,
    /// A CSV cell being formatted (reused).
    scratch: Vec<u8>,
    /// Rows written so far.
    pub count: u64,
}

enum RowFormat<R: 'static> {
    Json(JsonRows<R>),
    Csv(CsvRows<R>),
    /// Text lines, written on the workers too when they can be ([`RowWriter::text_on_workers`]).
    Text(Option<TextRows<R>>),
}

/// How a command writes a row's text line, for the workers.
struct TextRows<R> {
    format: TimeFormat,
    line: fn(&R, &mut TimeStyle, &mut Vec<u8>),
}

impl<R> RowFormat<R> {
    /// The `capture` column's value for the rows of `file`.
    fn capture(&self, file: &Path) -> Vec<u8> {
        let name = file.display().to_string();
        match self {
            RowFormat::Json(_) => JsonRows::<R>::capture(&name),
            RowFormat::Csv(_) => CsvRows::<R>::capture(&name),
            RowFormat::Text(_) => Vec::new(),
        }
    }
}

impl<R> RowWriter<R> {
    /// `json` or `csv` pick the format (text otherwise).
    pub fn new(json: bool, csv: bool, columns: &RowColumns<R>) -> io::Result<Self> {
        let mut out = stdout();
        let mut line = Vec::with_capacity(1024);
        let format = if json {
            RowFormat::Json(JsonRows::new(columns))
        } else if csv {
            let csv = CsvRows::new(columns);
            csv.push_header(&mut line);
            out.write_all(&line)?;
            RowFormat::Csv(csv)
        } else {
            RowFormat::Text(None)
        };
        Ok(RowWriter {
            format: Arc::new(format),
            out,
            capture: None,
            line,
            scratch: Vec::new(),
            count: 0,
        })
    }

    /// Text lines are `line` of the row in the file's [`TimeStyle`] of `format`: the workers
    /// write them too (see [`RowWriter::encoders`]). Otherwise the merging thread formatted
    /// every text line, which left a second worker little to do.
    pub fn text_on_workers(
        mut self,
        format: TimeFormat,
        line: fn(&R, &mut TimeStyle, &mut Vec<u8>),
    ) -> Self {
        if let Some(RowFormat::Text(text)) = Arc::get_mut(&mut self.format) {
            *text = Some(TextRows { format, line });
        }
        self
    }

    /// For each file, an encoder of the rows of the records `pick` finds, run on the workers
    /// (see [`PassOptions::rows`]; the same bytes as [`RowWriter::row`], handed back as
    /// [`Record::Row`] for [`RowWriter::encoded`]). `None` for text lines unless the command
    /// gave [`RowWriter::text_on_workers`], and for times relative to a first packet that
    /// cannot be read ahead (standard input): those are written here, in order.
    pub fn encoders<P>(&self, pick: P) -> impl Fn(&Path) -> Option<RowEncoder> + use<R, P>
    where
        R: Send + Sync,
        P: for<'r> Fn(&'r Record) -> Option<&'r R> + Send + Sync + 'static,
    {
        let format = Arc::clone(&self.format);
        let pick = Arc::new(pick);
        move |file| {
            if let RowFormat::Text(text) = &*format {
                let text = text.as_ref()?;
                let style = TimeStyle::for_file(text.format, file);
                if text.format == TimeFormat::Relative && style.origin_ns.is_none() {
                    return None;
                }
                let (line, pick) = (text.line, Arc::clone(&pick));
                return Some(RowEncoder(Arc::new(move |record, buf| {
                    let Some(row) = pick(record) else {
                        return false;
                    };
                    line(row, &mut style.clone(), buf);
                    buf.push(b'\n');
                    true
                })));
            }
            let capture = format.capture(file);
            let (format, pick) = (Arc::clone(&format), Arc::clone(&pick));
            Some(RowEncoder(Arc::new(move |record, line| {
                let Some(row) = pick(record) else {
                    return false;
                };
                match &*format {
                    RowFormat::Json(json) => json.push_row(line, &capture, row),
                    RowFormat::Csv(csv) => csv.push_record(line, &mut Vec::new(), &capture, row),
                    RowFormat::Text(_) => return false,
                }
                true
            })))
        }
    }

    /// Whether rows are text lines (a summary line may follow them).
    pub fn is_text(&self) -> bool {
        matches!(*self.format, RowFormat::Text(_))
    }

    /// Writes one row in the chosen format; `text` appends its text line to the buffer it is
    /// given (only called for text output).
    pub fn row(&mut self, path: &Path, row: &R, text: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.count += 1;
        if self.capture.as_ref().is_none_or(|(p, _)| p != path) {
            self.capture = Some((path.to_path_buf(), self.format.capture(path)));
        }
        let capture = &self.capture.as_ref().expect("set above").1;
        self.line.clear();
        match &*self.format {
            RowFormat::Json(json) => json.push_row(&mut self.line, capture, row),
            RowFormat::Csv(csv) => csv.push_record(&mut self.line, &mut self.scratch, capture, row),
            RowFormat::Text(_) => {
                text(&mut self.line);
                self.line.push(b'\n');
            }
        }
        self.out.write_all(&self.line)
    }

    /// Writes a row an encoder made ([`RowWriter::encoder`]).
    pub fn encoded(&mut self, row: &[u8]) -> io::Result<()> {
        self.count += 1;
        self.out.write_all(row)
    }

    /// Returns stdout, every row in it, for a closing line.
    pub fn finish(self) -> io::Result<io::BufWriter<Stdout>> {
        Ok(self.out)
    }
}

/// One kind of held state under `--memory-budget`: its own flag, its default limit and the
/// bytes one unit of it costs (measured; see each default's documentation).
#[derive(Debug, Clone, Copy)]
pub struct BudgetKind {
    pub flag: &'static str,
    pub default_limit: usize,
    pub unit_bytes: u64,
    /// The flag's range.
    pub min_limit: usize,
    pub max_limit: usize,
}

/// Flows: ~1.3 KiB each with their reassembly and HTTP state (measured under a SYN flood).
pub const FLOWS: BudgetKind = BudgetKind {
    flag: "--max-flows",
    default_limit: tracetail::flows::DEFAULT_MAX_FLOWS,
    unit_bytes: 1342,
    min_limit: 1,
    max_limit: 1 << 32,
};
/// Out-of-order data (counted in bytes with per-segment overhead) and analyzers' buffers.
pub const REASSEMBLY: BudgetKind = BudgetKind {
    flag: "--max-reassembly-bytes",
    default_limit: 256 << 20,
    unit_bytes: 1,
    min_limit: 1 << 20,
    max_limit: 1 << 40,
};
/// HTTP requests waiting for a response: ~1 KiB each.
pub const HTTP_PENDING: BudgetKind = BudgetKind {
    flag: "--max-pending-total",
    default_limit: 250_000,
    unit_bytes: 1074,
    min_limit: 1,
    max_limit: 100_000_000,
};
/// DNS queries waiting for a response: ~880 bytes each.
pub const DNS_PENDING: BudgetKind = BudgetKind {
    flag: "--max-dns-pending",
    default_limit: tracetail::analyzers::dns::DEFAULT_MAX_PENDING_QUERIES,
    unit_bytes: 880,
    min_limit: 256,
    max_limit: 100_000_000,
};
/// IP datagrams being reassembled: at most 64 KiB each.
pub const FRAGMENTS: BudgetKind = BudgetKind {
    flag: "--max-fragments",
    default_limit: tracetail::decode::defrag::DEFAULT_MAX_DATAGRAMS,
    unit_bytes: 64 << 10,
    min_limit: 1,
    max_limit: 1_000_000,
};
/// Finished rows waiting for their time order behind a transaction still in progress:
/// ~1.4 KiB a row of `http --json` with two workers, ~0.6 KiB a record on one thread
/// (measured behind a response that never ends, `synth --hostile held-back`).
pub const HELD_ROWS: BudgetKind = BudgetKind {
    flag: "--max-held-rows",
    default_limit: tracetail::analyzers::DEFAULT_MAX_HELD_RECORDS,
    unit_bytes: 1400,
    min_limit: 1,
    max_limit: 100_000_000,
};
/// Every kind under the budget.
pub const BUDGET_KINDS: [BudgetKind; 6] = [
    FLOWS,
    REASSEMBLY,
    HTTP_PENDING,
    DNS_PENDING,
    FRAGMENTS,
    HELD_ROWS,
];

/// Smallest `--memory-budget`: below it the per-kind minimums would exceed it.
const MIN_MEMORY_BUDGET: u64 = 16 << 20;

/// `--memory-budget`: one figure for all held state. Each kind keeps the share it has of the
/// default budget (the sum of the default limits' costs, ~1209 MiB), so the default budget
/// gives exactly the default limits and half of it gives half of each.
#[derive(Debug, Clone, Copy)]
pub struct MemoryBudget {
    pub bytes: u64,
}

impl MemoryBudget {
    /// The default budget: every kind at its default limit.
    pub fn default_bytes() -> u64 {
        BUDGET_KINDS
            .iter()
            .map(|k| k.default_limit as u64 * k.unit_bytes)
            .sum()
    }

    pub fn new(bytes: Option<u64>) -> MemoryBudget {
        MemoryBudget {
            bytes: bytes.unwrap_or_else(Self::default_bytes),
        }
    }

    /// The limit of `kind` under this budget (within its flag's range).
    pub fn share(&self, kind: BudgetKind) -> usize {
        let scaled =
            kind.default_limit as u128 * u128::from(self.bytes) / u128::from(Self::default_bytes());
        usize::try_from(scaled)
            .unwrap_or(usize::MAX)
            .clamp(kind.min_limit, kind.max_limit)
    }
}

/// The `--memory-budget` given and the flags whose limits came from it, for the warnings of
/// this run (one command per process).
static BUDGET_SHARES: std::sync::Mutex<Option<(u64, Vec<&'static str>)>> =
    std::sync::Mutex::new(None);

/// Under `--memory-budget`: the most state of each measured kind held at once in a file,
/// beside its limit (DNS and fragment peaks are not measured; their warnings say when they
/// shed).
fn budget_peaks(report: &FileReport, options: &PassOptions) -> Option<String> {
    use tracetail::units::{bytes_human, thousands};
    let shares = BUDGET_SHARES.lock().unwrap_or_else(|e| e.into_inner());
    let (bytes, _) = shares.as_ref()?;
    let limits = &options.analyzer;
    let held = &report.analyzer;
    // Only a threaded pass hands rows between threads.
    let in_flight = if report.peak_rows_in_flight_bytes > 0 {
        format!(
            ", {} of rows on their way to be written (limit {}, plus one epoch's)",
            bytes_human(report.peak_rows_in_flight_bytes as u64),
            bytes_human(report.max_rows_in_flight_bytes as u64)
        )
    } else {
        String::new()
    };
    Some(format!(
        "note: {}: under --memory-budget = {}, held at most {} flows (limit {}), {} of \
         out-of-order and buffered data (limit {}), {} pending HTTP requests (limit {}), {} finished rows \
         waiting for their time order (limit {}, plus the rows of one epoch){in_flight}",
        report.file,
        bytes_human(*bytes),
        thousands(report.peak_open_flows as u64),
        thousands(limits.max_flows as u64),
        bytes_human(held.tcp_peak_reassembly_bytes),
        bytes_human(limits.max_reassembly_bytes as u64),
        thousands(held.http_peak_pending_total),
        thousands(limits.max_pending_requests_total as u64),
        thousands(report.peak_held_records as u64),
        thousands(limits.max_held_records as u64),
    ))
}

/// For a warning that a limit shed state: which budget set that limit and what to raise.
fn budget_hint(warning: &str) -> String {
    let shares = BUDGET_SHARES.lock().unwrap_or_else(|e| e.into_inner());
    let Some((bytes, flags)) = shares.as_ref() else {
        return String::new();
    };
    match flags.iter().find(|flag| warning.contains(&format!("({flag}"))) {
        Some(flag) => format!(
            " [{flag} was its share of --memory-budget = {}: raise the budget, or set {flag} alone]",
            tracetail::units::bytes_human(*bytes)
        ),
        None => String::new(),
    }
}

/// Limits of the TCP/HTTP/DNS analysis (memory is bounded by these, per connection).
#[derive(clap::Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// Out-of-order bytes buffered per TCP direction before the hole is declared a gap
    /// (0 to 1073741824).
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(0, limits::MAX_ANALYSIS_BYTES))]
    pub max_reorder_bytes: usize,
    /// Longest HTTP header block accepted before the message is marked malformed
    /// (1 to 1073741824).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 10, help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, limits::MAX_ANALYSIS_BYTES))]
    pub max_header_bytes: usize,
    /// Memory for held state over the whole pass (K/M/G; 16M to 1T; default 1209M): flows,
    /// out-of-order data, pending HTTP requests and DNS queries, IP fragments and rows waiting
    /// for their time order each get a fixed share of it (README "Memory budget"); a --max-* flag given as well sets its kind alone.
    #[arg(long, value_name = "SIZE", help_heading = "Analysis limits",
          value_parser = limits::size(MIN_MEMORY_BUDGET, 1 << 40))]
    pub memory_budget: Option<u64>,
    /// Bytes held by the TCP analysis over all connections: out-of-order data (with
    /// per-segment overhead) and what the analyzers buffer (heads and frames waiting for their
    /// end); above it the oldest out-of-order data is given up as gaps, then the connections
    /// whose analyzers hold the most, with a warning (1048576 to 1099511627776; default
    /// 268435456, a share of --memory-budget).
    #[arg(long, value_name = "BYTES", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1 << 20, 1 << 40))]
    pub max_reassembly_bytes: Option<usize>,
    /// Flows open at once; beyond it the oldest half-open or idle ones are ended early (their
    /// rows are complete up to then), with a warning (1 to 4294967296; default 200000, ~256
    /// MiB, a share of --memory-budget).
    #[arg(long, value_name = "N", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 1 << 32))]
    pub max_flows: Option<usize>,
    /// HTTP requests in flight on one connection before the oldest is reported unanswered
    /// (1 to 1000000).
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 1_000_000))]
    pub max_pending_requests: usize,
    /// HTTP requests in flight over all connections (HTTP/2 streams included) before the
    /// connection adding one reports its oldest unanswered (1 to 100000000; default 250000,
    /// ~256 MiB, a share of --memory-budget).
    #[arg(long, value_name = "N", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 100_000_000))]
    pub max_pending_total: Option<usize>,
    /// DNS queries waiting for a response over all connections; the budget is split into
    /// equal shares by endpoint pair (the same for every --threads), and beyond a share its
    /// oldest query is reported unanswered, with a warning (256 to 100000000; default 131072,
    /// ~110 MiB, a share of --memory-budget).
    #[arg(long, value_name = "N", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(256, 100_000_000))]
    pub max_dns_pending: Option<usize>,
    /// Finished rows held at once for their time order while an earlier transaction is still
    /// in progress (a response streaming for minutes holds every later row); beyond it the
    /// earliest are written anyway, with a warning counting rows out of order (1 to
    /// 100000000; default 200000, ~267 MiB, a share of --memory-budget). With several
    /// workers it also bounds the rows they hand over before they are written (1 KiB per
    /// row of the limit, and one epoch's rows, up to four where rows turn heavy): past it, epochs
    /// go one at a time.
    #[arg(long, value_name = "N", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 100_000_000))]
    pub max_held_rows: Option<usize>,
    /// IP datagrams being put back together from fragments at once (at most 64 KiB each);
    /// beyond it the oldest unfinished one is dropped, with a warning (1 to 1000000; default
    /// 1024, a share of --memory-budget).
    #[arg(long, value_name = "N", help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 1_000_000))]
    pub max_fragments: Option<usize>,
    /// Seconds (capture time) without a packet after which a connection is flushed
    /// (0 to 1000000).
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0, help_heading = "Analysis limits",
          value_parser = limits::timeout_seconds())]
    pub idle_timeout: f64,
    /// Seconds (capture time) after which a DNS query without a response is reported
    /// unanswered; finished rows wait for it, so it also bounds memory (0 to 1000000).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, help_heading = "Analysis limits",
          value_parser = limits::timeout_seconds())]
    pub dns_timeout: f64,
    /// TLS key log (NSS format, as written by browsers, curl and Python with SSLKEYLOGFILE):
    /// connections it has secrets for are decrypted and the HTTP inside analysed. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub keylog: Vec<PathBuf>,
}

impl AnalysisArgs {
    /// The analyzer configuration; reads the `--keylog` files (a bad line is an error naming
    /// the file and line).
    pub fn config(&self) -> anyhow::Result<tracetail::analyzers::AnalyzerConfig> {
        let ns = |s: f64| (s.max(0.0) * 1e9).min(i64::MAX as f64) as i64;
        let keys = tracetail::analyzers::tls::KeyLog::from_files(&self.keylog)?;
        let budget = MemoryBudget::new(self.memory_budget);
        let mut from_budget = Vec::new();
        let mut limit = |kind: BudgetKind, explicit: Option<usize>| match explicit {
            Some(value) => value,
            None => {
                from_budget.push(kind.flag);
                budget.share(kind)
            }
        };
        let max_reassembly_bytes = limit(REASSEMBLY, self.max_reassembly_bytes);
        let max_flows = limit(FLOWS, self.max_flows);
        let max_pending_requests_total = limit(HTTP_PENDING, self.max_pending_total);
        let max_dns_pending = limit(DNS_PENDING, self.max_dns_pending);
        let max_fragment_datagrams = limit(FRAGMENTS, self.max_fragments);
        let max_held_records = limit(HELD_ROWS, self.max_held_rows);
        if self.memory_budget.is_some() {
            *BUDGET_SHARES.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((budget.bytes, from_budget));
        }
        Ok(tracetail::analyzers::AnalyzerConfig {
            max_reorder_bytes: self.max_reorder_bytes,
            max_reassembly_bytes,
            max_flows,
            max_header_bytes: self.max_header_bytes,
            max_pending_requests: self.max_pending_requests.max(1),
            max_pending_requests_total,
            max_dns_pending,
            max_fragment_datagrams,
            idle_timeout_ns: ns(self.idle_timeout),
            dns_timeout_ns: ns(self.dns_timeout),
            observers: Vec::new(),
            http2_connections: false,
            tls: tracetail::analyzers::tls::TlsOptions {
                rows: false,
                keys: std::sync::Arc::new(keys),
            },
            detect_only: false,
            dns_over_udp: true,
            max_held_records,
        })
    }
}

/// How text outputs print points in time (`--time-format`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// Seconds since 1970-01-01 UTC (`1700000000.123456`).
    Epoch,
    /// RFC 3339 UTC (`2023-11-14T22:13:20.123456Z`).
    Iso,
    /// Seconds since the file's first packet (`+12.345678s`).
    Relative,
}

/// Prints times and durations of one capture: in the chosen format, with as many decimals
/// as its timestamps have (a microsecond capture prints `78µs`, not `78.000µs`).
#[derive(Debug, Clone, Copy)]
pub struct TimeStyle {
    pub format: TimeFormat,
    pub resolution: Resolution,
    /// The file's first packet (for `relative`).
    pub origin_ns: Option<i64>,
}

impl TimeStyle {
    /// Looks at the first packet of `path` (not for stdin, which can be read only once:
    /// there, `relative` counts from the first time printed and resolution is ns).
    pub fn for_file(format: TimeFormat, path: &Path) -> TimeStyle {
        let mut style = TimeStyle {
            format,
            resolution: Resolution::NANOSECONDS,
            origin_ns: None,
        };
        if path.as_os_str() == "-" {
            return style;
        }
        if let Ok(mut reader) = tracetail::capture::CaptureReader::open(path) {
            if let Ok(Some(packet)) = reader.next_packet() {
                style.origin_ns = Some(packet.timestamp_ns);
            }
            if let Some(digits) = reader.timestamp_digits() {
                style.resolution = Resolution { digits };
            }
        }
        style
    }

    pub fn time(&mut self, ns: i64) -> String {
        match self.format {
            TimeFormat::Epoch => self.resolution.epoch(ns),
            TimeFormat::Iso => self.resolution.iso(ns),
            TimeFormat::Relative => {
                let origin = *self.origin_ns.get_or_insert(ns);
                let offset = ns - origin;
                let sign = if offset < 0 { "-" } else { "+" };
                format!("{sign}{}s", self.resolution.epoch(offset.abs()))
            }
        }
    }

    pub fn duration(&self, ns: f64) -> String {
        self.resolution.duration(ns)
    }

    /// [`TimeStyle::time`] appended to `buf`.
    pub fn push_time(&mut self, buf: &mut Vec<u8>, ns: i64) {
        match self.format {
            TimeFormat::Epoch => self.resolution.push_epoch(buf, ns),
            _ => buf.extend_from_slice(self.time(ns).as_bytes()),
        }
    }

    /// [`TimeStyle::duration`] of a whole number of nanoseconds appended to `buf`; `-` for
    /// none.
    pub fn push_duration(&self, buf: &mut Vec<u8>, ns: Option<i64>) {
        match ns {
            Some(ns) => self.resolution.push_duration(buf, ns),
            None => buf.push(b'-'),
        }
    }
}

/// `ip:port` as `SocketAddr` writes it (`[ip]:port` for IPv6), appended to `buf`.
pub fn push_endpoint(buf: &mut Vec<u8>, ip: std::net::IpAddr, port: u16) {
    if ip.is_ipv6() {
        buf.push(b'[');
        push_ip(buf, ip);
        buf.push(b']');
    } else {
        push_ip(buf, ip);
    }
    buf.push(b':');
    push_u64(buf, u64::from(port));
}

/// A row's flags as text lines end with them: `  [gap,pipelined]`, nothing without.
pub fn push_flags(buf: &mut Vec<u8>, flags: &[&str]) {
    if flags.is_empty() {
        return;
    }
    buf.extend_from_slice(b"  [");
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(flag.as_bytes());
    }
    buf.push(b']');
}

/// One [`TimeStyle`] per input file, made when the file's first row is printed.
pub struct TimeStyles {
    format: TimeFormat,
    current: Option<(PathBuf, TimeStyle)>,
}

impl TimeStyles {
    pub fn new(format: TimeFormat) -> Self {
        TimeStyles {
            format,
            current: None,
        }
    }

    pub fn for_file(&mut self, path: &Path) -> &mut TimeStyle {
        if self.current.as_ref().is_none_or(|(p, _)| p != path) {
            self.current = Some((path.to_path_buf(), TimeStyle::for_file(self.format, path)));
        }
        &mut self.current.as_mut().expect("set above").1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_gives_the_default_limits_and_a_smaller_one_scales_them() {
        let default = MemoryBudget::new(None);
        assert_eq!(default.bytes, MemoryBudget::default_bytes());
        // ~1209 MiB: the six kinds' defaults.
        assert_eq!(default.bytes >> 20, 1209);
        for kind in BUDGET_KINDS {
            assert_eq!(default.share(kind), kind.default_limit, "{}", kind.flag);
        }
        let quarter = MemoryBudget::new(Some(default.bytes / 4));
        let total: u64 = BUDGET_KINDS
            .iter()
            .map(|&k| quarter.share(k) as u64 * k.unit_bytes)
            .sum();
        assert!(
            total <= quarter.bytes && total > quarter.bytes - 64 * 1024,
            "{total}"
        );
        for kind in BUDGET_KINDS {
            assert_eq!(quarter.share(kind), kind.default_limit / 4, "{}", kind.flag);
        }
        // The smallest budget keeps every kind at or above its flag's minimum.
        let smallest = MemoryBudget::new(Some(MIN_MEMORY_BUDGET));
        for kind in BUDGET_KINDS {
            assert!(smallest.share(kind) >= kind.min_limit, "{}", kind.flag);
        }
        // 16 MiB of 1209: 1/75.6 of each default (1024 datagrams -> 13).
        assert_eq!(smallest.share(FRAGMENTS), 13);
    }
}

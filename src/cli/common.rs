//! Pieces shared by the commands: input files, running passes, exit codes.

use super::limits;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracetail::pipeline::{analyze_file, FileReport, PassOptions, Record};

/// Capture files named on the command line (`-` reads standard input).
#[derive(clap::Args, Debug, Clone)]
pub struct Inputs {
    /// Capture files: pcap or pcapng, optionally gzip- or zstd-compressed; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
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

impl Run {
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
pub fn run_pass(
    files: &[PathBuf],
    options: &PassOptions,
    emit: &mut dyn FnMut(&Path, Record) -> io::Result<()>,
) -> anyhow::Result<Run> {
    let mut run = Run {
        reports: Vec::new(),
        failed: 0,
    };
    let mut io_error: Option<io::Error> = None;
    for path in files {
        let mut sink = |record: Record| {
            if io_error.is_none() {
                if let Err(e) = emit(path, record) {
                    io_error = Some(e);
                }
            }
        };
        match analyze_file(path, options, &mut sink) {
            Ok(report) => {
                for warning in &report.warnings {
                    // Each warning says itself whether reading stopped there.
                    eprintln!("warning: {warning}");
                }
                run.reports.push(report);
            }
            Err(err) => {
                eprintln!("error: {err}");
                eprintln!("hint: tracetail reads pcap and pcapng files (also gzip/zstd-compressed); check the file is a capture");
                run.failed += 1;
            }
        }
        if let Some(e) = io_error.take() {
            return Err(e.into());
        }
    }
    Ok(run)
}

/// Standard output, buffered and locked once.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

/// Writes a JSON value on one line.
pub fn write_json_line(
    out: &mut (impl Write + ?Sized),
    value: &impl serde::Serialize,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Whether the progress bar should be considered (it still hides itself off a terminal).
pub fn progress_wanted() -> bool {
    true
}

/// Writes one row per transaction to stdout as JSON Lines, CSV (with a header) or text lines,
/// naming each row's capture file (the name is formatted once per file).
pub struct RowWriter {
    json: bool,
    out: io::BufWriter<io::StdoutLock<'static>>,
    csv: Option<csv::Writer<io::BufWriter<io::StdoutLock<'static>>>>,
    capture: (PathBuf, String),
    /// Rows written so far.
    pub count: u64,
}

impl RowWriter {
    /// `json` or `csv` pick the format (text otherwise); `columns` is the CSV header.
    pub fn new(json: bool, csv: bool, columns: &[&str]) -> io::Result<Self> {
        let mut csv_writer = csv.then(|| csv::Writer::from_writer(stdout()));
        if let Some(w) = csv_writer.as_mut() {
            w.write_record(columns).map_err(io::Error::other)?;
        }
        Ok(RowWriter {
            json,
            out: stdout(),
            csv: csv_writer,
            capture: (PathBuf::new(), String::new()),
            count: 0,
        })
    }

    /// Whether rows are text lines (a summary line may follow them).
    pub fn is_text(&self) -> bool {
        !self.json && self.csv.is_none()
    }

    /// Writes one row in the chosen format; only the matching closure runs. `json` writes
    /// the row's JSON line itself (it may borrow the capture name).
    pub fn row(
        &mut self,
        path: &Path,
        json: impl FnOnce(&str, &mut dyn Write) -> io::Result<()>,
        csv: impl FnOnce(&str) -> Vec<String>,
        text: impl FnOnce() -> String,
    ) -> io::Result<()> {
        self.count += 1;
        if self.capture.0 != path {
            self.capture = (path.to_path_buf(), path.display().to_string());
        }
        let capture = self.capture.1.as_str();
        if self.json {
            json(capture, &mut self.out)
        } else if let Some(w) = self.csv.as_mut() {
            w.write_record(csv(capture)).map_err(io::Error::other)
        } else {
            writeln!(self.out, "{}", text())
        }
    }

    /// Flushes everything and returns stdout for a closing line.
    pub fn finish(mut self) -> io::Result<io::BufWriter<io::StdoutLock<'static>>> {
        if let Some(mut w) = self.csv.take() {
            w.flush()?;
        }
        Ok(self.out)
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
    /// HTTP requests in flight on one connection before the oldest is reported unanswered
    /// (1 to 1000000).
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Analysis limits",
          value_parser = limits::int::<usize>(1, 1_000_000))]
    pub max_pending_requests: usize,
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
}

impl AnalysisArgs {
    pub fn config(&self) -> tracetail::analyzers::AnalyzerConfig {
        let ns = |s: f64| (s.max(0.0) * 1e9).min(i64::MAX as f64) as i64;
        tracetail::analyzers::AnalyzerConfig {
            max_reorder_bytes: self.max_reorder_bytes,
            max_header_bytes: self.max_header_bytes,
            max_pending_requests: self.max_pending_requests.max(1),
            idle_timeout_ns: ns(self.idle_timeout),
            dns_timeout_ns: ns(self.dns_timeout),
        }
    }
}

//! Pieces shared by the commands: input files, running passes, exit codes.

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
                    eprintln!("warning: {warning} (results cover the data before this point)");
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
pub fn write_json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Whether the progress bar should be considered (it still hides itself off a terminal).
pub fn progress_wanted() -> bool {
    true
}

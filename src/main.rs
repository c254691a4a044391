//! The `tracetail` command: a thin layer over the library (see `src/lib.rs` for the data flow).

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tracetail",
    version,
    about = "Packet captures -> sessions, HTTP/DNS transactions, tail-latency statistics and plots"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Largest zstd window accepted in a compressed capture (K/M/G = powers of 1024; 1K to
    /// 2G). A frame that needs more is refused, so a small hostile .zst cannot take
    /// gigabytes of memory; zstd's own decoder has the same 128M default.
    #[arg(long, global = true, value_name = "BYTES", default_value = "128M",
          value_parser = cli::limits::size(1 << 10, tracetail::capture::MAX_ZSTD_WINDOW),
          help_heading = "Input")]
    max_zstd_window: u64,
}

// Parsed once per run, so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Packet and byte counts per protocol, link types, time span, undecodable packets.
    Summary(cli::summary::Args),
    /// Conversations (bidirectional flows), or Scapy's session keys with --scapy.
    Sessions(cli::sessions::Args),
    /// One row per HTTP transaction with its four timestamps and latencies.
    Http(cli::http::Args),
    /// One row per DNS query with its response and latency.
    Dns(cli::dns::Args),
    /// One row per request/response exchange on any TCP connection, whatever the protocol.
    Tcp(cli::tcp::Args),
    /// Percentile table of a latency metric, overall and per group.
    Latency(cli::latency::Args),
    /// Draw a latency plot to SVG or PNG.
    Plot(cli::plot::Args),
    /// Write a self-contained HTML report: summary, sessions, transactions, tables, plots.
    Report(cli::report::Args),
    /// Descriptive statistics, correlation and regression for numeric CSV data.
    Stats(cli::stats::Args),
    /// Write a synthetic HTTP/DNS capture with a ground-truth CSV.
    Synth(cli::synth::Args),
    /// Combine saved HdrHistograms and print their percentile table.
    Merge(cli::merge::Args),
    /// Export flows, HTTP and DNS tables as Parquet.
    Export(cli::export::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracetail::capture::set_max_zstd_window(cli.max_zstd_window);
    let result = match cli.command {
        Command::Summary(a) => cli::summary::run(a),
        Command::Sessions(a) => cli::sessions::run(a),
        Command::Http(a) => cli::http::run(a),
        Command::Dns(a) => cli::dns::run(a),
        Command::Tcp(a) => cli::tcp::run(a),
        Command::Latency(a) => cli::latency::run(a),
        Command::Plot(a) => cli::plot::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Stats(a) => cli::stats::run(a),
        Command::Synth(a) => cli::synth::run(a),
        Command::Merge(a) => cli::merge::run(a),
        Command::Export(a) => cli::export::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // Broken pipes (e.g. `| head`) are a normal way to stop reading.
            if cli::common::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            // An input that cannot be read exits 1, as a capture that cannot be read does.
            if err.downcast_ref::<cli::common::UnreadableInput>().is_some() {
                return ExitCode::from(1);
            }
            ExitCode::from(2)
        }
    }
}

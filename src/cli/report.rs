//! `tracetail report`: one self-contained HTML page — capture summary, top sessions, HTTP and
//! DNS transaction summaries, percentile tables and every plot inline. The first thing a new
//! user runs. The page itself is built by the library (`tracetail::report::page`).

use super::common::{self, Inputs};
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::pipeline::PassOptions;
use tracetail::report::page::{ReportBuilder, ReportOptions};
use tracetail::samples::GroupBy;
use tracetail::stats::PercentileMethod;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    analysis: super::common::AnalysisArgs,
    /// Output HTML file.
    #[arg(short, long, default_value = "report.html")]
    output: PathBuf,
    /// Percentile definition used in every table and plot.
    #[arg(long, value_enum, default_value_t = PercentileMethod::NearestRank)]
    method: PercentileMethod,
    /// Conversations listed (largest by bytes; 1 to 10000).
    #[arg(long, default_value_t = 25, value_parser = super::limits::int::<usize>(1, 10_000))]
    top_sessions: usize,
    /// Add a side-by-side comparison of TTFB and DNS latency per group; `capture` (one group
    /// per input file) is the default when two or more captures are given.
    #[arg(long, value_enum)]
    by: Option<GroupBy>,
    /// Also report this protocol's transactions: `tcp` adds a section on the request/response
    /// exchanges of `tracetail tcp` (HTTP and DNS sections are always there when present).
    #[arg(long, value_enum)]
    protocol: Vec<tracetail::samples::Protocol>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let tcp = args.protocol.contains(&tracetail::samples::Protocol::Tcp);
    let mut builder = ReportBuilder::new(ReportOptions {
        method: args.method,
        top_sessions: args.top_sessions,
        // Two or more captures are compared side by side unless told otherwise.
        side_by_side: args
            .by
            .or((args.inputs.files.len() > 1).then_some(GroupBy::Capture)),
        tcp,
    });
    let mut analyzer = args.analysis.config()?;
    if tcp {
        analyzer
            .observers
            .push(tracetail::analyzers::tcp::REGISTRATION.name);
    }
    let options = ReportBuilder::pass_options(PassOptions {
        select: args.inputs.selection(),
        analyzer,
        ..Default::default()
    });
    let options = args.inputs.pass(options);
    let run = common::run_pass(&args.inputs.files, &options, &mut |path, record| {
        builder.add_from(&path.display().to_string(), &record);
        Ok(())
    })?;
    let html = builder.build(&run.reports, run.failed);
    std::fs::write(&args.output, html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.output.display()))?;
    eprintln!("wrote {}", args.output.display());
    Ok(run.exit_code())
}

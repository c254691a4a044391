//! `tracetail report`: one self-contained HTML page — capture summary, top sessions, HTTP and
//! DNS transaction summaries, percentile tables and every plot inline. The first thing a new
//! user runs. The page itself is built by the library (`tracetail::report::page`).

use super::common::{self, Inputs};
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::pipeline::PassOptions;
use tracetail::report::page::{ReportBuilder, ReportOptions};
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
    /// Conversations listed (largest by bytes).
    #[arg(long, default_value_t = 25)]
    top_sessions: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut builder = ReportBuilder::new(ReportOptions {
        method: args.method,
        top_sessions: args.top_sessions,
    });
    let options = PassOptions {
        flows: true,
        transactions: true,
        analyzer: args.analysis.config()?,
        ..Default::default()
    };
    let run = common::run_pass(&args.inputs.files, &options, &mut |_, record| {
        builder.add(&record);
        Ok(())
    })?;
    let html = builder.build(&run.reports, run.failed);
    std::fs::write(&args.output, html)
        .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", args.output.display()))?;
    eprintln!("wrote {}", args.output.display());
    Ok(run.exit_code())
}

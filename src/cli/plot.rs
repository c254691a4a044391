//! `tracetail plot`: one picture of a latency distribution, SVG or PNG by extension.

use super::common::Inputs;
use super::latency::{collect, Selection};
use super::limits;
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::report::plot::{self, PlotKind, PlotOptions};
use tracetail::samples::GroupBy;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// What to draw.
    #[arg(long, value_enum)]
    kind: PlotKind,
    /// Output file: `.svg` or `.png`.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    select: Selection,
    /// Title (each kind has a default).
    #[arg(long)]
    title: Option<String>,
    /// Histogram: linear bins instead of log-spaced ones.
    #[arg(long)]
    linear_bins: bool,
    /// Histogram: number of bins (1 to 10000).
    #[arg(long, default_value_t = 60, value_parser = limits::int::<usize>(1, 10_000))]
    bins: usize,
    /// Picture width in pixels, SVG user units (200 to 8000).
    #[arg(long, default_value_t = 1000,
          value_parser = limits::int::<u32>(limits::MIN_PICTURE_SIDE, limits::MAX_PICTURE_SIDE))]
    width: u32,
    /// Picture height in pixels, SVG user units (200 to 8000).
    #[arg(long, default_value_t = 620,
          value_parser = limits::int::<u32>(limits::MIN_PICTURE_SIDE, limits::MAX_PICTURE_SIDE))]
    height: u32,
    /// At most this many groups: the largest, and always the one with the slowest sample;
    /// the picture says how many were left out (1 to 100).
    #[arg(long, default_value_t = 8, value_parser = limits::int::<usize>(1, 100))]
    top: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Refuse a bad output name before reading a possibly large capture.
    plot::ImageFormat::from_path(&args.output)?;
    let mut select = args.select.clone();
    // Comparing groups needs groups: by server unless told otherwise.
    if args.kind == PlotKind::Compare && select.by.is_none() {
        select.by = Some(GroupBy::Server);
    }
    let (set, run) = collect(&args.inputs, &select)?;
    if set.samples.is_empty() {
        if run.nothing_read() {
            return Ok(run.exit_code());
        }
        anyhow::bail!("{}", super::latency::no_samples_message(&set, &run));
    }
    let (series, hidden) = plot::groups_for_picture(&set, args.top);
    let opts = PlotOptions {
        title: args.title.clone(),
        width: args.width,
        height: args.height,
        bins: args.bins,
        log_bins: !args.linear_bins,
        method: select.method,
        notes: plot::hidden_groups_note(hidden, "; --top N draws more")
            .into_iter()
            .collect(),
        ..PlotOptions::for_set(&set)
    };
    plot::render(args.kind, &series, &opts, &args.output)?;
    eprintln!(
        "wrote {} ({} samples)",
        args.output.display(),
        set.samples.len()
    );
    Ok(run.exit_code())
}

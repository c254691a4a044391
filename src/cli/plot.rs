//! `tracetail plot`: one picture of a latency distribution, SVG or PNG by extension.

use super::common::Inputs;
use super::latency::{collect, Selection};
use super::limits;
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::report::plot::{self, PlotKind, PlotOptions, Series};
use tracetail::samples::{GroupBy, SampleSet};

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
    /// Picture width in pixels (200 to 8000).
    #[arg(long, default_value_t = 1000,
          value_parser = limits::int::<u32>(limits::MIN_PICTURE_SIDE, limits::MAX_PICTURE_SIDE))]
    width: u32,
    /// Picture height in pixels (200 to 8000).
    #[arg(long, default_value_t = 620,
          value_parser = limits::int::<u32>(limits::MIN_PICTURE_SIDE, limits::MAX_PICTURE_SIDE))]
    height: u32,
    /// At most this many groups (largest first); the rest are left out of the picture
    /// (1 to 100).
    #[arg(long, default_value_t = 8, value_parser = limits::int::<usize>(1, 100))]
    top: usize,
}

/// One series per group, largest groups first, at most `top`.
pub fn series_of(set: &SampleSet, top: usize) -> Vec<Series> {
    let mut series: Vec<Series> = set
        .groups
        .iter()
        .map(|g| Series {
            name: g.clone(),
            points: Vec::new(),
        })
        .collect();
    for s in &set.samples {
        series[s.group as usize]
            .points
            .push((s.timestamp_ns, s.value_ns));
    }
    series.retain(|s| !s.points.is_empty());
    series.sort_by(|a, b| {
        b.points
            .len()
            .cmp(&a.points.len())
            .then(a.name.cmp(&b.name))
    });
    series.truncate(top.max(1));
    series
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
        anyhow::bail!(
            "no samples of {} in the input, nothing to plot",
            set.metric.describe()
        );
    }
    let series = series_of(&set, args.top);
    let opts = PlotOptions {
        title: args.title.clone(),
        metric: set.metric.label().to_string(),
        width: args.width,
        height: args.height,
        bins: args.bins,
        log_bins: !args.linear_bins,
        method: select.method,
    };
    plot::render(args.kind, &series, &opts, &args.output)?;
    eprintln!(
        "wrote {} ({} samples)",
        args.output.display(),
        set.samples.len()
    );
    Ok(run.exit_code())
}

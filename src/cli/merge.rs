//! `tracetail merge`: add saved HdrHistograms and print their percentile table.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::common;

use anyhow::bail;
use serde_json::json;

use tracetail::report::terminal::align;
use tracetail::stats::hdr::{self, DisplayUnit};
use tracetail::stats::percentile::percentile_label;
use tracetail::units::duration_ns_to_human;

/// Percentiles in the merged table.
const PERCENTILES: [f64; 9] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999, 100.0];

#[derive(clap::Args)]
pub struct Args {
    /// HdrHistogram files (V2 base64, as written by tracetail or any HdrHistogram library).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Print HdrHistogram's full percentile distribution (as wrk2 / HdrHistogram_c do).
    #[arg(long)]
    pub hdr: bool,
    /// Unit for --hdr values.
    #[arg(long, value_enum, default_value_t = DisplayUnit::Ms)]
    pub unit: DisplayUnit,
    /// Also save the merged histogram here.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut output = common::stdout();
    // One file's histogram at a time: memory stays that of two histograms, however many files.
    let mut merged = hdr::merge([])?;
    for f in &args.files {
        let h = hdr::load(f).map_err(super::common::unreadable)?;
        merged = hdr::merge([&merged, &h])?;
    }
    if merged.is_empty() {
        bail!("the histograms hold no samples");
    }
    if let Some(out) = &args.output {
        hdr::save(&merged, out)?;
    }
    let digits = merged.sigfig();
    let table = hdr::percentile_table(&merged, &PERCENTILES);
    if args.json {
        let percentiles: serde_json::Map<String, serde_json::Value> = table
            .iter()
            .map(|(p, v)| (percentile_label(*p), json!(v)))
            .collect();
        let doc = json!({
            "source": "hdrhistogram",
            "significant_digits": digits,
            "files": args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "count": merged.len(),
            "min": merged.min(),
            "max": merged.max(),
            "mean": merged.mean(),
            "stddev": merged.stdev(),
            "percentiles": percentiles,
        });
        writeln!(output, "{}", serde_json::to_string_pretty(&doc)?)?;
        output.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(output,
        "{} histogram(s), {} samples. Percentiles from HdrHistogram with {digits} significant digits:",
        args.files.len(),
        merged.len()
    )?;
    writeln!(output, "values are bucket upper bounds, within 10^-{digits} of the recorded latency (rank = round(p*N)).")?;
    writeln!(output)?;
    if args.hdr {
        write!(
            output,
            "{}",
            hdr::format_percentile_distribution(&merged, 5, args.unit)
        )?;
        output.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let header = vec!["".to_string(), "latency".to_string(), "ns".to_string()];
    let mut rows = vec![vec![
        "min".to_string(),
        duration_ns_to_human(merged.min() as f64),
        merged.min().to_string(),
    ]];
    rows.push(vec![
        "mean".into(),
        duration_ns_to_human(merged.mean()),
        format!("{:.0}", merged.mean()),
    ]);
    for (p, v) in &table {
        rows.push(vec![
            format!("p{}", percentile_label(*p)),
            duration_ns_to_human(*v as f64),
            v.to_string(),
        ]);
    }
    write!(output, "{}", align(&header, &rows))?;
    output.flush()?;
    Ok(ExitCode::SUCCESS)
}

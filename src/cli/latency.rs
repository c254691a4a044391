//! `tracetail latency`: exact percentile table of a latency metric, overall and per group.

use super::common::{self, Inputs};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tracetail::pipeline::PassOptions;
use tracetail::report::terminal;
use tracetail::samples::{GroupBy, Metric, SampleSet};
use tracetail::stats::hdr;
use tracetail::stats::percentile::{summarize, LatencySummary};
use tracetail::stats::{PercentileMethod, STANDARD_PERCENTILES};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    select: Selection,
    /// One JSON object: `count` and `percentiles` (ns, keys "50" … "99.99") overall, the same
    /// under `overall`, and per group under `groups`.
    #[arg(long)]
    json: bool,
    /// Print the HdrHistogram percentile distribution (the format wrk2 and HdrHistogram print).
    #[arg(long)]
    hdr: bool,
    /// Also write the HdrHistogram of all samples (V2 compressed, base64) for `tracetail merge`.
    #[arg(long, value_name = "FILE.hdr")]
    save_hdr: Option<PathBuf>,
    /// Show at most this many groups (largest first) in the terminal table (0 to 1000000).
    #[arg(long, default_value_t = 20, value_parser = super::limits::int::<usize>(0, 1_000_000))]
    top: usize,
}

/// Which samples: the metric, the grouping and the percentile definition.
#[derive(clap::Args, Clone)]
pub struct Selection {
    /// Latency metric (see README: ttfb = response first − request first, ...).
    #[arg(long, value_enum, default_value_t = Metric::Ttfb)]
    pub metric: Metric,
    /// Group the samples.
    #[arg(long, value_enum)]
    pub by: Option<GroupBy>,
    /// Percentile definition.
    #[arg(long, value_enum, default_value_t = PercentileMethod::NearestRank)]
    pub method: PercentileMethod,
    #[command(flatten)]
    pub analysis: super::common::AnalysisArgs,
}

/// Reads every input once and collects the samples of the chosen metric.
pub fn collect(inputs: &Inputs, select: &Selection) -> anyhow::Result<(SampleSet, common::Run)> {
    let mut set = SampleSet::new(select.metric, select.by);
    let options = PassOptions {
        flows: select.metric.needs_flows(),
        transactions: !select.metric.needs_flows(),
        progress: common::progress_wanted(),
        analyzer: select.analysis.config(),
        ..Default::default()
    };
    let run = common::run_pass(&inputs.files, &options, &mut |_, record| {
        set.add_record(&record);
        Ok(())
    })?;
    Ok((set, run))
}

/// Summaries: overall, then each group (largest first).
pub fn summaries(
    set: &SampleSet,
    method: PercentileMethod,
) -> (Option<LatencySummary>, Vec<(String, LatencySummary)>) {
    let mut all = set.values(None);
    let overall = summarize(&mut all, method, &STANDARD_PERCENTILES);
    let mut groups = Vec::new();
    if set.by.is_some() {
        let mut per_group: Vec<Vec<i64>> = vec![Vec::new(); set.groups.len()];
        for s in &set.samples {
            per_group[s.group as usize].push(s.value_ns);
        }
        for (i, mut values) in per_group.into_iter().enumerate() {
            if let Some(s) = summarize(&mut values, method, &STANDARD_PERCENTILES) {
                groups.push((set.groups[i].clone(), s));
            }
        }
        groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    }
    (overall, groups)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (set, run) = collect(&args.inputs, &args.select)?;
    let method = args.select.method;
    let (overall, groups) = summaries(&set, method);
    // All values once, for the histograms below (summaries sorted their own copies).
    let all = set.values(None);
    let mut out = common::stdout();

    if let Some(path) = &args.save_hdr {
        let h = hdr::from_samples(&all);
        hdr::save(&h.histogram, path)?;
        eprintln!(
            "saved HdrHistogram of {} samples to {}",
            h.histogram.len(),
            path.display()
        );
    }

    if args.json {
        let mut v = match &overall {
            Some(s) => s.to_json(),
            None => json!({"count": 0, "percentiles": {}}),
        };
        v["metric"] = json!(set.metric.name());
        v["definition"] = json!(set.metric.describe());
        v["method"] = json!(method.name());
        v["method_definition"] = json!(method.describe());
        v["overall"] = overall
            .as_ref()
            .map(|s| s.to_json())
            .unwrap_or_else(|| json!({"count": 0, "percentiles": {}}));
        v["missing"] = json!(set.missing);
        if let Some(by) = set.by {
            v["by"] = json!(by.name());
            let g: serde_json::Map<String, serde_json::Value> = groups
                .iter()
                .map(|(name, s)| (name.clone(), s.to_json()))
                .collect();
            v["groups"] = serde_json::Value::Object(g);
        }
        common::write_json_line(&mut out, &v)?;
        out.flush()?;
        return Ok(run.exit_code());
    }

    if args.hdr {
        let h = hdr::from_samples(&all);
        eprintln!(
            "{} — HdrHistogram percentile distribution, values in milliseconds (3 significant digits)",
            set.metric.describe()
        );
        write!(
            out,
            "{}",
            hdr::format_percentile_distribution(&h.histogram, 5, hdr::DisplayUnit::Ms)
        )?;
        out.flush()?;
        return Ok(run.exit_code());
    }

    let Some(overall) = overall else {
        writeln!(
            out,
            "no samples of {} in the input ({} transactions had no value for it)",
            set.metric.describe(),
            set.missing
        )?;
        out.flush()?;
        return Ok(run.exit_code());
    };
    writeln!(out, "{}", set.metric.describe())?;
    writeln!(out, "percentiles: {}", method.describe())?;
    if set.missing > 0 {
        writeln!(out, "({} transactions without a value for this metric are not counted: unanswered or incomplete)", set.missing)?;
    }
    writeln!(out)?;
    let mut rows = vec![("all".to_string(), overall)];
    let shown = groups.len().min(args.top);
    rows.extend(groups.iter().take(shown).cloned());
    write!(out, "{}", terminal::latency_table(&rows))?;
    if groups.len() > shown {
        writeln!(
            out,
            "… {} more groups (use --top or --json)",
            groups.len() - shown
        )?;
    }
    writeln!(out)?;
    write!(out, "{}", terminal::unicode_histogram(&all, 12, 50))?;
    out.flush()?;
    Ok(run.exit_code())
}

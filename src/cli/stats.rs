//! `tracetail stats`: descriptive statistics, correlation and regression for numeric CSV
//! columns, and Anscombe's quartet as the reminder to plot.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::common;

use anyhow::{bail, Context};
use serde_json::json;

use super::common::unreadable;
use tracetail::report::plot::{self, PlotOptions, ScatterData};
use tracetail::report::terminal::align;
use tracetail::stats::describe::{anscombe_quartet, describe, regress, Description, Regression};
use tracetail::stats::percentile::percentile_label;
use tracetail::stats::PercentileMethod;

/// Percentiles shown for generic data.
const PERCENTILES: [f64; 10] = [0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0];

#[derive(clap::Args)]
pub struct Args {
    /// CSV file with a header row.
    #[arg(required_unless_present = "anscombe")]
    pub file: Option<PathBuf>,
    /// Describe this column (repeatable).
    #[arg(long, short = 'c')]
    pub column: Vec<String>,
    /// Column for x of a regression (with --y).
    #[arg(long, requires = "y")]
    pub x: Option<String>,
    /// Column for y of a regression (with --x).
    #[arg(long, requires = "x")]
    pub y: Option<String>,
    /// Scatter plot with the least-squares line (with --x/--y), or the 2x2 picture (with
    /// --anscombe); .svg or .png.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Percentile definition.
    #[arg(long, value_enum, default_value_t = PercentileMethod::Linear)]
    pub method: PercentileMethod,
    /// Anscombe's quartet: four data sets with the same summary statistics.
    #[arg(long, conflicts_with_all = ["file", "column", "x", "y"])]
    pub anscombe: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.anscombe {
        return run_anscombe(&args);
    }
    let mut output = common::stdout();
    let path = args.file.clone().expect("clap requires FILE");
    let mut wanted: Vec<String> = args.column.clone();
    let pair = args.x.clone().zip(args.y.clone());
    if let Some((x, y)) = &pair {
        wanted.push(x.clone());
        wanted.push(y.clone());
    }
    if wanted.is_empty() {
        bail!("choose data: --column NAME, or --x NAME --y NAME");
    }
    if args.output.is_some() && pair.is_none() {
        bail!("-o draws a scatter plot: give --x and --y");
    }
    let table = read_columns(&path, &wanted)?;

    let mut described = Vec::new();
    for name in &args.column {
        let column = table.column(name);
        let values: Vec<f64> = column.iter().flatten().copied().collect();
        let d = describe(&values, args.method, &PERCENTILES);
        described.push((
            name.clone(),
            column.iter().filter(|v| v.is_none()).count(),
            d,
        ));
    }
    let mut regression = None;
    let mut pairs_used = Vec::new();
    if let Some((xn, yn)) = &pair {
        // Rows where both are numbers.
        pairs_used = table
            .column(xn)
            .iter()
            .zip(table.column(yn))
            .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
            .collect::<Vec<(f64, f64)>>();
        let (xs, ys): (Vec<f64>, Vec<f64>) = pairs_used.iter().copied().unzip();
        for (name, data) in [(xn, &xs), (yn, &ys)] {
            if !args.column.contains(name) {
                described.push((name.clone(), 0, describe(data, args.method, &PERCENTILES)));
            }
        }
        regression = Some(regress(&xs, &ys));
    }

    if args.json {
        let columns: Vec<serde_json::Value> = described
            .iter()
            .map(|(name, skipped, d)| {
                json!({"column": name, "skipped_non_numeric": skipped, "stats": d.as_ref().map(description_json)})
            })
            .collect();
        let mut doc = json!({"file": path.display().to_string(), "percentile_method": args.method.name(), "columns": columns});
        if let Some((xn, yn)) = &pair {
            doc["regression"] = json!({
                "x": xn, "y": yn, "pairs": pairs_used.len(),
                "fit": regression.as_ref().and_then(|r| r.as_ref()).map(|r| serde_json::to_value(r).unwrap()),
            });
        }
        writeln!(output, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(output, "{}", path.display())?;
        for (name, skipped, d) in &described {
            writeln!(output)?;
            print_description(&mut output, name, *skipped, d.as_ref())?;
        }
        if let (Some((xn, yn)), Some(fit)) = (&pair, &regression) {
            writeln!(output)?;
            match fit {
                Some(r) => print_regression(&mut output, xn, yn, r)?,
                None => writeln!(output, "regression of {yn} on {xn}: not defined (fewer than 2 pairs or no spread in x)")?,
            }
        }
        writeln!(output)?;
        writeln!(output, "percentile definition: {}", args.method.describe())?;
    }

    if let (Some(out), Some((xn, yn))) = (&args.output, &pair) {
        let data = ScatterData {
            x_label: xn.clone(),
            y_label: yn.clone(),
            points: pairs_used,
        };
        plot::render_scatter(&data, &PlotOptions::default(), out)?;
        if !args.json {
            writeln!(output, "wrote {}", out.display())?;
        }
    }
    output.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Numeric columns read from a CSV; unparseable or empty cells are `None`.
struct Columns {
    names: Vec<String>,
    values: Vec<Vec<Option<f64>>>,
}

impl Columns {
    fn column(&self, name: &str) -> &[Option<f64>] {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .expect("validated");
        &self.values[i]
    }
}

fn read_columns(path: &PathBuf, wanted: &[String]) -> anyhow::Result<Columns> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))
        .map_err(unreadable)?;
    let headers = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))
        .map_err(unreadable)?
        .clone();
    let mut names = Vec::new();
    let mut index = Vec::new();
    for w in wanted {
        if names.contains(w) {
            continue;
        }
        let Some(i) = headers.iter().position(|h| h.trim() == w) else {
            bail!(
                "{}: no column {w:?}; columns are: {}",
                path.display(),
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        };
        names.push(w.clone());
        index.push(i);
    }
    let mut values = vec![Vec::new(); names.len()];
    for record in reader.records() {
        let record = record
            .with_context(|| format!("reading {}", path.display()))
            .map_err(unreadable)?;
        for (slot, &i) in values.iter_mut().zip(&index) {
            let v = record
                .get(i)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite());
            slot.push(v);
        }
    }
    Ok(Columns { names, values })
}

fn description_json(d: &Description) -> serde_json::Value {
    let percentiles: serde_json::Map<String, serde_json::Value> = d
        .percentiles
        .iter()
        .map(|(p, v)| (percentile_label(*p), json!(v)))
        .collect();
    json!({
        "count": d.count, "mean": d.mean, "variance": d.variance, "stddev": d.stddev,
        "min": d.min, "max": d.max, "percentiles": percentiles,
    })
}

/// A statistic for the text table: 6 decimals, or 7 significant digits in scientific
/// notation where 6 decimals would lose them (below 0.001: 4.5e-7 must not print as 0) or
/// need a long row of digits (1e15 and above).
fn num(v: f64) -> String {
    let trim = |digits: &str| {
        digits
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    let magnitude = v.abs();
    if v.is_nan() {
        "n/a".into()
    } else if magnitude.is_finite() && magnitude != 0.0 && !(1e-3..1e15).contains(&magnitude) {
        let text = format!("{v:.6e}");
        let (mantissa, exponent) = text.split_once('e').expect("scientific notation");
        format!("{}e{exponent}", trim(mantissa))
    } else {
        trim(&format!("{v:.6}"))
    }
}

fn print_description(
    output: &mut impl Write,
    name: &str,
    skipped: usize,
    d: Option<&Description>,
) -> io::Result<()> {
    let Some(d) = d else {
        return writeln!(output, "{name}: no numeric values");
    };
    let mut rows: Vec<Vec<String>> = vec![
        vec!["count".into(), d.count.to_string()],
        vec!["mean".into(), num(d.mean)],
        vec!["variance (sample, n-1)".into(), num(d.variance)],
        vec!["stddev (sample)".into(), num(d.stddev)],
        vec!["min".into(), num(d.min)],
        vec!["max".into(), num(d.max)],
    ];
    for (p, v) in &d.percentiles {
        rows.push(vec![format!("p{}", percentile_label(*p)), num(*v)]);
    }
    if skipped > 0 {
        rows.push(vec!["skipped (not a number)".into(), skipped.to_string()]);
    }
    write!(
        output,
        "{}",
        align(&[format!("column {name}"), String::new()], &rows)
    )
}

fn print_regression(output: &mut impl Write, x: &str, y: &str, r: &Regression) -> io::Result<()> {
    writeln!(output, "regression of {y} on {x} ({} pairs)", r.count)?;
    writeln!(output, "  Pearson r   {}", num(r.pearson_r))?;
    writeln!(
        output,
        "  line        {y} = {} + {} * {x}",
        num(r.intercept),
        num(r.slope)
    )?;
    writeln!(output, "  R²          {}", num(r.r_squared))
}

fn run_anscombe(args: &Args) -> anyhow::Result<ExitCode> {
    let mut output = common::stdout();
    let header: Vec<String> = [
        "set", "n", "mean x", "var x", "mean y", "var y", "r", "line", "R²",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for set in anscombe_quartet() {
        let dx = describe(&set.x, args.method, &[]).expect("11 points");
        let dy = describe(&set.y, args.method, &[]).expect("11 points");
        let r = regress(&set.x, &set.y).expect("x varies");
        rows.push(vec![
            set.name.to_string(),
            dx.count.to_string(),
            format!("{:.2}", dx.mean),
            format!("{:.3}", dx.variance),
            format!("{:.2}", dy.mean),
            format!("{:.3}", dy.variance),
            format!("{:.3}", r.pearson_r),
            format!("y = {:.2} + {:.3}x", r.intercept, r.slope),
            format!("{:.2}", r.r_squared),
        ]);
        json_rows.push(json!({
            "set": set.name, "x": set.x, "y": set.y,
            "mean_x": dx.mean, "variance_x": dx.variance, "mean_y": dy.mean, "variance_y": dy.variance,
            "regression": r,
        }));
    }
    if args.json {
        writeln!(
            output,
            "{}",
            serde_json::to_string_pretty(&json!({"anscombe": json_rows}))?
        )?;
    } else {
        writeln!(
            output,
            "Anscombe's quartet (Anscombe 1973): four data sets, one summary."
        )?;
        writeln!(output)?;
        write!(output, "{}", align(&header, &rows))?;
        writeln!(output)?;
        writeln!(
            output,
            "Variances are sample variances (n-1). The summaries agree; the data do not:"
        )?;
        match &args.output {
            Some(out) => writeln!(output, "see the scatter plots in {}.", out.display())?,
            None => writeln!(
                output,
                "plot them with `tracetail stats --anscombe -o anscombe.png`."
            )?,
        }
    }
    if let Some(out) = &args.output {
        let opts = PlotOptions {
            width: 1100,
            height: 900,
            ..PlotOptions::default()
        };
        plot::render_anscombe(&opts, out)?;
    }
    output.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn text_numbers_keep_significant_digits() {
        assert_eq!(num(4.5e-7), "4.5e-7");
        assert_eq!(num(-1.234567891e-12), "-1.234568e-12");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(7.500909), "7.500909");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1e308), "1e308");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(f64::NAN), "n/a");
    }
}

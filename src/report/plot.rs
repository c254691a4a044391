//! Plots of latency distributions, rendered to SVG or PNG with an embedded font.
//!
//! Every plot is drawn once, generically over the plotters backend, so the SVG (for the HTML
//! report) and the PNG are the same picture. Text uses DejaVu Sans compiled into the binary:
//! headless machines have no system fonts, and plotters' font-kit path fails there.
//!
//! Latency plots take [`Series`] (one per group) of `(timestamp ns, latency ns)` points; axes
//! carry the unit (ns/µs/ms/s) that suits the data. The tail is the point of the tool, so the
//! views that show it (CCDF, percentile spectrum, box plots) use log axes.

use std::path::Path;
use std::sync::Once;

use anyhow::{bail, Context};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::stats::describe::{anscombe_quartet, regress, Regression};
use crate::stats::percentile::{percentile, PercentileMethod};

/// One group of latencies: `(timestamp ns since epoch, latency ns)` per request.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, i64)>,
}

/// Which picture to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlotKind {
    /// Histogram of latencies (linear or log-spaced bins).
    Hist,
    /// Cumulative distribution: fraction of requests at or below each latency.
    Cdf,
    /// Complementary CDF on log-log axes: fraction slower than each latency (the tail).
    Ccdf,
    /// HdrHistogram-style percentile spectrum: x = 1/(1−p) on a log axis.
    Spectrum,
    /// Each request as a point over capture time, with rolling p50 and p99.
    Timeline,
    /// Groups side by side as box plots with p90/p99/max markers.
    Compare,
}

/// Image file format, chosen from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

impl ImageFormat {
    /// `.svg` or `.png` (case-insensitive); anything else is an error.
    pub fn from_path(path: &Path) -> anyhow::Result<ImageFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("svg") => Ok(ImageFormat::Svg),
            Some("png") => Ok(ImageFormat::Png),
            _ => bail!("{}: plot output must end in .svg or .png", path.display()),
        }
    }
}

/// Options shared by all plots.
#[derive(Debug, Clone)]
pub struct PlotOptions {
    /// Title; each kind has a default.
    pub title: Option<String>,
    /// What the latency measures, for axis labels ("HTTP response time", "DNS latency").
    pub metric: String,
    pub width: u32,
    pub height: u32,
    /// Histogram: number of bins.
    pub bins: usize,
    /// Histogram: log-spaced bins on a log axis (the default; latencies span decades).
    pub log_bins: bool,
    /// Percentile definition for spectrum, rolling lines and box plots.
    pub method: PercentileMethod,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            title: None,
            metric: "latency".to_string(),
            width: 1000,
            height: 620,
            bins: 60,
            log_bins: true,
            method: PercentileMethod::NearestRank,
        }
    }
}

/// A time unit for axes, picked so that typical values read as 1..1000.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationUnit {
    pub symbol: &'static str,
    pub ns: f64,
}

impl DurationUnit {
    pub fn for_ns(typical_ns: f64) -> DurationUnit {
        let a = typical_ns.abs();
        let (symbol, ns) = if a < 1e3 {
            ("ns", 1.0)
        } else if a < 1e6 {
            ("µs", 1e3)
        } else if a < 1e9 {
            ("ms", 1e6)
        } else {
            ("s", 1e9)
        };
        DurationUnit { symbol, ns }
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans once; plotters looks fonts up by family name.
fn ensure_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The bytes are a known-good TTF; failure would be a packaging bug caught by tests.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn title_font<'a>() -> TextStyle<'a> {
    (FONT, 26).into_font().style(FontStyle::Bold).into()
}

/// Draws a latency plot to `path` (SVG or PNG by extension).
pub fn render(
    kind: PlotKind,
    series: &[Series],
    opts: &PlotOptions,
    path: &Path,
) -> anyhow::Result<()> {
    render_figure(&Figure::Latency(kind, series), opts, path)
}

/// The same plot as an SVG document, for inlining into HTML.
pub fn render_svg_string(
    kind: PlotKind,
    series: &[Series],
    opts: &PlotOptions,
) -> anyhow::Result<String> {
    svg_string(&Figure::Latency(kind, series), opts)
}

/// The same plot as PNG bytes.
pub fn render_png_bytes(
    kind: PlotKind,
    series: &[Series],
    opts: &PlotOptions,
) -> anyhow::Result<Vec<u8>> {
    png_bytes(&Figure::Latency(kind, series), opts)
}

/// Labels and data for a scatter plot of two numeric columns.
#[derive(Debug, Clone)]
pub struct ScatterData {
    pub x_label: String,
    pub y_label: String,
    pub points: Vec<(f64, f64)>,
}

/// Scatter plot with its least-squares line (`tracetail stats --x --y`), to SVG or PNG.
pub fn render_scatter(data: &ScatterData, opts: &PlotOptions, path: &Path) -> anyhow::Result<()> {
    render_figure(&Figure::Scatter(data), opts, path)
}

/// Anscombe's quartet as a 2×2 grid of scatter plots with their (identical) lines.
pub fn render_anscombe(opts: &PlotOptions, path: &Path) -> anyhow::Result<()> {
    render_figure(&Figure::Anscombe, opts, path)
}

/// Anything this module can draw.
pub enum Figure<'a> {
    Latency(PlotKind, &'a [Series]),
    Scatter(&'a ScatterData),
    Anscombe,
}

/// Draws `figure` to `path`, SVG or PNG by extension.
pub fn render_figure(figure: &Figure<'_>, opts: &PlotOptions, path: &Path) -> anyhow::Result<()> {
    let bytes = match ImageFormat::from_path(path)? {
        ImageFormat::Svg => svg_string(figure, opts)?.into_bytes(),
        ImageFormat::Png => png_bytes(figure, opts)?,
    };
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// `figure` as an SVG document.
pub fn svg_string(figure: &Figure<'_>, opts: &PlotOptions) -> anyhow::Result<String> {
    ensure_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (opts.width, opts.height)).into_drawing_area();
        draw_figure(&root, figure, opts)?;
        root.present()?;
    }
    Ok(svg)
}

/// `figure` as PNG bytes (RGB, 8 bit).
pub fn png_bytes(figure: &Figure<'_>, opts: &PlotOptions) -> anyhow::Result<Vec<u8>> {
    ensure_fonts();
    let (w, h) = (opts.width, opts.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_figure(&root, figure, opts)?;
        root.present()?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(out)
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure<'_>,
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match figure {
        Figure::Latency(kind, series) => {
            let series: Vec<&Series> = series.iter().filter(|s| !s.points.is_empty()).collect();
            if series.is_empty() {
                return draw_empty(root, opts, *kind);
            }
            match kind {
                PlotKind::Hist => draw_hist(root, &series, opts),
                PlotKind::Cdf => draw_cdf(root, &series, opts, false),
                PlotKind::Ccdf => draw_cdf(root, &series, opts, true),
                PlotKind::Spectrum => draw_spectrum(root, &series, opts),
                PlotKind::Timeline => draw_timeline(root, &series, opts),
                PlotKind::Compare => draw_compare(root, &series, opts),
            }
        }
        Figure::Scatter(data) => draw_scatter(root, data, opts),
        Figure::Anscombe => draw_anscombe(root, opts),
    }
}

fn default_title(kind: PlotKind, metric: &str) -> String {
    match kind {
        PlotKind::Hist => format!("Distribution of {metric}"),
        PlotKind::Cdf => format!("CDF of {metric}"),
        PlotKind::Ccdf => format!("Tail of {metric} (CCDF, log-log)"),
        PlotKind::Spectrum => format!("Percentile spectrum of {metric}"),
        PlotKind::Timeline => format!("{} over capture time", capitalize(metric)),
        PlotKind::Compare => format!("{} by group", capitalize(metric)),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn title_of(kind: PlotKind, opts: &PlotOptions) -> String {
    opts.title
        .clone()
        .unwrap_or_else(|| default_title(kind, &opts.metric))
}

fn draw_empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    opts: &PlotOptions,
    kind: PlotKind,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let area = root.titled(&title_of(kind, opts), title_font())?;
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        "no samples".to_string(),
        (w as i32 / 2 - 60, h as i32 / 2),
        (FONT, 24).into_font(),
    ))?;
    Ok(())
}

/// Latencies of each series sorted ascending.
fn sorted_values(series: &[&Series]) -> Vec<Vec<i64>> {
    series
        .iter()
        .map(|s| {
            let mut v: Vec<i64> = s.points.iter().map(|p| p.1).collect();
            v.sort_unstable();
            v
        })
        .collect()
}

/// The unit for a linear axis: from the largest value, so tick labels stay short.
fn unit_linear(sorted: &[Vec<i64>]) -> DurationUnit {
    let max = sorted
        .iter()
        .filter_map(|v| v.last())
        .map(|&v| v.abs())
        .max()
        .unwrap_or(0);
    DurationUnit::for_ns(max as f64)
}

/// The unit for a log axis: from the geometric middle of the positive range, so that both
/// the body and the tail read as modest numbers (0.5 … 35000 ms, not 3.5e7 µs).
fn unit_log(sorted: &[Vec<i64>]) -> DurationUnit {
    let (lo, hi) = positive_extent(sorted);
    DurationUnit::for_ns((lo * hi).sqrt())
}

/// Smallest positive value over all series (log axes cannot show 0), and the largest.
fn positive_extent(sorted: &[Vec<i64>]) -> (f64, f64) {
    let min_pos = sorted
        .iter()
        .filter_map(|v| v.iter().find(|&&x| x > 0).copied())
        .min()
        .unwrap_or(1) as f64;
    let max = sorted
        .iter()
        .filter_map(|v| v.last().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    (min_pos, max.max(min_pos))
}

/// Log-axis bounds around [lo, hi] with a little room, never a zero-width range.
fn log_bounds(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.max(f64::MIN_POSITIVE);
    let hi = hi.max(lo);
    let (a, b) = (lo / 1.25, hi * 1.25);
    if b / a < 10.0 {
        let mid = (a * b).sqrt();
        (mid / 3.2, mid * 3.2)
    } else {
        (a, b)
    }
}

/// Linear bounds with 5 % padding and never zero width.
fn linear_bounds(lo: f64, hi: f64) -> (f64, f64) {
    // plotters needs a finite, non-empty span (its tick search never ends otherwise), so the
    // axis stays within ±f64::MAX/2 (points beyond are clipped) and a single value gets a
    // pad that is not lost to rounding.
    const LIMIT: f64 = f64::MAX / 2.0;
    let (lo, hi) = (lo.clamp(-LIMIT, LIMIT), hi.clamp(-LIMIT, LIMIT));
    if hi > lo {
        let pad = (hi - lo) * 0.05;
        ((lo - pad).max(-LIMIT), (hi + pad).min(LIMIT))
    } else {
        let pad = (lo.abs() * 1e-3).max(1.0);
        (lo - pad, hi + pad)
    }
}

/// Short tick labels: 3 significant digits, no float noise.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Ranks to draw for a CDF of `n` samples: evenly spaced for the body, log-spaced into the
/// tail so that a 10-million-sample curve is a few thousand points and still ends at the max.
fn cdf_ranks(n: usize) -> Vec<usize> {
    if n <= 4000 {
        return (0..n).collect();
    }
    let mut ranks: Vec<usize> = (0..2000).map(|k| k * (n - 1) / 1999).collect();
    let decades = (n as f64).log10();
    let steps = (decades * 300.0) as usize;
    for k in 0..=steps {
        let tail_fraction = 10f64.powf(-(k as f64) / 300.0);
        let from_end = (tail_fraction * n as f64).ceil() as usize;
        ranks.push(n.saturating_sub(from_end.max(1)));
    }
    ranks.push(n - 1);
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

macro_rules! style_mesh {
    ($chart:expr, $x_desc:expr, $y_desc:expr) => {
        $chart
            .configure_mesh()
            .x_desc($x_desc)
            .y_desc($y_desc)
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .max_light_lines(4)
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200))
    };
}

fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .label_font((FONT, 15))
        .draw()?;
    Ok(())
}

fn draw_hist<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[&Series],
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let sorted = sorted_values(series);
    let unit = if opts.log_bins {
        unit_log(&sorted)
    } else {
        unit_linear(&sorted)
    };
    let bins = opts.bins.max(1);
    let x_desc = format!("{} ({})", opts.metric, unit.symbol);
    let y_desc = "requests per bin";
    let title = title_of(PlotKind::Hist, opts);
    let multiple = series.len() > 1;

    // Bin edges in display units.
    let (edges, log_axis) = if opts.log_bins {
        let (lo, hi) = positive_extent(&sorted);
        let (lo, hi) = (lo / unit.ns, hi / unit.ns * 1.000001);
        let ratio = (hi / lo).powf(1.0 / bins as f64);
        (
            (0..=bins)
                .map(|i| lo * ratio.powi(i as i32))
                .collect::<Vec<_>>(),
            true,
        )
    } else {
        let lo = sorted.iter().map(|v| v[0]).min().unwrap_or(0) as f64 / unit.ns;
        let hi = sorted.iter().map(|v| v[v.len() - 1]).max().unwrap_or(0) as f64 / unit.ns;
        let hi = if hi > lo { hi } else { lo + 1.0 };
        let width = (hi - lo) / bins as f64;
        ((0..=bins).map(|i| lo + width * i as f64).collect(), false)
    };
    let counts: Vec<Vec<u64>> = sorted
        .iter()
        .map(|values| {
            let mut c = vec![0u64; bins];
            for &v in values {
                let x = v as f64 / unit.ns;
                // Values outside the edges only happen for non-positive values on a log axis.
                let i = edges.partition_point(|&e| e <= x);
                if i >= 1 {
                    c[(i - 1).min(bins - 1)] += 1;
                } else if !log_axis {
                    c[0] += 1;
                }
            }
            c
        })
        .collect();
    let y_max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
    let (x0, x1) = (edges[0], edges[bins]);

    let area = root.margin(10, 10, 10, 20);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            style_mesh!(chart, x_desc.as_str(), y_desc)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            for (si, c) in counts.iter().enumerate() {
                let col = color(si);
                let alpha = if multiple { 0.30 } else { 0.55 };
                chart.draw_series(c.iter().enumerate().filter(|(_, &n)| n > 0).map(
                    |(i, &n)| {
                        Rectangle::new(
                            [(edges[i], 0.0), (edges[i + 1], n as f64)],
                            col.mix(alpha).filled(),
                        )
                    },
                ))?;
                // Outline as a step line so overlaid groups stay distinguishable.
                let mut outline = vec![(edges[0], 0.0)];
                for (i, &n) in c.iter().enumerate() {
                    outline.push((edges[i], n as f64));
                    outline.push((edges[i + 1], n as f64));
                }
                outline.push((edges[bins], 0.0));
                let total: u64 = c.iter().sum();
                chart
                    .draw_series(segments(outline, col.stroke_width(2)))?
                    .label(format!("{} (n = {total})", series[si].name))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 18, y + 6)], col.mix(0.6).filled())
                    });
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }};
    }
    if log_axis {
        body!(ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), 0.0..y_max)?);
    } else {
        body!(ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, 0.0..y_max)?);
    }
    Ok(())
}

fn draw_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[&Series],
    opts: &PlotOptions,
    complementary: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let sorted = sorted_values(series);
    let unit = unit_log(&sorted);
    let (lo, hi) = positive_extent(&sorted);
    let (x0, x1) = log_bounds(lo / unit.ns, hi / unit.ns);
    let x_desc = format!("{} ({}, log scale)", opts.metric, unit.symbol);
    let kind = if complementary {
        PlotKind::Ccdf
    } else {
        PlotKind::Cdf
    };
    let title = title_of(kind, opts);
    let area = root.margin(10, 10, 10, 20);

    // Each curve: (value, fraction) at the drawn ranks. CDF: fraction ≤ v = (i+1)/n;
    // CCDF: fraction ≥ v = (n−i)/n, which ends at 1/n for the maximum.
    let curves: Vec<Vec<(f64, f64)>> = sorted
        .iter()
        .map(|v| {
            let n = v.len();
            cdf_ranks(n)
                .into_iter()
                .filter(|&i| v[i] > 0)
                .map(|i| {
                    let x = v[i] as f64 / unit.ns;
                    let y = if complementary {
                        (n - i) as f64 / n as f64
                    } else {
                        (i + 1) as f64 / n as f64
                    };
                    (x, y)
                })
                .collect()
        })
        .collect();

    if complementary {
        let n_max = sorted.iter().map(|v| v.len()).max().unwrap_or(1) as f64;
        let y0 = (1.0 / n_max) / 2.0;
        let mut chart = ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(95)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..1.5).log_scale())?;
        style_mesh!(
            chart,
            x_desc.as_str(),
            "fraction of requests slower (log scale)"
        )
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| ccdf_label(*v))
        .draw()?;
        for (si, curve) in curves.into_iter().enumerate() {
            let col = color(si);
            chart
                .draw_series(segments(curve, col.stroke_width(2)))?
                .label(series[si].name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
    } else {
        let mut chart = ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), 0.0..1.02)?;
        style_mesh!(chart, x_desc.as_str(), "fraction of requests at or below")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .draw()?;
        for (si, curve) in curves.into_iter().enumerate() {
            let col = color(si);
            chart
                .draw_series(segments(curve, col.stroke_width(2)))?
                .label(series[si].name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// CCDF axis labels: "1" = all, 0.01 = "1%", 1e-4 = "0.01%".
fn ccdf_label(v: f64) -> String {
    let pct = v * 100.0;
    if pct >= 1.0 {
        format!("{pct:.0}%")
    } else {
        format!("{}%", tick(pct))
    }
}

/// Spectrum x-axis labels at powers of ten of 1/(1−p): 1 → 0%, 10 → 90%, 100 → 99% ...
fn spectrum_label(v: f64) -> String {
    let l = v.log10();
    if (l - l.round()).abs() > 1e-6 || l.round() < 0.0 {
        return String::new();
    }
    match l.round() as u32 {
        0 => "0%".into(),
        1 => "90%".into(),
        k => format!("99.{}%", "9".repeat(k as usize - 2)).replace("99.%", "99%"),
    }
}

fn draw_spectrum<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[&Series],
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let sorted = sorted_values(series);
    let unit = unit_linear(&sorted);
    let n_max = sorted.iter().map(|v| v.len()).max().unwrap_or(1);
    // Show out to the percentile the data supports: 1/(1−p) up to n (at least 99 %).
    let x_hi = (n_max as f64).max(100.0);
    let y_hi = sorted.iter().map(|v| *v.last().unwrap()).max().unwrap_or(1) as f64 / unit.ns;
    let y_lo = sorted.iter().map(|v| v[0]).min().unwrap_or(0).min(0) as f64 / unit.ns;
    let title = title_of(PlotKind::Spectrum, opts);
    // Extra right margin: the last label ("99.9999%") is centred on the axis end.
    let area = root.margin(10, 10, 10, 45);
    let mut chart = ChartBuilder::on(&area)
        .caption(&title, title_font())
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d((1.0..x_hi * 1.05).log_scale(), y_lo..y_hi * 1.08)?;
    style_mesh!(
        chart,
        format!(
            "percentile ({} definition; x = 1/(1−p), log scale)",
            opts.method.name()
        ),
        format!("{} ({})", opts.metric, unit.symbol)
    )
    .x_label_formatter(&|v| spectrum_label(*v))
    .y_label_formatter(&|v| tick(*v))
    .draw()?;
    for (si, values) in sorted.iter().enumerate() {
        let n = values.len() as f64;
        let x_end = n.max(1.0);
        let steps = 600;
        let curve: Vec<(f64, f64)> = (0..=steps)
            .map(|k| {
                let x = x_end.powf(k as f64 / steps as f64);
                let p = 100.0 * (1.0 - 1.0 / x);
                (x, percentile(values, p, opts.method) / unit.ns)
            })
            .collect();
        let col = color(si);
        chart
            .draw_series(segments(curve, col.stroke_width(2)))?
            .label(format!("{} (n = {})", series[si].name, values.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(3)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

/// Rolling percentile of the latencies around each of ~`points` positions in time order,
/// over a window of `window` requests. Returns (time, value) in display units.
fn rolling_percentile(
    by_time: &[(f64, i64)],
    window: usize,
    points: usize,
    p: f64,
    method: PercentileMethod,
) -> Vec<(f64, f64)> {
    let n = by_time.len();
    if n == 0 {
        return Vec::new();
    }
    let window = window.clamp(1, n);
    let step = (n / points.max(1)).max(1);
    let mut scratch = Vec::with_capacity(window);
    let mut out = Vec::new();
    // Centres run from the first to the last position where a whole window fits.
    let half = window / 2;
    let last_center = n - window + half;
    let mut center = half;
    loop {
        let start = center - half;
        scratch.clear();
        scratch.extend(by_time[start..start + window].iter().map(|t| t.1));
        scratch.sort_unstable();
        out.push((by_time[center].0, percentile(&scratch, p, method)));
        if center + step > last_center {
            break;
        }
        center += step;
    }
    out
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[&Series],
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let sorted = sorted_values(series);
    let t0 = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .min()
        .unwrap_or(0);
    let t1 = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(0);
    let span = (t1 - t0) as f64;
    let time_unit = DurationUnit::for_ns(span);
    let (x0, x1) = linear_bounds(0.0, span / time_unit.ns);
    let (lo, hi) = positive_extent(&sorted);
    // A log y axis once the tail is far above the body, so both stay readable.
    let median = sorted
        .iter()
        .map(|v| v[v.len() / 2])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let log_y = hi / median > 10.0;
    let unit = if log_y {
        unit_log(&sorted)
    } else {
        unit_linear(&sorted)
    };
    let title = title_of(PlotKind::Timeline, opts);
    let x_desc = format!("time since capture start ({})", time_unit.symbol);
    let y_desc = format!(
        "{} ({}{})",
        opts.metric,
        unit.symbol,
        if log_y { ", log scale" } else { "" }
    );
    let area = root.margin(10, 10, 10, 20);

    struct Prepared {
        dots: Vec<(f64, f64)>,
        p50: Vec<(f64, f64)>,
        p99: Vec<(f64, f64)>,
        window: usize,
        note: String,
    }
    let prepared: Vec<Prepared> = series
        .iter()
        .map(|s| {
            let mut by_time: Vec<(f64, i64)> = s
                .points
                .iter()
                .map(|&(t, v)| ((t - t0) as f64 / time_unit.ns, v))
                .collect();
            by_time.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n = by_time.len();
            // Drawing 10 M dots is slow and unreadable: an even stride sample keeps the
            // density honest, and the slowest requests are always drawn (the tail must
            // survive thinning).
            let max_dots = 40_000;
            let keep_slowest = 100;
            let (mut dots, note): (Vec<(f64, f64)>, String) = if n > max_dots {
                let stride = n / max_dots;
                let mut vals: Vec<i64> = by_time.iter().map(|t| t.1).collect();
                let threshold = *vals.select_nth_unstable(n - keep_slowest - 1).1;
                let dots: Vec<(f64, f64)> = by_time
                    .iter()
                    .enumerate()
                    .filter(|(i, t)| i % stride == 0 || t.1 > threshold)
                    .map(|(_, t)| (t.0, t.1 as f64 / unit.ns))
                    .collect();
                let note = format!("every {stride}th request + {keep_slowest} slowest");
                (dots, note)
            } else {
                let dots = by_time
                    .iter()
                    .map(|t| (t.0, t.1 as f64 / unit.ns))
                    .collect();
                (dots, "each request".to_string())
            };
            if log_y {
                dots.retain(|d| d.1 > 0.0);
            }
            let window = (n / 50).clamp(20.min(n), 10_000.max(n / 1000));
            let scale = |v: Vec<(f64, f64)>| v.into_iter().map(|(t, y)| (t, y / unit.ns)).collect();
            Prepared {
                dots,
                p50: scale(rolling_percentile(&by_time, window, 400, 50.0, opts.method)),
                p99: scale(rolling_percentile(&by_time, window, 400, 99.0, opts.method)),
                window,
                note,
            }
        })
        .collect();

    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            style_mesh!(chart, x_desc.as_str(), y_desc.as_str())
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            let single = prepared.len() == 1;
            for (si, p) in prepared.iter().enumerate() {
                let col = color(si);
                let dot_col = if single { RGBColor(120, 140, 170) } else { col };
                chart
                    .draw_series(
                        p.dots
                            .iter()
                            .map(|&d| Circle::new(d, 2, dot_col.mix(0.35).filled())),
                    )?
                    .label(format!("{} ({})", series[si].name, p.note))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, dot_col.filled()));
                let (c50, c99) = if single {
                    (RGBColor(20, 60, 160), RGBColor(200, 30, 30))
                } else {
                    (col, col)
                };
                chart
                    .draw_series(segments(p.p50.clone(), c50.stroke_width(2)))?
                    .label(format!(
                        "{} rolling p50 ({} requests)",
                        series[si].name, p.window
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c50.stroke_width(2))
                    });
                chart
                    .draw_series(segments(p.p99.clone(), c99.stroke_width(4)))?
                    .label(format!("{} rolling p99", series[si].name))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c99.stroke_width(4))
                    });
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }};
    }
    if log_y {
        let (y0, y1) = log_bounds(lo / unit.ns, hi / unit.ns);
        body!(ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, (y0..y1 * 2.0).log_scale())?);
    } else {
        let y_lo = sorted.iter().map(|v| v[0]).min().unwrap_or(0).min(0) as f64 / unit.ns;
        body!(ChartBuilder::on(&area)
            .caption(&title, title_font())
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y_lo..hi / unit.ns * 1.15)?);
    }
    Ok(())
}

/// What a box in the comparison plot shows.
#[derive(Debug, Clone, Copy)]
struct BoxStats {
    p25: f64,
    p50: f64,
    p75: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

fn draw_compare<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[&Series],
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let sorted = sorted_values(series);
    let unit = unit_log(&sorted);
    let boxes: Vec<BoxStats> = sorted
        .iter()
        .map(|v| {
            let q = |p: f64| percentile(v, p, opts.method) / unit.ns;
            let sum: i128 = v.iter().map(|&x| x as i128).sum();
            BoxStats {
                p25: q(25.0),
                p50: q(50.0),
                p75: q(75.0),
                p90: q(90.0),
                p99: q(99.0),
                max: *v.last().unwrap() as f64 / unit.ns,
                mean: sum as f64 / v.len() as f64 / unit.ns,
            }
        })
        .collect();
    let (lo, hi) = positive_extent(&sorted);
    let lo = boxes
        .iter()
        .map(|b| b.p25)
        .filter(|&v| v > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(lo / unit.ns * 10.0)
        .max(lo / unit.ns);
    let (y0, y1) = log_bounds(lo, hi / unit.ns);
    let n = boxes.len();
    // Group names longer than their slot are shortened (the table has them in full).
    let room = ((opts.width as usize).saturating_sub(120) / n.max(1) / 8).max(6);
    let names: Vec<String> = series.iter().map(|s| shorten(&s.name, room)).collect();
    let title = title_of(PlotKind::Compare, opts);
    let area = root.margin(10, 10, 10, 20);
    // Headroom above the data (a third of the log range) keeps the legend off the boxes, and
    // room right of the last box keeps its labels inside the picture.
    let top = y1 * 1.5 * (y1 * 1.5 / y0).powf(0.35);
    let mut chart = ChartBuilder::on(&area)
        .caption(&title, title_font())
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.6..(n as f64 - 0.1), (y0..top).log_scale())?;
    let label_names = names.clone();
    style_mesh!(
        chart,
        "group",
        format!("{} ({}, log scale)", opts.metric, unit.symbol)
    )
    .disable_x_mesh()
    .x_labels(2 * n + 1)
    .x_label_formatter(&move |v| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < label_names.len() {
            label_names[i as usize].clone()
        } else {
            String::new()
        }
    })
    .y_label_formatter(&|v| tick(*v))
    .draw()?;

    let half = 0.28;
    for (i, b) in boxes.iter().enumerate() {
        let x = i as f64;
        let col = color(i);
        let first = i == 0;
        let dark = RGBColor(40, 40, 40);
        // Whisker from the box to p90, then a thinner line on to p99.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, b.p75), (x, b.p90)],
            dark.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, b.p90), (x, b.p99)],
            dark.stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, b.p99), (x, b.max)],
            RGBColor(150, 150, 150).stroke_width(1),
        )))?;
        let boxed = chart.draw_series(std::iter::once(Rectangle::new(
            [(x - half, b.p25.max(y0)), (x + half, b.p75.max(y0))],
            col.mix(0.45).filled(),
        )))?;
        if first {
            boxed.label("box: p25 to p75").legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 6), (x + 18, y + 6)],
                    RGBColor(150, 150, 150).filled(),
                )
            });
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - half, b.p25.max(y0)), (x + half, b.p75.max(y0))],
            col.stroke_width(2),
        )))?;
        let median = chart.draw_series(std::iter::once(PathElement::new(
            vec![(x - half, b.p50.max(y0)), (x + half, b.p50.max(y0))],
            BLACK.stroke_width(4),
        )))?;
        if first {
            median.label("p50").legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(4))
            });
        }
        let p90 = chart.draw_series(std::iter::once(PathElement::new(
            vec![(x - half / 2.0, b.p90), (x + half / 2.0, b.p90)],
            dark.stroke_width(2),
        )))?;
        if first {
            p90.label("p90 (cap)").legend(|(x, y)| {
                PathElement::new(
                    vec![(x + 4, y), (x + 14, y)],
                    RGBColor(40, 40, 40).stroke_width(2),
                )
            });
        }
        let red = RGBColor(200, 30, 30);
        let p99 = chart.draw_series(std::iter::once(PathElement::new(
            vec![(x - half * 0.8, b.p99), (x + half * 0.8, b.p99)],
            red.stroke_width(4),
        )))?;
        if first {
            p99.label("p99").legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(4))
            });
        }
        let max = chart.draw_series(std::iter::once(Cross::new(
            (x, b.max),
            7,
            BLACK.stroke_width(2),
        )))?;
        if first {
            max.label("max")
                .legend(|(x, y)| Cross::new((x + 9, y), 6, BLACK.stroke_width(2)));
        }
        if b.mean > 0.0 {
            let mean = chart.draw_series(std::iter::once(Circle::new(
                (x, b.mean),
                6,
                RGBColor(255, 180, 0).stroke_width(3),
            )))?;
            if first {
                mean.label("mean").legend(|(x, y)| {
                    Circle::new((x + 9, y), 5, RGBColor(255, 180, 0).stroke_width(3))
                });
            }
        }
        // Numbers beside the tail markers: the reason to look at this plot. Labels closer
        // than a text line (in log space) are pushed apart upwards.
        let text_style = TextStyle::from((FONT, 14).into_font()).color(&dark);
        let line = (top / y0).log10() * 0.035;
        let mut last_log = f64::NEG_INFINITY;
        // The tail only: p50 is visible as the bar in the box and would crowd the next group.
        for (v, what) in [(b.p99, "p99"), (b.max, "max")] {
            if v > 0.0 {
                let at = v.log10().max(last_log + line);
                last_log = at;
                chart.draw_series(std::iter::once(Text::new(
                    format!("{what} {}{}", tick(v), unit.symbol),
                    (x + half + 0.03, 10f64.powf(at)),
                    text_style.clone(),
                )))?;
            }
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &ScatterData,
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| format!("{} against {}", data.y_label, data.x_label));
    let fit = {
        let (x, y): (Vec<f64>, Vec<f64>) = data.points.iter().copied().unzip();
        regress(&x, &y)
    };
    let area = root.margin(10, 10, 10, 20);
    scatter_panel(
        &area,
        &data.points,
        fit.as_ref(),
        &title,
        &data.x_label,
        &data.y_label,
        None,
    )
}

/// One scatter panel with its regression line; `bounds` fixes the axes (for small multiples).
fn scatter_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f64, f64)],
    fit: Option<&Regression>,
    title: &str,
    x_label: &str,
    y_label: &str,
    bounds: Option<((f64, f64), (f64, f64))>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let ((x0, x1), (y0, y1)) = bounds.unwrap_or_else(|| {
        let xs = finite.iter().map(|p| p.0);
        let ys = finite.iter().map(|p| p.1);
        let xmin = xs.clone().fold(f64::INFINITY, f64::min);
        let xmax = xs.fold(f64::NEG_INFINITY, f64::max);
        let ymin = ys.clone().fold(f64::INFINITY, f64::min);
        let ymax = ys.fold(f64::NEG_INFINITY, f64::max);
        if finite.is_empty() {
            ((0.0, 1.0), (0.0, 1.0))
        } else {
            (linear_bounds(xmin, xmax), linear_bounds(ymin, ymax))
        }
    });
    let small = bounds.is_some();
    let mut chart = ChartBuilder::on(area)
        .caption(
            title,
            (FONT, if small { 18 } else { 26 })
                .into_font()
                .style(FontStyle::Bold),
        )
        .margin(if small { 8 } else { 0 })
        .x_label_area_size(if small { 40 } else { 55 })
        .y_label_area_size(if small { 50 } else { 80 })
        .build_cartesian_2d(x0..x1, y0..y1)?;
    style_mesh!(chart, x_label, y_label)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    // Thin large data so the picture stays light; the line uses every point.
    let stride = (finite.len() / 50_000).max(1);
    let point_col = PALETTE[0];
    chart
        .draw_series(
            finite
                .iter()
                .step_by(stride)
                .map(|&p| Circle::new(p, if small { 4 } else { 3 }, point_col.mix(0.7).filled())),
        )?
        .label(format!("data (n = {})", finite.len()))
        .legend(move |(x, y)| Circle::new((x + 9, y), 4, point_col.filled()));
    if let Some(f) = fit {
        let red = PALETTE[1];
        chart
            .draw_series(LineSeries::new(
                [x0, x1].map(|x| (x, f.intercept + f.slope * x)),
                red.stroke_width(2),
            ))?
            .label(format!(
                "y = {:.3} + {:.3}x   r = {:.3}   R² = {:.3}",
                f.intercept, f.slope, f.pearson_r, f.r_squared
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(150, 150, 150))
        .label_font((FONT, if small { 13 } else { 15 }))
        .draw()?;
    Ok(())
}

fn draw_anscombe<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let title = opts.title.clone().unwrap_or_else(|| {
        "Anscombe's quartet: same mean, variance, r and line; different data".to_string()
    });
    let body = root.titled(&title, title_font())?;
    let panels = body.split_evenly((2, 2));
    for (set, panel) in anscombe_quartet().iter().zip(panels.iter()) {
        let points: Vec<(f64, f64)> = set.x.iter().copied().zip(set.y.iter().copied()).collect();
        let fit = regress(&set.x, &set.y);
        scatter_panel(
            panel,
            &points,
            fit.as_ref(),
            &format!("Set {}", set.name),
            "x",
            "y",
            Some(((2.0, 20.0), (2.0, 14.0))),
        )?;
    }
    Ok(())
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// A polyline as separate segments. plotters joins the segments of a thick `LineSeries` with
/// miters, which shoot far out of the chart at sharp turns (a step curve, a rolling p99); lone
/// segments have no joins.
fn segments<I>(points: I, style: ShapeStyle) -> Vec<PathElement<(f64, f64)>>
where
    I: IntoIterator<Item = (f64, f64)>,
{
    let points: Vec<(f64, f64)> = points.into_iter().collect();
    points
        .windows(2)
        .map(|w| PathElement::new(vec![w[0], w[1]], style))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_labels() {
        assert_eq!(spectrum_label(1.0), "0%");
        assert_eq!(spectrum_label(10.0), "90%");
        assert_eq!(spectrum_label(100.0), "99%");
        assert_eq!(spectrum_label(1000.0), "99.9%");
        assert_eq!(spectrum_label(10000.0), "99.99%");
        assert_eq!(spectrum_label(20.0), "");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(0.30000000000000004), "0.3");
        assert_eq!(tick(1234.0), "1234");
        assert_eq!(tick(0.0123), "0.0123");
    }

    #[test]
    fn cdf_ranks_cover_both_ends() {
        let r = cdf_ranks(10_000_000);
        assert_eq!(r[0], 0);
        assert_eq!(*r.last().unwrap(), 9_999_999);
        assert!(r.len() < 5000);
        // Dense in the tail: some rank among the top 100.
        assert!(r.iter().filter(|&&i| i >= 9_999_900).count() >= 5);
    }

    #[test]
    fn units_follow_the_data() {
        assert_eq!(DurationUnit::for_ns(500.0).symbol, "ns");
        assert_eq!(DurationUnit::for_ns(2.5e6).symbol, "ms");
    }
}

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
use plotters::coord::combinators::{IntoLogRange, LogCoord};
use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::n_too_small;
use super::raster::SvgLikeText;
use crate::flows::counts::IntervalCounts;
use crate::samples::{Metric, SampleSet};
use crate::stats::describe::{anscombe_quartet, regress, Regression};
use crate::stats::percentile::{percentile, PercentileMethod};
use crate::units::thousands;

/// One group of latencies: `(timestamp ns since epoch, latency ns)` per request.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, i64)>,
}

/// Which picture to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
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
    /// What one sample is, plural, for axis titles ("requests", "DNS queries").
    pub counted: String,
    /// Lines printed on the picture under the legend (groups left out, time gaps, ...).
    pub notes: Vec<String>,
    /// Most points a curve or a scatter layer draws (the slowest are always drawn, and
    /// percentiles always use every sample): keeps files small for huge captures.
    pub max_points: usize,
}

impl PlotOptions {
    /// Defaults with the metric's label and the name of what it counts.
    pub fn for_metric(metric: Metric) -> Self {
        PlotOptions {
            metric: metric.label().to_string(),
            counted: counted_noun(metric).to_string(),
            ..PlotOptions::default()
        }
    }
}

impl PlotOptions {
    /// As [`for_metric`](Self::for_metric), naming the protocol when it is not the metric's
    /// own: `latency --protocol tcp` plots TCP exchanges, not HTTP requests.
    pub fn for_set(set: &crate::samples::SampleSet) -> Self {
        if set.protocol != crate::samples::Protocol::Tcp {
            return Self::for_metric(set.metric);
        }
        PlotOptions {
            metric: format!(
                "TCP exchange {}",
                set.metric.label().trim_start_matches("HTTP ")
            ),
            counted: "TCP exchanges".to_string(),
            ..PlotOptions::default()
        }
    }
}

/// What one sample of `metric` is, plural.
pub fn counted_noun(metric: Metric) -> &'static str {
    match metric {
        Metric::Dns => "DNS queries",
        Metric::Handshake => "TCP handshakes",
        Metric::TlsHello | Metric::TlsHandshake => "TLS connections",
        _ => "HTTP requests",
    }
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
            counted: "requests".to_string(),
            notes: Vec::new(),
            max_points: 40_000,
        }
    }
}

/// The groups of `set` as series, and how many were left out: at most `top` (at least 1)
/// are kept, the largest by count, but the group holding the slowest sample always stays in
/// (a picture of the tail must not lose the worst tail to a size cut).
pub fn groups_for_picture(set: &SampleSet, top: usize) -> (Vec<Series>, usize) {
    let mut series: Vec<Series> = set
        .groups
        .iter()
        .map(|g| Series {
            name: g.clone(),
            points: Vec::new(),
        })
        .collect();
    if series.is_empty() {
        series.push(Series {
            name: "all".into(),
            points: Vec::new(),
        });
    }
    for s in &set.samples {
        if let Some(group) = series.get_mut(s.group as usize) {
            group.points.push((s.timestamp_ns, s.value_ns));
        }
    }
    series.retain(|s| !s.points.is_empty());
    series.sort_by(|a, b| {
        b.points
            .len()
            .cmp(&a.points.len())
            .then(a.name.cmp(&b.name))
    });
    let top = top.max(1);
    let hidden = series.len().saturating_sub(top);
    if hidden > 0 {
        let slowest = series
            .iter()
            .enumerate()
            .max_by_key(|(_, s)| s.points.iter().map(|p| p.1).max())
            .map(|(i, _)| i)
            .unwrap_or(0);
        if slowest >= top {
            let keep = series.remove(slowest);
            series.insert(top - 1, keep);
        }
        series.truncate(top);
    }
    (series, hidden)
}

/// The note a picture carries when `hidden` groups were left out of it.
pub fn hidden_groups_note(hidden: usize, how_to_see: &str) -> Option<String> {
    (hidden > 0).then(|| {
        format!(
            "{hidden} more group{} not drawn (the smallest; the slowest group is always drawn){how_to_see}",
            if hidden == 1 { "" } else { "s" }
        )
    })
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

    /// The one unit for every picture of samples from `lo` to `hi` ns (positive): from the
    /// geometric middle (0.5 … 35000 ms reads better than 3.5e7 µs), one step larger when the
    /// largest value would need five digits. A function of the data only, so a histogram, a
    /// spectrum and the report's explorer of the same samples agree.
    pub fn for_range(lo: f64, hi: f64) -> DurationUnit {
        let unit = DurationUnit::for_ns((lo.max(1.0) * hi.max(1.0)).sqrt());
        if hi / unit.ns >= 10_000.0 {
            DurationUnit::for_ns(hi)
        } else {
            unit
        }
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
pub(crate) fn ensure_fonts() {
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
    /// Packets, requests and responses per interval (the report's rates over time).
    Rates(&'a Rates),
}

/// What happened per interval of capture time, for [`Figure::Rates`].
#[derive(Debug, Clone, Default)]
pub struct Rates {
    /// Interval width (ns).
    pub width_ns: i64,
    /// Intervals holding anything, by start (ns since the epoch), in time order.
    pub intervals: Vec<(i64, IntervalCounts)>,
}

/// Nice interval widths (1-2-5 × 10^k ns) from a power of ten `finest` up: the narrowest
/// that draws at most `most` intervals over the stretches of activity of `starts` (interval
/// starts at width `finest`; long gaps are skipped as the time axes skip them). Each
/// candidate is a multiple of `finest`, so counts kept at `finest` add up exactly.
pub fn rate_width(starts: &[i64], finest: i64, most: usize) -> i64 {
    let Some(&first) = starts.first() else {
        return finest.max(1);
    };
    let mut times: Vec<i64> = starts.to_vec();
    times.push(first);
    let axis = TimeAxis::new(times);
    let mut width = finest.max(1);
    loop {
        for step in [1, 2, 5] {
            let candidate = width.saturating_mul(step);
            let drawn: i64 = axis
                .segments
                .iter()
                .map(|&(a, b, _, _)| b.div_euclid(candidate) - a.div_euclid(candidate) + 1)
                .sum();
            if drawn as usize <= most || candidate >= i64::MAX / 10 {
                return candidate;
            }
        }
        width = width.saturating_mul(10);
    }
}

/// `10 ms`, `500 µs`, `2 s`: an interval width.
pub fn width_human(ns: i64) -> String {
    let unit = DurationUnit::for_ns(ns as f64);
    format!("{} {}", tick(ns as f64 / unit.ns), unit.symbol)
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
        let root =
            SvgLikeText::new(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
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
        Figure::Rates(rates) => draw_rates(root, rates, opts),
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

/// The one unit for every picture of these samples (see [`DurationUnit::for_range`]).
fn unit_of(sorted: &[Vec<i64>]) -> DurationUnit {
    let (lo, hi) = positive_extent(sorted);
    DurationUnit::for_range(lo, hi)
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

/// Ranks to draw for a CDF of `n` samples, about `budget` of them: evenly spaced for the
/// body, log-spaced into the tail so that a 10-million-sample curve stays small and still
/// ends at the max.
fn cdf_ranks(n: usize, budget: usize) -> Vec<usize> {
    let budget = budget.max(100);
    if n <= budget {
        return (0..n).collect();
    }
    let half = budget / 2;
    let mut ranks: Vec<usize> = (0..half).map(|k| k * (n - 1) / (half - 1)).collect();
    let decades = (n as f64).log10();
    for k in 0..=half {
        let tail_fraction = 10f64.powf(-decades * k as f64 / half as f64);
        let from_end = (tail_fraction * n as f64).ceil() as usize;
        ranks.push(n.saturating_sub(from_end.max(1)));
    }
    ranks.push(n - 1);
    ranks.sort_unstable();
    ranks.dedup();
    ranks
}

// ---------------------------------------------------------------------------------------
// Layout shared by every picture: title, then a legend strip and notes *above* the plotting
// area, never inside it, so no legend can hide a data point.
// ---------------------------------------------------------------------------------------

/// Border colour of every legend box; tests find legends by it (`#979797` in SVG).
pub const LEGEND_BORDER: RGBColor = RGBColor(151, 151, 151);
/// Colour of notes and warnings printed on a picture.
const NOTE_COLOR: RGBColor = RGBColor(154, 74, 0);
const DARK: RGBColor = RGBColor(40, 40, 40);
const RED: RGBColor = RGBColor(200, 30, 30);
const MEAN_COLOR: RGBColor = RGBColor(255, 180, 0);

/// What a legend entry shows beside its text.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Line(RGBColor, u32),
    Block(RGBColor),
    Dot(RGBColor),
    Cross(RGBColor),
    Ring(RGBColor),
}

struct Key {
    label: String,
    swatch: Swatch,
}

impl Key {
    fn new(label: impl Into<String>, swatch: Swatch) -> Key {
        Key {
            label: label.into(),
            swatch,
        }
    }
}

/// Draws the title, the legend (entries flowing in rows inside one box) and the notes, and
/// returns the area left for the chart.
fn framed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    small: bool,
    keys: &[Key],
    notes: &[String],
) -> anyhow::Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let title_font = (FONT, if small { 18 } else { 26 })
        .into_font()
        .style(FontStyle::Bold);
    let area = root.titled(title, title_font)?;
    let size = if small { 13 } else { 15 };
    let font = (FONT, size).into_font();
    let (width, _) = area.dim_in_pixel();
    let line = size + 7;
    let (left, top) = (12, 2);
    let room = width as i32 - 2 * left - 16;
    let mut placed = Vec::new();
    let (mut x, mut row, mut widest) = (0, 0, 0);
    for key in keys {
        let text = area
            .estimate_text_size(&key.label, &TextStyle::from(font.clone()))?
            .0 as i32;
        let entry = 26 + text + 18;
        if x > 0 && x + entry > room {
            row += 1;
            x = 0;
        }
        placed.push((row, x, key));
        x += entry;
        widest = widest.max(x);
    }
    let legend_h = if keys.is_empty() {
        0
    } else {
        (row + 1) * line + 8
    };
    if !keys.is_empty() {
        area.draw(&Rectangle::new(
            [(left, top), (left + widest + 4, top + legend_h)],
            LEGEND_BORDER.stroke_width(1),
        ))?;
    }
    let text_style = TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center));
    for (row, x, key) in placed {
        let (sx, y) = (left + 8 + x, top + 4 + row * line + line / 2);
        match key.swatch {
            Swatch::Line(c, w) => area.draw(&PathElement::new(
                vec![(sx, y), (sx + 20, y)],
                c.stroke_width(w),
            ))?,
            Swatch::Block(c) => area.draw(&Rectangle::new(
                [(sx, y - 6), (sx + 18, y + 6)],
                c.mix(0.6).filled(),
            ))?,
            Swatch::Dot(c) => area.draw(&Circle::new((sx + 9, y), 4, c.filled()))?,
            Swatch::Cross(c) => area.draw(&Cross::new((sx + 9, y), 6, c.stroke_width(2)))?,
            Swatch::Ring(c) => area.draw(&Circle::new((sx + 9, y), 5, c.stroke_width(3)))?,
        }
        area.draw(&Text::new(
            key.label.clone(),
            (sx + 26, y),
            text_style.clone(),
        ))?;
    }
    let note_style = TextStyle::from(font).color(&NOTE_COLOR);
    let notes_top = top + legend_h + if keys.is_empty() { 0 } else { 5 };
    // Notes wrap at word boundaries to the picture's width.
    let mut lines: Vec<String> = Vec::new();
    for note in notes {
        let mut current = String::from("⚠");
        for word in note.split_whitespace() {
            let candidate = format!("{current} {word}");
            let wide = area.estimate_text_size(&candidate, &note_style)?.0 as i32;
            if wide > room + 16 && current.chars().count() > 2 {
                lines.push(std::mem::replace(&mut current, format!("  {word}")));
            } else {
                current = candidate;
            }
        }
        lines.push(current);
    }
    for (i, text) in lines.iter().enumerate() {
        area.draw(&Text::new(
            text.clone(),
            (left, notes_top + i as i32 * line),
            note_style.clone(),
        ))?;
    }
    let used = notes_top + lines.len() as i32 * line + 4;
    Ok(area.split_vertically(used.max(0) as u32).1)
}

/// Tick values for a log axis over [lo, hi]: powers of ten when there are three or more, else
/// 1-2-5 multiples, else 1…9 multiples, else plain linear steps, so that even a range inside
/// one decade gets labelled ticks. Also the 1…9 multiples for light grid lines.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |mults: &[f64]| -> Vec<f64> {
        (e0..=e1)
            .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let all = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let light = within(&all);
    let mut bold = within(&[1.0]);
    if bold.len() > 10 {
        let every = bold.len().div_ceil(10);
        bold = bold.into_iter().step_by(every).collect();
    }
    for mults in [&[1.0, 2.0, 5.0][..], &all[..]] {
        if bold.len() >= 3 {
            break;
        }
        bold = within(mults);
    }
    if bold.len() < 3 {
        bold = linear_ticks(lo, hi, 4);
    }
    (bold, light)
}

/// About `want` round values inside [lo, hi].
fn linear_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    if hi <= lo || !(hi - lo).is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / want.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// An axis with tick positions chosen here rather than by plotters (whose log axes lose
/// their labels inside one decade). Labels come from each chart's formatter.
struct Ticked<R> {
    inner: R,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl<R: Ranged<ValueType = f64>> Ranged for Ticked<R> {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
    fn axis_pixel_range(&self, limit: (i32, i32)) -> std::ops::Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// An axis over [lo, hi] with the given ticks (`light` for grid lines only).
fn ticked<A: AsRangedCoord<Value = f64>>(
    range: A,
    bold: Vec<f64>,
    light: Vec<f64>,
) -> Ticked<A::CoordDescType>
where
    A::CoordDescType: Ranged<ValueType = f64>,
{
    Ticked {
        inner: range.into(),
        bold,
        light,
    }
}

/// A log axis over [lo, hi] with [`log_ticks`].
fn log_axis(lo: f64, hi: f64) -> Ticked<LogCoord<f64>> {
    let (bold, light) = log_ticks(lo, hi);
    ticked((lo..hi).log_scale(), bold, light)
}

/// A linear axis over [lo, hi] with round ticks.
fn linear_axis(lo: f64, hi: f64) -> Ticked<RangedCoordf64> {
    ticked(lo..hi, linear_ticks(lo, hi, 6), linear_ticks(lo, hi, 30))
}

/// `max 1.19 s` beside a cross at the maximum: the tail's end is always on the picture.
/// `left` puts the text to the left of the mark (near the right edge).
macro_rules! max_mark {
    ($chart:expr, $at:expr, $text:expr, $left:expr) => {{
        let anchor = if $left {
            Pos::new(HPos::Right, VPos::Bottom)
        } else {
            Pos::new(HPos::Left, VPos::Bottom)
        };
        let style = TextStyle::from((FONT, 15).into_font())
            .color(&DARK)
            .pos(anchor);
        let dx = if $left { -6 } else { 6 };
        $chart.draw_series(std::iter::once(
            EmptyElement::at($at)
                + Cross::new((0, 0), 7, BLACK.stroke_width(2))
                + Text::new($text, (dx, -6), style),
        ))?;
    }};
}

macro_rules! style_mesh {
    ($chart:expr, $x_desc:expr, $y_desc:expr) => {
        $chart
            .configure_mesh()
            .x_desc($x_desc)
            .y_desc($y_desc)
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(200, 200, 200))
    };
}

/// `max 1.19 s`: the label of a maximum.
fn max_label(v: f64, unit: DurationUnit) -> String {
    format!("max {} {}", tick(v), unit.symbol)
}

/// Index of the series holding the overall maximum, and that maximum (ns).
fn overall_max(sorted: &[Vec<i64>]) -> (usize, i64) {
    sorted
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.last().map(|m| (i, *m)))
        .max_by_key(|(_, m)| *m)
        .unwrap_or((0, 0))
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
    let unit = unit_of(&sorted);
    let bins = opts.bins.max(1);
    let x_desc = format!(
        "{} ({}{})",
        opts.metric,
        unit.symbol,
        if opts.log_bins { ", log scale" } else { "" }
    );
    let y_desc = format!("{} per bin", opts.counted);
    let title = title_of(PlotKind::Hist, opts);
    let multiple = series.len() > 1;

    // Bin edges in display units.
    let (edges, log_axis_wanted) = if opts.log_bins {
        let (lo, hi) = positive_extent(&sorted);
        // One value (or values within 1 %) gets a readable neighbourhood, not an axis whose
        // ticks all round to the same label.
        let (lo, hi) = if hi <= lo * 1.01 {
            (lo / unit.ns / 1.5, hi / unit.ns * 1.5)
        } else {
            (lo / unit.ns, hi / unit.ns * 1.000001)
        };
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
        let hi = if hi > lo { hi * 1.000001 } else { lo + 1.0 };
        let width = (hi - lo) / bins as f64;
        ((0..=bins).map(|i| lo + width * i as f64).collect(), false)
    };
    let bin_of = |x: f64| -> Option<usize> {
        let i = edges.partition_point(|&e| e <= x);
        if i >= 1 {
            Some((i - 1).min(bins - 1))
        } else if !log_axis_wanted {
            Some(0)
        } else {
            None // a non-positive value on a log axis
        }
    };
    let counts: Vec<Vec<u64>> = sorted
        .iter()
        .map(|values| {
            let mut c = vec![0u64; bins];
            for &v in values {
                if let Some(i) = bin_of(v as f64 / unit.ns) {
                    c[i] += 1;
                }
            }
            c
        })
        .collect();
    // Headroom above the tallest bar for the max label.
    let y_max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.15;
    let (x0, x1) = (edges[0], edges[bins]);
    let (max_series, max_ns) = overall_max(&sorted);
    let max_x = max_ns as f64 / unit.ns;
    let max_at = bin_of(max_x).map(|i| (max_x.max(x0), counts[max_series][i] as f64));

    let keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(si, s)| {
            Key::new(
                format!("{} (n = {})", s.name, counts[si].iter().sum::<u64>()),
                Swatch::Block(color(si)),
            )
        })
        .collect();
    let area = framed(root, &title, false, &keys, &opts.notes)?.margin(0, 10, 10, 25);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            style_mesh!(chart, x_desc.as_str(), y_desc.as_str())
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
                chart.draw_series(segments(outline, col.stroke_width(2)))?;
            }
            if let Some(at) = max_at {
                max_mark!(chart, at, max_label(max_x, unit), true);
            }
        }};
    }
    if log_axis_wanted {
        body!(ChartBuilder::on(&area)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(log_axis(x0, x1), linear_axis(0.0, y_max))?);
    } else {
        body!(ChartBuilder::on(&area)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(linear_axis(x0, x1), linear_axis(0.0, y_max))?);
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
    let unit = unit_of(&sorted);
    let (lo, hi) = positive_extent(&sorted);
    let (x0, x1) = log_bounds(lo / unit.ns, hi / unit.ns);
    let x_desc = format!("{} ({}, log scale)", opts.metric, unit.symbol);
    let kind = if complementary {
        PlotKind::Ccdf
    } else {
        PlotKind::Cdf
    };
    let title = title_of(kind, opts);

    // Each curve: (value, fraction) at the drawn ranks. CDF: fraction ≤ v = (i+1)/n;
    // CCDF: fraction ≥ v = (n−i)/n, which ends at 1/n for the maximum.
    let curves: Vec<Vec<(f64, f64)>> = sorted
        .iter()
        .map(|v| {
            let n = v.len();
            cdf_ranks(n, opts.max_points / 10)
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
    let (max_series, max_ns) = overall_max(&sorted);
    let max_x = max_ns as f64 / unit.ns;
    let max_at = (max_ns > 0).then(|| {
        let n = sorted[max_series].len() as f64;
        (max_x, if complementary { 1.0 / n } else { 1.0 })
    });
    let keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(si, s)| {
            Key::new(
                format!("{} (n = {})", s.name, s.points.len()),
                Swatch::Line(color(si), 3),
            )
        })
        .collect();
    let area = framed(root, &title, false, &keys, &opts.notes)?.margin(0, 10, 10, 25);
    macro_rules! curves {
        ($chart:expr) => {{
            for (si, curve) in curves.into_iter().enumerate() {
                $chart.draw_series(segments(curve, color(si).stroke_width(2)))?;
            }
            if let Some(at) = max_at {
                max_mark!($chart, at, max_label(max_x, unit), true);
            }
        }};
    }
    if complementary {
        let n_max = sorted.iter().map(|v| v.len()).max().unwrap_or(1) as f64;
        let y0 = (1.0 / n_max) / 2.0;
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size(55)
            .y_label_area_size(95)
            .build_cartesian_2d(log_axis(x0, x1), log_axis(y0, 1.5))?;
        style_mesh!(
            chart,
            x_desc.as_str(),
            format!("fraction of {} slower (log)", opts.counted)
        )
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| ccdf_label(*v))
        .draw()?;
        curves!(chart);
    } else {
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(log_axis(x0, x1), linear_axis(0.0, 1.08))?;
        style_mesh!(
            chart,
            x_desc.as_str(),
            format!("fraction of {} at or below", opts.counted)
        )
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .draw()?;
        curves!(chart);
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

/// The highest percentile `n` samples support: p = 1 − 1/n (as a percentage).
pub fn supported_percentile(n: u64) -> f64 {
    100.0 * (1.0 - 1.0 / n.max(1) as f64)
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
    let unit = unit_of(&sorted);
    let n_max = sorted.iter().map(|v| v.len()).max().unwrap_or(1);
    // Out to the percentile the data supports, 1/(1−p) = n, and at least to 99 % so that the
    // axis has three labels; the part beyond n is shaded: n is too small there.
    let x_hi = (n_max as f64).max(100.0) * 1.08;
    let (max_series, max_ns) = overall_max(&sorted);
    let max_y = max_ns as f64 / unit.ns;
    let y_lo = sorted.iter().map(|v| v[0]).min().unwrap_or(0).min(0) as f64 / unit.ns;
    let title = title_of(PlotKind::Spectrum, opts);
    let mut keys: Vec<Key> = series
        .iter()
        .enumerate()
        .map(|(si, s)| {
            Key::new(
                format!("{} (n = {})", s.name, s.points.len()),
                Swatch::Line(color(si), 3),
            )
        })
        .collect();
    keys.push(Key::new("max (100%)", Swatch::Cross(BLACK)));
    let shaded = (n_max as f64) < x_hi;
    let mut notes = opts.notes.clone();
    if shaded {
        notes.push(format!(
            "shaded: n too small beyond p{} (p needs n ≥ 1/(1−p) samples)",
            tick(supported_percentile(n_max as u64))
        ));
    }
    let area = framed(root, &title, false, &keys, &notes)?.margin(0, 10, 10, 45);
    let decades: Vec<f64> = (0..=x_hi.log10().floor() as i32)
        .map(|e| 10f64.powi(e))
        .collect();
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(55)
        .y_label_area_size(80)
        .build_cartesian_2d(
            ticked((1.0..x_hi).log_scale(), decades, Vec::new()),
            linear_axis(y_lo, max_y.max(1e-9) * 1.12),
        )?;
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
    if shaded {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(n_max as f64, y_lo), (x_hi, max_y * 1.12)],
            RGBColor(235, 235, 235).mix(0.6).filled(),
        )))?;
    }
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
        let end = *curve.last().unwrap();
        chart.draw_series(segments(curve, col.stroke_width(2)))?;
        // The curve ends at p = 1 − 1/n; the maximum (p = 100 %) sits above its end.
        let top = *values.last().unwrap() as f64 / unit.ns;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![end, (end.0, top)],
            col.stroke_width(1),
        )))?;
        if si != max_series {
            chart.draw_series(std::iter::once(Cross::new(
                (end.0, top),
                5,
                col.stroke_width(2),
            )))?;
        }
    }
    let at = (sorted[max_series].len().max(1) as f64, max_y);
    max_mark!(chart, at, max_label(max_y, unit), true);
    Ok(())
}

/// Rolling percentile of the latencies around each of ~`points` positions in time order,
/// over a window of `window` requests; near both ends the window stays whole and shifts
/// inwards, so the line runs from the first request to the last. Returns (time, value ns).
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
    let centres = (0..n).step_by(step).chain(std::iter::once(n - 1));
    let mut last = usize::MAX;
    for centre in centres {
        if centre == last {
            continue;
        }
        last = centre;
        let start = centre.saturating_sub(window / 2).min(n - window);
        scratch.clear();
        scratch.extend(by_time[start..start + window].iter().map(|t| t.1));
        scratch.sort_unstable();
        out.push((by_time[centre].0, percentile(&scratch, p, method)));
    }
    out
}

/// The tail line of a timeline: p99 when the window holds at least 100 requests (so p99 is a
/// percentile, not the window's maximum), else honestly the rolling maximum.
fn tail_line(window: usize, counted: &str) -> (f64, String) {
    if window >= 100 {
        (99.0, format!("rolling p99 of {window} {counted}"))
    } else {
        (100.0, format!("rolling max of {window} {counted}"))
    }
}

/// `5.9 years`, `3.2 days`, `4 min`: a gap's length for a note.
fn span_human(ns: f64) -> String {
    let s = ns / 1e9;
    let (v, u) = if s >= 2.0 * 365.25 * 86400.0 {
        (s / (365.25 * 86400.0), "years")
    } else if s >= 2.0 * 86400.0 {
        (s / 86400.0, "days")
    } else if s >= 2.0 * 3600.0 {
        (s / 3600.0, "h")
    } else if s >= 120.0 {
        (s / 60.0, "min")
    } else {
        (s, "s")
    };
    format!("{} {u}", tick(v))
}

/// A time axis that skips long silent stretches: each segment of activity gets a stretch of
/// the axis (proportional to its length, but never less than a tenth), with a narrow break
/// between segments. Without gaps it is the ordinary axis.
struct TimeAxis {
    /// (first ns, last ns, axis start, axis length) per segment.
    segments: Vec<(i64, i64, f64, f64)>,
    unit: DurationUnit,
    gaps: Vec<i64>,
    end: f64,
}

impl TimeAxis {
    /// A gap breaks the axis when it is longer than a minute and than a quarter of the span.
    fn new(mut times: Vec<i64>) -> TimeAxis {
        times.sort_unstable();
        let (t0, t1) = (times[0], *times.last().unwrap());
        let span = (t1 - t0) as f64;
        let mut gaps: Vec<(i64, usize)> = times
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1] - w[0], i))
            .filter(|&(d, _)| d as f64 > 60e9 && d as f64 > span / 4.0)
            .collect();
        // At most four breaks: the longest gaps.
        gaps.sort_unstable_by_key(|g| std::cmp::Reverse(g.0));
        gaps.truncate(4);
        gaps.sort_unstable_by_key(|g| g.1);
        let mut bounds = Vec::new();
        let mut start = t0;
        for &(_, i) in &gaps {
            bounds.push((start, times[i]));
            start = times[i + 1];
        }
        bounds.push((start, t1));
        let longest = bounds.iter().map(|(a, b)| b - a).max().unwrap_or(0) as f64;
        let unit = DurationUnit::for_ns(longest);
        let busy: f64 = bounds.iter().map(|(a, b)| (b - a) as f64 / unit.ns).sum();
        let total = busy.max(1e-9);
        let min_len = total / 10.0;
        let break_len = total / 25.0;
        let mut segments = Vec::new();
        let mut at = 0.0;
        for (i, &(a, b)) in bounds.iter().enumerate() {
            if i > 0 {
                at += break_len;
            }
            let len = ((b - a) as f64 / unit.ns).max(if bounds.len() > 1 { min_len } else { 0.0 });
            segments.push((a, b, at, len));
            at += len;
        }
        TimeAxis {
            segments,
            unit,
            gaps: gaps.iter().map(|g| g.0).collect(),
            end: at,
        }
    }

    fn broken(&self) -> bool {
        self.segments.len() > 1
    }

    /// The axis title.
    fn title(&self) -> String {
        if self.broken() {
            format!(
                "time since the start of each stretch of activity ({}); axis broken at gaps",
                self.unit.symbol
            )
        } else {
            format!("time since capture start ({})", self.unit.symbol)
        }
    }

    /// The warning printed on a picture whose axis is broken.
    fn gap_note(&self) -> Option<String> {
        let largest = self.gaps.iter().copied().max()?;
        Some(format!(
            "timestamps have {} long gap{} (longest {}): the time axis is broken there",
            self.gaps.len(),
            if self.gaps.len() == 1 { "" } else { "s" },
            span_human(largest as f64)
        ))
    }

    /// Axis position of a timestamp.
    fn x(&self, t: i64) -> f64 {
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|s| t >= s.0)
            .unwrap_or(&self.segments[0]);
        let dur = (seg.1 - seg.0) as f64 / self.unit.ns;
        if dur <= 0.0 {
            return seg.2 + seg.3 / 2.0;
        }
        seg.2 + (t - seg.0) as f64 / self.unit.ns * (seg.3 / dur)
    }

    /// Round tick positions inside each segment (in axis units).
    fn ticks(&self) -> Vec<f64> {
        let per = (8 / self.segments.len()).max(2);
        self.segments
            .iter()
            .flat_map(|&(a, b, at, len)| {
                let dur = (b - a) as f64 / self.unit.ns;
                let scale = if dur > 0.0 { len / dur } else { 0.0 };
                linear_ticks(0.0, dur, per)
                    .into_iter()
                    .map(move |v| at + v * scale)
            })
            .collect()
    }

    /// The label at an axis position: time since its segment's start.
    fn label(&self, x: f64) -> String {
        let Some(&(a, b, at, len)) = self.segments.iter().rev().find(|s| x >= s.2 - 1e-9) else {
            return String::new();
        };
        let dur = (b - a) as f64 / self.unit.ns;
        if len <= 0.0 {
            return "0".into();
        }
        tick(((x - at) * dur / len).max(0.0))
    }
}

/// Breaks of a broken time axis: a grey band over each skipped stretch, named (`gap 5.84
/// years`) when `named`.
fn draw_breaks<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Ticked<RangedCoordf64>, Y>>,
    axis: &TimeAxis,
    (y0, y1): (f64, f64),
    named: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    for w in axis.segments.windows(2) {
        let (from, to) = (w[0].2 + w[0].3, w[1].2);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, y0), (to, y1)],
            RGBColor(200, 200, 200).mix(0.5).filled(),
        )))?;
        if named {
            let gap = (w[1].0 - w[0].1) as f64;
            let style = TextStyle::from((FONT, 13).into_font())
                .color(&NOTE_COLOR)
                .pos(Pos::new(HPos::Center, VPos::Top));
            chart.draw_series(std::iter::once(
                EmptyElement::at(((from + to) / 2.0, y1))
                    + Text::new(format!("gap {}", span_human(gap)), (0, 4), style),
            ))?;
        }
    }
    Ok(())
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
    let axis = TimeAxis::new(
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect(),
    );
    let (x0, x1) = linear_bounds(0.0, axis.end);
    let (lo, hi) = positive_extent(&sorted);
    // A log y axis once the tail is far above the body, so both stay readable.
    let median = sorted
        .iter()
        .map(|v| v[v.len() / 2])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let log_y = hi / median > 10.0;
    let unit = unit_of(&sorted);
    let title = title_of(PlotKind::Timeline, opts);
    let x_desc = axis.title();
    let y_desc = format!(
        "{} ({}{})",
        opts.metric,
        unit.symbol,
        if log_y { ", log scale" } else { "" }
    );

    struct Prepared {
        dots: Vec<(f64, f64)>,
        lines: Vec<Vec<(f64, f64)>>,
        tails: Vec<Vec<(f64, f64)>>,
        window: usize,
        tail_window: usize,
        tail_label: String,
        note: String,
    }
    let prepared: Vec<Prepared> = series
        .iter()
        .map(|s| {
            let mut by_time: Vec<(i64, i64)> = s.points.clone();
            by_time.sort_unstable();
            let n = by_time.len();
            // Drawing 10 M dots is slow and unreadable: an even stride sample keeps the
            // density honest, and the slowest requests are always drawn (the tail must
            // survive thinning).
            let max_dots = opts.max_points.max(1000);
            let keep_slowest = 100;
            let (threshold, stride, note) = if n > max_dots {
                let stride = n / max_dots;
                let mut vals: Vec<i64> = by_time.iter().map(|t| t.1).collect();
                let threshold = *vals.select_nth_unstable(n - keep_slowest - 1).1;
                (
                    threshold,
                    stride,
                    format!("every {stride}th + {keep_slowest} slowest"),
                )
            } else {
                (i64::MAX, 1, format!("each of {n}"))
            };
            let mut dots: Vec<(f64, f64)> = by_time
                .iter()
                .enumerate()
                .filter(|(i, t)| i % stride == 0 || t.1 > threshold)
                .map(|(_, t)| (axis.x(t.0), t.1 as f64 / unit.ns))
                .collect();
            if log_y {
                dots.retain(|d| d.1 > 0.0);
            }
            let window = (n / 50).clamp(20.min(n), 10_000.max(n / 1000));
            let tail_window = if n >= 500 { window.max(100) } else { window };
            let (p_tail, tail_label) = tail_line(tail_window, &opts.counted);
            // Lines never cross a gap: each stretch of activity has its own.
            let mut lines = Vec::new();
            let mut tails = Vec::new();
            for &(a, b, _, _) in &axis.segments {
                let part: Vec<(f64, i64)> = by_time
                    .iter()
                    .filter(|t| t.0 >= a && t.0 <= b)
                    .map(|t| (axis.x(t.0), t.1))
                    .collect();
                let scale = |v: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
                    v.into_iter()
                        .map(|(t, y)| (t, y / unit.ns))
                        .filter(|p| !log_y || p.1 > 0.0)
                        .collect()
                };
                lines.push(scale(rolling_percentile(
                    &part,
                    window,
                    400,
                    50.0,
                    opts.method,
                )));
                tails.push(scale(rolling_percentile(
                    &part,
                    tail_window,
                    400,
                    p_tail,
                    opts.method,
                )));
            }
            Prepared {
                dots,
                lines,
                tails,
                window,
                tail_window,
                tail_label,
                note,
            }
        })
        .collect();

    let single = prepared.len() == 1;
    let (c50, c99) = (RGBColor(20, 60, 160), RED);
    let mut keys = Vec::new();
    if single {
        let p = &prepared[0];
        keys.push(Key::new(
            format!("{} ({}: {})", series[0].name, opts.counted, p.note),
            Swatch::Dot(RGBColor(120, 140, 170)),
        ));
        keys.push(Key::new(
            format!("rolling p50 of {} {}", p.window, opts.counted),
            Swatch::Line(c50, 2),
        ));
        keys.push(Key::new(p.tail_label.clone(), Swatch::Line(c99, 4)));
    } else {
        for (si, p) in prepared.iter().enumerate() {
            keys.push(Key::new(
                format!("{} ({})", series[si].name, p.note),
                Swatch::Dot(color(si)),
            ));
        }
        let windows = |f: fn(&Prepared) -> usize| {
            let lo = prepared.iter().map(f).min().unwrap_or(0);
            let hi = prepared.iter().map(f).max().unwrap_or(0);
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}–{hi}")
            }
        };
        keys.push(Key::new(
            format!(
                "thin: rolling p50 of {} {}",
                windows(|p| p.window),
                opts.counted
            ),
            Swatch::Line(DARK, 2),
        ));
        let all_p99 = prepared.iter().all(|p| p.tail_window >= 100);
        let all_max = prepared.iter().all(|p| p.tail_window < 100);
        let what = if all_p99 {
            "rolling p99"
        } else if all_max {
            "rolling max"
        } else {
            "rolling p99 (max where fewer than 100)"
        };
        keys.push(Key::new(
            format!(
                "thick: {what} of {} {}",
                windows(|p| p.tail_window),
                opts.counted
            ),
            Swatch::Line(DARK, 4),
        ));
    }
    let mut notes = opts.notes.clone();
    notes.extend(axis.gap_note());
    let area = framed(root, &title, false, &keys, &notes)?.margin(0, 10, 10, 25);
    let (max_series, max_ns) = overall_max(&sorted);
    let max_point = series[max_series]
        .points
        .iter()
        .max_by_key(|p| p.1)
        .map(|p| (axis.x(p.0), max_ns as f64 / unit.ns));
    let near_right = max_point.is_some_and(|p| p.0 > x0 + (x1 - x0) * 0.6);

    macro_rules! body {
        ($chart:expr, $y_top:expr) => {{
            let mut chart = $chart;
            style_mesh!(chart, x_desc.as_str(), y_desc.as_str())
                .x_label_formatter(&|v| axis.label(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            for (si, p) in prepared.iter().enumerate() {
                let col = color(si);
                let dot_col = if single { RGBColor(120, 140, 170) } else { col };
                chart.draw_series(
                    p.dots
                        .iter()
                        .map(|&d| Circle::new(d, 2, dot_col.mix(0.35).filled())),
                )?;
                let (l50, l99) = if single { (c50, c99) } else { (col, col) };
                for line in &p.lines {
                    chart.draw_series(segments(line.clone(), l50.stroke_width(2)))?;
                }
                for line in &p.tails {
                    chart.draw_series(segments(line.clone(), l99.stroke_width(4)))?;
                }
            }
            draw_breaks(&mut chart, &axis, $y_top, true)?;
            if let Some(at) = max_point {
                max_mark!(chart, at, max_label(at.1, unit), near_right);
            }
        }};
    }
    if log_y {
        let (y0, y1) = log_bounds(lo / unit.ns, hi / unit.ns);
        let y1 = y1 * 2.0;
        body!(
            ChartBuilder::on(&area)
                .x_label_area_size(55)
                .y_label_area_size(80)
                .build_cartesian_2d(ticked(x0..x1, axis.ticks(), Vec::new()), log_axis(y0, y1))?,
            (y0, y1)
        );
    } else {
        let y_lo = sorted.iter().map(|v| v[0]).min().unwrap_or(0).min(0) as f64 / unit.ns;
        let y1 = hi / unit.ns * 1.15;
        body!(
            ChartBuilder::on(&area)
                .x_label_area_size(55)
                .y_label_area_size(80)
                .build_cartesian_2d(
                    ticked(x0..x1, axis.ticks(), Vec::new()),
                    linear_axis(y_lo, y1)
                )?,
            (y_lo, y1)
        );
    }
    Ok(())
}

/// Colours of the rates picture (the SVG test tells the bars apart by them).
pub const PACKETS_COLOR: RGBColor = RGBColor(31, 119, 180);
pub const REQUESTS_COLOR: RGBColor = RGBColor(44, 160, 44);
pub const RESPONSES_COLOR: RGBColor = RGBColor(255, 127, 14);

/// A bar from `.0` to `.1` on the time axis, of height `.2`.
type Bar = (f64, f64, f64);

/// Packets per second per interval above; requests per second (up) and responses per second
/// (down) below, each panel with one unit. Long gaps break the time axis as in the timeline.
fn draw_rates<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rates: &Rates,
    opts: &PlotOptions,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| "Rates over time".to_string());
    if rates.intervals.is_empty() {
        let area = root.titled(&title, title_font())?;
        let (w, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            "no packets".to_string(),
            (w as i32 / 2 - 60, h as i32 / 2),
            (FONT, 24).into_font(),
        ))?;
        return Ok(());
    }
    let width = rates.width_ns.max(1);
    let per_second = 1e9 / width as f64;
    let axis = TimeAxis::new(
        rates
            .intervals
            .iter()
            .flat_map(|(start, _)| [*start, start.saturating_add(width)])
            .collect(),
    );
    let sum = |f: fn(&IntervalCounts) -> u64| rates.intervals.iter().map(|(_, c)| f(c)).sum();
    let (packets, requests, responses): (u64, u64, u64) = (
        sum(|c| c.packets),
        sum(|c| c.requests),
        sum(|c| c.responses),
    );
    let with_messages = requests + responses > 0;
    let interval = width_human(width);
    let mut keys = vec![Key::new(
        format!(
            "packets per second ({} packets in {} intervals of {interval})",
            thousands(packets),
            thousands(rates.intervals.len() as u64)
        ),
        Swatch::Block(PACKETS_COLOR),
    )];
    if with_messages {
        keys.push(Key::new(
            format!(
                "requests per second, up ({} HTTP requests + DNS queries)",
                thousands(requests)
            ),
            Swatch::Block(REQUESTS_COLOR),
        ));
        keys.push(Key::new(
            format!("responses per second, down ({})", thousands(responses)),
            Swatch::Block(RESPONSES_COLOR),
        ));
    }
    let mut notes = opts.notes.clone();
    notes.extend(axis.gap_note());
    let area = framed(root, &title, false, &keys, &notes)?.margin(0, 10, 10, 25);
    let (x0, x1) = (0.0, axis.end.max(1e-9));
    let x_desc = axis.title();
    let panels: Vec<DrawingArea<DB, Shift>> = if with_messages {
        let (_, h) = area.dim_in_pixel();
        let (top, bottom) = area.split_vertically(h / 2);
        vec![top, bottom]
    } else {
        vec![area]
    };
    for (i, panel) in panels.iter().enumerate() {
        let rate = |n: u64| n as f64 * per_second;
        let bar = |start: i64, v: f64| (axis.x(start), axis.x(start + width), v);
        let series: Vec<(RGBColor, Vec<Bar>)> = if i == 0 {
            vec![(
                PACKETS_COLOR,
                rates
                    .intervals
                    .iter()
                    .filter(|(_, c)| c.packets > 0)
                    .map(|(s, c)| bar(*s, rate(c.packets)))
                    .collect(),
            )]
        } else {
            vec![
                (
                    REQUESTS_COLOR,
                    rates
                        .intervals
                        .iter()
                        .filter(|(_, c)| c.requests > 0)
                        .map(|(s, c)| bar(*s, rate(c.requests)))
                        .collect(),
                ),
                (
                    RESPONSES_COLOR,
                    rates
                        .intervals
                        .iter()
                        .filter(|(_, c)| c.responses > 0)
                        .map(|(s, c)| bar(*s, -rate(c.responses)))
                        .collect(),
                ),
            ]
        };
        let hi = series
            .iter()
            .flat_map(|(_, bars)| bars.iter().map(|b| b.2.abs()))
            .fold(0.0, f64::max)
            .max(per_second);
        let (y0, y1, y_desc) = if i == 0 {
            (0.0, hi * 1.1, "packets per second".to_string())
        } else {
            (-hi * 1.1, hi * 1.1, "requests ↑ responses ↓ /s".to_string())
        };
        let mut chart = ChartBuilder::on(panel)
            .x_label_area_size(if i + 1 == panels.len() { 55 } else { 20 })
            .y_label_area_size(80)
            .build_cartesian_2d(
                ticked(x0..x1, axis.ticks(), Vec::new()),
                linear_axis(y0, y1),
            )?;
        let last = i + 1 == panels.len();
        style_mesh!(
            chart,
            if last { x_desc.as_str() } else { "" },
            y_desc.as_str()
        )
        .x_label_formatter(&|v| if last { axis.label(*v) } else { String::new() })
        .y_label_formatter(&|v| tick(v.abs()))
        .draw()?;
        for (col, bars) in &series {
            chart
                .draw_series(bars.iter().map(|&(a, b, v)| {
                    Rectangle::new([(a, 0.0), (b, v)], col.mix(0.85).filled())
                }))?;
        }
        draw_breaks(&mut chart, &axis, (y0, y1), i == 0)?;
    }
    Ok(())
}

/// What a box in the comparison plot shows.
#[derive(Debug, Clone, Copy)]
struct BoxStats {
    n: usize,
    p25: f64,
    p50: f64,
    p75: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// Group names as tick labels of at most `room` characters that stay distinct: whole names
/// when they fit; else the start and the end around an ellipsis (mostly the end for
/// addresses); else numbers, with the key returned as notes.
fn distinct_labels(names: &[String], room: usize) -> (Vec<String>, Vec<String>) {
    let distinct = |labels: &[String]| {
        let mut seen = std::collections::HashSet::new();
        labels.iter().all(|l| seen.insert(l.clone()))
    };
    let whole: Vec<String> = names.to_vec();
    if names.iter().all(|n| n.chars().count() <= room) && distinct(&whole) {
        return (whole, Vec::new());
    }
    let room = room.max(5);
    // Addresses differ at their end ("…13.29:80"), host names more often at their start.
    let addresses = names
        .iter()
        .all(|n| n.starts_with(|c: char| c.is_ascii_digit() || c == '['));
    let heads: Vec<usize> = if addresses {
        (0..=(room - 2) / 2).collect()
    } else {
        (0..=(room - 2) / 2).rev().collect()
    };
    for head in heads {
        let tail = room - 1 - head;
        let cut: Vec<String> = names
            .iter()
            .map(|n| shorten_middle(n, head, tail))
            .collect();
        if distinct(&cut) {
            return (cut, Vec::new());
        }
    }
    let numbered = (1..=names.len()).map(|i| format!("#{i}")).collect();
    let key = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("#{} = {n}", i + 1))
        .collect::<Vec<_>>();
    (numbered, vec![key.join(",  ")])
}

/// `text` as its first `head` and last `tail` characters around an ellipsis, when longer.
fn shorten_middle(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= head + tail + 1 {
        return text.to_string();
    }
    let start: String = chars[..head].iter().collect();
    let end: String = chars[chars.len() - tail..].iter().collect();
    format!("{start}…{end}")
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
    let unit = unit_of(&sorted);
    let boxes: Vec<BoxStats> = sorted
        .iter()
        .map(|v| {
            let q = |p: f64| percentile(v, p, opts.method) / unit.ns;
            let sum: i128 = v.iter().map(|&x| x as i128).sum();
            BoxStats {
                n: v.len(),
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
    // Tick labels: one per slot, about 8 px a character at this size.
    let slot_px = (opts.width as usize).saturating_sub(140) / n.max(1);
    let room = (slot_px / 8).max(5);
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    let (labels, mut key_notes) = distinct_labels(&names, room);
    let title = title_of(PlotKind::Compare, opts);
    let keys = vec![
        Key::new("box: p25 to p75", Swatch::Block(RGBColor(150, 150, 150))),
        Key::new("p50", Swatch::Line(BLACK, 4)),
        Key::new("whisker to p90 (cap)", Swatch::Line(DARK, 2)),
        Key::new("p99", Swatch::Line(RED, 4)),
        Key::new("max", Swatch::Cross(BLACK)),
        Key::new("mean", Swatch::Ring(MEAN_COLOR)),
    ];
    let mut notes = opts.notes.clone();
    notes.append(&mut key_notes);
    if boxes.iter().any(|b| n_too_small(b.n as u64, 99.0)) {
        notes.push("p99 —: n too small (fewer than 100 samples in the group)".into());
    }
    let area = framed(root, &title, false, &keys, &notes)?.margin(0, 10, 10, 20);
    let top = y1 * 1.2;
    // Under the axis: the group, its p99 and its max, one row each.
    let label_rows = 4;
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(30 + label_rows * 18)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.6..(n as f64 - 0.4), log_axis(y0, top))?;
    chart
        .configure_mesh()
        .y_desc(format!("{} ({}, log scale)", opts.metric, unit.symbol))
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(200, 200, 200))
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| tick(*v))
        .draw()?;

    let half = 0.28;
    let floor = |v: f64| v.max(y0);
    for (i, b) in boxes.iter().enumerate() {
        let x = i as f64;
        let col = color(i);
        let p99_real = !n_too_small(b.n as u64, 99.0);
        // Whisker from the box to p90, then a thinner line on to p99 (or the max).
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, floor(b.p75)), (x, floor(b.p90))],
            DARK.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, floor(b.p90)), (x, floor(b.max))],
            RGBColor(150, 150, 150).stroke_width(1),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - half, floor(b.p25)), (x + half, floor(b.p75))],
            col.mix(0.45).filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - half, floor(b.p25)), (x + half, floor(b.p75))],
            col.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x - half, floor(b.p50)), (x + half, floor(b.p50))],
            BLACK.stroke_width(4),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (x - half / 2.0, floor(b.p90)),
                (x + half / 2.0, floor(b.p90)),
            ],
            DARK.stroke_width(2),
        )))?;
        if p99_real {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![
                    (x - half * 0.8, floor(b.p99)),
                    (x + half * 0.8, floor(b.p99)),
                ],
                RED.stroke_width(4),
            )))?;
        }
        chart.draw_series(std::iter::once(Cross::new(
            (x, floor(b.max)),
            7,
            BLACK.stroke_width(2),
        )))?;
        if b.mean > 0.0 {
            chart.draw_series(std::iter::once(Circle::new(
                (x, b.mean.max(y0)),
                6,
                MEAN_COLOR.stroke_width(3),
            )))?;
        }
        // The numbers that are the reason for this picture, under the axis where they cannot
        // collide with boxes or each other.
        let (px, py) = chart.backend_coord(&(x, y0));
        let style = TextStyle::from((FONT, 14).into_font())
            .color(&DARK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let p99_text = if p99_real {
            format!("p99 {}", tick(b.p99))
        } else {
            "p99 —".to_string()
        };
        let rows = [
            labels[i].clone(),
            format!("n = {}", b.n),
            p99_text,
            format!("max {}", tick(b.max)),
        ];
        for (r, text) in rows.iter().enumerate() {
            root.draw(&Text::new(
                text.clone(),
                (px, py + 8 + r as i32 * 18),
                style.clone(),
            ))?;
        }
    }
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
    let point_col = PALETTE[0];
    let red = PALETTE[1];
    let mut keys = vec![Key::new(
        format!("data (n = {})", finite.len()),
        Swatch::Dot(point_col),
    )];
    if let Some(f) = fit {
        keys.push(Key::new(
            format!(
                "y = {:.3} + {:.3}x   r = {:.3}   R² = {:.3}",
                f.intercept, f.slope, f.pearson_r, f.r_squared
            ),
            Swatch::Line(red, 2),
        ));
    }
    let area = framed(area, title, small, &keys, &[])?.margin(0, if small { 8 } else { 0 }, 0, 8);
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(if small { 40 } else { 55 })
        .y_label_area_size(if small { 50 } else { 80 })
        .build_cartesian_2d(linear_axis(x0, x1), linear_axis(y0, y1))?;
    style_mesh!(chart, x_label, y_label)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    // Thin large data so the picture stays light; the line uses every point.
    let stride = (finite.len() / 50_000).max(1);
    chart.draw_series(
        finite
            .iter()
            .step_by(stride)
            .map(|&p| Circle::new(p, if small { 4 } else { 3 }, point_col.mix(0.7).filled())),
    )?;
    if let Some(f) = fit {
        chart.draw_series(LineSeries::new(
            [x0, x1].map(|x| (x, f.intercept + f.slope * x)),
            red.stroke_width(2),
        ))?;
    }
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
    #[test]
    fn rate_width_fits_the_busy_time_not_the_gaps() {
        // 3.45 s of traffic at 1 µs resolution: 20 ms gives 173 intervals, 10 ms 345.
        let starts: Vec<i64> = (0..3_450).map(|ms| ms * 1_000_000).collect();
        assert_eq!(rate_width(&starts, 1_000, 250), 20_000_000);
        // The same twice, six years apart: the gap is not drawn, so it takes no intervals.
        let six_years = 6 * 365 * 86_400 * 1_000_000_000i64;
        let mut split = starts.clone();
        split.extend(starts.iter().map(|t| t + six_years));
        assert_eq!(rate_width(&split, 1_000, 250), 50_000_000);
        assert_eq!(rate_width(&[], 1_000, 250), 1_000);
        assert_eq!(width_human(20_000_000), "20 ms");
    }

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
        let r = cdf_ranks(10_000_000, 4000);
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

    #[test]
    fn log_axes_get_three_ticks_over_any_range() {
        for (lo, hi) in [
            (1.0, 1e6),
            (10.0, 30.0),
            (11.0, 14.0),
            (0.5, 0.52),
            (3.0, 90.0),
        ] {
            let (bold, _) = log_ticks(lo, hi);
            assert!(bold.len() >= 3, "{lo}..{hi}: {bold:?}");
            assert!(bold.len() <= 12, "{lo}..{hi}: {bold:?}");
            assert!(bold.iter().all(|v| *v >= lo * 0.999 && *v <= hi * 1.001));
        }
    }

    #[test]
    fn labels_stay_distinct() {
        let names: Vec<String> = ["205.234.218.1:80", "205.234.218.22:80", "205.234.218.3:80"]
            .map(String::from)
            .to_vec();
        let (labels, key) = distinct_labels(&names, 10);
        assert!(key.is_empty());
        assert!(labels.iter().all(|l| l.chars().count() <= 10), "{labels:?}");
        let set: std::collections::HashSet<_> = labels.iter().collect();
        assert_eq!(set.len(), 3, "{labels:?}");
        // Names that differ only in the middle: numbers and a key.
        let names: Vec<String> = ["aaaaaaaaaa1aaaaaaaaaa", "aaaaaaaaaa2aaaaaaaaaa"]
            .map(String::from)
            .to_vec();
        let (labels, key) = distinct_labels(&names, 10);
        assert_eq!(labels, ["#1", "#2"]);
        assert!(key[0].contains("#2 = aaaaaaaaaa2aaaaaaaaaa"));
    }

    #[test]
    fn percentiles_need_enough_samples() {
        assert!(n_too_small(26, 99.99));
        assert!(n_too_small(99, 99.0));
        assert!(!n_too_small(100, 99.0));
        assert!(n_too_small(1, 50.0));
        assert!(!n_too_small(2, 50.0));
        assert!(!n_too_small(1, 100.0));
    }

    #[test]
    fn rolling_lines_run_from_first_to_last() {
        let by_time: Vec<(f64, i64)> = (0..1000).map(|i| (i as f64, i as i64)).collect();
        let line = rolling_percentile(&by_time, 20, 50, 50.0, PercentileMethod::NearestRank);
        assert_eq!(line.first().unwrap().0, 0.0);
        assert_eq!(line.last().unwrap().0, 999.0);
    }

    #[test]
    fn long_gaps_break_the_time_axis() {
        let year = 365 * 86_400 * 1_000_000_000i64;
        let mut times: Vec<i64> = (0..100).map(|i| i * 1_000_000_000).collect();
        times.extend((0..100).map(|i| 6 * year + i * 1_000_000_000));
        let axis = TimeAxis::new(times);
        assert!(axis.broken());
        assert_eq!(axis.gaps.len(), 1);
        // Each stretch takes a fair share of the axis, in order.
        assert!(axis.x(99_000_000_000) < axis.x(6 * year));
        assert!(axis.x(6 * year) > axis.end * 0.3);
        let plain = TimeAxis::new((0..100).map(|i| i * 1_000_000).collect());
        assert!(!plain.broken());
    }
}

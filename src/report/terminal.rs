//! Terminal views: aligned tables and compact histograms.

use crate::stats::percentile::{percentile_label, LatencySummary};
use crate::units::duration_ns_to_human;

/// An aligned latency table, one row per group:
/// `group  count  min  mean  stddev  p50 … p99.99  max`, durations in readable units;
/// percentiles the group's count cannot support (n < 1/(1−p)) read "(n too small)".
/// Percentile columns come from the first summary (all rows should share them).
pub fn latency_table(rows: &[(String, LatencySummary)]) -> String {
    let Some((_, first)) = rows.first() else {
        return String::from("(no samples)\n");
    };
    let mut header: Vec<String> = ["group", "count", "min", "mean", "stddev"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(
        first
            .percentiles
            .iter()
            .map(|(p, _)| format!("p{}", percentile_label(*p))),
    );
    header.push("max".into());

    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(group, s)| {
            let mut cells = vec![
                group.clone(),
                s.count.to_string(),
                duration_ns_to_human(s.min as f64),
                duration_ns_to_human(s.mean),
                duration_ns_to_human(s.stddev),
            ];
            cells.extend(first.percentiles.iter().map(|(p, _)| {
                if super::n_too_small(s.count, *p) {
                    super::N_TOO_SMALL.to_string()
                } else {
                    s.at(*p)
                        .map(duration_ns_to_human)
                        .unwrap_or_else(|| "-".into())
                }
            }));
            cells.push(duration_ns_to_human(s.max as f64));
            cells
        })
        .collect();
    align(&header, &body)
}

/// Left-aligns the first column, right-aligns the rest, two spaces between columns.
pub fn align(header: &[String], body: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in body {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate().take(columns) {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in body {
        line(row);
    }
    out
}

const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// A bar of `fraction` (0..=1) of `width` cells, in eighths of a cell.
fn bar(fraction: f64, width: usize) -> String {
    let eighths = (fraction.clamp(0.0, 1.0) * width as f64 * 8.0).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    let partial = eighths % 8;
    if partial != 0 {
        s.push(EIGHTHS[partial - 1]);
    }
    s
}

/// A compact histogram of latencies (ns) with `lines` log-spaced bins (about 8–12 reads
/// well), bars `width` cells wide, and counts with percentages:
///
/// ```text
///   1.000ms ..   2.154ms │████████▌           │   812  40.6%
/// ```
/// Samples ≤ 0 (clock steps) get their own first line.
pub fn unicode_histogram(samples: &[i64], lines: usize, width: usize) -> String {
    if samples.is_empty() {
        return String::from("(no samples)\n");
    }
    let lines = lines.max(1);
    let non_positive = samples.iter().filter(|&&v| v <= 0).count();
    let (lo, hi) = samples
        .iter()
        .filter(|&&v| v > 0)
        .fold((i64::MAX, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let mut rows: Vec<(String, String, usize)> = Vec::new();
    if non_positive > 0 {
        rows.push(("≤ 0".into(), String::new(), non_positive));
    }
    if hi > 0 {
        let (lo_f, hi_f) = (lo as f64, hi as f64);
        let bins = if hi == lo { 1 } else { lines };
        let ratio = (hi_f / lo_f).powf(1.0 / bins as f64);
        let edges: Vec<f64> = (0..=bins).map(|i| lo_f * ratio.powi(i as i32)).collect();
        let mut counts = vec![0usize; bins];
        for &v in samples.iter().filter(|&&v| v > 0) {
            let i = edges.partition_point(|&e| e <= v as f64);
            counts[i.saturating_sub(1).min(bins - 1)] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            let upper = if i == bins - 1 { hi_f } else { edges[i + 1] };
            rows.push((
                duration_ns_to_human(edges[i]),
                duration_ns_to_human(upper),
                c,
            ));
        }
    }
    let most = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1);
    let lo_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let hi_w = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let count_w = rows
        .iter()
        .map(|r| r.2.to_string().len())
        .max()
        .unwrap_or(1);
    let total = samples.len() as f64;
    let mut out = String::new();
    for (a, b, c) in rows {
        let range = if b.is_empty() {
            format!("{a:>lo_w$}    {:hi_w$}", "")
        } else {
            format!("{a:>lo_w$} .. {b:>hi_w$}")
        };
        let drawn = bar(c as f64 / most as f64, width);
        let pad = width - drawn.chars().count();
        out.push_str(&format!(
            "{range} │{drawn}{} │ {c:>count_w$} {:>5.1}%\n",
            " ".repeat(pad),
            100.0 * c as f64 / total
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::percentile::{summarize, PercentileMethod, STANDARD_PERCENTILES};

    #[test]
    fn table_is_aligned() {
        let mut a: Vec<i64> = (1..=1000).map(|v| v * 1000).collect();
        let mut b: Vec<i64> = vec![5_000_000, 7_000_000];
        let rows = vec![
            (
                "all".to_string(),
                summarize(&mut a, PercentileMethod::NearestRank, &STANDARD_PERCENTILES).unwrap(),
            ),
            (
                "10.0.0.1:80".to_string(),
                summarize(&mut b, PercentileMethod::NearestRank, &STANDARD_PERCENTILES).unwrap(),
            ),
        ];
        let t = latency_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("group"));
        assert!(lines[0].contains("p99.99"));
        assert!(lines[1].contains("500.000µs"), "{t}");
        // 1000 samples support p99.9, not p99.99; 2 samples support only p50.
        assert!(lines[1].ends_with("(n too small)  1.000ms"), "{t}");
        assert_eq!(lines[2].matches("(n too small)").count(), 5, "{t}");
        // Right-aligned columns: every line ends at the same width.
        let w: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(w.iter().all(|&x| x == w[0]), "{t}");
    }

    #[test]
    fn histogram_counts_every_sample() {
        let samples: Vec<i64> = (1..=1000).map(|v| v * 10_000).chain([0, -3]).collect();
        let h = unicode_histogram(&samples, 10, 30);
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines.len(), 11);
        assert!(lines[0].starts_with("≤ 0") || lines[0].trim_start().starts_with("≤ 0"));
        let total: usize = lines
            .iter()
            .map(|l| {
                l.split('│')
                    .nth(2)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
            })
            .map(|c| c.parse::<usize>().unwrap())
            .sum();
        assert_eq!(total, 1002);
        assert!(h.contains('█'));
        assert_eq!(unicode_histogram(&[7, 7, 7], 10, 20).lines().count(), 1);
    }

    #[test]
    fn bars_use_eighths() {
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(0.5, 3), "█▌");
        assert_eq!(bar(0.0, 3), "");
    }
}

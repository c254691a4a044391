//! The report's "Rates over time" picture tells the truth: its bars, read back from the SVG
//! through the picture's own axis ticks, equal `summary --intervals` of the same width
//! interval by interval (to the pixel), and its totals equal `summary --json` (packets) and
//! the rows of `http --json` and `dns --json` (requests, responses). On the sample and on a
//! corpus capture whose time axis is broken by a 5.8-year gap.

mod common;

use std::path::Path;
use tracetail::units::thousands;

const PACKETS: &str = "#1F77B4";
const REQUESTS: &str = "#2CA02C";
const RESPONSES: &str = "#FF7F0E";
const LEGEND_BORDER: &str = "#979797";

fn run_json_lines(args: &[&str], capture: &Path) -> Vec<serde_json::Value> {
    let out = common::tracetail()
        .args(args)
        .arg(capture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The rates picture of the report of `capture`.
fn rates_svg(capture: &Path, name: &str) -> String {
    let html_path = common::scratch("report_rates", &format!("{name}.html"));
    let out = common::tracetail()
        .arg("report")
        .arg(capture)
        .arg("-o")
        .arg(&html_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    let section = html
        .find("<h2>Rates over time</h2>")
        .unwrap_or_else(|| panic!("{name}: no rates section"));
    let start = section + html[section..].find("<svg").unwrap();
    let end = start + html[start..].find("</svg>").unwrap() + "</svg>".len();
    html[start..end].to_string()
}

fn num(node: &roxmltree::Node, attr: &str) -> f64 {
    node.attribute(attr).and_then(|v| v.parse().ok()).unwrap()
}

/// One panel's y axis from its labelled ticks: value = (zero_y - y) * per_pixel.
struct Axis {
    zero_y: f64,
    per_pixel: f64,
}

/// What the picture draws: the interval width and per colour the bars' values (per second,
/// in x order) and the value of one pixel of that panel.
struct Drawn {
    width_ns: i64,
    legend: String,
    bars: Vec<(String, Vec<f64>, f64)>,
}

fn read_picture(svg: &str) -> Drawn {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let legend = doc
        .descendants()
        .find(|n| n.tag_name().name() == "rect" && n.attribute("stroke") == Some(LEGEND_BORDER))
        .expect("a legend box");
    let legend_bottom = num(&legend, "y") + num(&legend, "height");
    let legend_text: String = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .filter(|n| num(n, "y") < legend_bottom)
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" | ");
    // "... in 104 intervals of 20 ms)"
    let width_text = legend_text
        .split("intervals of ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .expect("the legend names the interval width");
    let (value, unit) = width_text.split_once(' ').unwrap();
    let scale = match unit {
        "ns" => 1.0,
        "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => panic!("unit {other}"),
    };
    let width_ns = (value.parse::<f64>().unwrap() * scale).round() as i64;

    // Y tick labels: right-aligned numbers left of the plot, top panel first; each panel's
    // labels run down to its zero (the lower panel's continue below zero, printed unsigned).
    let mut ticks: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "text" && n.attribute("text-anchor") == Some("end"))
        .filter_map(|n| Some((num(&n, "y"), n.text()?.trim().parse::<f64>().ok()?)))
        .collect();
    ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
    let first_zero = ticks.iter().position(|t| t.1 == 0.0).expect("a zero tick");
    let axis_of = |ticks: &[(f64, f64)]| -> Axis {
        let zero_y = ticks.iter().find(|t| t.1 == 0.0).expect("a zero tick").0;
        let top = ticks.first().unwrap();
        Axis {
            zero_y,
            per_pixel: top.1 / (zero_y - top.0),
        }
    };
    let packets_axis = axis_of(&ticks[..=first_zero]);
    let messages_axis = (first_zero + 1 < ticks.len()).then(|| axis_of(&ticks[first_zero + 1..]));

    let mut bars = Vec::new();
    for (colour, axis) in [
        (PACKETS, Some(&packets_axis)),
        (REQUESTS, messages_axis.as_ref()),
        (RESPONSES, messages_axis.as_ref()),
    ] {
        let Some(axis) = axis else {
            bars.push((colour.to_string(), Vec::new(), 1.0));
            continue;
        };
        let mut drawn: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "rect" && n.attribute("fill") == Some(colour))
            .filter(|n| num(n, "y") > legend_bottom) // not the legend's swatch
            .map(|n| {
                let (y, h) = (num(&n, "y"), num(&n, "height"));
                // A bar runs from zero to its value, up or down.
                let far = if (y - axis.zero_y).abs() < 0.5 {
                    y + h
                } else {
                    y
                };
                (num(&n, "x"), (axis.zero_y - far).abs() * axis.per_pixel)
            })
            .collect();
        drawn.sort_by(|a, b| a.0.total_cmp(&b.0));
        bars.push((
            colour.to_string(),
            drawn.into_iter().map(|b| b.1).collect(),
            axis.per_pixel,
        ));
    }
    Drawn {
        width_ns,
        legend: legend_text,
        bars,
    }
}

fn check(capture: &Path, name: &str) {
    let drawn = read_picture(&rates_svg(capture, name));
    let seconds = drawn.width_ns as f64 / 1e9;

    // The references: summary totals, the transaction rows, and the intervals of this width.
    let summary = &run_json_lines(&["summary", "--json"], capture)[0];
    let http = run_json_lines(&["http", "--json"], capture);
    let dns = run_json_lines(&["dns", "--json"], capture);
    let present = |rows: &[serde_json::Value], field: &str| {
        rows.iter().filter(|r| r[field].is_i64()).count() as u64
    };
    let packets = summary["packets"].as_u64().unwrap();
    let requests = present(&http, "request_first_ns") + present(&dns, "query_ns");
    let responses = present(&http, "response_first_ns") + present(&dns, "response_ns");
    let width_arg = format!("{}ns", drawn.width_ns);
    let intervals =
        &run_json_lines(&["summary", "--json", "--intervals", &width_arg], capture)[0]["intervals"];
    let per_interval = |field: &str| -> Vec<u64> {
        intervals
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[field].as_u64().unwrap())
            .filter(|n| *n > 0)
            .collect()
    };

    // The legend states the exact totals.
    for text in [
        format!("packets per second ({} packets", thousands(packets)),
        format!("({} HTTP requests + DNS queries)", thousands(requests)),
        format!("responses per second, down ({})", thousands(responses)),
    ] {
        assert!(
            drawn.legend.contains(&text),
            "{name}: legend lacks {text:?}: {}",
            drawn.legend
        );
    }

    for ((colour, bars, per_pixel), (field, total)) in drawn.bars.iter().zip([
        ("packets", packets),
        ("requests", requests),
        ("responses", responses),
    ]) {
        let expected = per_interval(field);
        assert_eq!(
            expected.iter().sum::<u64>(),
            total,
            "{name}: summary --intervals {field} add up to the total"
        );
        assert_eq!(
            bars.len(),
            expected.len(),
            "{name}: one {colour} bar per interval with {field}"
        );
        // Each bar's height is its count to within two pixels: the bar's two ends and the
        // zero tick read back are each rounded to whole pixels. When a pixel is worth under a
        // quarter of a count, that is exact.
        let pixel = per_pixel * seconds;
        for (i, (bar, want)) in bars.iter().zip(&expected).enumerate() {
            let got = bar * seconds;
            assert!(
                (got - *want as f64).abs() <= 2.0 * pixel + 1e-6,
                "{name}: {field} interval {i}: drawn {got:.2}, summary {want} (1 px = {pixel:.3})"
            );
        }
        let drawn_total: f64 = bars.iter().map(|b| b * seconds).sum();
        // Rounding toward the zero line loses under a pixel per bar.
        let slack = pixel * bars.len() as f64;
        assert!(
            (drawn_total - total as f64).abs() <= slack.max(1e-6),
            "{name}: {field} drawn sum {drawn_total:.1}, total {total} (slack {slack:.1})"
        );
        eprintln!(
            "{name}: {field}: {} bars, drawn sum {drawn_total:.1}, total {total}",
            bars.len()
        );
    }
}

#[test]
fn rates_picture_of_the_sample_adds_up() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap.gz");
    check(&sample, "demo");
}

#[test]
fn rates_picture_across_a_gap_of_years_adds_up() {
    let Some(corpus) = common::corpus_dir("rates_picture_across_a_gap_of_years_adds_up") else {
        return;
    };
    let capture = corpus.join("ndpi__1kxun.pcap");
    check(&capture, "1kxun");
    let svg = rates_svg(&capture, "1kxun-gap");
    assert!(
        svg.contains("gap 5.84 years"),
        "the gap is named on the picture"
    );
    assert!(svg.contains("axis broken at gaps"));
}

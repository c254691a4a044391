//! Pictures that tell the truth, checked on the SVG itself: every picture kind drawn by
//! `tracetail plot` (and `stats --anscombe`) on the sample and on corpus captures is parsed,
//! and
//! - no legend box intersects a data mark (circle, line, polyline, bar),
//! - the group labels of the comparison are distinct, one per group drawn,
//! - every log axis has at least 3 labelled ticks,
//! - the maximum is marked, with the value `tracetail latency` reports,
//! - every group is drawn, or the picture says how many were left out.

mod common;

use std::path::{Path, PathBuf};

/// Legend boxes have this border (`report::plot::LEGEND_BORDER`).
const LEGEND_BORDER: &str = "#979797";

#[derive(Debug, Clone, Copy)]
struct Bbox {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Bbox {
    fn overlaps(&self, o: &Bbox) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    fn inside(&self, o: &Bbox) -> bool {
        self.x0 >= o.x0 - 0.5
            && self.x1 <= o.x1 + 0.5
            && self.y0 >= o.y0 - 0.5
            && self.y1 <= o.y1 + 0.5
    }
}

fn num(node: &roxmltree::Node, attr: &str) -> f64 {
    node.attribute(attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The box a mark covers; `None` for text and anything that is not a mark.
fn mark_box(node: &roxmltree::Node) -> Option<Bbox> {
    match node.tag_name().name() {
        "rect" => {
            let fill = node.attribute("fill").unwrap_or("none");
            let (x, y) = (num(node, "x"), num(node, "y"));
            let b = Bbox {
                x0: x,
                y0: y,
                x1: x + num(node, "width"),
                y1: y + num(node, "height"),
            };
            (fill != "#FFFFFF" && fill != "none" || node.attribute("stroke") == Some(LEGEND_BORDER))
                .then_some(b)
        }
        "circle" => {
            let (x, y, r) = (num(node, "cx"), num(node, "cy"), num(node, "r"));
            Some(Bbox {
                x0: x - r,
                y0: y - r,
                x1: x + r,
                y1: y + r,
            })
        }
        "line" => {
            let (x1, y1, x2, y2) = (
                num(node, "x1"),
                num(node, "y1"),
                num(node, "x2"),
                num(node, "y2"),
            );
            Some(Bbox {
                x0: x1.min(x2),
                y0: y1.min(y2),
                x1: x1.max(x2),
                y1: y1.max(y2),
            })
        }
        "polyline" | "polygon" => {
            let pts: Vec<f64> = node
                .attribute("points")?
                .split([' ', ','])
                .filter_map(|v| v.parse().ok())
                .collect();
            let xs = pts.iter().step_by(2);
            let ys = pts.iter().skip(1).step_by(2);
            Some(Bbox {
                x0: xs.clone().copied().fold(f64::INFINITY, f64::min),
                x1: xs.copied().fold(f64::NEG_INFINITY, f64::max),
                y0: ys.clone().copied().fold(f64::INFINITY, f64::min),
                y1: ys.copied().fold(f64::NEG_INFINITY, f64::max),
            })
        }
        _ => None,
    }
}

struct Text {
    text: String,
    anchor: String,
    dy: String,
    rotated: bool,
    bold: bool,
}

/// What the checks need from one SVG.
struct Picture {
    name: String,
    texts: Vec<Text>,
    legends: Vec<Bbox>,
    /// Marks that are not part of a legend.
    marks: Vec<Bbox>,
}

fn parse(name: &str, svg: &str) -> Picture {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{name}: not XML: {e}"));
    let mut texts = Vec::new();
    let mut legends: Vec<Bbox> = Vec::new();
    let mut marks = Vec::new();
    // The legend's own swatches follow its box and lie inside it.
    let mut in_legend: Option<Bbox> = None;
    for node in doc.descendants().filter(|n| n.is_element()) {
        if node.tag_name().name() == "text" {
            texts.push(Text {
                text: node.text().unwrap_or("").trim().to_string(),
                anchor: node.attribute("text-anchor").unwrap_or("").to_string(),
                dy: node.attribute("dy").unwrap_or("").to_string(),
                rotated: node.attribute("transform").is_some(),
                bold: node.attribute("font-weight") == Some("bold"),
            });
            continue;
        }
        let Some(b) = mark_box(&node) else { continue };
        if node.tag_name().name() == "rect" && node.attribute("stroke") == Some(LEGEND_BORDER) {
            legends.push(b);
            in_legend = Some(b);
            continue;
        }
        if let Some(legend) = in_legend {
            if b.inside(&legend) {
                continue;
            }
            in_legend = None;
        }
        marks.push(b);
    }
    Picture {
        name: name.to_string(),
        texts,
        legends,
        marks,
    }
}

fn check_legends(p: &Picture) {
    assert!(!p.legends.is_empty(), "{}: no legend box", p.name);
    for legend in &p.legends {
        for mark in &p.marks {
            assert!(
                !legend.overlaps(mark),
                "{}: legend {legend:?} covers a data mark {mark:?}",
                p.name
            );
        }
    }
}

fn check_log_axes(p: &Picture) {
    for title in p.texts.iter().filter(|t| t.text.contains("log")) {
        let labels = p
            .texts
            .iter()
            .filter(|t| !t.text.is_empty() && !t.bold && !t.rotated)
            .filter(|t| {
                if title.rotated {
                    t.anchor == "end" && t.dy == "0.5ex"
                } else {
                    t.anchor == "middle" && t.dy == "0.76em"
                }
            })
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>();
        // Ticks that round to the same label tell nothing (a range of one value did that).
        let distinct: std::collections::BTreeSet<_> = labels.iter().collect();
        assert_eq!(
            distinct.len(),
            labels.len(),
            "{}: log axis \"{}\" repeats a label: {labels:?}",
            p.name,
            title.text
        );
        let labels = labels.len();
        assert!(
            labels >= 3,
            "{}: log axis \"{}\" has {labels} labelled ticks",
            p.name,
            title.text
        );
    }
}

/// ns per unit symbol.
fn unit_ns(symbol: &str) -> Option<f64> {
    match symbol {
        "ns" => Some(1.0),
        "µs" => Some(1e3),
        "ms" => Some(1e6),
        "s" => Some(1e9),
        _ => None,
    }
}

/// The maximum marked on the picture, in ns: `max 1190 ms`, or for the comparison `max 1190`
/// in the unit of the y axis title.
fn marked_max(p: &Picture) -> Option<f64> {
    let axis_unit = p
        .texts
        .iter()
        .find(|t| t.rotated)
        .and_then(|t| t.text.split('(').nth(1))
        .and_then(|u| u.split([',', ')']).next())
        .and_then(unit_ns);
    p.texts
        .iter()
        .filter_map(|t| {
            let mut words = t.text.strip_prefix("max ")?.split_whitespace();
            let value: f64 = words.next()?.parse().ok()?;
            let unit = match words.next() {
                Some(u) => unit_ns(u)?,
                None => axis_unit?,
            };
            Some(value * unit)
        })
        .reduce(f64::max)
}

fn check_max(p: &Picture, truth_ns: f64) {
    let marked = marked_max(p).unwrap_or_else(|| panic!("{}: the maximum is not marked", p.name));
    assert!(
        (marked - truth_ns).abs() <= truth_ns * 0.006,
        "{}: marked max {marked} ns, latency says {truth_ns} ns",
        p.name
    );
}

/// Groups: each drawn (its name in a legend) or counted in the "N more groups" note; for the
/// comparison, one distinct label per group drawn, with its n.
fn check_groups(p: &Picture, groups: &[(String, u64)], compare: bool) {
    let hidden: usize = p
        .texts
        .iter()
        .find_map(|t| {
            let before = t.text.split(" more group").next()?;
            if before.len() == t.text.len() {
                return None;
            }
            before.rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or(0);
    let shown = if compare {
        let labels: Vec<&str> = p
            .texts
            .windows(2)
            .filter(|w| w[1].text.starts_with("n = "))
            .map(|w| w[0].text.as_str())
            .collect();
        let distinct: std::collections::HashSet<&&str> = labels.iter().collect();
        assert_eq!(
            distinct.len(),
            labels.len(),
            "{}: labels repeat: {labels:?}",
            p.name
        );
        for t in p.texts.iter().filter(|t| t.text.starts_with("n = ")) {
            let n: u64 = t.text[4..].parse().unwrap();
            assert!(
                groups.iter().any(|g| g.1 == n),
                "{}: a box has n = {n}, no group has",
                p.name
            );
        }
        labels.len()
    } else {
        groups
            .iter()
            .filter(|(name, _)| {
                p.texts
                    .iter()
                    .any(|t| t.text.starts_with(&format!("{name} (")))
            })
            .count()
    };
    assert_eq!(
        shown + hidden,
        groups.len(),
        "{}: {shown} groups drawn, {hidden} said to be left out, {} in the data",
        p.name,
        groups.len()
    );
}

struct Truth {
    max_ns: f64,
    groups: Vec<(String, u64)>,
}

fn truth(input: &Path, extra: &[&str]) -> Truth {
    let out = common::tracetail()
        .arg("latency")
        .arg(input)
        .args(["--json", "--by", "server"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Truth {
        max_ns: json["max"].as_f64().unwrap(),
        groups: json["groups"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
            .collect(),
    }
}

fn plot(input: &Path, kind: &str, grouped: bool, extra: &[&str], tag: &str) -> String {
    let svg = common::scratch("plot_truth", &format!("{tag}-{kind}-{grouped}.svg"));
    let mut cmd = common::tracetail();
    cmd.arg("plot")
        .arg(input)
        .args(["--kind", kind, "-o"])
        .arg(&svg)
        .args(extra);
    if grouped {
        cmd.args(["--by", "server"]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{tag} {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&svg).unwrap()
}

/// Every kind of latency picture of one input.
fn check_input(input: &Path, extra: &[&str], tag: &str) {
    let truth = truth(input, extra);
    for (kind, grouped) in [
        ("hist", false),
        ("ccdf", false),
        ("timeline", false),
        ("timeline", true),
        ("cdf", true),
        ("spectrum", true),
        ("compare", true),
    ] {
        let name = format!("{tag} {kind}{}", if grouped { " by server" } else { "" });
        let p = parse(&name, &plot(input, kind, grouped, extra, tag));
        check_legends(&p);
        check_log_axes(&p);
        check_max(&p, truth.max_ns);
        if grouped {
            check_groups(&p, &truth.groups, kind == "compare");
        }
    }
}

#[test]
fn pictures_of_the_sample_tell_the_truth() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap.gz");
    check_input(&sample, &[], "sample");
}

#[test]
fn pictures_of_corpus_captures_tell_the_truth() {
    let Some(corpus) = common::corpus_dir("pictures_of_corpus_captures_tell_the_truth") else {
        return;
    };
    for (file, extra) in [
        ("cs__http_espn.pcapng", &[][..]),
        ("ndpi__1kxun.pcap", &[][..]),
        ("cs__dns_lab.pcapng", &["--metric", "dns"][..]),
        ("ndpi__webdav.pcap", &[][..]),
        ("ndpi__alexa-app.pcapng", &[][..]),
        ("sv__http-range-multiflows__input.pcap", &[][..]),
    ] {
        check_input(&corpus.join(file), extra, file);
    }
}

#[test]
fn anscombe_outlier_is_not_under_the_legend() {
    let svg = common::scratch("plot_truth", "anscombe.svg");
    let out = common::tracetail()
        .args(["stats", "--anscombe", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = parse("anscombe", &std::fs::read_to_string(&svg).unwrap());
    assert_eq!(p.legends.len(), 4, "one legend per set");
    check_legends(&p);
    // All 44 points are drawn as marks (outside every legend).
    let points = std::fs::read_to_string(&svg)
        .unwrap()
        .matches("<circle")
        .count();
    assert_eq!(points, 44 + 4, "44 data points and 4 legend dots");
}

/// The checks themselves catch what they are for: a legend inside the data is found.
#[test]
fn the_legend_check_catches_a_covered_point() {
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg"><rect x="10" y="10" width="100" height="40" fill="none" stroke="{LEGEND_BORDER}"/>
        <circle cx="20" cy="30" r="4"/><text x="30" y="30">label</text>
        <line x1="0" y1="100" x2="200" y2="100"/><circle cx="100" cy="45" r="3"/></svg>"#
    );
    let p = parse("covered", &svg);
    assert_eq!(p.marks.len(), 2, "the swatch is the legend's own");
    let caught = std::panic::catch_unwind(|| check_legends(&p));
    assert!(
        caught.is_err(),
        "a point under the legend must fail the check"
    );
}

#[test]
fn a_single_value_gets_a_readable_axis() {
    // One TLS connection: one handshake time. Its histogram's log axis used to tick 9.25,
    // 9.25, 9.25.
    let Some(corpus) = common::corpus_dir("plot_truth") else {
        return;
    };
    let input = corpus.join("zeek__tls13_wolfssl.pcap");
    let svg = plot(
        &input,
        "hist",
        false,
        &["--metric", "tls-handshake"],
        "one-value",
    );
    let p = parse("one-value hist", &svg);
    check_log_axes(&p);
    check_legends(&p);
}

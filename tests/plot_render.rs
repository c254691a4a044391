//! Every plot kind renders to SVG (well-formed XML with the title as text) and to PNG
//! (decodes, not blank, has dark text pixels in the title band). Set TRACETAIL_PLOT_DIR to
//! keep the images for viewing.

use std::path::PathBuf;
use tracetail::report::plot::{
    png_bytes, render, render_anscombe, render_scatter, render_svg_string, svg_string, Figure,
    PlotKind, PlotOptions, ScatterData, Series,
};

/// Two groups with (nearly) the same mean: "steady" is narrow, "spiky" has a heavy tail.
fn groups() -> Vec<Series> {
    let mut s = 88172645463325252u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let t0 = 1_700_000_000_000_000_000i64;
    let steady: Vec<(i64, i64)> = (0..20_000)
        .map(|i| {
            (
                t0 + i * 1_500_000,
                (10_000_000.0 + (next() - 0.5) * 4_000_000.0) as i64,
            )
        })
        .collect();
    let spiky: Vec<(i64, i64)> = (0..20_000)
        .map(|i| {
            // 98 % fast (≈8.2 ms), 2 % slow (≈100 ms): mean ≈ 10 ms as well.
            let v = if next() < 0.02 {
                100e6 + next() * 20e6
            } else {
                6.2e6 + next() * 4e6
            };
            (t0 + 3_000_000 + i * 1_500_000, v as i64)
        })
        .collect();
    vec![
        Series {
            name: "steady".into(),
            points: steady,
        },
        Series {
            name: "spiky".into(),
            points: spiky,
        },
    ]
}

const KINDS: [(PlotKind, &str); 6] = [
    (PlotKind::Hist, "hist"),
    (PlotKind::Cdf, "cdf"),
    (PlotKind::Ccdf, "ccdf"),
    (PlotKind::Spectrum, "spectrum"),
    (PlotKind::Timeline, "timeline"),
    (PlotKind::Compare, "compare"),
];

fn check_svg(svg: &str, title: &str) {
    let doc = roxmltree::Document::parse(svg).expect("SVG is well-formed XML");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.descendants().filter_map(|t| t.text()).collect::<String>())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains(title)),
        "no <text> with title {title:?}"
    );
    assert!(texts.len() >= 8, "too few labels: {}", texts.len());
}

fn check_png(bytes: &[u8], name: &str) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.line_size / w;
    let px = |x: usize, y: usize| {
        let o = y * info.line_size + x * channels;
        (buf[o], buf[o + 1], buf[o + 2])
    };
    let mut colours = std::collections::HashSet::new();
    let mut non_white = 0usize;
    for y in 0..h {
        for x in 0..w {
            let p = px(x, y);
            colours.insert(p);
            if p != (255, 255, 255) {
                non_white += 1;
            }
        }
    }
    assert!(colours.len() > 20, "{name}: only {} colours", colours.len());
    assert!(
        non_white > w * h / 50,
        "{name}: nearly blank ({non_white} drawn pixels)"
    );
    // The title is drawn in the top ~50 px: dark anti-aliased glyph pixels must be there.
    let dark_in_title = (0..50.min(h))
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let (r, g, b) = px(x, y);
            (r as u32 + g as u32 + b as u32) < 200
        })
        .count();
    assert!(
        dark_in_title > 100,
        "{name}: no title text ({dark_in_title} dark pixels)"
    );
}

fn keep(name: &str, bytes: &[u8]) {
    if let Ok(dir) = std::env::var("TRACETAIL_PLOT_DIR") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn every_latency_kind_renders_to_svg_and_png() {
    let series = groups();
    for (kind, name) in KINDS {
        let opts = PlotOptions {
            title: Some(format!("Test plot {name}")),
            metric: "HTTP response time".into(),
            ..PlotOptions::default()
        };
        let svg = render_svg_string(kind, &series, &opts).unwrap();
        check_svg(&svg, &format!("Test plot {name}"));
        keep(&format!("{name}.svg"), svg.as_bytes());
        let png = png_bytes(&Figure::Latency(kind, &series), &opts).unwrap();
        check_png(&png, name);
        keep(&format!("{name}.png"), &png);
    }
}

#[test]
fn default_titles_and_single_group_and_linear_bins() {
    let series = vec![groups().remove(1)];
    let opts = PlotOptions {
        log_bins: false,
        ..PlotOptions::default()
    };
    for (kind, name) in KINDS {
        let png = png_bytes(&Figure::Latency(kind, &series), &opts).unwrap();
        check_png(&png, name);
        keep(&format!("single-{name}.png"), &png);
    }
    let svg = render_svg_string(PlotKind::Ccdf, &series, &opts).unwrap();
    check_svg(&svg, "Tail of latency");
}

#[test]
fn empty_and_tiny_inputs_do_not_panic() {
    let opts = PlotOptions::default();
    let one = vec![Series {
        name: "one".into(),
        points: vec![(5, 1234)],
    }];
    let zeros = vec![Series {
        name: "zeros".into(),
        points: vec![(0, 0), (1, 0), (2, -5)],
    }];
    for (kind, _) in KINDS {
        render_svg_string(kind, &[], &opts).unwrap();
        render_svg_string(kind, &one, &opts).unwrap();
        render_svg_string(kind, &zeros, &opts).unwrap();
        png_bytes(&Figure::Latency(kind, &one), &opts).unwrap();
    }
}

#[test]
fn files_by_extension_scatter_and_anscombe() {
    let dir = std::env::temp_dir().join(format!("tracetail-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = PlotOptions::default();
    render(PlotKind::Cdf, &groups(), &opts, &dir.join("a.svg")).unwrap();
    render(PlotKind::Cdf, &groups(), &opts, &dir.join("a.PNG")).unwrap();
    assert!(render(PlotKind::Cdf, &groups(), &opts, &dir.join("a.jpg")).is_err());
    check_svg(
        &std::fs::read_to_string(dir.join("a.svg")).unwrap(),
        "CDF of latency",
    );
    check_png(&std::fs::read(dir.join("a.PNG")).unwrap(), "a.PNG");

    let data = ScatterData {
        x_label: "request bytes".into(),
        y_label: "response ms".into(),
        points: (0..200)
            .map(|i| (i as f64, 3.0 + 0.5 * i as f64 + ((i * 7919) % 13) as f64))
            .collect(),
    };
    render_scatter(&data, &opts, &dir.join("s.png")).unwrap();
    let png = std::fs::read(dir.join("s.png")).unwrap();
    check_png(&png, "scatter");
    keep("scatter.png", &png);
    check_svg(
        &svg_string(&Figure::Scatter(&data), &opts).unwrap(),
        "response ms against request bytes",
    );

    let big = PlotOptions {
        width: 1100,
        height: 900,
        ..PlotOptions::default()
    };
    render_anscombe(&big, &dir.join("q.png")).unwrap();
    let png = std::fs::read(dir.join("q.png")).unwrap();
    check_png(&png, "anscombe");
    keep("anscombe.png", &png);
    let svg = svg_string(&Figure::Anscombe, &big).unwrap();
    check_svg(&svg, "Anscombe's quartet");
    assert!(svg.contains("Set IV"));
    std::fs::remove_dir_all(&dir).unwrap();
}

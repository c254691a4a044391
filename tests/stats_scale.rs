//! Scale check (ignored by default): summarize, HdrHistogram and every plot for 10 million
//! latencies. Run in release and measure peak memory:
//!   cargo test --release --test stats_scale --no-run
//!   /usr/bin/time -v target/release/deps/stats_scale-* --ignored --nocapture

use std::time::Instant;
use tracetail::report::plot::{png_bytes, Figure, PlotKind, PlotOptions, Series};
use tracetail::stats::{hdr, summarize, PercentileMethod, STANDARD_PERCENTILES};

#[test]
#[ignore]
fn ten_million_latencies() {
    let n = 10_000_000usize;
    let mut s = 0x9E3779B97F4A7C15u64;
    let t0 = 1_700_000_000_000_000_000i64;
    let start = Instant::now();
    let points: Vec<(i64, i64)> = (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            // Pareto(1.5) from 500 µs: a realistic heavy tail.
            let v = 500_000.0 / (1.0 - u).powf(1.0 / 1.5);
            (t0 + i as i64 * 30_000, v.min(3.6e12) as i64)
        })
        .collect();
    println!("generate: {:.2}s", start.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut values: Vec<i64> = points.iter().map(|p| p.1).collect();
    let summary = summarize(
        &mut values,
        PercentileMethod::NearestRank,
        &STANDARD_PERCENTILES,
    )
    .unwrap();
    println!(
        "summarize (copy + sort + percentiles): {:.2}s",
        t.elapsed().as_secs_f64()
    );
    println!("{}", serde_json::to_string(&summary).unwrap());
    assert_eq!(summary.count, n as u64);
    drop(values);

    let t = Instant::now();
    let h = hdr::from_samples(&points.iter().map(|p| p.1).collect::<Vec<_>>());
    println!(
        "hdr histogram: {:.2}s, V2 base64 {} bytes",
        t.elapsed().as_secs_f64(),
        hdr::encode_base64(&h.histogram).unwrap().len()
    );

    let series = vec![Series {
        name: "all".into(),
        points,
    }];
    let opts = PlotOptions::default();
    let total = Instant::now();
    for kind in [
        PlotKind::Hist,
        PlotKind::Cdf,
        PlotKind::Ccdf,
        PlotKind::Spectrum,
        PlotKind::Timeline,
        PlotKind::Compare,
    ] {
        let t = Instant::now();
        let png = png_bytes(&Figure::Latency(kind, &series), &opts).unwrap();
        println!(
            "plot {kind:?}: {:.2}s ({} bytes)",
            t.elapsed().as_secs_f64(),
            png.len()
        );
        if let Ok(dir) = std::env::var("TRACETAIL_PLOT_DIR") {
            std::fs::write(format!("{dir}/10M-{kind:?}.png"), png).unwrap();
        }
    }
    println!("all six plots: {:.2}s", total.elapsed().as_secs_f64());
    println!("total: {:.2}s", start.elapsed().as_secs_f64());
}

//! Anscombe's quartet: the published summary values for all four data sets
//! (published to 3 digits, so r is 0.816 ± 0.001: set IV has 0.8165)
//! (mean x 9, variance x 11, mean y 7.50, variance y 4.125 ± 0.003, r 0.816,
//! y = 3.00 + 0.500x, R² 0.67).

use tracetail::stats::describe::{anscombe_quartet, describe, regress};
use tracetail::stats::PercentileMethod;

#[test]
fn all_four_sets_have_the_published_summary() {
    for set in anscombe_quartet() {
        let dx = describe(&set.x, PercentileMethod::Linear, &[50.0]).unwrap();
        let dy = describe(&set.y, PercentileMethod::Linear, &[50.0]).unwrap();
        let r = regress(&set.x, &set.y).unwrap();
        let name = set.name;
        assert_eq!(dx.count, 11, "{name}");
        assert!((dx.mean - 9.0).abs() < 1e-12, "{name} mean x {}", dx.mean);
        assert!(
            (dx.variance - 11.0).abs() < 1e-12,
            "{name} var x {}",
            dx.variance
        );
        assert!((dy.mean - 7.50).abs() < 0.005, "{name} mean y {}", dy.mean);
        assert!(
            (dy.variance - 4.125).abs() < 0.003,
            "{name} var y {}",
            dy.variance
        );
        assert!(
            (r.pearson_r - 0.816).abs() < 0.001,
            "{name} r {}",
            r.pearson_r
        );
        assert!(
            (r.intercept - 3.00).abs() < 0.005,
            "{name} intercept {}",
            r.intercept
        );
        assert!((r.slope - 0.500).abs() < 0.0005, "{name} slope {}", r.slope);
        assert!(
            (r.r_squared - 0.67).abs() < 0.005,
            "{name} R² {}",
            r.r_squared
        );
    }
}

#[test]
fn the_sets_differ_even_though_summaries_agree() {
    let q = anscombe_quartet();
    // Set IV has one x outlier; set III one y outlier: their maxima tell them apart.
    assert_eq!(
        describe(&q[3].x, PercentileMethod::Linear, &[])
            .unwrap()
            .max,
        19.0
    );
    assert_eq!(
        describe(&q[2].y, PercentileMethod::Linear, &[])
            .unwrap()
            .max,
        12.74
    );
    assert_ne!(q[0].y, q[1].y);
}

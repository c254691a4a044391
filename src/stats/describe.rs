//! Descriptive statistics and least-squares regression for any numeric data (`tracetail stats`).
//!
//! Anscombe's quartet is built in: four data sets with the same mean, variance, correlation
//! and regression line that look nothing alike, the classic reason to plot before trusting
//! a summary.

use super::percentile::{percentile_f64, PercentileMethod};

/// Summary of one numeric column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Description {
    pub count: usize,
    pub mean: f64,
    /// Sample variance (divisor n−1); NaN for fewer than two values.
    pub variance: f64,
    pub stddev: f64,
    pub min: f64,
    pub max: f64,
    pub method: PercentileMethod,
    /// (percentile in 0..=100, value) in the order requested.
    pub percentiles: Vec<(f64, f64)>,
}

/// Describes `data` (NaNs must be removed by the caller). `None` when empty.
pub fn describe(
    data: &[f64],
    method: PercentileMethod,
    percentiles: &[f64],
) -> Option<Description> {
    if data.is_empty() {
        return None;
    }
    let n = data.len();
    let mean = mean(data);
    let (variance, stddev) = sample_variance(data);
    let mut sorted = data.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Description {
        count: n,
        mean,
        variance,
        stddev,
        min: sorted[0],
        max: sorted[n - 1],
        method,
        percentiles: percentiles
            .iter()
            .map(|&p| (p, percentile_f64(&sorted, p, method)))
            .collect(),
    })
}

/// Compensated (Neumaier) summation: the error stays about one rounding whatever the order
/// and the mix of magnitudes (a plain sum of 1e16, 1, −1e16 gives 0).
pub fn stable_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    sum + compensation
}

/// The mean; finite for any finite data (a sum past ±1.8e308 is redone on x/n).
fn mean(data: &[f64]) -> f64 {
    let n = data.len() as f64;
    let mean = stable_sum(data.iter().copied()) / n;
    if mean.is_finite() {
        mean
    } else {
        stable_sum(data.iter().map(|x| x / n))
    }
}

/// The power of two at or below the largest magnitude (1 for all-zero data). Dividing by it
/// is exact and brings the data near 1, where squares and products neither overflow (values
/// near ±1.8e308) nor underflow (values near 5e-324); results scale back exactly, so for
/// ordinary data they are bit for bit those of the unscaled arithmetic.
fn binary_scale(data: &[f64]) -> f64 {
    let largest = data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return 1.0;
    }
    // The biased exponent field; subnormals (field 0) use the smallest normal scale.
    let exponent = ((largest.to_bits() >> 52) as i64).max(1);
    f64::from_bits((exponent as u64) << 52)
}

/// Two-pass sample variance (squared deviations from the mean over n−1) and its square root,
/// computed on binary-scaled data: the stddev is finite for any finite data, the variance
/// infinite only when it truly exceeds 1.8e308.
fn sample_variance(data: &[f64]) -> (f64, f64) {
    if data.len() < 2 {
        return (f64::NAN, f64::NAN);
    }
    let scale = binary_scale(data);
    let scaled: Vec<f64> = data.iter().map(|x| x / scale).collect();
    let mean = mean(&scaled);
    let variance =
        stable_sum(scaled.iter().map(|y| (y - mean) * (y - mean))) / (data.len() - 1) as f64;
    (variance * scale * scale, variance.sqrt() * scale)
}

/// Correlation and the least-squares line y = intercept + slope·x.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Regression {
    pub count: usize,
    /// Pearson's correlation coefficient r.
    pub pearson_r: f64,
    pub intercept: f64,
    pub slope: f64,
    /// Coefficient of determination (r² for a simple linear fit).
    pub r_squared: f64,
}

/// Least-squares fit of `y` on `x` (pairs at the same index). `None` with fewer than two
/// pairs, unequal lengths, or no spread in x.
pub fn regress(x: &[f64], y: &[f64]) -> Option<Regression> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    // Fit x/sx against y/sy (binary scales, see `binary_scale`): r does not change, the
    // slope scales by sy/sx.
    let (sx, sy) = (binary_scale(x), binary_scale(y));
    let xs: Vec<f64> = x.iter().map(|v| v / sx).collect();
    let ys: Vec<f64> = y.iter().map(|v| v / sy).collect();
    let (sxx, syy, sxy) = co_moments(&xs, &ys, mean(&xs), mean(&ys));
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx * (sy / sx);
    // Rounding can carry |r| a hair past 1.
    let pearson_r = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
    let (mx, my) = (mean(x), mean(y));
    Some(Regression {
        count: x.len(),
        pearson_r,
        intercept: my - slope * mx,
        slope,
        r_squared: pearson_r * pearson_r,
    })
}

/// Sums of squared and crossed deviations from the means: (Sxx, Syy, Sxy).
fn co_moments(x: &[f64], y: &[f64], mx: f64, my: f64) -> (f64, f64, f64) {
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    (sxx, syy, sxy)
}

/// One of Anscombe's four data sets (F. J. Anscombe, "Graphs in Statistical Analysis",
/// The American Statistician 27(1), 1973).
#[derive(Debug, Clone, PartialEq)]
pub struct AnscombeSet {
    pub name: &'static str,
    pub x: [f64; 11],
    pub y: [f64; 11],
}

const ANSCOMBE_X123: [f64; 11] = [10.0, 8.0, 13.0, 9.0, 11.0, 14.0, 6.0, 4.0, 12.0, 7.0, 5.0];

/// Anscombe's quartet as published.
pub fn anscombe_quartet() -> [AnscombeSet; 4] {
    [
        AnscombeSet {
            name: "I",
            x: ANSCOMBE_X123,
            y: [
                8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68,
            ],
        },
        AnscombeSet {
            name: "II",
            x: ANSCOMBE_X123,
            y: [
                9.14, 8.14, 8.74, 8.77, 9.26, 8.10, 6.13, 3.10, 9.13, 7.26, 4.74,
            ],
        },
        AnscombeSet {
            name: "III",
            x: ANSCOMBE_X123,
            y: [
                7.46, 6.77, 12.74, 7.11, 7.81, 8.84, 6.08, 5.39, 8.15, 6.42, 5.73,
            ],
        },
        AnscombeSet {
            name: "IV",
            x: [8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 19.0, 8.0, 8.0, 8.0],
            y: [
                6.58, 5.76, 7.71, 8.84, 8.47, 7.04, 5.25, 12.50, 5.56, 7.91, 6.89,
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_is_sample_variance() {
        let d = describe(
            &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],
            PercentileMethod::Linear,
            &[50.0],
        )
        .unwrap();
        assert_eq!(d.mean, 5.0);
        assert!((d.variance - 32.0 / 7.0).abs() < 1e-12);
        assert_eq!(d.percentiles, vec![(50.0, 4.5)]);
        assert!(describe(&[], PercentileMethod::Linear, &[]).is_none());
    }

    #[test]
    fn sums_are_compensated_and_extremes_stay_finite() {
        assert_eq!(stable_sum([1e16, 1.0, -1e16]), 1.0);
        let d = describe(
            &[-1e308, 1e308, 2.0, 4.0],
            PercentileMethod::Linear,
            &[50.0],
        )
        .unwrap();
        assert_eq!((d.mean, d.percentiles[0].1), (1.5, 3.0));
        assert!(d.variance.is_infinite() && d.stddev.is_finite());
        // Squares of 1e-200 underflow to 0 unscaled; scaled, the spread is still seen.
        let tiny = describe(&[1e-200, 3e-200], PercentileMethod::Linear, &[]).unwrap();
        assert!((tiny.stddev / (2f64.sqrt() * 1e-200) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn regression_is_scale_free() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [3e-300, 5e-300, 7e-300, 9e-300];
        let r = regress(&x, &y).unwrap();
        assert!((r.pearson_r - 1.0).abs() < 1e-12, "{}", r.pearson_r);
        assert!((r.slope / 2e-300 - 1.0).abs() < 1e-12);
        let big: Vec<f64> = x.iter().map(|v| v * 1e307).collect();
        let r = regress(&big, &[1.0, 0.0, -1.0, -2.0]).unwrap();
        assert!((r.pearson_r + 1.0).abs() < 1e-12 && r.slope.is_finite());
    }

    #[test]
    fn exact_line_has_r_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [3.0, 5.0, 7.0, 9.0];
        let r = regress(&x, &y).unwrap();
        assert!((r.slope - 2.0).abs() < 1e-12 && (r.intercept - 1.0).abs() < 1e-12);
        assert!((r.pearson_r - 1.0).abs() < 1e-12);
        assert!(regress(&[1.0, 1.0], &[2.0, 3.0]).is_none());
    }
}

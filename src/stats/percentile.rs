//! Exact percentiles from every sample.
//!
//! Both definitions reproduce numpy 2.x bit for bit (checked against `np.percentile` in
//! `tests/stats_percentiles.rs`): the same float operations in the same order, so that a user
//! comparing our table with a notebook sees the same digits.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// The percentiles every latency table shows.
pub const STANDARD_PERCENTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 99.99];

/// How a percentile is read off the sorted samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum PercentileMethod {
    /// The smallest sample with at least p% of samples at or below it
    /// (numpy `method='inverted_cdf'`); always an observed value.
    #[default]
    NearestRank,
    /// Linear interpolation between closest ranks, position (n−1)·p (numpy's default).
    Linear,
}

impl PercentileMethod {
    /// The name used on the command line and in JSON (`nearest-rank`, `linear`).
    pub fn name(self) -> &'static str {
        match self {
            PercentileMethod::NearestRank => "nearest-rank",
            PercentileMethod::Linear => "linear",
        }
    }

    /// One line for people: which definition a table uses.
    pub fn describe(self) -> &'static str {
        match self {
            PercentileMethod::NearestRank => {
                "nearest-rank (smallest sample with at least p% of samples at or below it; \
                 numpy method='inverted_cdf'; always an observed value)"
            }
            PercentileMethod::Linear => {
                "linear interpolation at position (n-1)*p (numpy's default method='linear', \
                 Hyndman-Fan type 7; may be a value never observed)"
            }
        }
    }
}

/// Where percentile `p` falls in `n` sorted samples: the two neighbouring indices and the
/// interpolation weight of the upper one. Mirrors numpy's `_quantile` so that rounding agrees.
fn numpy_position(n: usize, p: f64, method: PercentileMethod) -> (usize, usize, f64) {
    debug_assert!(n > 0);
    let q = p / 100.0;
    let last = n - 1;
    match method {
        PercentileMethod::NearestRank => {
            // The rank ⌈p·n/100⌉ computed exactly: in floating point, p99.9 of 1000 samples
            // gives 999.0000000000001 and lands one rank too high (numpy does this).
            let index = nearest_rank(n, p).saturating_sub(1).min(last);
            let _ = q;
            (index, index, 0.0)
        }
        PercentileMethod::Linear => {
            let index = (n - 1) as f64 * q;
            if index >= last as f64 {
                return (last, last, 0.0);
            }
            if index < 0.0 {
                return (0, 0, 0.0);
            }
            let below = index.floor();
            (below as usize, below as usize + 1, index - below)
        }
    }
}

/// The 1-based nearest rank ⌈p·n/100⌉ (at least 1), exact for any p written with up to 12
/// decimals: p is read back as the shortest decimal that prints it ("99.9" -> 999/10).
pub fn nearest_rank(n: usize, p: f64) -> usize {
    let p = p.clamp(0.0, 100.0);
    let text = format!("{p}");
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = &frac[..frac.len().min(12)];
    let scale = 10u128.pow(frac.len() as u32);
    let mantissa: u128 = format!("{whole}{frac}").parse().unwrap_or(0);
    let numerator = mantissa * n as u128;
    let denominator = 100 * scale;
    let rank = numerator.div_ceil(denominator);
    (rank as usize).clamp(1, n.max(1))
}

/// numpy's `_lerp`: from the nearer end, so that t = 1 returns `b` exactly.
fn numpy_lerp(a: f64, diff: f64, b: f64, t: f64) -> f64 {
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Percentile `p` (0..=100) of samples sorted ascending. NaN for an empty slice.
pub fn percentile(sorted: &[i64], p: f64, method: PercentileMethod) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let (lo, hi, t) = numpy_position(sorted.len(), p.clamp(0.0, 100.0), method);
    if lo == hi {
        return sorted[lo] as f64;
    }
    // numpy subtracts in int64 first, then promotes to float64.
    let diff = sorted[hi].wrapping_sub(sorted[lo]) as f64;
    numpy_lerp(sorted[lo] as f64, diff, sorted[hi] as f64, t)
}

/// Percentile `p` (0..=100) of floating-point samples sorted ascending. NaN for an empty slice.
pub fn percentile_f64(sorted: &[f64], p: f64, method: PercentileMethod) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let (lo, hi, t) = numpy_position(sorted.len(), p.clamp(0.0, 100.0), method);
    if lo == hi {
        return sorted[lo];
    }
    let (a, b) = (sorted[lo], sorted[hi]);
    let value = numpy_lerp(a, b - a, b, t);
    if value.is_finite() || !(a.is_finite() && b.is_finite()) {
        return value;
    }
    // b − a overflowed (±1.8e308 apart), where numpy gives ±inf: weigh the ends instead,
    // which cannot overflow between two finite values.
    a * (1.0 - t) + b * t
}

/// A percentile as a JSON key or column title: `50`, `99.9`, `99.99` (no trailing zeros).
pub fn percentile_label(p: f64) -> String {
    // Rust's shortest round-trip float formatting already drops trailing zeros.
    format!("{p}")
}

/// Count, extremes, moments and chosen percentiles of a set of latencies (ns).
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub min: i64,
    pub max: i64,
    /// Exact mean (the sum is accumulated in i128).
    pub mean: f64,
    /// Sample standard deviation (divisor n−1); 0 for a single sample.
    pub stddev: f64,
    pub method: PercentileMethod,
    /// (percentile in 0..=100, value in ns) in the order requested.
    pub percentiles: Vec<(f64, f64)>,
}

impl LatencySummary {
    /// The value at percentile `p`, if it was requested.
    pub fn at(&self, p: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, v)| *v)
    }

    /// The `latency --json` shape (see [`Serialize`] impl).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a summary always serializes")
    }
}

/// A number as JSON: whole values as integers (nearest-rank percentiles are observed ns),
/// the rest as floats; non-finite as null.
fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// `{"count":N,"min":..,"max":..,"mean":..,"stddev":..,"method":"nearest-rank",
///   "percentiles":{"50":..,"90":..,"99.9":..}}` with percentiles in the requested order.
impl Serialize for LatencySummary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Percentiles<'a>(&'a [(f64, f64)]);
        impl Serialize for Percentiles<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (p, v) in self.0 {
                    map.serialize_entry(&percentile_label(*p), &json_number(*v))?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("count", &self.count)?;
        map.serialize_entry("min", &self.min)?;
        map.serialize_entry("max", &self.max)?;
        map.serialize_entry("mean", &json_number(self.mean))?;
        map.serialize_entry("stddev", &json_number(self.stddev))?;
        map.serialize_entry("method", self.method.name())?;
        map.serialize_entry("percentiles", &Percentiles(&self.percentiles))?;
        map.end()
    }
}

/// Sorts `samples` in place and summarizes them exactly. `None` when there are no samples.
pub fn summarize(
    samples: &mut [i64],
    method: PercentileMethod,
    percentiles: &[f64],
) -> Option<LatencySummary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    Some(summarize_sorted(samples, method, percentiles))
}

/// As [`summarize`] for samples already sorted ascending (panics if empty).
pub fn summarize_sorted(
    sorted: &[i64],
    method: PercentileMethod,
    percentiles: &[f64],
) -> LatencySummary {
    assert!(!sorted.is_empty(), "summarize_sorted needs samples");
    let n = sorted.len();
    let sum: i128 = sorted.iter().map(|&v| v as i128).sum();
    let mean = sum as f64 / n as f64;
    // Two passes: deviations from the mean keep precision for large, tightly spread values.
    let stddev = if n > 1 {
        let ss: f64 = sorted
            .iter()
            .map(|&v| {
                let d = v as f64 - mean;
                d * d
            })
            .sum();
        (ss / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    LatencySummary {
        count: n as u64,
        min: sorted[0],
        max: sorted[n - 1],
        mean,
        stddev,
        method,
        percentiles: percentiles
            .iter()
            .map(|&p| (p, percentile(sorted, p, method)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_example_from_numpy_docs() {
        // [1..9, 100]: p90 linear 18.1, nearest-rank 9; p99 linear 91.81.
        let x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100];
        assert!((percentile(&x, 90.0, PercentileMethod::Linear) - 18.1).abs() < 1e-12);
        assert_eq!(percentile(&x, 90.0, PercentileMethod::NearestRank), 9.0);
        assert!((percentile(&x, 99.0, PercentileMethod::Linear) - 91.81).abs() < 1e-9);
        assert_eq!(percentile(&x, 99.0, PercentileMethod::NearestRank), 100.0);
        assert_eq!(percentile(&x, 0.0, PercentileMethod::NearestRank), 1.0);
        assert_eq!(percentile(&x, 100.0, PercentileMethod::Linear), 100.0);
    }

    #[test]
    fn summary_json_shape() {
        let mut v = vec![5, 1, 3, 2, 4];
        let s = summarize(&mut v, PercentileMethod::NearestRank, &STANDARD_PERCENTILES).unwrap();
        assert_eq!(s.count, 5);
        assert_eq!((s.min, s.max), (1, 5));
        assert_eq!(s.mean, 3.0);
        assert!((s.stddev - 2.5f64.sqrt()).abs() < 1e-12);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"count":5,"min":1,"max":5,"mean":3,"stddev":1.5811388300841898,"method":"nearest-rank","percentiles":{"50":3,"90":5,"95":5,"99":5,"99.9":5,"99.99":5}}"#
        );
        assert!(summarize(&mut [], PercentileMethod::Linear, &[50.0]).is_none());
    }

    #[test]
    fn labels_have_no_trailing_zeros() {
        assert_eq!(percentile_label(50.0), "50");
        assert_eq!(percentile_label(99.9), "99.9");
        assert_eq!(percentile_label(99.99), "99.99");
    }
}

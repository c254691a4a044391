//! Exact percentiles from every sample.

/// The percentiles every latency table shows.
pub const STANDARD_PERCENTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 99.99];

/// How a percentile is read off the sorted samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PercentileMethod {
    /// The smallest sample with at least p% of samples at or below it
    /// (numpy `method='inverted_cdf'`); always an observed value.
    #[default]
    NearestRank,
    /// Linear interpolation between closest ranks, position (n−1)·p (numpy's default).
    Linear,
}

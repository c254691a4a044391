//! Presenting results: plots (SVG/PNG), terminal views and the self-contained HTML report.

pub mod explorer;
pub mod html;
pub mod json;
pub mod page;
pub mod plot;
pub mod raster;
pub mod terminal;

/// Whether `n` samples are too few for percentile `p` (in %): n < 1/(1−p). p99 needs 100
/// samples, p99.99 needs 10,000; with fewer, the "percentile" is just the largest few samples
/// and every view prints "(n too small)" instead.
pub fn n_too_small(n: u64, p: f64) -> bool {
    p < 100.0 && (n as f64) < 1.0 / (1.0 - p / 100.0) - 1e-9
}

/// How tables print a percentile `n` samples cannot support.
pub const N_TOO_SMALL: &str = "(n too small)";

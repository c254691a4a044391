//! Statistics: exact percentiles (definition stated and selectable), descriptive statistics
//! and regression for any numeric data, and mergeable HdrHistogram summaries.

pub mod describe;
pub mod hdr;
pub mod intervals;
pub mod percentile;

pub use percentile::{
    percentile, summarize, LatencySummary, PercentileMethod, STANDARD_PERCENTILES,
};

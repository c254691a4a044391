//! One module per subcommand: its arguments (`Args`) and `run`.

pub mod common;
pub mod dns;
pub mod export;
pub mod http;
pub mod latency;
pub mod limits;
pub mod merge;
pub mod plot;
pub mod progress;
pub mod report;
pub mod sessions;
pub mod stats;
pub mod summary;
pub mod synth;
pub mod tcp;

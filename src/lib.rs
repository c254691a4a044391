//! tracetail turns a packet capture into a correct, visual answer about latency.
//!
//! The modules follow the data as it flows through one pass over a capture:
//!
//! ```text
//! capture   bytes on disk (pcap, pcapng, gzip, zstd, stdin) -> timestamped frames
//!   decode  frame bytes -> link / network / transport headers (zero-copy views)
//!   flows   decoded packets -> protocol counts, conversations, Scapy session keys
//!   analyzers  TCP reassembly -> HTTP and DNS transactions with nanosecond timestamps
//!   stats   latency samples -> exact percentiles, HdrHistograms, regression
//!   report  statistics -> plots (SVG/PNG), terminal tables, a self-contained HTML report
//! ```
//!
//! `pipeline` wires these together for the command-line tool; `synth` writes synthetic
//! captures with a ground truth so that every stage can be checked to the nanosecond.

pub mod analyzers;
pub mod capture;
pub mod columns;
pub mod decode;
#[cfg(feature = "arrow")]
pub mod export;
pub mod flows;
pub mod pipeline;
pub mod report;
pub mod samples;
pub mod stats;
pub mod synth;
pub mod units;

//! `tracetail synth`: write a synthetic HTTP/DNS capture and its ground truth.

use super::limits::{self, parse_size};
use anyhow::Context;
use clap::ValueEnum;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tracetail::synth::hostile::{write_hostile, HostileKind};
use tracetail::synth::latency::LatencyModel;
use tracetail::synth::traffic::TrafficMix;
use tracetail::synth::{generate, OutputFormat, SynthConfig, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LatencyKind {
    /// Always --latency-ms.
    Constant,
    /// Pareto type I: xm * U^(-1/a) = (numpy.random.pareto(a) + 1) * xm, with
    /// a = --pareto-shape and xm = --pareto-xm-ms. Mean a*xm/(a-1), median xm*2^(1/a).
    Pareto,
    /// exp(mu + sigma*N(0,1)) ms with --lognormal-mu and --lognormal-sigma (parameters of
    /// the underlying normal of the value in ms). Median exp(mu) ms.
    Lognormal,
}

/// Writes a capture of overlapping keep-alive HTTP/1.1 connections (IPv4 and IPv6, ports 80,
/// 8080, 8000, 3000, 9090; pipelining, chunked bodies, header splits, lost/duplicated/
/// reordered segments) and DNS lookups, plus CSV ground truth of every transaction's
/// timestamps. Server latency (response first byte − request last byte, as captured at the
/// server) follows --latency. The output is pcapng when the name ends in .pcapng (or
/// .pcapng.gz), pcap otherwise; a .gz suffix compresses it with gzip.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Traffic: overlapping keep-alive HTTP/1.1 connections (IPv4 10.x and IPv6 clients; server ports 80, 8080, \
8000, 3000, 9090), pipelining, chunked bodies with trailers, small header splits, lost, duplicated and \
reordered segments, FIN close; DNS A/AAAA lookups over UDP (some unanswered). The tap is next to the \
servers, so response_first - request_last is exactly the drawn server latency (for requests that are not \
pipelined behind a slower response).
Output: pcapng if the name ends in .pcapng[.gz], else pcap (ns magic unless --microsecond); .gz = gzip.
Truth CSV, one row per transaction in request_first order: connection_index, client_ip, client_port, \
server_ip, server_port, method, host, uri, status, request_bytes, response_bytes, request_first_ns, \
request_last_ns, response_first_ns, response_last_ns, pipelined, chunked, retransmitted, reordered, depth, \
flow_index, drawn_latency_ns. *_first_ns = capture time of the earliest packet carrying a byte of the \
message; *_last_ns = capture time of the packet after which all its bytes had been seen.")]
pub struct Args {
    /// Output capture file.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Number of HTTP transactions to write (default 10000 unless --bytes is given; 1 to
    /// 1000000000).
    #[arg(long, conflicts_with = "bytes", value_parser = limits::int::<u64>(1, 1_000_000_000))]
    pub requests: Option<u64>,
    /// Approximate capture size instead: e.g. 500M, 1G (K/M/G/T = powers of 1024;
    /// KB/MB/GB/TB = powers of 1000; 1 to 1000000000000000 bytes). Connections in flight
    /// still finish.
    #[arg(long, value_parser = parse_size)]
    pub bytes: Option<u64>,
    /// Random seed (any number from 0 to 18446744073709551615); the same seed and options give
    /// the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Server latency distribution.
    #[arg(long, value_enum, default_value_t = LatencyKind::Lognormal)]
    pub latency: LatencyKind,
    /// Latency of --latency constant, in ms (0 to 3600000).
    #[arg(long, default_value_t = 20.0, value_parser = limits::float(0.0, 3_600_000.0))]
    pub latency_ms: f64,
    /// Shape a of --latency pareto (0.01 to 100).
    #[arg(long, default_value_t = 2.5, value_parser = limits::float(0.01, 100.0))]
    pub pareto_shape: f64,
    /// Scale (minimum) xm of --latency pareto, in ms (0.001 to 3600000).
    #[arg(long, default_value_t = 10.0, value_parser = limits::float(0.001, 3_600_000.0))]
    pub pareto_xm_ms: f64,
    /// mu of --latency lognormal (ln of the median in ms; 3.0 ≈ 20 ms; -10 to 15).
    #[arg(long, default_value_t = 3.0, allow_negative_numbers = true,
          value_parser = limits::float(-10.0, 15.0))]
    pub lognormal_mu: f64,
    /// sigma of --latency lognormal (0 to 5).
    #[arg(long, default_value_t = 0.8, value_parser = limits::float(0.0, 5.0))]
    pub lognormal_sigma: f64,
    /// Traffic mix (kept in a box: the subcommand enum stays small).
    #[command(flatten)]
    pub traffic: Box<TrafficArgs>,
    /// Capture start, Unix seconds (0 to 4000000000: classic pcap stores 32-bit seconds).
    #[arg(long, default_value_t = 1_700_000_000,
          value_parser = limits::int::<i64>(0, 4_000_000_000))]
    pub start: i64,
    /// Write classic pcap with microsecond timestamps (the default is the nanosecond magic).
    /// All timestamps, and so the truth, are then whole microseconds.
    #[arg(long)]
    pub microsecond: bool,
    /// pcapng if_tsresol (a power of ten, 0 to 9); only for .pcapng output.
    #[arg(long, default_value_t = 9, value_parser = limits::int::<u8>(0, 9))]
    pub tsresol: u8,
    /// HTTP ground truth CSV [default: <output>.truth.csv].
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// DNS ground truth CSV [default: <output>.dns.truth.csv].
    #[arg(long)]
    pub dns_truth: Option<PathBuf>,
    /// Write a hostile trace instead (no truth files): a SYN flood, requests never answered,
    /// out-of-order floods... sized by --count and --per (see the README's "Bad input").
    #[arg(long, value_enum)]
    pub hostile: Option<HostileKind>,
    /// --hostile: connections (or queries) in the trace (1 to 100000000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub count: u64,
    /// --hostile: segments or requests per connection (bytes of the header for
    /// byte-by-byte-header; 1 to 1000000000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub per: u64,
}

/// Hosts and the probabilities of each feature of the traffic.
#[derive(clap::Args, Debug)]
pub struct TrafficArgs {
    /// Connections open at the same time (1 to 100000).
    #[arg(long, default_value_t = 64, value_parser = limits::int::<usize>(1, 100_000))]
    pub concurrency: usize,
    /// Number of client hosts (1 to 1000000).
    #[arg(long, default_value_t = 400, value_parser = limits::int::<usize>(1, 1_000_000))]
    pub clients: usize,
    /// Number of server hosts (2 to 100000).
    #[arg(long, default_value_t = 24, value_parser = limits::int::<usize>(2, 100_000))]
    pub servers: usize,
    /// Share of clients and servers on IPv6 (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = limits::probability())]
    pub ipv6_fraction: f64,
    /// Most requests per keep-alive connection (1 to 100000).
    #[arg(long, default_value_t = 8, value_parser = limits::int::<u32>(1, 100_000))]
    pub max_requests_per_connection: u32,
    /// Chance that a group of 2-4 requests is pipelined (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = limits::probability())]
    pub pipeline_prob: f64,
    /// Chance per data segment of a duplicate (spurious) retransmission (0 to 1).
    #[arg(long, default_value_t = 0.01, value_parser = limits::probability())]
    pub retransmit_prob: f64,
    /// Chance per client data segment that the original is lost (only the retransmission is captured) (0 to 1).
    #[arg(long, default_value_t = 0.005, value_parser = limits::probability())]
    pub loss_prob: f64,
    /// Chance per burst of segments that two neighbours are swapped (0 to 1).
    #[arg(long, default_value_t = 0.02, value_parser = limits::probability())]
    pub reorder_prob: f64,
    /// Chance that a connection is preceded by a DNS lookup (0 to 1).
    #[arg(long, default_value_t = 0.3, value_parser = limits::probability())]
    pub dns_prob: f64,
    /// Chance that a DNS lookup gets no answer (0 to 1).
    #[arg(long, default_value_t = 0.03, value_parser = limits::probability())]
    pub dns_unanswered_prob: f64,
    /// Chance that a message head is cut into small segments (0 to 1).
    #[arg(long, default_value_t = 0.1, value_parser = limits::probability())]
    pub header_split_prob: f64,
    /// Multiplies all body sizes (median response body ~3 KB at 1.0; 0.01 makes tiny bodies;
    /// 0 to 1000).
    #[arg(long, default_value_t = 1.0, value_parser = limits::float(0.0, 1000.0))]
    pub body_scale: f64,
    /// Chance that a response body uses chunked encoding (0 to 1).
    #[arg(long, default_value_t = 0.2, value_parser = limits::probability())]
    pub chunked_prob: f64,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(kind) = args.hostile {
        let file = std::fs::File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        write_hostile(kind, args.count, args.per, std::io::BufWriter::new(file))
            .and_then(|mut w| w.flush())
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let latency = match args.latency {
        LatencyKind::Constant => LatencyModel::Constant {
            ms: args.latency_ms,
        },
        LatencyKind::Pareto => LatencyModel::Pareto {
            shape: args.pareto_shape,
            xm_ms: args.pareto_xm_ms,
        },
        LatencyKind::Lognormal => LatencyModel::LogNormal {
            mu: args.lognormal_mu,
            sigma: args.lognormal_sigma,
        },
    };
    latency.validate().map_err(anyhow::Error::msg)?;
    let name = args.output.to_string_lossy().to_ascii_lowercase();
    let gzip = name.ends_with(".gz");
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let format = if base.ends_with(".pcapng") {
        OutputFormat::PcapNg {
            tsresol: args.tsresol,
        }
    } else {
        OutputFormat::Pcap {
            nanosecond: !args.microsecond,
        }
    };
    let target = match (args.requests, args.bytes) {
        (Some(n), _) => Target::Requests(n),
        (None, Some(b)) => Target::Bytes(b),
        (None, None) => Target::Requests(10_000),
    };
    let config = SynthConfig {
        seed: args.seed,
        target,
        latency,
        mix: TrafficMix {
            pipeline_prob: args.traffic.pipeline_prob,
            duplicate_prob: args.traffic.retransmit_prob,
            loss_prob: args.traffic.loss_prob,
            reorder_prob: args.traffic.reorder_prob,
            dns_prob: args.traffic.dns_prob,
            dns_unanswered_prob: args.traffic.dns_unanswered_prob,
            header_split_prob: args.traffic.header_split_prob,
            chunked_prob: args.traffic.chunked_prob,
            max_requests_per_connection: args.traffic.max_requests_per_connection.max(1),
            body_scale: args.traffic.body_scale,
        },
        concurrency: args.traffic.concurrency.max(1),
        clients: args.traffic.clients.max(1),
        servers: args.traffic.servers.max(2),
        ipv6_fraction: args.traffic.ipv6_fraction,
        start_ns: args
            .start
            .checked_mul(1_000_000_000)
            .filter(|&ns| ns >= 0)
            .context("--start out of range")?,
        format,
    };
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| with_suffix(&args.output, ".truth.csv"));
    let dns_truth_path = args
        .dns_truth
        .clone()
        .unwrap_or_else(|| with_suffix(&args.output, ".dns.truth.csv"));
    let create = |path: &Path| -> anyhow::Result<BufWriter<File>> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let capture_file = create(&args.output)?;
    let capture: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            capture_file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(capture_file)
    };
    let started = Instant::now();
    let (summary, capture) = generate(
        &config,
        capture,
        create(&truth_path)?,
        create(&dns_truth_path)?,
    )
    .with_context(|| format!("writing {}", args.output.display()))?;
    drop(capture); // flushes the gzip trailer and the file
    let seconds = started.elapsed().as_secs_f64();
    let mut out = super::common::stdout();
    writeln!(
        out,
        "wrote {} packets, {} bytes ({:.1} MB/s) in {:.2} s",
        summary.packets,
        summary.capture_bytes,
        summary.capture_bytes as f64 / 1e6 / seconds.max(1e-9),
        seconds
    )?;
    writeln!(
        out,
        "{} HTTP transactions on {} TCP connections; {} DNS queries ({} unanswered); latency {}",
        summary.http_transactions,
        summary.tcp_connections,
        summary.dns_queries,
        summary.dns_unanswered,
        config.latency
    )?;
    writeln!(
        out,
        "capture time {} .. {}",
        tracetail::units::epoch_ns_to_string(summary.first_ns),
        tracetail::units::epoch_ns_to_string(summary.last_ns)
    )?;
    writeln!(out, "capture:   {}", args.output.display())?;
    writeln!(out, "truth:     {}", truth_path.display())?;
    writeln!(out, "dns truth: {}", dns_truth_path.display())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("0").is_err());
    }
}

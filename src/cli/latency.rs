//! `tracetail latency`: exact percentile table of a latency metric, overall and per group.

use super::common::{self, Inputs};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tracetail::pipeline::{PassOptions, RowEncoder};
use tracetail::report::{json, terminal};
use tracetail::samples::{GroupBy, Metric, Protocol, SampleSet};
use tracetail::stats::hdr;
use tracetail::stats::PercentileMethod;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    #[command(flatten)]
    select: Selection,
    /// One JSON object: `count` and `percentiles` (ns, keys "50" … "99.99") overall, the same
    /// under `overall`, and per group under `groups`.
    #[arg(long)]
    json: bool,
    /// Print the HdrHistogram percentile distribution (the format wrk2 and HdrHistogram print).
    #[arg(long)]
    hdr: bool,
    /// Also write the HdrHistogram of all samples (V2 compressed, base64) for `tracetail merge`.
    #[arg(long, value_name = "FILE.hdr")]
    save_hdr: Option<PathBuf>,
    /// Show at most this many groups (largest first) in the terminal table (0 to 1000000).
    #[arg(long, default_value_t = 20, value_parser = super::limits::int::<usize>(0, 1_000_000))]
    top: usize,
}

/// Which samples: the metric, the grouping and the percentile definition.
#[derive(clap::Args, Clone)]
pub struct Selection {
    /// Latency metric (see README: ttfb = response first − request first, ...).
    #[arg(long, value_enum, default_value_t = Metric::Ttfb)]
    pub metric: Metric,
    /// Whose transactions: http (default; dns for --metric dns), or tcp for the generic
    /// request/response exchanges of `tracetail tcp`. The request/response metrics apply to
    /// every protocol through its four capture times.
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// Group the samples (`capture`: one group per input file, to compare captures).
    #[arg(long, value_enum)]
    pub by: Option<GroupBy>,
    /// Percentile definition.
    #[arg(long, value_enum, default_value_t = PercentileMethod::NearestRank)]
    pub method: PercentileMethod,
    #[command(flatten)]
    pub analysis: super::common::AnalysisArgs,
}

/// Reads every input once and collects the samples of the chosen metric.
pub fn collect(inputs: &Inputs, select: &Selection) -> anyhow::Result<(SampleSet, common::Run)> {
    let protocol = select
        .protocol
        .unwrap_or(Protocol::default_for(select.metric));
    if select.metric == Metric::Dns && protocol != Protocol::Dns {
        anyhow::bail!("--metric dns is the DNS response time; use it with --protocol dns");
    }
    let mut set = SampleSet::new(select.metric, select.by).with_protocol(protocol);
    let mut analyzer = select.analysis.config()?;
    // DNS over UDP is analysed only for DNS samples.
    analyzer.dns_over_udp = protocol == Protocol::Dns;
    if protocol == Protocol::Tcp {
        analyzer
            .observers
            .push(tracetail::analyzers::tcp::REGISTRATION.name);
    }
    let options = PassOptions {
        flows: select.metric.needs_flows(),
        transactions: !select.metric.needs_flows(),
        select: inputs.selection(),
        analyzer,
        ..Default::default()
    };
    let mut options = inputs.pass(options);
    options.analyzer.tls.rows = select.metric.is_tls();
    // Workers take the samples from the transactions they make; this thread gets ~20 bytes
    // for each (in the same order), not transactions allocated on another thread.
    let sampling = set.sampling();
    let encoder = RowEncoder(Arc::new(move |record, buf| sampling.encode(record, buf)));
    let run = common::run_pass_with_rows(
        &inputs.files,
        &options,
        &|_| Some(encoder.clone()),
        &mut |path, record| {
            if set.by == Some(GroupBy::Capture) {
                set.add_record_from(&path.display().to_string(), &record);
            } else {
                set.add_record(&record);
            }
            Ok(())
        },
    )?;
    Ok((set, run))
}

/// Why there is nothing to show, and which `--metric` or command would show something.
pub fn no_samples_message(set: &SampleSet, run: &common::Run) -> String {
    let (mut http, mut dns, mut dns_unread, mut tcp) = (0, 0, 0, 0);
    for r in &run.reports {
        http += r.analyzer.http_transactions;
        dns += r.analyzer.dns_queries;
        // A pass for other samples reads no DNS over UDP; it counts the datagrams on DNS ports.
        dns_unread += r.analyzer.dns_datagrams_unread;
        tcp += r.counts.tcp;
    }
    let files = run
        .reports
        .iter()
        .map(|r| r.file.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let hint = match set.metric {
        Metric::Dns if http > 0 => format!(
            "the input has {http} HTTP transactions but no answered DNS query: try --metric ttfb"
        ),
        Metric::Handshake if http + dns + dns_unread > 0 => {
            "no complete TCP handshake was captured: try --metric ttfb or --metric dns".into()
        }
        Metric::Handshake => format!("no complete TCP handshake; `tracetail summary {files}` shows what the capture holds"),
        _ if http == 0 && dns > 0 => format!(
            "the input has {dns} DNS queries but no HTTP: try --metric dns"
        ),
        _ if http == 0 && dns_unread > 0 => format!(
            "the input has {} on DNS ports but no HTTP: try --metric dns",
            match dns_unread {
                1 => "1 UDP datagram".to_string(),
                n => format!("{n} UDP datagrams"),
            }
        ),
        _ if set.left_out > 0 && set.by.is_some_and(GroupBy::is_grpc) => format!(
            "no gRPC calls among {} transactions (--by {} groups gRPC calls only): try another --by",
            set.left_out,
            set.by.map_or("", GroupBy::name)
        ),
        _ if set.missing > 0 => format!(
            "{} transactions had no value for it (unanswered or cut): try --metric total or look at `tracetail http {files}`",
            set.missing
        ),
        _ if tcp > 0 => format!(
            "no plain-text HTTP found in {tcp} TCP packets (HTTPS cannot be read; HTTP on an unusual port is found by content): `tracetail sessions {files}` lists the conversations"
        ),
        _ => format!("no HTTP or DNS in the input; `tracetail summary {files}` shows what it holds"),
    };
    format!(
        "no samples of {} in the input\nhint: {hint}",
        set.metric.describe()
    )
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (set, run) = collect(&args.inputs, &args.select)?;
    let method = args.select.method;
    let (overall, groups) = set.summaries(method);
    // All values once, for the histograms below (summaries sorted their own copies).
    let all = set.values(None);
    let mut out = common::stdout();

    if let Some(path) = &args.save_hdr {
        let h = hdr::from_samples(&all);
        hdr::save(&h.histogram, path)?;
        eprintln!(
            "saved HdrHistogram of {} samples to {}",
            h.histogram.len(),
            path.display()
        );
    }

    if args.json {
        let v = json::latency_json(&set, method, overall.as_ref(), &groups);
        common::write_json_line(&mut out, &v)?;
        out.flush()?;
        return Ok(run.exit_code());
    }

    if args.hdr {
        let h = hdr::from_samples(&all);
        eprintln!(
            "{} — HdrHistogram percentile distribution, values in milliseconds (3 significant digits)",
            set.metric.describe()
        );
        write!(
            out,
            "{}",
            hdr::format_percentile_distribution(&h.histogram, 5, hdr::DisplayUnit::Ms)
        )?;
        out.flush()?;
        return Ok(run.exit_code());
    }

    let Some(overall) = overall else {
        if !run.nothing_read() {
            eprintln!("{}", no_samples_message(&set, &run));
        }
        return Ok(run.exit_code());
    };
    if set.protocol == Protocol::Tcp {
        // The metric names describe HTTP; the same definitions apply to any exchange.
        let what = set.metric.describe().trim_start_matches("HTTP ");
        writeln!(out, "TCP request/response exchanges (any protocol): {what}")?;
    } else {
        writeln!(out, "{}", set.metric.describe())?;
    }
    writeln!(out, "percentiles: {}", method.describe())?;
    if set.missing > 0 {
        writeln!(out, "({} transactions without a value for this metric are not counted: unanswered or incomplete)", set.missing)?;
    }
    if set.left_out > 0 {
        writeln!(
            out,
            "({} transactions that are not gRPC calls are left out of --by {})",
            set.left_out,
            set.by.map_or("", GroupBy::name)
        )?;
    }
    writeln!(out)?;
    let mut rows = vec![("all".to_string(), overall)];
    let shown = groups.len().min(args.top);
    rows.extend(groups.iter().take(shown).cloned());
    write!(out, "{}", terminal::latency_table(&rows))?;
    if groups.len() > shown {
        writeln!(
            out,
            "… {} more groups (use --top or --json)",
            groups.len() - shown
        )?;
    }
    writeln!(out)?;
    write!(out, "{}", terminal::unicode_histogram(&all, 12, 50))?;
    out.flush()?;
    Ok(run.exit_code())
}

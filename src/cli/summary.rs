//! `tracetail summary`: packet and byte counts, time span, protocols, undecodable packets.

use super::common::{self, Inputs};
use std::io::Write;
use std::process::ExitCode;
use tracetail::flows::ProtocolCounts;
use tracetail::pipeline::{FileReport, PassOptions};
use tracetail::report::json;
use tracetail::units::{bytes_human, duration_ns_to_human, epoch_ns_to_rfc3339, thousands};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: Inputs,
    /// Print one JSON object (totals at the top level, per-file details under `files`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = PassOptions {
        ..Default::default()
    };
    let options = args.inputs.pass(options);
    let run = common::run_pass(&args.inputs.files, &options, &mut |_, _| Ok(()))?;
    let mut total = ProtocolCounts::default();
    for report in &run.reports {
        total.merge(&report.counts);
    }
    let mut out = common::stdout();
    if args.json {
        common::write_json_line(
            &mut out,
            &json::summary_json(&run.reports, &total, run.failed),
        )?;
    } else {
        for report in &run.reports {
            print_counts(&mut out, &report.file, Some(report), &report.counts)?;
        }
        if run.reports.len() > 1 {
            print_counts(&mut out, "total", None, &total)?;
        }
    }
    out.flush()?;
    Ok(run.exit_code())
}

fn print_counts(
    out: &mut impl Write,
    title: &str,
    report: Option<&FileReport>,
    c: &ProtocolCounts,
) -> std::io::Result<()> {
    writeln!(out, "{title}")?;
    if let Some(r) = report {
        let format = match r.format {
            Some(tracetail::capture::CaptureFormat::Pcap {
                big_endian,
                nanosecond,
            }) => {
                format!(
                    "pcap, {}-endian, {}",
                    if big_endian { "big" } else { "little" },
                    if nanosecond { "ns" } else { "µs" }
                )
            }
            Some(tracetail::capture::CaptureFormat::PcapNg) => "pcapng".to_string(),
            None => "?".into(),
        };
        let compression = match r.compression {
            Some(tracetail::capture::Compression::Gzip) => ", gzip",
            Some(tracetail::capture::Compression::Zstd) => ", zstd",
            _ => "",
        };
        writeln!(out, "  format       {format}{compression}")?;
    }
    let link_types: Vec<String> = c
        .link_types
        .iter()
        .map(|(k, v)| format!("{k} ×{}", thousands(*v)))
        .collect();
    writeln!(
        out,
        "  link types   {}",
        if link_types.is_empty() {
            "-".into()
        } else {
            link_types.join(", ")
        }
    )?;
    writeln!(
        out,
        "  packets      {}   captured {}   on the wire {}",
        thousands(c.packets),
        bytes_human(c.captured_bytes),
        bytes_human(c.wire_bytes)
    )?;
    if let (Some(first), Some(last)) = (c.first_ns, c.last_ns) {
        writeln!(out, "  first        {}", epoch_ns_to_rfc3339(first))?;
        writeln!(out, "  last         {}", epoch_ns_to_rfc3339(last))?;
        writeln!(
            out,
            "  duration     {}",
            duration_ns_to_human((last - first) as f64)
        )?;
    }
    writeln!(
        out,
        "  protocols    TCP {}  UDP {}  ICMP {}  ICMPv6 {}  ARP {}  other IP {}  non-IP {}",
        thousands(c.tcp),
        thousands(c.udp),
        thousands(c.icmp),
        thousands(c.icmpv6),
        thousands(c.arp),
        thousands(c.other_ip),
        thousands(c.non_ip)
    )?;
    writeln!(
        out,
        "  IP           IPv4 {}  IPv6 {}  fragments {}",
        thousands(c.ipv4),
        thousands(c.ipv6),
        thousands(c.ip_fragments)
    )?;
    let bad: u64 = c.undecodable.values().sum();
    if bad > 0 {
        let reasons: Vec<String> = c
            .undecodable
            .iter()
            .map(|(k, v)| format!("{k}: {}", thousands(*v)))
            .collect();
        writeln!(
            out,
            "  undecodable  {} ({})",
            thousands(bad),
            reasons.join(", ")
        )?;
    } else {
        writeln!(out, "  undecodable  0")?;
    }
    if !c.hierarchy.is_empty() {
        writeln!(out, "  protocol hierarchy (frames, bytes):")?;
        for (path, (frames, bytes)) in &c.hierarchy {
            let depth = path.matches(':').count();
            let name = path.rsplit(':').next().unwrap_or(path);
            let label = format!("{}{}", "  ".repeat(depth), name);
            writeln!(
                out,
                "    {label:<28} {:>12}  {:>12}",
                thousands(*frames),
                thousands(*bytes)
            )?;
        }
    }
    writeln!(out)
}

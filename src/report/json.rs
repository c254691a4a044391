//! The JSON documents of `summary --json` and `latency --json`, built once for every front end
//! (the CLI prints them, the Python binding returns them as dicts).

use crate::capture::{CaptureFormat, Compression};
use crate::flows::counts::IntervalCounts;
use crate::flows::ProtocolCounts;
use crate::pipeline::FileReport;
use crate::samples::SampleSet;
use crate::stats::percentile::LatencySummary;
use crate::stats::PercentileMethod;
use crate::units::Resolution;
use serde_json::{json, Value};

/// Above this many intervals, empty ones between busy ones are left out of the table.
pub const MAX_FILLED_INTERVALS: i64 = 100_000;

/// The intervals in time order, with empty ones in between when there are not too many.
pub fn interval_rows(c: &ProtocolCounts) -> Vec<(i64, IntervalCounts)> {
    let (Some(width), Some(first), Some(last)) = (
        c.interval_ns,
        c.intervals.keys().next(),
        c.intervals.keys().next_back(),
    ) else {
        return Vec::new();
    };
    if (last - first) / width >= MAX_FILLED_INTERVALS {
        return c.intervals.iter().map(|(k, v)| (*k, *v)).collect();
    }
    (0..=(last - first) / width)
        .map(|i| {
            let start = first + i * width;
            (start, c.intervals.get(&start).copied().unwrap_or_default())
        })
        .collect()
}

fn intervals_json(c: &ProtocolCounts) -> Value {
    json!(interval_rows(c)
        .into_iter()
        .map(|(start, b)| json!({
            "start_ns": start,
            "packets": b.packets,
            "bytes": b.bytes,
            "tcp": b.tcp,
            "udp": b.udp,
            "requests": b.requests,
            "responses": b.responses,
        }))
        .collect::<Vec<_>>())
}

/// A capture longer than this is suspicious (a clock that jumped, files glued together).
const SUSPICIOUS_SPAN_NS: i64 = 365 * 86_400 * 1_000_000_000;

/// Warnings about the capture's clock: packets dated before the packet preceding them, and
/// a span of more than a year, each saying where.
pub fn time_anomalies(report: &FileReport) -> Vec<String> {
    let c = &report.counts;
    let style = Resolution {
        digits: report.timestamp_digits.unwrap_or(9),
    };
    let mut warnings = Vec::new();
    if let Some(step) = c.first_backwards {
        warnings.push(format!(
            "time goes backwards {} time(s); first at packet {} ({}), {} before packet {} ({}); \
             durations across such a step are wrong: sort the capture (e.g. reordercap) or \
             check the capturing clock",
            c.backwards,
            step.packet,
            style.iso(step.ns),
            style.duration((step.previous_ns - step.ns) as f64),
            step.packet - 1,
            style.iso(step.previous_ns),
        ));
    }
    if c.duration_ns() > SUSPICIOUS_SPAN_NS {
        let years = c.duration_ns() as f64 / (365.25 * 86_400e9);
        let mut text = format!(
            "packets span {years:.1} years ({} to {})",
            c.first_ns.map(|t| style.iso(t)).unwrap_or_default(),
            c.last_ns.map(|t| style.iso(t)).unwrap_or_default(),
        );
        if let Some(gap) = c.longest_gap {
            text.push_str(&format!(
                "; the longest jump is {} between packet {} ({}) and packet {} ({})",
                style.duration((gap.ns - gap.previous_ns) as f64),
                gap.packet - 1,
                style.iso(gap.previous_ns),
                gap.packet,
                style.iso(gap.ns),
            ));
        }
        text.push_str("; check the capture's clock, or narrow the analysis with --start/--end");
        warnings.push(text);
    }
    warnings
}

/// Stable lower-case names of the file format (see README "summary --json").
fn format_fields(r: &FileReport) -> Value {
    let format = match r.format {
        Some(CaptureFormat::Pcap { .. }) => Some("pcap"),
        Some(CaptureFormat::PcapNg) => Some("pcapng"),
        None => None,
    };
    let resolution = r.timestamp_digits.map(|d| match d {
        9 => "ns".to_string(),
        6 => "us".to_string(),
        3 => "ms".to_string(),
        0 => "s".to_string(),
        d => format!("1e-{d}s"),
    });
    let compression = r.compression.map(|c| match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    });
    json!({
        "format": format,
        "byte_order": if r.big_endian { "big" } else { "little" },
        "resolution": resolution,
        "timestamp_digits": r.timestamp_digits,
        "compression": compression,
    })
}

/// Counts of one capture (or the total of several), as `summary --json` writes them.
pub fn counts_json(c: &ProtocolCounts) -> Value {
    json!({
        "packets": c.packets,
        "captured_bytes": c.captured_bytes,
        "wire_bytes": c.wire_bytes,
        "first_ns": c.first_ns,
        "last_ns": c.last_ns,
        "duration_ns": c.duration_ns(),
        "tcp": c.tcp,
        "udp": c.udp,
        "icmp": c.icmp,
        "icmpv6": c.icmpv6,
        "arp": c.arp,
        "other_ip": c.other_ip,
        "non_ip": c.non_ip,
        "ipv4": c.ipv4,
        "ipv6": c.ipv6,
        "ip_fragments": c.ip_fragments,
        "link_types": c.link_types,
        "undecodable": c.undecodable.values().sum::<u64>(),
        "undecodable_reasons": c.undecodable,
        "protocol_hierarchy": c.hierarchy.iter().map(|(path, (frames, bytes))| json!({"path": path, "frames": frames, "bytes": bytes})).collect::<Vec<_>>(),
        "filtered_out": c.filtered_out,
        "time_backwards": c.backwards,
        "interval_ns": c.interval_ns,
        "intervals": intervals_json(c),
    })
}

/// `summary --json`: totals at the top level, per-file details under `files`.
pub fn summary_json(reports: &[FileReport], total: &ProtocolCounts, failed: usize) -> Value {
    let mut top = counts_json(total);
    let files: Vec<Value> = reports
        .iter()
        .map(|r| {
            let mut v = counts_json(&r.counts);
            v["file"] = json!(r.file);
            if let (Some(v), Value::Object(fields)) = (v.as_object_mut(), format_fields(r)) {
                v.extend(fields);
            }
            let mut warnings = r.warnings.clone();
            warnings.extend(time_anomalies(r));
            v["warnings"] = json!(warnings);
            v
        })
        .collect();
    top["files"] = json!(files);
    top["unreadable_files"] = json!(failed);
    top
}

/// `latency --json`: `count` and `percentiles` overall (also under `overall`), the metric and
/// method with their definitions, and per group under `groups` when grouped. `overall` and
/// `groups` are [`SampleSet::summaries`] of `set`.
pub fn latency_json(
    set: &SampleSet,
    method: PercentileMethod,
    overall: Option<&LatencySummary>,
    groups: &[(String, LatencySummary)],
) -> Value {
    let empty = || json!({"count": 0, "percentiles": {}});
    let mut v = overall.map(|s| s.to_json()).unwrap_or_else(empty);
    v["metric"] = json!(set.metric.name());
    v["definition"] = json!(set.metric.describe());
    v["method"] = json!(method.name());
    v["method_definition"] = json!(method.describe());
    v["overall"] = overall.map(|s| s.to_json()).unwrap_or_else(empty);
    v["missing"] = json!(set.missing);
    if let Some(by) = set.by {
        v["by"] = json!(by.name());
        if by.is_grpc() {
            v["left_out"] = json!(set.left_out);
        }
        let g: serde_json::Map<String, Value> = groups
            .iter()
            .map(|(name, s)| (name.clone(), s.to_json()))
            .collect();
        v["groups"] = Value::Object(g);
    }
    v
}

//! The JSON documents of `summary --json` and `latency --json`, built once for every front end
//! (the CLI prints them, the Python binding returns them as dicts).

use crate::flows::ProtocolCounts;
use crate::pipeline::FileReport;
use crate::samples::SampleSet;
use crate::stats::percentile::LatencySummary;
use crate::stats::PercentileMethod;
use serde_json::{json, Value};

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
            v["format"] = json!(r.format.map(|f| format!("{f:?}")));
            v["compression"] = json!(r.compression.map(|c| format!("{c:?}")));
            v["warnings"] = json!(r.warnings);
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
        let g: serde_json::Map<String, Value> = groups
            .iter()
            .map(|(name, s)| (name.clone(), s.to_json()))
            .collect();
        v["groups"] = Value::Object(g);
    }
    v
}

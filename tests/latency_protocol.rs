//! `--protocol` picks whose transactions a latency is taken from; without it the commands do
//! what they did before (`dns` for `--metric dns`, `http` otherwise).

mod common;

use std::path::Path;

fn latency(args: &[&str]) -> (Option<i32>, String, String) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap.gz");
    let out = common::tracetail()
        .arg("latency")
        .args(args)
        .arg(demo)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn dns_protocol_samples_dns_transactions() {
    let (code, by_metric, err) = latency(&["--metric", "dns", "--json", "--by", "server"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&by_metric).unwrap();
    assert!(v["count"].as_u64().unwrap() > 0, "the demo has DNS: {v}");
    // A DNS message has one time: every request/response metric is the DNS latency.
    for metric in ["dns", "ttfb", "total", "server", "tshark"] {
        let (code, out, err) = latency(&[
            "--protocol",
            "dns",
            "--metric",
            metric,
            "--json",
            "--by",
            "server",
        ]);
        assert_eq!(code, Some(0), "{err}");
        let w: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(w["count"], v["count"], "{metric}");
        assert_eq!(w["percentiles"], v["percentiles"], "{metric}");
        assert_eq!(w["groups"], v["groups"], "{metric}");
    }
}

#[test]
fn http_is_the_default_and_explicit_http_is_the_same() {
    let (_, default, _) = latency(&["--json"]);
    let (code, explicit, err) = latency(&["--protocol", "http", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(default, explicit);
    let (_, dns, _) = latency(&["--protocol", "dns", "--json"]);
    assert_ne!(default, dns, "dns samples differ from http samples");
}

#[test]
fn the_dns_metric_with_another_protocol_is_an_error() {
    let (code, _, err) = latency(&["--metric", "dns", "--protocol", "http"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--protocol dns"), "{err}");
}

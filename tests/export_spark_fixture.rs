//! Writes a Parquet export of synthetic transactions with `TableWriters`, plus the same latencies
//! as plain text, for the Spark job's own test (`spark/test_tracetail_spark.py`), which compares
//! the job's percentiles with numpy on the text file. Not part of `cargo test` (ignored):
//!
//! ```text
//! TRACETAIL_SPARK_FIXTURE=/tmp/fx cargo test --features parquet --test export_spark_fixture -- --ignored
//! ```
#![cfg(feature = "parquet")]

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use tracetail::analyzers::{DnsTransaction, HttpTransaction};
use tracetail::export::TableWriters;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Heavy-tailed latency in ns (about 0.1 ms .. 1 s), sometimes rounded so values tie.
    fn latency(&mut self) -> i64 {
        let u = self.below(1_000_000) as f64 / 1_000_000.0;
        let v = 100_000.0 / (1.0 - u).powf(0.8);
        let v = v.min(1e9) as i64;
        if self.below(4) == 0 {
            v / 10_000 * 10_000
        } else {
            v
        }
    }
}

#[test]
#[ignore]
fn write_spark_fixture() {
    let Some(dir) = std::env::var_os("TRACETAIL_SPARK_FIXTURE") else {
        eprintln!("SKIPPED: set TRACETAIL_SPARK_FIXTURE=DIR");
        return;
    };
    let dir = Path::new(&dir);
    let http_rows: usize = std::env::var("TRACETAIL_SPARK_FIXTURE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    std::fs::create_dir_all(dir).unwrap();
    let mut truth = std::fs::File::create(dir.join("truth_http.tsv")).unwrap();
    writeln!(
        truth,
        "capture\tserver\thost\turi\tclient\tstatus\tttfb_ns\ttotal_ns\tserver_ns\ttshark_ns"
    )
    .unwrap();
    let mut dns_truth = std::fs::File::create(dir.join("truth_dns.tsv")).unwrap();
    writeln!(dns_truth, "capture\tserver\tclient\trcode\tlatency_ns").unwrap();
    let servers: [IpAddr; 3] = [
        "10.0.0.80".parse().unwrap(),
        "10.0.0.81".parse().unwrap(),
        "2001:db8::1".parse().unwrap(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let opt = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    for capture in ["a.pcap", "b.pcapng", "c.pcap.gz"] {
        let mut writers = TableWriters::create(&dir.join("parquet"), capture).unwrap();
        let mut now: i64 = 1_700_000_000_000_000_000;
        for i in 0..http_rows {
            now += rng.below(1_000_000) as i64;
            let server_ip = servers[rng.below(3) as usize];
            let answered = rng.below(100) != 0;
            let request_time = rng.below(50_000) as i64;
            let ttfb = rng.latency();
            let transfer = rng.latency() / 4;
            let t = HttpTransaction {
                connection_id: i as u64 / 5,
                depth: (i % 5) as u32 + 1,
                client_ip: format!("192.168.0.{}", rng.below(4) + 1).parse().unwrap(),
                client_port: 40_000 + (i / 5 % 20_000) as u16,
                server_ip,
                server_port: if rng.below(2) == 0 { 80 } else { 8080 },
                method: "GET".into(),
                host: (rng.below(10) != 0).then(|| format!("h{}.test", rng.below(3)).into()),
                uri: format!("/p{}", rng.below(5)).into(),
                version: "HTTP/1.1".into(),
                status: answered.then(|| [200, 200, 200, 404, 500][rng.below(5) as usize]),
                request_bytes: 100,
                response_bytes: 1000,
                request_body_bytes: 0,
                response_body_bytes: 900,
                request_first_ns: Some(now),
                request_last_ns: Some(now + request_time),
                response_first_ns: answered.then_some(now + request_time.max(ttfb)),
                response_last_ns: answered.then_some(now + request_time.max(ttfb) + transfer),
                request_head_ns: None,
                response_head_ns: None,
                flags: if answered { vec![] } else { vec!["unanswered"] },
                tls: false,
                sni: None,
                stream_id: None,
                grpc: None,
            };
            writers.push_http(&t).unwrap();
            let server = match t.server_ip {
                IpAddr::V6(ip) => format!("[{ip}]:{}", t.server_port),
                IpAddr::V4(ip) => format!("{ip}:{}", t.server_port),
            };
            writeln!(
                truth,
                "{capture}\t{server}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                t.host.as_deref().unwrap_or("(none)"),
                t.uri,
                t.client_ip,
                t.status.map_or("(none)".to_string(), |s| s.to_string()),
                opt(t.ttfb_ns()),
                opt(t.total_ns()),
                opt(t.server_ns()),
                opt(t.tshark_ns()),
            )
            .unwrap();
        }
        for id in 0..http_rows / 4 {
            let answered = rng.below(50) != 0;
            let query_ns = now + id as i64 * 1_000;
            let d = DnsTransaction {
                client_ip: "192.168.0.9".parse().unwrap(),
                client_port: 53_000,
                server_ip: servers[rng.below(2) as usize],
                server_port: 53,
                transport: "udp",
                id: id as u16,
                query_name: format!("q{}.test", rng.below(7)),
                query_type: 1,
                rcode: answered.then(|| [0, 0, 3][rng.below(3) as usize]),
                answers: 1,
                query_ns: Some(query_ns),
                response_ns: answered.then(|| query_ns + rng.latency() / 10),
                flags: if answered { vec![] } else { vec!["unanswered"] },
            };
            writers.push_dns(&d).unwrap();
            writeln!(
                dns_truth,
                "{capture}\t{}:53\t{}\t{}\t{}",
                d.server_ip,
                d.client_ip,
                d.rcode.map_or("(none)".to_string(), |r| r.to_string()),
                opt(d.latency_ns())
            )
            .unwrap();
        }
        writers.finish().unwrap();
    }
}

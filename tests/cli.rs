//! The command-line contract: exit codes, messages that name the file and offset, JSON keys,
//! stdin, damaged input. Captures are made here with tracetail's own writer and builder.

mod common;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use tracetail::capture::{LinkType, PcapWriter};
use tracetail::synth::packet::{Endpoints, PacketBuilder, TcpFields};

fn bin() -> Command {
    common::tracetail()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const SYN_ACK: u8 = 0x12;

/// A small capture: one HTTP exchange on port 8000 (not a well-known HTTP port), one DNS
/// query and response. Returns (path, packets, tcp packets, udp packets).
fn small_capture(name: &str) -> (PathBuf, u64, u64, u64) {
    let client = Endpoints {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: 8000,
    };
    let server = client.reversed();
    let mut b = PacketBuilder::new();
    let path = scratch(name);
    let mut w = PcapWriter::new(
        std::fs::File::create(&path).unwrap(),
        LinkType::ETHERNET,
        65535,
        true,
    )
    .unwrap();
    let t0: i64 = 1_700_000_000_000_000_000;
    let req = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    let frames: Vec<(i64, Vec<u8>)> = vec![
        (
            t0,
            b.tcp(
                &client,
                TcpFields {
                    seq: 100,
                    ack: 0,
                    flags: SYN,
                    window: 1000,
                },
                |_| {},
            )
            .to_vec(),
        ),
        (
            t0 + 1_000_000,
            b.tcp(
                &server,
                TcpFields {
                    seq: 500,
                    ack: 101,
                    flags: SYN_ACK,
                    window: 1000,
                },
                |_| {},
            )
            .to_vec(),
        ),
        (
            t0 + 1_100_000,
            b.tcp(
                &client,
                TcpFields {
                    seq: 101,
                    ack: 501,
                    flags: ACK,
                    window: 1000,
                },
                |_| {},
            )
            .to_vec(),
        ),
        (
            t0 + 1_200_000,
            b.tcp(
                &client,
                TcpFields {
                    seq: 101,
                    ack: 501,
                    flags: PSH_ACK,
                    window: 1000,
                },
                |v| v.extend_from_slice(req),
            )
            .to_vec(),
        ),
        (
            t0 + 5_200_000,
            b.tcp(
                &server,
                TcpFields {
                    seq: 501,
                    ack: 101 + req.len() as u32,
                    flags: PSH_ACK,
                    window: 1000,
                },
                |v| v.extend_from_slice(resp),
            )
            .to_vec(),
        ),
    ];
    let dns_client = Endpoints {
        src_port: 5353,
        dst_port: 53,
        ..client
    };
    let mut all = frames;
    all.push((
        t0 + 6_000_000,
        b.udp(&dns_client, |v| v.extend_from_slice(&dns_query()))
            .to_vec(),
    ));
    for (ts, frame) in &all {
        w.write_packet(*ts, frame, frame.len() as u32).unwrap();
    }
    w.finish().unwrap();
    (path, 6, 5, 1)
}

fn dns_query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["example", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("tracetail runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn summary_json_has_the_contract_keys() {
    let (path, packets, tcp, udp) = small_capture("small.pcap");
    let out = run(bin().args(["summary", "--json"]).arg(&path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["packets"], packets);
    assert_eq!(v["tcp"], tcp);
    assert_eq!(v["udp"], udp);
    assert_eq!(v["files"][0]["packets"], packets);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let (path, packets, _, _) = small_capture("stdin.pcap");
    let mut child = bin()
        .args(["summary", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&path).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(json(&out)["packets"], packets);
}

#[test]
fn a_cut_file_is_analysed_up_to_the_cut_with_a_warning() {
    let (path, packets, _, _) = small_capture("whole.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let cut = scratch("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let out = run(bin().args(["summary", "--json"]).arg(&cut));
    assert!(out.status.success());
    assert_eq!(json(&out)["packets"], packets - 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("cut.pcap") && stderr.contains("offset"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_is_not_a_capture_is_one_clear_error_and_exit_1() {
    let (good, packets, _, _) = small_capture("good.pcap");
    let bad = scratch("notes.txt");
    std::fs::write(&bad, "this is not a capture\n").unwrap();
    let out = run(bin().args(["summary", "--json"]).arg(&bad).arg(&good));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("byte offset 0"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    // The readable file is still reported.
    assert_eq!(json(&out)["packets"], packets);
}

#[test]
fn a_missing_file_names_itself() {
    let out = run(bin().args(["summary", "/nonexistent/trace.pcap"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/trace.pcap"));
}

#[test]
fn scapy_sessions_json_maps_keys_to_counts() {
    let (path, _, _, _) = small_capture("scapy.pcap");
    let out = run(bin().args(["sessions", "--scapy", "--json"]).arg(&path));
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["TCP 10.0.0.1:40000 > 10.0.0.2:8000"], 3);
    assert_eq!(v["TCP 10.0.0.2:8000 > 10.0.0.1:40000"], 2);
    assert_eq!(v["UDP 10.0.0.1:5353 > 10.0.0.2:53"], 1);
}

#[test]
fn sessions_are_bidirectional_with_handshake_time() {
    let (path, _, _, _) = small_capture("conv.pcap");
    let out = run(bin().args(["sessions", "--json"]).arg(&path));
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let tcp = rows.iter().find(|r| r["protocol"] == "tcp").unwrap();
    assert_eq!(
        (
            tcp["client_packets"].as_u64(),
            tcp["server_packets"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(tcp["syn_to_synack_ns"], 1_000_000);
    assert_eq!(tcp["synack_to_ack_ns"], 100_000);
    assert_eq!(tcp["tcp_state"], "S1");
}

#[test]
fn two_threads_and_one_give_identical_output() {
    let capture = scratch("threads.pcap");
    let out = run(bin().args(["synth", "-o"]).arg(&capture).args([
        "--requests",
        "1500",
        "--seed",
        "4",
        "--reorder-prob",
        "0.05",
        "--pipeline-prob",
        "0.3",
    ]));
    assert!(out.status.success());
    for command in [
        &["http", "--json"][..],
        &["dns", "--json"][..],
        &["sessions", "--json"][..],
        &["latency", "--json", "--by", "server"][..],
    ] {
        let threaded = run(bin().args(command).arg(&capture));
        let single = run(bin()
            .args(command)
            .arg(&capture)
            .env("TRACETAIL_THREADS", "1"));
        assert!(threaded.status.success() && single.status.success());
        assert!(!threaded.stdout.is_empty());
        assert_eq!(
            threaded.stdout, single.stdout,
            "{command:?} differs between one and two threads"
        );
    }
}

#[test]
fn analysis_limits_are_configurable() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap.gz");
    let answered = |extra: &[&str]| {
        let out = run(bin().args(["dns", "--json"]).args(extra).arg(&sample));
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"latency_ns\":") && !l.contains("\"latency_ns\":null"))
            .count()
    };
    let default = answered(&[]);
    let strict = answered(&["--dns-timeout", "0.0001"]);
    assert!(default > 50, "{default} answered queries in the sample");
    assert!(
        strict < default / 2,
        "a 100 µs DNS timeout should leave most queries unanswered: {strict} of {default}"
    );
}

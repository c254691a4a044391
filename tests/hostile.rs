//! Hostile traces (issues 14 and 15): each crafted input is generated here, and the test
//! asserts the unchanged answer or the bounded peak state the budgets promise.

mod common;

use common::{scratch, tracetail};
use std::path::{Path, PathBuf};
use std::process::Output;
use tracetail::capture::{CaptureReader, PcapWriter};

/// Output lines without the fields that differ by construction: `capture` (the file name) and
/// the connection / flow id (the stray packet is a flow of its own, so later ids shift by one).
fn rows(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            for field in ["\"capture\":", "\"connection_id\":", "\"flow_id\":"] {
                if let Some(a) = l.find(field) {
                    let end = l[a..].find(",\"").map_or(l.len(), |e| a + e + 1);
                    l.replace_range(a..end, "");
                }
            }
            l
        })
        .collect()
}

/// Asserts two row lists are equal, showing only the first difference.
fn assert_same_rows(a: &[String], b: &[String], what: &str) {
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what}: {} vs {} rows, first difference at row {i}:\n{:?}\n{:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
}

fn run(args: &[&str]) -> Output {
    let out = tracetail().args(args).output().expect("run tracetail");
    assert!(
        out.status.success(),
        "tracetail {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn synth(name: &str, extra: &[&str]) -> PathBuf {
    let path = scratch("hostile", name);
    let mut args = vec!["synth", "--output", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args);
    path
}

/// An Ethernet frame carrying one UDP datagram 10.9.9.9:4000 -> 10.9.9.10:4001 (not DNS).
fn stray_udp_frame() -> Vec<u8> {
    let payload = b"stray";
    let mut f = Vec::new();
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let total = 20 + 8 + payload.len() as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 9, 9, 9, 10, 9, 9, 10]);
    let udp_len = 8 + payload.len() as u16;
    f.extend_from_slice(&[
        0x0f,
        0xa0,
        0x0f,
        0xa1,
        (udp_len >> 8) as u8,
        udp_len as u8,
        0,
        0,
    ]);
    f.extend_from_slice(payload);
    f
}

/// Copies `input` to `output`, inserting `frame` after packet number `after`, dated
/// `offset_ns` after that packet.
fn insert_packet(input: &Path, output: &Path, after: usize, offset_ns: i64, frame: &[u8]) {
    let mut reader = CaptureReader::open(input).unwrap();
    let file = std::io::BufWriter::new(std::fs::File::create(output).unwrap());
    let mut writer = None;
    let mut index = 0;
    while let Some(p) = reader.next_packet().unwrap() {
        let w = writer.get_or_insert_with(|| {
            PcapWriter::new(
                std::io::BufWriter::new(std::fs::File::create(output).unwrap()),
                p.link_type,
                65535,
                true,
            )
            .unwrap()
        });
        w.write_packet(p.timestamp_ns, p.data, p.original_len)
            .unwrap();
        index += 1;
        if index == after {
            w.write_packet(p.timestamp_ns + offset_ns, frame, frame.len() as u32)
                .unwrap();
        }
    }
    drop(file);
    writer.unwrap().finish().unwrap();
}

/// Issue 15 item 3: one UDP packet dated +400 s in the middle of a capture ends no
/// connection: the same rows as without it, and a warning naming it.
#[test]
fn future_dated_packet_keeps_connections_open() {
    let clean = synth("jump_clean.pcap", &["--requests", "3000", "--seed", "7"]);
    let jumped = scratch("hostile", "jump_stray.pcap");
    insert_packet(&clean, &jumped, 5000, 400_000_000_000, &stray_udp_frame());
    for cmd in ["http", "sessions"] {
        let a = run(&[cmd, "--json", clean.to_str().unwrap()]);
        let b = run(&[cmd, "--json", jumped.to_str().unwrap()]);
        let (rows_a, mut rows_b) = (rows(&a.stdout), rows(&b.stdout));
        if cmd == "http" {
            assert!(rows_a.len() >= 3000);
            assert!(!rows_a.iter().any(|r| r.contains("unanswered")));
        } else {
            // The stray adds its own UDP flow; every other session is the same.
            let before = rows_b.len();
            rows_b.retain(|r| !r.contains("10.9.9.9"));
            assert_eq!(before, rows_b.len() + 1);
        }
        assert_same_rows(&rows_a, &rows_b, cmd);
        let warn = String::from_utf8_lossy(&b.stderr);
        assert!(
            warn.contains("1 packet(s) dated far ahead"),
            "{cmd}: no warning about the stray packet: {warn}"
        );
        assert!(!String::from_utf8_lossy(&a.stderr).contains("dated far ahead"));
    }
}

//! Throughput of the capture reader over a cached file (ignored by default; run with
//! `cargo test --release --test capture_bench -- --ignored --nocapture`).

use std::io::Write;
use std::path::Path;
use std::time::Instant;
use tracetail::capture::CaptureReader;

const PACKETS: u32 = 2_000_000;
const FRAME_LEN: usize = 60;

fn write_pcap(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut header = Vec::new();
    header.extend(0xa1b2_c3d4u32.to_le_bytes());
    header.extend(2u16.to_le_bytes());
    header.extend(4u16.to_le_bytes());
    header.extend([0; 8]);
    header.extend(65535u32.to_le_bytes());
    header.extend(1u32.to_le_bytes());
    out.write_all(&header).unwrap();
    let frame = [0x42u8; FRAME_LEN];
    for i in 0..PACKETS {
        for v in [
            1_700_000_000 + i / 1000,
            (i % 1000) * 1000,
            FRAME_LEN as u32,
            1514,
        ] {
            out.write_all(&v.to_le_bytes()).unwrap();
        }
        out.write_all(&frame).unwrap();
    }
    out.flush().unwrap();
}

fn write_pcapng(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut put = |words: &[u32], tail: &[u8]| {
        for w in words {
            out.write_all(&w.to_le_bytes()).unwrap();
        }
        out.write_all(tail).unwrap();
    };
    put(
        &[0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0xffff_ffff, 0xffff_ffff, 28],
        &[],
    );
    put(&[1, 20, 1, 0, 20], &[]);
    let total = (32 + FRAME_LEN) as u32; // FRAME_LEN is a multiple of 4
    let frame = [0x42u8; FRAME_LEN];
    for i in 0..PACKETS {
        let ts = 1_700_000_000_000_000u64 + u64::from(i) * 1000;
        put(
            &[
                6,
                total,
                0,
                (ts >> 32) as u32,
                ts as u32,
                FRAME_LEN as u32,
                1514,
            ],
            &frame,
        );
        put(&[total], &[]);
    }
    out.flush().unwrap();
}

fn measure(path: &Path) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let mut reader = CaptureReader::open(path).unwrap();
        let mut packets = 0u64;
        let mut bytes = 0u64;
        let mut last_ts = 0i64;
        while let Some(p) = reader.next_packet().unwrap() {
            packets += 1;
            bytes += p.data.len() as u64;
            last_ts = last_ts.max(p.timestamp_ns);
        }
        let elapsed = started.elapsed().as_secs_f64();
        assert_eq!(packets, u64::from(PACKETS));
        assert_eq!(bytes, u64::from(PACKETS) * FRAME_LEN as u64);
        assert!(last_ts > 0);
        best = best.min(elapsed);
    }
    f64::from(PACKETS) / best / 1e6
}

#[test]
#[ignore = "benchmark: run in release mode"]
fn reader_throughput() {
    let dir = std::env::temp_dir();
    let pcap = dir.join(format!("tracetail-bench-{}.pcap", std::process::id()));
    let pcapng = dir.join(format!("tracetail-bench-{}.pcapng", std::process::id()));
    write_pcap(&pcap);
    write_pcapng(&pcapng);
    let pcap_rate = measure(&pcap);
    let pcapng_rate = measure(&pcapng);
    println!("pcap:   {pcap_rate:.1} M packets/s ({FRAME_LEN}-byte frames, best of 5)");
    println!("pcapng: {pcapng_rate:.1} M packets/s ({FRAME_LEN}-byte frames, best of 5)");
    std::fs::remove_file(&pcap).ok();
    std::fs::remove_file(&pcapng).ok();
}

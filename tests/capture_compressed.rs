//! gzip, zstd and stdin-like streams give exactly the packets of the plain file.

mod common;

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;
use tracetail::capture::{CaptureReader, Compression};

fn corpus_dir() -> Option<PathBuf> {
    common::corpus_dir(module_path!())
}

/// Every packet as (timestamp, interface, original length, bytes), plus the warnings.
type Packets = Vec<(i64, u32, u32, Vec<u8>)>;

fn collect(mut reader: CaptureReader) -> (Packets, Vec<String>) {
    let mut packets = Vec::new();
    while let Some(p) = reader.next_packet().expect("no I/O error") {
        packets.push((
            p.timestamp_ns,
            p.interface_id,
            p.original_len,
            p.data.to_vec(),
        ));
    }
    let warnings = reader
        .warnings()
        .iter()
        .map(|w| w.message.clone())
        .collect();
    (packets, warnings)
}

fn from_bytes(name: &str, bytes: Vec<u8>) -> CaptureReader {
    CaptureReader::from_read(name, Box::new(Cursor::new(bytes))).expect("readable")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// Plain pcap, pcapng with several sections, a BE pcap and a >1 MiB file.
const SAMPLES: [&str; 4] = [
    "zeek__bro.org.pcap",
    "pcapngtest__le__test202.pcapng",
    "tcpdump__pptp.pcap",
    "ndpi__1kxun.pcap",
];

#[test]
fn gzip_and_zstd_give_the_same_packets() {
    let Some(dir) = corpus_dir() else { return };
    for sample in SAMPLES {
        let plain = std::fs::read(dir.join(sample)).unwrap();
        let (expected, plain_warnings) = collect(from_bytes(sample, plain.clone()));
        assert!(!expected.is_empty(), "{sample}");
        assert!(plain_warnings.is_empty(), "{sample}: {plain_warnings:?}");

        // Whole-stream compression, and concatenated members/frames (split mid-record).
        let half = plain.len() / 2 + 3;
        let variants = [
            (Compression::Gzip, gzip(&plain)),
            (Compression::Zstd, zstd(&plain)),
            (
                Compression::Gzip,
                [gzip(&plain[..half]), gzip(&plain[half..])].concat(),
            ),
            (
                Compression::Zstd,
                [zstd(&plain[..half]), zstd(&plain[half..])].concat(),
            ),
        ];
        for (i, (compression, bytes)) in variants.into_iter().enumerate() {
            let reader = from_bytes(sample, bytes);
            assert_eq!(reader.compression(), compression, "{sample} variant {i}");
            let (packets, warnings) = collect(reader);
            assert!(warnings.is_empty(), "{sample} variant {i}: {warnings:?}");
            assert_eq!(packets.len(), expected.len(), "{sample} variant {i}");
            assert!(packets == expected, "{sample} variant {i}: packets differ");
        }
    }
}

#[test]
fn corpus_gzip_file_equals_its_decompressed_content() {
    let Some(dir) = corpus_dir() else { return };
    let path = dir.join("zeek__1000-requests-one-dropped-response.pcap.gz");
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut plain)
        .unwrap();
    let (expected, _) = collect(from_bytes("plain", plain));
    let reader = CaptureReader::open(&path).unwrap();
    assert_eq!(reader.compression(), Compression::Gzip);
    let (packets, warnings) = collect(reader);
    assert!(warnings.is_empty());
    assert_eq!(packets.len(), 4102);
    assert!(packets == expected);
}

#[test]
fn truncated_compressed_streams_keep_earlier_packets_and_warn() {
    let Some(dir) = corpus_dir() else { return };
    let plain = std::fs::read(dir.join("zeek__bro.org.pcap")).unwrap();
    let (all, _) = collect(from_bytes("plain", plain.clone()));
    for (kind, compressed) in [("gzip", gzip(&plain)), ("zstd", zstd(&plain))] {
        let cut = compressed[..compressed.len() * 2 / 3].to_vec();
        let (packets, warnings) = collect(from_bytes("cut", cut));
        assert!(!packets.is_empty() && packets.len() < all.len(), "{kind}");
        assert!(
            packets[..] == all[..packets.len()],
            "{kind}: prefix differs"
        );
        assert_eq!(warnings.len(), 1, "{kind}: {warnings:?}");
        assert!(
            warnings[0].contains(kind) || warnings[0].contains("middle of a packet record"),
            "{kind}: {warnings:?}"
        );
    }
}

#[test]
fn stdin_style_stream_reads_like_the_file() {
    let Some(dir) = corpus_dir() else { return };
    let path = dir.join("cs__http_espn.pcapng");
    let (expected, _) = collect(CaptureReader::open(&path).unwrap());
    // A non-seekable stream that hands out small, odd-sized reads, like a pipe.
    struct Trickle(std::fs::File);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(777);
            self.0.read(&mut buf[..n])
        }
    }
    let file = std::fs::File::open(&path).unwrap();
    let reader = CaptureReader::from_read("-", Box::new(Trickle(file))).unwrap();
    assert_eq!(reader.name(), "-");
    let (packets, warnings) = collect(reader);
    assert!(warnings.is_empty());
    assert_eq!(packets.len(), 956);
    assert!(packets == expected);
}

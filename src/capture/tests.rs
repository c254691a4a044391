//! Reader tests from literal bytes: every format variant, damage and truncation.

use super::*;
use std::io::Cursor;

// ---- builders ----

fn u16b(v: u16, be: bool) -> [u8; 2] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32b(v: u32, be: bool) -> [u8; 4] {
    if be {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn pcap_header(magic: u32, be: bool, snaplen: u32, link_type_field: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(u32b(magic, be));
    out.extend(u16b(2, be));
    out.extend(u16b(4, be));
    out.extend([0; 8]);
    out.extend(u32b(snaplen, be));
    out.extend(u32b(link_type_field, be));
    out
}

fn pcap_record(be: bool, sec: u32, frac: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [sec, frac, data.len() as u32, orig] {
        out.extend(u32b(v, be));
    }
    out.extend(data);
    out
}

/// A pcapng block: body padded to 4, both lengths filled in.
fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
    let mut padded = body.to_vec();
    while !padded.len().is_multiple_of(4) {
        padded.push(0);
    }
    let total = (padded.len() + 12) as u32;
    let mut out = Vec::new();
    out.extend(u32b(block_type, be));
    out.extend(u32b(total, be));
    out.extend(padded);
    out.extend(u32b(total, be));
    out
}

fn shb(be: bool, major: u16, minor: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(0x1A2B_3C4D, be));
    body.extend(u16b(major, be));
    body.extend(u16b(minor, be));
    body.extend([0xff; 8]); // section length: unknown
    block(be, 0x0A0D_0D0A, &body)
}

fn option(be: bool, code: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(u16b(code, be));
    out.extend(u16b(value.len() as u16, be));
    out.extend(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out
}

fn idb(be: bool, link_type: u16, snaplen: u32, options: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(link_type, be));
    body.extend([0, 0]);
    body.extend(u32b(snaplen, be));
    for o in options {
        body.extend(o);
    }
    if !options.is_empty() {
        body.extend([0; 4]); // opt_endofopt
    }
    block(be, 1, &body)
}

fn epb(be: bool, interface: u32, units: u64, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(interface, be));
    body.extend(u32b((units >> 32) as u32, be));
    body.extend(u32b(units as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(orig, be));
    body.extend(data);
    block(be, 6, &body)
}

fn obsolete_pb(be: bool, interface: u16, units: u64, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u16b(interface, be));
    body.extend(u16b(0, be)); // drops
    body.extend(u32b((units >> 32) as u32, be));
    body.extend(u32b(units as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(u32b(data.len() as u32, be));
    body.extend(data);
    block(be, 2, &body)
}

fn spb(be: bool, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(u32b(orig, be));
    body.extend(data);
    block(be, 3, &body)
}

fn reader(bytes: Vec<u8>) -> CaptureReader {
    CaptureReader::from_read("test.cap", Box::new(Cursor::new(bytes))).expect("readable header")
}

fn open_error(bytes: Vec<u8>) -> CaptureError {
    match CaptureReader::from_read("bad.cap", Box::new(Cursor::new(bytes))) {
        Ok(_) => panic!("expected a header error"),
        Err(e) => e,
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Got {
    ts: i64,
    link: u16,
    orig: u32,
    iface: u32,
    data: Vec<u8>,
}

fn read_all(r: &mut CaptureReader) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().expect("no I/O error") {
        out.push(Got {
            ts: p.timestamp_ns,
            link: p.link_type.0,
            orig: p.original_len,
            iface: p.interface_id,
            data: p.data.to_vec(),
        });
    }
    // The end is sticky.
    assert!(r.next_packet().unwrap().is_none());
    out
}

const SEC: i64 = 1_000_000_000;

// ---- classic pcap ----

#[test]
fn pcap_all_magics_and_byte_orders() {
    for (magic, nanosecond) in [(0xa1b2_c3d4u32, false), (0xa1b2_3c4d, true)] {
        for be in [false, true] {
            let mut file = pcap_header(magic, be, 65535, 1);
            file.extend(pcap_record(be, 1_700_000_000, 123_456, 60, &[1, 2, 3, 4]));
            file.extend(pcap_record(be, 1_700_000_001, 999_999, 5, &[9; 5]));
            let len = file.len() as u64;
            let mut r = reader(file);
            assert_eq!(
                r.format(),
                CaptureFormat::Pcap {
                    big_endian: be,
                    nanosecond
                }
            );
            assert_eq!(r.compression(), Compression::None);
            assert_eq!(r.position(), 24);
            let unit = if nanosecond { 1 } else { 1000 };
            let got = read_all(&mut r);
            assert_eq!(
                got,
                vec![
                    Got {
                        ts: 1_700_000_000 * SEC + 123_456 * unit,
                        link: 1,
                        orig: 60,
                        iface: 0,
                        data: vec![1, 2, 3, 4]
                    },
                    Got {
                        ts: 1_700_000_001 * SEC + 999_999 * unit,
                        link: 1,
                        orig: 5,
                        iface: 0,
                        data: vec![9; 5]
                    },
                ]
            );
            assert_eq!(r.position(), len);
            assert!(r.warnings().is_empty());
            assert_eq!(r.counters().packets, 2);
            assert_eq!(
                r.interface(0).unwrap().tsresol,
                if nanosecond { 9 } else { 6 }
            );
        }
    }
}

#[test]
fn pcap_after_2038_uses_unsigned_seconds() {
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    file.extend(pcap_record(false, 0xffff_ffff, 999_999, 1, &[0]));
    let got = read_all(&mut reader(file));
    assert_eq!(got[0].ts, 0xffff_ffff * SEC + 999_999_000);
}

#[test]
fn modified_pcap_has_24_byte_record_headers() {
    for be in [false, true] {
        let mut file = pcap_header(0xa1b2_cd34, be, 65535, 1);
        for (i, data) in [&[0xaa; 3][..], &[0xbb; 7][..]].iter().enumerate() {
            for v in [10 + i as u32, 500, data.len() as u32, 100] {
                file.extend(u32b(v, be));
            }
            file.extend(u32b(2, be)); // ifindex
            file.extend(u16b(0x0800, be)); // protocol
            file.extend([0, 0]); // pkt_type, pad
            file.extend(*data);
        }
        let mut r = reader(file);
        assert!(r.is_modified_pcap());
        assert!(r.format_description().contains("modified"));
        let got = read_all(&mut r);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].data, vec![0xaa; 3]);
        assert_eq!(got[1].data, vec![0xbb; 7]);
        assert_eq!(got[1].ts, 11 * SEC + 500_000);
        assert_eq!(got[1].orig, 100);
        assert!(r.warnings().is_empty());
    }
}

#[test]
fn pcap_link_type_is_low_16_bits_and_fcs_bits_are_fine() {
    // tcpdump__heap-overflow-1: FCS-length bits set, snaplen 1, orig far above caplen.
    let mut file = pcap_header(0xa1b2_c3d4, false, 1, 0x3000_0065);
    file.extend(pcap_record(false, 1, 0, 262_144, &[0x30]));
    let mut r = reader(file);
    assert_eq!(r.interface(0).unwrap().link_type, LinkType::RAW);
    let got = read_all(&mut r);
    assert_eq!(got[0].link, 101);
    assert_eq!(got[0].orig, 262_144);
    assert!(r.warnings().is_empty());

    // Reserved bits: still read, with a warning.
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 0x0030_0001);
    file.extend(pcap_record(false, 1, 0, 1, &[0]));
    let mut r = reader(file);
    assert_eq!(read_all(&mut r)[0].link, 1);
    assert_eq!(r.warnings().len(), 1);
    assert!(r.warnings()[0].message.contains("reserved"));
}

#[test]
fn pcap_caplen_above_snaplen_is_accepted_and_orig_never_below_caplen() {
    let mut file = pcap_header(0xa1b2_c3d4, false, 4, 1);
    file.extend(pcap_record(false, 1, 0, 2, &[7; 10])); // caplen 10 > snaplen 4 > orig 2
    let mut r = reader(file);
    let got = read_all(&mut r);
    assert_eq!(got[0].data, vec![7; 10]);
    assert_eq!(got[0].orig, 10);
    assert!(r.warnings().is_empty());
}

#[test]
fn header_only_pcap_has_zero_packets() {
    let mut r = reader(pcap_header(0xa1b2_c3d4, false, 65535, 1));
    assert!(read_all(&mut r).is_empty());
    assert!(r.warnings().is_empty());
}

#[test]
fn truncated_pcap_record_keeps_earlier_packets_and_warns_with_offset() {
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    file.extend(pcap_record(false, 1, 0, 4, &[1; 4]));
    let second_at = file.len() as u64;
    file.extend(pcap_record(false, 2, 0, 50, &[2; 50]));
    for cut in [second_at as usize + 5, second_at as usize + 16 + 20] {
        let mut r = reader(file[..cut].to_vec());
        assert_eq!(read_all(&mut r).len(), 1);
        assert_eq!(r.warnings().len(), 1, "cut at {cut}");
        let w = &r.warnings()[0];
        assert_eq!(w.offset, second_at);
        assert_eq!(w.file, "test.cap");
        assert!(w
            .message
            .starts_with("file ends in the middle of a packet record"));
        assert!(w.to_string().contains(&format!("offset {second_at}")));
    }
}

#[test]
fn huge_caplen_stops_without_allocating() {
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    file.extend(pcap_record(false, 1, 0, 4, &[1; 4]));
    let bad_at = file.len() as u64;
    for v in [2u32, 0, 0xffff_fff0, 0xffff_fff0] {
        file.extend(v.to_le_bytes());
    }
    file.extend([0; 64]);
    let mut r = reader(file);
    assert_eq!(read_all(&mut r).len(), 1);
    assert_eq!(r.buf.len(), INITIAL_BUFFER_LEN);
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(r.warnings()[0].offset, bad_at);
    assert!(r.warnings()[0].message.contains("4294967280"));

    // The same in pcapng: a block length of almost 4 GiB.
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    file.extend(6u32.to_le_bytes());
    file.extend(0xffff_fff0u32.to_le_bytes());
    file.extend([0; 100]);
    let mut r = reader(file);
    assert!(read_all(&mut r).is_empty());
    assert_eq!(r.buf.len(), INITIAL_BUFFER_LEN);
    assert!(r.warnings()[0].message.contains("total length 4294967280"));
}

#[test]
fn records_larger_than_the_buffer_grow_it_once() {
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1000);
            self.0.read(&mut buf[..n])
        }
    }
    let big: Vec<u8> = (0..3 * INITIAL_BUFFER_LEN + 5).map(|i| i as u8).collect();
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    file.extend(pcap_record(false, 1, 0, 10, &[1; 10]));
    file.extend(pcap_record(false, 2, 0, big.len() as u32, &big));
    file.extend(pcap_record(false, 3, 0, 10, &[3; 10]));
    let mut r = CaptureReader::from_read("-", Box::new(Trickle(Cursor::new(file)))).unwrap();
    let got = read_all(&mut r);
    assert_eq!(got.len(), 3);
    assert!(got[1].data == big);
    assert_eq!(got[2].data, vec![3; 10]);
    assert!(r.buf.len() >= big.len() && r.buf.len() <= 2 * (big.len() + 16));
}

#[test]
fn header_errors_name_what_was_expected() {
    let e = open_error(Vec::new());
    assert!(e.message.contains("empty file (0 bytes)"), "{e}");
    let e = open_error(b"GET / HTTP/1.1\r\n".to_vec());
    assert_eq!(e.message, "not a pcap or pcapng file (magic 0x47455420)");
    assert_eq!(e.file, "bad.cap");
    assert_eq!(e.offset, 0);
    let e = open_error(vec![0xd4, 0xc3]);
    assert!(e.message.contains("too short"), "{e}");
    let e = open_error(pcap_header(0xa1b2_c3d4, false, 65535, 1)[..20].to_vec());
    assert!(e.message.contains("24-byte pcap file header"), "{e}");
    let mut v1 = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    v1[4] = 1;
    let e = open_error(v1);
    assert!(e.message.contains("version 1.4"), "{e}");
    // gzip of garbage: the message says where the magic was looked for.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    io::Write::write_all(&mut gz, b"hello world").unwrap();
    let e = open_error(gz.finish().unwrap());
    assert!(e.message.contains("inside the gzip stream"), "{e}");
    // Truncated first SHB, bad first SHB version.
    let e = open_error(shb(false, 1, 0)[..20].to_vec());
    assert!(e.message.contains("file ends"), "{e}");
    let e = open_error(shb(true, 2, 0));
    assert_eq!(
        e.message,
        "unsupported pcapng version 2.0 in section header (expected 1.x)"
    );
}

#[test]
fn open_reports_missing_files() {
    let e = match CaptureReader::open(Path::new("/nonexistent/x.pcap")) {
        Ok(_) => panic!("opened a missing file"),
        Err(e) => e,
    };
    assert_eq!(e.file, "/nonexistent/x.pcap");
    assert!(e.message.starts_with("cannot open"));
}

// ---- pcapng ----

#[test]
fn pcapng_sections_of_both_byte_orders_reset_interfaces() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    file.extend(idb(false, 113, 0, &[option(false, 9, &[9])]));
    file.extend(epb(false, 0, 1_000_000, 60, &[1, 2, 3]));
    file.extend(epb(false, 1, 2_000_000_000, 70, &[4]));
    file.extend(shb(true, 1, 0));
    file.extend(idb(true, 101, 0, &[]));
    file.extend(epb(true, 0, 3_000_000, 80, &[5, 6]));
    let second_bad_at = file.len() as u64;
    file.extend(epb(true, 1, 4_000_000, 80, &[7])); // interface 1 belonged to section 1
    file.extend(epb(true, 0, 5_000_000, 80, &[8]));
    let mut r = reader(file);
    assert_eq!(r.format(), CaptureFormat::PcapNg);
    let got = read_all(&mut r);
    let summary: Vec<(i64, u16, u32, Vec<u8>)> = got
        .iter()
        .map(|g| (g.ts, g.link, g.iface, g.data.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (SEC, 1, 0, vec![1, 2, 3]),
            (2 * SEC, 113, 1, vec![4]),
            (3 * SEC, 101, 0, vec![5, 6]),
            (5 * SEC, 101, 0, vec![8]),
        ]
    );
    assert_eq!(got[0].orig, 60);
    let c = r.counters();
    assert_eq!((c.packets, c.skipped_packets, c.sections), (4, 1, 2));
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(r.warnings()[0].offset, second_bad_at);
    assert!(r.warnings()[0].message.contains("interface 1"));
    assert_eq!(r.interface_count(), 1);
}

#[test]
fn if_tsresol_and_if_tsoffset_give_exact_nanoseconds() {
    let be = false;
    let mut file = shb(be, 1, 0);
    file.extend(idb(be, 1, 0, &[option(be, 9, &[6])])); // 0: µs
    file.extend(idb(be, 1, 0, &[option(be, 9, &[9])])); // 1: ns
    file.extend(idb(be, 1, 0, &[option(be, 9, &[0x80 | 10])])); // 2: 2^-10 s
    file.extend(idb(be, 1, 0, &[option(be, 9, &[12])])); // 3: ps, floors
    let offset = option(be, 14, &(-100i64).to_le_bytes());
    file.extend(idb(be, 1, 0, &[offset, option(be, 9, &[3])])); // 4: ms, -100 s
    file.extend(idb(be, 1, 0, &[])); // 5: default µs
    file.extend(epb(be, 0, 1_700_000_000_123_456, 1, &[0]));
    file.extend(epb(be, 1, 1_700_000_000_123_456_789, 1, &[0]));
    file.extend(epb(be, 2, 1_700_000_000 * 1024 + 3, 1, &[0]));
    file.extend(epb(be, 3, 12_345_678_901_999, 1, &[0]));
    file.extend(epb(be, 4, 1_700_000_000_123, 1, &[0]));
    file.extend(epb(be, 5, 7, 1, &[0]));
    let mut r = reader(file);
    let ts: Vec<i64> = read_all(&mut r).iter().map(|g| g.ts).collect();
    assert_eq!(
        ts,
        vec![
            1_700_000_000_123_456_000,
            1_700_000_000_123_456_789,
            // 3/1024 s = 2_929_687.5 ns -> floor.
            1_700_000_000_000_000_000 + 2_929_687,
            12_345_678_901, // 12_345_678_901_999 ps floored
            1_699_999_900_123_000_000,
            7_000,
        ]
    );
    assert_eq!(r.interface(2).unwrap().tsresol, 0x8a);
    assert_eq!(r.interface(4).unwrap().ts_offset_s, -100);
    assert!(r.warnings().is_empty());
}

#[test]
fn timestamps_after_2106_and_beyond_i64() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[])); // µs
    file.extend(idb(false, 1, 0, &[option(false, 9, &[9])]));
    // 2106-02-07 06:28:16 + 1 s, in µs: does not fit a u32 of seconds.
    file.extend(epb(false, 0, (4_294_967_296 + 1) * 1_000_000 + 5, 1, &[0]));
    file.extend(epb(false, 1, u64::MAX, 1, &[0]));
    let got = read_all(&mut reader(file));
    assert_eq!(got[0].ts, 4_294_967_297 * SEC + 5_000);
    assert_eq!(got[1].ts, i64::MAX); // saturated, documented
}

#[test]
fn simple_packet_blocks_use_idb0_snaplen_and_last_timestamp() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 4, &[]));
    file.extend(spb(false, 10, &[1, 2, 3, 4])); // before any timestamp: 0
    file.extend(epb(false, 0, 42, 2, &[5, 6]));
    file.extend(spb(false, 10, &[7, 8, 9, 10, 11, 12])); // padded block, cut at snaplen 4
    file.extend(spb(false, 2, &[13, 14, 0, 0])); // orig 2 < room
    let mut r = reader(file);
    let got = read_all(&mut r);
    let summary: Vec<(i64, u32, Vec<u8>)> =
        got.iter().map(|g| (g.ts, g.orig, g.data.clone())).collect();
    assert_eq!(
        summary,
        vec![
            (0, 10, vec![1, 2, 3, 4]),
            (42_000, 2, vec![5, 6]),
            (42_000, 10, vec![7, 8, 9, 10]),
            (42_000, 2, vec![13, 14]),
        ]
    );
    assert!(r.warnings().is_empty());

    // snaplen 0 = unlimited: the block's room bounds the data.
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    file.extend(spb(false, 1000, &[1, 2, 3, 4, 5]));
    let got = read_all(&mut reader(file));
    assert_eq!(got[0].data, vec![1, 2, 3, 4, 5, 0, 0, 0]);
    assert_eq!(got[0].orig, 1000);
}

#[test]
fn obsolete_packet_block_is_read() {
    for be in [false, true] {
        let mut file = shb(be, 1, 0);
        file.extend(idb(be, 1, 0, &[]));
        file.extend(idb(be, 105, 0, &[]));
        file.extend(obsolete_pb(be, 1, 1_500_000, &[1, 2, 3, 4, 5]));
        let got = read_all(&mut reader(file));
        assert_eq!(
            got,
            vec![Got {
                ts: 1_500_000_000,
                link: 105,
                orig: 5,
                iface: 1,
                data: vec![1, 2, 3, 4, 5]
            }]
        );
    }
}

#[test]
fn non_packet_blocks_are_skipped_cleanly() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    file.extend(block(
        false,
        4,
        &[1, 0, 6, 0, 10, 0, 0, 1, b'h', b'o', b's', b't', 0, 0],
    )); // NRB
    file.extend(epb(false, 0, 1, 1, &[1]));
    file.extend(block(false, 5, &[0; 12])); // ISB
    file.extend(block(
        false,
        0x0A,
        &[0x4b, 0x53, 0x4c, 0x54, 3, 0, 0, 0, 1, 2, 3],
    )); // DSB
    file.extend(block(false, 0x0BAD, &[0x12, 0x34, 0, 0, 9])); // custom, copiable
    file.extend(block(false, 0x4000_0BAD, &[0x12, 0x34, 0, 0])); // custom, not copiable
    file.extend(block(false, 0x1234_5678, &[])); // unknown
    file.extend(epb(false, 0, 2, 1, &[2]));
    let mut r = reader(file);
    let got = read_all(&mut r);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].data, vec![2]);
    assert_eq!(r.counters().skipped_blocks, 6);
    assert!(r.warnings().is_empty());
}

#[test]
fn damaged_pcapng_blocks_stop_with_a_warning() {
    let mut good = shb(false, 1, 0);
    good.extend(idb(false, 1, 0, &[]));
    good.extend(epb(false, 0, 1, 1, &[1]));
    let bad_at = good.len() as u64;
    let packet = epb(false, 0, 2, 1, &[2]);
    let damage: Vec<(&str, Vec<u8>)> = vec![
        ("not a multiple of 4", {
            let mut b = packet.clone();
            b[4] = 33;
            b
        }),
        ("not a multiple of 4", {
            let mut b = packet.clone();
            b[4] = 8;
            b
        }),
        ("trailing length", {
            let mut b = packet.clone();
            let n = b.len();
            b[n - 4] = 99;
            b
        }),
        ("shorter than its 32 bytes", block(false, 6, &[0; 8])),
        ("unsupported pcapng version 2.0", shb(false, 2, 0)),
        ("byte-order magic", {
            let mut b = shb(false, 1, 0);
            b[8] = 0;
            b
        }),
    ];
    for (what, bad) in damage {
        let mut file = good.clone();
        file.extend(bad);
        file.extend(epb(false, 0, 3, 1, &[3]));
        let mut r = reader(file);
        assert_eq!(read_all(&mut r).len(), 1, "{what}");
        assert_eq!(r.warnings().len(), 1, "{what}");
        let w = &r.warnings()[0];
        assert!(w.message.contains(what), "{what}: {w}");
        assert!(w.message.contains("reading stops"), "{w}");
        assert_eq!(w.offset, bad_at, "{what}");
    }
}

#[test]
fn epb_caplen_beyond_its_block_is_skipped_not_fatal() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    let mut bad = epb(false, 0, 1, 1, &[1, 2, 3, 4]);
    bad[20] = 200; // caplen 200 in a block with room for 4
    file.extend(bad);
    file.extend(epb(false, 0, 2, 1, &[9]));
    let mut r = reader(file);
    let got = read_all(&mut r);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, vec![9]);
    assert_eq!(r.counters().skipped_packets, 1);
    assert!(r.warnings()[0].message.contains("room for 4"));
}

#[test]
fn idb_option_overrun_warns_and_keeps_the_interface() {
    let mut file = shb(false, 1, 0);
    let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0];
    body.extend([9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 9
    body.extend([2, 0, 200, 0]); // if_name of 200 bytes: runs past the block
    file.extend(block(false, 1, &body));
    file.extend(epb(false, 0, 5, 1, &[1]));
    let mut r = reader(file);
    let got = read_all(&mut r);
    assert_eq!(got[0].ts, 5); // the tsresol before the damage still counts
    assert_eq!(r.warnings().len(), 1);
    assert!(r.warnings()[0].message.contains("runs past the block"));
}

#[test]
fn truncated_pcapng_block_warns() {
    let mut file = shb(false, 1, 0);
    file.extend(idb(false, 1, 0, &[]));
    file.extend(epb(false, 0, 1, 1, &[1]));
    let at = file.len();
    file.extend(epb(false, 0, 2, 100, &[2; 100]));
    for cut in [at + 6, at + 50] {
        let mut r = reader(file[..cut].to_vec());
        assert_eq!(read_all(&mut r).len(), 1);
        assert_eq!(r.warnings().len(), 1);
        assert_eq!(r.warnings()[0].offset, at as u64);
        assert!(r.warnings()[0]
            .message
            .starts_with("file ends in the middle of a"));
    }
}

#[test]
fn warnings_are_capped_but_counted() {
    let mut file = shb(false, 1, 0);
    for i in 0..150 {
        file.extend(epb(false, 0, i, 1, &[0])); // no interface defined
    }
    let mut r = reader(file);
    assert!(read_all(&mut r).is_empty());
    let c = r.counters();
    assert_eq!(c.skipped_packets, 150);
    assert_eq!(r.warnings().len(), MAX_WARNINGS);
    assert_eq!(c.suppressed_warnings, 150 - MAX_WARNINGS as u64);
}

#[test]
fn compressed_literal_streams() {
    let mut file = pcap_header(0xa1b2_c3d4, true, 65535, 1);
    file.extend(pcap_record(true, 5, 6, 3, &[1, 2, 3]));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    io::Write::write_all(&mut gz, &file).unwrap();
    let zst =
        ruzstd::encoding::compress_to_vec(&file[..], ruzstd::encoding::CompressionLevel::Fastest);
    for (compression, bytes) in [
        (Compression::Gzip, gz.finish().unwrap()),
        (Compression::Zstd, zst),
    ] {
        let mut r = reader(bytes);
        assert_eq!(r.compression(), compression);
        let got = read_all(&mut r);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].ts, 5 * SEC + 6_000);
        assert_eq!(r.position(), file.len() as u64);
    }
}

/// Deterministic mutation fuzzing: no input may panic or loop.
#[test]
fn mutated_inputs_never_panic() {
    let mut pcap = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    for i in 0..20u8 {
        pcap.extend(pcap_record(false, i.into(), 0, 30, &[i; 20]));
    }
    let mut ng = shb(false, 1, 0);
    ng.extend(idb(
        false,
        1,
        0,
        &[option(false, 9, &[9]), option(false, 14, &[1; 8])],
    ));
    ng.extend(spb(false, 9, &[1; 9]));
    for i in 0..10u8 {
        ng.extend(epb(false, 0, i.into(), 30, &[i; 13]));
        ng.extend(obsolete_pb(false, 0, i.into(), &[i; 3]));
    }
    ng.extend(shb(true, 1, 0));
    ng.extend(idb(true, 1, 0, &[option(true, 9, &[0x85])]));
    ng.extend(epb(true, 0, 77, 30, &[4; 13]));
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let base = if round % 2 == 0 { &pcap } else { &ng };
        let mut bytes = base.clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = next() as u8;
        }
        if next() % 3 == 0 {
            let keep = (next() as usize) % bytes.len();
            bytes.truncate(keep);
        }
        if let Ok(mut r) = CaptureReader::from_read("fuzz", Box::new(Cursor::new(bytes))) {
            let mut n = 0;
            while let Some(p) = r.next_packet().expect("in-memory reads cannot fail") {
                assert!(p.original_len as usize >= p.data.len());
                n += 1;
                assert!(n < 10_000);
            }
            assert!(r.position() <= base.len() as u64);
        }
    }
}

/// A zstd frame holding `content` in one raw block, with a window of 2^`window_log` bytes.
fn zstd_raw_frame(window_log: u8, content: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0, (window_log - 10) << 3];
    let block_header = ((content.len() as u32) << 3) | 1; // last block, raw
    frame.extend(&block_header.to_le_bytes()[..3]);
    frame.extend(content);
    frame
}

#[test]
fn zstd_windows_are_checked_against_the_limit_frame_by_frame() {
    let mut file = pcap_header(0xa1b2_c3d4, false, 65535, 1);
    file.extend(pcap_record(false, 1, 0, 3, &[1, 2, 3]));
    let split = 24;
    // Skippable frames (any of 16 magics, length, payload) before and between data frames.
    let skippable = |magic_low: u8| {
        let mut f = vec![0x50 | magic_low, 0x2a, 0x4d, 0x18];
        f.extend(4u32.to_le_bytes());
        f.extend([9, 9, 9, 9]);
        f
    };
    let stream = [
        skippable(0),
        zstd_raw_frame(20, &file[..split]),
        skippable(0xf),
        zstd_raw_frame(20, &file[split..]),
    ]
    .concat();
    let open = |bytes: Vec<u8>, limit: u64| {
        CaptureReader::from_read_with_zstd_window("t.zst", Box::new(Cursor::new(bytes)), limit)
    };
    let mut r = open(stream.clone(), 1 << 20).expect("a 1 MiB window is within 1 MiB");
    assert_eq!(read_all(&mut r).len(), 1);
    assert!(r.warnings().is_empty());

    // The same frames against a 512 KiB limit: refused at the first frame, whose offset (12,
    // after the skippable frame) is named.
    let e = match open(stream, 1 << 19) {
        Err(e) => e,
        Ok(_) => panic!("a 1 MiB window is over a 512 KiB limit"),
    };
    assert_eq!(
        e.to_string(),
        "t.zst: at byte offset 0 of the decompressed stream: zstd frame at byte 12 of the \
         compressed file needs a 1048576-byte window, more than the limit of 524288 bytes; if \
         the file is trusted, raise it with --max-zstd-window"
    );
    assert!(e.decompressed);
}

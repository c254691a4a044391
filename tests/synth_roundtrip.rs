//! Writers and the reader agree: what `PcapWriter`/`PcapNgWriter` write, `CaptureReader`
//! gives back with the same bytes and nanosecond timestamps (up to the file's resolution).

use std::io::Cursor;
use tracetail::capture::{CaptureFormat, CaptureReader, LinkType, PcapNgWriter, PcapWriter};
use tracetail::synth::traffic::TrafficMix;
use tracetail::synth::{generate, OutputFormat, SynthConfig, Target};

/// (timestamp ns, frame) samples: odd lengths (pcapng padding), sub-µs parts, 2^32 µs wrap.
fn samples() -> Vec<(i64, Vec<u8>)> {
    let stamps = [
        0i64,
        1,
        999,
        1_000,
        1_700_000_000_123_456_789,
        1_700_000_000_999_999_999,
        4_294_967_296_000, // 2^32 µs: the EPB high word changes
        4_294_967_295_999,
        2_000_000_000_000_000_000,
    ];
    stamps
        .iter()
        .enumerate()
        .map(|(i, &ts)| (ts, (0..(i * 7 + 1) as u8).collect()))
        .collect()
}

/// (timestamp ns, bytes, original length, link type) of each packet read.
type ReadPacket = (i64, Vec<u8>, u32, LinkType);

fn read_all(bytes: Vec<u8>) -> (CaptureFormat, Vec<ReadPacket>) {
    let mut reader = CaptureReader::from_read("roundtrip", Box::new(Cursor::new(bytes))).unwrap();
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet().unwrap() {
        out.push((p.timestamp_ns, p.data.to_vec(), p.original_len, p.link_type));
    }
    assert!(reader.warnings().is_empty(), "{:?}", reader.warnings());
    (reader.format(), out)
}

#[test]
fn classic_pcap_round_trips_both_resolutions_and_byte_orders() {
    for nanosecond in [false, true] {
        for big_endian in [false, true] {
            let mut w = PcapWriter::with_byte_order(
                Vec::new(),
                LinkType::ETHERNET,
                65535,
                nanosecond,
                big_endian,
            )
            .unwrap();
            for (ts, data) in samples() {
                w.write_packet(ts, &data, data.len() as u32 + 10).unwrap();
            }
            let (format, got) = read_all(w.finish().unwrap());
            assert_eq!(
                format,
                CaptureFormat::Pcap {
                    big_endian,
                    nanosecond
                }
            );
            let want: Vec<_> = samples()
                .into_iter()
                .map(|(ts, data)| {
                    let ts = if nanosecond { ts } else { ts - ts % 1000 };
                    let len = data.len() as u32 + 10;
                    (ts, data, len, LinkType::ETHERNET)
                })
                .collect();
            assert_eq!(
                got, want,
                "nanosecond {nanosecond}, big endian {big_endian}"
            );
        }
    }
}

#[test]
fn pcapng_round_trips_decimal_and_binary_resolutions() {
    for big_endian in [false, true] {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), big_endian).unwrap();
        let resolutions = [6u8, 9, 0x80 | 20];
        for &r in &resolutions {
            w.add_interface(LinkType::ETHERNET, 0, r).unwrap();
        }
        // 2^-20 s units are exact nanoseconds at multiples of 1e9/2^11 = 1_953_125 ns.
        let binary_exact = 1_700_000_000 * 1_000_000_000 + 7 * 1_953_125;
        let mut want = Vec::new();
        for (id, &r) in resolutions.iter().enumerate() {
            for (ts, data) in samples().into_iter().chain([(binary_exact, vec![1, 2, 3])]) {
                w.write_packet(id as u32, ts, &data, data.len() as u32)
                    .unwrap();
                want.push((id, r, ts, data));
            }
        }
        let (format, got) = read_all(w.finish().unwrap());
        assert_eq!(format, CaptureFormat::PcapNg);
        assert_eq!(got.len(), want.len());
        for ((ts, data, _, _), (id, r, want_ts, want_data)) in got.iter().zip(&want) {
            assert_eq!(data, want_data);
            match r {
                6 => assert_eq!(*ts, want_ts - want_ts % 1000, "µs interface {id}"),
                9 => assert_eq!(ts, want_ts, "ns interface"),
                _ => {
                    // One unit is 953.67 ns: the value read is the unit's start.
                    assert!(*ts <= *want_ts && want_ts - ts < 954, "{ts} vs {want_ts}");
                    if *want_ts == binary_exact {
                        assert_eq!(ts, want_ts, "exactly representable");
                    }
                }
            }
        }
    }
}

#[test]
fn synth_captures_read_back_identically_in_every_format() {
    let mut reference: Option<Vec<ReadPacket>> = None;
    for format in [
        OutputFormat::Pcap { nanosecond: true },
        OutputFormat::PcapNg { tsresol: 9 },
    ] {
        let config = SynthConfig {
            target: Target::Requests(300),
            mix: TrafficMix {
                body_scale: 0.3,
                ..TrafficMix::default()
            },
            format,
            ..SynthConfig::default()
        };
        let (summary, bytes) =
            generate(&config, Vec::new(), std::io::sink(), std::io::sink()).unwrap();
        let (_, packets) = read_all(bytes);
        assert_eq!(packets.len() as u64, summary.packets);
        assert!(packets.windows(2).all(|w| w[0].0 <= w[1].0));
        match &reference {
            None => reference = Some(packets),
            Some(r) => assert!(r == &packets, "pcap and pcapng differ"),
        }
    }
}

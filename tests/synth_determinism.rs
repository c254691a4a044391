//! `tracetail synth` is a pure function of its configuration: same seed, same bytes.

use tracetail::synth::traffic::TrafficMix;
use tracetail::synth::{generate, OutputFormat, Summary, SynthConfig, Target};

fn run(config: &SynthConfig) -> (Summary, Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut http = Vec::new();
    let mut dns = Vec::new();
    let (summary, capture) = generate(config, Vec::new(), &mut http, &mut dns).unwrap();
    (summary, capture, http, dns)
}

fn small(seed: u64, format: OutputFormat) -> SynthConfig {
    SynthConfig {
        seed,
        target: Target::Requests(400),
        mix: TrafficMix {
            body_scale: 0.2,
            ..TrafficMix::default()
        },
        format,
        ..SynthConfig::default()
    }
}

#[test]
fn same_seed_gives_identical_files() {
    for format in [
        OutputFormat::Pcap { nanosecond: true },
        OutputFormat::Pcap { nanosecond: false },
        OutputFormat::PcapNg { tsresol: 9 },
        OutputFormat::PcapNg { tsresol: 6 },
    ] {
        let a = run(&small(11, format));
        let b = run(&small(11, format));
        assert_eq!(a.0, b.0, "{format:?}");
        assert!(a.1 == b.1, "capture bytes differ for {format:?}");
        assert_eq!(a.2, b.2);
        assert_eq!(a.3, b.3);
        assert_eq!(
            a.0.capture_bytes,
            a.1.len() as u64,
            "summary counts the file"
        );
        assert_eq!(a.0.http_transactions, 400);
    }
}

#[test]
fn different_seed_gives_different_traffic() {
    let a = run(&small(1, OutputFormat::Pcap { nanosecond: true }));
    let b = run(&small(2, OutputFormat::Pcap { nanosecond: true }));
    assert_ne!(a.1, b.1);
    assert_ne!(a.2, b.2);
}

#[test]
fn byte_target_is_reached_and_bounded() {
    let target = 3_000_000;
    let config = SynthConfig {
        target: Target::Bytes(target),
        concurrency: 16,
        ..SynthConfig::default()
    };
    let (summary, capture, _, _) = run(&config);
    assert_eq!(capture.len() as u64, summary.capture_bytes);
    assert!(summary.capture_bytes >= target);
    // Only the connections in flight when the target is reached are added on top.
    assert!(
        summary.capture_bytes < target * 3,
        "{} bytes for a {target} target",
        summary.capture_bytes
    );
}

#[test]
fn pcapng_output_starts_with_a_section_and_ns_interface() {
    let (_, capture, _, _) = run(&small(3, OutputFormat::PcapNg { tsresol: 9 }));
    assert_eq!(&capture[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
    assert_eq!(&capture[28..32], &[1, 0, 0, 0]); // IDB
    assert_eq!(&capture[44..48], &[9, 0, 1, 0]); // if_tsresol option
    assert_eq!(capture[48], 9);
}

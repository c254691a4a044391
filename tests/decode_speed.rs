//! Decode cost per packet. Ignored by default (timing needs an optimised build):
//! `cargo test --release --test decode_speed -- --ignored --nocapture`.

mod decode_fixtures;

use decode_fixtures::*;
use std::hint::black_box;
use std::time::Instant;
use tracetail::capture::LinkType;
use tracetail::decode::{decode, Transport};

/// Nanoseconds this thread has spent on a CPU (Linux `/proc/thread-self/schedstat`), so that
/// other jobs on a shared machine do not inflate the figure; wall time elsewhere.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn ns_per_packet(link: LinkType, frame: &[u8], rounds: u32) -> f64 {
    let start = Instant::now();
    let start_cpu = cpu_ns();
    let mut sink = 0u64;
    for _ in 0..rounds {
        let d = decode(link, black_box(frame));
        if let Transport::Tcp(tcp) = d.transport {
            sink = sink.wrapping_add(tcp.seq as u64 + tcp.payload.len() as u64);
        }
        sink = sink.wrapping_add(d.layers.as_slice().len() as u64);
    }
    black_box(sink);
    let elapsed = match (start_cpu, cpu_ns()) {
        (Some(a), Some(b)) => b.saturating_sub(a) as f64,
        _ => start.elapsed().as_nanos() as f64,
    };
    elapsed / rounds as f64
}

/// Ethernet header of the SYN fixture + the plain 20+20-byte IPv4/TCP fixture.
fn eth_ipv4_tcp() -> Vec<u8> {
    let mut frame = hex(ETH_IPV4_TCP_SYN)[..14].to_vec();
    frame.extend_from_slice(&hex(RAW_IPV4_TCP));
    frame
}

#[test]
#[ignore]
fn decode_speed() {
    let cases = [
        (
            "unsupported link type (floor)",
            LinkType(105),
            eth_ipv4_tcp(),
        ),
        ("eth/ipv4/tcp", LinkType::ETHERNET, eth_ipv4_tcp()),
        (
            "eth/pppoe/ipv4/tcp",
            LinkType::ETHERNET,
            hex(ETH_PPPOE_IPV4_TCP),
        ),
        (
            "eth/ipv4/tcp syn+options",
            LinkType::ETHERNET,
            hex(ETH_IPV4_TCP_SYN),
        ),
        (
            "eth/qinq/ipv4/udp",
            LinkType::ETHERNET,
            hex(ETH_QINQ_IPV4_UDP),
        ),
        (
            "eth/ipv6/tcp (9100 tag)",
            LinkType::ETHERNET,
            hex(ETH_VLAN9100_IPV6_TCP),
        ),
        ("sll/ipv4/tcp", LinkType::LINUX_SLL, hex(SLL_IPV4_TCP)),
        (
            "eth/gre/erspan/eth/ipv4/tcp",
            LinkType::ETHERNET,
            hex(ETH_GRE_ERSPAN2_ETH_IPV4_TCP),
        ),
    ];
    {
        // Calibration: building and discarding an empty summary.
        let start = cpu_ns().unwrap_or(0);
        for _ in 0..5_000_000u32 {
            black_box(tracetail::decode::Decoded::default());
        }
        let spent = cpu_ns().unwrap_or(0).saturating_sub(start);
        println!(
            "{:32} {:6.1} ns/packet",
            "Decoded::default() (floor)",
            spent as f64 / 5e6
        );
    }
    for (name, link, frame) in &cases {
        ns_per_packet(*link, frame, 1_000_000); // warm up
        let best = (0..5)
            .map(|_| ns_per_packet(*link, frame, 5_000_000))
            .fold(f64::MAX, f64::min);
        println!("{name:32} {best:6.1} ns/packet");
    }
}

#[test]
fn decoded_stays_small() {
    // The summary is returned by value for every packet; keep an eye on its size.
    let size = std::mem::size_of::<tracetail::decode::Decoded<'static>>();
    println!("size_of::<Decoded>() = {size}");
    assert!(size <= 512, "{size}");
}

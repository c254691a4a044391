//! Robustness: every fixture truncated at every length, and ~200k pseudo-random byte flips
//! (fixed-seed xorshift), decoded under every supported link type. Nothing may panic, and
//! every payload slice must lie inside the frame.

mod decode_fixtures;

use decode_fixtures::{hex, ALL};
use tracetail::capture::LinkType;
use tracetail::decode::{decode, Decoded, Transport};

const LINK_TYPES: [u16; 19] = [
    0, 1, 9, 12, 14, 50, 101, 105, 108, 113, 127, 192, 226, 228, 229, 239, 242, 258, 276,
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Checks what can be checked without knowing the packet: payloads are sub-slices of the frame.
fn check(frame: &[u8], d: &Decoded<'_>) {
    let range = frame.as_ptr_range();
    let inside = |payload: &[u8]| {
        payload.is_empty()
            || (range.start <= payload.as_ptr() && payload.as_ptr_range().end <= range.end)
    };
    match d.transport {
        Transport::Tcp(tcp) => assert!(inside(tcp.payload)),
        Transport::Udp(udp) => assert!(inside(udp.payload)),
        _ => {}
    }
    assert!(d.layers.as_slice().len() <= 12);
}

#[test]
fn every_truncation_of_every_fixture() {
    let mut cases = 0;
    for &(link, text) in ALL {
        let frame = hex(text);
        for len in 0..=frame.len() {
            for &lt in &LINK_TYPES {
                let cut = &frame[..len];
                check(cut, &decode(LinkType(lt), cut));
                cases += 1;
            }
            let cut = &frame[..len];
            let d = decode(LinkType(link), cut);
            check(cut, &d);
            // A full frame decodes without problem; a cut one may not, but never panics.
            if len == frame.len() {
                assert_eq!(d.problem, None, "fixture for link type {link}");
            }
        }
    }
    assert!(cases > 10_000);
}

#[test]
fn pseudo_random_byte_flips() {
    let fixtures: Vec<(u16, Vec<u8>)> = ALL.iter().map(|&(lt, text)| (lt, hex(text))).collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut mutated = Vec::with_capacity(256);
    let mut decoded_tcp_or_udp = 0u32;
    for case in 0..200_000u32 {
        let (link, frame) = &fixtures[case as usize % fixtures.len()];
        mutated.clear();
        mutated.extend_from_slice(frame);
        // 1 to 4 flipped bytes, biased towards the header bytes where lengths live.
        let flips = 1 + rng.next() % 4;
        for _ in 0..flips {
            let at = (rng.next() % mutated.len().min(64) as u64) as usize;
            mutated[at] ^= (rng.next() as u8) | 1;
        }
        // Sometimes also cut the frame.
        if rng.next().is_multiple_of(4) {
            let len = (rng.next() % (mutated.len() as u64 + 1)) as usize;
            mutated.truncate(len);
        }
        let link = if rng.next().is_multiple_of(8) {
            LINK_TYPES[(rng.next() % LINK_TYPES.len() as u64) as usize]
        } else {
            *link
        };
        let d = decode(LinkType(link), &mutated);
        check(&mutated, &d);
        if matches!(d.transport, Transport::Tcp(_) | Transport::Udp(_)) {
            decoded_tcp_or_udp += 1;
        }
    }
    // Most mutations leave a decodable packet: the walk did real work, not early exits only.
    assert!(decoded_tcp_or_udp > 50_000, "{decoded_tcp_or_udp}");
}

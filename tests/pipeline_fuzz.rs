//! The whole pass (reader, decoder, flows, reassembly, HTTP, DNS, Scapy keys) on damaged
//! captures: bytes flipped and files cut at random places must never panic, and whatever is
//! reported must still be well-formed.

mod common;

use common::Rng;
use tracetail::pipeline::{analyze_file, PassOptions, Record};

#[test]
fn damaged_captures_never_panic() {
    let original = common::scratch("fuzz", "original.pcap");
    let out = common::tracetail()
        .args(["synth", "-o"])
        .arg(&original)
        .args([
            "--requests",
            "150",
            "--seed",
            "3",
            "--pipeline-prob",
            "0.4",
            "--chunked-prob",
            "0.5",
            "--body-scale",
            "0.2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let bytes = std::fs::read(&original).unwrap();
    let options = PassOptions {
        flows: true,
        transactions: true,
        scapy_keys: true,
        ..Default::default()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let damaged = common::scratch("fuzz", "damaged.pcap");
    let mut transactions = 0u64;
    for round in 0..150 {
        let mut copy = bytes.clone();
        // Flip bytes past the 24-byte file header (a broken header is a plain error).
        let flips = 1 + rng.below(64);
        for _ in 0..flips {
            let at = 24 + rng.below(copy.len() - 24);
            copy[at] ^= 1 << rng.below(8);
        }
        if round % 3 == 0 {
            let cut = 24 + rng.below(copy.len() - 24);
            copy.truncate(cut);
        }
        std::fs::write(&damaged, &copy).unwrap();
        let report = analyze_file(&damaged, &options, &mut |record| {
            if let Record::Http(t) = record {
                transactions += 1;
                // Whatever survived must still be ordered in time.
                if let (Some(first), Some(last)) = (t.request_first_ns, t.request_last_ns) {
                    assert!(first <= last, "round {round}: request first after last");
                }
            }
        })
        .unwrap_or_else(|e| {
            panic!("round {round}: a damaged body must not make the file unreadable: {e}")
        });
        assert!(report.counts.packets > 0, "round {round}: nothing read");
    }
    assert!(
        transactions > 1000,
        "only {transactions} transactions survived 150 rounds: the fuzz is not reaching HTTP"
    );
}

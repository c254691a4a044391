//! `sessions --scapy` against Scapy 2.8's own `sessions()` output on the corpus. The expected
//! files were made by Scapy itself (scripts/scapy_sessions.py).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use tracetail::pipeline::{analyze_file, PassOptions};

/// Captures where we differ from Scapy on purpose. The test fails when a listed file starts
/// matching (drop the note) or an unlisted one differs.
fn known_differences() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        // Scapy cuts Simple Packet Blocks to 14 bytes (it applies the interface snaplen wrongly),
        // so it sees `Ethernet type=9000`; tshark and tracetail decode the full DHCP packets.
        (
            "pcapngtest__le__test010.pcapng",
            "Scapy truncates Simple Packet Blocks",
        ),
        (
            "pcapngtest__le__test016.pcapng",
            "Scapy truncates Simple Packet Blocks",
        ),
        (
            "pcapngtest__le__test018.pcapng",
            "Scapy truncates Simple Packet Blocks",
        ),
        // The last record claims 4 MB and the file ends: Scapy returns the remaining bytes as a
        // packet; we, like tshark, stop at the damaged record with a warning.
        (
            "sv__bug-1450-04__tls_DER-incomplete-header.pcap",
            "Scapy keeps a partial record at a damaged end",
        ),
        // Fuzzed IPv4 headers with impossible fields (IHL < 5, lengths past the frame): Scapy
        // still prints their addresses; we count such packets as malformed, not as IP flows.
        (
            "ndpi__fuzz-2006-06-26-2594.pcap",
            "fuzzed IP headers: Scapy trusts them, we mark them malformed",
        ),
        (
            "ndpi__fuzz-2006-09-29-28586.pcap",
            "fuzzed IP headers: Scapy trusts them, we mark them malformed",
        ),
        (
            "zeek__mpls-6in6-broken.pcap.gz",
            "broken inner IP headers: Scapy trusts them, we mark them malformed",
        ),
    ])
}

#[test]
fn scapy_session_keys_match_scapy() {
    let Some(corpus) = common::corpus_dir("scapy_session_keys_match_scapy") else {
        return;
    };
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scapy_sessions");
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&expected_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(capture) = name.strip_suffix(".json") else {
            continue;
        };
        if capture.starts_with('_') {
            continue;
        }
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let expected: BTreeMap<String, u64> =
            serde_json::from_value(expected["sessions"].clone()).unwrap();
        let options = PassOptions {
            scapy_keys: true,
            ..Default::default()
        };
        let ours = match analyze_file(&corpus.join(capture), &options, &mut |_| {}) {
            Ok(r) => r.scapy_sessions,
            // pcap major version 1 is not a format libpcap or tshark accept; neither do we.
            Err(e) if capture == "libpcap__pcap-invalid-version-1.pcap" => {
                assert!(e.to_string().contains("version"), "{e}");
                continue;
            }
            Err(e) => {
                failures.push(format!("{capture}: Scapy reads it, we fail: {e}"));
                continue;
            }
        };
        compared += 1;
        let known = known_differences();
        if ours == expected {
            if let Some(reason) = known.get(capture) {
                failures.push(format!(
                    "{capture}: now matches Scapy; drop the note '{reason}'"
                ));
            }
        } else if !known.contains_key(capture) {
            let missing: Vec<_> = expected
                .iter()
                .filter(|(k, v)| ours.get(*k) != Some(v))
                .take(3)
                .collect();
            let extra: Vec<_> = ours
                .iter()
                .filter(|(k, v)| expected.get(*k) != Some(v))
                .take(3)
                .collect();
            failures.push(format!(
                "{capture}: expected-but-not-ours {missing:?}; ours-but-not-expected {extra:?}"
            ));
        }
    }
    assert!(compared > 80, "only {compared} captures compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} captures differ from Scapy:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

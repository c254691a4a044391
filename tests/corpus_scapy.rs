//! `sessions --scapy` against Scapy 2.8's own `sessions()` output on the corpus. The expected
//! files were made by Scapy itself (scripts/scapy_sessions.py).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use tracetail::pipeline::{analyze_file, PassOptions};

#[test]
fn scapy_session_keys_match_scapy() {
    let Some(corpus) = common::corpus_dir("scapy_session_keys_match_scapy") else { return };
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scapy_sessions");
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&expected_dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(capture) = name.strip_suffix(".json") else { continue };
        if capture.starts_with('_') {
            continue;
        }
        let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let expected: BTreeMap<String, u64> = serde_json::from_value(expected["sessions"].clone()).unwrap();
        let options = PassOptions { scapy_keys: true, ..Default::default() };
        let ours = match analyze_file(&corpus.join(capture), &options, &mut |_| {}) {
            Ok(r) => r.scapy_sessions,
            Err(e) => {
                failures.push(format!("{capture}: Scapy reads it, we fail: {e}"));
                continue;
            }
        };
        compared += 1;
        if ours != expected {
            let missing: Vec<_> = expected.iter().filter(|(k, v)| ours.get(*k) != Some(v)).take(3).collect();
            let extra: Vec<_> = ours.iter().filter(|(k, v)| expected.get(*k) != Some(v)).take(3).collect();
            failures.push(format!("{capture}: expected-but-not-ours {missing:?}; ours-but-not-expected {extra:?}"));
        }
    }
    assert!(compared > 80, "only {compared} captures compared");
    assert!(failures.is_empty(), "{} of {compared} captures differ from Scapy:\n{}", failures.len(), failures.join("\n"));
}

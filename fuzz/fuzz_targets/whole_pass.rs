//! Coverage-guided (libFuzzer) twin of `tests/fuzz_inputs.rs`'s capture target: one whole
//! pass (reader, decoder, flows, reassembly, HTTP, DNS) per input. Needs nightly:
//! `cargo +nightly fuzz run whole_pass fuzz/corpus/whole_pass ../shared/corpus`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;
use tracetail::pipeline::{analyze_file, PassOptions};

/// The pass reads a path, so each input goes through one scratch file per process.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("tracetail-fuzz-{}", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(scratch(), data).unwrap();
    let options = PassOptions {
        flows: true,
        transactions: true,
        scapy_keys: true,
        ..Default::default()
    };
    let _ = analyze_file(scratch(), &options, &mut |_| {});
});

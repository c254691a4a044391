//! Coverage-guided twin of `tests/fuzz_inputs.rs`'s HdrHistogram target (needs nightly).
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tracetail::stats::hdr;

fuzz_target!(|data: &[u8]| {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(h) = hdr::decode_base64(&text) {
        let _ = hdr::percentile_table(&h, &[50.0, 99.0, 100.0]);
    }
});

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared capture corpus: `$TRACETAIL_CORPUS`, else `../shared/corpus` beside the repo.
/// `None` (and a clear SKIPPED line) when absent, so the tests run anywhere.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TRACETAIL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("oracle").is_dir() {
        Some(dir)
    } else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: corpus {} not found, but CI must run corpus tests",
                dir.display()
            );
        }
        skip_visibly(
            test,
            "../shared/corpus not found (set TRACETAIL_CORPUS to run it)",
        );
        None
    }
}

/// Says a test was skipped where the person running `cargo test` sees it: the harness hides
/// what passing tests print with `eprintln!`, but not what they write to the stderr handle.
pub fn skip_visibly(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\nSKIPPED {test}: {why}");
}

/// Reads a tab-separated file with a header into rows of (column -> value).
pub fn read_tsv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    try_read_tsv(path).unwrap_or_else(|| panic!("{}: cannot read", path.display()))
}

/// As [`read_tsv`], `None` when the file does not exist (or cannot be read).
pub fn try_read_tsv(path: &Path) -> Option<Vec<std::collections::HashMap<String, String>>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split('\t')
        .map(str::to_string)
        .collect();
    Some(
        lines
            .filter(|l| !l.is_empty())
            .map(|line| {
                header
                    .iter()
                    .cloned()
                    .zip(
                        line.split('\t')
                            .map(str::to_string)
                            .chain(std::iter::repeat(String::new())),
                    )
                    .collect()
            })
            .collect(),
    )
}

/// The `tracetail` binary built for these tests.
pub fn tracetail() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_tracetail"))
}

/// A path for a scratch file under the test target directory (`group/name`).
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(group);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes a synthetic capture (`tracetail synth` with `args`) to scratch file `group/name`.
pub fn synth(group: &str, name: &str, args: &[&str]) -> PathBuf {
    let path = scratch(group, name);
    let out = tracetail()
        .args(["synth", "-o"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "synth failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// The client side of a test conversation 10.0.0.1:40000 -> 10.0.0.2:`port` (Ethernet).
pub fn client_endpoints(port: u16) -> tracetail::synth::packet::Endpoints {
    tracetail::synth::packet::Endpoints {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        dst_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: port,
    }
}

/// xorshift64*: deterministic random numbers for mutation tests, no dependency.
#[derive(Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// True once in `one_in` on average.
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

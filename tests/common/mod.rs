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

/// Whether this test runs as root (capturing on `lo` needs it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// Whether `program args` runs successfully here (e.g. `python3 -c "import grpc"`); when
/// not, the test is skipped visibly, and under CI=true it fails.
pub fn require(test: &str, program: &str, args: &[&str], what: &str) -> bool {
    let ok = std::process::Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: {what} is not installed, but CI must run this test");
        }
        skip_visibly(test, &format!("{what} is not installed"));
    }
    ok
}

/// Runs `scripts/NAME --workdir WORK` (a capture script printing a JSON manifest with the
/// tcpdump statistics under `tcpdump`), again when the kernel dropped packets (a busy
/// machine), up to 3 times; the manifest.
pub fn run_capture_script(name: &str, work: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    for _ in 0..3 {
        let out = std::process::Command::new("timeout")
            .arg("120")
            .arg("python3")
            .arg(&script)
            .arg("--workdir")
            .arg(work)
            .output()
            .unwrap_or_else(|e| panic!("run scripts/{name}: {e}"));
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("manifest is JSON");
        let stats = manifest["tcpdump"].as_str().unwrap_or_default();
        if stats
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel")
        {
            return manifest;
        }
    }
    panic!("{name}: tcpdump kept dropping packets");
}

/// One synthetic TCP connection (client [`client_endpoints`]`(port)`, Ethernet) fed to an
/// analyzer segment by segment, its sequence numbers kept: for tests that write a protocol's
/// bytes by hand.
pub struct TcpConversation {
    builder: tracetail::synth::packet::PacketBuilder,
    ends: [tracetail::synth::packet::Endpoints; 2],
    seq: [u32; 2],
}

impl TcpConversation {
    pub fn new(port: u16) -> Self {
        let client = client_endpoints(port);
        TcpConversation {
            builder: tracetail::synth::packet::PacketBuilder::new(),
            ends: [client, client.reversed()],
            seq: [1000, 9000],
        }
    }

    /// Sends `payload` from the client or the server with TCP `flags` (0x02 SYN, 0x12 SYN-ACK,
    /// 0x18 PSH-ACK, 0x11 FIN-ACK...) at capture time `t_ns`; finished events go to `events`.
    pub fn send(
        &mut self,
        analyzer: &mut tracetail::analyzers::TransactionAnalyzer,
        from_server: bool,
        flags: u8,
        payload: &[u8],
        t_ns: i64,
        events: &mut Vec<tracetail::analyzers::Event>,
    ) {
        let me = usize::from(from_server);
        let fields = tracetail::synth::packet::TcpFields {
            seq: self.seq[me],
            ack: self.seq[1 - me],
            flags,
            window: 65535,
        };
        let frame = self
            .builder
            .tcp(&self.ends[me], fields, |p| p.extend_from_slice(payload))
            .to_vec();
        let syn_or_fin = u32::from(flags & 0x03 != 0);
        self.seq[me] = self.seq[me].wrapping_add(payload.len() as u32 + syn_or_fin);
        let packet = tracetail::decode::decode(tracetail::capture::LinkType::ETHERNET, &frame);
        analyzer.on_packet(t_ns, 1, &packet, events);
    }

    /// `n` bytes of one side that the capture never sees (a gap in its stream).
    pub fn skip(&mut self, from_server: bool, n: u32) {
        let me = usize::from(from_server);
        self.seq[me] = self.seq[me].wrapping_add(n);
    }

    /// Moves one side's sequence number `n` bytes back, to send a retransmission.
    pub fn rewind(&mut self, from_server: bool, n: u32) {
        let me = usize::from(from_server);
        self.seq[me] = self.seq[me].wrapping_sub(n);
    }
}

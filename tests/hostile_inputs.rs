//! Hostile inputs (issue 15): each crafted in a few lines here, each with its exact outcome —
//! error text and exit status, memory that stays bounded, answers that do not change.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch("hostile", name)
}

/// Runs `cmd` to the end, failing the test if it takes longer than `limit` (a hang).
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    run_within(cmd, Duration::from_secs(60))
}

/// `tracetail ARGS` with its address space limited to `mib` MiB (`ulimit -v`): an input that
/// makes it allocate more aborts instead of finishing.
fn tracetail_limited(mib: u64, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", mib * 1024))
        .arg(env!("CARGO_BIN_EXE_tracetail"))
        .args(args);
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

// ---- a small valid capture ----

/// Classic pcap (µs, Ethernet) with `n` 60-byte frames one second apart.
fn tiny_pcap(n: u32) -> Vec<u8> {
    let mut file = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    file.extend([2, 0, 4, 0]); // version 2.4
    for v in [0u32, 0, 65535, 1] {
        // thiszone, sigfigs, snaplen, Ethernet
        file.extend(v.to_le_bytes());
    }
    for i in 0..n {
        for v in [1_700_000_000 + i, 0, 60, 60] {
            file.extend(v.to_le_bytes());
        }
        file.extend([0u8; 60]);
    }
    file
}

// ---- item 1: zstd window bomb ----

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// One zstd frame holding `content` in a raw block. `descriptor` and `rest` are the frame
/// header after the magic (window descriptor / content size per RFC 8878 §3.1.1.1).
fn zstd_raw_frame(descriptor: u8, rest: &[u8], content: &[u8]) -> Vec<u8> {
    let mut frame = ZSTD_MAGIC.to_vec();
    frame.push(descriptor);
    frame.extend(rest);
    let block_header = ((content.len() as u32) << 3) | 1; // last block, raw
    frame.extend(&block_header.to_le_bytes()[..3]);
    frame.extend(content);
    frame
}

/// Window descriptor for a window of 2^log bytes.
fn window_log(log: u8) -> u8 {
    (log - 10) << 3
}

#[test]
fn a_zstd_window_bomb_is_refused_without_allocating_it() {
    // 2 GiB window, 140 bytes in all.
    let bomb = scratch("bomb.pcap.zst");
    std::fs::write(&bomb, zstd_raw_frame(0, &[window_log(31)], &tiny_pcap(1))).unwrap();
    let name = bomb.display().to_string();
    // 1 GiB of address space is far more than tracetail needs here, far less than 2 GiB.
    let out = run(&mut tracetail_limited(1024, &["summary", "--json", &name]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().next().unwrap(),
        format!(
            "error: {name}: at byte offset 0 of the decompressed stream: zstd frame at byte 0 \
             of the compressed file needs a 2147483648-byte window, more than the limit of \
             134217728 bytes; if the file is trusted, raise it with --max-zstd-window"
        )
    );

    // Single-segment frame: the window is the declared content size (here 2^40).
    let huge = scratch("huge-content.pcap.zst");
    let size = (1u64 << 40).to_le_bytes();
    std::fs::write(&huge, zstd_raw_frame(0xe0, &size, &tiny_pcap(1))).unwrap();
    let out = run(&mut tracetail_limited(
        1024,
        &["summary", &huge.display().to_string()],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs a 1099511627776-byte window"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_later_zstd_bomb_frame_ends_reading_with_a_warning_naming_its_offset() {
    let capture = tiny_pcap(3);
    let first = zstd_raw_frame(0, &[window_log(20)], &capture[..24 + 2 * 76]);
    let second = zstd_raw_frame(0, &[window_log(33)], &capture[24 + 2 * 76..]);
    let path = scratch("second-bomb.pcap.zst");
    std::fs::write(&path, [first.clone(), second].concat()).unwrap();
    let name = path.display().to_string();
    let out = run(&mut tracetail_limited(1024, &["summary", "--json", &name]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["packets"], 2);
    assert!(
        stderr(&out).contains(&format!(
            "warning: {name}: at byte offset 176 of the decompressed stream: zstd frame at \
             byte {} of the compressed file needs a 8589934592-byte window, more than the limit \
             of 134217728 bytes; if the file is trusted, raise it with --max-zstd-window; \
             reading stops (results cover the data before this point)",
            first.len()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn max_zstd_window_raises_the_limit_and_the_answer_is_the_plain_files() {
    // Two frames of 256 MiB windows (above ruzstd's own 100 MiB limit for a reused decoder).
    let capture = tiny_pcap(4);
    let plain = scratch("big-window.pcap");
    std::fs::write(&plain, &capture).unwrap();
    let zst = scratch("big-window.pcap.zst");
    let half = 24 + 2 * 76;
    std::fs::write(
        &zst,
        [
            zstd_raw_frame(0, &[window_log(28)], &capture[..half]),
            zstd_raw_frame(0, &[window_log(28)], &capture[half..]),
        ]
        .concat(),
    )
    .unwrap();
    let zst_name = zst.display().to_string();
    let refused = run(common::tracetail().args(["summary", &zst_name]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("needs a 268435456-byte window"));

    let raised = run(common::tracetail().args([
        "summary",
        "--json",
        "--max-zstd-window",
        "256M",
        &zst_name,
    ]));
    assert_eq!(raised.status.code(), Some(0), "{}", stderr(&raised));
    assert_eq!(stderr(&raised), "");
    let expected = run(common::tracetail().args(["summary", "--json"]).arg(&plain));
    let (mut got, want) = (stdout_json(&raised), stdout_json(&expected));
    assert_eq!(got["packets"], 4);
    // Only the file's own description differs.
    for key in ["file", "files", "format", "compression"] {
        if let Some(v) = want.get(key) {
            got[key] = v.clone();
        }
    }
    assert_eq!(got, want);

    let too_big = run(common::tracetail().args(["summary", "--max-zstd-window", "4G", &zst_name]));
    assert_eq!(too_big.status.code(), Some(2));
    assert!(stderr(&too_big).contains("must be from 1024 to 2147483648 bytes"));
}

// ---- item 2: HdrHistogram lengths ----

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A plain V2 HdrHistogram header claiming `payload_len` bytes, followed by `payload`.
fn v2_plain(payload_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(0x1c84_9313u32.to_be_bytes());
    v.extend(payload_len.to_be_bytes());
    v.extend(0u32.to_be_bytes()); // normalizing offset
    v.extend(3u32.to_be_bytes()); // significant digits
    v.extend(1u64.to_be_bytes()); // lowest
    v.extend(3_600_000_000_000u64.to_be_bytes()); // highest
    v.extend(1.0f64.to_be_bytes());
    v.extend(payload);
    v
}

fn v2_compressed(plain: &[u8]) -> Vec<u8> {
    let deflated = zlib(plain);
    let mut v = 0x1c84_9314u32.to_be_bytes().to_vec();
    v.extend((deflated.len() as u32).to_be_bytes());
    v.extend(deflated);
    v
}

#[test]
fn hdr_lengths_are_bounded_by_the_bytes_present() {
    let compressed = v2_compressed(&v2_plain(0xffff_fffb, &[2]));
    assert!(compressed.len() <= 64, "{} bytes", compressed.len());
    let cases = [
        (
            "payload.hdr",
            base64(&compressed),
            "HdrHistogram claims a 4294967291-byte payload but only 1 bytes follow",
        ),
        (
            "plain.hdr",
            base64(&v2_plain(0xffff_fffb, &[2])),
            "HdrHistogram claims a 4294967291-byte payload but only 1 bytes follow",
        ),
        (
            "deflate-length.hdr",
            base64(&{
                let mut v = compressed.clone();
                v[4..8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
                v
            }),
            "HdrHistogram claims 4294967280 compressed bytes but only",
        ),
        (
            "short.hdr",
            base64(&v2_plain(0, &[])[..30]),
            "HdrHistogram header cut short (30 of 40 bytes)",
        ),
    ];
    for (name, text, message) in cases {
        let path = scratch(name);
        std::fs::write(&path, format!("{text}\n")).unwrap();
        let out = run(&mut tracetail_limited(
            1024,
            &["merge", &path.display().to_string()],
        ));
        // An unreadable input exits 1 (README: exit status), not 2 and not an abort.
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!("error: {} line 1: {message}", path.display())),
            "{name}: {}",
            stderr(&out)
        );
    }

    // A well-formed histogram (one sample of 1 ms, count 1 at its bucket) still merges.
    let mut h = tracetail::stats::hdr::new_histogram();
    h.record(1_000_000).unwrap();
    let good = scratch("good.hdr");
    tracetail::stats::hdr::save(&h, &good).unwrap();
    let out = run(common::tracetail().args(["merge", "--json"]).arg(&good));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = stdout_json(&out);
    assert_eq!(doc["count"], 1);
    assert_eq!(doc["max"], h.max());
}

// ---- item 7: stats numbers at the ends of f64 ----

#[test]
fn stats_at_the_ends_of_f64_stay_finite_and_the_scatter_plot_finishes() {
    let csv = scratch("extremes.csv");
    std::fs::write(
        &csv,
        "x,y,tiny\n-1e308,1e308,4e-7\n1e308,-1e308,5e-7\n2,4,6e-7\n4,2,5e-7\n",
    )
    .unwrap();
    let svg = scratch("extremes.svg");
    let out = run_within(
        common::tracetail()
            .args(["stats", "--json", "--x", "x", "--y", "y", "-c", "x", "-o"])
            .arg(&svg)
            .arg(&csv),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = stdout_json(&out);
    let x = &doc["columns"][0]["stats"];
    // Compensated summation: (−1e308 + 1e308 + 2 + 4) / 4 exactly.
    assert_eq!(x["mean"], 1.5);
    // Sorted −1e308, 2, 4, 1e308: p50 = 3; p1 sits between −1e308 and 2.
    assert_eq!(x["percentiles"]["50"], 3.0);
    let p1 = x["percentiles"]["1"].as_f64().unwrap();
    assert!((p1 + 0.97e308).abs() < 1e293, "p1 {p1}");
    // The stddev is finite (√(2·10^616/3)) though the variance is not representable.
    let stddev = x["stddev"].as_f64().unwrap();
    assert!(
        (stddev / 8.164_965_809_277_26e307 - 1.0).abs() < 1e-12,
        "{stddev}"
    );
    assert!(x["variance"].is_null(), "an infinite variance is JSON null");
    // y = −x exactly for the two extremes and nearly for the rest: r close to −1.
    let r = doc["regression"]["fit"]["pearson_r"].as_f64().unwrap();
    assert!((r + 1.0).abs() < 1e-12, "r {r}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(roxmltree::Document::parse(&picture).is_ok());

    // Two values ±1e308 apart: numpy's interpolation overflows to −inf; the weighted ends
    // give the midpoint.
    let pair = scratch("pair.csv");
    std::fs::write(&pair, "v\n-1e308\n1e308\n").unwrap();
    let out = run(common::tracetail()
        .args(["stats", "--json", "-c", "v"])
        .arg(&pair));
    assert_eq!(
        stdout_json(&out)["columns"][0]["stats"]["percentiles"]["50"],
        0.0
    );

    // Text mode keeps significant digits of small values.
    let out = run(common::tracetail().args(["stats", "-c", "tiny"]).arg(&csv));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(line("mean"), "5e-7");
    assert_eq!(line("min"), "4e-7");
    assert_eq!(line("p25"), "4.75e-7");
}

// ---- item 8: numeric flags ----

#[test]
fn out_of_range_numeric_flags_are_usage_errors() {
    let capture = scratch("flags.pcap");
    std::fs::write(&capture, tiny_pcap(1)).unwrap();
    let cap = capture.display().to_string();
    let png = scratch("never.png").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "plot",
                &cap,
                "--kind",
                "hist",
                "-o",
                &png,
                "--bins",
                "4294967295",
            ],
            "invalid value '4294967295' for '--bins <BINS>': 4294967295 is not in 1..=10000",
        ),
        (
            &[
                "plot", &cap, "--kind", "hist", "-o", &png, "--width", "100000",
            ],
            "invalid value '100000' for '--width <WIDTH>': 100000 is not in 200..=8000",
        ),
        (
            &[
                "plot", &cap, "--kind", "hist", "-o", &png, "--height", "100000",
            ],
            "invalid value '100000' for '--height <HEIGHT>': 100000 is not in 200..=8000",
        ),
        (
            &["synth", "-o", &png, "--requests", "18446744073709551615"],
            "invalid value '18446744073709551615' for '--requests <REQUESTS>': \
             18446744073709551615 is not in 1..=1000000000",
        ),
        (
            &["http", &cap, "--idle-timeout", "nan"],
            "invalid value 'nan' for '--idle-timeout <SECONDS>': must be a number from 0 \
             to 1000000",
        ),
        (
            &["dns", &cap, "--dns-timeout", "nan"],
            "invalid value 'nan' for '--dns-timeout <SECONDS>': must be a number from 0 \
             to 1000000",
        ),
        (
            &[
                "report",
                &cap,
                "-o",
                &png,
                "--top-sessions",
                "18446744073709551615",
            ],
            "is not in 1..=10000",
        ),
        (
            &["synth", "-o", &png, "--pipeline-prob", "NaN"],
            "must be a number from 0 to 1",
        ),
        (
            &["synth", "-o", &png, "--lognormal-mu", "1e300"],
            "must be a number from -10 to 15",
        ),
    ];
    for (args, message) in cases {
        let out = run(common::tracetail().args(*args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error: invalid value '") && stderr(&out).contains(message),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!Path::new(&png).exists(), "nothing may be written");
}

/// Every option with a numeric default states its range in `--help` (the audit of item 8,
/// kept: a new numeric flag without a range fails here).
#[test]
fn every_numeric_flag_states_its_range_in_help() {
    let commands = [
        "summary", "sessions", "http", "dns", "latency", "plot", "report", "stats", "synth",
        "merge", "export",
    ];
    let mut checked = 0;
    for command in commands {
        let out = run(common::tracetail().args([command, "--help"]));
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        // Option blocks: a line starting with "-" or "--", then its indented description.
        let mut blocks: Vec<String> = Vec::new();
        for line in help.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.starts_with('-') && (2..=6).contains(&indent) {
                blocks.push(String::new());
            }
            if let Some(block) = blocks.last_mut() {
                block.push_str(trimmed);
                block.push(' ');
            }
        }
        for block in blocks {
            let default = block
                .split("[default: ")
                .nth(1)
                .and_then(|d| d.split(']').next())
                .unwrap_or("");
            // Numeric flags without a default are listed by name.
            let numeric = default
                .trim_end_matches(['K', 'M', 'G'])
                .parse::<f64>()
                .is_ok()
                || block.starts_with("--requests ")
                || block.starts_with("--bytes ");
            if !numeric {
                continue;
            }
            checked += 1;
            let states_range =
                block
                    .split(" to ")
                    .zip(block.split(" to ").skip(1))
                    .any(|(before, after)| {
                        before.ends_with(|c: char| c.is_ascii_digit() || c == 'K')
                            && after.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                    });
            assert!(states_range, "{command}: no range in help of: {block}");
        }
    }
    assert!(checked >= 30, "only {checked} numeric flags found");
}

// ---- item 9: exit codes and warning wording ----

#[test]
fn unreadable_csv_exits_1_and_a_missing_column_is_a_usage_error() {
    let bad = scratch("bad.csv");
    std::fs::write(&bad, b"a,b\n1,2\n\xff\xfe,3\n").unwrap();
    let out = run(common::tracetail().args(["stats", "-c", "a"]).arg(&bad));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!("error: reading {}: ", bad.display())),
        "{}",
        stderr(&out)
    );
    let missing = run(common::tracetail().args(["stats", "-c", "a", "/nonexistent/x.csv"]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).starts_with("error: opening /nonexistent/x.csv: "));
    let no_column = run(common::tracetail().args(["stats", "-c", "zzz"]).arg(&bad));
    assert_eq!(no_column.status.code(), Some(2));
    let missing_hdr = run(common::tracetail().args(["merge", "/nonexistent/x.hdr"]));
    assert_eq!(missing_hdr.status.code(), Some(1));
}

/// pcapng: section header, then an enhanced packet block on interface 0 before any interface
/// is described (skipped), then the interface and one good packet.
fn pcapng_with_a_skipped_packet() -> Vec<u8> {
    let block = |kind: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        let mut b = kind.to_le_bytes().to_vec();
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.extend(len.to_le_bytes());
        b
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend((-1i64).to_le_bytes());
    let mut epb = Vec::new();
    for v in [0u32, 0, 1_000_000, 60, 60] {
        epb.extend(v.to_le_bytes());
    }
    epb.extend([0u8; 60]);
    let mut idb = 1u16.to_le_bytes().to_vec();
    idb.extend([0, 0]);
    idb.extend(65535u32.to_le_bytes());
    [
        block(0x0a0d_0d0a, &shb),
        block(6, &epb),
        block(1, &idb),
        block(6, &epb),
    ]
    .concat()
}

#[test]
fn warnings_say_whether_reading_stopped_and_which_offsets_count() {
    let path = scratch("skipped.pcapng");
    std::fs::write(&path, pcapng_with_a_skipped_packet()).unwrap();
    let out = run(common::tracetail().args(["summary", "--json"]).arg(&path));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout_json(&out)["packets"],
        1,
        "the packet after the skip counts"
    );
    assert_eq!(
        stderr(&out),
        format!(
            "warning: {}: at byte offset 28: packet refers to interface 0, but only 0 are \
             defined in this section; packet skipped\n",
            path.display()
        )
    );

    // A gzip file cut inside a record: the offset is in the decompressed stream, and reading
    // stopped there.
    let mut capture = tiny_pcap(2);
    capture.truncate(capture.len() - 10);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&capture).unwrap();
    let cut = scratch("cut.pcap.gz");
    std::fs::write(&cut, gz.finish().unwrap()).unwrap();
    let out = run(common::tracetail().args(["summary", "--json"]).arg(&cut));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out)["packets"], 1);
    let warning = stderr(&out);
    assert!(
        warning.starts_with(&format!(
            "warning: {}: at byte offset 100 of the decompressed stream: file ends in the middle \
             of a packet record",
            cut.display()
        )) && warning
            .trim_end()
            .ends_with("(results cover the data before this point)"),
        "{warning}"
    );
}

/// Whether `tool` runs; otherwise SKIPPED (a failure under CI=true, which installs it).
fn have_tool(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {tool} is not installed (.ci/run installs it)");
    }
    println!("SKIPPED: {tool} not installed");
    false
}

/// Real zstd as the reference: a stream written with `--long=28` (window 2^28, declared
/// because stdin has no size) is refused by zstd's own decoder without `--long=28` and by
/// tracetail without `--max-zstd-window 256M`; with them, both give the plain file. pzstd's
/// output (a skippable frame first, then one frame per chunk) reads as the plain file.
#[test]
fn real_zstd_long_windows_and_pzstd_files() {
    if !(have_tool("zstd") && have_tool("pzstd")) {
        return;
    }
    let plain = scratch("real.pcap");
    std::fs::write(&plain, tiny_pcap(20)).unwrap();
    let long = scratch("real-long.pcap.zst");
    let status = Command::new("sh")
        .arg("-c")
        .arg("zstd -q --long=28 -c < \"$0\" > \"$1\"")
        .arg(&plain)
        .arg(&long)
        .status()
        .unwrap();
    assert!(status.success());
    let zstd_default = Command::new("zstd")
        .args(["-d", "-c"])
        .arg(&long)
        .output()
        .unwrap();
    assert!(
        !zstd_default.status.success(),
        "zstd itself needs --long=28"
    );
    assert!(String::from_utf8_lossy(&zstd_default.stderr).contains("too much memory"));

    let long_name = long.display().to_string();
    let refused = run(common::tracetail().args(["summary", &long_name]));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused)
            .contains("needs a 268435456-byte window, more than the limit of 134217728"),
        "{}",
        stderr(&refused)
    );
    let want = stdout_json(&run(common::tracetail()
        .args(["summary", "--json"])
        .arg(&plain)));
    let raised = run(common::tracetail().args([
        "summary",
        "--json",
        "--max-zstd-window",
        "256M",
        &long_name,
    ]));
    assert_eq!(raised.status.code(), Some(0), "{}", stderr(&raised));
    assert_eq!(stdout_json(&raised)["packets"], want["packets"]);
    assert_eq!(stdout_json(&raised)["duration_ns"], want["duration_ns"]);

    let parallel = scratch("real-pzstd.pcap.zst");
    let status = Command::new("pzstd")
        .args(["-q", "-f", "-p", "2", "-o"])
        .arg(&parallel)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(&parallel).unwrap()[..4],
        [0x50, 0x2a, 0x4d, 0x18]
    );
    let out = run(common::tracetail()
        .args(["summary", "--json"])
        .arg(&parallel));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["packets"], want["packets"]);
}

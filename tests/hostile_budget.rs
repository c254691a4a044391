//! Issue 14: DNS queries never answered and IPv6 fragments that never complete stay under
//! their configured budgets (`--max-dns-pending`, `--max-fragments`, with `--max-flows`):
//! peak memory bounded, a warning for each limit that shed state, and the same output for
//! every `--threads` (the DNS budget is kept per lane, not per worker). TLS secrets carried
//! in the capture are held once, not once per worker.
//!
//! Sizes: 100k queries + 100k fragments here (debug builds are slow); `scripts/bench_hostile.sh`
//! runs 500k of each on the release build.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const QUERIES: u64 = 100_000;
const FRAGMENTS: u64 = 100_000;
const SMALL_BUDGET: [&str; 6] = [
    "--max-dns-pending",
    "2048",
    "--max-fragments",
    "64",
    "--max-flows",
    "5000",
];

fn synth_hostile(name: &str, kind: &str, count: u64) -> PathBuf {
    synth_hostile_per(name, kind, count as usize, 64)
}

/// `synth --hostile KIND --count COUNT --per PER` into this test group's scratch file `name`.
fn synth_hostile_per(name: &str, kind: &str, count: usize, per: usize) -> PathBuf {
    let (count, per) = (count.to_string(), per.to_string());
    common::synth(
        "hostile_budget",
        name,
        &["--hostile", kind, "--count", &count, "--per", &per],
    )
}

/// `/usr/bin/time`, which reports a child's peak RSS; `None` (skipped visibly) when absent
/// outside CI.
fn gnu_time(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/time");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: /usr/bin/time not found, but CI must measure peak memory");
    }
    common::skip_visibly(test, "/usr/bin/time not found (apt-get install time)");
    None
}

struct Run {
    stdout: Vec<u8>,
    stderr: String,
    peak_rss_kib: u64,
}

/// `tracetail dns --json` over `files` with `extra` flags, under `/usr/bin/time`.
fn run(time: &Path, files: &[&Path], extra: &[&str]) -> Run {
    run_command(time, &["dns", "--json"], files, extra)
}

/// `tracetail` with `command` over `files` with `extra` flags, under `/usr/bin/time`.
fn run_command(time: &Path, command: &[&str], files: &[&Path], extra: &[&str]) -> Run {
    let out = Command::new(time)
        .args(["-f", "peak-rss-kib %M"])
        .arg(env!("CARGO_BIN_EXE_tracetail"))
        .args(command)
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let peak_rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|v| v.trim().parse().ok())
        .expect("peak RSS line");
    Run {
        stdout: out.stdout,
        stderr,
        peak_rss_kib,
    }
}

/// The rows and warnings of `one` (one worker) are those of 2 and 3 workers.
fn assert_same_with_more_workers(time: &Path, files: &[&Path], limits: &[&str], one: &Run) {
    for threads in ["2", "3"] {
        let many = run(time, files, &[&["--threads", threads][..], limits].concat());
        assert_eq!(many.stdout, one.stdout, "{threads} workers: rows differ");
        assert_eq!(
            warning_lines(&many.stderr),
            warning_lines(&one.stderr),
            "{threads} workers: warnings differ"
        );
    }
}

/// The warning lines of a run's standard error.
fn warning_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning"))
        .map(str::to_string)
        .collect()
}

#[test]
fn unanswered_dns_and_unfinished_fragments_stay_within_the_budget() {
    let test = "unanswered_dns_and_unfinished_fragments_stay_within_the_budget";
    let Some(time) = gnu_time(test) else {
        return;
    };
    let dns = synth_hostile("dns.pcap", "dns-unanswered", QUERIES);
    let fragments = synth_hostile("fragments.pcap", "ipv6-fragments", FRAGMENTS);
    let files = [dns.as_path(), fragments.as_path()];

    // Large enough for the whole trace (the default DNS budget, every fragment).
    let large = run(
        &time,
        &files,
        &["--threads", "1", "--max-fragments", "1000000"],
    );
    let small = run(
        &time,
        &files,
        &[&["--threads", "1"][..], &SMALL_BUDGET].concat(),
    );

    // Every query is one row, unanswered, whatever the budget: shedding reports a query
    // unanswered before its timeout instead of at it.
    let rows = small.stdout.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(rows as u64, QUERIES);
    assert_eq!(small.stdout, large.stdout, "the budget changed the rows");
    for warning in [
        "DNS pending-query budget (--max-dns-pending)",
        "IP fragment budget (--max-fragments)",
    ] {
        assert!(small.stderr.contains(warning), "{}", small.stderr);
        assert!(!large.stderr.contains(warning), "{}", large.stderr);
    }
    // Memory: the large budget holds all 100k queries (and their flows) and fragments at once;
    // the small one a few thousand.
    assert!(
        small.peak_rss_kib < 64 * 1024,
        "peak RSS {} KiB under the small budget",
        small.peak_rss_kib
    );
    assert!(
        small.peak_rss_kib * 2 < large.peak_rss_kib,
        "small budget {} KiB, default {} KiB",
        small.peak_rss_kib,
        large.peak_rss_kib
    );

    // The same rows and warnings with any number of workers.
    assert_same_with_more_workers(&time, &files, &SMALL_BUDGET, &small);
}

/// `--memory-budget`: one figure for all held state. A SYN flood, unanswered DNS queries and
/// never-completed fragments together stay under a 32 MiB budget (peak RSS above the same
/// command's on a tiny capture; the held flows reported never above their share), every
/// limit that shed state names the budget, and the rows
/// and warnings are the same for 1, 2 and 3 workers.
#[test]
fn one_memory_budget_bounds_a_syn_flood_dns_and_fragments_together() {
    let test = "one_memory_budget_bounds_a_syn_flood_dns_and_fragments_together";
    let Some(time) = gnu_time(test) else {
        return;
    };
    const EACH: u64 = 50_000;
    let syn = synth_hostile("budget-syn.pcap", "syn-flood", EACH);
    let dns = synth_hostile("budget-dns.pcap", "dns-unanswered", EACH);
    let fragments = synth_hostile("budget-fragments.pcap", "ipv6-fragments", EACH);
    let tiny = common::synth("hostile_budget", "budget-tiny.pcap", &["--requests", "10"]);
    let files = [syn.as_path(), dns.as_path(), fragments.as_path()];
    const BUDGET: [&str; 2] = ["--memory-budget", "32M"];

    let baseline = run(
        &time,
        &[tiny.as_path()],
        &[&["--threads", "1"][..], &BUDGET].concat(),
    );
    let default = run(&time, &files, &["--threads", "1"]);
    let small = run(&time, &files, &[&["--threads", "1"][..], &BUDGET].concat());

    let rows = small.stdout.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(rows as u64, EACH, "one row per query");
    for flag in ["--max-flows", "--max-dns-pending", "--max-fragments"] {
        let hint = format!("[{flag} was its share of --memory-budget = 32.00 MiB");
        assert!(small.stderr.contains(&hint), "{flag}: {}", small.stderr);
    }
    assert!(
        !default.stderr.contains("--memory-budget"),
        "{}",
        default.stderr
    );
    // The held state each file reached, beside its limit: flows never above theirs.
    let notes: Vec<&str> = small
        .stderr
        .lines()
        .filter(|l| l.starts_with("note:") && l.contains("under --memory-budget = 32.00 MiB"))
        .collect();
    assert_eq!(notes.len(), files.len(), "{}", small.stderr);
    for note in notes {
        let number = |after: &str| -> u64 {
            let rest = &note[note.find(after).expect(after) + after.len()..];
            let digits: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(char::is_ascii_digit)
                .collect();
            digits.parse().expect(after)
        };
        let (held, limit) = (number("held at most "), number("flows (limit "));
        assert!(held <= limit && limit < 10_000, "{note}");
    }
    let held_kib = small.peak_rss_kib.saturating_sub(baseline.peak_rss_kib);
    assert!(
        held_kib < 32 * 1024,
        "{held_kib} KiB held above the baseline ({} KiB) under a 32 MiB budget",
        baseline.peak_rss_kib
    );
    // State held, not the binary's own footprint (a debug build's baseline is ~2x a release
    // build's): the budget keeps it under half of what the default holds.
    let default_held_kib = default.peak_rss_kib.saturating_sub(baseline.peak_rss_kib);
    assert!(
        held_kib * 2 < default_held_kib,
        "held above the baseline ({} KiB): 32 MiB budget {held_kib} KiB, default \
         {default_held_kib} KiB",
        baseline.peak_rss_kib
    );

    assert_same_with_more_workers(&time, &files, &BUDGET, &small);
}

/// The flow ids of a `sessions` table's rows, in the order written.
fn table_ids(stdout: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The `sessions` table streams as flows end (it held every row until the end, and so
/// ignored the flow budget: 277 MB for a 500k SYN flood under `--memory-budget 64M`): under
/// a budget it holds little, in order of first packet; rows that wait past the flow limit
/// go out early, with a warning, and none is lost.
#[test]
fn the_sessions_table_streams_within_the_flow_budget() {
    let test = "the_sessions_table_streams_within_the_flow_budget";
    let Some(time) = gnu_time(test) else {
        return;
    };
    const SYNS: u64 = 100_000;
    let syn = synth_hostile("table-syn.pcap", "syn-flood", SYNS);
    let sessions = ["sessions", "--threads", "1"];
    const BUDGET: [&str; 2] = ["--memory-budget", "16M"];
    // The baseline reads the same file and keeps no flows: the capture's pages that are
    // resident while it is read (~7 MB here) are not state the budget covers (a tiny trace
    // as the baseline left 16.1-16.7 MiB in release builds, mostly those pages).
    let baseline = run_command(&time, &["summary"], &[syn.as_path()], &[]);
    let default = run_command(&time, &sessions, &[syn.as_path()], &[]);
    let small = run_command(&time, &sessions, &[syn.as_path()], &BUDGET);

    let ids = table_ids(&small.stdout);
    assert_eq!(ids, (0..SYNS).collect::<Vec<_>>(), "every flow, in order");
    assert!(
        String::from_utf8_lossy(&small.stdout).ends_with("100,000 conversations\n"),
        "closing line"
    );
    assert!(!small.stderr.contains("out of order"), "{}", small.stderr);
    let held_kib = small.peak_rss_kib.saturating_sub(baseline.peak_rss_kib);
    let default_held_kib = default.peak_rss_kib.saturating_sub(baseline.peak_rss_kib);
    assert!(
        held_kib < 16 * 1024 && held_kib * 4 < default_held_kib,
        "held above the baseline ({} KiB): 16 MiB budget {held_kib} KiB, default \
         {default_held_kib} KiB",
        baseline.peak_rss_kib
    );

    // Connections open across many others', and room for 10 flows: rows go out early, each
    // once.
    let mixed = common::synth(
        "hostile_budget",
        "table-mixed.pcap",
        &["--requests", "3000", "--body-scale", "0.01", "--seed", "42"],
    );
    let tight = ["--max-flows", "10"];
    let table = run_command(&time, &sessions, &[mixed.as_path()], &tight);
    let json = run_command(&time, &["sessions", "--json"], &[mixed.as_path()], &tight);
    let mut ids = table_ids(&table.stdout);
    let early = ids.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(early > 0, "expected rows out of order with 10 flows");
    let warning = table
        .stderr
        .lines()
        .find(|l| l.contains("printed out of order of first packet"))
        .unwrap_or_else(|| panic!("no out-of-order warning: {}", table.stderr));
    assert!(warning.contains("more than 10 waited"), "{warning}");
    ids.sort_unstable();
    let json_rows = json.stdout.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        ids,
        (0..json_rows as u64).collect::<Vec<_>>(),
        "each flow once"
    );
}

/// What a `--memory-budget` note says was held at most of `what` (`finished rows waiting
/// for their time order`), and its limit.
fn note_peak(stderr: &str, what: &str) -> (u64, u64) {
    let number = |s: &str| -> u64 {
        let digits: String = s
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().expect("a number")
    };
    let note = stderr
        .lines()
        .find(|l| l.starts_with("note:"))
        .unwrap_or_else(|| panic!("no note: {stderr}"));
    let (before, after) = note.split_once(what).expect(what);
    let held = before.trim_end().rsplit(' ').next().expect("held");
    let limit = after.trim_start().strip_prefix("(limit ").expect("limit");
    (number(held), number(limit))
}

/// A response still streaming when the capture ends holds back every row after its request,
/// so that rows come out in time order: 40,000 rows here. Under `--max-held-rows` at most
/// that many wait (plus the rows of one epoch), the earliest are written anyway, and the
/// warning counts the rows written after a later one, which are exactly those out of order
/// in the output (the stream's own row); every row is written once, the same for every
/// `--threads`.
#[test]
fn rows_held_behind_a_streaming_response_stay_within_their_budget() {
    let test = "rows_held_behind_a_streaming_response_stay_within_their_budget";
    let Some(time) = gnu_time(test) else {
        return;
    };
    // 60k rows (~24 MB) wait behind the stream, well above the 16 MiB asked of the limit
    // below (8,000 connections' ~16 MB made the margin depend on how the rest was allocated).
    const CONNECTIONS: usize = 12_000;
    let held = synth_hostile_per("held-back.pcap", "held-back", CONNECTIONS, 5);
    let files = [held.as_path()];
    let http = ["http", "--json", "--threads", "1"];
    // A budget far above everything else, so that the note gives the peaks.
    let budget = ["--memory-budget", "1T"];
    let default = run_command(&time, &http, &files, &budget);
    let limited_flags = [&budget[..], &["--max-held-rows", "500"]].concat();
    let limited = run_command(&time, &http, &files, &limited_flags);

    let what = "finished rows waiting for their time order";
    let (default_peak, _) = note_peak(&default.stderr, what);
    let (peak, limit) = note_peak(&limited.stderr, what);
    assert!(
        default_peak > 40_000,
        "every row waited: {}",
        default.stderr
    );
    assert_eq!(limit, 500);
    assert!(peak < 500 + 4096, "held {peak} rows under a limit of 500");
    assert!(
        limited.peak_rss_kib + 16 * 1024 < default.peak_rss_kib,
        "peak RSS {} KiB under the limit, {} KiB without",
        limited.peak_rss_kib,
        default.peak_rss_kib
    );

    let starts = |stdout: &[u8]| -> Vec<(u64, String)> {
        String::from_utf8_lossy(stdout)
            .lines()
            .map(|l| {
                let row: serde_json::Value = serde_json::from_str(l).expect("a JSON row");
                (
                    row["request_first_ns"].as_u64().expect("start"),
                    l.to_string(),
                )
            })
            .collect()
    };
    let later_than_written = |rows: &[(u64, String)]| {
        let mut latest = 0;
        rows.iter()
            .filter(|(start, _)| {
                latest = latest.max(*start);
                *start < latest
            })
            .count()
    };
    let (in_order, early) = (starts(&default.stdout), starts(&limited.stdout));
    assert_eq!(in_order.len(), CONNECTIONS * 5 + 1);
    assert_eq!(
        later_than_written(&in_order),
        0,
        "time order without a limit"
    );
    assert!(
        !default.stderr.contains("--max-held-rows"),
        "{}",
        default.stderr
    );
    let warning = limited
        .stderr
        .lines()
        .find(|l| l.contains("(--max-held-rows 500)"))
        .unwrap_or_else(|| panic!("no warning: {}", limited.stderr));
    let out_of_order = later_than_written(&early);
    assert_eq!(out_of_order, 1, "the stream's row comes last");
    assert!(
        warning.contains(" 1 row was written after a row that starts later"),
        "{warning}"
    );
    let sorted = |mut rows: Vec<(u64, String)>| {
        rows.sort();
        rows
    };
    assert_eq!(sorted(early), sorted(in_order), "the same rows");

    for threads in ["2", "3"] {
        let many_flags = [&limited_flags[..], &["--threads", threads]].concat();
        let many = run_command(&time, &["http", "--json"], &files, &many_flags);
        assert_eq!(
            many.stdout, limited.stdout,
            "{threads} workers: rows differ"
        );
        assert_eq!(
            warning_lines(&many.stderr),
            warning_lines(&limited.stderr),
            "{threads} workers: warnings differ"
        );
    }
}

/// A response segment that answers 100 pipelined requests finishes 100 rows: an epoch of
/// such packets makes ~30 MB of rows. Workers that ran several epochs ahead of the merger
/// held them all (4,000 connections, 8 workers: 203 MB against 39 MB on one thread); past
/// the bytes `--max-held-rows` allows between the threads, epochs now go one at a time.
#[test]
fn rows_finished_in_bursts_wait_between_the_threads_one_epoch_at_a_time() {
    let test = "rows_finished_in_bursts_wait_between_the_threads_one_epoch_at_a_time";
    let Some(time) = gnu_time(test) else {
        return;
    };
    const CONNECTIONS: usize = 4_000;
    let burst = synth_hostile_per("pipelined-burst.pcap", "pipelined-burst", CONNECTIONS, 100);
    let files = [burst.as_path()];
    // A budget far above everything else, so that the note gives the peaks.
    let http = [
        "http",
        "--json",
        "--memory-budget",
        "1T",
        "--max-held-rows",
        "1000",
    ];
    let one = run_command(&time, &http, &files, &["--threads", "1"]);
    assert_eq!(
        String::from_utf8_lossy(&one.stdout).lines().count(),
        CONNECTIONS * 100
    );
    let eight = run_command(&time, &http, &files, &["--threads", "8"]);
    assert_eq!(eight.stdout, one.stdout, "8 workers: rows differ");
    assert_eq!(
        warning_lines(&eight.stderr),
        warning_lines(&one.stderr),
        "8 workers: warnings differ"
    );
    assert!(
        eight.peak_rss_kib < one.peak_rss_kib + 100 * 1024,
        "8 workers: {} KiB of peak RSS, 1 worker: {} KiB",
        eight.peak_rss_kib,
        one.peak_rss_kib
    );
    // The note reports what was on its way: at most the limit (1,000 rows: ~1 MiB) and
    // one epoch's rows (~30 MB here; three epochs, ~90 MB, before).
    let what = "of rows on their way to be written";
    assert!(!one.stderr.contains(what), "one thread hands over no rows");
    let note = eight.stderr.lines().find(|l| l.starts_with("note:"));
    let note = note.unwrap_or_else(|| panic!("no note: {}", eight.stderr));
    let (before, after) = note.split_once(what).expect(what);
    let mib = |text: &str| -> f64 {
        let mut words = text.split_whitespace();
        let number: f64 = words.next().and_then(|n| n.parse().ok()).expect("a size");
        match words.next().map(|unit| unit.trim_end_matches([',', ')'])) {
            Some("B") => number / 1048576.0,
            Some("KiB") => number / 1024.0,
            Some("MiB") => number,
            Some("GiB") => number * 1024.0,
            unit => panic!("unit {unit:?} in {text}"),
        }
    };
    let peak = mib(before.rsplit(", ").next().expect("the peak"));
    let limit = mib(after.trim_start().strip_prefix("(limit ").expect("limit"));
    assert!((limit - 1000.0 / 1024.0).abs() < 0.01, "{note}");
    assert!(
        peak > limit && peak < limit + 48.0,
        "{peak} MiB on their way to be written: {note}"
    );
}

/// `sessions --json --http2` streams its rows as flows end (an HTTP/2 conversation's figures
/// come just before its flow record): it held every row to the end to join them, so its
/// memory grew with the capture (a 500k SYN flood under `--memory-budget 16M`: 143 MB). Now
/// three times the flood holds no more (bounded structures fill up to 100k flows).
#[test]
fn sessions_with_http2_figures_streams_within_the_flow_budget() {
    let test = "sessions_with_http2_figures_streams_within_the_flow_budget";
    let Some(time) = gnu_time(test) else {
        return;
    };
    let small = synth_hostile("h2-syn-100k.pcap", "syn-flood", 100_000);
    let large = synth_hostile("h2-syn-300k.pcap", "syn-flood", 300_000);
    let sessions = ["sessions", "--json", "--http2", "--threads", "1"];
    const BUDGET: [&str; 2] = ["--memory-budget", "16M"];
    let small = run_command(&time, &sessions, &[small.as_path()], &BUDGET);
    let large = run_command(&time, &sessions, &[large.as_path()], &BUDGET);
    assert_eq!(
        large.stdout.iter().filter(|&&b| b == b'\n').count(),
        300_000
    );
    let grown_kib = large.peak_rss_kib.saturating_sub(small.peak_rss_kib);
    assert!(
        grown_kib < 4 * 1024,
        "100k flows: {} KiB, 300k flows: {} KiB",
        small.peak_rss_kib,
        large.peak_rss_kib
    );
}

/// A pcapng block: type, total length, `body` padded to 4 bytes, total length again.
fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut block = kind.to_le_bytes().to_vec();
    block.extend_from_slice(&total.to_le_bytes());
    block.extend_from_slice(body);
    block.resize(8 + padded, 0);
    block.extend_from_slice(&total.to_le_bytes());
    block
}

/// A pcapng capture: a Decryption Secrets Block of `keys` TLS key log lines (made-up client
/// randoms), then `packets` TCP segments on as many connections.
fn capture_with_secrets_block(name: &str, keys: u32, packets: u32) -> PathBuf {
    use tracetail::synth::packet::{tcp_flags, Endpoints, PacketBuilder, TcpFields};
    let mut file = Vec::new();
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]); // version 1.0
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    file.extend(pcapng_block(0x0A0D_0D0A, &shb));
    file.extend(pcapng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0])); // Ethernet, no snaplen
    let mut text = String::new();
    for k in 0..keys {
        text.push_str(&format!("CLIENT_RANDOM {k:064x} {}\n", "ab".repeat(48)));
    }
    let mut dsb = 0x544C_534Bu32.to_le_bytes().to_vec(); // TLS key log
    dsb.extend_from_slice(&(text.len() as u32).to_le_bytes());
    dsb.extend_from_slice(text.as_bytes());
    file.extend(pcapng_block(0x0000_000A, &dsb));
    let mut builder = PacketBuilder::new();
    for p in 0..packets {
        let ends = Endpoints {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: std::net::Ipv4Addr::new(10, 0, (p >> 8) as u8, p as u8).into(),
            dst_ip: std::net::Ipv4Addr::new(192, 0, 2, 1).into(),
            src_port: 40_000,
            dst_port: 443,
        };
        let fields = TcpFields {
            seq: 1,
            ack: 1,
            flags: tcp_flags::ACK,
            window: 65535,
        };
        let frame = builder.tcp(&ends, fields, |b| {
            b.extend_from_slice(b"\x16\x03\x01\x00\x05hello")
        });
        let mut epb = 0u32.to_le_bytes().to_vec(); // interface 0
        let ts = 1_700_000_000_000_000u64 + u64::from(p); // microseconds
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        file.extend(pcapng_block(6, &epb));
    }
    let path = common::scratch("hostile_budget", name);
    std::fs::write(&path, file).unwrap();
    path
}

/// Issue 14: the TLS secrets a capture carries (pcapng Decryption Secrets Blocks) are held
/// once, whatever the number of workers: every worker had merged each block into a copy of
/// its own (a 176 MB block of 1 M secrets took 0.9 GB with one worker, 4 GB with two and
/// 16 GB with eight; now 0.7 GB each).
#[test]
fn tls_secrets_blocks_are_held_once_whatever_the_workers() {
    let Some(time) = gnu_time("tls_secrets_blocks_are_held_once_whatever_the_workers") else {
        return;
    };
    let path = capture_with_secrets_block("secrets-block.pcapng", 200_000, 2000);
    let one = run_command(&time, &["http", "--json"], &[&path], &["--threads", "1"]);
    let out = Command::new(&time)
        .args(["-f", "peak-rss-kib %M"])
        .arg(env!("CARGO_BIN_EXE_tracetail"))
        .args(["http", "--json", "--threads", "8"])
        .arg(&path)
        // Threads planned as on a machine of 8 cores: a split front and 8 workers.
        .env("TRACETAIL_BENCH_CORES", "8")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let eight: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib "))
        .and_then(|v| v.trim().parse().ok())
        .expect("peak RSS line");
    assert_eq!(out.stdout, one.stdout);
    // 200,000 secrets take ~70 MiB: a copy per worker would add ~500 MiB.
    assert!(
        eight < one.peak_rss_kib + 64 * 1024,
        "8 workers: {eight} KiB of peak RSS, 1 worker: {} KiB",
        one.peak_rss_kib
    );
}

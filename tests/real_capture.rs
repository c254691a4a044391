//! A real capture made by real programs: tcpdump on `lo` records a Python http.server talking
//! HTTP/1.1 to real clients (http.client keep-alive, a raw socket that pipelines, curl when
//! installed; IPv4 and, when it binds, IPv6). `scripts/real_capture.py` makes the traffic and
//! prints a manifest of what the clients sent and got back; tracetail must find exactly those
//! transactions, each paired with the right response, with complete ordered timestamps.
//!
//! Needs root, tcpdump and python3; otherwise prints "SKIPPED: ..." and passes, except that
//! with CI=true a missing tcpdump or python3 is a failure (CI is expected to install them).

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The whole test, tcpdump start to last check, must finish within this.
const TEST_BUDGET: Duration = Duration::from_secs(55);

/// Flags that must not appear on any transaction of a clean loopback capture.
const BAD_FLAGS: [&str; 6] = [
    "unanswered",
    "gap",
    "request_incomplete",
    "response_incomplete",
    "malformed",
    "orphan_response",
];

/// A child process that is killed when dropped, so a failing assertion never leaves tcpdump,
/// the script or its server running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The effective uid from /proc (no libc dependency just for geteuid).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn skip_or_fail_in_ci(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but {why}");
    }
    println!("SKIPPED: {why}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for `child` until `deadline`; kills it and returns None when it is still running then.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` with stdout and stderr to files in `dir` (no pipe can fill up and stall it),
/// bounded by `deadline`. Returns (stdout, stderr); panics on timeout or failure.
fn run_bounded(mut cmd: Command, dir: &Path, name: &str, deadline: Instant) -> (String, String) {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = Reaped(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}")),
    );
    let status = wait_until(&mut child.0, deadline);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        None => panic!("{name}: still running at the deadline; stderr:\n{stderr}"),
        Some(s) if !s.success() => panic!("{name}: {s}; stderr:\n{stderr}\nstdout:\n{stdout}"),
        Some(_) => (stdout, stderr),
    }
}

/// tcpdump's closing statistics: "N packets captured" and "M packets dropped by kernel".
fn tcpdump_count(lines: &[String], what: &str) -> Option<u64> {
    lines
        .iter()
        .find_map(|l| l.strip_suffix(what)?.trim().parse().ok())
}

fn field_ns(t: &Value, key: &str) -> Option<i64> {
    t.get(key)?.as_i64()
}

#[test]
fn real_loopback_capture_matches_what_the_clients_saw() {
    let started = Instant::now();
    let deadline = started + TEST_BUDGET;
    let Some(tcpdump) = find_program("tcpdump") else {
        return skip_or_fail_in_ci("tcpdump is not installed");
    };
    let Some(python) = find_program("python3") else {
        return skip_or_fail_in_ci("python3 is not installed");
    };
    if effective_uid() != Some(0) {
        println!("SKIPPED: capturing on lo needs root");
        return;
    }

    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("real_capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("real.pcap");
    let port = free_port();

    // 1. tcpdump, limited to this test's port so parallel tests and other traffic stay out,
    //    with a 32 MiB buffer (the default 2 MiB dropped 17 packets on a loaded CI machine).
    let mut capture = Reaped(
        Command::new(&tcpdump)
            .args(["-i", "lo", "-n", "-U", "-B", "32768", "-s", "0", "-w"])
            .arg(&pcap)
            .arg(format!("tcp port {port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tcpdump"),
    );
    let (line_tx, line_rx) = mpsc::channel::<String>();
    let stderr = capture.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut tcpdump_lines = Vec::new();
    let listening_deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match line_rx.recv_timeout(listening_deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let listening = line.contains("listening on lo");
                tcpdump_lines.push(line);
                if listening {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // tcpdump exited: it cannot capture here (no lo, no permission, ...).
                println!(
                    "SKIPPED: tcpdump cannot capture on lo: {}",
                    tcpdump_lines.join(" | ")
                );
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("tcpdump did not report listening: {tcpdump_lines:?}")
            }
        }
    }

    // 2 + 3. Server and clients: the script runs both and prints the manifest.
    let mut script = Command::new(&python);
    script
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/real_capture.py"))
        .args(["--port", &port.to_string(), "--workdir"])
        .arg(&dir);
    let (manifest_text, _) = run_bounded(
        script,
        &dir,
        "real_capture.py",
        Instant::now() + Duration::from_secs(40),
    );
    let manifest: Value = serde_json::from_str(&manifest_text).expect("manifest is JSON");
    let requests = manifest["requests"].as_array().expect("manifest.requests");
    assert!(
        requests.len() >= 30,
        "too few requests in the manifest: {}",
        requests.len()
    );

    // 4. Let the last FINs reach tcpdump, then stop it with SIGINT so it flushes and reports.
    std::thread::sleep(Duration::from_millis(500));
    // Through sh, whose builtin kill exists even where procps is not installed.
    let kill = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -INT {}", capture.0.id()))
        .status()
        .expect("run kill");
    assert!(kill.success(), "kill -INT tcpdump failed");
    let status = wait_until(&mut capture.0, Instant::now() + Duration::from_secs(10))
        .expect("tcpdump did not stop on SIGINT");
    tcpdump_lines.extend(line_rx.iter());
    assert!(status.success(), "tcpdump: {status}: {tcpdump_lines:?}");
    let captured =
        tcpdump_count(&tcpdump_lines, "packets captured").expect("tcpdump's packet count");
    let dropped = tcpdump_count(&tcpdump_lines, "packets dropped by kernel").unwrap_or(0);
    assert_eq!(
        dropped, 0,
        "the kernel dropped packets, the capture is incomplete: {tcpdump_lines:?}"
    );

    let bin = env!("CARGO_BIN_EXE_tracetail");
    let mut http = Command::new(bin);
    http.arg("http").arg(&pcap).arg("--json");
    let (http_out, _) = run_bounded(http, &dir, "tracetail-http", deadline);
    let transactions: Vec<Value> = http_out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();

    let mut summary = Command::new(bin);
    summary.arg("summary").arg(&pcap).arg("--json");
    let (summary_out, _) = run_bounded(summary, &dir, "tracetail-summary", deadline);
    let summary: Value = serde_json::from_str(summary_out.trim()).expect("summary is JSON");

    // Every mismatch is collected, so one run shows everything that is wrong.
    let mut problems: Vec<String> = Vec::new();
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg)
        }
    };

    // 5. Summary: every captured packet is TCP, and tracetail read all tcpdump wrote.
    check(
        summary["packets"].as_u64() == Some(captured),
        format!(
            "summary.packets {} != tcpdump's {captured}",
            summary["packets"]
        ),
    );
    check(
        summary["tcp"] == summary["packets"],
        format!(
            "summary.tcp {} != packets {}",
            summary["tcp"], summary["packets"]
        ),
    );
    check(
        summary["udp"].as_u64() == Some(0),
        format!("summary.udp {} != 0", summary["udp"]),
    );

    // Same number of transactions as requests, and the same (method, uri, status) multiset.
    check(
        transactions.len() == requests.len(),
        format!(
            "{} transactions for {} requests sent",
            transactions.len(),
            requests.len()
        ),
    );
    let triple = |v: &Value| {
        format!(
            "{} {} {}",
            v["method"].as_str().unwrap_or("?"),
            v["uri"].as_str().unwrap_or("?"),
            v["status"]
        )
    };
    let multiset = |items: &[Value]| {
        let mut m = BTreeMap::<String, usize>::new();
        for v in items {
            *m.entry(triple(v)).or_default() += 1;
        }
        m
    };
    let (sent, seen) = (multiset(requests), multiset(&transactions));
    for (k, n) in &sent {
        check(
            seen.get(k) == Some(n),
            format!(
                "request {k:?} sent {n}x, found {}x",
                seen.get(k).copied().unwrap_or(0)
            ),
        );
    }
    for (k, n) in &seen {
        check(
            sent.contains_key(k),
            format!("transaction {k:?} ({n}x) was never sent"),
        );
    }

    // Each request (its uri is unique) on the right connection, with the right body size.
    let by_uri: HashMap<&str, &Value> = transactions
        .iter()
        .filter_map(|t| Some((t["uri"].as_str()?, t)))
        .collect();
    for r in requests {
        let uri = r["uri"].as_str().unwrap();
        let Some(t) = by_uri.get(uri) else { continue };
        check(
            t["client_ip"] == r["client_ip"] && t["client_port"] == r["client_port"],
            format!(
                "{uri}: client {}:{} but curl/python used {}:{}",
                t["client_ip"], t["client_port"], r["client_ip"], r["client_port"]
            ),
        );
        check(
            t["server_port"].as_u64() == Some(port as u64),
            format!("{uri}: server_port {}", t["server_port"]),
        );
        let server_ip = if r["client_ip"] == "::1" {
            "::1"
        } else {
            "127.0.0.1"
        };
        check(
            t["server_ip"] == server_ip,
            format!("{uri}: server_ip {}", t["server_ip"]),
        );
        // The client counts decoded body bytes; for a chunked body tracetail may count the
        // decoded bytes or the bytes on the wire (chunk framing included), never fewer.
        let (counted, read) = (t["response_body_bytes"].as_u64(), r["body_bytes"].as_u64());
        let body_ok = if r["chunked"] == true {
            counted >= read
        } else {
            counted == read
        };
        check(
            body_ok,
            format!("{uri}: response_body_bytes {counted:?} but the client read {read:?}"),
        );
    }

    // Flags and timestamps.
    for t in &transactions {
        let name = triple(t);
        let flags: Vec<&str> = t["flags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for bad in flags.iter().filter(|f| BAD_FLAGS.contains(f)) {
            check(false, format!("{name}: flagged {bad} ({flags:?})"));
        }
        let ts = [
            "request_first_ns",
            "request_last_ns",
            "response_first_ns",
            "response_last_ns",
        ]
        .map(|k| field_ns(t, k));
        let [Some(req_first), Some(req_last), Some(resp_first), Some(resp_last)] = ts else {
            check(false, format!("{name}: missing timestamps {ts:?}"));
            continue;
        };
        check(
            req_first <= req_last && req_last <= resp_last,
            format!("{name}: request {req_first}..{req_last}, response ends {resp_last}"),
        );
        check(
            resp_first <= resp_last,
            format!("{name}: response {resp_first}..{resp_last}"),
        );
        check(
            req_first <= resp_first,
            format!("{name}: response starts {resp_first} before request {req_first}"),
        );
        // http.server reads a whole request (POST body included) before it answers.
        check(
            req_last <= resp_first,
            format!("{name}: request ends {req_last} after the response starts {resp_first}"),
        );
    }

    // Per connection, in the order the client sent them (pipelined ones included): the same
    // requests in tracetail's output order, each response after the previous one's end.
    let mut per_conn_sent: BTreeMap<(String, u64), Vec<&Value>> = BTreeMap::new();
    for r in requests {
        per_conn_sent
            .entry((
                r["client_ip"].as_str().unwrap().into(),
                r["client_port"].as_u64().unwrap(),
            ))
            .or_default()
            .push(r);
    }
    let mut per_conn_seen: BTreeMap<(String, u64), Vec<&Value>> = BTreeMap::new();
    for t in &transactions {
        let key = (
            t["client_ip"].as_str().unwrap_or("?").into(),
            t["client_port"].as_u64().unwrap_or(0),
        );
        per_conn_seen.entry(key).or_default().push(t);
    }
    for (conn, mut sent) in per_conn_sent {
        sent.sort_by_key(|r| r["order"].as_u64());
        let sent_uris: Vec<&str> = sent.iter().map(|r| r["uri"].as_str().unwrap()).collect();
        let seen = per_conn_seen.remove(&conn).unwrap_or_default();
        let seen_uris: Vec<&str> = seen
            .iter()
            .map(|t| t["uri"].as_str().unwrap_or("?"))
            .collect();
        check(
            sent_uris == seen_uris,
            format!("connection {conn:?}: sent {sent_uris:?}, tracetail shows {seen_uris:?}"),
        );
        for pair in seen.windows(2) {
            let (prev_end, next_start) = (
                field_ns(pair[0], "response_last_ns"),
                field_ns(pair[1], "response_first_ns"),
            );
            check(
                prev_end <= next_start,
                format!(
                    "connection {conn:?}: {} starts {next_start:?} before {} ends {prev_end:?}",
                    triple(pair[1]),
                    triple(pair[0])
                ),
            );
        }
    }
    for (conn, extra) in per_conn_seen {
        check(
            false,
            format!(
                "connection {conn:?} in the capture but not in the manifest: {} transactions",
                extra.len()
            ),
        );
    }

    let pipelined = requests
        .iter()
        .filter(|r| r["client"] == "pipelined")
        .count();
    let ipv6 = requests.iter().filter(|r| r["client_ip"] == "::1").count();
    println!(
        "real capture: {captured} packets, {} requests ({pipelined} pipelined, {ipv6} over IPv6, curl: {}), {} transactions, {:.1} s",
        requests.len(),
        manifest["curl"],
        transactions.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{} problems with the real capture {}:\n{}",
        problems.len(),
        pcap.display(),
        problems.join("\n")
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

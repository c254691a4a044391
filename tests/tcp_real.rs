//! `tracetail tcp` on real traffic: real servers and clients on loopback, captured with
//! tcpdump inside each test, compared with what the clients and servers themselves report.
//!
//! - HTTP (scripts/real_capture.py: Python http.server, http.client, a pipelining socket,
//!   curl): every exchange that carries one HTTP transaction has exactly `http`'s four times;
//!   a pipelined batch spans its transactions.
//! - A server that speaks first (scripts/banner_server.py, SMTP-like greeting): the greeting is
//!   its own exchange and every command keeps its own reply size and server delay.
//! - redis-server + redis-benchmark: as many exchanges as commands the server counted
//!   (INFO commandstats), latencies consistent with redis-benchmark's own percentiles; with
//!   `-P 16` every exchange is a whole batch of commands.
//!
//! Needs root, tcpdump, python3 and redis; otherwise prints "SKIPPED: ..." and passes, except
//! that with CI=true a missing program is a failure (.ci/run installs them).

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process killed when dropped, so a failing assertion leaves nothing running.
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

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The programs, or None after printing why the test is skipped (a panic under CI=true).
fn programs(names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in names {
        match find_program(name) {
            Some(p) => found.push(p),
            None => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but {name} is not installed");
                }
                println!("SKIPPED: {name} is not installed");
                return None;
            }
        }
    }
    if effective_uid() != Some(0) {
        println!("SKIPPED: capturing on lo needs root");
        return None;
    }
    Some(found)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tcp_real-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// tcpdump on `lo` for one port, started and confirmed listening.
struct Capture {
    tcpdump: Reaped,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    pub pcap: PathBuf,
}

impl Capture {
    fn start(tcpdump: &Path, dir: &Path, port: u16) -> Option<Capture> {
        let pcap = dir.join("capture.pcap");
        let mut child = Reaped(
            Command::new(tcpdump)
                .args(["-i", "lo", "-n", "-U", "-B", "32768", "-s", "0", "-w"])
                .arg(&pcap)
                .arg(format!("tcp port {port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start tcpdump"),
        );
        let (tx, lines) = mpsc::channel::<String>();
        let stderr = child.0.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let listening = line.contains("listening on lo");
                    seen.push(line);
                    if listening {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    println!(
                        "SKIPPED: tcpdump cannot capture on lo: {}",
                        seen.join(" | ")
                    );
                    return None;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("tcpdump did not report listening: {seen:?}")
                }
            }
        }
        Some(Capture {
            tcpdump: child,
            lines,
            seen,
            pcap,
        })
    }

    /// Stops tcpdump (SIGINT, so it flushes) and checks that the kernel dropped nothing.
    fn stop(mut self) -> PathBuf {
        // The last packets wait in the capture ring for up to tcpdump's 1 s buffer timeout,
        // and SIGINT discards what tcpdump has not read: wait until the file (written per
        // packet with -U) has stopped growing for longer than that.
        let size = || std::fs::metadata(&self.pcap).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = u64::MAX;
        while size() != last && Instant::now() < deadline {
            last = size();
            std::thread::sleep(Duration::from_millis(1500));
        }
        let kill = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -INT {}", self.tcpdump.0.id()))
            .status()
            .expect("run kill");
        assert!(kill.success());
        let status = self.tcpdump.0.wait().expect("tcpdump exits");
        self.seen.extend(self.lines.iter());
        assert!(status.success(), "tcpdump: {status}: {:?}", self.seen);
        let dropped = self
            .seen
            .iter()
            .find_map(|l| {
                l.strip_suffix("packets dropped by kernel")?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        assert_eq!(dropped, 0, "the kernel dropped packets: {:?}", self.seen);
        self.pcap.clone()
    }
}

/// Runs a program to completion within `timeout`; returns stdout (panics on failure).
fn run(mut cmd: Command, timeout: Duration) -> String {
    let mut child = Reaped(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start"),
    );
    let deadline = Instant::now() + timeout;
    let stdout = child.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = child.0.stderr.take().unwrap();
    let err_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let out = reader.join().unwrap();
            let err = err_reader.join().unwrap();
            assert!(status.success(), "{cmd:?}: {status}\n{err}\n{out}");
            return out;
        }
        assert!(Instant::now() < deadline, "{cmd:?} still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn tracetail_json(args: &[&str], pcap: &Path) -> Vec<Value> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracetail"));
    cmd.args(args).arg(pcap).arg("--json");
    run(cmd, Duration::from_secs(60))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}")))
        .collect()
}

fn ns(v: &Value, key: &str) -> Option<i64> {
    v.get(key)?.as_i64()
}

fn flags(v: &Value) -> Vec<&str> {
    v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect()
}

const TIMES: [&str; 4] = [
    "request_first_ns",
    "request_last_ns",
    "response_first_ns",
    "response_last_ns",
];

#[test]
fn tcp_and_http_agree_on_real_http() {
    let Some(p) = programs(&["tcpdump", "python3"]) else {
        return;
    };
    let dir = scratch_dir("http");
    let port = free_port();
    let Some(capture) = Capture::start(&p[0], &dir, port) else {
        return;
    };
    let mut script = Command::new(&p[1]);
    script
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/real_capture.py"))
        .args(["--port", &port.to_string(), "--workdir"])
        .arg(&dir);
    run(script, Duration::from_secs(40));
    let pcap = capture.stop();

    let http = tracetail_json(&["http"], &pcap);
    let tcp = tracetail_json(&["tcp"], &pcap);
    assert!(
        http.len() >= 30,
        "too few HTTP transactions: {}",
        http.len()
    );

    // Each HTTP transaction belongs to the exchange of its connection whose request run
    // contains its request's first byte.
    let mut by_conn: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for t in &tcp {
        by_conn
            .entry(t["connection_id"].as_u64().unwrap())
            .or_default()
            .push(t);
    }
    let mut members: HashMap<(u64, u64), Vec<&Value>> = HashMap::new();
    for h in &http {
        let conn = h["connection_id"].as_u64().unwrap();
        let start = ns(h, "request_first_ns").expect("every request was captured");
        let exchanges = by_conn.get(&conn).map(Vec::as_slice).unwrap_or(&[]);
        let owner = exchanges
            .iter()
            .filter(|e| {
                ns(e, "request_first_ns") <= Some(start) && Some(start) <= ns(e, "request_last_ns")
            })
            .collect::<Vec<_>>();
        assert_eq!(
            owner.len(),
            1,
            "HTTP transaction {h} is in {} exchanges",
            owner.len()
        );
        members
            .entry((conn, owner[0]["exchange"].as_u64().unwrap()))
            .or_default()
            .push(h);
    }
    let (mut single, mut batches) = (0, 0);
    for e in &tcp {
        let key = (
            e["connection_id"].as_u64().unwrap(),
            e["exchange"].as_u64().unwrap(),
        );
        let txs = members
            .get(&key)
            .unwrap_or_else(|| panic!("exchange {e} has no HTTP transaction"));
        assert_eq!(e["protocol"], "http", "{e}");
        assert_eq!(e["server_rule"], "syn", "{e}");
        assert_eq!(e["server_port"].as_u64(), Some(u64::from(port)), "{e}");
        if txs.len() == 1 {
            single += 1;
            for k in TIMES {
                assert_eq!(ns(e, k), ns(txs[0], k), "{k}: tcp {e}\nhttp {}", txs[0]);
            }
            assert_eq!(e["request_bytes"], txs[0]["request_bytes"], "{e}");
            assert_eq!(e["response_bytes"], txs[0]["response_bytes"], "{e}");
            assert!(flags(e).is_empty(), "{e}");
        } else {
            // Pipelined requests that all reached the server before it answered: one batch.
            batches += 1;
            let min = |k| txs.iter().filter_map(|t| ns(t, k)).min();
            let max = |k| txs.iter().filter_map(|t| ns(t, k)).max();
            assert_eq!(ns(e, "request_first_ns"), min("request_first_ns"), "{e}");
            assert_eq!(ns(e, "response_first_ns"), min("response_first_ns"), "{e}");
            assert_eq!(ns(e, "response_last_ns"), max("response_last_ns"), "{e}");
        }
    }
    assert!(
        single >= 30,
        "only {single} exchanges with one HTTP transaction"
    );
    assert!(
        batches >= 1,
        "the script's pipelining client formed no batch"
    );
    println!("{single} exchanges equal http's to the nanosecond, {batches} pipelined batches");
}

#[test]
fn server_that_speaks_first_does_not_shift_pairs() {
    let Some(p) = programs(&["tcpdump", "python3"]) else {
        return;
    };
    let dir = scratch_dir("banner");
    let port = free_port();
    let Some(capture) = Capture::start(&p[0], &dir, port) else {
        return;
    };
    let mut script = Command::new(&p[1]);
    script
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/banner_server.py"))
        .args(["--port", &port.to_string()]);
    let manifest: Value = serde_json::from_str(&run(script, Duration::from_secs(40))).unwrap();
    let pcap = capture.stop();
    let tcp = tracetail_json(&["tcp", "--port", &port.to_string()], &pcap);

    let connections = manifest["connections"].as_array().unwrap();
    let mut checked = 0;
    for c in connections {
        let client_port = c["client_port"].as_u64().unwrap();
        let mut rows: Vec<&Value> = tcp
            .iter()
            .filter(|t| t["client_port"].as_u64() == Some(client_port))
            .collect();
        rows.sort_by_key(|t| t["exchange"].as_u64());
        let commands = c["commands"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            commands.len() + 1,
            "greeting + commands: {rows:?}"
        );
        let greeting = rows[0];
        assert_eq!(flags(greeting), ["server_first"], "{greeting}");
        assert_eq!(greeting["request_bytes"], 0);
        assert_eq!(greeting["response_bytes"], c["banner_bytes"]);
        assert!(ns(greeting, "request_first_ns").is_none());
        for (row, want) in rows[1..].iter().zip(commands) {
            assert_eq!(row["server_rule"], "syn");
            assert_eq!(row["protocol"], "unknown");
            assert_eq!(row["request_bytes"], want["request_bytes"], "{row}");
            assert_eq!(row["response_bytes"], want["response_bytes"], "{row}");
            assert!(flags(row).is_empty(), "{row}");
            // The server slept this long before answering (40 ms or 3 ms alternately): a
            // shifted pairing would swap them.
            let delay = want["delay_ms"].as_i64().unwrap() * 1_000_000;
            let server = ns(row, "server_ns").unwrap();
            assert!(
                server >= delay && server < delay + 30_000_000,
                "server time {server} ns for a {delay} ns delay: {row}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 18, "{checked}");
}

/// A redis-server on a free port with empty command statistics, ready.
fn redis(server: &Path, cli: &Path, port: u16, dir: &Path) -> Reaped {
    let child = Reaped(
        Command::new(server)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = Command::new(cli)
            .args(["-p", &port.to_string(), "config", "resetstat"])
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"OK"));
        if ok {
            return child;
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Commands the server executed, by name, from INFO commandstats (`cmdstat_x:calls=N,...`).
fn redis_calls(cli: &Path, port: u16) -> HashMap<String, u64> {
    let out = Command::new(cli)
        .args(["-p", &port.to_string(), "info", "commandstats"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            Some((name.to_string(), rest.split(',').next()?.parse().ok()?))
        })
        .collect()
}

/// redis-benchmark first reads the server's config on a connection of its own with two
/// CONFIG GETs in one write: one exchange (a batch). Returns the exchanges of the others.
fn without_setup_connection(tcp: &[Value]) -> Vec<&Value> {
    let mut per_conn: HashMap<u64, usize> = HashMap::new();
    for t in tcp {
        *per_conn
            .entry(t["connection_id"].as_u64().unwrap())
            .or_default() += 1;
    }
    let first = tcp
        .iter()
        .min_by_key(|t| ns(t, "request_first_ns"))
        .expect("exchanges");
    let setup = first["connection_id"].as_u64().unwrap();
    assert_eq!(per_conn[&setup], 1, "the setup connection: {first}");
    tcp.iter()
        .filter(|t| t["connection_id"].as_u64() != Some(setup))
        .collect()
}

#[test]
fn redis_benchmark_every_command_is_one_exchange() {
    let Some(p) = programs(&["tcpdump", "redis-server", "redis-cli", "redis-benchmark"]) else {
        return;
    };
    let dir = scratch_dir("redis");
    let port = free_port();
    let _server = redis(&p[1], &p[2], port, &dir);
    let Some(capture) = Capture::start(&p[0], &dir, port) else {
        return;
    };
    let mut bench = Command::new(&p[3]);
    bench.args([
        "-p",
        &port.to_string(),
        "-n",
        "3000",
        "-c",
        "4",
        "-t",
        "set,get",
        "--csv",
    ]);
    let report = run(bench, Duration::from_secs(60));
    let pcap = capture.stop();
    let calls = redis_calls(&p[2], port);
    let tcp = tracetail_json(&["tcp", "--port", &port.to_string()], &pcap);

    let commands = calls["get"] + calls["set"];
    assert_eq!(commands, 6000, "{calls:?}");
    let tcp = without_setup_connection(&tcp);
    assert_eq!(
        tcp.len() as u64,
        commands,
        "one exchange per command the server ran"
    );
    for t in &tcp {
        assert!(flags(t).is_empty(), "{t}");
        assert_eq!(t["server_rule"], "syn");
    }
    // redis-benchmark measures at the client (send to reply read): the capture sees the
    // request leave and the reply leave, so its time to first byte is no longer.
    let mut ttfb: Vec<i64> = tcp.iter().filter_map(|t| ns(t, "ttfb_ns")).collect();
    ttfb.sort_unstable();
    let ours_p50 = ttfb[ttfb.len() / 2] as f64 / 1e6;
    let mut theirs = Vec::new();
    for line in report.lines().skip(1) {
        let cells: Vec<f64> = line
            .split(',')
            .skip(1)
            .filter_map(|c| c.trim_matches('"').parse().ok())
            .collect();
        // rps, avg, min, p50, p95, p99, max (ms)
        theirs.push(cells[3]);
    }
    let their_p50 = theirs.iter().cloned().fold(f64::MIN, f64::max);
    assert!(
        ours_p50 > 0.0 && ours_p50 <= their_p50 + 0.001,
        "capture p50 {ours_p50} ms vs redis-benchmark p50 {theirs:?} ms"
    );
    println!("{} exchanges = {commands} commands; p50 ttfb {ours_p50:.3} ms (redis-benchmark p50 {theirs:?} ms)", tcp.len());
}

#[test]
fn redis_pipelined_batches_are_whole_exchanges() {
    let Some(p) = programs(&["tcpdump", "redis-server", "redis-cli", "redis-benchmark"]) else {
        return;
    };
    let dir = scratch_dir("redis-pipelined");
    let port = free_port();
    let _server = redis(&p[1], &p[2], port, &dir);
    let Some(capture) = Capture::start(&p[0], &dir, port) else {
        return;
    };
    let mut bench = Command::new(&p[3]);
    bench.args([
        "-p",
        &port.to_string(),
        "-n",
        "3200",
        "-c",
        "2",
        "-P",
        "16",
        "-t",
        "ping",
    ]);
    bench.arg("--csv");
    run(bench, Duration::from_secs(60));
    let pcap = capture.stop();
    let calls = redis_calls(&p[2], port);
    let tcp = tracetail_json(&["tcp", "--port", &port.to_string()], &pcap);

    // PING_INLINE is "PING\r\n" (6 bytes, reply "+PONG\r\n"), PING_MBULK "*1\r\n$4\r\nPING\r\n"
    // (14 bytes). Every exchange is a whole number of pings answered by as many replies: a
    // batch, never half of one.
    let mut pings = 0;
    for t in without_setup_connection(&tcp) {
        let req = t["request_bytes"].as_u64().unwrap();
        let resp = t["response_bytes"].as_u64().unwrap();
        let size = if req % 14 == 0 && resp == req / 14 * 7 {
            14
        } else if req % 6 == 0 && resp == req / 6 * 7 {
            6
        } else {
            panic!("not a batch of pings with their replies: {t}");
        };
        pings += req / size;
        assert!(req / size > 1, "a pipelined client sent a lone ping: {t}");
    }
    assert_eq!(
        pings, calls["ping"],
        "pings in exchanges vs pings the server ran"
    );
    println!("{} exchanges carry {pings} pings", tcp.len());
}

//! HTTP/2 on real traffic: nginx (`listen … ssl http2` and cleartext `listen … http2`) driven
//! by curl (`--http2 --parallel`, keys from SSLKEYLOGFILE) and nghttp (h2c, multiplexed), and
//! `Upgrade: h2c` against a small Python `h2` server, all captured on loopback with tcpdump
//! by scripts/h2_capture.py. Compared with:
//!
//! - the clients' own records (curl `-w '%{http_code} %{url_effective}'`, nghttp's `-s`
//!   summary with stream ids): every request is found exactly once with its path and status
//!   (a status curl lost by giving up on a reset upload comes from nginx's access log);
//! - tshark's decoded HTTP/2 frames: each stream's four times are the capture times of the
//!   frames that define them (opening HEADERS, END_STREAM each way, first response HEADERS),
//!   on every stream tshark decodes;
//! - the same capture with the first packets of a connection cut off: streams are still
//!   timed exactly, header values are never wrong, unknown ones are flagged `hpack_unknown`.
//!
//! Needs root, tcpdump, nginx, curl, nghttp, openssl, tshark and python3 (with `h2` for the
//! upgrade); otherwise prints "SKIPPED: ..." and passes, except under CI=true.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tracetail::analyzers::tls::KeyLog;
use tracetail::pipeline::{analyze_file, PassOptions, Record};

/// `tracetail http --json` must succeed without a secret in its output; the rows themselves
/// come from the library (`stream_id` is not a CLI column yet), as JSON values of
/// `HttpTransaction`, in the same number.
fn http_rows(pcap: &Path, keylog: &Path) -> Vec<Value> {
    let out = common::tracetail()
        .args(["http", "--json", "--keylog"])
        .arg(keylog)
        .arg(pcap)
        .output()
        .expect("run tracetail");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let keys = std::fs::read_to_string(keylog).unwrap_or_default();
    for line in keys.lines() {
        if let Some(secret) = line.split_whitespace().nth(2) {
            assert!(!text.contains(secret), "a TLS secret in the output");
        }
    }
    let mut options = PassOptions {
        transactions: true,
        ..PassOptions::default()
    };
    options.analyzer.tls.keys = Arc::new(KeyLog::from_files(&[keylog.to_path_buf()]).unwrap());
    let mut rows = Vec::new();
    analyze_file(pcap, &options, &mut |record| {
        if let Record::Http(t) = record {
            rows.push(serde_json::to_value(t).unwrap());
        }
    })
    .unwrap();
    assert_eq!(rows.len(), text.lines().count());
    rows
}

fn epoch_ns(text: &str) -> i64 {
    let (s, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    s.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// The four times of each stream as tshark's decoded frames give them, by (client port,
/// stream id): first HEADERS from the client, END_STREAM from the client, first HEADERS from
/// the server (nginx sends no 1xx), END_STREAM from the server. Only streams with all four.
/// `client_ports` are the clients' ports with the dissector their connection needs.
fn tshark_stream_times(
    pcap: &Path,
    keylog: &Path,
    server_ports: &[u64],
    prior_knowledge_port: u64,
    client_ports: &BTreeSet<(u64, &str)>,
) -> BTreeMap<(u64, u64), [i64; 4]> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(pcap)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()));
    // h2c with prior knowledge is not recognised by port; TLS (ALPN) and Upgrade are.
    cmd.args(["-d", &format!("tcp.port=={prior_knowledge_port},http2")]);
    // tshark tries a connection's lower port first: a client's ephemeral port that some
    // protocol registered wins over the server's (48898 is ADS/AMS, and CI once drew it for
    // the TLS client: tshark read that connection as AMS and decoded none of its 47 streams).
    for (port, dissector) in client_ports {
        cmd.args(["-d", &format!("tcp.port=={port},{dissector}")]);
    }
    cmd.args(["-Y", "http2", "-T", "fields", "-E", "separator=|"]);
    for f in [
        "frame.time_epoch",
        "tcp.srcport",
        "tcp.dstport",
        "http2.streamid",
        "http2.type",
        "http2.flags",
    ] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let mut times: BTreeMap<(u64, u64), [Option<i64>; 4]> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        let (t, src, dst) = (epoch_ns(f[0]), f[1].parse::<u64>().unwrap(), f[2]);
        let dst: u64 = dst.parse().unwrap();
        let from_client = server_ports.contains(&dst);
        let client_port = if from_client { src } else { dst };
        let ids = f[3].split(',');
        let types = f[4].split(',');
        let flags = f[5].split(',');
        for ((id, ty), fl) in ids.zip(types).zip(flags) {
            let (Ok(id), Ok(ty)) = (id.parse::<u64>(), ty.parse::<u8>()) else {
                continue;
            };
            let fl = u8::from_str_radix(fl.trim_start_matches("0x"), 16).unwrap_or(0);
            if id == 0 || ty > 1 {
                continue;
            }
            let e = times.entry((client_port, id)).or_default();
            let side = if from_client { 0 } else { 2 };
            if ty == 1 && e[side].is_none() {
                e[side] = Some(t);
            }
            if fl & 1 != 0 && e[side + 1].is_none() {
                e[side + 1] = Some(t);
            }
        }
    }
    times
        .into_iter()
        .filter_map(|(k, v)| Some((k, [v[0]?, v[1]?, v[2]?, v[3]?])))
        .collect()
}

fn count<T: Ord>(items: impl Iterator<Item = T>) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

fn u(row: &Value, field: &str) -> u64 {
    row[field].as_u64().unwrap_or(0)
}

fn t(row: &Value, field: &str) -> Option<i64> {
    row[field].as_i64()
}

#[test]
fn http2_on_loopback_matches_clients_and_tshark() {
    let test = "http2_on_loopback_matches_clients_and_tshark";
    for (tool, arg) in [
        ("tcpdump", "--version"),
        ("nginx", "-v"),
        ("curl", "--version"),
        ("nghttp", "--version"),
        ("h2load", "--version"),
        ("openssl", "version"),
        ("tshark", "--version"),
    ] {
        if !common::require(test, tool, &[arg], tool) {
            return;
        }
    }
    // Without it only the Upgrade: h2c part is left out (and CI installs it).
    common::require(test, "python3", &["-c", "import h2"], "python3 with h2");
    if !common::is_root() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "{test}: capturing on lo needs root, and CI runs as root"
        );
        return common::skip_visibly(test, "capturing on lo needs root");
    }
    let work = common::scratch("http2_real", "loopback");
    let manifest = common::run_capture_script("h2_capture.py", &work);
    let upgrade = manifest["upgrade"].as_bool().unwrap();
    let pcap = PathBuf::from(manifest["pcap"].as_str().unwrap());
    let keylog = PathBuf::from(manifest["keylog"].as_str().unwrap());
    let requests = manifest["requests"].as_array().unwrap();
    let ports = &manifest["ports"];
    let rows = http_rows(&pcap, &keylog);

    // 1. Every request each client made, once, with its path and status, per server.
    let from_nginx: Vec<&Value> = requests
        .iter()
        .filter(|r| r["status_from"] == "nginx")
        .collect();
    println!("statuses curl lost and nginx's log gave: {from_nginx:?}");
    for (mode, port) in ports.as_object().unwrap() {
        let port = port.as_u64().unwrap();
        let want = count(
            requests
                .iter()
                .filter(|r| u(r, "port") == port)
                .map(|r| (r["path"].as_str().unwrap(), u(r, "status"))),
        );
        let got = count(
            rows.iter()
                .filter(|r| u(r, "server_port") == port)
                .map(|r| (r["uri"].as_str().unwrap(), u(r, "status"))),
        );
        if mode == "upgrade" && !upgrade {
            continue;
        }
        assert!(!want.is_empty(), "{mode}: no requests");
        assert_eq!(got, want, "{mode} (port {port})");
    }
    for r in &rows {
        assert_eq!(r["version"], "2", "{r}");
        assert!(r["stream_id"].is_u64(), "{r}");
        let tls = u(r, "server_port") == ports["tls"].as_u64().unwrap();
        assert_eq!(r["tls"].as_bool(), Some(tls), "{r}");
        if tls {
            assert_eq!(r["sni"], "localhost");
        }
        for field in ["request_first_ns", "response_first_ns", "response_last_ns"] {
            assert!(t(r, field).is_some(), "{field} missing: {r}");
        }
        let mut flags: Vec<&str> = r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        // A response that began before its request ended overlaps it (and says so), whether or
        // not the upload was then reset.
        let answered_early = match (t(r, "response_first_ns"), t(r, "request_last_ns")) {
            (Some(answer), Some(request_end)) => answer < request_end,
            _ => false,
        };
        assert_eq!(flags.contains(&"overlapped"), answered_early, "{r}");
        flags.retain(|&f| f != "overlapped");
        // nginx answers a POST to a static file at once and may reset the rest of the upload.
        let expected: &[&[&str]] = if r["method"] == "POST" {
            &[&["reset"], &[]]
        } else if r["stream_id"] == 1 && u(r, "server_port") == ports["upgrade"].as_u64().unwrap() {
            &[&["h2c_upgrade"]]
        } else {
            &[&[]]
        };
        assert!(expected.contains(&flags.as_slice()), "{r}");
    }
    // Large responses are counted whole (DATA payload, frame headers on top).
    let big = rows
        .iter()
        .find(|r| r["uri"] == "/big4m.bin" && r["tls"] == true)
        .unwrap();
    assert_eq!(u(big, "response_body_bytes"), 4 << 20);
    assert!(u(big, "response_bytes") > (4 << 20) + 9 * 256);
    // An upload not reset was sent whole: its request ends with its last DATA frame.
    // ("overlapped" alone is no reset: nginx may answer before an upload it then reads whole.)
    for r in rows.iter().filter(|r| r["method"] == "POST") {
        let reset = r["flags"].as_array().unwrap().iter().any(|f| f == "reset");
        if !reset {
            assert_eq!(u(r, "request_body_bytes"), 64 << 10, "{r}");
            assert!(t(r, "request_last_ns") > t(r, "request_first_ns"), "{r}");
        } else {
            assert!(t(r, "request_last_ns").is_none(), "{r}");
        }
    }

    // 2. nghttp's stream ids.
    for r in requests.iter().filter(|r| r["mode"] == "h2c") {
        let found: Vec<&Value> = rows
            .iter()
            .filter(|row| {
                u(row, "server_port") == u(r, "port")
                    && row["stream_id"] == r["stream_id"]
                    && row["uri"] == r["path"]
            })
            .collect();
        assert_eq!(found.len(), 1, "{r}");
    }

    // 3. The four times against tshark's frames, on every stream it decodes.
    let server_ports: Vec<u64> = ports
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let h2c_port = ports["h2c"].as_u64().unwrap();
    let tls_port = ports["tls"].as_u64().unwrap();
    let dissector_of = |server_port: u64| match server_port {
        p if p == tls_port => "tls",
        p if p == h2c_port => "http2",
        _ => "http",
    };
    let client_ports: BTreeSet<(u64, &str)> = rows
        .iter()
        .map(|r| (u(r, "client_port"), dissector_of(u(r, "server_port"))))
        .collect();
    let tshark = tshark_stream_times(&pcap, &keylog, &server_ports, h2c_port, &client_ports);
    let mut compared = 0;
    let mut first_times_differ = Vec::new();
    for r in &rows {
        if r["method"] == "POST" || r["flags"].as_array().is_some_and(|f| !f.is_empty()) {
            continue;
        }
        let Some(want) = tshark.get(&(u(r, "client_port"), u(r, "stream_id"))) else {
            continue;
        };
        compared += 1;
        let got = [
            "request_first_ns",
            "request_last_ns",
            "response_first_ns",
            "response_last_ns",
        ]
        .map(|f| t(r, f).unwrap());
        // tshark dates a frame by the packet completing it (inside TLS: its record), and so
        // does tracetail for the last times. A first byte inside TLS is dated by the first
        // packet of its record (the seam's rule for decrypted bytes): earlier than tshark's
        // time when the record spans packets, never later. Cleartext frames are dated by their
        // own first byte, which is in the packet tshark names unless the frame is split.
        assert_eq!([got[1], got[3]], [want[1], want[3]], "{r}");
        for i in [0, 2] {
            assert!(got[i] <= want[i], "{r}: {got:?} vs tshark {want:?}");
            if got[i] != want[i] {
                first_times_differ.push((r["uri"].clone(), r["tls"].clone(), i));
            }
        }
    }
    println!(
        "tshark decoded {} streams with four times; compared {compared} of {} rows; first \
         times earlier than tshark's (record spanning packets): {first_times_differ:?}",
        tshark.len(),
        rows.len()
    );
    assert!(
        compared * 10 >= rows.len() * 8,
        "{compared} of {}",
        rows.len()
    );
    let cleartext_differ = first_times_differ.iter().filter(|d| d.1 == false).count();
    assert!(cleartext_differ * 20 <= compared, "{first_times_differ:?}");

    // 4. Mid-connection: h2load's connection (60 requests, 4 at a time) with its first
    // packets cut off.
    let h2load_client = rows
        .iter()
        .filter(|r| u(r, "server_port") == h2c_port)
        .map(|r| u(r, "client_port"))
        .find(|p| rows.iter().filter(|r| u(r, "client_port") == *p).count() == 60)
        .expect("h2load's connection");
    mid_connection_cuts(&pcap, &work, &rows, h2load_client as u16);

    // 5. Connection figures (`sessions --json --http2`).
    let out = common::tracetail()
        .args(["sessions", "--json", "--http2", "--keylog"])
        .arg(&keylog)
        .arg(&pcap)
        .output()
        .expect("run tracetail");
    assert!(out.status.success());
    let sessions: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let figures = |client_port: u64| -> &Value {
        let s = sessions
            .iter()
            .find(|s| u(s, "client_port") == client_port)
            .unwrap();
        &s["http2"]
    };
    // h2load -m 4: at most 4 requests in flight, which it keeps up the whole run.
    let h = figures(h2load_client);
    assert_eq!((u(h, "streams"), u(h, "max_open_streams")), (60, 4), "{h}");
    let mean = h["mean_open_streams"].as_f64().unwrap();
    assert!(mean > 0.0 && mean <= 4.0, "{h}");
    // Every conversation with HTTP/2 rows has figures; the others none.
    for s in &sessions {
        let streams = rows
            .iter()
            .filter(|r| u(r, "connection_id") == u(s, "flow_id"))
            .count() as u64;
        if streams == 0 {
            assert!(s.get("http2").is_none(), "{s}");
        } else {
            let h = &s["http2"];
            assert_eq!(u(h, "streams"), streams, "{s}");
            assert!(u(h, "max_open_streams") >= 1 && u(h, "max_open_streams") <= streams);
            if u(s, "server_port") != ports["upgrade"].as_u64().unwrap() {
                assert_eq!(
                    h["server_settings"]["MAX_CONCURRENT_STREAMS"], 128,
                    "nginx's"
                );
            }
        }
    }
    // The report's HTTP/2 connections part shows the same figures.
    let html = work.join("report.html");
    let out = common::tracetail()
        .args(["report", "--keylog"])
        .arg(&keylog)
        .arg(&pcap)
        .arg("-o")
        .arg(&html)
        .output()
        .expect("run tracetail");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let section = page
        .find("<h2>HTTP/2 connections</h2>")
        .expect("the HTTP/2 connections section");
    let page = &page[section..];
    let h2_connections = sessions.iter().filter(|s| s.get("http2").is_some()).count();
    assert!(
        page.contains(&format!("{h2_connections} HTTP/2 connections carried")),
        "{h2_connections} connections"
    );
    // h2load's row among the busiest: 60 streams, at most 4 open at once, nginx's limit 128.
    let at = page
        .find(&format!(":{h2load_client}</td>"))
        .expect("h2load's connection in the report");
    let row = &page[at..at + page[at..].find("</tr>").unwrap()];
    assert!(row.contains("<td>60</td><td>4</td>"), "{row}");
    assert!(row.contains("<td>128</td>"), "{row}");

    if upgrade {
        // The Python server's PING and curl's ACK, against tshark's frame times.
        let s = sessions
            .iter()
            .find(|s| u(s, "server_port") == ports["upgrade"].as_u64().unwrap())
            .unwrap();
        let h = &s["http2"];
        assert_eq!(u(h, "pings"), 1, "{h}");
        let rtt = h["ping_rtts_ns"][0].as_i64().unwrap();
        let ping_times = tshark_ping_times(&pcap, u(s, "client_port"));
        assert_eq!(ping_times.len(), 2, "{ping_times:?}");
        assert_eq!(rtt, ping_times[1] - ping_times[0]);
    }
}

/// Capture times of the PING frames (request, then ACK) on one connection, from tshark.
fn tshark_ping_times(pcap: &Path, client_port: u64) -> Vec<i64> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-Y",
            &format!("http2.type == 6 && tcp.port == {client_port}"),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(epoch_ns)
        .collect()
}

/// Reads a classic pcap (what tcpdump writes) into its global header and records.
fn read_pcap(path: &Path) -> (Vec<u8>, Vec<Vec<u8>>) {
    let bytes = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2c3d4 || magic == 0xa1b23c4d,
        "little-endian pcap"
    );
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        records.push(bytes[at..at + 16 + incl].to_vec());
        at += 16 + incl;
    }
    (bytes[..24].to_vec(), records)
}

/// The TCP ports of a record (Ethernet or Linux cooked v1/v2 on `lo`, IPv4), if TCP.
fn tcp_ports(linktype: u32, record: &[u8]) -> Option<(u16, u16, usize)> {
    let frame = &record[16..];
    let ip = match linktype {
        1 => 14,
        113 => 16,
        276 => 20,
        _ => return None,
    };
    let ihl = ((*frame.get(ip)? & 0x0f) as usize) * 4;
    if *frame.get(ip + 9)? != 6 {
        return None;
    }
    let tcp = ip + ihl;
    let port = |o: usize| Some(u16::from_be_bytes([*frame.get(o)?, *frame.get(o + 1)?]));
    let data_offset = ((*frame.get(tcp + 12)? >> 4) as usize) * 4;
    let total = u16::from_be_bytes([frame[ip + 2], frame[ip + 3]]) as usize;
    let payload = (ip + total).saturating_sub(tcp + data_offset);
    Some((port(tcp)?, port(tcp + 2)?, payload))
}

/// Cuts the first packets of one connection (those carrying the first `skip` payloads) and
/// checks the streams tracetail still reports against the full capture's rows.
fn mid_connection_cuts(pcap: &Path, work: &Path, full: &[Value], client_port: u16) {
    let (header, records) = read_pcap(pcap);
    let linktype = u32::from_le_bytes(header[20..24].try_into().unwrap());
    let by_stream: HashMap<u64, &Value> = full
        .iter()
        .filter(|r| u(r, "client_port") == client_port as u64)
        .map(|r| (u(r, "stream_id"), r))
        .collect();
    let mut timed_after_cut = 0;
    let mut unknown_flagged = 0;
    for skip in [2, 3, 4, 6, 9, 13, 20] {
        let mut payloads_seen = 0;
        let mut out = header.clone();
        for rec in &records {
            let mine =
                tcp_ports(linktype, rec).filter(|&(s, d, _)| s == client_port || d == client_port);
            if let Some((_, _, payload)) = mine {
                if payloads_seen < skip {
                    if payload > 0 {
                        payloads_seen += 1;
                    }
                    continue;
                }
            }
            out.extend_from_slice(rec);
        }
        let cut = work.join(format!("cut{skip}.pcap"));
        std::fs::write(&cut, out).unwrap();
        let rows = http_rows(&cut, &work.join("keys.txt"));
        for r in rows
            .iter()
            .filter(|r| u(r, "client_port") == client_port as u64)
        {
            let flags: Vec<&str> = r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            let Some(whole) = by_stream.get(&u(r, "stream_id")) else {
                panic!("cut {skip}: a stream the full capture does not have: {r}");
            };
            // Values are the true ones or absent, never guessed.
            for field in ["method", "uri", "host"] {
                let v = r[field].as_str().unwrap_or("");
                assert!(
                    v.is_empty() || r[field] == whole[field],
                    "cut {skip}: {r} vs {whole}"
                );
            }
            if !r["status"].is_null() {
                assert_eq!(r["status"], whole["status"], "cut {skip}: {r}");
            }
            if flags.contains(&"hpack_unknown") {
                unknown_flagged += 1;
            }
            if r["uri"].as_str().is_some_and(|s| s.is_empty())
                && !flags.contains(&"orphan_response")
            {
                assert!(flags.contains(&"hpack_unknown"), "cut {skip}: {r}");
            }
            // Times: the response side is always exact; the request side when its HEADERS
            // came after the cut.
            for f in ["response_first_ns", "response_last_ns"] {
                assert_eq!(r[f], whole[f], "cut {skip} {f}: {r}");
            }
            if !flags.contains(&"orphan_response") {
                for f in ["request_first_ns", "request_last_ns"] {
                    assert_eq!(r[f], whole[f], "cut {skip} {f}: {r}");
                }
                timed_after_cut += 1;
            }
        }
    }
    println!("mid-connection: {timed_after_cut} streams timed, {unknown_flagged} hpack_unknown");
    assert!(timed_after_cut > 0);
    assert!(unknown_flagged > 0, "no cut left HPACK references unknown");
}

//! `tracetail tls` against tshark's TLS dissector on the corpus TLS captures: for every
//! connection tshark sees a ClientHello on, the row's SNI, offered ALPN, negotiated version,
//! cipher suite (IANA name, as tshark prints it) and chosen ALPN (TLS 1.2) equal tshark's
//! `tls.handshake.*` fields, and `hello_ns` equals the difference of the frame times of the
//! ServerHello and ClientHello (the frames carrying the first byte of each hello's record). Needs tshark: skipped without it, a failure under CI.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What tshark shows about one connection's hellos.
#[derive(Debug, Default, Clone)]
pub struct TsharkHello {
    pub client_hello_ns: Option<i64>,
    pub server_hello_ns: Option<i64>,
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    pub alpn: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
}

fn tshark_available(test: &str) -> bool {
    let ok = Command::new("tshark").arg("--version").output().is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: tshark is not installed, but CI must run this test");
        }
        common::skip_visibly(test, "tshark is not installed");
    }
    ok
}

/// `"1607280745.838101000"` as nanoseconds.
fn epoch_ns(text: &str) -> i64 {
    let (s, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    s.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// `"Cipher Suite: TLS_AES_256_GCM_SHA384 (0x1302)"` -> `TLS_AES_256_GCM_SHA384`.
fn showname_value(showname: &str) -> String {
    let value = showname.split_once(": ").map_or(showname, |(_, v)| v);
    value
        .rsplit_once(" (")
        .map_or(value, |(v, _)| v)
        .to_string()
}

/// Capture time of every frame, by frame number.
fn frame_times(pcap: &Path) -> BTreeMap<u64, i64> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .expect("run tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, t)| (n.parse().unwrap(), epoch_ns(t)))
        .collect()
}

/// tshark's hellos keyed by (client ip, client port, server ip, server port). A hello's time
/// is that of the frame carrying the first byte of its record: the first of tshark's
/// `tcp.segment` frames when the record was reassembled from several segments, else the
/// frame itself.
pub fn tshark_hellos(pcap: &Path) -> BTreeMap<(String, u16, String, u16), TsharkHello> {
    let times = frame_times(pcap);
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args([
            "-Y",
            "tls.handshake.type == 1 || tls.handshake.type == 2",
            "-T",
            "pdml",
        ])
        .output()
        .expect("run tshark");
    let pdml = String::from_utf8_lossy(&out.stdout);
    let doc = roxmltree::Document::parse(&pdml).expect("tshark's PDML parses");
    let mut hellos: BTreeMap<_, TsharkHello> = BTreeMap::new();
    for packet in doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("packet"))
    {
        let fields: Vec<_> = packet
            .descendants()
            .filter(|n| n.has_tag_name("field"))
            .collect();
        let show = |name: &str| {
            fields
                .iter()
                .find(|f| f.attribute("name") == Some(name))
                .and_then(|f| f.attribute("show"))
                .map(str::to_string)
        };
        let all = |name: &str| -> Vec<String> {
            fields
                .iter()
                .filter(|f| f.attribute("name") == Some(name))
                .filter_map(|f| f.attribute("show").map(str::to_string))
                .collect()
        };
        let showname = |name: &str| {
            fields
                .iter()
                .rfind(|f| f.attribute("name") == Some(name))
                .and_then(|f| f.attribute("showname"))
                .map(showname_value)
        };
        let time = match show("tcp.segment") {
            Some(first) => times[&first.parse::<u64>().unwrap()],
            None => epoch_ns(&show("frame.time_epoch").unwrap()),
        };
        let src = show("ip.src").or_else(|| show("ipv6.src")).unwrap();
        let dst = show("ip.dst").or_else(|| show("ipv6.dst")).unwrap();
        let sport: u16 = show("tcp.srcport").unwrap().parse().unwrap();
        let dport: u16 = show("tcp.dstport").unwrap().parse().unwrap();
        let types = all("tls.handshake.type");
        if types.iter().any(|t| t == "1") {
            let h = hellos.entry((src, sport, dst, dport)).or_default();
            if h.client_hello_ns.is_none() {
                h.client_hello_ns = Some(time);
                h.sni = show("tls.handshake.extensions_server_name");
                h.alpn_offered = all("tls.handshake.extensions_alpn_str");
            }
        } else if types.iter().any(|t| t == "2") {
            let h = hellos.entry((dst, dport, src, sport)).or_default();
            h.server_hello_ns.get_or_insert(time);
            // After a HelloRetryRequest the last ServerHello is the one that counts.
            h.version = showname("tls.handshake.extensions.supported_version")
                .or_else(|| showname("tls.handshake.version"));
            h.cipher_suite = showname("tls.handshake.ciphersuite");
            h.alpn = show("tls.handshake.extensions_alpn_str");
        }
    }
    hellos
}

/// `tracetail tls --json` rows keyed like [`tshark_hellos`].
pub fn tracetail_rows(pcap: &Path, extra: &[&str]) -> BTreeMap<(String, u16, String, u16), Value> {
    let out = common::tracetail()
        .args(["tls", "--json"])
        .args(extra)
        .arg(pcap)
        .output()
        .expect("run tracetail");
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{out:?}"
    );
    let mut rows = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let key = (
            row["client_ip"].as_str().unwrap().to_string(),
            row["client_port"].as_u64().unwrap() as u16,
            row["server_ip"].as_str().unwrap().to_string(),
            row["server_port"].as_u64().unwrap() as u16,
        );
        rows.insert(key, row);
    }
    rows
}

/// Compares every connection tshark saw a ClientHello on; returns how many were compared and
/// how many of those tshark shows no ServerHello for (only the client side compared).
pub fn assert_rows_match_tshark(pcap: &Path, tls13_alpn_hidden: bool) -> (usize, usize) {
    let tshark = tshark_hellos(pcap);
    let ours = tracetail_rows(pcap, &[]);
    let (mut compared, mut no_server_hello) = (0, 0);
    for (key, want) in &tshark {
        let Some(want_ch) = want.client_hello_ns else {
            continue;
        };
        let row = ours
            .get(key)
            .unwrap_or_else(|| panic!("{}: no tls row for {key:?}", pcap.display()));
        let ctx = format!("{} {key:?}: {row}", pcap.display());
        let text = |name: &str| row[name].as_str().map(str::to_string);
        assert_eq!(text("sni"), want.sni, "sni: {ctx}");
        let offered: Vec<String> = row["alpn_offered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(offered, want.alpn_offered, "alpn_offered: {ctx}");
        assert_eq!(
            row["client_hello_ns"].as_i64(),
            Some(want_ch),
            "client_hello_ns: {ctx}"
        );
        compared += 1;
        if want.server_hello_ns.is_none() {
            no_server_hello += 1;
            continue;
        }
        assert_eq!(text("version"), want.version, "version: {ctx}");
        assert_eq!(
            text("cipher_suite"),
            want.cipher_suite,
            "cipher_suite: {ctx}"
        );
        if !(tls13_alpn_hidden && want.version.as_deref() == Some("TLS 1.3")) {
            assert_eq!(text("alpn"), want.alpn, "alpn: {ctx}");
        }
        assert_eq!(
            row["server_hello_ns"].as_i64(),
            want.server_hello_ns,
            "server_hello_ns: {ctx}"
        );
        let want_hello = want.server_hello_ns.map(|s| s - want_ch);
        assert_eq!(row["hello_ns"].as_i64(), want_hello, "hello_ns: {ctx}");
    }
    (compared, no_server_hello)
}

#[test]
fn tls_rows_match_tshark_on_the_corpus() {
    let test = "tls_rows_match_tshark_on_the_corpus";
    let Some(corpus) = common::corpus_dir(test) else {
        return;
    };
    if !tshark_available(test) {
        return;
    }
    let mut total = 0;
    // (capture, connections, of which tshark dissects no ServerHello). In
    // sv__tls-subjectaltname, client port 59691 is reused after a reset: tshark takes the new
    // connection's server flight for retransmissions and never shows its ServerHello (the
    // 1.2 handshake is whole in the capture; tracetail reports it).
    for (name, connections, without_server_hello) in [
        ("scapy__tls_nss_example.pcap", 2, 0),
        ("zeek__tls13_wolfssl.pcap", 1, 0),
        ("sv__tls-subjectaltname__input.pcap", 40, 1),
        ("sv__bug-1450-04__tls_DER-incomplete-header.pcap", 1, 0),
    ] {
        let got = assert_rows_match_tshark(&corpus.join(name), true);
        assert_eq!(got, (connections, without_server_hello), "{name}");
        total += got.0;
    }
    eprintln!("tls rows equal tshark on {total} corpus connections");
}

#[test]
fn tls_timing_and_flags_on_known_connections() {
    let Some(corpus) = common::corpus_dir("tls_timing_and_flags_on_known_connections") else {
        return;
    };
    // TLS 1.3 (wolfSSL): the client's Finished is its first encrypted record after the
    // ServerHello; no keys, so ALPN chosen is unknown and the row says why it is not decrypted.
    let rows = tracetail_rows(&corpus.join("zeek__tls13_wolfssl.pcap"), &[]);
    let row = rows.values().next().unwrap();
    assert_eq!(row["handshake_end"], "first_client_encrypted_record");
    assert_eq!(row["decrypted"], false);
    assert_eq!(row["undecrypted_reason"], "no key");
    assert!(row["handshake_ns"].as_i64().unwrap() > row["hello_ns"].as_i64().unwrap());
    assert!(row["first_data_ns"].as_i64() > row["client_hello_ns"].as_i64());
    // TLS 1.2: the Finished follows the client's ChangeCipherSpec.
    let rows = tracetail_rows(&corpus.join("sv__tls-subjectaltname__input.pcap"), &[]);
    for row in rows.values() {
        assert_eq!(row["handshake_end"], "client_finished", "{row}");
        assert_eq!(row["version"], "TLS 1.2");
    }
}

/// Whether `name` runs here; when it does not, skipped (a failure under CI).
fn have(test: &str, name: &str, arg: &str) -> bool {
    let ok = Command::new(name).arg(arg).output().is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: {name} is not installed, but CI must run this test");
        }
        common::skip_visibly(test, &format!("{name} is not installed"));
    }
    ok
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// `tracetail ARGS` must succeed; its stdout, with stderr appended (both are searched for
/// secrets).
fn tracetail_ok(args: &[&str]) -> (String, String) {
    let out = common::tracetail()
        .args(args)
        .output()
        .expect("run tracetail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tracetail {args:?}: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The JSON rows without their `capture` field (the same traffic read from two files).
fn without_capture(text: &str) -> Vec<Value> {
    let mut rows = json_lines(text);
    for row in &mut rows {
        row.as_object_mut().unwrap().remove("capture");
    }
    rows
}

/// tshark's `http.time` of each decrypted response, by (client port, position on the
/// connection from 1). Every caller's capture has responses tshark pairs: a run that fails
/// or pairs none is run again (once, in a CI run with the other tests beside it, tshark
/// paired none of the 17 responses of a capture whose every one it paired when run alone
/// after), up to three times, then the test fails with what tshark said.
fn tshark_http_times(pcap: &Path, keylog: &Path) -> BTreeMap<(u16, u64), i64> {
    let mut failures = Vec::new();
    loop {
        let out = Command::new("tshark")
            .args(["-n", "-r"])
            .arg(pcap)
            .arg("-o")
            .arg(format!("tls.keylog_file:{}", keylog.display()))
            .args([
                "-Y",
                "http.response",
                "-T",
                "fields",
                "-e",
                "tcp.dstport",
                "-e",
                "http.time",
            ])
            .output()
            .expect("run tshark");
        let mut depth: BTreeMap<u16, u64> = BTreeMap::new();
        let mut times = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let (port, time) = line.split_once('\t').unwrap();
            let port: u16 = port.parse().unwrap();
            let n = depth.entry(port).or_default();
            *n += 1;
            if !time.is_empty() {
                times.insert((port, *n), epoch_ns(time));
            }
        }
        if out.status.success() && !times.is_empty() {
            if !failures.is_empty() {
                eprintln!("tshark needed {} more runs: {failures:?}", failures.len());
            }
            return times;
        }
        failures.push(format!(
            "{}, {} responses: {}",
            out.status,
            depth.values().sum::<u64>(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        assert!(
            failures.len() < 3,
            "tshark paired no HTTP response in {} three times: {failures:?}",
            pcap.display()
        );
    }
}

/// Runs `scripts/SCRIPT --workdir target/tmp/tls/WORKDIR` (real servers and clients on
/// loopback, captured by tcpdump) and returns the work directory and the script's JSON
/// manifest; `None` (skipped, a failure under CI) without the tools or root. On a busy
/// machine the kernel may drop a packet: captures again, up to 3 times.
fn capture_on_loopback(
    test: &str,
    script: &str,
    workdir: &str,
    needs_editcap: bool,
) -> Option<(std::path::PathBuf, Value)> {
    let mut tools = vec![
        ("tcpdump", "--version"),
        ("python3", "--version"),
        ("openssl", "version"),
        ("tshark", "--version"),
    ];
    if needs_editcap {
        tools.push(("editcap", "--version"));
    }
    for (tool, arg) in tools {
        if !have(test, tool, arg) {
            return None;
        }
    }
    if !is_root() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: capturing on lo needs root, and CI runs as root");
        }
        common::skip_visibly(test, "capturing on lo needs root");
        return None;
    }
    let work = common::scratch("tls", workdir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    for attempt in 1.. {
        let out = Command::new("timeout")
            .arg("120")
            .arg("python3")
            .arg(&script)
            .arg("--workdir")
            .arg(&work)
            .output()
            .expect("run the capture script");
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest: Value = serde_json::from_slice(&out.stdout).expect("manifest is JSON");
        let stats = manifest["tcpdump"].as_str().unwrap().to_string();
        if stats
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel")
        {
            return Some((work, manifest));
        }
        assert!(attempt < 3, "tcpdump keeps dropping packets: {stats}");
    }
    unreachable!()
}

/// Real HTTPS on loopback (scripts/tls_capture.py: Python `ssl` server; Python, curl and
/// `openssl s_client` clients writing key logs; TLS 1.2 and 1.3, every supported suite,
/// keep-alive and one connection per request, a 300 kB response, KeyUpdate, resumption):
/// every request is found decrypted with its path and status, `tshark_ns` equals tshark's
/// `http.time` with the same key log, the keys in a pcapng Decryption Secrets Block give the
/// same output, no secret appears in any output, and missing or wrong keys are reported
/// per connection without garbage rows.
#[test]
fn https_on_loopback_decrypted_from_key_logs() {
    let test = "https_on_loopback_decrypted_from_key_logs";
    let Some((work, manifest)) = capture_on_loopback(test, "tls_capture.py", "loopback", true)
    else {
        return;
    };
    let pcap = Path::new(manifest["pcap"].as_str().unwrap()).to_path_buf();
    let requests = manifest["requests"].as_array().unwrap();
    let keylogs: Vec<String> = manifest["keylogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let curl = manifest["curl"].as_bool().unwrap();
    assert_eq!(requests.len(), if curl { 17 } else { 13 }, "{requests:?}");
    let mut key_args: Vec<&str> = Vec::new();
    for k in &keylogs {
        key_args.extend(["--keylog", k.as_str()]);
    }
    let pcap_arg = pcap.to_str().unwrap();
    let mut outputs = String::new();

    // 1. Every request the clients made, decrypted, with its path and status.
    let (http_json, err) =
        tracetail_ok(&[&["http", "--json"], &key_args[..], &[pcap_arg]].concat());
    outputs += &http_json;
    outputs += &err;
    let rows = json_lines(&http_json);
    let count = |items: Vec<(String, u64)>| {
        let mut m = BTreeMap::new();
        for i in items {
            *m.entry(i).or_insert(0) += 1;
        }
        m
    };
    let want = count(
        requests
            .iter()
            .map(|r| {
                (
                    r["path"].as_str().unwrap().to_string(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .collect(),
    );
    let got = count(
        rows.iter()
            .map(|r| {
                (
                    r["uri"].as_str().unwrap().to_string(),
                    r["status"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    );
    assert_eq!(
        got, want,
        "decrypted requests differ from what the clients made"
    );
    for row in &rows {
        assert_eq!(row["tls"], true, "{row}");
        assert_eq!(row["sni"], "localhost", "{row}");
        assert_eq!(row["flags"].as_array().unwrap().len(), 0, "{row}");
    }
    let big = rows.iter().find(|r| r["uri"] == "/bytes/300000").unwrap();
    assert_eq!(big["response_body_bytes"], 300000);

    // 2. tshark_ns equals tshark's http.time with the same keys, wherever tshark pairs.
    let all_keys = work.join("keys-all.txt");
    let mut text = String::new();
    for k in &keylogs {
        text += &std::fs::read_to_string(k).unwrap();
    }
    std::fs::write(&all_keys, &text).unwrap();
    let tshark = tshark_http_times(&pcap, &all_keys);
    let mut paired = 0;
    for row in &rows {
        let key = (
            row["client_port"].as_u64().unwrap() as u16,
            row["depth"].as_u64().unwrap(),
        );
        if let Some(&t) = tshark.get(&key) {
            assert_eq!(row["tshark_ns"].as_i64(), Some(t), "tshark_ns of {row}");
            paired += 1;
        }
    }
    assert_eq!(
        paired,
        rows.len(),
        "tshark paired only {paired} of {} responses",
        rows.len()
    );

    // 3. TLS rows: without keys equal to tshark's handshake fields; with keys decrypted,
    //    ALPN known (also TLS 1.3), resumption and KeyUpdate seen.
    let (compared, _) = assert_rows_match_tshark(&pcap, true);
    let connections: std::collections::BTreeSet<&str> = requests
        .iter()
        .map(|r| r["connection"].as_str().unwrap())
        .collect();
    assert_eq!(compared, connections.len());
    let (tls_json, err) = tracetail_ok(&[&["tls", "--json"], &key_args[..], &[pcap_arg]].concat());
    outputs += &tls_json;
    outputs += &err;
    let tls_rows = json_lines(&tls_json);
    assert_eq!(tls_rows.len(), connections.len());
    for row in &tls_rows {
        assert_eq!(row["decrypted"], true, "{row}");
        assert_eq!(row["undecrypted_reason"], Value::Null, "{row}");
        assert_eq!(row["handshake_end"], "client_finished", "{row}");
        let offered = !row["alpn_offered"].as_array().unwrap().is_empty();
        let alpn = if offered {
            Value::from("http/1.1")
        } else {
            Value::Null
        };
        assert_eq!(row["alpn"], alpn, "{row}");
    }
    let resumptions: Vec<&Value> = tls_rows
        .iter()
        .map(|r| &r["resumption"])
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(
        resumptions,
        [&Value::from("psk"), &Value::from("session_id")]
    );
    let key_updates = tls_rows
        .iter()
        .filter(|r| {
            r["flags"]
                .as_array()
                .unwrap()
                .contains(&Value::from("key_update"))
        })
        .count();
    assert_eq!(key_updates, 1);
    let suites: std::collections::BTreeSet<&str> = tls_rows
        .iter()
        .map(|r| r["cipher_suite"].as_str().unwrap())
        .collect();
    let mut want_suites = vec![
        "TLS_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
    ];
    if curl {
        want_suites.extend(["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]);
    }
    assert_eq!(suites, want_suites.into_iter().collect());

    // 4. The same keys in a pcapng Decryption Secrets Block: identical output.
    let dsb = work.join("dsb.pcapng");
    let status = Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", all_keys.display()))
        .arg(&pcap)
        .arg(&dsb)
        .status()
        .unwrap();
    assert!(status.success());
    let dsb_arg = dsb.to_str().unwrap();
    let (dsb_http, _) = tracetail_ok(&["http", "--json", dsb_arg]);
    assert_eq!(without_capture(&dsb_http), without_capture(&http_json));
    let (dsb_tls, _) = tracetail_ok(&["tls", "--json", dsb_arg]);
    assert_eq!(without_capture(&dsb_tls), without_capture(&tls_json));
    // With 4 workers the front reads on one thread and deals on another: the secrets still
    // reach the workers before the packets after them.
    let (dsb_http4, _) = tracetail_ok(&["http", "--json", "--threads", "4", dsb_arg]);
    assert_eq!(without_capture(&dsb_http4), without_capture(&http_json));

    // 5. Missing keys: only curl's (or openssl's) key log; the others say "no key".
    let only = keylogs.iter().find(|k| k.contains("openssl")).unwrap();
    let (partial_tls, err) = tracetail_ok(&["tls", "--json", "--keylog", only, pcap_arg]);
    outputs += &partial_tls;
    outputs += &err;
    let partial = json_lines(&partial_tls);
    assert_eq!(partial.iter().filter(|r| r["decrypted"] == true).count(), 1);
    for row in partial.iter().filter(|r| r["decrypted"] == false) {
        assert_eq!(row["undecrypted_reason"], "no key", "{row}");
    }
    let (partial_http, _) = tracetail_ok(&["http", "--json", "--keylog", only, pcap_arg]);
    assert_eq!(
        json_lines(&partial_http).len(),
        2,
        "only the openssl connection's requests"
    );

    // 6. Wrong keys (every secret changed): no garbage rows, each connection says why.
    assert_wrong_keys_decode_nothing(&work, &text, &pcap);

    // 7. Damaged records with the right keys: authentication failures, never a panic.
    let mut keys = tracetail::analyzers::tls::KeyLog::default();
    keys.add_text("keys", &text).unwrap();
    mutated_tls_never_panics(&pcap, keys, 40);

    // 8. Secrets never appear in any output (text and CSV too).
    for format in [&[][..], &["--csv"][..]] {
        for command in ["http", "tls"] {
            let (out, err) =
                tracetail_ok(&[&[command], format, &key_args[..], &[pcap_arg]].concat());
            outputs += &out;
            outputs += &err;
        }
    }
    let lower = outputs.to_lowercase();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let secret = line.split(' ').nth(2).unwrap().to_lowercase();
        assert!(
            !lower.contains(&secret[..32]),
            "a secret appears in the output"
        );
    }
}

/// With every secret of `keys` changed, each connection says `wrong key` (the first record's
/// tag or MAC fails) and no transaction comes out of the undecryptable traffic.
fn assert_wrong_keys_decode_nothing(work: &Path, keys: &str, pcap: &Path) {
    let flipped: String = keys
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(' ').map(str::to_string).collect();
            if f.len() == 3 {
                let c = if f[2].starts_with('0') { "1" } else { "0" };
                f[2].replace_range(0..1, c);
            }
            f.join(" ") + "\n"
        })
        .collect();
    let wrong = work.join("keys-wrong.txt");
    std::fs::write(&wrong, flipped).unwrap();
    let (wrong_arg, pcap_arg) = (wrong.to_str().unwrap(), pcap.to_str().unwrap());
    let (wrong_tls, _) = tracetail_ok(&["tls", "--json", "--keylog", wrong_arg, pcap_arg]);
    for row in json_lines(&wrong_tls) {
        assert_eq!(row["decrypted"], false, "{row}");
        assert_eq!(row["undecrypted_reason"], "wrong key", "{row}");
    }
    let (wrong_http, _) = tracetail_ok(&["http", "--json", "--keylog", wrong_arg, pcap_arg]);
    assert_eq!(wrong_http, "", "no transaction from undecryptable traffic");
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The capture's packets with TCP payload offsets (bytes TLS sees).
fn packets_with_payloads(
    pcap: &Path,
) -> Vec<(
    i64,
    tracetail::capture::LinkType,
    Vec<u8>,
    std::ops::Range<usize>,
)> {
    use tracetail::decode::{decode, Transport};
    let mut reader = tracetail::capture::CaptureReader::open(pcap).unwrap();
    let mut packets = Vec::new();
    while let Ok(Some(p)) = reader.next_packet() {
        let decoded = decode(p.link_type, p.data);
        let range = match decoded.transport {
            Transport::Tcp(t) if !t.payload.is_empty() => {
                let start = t.payload.as_ptr() as usize - p.data.as_ptr() as usize;
                start..start + t.payload.len()
            }
            _ => 0..0,
        };
        packets.push((p.timestamp_ns, p.link_type, p.data.to_vec(), range));
    }
    packets
}

/// Runs the whole pass (TLS rows on, `keys` for decryption) over `rounds` copies of the
/// capture whose TCP payloads got random byte changes, cuts and swaps: never a panic, and
/// every TLS row stays well-formed.
fn mutated_tls_never_panics(pcap: &Path, keys: tracetail::analyzers::tls::KeyLog, rounds: usize) {
    use tracetail::pipeline::{analyze, PassOptions, Record};
    let packets = packets_with_payloads(pcap);
    let with_payload: Vec<usize> = (0..packets.len())
        .filter(|&i| !packets[i].3.is_empty())
        .collect();
    let mut options = PassOptions {
        transactions: true,
        threads: 1,
        ..Default::default()
    };
    options.analyzer.tls.rows = true;
    options.analyzer.tls.keys = std::sync::Arc::new(keys);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ packets.len() as u64);
    let mut total_rows = 0;
    for round in 0..rounds {
        let mut copy = packets.clone();
        for _ in 0..1 + rng.below(6) {
            let i = with_payload[rng.below(with_payload.len())];
            let range = copy[i].3.clone();
            let data = &mut copy[i].2;
            let at = range.start + rng.below(range.len());
            match rng.below(4) {
                // Flip a byte: often a record header (length, type) or a tag.
                0 | 1 => data[at] ^= 1 << rng.below(8),
                // A random byte.
                2 => data[at] = rng.next() as u8,
                // Zero the rest of the payload.
                _ => data[at..range.end].fill(0),
            }
        }
        let link = copy[0].1;
        let mut writer =
            tracetail::capture::PcapWriter::new(Vec::new(), link, 262_144, true).unwrap();
        for (ts, _, data, _) in &copy {
            writer.write_packet(*ts, data, data.len() as u32).unwrap();
        }
        let bytes = writer.finish().unwrap();
        let reader = tracetail::capture::CaptureReader::from_read(
            "mutated",
            Box::new(std::io::Cursor::new(bytes)),
        )
        .unwrap();
        let mut rows = 0;
        analyze(reader, &options, None, &mut |record| {
            if let Record::Tls(t) = record {
                rows += 1;
                assert!(
                    t.decrypted != t.undecrypted_reason.is_some(),
                    "round {round}: {t:?}"
                );
                if let (Some(c), Some(s), Some(h)) =
                    (t.client_hello_ns, t.server_hello_ns, t.hello_ns)
                {
                    assert_eq!(h, s - c);
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        total_rows += rows;
    }
    // A damaged first record can make a connection "not TLS" (no row), but not every time.
    assert!(
        total_rows * 2 > rounds,
        "{}: only {total_rows} rows",
        pcap.display()
    );
}

#[test]
fn mutated_tls_records_never_panic() {
    let Some(corpus) = common::corpus_dir("mutated_tls_records_never_panic") else {
        return;
    };
    for name in [
        "zeek__tls13_wolfssl.pcap",
        "scapy__tls_nss_example.pcap",
        "sv__tls-subjectaltname__input.pcap",
    ] {
        mutated_tls_never_panics(&corpus.join(name), Default::default(), 60);
    }
}

/// `latency --metric tls-hello|tls-handshake --by sni`: the samples are the `tls` rows' values
/// (count and nearest-rank percentiles computed here from `tls --json`).
#[test]
fn latency_of_tls_hellos_and_handshakes_by_sni() {
    let Some(corpus) = common::corpus_dir("latency_of_tls_hellos_and_handshakes_by_sni") else {
        return;
    };
    let pcap = corpus.join("sv__tls-subjectaltname__input.pcap");
    let (tls, _) = tracetail_ok(&["tls", "--json", pcap.to_str().unwrap()]);
    let rows = json_lines(&tls);
    for (metric, field) in [("tls-hello", "hello_ns"), ("tls-handshake", "handshake_ns")] {
        let (out, _) = tracetail_ok(&[
            "latency",
            "--metric",
            metric,
            "--by",
            "sni",
            "--json",
            pcap.to_str().unwrap(),
        ]);
        let summary: Value = serde_json::from_str(&out).unwrap();
        let mut want: Vec<i64> = rows.iter().filter_map(|r| r[field].as_i64()).collect();
        want.sort_unstable();
        assert_eq!(
            summary["count"].as_u64(),
            Some(want.len() as u64),
            "{metric}"
        );
        let p50 = want[(want.len() * 50).div_ceil(100) - 1];
        assert_eq!(
            summary["percentiles"]["50"].as_i64(),
            Some(p50),
            "{metric}: {summary}"
        );
        let bing = &summary["groups"]["www.bing.com"];
        let n = rows
            .iter()
            .filter(|r| r["sni"] == "www.bing.com" && !r[field].is_null())
            .count();
        assert_eq!(
            bing["count"].as_u64(),
            Some(n as u64),
            "{metric}: {summary}"
        );
    }
}

/// Real TLS 1.2 AES-CBC (HMAC-SHA1/SHA256/SHA384, with and without encrypt-then-MAC) and a
/// TLS 1.3 HelloRetryRequest on loopback (scripts/tls_cbc_capture.py: `openssl s_server
/// -HTTP`, clients `openssl s_client` and curl): every request is found decrypted with its
/// path and status, `tshark_ns` equals tshark's `http.time` with the same keys, the rows'
/// handshake fields equal tshark's, the HelloRetryRequest is flagged and timed from the first
/// ClientHello to the HelloRetryRequest, and wrong keys (bad MACs) are reported, not decoded.
#[test]
fn aes_cbc_and_hello_retry_on_loopback() {
    let test = "aes_cbc_and_hello_retry_on_loopback";
    let Some((work, manifest)) = capture_on_loopback(test, "tls_cbc_capture.py", "cbc", false)
    else {
        return;
    };
    let pcap = Path::new(manifest["pcap"].as_str().unwrap()).to_path_buf();
    let pcap_arg = pcap.to_str().unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    let mut key_args: Vec<&str> = Vec::new();
    let mut all_keys = String::new();
    for case in cases {
        assert_eq!(case["status"], 200, "the client got its page: {case}");
        let keylog = case["keylog"].as_str().unwrap();
        key_args.extend(["--keylog", keylog]);
        all_keys += &std::fs::read_to_string(keylog).unwrap();
    }
    let keys_file = work.join("keys-all.txt");
    std::fs::write(&keys_file, &all_keys).unwrap();

    // 1. Each connection's row: the suite, decrypted, the HelloRetryRequest flagged.
    let (tls_json, _) = tracetail_ok(&[&["tls", "--json"], &key_args[..], &[pcap_arg]].concat());
    let tls_rows = json_lines(&tls_json);
    assert_eq!(tls_rows.len(), cases.len());
    for case in cases {
        let port = &case["server_port"];
        let row = tls_rows
            .iter()
            .find(|r| &r["server_port"] == port)
            .unwrap_or_else(|| panic!("no tls row for {case}"));
        assert_eq!(row["cipher_suite"], case["suite"], "{row}");
        assert_eq!(row["decrypted"], true, "{case}: {row}");
        let flags = row["flags"].as_array().unwrap();
        let hrr = flags.contains(&Value::from("hello_retry"));
        assert_eq!(hrr, case["hrr"] == true, "{row}");
        if hrr {
            assert_eq!(row["version"], "TLS 1.3");
            assert_eq!(row["resumed"], false, "{row}");
            assert_eq!(row["handshake_end"], "client_finished", "{row}");
        }
    }
    // Without keys: SNI, version, suite and hello times equal tshark's (for the
    // HelloRetryRequest, the first ServerHello-type message: the retry request).
    let (compared, _) = assert_rows_match_tshark(&pcap, true);
    assert_eq!(compared, cases.len());
    let hrr_row = tracetail_rows(&pcap, &[])
        .into_values()
        .find(|r| {
            r["flags"]
                .as_array()
                .unwrap()
                .contains(&Value::from("hello_retry"))
        })
        .expect("the HelloRetryRequest is seen without keys");
    assert_eq!(hrr_row["handshake_end"], "first_client_encrypted_record");

    // 2. The HTTP inside, with the times tshark gives with the same keys.
    let (http_json, _) = tracetail_ok(&[&["http", "--json"], &key_args[..], &[pcap_arg]].concat());
    let rows = json_lines(&http_json);
    assert_eq!(rows.len(), cases.len(), "{http_json}");
    let tshark = tshark_http_times(&pcap, &keys_file);
    for row in &rows {
        assert_eq!(row["uri"], "/page.txt", "{row}");
        assert_eq!(row["status"], 200, "{row}");
        assert_eq!(row["response_body_bytes"], 48000, "{row}");
        assert_eq!(row["tls"], true, "{row}");
        let key = (row["client_port"].as_u64().unwrap() as u16, 1);
        let want = tshark.get(&key).unwrap_or_else(|| panic!("tshark: {row}"));
        assert_eq!(row["tshark_ns"].as_i64(), Some(*want), "{row}");
    }

    // 3. Wrong keys: the MAC (or tag) check fails on the first record, nothing is decoded.
    assert_wrong_keys_decode_nothing(&work, &all_keys, &pcap);

    // 4. Damaged records with the right keys: never a panic.
    let mut keys = tracetail::analyzers::tls::KeyLog::default();
    keys.add_text("keys", &all_keys).unwrap();
    mutated_tls_never_panics(&pcap, keys, 30);
}

/// An SSLv2-compatible ClientHello (RFC 5246 appendix E.2; no current client sends one), built
/// from literal bytes into a pcap together with a TLS 1.0 ServerHello and the client's
/// ChangeCipherSpec + Finished: the row is flagged `sslv2_hello`, its times are those of the
/// packets, and tshark reads the same hellos.
#[test]
fn sslv2_compatible_client_hello_is_detected() {
    use tracetail::synth::packet::{tcp_flags, Endpoints, PacketBuilder, TcpFields};
    let test = "sslv2_compatible_client_hello_is_detected";
    // msg_length (high bit set), CLIENT-HELLO, version 3.1, cipher_spec_length 9,
    // session_id_length 0, challenge_length 16; three cipher specs (TLS_RSA_WITH_AES_128_CBC_SHA,
    // TLS_RSA_WITH_AES_256_CBC_SHA, SSL_CK_RC4_128_WITH_MD5); the challenge.
    let mut sslv2 = vec![
        0x80, 0x22, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10,
    ];
    sslv2.extend([0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80]);
    sslv2.extend(0x40u8..0x50);
    assert_eq!(sslv2.len(), 2 + 0x22);
    // A TLS 1.0 ServerHello (random, empty session id, TLS_RSA_WITH_AES_128_CBC_SHA, null
    // compression) and ServerHelloDone, in one record.
    let mut server_hello = vec![0x03, 0x01];
    server_hello.extend([0x5a; 32]);
    server_hello.extend([0x00, 0x00, 0x2f, 0x00]);
    let mut messages = vec![0x02, 0x00, 0x00, server_hello.len() as u8];
    messages.extend(&server_hello);
    messages.extend([0x0e, 0, 0, 0]);
    let mut server_flight = vec![0x16, 0x03, 0x01, 0x00, messages.len() as u8];
    server_flight.extend(&messages);
    // ChangeCipherSpec, then the (encrypted) Finished: 48 opaque bytes.
    let mut client_flight = vec![
        0x14, 0x03, 0x01, 0x00, 0x01, 0x01, 0x16, 0x03, 0x01, 0x00, 0x30,
    ];
    client_flight.extend([0x99; 48]);

    let client = Endpoints {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [2, 0, 0, 0, 0, 2],
        src_ip: "192.0.2.1".parse().unwrap(),
        dst_ip: "192.0.2.2".parse().unwrap(),
        src_port: 40001,
        dst_port: 4433,
    };
    let server = client.reversed();
    let t0: i64 = 1_700_000_000_000_000_000;
    // Initial sequence numbers: the SYNs take one each.
    let (mut c_seq, mut s_seq) = (999u32, 4999u32);
    let mut builder = PacketBuilder::new();
    let mut writer = tracetail::capture::PcapWriter::new(
        Vec::new(),
        tracetail::capture::LinkType::ETHERNET,
        65535,
        true,
    )
    .unwrap();
    let mut send = |from_client: bool, flags: u8, payload: &[u8], at_us: i64| {
        let (ends, seq, ack) = if from_client {
            (&client, &mut c_seq, s_seq)
        } else {
            (&server, &mut s_seq, c_seq)
        };
        let fields = TcpFields {
            seq: *seq,
            ack,
            flags,
            window: 65535,
        };
        let frame = builder
            .tcp(ends, fields, |buf| buf.extend_from_slice(payload))
            .to_vec();
        *seq = seq.wrapping_add(
            payload.len() as u32 + u32::from(flags & (tcp_flags::SYN | tcp_flags::FIN) != 0),
        );
        writer
            .write_packet(t0 + at_us * 1000, &frame, frame.len() as u32)
            .unwrap();
    };
    let (a, pa) = (tcp_flags::ACK, tcp_flags::ACK | tcp_flags::PSH);
    send(true, tcp_flags::SYN, &[], 0);
    send(false, tcp_flags::SYN | a, &[], 100);
    send(true, a, &[], 200);
    send(true, pa, &sslv2, 1_000);
    send(false, pa, &server_flight, 1_700);
    send(true, pa, &client_flight, 2_500);
    send(false, tcp_flags::FIN | a, &[], 3_000);
    send(true, tcp_flags::FIN | a, &[], 3_100);
    let pcap = common::scratch("tls", "sslv2.pcap");
    std::fs::write(&pcap, writer.finish().unwrap()).unwrap();

    let rows = tracetail_rows(&pcap, &[]);
    let [row] = &rows.values().collect::<Vec<_>>()[..] else {
        panic!("one tls row expected: {rows:?}");
    };
    assert_eq!(row["client_port"], 40001, "{row}");
    assert_eq!(row["server_port"], 4433, "{row}");
    assert_eq!(row["flags"], serde_json::json!(["sslv2_hello"]), "{row}");
    assert_eq!(row["client_hello_ns"], t0 + 1_000_000, "{row}");
    assert_eq!(row["server_hello_ns"], t0 + 1_700_000, "{row}");
    assert_eq!(row["hello_ns"], 700_000, "{row}");
    // The Finished record is in the same packet as the ChangeCipherSpec.
    assert_eq!(row["handshake_ns"], 1_500_000, "{row}");
    assert_eq!(row["handshake_end"], "client_finished", "{row}");
    assert_eq!(row["version"], "TLS 1.0", "{row}");
    assert_eq!(row["cipher_suite"], "TLS_RSA_WITH_AES_128_CBC_SHA", "{row}");
    assert_eq!(
        row["sni"],
        Value::Null,
        "an SSLv2 hello has no extensions: {row}"
    );

    // tshark reads the same two hellos (its SSLv2 record layer for the first).
    if !tshark_available(test) {
        return;
    }
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-d",
            "tcp.port==4433,tls",
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
        ])
        .args(["-e", "tls.record.version", "-e", "tls.handshake.type"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hellos: Vec<(i64, &str, &str)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[2] == "1" || f[2].starts_with("2,")).then(|| (epoch_ns(f[0]), f[1], f[2]))
        })
        .collect();
    assert_eq!(
        hellos,
        [
            (row["client_hello_ns"].as_i64().unwrap(), "0x0002", "1"),
            (row["server_hello_ns"].as_i64().unwrap(), "0x0301", "2,14")
        ],
        "tshark: an SSLv2 record holding a ClientHello, then the ServerHello: {text}"
    );
}

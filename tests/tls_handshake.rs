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

//! Everyday use (issue 13): time windows, time formats, `--by capture`, `summary --intervals`,
//! the JSON field contract, time anomalies, DNS names and error messages.
//!
//! References are independent of tracetail: packet timestamps are read straight from the
//! classic pcap record headers, RFC 3339 strings come from Python's `datetime`, per-file
//! results are compared with the grouped ones.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::tracetail().args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_lines(args: &[&str]) -> Vec<Value> {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn corpus_file(test: &str, name: &str) -> Option<PathBuf> {
    common::corpus_dir(test).map(|dir| dir.join(name))
}

/// Timestamps (ns) of a classic pcap file, from its record headers.
fn pcap_timestamps(path: &Path) -> Vec<i64> {
    let bytes = std::fs::read(path).unwrap();
    let magic = &bytes[..4];
    let (little, nano) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        other => panic!("{}: not a classic pcap ({other:?})", path.display()),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        i64::from(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= bytes.len() {
        let frac = u32_at(at + 4);
        out.push(u32_at(at) * 1_000_000_000 + if nano { frac } else { frac * 1000 });
        at += 16 + u32_at(at + 8) as usize;
    }
    out
}

/// RFC 3339 for `ns` in the given UTC offset, by Python's datetime (microseconds).
fn python_rfc3339(ns: i64, offset_hours: i32) -> String {
    let code = format!(
        "import datetime as d\n\
         tz = d.timezone(d.timedelta(hours={offset_hours}))\n\
         t = d.datetime(1970, 1, 1, tzinfo=d.timezone.utc) + d.timedelta(microseconds={})\n\
         print(t.astimezone(tz).isoformat().replace('+00:00', 'Z'))",
        ns.div_euclid(1000)
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &code])
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn start_and_end_select_the_time_window() {
    let Some(file) = corpus_file("start_and_end", "zeek__methods.pcap") else {
        return;
    };
    let path = file.to_str().unwrap();
    let times = pcap_timestamps(&file);
    let first = times[0];
    let count = |from: i64, to: i64| times.iter().filter(|t| **t >= from && **t < to).count();
    let packets = |extra: &[&str]| {
        let mut args = vec!["summary", "--json"];
        args.extend_from_slice(extra);
        args.push(path);
        json(&args)["packets"].as_u64().unwrap() as usize
    };
    // Seconds after the first packet.
    let expected = count(first + 10_000_000_000, first + 20_500_000_000);
    assert!(expected > 0 && expected < times.len());
    assert_eq!(packets(&["--start", "10", "--end", "20.5"]), expected);
    assert_eq!(packets(&["--end", "0"]), 0);
    assert_eq!(packets(&["--start", "0"]), times.len());
    // RFC 3339, in UTC and with an offset: the same instant either way.
    let from = first + 5_250_000_000;
    let to = first + 30_000_000_000;
    let expected = count(from, to);
    assert!(expected > 0 && expected < times.len());
    let (start_utc, end_plus2) = (python_rfc3339(from, 0), python_rfc3339(to, 2));
    assert!(end_plus2.ends_with("+02:00"), "{end_plus2}");
    assert_eq!(
        packets(&["--start", &start_utc, "--end", &end_plus2]),
        expected
    );
    // The window applies to transactions too: every HTTP row starts inside it.
    let rows = json_lines(&[
        "http", "--json", "--start", &start_utc, "--end", &end_plus2, path,
    ]);
    assert!(!rows.is_empty());
    for row in &rows {
        let t = row["request_first_ns"].as_i64().unwrap();
        assert!(t >= from && t < to, "{row}");
    }
    let bad = run(&["summary", "--start", "yesterday", path]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
}

#[test]
fn time_formats_print_the_same_instant_at_the_capture_resolution() {
    let Some(file) = corpus_file("time_formats", "zeek__methods.pcap") else {
        return;
    };
    let path = file.to_str().unwrap();
    let first_packet = pcap_timestamps(&file)[0];
    let rows = json_lines(&["http", "--json", path]);
    let starts: Vec<i64> = rows
        .iter()
        .map(|r| r["request_first_ns"].as_i64().unwrap())
        .collect();
    let printed = |format: &str| -> Vec<String> {
        let out = run(&["http", "--time-format", format, path]);
        stdout(&out)
            .lines()
            .filter_map(|l| l.strip_prefix("HTTP request at "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    // A microsecond capture: six decimals, never nanosecond zeros.
    let epoch = printed("epoch");
    let expected: Vec<String> = starts
        .iter()
        .map(|ns| format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000))
        .collect();
    assert_eq!(epoch, expected);
    let iso = printed("iso");
    let expected: Vec<String> = starts.iter().map(|ns| python_rfc3339(*ns, 0)).collect();
    assert_eq!(iso, expected);
    let relative = printed("relative");
    let expected: Vec<String> = starts
        .iter()
        .map(|ns| {
            let d = ns - first_packet;
            format!("+{}.{:06}s", d / 1_000_000_000, d % 1_000_000_000 / 1000)
        })
        .collect();
    assert_eq!(relative, expected);
    // Durations: `19.484ms` yes, `78.000µs` (digits the capture does not have) no.
    let text = stdout(&run(&["http", path]));
    assert!(text.contains("ms"), "{text}");
    assert!(!text.contains(".000µs"), "{text}");
    // DNS rows take the format too.
    let dns = corpus_file("time_formats", "cs__dns_lab.pcapng").unwrap();
    let text = stdout(&run(&[
        "dns",
        "--time-format",
        "relative",
        dns.to_str().unwrap(),
    ]));
    assert!(text.starts_with("DNS query at +0."), "{text}");
}

#[test]
fn by_capture_compares_captures_side_by_side() {
    let test = "by_capture";
    let (Some(a), Some(b)) = (
        corpus_file(test, "cs__http_espn.pcapng"),
        corpus_file(test, "zeek__methods.pcap"),
    ) else {
        return;
    };
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let grouped = json(&["latency", "--json", "--by", "capture", a, b]);
    let groups = grouped["groups"].as_object().expect("groups object");
    assert_eq!(groups.len(), 2, "{grouped}");
    for file in [a, b] {
        let alone = json(&["latency", "--json", file]);
        assert_eq!(groups[file]["count"], alone["count"], "{file}");
        assert_eq!(groups[file]["percentiles"], alone["percentiles"], "{file}");
    }
    // The plot draws one box per capture.
    let svg = common::scratch("everyday", "by_capture.svg");
    let out = run(&[
        "plot",
        "--kind",
        "compare",
        "--by",
        "capture",
        "-o",
        svg.to_str().unwrap(),
        a,
        b,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let picture = std::fs::read_to_string(&svg).unwrap();
    for name in ["cs__http_espn", "zeek__methods"] {
        assert!(picture.contains(name), "{name} missing from the plot");
    }
    // A report of two captures puts them side by side.
    let html = common::scratch("everyday", "by_capture.html");
    let out = run(&["report", "-o", html.to_str().unwrap(), a, b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    let side = &page[page
        .find("Side by side, by capture")
        .expect("side-by-side section")..];
    assert!(side.contains(a) && side.contains(b));
}

fn sum(rows: &[Value], field: &str) -> u64 {
    rows.iter().map(|r| r[field].as_u64().unwrap()).sum()
}

#[test]
fn intervals_sum_to_the_totals() {
    let test = "intervals";
    let (Some(a), Some(b)) = (
        corpus_file(test, "cs__http_espn.pcapng"),
        corpus_file(test, "cs__dns_lab.pcapng"),
    ) else {
        return;
    };
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    for extra in [vec![], vec!["--filter", "tcp port 80 or udp"]] {
        for width in ["1s", "250ms"] {
            let mut args = vec!["summary", "--json", "--intervals", width];
            args.extend_from_slice(&extra);
            args.extend([a, b]);
            let s = json(&args);
            let rows = s["intervals"].as_array().unwrap().clone();
            assert!(rows.len() > 3, "{width}: {} intervals", rows.len());
            assert_eq!(sum(&rows, "packets"), s["packets"].as_u64().unwrap());
            assert_eq!(sum(&rows, "bytes"), s["wire_bytes"].as_u64().unwrap());
            assert_eq!(sum(&rows, "tcp"), s["tcp"].as_u64().unwrap());
            assert_eq!(sum(&rows, "udp"), s["udp"].as_u64().unwrap());
            // Requests and responses: the HTTP and DNS rows' first bytes.
            let mut tx_args = vec!["http", "--json"];
            tx_args.extend_from_slice(&extra);
            tx_args.extend([a, b]);
            let http = json_lines(&tx_args);
            tx_args[0] = "dns";
            let dns = json_lines(&tx_args);
            let present = |rows: &[Value], f: &str| rows.iter().filter(|r| !r[f].is_null()).count();
            let requests = present(&http, "request_first_ns") + present(&dns, "query_ns");
            let responses = present(&http, "response_first_ns") + present(&dns, "response_ns");
            assert!(requests > 0);
            assert_eq!(sum(&rows, "requests"), requests as u64);
            assert_eq!(sum(&rows, "responses"), responses as u64);
            // Intervals are consecutive multiples of the width.
            let width_ns = s["interval_ns"].as_i64().unwrap();
            for pair in rows.windows(2) {
                let (x, y) = (
                    pair[0]["start_ns"].as_i64().unwrap(),
                    pair[1]["start_ns"].as_i64().unwrap(),
                );
                assert_eq!(x % width_ns, 0);
                assert!(y > x);
            }
            // Per file as well.
            for f in s["files"].as_array().unwrap() {
                let rows = f["intervals"].as_array().unwrap();
                assert_eq!(sum(rows, "packets"), f["packets"].as_u64().unwrap());
            }
        }
    }
    // CSV and text carry the same rows.
    let csv = stdout(&run(&["summary", "--intervals", "1s", "--csv", a]));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "start_ns,start,packets,bytes,tcp,udp,requests,responses"
    );
    let packets: u64 = lines
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        packets,
        json(&["summary", "--json", a])["packets"].as_u64().unwrap()
    );
    let text = stdout(&run(&["summary", "--intervals", "1s", a]));
    assert!(text.contains("intervals of 1.000s"), "{text}");
}

/// The JSON contract: field names and types of `summary --json`, `http --json`, `dns --json`.
#[test]
fn json_fields_have_stable_names_and_types() {
    let test = "json_schema";
    let (Some(http_file), Some(dns_file), Some(gz)) = (
        corpus_file(test, "zeek__methods.pcap"),
        corpus_file(test, "cs__dns_lab.pcapng"),
        corpus_file(test, "scapy__http_chunk.pcap.gz"),
    ) else {
        return;
    };
    fn kind(v: &Value) -> &'static str {
        match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_u64() || n.is_i64() => "int",
            Value::Number(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
    fn check(what: &str, v: &Value, fields: &[(&str, &[&str])]) {
        let object = v
            .as_object()
            .unwrap_or_else(|| panic!("{what}: not an object"));
        for (name, kinds) in fields {
            let got = object.get(*name).map_or("missing", kind);
            assert!(
                kinds.contains(&got),
                "{what}.{name}: {got}, expected {kinds:?}"
            );
        }
    }
    const INT: &[&str] = &["int"];
    const OPT_INT: &[&str] = &["int", "null"];
    const STR: &[&str] = &["string"];
    const OPT_STR: &[&str] = &["string", "null"];
    let counts: &[(&str, &[&str])] = &[
        ("packets", INT),
        ("captured_bytes", INT),
        ("wire_bytes", INT),
        ("first_ns", OPT_INT),
        ("last_ns", OPT_INT),
        ("duration_ns", INT),
        ("tcp", INT),
        ("udp", INT),
        ("icmp", INT),
        ("icmpv6", INT),
        ("arp", INT),
        ("other_ip", INT),
        ("non_ip", INT),
        ("ipv4", INT),
        ("ipv6", INT),
        ("ip_fragments", INT),
        ("link_types", &["object"]),
        ("undecodable", INT),
        ("undecodable_reasons", &["object"]),
        ("protocol_hierarchy", &["array"]),
        ("filtered_out", INT),
        ("time_backwards", INT),
        ("interval_ns", OPT_INT),
        ("intervals", &["array"]),
    ];
    let (h, g) = (http_file.to_str().unwrap(), gz.to_str().unwrap());
    let s = json(&["summary", "--json", h, g]);
    check("summary", &s, counts);
    check(
        "summary",
        &s,
        &[("files", &["array"]), ("unreadable_files", INT)],
    );
    let files = s["files"].as_array().unwrap();
    for f in files {
        check("summary.files[]", f, counts);
        check(
            "summary.files[]",
            f,
            &[
                ("file", STR),
                ("format", OPT_STR),
                ("byte_order", STR),
                ("resolution", OPT_STR),
                ("timestamp_digits", OPT_INT),
                ("compression", OPT_STR),
                ("warnings", &["array"]),
            ],
        );
        // Lower-case words, never Rust debug text.
        assert!(["pcap", "pcapng"].contains(&f["format"].as_str().unwrap()));
        assert!(["little", "big"].contains(&f["byte_order"].as_str().unwrap()));
        assert!(["ns", "us"].contains(&f["resolution"].as_str().unwrap()));
        assert!(["none", "gzip", "zstd"].contains(&f["compression"].as_str().unwrap()));
    }
    assert_eq!(files[0]["compression"], "none");
    assert_eq!(files[1]["compression"], "gzip");
    assert_eq!(files[0]["resolution"], "us");

    let http = json_lines(&["http", "--json", h]);
    let mut names: Vec<&str> = Vec::new();
    for row in &http {
        check(
            "http",
            row,
            &[
                ("capture", STR),
                ("connection_id", INT),
                ("depth", INT),
                ("client_ip", STR),
                ("client_port", INT),
                ("server_ip", STR),
                ("server_port", INT),
                ("method", STR),
                ("host", OPT_STR),
                ("uri", STR),
                ("version", STR),
                ("status", OPT_INT),
                ("request_bytes", INT),
                ("response_bytes", INT),
                ("request_body_bytes", INT),
                ("response_body_bytes", INT),
                ("request_first_ns", OPT_INT),
                ("request_last_ns", OPT_INT),
                ("response_first_ns", OPT_INT),
                ("response_last_ns", OPT_INT),
                ("ttfb_ns", OPT_INT),
                ("total_ns", OPT_INT),
                ("server_ns", OPT_INT),
                ("tshark_ns", OPT_INT),
                ("flags", &["array"]),
                ("gap", &["bool"]),
                ("tls", &["bool"]),
                ("sni", OPT_STR),
                ("stream_id", OPT_INT),
                ("grpc_service", OPT_STR),
                ("grpc_method", OPT_STR),
                ("grpc_status", OPT_INT),
                ("grpc_message", OPT_STR),
                ("grpc_request_messages", OPT_INT),
                ("grpc_response_messages", OPT_INT),
            ],
        );
        names = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names.len(),
            35,
            "http rows have exactly the documented fields"
        );
    }
    assert!(!names.is_empty());

    let dns = json_lines(&["dns", "--json", dns_file.to_str().unwrap()]);
    assert!(!dns.is_empty());
    for row in &dns {
        check(
            "dns",
            row,
            &[
                ("capture", STR),
                ("client_ip", STR),
                ("client_port", INT),
                ("server_ip", STR),
                ("server_port", INT),
                ("transport", STR),
                ("id", INT),
                ("query_name", STR),
                ("query_type", INT),
                ("rcode", OPT_INT),
                ("answers", INT),
                ("query_ns", OPT_INT),
                ("response_ns", OPT_INT),
                ("latency_ns", OPT_INT),
                ("flags", &["array"]),
                ("query_type_name", STR),
                ("rcode_name", OPT_STR),
            ],
        );
    }
}

#[test]
fn dns_rows_name_types_and_response_codes() {
    let Some(file) = corpus_file("dns_names", "cs__dns_lab.pcapng") else {
        return;
    };
    let path = file.to_str().unwrap();
    let rows = json_lines(&["dns", "--json", path]);
    let names: &[(u64, &str)] = &[(1, "A"), (12, "PTR"), (28, "AAAA")];
    let rcodes: &[(u64, &str)] = &[(0, "NOERROR"), (3, "NXDOMAIN")];
    let mut seen_nxdomain = false;
    for row in &rows {
        let t = row["query_type"].as_u64().unwrap();
        if let Some((_, name)) = names.iter().find(|(n, _)| *n == t) {
            assert_eq!(row["query_type_name"], *name, "{row}");
        }
        if let Some(r) = row["rcode"].as_u64() {
            let (_, name) = rcodes.iter().find(|(n, _)| *n == r).expect("known rcode");
            assert_eq!(row["rcode_name"], *name, "{row}");
            seen_nxdomain |= r == 3;
        }
    }
    assert!(seen_nxdomain);
    let text = stdout(&run(&["dns", path]));
    assert!(text.contains(" A NOERROR answers="), "{text}");
    assert!(text.contains(" A NXDOMAIN answers="), "{text}");
    assert!(text.contains(" PTR NOERROR answers="), "{text}");
    assert!(
        !text.contains("type=") && !text.contains("rcode="),
        "{text}"
    );
}

#[test]
fn summary_warns_where_time_jumps() {
    let test = "time_anomalies";
    let (Some(backwards), Some(years)) = (
        corpus_file(test, "zeek__ipv6-http-atomic-frag.pcap"),
        corpus_file(test, "ndpi__1kxun.pcap"),
    ) else {
        return;
    };
    // Steps back, found independently from the record headers.
    let times = pcap_timestamps(&backwards);
    let steps: Vec<usize> = (1..times.len())
        .filter(|i| times[*i] < times[i - 1])
        .collect();
    assert!(!steps.is_empty());
    let out = run(&["summary", backwards.to_str().unwrap()]);
    let warning = stderr(&out);
    assert!(
        warning.contains(&format!(
            "time goes backwards {} time(s); first at packet {}",
            steps.len(),
            steps[0] + 1
        )),
        "{warning}"
    );
    assert!(warning.contains("reordercap"), "{warning}");
    let s = json(&["summary", "--json", backwards.to_str().unwrap()]);
    assert_eq!(s["time_backwards"], steps.len() as u64);
    assert!(s["files"][0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("time goes backwards"));

    // Years: 2016 to 2022, with the jump between two given packets.
    let times = pcap_timestamps(&years);
    let jump = (1..times.len())
        .max_by_key(|i| times[*i] - times[i - 1])
        .unwrap();
    let out = run(&["summary", years.to_str().unwrap()]);
    let warning = stderr(&out);
    assert!(
        warning.contains("packets span 5.8 years (2016-"),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("between packet {} (", jump))
            && warning.contains(&format!(") and packet {} (2022-", jump + 1)),
        "{warning}"
    );
    assert!(warning.contains("--start/--end"), "{warning}");
    // A normal capture gets no such warning.
    let normal = corpus_file(test, "zeek__methods.pcap").unwrap();
    assert!(!stderr(&run(&["summary", normal.to_str().unwrap()])).contains("warning"));
}

#[test]
fn errors_say_what_to_do_next() {
    // A missing file: "no such file", nothing on stdout.
    let out = run(&["http", "no-such-capture.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    let e = stderr(&out);
    assert!(e.contains("no-such-capture.pcap: no such file"), "{e}");
    assert!(!e.contains("check the file is a capture"), "{e}");
    // A text file: says it is not a capture and how to convert, prints no zero counts.
    let text_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text_file = text_file.to_str().unwrap();
    for command in ["http", "dns", "sessions", "latency"] {
        let out = run(&[command, text_file]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(out.stdout.is_empty(), "{command}: {}", stdout(&out));
        let e = stderr(&out);
        assert!(e.contains("not a pcap or pcapng file"), "{command}: {e}");
        assert!(
            e.contains("hint: ") && e.contains("editcap"),
            "{command}: {e}"
        );
    }
    // A directory.
    let dir = env!("CARGO_MANIFEST_DIR");
    let e = stderr(&run(&["summary", dir]));
    assert!(e.contains("is a directory") && e.contains("*.pcap"), "{e}");
    // `dns --help` shows only what applies to DNS; plot sizes are explained.
    let help = stdout(&run(&["dns", "--help"]));
    assert!(help.contains("--dns-timeout") && help.contains("--filter"));
    assert!(!help.contains("--max-header-bytes") && !help.contains("--max-pending-requests"));
    let help = stdout(&run(&["http", "--help"]));
    assert!(help.contains("--max-header-bytes"));
    let help = stdout(&run(&["plot", "-h"]));
    for flag in ["--width <WIDTH>", "--height <HEIGHT>"] {
        let line = help.lines().find(|l| l.contains(flag)).unwrap();
        assert!(line.contains("pixels"), "{line}");
    }
    // plot / latency on a DNS-only capture point at --metric dns, and the reverse.
    let Some(corpus) = common::corpus_dir("errors_say_what_to_do_next") else {
        return;
    };
    let dns_only = corpus.join("cs__dns_lab.pcapng");
    let svg = common::scratch("everyday", "dns_only.svg");
    let out = run(&[
        "plot",
        "--kind",
        "hist",
        "-o",
        svg.to_str().unwrap(),
        dns_only.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("try --metric dns"),
        "{}",
        stderr(&out)
    );
    let out = run(&["latency", dns_only.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("try --metric dns"),
        "{}",
        stderr(&out)
    );
    let http_only = corpus.join("zeek__methods.pcap");
    let out = run(&["latency", "--metric", "dns", http_only.to_str().unwrap()]);
    assert!(
        stderr(&out).contains("try --metric ttfb"),
        "{}",
        stderr(&out)
    );
}

//! The HTML report: self-contained (one inline script of its own, no fetches), complete, and
//! really rendered by a browser: headless Chromium takes screenshots with and without
//! JavaScript at desktop and laptop widths, and hovers a point of the interactive picture.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    common::tracetail()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("report", name)
}

/// Each test makes its own files: tests run in parallel and must not read each other's
/// half-written report.
fn make_report(test: &str) -> (PathBuf, String) {
    let capture = scratch(&format!("{test}.pcap"));
    let out = bin()
        .args(["synth", "-o"])
        .arg(&capture)
        .args(["--requests", "300", "--seed", "5", "--latency", "pareto"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html_path = scratch(&format!("{test}.html"));
    let html = report_of(&capture, &html_path);
    (html_path, html)
}

/// `tracetail report CAPTURE -o HTML_PATH` must succeed; the page.
fn report_of(capture: &std::path::Path, html_path: &std::path::Path) -> String {
    let out = bin()
        .arg("report")
        .arg(capture)
        .arg("-o")
        .arg(html_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(html_path).unwrap()
}

#[test]
fn report_is_self_contained_and_complete() {
    let (_, html) = make_report("complete");
    for section in [
        "Capture",
        "Top sessions",
        "HTTP transactions",
        "DNS",
        "TCP handshakes",
        "How to read this report",
    ] {
        assert!(
            html.contains(&format!(">{section}</h2>")),
            "missing section {section}"
        );
    }
    // One inline script written for the report (plus inline JSON data); nothing fetched.
    // That the report reads without JavaScript is checked in a browser below.
    assert!(!html.contains("<script src"), "no external scripts");
    assert_eq!(
        html.matches("<script").count(),
        1 + html.matches("<script type=\"application/json\"").count(),
        "one page script, the rest data"
    );
    assert!(!html.contains("<link"), "no external stylesheets");
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "external reference {attr}");
    }
    // Every plot kind of the HTTP section is inline.
    let svgs = html.matches("<svg").count();
    assert!(svgs >= 8, "only {svgs} inline plots");
    assert!(html.contains("p99.9") && html.contains("nearest-rank"));
}

fn find_chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// Headless Chromium: screenshot (`Some(png)`) or DOM dump (`None`).
fn chromium(
    browser: &std::path::Path,
    url: &str,
    width: u32,
    shot: Option<&std::path::Path>,
    profile: &str,
) -> std::process::Output {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--window-size={width},7000"))
    .arg(format!(
        "--user-data-dir={}",
        scratch(&format!("chromium-profile-{profile}")).display()
    ));
    match shot {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            cmd.arg(format!("--screenshot={}", path.display()));
        }
        None => {
            cmd.arg("--dump-dom");
        }
    }
    cmd.arg(url).output().unwrap()
}

/// RGB(A) pixels of a PNG file.
fn pixels(path: &std::path::Path) -> (Vec<Vec<u8>>, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| p[..3].to_vec())
        .collect();
    (px, info.width)
}

/// A screenshot with content: not one colour, and some dark (text) pixels.
fn assert_not_blank(path: &std::path::Path) {
    let (pixels, _) = pixels(path);
    let background = &pixels[pixels.len() / 2];
    let differing = pixels.iter().filter(|p| *p != background).count();
    let dark = pixels.iter().filter(|p| p.iter().all(|&c| c < 80)).count();
    assert!(
        differing * 20 > pixels.len(),
        "{}: looks blank: {differing} of {} pixels differ",
        path.display(),
        pixels.len()
    );
    assert!(dark > 1000, "{}: no dark (text) pixels", path.display());
}

/// `1.19 s`: how the report's script prints a latency (3 significant digits).
fn human_like_the_script(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = (2 - v.log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$} {unit}")
}

#[test]
fn report_renders_in_headless_chromium() {
    const TEST: &str = "report_renders_in_headless_chromium";
    let Some(browser) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium not found; .ci/run installs Debian's chromium package");
        }
        common::skip_visibly(TEST, "chromium not installed (apt-get install chromium)");
        return;
    };
    let (html_path, _) = make_report("chromium");
    let url = format!("file://{}", html_path.display());

    // With JavaScript: the interactive layer loads without errors, and hovering the slowest
    // point shows its value (the maximum `latency` reports) and its transaction.
    let out = chromium(&browser, &format!("{url}#selftest"), 1440, None, "dom");
    let dom = String::from_utf8_lossy(&out.stdout);
    let body = dom
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_else(|| {
            panic!(
                "no <body> in the DOM dump: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        body.contains("data-js=\"ready\""),
        "script did not run: {body}"
    );
    assert!(
        !body.contains("data-js-errors"),
        "JavaScript errors: {body}"
    );
    let console = String::from_utf8_lossy(&out.stderr);
    assert!(
        !console.contains("Uncaught"),
        "console errors: {}",
        console
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let capture = scratch("chromium.pcap");
    let latency = bin()
        .arg("latency")
        .arg(&capture)
        .arg("--json")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&latency.stdout).unwrap();
    let max = json["max"].as_f64().unwrap();
    let attr = |name: &str| -> String {
        body.split(&format!("data-selftest-{name}=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("no {name} result: {body}"))
            .to_string()
    };
    let hovered = attr("hover");
    assert!(
        hovered.starts_with(&human_like_the_script(max)),
        "hovering the slowest point shows {hovered:?}, latency says max {}",
        human_like_the_script(max)
    );
    // Its transaction: "client → server" and "METHOD host/uri → status".
    assert!(
        hovered.matches('→').count() >= 2 && hovered.contains('/'),
        "{hovered}"
    );
    // Zoom into the tail: the p99 button leaves the transactions at or above p99 (the
    // button's floor is p99/1.05), counted here from `tracetail http`; hiding the slowest
    // point's group leaves those of the other groups.
    let http = bin()
        .arg("http")
        .arg(&capture)
        .arg("--json")
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&http.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| {
            r["ttfb_ns"].is_number() && r["request_first_ns"].is_number()
        })
        .collect();
    let p99 = json["percentiles"]["99"].as_f64().unwrap();
    let in_tail: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["ttfb_ns"].as_f64().unwrap() >= p99 / 1.05)
        .collect();
    assert_eq!(
        attr("all"),
        rows.len().to_string(),
        "every transaction drawn"
    );
    assert_eq!(
        attr("p99"),
        in_tail.len().to_string(),
        "points in the p99 zoom"
    );
    let server = |r: &serde_json::Value| {
        let ip = r["server_ip"].as_str().unwrap().to_string();
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip
        };
        format!("{ip}:{}", r["server_port"])
    };
    let hidden = attr("hidden-group");
    let others = in_tail.iter().filter(|r| server(r) != hidden).count();
    assert!(others < in_tail.len(), "{hidden} has the slowest point");
    assert_eq!(
        attr("after-hiding"),
        others.to_string(),
        "after hiding {hidden}"
    );

    // Screenshots at desktop and laptop widths, with and without JavaScript. Headless
    // Chromium takes no screenshot with scripts disabled, so "without" is the same page with
    // its script removed, which is what a browser with JavaScript off renders. Without it
    // the static pictures carry the page and the explorer stays hidden, so the two differ.
    let html = std::fs::read_to_string(&html_path).unwrap();
    let start = html.rfind("<script>").expect("the page script");
    let end = start + html[start..].find("</script>").unwrap() + "</script>".len();
    let static_path = scratch("chromium-nojs.html");
    std::fs::write(&static_path, format!("{}{}", &html[..start], &html[end..])).unwrap();
    let static_url = format!("file://{}", static_path.display());
    for width in [1440, 1024] {
        let with_js = scratch(&format!("report-{width}-js.png"));
        let without_js = scratch(&format!("report-{width}-nojs.png"));
        for (path, page, js) in [(&with_js, &url, true), (&without_js, &static_url, false)] {
            let out = chromium(&browser, page, width, Some(path), &format!("{width}{js}"));
            assert!(
                path.is_file(),
                "no screenshot {}: {}{}",
                path.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_not_blank(path);
        }
        let (a, w) = pixels(&with_js);
        let (b, _) = pixels(&without_js);
        assert_eq!(w, width, "screenshot width");
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(
            differ > 10_000,
            "with and without JavaScript look the same at {width} px: the explorer is missing"
        );
    }
}

/// A DNS-only capture gets a DNS report: no empty HTTP tables, no empty picture headings.
#[test]
fn dns_only_capture_gets_a_dns_report() {
    let Some(corpus) = common::corpus_dir("dns_only_capture_gets_a_dns_report") else {
        return;
    };
    let html = report_of(
        &corpus.join("cs__dns_lab.pcapng"),
        &scratch("dns-only.html"),
    );
    assert!(html.contains(">DNS</h2>"));
    assert!(
        !html.contains(">HTTP transactions</h2>"),
        "empty HTTP section"
    );
    assert!(!html.contains("Status codes"), "empty HTTP tables");
    assert!(html.contains("No HTTP transactions"), "says what is absent");
    assert!(html.contains("class=\"explorer\""), "DNS explorer");
    // Every <h3> has something under it before the next heading.
    for part in html.split("<h3>").skip(1) {
        let after = part.split("</h3>").nth(1).unwrap_or("");
        let next = after.find("<h").unwrap_or(after.len());
        assert!(
            after[..next].contains("<table")
                || after[..next].contains("<svg")
                || after[..next].contains("<p"),
            "empty heading: {}",
            &part[..part.find("</h3>").unwrap_or(0)]
        );
    }
}

/// A capture with TLS gets a TLS section whose numbers are those of `tracetail tls` on the
/// same capture (whose fields are compared with tshark in tests/tls.rs): connections, hello
/// and handshake time counts, and the count of each version, cipher suite and
/// `handshake_end` rule. A capture without TLS gets no such section.
#[test]
fn tls_capture_gets_a_tls_section() {
    let Some(corpus) = common::corpus_dir("tls_capture_gets_a_tls_section") else {
        return;
    };
    let capture = corpus.join("sv__tls-subjectaltname__input.pcap");
    let html = report_of(&capture, &scratch("tls.html"));
    let out = bin()
        .args(["tls", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 10, "the capture has TLS connections");

    let section = &html[html.find(">TLS handshakes</h2>").expect("a TLS section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        section.contains(&format!("{} TLS connections", rows.len())),
        "{section}"
    );
    let with = |field: &str| rows.iter().filter(|r| !r[field].is_null()).count();
    for (label, field) in [
        ("hello time", "hello_ns"),
        ("handshake time", "handshake_ns"),
    ] {
        let cell = format!("<td class=\"l\">{label}</td><td>{}</td>", with(field));
        assert!(section.contains(&cell), "{cell} in {section}");
    }
    let mut counts: std::collections::BTreeMap<(&str, String), usize> = Default::default();
    for row in &rows {
        for (label, field) in [("version", "version"), ("cipher suite", "cipher_suite")] {
            let value = row[field]
                .as_str()
                .unwrap_or("(no ServerHello)")
                .to_string();
            *counts.entry((label, value)).or_default() += 1;
        }
    }
    for ((label, value), n) in &counts {
        let cell = format!("<td class=\"l\">{label}</td><td class=\"l\">{value}</td><td>{n}</td>");
        assert!(section.contains(&cell), "{cell} in {section}");
    }
    let finished = rows
        .iter()
        .filter(|r| r["handshake_end"] == "client_finished")
        .count();
    assert!(finished > 0);
    let rule_row = section
        .split("<tr>")
        .find(|r| r.starts_with("<td class=\"l\">client_finished</td>"))
        .expect("the client_finished rule's row");
    assert!(
        rule_row.contains(&format!("<td>{finished}</td></tr>")),
        "{rule_row}"
    );

    // No TLS, no section.
    let html = report_of(&corpus.join("cs__dns_lab.pcapng"), &scratch("no-tls.html"));
    assert!(!html.contains(">TLS handshakes</h2>"));
}

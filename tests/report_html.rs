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
    let out = bin()
        .arg("report")
        .arg(&capture)
        .arg("-o")
        .arg(&html_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    (html_path, html)
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

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = find_chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium not found; .ci/run installs Debian's chromium package");
        }
        eprintln!("SKIPPED report_renders_in_headless_chromium: chromium not installed (apt-get install chromium)");
        return;
    };
    let (html_path, _) = make_report("chromium");
    let shot = scratch("report.png");
    let _ = std::fs::remove_file(&shot);
    let profile = scratch("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    assert!(
        shot.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = bytes.chunks(channels).collect();
    let background = pixels[pixels.len() / 2];
    let differing = pixels.iter().filter(|p| p[..3] != background[..3]).count();
    let dark = pixels
        .iter()
        .filter(|p| p[..3].iter().all(|&c| c < 80))
        .count();
    assert!(
        differing * 20 > pixels.len(),
        "screenshot looks blank: {differing} of {} pixels differ",
        pixels.len()
    );
    assert!(dark > 1000, "no dark (text) pixels in the screenshot");
}

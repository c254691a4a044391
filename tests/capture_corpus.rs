//! Reads every capture of the shared corpus and compares packet counts with capinfos
//! (MANIFEST.tsv, column `packets`).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tracetail::capture::CaptureReader;

fn corpus_dir() -> Option<PathBuf> {
    common::corpus_dir(module_path!())
}

/// file -> `packets` column.
fn manifest_counts(dir: &Path) -> HashMap<String, String> {
    manifest_column(dir, "packets")
}

/// file -> one MANIFEST column.
fn manifest_column(dir: &Path, column: &str) -> HashMap<String, String> {
    common::read_tsv(&dir.join("MANIFEST.tsv"))
        .into_iter()
        .map(|mut row| {
            let value = row.remove(column).expect("MANIFEST column");
            (row.remove("file").expect("file column"), value)
        })
        .collect()
}

/// Outcome of reading one file to the end.
struct Outcome {
    packets: u64,
    warnings: Vec<String>,
}

fn read_all(reader: &mut CaptureReader) -> Outcome {
    let mut packets = 0;
    while let Some(packet) = reader.next_packet().expect("no I/O error") {
        packets += 1;
        assert!(packet.original_len as usize >= packet.data.len());
    }
    Outcome {
        packets,
        warnings: reader.warnings().iter().map(|w| w.to_string()).collect(),
    }
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name != "MANIFEST.tsv" && name != "README.md"
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_matches_capinfos_counts() {
    let Some(dir) = corpus_dir() else { return };
    let expected = manifest_counts(&dir);
    let files = capture_files(&dir);
    assert!(files.len() >= 100, "corpus has {} files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let result = CaptureReader::open(path).map(|mut r| read_all(&mut r));
        let expect = expected.get(&name).map(String::as_str).unwrap_or("?");
        match &result {
            Ok(o) => println!("{name}\tok\t{}\t{expect}\t{:?}", o.packets, o.warnings),
            Err(e) => println!("{name}\terror\t{e}\t{expect}"),
        }
        let problem = check(&name, expect, &result);
        if let Some(problem) = problem {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn check(
    name: &str,
    expect: &str,
    result: &Result<Outcome, tracetail::capture::CaptureError>,
) -> Option<String> {
    // Files capinfos cannot read ("-"): our behaviour, file by file.
    match name {
        "libpcap__pcap-invalid-version-1.pcap" => {
            // Major version 1 is not a format libpcap ever wrote; refuse like tshark.
            return match result {
                Err(e) if e.message.contains("version 1.4") => None,
                _ => Some("expected an unsupported-version error".into()),
            };
        }
        "libpcap__pcapng-invalid-vers-1.pcapng" => {
            return match result {
                Err(e) if e.message.contains("version 0.1") => None,
                _ => Some("expected an unsupported-version error".into()),
            };
        }
        "libpcap__shb-option-too-long.pcapng" => {
            // The SHB's length field (52) points into garbage: its trailing copy differs.
            return match result {
                Err(e) if e.message.contains("trailing length") => None,
                _ => Some("expected a damaged-block error".into()),
            };
        }
        "tcpdump__kday6.pcap" => {
            // capinfos refuses link type 182 (MFR); `tcpdump -r` prints exactly 1 packet.
            return match result {
                Ok(o) if o.packets == 1 && o.warnings.is_empty() => None,
                _ => Some("expected 1 packet, as tcpdump reads".into()),
            };
        }
        "libpcap__linktype-reserved-field-not-zero.pcap" => {
            // Header only; we read the low 16 bits as link type and warn about the rest.
            return match result {
                Ok(o) if o.packets == 0 && o.warnings.iter().any(|w| w.contains("reserved")) => {
                    None
                }
                _ => Some("expected 0 packets and a reserved-bits warning".into()),
            };
        }
        _ => {}
    }
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return Some(format!("unexpected error: {e}")),
    };
    if let Some(partial) = expect.strip_suffix(" (partial)") {
        let at_least: u64 = partial.parse().expect("partial count");
        if outcome.packets < at_least {
            return Some(format!(
                "read {} packets, capinfos read {at_least} before its error",
                outcome.packets
            ));
        }
        if outcome.warnings.is_empty() {
            return Some("partial file read without a warning".into());
        }
        return None;
    }
    match expect.parse::<u64>() {
        Ok(n) if n == outcome.packets => {
            if outcome.warnings.is_empty() {
                None
            } else {
                Some(format!(
                    "complete file gave warnings {:?}",
                    outcome.warnings
                ))
            }
        }
        Ok(n) => Some(format!(
            "read {} packets, capinfos counts {n}",
            outcome.packets
        )),
        Err(_) => Some(format!(
            "no plain count in MANIFEST ({expect:?}); add an explicit case"
        )),
    }
}

/// Parses tshark's `frame.time_epoch` ("1490971523.854549000") into ns.
fn epoch_to_ns(text: &str) -> i64 {
    let (secs, frac) = text.split_once('.').unwrap_or((text, "0"));
    let mut frac = frac.to_string();
    assert!(frac.len() <= 9, "{text}");
    while frac.len() < 9 {
        frac.push('0');
    }
    let secs: i64 = secs.parse().expect("seconds");
    assert!(secs >= 0, "negative epoch in oracle: {text}");
    secs * 1_000_000_000 + frac.parse::<i64>().expect("fraction")
}

#[test]
fn timestamps_match_tshark_oracle() {
    let Some(dir) = corpus_dir() else { return };
    let oracle = dir.join("oracle");
    let mut tables: Vec<PathBuf> = std::fs::read_dir(&oracle)
        .expect("oracle dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("counts")
        })
        .collect();
    tables.sort();
    let mut checked_frames = 0;
    let mut checked_files = std::collections::BTreeSet::new();
    for table in tables {
        let table_name = table.file_name().unwrap().to_string_lossy().to_string();
        // "<capture>.<kind>.tsv": the capture name is everything before the kind.
        let capture = table_name
            .rsplitn(3, '.')
            .nth(2)
            .expect("capture name")
            .to_string();
        let mut wanted: Vec<(u64, i64)> = common::read_tsv(&table)
            .iter()
            .map(|row| {
                (
                    row["frame.number"].parse().unwrap(),
                    epoch_to_ns(&row["frame.time_epoch"]),
                )
            })
            .collect();
        wanted.sort();
        let mut reader = CaptureReader::open(&dir.join(&capture)).expect("readable capture");
        let mut frame_number = 0u64;
        let mut next = wanted.iter().peekable();
        while let Some(packet) = reader.next_packet().expect("no I/O error") {
            frame_number += 1;
            while let Some((number, ns)) = next.peek() {
                if *number != frame_number {
                    break;
                }
                assert_eq!(
                    packet.timestamp_ns, *ns,
                    "{capture} frame {frame_number}: ours vs tshark ({table_name})"
                );
                checked_frames += 1;
                next.next();
            }
        }
        assert!(
            next.peek().is_none(),
            "{capture}: frames missing for {table_name}"
        );
        checked_files.insert(capture);
    }
    println!(
        "checked {checked_frames} frame timestamps in {} captures",
        checked_files.len()
    );
    assert!(checked_frames > 1000);
    for must in [
        "tcpdump__time_2106_overflow.pcapng",
        "zeek__pcapng-multi-interface.pcapng",
        "pcapparser__wireshark_samples-test.pcapng",
        "ndpi__fuzz-2006-09-29-28586.pcap",
        "zeek__1000-requests-one-dropped-response.pcap.gz",
    ] {
        assert!(
            checked_files.contains(must),
            "oracle has no table for {must}"
        );
    }
}

#[test]
fn link_types_match_the_manifest() {
    let Some(dir) = corpus_dir() else { return };
    let link_types = manifest_column(&dir, "link_types");
    let mut checked = 0;
    for (file, listed) in link_types {
        // "RAW(101) [field 0x30000065: FCS-info bits set]" -> "RAW(101)"
        let listed: Vec<String> = listed
            .split(',')
            .map(|t| t.split(" [").next().unwrap().trim().to_string())
            .collect();
        let Ok(mut reader) = CaptureReader::open(&dir.join(&file)) else {
            continue;
        };
        while let Some(packet) = reader.next_packet().expect("no I/O error") {
            let name = packet.link_type.name();
            assert!(listed.contains(&name), "{file}: {name} not in {listed:?}");
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

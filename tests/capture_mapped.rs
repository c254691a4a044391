//! `CaptureReader::open` maps a regular uncompressed file and parses it in place; reading the
//! same bytes as a stream must give exactly the same packets, warnings and counters: on every
//! corpus capture, whole and cut at many points (truncated records, damaged blocks), and on a
//! synthetic capture larger than the reader's release step.

mod common;

use std::path::{Path, PathBuf};
use tracetail::capture::CaptureReader;

/// Everything a reader hands out, as text (packets hashed to keep it small).
fn read_all(reader: Result<CaptureReader, tracetail::capture::CaptureError>) -> Vec<String> {
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => return vec![format!("error {e}")],
    };
    let mut out = vec![format!(
        "{} {:?}",
        reader.format_description(),
        reader.compression()
    )];
    loop {
        match reader.next_packet() {
            Ok(Some(p)) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                p.data.hash(&mut h);
                out.push(format!(
                    "{} {:?} {} {} {} {:x}",
                    p.timestamp_ns,
                    p.link_type,
                    p.original_len,
                    p.interface_id,
                    p.data.len(),
                    h.finish()
                ));
            }
            Ok(None) => break,
            Err(e) => {
                out.push(format!("error {e}"));
                break;
            }
        }
    }
    out.push(format!("{:?}", reader.counters()));
    out.push(format!("{:?}", reader.warnings()));
    out.push(format!("{}", reader.position()));
    out
}

fn assert_mapped_equals_streamed(path: &Path) {
    let mapped = read_all(CaptureReader::open(path));
    let file = std::fs::File::open(path).unwrap();
    let streamed = read_all(CaptureReader::from_read(
        &path.display().to_string(),
        Box::new(file),
    ));
    if let Some(i) =
        (0..mapped.len().max(streamed.len())).find(|&i| mapped.get(i) != streamed.get(i))
    {
        panic!(
            "{}: item {i} differs\n  mapped:   {:?}\n  streamed: {:?}",
            path.display(),
            mapped.get(i),
            streamed.get(i)
        );
    }
}

fn is_capture(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.contains(".pcap") && !name.ends_with(".gz") && !name.ends_with(".zst")
}

#[test]
fn mapped_files_read_like_streams_on_the_corpus_whole_and_cut() {
    let Some(dir) =
        common::corpus_dir("mapped_files_read_like_streams_on_the_corpus_whole_and_cut")
    else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_capture(p))
        .collect();
    files.sort();
    assert!(files.len() > 20, "{} corpus captures", files.len());
    for path in &files {
        assert_mapped_equals_streamed(path);
        // Cut copies: the end of the file falls inside headers, records and blocks.
        let bytes = std::fs::read(path).unwrap();
        for cut in [
            0,
            3,
            4,
            23,
            24,
            25,
            40,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            if cut >= bytes.len() {
                continue;
            }
            let copy = common::scratch("mapped", "cut.pcap");
            std::fs::write(&copy, &bytes[..cut]).unwrap();
            assert_mapped_equals_streamed(&copy);
        }
    }
}

#[test]
fn a_large_mapped_file_reads_like_a_stream() {
    // ~40 MB: several of the mapped reader's 8 MiB release steps.
    let path = common::synth("mapped", "large.pcap", &["--bytes", "40M", "--seed", "3"]);
    assert_mapped_equals_streamed(&path);
}

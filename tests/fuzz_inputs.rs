//! Structured mutation fuzzing of everything that reads untrusted bytes, run for a bounded
//! time as an ordinary test: the capture reader (pcap, pcapng, gzip, zstd), the decoder, flows,
//! TCP reassembly with the HTTP and DNS analyzers (one whole pass per input), the HdrHistogram
//! reader, and the statistics over extreme numbers plus the `stats` CSV reader.
//!
//! Why not libFuzzer: cargo-fuzz needs a nightly compiler, and CI has only stable (and no
//! network to fetch another toolchain). Instead inputs are seeded from `../shared/corpus`
//! (every capture up to 64 KiB) and from generated files, mutated where the formats keep their
//! lengths and headers, and an input whose outcome looks new (its warnings, decode failures
//! and analyzer counts, numbers rounded to powers of two) joins the working corpus, a cheap
//! stand-in for coverage guidance.
//!
//! Every input is a pure function of its iteration number (and the corpus before it), so a
//! run is repeatable: `TRACETAIL_FUZZ_ITERATIONS=N` runs exactly N inputs per target instead
//! of the time budget (`TRACETAIL_FUZZ_SECONDS`, 40 s in all by default). A panic or a hang
//! saves the input under `target/tmp/fuzz-crashes/`; copy it to `tests/data/fuzz/<target>/`
//! and it is replayed first on every run from then on (the regression tests).
//!
//! A new reader of untrusted bytes (TLS records, key log lines, HTTP/2 frames and HPACK, the
//! filter grammar) gets a target here: seeds, a `check` that runs it and returns a coarse
//! outcome, and a share of the time budget.

mod common;

use common::Rng;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracetail::capture::{CaptureReader, MAX_RECORD_LEN, MAX_WARNINGS};
use tracetail::pipeline::{analyze_file, PassOptions, Record};
use tracetail::stats::describe::{describe, regress};
use tracetail::stats::{hdr, PercentileMethod};

// ---- budget and reproducibility ----

/// Default time for all targets together (CI runs this as part of `cargo test`).
const DEFAULT_TOTAL_SECONDS: f64 = 40.0;
/// An input that runs longer than this is a hang.
const HANG_SECONDS: u64 = 30;
/// Largest working corpus per target (oldest generated entries are replaced).
const MAX_CORPUS: usize = 512;

/// How long (or how many inputs) one target runs: `share` of the total budget.
enum Budget {
    Time(Duration),
    Iterations(u64),
}

impl Budget {
    fn for_share(share: f64) -> Budget {
        if let Some(n) = env_number("TRACETAIL_FUZZ_ITERATIONS") {
            return Budget::Iterations(n as u64);
        }
        let total = env_number("TRACETAIL_FUZZ_SECONDS").unwrap_or(DEFAULT_TOTAL_SECONDS);
        Budget::Time(Duration::from_secs_f64(total * share))
    }

    fn more(&self, started: Instant, done: u64) -> bool {
        match self {
            Budget::Time(limit) => started.elapsed() < *limit,
            Budget::Iterations(n) => done < *n,
        }
    }
}

fn env_number(name: &str) -> Option<f64> {
    std::env::var(name).ok()?.parse().ok()
}

/// The generator for one iteration of one target.
fn rng_for_iteration(target: u64, iteration: u64) -> Rng {
    let mut rng = Rng((target ^ iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    rng.next();
    rng
}

/// Saves a failing input where the test message says, for keeping as a regression.
fn save_crash(target: &str, iteration: u64, bytes: &[u8]) -> PathBuf {
    let path = common::scratch("fuzz-crashes", &format!("{target}-{iteration}.bin"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Aborts the whole test binary (with the input saved) if one input runs too long: a hang
/// cannot be caught like a panic.
struct Watchdog {
    /// Milliseconds since `epoch` when the current input started; 0 when idle.
    started_ms: Arc<AtomicU64>,
    epoch: Instant,
}

impl Watchdog {
    fn start(target: &'static str, current: Arc<std::sync::Mutex<(u64, Vec<u8>)>>) -> Watchdog {
        let started_ms = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let watched = started_ms.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let at = watched.load(Ordering::Relaxed);
            let now = epoch.elapsed().as_millis() as u64;
            if at != 0 && now.saturating_sub(at) > HANG_SECONDS * 1000 {
                let (iteration, bytes) = current.lock().unwrap().clone();
                let path = save_crash(target, iteration, &bytes);
                eprintln!(
                    "fuzz {target}: input {iteration} ran over {HANG_SECONDS} s (a hang); saved \
                     as {}",
                    path.display()
                );
                std::process::exit(1);
            }
        });
        Watchdog { started_ms, epoch }
    }
    fn begin(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.started_ms.store(now.max(1), Ordering::Relaxed);
    }
    fn end(&self) {
        self.started_ms.store(0, Ordering::Relaxed);
    }
}

/// Makes a child input from a parent and the corpus (for splicing).
type Mutator = dyn Fn(&mut Rng, &[u8], &[Vec<u8>]) -> Vec<u8>;

/// Runs `check` on every input of one target: saved regressions first, then mutations of
/// the corpus until the budget is spent. `check` returns the input's outcome signature.
fn fuzz(
    target: &'static str,
    target_seed: u64,
    seeds: Vec<Vec<u8>>,
    share: f64,
    mutate: &Mutator,
    check: &mut dyn FnMut(&[u8]) -> String,
) {
    assert!(!seeds.is_empty(), "{target}: no seeds");
    let current = Arc::new(std::sync::Mutex::new((0u64, Vec::new())));
    let watchdog = Watchdog::start(target, current.clone());
    let mut run_one = |iteration: u64, input: &[u8]| -> String {
        *current.lock().unwrap() = (iteration, input.to_vec());
        watchdog.begin();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
        watchdog.end();
        match outcome {
            Ok(signature) => signature,
            Err(panic) => {
                let path = save_crash(target, iteration, input);
                eprintln!(
                    "fuzz {target}: input {iteration} panicked; saved as {}",
                    path.display()
                );
                std::panic::resume_unwind(panic);
            }
        }
    };

    // Regressions: inputs that once failed, kept in the repository.
    let kept = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(target);
    let mut regressions = 0;
    if let Ok(entries) = std::fs::read_dir(&kept) {
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            run_one(u64::MAX, &std::fs::read(&path).unwrap());
            regressions += 1;
        }
    }

    let mut corpus = seeds;
    let seed_count = corpus.len();
    let mut seen: HashSet<u64> = HashSet::new();
    for seed in corpus.clone() {
        seen.insert(hash(&run_one(0, &seed)));
    }
    let budget = Budget::for_share(share);
    let started = Instant::now();
    let mut done = 0u64;
    let mut added = 0u64;
    while budget.more(started, done) {
        let mut rng = rng_for_iteration(target_seed, done);
        let parent = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, parent, &corpus);
        let signature = run_one(done, &input);
        if seen.insert(hash(&signature)) {
            added += 1;
            if corpus.len() < MAX_CORPUS {
                corpus.push(input);
            } else {
                let slot = seed_count + rng.below(MAX_CORPUS - seed_count);
                corpus[slot] = input;
            }
        }
        done += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "fuzz {target}: {done} inputs in {seconds:.1} s ({:.0} inputs/s), {seed_count} seeds, \
         {added} with new outcomes, {regressions} regressions replayed",
        done as f64 / seconds.max(1e-9)
    );
}

fn hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// `text` with every number replaced by its bit length: outcomes that differ only in counts
/// of the same order of magnitude look alike.
fn coarse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let n: u128 = digits.parse().unwrap_or(u128::MAX);
            out.push_str(&format!("#{}", 128 - n.leading_zeros()));
            digits.clear();
        }
        out.push(c);
    }
    out
}

// ---- mutation ----

const INTERESTING_32: [u32; 14] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1000_0000,
    65535 + 4,
];

/// Offsets worth mutating in a capture: pcap record headers, pcapng block headers, trailers
/// and packet headers, and the first bytes of each packet (where link, IP and TCP/UDP headers
/// sit). Found by walking the seed's own structure, so damage lands on lengths and headers.
fn capture_fields(bytes: &[u8]) -> Vec<usize> {
    let u32_at = |at: usize, big: bool| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize)
    };
    let mut fields = Vec::new();
    let mut packet_starts = Vec::new();
    match u32_at(0, false) {
        Some(0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) => {
            let big = matches!(u32_at(0, false), Some(0xd4c3_b2a1 | 0x4d3c_b2a1));
            fields.extend([4, 8, 16, 20]);
            let mut at = 24;
            while let Some(caplen) = u32_at(at + 8, big) {
                fields.extend([at, at + 4, at + 8, at + 12]);
                packet_starts.push(at + 16);
                at += 16 + caplen;
                if fields.len() > 4096 {
                    break;
                }
            }
        }
        Some(0x0a0d_0d0a) => {
            let mut at = 0;
            let mut big = false;
            while let Some(kind) = u32_at(at, false) {
                if kind == 0x0a0d_0d0a {
                    big = u32_at(at + 8, false) == Some(0x4d3c_2b1a);
                }
                let Some(len) = u32_at(at + 4, big).filter(|&l| l >= 12) else {
                    break;
                };
                fields.extend([at, at + 4, at + 8, at + len - 4]);
                if kind == 6 || kind == 3 || kind == 2 {
                    fields.extend([at + 12, at + 16, at + 20, at + 24]);
                    packet_starts.push(at + if kind == 6 { 28 } else { 12 });
                }
                at += len;
                if fields.len() > 4096 {
                    break;
                }
            }
        }
        _ => {}
    }
    for start in packet_starts {
        for offset in [
            12, 14, 16, 20, 22, 23, 24, 26, 30, 34, 36, 38, 40, 46, 47, 54, 58,
        ] {
            fields.push(start + offset);
        }
    }
    fields.retain(|&f| f < bytes.len());
    fields
}

/// One to four structured mutations of `parent` (another corpus entry may be spliced in).
fn mutate_bytes(rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>], fields: &[usize]) -> Vec<u8> {
    let mut out = parent.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if out.is_empty() {
            out.push(rng.next() as u8);
        }
        let len = out.len();
        let pos = if !fields.is_empty() && rng.chance(2) {
            fields[rng.below(fields.len())].min(len - 1)
        } else {
            rng.below(len)
        };
        match rng.below(10) {
            0 => out[pos] ^= 1 << rng.below(8),
            1 => out[pos] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)],
            2 | 3 => {
                // A length or type field set to an extreme (either byte order).
                let mut value = INTERESTING_32[rng.below(INTERESTING_32.len())];
                if rng.chance(3) {
                    value = value.wrapping_add(rng.below(9) as u32).wrapping_sub(4);
                }
                let bytes = if rng.chance(2) {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                let width = [1, 2, 4][rng.below(3)];
                for (i, b) in bytes.iter().take(width).enumerate() {
                    if let Some(slot) = out.get_mut(pos + i) {
                        *slot = *b;
                    }
                }
            }
            4 => {
                // A field nudged by a little (off-by-one lengths).
                if pos + 4 <= len {
                    let v = u32::from_le_bytes(out[pos..pos + 4].try_into().unwrap());
                    let delta = rng.below(17) as u32;
                    let v = if rng.chance(2) {
                        v.wrapping_add(delta)
                    } else {
                        v.wrapping_sub(delta)
                    };
                    out[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            5 => {
                let n = 1 + rng.below(64.min(len));
                out.drain(pos..(pos + n).min(len));
            }
            6 => {
                // Repeat a chunk (duplicated records, repeated headers).
                let n = 1 + rng.below(256.min(len - pos));
                let chunk = out[pos..pos + n].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, chunk);
            }
            7 => {
                let n = 1 + rng.below(32);
                let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(pos..pos, noise);
            }
            8 => out.truncate(pos.max(1)),
            _ => {
                // Splice: this input's head, another's tail.
                let donor = &corpus[rng.below(corpus.len())];
                if !donor.is_empty() {
                    let from = rng.below(donor.len());
                    out.truncate(pos);
                    out.extend_from_slice(&donor[from..]);
                }
            }
        }
    }
    out
}

// ---- target: captures through the whole pass ----

fn corpus_seeds() -> Vec<Vec<u8>> {
    let Some(dir) = common::corpus_dir(module_path!()) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.metadata().unwrap().len() <= 64 << 10)
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            [".pcap", ".pcapng", ".cap", ".gz", ".zst"]
                .iter()
                .any(|ext| name.ends_with(ext))
        })
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A small synthetic HTTP/DNS capture (pipelining, chunked bodies, loss) in pcap and pcapng,
/// and compressed copies so the decompressors get mutated too.
fn generated_capture_seeds() -> Vec<Vec<u8>> {
    use tracetail::synth::{generate, OutputFormat, SynthConfig, Target};
    let mut seeds = Vec::new();
    for (seed, format) in [
        (1, OutputFormat::Pcap { nanosecond: true }),
        (2, OutputFormat::PcapNg { tsresol: 6 }),
    ] {
        let mut config = SynthConfig {
            seed,
            target: Target::Requests(12),
            concurrency: 3,
            format,
            ..SynthConfig::default()
        };
        config.mix.pipeline_prob = 0.5;
        config.mix.chunked_prob = 0.5;
        config.mix.body_scale = 0.05;
        config.mix.dns_prob = 0.8;
        config.mix.loss_prob = 0.05;
        let (_, capture) = generate(&config, Vec::new(), std::io::sink(), std::io::sink()).unwrap();
        seeds.push(capture);
    }
    let plain = seeds[0].clone();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    seeds.push(gz.finish().unwrap());
    seeds.push(ruzstd::encoding::compress_to_vec(
        &plain[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    ));
    seeds
}

#[test]
fn fuzz_captures_through_the_whole_pass() {
    let mut seeds = generated_capture_seeds();
    seeds.extend(corpus_seeds());
    let file = common::scratch("fuzz-inputs", "capture.bin");
    let mut options = PassOptions {
        flows: true,
        transactions: true,
        scapy_keys: true,
        ..Default::default()
    };
    // The generic request/response analyzer watches every TCP connection beside HTTP/DNS.
    options
        .analyzer
        .observers
        .push(tracetail::analyzers::tcp::REGISTRATION.name);
    // And TLS connection rows (records parsed whether or not keys are given).
    options.analyzer.tls.rows = true;
    let mut check = |input: &[u8]| -> String {
        // The reader alone: its own invariants on every packet.
        if let Ok(mut reader) =
            CaptureReader::from_read("fuzz", Box::new(std::io::Cursor::new(input.to_vec())))
        {
            let mut packets = 0u64;
            while let Ok(Some(p)) = reader.next_packet() {
                assert!(p.data.len() <= MAX_RECORD_LEN);
                assert!(p.original_len as usize >= p.data.len());
                packets += 1;
            }
            assert!(reader.warnings().len() <= MAX_WARNINGS);
            assert_eq!(reader.counters().packets, packets);
        }
        // The whole pass, as the commands run it.
        std::fs::write(&file, input).unwrap();
        let mut signature = String::new();
        let mut kinds = [0u64; 5];
        let result = analyze_file(&file, &options, &mut |record| match record {
            Record::Flow(_) => kinds[0] += 1,
            Record::Http(t) => {
                kinds[1] += 1;
                if let (Some(first), Some(last)) = (t.request_first_ns, t.request_last_ns) {
                    assert!(first <= last, "request first after last");
                }
            }
            Record::Dns(_) => kinds[2] += 1,
            Record::Tls(_) | Record::Http2(_) | Record::Row(_) => kinds[4] += 1,
            Record::Tcp(t) => {
                kinds[3] += 1;
                if let (Some(first), Some(last)) = (t.request_first_ns, t.request_last_ns) {
                    assert!(first <= last, "tcp request first after last");
                }
            }
        });
        match result {
            Ok(report) => {
                signature.push_str(&coarse(&format!(
                    "{kinds:?} {:?} {:?} {:?} {:?}",
                    report.counts.packets,
                    report.counts.undecodable,
                    report.analyzer,
                    report.format
                )));
                for warning in &report.warnings {
                    // The message without the file name and offset.
                    let message = warning
                        .split_once(": at byte offset")
                        .map_or(warning.as_str(), |(_, rest)| rest);
                    signature.push_str(&coarse(message));
                }
            }
            Err(e) => signature.push_str(&coarse(&e.message)),
        }
        signature
    };
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        mutate_bytes(rng, parent, corpus, &capture_fields(parent))
    };
    fuzz("captures", 0xcafe, seeds, 0.7, &mutate, &mut check);
}

// ---- target: HdrHistogram files ----

fn hdr_seeds() -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut seeds = Vec::new();
    for (digits, values) in [
        (3u8, vec![1u64, 1_000, 1_000_000, 3_600_000_000_000]),
        (1, vec![5, 5, 5]),
        (5, (1..200).map(|v| v * 7919).collect()),
    ] {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1 << 40, digits).unwrap();
        h.auto(true);
        for v in values {
            h.record(v).unwrap();
        }
        let text = hdr::encode_base64(&h).unwrap();
        seeds.push(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap(),
        );
    }
    seeds
}

#[test]
fn fuzz_hdrhistogram_reader() {
    use base64::Engine as _;
    let mut check = |input: &[u8]| -> String {
        // Mutated binary, as a file line would carry it.
        let text = base64::engine::general_purpose::STANDARD.encode(input);
        match hdr::decode_base64(&text) {
            Ok(h) => {
                let merged = hdr::merge([&h]).map(|m| m.len());
                let table = hdr::percentile_table(&h, &[50.0, 99.0, 100.0]);
                let distribution =
                    hdr::format_percentile_distribution(&h, 5, hdr::DisplayUnit::Ms).len();
                coarse(&format!(
                    "ok {} {merged:?} {table:?} {distribution}",
                    h.len()
                ))
            }
            Err(e) => coarse(&format!("{e:#}")),
        }
    };
    // Length fields of the V2 header (compressed and inner) are the interesting places.
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        mutate_bytes(rng, parent, corpus, &[0, 4, 8, 12, 16, 24, 32, 40])
    };
    fuzz("hdr", 0x4d52, hdr_seeds(), 0.1, &mutate, &mut check);
}

// ---- target: statistics over extreme numbers, and the stats CSV reader ----

const EXTREMES: [f64; 12] = [
    f64::MAX,
    -f64::MAX,
    1e308,
    -1e308,
    f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    0.0,
    -0.0,
    1.0,
    4e-7,
    1e15,
];

/// Numbers from bytes: each 8 bytes an f64 (non-finite ones replaced by extremes, as the CSV
/// reader drops them), so byte mutations reach every magnitude.
fn numbers(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            let v = f64::from_le_bytes(b);
            if v.is_finite() {
                v
            } else {
                EXTREMES[b[0] as usize % EXTREMES.len()]
            }
        })
        .collect()
}

#[test]
fn fuzz_statistics_of_extreme_numbers() {
    let seeds: Vec<Vec<u8>> = vec![
        EXTREMES.iter().flat_map(|v| v.to_le_bytes()).collect(),
        [1e308f64, -1e308]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        (0..40)
            .flat_map(|i| (i as f64 * 0.25).to_le_bytes())
            .collect(),
        [4e-7f64, 5e-7, 6e-7]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    ];
    let percentiles = [0.0, 1.0, 25.0, 50.0, 75.0, 99.0, 99.9, 100.0];
    let mut check = |input: &[u8]| -> String {
        let data = numbers(input);
        let mut signature = String::new();
        for method in [PercentileMethod::Linear, PercentileMethod::NearestRank] {
            let Some(d) = describe(&data, method, &percentiles) else {
                return "empty".into();
            };
            // Finite data give a finite mean and finite, ordered percentiles within [min, max].
            // (Rounding may put a mean or an interpolated value an ulp or so outside.)
            let slack = d.max.abs().max(d.min.abs()) * 1e-12;
            assert!(d.mean.is_finite(), "mean {} of {data:?}", d.mean);
            assert!(
                d.min - slack <= d.mean && d.mean <= d.max + slack,
                "mean {} of {data:?}",
                d.mean
            );
            // The stddev is at most 0.71 × (max − min): finite whenever that range is.
            let range_finite = d.max / 2.0 - d.min / 2.0 < f64::MAX / 2.0;
            assert!(
                data.len() < 2 || !range_finite || d.stddev.is_finite(),
                "stddev of {data:?}"
            );
            let mut previous = d.min;
            for (p, v) in &d.percentiles {
                assert!(v.is_finite(), "p{p} = {v} of {data:?}");
                assert!(
                    *v >= previous - slack && *v <= d.max + slack,
                    "p{p} = {v} out of order: {data:?}"
                );
                previous = *v;
            }
            signature.push_str(&coarse(&format!("{} {}", d.count, d.variance.is_finite())));
        }
        let half = data.len() / 2;
        if let Some(r) = regress(&data[..half], &data[half..2 * half]) {
            assert!(
                r.pearson_r.is_nan() || r.pearson_r.abs() <= 1.0 + 1e-9,
                "r {} of {data:?}",
                r.pearson_r
            );
            signature.push_str(if r.slope.is_finite() {
                " fit"
            } else {
                " steep"
            });
        }
        signature
    };
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        let mut out = mutate_bytes(rng, parent, corpus, &[]);
        if rng.chance(3) {
            // An extreme dropped in whole.
            let v = EXTREMES[rng.below(EXTREMES.len())];
            let at = rng.below(out.len() / 8 + 1) * 8;
            out.splice(at..at, v.to_le_bytes());
        }
        out
    };
    fuzz("statistics", 0x57a7, seeds, 0.1, &mutate, &mut check);
}

#[test]
fn fuzz_the_stats_csv_reader() {
    // The CSV reader lives in the binary: a few hundred runs (a process each) in its share.
    let seeds: Vec<Vec<u8>> = vec![
        b"a,b\n1,2\n3,4\n-1e308,1e308\n4e-7,x\n".to_vec(),
        b"a,b,c\n\"1\",\"2\",3\n,,\n5,6\n".to_vec(),
        b"a\n1\n".to_vec(),
    ];
    let file = common::scratch("fuzz-inputs", "stats.csv");
    let mut check = |input: &[u8]| -> String {
        std::fs::write(&file, input).unwrap();
        let out = common::tracetail()
            .args(["stats", "--json", "-c", "a", "--x", "a", "--y", "b"])
            .arg(&file)
            .output()
            .unwrap();
        let code = out.status.code();
        // 0: described; 1: unreadable CSV; 2: usage (a column missing). Never a panic (101).
        assert!(
            matches!(code, Some(0..=2)),
            "exit {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(0) {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(doc["columns"].is_array());
        }
        format!("{code:?}")
    };
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        let mut out = mutate_bytes(rng, parent, corpus, &[]);
        if rng.chance(2) {
            let token = [
                "1e308", "-1e308", "nan", "inf", "5e-324", "\"", ",", "\n", "\r\n",
            ];
            let at = rng.below(out.len() + 1);
            out.splice(at..at, token[rng.below(token.len())].bytes());
        }
        out
    };
    fuzz("stats-csv", 0xc5f, seeds, 0.1, &mutate, &mut check);
}

// ---- target: HPACK header blocks ----

/// An HPACK fuzz input: byte 0 picks the decoder (bit 0: started mid-connection) and its
/// table size, byte 1 the header list limit, then blocks, each after a one-byte length.
fn hpack_input(unknown: bool, table_size_byte: u8, blocks: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![(table_size_byte << 1) | unknown as u8, 0xff];
    for block in blocks {
        out.push(block.len() as u8);
        out.extend_from_slice(block);
    }
    out
}

fn hpack_seeds() -> Vec<Vec<u8>> {
    let hex = |s: &str| -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    };
    // RFC 7541 C.4 (requests, Huffman) and C.6 (responses, Huffman, 256-byte table).
    let requests = [
        hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
        hex("8286 84be 5886 a8eb 1064 9cbf"),
        hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    ];
    let responses = [
        hex(
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
             2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        ),
        hex("4883 640e ffc1 c0bf"),
        hex(
            "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
             77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
             9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ),
    ];
    let requests: Vec<&[u8]> = requests.iter().map(|b| &b[..]).collect();
    let responses: Vec<&[u8]> = responses.iter().map(|b| &b[..]).collect();
    vec![
        hpack_input(false, 64, &requests),
        hpack_input(true, 64, &requests),
        hpack_input(false, 4, &responses),
        hpack_input(true, 4, &responses),
        // A size update, then a literal with a long name, never indexed.
        hpack_input(
            false,
            64,
            &[&[0x3f, 0xe1, 0x1f, 0x10, 0x7f, 0x01, b'a', 0x00]],
        ),
    ]
}

#[test]
fn fuzz_hpack_blocks() {
    use tracetail::analyzers::http2::hpack::{Decoder, MAX_TABLE_SIZE_CAP};
    let mut check = |input: &[u8]| -> String {
        let (Some(&mode), Some(&limit)) = (input.first(), input.get(1)) else {
            return "short".into();
        };
        let table_size = (mode >> 1) as usize * 64;
        let max_list_bytes = limit as usize * 16;
        let mut decoder = if mode & 1 == 1 {
            Decoder::new_unknown(table_size)
        } else {
            Decoder::new(table_size)
        };
        let mut outcome = String::new();
        let mut rest = &input[2..];
        while let Some((&len, tail)) = rest.split_first() {
            let block = &tail[..(len as usize).min(tail.len())];
            rest = &tail[block.len()..];
            let mut list_bytes = 0;
            let result = decoder.decode(block, max_list_bytes, |name, value| {
                list_bytes += name.len() + value.len() + 32;
            });
            // The bounds the decoder promises, whatever the input.
            assert!(list_bytes <= max_list_bytes);
            assert!(decoder.known_size() <= table_size.min(MAX_TABLE_SIZE_CAP));
            match result {
                Ok(info) => outcome.push_str(&format!(
                    "ok{}/{}/{} ",
                    info.unknown_refs, info.dropped_fields, list_bytes
                )),
                Err(e) => outcome.push_str(&format!("{e} ")),
            }
        }
        coarse(&outcome)
    };
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        mutate_bytes(rng, parent, corpus, &[0, 1, 2, 3, 4])
    };
    fuzz("hpack", 0x4ac4, hpack_seeds(), 0.05, &mutate, &mut check);
}

/// An HTTP/2 fuzz input: segments of one TCP connection, each a byte (bit 0: sent by the
/// server), a length byte, then its payload.
fn http2_input(segments: &[(bool, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (server, bytes) in segments {
        for piece in bytes.chunks(255) {
            out.push(u8::from(*server));
            out.push(piece.len() as u8);
            out.extend_from_slice(piece);
        }
    }
    out
}

fn http2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn http2_seeds() -> Vec<Vec<u8>> {
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // GET /a, :authority x; a literal with incremental indexing; a dynamic-table reference.
    let request = [0x82, 0x86, 0x44, 2, b'/', b'a', 0x41, 1, b'x'];
    let again = [0x82, 0x86, 0xbe, 0xbf];
    let grpc = [
        0x83, 0x86, 0x04, 6, b'/', b's', b'.', b'S', b'/', b'M', 0x5f, 16, b'a', b'p', b'p', b'l',
        b'i', b'c', b'a', b't', b'i', b'o', b'n', b'/', b'g', b'r', b'p', b'c',
    ];
    let mut client = preface.clone();
    client.extend(http2_frame(4, 0, 0, &[0, 1, 0, 0, 0x10, 0]));
    client.extend(http2_frame(1, 5, 1, &request));
    client.extend(http2_frame(1, 0x24, 3, &[0, 0, 0, 1, 16, 0x82, 0x86]));
    client.extend(http2_frame(9, 4, 3, &again[2..]));
    client.extend(http2_frame(0, 9, 3, &[1, b'b', 0]));
    client.extend(http2_frame(1, 4, 5, &grpc));
    client.extend(http2_frame(0, 1, 5, &[0, 0, 0, 0, 2, 7, 7]));
    let mut server = http2_frame(4, 0, 0, &[0, 5, 0, 0, 0x40, 0]);
    server.extend(http2_frame(4, 1, 0, &[]));
    server.extend(http2_frame(5, 4, 1, &[0, 0, 0, 2, 0x82, 0x84]));
    server.extend(http2_frame(1, 4, 1, &[0x08, 3, b'1', b'0', b'0']));
    server.extend(http2_frame(1, 4, 1, &[0x88, 0x40, 1, b'y', 1, b'z']));
    server.extend(http2_frame(0, 1, 1, b"hello"));
    server.extend(http2_frame(1, 5, 2, &[0x88]));
    server.extend(http2_frame(1, 5, 3, &[0x8d, 0xbe]));
    server.extend(http2_frame(1, 4, 5, &[0x88]));
    server.extend(http2_frame(0, 0, 5, &[0, 0, 0, 0, 1, 9]));
    server.extend(http2_frame(
        1,
        5,
        5,
        &[
            0x40, 11, b'g', b'r', b'p', b'c', b'-', b's', b't', b'a', b't', b'u', b's', 1, b'0',
        ],
    ));
    server.extend(http2_frame(3, 0, 7, &[0, 0, 0, 8]));
    server.extend(http2_frame(7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 0]));
    server.extend(http2_frame(6, 1, 0, &[1; 8]));
    let (c1, c2) = client.split_at(40);
    let (s1, s2) = server.split_at(30);
    vec![
        http2_input(&[(false, client.clone()), (true, server.clone())]),
        http2_input(&[
            (false, c1.to_vec()),
            (true, s1.to_vec()),
            (false, c2.to_vec()),
            (true, s2.to_vec()),
        ]),
        // Mid-connection: no preface, the server's frames first.
        http2_input(&[(true, server), (false, client[preface.len()..].to_vec())]),
    ]
}

/// Offsets of the segment headers and of the frame headers inside segments that start with
/// one: lengths, types, flags and stream ids are where damage means something.
fn http2_fields(input: &[u8]) -> Vec<usize> {
    let mut fields = Vec::new();
    let mut at = 0;
    while at + 2 <= input.len() {
        let len = input[at + 1] as usize;
        fields.extend([at, at + 1]);
        let seg = at + 2..(at + 2 + len).min(input.len());
        let mut f = seg.start;
        if input[seg.clone()].starts_with(b"PRI") {
            f += 24;
        }
        while f + 9 <= seg.end {
            fields.extend([f, f + 1, f + 2, f + 3, f + 4, f + 8]);
            let n =
                (input[f] as usize) << 16 | (input[f + 1] as usize) << 8 | input[f + 2] as usize;
            f += 9 + n;
        }
        at = seg.end;
    }
    fields
}

#[test]
fn fuzz_http2_connections() {
    use tracetail::analyzers::{AnalyzerConfig, Event, TransactionAnalyzer};
    let mut check = |input: &[u8]| -> String {
        let config = AnalyzerConfig {
            max_header_bytes: 256,
            max_pending_requests: 4,
            ..AnalyzerConfig::default()
        };
        let mut analyzer = TransactionAnalyzer::new(config);
        let mut conn = common::TcpConversation::new(80);
        let mut events = Vec::new();
        let mut t = 1_000_000_000i64;
        let mut at = 0;
        let mut payload_bytes = 0;
        while at + 2 <= input.len() {
            let from_server = input[at] & 1 == 1;
            let seg = &input[at + 2..(at + 2 + input[at + 1] as usize).min(input.len())];
            conn.send(&mut analyzer, from_server, 0x18, seg, t, &mut events);
            payload_bytes += seg.len();
            at += 2 + seg.len();
            t += 1000;
        }
        conn.send(&mut analyzer, false, 0x11, b"", t, &mut events);
        conn.send(&mut analyzer, true, 0x11, b"", t, &mut events);
        analyzer.finish(&mut events);
        // Nothing is held once the capture ends; no more rows than frames could open.
        assert_eq!(analyzer.low_watermark_ns(), None);
        let rows: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::Http(h) => Some(h),
                _ => None,
            })
            .collect();
        assert!(rows.len() <= payload_bytes / 9 + 1);
        let mut flags: Vec<&str> = rows.iter().flat_map(|r| r.flags.iter().copied()).collect();
        flags.sort_unstable();
        flags.dedup();
        let versions: HashSet<&str> = rows.iter().map(|r| r.version.as_str()).collect();
        let rows_seen = rows.len();
        coarse(&format!("{rows_seen} {flags:?} {versions:?}"))
    };
    let mutate = |rng: &mut Rng, parent: &[u8], corpus: &[Vec<u8>]| {
        mutate_bytes(rng, parent, corpus, &http2_fields(parent))
    };
    // The seeds reach the HTTP/2 analyzer (with and without the preface): four streams.
    for seed in http2_seeds() {
        assert!(check(&seed).starts_with("#3 "), "{}", check(&seed));
    }
    fuzz("http2", 0x4832, http2_seeds(), 0.05, &mutate, &mut check);
}

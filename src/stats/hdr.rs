//! HdrHistogram summaries: V2 (compressed, base64) encoding, merging, percentile distribution.
//!
//! Exact percentiles need every sample; an HdrHistogram keeps 3 significant digits in a few
//! kilobytes and merges losslessly, so captures analysed on different machines (or days) can
//! be combined with `tracetail merge`. The file format is the one every HdrHistogram
//! implementation reads: the V2 compressed (deflate) encoding in base64 on one line
//! (`HdrHistogram.decode` in Python's `hdrh`, `Histogram.fromString` in HdrHistogram.js).

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Significant decimal digits kept (relative error ≤ 0.1 %).
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Lowest discernible value: 1 ns.
pub const LOWEST_NS: u64 = 1;
/// Initial highest trackable value: one hour in ns (the histogram still grows past it).
pub const HIGHEST_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds plus the samples that had to be clamped.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    pub histogram: Histogram<u64>,
    /// Negative samples (clock steps, mis-paired packets) recorded as 0.
    pub clamped_negative: u64,
}

/// An empty histogram with tracetail's settings (1 ns .. 1 h initially, auto-resizing, 3 digits).
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        .expect("constant bounds are valid");
    h.auto(true);
    h
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            histogram: new_histogram(),
            clamped_negative: 0,
        }
    }
}

impl LatencyHistogram {
    /// Records one latency; negative values are counted and recorded as 0.
    pub fn record(&mut self, ns: i64) {
        if ns < 0 {
            self.clamped_negative += 1;
        }
        // Auto-resize grows the histogram for values past an hour; should growing ever fail,
        // clamp to the highest trackable value rather than lose the sample.
        let value = ns.max(0) as u64;
        if self.histogram.record(value).is_err() {
            self.histogram.saturating_record(value);
        }
    }
}

/// A histogram of `samples` (ns).
pub fn from_samples(samples: &[i64]) -> LatencyHistogram {
    let mut h = LatencyHistogram::default();
    for &s in samples {
        h.record(s);
    }
    h
}

/// V2 compressed (deflate) encoding in base64, as all HdrHistogram implementations exchange it.
pub fn encode_base64(h: &Histogram<u64>) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| anyhow::anyhow!("encoding HdrHistogram: {e:?}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Decodes base64 V2 (compressed or not). Accepts a bare base64 string or an HdrHistogram
/// log line (`Tag=x,start,interval,max,BASE64`), whose last comma field is the histogram.
pub fn decode_base64(text: &str) -> anyhow::Result<Histogram<u64>> {
    let field = text.trim().rsplit(',').next().unwrap_or("").trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(field)
        .context("HdrHistogram text is not base64")?;
    let plain = bounded_v2(&bytes)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &plain[..])
        .map_err(|e| anyhow::anyhow!("not an HdrHistogram V2 encoding: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

/// V2 cookies (HdrHistogram's `V2EncodingCookieBase | 0x10`), plain and deflate-compressed.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, digits, lowest, highest, int-to-double ratio.
const V2_HEADER_LEN: usize = 40;
/// Largest counts payload accepted: the widest histogram (5 digits over 64 bits) has about
/// 3.1 M counts of at most 9 varint bytes each, 28 MB.
const MAX_V2_PAYLOAD_LEN: usize = 32 << 20;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Checks every length field of a V2 encoding against the bytes really present and returns
/// the plain (uncompressed) encoding: the deserializer sizes its buffer from the payload
/// length, so a 57-byte file claiming 4 GiB must be refused before it gets there.
fn bounded_v2(bytes: &[u8]) -> anyhow::Result<std::borrow::Cow<'_, [u8]>> {
    match be_u32(bytes, 0) {
        Some(V2_COOKIE) => {
            check_v2_lengths(bytes)?;
            Ok(bytes.into())
        }
        Some(V2_COMPRESSED_COOKIE) => {
            let declared = be_u32(bytes, 4).context("HdrHistogram header cut short")? as usize;
            let present = bytes.len() - 8;
            if declared > present {
                bail!("HdrHistogram claims {declared} compressed bytes but only {present} follow");
            }
            // Inflate at most one byte more than the largest plain encoding accepted.
            let limit = (V2_HEADER_LEN + MAX_V2_PAYLOAD_LEN + 1) as u64;
            let mut plain = Vec::new();
            flate2::read::ZlibDecoder::new(&bytes[8..8 + declared])
                .take(limit)
                .read_to_end(&mut plain)
                .context("HdrHistogram deflate data is damaged")?;
            check_v2_lengths(&plain)?;
            Ok(plain.into())
        }
        Some(cookie) => bail!("not an HdrHistogram V2 encoding (cookie 0x{cookie:08x})"),
        None => bail!("HdrHistogram data too short ({} bytes)", bytes.len()),
    }
}

/// A plain V2 encoding: header complete, payload length within the bytes present and limit.
fn check_v2_lengths(plain: &[u8]) -> anyhow::Result<()> {
    if be_u32(plain, 0) != Some(V2_COOKIE) {
        bail!("not an HdrHistogram V2 encoding (inner cookie)");
    }
    if plain.len() < V2_HEADER_LEN {
        bail!(
            "HdrHistogram header cut short ({} of {V2_HEADER_LEN} bytes)",
            plain.len()
        );
    }
    let declared = be_u32(plain, 4).expect("header checked") as usize;
    let present = plain.len() - V2_HEADER_LEN;
    if declared > present {
        bail!("HdrHistogram claims a {declared}-byte payload but only {present} bytes follow");
    }
    if declared > MAX_V2_PAYLOAD_LEN {
        bail!("HdrHistogram payload of {declared} bytes is larger than any histogram's");
    }
    Ok(())
}

/// Writes `h` to `path` as one base64 line (plus newline).
pub fn save(h: &Histogram<u64>, path: &Path) -> anyhow::Result<()> {
    let text = encode_base64(h)?;
    std::fs::write(path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Reads a histogram saved by [`save`] (or any HdrHistogram V2 base64 file / log). Lines
/// starting with `#` and blank lines are skipped; several histogram lines are added together.
pub fn load(path: &Path) -> anyhow::Result<Histogram<u64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut total: Option<Histogram<u64>> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        // Log headers ("#[StartTime: ...", "\"StartTimestamp\",...") are not histograms.
        if line.is_empty() || line.starts_with('#') || line.starts_with('"') {
            continue;
        }
        let h = decode_base64(line)
            .with_context(|| format!("{} line {}", path.display(), number + 1))?;
        match total.as_mut() {
            None => total = Some(h),
            Some(t) => t
                .add(&h)
                .map_err(|e| anyhow::anyhow!("adding histograms: {e:?}"))?,
        }
    }
    match total {
        Some(h) => Ok(h),
        None => bail!("{}: no histogram found", path.display()),
    }
}

/// The sum of `histograms` (an empty tracetail histogram if there are none).
pub fn merge<'a>(
    histograms: impl IntoIterator<Item = &'a Histogram<u64>>,
) -> anyhow::Result<Histogram<u64>> {
    let mut total = new_histogram();
    for h in histograms {
        total
            .add(h)
            .map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?;
    }
    Ok(total)
}

/// Unit in which the percentile distribution prints values (histogram values are ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum DisplayUnit {
    Ns,
    Us,
    #[default]
    Ms,
    S,
}

impl DisplayUnit {
    /// Nanoseconds per display unit (HdrHistogram's `value_scale`).
    pub fn scale(self) -> f64 {
        match self {
            DisplayUnit::Ns => 1.0,
            DisplayUnit::Us => 1e3,
            DisplayUnit::Ms => 1e6,
            DisplayUnit::S => 1e9,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            DisplayUnit::Ns => "ns",
            DisplayUnit::Us => "µs",
            DisplayUnit::Ms => "ms",
            DisplayUnit::S => "s",
        }
    }
}

/// One row of the percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistributionRow {
    /// Highest value equivalent to the bucket reached (ns).
    pub value: u64,
    /// Percentile level in 0..=100.
    pub percentile: f64,
    pub total_count: u64,
}

/// The rows of HdrHistogram's percentile iteration, step for step as HdrHistogram_c's
/// `hdr_iter_percentile`: the step halves each time the remaining distance to 100 % halves
/// (`ticks_per_half_distance` rows per halving), several rows may land in one bucket, and a
/// final row at 100 % closes the table.
pub fn percentile_distribution(
    h: &Histogram<u64>,
    ticks_per_half_distance: u32,
) -> Vec<DistributionRow> {
    let total = h.len();
    let mut rows = Vec::new();
    if total == 0 {
        return rows;
    }
    let mut to_iterate_to = 0.0f64;
    let mut cumulative = 0u64;
    for bucket in h.iter_recorded() {
        cumulative += bucket.count_at_value();
        let value = h.highest_equivalent(bucket.value_iterated_to());
        let current = (100.0 * cumulative as f64) / total as f64;
        while to_iterate_to <= current {
            rows.push(DistributionRow {
                value,
                percentile: to_iterate_to,
                total_count: cumulative,
            });
            let halvings = ((100.0 / (100.0 - to_iterate_to)).ln() / 2f64.ln()) as i64 + 1;
            let half_distance = 2f64.powf(halvings as f64) as i64;
            let reporting_ticks = ticks_per_half_distance as i64 * half_distance;
            to_iterate_to += 100.0 / reporting_ticks as f64;
            // Once every count is behind us the iterator only yields the closing 100 % row.
            if cumulative >= total {
                break;
            }
        }
        if cumulative >= total {
            rows.push(DistributionRow {
                value,
                percentile: 100.0,
                total_count: cumulative,
            });
            break;
        }
    }
    rows
}

/// Entries per bucket (HdrHistogram's `sub_bucket_count`): the power of two that holds
/// 2·10^digits distinct values (2048 for 3 digits).
pub fn sub_bucket_count(significant_digits: u8) -> u64 {
    let single_unit_resolution = 2 * 10u64.pow(significant_digits as u32);
    single_unit_resolution.next_power_of_two()
}

/// HdrHistogram_c's `hdr_percentiles_print` (CLASSIC format), as wrk2 prints its
/// "Detailed Percentile spectrum": values divided by `unit`'s scale, `ticks_per_half_distance`
/// rows per halving (5 is customary).
pub fn format_percentile_distribution(
    h: &Histogram<u64>,
    ticks_per_half_distance: u32,
    unit: DisplayUnit,
) -> String {
    let scale = unit.scale();
    let digits = h.sigfig() as usize;
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>12} {:>12} {:>12}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for row in percentile_distribution(h, ticks_per_half_distance) {
        let p = row.percentile / 100.0;
        let _ = writeln!(
            out,
            "{:>12.digits$} {:>12.6} {:>12} {:>12.2}",
            row.value as f64 / scale,
            p,
            row.total_count,
            1.0 / (1.0 - p),
        );
    }
    let max = if h.is_empty() { 0 } else { h.max() };
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        max as f64 / scale,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}

/// The value at percentile `p` (0..=100) as HdrHistogram_c, Java and Python `hdrh` read it:
/// rank ⌊p/100·N + 0.5⌋ (at least 1), reported as the bucket's highest equivalent value
/// (lowest for p = 0). The Rust crate's own `value_at_percentile` rounds the rank up instead
/// (ceil), which differs at p99.9 of 100 000 samples; we follow the C library so that the
/// same file gives the same table everywhere. 0 for an empty histogram.
pub fn value_at_percentile(h: &Histogram<u64>, p: f64) -> u64 {
    let total = h.len();
    if total == 0 {
        return 0;
    }
    let requested = p.clamp(0.0, 100.0);
    let rank = (((requested / 100.0) * total as f64) + 0.5) as u64;
    let rank = rank.clamp(1, total);
    let mut cumulative = 0u64;
    for bucket in h.iter_recorded() {
        cumulative += bucket.count_at_value();
        if cumulative >= rank {
            let v = bucket.value_iterated_to();
            return if requested == 0.0 {
                h.lowest_equivalent(v)
            } else {
                h.highest_equivalent(v)
            };
        }
    }
    h.max()
}

/// (percentile, value in ns) for each requested percentile (0..=100), by
/// [`value_at_percentile`].
pub fn percentile_table(h: &Histogram<u64>, percentiles: &[f64]) -> Vec<(f64, u64)> {
    percentiles
        .iter()
        .map(|&p| (p, value_at_percentile(h, p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_samples_are_clamped_and_counted() {
        let h = from_samples(&[-5, 0, 10, 1_000]);
        assert_eq!(h.clamped_negative, 1);
        assert_eq!(h.histogram.len(), 4);
        assert_eq!(h.histogram.count_at(0), 2);
    }

    #[test]
    fn values_beyond_an_hour_still_fit() {
        let h = from_samples(&[5 * 3_600_000_000_000]);
        assert_eq!(h.histogram.len(), 1);
        assert!(h
            .histogram
            .equivalent(h.histogram.max(), 5 * 3_600_000_000_000));
    }

    #[test]
    fn sub_buckets_for_three_digits() {
        assert_eq!(sub_bucket_count(3), 2048);
        assert_eq!(sub_bucket_count(2), 256);
    }

    #[test]
    fn distribution_of_one_to_ten_thousand() {
        // 1..=10000 µs: the first row is the minimum at 0 %, the last row is 100 %.
        let samples: Vec<i64> = (1..=10_000).map(|v| v * 1000).collect();
        let h = from_samples(&samples).histogram;
        let rows = percentile_distribution(&h, 5);
        assert_eq!(rows[0].percentile, 0.0);
        assert_eq!(rows[0].total_count, 1);
        let last = rows.last().unwrap();
        assert_eq!((last.percentile, last.total_count), (100.0, 10_000));
        // Steps: 5 per half distance, 10 %, then 5 %, 2.5 % ...
        assert!((rows[1].percentile - 10.0).abs() < 1e-12);
        assert!((rows[5].percentile - 50.0).abs() < 1e-12);
        assert!((rows[6].percentile - 55.0).abs() < 1e-12);
        let text = format_percentile_distribution(&h, 5, DisplayUnit::Ms);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "       Value   Percentile   TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines.next().unwrap(), "");
        assert_eq!(
            lines.next().unwrap(),
            "       0.001     0.000000            1         1.00"
        );
        assert!(text.contains("     1.000000        10000          inf\n"));
        // Max: 10 ms lies in buckets 8192 ns wide: highest equivalent 1220·8192 + 8191.
        assert!(text.contains("#[Max     =       10.002, Total count    =        10000]"));
        assert!(text.contains("#[Buckets = "));
    }
}

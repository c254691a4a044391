//! Ranges of the numeric flags, in one place. Each flag's value parser refuses a value out of
//! its range (or NaN) with a usage error (exit 2) before anything runs, and each flag's help
//! states the range. The bounds keep memory and time proportionate: no flag can ask for a
//! 32 GiB buffer, an overflowing capacity or a timeout that is not a number.

use clap::builder::RangedU64ValueParser;

/// An integer flag in `lo..=hi` (clap's message: `4294967295 is not in 1..=10000`).
pub fn int<T>(lo: u64, hi: u64) -> RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
    <T as TryFrom<u64>>::Error: std::error::Error + Send + Sync + 'static,
{
    RangedU64ValueParser::new().range(lo..=hi)
}

/// A real-number flag in `lo..=hi` (finite; NaN and infinities are refused).
pub fn float(
    lo: f64,
    hi: f64,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |text: &str| {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("not a number: {text:?}"))?;
        // `contains` is false for NaN, so NaN is refused here too.
        if (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(format!("must be a number from {lo} to {hi}"))
        }
    }
}

/// A byte size (`128M`, `1G`, `65536`; K/M/G = powers of 1024) in `lo..=hi` bytes.
pub fn size(lo: u64, hi: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |text: &str| {
        let bytes = parse_size(text)?;
        if (lo..=hi).contains(&bytes) {
            Ok(bytes)
        } else {
            Err(format!("must be from {lo} to {hi} bytes"))
        }
    }
}

/// `1G`, `500M`, `64k`, `10MB`, `12345` -> bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a size: {text:?} (try 500M or 1G)"))?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(format!("unknown size unit in {text:?} (use K, M, G, T)")),
    };
    let bytes = value * multiplier;
    if !bytes.is_finite() || !(1.0..=1e15).contains(&bytes) {
        return Err(format!("size out of range: {text:?}"));
    }
    Ok(bytes as u64)
}

/// Probabilities and shares.
pub fn probability() -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    float(0.0, 1.0)
}

/// Analysis timeouts in seconds of capture time (at most about 11.6 days).
pub fn timeout_seconds() -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    float(0.0, 1_000_000.0)
}

/// Per-connection byte limits of the analysis.
pub const MAX_ANALYSIS_BYTES: u64 = 1 << 30;

/// Picture sides in pixels (a PNG of 8000 × 8000 is 192 MB of pixels).
pub const MIN_PICTURE_SIDE: u64 = 200;
pub const MAX_PICTURE_SIDE: u64 = 8000;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::builder::TypedValueParser;

    #[test]
    fn floats_refuse_nan_infinity_and_out_of_range() {
        let parse = timeout_seconds();
        assert_eq!(parse("300"), Ok(300.0));
        for bad in ["nan", "NaN", "inf", "-1", "1e308", "x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(probability()("1"), Ok(1.0));
        assert!(probability()("1.0000001").is_err());
    }

    #[test]
    fn integers_and_sizes_have_ranges() {
        let cmd = clap::Command::new("t");
        let parser = int::<usize>(1, 10_000);
        let parse = |text: &str| parser.parse_ref(&cmd, None, std::ffi::OsStr::new(text));
        assert_eq!(parse("60").unwrap(), 60);
        assert!(parse("4294967295").is_err());
        assert!(parse("0").is_err());
        let window = size(1024, 1 << 31);
        assert_eq!(window("128M"), Ok(128 << 20));
        assert!(window("4G").is_err());
        assert!(window("1").is_err());
    }
}

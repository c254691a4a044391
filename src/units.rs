//! Formatting of integer nanosecond timestamps and durations for people.

/// Nanoseconds since the Unix epoch as `seconds.nanoseconds` (exact, never via f64).
pub fn epoch_ns_to_string(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    format!("{secs}.{frac:09}")
}

/// A duration in the most readable unit: `812ns`, `15.3µs`, `4.21ms`, `1.50s`.
pub fn duration_ns_to_human(ns: f64) -> String {
    let a = ns.abs();
    if a < 1e3 {
        format!("{ns:.0}ns")
    } else if a < 1e6 {
        format!("{:.3}µs", ns / 1e3)
    } else if a < 1e9 {
        format!("{:.3}ms", ns / 1e6)
    } else {
        format!("{:.3}s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_strings_are_exact() {
        assert_eq!(
            epoch_ns_to_string(1_700_000_000_123_456_789),
            "1700000000.123456789"
        );
        assert_eq!(epoch_ns_to_string(-1), "-1.999999999");
        assert_eq!(epoch_ns_to_string(0), "0.000000000");
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(duration_ns_to_human(812.0), "812ns");
        assert_eq!(duration_ns_to_human(15_300.0), "15.300µs");
        assert_eq!(duration_ns_to_human(4_210_000.0), "4.210ms");
        assert_eq!(duration_ns_to_human(1_500_000_000.0), "1.500s");
    }
}

/// Nanoseconds since the epoch as an RFC 3339 UTC time with nanoseconds
/// (`2023-11-14T22:13:20.123456789Z`).
pub fn epoch_ns_to_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (Howard Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A count with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units: `512 B`, `3.4 KiB`, `1.21 GiB`.
pub fn bytes_human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(epoch_ns_to_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            epoch_ns_to_rfc3339(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        // After 2106 (pcap's 32-bit seconds overflow) and a leap day.
        assert_eq!(
            epoch_ns_to_rfc3339(4_354_819_200_000_000_000),
            "2108-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            epoch_ns_to_rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn counts_and_bytes_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(bytes_human(512), "512 B");
        assert_eq!(bytes_human(3 * 1024 * 1024 / 2), "1.50 MiB");
    }
}

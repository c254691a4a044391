//! Formatting of integer nanosecond timestamps and durations for people.

use crate::columns::writers::{push_i64, push_padded, push_u64};

/// Nanoseconds since the Unix epoch as `seconds.nanoseconds` (exact, never via f64).
pub fn epoch_ns_to_string(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    format!("{secs}.{frac:09}")
}

/// [`duration_ns_to_human`] of a whole number of nanoseconds, appended to `buf` (a row's
/// text line: integer arithmetic, the float formatting only where it decides).
pub fn push_duration_human(buf: &mut Vec<u8>, ns: i64) {
    if !push_duration_exactly(buf, ns, |_| 3) {
        buf.extend_from_slice(duration_ns_to_human(ns as f64).as_bytes());
    }
}

/// The unit of each scale a duration is written in (nanoseconds first).
const DURATION_UNITS: [&str; 4] = ["ns", "µs", "ms", "s"];

/// Appends `ns` as `format!("{:.k$}{unit}", ns as f64 / unit_ns)` writes it, in the unit a
/// duration's size picks and with `decimals(scale)` decimals (scale 1 µs, 2 ms, 3 s; none in
/// ns), by integer rounding. False, with nothing written, where the float formatting's own
/// rounding decides: a value exactly halfway between two outputs, or beyond 2^53 ns (where
/// `as f64` is inexact).
fn push_duration_exactly(buf: &mut Vec<u8>, ns: i64, decimals: impl Fn(u32) -> u32) -> bool {
    let size = ns.unsigned_abs();
    if size >= 1 << 53 {
        return false;
    }
    let scale: u32 = match size {
        0..1_000 => 0,
        1_000..1_000_000 => 1,
        1_000_000..1_000_000_000 => 2,
        _ => 3,
    };
    let shown = if scale == 0 { 0 } else { decimals(scale) };
    // Nanoseconds in the last digit shown.
    let step = 10u64.pow(3 * scale - shown);
    let (mut value, rest) = (size / step, size % step);
    if step > 1 && rest * 2 == step {
        return false;
    }
    if rest * 2 > step {
        value += 1;
    }
    if ns < 0 {
        buf.push(b'-');
    }
    let denominator = 10u64.pow(shown);
    push_u64(buf, value / denominator);
    if shown > 0 {
        buf.push(b'.');
        push_padded(buf, value % denominator, shown as usize);
    }
    buf.extend_from_slice(DURATION_UNITS[scale as usize].as_bytes());
    true
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

    /// Durations and times near every unit's edges, halfway points and the limits.
    fn awkward_ns() -> Vec<i64> {
        let mut values = vec![0, 1, 999, i64::MAX, i64::MIN, 1 << 53, (1 << 53) - 1];
        for power in 0..19 {
            let edge = 10i64.pow(power);
            for delta in [-501, -500, -499, -1, 0, 1, 499, 500, 501] {
                values.push(edge + delta);
                values.push(edge / 2 + delta);
                values.push(edge * 5 + delta);
                values.push(86_400_000_000_000 + edge + delta);
            }
        }
        // A deterministic spread over every size.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> (x % 60)) as i64);
        }
        let negated: Vec<i64> = values.iter().map(|v| v.saturating_neg()).collect();
        values.extend(negated);
        values
    }

    #[test]
    fn pushed_durations_and_times_equal_the_formatted_ones() {
        for ns in awkward_ns() {
            let mut buf = Vec::new();
            push_duration_human(&mut buf, ns);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                duration_ns_to_human(ns as f64),
                "{ns}"
            );
            for digits in 0..=9 {
                let resolution = Resolution { digits };
                let mut buf = Vec::new();
                resolution.push_duration(&mut buf, ns);
                let want = resolution.duration(ns as f64);
                assert_eq!(
                    String::from_utf8(buf).unwrap(),
                    want,
                    "{ns} at {digits} digits"
                );
                let mut buf = Vec::new();
                resolution.push_epoch(&mut buf, ns);
                let want = resolution.epoch(ns);
                assert_eq!(
                    String::from_utf8(buf).unwrap(),
                    want,
                    "{ns} at {digits} digits"
                );
            }
        }
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
    let mut out = Vec::with_capacity(26);
    push_thousands(&mut out, n);
    String::from_utf8(out).expect("digits and commas")
}

/// Appends [`thousands`]`(n)` (for rows written without allocating).
pub fn push_thousands(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let digits = decimal_digits(n, &mut digits);
    for (i, &d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            buf.push(b',');
        }
        buf.push(d);
    }
}

/// The decimal digits of `n`, written at the end of `room`.
fn decimal_digits(mut n: u64, room: &mut [u8; 20]) -> &[u8] {
    let mut at = room.len();
    loop {
        at -= 1;
        room[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &room[at..];
        }
    }
}

/// Bytes in binary units: `512 B`, `3.4 KiB`, `1.21 GiB`.
pub fn bytes_human(n: u64) -> String {
    let mut out = Vec::with_capacity(16);
    push_bytes_human(&mut out, n);
    String::from_utf8(out).expect("ASCII")
}

/// Appends [`bytes_human`]`(n)`: `{value:.2}` of `n / 1024^k` as an f64 would print it,
/// computed on integers (the division by a power of two is exact below 2^53); the float
/// formatting decides only a value exactly halfway between two hundredths, and beyond 2^53.
pub fn push_bytes_human(buf: &mut Vec<u8>, n: u64) {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut divisor: u64 = 1;
    while unit < UNITS.len() - 1 && n / divisor >= 1024 {
        divisor <<= 10;
        unit += 1;
    }
    let mut digits = [0u8; 20];
    if unit == 0 {
        buf.extend_from_slice(decimal_digits(n, &mut digits));
        buf.extend_from_slice(b" B");
        return;
    }
    // Below 2^53, n * 100 cannot overflow.
    let (hundredths, rest) = if n < 1 << 53 {
        ((n * 100) / divisor, (n * 100) % divisor)
    } else {
        (0, 0)
    };
    if n >= 1 << 53 || 2 * rest == divisor {
        let value = n as f64 / divisor as f64;
        buf.extend_from_slice(format!("{value:.2} {}", UNITS[unit]).as_bytes());
        return;
    }
    let hundredths = hundredths + u64::from(2 * rest > divisor);
    buf.extend_from_slice(decimal_digits(hundredths / 100, &mut digits));
    buf.push(b'.');
    let cents = (hundredths % 100) as u8;
    buf.extend_from_slice(&[b'0' + cents / 10, b'0' + cents % 10, b' ']);
    buf.extend_from_slice(UNITS[unit].as_bytes());
}

#[cfg(test)]
mod human_tests {
    use super::*;

    /// What `bytes_human` printed before it was written on integers.
    fn by_float(n: u64) -> String {
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

    #[test]
    fn bytes_human_prints_what_the_float_formatting_printed() {
        let mut values: Vec<u64> = (0..300_000).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for shift in 0..64 {
            for _ in 0..2000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                values.push(x >> shift);
            }
        }
        for k in 1..=5u32 {
            let unit = 1u64 << (10 * k.min(4));
            // Around each unit, its rounding edges, and values exactly halfway.
            for m in [1u64, 2, 3, 1023, 1024, 1025, 999_999] {
                for d in 0..64 {
                    values.push((m * unit).saturating_add(d));
                    values.push((m * unit).saturating_sub(d));
                }
            }
            values.extend((1..2000u64).map(|i| (2 * i + 1) * unit / 200));
        }
        values.extend([
            u64::MAX,
            u64::MAX - 1,
            1 << 53,
            (1 << 53) + 1,
            (1 << 53) - 1,
        ]);
        for n in values {
            assert_eq!(bytes_human(n), by_float(n), "{n}");
        }
        assert_eq!(bytes_human(4547), "4.44 KiB");
    }

    #[test]
    fn thousands_groups_by_three() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1_234_567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(thousands(n), text);
        }
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

/// Decimal seconds (`10`, `2.5`, `0.000001`) as nanoseconds, exactly (no f64); `None` if the
/// text is not such a number.
pub fn parse_seconds_to_ns(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 9
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_ns: i64 = format!("{frac:0<9}").parse().ok()?;
    let ns = whole.checked_mul(1_000_000_000)?.checked_add(frac_ns)?;
    Some(if negative { -ns } else { ns })
}

/// An RFC 3339 time (`2024-05-01T12:00:00Z`, `2024-05-01 12:00:00.25+02:00`) as nanoseconds
/// since the Unix epoch.
pub fn parse_rfc3339_to_ns(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut frac_ns = 0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        if len == 0 || len > 9 {
            return None;
        }
        frac_ns = format!("{:0<9}", &after_dot[..len]).parse().ok()?;
        rest = &after_dot[len..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// (year, month, day) -> days since 1970-01-01 (inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How finely a capture's timestamps resolve: decimal digits after the second (9 for a
/// nanosecond capture, 6 for microseconds). Printed times and durations show no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    pub digits: u8,
}

impl Resolution {
    pub const NANOSECONDS: Resolution = Resolution { digits: 9 };
    pub const MICROSECONDS: Resolution = Resolution { digits: 6 };

    /// The coarser of two (several captures printed together).
    pub fn coarser(self, other: Resolution) -> Resolution {
        Resolution {
            digits: self.digits.min(other.digits),
        }
    }

    /// Epoch seconds with as many decimals as the capture has (`1700000000.123456`).
    pub fn epoch(self, ns: i64) -> String {
        let full = epoch_ns_to_string(ns);
        full[..full.len() - (9 - usize::from(self.digits.min(9)))]
            .trim_end_matches('.')
            .to_string()
    }

    /// [`Resolution::epoch`] appended to `buf`.
    pub fn push_epoch(self, buf: &mut Vec<u8>, ns: i64) {
        push_i64(buf, ns.div_euclid(1_000_000_000));
        let digits = usize::from(self.digits.min(9));
        if digits > 0 {
            let frac = ns.rem_euclid(1_000_000_000) as u64;
            buf.push(b'.');
            push_padded(buf, frac / 10u64.pow(9 - digits as u32), digits);
        }
    }

    /// RFC 3339 UTC with as many decimals as the capture has.
    pub fn iso(self, ns: i64) -> String {
        let full = epoch_ns_to_rfc3339(ns);
        let cut = 9 - usize::from(self.digits.min(9));
        let body = &full[..full.len() - 1 - cut];
        format!("{}Z", body.trim_end_matches('.'))
    }

    /// [`Resolution::duration`] of a whole number of nanoseconds, appended to `buf`.
    pub fn push_duration(self, buf: &mut Vec<u8>, ns: i64) {
        let digits = u32::from(self.digits);
        let days_long = ns.unsigned_abs() >= 86_400 * 1_000_000_000;
        if days_long
            || !push_duration_exactly(buf, ns, |scale| 3.min(digits.saturating_sub(9 - 3 * scale)))
        {
            buf.extend_from_slice(self.duration(ns as f64).as_bytes());
        }
    }

    /// A duration like [`duration_ns_to_human`], without decimals the capture cannot have:
    /// `78µs` from a microsecond capture rather than `78.000µs`.
    pub fn duration(self, ns: f64) -> String {
        let a = ns.abs();
        if a >= 86_400e9 {
            // Days-long spans read better in days (and the seconds' decimals mean nothing).
            let secs = (a / 1e9) as u64;
            let sign = if ns < 0.0 { "-" } else { "" };
            return format!(
                "{sign}{}d {}h {}m {}s",
                secs / 86_400,
                secs % 86_400 / 3600,
                secs % 3600 / 60,
                secs % 60
            );
        }
        // Decimals the resolution allows in each unit, at most the usual 3.
        let allowed = |unit_digits: u8| usize::from(3.min(self.digits.saturating_sub(unit_digits)));
        if a < 1e3 {
            format!("{ns:.0}ns")
        } else if a < 1e6 {
            format!("{:.*}µs", allowed(6), ns / 1e3)
        } else if a < 1e9 {
            format!("{:.*}ms", allowed(3), ns / 1e6)
        } else {
            format!("{:.*}s", allowed(0), ns / 1e9)
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn seconds_parse_exactly() {
        assert_eq!(parse_seconds_to_ns("10"), Some(10_000_000_000));
        assert_eq!(parse_seconds_to_ns("2.5"), Some(2_500_000_000));
        assert_eq!(parse_seconds_to_ns("0.000000001"), Some(1));
        assert_eq!(parse_seconds_to_ns(".5"), Some(500_000_000));
        assert_eq!(parse_seconds_to_ns("1e3"), None);
        assert_eq!(parse_seconds_to_ns("2024-01-01"), None);
    }

    #[test]
    fn rfc3339_round_trips() {
        for ns in [0, 1_700_000_000_123_456_789, 951_782_400_000_000_000] {
            assert_eq!(parse_rfc3339_to_ns(&epoch_ns_to_rfc3339(ns)), Some(ns));
        }
        assert_eq!(
            parse_rfc3339_to_ns("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_to_ns("2023-11-14 22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(parse_rfc3339_to_ns("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_rfc3339_to_ns("yesterday"), None);
    }

    #[test]
    fn resolution_drops_digits_the_capture_lacks() {
        let us = Resolution::MICROSECONDS;
        assert_eq!(us.duration(78_000.0), "78µs");
        assert_eq!(us.duration(4_210_000.0), "4.210ms");
        assert_eq!(us.epoch(1_700_000_000_123_456_000), "1700000000.123456");
        assert_eq!(
            us.iso(1_700_000_000_123_456_000),
            "2023-11-14T22:13:20.123456Z"
        );
        let ns = Resolution::NANOSECONDS;
        assert_eq!(ns.duration(78_000.0), "78.000µs");
        assert_eq!(ns.epoch(5), "0.000000005");
        assert_eq!(Resolution { digits: 0 }.epoch(1_500_000_000), "1");
    }
}

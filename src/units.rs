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

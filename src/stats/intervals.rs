//! Per-interval queueing figures of request/response exchanges, like Percona's pt-tcp-model:
//! arrivals, completions, concurrency, busy time, throughput and the 99th percentile per
//! fixed interval of capture time.
//!
//! An exchange is in the system from its request's first byte to its response's last byte.
//! Its time is split over the intervals it spans, so long exchanges count where they run.
//! Memory: 16 bytes per exchange, and one row per interval.

use super::percentile::nearest_rank;

/// Figures for one interval `[start_ns, start_ns + length)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IntervalRow {
    pub start_ns: i64,
    /// Exchanges whose request started in the interval.
    pub arrivals: u64,
    /// Exchanges whose response ended in the interval.
    pub completions: u64,
    /// Time at least one exchange was in progress (ns).
    pub busy_ns: i64,
    /// Sum of the exchanges' time inside the interval (ns).
    pub weighted_ns: i64,
    /// Average number of exchanges in progress: weighted time / interval length.
    pub concurrency: f64,
    /// Completions per second.
    pub throughput: f64,
    /// Nearest-rank 99th percentile of the total time (response last − request first) of
    /// the exchanges completed in the interval; `None` without completions.
    pub p99_ns: Option<i64>,
}

/// Most intervals one call computes (bounds memory whatever the interval length).
pub const MAX_INTERVALS: usize = 1_000_000;

/// Collects exchanges, then computes the rows.
#[derive(Debug, Default)]
pub struct IntervalStats {
    /// (request first, response last) of every exchange.
    spans: Vec<(i64, i64)>,
}

impl IntervalStats {
    pub fn add(&mut self, start_ns: i64, end_ns: i64) {
        self.spans.push((start_ns, end_ns.max(start_ns)));
    }

    /// Rows for consecutive intervals of `length_ns` from the first arrival to the last
    /// completion (intervals without activity included, so time reads straight down).
    /// Refuses (returns the number needed) more than [`MAX_INTERVALS`] rows.
    pub fn rows(mut self, length_ns: i64) -> Result<Vec<IntervalRow>, u64> {
        let length = length_ns.max(1);
        if self.spans.is_empty() {
            return Ok(Vec::new());
        }
        self.spans.sort_unstable();
        let first = self.spans[0].0;
        let last = self.spans.iter().map(|s| s.1).max().unwrap_or(first);
        let origin = first.div_euclid(length).saturating_mul(length);
        let index = |t: i64| (t.saturating_sub(origin) / length) as usize;
        let count = index(last) + 1;
        if count > MAX_INTERVALS {
            return Err(count as u64);
        }
        let mut rows: Vec<IntervalRow> = (0..count)
            .map(|i| IntervalRow {
                start_ns: origin.saturating_add(length.saturating_mul(i as i64)),
                arrivals: 0,
                completions: 0,
                busy_ns: 0,
                weighted_ns: 0,
                concurrency: 0.0,
                throughput: 0.0,
                p99_ns: None,
            })
            .collect();
        let mut totals: Vec<Vec<i64>> = vec![Vec::new(); count];
        // Spans sorted by start: the union of busy periods is built in one sweep.
        let mut busy: Option<(i64, i64)> = None;
        for &(start, end) in &self.spans {
            rows[index(start)].arrivals += 1;
            rows[index(end)].completions += 1;
            totals[index(end)].push(end - start);
            spread(&mut rows, origin, length, start, end, |r, ns| {
                r.weighted_ns += ns
            });
            busy = match busy {
                Some((b0, b1)) if start <= b1 => Some((b0, b1.max(end))),
                Some((b0, b1)) => {
                    spread(&mut rows, origin, length, b0, b1, |r, ns| r.busy_ns += ns);
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((b0, b1)) = busy {
            spread(&mut rows, origin, length, b0, b1, |r, ns| r.busy_ns += ns);
        }
        let seconds = length as f64 / 1e9;
        for (row, mut values) in rows.iter_mut().zip(totals) {
            row.concurrency = row.weighted_ns as f64 / length as f64;
            row.throughput = row.completions as f64 / seconds;
            if !values.is_empty() {
                values.sort_unstable();
                row.p99_ns = Some(values[nearest_rank(values.len(), 99.0) - 1]);
            }
        }
        Ok(rows)
    }
}

/// Adds the part of `[start, end)` inside each interval to that interval's row.
fn spread(
    rows: &mut [IntervalRow],
    origin: i64,
    length: i64,
    start: i64,
    end: i64,
    mut add: impl FnMut(&mut IntervalRow, i64),
) {
    let mut t = start;
    while t < end {
        let i = ((t - origin) / length) as usize;
        let boundary = origin.saturating_add(length.saturating_mul(i as i64 + 1));
        let piece_end = end.min(boundary);
        if let Some(row) = rows.get_mut(i) {
            add(row, piece_end - t);
        }
        t = piece_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_time_over_intervals() {
        let mut s = IntervalStats::default();
        // 0.5 s .. 1.5 s and 0.7 s .. 0.9 s, one-second intervals.
        s.add(500_000_000, 1_500_000_000);
        s.add(700_000_000, 900_000_000);
        let rows = s.rows(1_000_000_000).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].arrivals, 2);
        assert_eq!(rows[0].completions, 1);
        assert_eq!(rows[0].busy_ns, 500_000_000);
        assert_eq!(rows[0].weighted_ns, 700_000_000);
        assert_eq!(rows[0].p99_ns, Some(200_000_000));
        assert_eq!(rows[1].arrivals, 0);
        assert_eq!(rows[1].completions, 1);
        assert_eq!(rows[1].busy_ns, 500_000_000);
        assert!((rows[1].concurrency - 0.5).abs() < 1e-12);
        assert_eq!(rows[1].p99_ns, Some(1_000_000_000));
    }

    #[test]
    fn disjoint_busy_periods_add_up() {
        let mut s = IntervalStats::default();
        s.add(0, 100);
        s.add(200, 300);
        s.add(250, 260);
        let rows = s.rows(1_000).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].busy_ns, 200);
        assert_eq!(rows[0].weighted_ns, 210);
        assert_eq!(rows[0].throughput, 3.0 / 1e-6);
    }
}

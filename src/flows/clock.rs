//! The clock that idle timeouts follow: capture time, with a lone packet dated far from its
//! neighbours kept out of it.
//!
//! Idle sweeps compare this clock with each flow's last packet. Following the newest timestamp
//! blindly lets one future-dated packet (a clock step on the capturing host, a corrupt record)
//! end every open connection: requests turn "unanswered", their responses "orphans". So a
//! packet dated more than `tolerance_ns` past the clock is only a candidate: the clock jumps
//! when the next packet confirms it (it is dated near or after the candidate), and a candidate
//! the next packet contradicts is counted as a stray and never moves the clock. Backward steps
//! never move it either. A real pause in the traffic costs one packet of delay.

/// Forward steps up to this are taken at once (default tolerance).
pub const DEFAULT_TOLERANCE_NS: i64 = 1_000_000_000;

/// Capture time for idle timeouts, robust to a stray timestamp.
#[derive(Debug, Clone)]
pub struct CaptureClock {
    now_ns: Option<i64>,
    /// A packet dated far ahead of the clock, waiting for the next one to confirm it.
    candidate_ns: Option<i64>,
    tolerance_ns: i64,
    /// Packets dated far ahead of their neighbours that were kept out of the clock.
    pub strays: u64,
    /// Capture time of the first stray.
    pub first_stray_ns: Option<i64>,
}

impl Default for CaptureClock {
    fn default() -> Self {
        Self::new(DEFAULT_TOLERANCE_NS)
    }
}

impl CaptureClock {
    /// Jumps of at most `tolerance_ns` (forwards) are taken at once.
    pub fn new(tolerance_ns: i64) -> Self {
        CaptureClock {
            now_ns: None,
            candidate_ns: None,
            tolerance_ns: tolerance_ns.max(0),
            strays: 0,
            first_stray_ns: None,
        }
    }

    /// Accounts one packet's capture time; returns the clock (`i64::MIN` before any packet).
    pub fn observe(&mut self, t: i64) -> i64 {
        let Some(now) = self.now_ns else {
            self.now_ns = Some(t);
            return t;
        };
        let candidate = self.candidate_ns.take();
        if t <= now.saturating_add(self.tolerance_ns) {
            if let Some(stray) = candidate {
                self.count_stray(stray);
            }
            self.now_ns = Some(now.max(t));
        } else {
            match candidate {
                // Two packets in a row far ahead: the capture really moved on.
                Some(c) if t >= c.saturating_sub(self.tolerance_ns) => self.now_ns = Some(t),
                Some(stray) => {
                    self.count_stray(stray);
                    self.candidate_ns = Some(t);
                }
                None => self.candidate_ns = Some(t),
            }
        }
        self.now()
    }

    /// The clock now (`i64::MIN` before any packet).
    pub fn now(&self) -> i64 {
        self.now_ns.unwrap_or(i64::MIN)
    }

    fn count_stray(&mut self, t: i64) {
        self.strays += 1;
        self.first_stray_ns.get_or_insert(t);
    }

    /// A warning for the report when strays were seen.
    pub fn warning(&self) -> Option<String> {
        let first = self.first_stray_ns?;
        Some(format!(
            "{} packet(s) dated far ahead of their neighbours (first at {}) were kept out of \
             the idle-timeout clock, so they ended no connection",
            self.strays,
            crate::units::epoch_ns_to_rfc3339(first)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn lone_future_packet_is_a_stray() {
        let mut clock = CaptureClock::new(S);
        assert_eq!(clock.observe(10 * S), 10 * S);
        assert_eq!(clock.observe(410 * S), 10 * S);
        assert_eq!(clock.observe(10 * S + 5), 10 * S + 5);
        assert_eq!(clock.strays, 1);
        assert_eq!(clock.first_stray_ns, Some(410 * S));
    }

    #[test]
    fn confirmed_jump_moves_the_clock() {
        let mut clock = CaptureClock::new(S);
        clock.observe(10 * S);
        assert_eq!(clock.observe(400 * S), 10 * S);
        assert_eq!(clock.observe(400 * S + 1), 400 * S + 1);
        assert_eq!(clock.strays, 0);
        // Sparse traffic (every packet beyond the tolerance) lags one packet behind.
        assert_eq!(clock.observe(403 * S), 400 * S + 1);
        assert_eq!(clock.observe(406 * S), 406 * S);
    }

    #[test]
    fn backward_step_does_not_move_the_clock() {
        let mut clock = CaptureClock::new(S);
        clock.observe(500 * S);
        assert_eq!(clock.observe(100 * S), 500 * S);
        assert_eq!(clock.observe(500 * S + 1), 500 * S + 1);
        assert_eq!(clock.strays, 0);
    }

    #[test]
    fn far_candidate_replaced_by_nearer_one() {
        let mut clock = CaptureClock::new(S);
        clock.observe(0);
        clock.observe(1000 * S); // stray
        clock.observe(5 * S); // beyond tolerance, far before the stray: a new candidate
        assert_eq!(clock.strays, 1);
        assert_eq!(clock.observe(6 * S), 6 * S);
    }
}

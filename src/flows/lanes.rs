//! Lanes: a fixed partition of conversations by a hash of their unordered endpoint pair.
//!
//! A sharded pass deals lane `l` to worker `l % workers`, so both directions of a connection,
//! every connection reusing the pair, and a DNS query with its response meet on one worker.
//! Limits on state that lives in the workers but spans connections (pending DNS queries)
//! are kept per lane: a lane's state is the same whatever the number of workers, so what
//! such a limit sheds is too.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Lanes in a pass (at least the workers worth having; see the README's Performance). A
/// lane fits in a `u16` (the flow table keeps each flow's).
pub const LANES: usize = 256;

/// The lane of the conversation between `a` and `b` (in either order). Fixed hash (no
/// random seed): the same lane on every run.
pub fn lane_of(a: (IpAddr, u16), b: (IpAddr, u16)) -> usize {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut hasher = rustc_hash::FxHasher::default();
    (low, high).hash(&mut hasher);
    // Fx leaves its entropy in the high bits.
    let mixed = hasher.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((mixed >> 32) % LANES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_a_lane_and_lanes_spread() {
        let a = (IpAddr::from([10, 0, 0, 1]), 40000);
        let b = (IpAddr::from([10, 0, 0, 2]), 53);
        assert_eq!(lane_of(a, b), lane_of(b, a));
        let used: std::collections::HashSet<usize> =
            (0..4096u16).map(|port| lane_of((a.0, port), b)).collect();
        assert!(used.len() > LANES * 9 / 10, "{} lanes used", used.len());
    }
}

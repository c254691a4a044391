//! Server latency models: the time from a request's last byte to its response's first byte.

use super::rng::Rng;
use std::fmt;

/// Longest latency ever drawn (1 hour): keeps a heavy-tailed draw from producing a capture
/// that spans years. At the default parameters the cap is never reached in practice.
pub const MAX_LATENCY_NS: i64 = 3_600_000_000_000;

/// A distribution of server latencies, parameters in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyModel {
    /// Always `ms`.
    Constant { ms: f64 },
    /// Pareto type I with scale `xm_ms` and shape `a`: `xm * U^(-1/a)` with U uniform in
    /// (0, 1], which equals numpy's `(numpy.random.pareto(a) + 1) * xm`.
    /// Mean `a*xm/(a-1)` (a > 1), median `xm * 2^(1/a)`, minimum `xm`.
    Pareto { shape: f64, xm_ms: f64 },
    /// `exp(mu + sigma*N(0,1))` milliseconds: `mu`, `sigma` of the underlying normal of the
    /// value in ms. Median `exp(mu)`, mean `exp(mu + sigma^2/2)`.
    LogNormal { mu: f64, sigma: f64 },
}

impl LatencyModel {
    /// One latency in integer nanoseconds (rounded to the nearest ns, at least 0).
    pub fn sample_ns(&self, rng: &mut Rng) -> i64 {
        let ms = match *self {
            LatencyModel::Constant { ms } => ms,
            LatencyModel::Pareto { shape, xm_ms } => xm_ms * rng.unit_open_low().powf(-1.0 / shape),
            LatencyModel::LogNormal { mu, sigma } => rng.lognormal(mu, sigma),
        };
        let ns = (ms * 1e6).round();
        if ns.is_nan() || ns < 0.0 {
            0
        } else if ns >= MAX_LATENCY_NS as f64 {
            MAX_LATENCY_NS
        } else {
            ns as i64
        }
    }

    /// Theoretical mean in ms (`None` when infinite).
    pub fn mean_ms(&self) -> Option<f64> {
        match *self {
            LatencyModel::Constant { ms } => Some(ms),
            LatencyModel::Pareto { shape, xm_ms } => {
                (shape > 1.0).then(|| shape * xm_ms / (shape - 1.0))
            }
            LatencyModel::LogNormal { mu, sigma } => Some((mu + sigma * sigma / 2.0).exp()),
        }
    }

    /// Theoretical median in ms.
    pub fn median_ms(&self) -> f64 {
        match *self {
            LatencyModel::Constant { ms } => ms,
            LatencyModel::Pareto { shape, xm_ms } => xm_ms * 2f64.powf(1.0 / shape),
            LatencyModel::LogNormal { mu, .. } => mu.exp(),
        }
    }

    /// Checks parameters (positive, finite).
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            LatencyModel::Constant { ms } => ms.is_finite() && ms >= 0.0,
            LatencyModel::Pareto { shape, xm_ms } => {
                shape.is_finite() && shape > 0.0 && xm_ms.is_finite() && xm_ms > 0.0
            }
            LatencyModel::LogNormal { mu, sigma } => {
                mu.is_finite() && sigma.is_finite() && sigma >= 0.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("invalid latency parameters: {self}"))
        }
    }
}

impl fmt::Display for LatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LatencyModel::Constant { ms } => write!(f, "constant {ms} ms"),
            LatencyModel::Pareto { shape, xm_ms } => {
                write!(f, "pareto shape {shape}, xm {xm_ms} ms")
            }
            LatencyModel::LogNormal { mu, sigma } => {
                write!(f, "lognormal mu {mu}, sigma {sigma} (ln ms)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_exact() {
        let mut rng = Rng::new(1);
        let m = LatencyModel::Constant { ms: 12.5 };
        assert!((0..100).all(|_| m.sample_ns(&mut rng) == 12_500_000));
    }

    #[test]
    fn pareto_and_lognormal_sample_moments() {
        let mut rng = Rng::new(9);
        let n = 400_000;
        for model in [
            LatencyModel::Pareto {
                shape: 3.0,
                xm_ms: 10.0,
            },
            LatencyModel::LogNormal {
                mu: 2.0,
                sigma: 0.5,
            },
        ] {
            let mut xs: Vec<f64> = (0..n)
                .map(|_| model.sample_ns(&mut rng) as f64 / 1e6)
                .collect();
            xs.sort_by(f64::total_cmp);
            let mean = xs.iter().sum::<f64>() / n as f64;
            let median = xs[n / 2];
            let want_mean = model.mean_ms().unwrap();
            assert!(
                (mean / want_mean - 1.0).abs() < 0.01,
                "{model}: mean {mean} vs {want_mean}"
            );
            assert!(
                (median / model.median_ms() - 1.0).abs() < 0.01,
                "{model}: median {median}"
            );
        }
        // Pareto never goes below its scale.
        let p = LatencyModel::Pareto {
            shape: 1.5,
            xm_ms: 4.0,
        };
        assert!((0..10_000).all(|_| p.sample_ns(&mut rng) >= 4_000_000));
    }
}

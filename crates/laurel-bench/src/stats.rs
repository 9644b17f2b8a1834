//! Latency percentiles.

use std::fmt;

/// Latencies in microseconds, sorted.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn new(mut us: Vec<u32>) -> Latencies {
        us.sort_unstable();
        Latencies(us)
    }

    /// Several sets of latencies as one.
    pub fn merge(parts: Vec<Latencies>) -> Latencies {
        Latencies::new(parts.into_iter().flat_map(|l| l.0).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.0..=1.0), nearest rank; 0 when empty.
    pub fn quantile(&self, q: f64) -> u32 {
        if self.0.is_empty() {
            return 0;
        }
        let rank = (q * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    pub fn p50(&self) -> u32 {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> u32 {
        self.quantile(0.99)
    }

    pub fn max(&self) -> u32 {
        self.0.last().copied().unwrap_or(0)
    }
}

/// Microseconds, printed in a readable unit.
pub struct Us(pub u32);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us >= 10_000 {
            write!(f, "{:.1} ms", us as f64 / 1000.0)
        } else if us >= 1000 {
            write!(f, "{:.2} ms", us as f64 / 1000.0)
        } else {
            write!(f, "{us} µs")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let l = Latencies::new((1..=100).rev().collect());
        assert_eq!(l.p50(), 50);
        assert_eq!(l.p99(), 99);
        assert_eq!(l.max(), 100);
        assert_eq!(Latencies::new(vec![]).p99(), 0);
        assert_eq!(Latencies::new(vec![7]).p50(), 7);
    }
}

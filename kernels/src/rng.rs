//! The one seeded generator of seine: Marsaglia's xorshift64 (shifts 13, 7, 17), for
//! k-means seeding, synthetic benchmark data and the tests' random inputs. Its stream
//! is fixed here, so results that depend on it (centroids, benchmark corpora) do not
//! change with a dependency's version.

/// Advances `state` one xorshift64 step and returns the new state (`state` must not be
/// 0, which stays 0).
#[inline]
pub fn step(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// The next value of `state`'s stream as an f32 uniform in [-0.5, 0.5) (its top 24
/// bits).
#[inline]
pub fn centered(state: &mut u64) -> f32 {
    (step(state) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

/// `n` values of [`centered`] from `seed` (made odd): the tests' random inputs.
pub fn centered_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n).map(|_| centered(&mut s)).collect()
}

/// One SplitMix64 step: `state` advances by the golden-ratio increment and the
/// output is its mix (any state, 0 included). Streams that must be addressable by key
/// (a training run's shuffles per epoch, a synthetic corpus' documents) use it.
#[inline]
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seeded generator over [`step`].
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream for `seed` (any value, 0 included: mixed with a constant, made odd).
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        step(&mut self.0)
    }

    /// Uniform in `0..n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in [-0.5, 0.5).
    pub fn centered(&mut self) -> f32 {
        centered(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stream_is_xorshift64() {
        let mut s = 1u64;
        assert_eq!(super::step(&mut s), 1082269761);
        assert_eq!(s, 1082269761);
        let mut r = super::Rng::new(0);
        let a = r.next_u64();
        assert_ne!(a, 0);
        let v = super::centered(&mut s);
        assert!((-0.5..0.5).contains(&v));
        // SplitMix64's reference output for seed 0 (Vigna's splitmix64.c).
        let mut z = 0u64;
        assert_eq!(super::splitmix(&mut z), 0xe220_a839_7b1d_cdaf);
    }
}

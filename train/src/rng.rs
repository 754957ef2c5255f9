//! A small seeded generator (SplitMix64, `seine_kernels::rng::splitmix`): shuffles and
//! picks that depend only on the seed and what they are for, so a resumed run draws
//! exactly what the first did.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for one purpose: `seed` mixed with the parts (epoch, query id...).
    pub fn keyed(seed: u64, parts: &[&[u8]]) -> Self {
        // FNV-1a over the parts, then mixed with the seed.
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for p in parts {
            for &b in *p {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
            h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
        }
        let mut r = Rng(seed ^ h);
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        seine_kernels::rng::splitmix(&mut self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// `k` distinct items of `v` (all of them when `k ≥ len`), in draw order.
    pub fn choose<T: Clone>(&mut self, v: &[T], k: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        self.shuffle(&mut idx);
        idx.into_iter().take(k).map(|i| v[i].clone()).collect()
    }

    /// Normal(0, std) (Box–Muller), for initializing a head.
    pub fn normal(&mut self, std: f64) -> f64 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

//! The one place that decides which instructions the kernels may run: CPU features
//! detected once, `SEINE_SIMD` applied once, and handed out as a [`Level`] that only
//! this module can construct. Every kernel family (f32 dots, int8 and bf16 products,
//! MaxSim, residual decoding, the encoder's element-wise ops) picks its body from a
//! `Level`, so every `*_at(level, …)` entry point is sound by type: a `Level` is never
//! above what the CPU has, and never above the `SEINE_SIMD` cap.
//!
//! Tiers are cumulative (each needs everything the one below needs):
//!
//! | tier | features |
//! |---|---|
//! | `portable` | none (plain Rust; the oracle) |
//! | `avx2` | AVX2, FMA, F16C, POPCNT |
//! | `avx512` | + AVX-512 F, BW, VL |
//! | `avx512-vnni` | + AVX-512 VNNI |
//! | `avx512-bf16` | + AVX-512 BF16 |
//!
//! A `Level` cannot be built from outside:
//!
//! ```compile_fail
//! let forged = seine_kernels::cpu::Level(seine_kernels::cpu::Tier::Avx512);
//! ```

use std::sync::OnceLock;

/// The instruction-set tiers the kernels are compiled for, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Portable,
    Avx2,
    Avx512,
    Avx512Vnni,
    Avx512Bf16,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Portable,
        Tier::Avx2,
        Tier::Avx512,
        Tier::Avx512Vnni,
        Tier::Avx512Bf16,
    ];

    /// The name `SEINE_SIMD` takes and benchmarks print.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Portable => "portable",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
            Tier::Avx512Vnni => "avx512-vnni",
            Tier::Avx512Bf16 => "avx512-bf16",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == s.trim())
    }
}

/// The CPU features the kernels' bodies are compiled with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub avx2: bool,
    pub fma: bool,
    pub f16c: bool,
    pub popcnt: bool,
    pub avx512f: bool,
    pub avx512bw: bool,
    pub avx512vl: bool,
    pub avx512vnni: bool,
    pub avx512bf16: bool,
}

impl Features {
    /// This CPU's features.
    pub fn detect() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            Features {
                avx2: is_x86_feature_detected!("avx2"),
                fma: is_x86_feature_detected!("fma"),
                f16c: is_x86_feature_detected!("f16c"),
                popcnt: is_x86_feature_detected!("popcnt"),
                avx512f: is_x86_feature_detected!("avx512f"),
                avx512bw: is_x86_feature_detected!("avx512bw"),
                avx512vl: is_x86_feature_detected!("avx512vl"),
                avx512vnni: is_x86_feature_detected!("avx512vnni"),
                avx512bf16: is_x86_feature_detected!("avx512bf16"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Features::default()
    }

    /// The highest tier all of whose features (and those of every tier below) are
    /// present.
    pub fn tier(self) -> Tier {
        let f = self;
        if !(f.avx2 && f.fma && f.f16c && f.popcnt) {
            return Tier::Portable;
        }
        if !(f.avx512f && f.avx512bw && f.avx512vl) {
            return Tier::Avx2;
        }
        if !f.avx512vnni {
            return Tier::Avx512;
        }
        if !f.avx512bf16 {
            return Tier::Avx512Vnni;
        }
        Tier::Avx512Bf16
    }
}

/// The tier to run given the CPU's best and the `SEINE_SIMD` value: the lower of the
/// two; an unknown value is ignored with a warning (the second element).
pub fn capped(best: Tier, cap: Option<&str>) -> (Tier, Option<String>) {
    match cap.map(str::trim).filter(|s| !s.is_empty()) {
        None => (best, None),
        Some(s) => match Tier::parse(s) {
            Some(t) => (best.min(t), None),
            None => {
                let names: Vec<&str> = Tier::ALL.iter().map(|t| t.name()).collect();
                let warning = format!(
                    "seine: SEINE_SIMD={s:?} is not one of {}; using {}",
                    names.join(", "),
                    best.name()
                );
                (best, Some(warning))
            }
        },
    }
}

/// A tier this CPU has (and `SEINE_SIMD` allows). Only [`Level::active`],
/// [`Level::best`], [`Level::portable`], [`Level::available`] and [`Level::at_most`]
/// make one, so a kernel given a `Level` may run that tier's instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(Tier);

impl Level {
    /// The best tier of this CPU, ignoring `SEINE_SIMD` (detected once).
    pub fn best() -> Level {
        static BEST: OnceLock<Tier> = OnceLock::new();
        Level(*BEST.get_or_init(|| Features::detect().tier()))
    }

    /// The level the kernels run at: [`Level::best`] capped by `SEINE_SIMD` (read
    /// once, the first time any kernel asks).
    pub fn active() -> Level {
        static ACTIVE: OnceLock<Tier> = OnceLock::new();
        Level(*ACTIVE.get_or_init(|| {
            let env = std::env::var("SEINE_SIMD").ok();
            let (tier, warning) = capped(Level::best().0, env.as_deref());
            if let Some(w) = warning {
                eprintln!("{w}");
            }
            tier
        }))
    }

    /// The portable level (every CPU has it).
    pub const fn portable() -> Level {
        Level(Tier::Portable)
    }

    /// Every level up to [`Level::active`], portable first: the tests run each kernel
    /// at all of them.
    pub fn available() -> Vec<Level> {
        let top = Level::active().0;
        Tier::ALL
            .into_iter()
            .filter(|t| *t <= top)
            .map(Level)
            .collect()
    }

    /// This level lowered to at most `tier` (a lower tier needs a subset of the
    /// features, so it is as sound as this one).
    pub fn at_most(self, tier: Tier) -> Level {
        Level(self.0.min(tier))
    }

    pub fn tier(self) -> Tier {
        self.0
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// AVX2, FMA, F16C and POPCNT may run.
    pub fn has_avx2(self) -> bool {
        self.0 >= Tier::Avx2
    }

    /// AVX-512 F, BW and VL (and everything of [`Level::has_avx2`]) may run.
    pub fn has_avx512(self) -> bool {
        self.0 >= Tier::Avx512
    }

    /// AVX-512 VNNI may run (with everything of [`Level::has_avx512`]).
    pub fn has_vnni(self) -> bool {
        self.0 >= Tier::Avx512Vnni
    }

    /// AVX-512 BF16 may run (with everything of [`Level::has_vnni`]).
    pub fn has_bf16(self) -> bool {
        self.0 >= Tier::Avx512Bf16
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_on() -> Features {
        Features {
            avx2: true,
            fma: true,
            f16c: true,
            popcnt: true,
            avx512f: true,
            avx512bw: true,
            avx512vl: true,
            avx512vnni: true,
            avx512bf16: true,
        }
    }

    /// AVX-512F alone (no BW/VL, as on Knights Landing) is not the AVX-512 tier: the
    /// bodies are compiled with BW and VL (the old detection granted it on F alone).
    #[test]
    fn avx512_needs_f_bw_and_vl() {
        let f = Features {
            avx512bw: false,
            avx512vl: false,
            avx512vnni: false,
            avx512bf16: false,
            ..all_on()
        };
        assert_eq!(f.tier(), Tier::Avx2);
        assert_eq!(
            Features {
                avx512vl: false,
                ..all_on()
            }
            .tier(),
            Tier::Avx2
        );
        assert_eq!(
            Features {
                avx512vnni: false,
                ..all_on()
            }
            .tier(),
            Tier::Avx512
        );
        assert_eq!(
            Features {
                avx512bf16: false,
                ..all_on()
            }
            .tier(),
            Tier::Avx512Vnni
        );
        assert_eq!(all_on().tier(), Tier::Avx512Bf16);
        assert_eq!(
            Features {
                f16c: false,
                ..all_on()
            }
            .tier(),
            Tier::Portable
        );
        assert_eq!(Features::default().tier(), Tier::Portable);
    }

    /// `SEINE_SIMD=avx2` caps every family, the int8 (VNNI) and bf16 kernels
    /// included (they used to honour only `portable`).
    #[test]
    fn the_cap_applies_to_every_family() {
        let (t, w) = capped(Tier::Avx512Bf16, Some("avx2"));
        assert_eq!((t, w), (Tier::Avx2, None));
        let l = Level(t);
        assert!(l.has_avx2() && !l.has_avx512() && !l.has_vnni() && !l.has_bf16());
        // A cap above the CPU does not raise it.
        assert_eq!(capped(Tier::Avx2, Some("avx512-bf16")).0, Tier::Avx2);
        assert_eq!(capped(Tier::Avx512Vnni, Some("portable")).0, Tier::Portable);
        assert_eq!(capped(Tier::Avx512Vnni, None).0, Tier::Avx512Vnni);
        let (t, w) = capped(Tier::Avx512, Some("sse9"));
        assert_eq!(t, Tier::Avx512);
        assert!(w.unwrap().contains("SEINE_SIMD=\"sse9\""));
    }

    #[test]
    fn available_levels_are_at_most_the_active_one_portable_first() {
        let v = Level::available();
        assert_eq!(v[0], Level::portable());
        assert_eq!(*v.last().unwrap(), Level::active());
        assert!(Level::active() <= Level::best());
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Features::detect().tier(), Level::best().tier());
    }
}

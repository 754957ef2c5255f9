//! The MaxSim kernel on NVIDIA GPUs (`cuda/maxsim.cu`), compiled at run time with NVRTC
//! through cudarc. Built with the `cuda` feature; without it, the same API returns
//! [`CudaError::NotBuilt`]. The CPU kernels in [`crate::maxsim`] are the oracle.
//!
//! cudarc loads libcuda/libnvrtc at run time and panics when they are missing; the
//! calls here catch that and return [`CudaError::Unavailable`] instead, so a CPU-only
//! machine gets an error, not a crash.

use crate::maxsim::{Reduce, Tokens};

/// The kernel source.
pub const MAXSIM_CU: &str = include_str!("../cuda/maxsim.cu");
/// Longest query (in token vectors) the kernel takes.
pub const MAX_QUERY_TOKENS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("seine was built without the `cuda` feature")]
    NotBuilt,
    #[error("CUDA unavailable: {0}")]
    Unavailable(String),
    #[error("NVRTC could not compile the MaxSim kernel: {0}")]
    Compile(String),
    #[error("CUDA: {0}")]
    Driver(String),
    #[error("{0}")]
    InvalidInput(String),
}

/// How the documents of one call are stored (all alike).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    F32,
    F16,
    Compressed,
}

fn check_input(q: &[f32], dim: usize, docs: &[Tokens<'_>]) -> Result<Kind, CudaError> {
    if dim == 0 || !q.len().is_multiple_of(dim) {
        return Err(CudaError::InvalidInput(format!(
            "query of {} floats is not a whole number of {dim}-d vectors",
            q.len()
        )));
    }
    let lq = q.len() / dim;
    if lq == 0 || lq > MAX_QUERY_TOKENS {
        return Err(CudaError::InvalidInput(format!(
            "query has {lq} token vectors; the CUDA kernel takes 1 to {MAX_QUERY_TOKENS}"
        )));
    }
    let kind = |d: &Tokens<'_>| match d {
        Tokens::F32(_) => Kind::F32,
        Tokens::F16(_) => Kind::F16,
        Tokens::Compressed(_) => Kind::Compressed,
    };
    let first = docs.first().map_or(Kind::F32, kind);
    if docs.iter().any(|d| kind(d) != first) {
        return Err(CudaError::InvalidInput(
            "documents mix f32, f16 and compressed token vectors".into(),
        ));
    }
    if let Some(Tokens::Compressed(c)) = docs.first() {
        let same =
            |d: &Tokens<'_>| matches!(d, Tokens::Compressed(x) if std::ptr::eq(x.codec, c.codec));
        if !docs.iter().all(same) || c.codec.dim() != dim {
            return Err(CudaError::InvalidInput(
                "compressed documents must share one codec of the query's dimension".into(),
            ));
        }
    }
    Ok(first)
}

#[cfg(feature = "cuda")]
mod imp {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;

    use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
    use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};

    use super::*;

    fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, CudaError>) -> Result<T, CudaError> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "library missing".into());
                Err(CudaError::Unavailable(format!("{what}: {msg}")))
            }
        }
    }

    /// Compiles the kernel to PTX for a virtual architecture (e.g. `compute_80`); needs
    /// only libnvrtc, no GPU.
    pub fn compile_ptx(arch: &'static str) -> Result<String, CudaError> {
        guarded("loading libnvrtc", || {
            let opts = CompileOptions {
                arch: Some(arch),
                name: Some("maxsim.cu".into()),
                ..Default::default()
            };
            compile_ptx_with_opts(MAXSIM_CU, opts)
                .map(|p| p.to_src())
                .map_err(|e| CudaError::Compile(format!("{e:?}")))
        })
    }

    /// The kernel loaded on one GPU.
    pub struct CudaMaxSim {
        stream: Arc<CudaStream>,
        f32_fn: CudaFunction,
        f16_fn: CudaFunction,
        residual_fn: CudaFunction,
        name: String,
    }

    impl CudaMaxSim {
        pub fn new(ordinal: usize) -> Result<Self, CudaError> {
            guarded("loading libcuda", || {
                let drv = |e: cudarc::driver::DriverError| CudaError::Driver(e.to_string());
                let ctx = CudaContext::new(ordinal).map_err(drv)?;
                let (major, minor) = ctx.compute_capability().map_err(drv)?;
                let arch: &'static str = match (major, minor) {
                    (9, _) | (10.., _) => "compute_90",
                    (8, 9) => "compute_89",
                    (8, 6..) => "compute_86",
                    (8, _) => "compute_80",
                    _ => "compute_70",
                };
                let ptx = compile_ptx(arch)?;
                let module = ctx
                    .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
                    .map_err(drv)?;
                Ok(CudaMaxSim {
                    stream: ctx.default_stream(),
                    f32_fn: module.load_function("seine_maxsim_f32").map_err(drv)?,
                    f16_fn: module.load_function("seine_maxsim_f16").map_err(drv)?,
                    residual_fn: module.load_function("seine_maxsim_residual").map_err(drv)?,
                    name: ctx.name().unwrap_or_else(|_| format!("cuda:{ordinal}")),
                })
            })
        }

        /// The GPU's name.
        pub fn device_name(&self) -> &str {
            &self.name
        }

        /// One score per document (same results as [`crate::score_batch`]).
        pub fn score(
            &self,
            q: &[f32],
            dim: usize,
            docs: &[Tokens<'_>],
            reduce: Reduce,
        ) -> Result<Vec<f32>, CudaError> {
            let kind = check_input(q, dim, docs)?;
            if docs.is_empty() {
                return Ok(Vec::new());
            }
            let lq = q.len() / dim;
            let flipr_k = match reduce {
                Reduce::MaxSim => 0i32,
                Reduce::Flipr { k: 0 } => return Ok(vec![0.0; docs.len()]),
                Reduce::Flipr { k } => k.min(lq) as i32,
            };
            let mut offsets = Vec::with_capacity(docs.len() + 1);
            offsets.push(0i64);
            for d in docs {
                offsets.push(offsets.last().unwrap() + d.rows(dim) as i64);
            }
            let drv = |e: cudarc::driver::DriverError| CudaError::Driver(e.to_string());
            let s = &self.stream;
            let q_dev = s.clone_htod(q).map_err(drv)?;
            let off_dev = s.clone_htod(&offsets).map_err(drv)?;
            let mut out = s.alloc_zeros::<f32>(docs.len()).map_err(drv)?;
            let block = 128u32;
            let cfg = LaunchConfig {
                grid_dim: (docs.len() as u32, 1, 1),
                block_dim: (block, 1, 1),
                shared_mem_bytes: (block / 32) * lq as u32 * 4,
            };
            let (lq_i, dim_i) = (lq as i32, dim as i32);
            if let Some(Tokens::Compressed(first)) = docs.first() {
                let codec = first.codec;
                let (mut cids, mut codes) = (Vec::<u32>::new(), Vec::<u8>::new());
                for d in docs {
                    if let Tokens::Compressed(c) = d {
                        cids.extend_from_slice(c.cids);
                        codes.extend_from_slice(c.codes);
                    }
                }
                let cen_dev = s.clone_htod(codec.centroids()).map_err(drv)?;
                let w_dev = s.clone_htod(codec.weights()).map_err(drv)?;
                let cids_dev = s.clone_htod(&cids).map_err(drv)?;
                let codes_dev = s.clone_htod(&codes).map_err(drv)?;
                let (rb, bits, norm) = (
                    codec.row_bytes() as i32,
                    codec.bits() as i32,
                    codec.normalize() as i32,
                );
                let mut b = s.launch_builder(&self.residual_fn);
                b.arg(&q_dev)
                    .arg(&lq_i)
                    .arg(&dim_i)
                    .arg(&cen_dev)
                    .arg(&cids_dev)
                    .arg(&codes_dev)
                    .arg(&rb)
                    .arg(&bits)
                    .arg(&w_dev)
                    .arg(&norm)
                    .arg(&off_dev)
                    .arg(&flipr_k)
                    .arg(&mut out);
                // SAFETY: argument types and buffer sizes match the kernel's signature.
                unsafe { b.launch(cfg) }.map_err(drv)?;
            } else if kind == Kind::F16 {
                let mut all: Vec<u16> = Vec::new();
                for d in docs {
                    if let Tokens::F16(v) = d {
                        all.extend(v.iter().map(|x| x.to_bits()));
                    }
                }
                let d_dev = s.clone_htod(&all).map_err(drv)?;
                let mut b = s.launch_builder(&self.f16_fn);
                b.arg(&q_dev)
                    .arg(&lq_i)
                    .arg(&dim_i)
                    .arg(&d_dev)
                    .arg(&off_dev)
                    .arg(&flipr_k)
                    .arg(&mut out);
                // SAFETY: argument types and buffer sizes match the kernel's signature.
                unsafe { b.launch(cfg) }.map_err(drv)?;
            } else {
                let mut all: Vec<f32> = Vec::new();
                for d in docs {
                    if let Tokens::F32(v) = d {
                        all.extend_from_slice(v);
                    }
                }
                let d_dev = s.clone_htod(&all).map_err(drv)?;
                let mut b = s.launch_builder(&self.f32_fn);
                b.arg(&q_dev)
                    .arg(&lq_i)
                    .arg(&dim_i)
                    .arg(&d_dev)
                    .arg(&off_dev)
                    .arg(&flipr_k)
                    .arg(&mut out);
                // SAFETY: as above.
                unsafe { b.launch(cfg) }.map_err(drv)?;
            }
            s.clone_dtoh(&out).map_err(drv)
        }
    }
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use super::*;

    pub fn compile_ptx(_arch: &'static str) -> Result<String, CudaError> {
        Err(CudaError::NotBuilt)
    }

    /// Stand-in with the API of the CUDA kernel; every call says it was not built.
    pub struct CudaMaxSim(());

    impl CudaMaxSim {
        pub fn new(_ordinal: usize) -> Result<Self, CudaError> {
            Err(CudaError::NotBuilt)
        }

        pub fn device_name(&self) -> &str {
            ""
        }

        pub fn score(
            &self,
            q: &[f32],
            dim: usize,
            docs: &[Tokens<'_>],
            _reduce: Reduce,
        ) -> Result<Vec<f32>, CudaError> {
            check_input(q, dim, docs)?;
            Err(CudaError::NotBuilt)
        }
    }
}

pub use imp::{CudaMaxSim, compile_ptx};

#[cfg(test)]
mod tests {
    use super::*;

    /// NVRTC compiles the kernel source on a machine without a GPU. CI installs NVRTC
    /// from NVIDIA's PyPI wheel and sets `SEINE_REQUIRE_NVRTC=1`, so a missing library
    /// fails there instead of skipping.
    #[test]
    fn kernel_source_compiles_with_nvrtc() {
        match compile_ptx("compute_80") {
            Ok(ptx) => {
                assert!(
                    ptx.contains(".entry seine_maxsim_f32"),
                    "no f32 entry in PTX"
                );
                assert!(
                    ptx.contains(".entry seine_maxsim_f16"),
                    "no f16 entry in PTX"
                );
                assert!(
                    ptx.contains(".entry seine_maxsim_residual"),
                    "no compressed entry in PTX"
                );
            }
            Err(e @ (CudaError::NotBuilt | CudaError::Unavailable(_)))
                if std::env::var("SEINE_REQUIRE_NVRTC").is_err() =>
            {
                eprintln!("skipped: {e} (set SEINE_REQUIRE_NVRTC=1 to make this fail)");
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// GPU against the CPU oracle; skipped with the reason when no GPU can be used.
    #[test]
    fn gpu_equals_cpu() {
        let gpu = match CudaMaxSim::new(0) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skipped: no GPU kernel ({e})");
                return;
            }
        };
        eprintln!("GPU: {}", gpu.device_name());
        let mut seed = 7u64;
        let mut rnd = || crate::rng::centered(&mut seed);
        for (lq, dim) in [(1, 8), (32, 128), (17, 384), (64, 96), (5, 131)] {
            let q: Vec<f32> = (0..lq * dim).map(|_| rnd()).collect();
            let docs32: Vec<Vec<f32>> = (0..300)
                .map(|i| (0..(i % 250) * dim).map(|_| rnd()).collect())
                .collect();
            let docs16: Vec<Vec<half::f16>> = docs32
                .iter()
                .map(|d| d.iter().map(|&x| half::f16::from_f32(x)).collect())
                .collect();
            let t32: Vec<Tokens> = docs32.iter().map(|d| Tokens::F32(d)).collect();
            let t16: Vec<Tokens> = docs16.iter().map(|d| Tokens::F16(d)).collect();
            let all: Vec<f32> = docs32.concat();
            let codec =
                crate::residual::Codec::train(&all[..all.len().min(4000 * dim)], dim, 64, 2, 2, 1);
            let enc: Vec<(Vec<u32>, Vec<u8>)> = docs32
                .iter()
                .map(|d| {
                    let (mut c, mut r) = (Vec::new(), Vec::new());
                    codec.encode(d, &mut c, &mut r);
                    (c, r)
                })
                .collect();
            let tc: Vec<Tokens> = enc
                .iter()
                .map(|(c, r)| {
                    Tokens::Compressed(crate::Compressed {
                        codec: &codec,
                        cids: c,
                        codes: r,
                    })
                })
                .collect();
            for reduce in [Reduce::MaxSim, Reduce::Flipr { k: 3 }] {
                for docs in [&t32, &t16, &tc] {
                    let want = crate::score_batch(&q, dim, docs, reduce);
                    let got = gpu.score(&q, dim, docs, reduce).unwrap();
                    assert_eq!(got.len(), want.len(), "one GPU score per document");
                    assert_eq!(want.len(), docs.len());
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                            "lq {lq} dim {dim}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

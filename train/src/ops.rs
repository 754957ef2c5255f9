//! Fused ops with a backward pass where candle's primitive chain is slow on the CPU
//! (each primitive is one single-threaded pass; these are one parallel pass):
//! `softmax(scale · scores + bias)` over the last dimension, LayerNorm, GELU (erf).
//! Forward and backward are computed in f64 whatever the tensor type.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor, WithDType,
    bail,
};
use rayon::prelude::*;

/// `softmax(scale · x + bias)` over the last dimension; `x` `[b, h, l, n]`, `bias`
/// `[b, 1, 1, n]` (0 or a large negative per key). Both contiguous.
pub struct MaskedSoftmax {
    pub scale: f64,
}

macro_rules! fwd {
    ($t:ty, $x:expr, $bias:expr, $rows_per_batch:expr, $n:expr, $scale:expr) => {{
        let (x, bias, n) = ($x, $bias, $n);
        let scale = $scale as $t;
        let mut out = vec![0 as $t; x.len()];
        out.par_chunks_mut(n)
            .zip(x.par_chunks(n))
            .enumerate()
            .for_each(|(r, (o, xr))| {
                let b = &bias[(r / $rows_per_batch) * n..][..n];
                let mut m = <$t>::NEG_INFINITY;
                for j in 0..n {
                    let v = xr[j] * scale + b[j];
                    o[j] = v;
                    m = m.max(v);
                }
                let mut s = 0 as $t;
                for v in o.iter_mut() {
                    *v = (*v - m).exp();
                    s += *v;
                }
                let inv = 1 as $t / s;
                for v in o.iter_mut() {
                    *v *= inv;
                }
            });
        out
    }};
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = l1.shape().dims();
        let (Some((o1, e1)), Some((o2, e2))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            bail!("masked-softmax: inputs must be contiguous")
        };
        let &[b, h, l, n] = dims else {
            bail!("masked-softmax: scores must be [b, h, l, n], got {dims:?}")
        };
        if l2.shape().elem_count() != b * n {
            bail!("masked-softmax: bias must be [b, 1, 1, n]");
        }
        let per = h * l;
        let out = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(bias)) => {
                CpuStorage::F32(fwd!(f32, &x[o1..e1], &bias[o2..e2], per, n, self.scale))
            }
            (CpuStorage::F64(x), CpuStorage::F64(bias)) => {
                CpuStorage::F64(fwd!(f64, &x[o1..e1], &bias[o2..e2], per, n, self.scale))
            }
            _ => bail!("masked-softmax: f32 or f64 of one type"),
        };
        Ok((out, l1.shape().clone()))
    }

    /// `dx = scale · y ⊙ (dy − Σ dy ⊙ y)`; the bias takes no gradient.
    fn bwd(
        &self,
        _x: &Tensor,
        _bias: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let s = (dy * y)?.sum_keepdim(candle_core::D::Minus1)?;
        let dx = ((dy.broadcast_sub(&s)? * y)? * self.scale)?;
        Ok((Some(dx), None))
    }
}

/// `softmax(scale · x + bias)` over the last dimension, with its backward.
pub fn masked_softmax(x: &Tensor, bias: &Tensor, scale: f64) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2(&bias.contiguous()?, MaskedSoftmax { scale })
}

/// Rows of the last dimension per parallel task.
const ROWS: usize = 64;

fn slice<'a, T: WithDType>(s: &'a [T], l: &Layout, what: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => bail!("{what}: input must be contiguous"),
    }
}

fn vec_of<T: WithDType>(t: &Tensor) -> Result<Vec<T>> {
    t.contiguous()?.flatten_all()?.to_vec1::<T>()
}

/// LayerNorm over the last dimension (`weight`, `bias` of that size).
pub struct LayerNorm {
    pub eps: f64,
}

/// Mean and reciprocal standard deviation of one row.
fn row_stats<T: WithDType>(x: &[T], eps: f64) -> (f64, f64) {
    let h = x.len() as f64;
    let mean = x.iter().map(|v| v.to_f64()).sum::<f64>() / h;
    let var = x.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / h;
    (mean, 1.0 / (var + eps).sqrt())
}

fn ln_fwd<T: WithDType>(x: &[T], g: &[T], b: &[T], eps: f64) -> Vec<T> {
    let h = g.len();
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(h * ROWS)
        .zip(x.par_chunks(h * ROWS))
        .for_each(|(o, xs)| {
            for (o, x) in o.chunks_mut(h).zip(xs.chunks(h)) {
                let (mean, r) = row_stats(x, eps);
                for j in 0..h {
                    let y = (x[j].to_f64() - mean) * r * g[j].to_f64() + b[j].to_f64();
                    o[j] = T::from_f64(y);
                }
            }
        });
    out
}

/// dx, dγ, dβ of LayerNorm.
fn ln_bwd<T: WithDType>(x: &[T], g: &[T], dy: &[T], eps: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let h = g.len();
    let mut dx = vec![T::zero(); x.len()];
    let (dg, db) = dx
        .par_chunks_mut(h * ROWS)
        .zip(x.par_chunks(h * ROWS).zip(dy.par_chunks(h * ROWS)))
        .map(|(dxs, (xs, dys))| {
            let (mut dg, mut db) = (vec![0f64; h], vec![0f64; h]);
            let mut xhat = vec![0f64; h];
            for ((dx, x), dy) in dxs.chunks_mut(h).zip(xs.chunks(h)).zip(dys.chunks(h)) {
                let (mean, r) = row_stats(x, eps);
                let (mut m1, mut m2) = (0f64, 0f64);
                for j in 0..h {
                    xhat[j] = (x[j].to_f64() - mean) * r;
                    let d = dy[j].to_f64();
                    dg[j] += d * xhat[j];
                    db[j] += d;
                    let dxh = d * g[j].to_f64();
                    m1 += dxh;
                    m2 += dxh * xhat[j];
                }
                let (m1, m2) = (m1 / h as f64, m2 / h as f64);
                for j in 0..h {
                    let dxh = dy[j].to_f64() * g[j].to_f64();
                    dx[j] = T::from_f64(r * (dxh - m1 - xhat[j] * m2));
                }
            }
            (dg, db)
        })
        .reduce(
            || (vec![0f64; h], vec![0f64; h]),
            |(mut a, mut b), (c, d)| {
                a.iter_mut().zip(c).for_each(|(a, c)| *a += c);
                b.iter_mut().zip(d).for_each(|(b, d)| *b += d);
                (a, b)
            },
        );
    let cast = |v: Vec<f64>| v.into_iter().map(T::from_f64).collect();
    (dx, cast(dg), cast(db))
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let n = "layer-norm";
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                CpuStorage::F32(ln_fwd(
                    slice(x, l1, n)?,
                    slice(g, l2, n)?,
                    slice(b, l3, n)?,
                    self.eps,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                CpuStorage::F64(ln_fwd(
                    slice(x, l1, n)?,
                    slice(g, l2, n)?,
                    slice(b, l3, n)?,
                    self.eps,
                ))
            }
            _ => bail!("layer-norm: f32 or f64 of one type"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        g: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dev, h) = (x.device(), g.elem_count());
        macro_rules! go {
            ($t:ty) => {{
                let (dx, dg, db) = ln_bwd::<$t>(&vec_of(x)?, &vec_of(g)?, &vec_of(dy)?, self.eps);
                (
                    Tensor::from_vec(dx, x.shape(), dev)?,
                    Tensor::from_vec(dg, h, dev)?,
                    Tensor::from_vec(db, h, dev)?,
                )
            }};
        }
        let (dx, dg, db) = match x.dtype() {
            DType::F32 => go!(f32),
            DType::F64 => go!(f64),
            d => bail!("layer-norm: {d:?}"),
        };
        Ok((Some(dx), Some(dg), Some(db)))
    }
}

/// LayerNorm of `x` over its last dimension, with its backward.
pub fn layer_norm(x: &Tensor, g: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&g.contiguous()?, &b.contiguous()?, LayerNorm { eps })
}

/// GELU with the exact erf: `x Φ(x)`.
pub struct GeluErf;

const CHUNK: usize = 4096;

fn gelu_map<T: WithDType>(x: &[T], f: impl Fn(f64) -> f64 + Sync) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(o, x)| {
            for (o, x) in o.iter_mut().zip(x) {
                *o = T::from_f64(f(x.to_f64()));
            }
        });
    out
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(x / std::f64::consts::SQRT_2))
}

/// d gelu / dx = Φ(x) + x φ(x).
fn gelu_grad(x: f64) -> f64 {
    let cdf = 0.5 * (1.0 + candle_core::cpu::erf::erf_f64(x / std::f64::consts::SQRT_2));
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    cdf + x * pdf
}

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = match s {
            CpuStorage::F32(x) => CpuStorage::F32(gelu_map(slice(x, l, "gelu")?, gelu)),
            CpuStorage::F64(x) => CpuStorage::F64(gelu_map(slice(x, l, "gelu")?, gelu)),
            _ => bail!("gelu: f32 or f64"),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let g = match x.dtype() {
            DType::F32 => Tensor::from_vec(
                gelu_map(&vec_of::<f32>(x)?, gelu_grad),
                x.shape(),
                x.device(),
            )?,
            DType::F64 => Tensor::from_vec(
                gelu_map(&vec_of::<f64>(x)?, gelu_grad),
                x.shape(),
                x.device(),
            )?,
            d => bail!("gelu: {d:?}"),
        };
        Ok(Some((g * dy)?))
    }
}

/// GELU (erf) with its backward.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(GeluErf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};

    #[test]
    fn matches_the_primitive_chain_and_its_gradient() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (2, 3, 4, 5), &dev).unwrap()).unwrap();
        let mut bias = vec![0f64; 10];
        bias[4] = -1e9;
        bias[7] = -1e9;
        let bias = Tensor::from_vec(bias, (2, 1, 1, 5), &dev).unwrap();
        let w = Tensor::randn(0f64, 1.0, (2, 3, 4, 5), &dev).unwrap();
        let fused = masked_softmax(x.as_tensor(), &bias, 0.7).unwrap();
        let plain = crate::bert::softmax_last(
            &(x.as_tensor() * 0.7).unwrap().broadcast_add(&bias).unwrap(),
        )
        .unwrap();
        let diff = (&fused - &plain).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
        let g1 = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (plain * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (g1, g2) = (
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
        );
        let diff = (g1 - g2)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(D::Minus1);
        assert!(diff.unwrap().to_scalar::<f64>().unwrap() < 1e-12);
    }

    #[test]
    fn layer_norm_and_gelu_match_the_primitive_chains() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f64, 2.0, (70, 6), &dev).unwrap()).unwrap();
        let g = Var::from_tensor(&Tensor::randn(1f64, 0.3, 6, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f64, 0.3, 6, &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f64, 1.0, (70, 6), &dev).unwrap();
        let fused = layer_norm(x.as_tensor(), g.as_tensor(), b.as_tensor(), 1e-5).unwrap();
        let plain = crate::bert::layer_norm_plain(
            x.as_tensor(),
            &(g.as_tensor().clone(), b.as_tensor().clone()),
            1e-5,
        )
        .unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d = (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(D::Minus1);
            d.unwrap().to_scalar::<f64>().unwrap()
        };
        assert!(close(&fused, &plain) < 1e-12);
        let g1 = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (plain * &w).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &g, &b] {
            let (a, c) = (
                g1.get(v.as_tensor()).unwrap(),
                g2.get(v.as_tensor()).unwrap(),
            );
            assert!(close(a, c) < 1e-10, "{}", close(a, c));
        }
        let fused = gelu_erf(x.as_tensor()).unwrap();
        let plain = x.as_tensor().gelu_erf().unwrap();
        assert!(close(&fused, &plain) < 1e-12);
        let g1 = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (plain * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, c) = (
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
        );
        // candle's own GELU backward rounds 1/√(2π) to 0.398942 (relative error 7e-7);
        // the exact derivative is checked against finite differences in tests/train.rs.
        assert!(close(a, c) < 2e-6, "{}", close(a, c));
    }
}

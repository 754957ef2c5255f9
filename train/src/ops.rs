//! Fused ops with a backward pass where candle's primitive chain is slow on the CPU:
//! `softmax(scale · scores + bias)` over the last dimension (one parallel pass
//! instead of six single-threaded ones over the largest tensor of a layer).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};
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
        let (g1, g2) = (g1.get(x.as_tensor()).unwrap(), g2.get(x.as_tensor()).unwrap());
        let diff = (g1 - g2).unwrap().abs().unwrap().flatten_all().unwrap().max(D::Minus1);
        assert!(diff.unwrap().to_scalar::<f64>().unwrap() < 1e-12);
    }
}

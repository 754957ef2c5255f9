//! The SPLADE head on the CPU: the MLM transform (dense, activation, LayerNorm), then
//! the vocabulary projection tiled over vocabulary blocks, so `[tokens × vocabulary]`
//! logits never exist at once; the max over each sequence's tokens is taken block by
//! block, and `log(1 + relu(·))` is applied to the pooled maxima only (it is monotone,
//! so `max_i log(1 + relu(x_i)) = log(1 + relu(max_i x_i))`).

use std::cell::RefCell;

use rayon::prelude::*;

use super::model::{LayerNorm, Linear};
use crate::ops::{self, Activation};

#[derive(Debug, Clone)]
pub struct MlmHead {
    pub transform: Linear,
    pub act: Activation,
    pub norm: LayerNorm,
    /// The vocabulary projection (`hidden → vocab`, with its bias), packed like every
    /// [`Linear`].
    pub decoder: Linear,
}

/// Vocabulary rows per block (a multiple of the weight panel).
const VOCAB_BLOCK: usize = 8 * super::model::PANEL;

thread_local! {
    static LOGITS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl MlmHead {
    pub fn vocab(&self) -> usize {
        self.decoder.out
    }

    /// SPLADE weights of each sequence of `hidden` (`Σ lens × hidden`, the encoder's
    /// last hidden states): `lens.len() × vocab`, row-major.
    pub fn splade_weights(&self, hidden: &[f32], lens: &[usize]) -> Vec<f32> {
        let h = self.transform.inp;
        let t: usize = lens.iter().sum();
        assert_eq!(hidden.len(), t * h, "hidden states and lengths differ");
        let mut x = vec![0f32; t * h];
        self.transform.product(hidden, t, &mut x);
        let b = self
            .transform
            .b
            .as_deref()
            .expect("MLM transform has a bias");
        ops::bias_act(&mut x, b, self.act);
        ops::layer_norm(&mut x, &self.norm.gamma, &self.norm.beta, self.norm.eps);

        let v = self.vocab();
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |a, &l| {
                *a += l;
                Some(*a - l)
            })
            .collect();
        let blocks: Vec<Vec<f32>> = (0..v.div_ceil(VOCAB_BLOCK))
            .into_par_iter()
            .map(|blk| {
                let v0 = blk * VOCAB_BLOCK;
                let vn = VOCAB_BLOCK.min(v - v0);
                let mut maxima = vec![f32::NEG_INFINITY; lens.len() * vn];
                LOGITS.with_borrow_mut(|logits| {
                    for (q, (&len, &start)) in lens.iter().zip(&starts).enumerate() {
                        if len == 0 {
                            continue;
                        }
                        if logits.len() < len * vn {
                            logits.resize(len * vn, 0.0);
                        }
                        let l = &mut logits[..len * vn];
                        let xs = &x[start * h..(start + len) * h];
                        self.decoder.product_block(xs, len, v0, vn, l);
                        ops::max_rows_into(&mut maxima[q * vn..(q + 1) * vn], l);
                    }
                });
                maxima
            })
            .collect();
        let bias = self.decoder.b.as_deref().expect("the decoder has a bias");
        let mut out = vec![0f32; lens.len() * v];
        for (blk, maxima) in blocks.iter().enumerate() {
            let v0 = blk * VOCAB_BLOCK;
            let vn = VOCAB_BLOCK.min(v - v0);
            for q in 0..lens.len() {
                let row = &mut out[q * v + v0..q * v + v0 + vn];
                for ((o, &m), &bias) in row.iter_mut().zip(&maxima[q * vn..]).zip(&bias[v0..]) {
                    let z = m + bias;
                    // An empty sequence has max −∞: weight 0, like relu of "no logit".
                    *o = if z > 0.0 { z.ln_1p() } else { 0.0 };
                }
            }
        }
        out
    }
}

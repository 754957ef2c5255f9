//! Contrastive losses over a score matrix, and the negative sieve.
//!
//! - **InfoNCE**: row `i` of `scores` `[B, C]` is query `i` against every candidate of
//!   the batch (in-batch positives of the other queries and all hard negatives); its
//!   target column is its own positive; candidates judged relevant to query `i` other
//!   than the target are excluded (they are not negatives). `ℓ_i = −log p_i,t` with
//!   `p = softmax(s / τ)`.
//! - **Contrastive confidence regularizer** (CCR, arXiv 2401.00165, after CORES²):
//!   `ℓ_i − β · mean_j(−log p_i,j)` over the row's candidates: it rewards confident
//!   (peaked) score distributions, which bounds the damage a false negative does.
//! - **Sieve**: a mined negative `j` whose NCE loss *as if it were the positive*,
//!   `−log p_j`, is below the average over the query's candidate list by more than a
//!   margin, `(−log p_j) − mean_k(−log p_k) < −margin`, looks like an unlabelled
//!   positive and is dropped. Since `log p_j = s_j/τ − log Z`, the test is
//!   `(s_j − mean_k s_k) / τ > margin`: any scoring model serves (model-agnostic).

use crate::ensure;
use crate::error::Result;
use candle_core::{DType, Tensor};

use crate::bert::log_softmax_last;

/// Loss settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossConfig {
    /// Softmax temperature τ (scores are cosines or MaxSim sums divided by τ).
    pub temperature: f64,
    /// Weight β of the confidence regularizer (0 = off).
    pub ccr_weight: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            temperature: 0.05,
            ccr_weight: 0.0,
        }
    }
}

/// The mean loss of a batch and its parts (for the log).
pub struct BatchLoss {
    pub loss: Tensor,
    pub nce: f64,
    pub ccr: f64,
    /// Fraction of rows whose positive scores highest.
    pub accuracy: f64,
}

/// InfoNCE (+ CCR) over `scores` `[B, C]`; `targets[i]` is row `i`'s positive column;
/// `excluded[i]` lists columns that are neither its target nor negatives.
pub fn contrastive(
    scores: &Tensor,
    targets: &[usize],
    excluded: &[Vec<usize>],
    cfg: &LossConfig,
) -> Result<BatchLoss> {
    let (b, c) = scores.dims2()?;
    ensure!(
        targets.len() == b && excluded.len() == b,
        "one target per row"
    );
    let mut valid = vec![1f32; b * c];
    let mut onehot = vec![0f32; b * c];
    for i in 0..b {
        ensure!(targets[i] < c, "target column out of range");
        onehot[i * c + targets[i]] = 1.0;
        for &j in &excluded[i] {
            if j != targets[i] && j < c {
                valid[i * c + j] = 0.0;
            }
        }
    }
    let dev = scores.device();
    let dt = scores.dtype();
    let valid = Tensor::from_vec(valid, (b, c), dev)?.to_dtype(dt)?;
    let onehot = Tensor::from_vec(onehot, (b, c), dev)?.to_dtype(dt)?;
    // Excluded columns: a large negative logit (exp → 0).
    let logits = ((scores / cfg.temperature)? + ((&valid - 1.0)? * 1e9)?)?;
    let lp = log_softmax_last(&logits)?;
    let nce_rows = (lp.mul(&onehot)?.sum(1)? * -1.0)?;
    let nce = nce_rows.mean_all()?;
    let mut loss = nce.clone();
    let mut ccr = 0.0;
    if cfg.ccr_weight != 0.0 {
        // mean_j(−log p_j) over the row's valid candidates.
        let mean_nll = ((lp.mul(&valid)?.sum(1)? * -1.0)? / valid.sum(1)?)?;
        let reg = mean_nll.mean_all()?;
        ccr = reg.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        loss = (loss - (reg * cfg.ccr_weight)?)?;
    }
    let best = logits.argmax(1)?.to_vec1::<u32>()?;
    let hits = best
        .iter()
        .zip(targets)
        .filter(|(a, t)| **a as usize == **t)
        .count();
    Ok(BatchLoss {
        nce: nce.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        loss,
        ccr,
        accuracy: hits as f64 / b as f64,
    })
}

/// The sieve of one query: `scores` of its candidate list (positives and mined
/// negatives, by any scoring model) — returns, for each candidate, whether it looks
/// like a false negative: `(s_j − mean s) / τ > margin`.
pub fn sieve(scores: &[f32], temperature: f64, margin: f64) -> Vec<bool> {
    if scores.is_empty() {
        return Vec::new();
    }
    let mean = scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len() as f64;
    scores
        .iter()
        .map(|&s| (s as f64 - mean) / temperature > margin)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn ccr_matches_a_hand_computed_value() {
        // scores [1, 0, −1], τ = 1, target 0, β = 0.5:
        // log Z = ln(e + 1 + 1/e) = 1.4076059644; −log p = [0.40760596, 1.40760596, 2.40760596]
        // nce = 0.40760596, mean(−log p) = 1.40760596, loss = 0.40760596 − 0.70380298.
        let s = Tensor::new(&[[1.0f64, 0.0, -1.0]], &Device::Cpu).unwrap();
        let cfg = LossConfig {
            temperature: 1.0,
            ccr_weight: 0.5,
        };
        let out = contrastive(&s, &[0], &[vec![]], &cfg).unwrap();
        let loss = out.loss.to_scalar::<f64>().unwrap();
        assert!((out.nce - 0.407_605_964_4).abs() < 1e-9, "{}", out.nce);
        assert!((out.ccr - 1.407_605_964_4).abs() < 1e-9, "{}", out.ccr);
        assert!(
            (loss - (0.407_605_964_4 - 0.703_802_982_2)).abs() < 1e-9,
            "{loss}"
        );
        assert_eq!(out.accuracy, 1.0);
    }

    #[test]
    fn excluded_columns_are_not_negatives() {
        // Column 1 is judged relevant to the query: excluded, the loss equals a
        // two-candidate softmax over columns 0 and 2.
        let s = Tensor::new(&[[0.3f64, 5.0, 0.1]], &Device::Cpu).unwrap();
        let cfg = LossConfig {
            temperature: 0.5,
            ccr_weight: 0.0,
        };
        let out = contrastive(&s, &[0], &[vec![1]], &cfg).unwrap();
        let want = -((0.3f64 / 0.5).exp() / ((0.3f64 / 0.5).exp() + (0.1f64 / 0.5).exp())).ln();
        assert!((out.nce - want).abs() < 1e-9, "{} vs {want}", out.nce);
        // Not excluded, the judged column dominates.
        let out = contrastive(&s, &[0], &[vec![]], &cfg).unwrap();
        assert!(out.nce > 8.0);
    }

    #[test]
    fn sieve_drops_negatives_scoring_like_positives() {
        // A positive at 0.80, a false negative at 0.78, true negatives near 0.4.
        let scores = [0.80f32, 0.78, 0.42, 0.40, 0.38, 0.41];
        let flags = sieve(&scores, 0.05, 1.0);
        assert_eq!(flags, vec![true, true, false, false, false, false]);
        // A larger margin keeps everything but what is far above the mean.
        let flags = sieve(&scores, 0.05, 4.0);
        assert_eq!(flags, vec![true, true, false, false, false, false]);
        let flags = sieve(&scores, 0.05, 6.0);
        assert_eq!(flags, vec![false; 6]);
    }
}

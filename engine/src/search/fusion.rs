//! Fusion of first-stage result lists.
//!
//! - `rrf`: reciprocal rank fusion, `Σ_r w_r / (k + rank_r(d))` (Cormack et al. 2009;
//!   ranks from 1, `k` = 60 by default); a document missing from a list adds nothing.
//! - `minmax`: `Σ_r w_r · (s_r(d) − min_r) / (max_r − min_r)` over each list's own
//!   scores (1 for every hit of a list whose scores are all equal).
//! - `zscore`: `Σ_r w_r · (s_r(d) − mean_r) / std_r` (0 when `std_r` is 0).
//!
//! In the normalized sums a document missing from a list gets that list's lowest
//! normalized score (0 for min-max; the lowest z of the list for z-score): not being
//! retrieved is never better than being retrieved last. Ties are broken by document id.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use seine_index::{DocId, ScoredDoc};

use crate::{Error, Result};

/// Default RRF constant.
pub const DEFAULT_RRF_K: f32 = 60.0;
/// Default number of hits each retriever contributes to a fusion.
pub const DEFAULT_FUSION_DEPTH: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FusionMethod {
    Rrf { k: f32 },
    MinMax,
    ZScore,
}

impl fmt::Display for FusionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FusionMethod::Rrf { .. } => f.write_str("rrf"),
            FusionMethod::MinMax => f.write_str("minmax"),
            FusionMethod::ZScore => f.write_str("zscore"),
        }
    }
}

impl FromStr for FusionMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rrf" => Ok(FusionMethod::Rrf { k: DEFAULT_RRF_K }),
            "minmax" => Ok(FusionMethod::MinMax),
            "zscore" => Ok(FusionMethod::ZScore),
            _ => Err(Error::InvalidArgument(format!(
                "unknown fusion {s:?} (expected rrf, minmax or zscore)"
            ))),
        }
    }
}

/// How lists are fused.
#[derive(Debug, Clone, PartialEq)]
pub struct Fusion {
    pub method: FusionMethod,
    /// One weight per fused retriever, in order; empty = all 1.
    pub weights: Vec<f32>,
    /// Hits taken from each retriever (at least the number of hits asked for).
    pub depth: usize,
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion {
            method: FusionMethod::Rrf { k: DEFAULT_RRF_K },
            weights: Vec::new(),
            depth: DEFAULT_FUSION_DEPTH,
        }
    }
}

impl Fusion {
    pub fn validate(&self, lists: usize) -> Result<()> {
        if !self.weights.is_empty() && self.weights.len() != lists {
            return Err(Error::InvalidArgument(format!(
                "{} fusion weights for {lists} retrievers",
                self.weights.len()
            )));
        }
        if self.weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(Error::InvalidArgument(
                "fusion weights must be finite and >= 0".into(),
            ));
        }
        if let FusionMethod::Rrf { k } = self.method
            && !(k.is_finite() && k >= 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "rrf k must be finite and >= 0, got {k}"
            )));
        }
        if self.depth == 0 {
            return Err(Error::InvalidArgument(
                "fusion depth must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Where a fused hit came from in one list.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceHit {
    pub retriever: String,
    /// 1-based rank in that retriever's list.
    pub rank: usize,
    pub score: f32,
}

/// A fused hit with the per-retriever ranks and scores behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct FusedHit {
    pub doc: DocId,
    pub score: f32,
    pub sources: Vec<SourceHit>,
}

/// A list's score normalization.
enum Norm {
    /// RRF uses ranks only.
    Ranks,
    MinMax {
        min: f64,
        range: f64,
    },
    ZScore {
        mean: f64,
        std: f64,
        min_z: f64,
    },
    /// All scores equal: every hit gets this value, a missing document 0.
    Const(f64),
}

impl Norm {
    fn of(method: FusionMethod, hits: &[ScoredDoc]) -> Norm {
        let scores: Vec<f64> = hits.iter().map(|h| f64::from(h.score)).collect();
        let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
        let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        match method {
            FusionMethod::Rrf { .. } => Norm::Ranks,
            FusionMethod::MinMax if max > min => Norm::MinMax {
                min,
                range: max - min,
            },
            FusionMethod::MinMax => Norm::Const(1.0),
            FusionMethod::ZScore => {
                let n = scores.len().max(1) as f64;
                let mean = scores.iter().sum::<f64>() / n;
                let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
                if std > 0.0 {
                    Norm::ZScore {
                        mean,
                        std,
                        min_z: (min - mean) / std,
                    }
                } else {
                    Norm::Const(0.0)
                }
            }
        }
    }

    fn apply(&self, s: f32) -> f64 {
        let s = f64::from(s);
        match *self {
            Norm::Ranks => 0.0,
            Norm::MinMax { min, range } => (s - min) / range,
            Norm::ZScore { mean, std, .. } => (s - mean) / std,
            Norm::Const(c) => c,
        }
    }

    /// The value of a document the list did not retrieve: its lowest normalized score.
    fn missing(&self) -> f64 {
        match *self {
            Norm::ZScore { min_z, .. } => min_z,
            _ => 0.0,
        }
    }
}

/// Fuses named result lists (each in ranking order) into the top `k`.
pub fn fuse(lists: &[(&str, Vec<ScoredDoc>)], fusion: &Fusion, k: usize) -> Result<Vec<FusedHit>> {
    fusion.validate(lists.len())?;
    let weight = |i: usize| fusion.weights.get(i).copied().unwrap_or(1.0);
    let norms: Vec<Norm> = lists
        .iter()
        .map(|(_, hits)| Norm::of(fusion.method, hits))
        .collect();
    let mut acc: HashMap<DocId, (f64, Vec<Option<SourceHit>>)> = HashMap::new();
    for (li, (name, hits)) in lists.iter().enumerate() {
        for (rank0, h) in hits.iter().enumerate() {
            let entry = acc
                .entry(h.doc)
                .or_insert_with(|| (0.0, vec![None; lists.len()]));
            let contribution = match fusion.method {
                FusionMethod::Rrf { k } => 1.0 / (f64::from(k) + (rank0 + 1) as f64),
                _ => norms[li].apply(h.score),
            };
            entry.0 += f64::from(weight(li)) * contribution;
            entry.1[li] = Some(SourceHit {
                retriever: name.to_string(),
                rank: rank0 + 1,
                score: h.score,
            });
        }
    }
    let mut fused: Vec<FusedHit> = acc
        .into_iter()
        .map(|(doc, (mut score, sources))| {
            for (li, s) in sources.iter().enumerate() {
                if s.is_none() {
                    score += f64::from(weight(li)) * norms[li].missing();
                }
            }
            FusedHit {
                doc,
                score: score as f32,
                sources: sources.into_iter().flatten().collect(),
            }
        })
        .collect();
    fused.sort_by(|a, b| seine_index::score_order(a.score, b.score).then(a.doc.cmp(&b.doc)));
    fused.truncate(k);
    Ok(fused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(u32, f32)]) -> Vec<ScoredDoc> {
        pairs.iter().map(|&(d, s)| ScoredDoc::new(d, s)).collect()
    }

    #[test]
    fn rrf_by_hand() {
        let a = list(&[(1, 9.0), (2, 8.0), (3, 7.0)]);
        let b = list(&[(3, 0.9), (4, 0.8), (1, 0.1)]);
        let f = fuse(&[("a", a), ("b", b)], &Fusion::default(), 10).unwrap();
        let s = |d: u32| f.iter().find(|h| h.doc == d).unwrap().score;
        assert!((s(1) - (1.0 / 61.0 + 1.0 / 63.0) as f32).abs() < 1e-7);
        assert!((s(3) - (1.0 / 63.0 + 1.0 / 61.0) as f32).abs() < 1e-7);
        assert!((s(2) - 1.0 / 62.0).abs() < 1e-7);
        // 1 and 3 tie: lower id first; then 2 (rank 2) before 4 (rank 2, higher id).
        assert_eq!(
            f.iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![1, 3, 2, 4]
        );
        let h1 = &f[0];
        assert_eq!(h1.sources.len(), 2);
        assert_eq!(
            (h1.sources[1].retriever.as_str(), h1.sources[1].rank),
            ("b", 3)
        );
    }

    /// One order for every ranking (`seine_index::score_order`): a NaN score (a
    /// broken model output) ranks last, as in `ScoredDoc::rank_cmp`; `total_cmp`
    /// descending put it first.
    #[test]
    fn nan_scores_rank_last_in_fusion() {
        let a = list(&[(1, f32::NAN), (2, 5.0), (3, 1.0)]);
        let b = list(&[(3, 2.0), (2, 1.0)]);
        let fusion = Fusion {
            method: FusionMethod::MinMax,
            ..Fusion::default()
        };
        let f = fuse(&[("a", a), ("b", b)], &fusion, 10).unwrap();
        assert!(f.last().unwrap().score.is_nan(), "{f:?}");
        assert_eq!(f.last().unwrap().doc, 1, "{f:?}");
        assert_eq!(f.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![2, 3, 1]);
    }

    #[test]
    fn weights_and_minmax() {
        let a = list(&[(1, 10.0), (2, 5.0), (3, 0.0)]);
        let b = list(&[(2, 1.0), (3, 0.5)]);
        let fusion = Fusion {
            method: FusionMethod::MinMax,
            weights: vec![1.0, 3.0],
            depth: 100,
        };
        let f = fuse(&[("a", a), ("b", b)], &fusion, 2).unwrap();
        // 2: 0.5 + 3*1 = 3.5; 1: 1 + 3*0 (missing) = 1; 3: 0 + 0 = 0.
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].doc, f[0].score), (2, 3.5));
        assert_eq!((f[1].doc, f[1].score), (1, 1.0));
    }

    #[test]
    fn zscore_missing_gets_the_lowest_z() {
        let a = list(&[(1, 3.0), (2, 1.0)]);
        let b = list(&[(2, 2.0), (3, 0.0)]);
        let fusion = Fusion {
            method: FusionMethod::ZScore,
            ..Fusion::default()
        };
        let f = fuse(&[("a", a), ("b", b)], &fusion, 10).unwrap();
        let s = |d: u32| f.iter().find(|h| h.doc == d).unwrap().score;
        // a: mean 2, std 1 → z(1)=1, z(2)=-1; b: mean 1, std 1 → z(2)=1, z(3)=-1.
        assert_eq!(s(2), 0.0);
        assert_eq!(s(1), 0.0); // 1 + (missing in b: -1)
        assert_eq!(s(3), -2.0); // missing in a: -1, plus -1
    }

    #[test]
    fn bad_settings_are_errors() {
        let a = list(&[(1, 1.0)]);
        let fusion = Fusion {
            weights: vec![1.0, 2.0],
            ..Fusion::default()
        };
        assert!(fuse(&[("a", a.clone())], &fusion, 5).is_err());
        assert!("mean".parse::<FusionMethod>().is_err());
        let fusion = Fusion {
            weights: vec![-1.0],
            ..Fusion::default()
        };
        assert!(fuse(&[("a", a)], &fusion, 5).is_err());
    }
}

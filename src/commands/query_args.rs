//! Query-time argument groups shared by `search`, `eval` and `serve`: the
//! late-interaction first stage, reranking and fusion.

use seine_engine::settings;
use seine_engine::{FusionMethod, Rerank, RerankKind};

/// The first stage of `--retriever maxsim`: PLAID by default, WARP with `--maxsim-engine
/// warp` or any `--warp-*` flag (on stores that carry its token lists; PLAID on older
/// ones).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PlaidArgs {
    /// Late-interaction first stage: plaid or warp [default: plaid; WARP measured slower
    /// on 10k–1M token bags, see README].
    #[arg(long)]
    pub maxsim_engine: Option<MaxsimEngine>,
    /// WARP: centroids probed per query token [default: 16].
    #[arg(long)]
    pub warp_nprobe: Option<usize>,
    /// WARP: best approximate candidates rescored by exact MaxSim, 0 for none [default:
    /// max(4·k, 32)].
    #[arg(long)]
    pub warp_rescore: Option<usize>,
    /// PLAID: centroids probed per query token [default by k: 1 for k ≤ 10, 2 to 100, 4 above].
    #[arg(long)]
    pub plaid_nprobe: Option<usize>,
    /// PLAID: centroid-pruning threshold [default by k: 0.5, 0.45, 0.4].
    #[arg(long, allow_negative_numbers = true)]
    pub plaid_threshold: Option<f32>,
    /// PLAID: documents kept after centroid pruning [default by k: 256, 1024, 4096].
    #[arg(long)]
    pub plaid_ndocs: Option<usize>,
}

/// `--maxsim-engine`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxsimEngine {
    Warp,
    Plaid,
}

impl PlaidArgs {
    fn wants_plaid(&self) -> bool {
        self.maxsim_engine == Some(MaxsimEngine::Plaid)
            || self.plaid_nprobe.is_some()
            || self.plaid_threshold.is_some()
            || self.plaid_ndocs.is_some()
    }

    /// PLAID's parameters for searches of `k` hits (`None`: WARP runs).
    pub fn plaid(&self, k: usize) -> Option<seine_engine::Plaid> {
        if !self.wants_plaid() {
            return None;
        }
        let d = seine_engine::Plaid::for_k(k);
        Some(seine_engine::Plaid {
            nprobe: self.plaid_nprobe.unwrap_or(d.nprobe),
            centroid_threshold: self.plaid_threshold.unwrap_or(d.centroid_threshold),
            ndocs: self.plaid_ndocs.unwrap_or(d.ndocs),
        })
    }

    /// WARP's parameters for searches of `k` hits (`None`: PLAID runs).
    pub fn warp(&self, k: usize) -> Option<seine_engine::Warp> {
        let asked = self.maxsim_engine == Some(MaxsimEngine::Warp)
            || self.warp_nprobe.is_some()
            || self.warp_rescore.is_some();
        if !asked || self.wants_plaid() {
            return None;
        }
        let d = seine_engine::Warp::for_k(k);
        Some(seine_engine::Warp {
            nprobe: self.warp_nprobe.unwrap_or(d.nprobe),
            rescore: self.warp_rescore.unwrap_or(d.rescore),
        })
    }
}

/// Late-interaction reranking of the first stage.
#[derive(clap::Args, Debug, Clone)]
pub struct RerankArgs {
    /// Rerank the first stage's candidates: maxsim (ColBERT) or flipr (Baleen's focused
    /// late interaction: the top --flipr-k query-token maxima).
    #[arg(long)]
    pub rerank: Option<RerankKind>,
    /// Candidates reranked.
    #[arg(long, default_value_t = settings::DEFAULT_RERANK_DEPTH)]
    pub rerank_depth: usize,
    #[arg(long, default_value_t = settings::DEFAULT_FLIPR_K)]
    pub flipr_k: usize,
}

impl RerankArgs {
    pub fn rerank(&self) -> anyhow::Result<Option<Rerank>> {
        let Some(kind) = self.rerank else {
            return Ok(None);
        };
        let r = Rerank::new(kind, self.rerank_depth, self.flipr_k);
        r.validate()?;
        Ok(Some(r))
    }
}

/// How `a+b` retriever lists are fused.
#[derive(clap::Args, Debug, Clone)]
pub struct FusionArgs {
    /// Fusion of several retrievers: rrf (reciprocal rank), minmax or zscore
    /// (normalized weighted sums).
    #[arg(long, default_value = "rrf")]
    pub fusion: FusionMethod,
    /// One weight per fused retriever, in the order named (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub weights: Vec<f32>,
    /// RRF constant k.
    #[arg(long, default_value_t = seine_engine::fusion::DEFAULT_RRF_K)]
    pub rrf_k: f32,
    /// Hits each retriever contributes to the fusion (at least the hits asked for).
    #[arg(long, default_value_t = seine_engine::fusion::DEFAULT_FUSION_DEPTH)]
    pub fusion_depth: usize,
}

impl FusionArgs {
    pub fn fusion(&self) -> anyhow::Result<seine_engine::Fusion> {
        let mut method = self.fusion;
        if let FusionMethod::Rrf { k } = &mut method {
            *k = self.rrf_k;
        }
        Ok(seine_engine::Fusion {
            method,
            weights: self.weights.clone(),
            depth: self.fusion_depth,
        })
    }
}

//! Statistics of real data that `seine bench scale`'s calibrated corpora are drawn
//! from, measured in the same command: SciFact through seine's English analyzer (BM25)
//! and through a SPLADE model (splade-tiny by default).
//!
//! - BM25: document length after analysis (log-normal fit), the collection-frequency
//!   Zipf exponent (least squares of log frequency on log rank over the ranks seen at
//!   least twice), Heaps' law for the vocabulary (fitted on prefixes of the corpus, so
//!   a synthetic corpus of N documents gets the vocabulary a real one of that size
//!   would have), query length after stop words (log-normal), and where query words
//!   sit in the collection ranking (`ln rank / ln V`, mean and spread).
//! - SPLADE: document and query term counts and weights (log-normal fits), the
//!   document-frequency Zipf exponent over the model's vocabulary, and the fraction of
//!   a query's terms its best-matching document has.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Bm25Fit {
    pub docs: usize,
    pub queries: usize,
    pub doc_len_mu: f64,
    pub doc_len_sigma: f64,
    pub zipf_s: f64,
    pub heaps_k: f64,
    pub heaps_beta: f64,
    pub scifact_vocab: usize,
    pub query_len_mu: f64,
    pub query_len_sigma: f64,
    pub query_logrank_mu: f64,
    pub query_logrank_sd: f64,
}

impl Bm25Fit {
    /// The vocabulary of a corpus of `tokens` tokens by the fitted Heaps' law.
    pub fn vocab_for(&self, tokens: f64) -> usize {
        (self.heaps_k * tokens.powf(self.heaps_beta)).clamp(1000.0, 5e6) as usize
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SpladeFit {
    pub model: String,
    pub docs: usize,
    pub queries: usize,
    pub vocab: usize,
    pub doc_terms_mu: f64,
    pub doc_terms_sigma: f64,
    pub zipf_s: f64,
    pub weight_mu: f64,
    pub weight_sigma: f64,
    pub query_terms_mu: f64,
    pub query_terms_sigma: f64,
    pub query_weight_mu: f64,
    pub query_weight_sigma: f64,
    pub query_overlap: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Calibration {
    pub source: String,
    pub bm25: Bm25Fit,
    pub splade: Option<SpladeFit>,
    /// Dense and token vectors (`None` when neither part runs).
    #[serde(default)]
    pub vectors: Option<super::bench_scale_vecfit::VecFit>,
}

/// (mean, standard deviation) of `ln x` over the positive samples.
pub(super) fn lognormal_fit(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let logs: Vec<f64> = xs.filter(|&x| x > 0.0).map(f64::ln).collect();
    mean_sd(&logs)
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    (m, v.sqrt())
}

/// Least-squares (intercept, slope) of `y` on `x`.
fn line_fit(pts: &[(f64, f64)]) -> (f64, f64) {
    let n = pts.len().max(1) as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - slope * mx, slope)
}

/// The Zipf exponent of frequencies sorted descending: minus the slope of log
/// frequency on log rank, at geometrically spaced ranks among those seen at least
/// twice (the hapax tail is the sample's size, not the law).
pub(super) fn zipf_exponent(sorted_desc: &[u64]) -> f64 {
    let top = sorted_desc.iter().take_while(|&&f| f >= 2).count().max(2);
    let mut pts = Vec::new();
    let mut r = 1.0f64;
    while (r as usize) <= top {
        let f = sorted_desc[r as usize - 1] as f64;
        pts.push((r.ln(), f.ln()));
        r *= 1.25;
    }
    -line_fit(&pts).1
}

fn fit_bm25(docs: &[seine_datasets::Doc], queries: &[String]) -> Bm25Fit {
    use std::collections::HashMap;
    let mut cf: HashMap<String, u64> = HashMap::new();
    let (mut lens, mut tokens, mut heaps) = (Vec::new(), 0u64, Vec::new());
    let marks: Vec<usize> = (0..6).map(|i| docs.len() >> (5 - i)).collect();
    for (i, d) in docs.iter().enumerate() {
        let terms = seine_index::lexical::terms(&seine_engine::encode::doc_text(d));
        lens.push(terms.len() as f64);
        tokens += terms.len() as u64;
        for t in terms {
            *cf.entry(t).or_default() += 1;
        }
        if marks.contains(&(i + 1)) {
            heaps.push(((tokens as f64).ln(), (cf.len() as f64).ln()));
        }
    }
    let (ln_k, beta) = line_fit(&heaps);
    let mut freqs: Vec<(u64, &String)> = cf.iter().map(|(t, &f)| (f, t)).collect();
    freqs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let rank: HashMap<&String, usize> = freqs
        .iter()
        .enumerate()
        .map(|(r, f)| (f.1, r + 1))
        .collect();
    let sorted: Vec<u64> = freqs.iter().map(|f| f.0).collect();
    let ln_v = (cf.len() as f64).ln();
    let (mut qlens, mut xs) = (Vec::new(), Vec::new());
    for q in queries {
        let terms = seine_index::lexical::terms(q);
        qlens.push(terms.len() as f64);
        for t in &terms {
            let r = rank.get(t).copied().unwrap_or(cf.len());
            xs.push((r as f64).ln() / ln_v);
        }
    }
    let (doc_len_mu, doc_len_sigma) = lognormal_fit(lens.into_iter());
    let (query_len_mu, query_len_sigma) = lognormal_fit(qlens.into_iter());
    let (query_logrank_mu, query_logrank_sd) = mean_sd(&xs);
    Bm25Fit {
        docs: docs.len(),
        queries: queries.len(),
        doc_len_mu,
        doc_len_sigma,
        zipf_s: zipf_exponent(&sorted),
        heaps_k: ln_k.exp(),
        heaps_beta: beta,
        scifact_vocab: cf.len(),
        query_len_mu,
        query_len_sigma,
        query_logrank_mu,
        query_logrank_sd,
    }
}

fn fit_splade(
    model: &str,
    docs: &[seine_datasets::Doc],
    queries: &[String],
) -> anyhow::Result<SpladeFit> {
    use seine_engine::settings::EmbedKind;
    use seine_engine::{Encoders, Pruning, Side};
    let enc = Encoders::standalone(
        EmbedKind::Sparse,
        model,
        Pruning::default(),
        &candle_core::Device::Cpu,
    )?
    .sparse
    .context("a sparse encoder")?;
    let vocab = enc.vocab().len();
    let texts: Vec<String> = docs.iter().map(seine_engine::encode::doc_text).collect();
    let mut dv = Vec::with_capacity(texts.len());
    let t = std::time::Instant::now();
    for (i, chunk) in texts.chunks(32).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        dv.extend(enc.encode(&refs, Side::Document)?);
        if i % 16 == 15 {
            eprintln!(
                "  calibration: {} of {} SciFact documents through {model} ({:.0} s)",
                dv.len(),
                texts.len(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let qv = enc.encode(&refs, Side::Query)?;
    let mut df = vec![0u64; vocab];
    for v in &dv {
        for &t in &v.terms {
            df[t as usize] += 1;
        }
    }
    df.sort_by(|a, b| b.cmp(a));
    // Each query's best document in the sample, and the share of its terms it has.
    let mut dense = vec![0f32; vocab];
    let mut overlaps = Vec::new();
    for q in &qv {
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            dense[t as usize] = w;
        }
        let best = dv.iter().max_by(|a, b| {
            let s = |v: &seine_engine::SparseVector| -> f32 {
                v.terms
                    .iter()
                    .zip(&v.weights)
                    .map(|(&t, &w)| dense[t as usize] * w)
                    .sum()
            };
            s(a).total_cmp(&s(b))
        });
        if let Some(b) = best.filter(|_| !q.terms.is_empty()) {
            let shared = q.terms.iter().filter(|t| b.terms.contains(t)).count();
            overlaps.push(shared as f64 / q.terms.len() as f64);
        }
        for &t in &q.terms {
            dense[t as usize] = 0.0;
        }
    }
    let (doc_terms_mu, doc_terms_sigma) = lognormal_fit(dv.iter().map(|v| v.terms.len() as f64));
    let (weight_mu, weight_sigma) = lognormal_fit(
        dv.iter()
            .flat_map(|v| v.weights.iter().map(|&w| f64::from(w))),
    );
    let (query_terms_mu, query_terms_sigma) =
        lognormal_fit(qv.iter().map(|v| v.terms.len() as f64));
    let (query_weight_mu, query_weight_sigma) = lognormal_fit(
        qv.iter()
            .flat_map(|v| v.weights.iter().map(|&w| f64::from(w))),
    );
    Ok(SpladeFit {
        model: model.to_string(),
        docs: dv.len(),
        queries: qv.len(),
        vocab,
        doc_terms_mu,
        doc_terms_sigma,
        zipf_s: zipf_exponent(&df),
        weight_mu,
        weight_sigma,
        query_terms_mu,
        query_terms_sigma,
        query_weight_mu,
        query_weight_sigma,
        query_overlap: mean_sd(&overlaps).0,
    })
}

/// Fits the generators on the BEIR folder `dataset`: BM25 on the whole corpus and
/// every query; SPLADE (when `splade` names a model) and the dense and token vectors
/// (when `vectors` names a model) on the first `sample_docs` documents (tokens: the
/// first 300) and `sample_queries` queries.
pub(super) fn fit(
    dataset: &Path,
    splade: Option<&str>,
    vectors: Option<&str>,
    sample_docs: usize,
    sample_queries: usize,
) -> anyhow::Result<Calibration> {
    let beir = seine_datasets::beir::BeirDir::open(dataset)
        .with_context(|| format!("calibration data {}", dataset.display()))?;
    let docs: Vec<seine_datasets::Doc> = beir.corpus()?.collect::<Result<_, _>>()?;
    let queries: Vec<String> = beir.queries()?.into_iter().map(|q| q.text).collect();
    let bm25 = fit_bm25(&docs, &queries);
    let splade = match splade {
        Some(m) => Some(fit_splade(
            m,
            &docs[..sample_docs.min(docs.len())],
            &queries[..sample_queries.min(queries.len())],
        )?),
        None => None,
    };
    let vectors = match vectors {
        Some(m) => Some(super::bench_scale_vecfit::fit(
            m,
            &docs[..sample_docs.min(docs.len())],
            &queries[..sample_queries.min(queries.len())],
            300,
            bm25.heaps_beta,
        )?),
        None => None,
    };
    Ok(Calibration {
        source: format!("{} ({})", beir.name(), dataset.display()),
        bm25,
        splade,
        vectors,
    })
}

/// The fitted parameters, one line per generator.
pub(super) fn print(c: &Calibration) {
    let b = &c.bm25;
    println!(
        "calibration on {}: bm25 — {} documents, length log-normal(mu {:.3}, sigma {:.3}) (median {:.0} terms), collection-frequency Zipf exponent {:.3}, Heaps V = {:.2} T^{:.3} ({} terms in SciFact), {} queries of log-normal(mu {:.3}, sigma {:.3}) terms after stop words at ln rank / ln V = {:.3} ± {:.3}",
        c.source,
        b.docs,
        b.doc_len_mu,
        b.doc_len_sigma,
        b.doc_len_mu.exp(),
        b.zipf_s,
        b.heaps_k,
        b.heaps_beta,
        b.scifact_vocab,
        b.queries,
        b.query_len_mu,
        b.query_len_sigma,
        b.query_logrank_mu,
        b.query_logrank_sd
    );
    if let Some(s) = &c.splade {
        println!(
            "calibration: splade ({}) — {} documents: terms log-normal(mu {:.3}, sigma {:.3}) (median {:.0}), weights log-normal(mu {:.3}, sigma {:.3}), document-frequency Zipf exponent {:.3} over {} terms; {} queries: terms log-normal(mu {:.3}, sigma {:.3}) (median {:.0}), weights log-normal(mu {:.3}, sigma {:.3}), {:.1} % of a query's terms in its best document",
            s.model,
            s.docs,
            s.doc_terms_mu,
            s.doc_terms_sigma,
            s.doc_terms_mu.exp(),
            s.weight_mu,
            s.weight_sigma,
            s.zipf_s,
            s.vocab,
            s.queries,
            s.query_terms_mu,
            s.query_terms_sigma,
            s.query_terms_mu.exp(),
            s.query_weight_mu,
            s.query_weight_sigma,
            s.query_overlap * 100.0
        );
    }
    if let Some(v) = &c.vectors {
        print_vectors(v);
    }
}

/// The dense and token fits, one line each.
fn print_vectors(v: &super::bench_scale_vecfit::VecFit) {
    let d = &v.dense;
    println!(
        "calibration: dense ({}) — {} documents, {}-d: 90 % of the variance in {} directions, top eigenvalues {:.4} {:.4} {:.4}, mean norm {:.3}, {} k-means clusters holding {:.1} % of the variance; documents: noise x{:.1}, nearest-document cosine real {:.3} / synthetic {:.3}; queries: noise x{:.1}, nearest-document cosine real {:.3} / synthetic {:.3}",
        v.model,
        d.samples,
        d.dim,
        d.dims_for_90(),
        d.between[0] + d.within[0],
        d.between[1] + d.within[1],
        d.between[2] + d.within[2],
        d.mean.iter().map(|m| m * m).sum::<f32>().sqrt(),
        d.clusters,
        d.between_share() * 100.0,
        d.doc_gamma,
        d.doc_nn_cos.0,
        d.doc_nn_cos.1,
        d.query_gamma,
        d.query_nn_cos.0,
        d.query_nn_cos.1
    );
    let t = &v.tokens;
    let s = &t.space;
    println!(
        "calibration: tokens ({}) — {} documents, {:.0} tokens each, projected {} → {} dims ({:.1} % of the variance kept; 90 % in {} directions), mean norm {:.3}, {} clusters ({:.1} % of the variance between), cluster sizes Zipf {:.3}, {:.2} % of same-document token pairs in one cluster (copy probability {:.2}); documents: noise x{:.1}, nearest-token cosine real {:.3} / synthetic {:.3}; queries: tokens log-normal(mu {:.3}, sigma {:.3}) (median {:.0}), noise x{:.1}, nearest-document-token cosine real {:.3} / synthetic {:.3}",
        v.model,
        t.docs,
        t.tokens_per_doc,
        t.model_dim,
        s.dim,
        t.kept_variance * 100.0,
        s.dims_for_90(),
        s.mean.iter().map(|m| m * m).sum::<f32>().sqrt(),
        s.clusters,
        s.between_share() * 100.0,
        t.cluster_zipf,
        t.same_cluster_pairs * 100.0,
        t.copy_prob,
        s.doc_gamma,
        s.doc_nn_cos.0,
        s.doc_nn_cos.1,
        t.query_tokens_mu,
        t.query_tokens_sigma,
        t.query_tokens_mu.exp(),
        s.query_gamma,
        s.query_nn_cos.0,
        s.query_nn_cos.1
    );
}

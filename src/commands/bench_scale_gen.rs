//! The synthetic corpora of `seine bench scale`, deterministic from the document
//! number: the uncalibrated "stress" generators (Zipf(1) words including the head,
//! made-up SPLADE weights) and the calibrated ones, whose parameters are fitted to
//! SciFact ([`super::bench_scale_calib`]).

use super::bench_scale::{DENSE_DIM, TOK_DIM, TOKENS};
use super::bench_scale_calib::{Bm25Fit, SpladeFit};

/// splitmix64: the random stream of document `i` of part `salt`.
pub(super) struct Rng(u64);
impl Rng {
    pub(super) fn new(salt: u64, i: u64) -> Self {
        Rng(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xbf58_476d_1ce4_e5b9))
    }
    pub(super) fn next(&mut self) -> u64 {
        seine_kernels::rng::splitmix(&mut self.0)
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn normal(&mut self) -> f32 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

/// Zipf(s) over `n` ranks (rank 0 the most frequent) by inverse CDF.
pub(super) struct Zipf(Vec<f64>);
impl Zipf {
    fn new(n: usize) -> Self {
        Zipf::with_exponent(n, 1.0)
    }
    pub(super) fn with_exponent(n: usize, s: f64) -> Self {
        let n = n.max(1);
        let mut c: Vec<f64> = (1..=n).map(|r| (r as f64).powf(-s)).collect();
        for i in 1..n {
            c[i] += c[i - 1];
        }
        let t = c[n - 1];
        Zipf(c.into_iter().map(|x| x / t).collect())
    }
    pub(super) fn draw(&self, r: &mut Rng) -> usize {
        let u = r.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1)
    }
}

/// A word per rank: letters only (the analyzer keeps them whole), never a stopword.
fn word(mut rank: usize) -> String {
    let mut w = String::from("zq");
    loop {
        w.push((b'a' + (rank % 26) as u8) as char);
        rank /= 26;
        if rank == 0 {
            return w;
        }
    }
}

fn unit_vec(centre: &[f32], noise: f32, r: &mut Rng) -> Vec<f32> {
    let mut v: Vec<f32> = centre.iter().map(|c| c + noise * r.normal()).collect();
    seine_kernels::l2_normalize(&mut v);
    v
}

fn centres(n: usize, dim: usize, salt: u64) -> Vec<Vec<f32>> {
    (0..n)
        .map(|c| {
            let mut r = Rng::new(salt, c as u64);
            (0..dim).map(|_| r.normal()).collect()
        })
        .collect()
}

/// The synthetic data of one part.
pub(super) struct Gen {
    words: Zipf,
    terms: Zipf,
    dense_c: Vec<Vec<f32>>,
    tok_c: Vec<Vec<f32>>,
}

impl Gen {
    pub(super) fn new() -> Self {
        Gen {
            words: Zipf::new(50_000),
            terms: Zipf::new(30_000),
            dense_c: centres(1000, DENSE_DIM, 11),
            tok_c: centres(4096, TOK_DIM, 13),
        }
    }
    pub(super) fn text(&self, i: u64, len: usize, salt: u64) -> String {
        let mut r = Rng::new(salt, i);
        (0..len)
            .map(|_| word(self.words.draw(&mut r)))
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// [`Gen::text`] without the `head` most frequent words (drawn again until past
    /// them): queries as an analyzer that drops stop words would leave them.
    pub(super) fn tail_text(&self, i: u64, len: usize, salt: u64, head: usize) -> String {
        let mut r = Rng::new(salt ^ 0x5eed, i);
        (0..len)
            .map(|_| {
                loop {
                    let w = self.words.draw(&mut r);
                    if w >= head {
                        return word(w);
                    }
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
    pub(super) fn dense(&self, i: u64, salt: u64) -> Vec<f32> {
        let mut r = Rng::new(salt, i);
        let c = &self.dense_c[(r.next() % 1000) as usize];
        unit_vec(c, 0.6, &mut r)
    }
    pub(super) fn sparse(&self, i: u64, n: usize, salt: u64) -> Vec<(String, f32)> {
        let mut r = Rng::new(salt, i);
        (0..n)
            .map(|j| {
                (
                    format!("t{}", self.terms.draw(&mut r)),
                    2.0 / (1.0 + j as f32 * 0.1),
                )
            })
            .collect()
    }
    pub(super) fn tokens(&self, i: u64, salt: u64) -> Vec<f32> {
        let mut r = Rng::new(salt, i);
        let topic = r.next() as usize;
        (0..TOKENS)
            .flat_map(|_| {
                let c = &self.tok_c[(topic + (r.next() % 64) as usize) % 4096];
                unit_vec(c, 0.5, &mut r)
            })
            .collect()
    }
}

/// A log-normal draw `exp(mu + sigma · N(0, 1))`.
fn lognormal(r: &mut Rng, mu: f64, sigma: f64) -> f64 {
    (mu + sigma * f64::from(r.normal())).exp()
}

/// The calibrated BM25 corpus of `n` documents: lengths log-normal, words Zipf(s) over a
/// vocabulary grown by Heaps' law to this corpus's size; queries of log-normal length
/// (after stop words), each word at a log-rank drawn as SciFact's query words sit in
/// its collection ranking.
pub(super) struct Bm25Gen {
    fit: Bm25Fit,
    vocab: usize,
    words: Zipf,
}

impl Bm25Gen {
    pub(super) fn new(fit: &Bm25Fit, n: usize) -> Self {
        let tokens = n as f64 * fit.doc_len_mu.exp() * (fit.doc_len_sigma.powi(2) / 2.0).exp();
        let vocab = fit.vocab_for(tokens);
        Bm25Gen {
            fit: fit.clone(),
            vocab,
            words: Zipf::with_exponent(vocab, fit.zipf_s),
        }
    }

    pub(super) fn vocab(&self) -> usize {
        self.vocab
    }

    pub(super) fn text(&self, i: u64) -> String {
        let mut r = Rng::new(101, i);
        let len = lognormal(&mut r, self.fit.doc_len_mu, self.fit.doc_len_sigma)
            .round()
            .clamp(1.0, 5000.0) as usize;
        (0..len)
            .map(|_| word(self.words.draw(&mut r)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(super) fn query(&self, q: u64) -> String {
        let mut r = Rng::new(102, q);
        let len = lognormal(&mut r, self.fit.query_len_mu, self.fit.query_len_sigma)
            .round()
            .clamp(1.0, 30.0) as usize;
        let ln_v = (self.vocab as f64).ln();
        (0..len)
            .map(|_| {
                let x = (self.fit.query_logrank_mu
                    + self.fit.query_logrank_sd * f64::from(r.normal()))
                .clamp(0.0, 1.0);
                word(
                    ((x * ln_v).exp() as usize)
                        .saturating_sub(1)
                        .min(self.vocab - 1),
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The calibrated SPLADE corpus: term counts log-normal, distinct terms Zipf(s) over
/// the model's vocabulary, weights log-normal sorted descending; a query shares a
/// fitted fraction of its terms with a document (its heaviest) and draws the rest.
pub(super) struct SpladeGen {
    fit: SpladeFit,
    terms: Zipf,
}

impl SpladeGen {
    pub(super) fn new(fit: &SpladeFit) -> Self {
        SpladeGen {
            fit: fit.clone(),
            terms: Zipf::with_exponent(fit.vocab, fit.zipf_s),
        }
    }

    fn vector(
        &self,
        r: &mut Rng,
        len: usize,
        mu: f64,
        sigma: f64,
        mut have: Vec<usize>,
    ) -> Vec<(String, f32)> {
        let len = len.min(self.fit.vocab);
        let mut guard = 0;
        while have.len() < len && guard < 50 * len {
            let t = self.terms.draw(r);
            if !have.contains(&t) {
                have.push(t);
            }
            guard += 1;
        }
        let mut w: Vec<f32> = (0..have.len())
            .map(|_| lognormal(r, mu, sigma) as f32)
            .collect();
        w.sort_by(|a, b| b.total_cmp(a));
        have.into_iter()
            .zip(w)
            .map(|(t, w)| (format!("t{t}"), w))
            .collect()
    }

    fn doc_ranks(&self, i: u64) -> (Rng, usize) {
        let mut r = Rng::new(103, i);
        let len = lognormal(&mut r, self.fit.doc_terms_mu, self.fit.doc_terms_sigma)
            .round()
            .clamp(1.0, 2000.0) as usize;
        (r, len)
    }

    pub(super) fn doc(&self, i: u64) -> Vec<(String, f32)> {
        let (mut r, len) = self.doc_ranks(i);
        self.vector(
            &mut r,
            len,
            self.fit.weight_mu,
            self.fit.weight_sigma,
            Vec::new(),
        )
    }

    /// Query `q`, sharing terms with document `source`.
    pub(super) fn query(&self, q: u64, source: u64) -> Vec<(String, f32)> {
        let mut r = Rng::new(104, q);
        let len = lognormal(&mut r, self.fit.query_terms_mu, self.fit.query_terms_sigma)
            .round()
            .clamp(1.0, 500.0) as usize;
        let shared = ((len as f64) * self.fit.query_overlap).round() as usize;
        let have: Vec<usize> = self
            .doc(source)
            .into_iter()
            .take(shared)
            .filter_map(|(t, _)| t[1..].parse().ok())
            .collect();
        self.vector(
            &mut r,
            len,
            self.fit.query_weight_mu,
            self.fit.query_weight_sigma,
            have,
        )
    }
}

/// Which generator a bm25 or splade row draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Corpus {
    /// Fitted to SciFact (the default rows).
    Calibrated,
    /// The uncalibrated generators (head words in queries, made-up SPLADE weights).
    Stress,
}

impl Corpus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Corpus::Calibrated => "calibrated",
            Corpus::Stress => "stress",
        }
    }
}

/// The documents and queries of one (part, corpus, size).
pub(super) struct Source {
    pub(super) g: Gen,
    corpus: Corpus,
    n: usize,
    bm25: Option<Bm25Gen>,
    splade: Option<SpladeGen>,
    dense: Option<super::bench_scale_vecgen::SpaceGen>,
    tokens: Option<super::bench_scale_vecgen::TokenGen>,
}

impl Source {
    pub(super) fn new(
        corpus: Corpus,
        n: usize,
        calibration: Option<&super::bench_scale_calib::Calibration>,
    ) -> anyhow::Result<Self> {
        use super::bench_scale_vecgen::{SpaceGen, TokenGen};
        let (mut bm25, mut splade, mut dense, mut tokens) = (None, None, None, None);
        if corpus == Corpus::Calibrated {
            let c = calibration
                .ok_or_else(|| anyhow::anyhow!("calibrated corpus without a calibration"))?;
            bm25 = Some(Bm25Gen::new(&c.bm25, n));
            splade = c.splade.as_ref().map(SpladeGen::new);
            if let Some(v) = &c.vectors {
                dense = Some(SpaceGen::new(&v.dense, n, 2));
                tokens = Some(TokenGen::new(&v.tokens, n, c.bm25.heaps_beta));
            }
        }
        Ok(Source {
            g: Gen::new(),
            corpus,
            n,
            bm25,
            splade,
            dense,
            tokens,
        })
    }

    /// The document a query is drawn near (a spread of the corpus).
    pub(super) fn source_doc(&self, q: usize) -> u64 {
        (q as u64).wrapping_mul(7919) % self.n.max(1) as u64
    }

    pub(super) fn bm25_doc(&self, i: u64) -> String {
        match &self.bm25 {
            Some(b) => b.text(i),
            None => self.g.text(i, 100, 1),
        }
    }

    /// The bm25 query sets: (name prefix, texts).
    pub(super) fn bm25_queries(&self, queries: usize) -> Vec<(&'static str, Vec<String>)> {
        match &self.bm25 {
            Some(b) => vec![("", (0..queries).map(|q| b.query(q as u64)).collect())],
            None => vec![
                (
                    "",
                    (0..queries)
                        .map(|q| self.g.text(self.source_doc(q), 5, 1))
                        .collect(),
                ),
                (
                    "tail_",
                    (0..queries)
                        .map(|q| self.g.tail_text(self.source_doc(q), 5, 1, 100))
                        .collect(),
                ),
            ],
        }
    }

    pub(super) fn splade_doc(&self, i: u64) -> Vec<(String, f32)> {
        match &self.splade {
            Some(s) => s.doc(i),
            None => self.g.sparse(i, 60, 3),
        }
    }

    pub(super) fn splade_query(&self, q: usize) -> Vec<(String, f32)> {
        match &self.splade {
            Some(s) => s.query(q as u64, self.source_doc(q)),
            None => {
                let mut t = self.g.sparse(self.source_doc(q), 60, 3);
                t.truncate(20);
                t
            }
        }
    }

    /// Dense document `i` (unit length).
    pub(super) fn dense_doc(&self, i: u64) -> Vec<f32> {
        match &self.dense {
            Some(d) => d.doc(i),
            None => self.g.dense(i, 2),
        }
    }

    /// Dense query `q`: a fresh vector of some cluster (not a document).
    pub(super) fn dense_query(&self, q: usize) -> Vec<f32> {
        match &self.dense {
            Some(d) => d.query(q as u64),
            None => self.g.dense(q as u64, 20),
        }
    }

    /// Document `i`'s token vectors.
    pub(super) fn tokens_doc(&self, i: u64) -> Vec<f32> {
        match &self.tokens {
            Some(t) => t.doc(i),
            None => self.g.tokens(i, 4),
        }
    }

    /// Query `q`'s token vectors.
    pub(super) fn tokens_query(&self, q: usize) -> Vec<f32> {
        match &self.tokens {
            Some(t) => t.query(q as u64),
            None => self.g.tokens(q as u64, 21),
        }
    }

    /// A line about the generator's size-dependent parameters for `part`.
    pub(super) fn describe(&self, part: seine_engine::RetrieverKind) -> String {
        use seine_engine::RetrieverKind as R;
        match (part, &self.bm25, &self.dense, &self.tokens) {
            (R::Bm25, Some(b), _, _) => {
                format!("calibrated, bm25 vocabulary {} (Heaps)", b.vocab())
            }
            (R::Dense, _, Some(d), _) => format!("calibrated, {} clusters", d.clusters()),
            (R::Maxsim, _, _, Some(t)) => format!("calibrated, {} token clusters", t.clusters()),
            _ => self.corpus.as_str().to_string(),
        }
    }
}

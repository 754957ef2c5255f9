//! Worker threads that run encoders and index work off the async runtime.
//!
//! Handlers push a [`Job`] onto one queue and await a one-shot reply. A worker that
//! takes an embedding job also takes every other queued embedding job of the same kind
//! and side, up to a token budget, and encodes them as one batch (one forward pass
//! over many requests' texts); other jobs run one at a time.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use seine_engine::settings::EmbedKind;
use seine_engine::{Searcher, Side};
use tokio::sync::oneshot;

/// One text's embedding.
#[derive(Debug, Clone)]
pub enum Embedding {
    Dense(Vec<f32>),
    Sparse(Vec<(String, f32)>),
    /// Token vectors, one row per token.
    Multi(Vec<Vec<f32>>),
}

type Reply<T> = oneshot::Sender<Result<T, seine_engine::Error>>;

struct EmbedJob {
    kind: EmbedKind,
    side: Side,
    texts: Vec<String>,
    reply: Reply<Vec<Embedding>>,
}

enum Job {
    Embed(EmbedJob),
    Task(Box<dyn FnOnce() + Send>),
}

struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

/// The pool; dropping it lets the workers finish the queue and exit.
pub struct Workers {
    queue: Arc<Queue>,
}

/// Texts are not tokenized on the queue: a token is estimated as 4 bytes.
fn est_tokens(texts: &[String]) -> usize {
    texts.iter().map(|t| t.len().div_ceil(4).max(1)).sum()
}

impl Workers {
    /// `threads` workers over the searcher returned by `searcher()` at each job.
    pub fn start(
        threads: usize,
        token_budget: usize,
        searcher: Arc<dyn Fn() -> Arc<Searcher> + Send + Sync>,
    ) -> Self {
        let queue = Arc::new(Queue {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let q = queue.clone();
            let searcher = searcher.clone();
            std::thread::Builder::new()
                .name(format!("seine-worker-{i}"))
                .spawn(move || {
                    // Each worker runs its jobs on a rayon pool of one thread, so the
                    // encoders' ops run serially inside a request: under concurrent load,
                    // requests side by side beat one request's ops split over the cores.
                    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                        Ok(pool) => pool.install(|| worker(&q, token_budget, searcher.as_ref())),
                        Err(_) => worker(&q, token_budget, searcher.as_ref()),
                    }
                })
                .expect("spawn worker thread");
        }
        Workers { queue }
    }

    fn push(&self, job: Job) {
        self.queue.jobs.lock().expect("queue").push_back(job);
        self.queue.ready.notify_one();
    }

    /// Runs `f` on a worker.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.push(Job::Task(Box::new(move || {
            let _ = tx.send(f());
        })));
        rx.await.map_err(|_| "worker stopped".to_string())
    }

    /// Encodes `texts`, batched with other queued requests of the same kind and side.
    pub async fn embed(
        &self,
        kind: EmbedKind,
        side: Side,
        texts: Vec<String>,
    ) -> Result<Result<Vec<Embedding>, seine_engine::Error>, String> {
        let (tx, rx) = oneshot::channel();
        self.push(Job::Embed(EmbedJob {
            kind,
            side,
            texts,
            reply: tx,
        }));
        rx.await.map_err(|_| "worker stopped".to_string())
    }
}

fn worker(q: &Queue, budget: usize, searcher: &(dyn Fn() -> Arc<Searcher> + Send + Sync)) {
    loop {
        let first = {
            let mut jobs = q.jobs.lock().expect("queue");
            loop {
                if let Some(j) = jobs.pop_front() {
                    break j;
                }
                jobs = q.ready.wait(jobs).expect("queue");
            }
        };
        match first {
            Job::Task(f) => f(),
            Job::Embed(job) => {
                // Take compatible queued jobs while they fit in the budget.
                let mut batch = vec![job];
                let mut tokens = est_tokens(&batch[0].texts);
                {
                    let mut jobs = q.jobs.lock().expect("queue");
                    let mut i = 0;
                    while i < jobs.len() {
                        let take = match &jobs[i] {
                            Job::Embed(e) => {
                                e.kind == batch[0].kind
                                    && e.side == batch[0].side
                                    && tokens + est_tokens(&e.texts) <= budget
                            }
                            Job::Task(_) => false,
                        };
                        if take {
                            let Some(Job::Embed(e)) = jobs.remove(i) else {
                                unreachable!()
                            };
                            tokens += est_tokens(&e.texts);
                            batch.push(e);
                        } else {
                            i += 1;
                        }
                    }
                }
                run_batch(&searcher(), batch);
            }
        }
    }
}

fn run_batch(s: &Searcher, batch: Vec<EmbedJob>) {
    let kind = batch[0].kind;
    let side = batch[0].side;
    let texts: Vec<&str> = batch
        .iter()
        .flat_map(|j| j.texts.iter().map(String::as_str))
        .collect();
    match encode(s, kind, side, &texts) {
        Ok(all) => {
            let mut it = all.into_iter();
            for j in batch {
                let part: Vec<Embedding> = it.by_ref().take(j.texts.len()).collect();
                let _ = j.reply.send(Ok(part));
            }
        }
        Err(e) => {
            // One bad request must not fail its neighbours: retry each alone.
            if batch.len() == 1 {
                let j = batch.into_iter().next().expect("one job");
                let _ = j.reply.send(Err(e));
                return;
            }
            for j in batch {
                let refs: Vec<&str> = j.texts.iter().map(String::as_str).collect();
                let _ = j.reply.send(encode(s, kind, side, &refs));
            }
        }
    }
}

/// Encodes texts with the searcher's encoder of `kind`.
pub fn encode(
    s: &Searcher,
    kind: EmbedKind,
    side: Side,
    texts: &[&str],
) -> Result<Vec<Embedding>, seine_engine::Error> {
    use seine_engine::Error;
    if texts.is_empty() {
        return Ok(Vec::new());
    }
    match kind {
        EmbedKind::Dense => {
            let r = s
                .dense()
                .ok_or_else(|| Error::InvalidArgument("this index has no dense encoder".into()))?;
            let e = r.encoder().encode(texts, side)?;
            Ok(e.rows().map(|r| Embedding::Dense(r.to_vec())).collect())
        }
        EmbedKind::Sparse => {
            let r = s.sparse().ok_or_else(|| {
                Error::InvalidArgument("this index has no sparse (SPLADE) encoder".into())
            })?;
            let enc = r.encoder();
            Ok(enc
                .encode(texts, side)?
                .iter()
                .map(|v| Embedding::Sparse(seine_engine::indexer::sparse_terms(enc, v)))
                .collect())
        }
        EmbedKind::Multi => {
            let m = s.multi_encoder().ok_or_else(|| {
                Error::InvalidArgument("this index has no multi-vector (token) encoder".into())
            })?;
            let dim = m.dim();
            Ok(m.encode(texts, side)?
                .into_iter()
                .map(|t| Embedding::Multi(t.chunks(dim).map(<[f32]>::to_vec).collect()))
                .collect())
        }
    }
}

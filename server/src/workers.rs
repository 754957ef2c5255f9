//! Worker threads that run encoders and index work off the async runtime.
//!
//! Handlers push a [`Job`] onto one queue and await a one-shot reply. A worker that
//! takes an embedding job also takes every other queued embedding job of the same kind
//! and side, up to a token budget, and encodes them as one batch (one forward pass
//! over many requests' texts); other jobs run one at a time.
//!
//! A job carries a [`Ticket`]: a handler that gives up (timeout, client gone) cancels
//! it, and a cancelled job is dropped unrun — so a write answered 503 is never applied
//! later. A job that panics is answered as failed; its worker goes on. The pool
//! reports itself stuck when a queued job waited, or every worker has been on one job,
//! longer than a limit ([`Workers::stuck`]).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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

/// A job's state, shared by the handler that queued it and the worker that takes it.
#[derive(Clone, Default)]
pub struct Ticket(Arc<AtomicU8>);

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

impl Ticket {
    /// Cancels the job unless a worker has started it; true when cancelled (then it
    /// never runs).
    pub fn cancel(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || self.0.load(Ordering::Acquire) == CANCELLED
    }

    /// Claims the job for a worker; false when it was cancelled.
    fn start(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

struct EmbedJob {
    kind: EmbedKind,
    side: Side,
    texts: Vec<String>,
    reply: Reply<Vec<Embedding>>,
    ticket: Ticket,
}

enum Job {
    Embed(EmbedJob),
    Task(Box<dyn FnOnce() + Send>, Ticket),
}

struct Queue {
    /// Jobs with the time they were queued.
    jobs: Mutex<VecDeque<(Job, Instant)>>,
    ready: Condvar,
    /// Per worker: since when it runs its current job.
    busy: Vec<Mutex<Option<Instant>>>,
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
            busy: (0..threads.max(1)).map(|_| Mutex::new(None)).collect(),
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
                        Ok(pool) => pool.install(|| worker(&q, i, token_budget, searcher.as_ref())),
                        Err(_) => worker(&q, i, token_budget, searcher.as_ref()),
                    }
                })
                .expect("spawn worker thread");
        }
        Workers { queue }
    }

    fn push(&self, job: Job) {
        self.queue
            .jobs
            .lock()
            .expect("queue")
            .push_back((job, Instant::now()));
        self.queue.ready.notify_one();
    }

    /// Queues `f` for a worker; `ticket` cancels it while it waits. The reply is an
    /// error when the job was cancelled or panicked.
    pub fn submit<T: Send + 'static>(
        &self,
        ticket: Ticket,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        self.push(Job::Task(
            Box::new(move || {
                let _ = tx.send(f());
            }),
            ticket,
        ));
        rx
    }

    /// Runs `f` on a worker and waits for it (not cancellable).
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        self.submit(Ticket::default(), f)
            .await
            .map_err(|_| "the job failed on its worker (see the server log)".to_string())
    }

    /// Encodes `texts`, batched with other queued requests of the same kind and side;
    /// `ticket` cancels it while it waits.
    pub fn embed(
        &self,
        ticket: Ticket,
        kind: EmbedKind,
        side: Side,
        texts: Vec<String>,
    ) -> oneshot::Receiver<Result<Vec<Embedding>, seine_engine::Error>> {
        let (tx, rx) = oneshot::channel();
        self.push(Job::Embed(EmbedJob {
            kind,
            side,
            texts,
            reply: tx,
            ticket,
        }));
        rx
    }

    /// Why the pool cannot take work now, if it cannot: a queued job has waited longer
    /// than `limit`, or every worker has been on its current job longer than `limit`.
    pub fn stuck(&self, limit: Duration) -> Option<String> {
        let now = Instant::now();
        if let Some((_, t)) = self.queue.jobs.lock().expect("queue").front() {
            let waited = now - *t;
            if waited > limit {
                return Some(format!(
                    "the oldest queued job has waited {:.1} s",
                    waited.as_secs_f64()
                ));
            }
        }
        let ages: Vec<Option<Duration>> = self
            .queue
            .busy
            .iter()
            .map(|b| b.lock().expect("busy").map(|t| now - t))
            .collect();
        if ages.iter().all(|a| a.is_some_and(|a| a > limit)) {
            let least = ages.iter().flatten().min().copied().unwrap_or_default();
            return Some(format!(
                "every worker has been on one job for over {:.1} s",
                least.as_secs_f64()
            ));
        }
        None
    }
}

fn worker(
    q: &Queue,
    me: usize,
    budget: usize,
    searcher: &(dyn Fn() -> Arc<Searcher> + Send + Sync),
) {
    loop {
        let first = {
            let mut jobs = q.jobs.lock().expect("queue");
            loop {
                if let Some((j, _)) = jobs.pop_front() {
                    break j;
                }
                jobs = q.ready.wait(jobs).expect("queue");
            }
        };
        *q.busy[me].lock().expect("busy") = Some(Instant::now());
        // A panicking job must not take its worker down: its reply is dropped (the
        // handler answers 500) and the worker takes the next job.
        let r = catch_unwind(AssertUnwindSafe(|| run_job(q, first, budget, searcher)));
        if r.is_err() {
            eprintln!("seine-worker-{me}: a job panicked; its request was answered 500");
        }
        *q.busy[me].lock().expect("busy") = None;
    }
}

fn run_job(
    q: &Queue,
    first: Job,
    budget: usize,
    searcher: &(dyn Fn() -> Arc<Searcher> + Send + Sync),
) {
    {
        match first {
            Job::Task(f, ticket) => {
                if ticket.start() {
                    f()
                }
            }
            Job::Embed(job) => {
                if !job.ticket.start() {
                    return;
                }
                // Take compatible queued jobs while they fit in the budget.
                let mut batch = vec![job];
                let mut tokens = est_tokens(&batch[0].texts);
                {
                    let mut jobs = q.jobs.lock().expect("queue");
                    let mut i = 0;
                    while i < jobs.len() {
                        let take = match &jobs[i].0 {
                            Job::Embed(e) => {
                                e.kind == batch[0].kind
                                    && e.side == batch[0].side
                                    && tokens + est_tokens(&e.texts) <= budget
                            }
                            Job::Task(..) => false,
                        };
                        if take {
                            let Some((Job::Embed(e), _)) = jobs.remove(i) else {
                                unreachable!()
                            };
                            if !e.ticket.start() {
                                continue; // cancelled while queued: dropped unrun
                            }
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
                .map(|v| Embedding::Sparse(enc.named_terms(v)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> Workers {
        // Task jobs never ask for the searcher.
        Workers::start(
            threads,
            100,
            Arc::new(|| panic!("no searcher in these tests")),
        )
    }

    /// Regression: a job whose handler gave up (answered 503) still ran later — a
    /// write answered 503 was applied afterwards.
    #[test]
    fn a_cancelled_job_never_runs() {
        let w = pool(1);
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let busy = w.submit(Ticket::default(), move || {
            let _ = hold_rx.recv();
        });
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        let ticket = Ticket::default();
        let rx = w.submit(ticket.clone(), move || r.store(true, Ordering::SeqCst));
        assert!(ticket.cancel());
        hold_tx.send(()).unwrap();
        busy.blocking_recv().unwrap();
        assert!(rx.blocking_recv().is_err(), "cancelled: no reply");
        // The pool is idle again and the cancelled job did not run.
        let after = w.submit(Ticket::default(), || 7);
        assert_eq!(after.blocking_recv().unwrap(), 7);
        assert!(!ran.load(Ordering::SeqCst));
        // A started job cannot be cancelled.
        let t = Ticket::default();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let rx = w.submit(t.clone(), move || {
            started_tx.send(()).unwrap();
            let _ = go_rx.recv();
            1
        });
        started_rx.recv().unwrap();
        assert!(!t.cancel());
        go_tx.send(()).unwrap();
        assert_eq!(rx.blocking_recv().unwrap(), 1);
    }

    /// Regression: a panicking job killed its worker thread for good (with one worker,
    /// the server then answered nothing).
    #[test]
    fn a_panicking_job_fails_alone_and_the_worker_goes_on() {
        let w = pool(1);
        let rx = w.submit(Ticket::default(), || -> u32 { panic!("boom") });
        assert!(rx.blocking_recv().is_err());
        for i in 0..3 {
            assert_eq!(
                w.submit(Ticket::default(), move || i)
                    .blocking_recv()
                    .unwrap(),
                i
            );
        }
    }

    #[test]
    fn a_stuck_pool_says_so() {
        let w = pool(1);
        assert_eq!(w.stuck(Duration::from_millis(50)), None);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let done = w.submit(Ticket::default(), move || {
            let _ = rx.recv();
        });
        std::thread::sleep(Duration::from_millis(120));
        let why = w.stuck(Duration::from_millis(50)).expect("stuck");
        assert!(why.contains("every worker"), "{why}");
        let queued = w.submit(Ticket::default(), || ());
        std::thread::sleep(Duration::from_millis(120));
        let why = w.stuck(Duration::from_millis(50)).expect("stuck");
        assert!(why.contains("queued job has waited"), "{why}");
        tx.send(()).unwrap();
        done.blocking_recv().unwrap();
        queued.blocking_recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(w.stuck(Duration::from_millis(50)), None);
    }
}

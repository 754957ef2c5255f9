//! The training loop: seeded batches, forward/backward on candle, AdamW updates,
//! checkpoints (`--resume` continues bit for bit), dev evaluations, the log and curves.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bail;
use crate::error::{Context, Result};
use candle_core::Tensor;

use crate::config::{Objective, TrainConfig};
use crate::curves::{Row, write_csv, write_png};
use crate::data::{Data, Example};
use crate::loss::contrastive;
use crate::mine::MineStats;
use crate::model::{Input, TrainModel};
use crate::optim::AdamW;
use crate::output::write_model;
use crate::rng::Rng;
use crate::setup::{build_model, colbert_layout, load_data, tokenize_all};

/// What a run reports as it goes. Returning `false` from the callback on a `Step`
/// stops the run at once, as a kill would (tests use it).
pub enum Event<'a> {
    Stage(&'a str),
    Mining {
        done: usize,
        total: usize,
    },
    Mined(&'a MineStats),
    Start {
        steps: usize,
        examples: usize,
        dev: usize,
        resumed_at: usize,
    },
    Step(&'a Row, usize),
    Eval {
        step: usize,
        ndcg10: f64,
        seconds: f64,
    },
    Checkpoint(&'a Path),
}

/// The outcome of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub model: PathBuf,
    pub steps: usize,
    pub seconds: f64,
    pub examples_per_s: f64,
    /// (step, dev nDCG@10) of the model written to `model`.
    pub best_dev: Option<(usize, f64)>,
    pub mined: Option<MineStats>,
    pub stopped: bool,
}

struct Plan {
    n: usize,
    per_epoch: usize,
    micro_total: usize,
    updates: usize,
}

impl Plan {
    fn new(cfg: &TrainConfig, n: usize) -> Self {
        let per_epoch = n.div_ceil(cfg.batch_size);
        let micro_total = if cfg.max_steps > 0 {
            cfg.max_steps * cfg.grad_accum
        } else {
            cfg.epochs * per_epoch
        };
        Plan {
            n,
            per_epoch,
            micro_total,
            updates: micro_total.div_ceil(cfg.grad_accum),
        }
    }

    /// The examples of micro-batch `m`: a seeded permutation per epoch.
    fn batch(&self, cfg: &TrainConfig, m: usize) -> (usize, Vec<usize>) {
        let epoch = m / self.per_epoch;
        let b = m % self.per_epoch;
        let mut perm: Vec<usize> = (0..self.n).collect();
        Rng::keyed(cfg.seed, &[b"epoch", &epoch.to_le_bytes()]).shuffle(&mut perm);
        let end = ((b + 1) * cfg.batch_size).min(self.n);
        (epoch, perm[b * cfg.batch_size..end].to_vec())
    }
}

/// The documents of one batch: each query's positive and hard negatives, one column
/// per distinct document, and per row its target and the columns judged relevant.
fn columns(
    cfg: &TrainConfig,
    epoch: usize,
    batch: &[&Example],
    judged: &HashMap<String, HashSet<String>>,
) -> (Vec<String>, Vec<usize>, Vec<Vec<usize>>) {
    let mut cols: Vec<String> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut col = |d: &String, cols: &mut Vec<String>| -> usize {
        *at.entry(d.clone()).or_insert_with(|| {
            cols.push(d.clone());
            cols.len() - 1
        })
    };
    let mut targets = Vec::with_capacity(batch.len());
    for ex in batch {
        let mut rng = Rng::keyed(
            cfg.seed,
            &[b"pick", &epoch.to_le_bytes(), ex.qid.as_bytes()],
        );
        let pos = &ex.positives[rng.below(ex.positives.len())];
        targets.push(col(pos, &mut cols));
        for n in rng.choose(&ex.negatives, cfg.negatives.per_example) {
            col(&n, &mut cols);
        }
    }
    let excluded = batch
        .iter()
        .map(|ex| {
            let rel = judged.get(&ex.qid);
            cols.iter()
                .enumerate()
                .filter(|(_, d)| rel.is_some_and(|r| r.contains(*d)))
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    (cols, targets, excluded)
}

/// The latest complete checkpoint under `<out>/checkpoints`.
pub fn latest_checkpoint(out: &Path) -> Option<(usize, PathBuf)> {
    let dir = out.join("checkpoints");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| {
            let step = e
                .file_name()
                .to_str()?
                .strip_prefix("step-")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .max_by_key(|(s, _)| *s)
}

struct Run<'a> {
    cfg: &'a TrainConfig,
    model: TrainModel,
    opt: AdamW,
    data: Data,
    queries: HashMap<String, Input>,
    docs: HashMap<String, Input>,
    rows: Vec<Row>,
    best: Option<(usize, f64)>,
    dev_docs: Vec<(String, String)>,
    dev_candidates: HashMap<String, Vec<String>>,
}

/// Trains as `cfg` says; with `resume`, continues from the latest checkpoint in
/// `cfg.out` (same configuration required).
pub fn train(cfg: &TrainConfig, resume: bool, on: &mut dyn FnMut(Event) -> bool) -> Result<Report> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.out).with_context(|| format!("{}", cfg.out.display()))?;
    let cfg_text = cfg.to_toml()?;
    let cfg_path = cfg.out.join("train_config.toml");
    let ckpt = if resume {
        latest_checkpoint(&cfg.out)
    } else {
        None
    };
    if resume && ckpt.is_none() {
        bail!(
            "--resume: no checkpoint under {}/checkpoints",
            cfg.out.display()
        );
    }
    if ckpt.is_some() && std::fs::read_to_string(&cfg_path).ok().as_deref() != Some(&cfg_text) {
        bail!(
            "--resume: {} differs from this run's settings; resume with the same settings",
            cfg_path.display()
        );
    }
    if ckpt.is_none() && cfg.out.join("checkpoints").exists() {
        bail!(
            "{} already holds a run; use --resume to continue it or another --out",
            cfg.out.display()
        );
    }
    std::fs::write(&cfg_path, &cfg_text)?;
    on(Event::Stage("loading data"));
    let (data, mined) = load_data(cfg, &mut |done, total| {
        on(Event::Mining { done, total });
    })?;
    if let Some(m) = &mined {
        on(Event::Mined(m));
    }
    let weights_dir = ckpt.as_ref().map_or(cfg.model.clone(), |(_, p)| p.clone());
    let (model, tok) = build_model(cfg, &weights_dir)?;
    on(Event::Stage("tokenizing"));
    let (queries, docs) = tokenize_all(&data, &tok)?;
    drop(tok);
    let mut opt = AdamW::new(cfg.optim, model.trained())?;
    let mut rows = Vec::new();
    let mut best = None;
    if let Some((_, p)) = &ckpt {
        opt.load(&p.join("optimizer.safetensors"))?;
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join("state.json"))?)?;
        rows = crate::curves::parse_rows(state["log"].as_str().unwrap_or_default());
        best = serde_json::from_value(state["best"].clone()).unwrap_or(None);
    }
    let mut run = Run {
        cfg,
        model,
        opt,
        dev_docs: sorted_docs(&data),
        dev_candidates: HashMap::new(),
        data,
        queries,
        docs,
        rows,
        best,
    };
    if cfg.objective == Objective::Colbert && !run.data.dev.is_empty() {
        run.dev_candidates = crate::mine::candidates(cfg, &run.data.dev)?;
    }
    run.go(on, mined)
}

fn sorted_docs(data: &Data) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = data
        .docs
        .iter()
        .map(|(k, t)| (k.clone(), t.clone()))
        .collect();
    v.sort();
    v
}

impl Run<'_> {
    fn go(mut self, on: &mut dyn FnMut(Event) -> bool, mined: Option<MineStats>) -> Result<Report> {
        let cfg = self.cfg;
        let plan = Plan::new(cfg, self.data.train.len());
        let start_update = self.opt.step;
        on(Event::Start {
            steps: plan.updates,
            examples: plan.n,
            dev: self.data.dev.len(),
            resumed_at: start_update,
        });
        let t0 = Instant::now();
        let mut grads: HashMap<String, Tensor> = HashMap::new();
        let mut part = Row::default();
        let mut examples = 0usize;
        let mut tick = Instant::now();
        for m in start_update * cfg.grad_accum..plan.micro_total {
            let (epoch, idx) = plan.batch(cfg, m);
            let r = self.micro_step(epoch, &idx, &mut grads)?;
            part.loss += r.loss;
            part.nce += r.nce;
            part.ccr += r.ccr;
            part.accuracy += r.accuracy;
            examples += idx.len();
            let last = m + 1 == plan.micro_total;
            if !(m + 1).is_multiple_of(cfg.grad_accum) && !last {
                continue;
            }
            let k = (m % cfg.grad_accum + 1) as f64;
            let step = self.opt.step + 1;
            let factor = cfg.optim.schedule(step, plan.updates);
            let norm = self.opt.update(&grads, k as usize, factor)?;
            grads.clear();
            let row = Row {
                step,
                epoch: epoch + 1,
                loss: part.loss / k,
                nce: part.nce / k,
                ccr: part.ccr / k,
                accuracy: part.accuracy / k,
                lr: factor * cfg.optim.lr,
                grad_norm: norm,
                examples_per_s: examples as f64 / tick.elapsed().as_secs_f64(),
                dev_ndcg10: None,
            };
            (part, examples, tick) = (Row::default(), 0, Instant::now());
            self.rows.push(row.clone());
            if !on(Event::Step(&row, plan.updates)) {
                return Ok(self.report(t0, start_update, mined, true));
            }
            let epoch_end = (m + 1).is_multiple_of(plan.per_epoch) || last;
            if (cfg.eval_every > 0 && step.is_multiple_of(cfg.eval_every)) || epoch_end {
                self.evaluate(step, epoch + 1, on)?;
            }
            if (cfg.checkpoint_every > 0 && step.is_multiple_of(cfg.checkpoint_every)) || epoch_end
            {
                let p = self.checkpoint(step)?;
                on(Event::Checkpoint(&p));
            }
        }
        self.finish()?;
        Ok(self.report(t0, start_update, mined, false))
    }

    fn micro_step(
        &self,
        epoch: usize,
        idx: &[usize],
        grads: &mut HashMap<String, Tensor>,
    ) -> Result<crate::curves::Row> {
        let batch: Vec<&Example> = idx.iter().map(|&i| &self.data.train[i]).collect();
        let (cols, targets, excluded) = columns(self.cfg, epoch, &batch, &self.data.judged);
        let q: Vec<&Input> = batch.iter().map(|e| &self.queries[&e.qid]).collect();
        let d: Vec<&Input> = cols.iter().map(|c| &self.docs[c]).collect();
        let qe = self.model.encode(&q)?;
        let de = self.model.encode(&d)?;
        let scores = self.model.scores(&qe, &de)?;
        let out = contrastive(&scores, &targets, &excluded, &self.cfg.loss)?;
        let g = out.loss.backward()?;
        for (name, var, _) in self.model.trained() {
            if let Some(t) = g.get(var.as_tensor()) {
                let sum = match grads.remove(&name) {
                    Some(prev) => (prev + t)?,
                    None => t.clone(),
                };
                grads.insert(name, sum);
            }
        }
        Ok(Row {
            loss: out
                .loss
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?,
            nce: out.nce,
            ccr: out.ccr,
            accuracy: out.accuracy,
            ..Default::default()
        })
    }

    /// Writes the current weights as a model folder at `dest`.
    fn write(&self, dest: &Path) -> Result<()> {
        let (weights, head) = self.model.snapshot();
        let layout = colbert_layout(self.cfg, self.model.bert.hidden());
        write_model(
            dest,
            &self.cfg.model,
            &weights,
            head.as_ref().map(|h| (h, &layout)),
            &[],
        )
    }

    fn evaluate(
        &mut self,
        step: usize,
        epoch: usize,
        on: &mut dyn FnMut(Event) -> bool,
    ) -> Result<()> {
        if self.data.dev.is_empty() {
            return Ok(());
        }
        on(Event::Stage("dev evaluation"));
        let t = Instant::now();
        let dir = self.cfg.out.join("dev-model");
        self.write(&dir)?;
        let d = &self.data;
        let ndcg = match self.cfg.objective {
            Objective::Dense => crate::dev::dense(&dir, &d.dev, &self.dev_docs, &d.judged)?,
            Objective::Colbert => {
                crate::dev::colbert(&dir, &d.dev, &self.dev_candidates, &d.docs, &d.judged)?
            }
        };
        on(Event::Eval {
            step,
            ndcg10: ndcg,
            seconds: t.elapsed().as_secs_f64(),
        });
        let mut row = self.rows.last().cloned().unwrap_or_default();
        (row.step, row.epoch, row.dev_ndcg10) = (step, epoch, Some(ndcg));
        self.rows.push(row);
        if self.best.is_none_or(|(_, b)| ndcg > b) {
            self.best = Some((step, ndcg));
            let best = self.cfg.out.join("model");
            if best.exists() {
                std::fs::remove_dir_all(&best)?;
            }
            std::fs::rename(&dir, &best)?;
        }
        self.write_log()
    }

    fn write_log(&self) -> Result<()> {
        write_csv(&self.cfg.out.join("train_log.csv"), &self.rows)?;
        write_png(&self.cfg.out.join("curves.png"), &self.rows)
    }

    fn checkpoint(&self, step: usize) -> Result<PathBuf> {
        let dir = self
            .cfg
            .out
            .join("checkpoints")
            .join(format!("step-{step:06}"));
        std::fs::create_dir_all(dir.parent().expect("has a parent"))?;
        self.write(&dir)?;
        self.opt.save(&dir.join("optimizer.safetensors"))?;
        let log: Vec<String> = self.rows.iter().map(Row::csv).collect();
        let state = serde_json::json!({"step": step, "best": self.best, "log": log.join("\n")});
        std::fs::write(dir.join("state.json"), serde_json::to_vec_pretty(&state)?)?;
        self.write_log()?;
        Ok(dir)
    }

    /// Without a dev split the final weights are the model.
    fn finish(&self) -> Result<()> {
        if self.best.is_none() {
            self.write(&self.cfg.out.join("model"))?;
        }
        self.write_log()
    }

    fn report(&self, t0: Instant, start: usize, mined: Option<MineStats>, stopped: bool) -> Report {
        let secs = t0.elapsed().as_secs_f64();
        let ex = (self.opt.step - start) * self.cfg.batch_size * self.cfg.grad_accum;
        Report {
            model: self.cfg.out.join("model"),
            steps: self.opt.step,
            seconds: secs,
            examples_per_s: ex as f64 / secs.max(1e-9),
            best_dev: self.best,
            mined,
            stopped,
        }
    }
}

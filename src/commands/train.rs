//! `seine train`: flags and a config file parse into one `TrainConfig`; progress on
//! stderr (a bar on a terminal, a line every few seconds in a log).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use seine_engine::model::{DeviceSpec, resolve_model};
use seine_train::{Event, Objective, TrainConfig};

#[derive(clap::Args)]
pub struct Args {
    /// A TOML file with the run's settings (flags given here override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The model to start from: a folder or a name under models/.
    #[arg(long)]
    model: Option<String>,
    /// Output folder: `model/` (the best dev checkpoint), `checkpoints/`,
    /// `train_log.csv`, `curves.png`, `train_config.toml`, `negatives.jsonl`.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// What trains: `dense` (the bi-encoder) or `colbert` (a projection head, PyLate layout).
    #[arg(long)]
    objective: Option<Objective>,
    /// Training data: a BEIR folder (its --split qrels) ...
    #[arg(long, conflicts_with = "pairs")]
    beir: Option<PathBuf>,
    /// The BEIR split to train on (train by default).
    #[arg(long)]
    split: Option<String>,
    /// ... or a JSONL or Parquet of {"query", "positive", "negatives"}.
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Fraction of training queries held out for dev evaluation (model selection).
    #[arg(long)]
    dev_fraction: Option<f64>,
    /// Mine hard negatives from this seine index of the training corpus.
    #[arg(long)]
    mine_index: Option<PathBuf>,
    /// Retrievers of the mining search (`bm25`, `dense`, `bm25+dense`, ...).
    #[arg(long)]
    mine_retriever: Option<String>,
    /// Ranks `A..B` (0-based, end excluded) of the mining search that become negatives.
    #[arg(long)]
    neg_ranks: Option<String>,
    /// Hard negatives per example in each batch.
    #[arg(long)]
    negatives_per_example: Option<usize>,
    /// Drop mined negatives that look like false negatives (the sieve of arXiv 2401.00165).
    #[arg(long)]
    filter_negatives: bool,
    /// The sieve's margin (0 = the paper's rule: above the candidate list's mean).
    #[arg(long)]
    filter_margin: Option<f64>,
    /// Weight of the contrastive confidence regularizer (0 = off).
    #[arg(long)]
    ccr_weight: Option<f64>,
    /// Softmax temperature.
    #[arg(long)]
    temperature: Option<f64>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Stop after this many updates.
    #[arg(long)]
    max_steps: Option<usize>,
    #[arg(long)]
    lr: Option<f64>,
    /// Learning rate of a new head (the ColBERT projection).
    #[arg(long)]
    head_lr: Option<f64>,
    /// Fraction of the updates spent warming up.
    #[arg(long)]
    warmup: Option<f64>,
    /// Train the top N encoder layers only (0 = all, embeddings included).
    #[arg(long)]
    trainable_layers: Option<usize>,
    #[arg(long)]
    colbert_dim: Option<usize>,
    #[arg(long)]
    max_query_len: Option<usize>,
    #[arg(long)]
    max_doc_len: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    /// Write a checkpoint every N updates (always at epoch ends).
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Evaluate on the dev split every N updates (always at epoch ends).
    #[arg(long)]
    eval_every: Option<usize>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    resume: bool,
    /// Print the settings this command would train with (defaults filled in, as TOML
    /// for --config) and exit.
    #[arg(long)]
    print_config: bool,
    /// Training runs on the CPU (candle autograd).
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// The configuration: the file, then the flags.
fn config(a: Args) -> anyhow::Result<(TrainConfig, bool, bool)> {
    let mut c = match &a.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
    };
    if let Some(m) = &a.model {
        c.model = resolve_model(m)?;
    }
    set(&mut c.out, a.out);
    set(&mut c.objective, a.objective);
    if a.beir.is_some() || a.pairs.is_some() {
        c.data.beir = a.beir;
        c.data.pairs = a.pairs;
    }
    set(&mut c.data.split, a.split);
    set(&mut c.data.dev_fraction, a.dev_fraction);
    let n = &mut c.negatives;
    if a.mine_index.is_some() {
        n.index = a.mine_index;
    }
    set(&mut n.retriever, a.mine_retriever);
    if let Some(r) = &a.neg_ranks {
        let Some((from, to)) = r.split_once("..") else {
            bail!("--neg-ranks {r:?}: expected A..B, e.g. 3..30");
        };
        (n.from, n.to) = (from.trim().parse()?, to.trim().parse()?);
    }
    set(&mut n.per_example, a.negatives_per_example);
    n.filter |= a.filter_negatives;
    set(&mut n.filter_margin, a.filter_margin);
    set(&mut c.loss.ccr_weight, a.ccr_weight);
    set(&mut c.loss.temperature, a.temperature);
    set(&mut c.epochs, a.epochs);
    set(&mut c.batch_size, a.batch_size);
    set(&mut c.grad_accum, a.grad_accum);
    set(&mut c.max_steps, a.max_steps);
    set(&mut c.optim.lr, a.lr);
    set(&mut c.optim.head_lr, a.head_lr);
    set(&mut c.optim.warmup, a.warmup);
    set(&mut c.trainable_layers, a.trainable_layers);
    set(&mut c.colbert_dim, a.colbert_dim);
    set(&mut c.max_query_len, a.max_query_len);
    set(&mut c.max_doc_len, a.max_doc_len);
    set(&mut c.seed, a.seed);
    set(&mut c.checkpoint_every, a.checkpoint_every);
    set(&mut c.eval_every, a.eval_every);
    if a.device != DeviceSpec::Cpu {
        bail!("training runs on the CPU in this build (--device cpu)");
    }
    Ok((c, a.resume, a.print_config))
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let (cfg, resume, print) = config(a)?;
    if print {
        print!("{}", cfg.to_toml()?);
        return Ok(());
    }
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(0);
    if tty {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "train [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ETA {eta}",
            )
            .expect("template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // On a terminal lines go above the bar; in a log straight to stderr.
    let say = |msg: String| {
        if tty {
            bar.println(msg)
        } else {
            eprintln!("{msg}")
        }
    };
    let mut last_line = Instant::now();
    let t0 = Instant::now();
    let report = seine_train::train(&cfg, resume, &mut |e| {
        match e {
            Event::Stage(s) => say(format!("{s}…")),
            Event::Mining { done, total } => {
                if done == total || last_line.elapsed().as_secs() >= 5 {
                    say(format!("mining negatives: {done}/{total} queries"));
                    last_line = Instant::now();
                }
            }
            Event::Mined(m) => say(format!(
                "mined {} negatives for {} queries ({} judged skipped, {} sieved; sieve scores: {})",
                m.negatives, m.queries, m.judged_skipped, m.sieved, m.sieve_scores
            )),
            Event::Start {
                steps,
                examples,
                dev,
                resumed_at,
            } => {
                bar.set_length(steps as u64);
                bar.set_position(resumed_at as u64);
                say(format!(
                    "{examples} training queries, {dev} dev queries, {steps} updates{}",
                    if resumed_at > 0 {
                        format!(", resuming at {resumed_at}")
                    } else {
                        String::new()
                    }
                ));
            }
            Event::Step(r, total) => {
                bar.set_position(r.step as u64);
                bar.set_message(format!(
                    "loss {:.4} acc {:.2} {:.1} ex/s",
                    r.loss, r.accuracy, r.examples_per_s
                ));
                if !tty && (last_line.elapsed().as_secs() >= 5 || r.step == total) {
                    let el = t0.elapsed().as_secs_f64();
                    let eta = el / r.step as f64 * (total - r.step) as f64;
                    eprintln!(
                        "step {}/{total} epoch {} loss {:.4} nce {:.4} acc {:.2} lr {:.2e} {:.2} ex/s elapsed {el:.0}s eta {eta:.0}s",
                        r.step, r.epoch, r.loss, r.nce, r.accuracy, r.lr, r.examples_per_s
                    );
                    last_line = Instant::now();
                }
            }
            Event::Eval {
                step,
                ndcg10,
                seconds,
            } => say(format!(
                "step {step}: dev nDCG@10 {ndcg10:.4} ({seconds:.0} s)"
            )),
            Event::Checkpoint(p) => say(format!("checkpoint {}", p.display())),
        }
        true
    })?;
    bar.finish_and_clear();
    println!(
        "trained {} updates in {:.0} s ({:.2} examples/s); model: {}",
        report.steps,
        report.seconds,
        report.examples_per_s,
        report.model.display()
    );
    if let Some((step, v)) = report.best_dev {
        println!("best dev nDCG@10 {v:.4} at step {step}");
    }
    Ok(())
}

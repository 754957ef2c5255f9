//! Before the first step: the data, mined negatives, the model with its head, and
//! every text tokenized once exactly as the engine's encoder tokenizes it.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use seine_engine::model::{Backend, ModelDir, TextTokenizer};
use seine_engine::{ColbertEncoder, Side};

use crate::bert::{TrainBert, Trainable};
use crate::config::{Objective, TrainConfig};
use crate::data::Data;
use crate::mine::{MineStats, mine};
use crate::model::{Head, Input, TrainModel};
use crate::output::{ColbertLayout, write_model};
use crate::rng::Rng;

/// Turns texts into model inputs (the engine's tokenization for the objective).
pub enum Tokenize {
    Dense {
        query: Box<TextTokenizer>,
        doc: Box<TextTokenizer>,
    },
    Colbert(Box<ColbertEncoder>),
}

impl Tokenize {
    pub fn input(&self, text: &str, side: Side) -> Result<Input> {
        Ok(match self {
            Tokenize::Dense { query, doc } => {
                let tok = if side == Side::Query { query } else { doc };
                Input::plain(tok.encode(&[text])?.remove(0).get_ids().to_vec())
            }
            Tokenize::Colbert(enc) => {
                let (ids, mask, keep) = enc.inputs(text, side)?;
                Input { ids, mask, keep }
            }
        })
    }
}

pub fn trainable(cfg: &TrainConfig) -> Trainable {
    if cfg.trainable_layers == 0 {
        Trainable::All
    } else {
        Trainable::Top(cfg.trainable_layers)
    }
}

/// The ColBERT layout a run writes.
pub fn colbert_layout(cfg: &TrainConfig, hidden: usize) -> ColbertLayout {
    ColbertLayout {
        dim: cfg.colbert_dim,
        hidden,
        query_length: cfg.max_query_len,
        document_length: cfg.max_doc_len,
    }
}

/// A seeded projection `[dim, hidden]`, N(0, 1/hidden).
pub fn init_projection(cfg: &TrainConfig, hidden: usize, dtype: DType) -> Result<Tensor> {
    let mut rng = Rng::keyed(cfg.seed, &[b"colbert-projection"]);
    let std = 1.0 / (hidden as f64).sqrt();
    let w: Vec<f64> = (0..cfg.colbert_dim * hidden)
        .map(|_| rng.normal(std))
        .collect();
    Ok(Tensor::from_vec(w, (cfg.colbert_dim, hidden), &Device::Cpu)?.to_dtype(dtype)?)
}

/// The model to train: from `weights_dir` (the base, or a checkpoint when resuming).
/// A ColBERT run without a head yet gets the seeded initial projection, written
/// with the base as `<out>/init` (the folder its tokenization is read from).
pub fn build_model(cfg: &TrainConfig, weights_dir: &Path) -> Result<(TrainModel, Tokenize)> {
    let dir = ModelDir::open(&cfg.model)?;
    match cfg.objective {
        Objective::Dense => {
            let bert = TrainBert::load(weights_dir, DType::F32, trainable(cfg))?;
            let max = dir.max_length;
            let query = TextTokenizer::load(&dir.tokenizer, cfg.max_query_len.min(max))?;
            let doc = TextTokenizer::load(&dir.tokenizer, cfg.max_doc_len.min(max))?;
            let pad = doc.pad_id();
            let cls = dir.pooling == Some(seine_engine::model::Pooling::Cls);
            let model = TrainModel::new(
                bert,
                Head::Dense {
                    cls,
                    normalize: dir.normalize,
                },
                pad,
            );
            Ok((
                model,
                Tokenize::Dense {
                    query: Box::new(query),
                    doc: Box::new(doc),
                },
            ))
        }
        Objective::Colbert => {
            let bert = TrainBert::load(weights_dir, DType::F32, trainable(cfg))?;
            let hidden = bert.hidden();
            let layout = colbert_layout(cfg, hidden);
            let head_file = weights_dir.join("1_Dense/model.safetensors");
            let w = if head_file.is_file() {
                let t = candle_core::safetensors::load(&head_file, &Device::Cpu)?;
                t.get("linear.weight")
                    .cloned()
                    .with_context(|| format!("{}: no linear.weight", head_file.display()))?
            } else {
                init_projection(cfg, hidden, DType::F32)?
            };
            let init = cfg.out.join("init");
            if !init.join("modules.json").is_file() {
                write_model(
                    &init,
                    &cfg.model,
                    &bert.snapshot(),
                    Some((&w, &layout)),
                    &[],
                )?;
            }
            let enc =
                ColbertEncoder::load_with(&ModelDir::open(&init)?, &Device::Cpu, Backend::Native)?;
            let pad = 0;
            let head = Head::Colbert {
                projection: Var::from_tensor(&w)?,
            };
            Ok((
                TrainModel::new(bert, head, pad),
                Tokenize::Colbert(Box::new(enc)),
            ))
        }
    }
}

/// Loads the data and mines negatives (cached in `<out>/negatives.jsonl`, so a
/// resumed run trains on exactly the same ones).
pub fn load_data(
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Data, Option<MineStats>)> {
    let mut data = Data::load(&cfg.data, cfg.seed)?;
    let Some(index) = &cfg.negatives.index else {
        return Ok((data, None));
    };
    let cache = cfg.out.join("negatives.jsonl");
    let stats_path = cfg.out.join("negatives.stats.json");
    if cache.is_file() && stats_path.is_file() {
        let text = std::fs::read_to_string(&cache)?;
        let mut by_q: HashMap<String, Vec<String>> = HashMap::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let negs = v["negatives"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            by_q.insert(v["qid"].as_str().unwrap_or_default().to_string(), negs);
        }
        for ex in &mut data.train {
            ex.negatives = by_q.remove(&ex.qid).unwrap_or_default();
        }
        let stats: MineStats = serde_json::from_slice(&std::fs::read(&stats_path)?)
            .with_context(|| format!("{}", stats_path.display()))?;
        return Ok((data, Some(stats)));
    }
    let stats = mine(
        &mut data.train,
        &data.judged,
        &data.docs,
        index,
        &cfg.negatives,
        progress,
    )?;
    let tmp = cache.with_extension("jsonl.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    for ex in &data.train {
        writeln!(
            f,
            "{}",
            serde_json::json!({"qid": ex.qid, "negatives": ex.negatives})
        )?;
    }
    f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, &cache)?;
    std::fs::write(&stats_path, serde_json::to_vec_pretty(&stats)?)?;
    Ok((data, Some(stats)))
}

/// Every text a run needs, tokenized once.
pub fn tokenize_all(
    data: &Data,
    tok: &Tokenize,
) -> Result<(HashMap<String, Input>, HashMap<String, Input>)> {
    let mut queries = HashMap::new();
    let mut docs = HashMap::new();
    for ex in &data.train {
        queries.insert(ex.qid.clone(), tok.input(&ex.query, Side::Query)?);
        for d in ex.positives.iter().chain(&ex.negatives) {
            if !docs.contains_key(d) {
                let text = data
                    .docs
                    .get(d)
                    .with_context(|| format!("document {d} is not in the corpus"))?;
                docs.insert(d.clone(), tok.input(text, Side::Document)?);
            }
        }
    }
    Ok((queries, docs))
}

//! Training against oracles: gradients against central finite differences (f64, a tiny
//! random BERT, both heads, the confidence regularizer on); the candle encoder against
//! the engine's native MiniLM; a killed and resumed run against an uninterrupted one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use seine_train::bert::{TrainBert, Trainable};
use seine_train::loss::{LossConfig, contrastive};
use seine_train::model::{Head, Input, TrainModel};
use seine_train::{Event, TrainConfig};

fn minilm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/minilm")
}

/// A random 2-layer BERT (hidden 8, 2 heads) with MiniLM's tokenizer.
fn tiny_bert(dir: &Path, seed: u64) -> PathBuf {
    let root = dir.join(format!("tiny-{seed}"));
    std::fs::create_dir_all(&root).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(minilm().join("config.json")).unwrap()).unwrap();
    let (h, i, layers, vocab, pos) = (8usize, 16usize, 2usize, 30522usize, 64usize);
    cfg["hidden_size"] = h.into();
    cfg["intermediate_size"] = i.into();
    cfg["num_hidden_layers"] = layers.into();
    cfg["num_attention_heads"] = 2.into();
    cfg["max_position_embeddings"] = pos.into();
    std::fs::write(root.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(minilm().join("tokenizer.json"), root.join("tokenizer.json")).unwrap();
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rand = |shape: &[usize], scale: f32, offset: f32| -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                seine_kernels::rng::step(&mut s);
                offset + scale * ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    };
    let mut t: HashMap<String, Tensor> = HashMap::new();
    t.insert(
        "embeddings.word_embeddings.weight".into(),
        rand(&[vocab, h], 1.0, 0.0),
    );
    t.insert(
        "embeddings.position_embeddings.weight".into(),
        rand(&[pos, h], 0.5, 0.0),
    );
    t.insert(
        "embeddings.token_type_embeddings.weight".into(),
        rand(&[2, h], 0.5, 0.0),
    );
    t.insert("embeddings.LayerNorm.weight".into(), rand(&[h], 0.2, 1.0));
    t.insert("embeddings.LayerNorm.bias".into(), rand(&[h], 0.2, 0.0));
    for l in 0..layers {
        let p = format!("encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            t.insert(format!("{p}.{name}.weight"), rand(&[out, inp], 1.0, 0.0));
            t.insert(format!("{p}.{name}.bias"), rand(&[out], 0.2, 0.0));
        }
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            t.insert(format!("{p}.{n}.weight"), rand(&[h], 0.2, 1.0));
            t.insert(format!("{p}.{n}.bias"), rand(&[h], 0.2, 0.0));
        }
    }
    candle_core::safetensors::save(&t, root.join("model.safetensors")).unwrap();
    root
}

fn inputs(seed: u64, n: usize, len: usize) -> Vec<Input> {
    (0..n)
        .map(|k| {
            let l = len - k % 3;
            let ids = (0..l).map(|j| (1000 + (seed as usize * 31 + k * 17 + j * 7) % 500) as u32);
            let mut inp = Input::plain(ids.collect());
            if k % 2 == 1 {
                // An unattended expansion token and an output that does not count.
                *inp.mask.last_mut().unwrap() = 0;
                inp.keep[1] = false;
            }
            inp
        })
        .collect()
}

fn loss_of(model: &TrainModel, q: &[Input], d: &[Input], cfg: &LossConfig) -> Tensor {
    let qr: Vec<&Input> = q.iter().collect();
    let dr: Vec<&Input> = d.iter().collect();
    let s = model
        .scores(&model.encode(&qr).unwrap(), &model.encode(&dr).unwrap())
        .unwrap();
    contrastive(&s, &[0, 1, 2], &[vec![3], vec![], vec![0]], cfg)
        .unwrap()
        .loss
}

fn check_gradients(model: &TrainModel) {
    let (q, d) = (inputs(1, 3, 7), inputs(2, 5, 9));
    let cfg = LossConfig {
        temperature: 0.2,
        ccr_weight: 0.3,
    };
    let grads = loss_of(model, &q, &d, &cfg).backward().unwrap();
    let eps = 1e-6;
    let mut checked = 0;
    for (name, var, _) in model.trained() {
        let g = grads
            .get(var.as_tensor())
            .map(|g| g.flatten_all().unwrap().to_vec1::<f64>().unwrap());
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        // A few elements of every trained tensor (word embeddings: rows the inputs use).
        let picks: Vec<usize> = if name.contains("word_embeddings") {
            vec![1000 * 8 + 3, 1017 * 8 + 5, 1031 * 8]
        } else {
            (0..base.len())
                .step_by((base.len() / 3).max(1))
                .take(3)
                .collect()
        };
        for &k in &picks {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[k] += delta;
                var.set(&Tensor::from_vec(v, var.as_tensor().shape(), &Device::Cpu).unwrap())
                    .unwrap();
                loss_of(model, &q, &d, &cfg).to_scalar::<f64>().unwrap()
            };
            let fd = (at(eps) - at(-eps)) / (2.0 * eps);
            at(0.0);
            let an = g.as_ref().map_or(0.0, |g| g[k]);
            assert!(
                (fd - an).abs() <= 1e-6 + 1e-5 * fd.abs().max(an.abs()),
                "{name}[{k}]: finite difference {fd} vs backward {an}"
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "checked {checked} elements");
}

#[test]
fn dense_loss_gradient_matches_finite_differences() {
    let dir = tempfile::tempdir().unwrap();
    let root = tiny_bert(dir.path(), 1);
    let bert = TrainBert::load(&root, DType::F64, Trainable::All).unwrap();
    check_gradients(&TrainModel::new(
        bert,
        Head::Dense {
            cls: false,
            normalize: true,
        },
        0,
    ));
}

#[test]
fn colbert_loss_gradient_matches_finite_differences() {
    let dir = tempfile::tempdir().unwrap();
    let root = tiny_bert(dir.path(), 2);
    let bert = TrainBert::load(&root, DType::F64, Trainable::Top(1)).unwrap();
    assert!(
        bert.vars()
            .iter()
            .all(|(n, _)| n.starts_with("encoder.layer.1."))
    );
    let w = Tensor::randn(0f64, 0.5, (4, 8), &Device::Cpu).unwrap();
    let head = Head::Colbert {
        projection: Var::from_tensor(&w).unwrap(),
    };
    check_gradients(&TrainModel::new(bert, head, 0));
}

/// A small BEIR folder: 12 documents, 6 training queries with one or two positives.
fn tiny_beir(dir: &Path) -> PathBuf {
    let root = dir.join("beir");
    std::fs::create_dir_all(root.join("qrels")).unwrap();
    let topics = [
        "protein folding in the cell",
        "vaccine trial results",
        "deep sea coral bleaching",
        "solar panel efficiency",
        "gut microbiome and diet",
        "memory formation in sleep",
    ];
    let mut corpus = String::new();
    for (i, t) in topics.iter().enumerate() {
        for v in 0..2 {
            corpus.push_str(
                &serde_json::json!({"_id": format!("d{i}{v}"), "title": "",
                "text": format!("study {v} on {t} with measurements")})
                .to_string(),
            );
            corpus.push('\n');
        }
    }
    std::fs::write(root.join("corpus.jsonl"), corpus).unwrap();
    let queries: Vec<String> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"_id": format!("q{i}"), "text": format!("what about {t}?")})
                .to_string()
        })
        .collect();
    std::fs::write(root.join("queries.jsonl"), queries.join("\n")).unwrap();
    let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
    for i in 0..6 {
        qrels.push_str(&format!("q{i}\td{i}0\t1\n"));
        if i % 2 == 0 {
            qrels.push_str(&format!("q{i}\td{i}1\t1\n"));
        }
    }
    std::fs::write(root.join("qrels/train.tsv"), qrels).unwrap();
    root
}

fn run_config(dir: &Path, model: &Path, beir: &Path, out: &str, seed: u64) -> TrainConfig {
    let mut c = TrainConfig {
        model: model.to_path_buf(),
        out: dir.join(out),
        ..Default::default()
    };
    c.data.beir = Some(beir.to_path_buf());
    c.data.dev_fraction = 0.0;
    (c.batch_size, c.max_steps, c.checkpoint_every, c.seed) = (2, 5, 2, seed);
    (c.max_query_len, c.max_doc_len) = (16, 16);
    c.optim.lr = 1e-3;
    c.loss.ccr_weight = 0.2;
    c
}

fn weights(out: &Path) -> HashMap<String, Vec<f32>> {
    candle_core::safetensors::load(out.join("model/model.safetensors"), &Device::Cpu)
        .unwrap()
        .into_iter()
        .filter(|(_, t)| t.dtype() == DType::F32)
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

#[test]
fn a_killed_run_resumed_equals_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_bert(dir.path(), 3);
    let beir = tiny_beir(dir.path());
    let full = run_config(dir.path(), &model, &beir, "full", 5);
    let r = seine_train::train(&full, false, &mut |_| true).unwrap();
    assert_eq!((r.steps, r.stopped), (5, false));
    // Killed after update 3 (the last checkpoint is at 2), then resumed.
    let killed = run_config(dir.path(), &model, &beir, "killed", 5);
    let r = seine_train::train(
        &killed,
        false,
        &mut |e| !matches!(e, Event::Step(row, _) if row.step == 3),
    )
    .unwrap();
    assert!(r.stopped && r.steps == 3);
    assert!(
        !killed.out.join("model").exists(),
        "no model folder from a killed run"
    );
    let mut resumed_at = None;
    let r = seine_train::train(&killed, true, &mut |e| {
        if let Event::Start { resumed_at: s, .. } = e {
            resumed_at = Some(s);
        }
        true
    })
    .unwrap();
    assert_eq!((resumed_at, r.steps), (Some(2), 5));
    let (a, b) = (weights(&full.out), weights(&killed.out));
    assert_eq!(a.len(), b.len());
    for (k, v) in &a {
        assert_eq!(v, &b[k], "{k} differs after resume");
    }
    // Training moved the weights; the same seed again gives the same weights, another
    // seed other ones.
    let base = TrainBert::load(&model, DType::F32, Trainable::All).unwrap();
    let w0 = base.snapshot()["encoder.layer.0.attention.self.query.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_ne!(w0, a["encoder.layer.0.attention.self.query.weight"]);
    let again = run_config(dir.path(), &model, &beir, "again", 5);
    seine_train::train(&again, false, &mut |_| true).unwrap();
    assert_eq!(weights(&again.out), a);
    let other = run_config(dir.path(), &model, &beir, "other", 6);
    seine_train::train(&other, false, &mut |_| true).unwrap();
    assert_ne!(weights(&other.out), a);
    // The log and the curves are there; resuming an existing run needs --resume.
    let log = std::fs::read_to_string(full.out.join("train_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 6, "{log}");
    assert!(full.out.join("curves.png").is_file());
    let err = seine_train::train(&full, false, &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");
}

#[test]
fn the_candle_encoder_matches_the_engine_on_minilm() {
    use seine_engine::model::{Backend, ModelDir};
    use seine_engine::{DenseEncoder, Encoder, Side};
    let dir = ModelDir::open(&minilm()).unwrap();
    let enc = DenseEncoder::load_with(&dir, &Device::Cpu, Backend::Native).unwrap();
    let texts = [
        "Vitamin D deficiency is linked to bone loss.",
        "short",
        "A much longer sentence about the structure of proteins in the cell membrane and how they fold.",
    ];
    let want = enc.encode(&texts, Side::Document).unwrap();
    let bert = TrainBert::load(&minilm(), DType::F32, Trainable::None).unwrap();
    let model = TrainModel::new(
        bert,
        Head::Dense {
            cls: false,
            normalize: true,
        },
        0,
    );
    let ids: Vec<Input> = texts
        .iter()
        .map(|t| Input::plain(enc.tokenizer().encode(&[t]).unwrap()[0].get_ids().to_vec()))
        .collect();
    let refs: Vec<&Input> = ids.iter().collect();
    let seine_train::model::Encoded::Vectors(got) = model.encode(&refs).unwrap() else {
        panic!("dense head gives vectors")
    };
    let got = got.to_vec2::<f32>().unwrap();
    for (i, g) in got.iter().enumerate() {
        let cos: f32 = g.iter().zip(want.row(i)).map(|(a, b)| a * b).sum();
        assert!(cos > 0.99999, "text {i}: cosine {cos}");
    }
}

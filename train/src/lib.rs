//! `seine train`: contrastive fine-tuning of dense bi-encoders and ColBERT heads on
//! candle autograd (CPU), with hard negatives mined by seine's own indexes.
//!
//! - [`config`]: the one description of a run (TOML; the CLI parses into it).
//! - [`data`]: examples from a BEIR training split or a pairs JSONL / Parquet; the dev split.
//! - [`mine`]: hard negatives from a seine index, the false-negative sieve.
//! - [`bert`], [`model`]: the encoder on primitive candle ops, dense / ColBERT heads.
//! - [`loss`]: InfoNCE with in-batch and hard negatives, the confidence regularizer.
//! - [`optim`]: AdamW with warm-up and linear decay, state saved for `--resume`.
//! - [`trainer`]: the loop, checkpoints, dev evaluation ([`dev`]), logs ([`curves`]).
//! - [`output`]: sentence-transformers / PyLate model folders.

pub mod bert;
pub mod config;
pub mod curves;
pub mod data;
pub mod dev;
pub mod error;
pub mod loss;
pub mod mine;
pub mod model;
pub mod ops;
pub mod optim;
pub mod output;
pub mod rng;
pub mod setup;
pub mod trainer;

pub use config::{Objective, TrainConfig};
pub use error::{Error, Result};
pub use trainer::{Event, Report, train};

//! Models: Hugging Face-format folders loaded with candle, tokenization, devices.

mod device;
mod files;
mod tokenize;

pub use device::{DeviceSpec, resolve_device};
pub use files::{ModelDir, Pooling, WeightsFile, resolve_model};
pub use tokenize::{Batch, TextTokenizer, length_sorted_batches};

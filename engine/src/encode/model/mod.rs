//! Models: Hugging Face-format folders loaded with candle, tokenization, devices.

mod device;
mod files;
pub mod native;
mod tokenize;

pub use device::{DeviceSpec, resolve_device};
pub use files::{
    ModelDir, Pooling, WeightsFile, check_model_id, model_id, resolve_model, resolve_model_with,
};
pub use native::{
    Backend, NativeBert, Precision, backend_for, cpu_precision, set_cpu_backend, set_cpu_precision,
};
pub use tokenize::{Batch, Packed, TextTokenizer, length_sorted_batches, packed_batches};

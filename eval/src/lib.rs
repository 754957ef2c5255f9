//! seine-eval: retrieval metrics with trec_eval semantics, TREC run files, the BEIR
//! evaluation runner and reports (MTEB results JSON, readable tables).

mod error;
pub mod metrics;
pub mod multihop;
pub mod report;
pub mod run;
pub mod runner;

pub use error::{Error, Result};
pub use metrics::{EvalOptions, MeasureSet, Measures, evaluate};
pub use run::Run;

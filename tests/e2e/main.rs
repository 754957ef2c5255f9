//! End-to-end tests of the `seine` binary on real data (../shared/datasets) and real
//! files on disk.

mod bench_scale;
mod crash;
mod dense;
mod eval_scifact;
mod filters;
mod late;
mod malformed;
mod models;
mod multihop;
mod multihop_qrels;
mod plaid;
mod search;
mod server;
mod sparse;
mod train;
mod util;

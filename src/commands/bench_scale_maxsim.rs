//! `seine bench scale`'s maxsim row: the default late-interaction first stage (WARP
//! on stores that carry its lists) timed, PLAID timed on the same queries after it,
//! both with recall@10 against exhaustive MaxSim.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use seine_index::MultiIndex;

use super::bench_scale::percentile;
use super::bench_scale_gen::Source;

const K: usize = 10;

/// Times `queries` searches of the default engine into `lat`, adds PLAID's figures to
/// `extra`; returns (hits of the exact top 10 found, judged) for the recall. The exact
/// top 10s are left in `out/peer-truth.npy` for the peer.
pub(super) fn search(
    out: &Path,
    store: &MultiIndex,
    src: &Source,
    queries: usize,
    lat: &mut Vec<f64>,
    extra: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<(usize, usize)> {
    let (mut hit, mut total) = (0usize, 0usize);
    // Exhaustive MaxSim is the oracle; at 1M documents it costs seconds per
    // query, so recall is measured on the first 20 queries. The timed engine is
    // the default first stage (WARP); PLAID runs on the same queries after it.
    let bags: Vec<Vec<f32>> = (0..queries).map(|q| src.tokens_query(q)).collect();
    let truth: Vec<Vec<u32>> = bags
        .iter()
        .take(20)
        .map(|t| {
            seine_engine::plaid::exact(store, t, K)
                .iter()
                .map(|h| h.doc)
                .collect()
        })
        .collect();
    let ids: Vec<u8> = truth
        .iter()
        .flat_map(|t| (0..K).map(move |j| t.get(j).map_or(-1i64, |&d| i64::from(d))))
        .flat_map(i64::to_le_bytes)
        .collect();
    super::bench_scale_splade::write_npy(
        &out.join("peer-truth.npy"),
        "<i8",
        &[truth.len(), K],
        &ids,
    )?;
    let plaid = seine_engine::Plaid::for_k(K);
    let (mut plaid_lat, mut plaid_hit) = (Vec::new(), 0usize);
    for (q, toks) in bags.iter().enumerate() {
        let t = Instant::now();
        let got: Vec<u32> = seine_engine::plaid::first_stage(
            store,
            toks,
            K,
            None,
            Some(seine_engine::Warp::for_k(K)),
            None,
        )
        .iter()
        .map(|h| h.doc)
        .collect();
        lat.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let p: Vec<u32> = seine_engine::plaid::search(store, toks, K, Some(plaid), None)
            .iter()
            .map(|h| h.doc)
            .collect();
        plaid_lat.push(t.elapsed().as_secs_f64());
        if let Some(want) = truth.get(q) {
            hit += got.iter().filter(|d| want.contains(d)).count();
            total += want.len();
            plaid_hit += p.iter().filter(|d| want.contains(d)).count();
        }
    }
    plaid_lat.sort_by(f64::total_cmp);
    let sum: f64 = plaid_lat.iter().sum();
    extra.insert("plaid_qps".into(), (plaid_lat.len() as f64 / sum).into());
    extra.insert(
        "plaid_p50_ms".into(),
        (percentile(&plaid_lat, 0.5) * 1e3).into(),
    );
    let judged = truth.len() * K;
    extra.insert(
        "plaid_recall_at_10".into(),
        (plaid_hit as f64 / judged.max(1) as f64).into(),
    );
    extra.insert(
        "maxsim_engine".into(),
        (if store.warp().is_some() {
            "warp"
        } else {
            "plaid"
        })
        .into(),
    );
    Ok((hit, total))
}

/// The peer's input in `out`: the documents' token vectors (`peer-docs.npy`, f16
/// `[n, TOKENS, dim]`, written as they are generated) and the queries (`peer-queries.npy`
/// f32 `[tokens, dim]` with `peer-query-lens.npy`), the ones seine searched.
pub(super) fn write_peer_data(
    out: &Path,
    n: usize,
    queries: usize,
    src: &Source,
) -> anyhow::Result<()> {
    use super::bench_scale::{TOK_DIM, TOKENS};
    use super::bench_scale_splade::{npy_header, write_npy};
    let path = out.join("peer-docs.npy");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    f.write_all(&npy_header("<f2", &[n, TOKENS, TOK_DIM]))?;
    for i in 0..n as u64 {
        for x in src.tokens_doc(i) {
            f.write_all(&half::f16::from_f32(x).to_le_bytes())?;
        }
    }
    f.flush()?;
    let bags: Vec<Vec<f32>> = (0..queries).map(|q| src.tokens_query(q)).collect();
    let total: usize = bags.iter().map(|b| b.len() / TOK_DIM).sum();
    let q: Vec<u8> = bags
        .iter()
        .flatten()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    write_npy(&out.join("peer-queries.npy"), "<f4", &[total, TOK_DIM], &q)?;
    let l: Vec<u8> = bags
        .iter()
        .flat_map(|b| ((b.len() / TOK_DIM) as i64).to_le_bytes())
        .collect();
    write_npy(&out.join("peer-query-lens.npy"), "<i8", &[bags.len()], &l)?;
    Ok(())
}

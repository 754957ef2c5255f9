//! A BERT encoder forward pass on the CPU over variable-length sequences packed end to
//! end (no padding, so no compute on padding): embeddings, then per layer one fused QKV
//! product, attention per (sequence, head) over that sequence's real length with the
//! softmax in between, the output product with bias + residual + LayerNorm fused, and
//! the feed-forward pair with bias + activation fused. Products run through
//! [`crate::gemm`]; the element-wise passes through [`crate::ops`]; rows are split over
//! the rayon pool. Scratch buffers live in a [`Scratch`] reused from call to call.

use std::cell::RefCell;

use rayon::prelude::*;

use super::tiles::SharedOut;
use crate::gemm::{MatRef, Par, matmul, matmul_into_ptr};
use crate::ops::{self, Activation};

/// Output features per weight panel.
pub const PANEL: usize = 64;
/// Below this many rows a product goes panel by panel.
const FEW_ROWS: usize = 128;

/// A linear layer, its weight packed once at load in two layouts: `w`, `W^T` as
/// `inp × out` row-major, for products over many rows (one large product that the GEMM
/// blocks for the caches and splits over the pool), and `panels` of [`PANEL`] output
/// features (panel `p`: `inp × width` row-major, contiguous) for products over a few
/// rows (one query), which are bound by reading the weights: each panel then streams
/// once, front to back, where the plain layout strides across pages for every input
/// feature (measured: MiniLM query p50 11.6 → 6.9 ms on one thread).
#[derive(Debug, Clone)]
pub struct Linear {
    pub weights: Weights,
    pub b: Option<Vec<f32>>,
    pub inp: usize,
    pub out: usize,
}

/// A linear layer's weight in exactly one precision: quantizing replaces the f32
/// weight (and frees it).
#[derive(Debug, Clone)]
pub enum Weights {
    /// `w`: `inp × out` row-major; `panels`: the same in [`PANEL`]-wide column panels.
    F32 { w: Vec<f32>, panels: Vec<f32> },
    /// Int8 per output channel ([`Linear::quantize_int8`]).
    Int8(Box<super::int8::QuantLinear>),
    /// Bf16 ([`Linear::to_bf16`]).
    Bf16(Box<super::bf16::Bf16Linear>),
}

impl Linear {
    /// From a PyTorch `nn.Linear` weight (`out × inp`, row-major) and bias.
    pub fn from_torch(weight: &[f32], bias: Option<Vec<f32>>, out: usize, inp: usize) -> Self {
        assert_eq!(weight.len(), out * inp, "linear weight shape");
        if let Some(b) = &bias {
            assert_eq!(b.len(), out, "linear bias shape");
        }
        let mut w = vec![0f32; inp * out];
        for o in 0..out {
            for i in 0..inp {
                w[i * out + o] = weight[o * inp + i];
            }
        }
        let mut panels = Vec::with_capacity(inp * out);
        for p0 in (0..out).step_by(PANEL) {
            let width = PANEL.min(out - p0);
            for i in 0..inp {
                panels.extend_from_slice(&w[i * out + p0..i * out + p0 + width]);
            }
        }
        Linear {
            weights: Weights::F32 { w, panels },
            b: bias,
            inp,
            out,
        }
    }

    /// The f32 weight as PyTorch stores it (`out × inp`), while it is f32.
    fn torch_weight(&self) -> Option<Vec<f32>> {
        let Weights::F32 { w, .. } = &self.weights else {
            return None;
        };
        let mut torch = vec![0f32; self.out * self.inp];
        for i in 0..self.inp {
            for o in 0..self.out {
                torch[o * self.inp + i] = w[i * self.out + o];
            }
        }
        Some(torch)
    }

    /// Rounds the f32 weight to bf16 (no-op unless f32); [`Linear::product`] then
    /// runs `vdpbf16ps` (f32 accumulation) on bf16-rounded inputs.
    pub fn to_bf16(&mut self) {
        if let Some(w) = self.torch_weight() {
            let q = super::bf16::Bf16Linear::from_torch(&w, self.out, self.inp);
            self.weights = Weights::Bf16(Box::new(q));
        }
    }

    /// Quantizes the f32 weight to int8 per output channel (no-op unless f32);
    /// [`Linear::product`] then quantizes its input per row and runs the int8 kernels.
    pub fn quantize_int8(&mut self) {
        if let Some(w) = self.torch_weight() {
            let q = super::int8::QuantLinear::from_torch(&w, self.out, self.inp);
            self.weights = Weights::Int8(Box::new(q));
        }
    }

    /// The f32 weight and its panels (the SPLADE decoder and the attention products
    /// are never quantized).
    fn f32_weights(&self) -> (&[f32], &[f32]) {
        match &self.weights {
            Weights::F32 { w, panels } => (w, panels),
            _ => panic!("this product needs the f32 weight of the layer"),
        }
    }

    /// Panel `p`: its first output feature and its `inp × width` matrix.
    fn panel(&self, p: usize) -> (usize, MatRef<'_>) {
        let p0 = p * PANEL;
        let width = PANEL.min(self.out - p0);
        let data = &self.f32_weights().1[p0 * self.inp..(p0 + width) * self.inp];
        (p0, MatRef::row_major(data, self.inp, width))
    }

    /// `y = x · W` without the bias (`x`: `rows × inp`, `y`: `rows × out`).
    pub fn product(&self, x: &[f32], rows: usize, y: &mut [f32]) {
        if rows == 0 {
            return;
        }
        let w = match &self.weights {
            Weights::Int8(q) => return q.product(x, rows, y),
            Weights::Bf16(q) => return q.product(x, rows, y),
            Weights::F32 { w, .. } => w,
        };
        let x = MatRef::row_major(&x[..rows * self.inp], rows, self.inp);
        let y = &mut y[..rows * self.out];
        if rows >= FEW_ROWS {
            let w = MatRef::row_major(w, self.inp, self.out);
            matmul(y, self.out, x, w, 1.0, false, Par::Rayon);
            return;
        }
        let out = SharedOut(y.as_mut_ptr());
        let run = |p: usize| {
            let (p0, w) = self.panel(p);
            // SAFETY: panel p alone writes columns p0..p0+width of every row of y
            // (rows × out, so inside y).
            unsafe { matmul_into_ptr(out.at(p0), self.out, x, w, 1.0) };
        };
        let panels = self.out.div_ceil(PANEL);
        if rayon::current_num_threads() == 1 {
            (0..panels).for_each(run);
        } else {
            (0..panels).into_par_iter().for_each(run);
        }
    }

    /// `y = x · W[:, c0..c0 + n]`, serially (`y`: `rows × n`); `c0` is a multiple of
    /// [`PANEL`] and `n` too unless the block ends at `out`.
    pub fn product_block(&self, x: &[f32], rows: usize, c0: usize, n: usize, y: &mut [f32]) {
        assert!(c0.is_multiple_of(PANEL) && c0 + n <= self.out);
        assert!(n.is_multiple_of(PANEL) || c0 + n == self.out);
        let x = MatRef::row_major(&x[..rows * self.inp], rows, self.inp);
        let y = &mut y[..rows * n];
        if rows >= FEW_ROWS {
            let w = MatRef {
                data: &self.f32_weights().0[c0..],
                rows: self.inp,
                cols: n,
                rs: self.out,
                cs: 1,
            };
            matmul(y, n, x, w, 1.0, false, Par::Serial);
            return;
        }
        for p in c0 / PANEL..(c0 + n).div_ceil(PANEL) {
            let (p0, w) = self.panel(p);
            matmul(&mut y[p0 - c0..], n, x, w, 1.0, false, Par::Serial);
        }
    }

    fn bias(&self) -> &[f32] {
        self.b.as_deref().expect("this layer has a bias")
    }
}

#[derive(Debug, Clone)]
pub struct LayerNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

#[derive(Debug, Clone)]
pub struct Layer {
    /// Query, key and value in one product: `hidden × 3·hidden`.
    pub qkv: Linear,
    pub attn_out: Linear,
    pub attn_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub out_norm: LayerNorm,
}

#[derive(Debug, Clone)]
pub struct Bert {
    pub hidden: usize,
    pub heads: usize,
    pub act: Activation,
    /// `vocab × hidden`.
    pub word: Vec<f32>,
    /// `max_positions × hidden`.
    pub position: Vec<f32>,
    /// Token type 0's embedding (every input here is one segment).
    pub token_type: Vec<f32>,
    pub emb_norm: LayerNorm,
    pub layers: Vec<Layer>,
}

/// Buffers of one forward pass, grown to the largest batch seen and then reused.
#[derive(Debug, Default)]
pub struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
}

fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

/// Rows per parallel task of the element-wise passes.
const ROW_BLOCK: usize = 16;

/// Runs `f` over blocks of rows of `x` (`rows × w`), in parallel when it is large.
fn rows_par(x: &mut [f32], w: usize, f: impl Fn(&mut [f32], usize) + Sync) {
    if x.len() < 32 * 1024 || rayon::current_num_threads() == 1 {
        f(x, 0);
    } else {
        x.par_chunks_mut(ROW_BLOCK * w)
            .enumerate()
            .for_each(|(i, c)| f(c, i * ROW_BLOCK));
    }
}

thread_local! {
    /// Attention scores of one (sequence, head) task, reused by every task on a thread.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Bert {
    /// Every linear layer of the encoder in int8 (embeddings, LayerNorms, attention
    /// and the element-wise ops stay f32).
    pub fn quantize_int8(&mut self) {
        for l in &mut self.layers {
            l.qkv.quantize_int8();
            l.attn_out.quantize_int8();
            l.intermediate.quantize_int8();
            l.output.quantize_int8();
        }
    }

    /// Every linear layer of the encoder in bf16 (the rest stays f32).
    pub fn to_bf16(&mut self) {
        for l in &mut self.layers {
            l.qkv.to_bf16();
            l.attn_out.to_bf16();
            l.intermediate.to_bf16();
            l.output.to_bf16();
        }
    }

    pub fn max_positions(&self) -> usize {
        self.position.len() / self.hidden
    }

    pub fn vocab(&self) -> usize {
        self.word.len() / self.hidden
    }

    /// Last hidden states of the sequences `ids` (concatenated; `lens[i]` tokens each):
    /// `ids.len() × hidden`, row-major, in the same order. With `keys`, sequence `i`'s
    /// tokens attend to its first `keys[i]` tokens only (the rest are outputs that
    /// nothing attends to, like ColBERT's `[MASK]` query expansion); otherwise to all.
    pub fn forward<'s>(
        &self,
        ids: &[u32],
        lens: &[usize],
        keys: Option<&[usize]>,
        s: &'s mut Scratch,
    ) -> &'s [f32] {
        let h = self.hidden;
        let t = ids.len();
        assert_eq!(
            lens.iter().sum::<usize>(),
            t,
            "lengths do not add up to the ids"
        );
        let keys = keys.unwrap_or(lens);
        assert!(
            keys.len() == lens.len()
                && keys
                    .iter()
                    .zip(lens)
                    .all(|(&k, &l)| k <= l && (k > 0 || l == 0)),
            "each sequence attends to between 1 and all of its tokens"
        );
        assert!(
            lens.iter().all(|&l| l <= self.max_positions()),
            "a sequence is longer than the model's {} positions",
            self.max_positions()
        );
        let inter = self.layers.first().map_or(0, |l| l.intermediate.out);
        grow(&mut s.x, t * h);
        grow(&mut s.qkv, t * 3 * h);
        grow(&mut s.ctx, t * h);
        grow(&mut s.tmp, t * h);
        grow(&mut s.inter, t * inter);
        self.embed(ids, lens, &mut s.x[..t * h]);
        let starts: Vec<usize> = lens
            .iter()
            .scan(0, |acc, &l| {
                let s = *acc;
                *acc += l;
                Some(s)
            })
            .collect();
        for layer in &self.layers {
            self.layer(layer, t, lens, keys, &starts, s);
        }
        &s.x[..t * h]
    }

    fn embed(&self, ids: &[u32], lens: &[usize], x: &mut [f32]) {
        let h = self.hidden;
        let vocab = self.vocab();
        let mut row = 0;
        for &len in lens {
            for p in 0..len {
                let id = ids[row] as usize;
                assert!(id < vocab, "token id {id} outside the vocabulary ({vocab})");
                let out = &mut x[row * h..(row + 1) * h];
                let w = &self.word[id * h..(id + 1) * h];
                let pe = &self.position[p * h..(p + 1) * h];
                for j in 0..h {
                    out[j] = w[j] + pe[j] + self.token_type[j];
                }
                row += 1;
            }
        }
        let n = &self.emb_norm;
        rows_par(x, h, |c, _| ops::layer_norm(c, &n.gamma, &n.beta, n.eps));
    }

    fn layer(
        &self,
        l: &Layer,
        t: usize,
        lens: &[usize],
        keys: &[usize],
        starts: &[usize],
        s: &mut Scratch,
    ) {
        let h = self.hidden;
        let x = &mut s.x[..t * h];
        let qkv = &mut s.qkv[..t * 3 * h];
        l.qkv.product(x, t, qkv);
        let qb = l.qkv.bias();
        rows_par(qkv, 3 * h, |c, _| ops::add_bias(c, qb));
        self.attention(qkv, lens, keys, starts, &mut s.ctx[..t * h]);

        let tmp = &mut s.tmp[..t * h];
        l.attn_out.product(&s.ctx[..t * h], t, tmp);
        let (ob, n) = (l.attn_out.bias(), &l.attn_norm);
        residual_norm(x, tmp, h, ob, n);

        let i = l.intermediate.out;
        let inter = &mut s.inter[..t * i];
        l.intermediate.product(x, t, inter);
        let (ib, act) = (l.intermediate.bias(), self.act);
        rows_par(inter, i, |c, _| ops::bias_act(c, ib, act));

        l.output.product(inter, t, tmp);
        residual_norm(x, tmp, h, l.output.bias(), &l.out_norm);
    }

    /// Scaled dot-product attention of every sequence with itself, head by head; the
    /// context of head `hd` goes to columns `hd·d .. (hd+1)·d` of `ctx`.
    fn attention(
        &self,
        qkv: &[f32],
        lens: &[usize],
        keys: &[usize],
        starts: &[usize],
        ctx: &mut [f32],
    ) {
        let h = self.hidden;
        let heads = self.heads;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        let out = SharedOut(ctx.as_mut_ptr());
        let ctx_len = ctx.len();
        let tasks: Vec<(usize, usize)> = (0..lens.len())
            .filter(|&q| lens[q] > 0)
            .flat_map(|q| (0..heads).map(move |hd| (q, hd)))
            .collect();
        let run = |&(q, hd): &(usize, usize)| {
            let (len, nk, start) = (lens[q], keys[q], starts[q]);
            let rows = &qkv[start * 3 * h..(start + len) * 3 * h];
            let view = |col: usize| MatRef {
                data: &rows[col..],
                rows: len,
                cols: d,
                rs: 3 * h,
                cs: 1,
            };
            let qm = view(hd * d);
            let km = MatRef {
                rows: nk,
                ..view(h + hd * d)
            };
            let vm = MatRef {
                rows: nk,
                ..view(2 * h + hd * d)
            };
            SCORES.with_borrow_mut(|scores| {
                grow(scores, len * nk);
                let scores = &mut scores[..len * nk];
                matmul(scores, nk, qm, km.t(), scale, false, Par::Serial);
                ops::softmax_rows(scores, nk);
                // SAFETY: this task alone writes rows start..start+len, columns
                // hd·d..(hd+1)·d of ctx (tasks differ in sequence or head), and
                // those cells lie inside ctx.
                assert!((start + len - 1) * h + (hd + 1) * d <= ctx_len);
                unsafe {
                    matmul_into_ptr(
                        out.at(start * h + hd * d),
                        h,
                        MatRef::row_major(scores, len, nk),
                        vm,
                        1.0,
                    )
                };
            });
        };
        // Few small tasks (a short query): handing them to the pool costs more than
        // it saves.
        let work: usize = tasks.iter().map(|&(q, _)| lens[q] * keys[q]).sum();
        if rayon::current_num_threads() == 1 || work * d < 64 * 1024 {
            tasks.iter().for_each(run);
        } else {
            tasks.par_iter().for_each(run);
        }
    }
}

/// `x = LayerNorm(x + y + bias)`, rows in parallel.
fn residual_norm(x: &mut [f32], y: &[f32], h: usize, bias: &[f32], n: &LayerNorm) {
    rows_par(x, h, |c, row0| {
        let rows = c.len() / h;
        let yr = &y[row0 * h..(row0 + rows) * h];
        ops::residual_layer_norm(c, yr, bias, &n.gamma, &n.beta, n.eps);
    });
}

//! What the reduced-precision products (`int8`, `bf16`) share: how one product is split
//! over the pool, and the walk over register tiles of up to 6 rows × 4 blocks of 16
//! outputs that their x86 kernels run.

use std::cell::RefCell;
use std::thread::LocalKey;

use rayon::prelude::*;

/// A raw pointer the tasks of one product share: each writes its own block of the
/// output (attention heads, panel products, the int8/bf16 row and block tasks).
#[derive(Clone, Copy)]
pub(super) struct SharedOut(pub(super) *mut f32);
// SAFETY: tasks write disjoint blocks (see each use).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// (A method, so closures capture the whole wrapper, not the bare pointer.)
    pub(super) fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Splits a reduced-precision product of `rows` rows × `blocks` output blocks over
/// the pool, the one task split of the int8 and bf16 products: many rows, by rows
/// (each task prepares its own rows into its thread's `scratch`, then computes all
/// blocks); few rows, by output blocks (the rows prepared once, here).
/// `prepare(r0, r1, scratch)` converts rows `r0..r1`; `run(scratch, r0, rows, b0, b1)`
/// computes those prepared rows × blocks `b0..b1`.
pub(super) fn split_product<S: Sync + 'static>(
    scratch: &'static LocalKey<RefCell<S>>,
    rows: usize,
    blocks: usize,
    prepare: impl Fn(usize, usize, &mut S) + Sync,
    run: impl Fn(&S, usize, usize, usize, usize) + Sync,
) {
    if rows == 0 {
        return;
    }
    if by_rows(rows) {
        row_tasks(rows, |r0, r1| {
            scratch.with(|s| {
                let mut s = s.borrow_mut();
                prepare(r0, r1, &mut s);
                run(&s, r0, r1 - r0, 0, blocks);
            });
        });
    } else {
        scratch.with(|s| {
            let mut s = s.borrow_mut();
            prepare(0, rows, &mut s);
            let s = &*s;
            block_tasks(blocks, |b0, b1| run(s, 0, rows, b0, b1));
        });
    }
}

/// Rows per task when a product is split over rows.
const ROW_TASK: usize = 64;

/// Whether a product of `rows` rows is split over rows (each task prepares its own
/// rows) rather than over output blocks (the rows prepared once, by the caller).
fn by_rows(rows: usize) -> bool {
    rows >= 2 * ROW_TASK || rayon::current_num_threads() == 1
}

/// Runs `task(r0, r1)` over `rows` in chunks of [`ROW_TASK`], on the pool.
fn row_tasks(rows: usize, task: impl Fn(usize, usize) + Sync) {
    let run = |t: usize| task(t * ROW_TASK, ((t + 1) * ROW_TASK).min(rows));
    let tasks = rows.div_ceil(ROW_TASK);
    if rayon::current_num_threads() == 1 {
        (0..tasks).for_each(run);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// Runs `task(b0, b1)` over output blocks `0..blocks`, 4 blocks (64 outputs) per task.
fn block_tasks(blocks: usize, task: impl Fn(usize, usize) + Sync) {
    (0..blocks.div_ceil(4))
        .into_par_iter()
        .for_each(|t| task(4 * t, (4 * t + 4).min(blocks)));
}

/// Calls `$kernel::<R, N>(args…)` over `$rows` rows × blocks `$b0..$b1` in tiles of
/// `R ≤ 6` rows and `N ≤ 4` blocks (constants, so the accumulators stay in
/// registers); `$row` and `$b` name a tile's first row and block inside the args.
macro_rules! walk_tiles {
    ($rows:expr, $b0:expr, $b1:expr, |$row:ident, $b:ident| $kernel:ident($($arg:expr),*)) => {{
        let (rows, b0, b1) = ($rows, $b0, $b1);
        let mut $row = 0;
        while $row < rows {
            let nr = (rows - $row).min(6);
            let mut $b = b0;
            while $b < b1 {
                let nb = (b1 - $b).min(4);
                match nr {
                    6 => walk_tiles!(@n 6, nb, $kernel($($arg),*)),
                    5 => walk_tiles!(@n 5, nb, $kernel($($arg),*)),
                    4 => walk_tiles!(@n 4, nb, $kernel($($arg),*)),
                    3 => walk_tiles!(@n 3, nb, $kernel($($arg),*)),
                    2 => walk_tiles!(@n 2, nb, $kernel($($arg),*)),
                    _ => walk_tiles!(@n 1, nb, $kernel($($arg),*)),
                }
                $b += nb;
            }
            $row += nr;
        }
    }};
    (@n $r:literal, $nb:expr, $kernel:ident($($arg:expr),*)) => {
        match $nb {
            4 => $kernel::<$r, 4>($($arg),*),
            3 => $kernel::<$r, 3>($($arg),*),
            2 => $kernel::<$r, 2>($($arg),*),
            _ => $kernel::<$r, 1>($($arg),*),
        }
    };
}

/// The test both reduced-precision products run: for shapes with tails in rows,
/// outputs and inputs, seeded weights `w` and inputs `x`, the layer `build(w, out,
/// inp)`'s product at the portable level and at every level the machine has, handed to
/// `check(level, (rows, inp, out), w, x, portable, got)`.
#[cfg(test)]
pub(crate) fn check_every_level<L>(
    seed: u64,
    build: impl Fn(&[f32], usize, usize) -> L,
    product: impl Fn(&L, crate::cpu::Level, &[f32], usize, &mut [f32]),
    check: impl Fn(crate::cpu::Level, (usize, usize, usize), &[f32], &[f32], &[f32], &[f32]),
) {
    use crate::cpu::Level;
    for &(rows, inp, out) in &[(1, 384, 384), (7, 37, 50), (130, 384, 1536), (5, 1536, 20)] {
        let w = crate::rng::centered_vec(out * inp, seed);
        let x = crate::rng::centered_vec(rows * inp, seed + 1);
        let l = build(&w, out, inp);
        let mut portable = vec![0f32; rows * out];
        product(&l, Level::portable(), &x, rows, &mut portable);
        for level in Level::available() {
            let mut got = vec![0f32; rows * out];
            product(&l, level, &x, rows, &mut got);
            check(level, (rows, inp, out), &w, &x, &portable, &got);
        }
    }
}

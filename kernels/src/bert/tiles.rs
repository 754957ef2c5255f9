//! What the reduced-precision products (`int8`, `bf16`) share: how one product is split
//! over the pool, and the walk over register tiles of up to 6 rows × 4 blocks of 16
//! outputs that their x86 kernels run.

use rayon::prelude::*;

/// Rows per task when a product is split over rows.
const ROW_TASK: usize = 64;

/// Whether a product of `rows` rows is split over rows (each task prepares its own
/// rows) rather than over output blocks (the rows prepared once, by the caller).
pub(super) fn by_rows(rows: usize) -> bool {
    rows >= 2 * ROW_TASK || rayon::current_num_threads() == 1
}

/// Runs `task(r0, r1)` over `rows` in chunks of [`ROW_TASK`], on the pool.
pub(super) fn row_tasks(rows: usize, task: impl Fn(usize, usize) + Sync) {
    let run = |t: usize| task(t * ROW_TASK, ((t + 1) * ROW_TASK).min(rows));
    let tasks = rows.div_ceil(ROW_TASK);
    if rayon::current_num_threads() == 1 {
        (0..tasks).for_each(run);
    } else {
        (0..tasks).into_par_iter().for_each(run);
    }
}

/// Runs `task(b0, b1)` over output blocks `0..blocks`, 4 blocks (64 outputs) per task.
pub(super) fn block_tasks(blocks: usize, task: impl Fn(usize, usize) + Sync) {
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

//! f32 matrix products through the `gemm` crate (BLIS-style packing and register-blocked
//! micro-kernels, AVX2+FMA or AVX-512 chosen at run time), with bounds checked here so
//! callers stay in safe code.

/// A read-only strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of this view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn check(&self, what: &str) {
        if self.rows > 0 && self.cols > 0 {
            let last = (self.rows - 1) * self.rs + (self.cols - 1) * self.cs;
            assert!(last < self.data.len(), "{what}: view out of bounds");
        }
    }
}

/// Whether a product may split its work over the rayon pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Par {
    Serial,
    Rayon,
}

/// `dst = scale · a · b` (`dst` row-major with row stride `dst_rs`), or
/// `dst += scale · a · b` with `accumulate`.
pub fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    accumulate: bool,
    par: Par,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    a.check("lhs");
    b.check("rhs");
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst_rs >= n && (m - 1) * dst_rs + n <= dst.len(),
        "matmul: dst too small"
    );
    if k == 0 {
        if !accumulate {
            for r in dst.chunks_mut(dst_rs).take(m) {
                r[..n].fill(0.0);
            }
        }
        return;
    }
    let parallelism = match par {
        Par::Rayon if rayon::current_num_threads() > 1 => {
            gemm::Parallelism::Rayon(rayon::current_num_threads())
        }
        _ => gemm::Parallelism::None,
    };
    // SAFETY: every index the views and dst can reach was bounds-checked above; dst is
    // borrowed mutably and cannot alias the inputs.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            dst_rs,
            a,
            b,
            scale,
            accumulate,
            parallelism,
        )
    }
}

/// The one call into the `gemm` crate: `dst (+)= scale · a · b`.
///
/// # Safety
/// `dst` must be valid for the `a.rows × b.cols` block with row stride `dst_rs`, and the
/// views must be in bounds.
unsafe fn gemm_raw(
    dst: *mut f32,
    dst_rs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            if accumulate { 1.0 } else { 0.0 },
            scale,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// [`matmul`] into a destination given by pointer: for tasks that write disjoint blocks
/// of one matrix at the same time.
///
/// # Safety
/// `dst` must be valid for writes of the `a.rows × b.cols` block with row stride
/// `dst_rs`, and no one else may read or write that block during the call.
pub unsafe fn matmul_into_ptr(
    dst: *mut f32,
    dst_rs: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    scale: f32,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner dimensions differ");
    assert!(k > 0, "matmul_into_ptr: empty inner dimension");
    a.check("lhs");
    b.check("rhs");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: inputs bounds-checked above; dst is the caller's promise.
    unsafe { gemm_raw(dst, dst_rs, a, b, scale, false, gemm::Parallelism::None) }
}

/// The naive triple loop in f64 (the oracle).
pub fn matmul_oracle(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f64> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k)
                .map(|p| a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64)
                .sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_the_oracle() {
        let mut s = 7u32;
        let mut r = || {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 33, 9),
            (64, 384, 96),
            (130, 32, 130),
        ] {
            let a: Vec<f32> = (0..m * k).map(|_| r()).collect();
            let bt: Vec<f32> = (0..n * k).map(|_| r()).collect(); // n × k (torch layout)
            for par in [Par::Serial, Par::Rayon] {
                let av = MatRef::row_major(&a, m, k);
                let bv = MatRef::row_major(&bt, n, k).t();
                let want = matmul_oracle(av, bv);
                let mut dst = vec![1f32; m * (n + 3)];
                matmul(&mut dst, n + 3, av, bv, 0.5, false, par);
                for i in 0..m {
                    for j in 0..n {
                        let got = dst[i * (n + 3) + j] as f64;
                        assert!((got - 0.5 * want[i * n + j]).abs() < 1e-4, "{m}x{k}x{n}");
                    }
                    assert_eq!(dst[i * (n + 3) + n], 1.0, "padding columns untouched");
                }
                matmul(&mut dst, n + 3, av, bv, 1.0, true, par);
                let got = dst[0] as f64;
                assert!((got - 1.5 * want[0]).abs() < 1e-4);
            }
        }
    }
}

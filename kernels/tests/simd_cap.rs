//! `SEINE_SIMD` caps every kernel family through the one CPU module: with
//! `SEINE_SIMD=avx2` no AVX-512, VNNI or BF16 body runs (the int8 and bf16 encoder
//! kernels used to honour only `portable`). Its own test binary: the cap is read once
//! per process, so it must be set before any kernel asks.

use seine_kernels::Level;

#[test]
fn seine_simd_avx2_caps_the_int8_and_bf16_kernels_too() {
    // SAFETY: the only test of this binary, run before any other thread reads the
    // environment.
    unsafe { std::env::set_var("SEINE_SIMD", "avx2") };
    let active = Level::active();
    assert!(active <= Level::best());
    assert!(!active.has_avx512() && !active.has_vnni() && !active.has_bf16());
    assert_eq!(active.has_avx2(), Level::best().has_avx2());
    let want = if Level::best().has_avx2() {
        "avx2"
    } else {
        "portable"
    };
    assert_eq!(seine_kernels::bert::int8::kernel_name(active), want);
    assert!(Level::available().iter().all(|l| !l.has_avx512()));
    // The capped kernels still compute the same products.
    let (out, inp, rows) = (20, 37, 3);
    let w: Vec<f32> = (0..out * inp)
        .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let x: Vec<f32> = (0..rows * inp)
        .map(|i| ((i * 104_729) % 97) as f32 / 48.0 - 1.0)
        .collect();
    let q = seine_kernels::bert::QuantLinear::from_torch(&w, out, inp);
    let (mut a, mut b) = (vec![0f32; rows * out], vec![0f32; rows * out]);
    q.product(&x, rows, &mut a);
    q.product_at(Level::portable(), &x, rows, &mut b);
    assert_eq!(a, b);
}

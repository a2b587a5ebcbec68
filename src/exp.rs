//! e^x for the right-hand side's pressure–volume laws, inlined into the hot loop.
//!
//! The exponential EDPVRs and the pericardium take five exponentials per right-hand side
//! and four per sample of the beat metrics. `f64::exp` calls the C library's through the
//! dynamic linker's procedure table and an error-handling wrapper, which cannot be inlined
//! or overlapped with the arithmetic around it. This is the table-driven method of
//! Tang (ACM TOMS 15, 1989, 144–157), as in the C libraries:
//! x = (k·N + j)·ln2/N + r with |r| ≤ ln2/(2N), N = 128, so
//! e^x = 2^k · 2^(j/N) · e^r, 2^(j/N) from a table and e^r from its Taylor polynomial to r⁵.
//! Agrees with `f64::exp` to within one unit in the last place over the range tested (test
//! below). Its multiply-adds are fused (`f64::mul_add`, one rounding each: an instruction
//! in the beat kernel's FMA copy, the runtime library's correctly rounded `fma` elsewhere;
//! see [`crate::engine::kernel`]), so results depend neither on the CPU nor on the C
//! library's version. [`exp_lanes`] evaluates several side by side in vector instructions
//! (the four chambers' EDPVRs; the activation's two Hill terms), [`exp_block`] a block of
//! the beat metrics' samples four at a time. Measured (docs/benchmarks.md): 1.02× end to
//! end for the inlined exp, 1.05× more for pairs, 1.04× more for four at once; an earlier
//! inlined exp without a table (a degree-13 polynomial) was slower than the C library's.

/// Table size N, a power of two.
const N: usize = 128;
/// N/ln 2.
const N_OVER_LN2: f64 = N as f64 / std::f64::consts::LN_2;
/// ln2/N split in two: the high part has 32 significant bits, so k·LN2_HI_N is exact for
/// |k| < 2^21, and the low part carries the rest (Cody & Waite's reduction).
const LN2_HI_N: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000) / N as f64; // 6.93147180369e-1
const LN2_LO_N: f64 = f64::from_bits(0x3dea_39ef_3579_3c76) / N as f64; // 1.90821492927e-10
/// 1.5·2^52: adding it rounds a double of magnitude below 2^51 to an integer, which then
/// sits in the low bits of the sum's representation.
const SHIFT: f64 = 6_755_399_441_055_744.0;
/// Beyond this |x| the scaling by 2^k would leave the normal range: the C library's exp
/// handles it (and NaN, and ±∞).
const X_MAX: f64 = 708.0;
/// 2^(j/N), j = 0..N, each correctly rounded (computed to 60 digits with Python's decimal
/// module; test `table_is_two_to_the_j_over_n`).
const TWO_J_N: [u64; N] = [
    0x3ff0000000000000,
    0x3ff0163da9fb3335,
    0x3ff02c9a3e778061,
    0x3ff04315e86e7f85,
    0x3ff059b0d3158574,
    0x3ff0706b29ddf6de,
    0x3ff0874518759bc8,
    0x3ff09e3ecac6f383,
    0x3ff0b5586cf9890f,
    0x3ff0cc922b7247f7,
    0x3ff0e3ec32d3d1a2,
    0x3ff0fb66affed31b,
    0x3ff11301d0125b51,
    0x3ff12abdc06c31cc,
    0x3ff1429aaea92de0,
    0x3ff15a98c8a58e51,
    0x3ff172b83c7d517b,
    0x3ff18af9388c8dea,
    0x3ff1a35beb6fcb75,
    0x3ff1bbe084045cd4,
    0x3ff1d4873168b9aa,
    0x3ff1ed5022fcd91d,
    0x3ff2063b88628cd6,
    0x3ff21f49917ddc96,
    0x3ff2387a6e756238,
    0x3ff251ce4fb2a63f,
    0x3ff26b4565e27cdd,
    0x3ff284dfe1f56381,
    0x3ff29e9df51fdee1,
    0x3ff2b87fd0dad990,
    0x3ff2d285a6e4030b,
    0x3ff2ecafa93e2f56,
    0x3ff306fe0a31b715,
    0x3ff32170fc4cd831,
    0x3ff33c08b26416ff,
    0x3ff356c55f929ff1,
    0x3ff371a7373aa9cb,
    0x3ff38cae6d05d866,
    0x3ff3a7db34e59ff7,
    0x3ff3c32dc313a8e5,
    0x3ff3dea64c123422,
    0x3ff3fa4504ac801c,
    0x3ff4160a21f72e2a,
    0x3ff431f5d950a897,
    0x3ff44e086061892d,
    0x3ff46a41ed1d0057,
    0x3ff486a2b5c13cd0,
    0x3ff4a32af0d7d3de,
    0x3ff4bfdad5362a27,
    0x3ff4dcb299fddd0d,
    0x3ff4f9b2769d2ca7,
    0x3ff516daa2cf6642,
    0x3ff5342b569d4f82,
    0x3ff551a4ca5d920f,
    0x3ff56f4736b527da,
    0x3ff58d12d497c7fd,
    0x3ff5ab07dd485429,
    0x3ff5c9268a5946b7,
    0x3ff5e76f15ad2148,
    0x3ff605e1b976dc09,
    0x3ff6247eb03a5585,
    0x3ff6434634ccc320,
    0x3ff6623882552225,
    0x3ff68155d44ca973,
    0x3ff6a09e667f3bcd,
    0x3ff6c012750bdabf,
    0x3ff6dfb23c651a2f,
    0x3ff6ff7df9519484,
    0x3ff71f75e8ec5f74,
    0x3ff73f9a48a58174,
    0x3ff75feb564267c9,
    0x3ff780694fde5d3f,
    0x3ff7a11473eb0187,
    0x3ff7c1ed0130c132,
    0x3ff7e2f336cf4e62,
    0x3ff80427543e1a12,
    0x3ff82589994cce13,
    0x3ff8471a4623c7ad,
    0x3ff868d99b4492ed,
    0x3ff88ac7d98a6699,
    0x3ff8ace5422aa0db,
    0x3ff8cf3216b5448c,
    0x3ff8f1ae99157736,
    0x3ff9145b0b91ffc6,
    0x3ff93737b0cdc5e5,
    0x3ff95a44cbc8520f,
    0x3ff97d829fde4e50,
    0x3ff9a0f170ca07ba,
    0x3ff9c49182a3f090,
    0x3ff9e86319e32323,
    0x3ffa0c667b5de565,
    0x3ffa309bec4a2d33,
    0x3ffa5503b23e255d,
    0x3ffa799e1330b358,
    0x3ffa9e6b5579fdbf,
    0x3ffac36bbfd3f37a,
    0x3ffae89f995ad3ad,
    0x3ffb0e07298db666,
    0x3ffb33a2b84f15fb,
    0x3ffb59728de5593a,
    0x3ffb7f76f2fb5e47,
    0x3ffba5b030a1064a,
    0x3ffbcc1e904bc1d2,
    0x3ffbf2c25bd71e09,
    0x3ffc199bdd85529c,
    0x3ffc40ab5fffd07a,
    0x3ffc67f12e57d14b,
    0x3ffc8f6d9406e7b5,
    0x3ffcb720dcef9069,
    0x3ffcdf0b555dc3fa,
    0x3ffd072d4a07897c,
    0x3ffd2f87080d89f2,
    0x3ffd5818dcfba487,
    0x3ffd80e316c98398,
    0x3ffda9e603db3285,
    0x3ffdd321f301b460,
    0x3ffdfc97337b9b5f,
    0x3ffe264614f5a129,
    0x3ffe502ee78b3ff6,
    0x3ffe7a51fbc74c83,
    0x3ffea4afa2a490da,
    0x3ffecf482d8e67f1,
    0x3ffefa1bee615a27,
    0x3fff252b376bba97,
    0x3fff50765b6e4540,
    0x3fff7bfdad9cbe14,
    0x3fffa7c1819e90d8,
    0x3fffd3c22b8f71f1,
];

/// e^x.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    exp_as::<true>(x)
}

/// [`exp`] of `L` arguments side by side: the same operations lane by lane, which the
/// compiler turns into vector instructions (two or four wide); bit for bit [`exp`] of each.
#[inline(always)]
pub(crate) fn exp_lanes<const L: usize>(x: [f64; L]) -> [f64; L] {
    exp_lanes_as::<true, L>(x)
}

/// [`exp_lanes`] with its multiply-adds rounded twice (plain · and +), for code that runs
/// outside the beat kernel — the activation formula, evaluated mostly when its table is
/// built — where a fused multiply-add is a library call. Also within one unit in the last
/// place of the C library's, and the same bits on every CPU; it may differ from [`exp`] in
/// the last bit.
#[inline(always)]
pub(crate) fn exp_lanes_unfused<const L: usize>(x: [f64; L]) -> [f64; L] {
    exp_lanes_as::<false, L>(x)
}

#[inline(always)]
fn exp_as<const FUSED: bool>(x: f64) -> f64 {
    if !in_range(x) {
        return x.exp();
    }
    let (s, r) = reduce(x);
    madd::<FUSED>(s, expm1_poly::<FUSED>(r), s) // s + s·(e^r − 1)
}

#[inline(always)]
fn exp_lanes_as<const FUSED: bool, const L: usize>(x: [f64; L]) -> [f64; L] {
    if !x.iter().all(|&x| in_range(x)) {
        return x.map(exp_as::<FUSED>);
    }
    let sr = x.map(reduce);
    let p = sr.map(|(_, r)| expm1_poly::<FUSED>(r));
    std::array::from_fn(|i| madd::<FUSED>(sr[i].0, p[i], sr[i].0))
}

/// a·b + c, rounded once if `FUSED`.
#[inline(always)]
fn madd<const FUSED: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// [`exp`] of every element of `x` in place, four at a time ([`exp_lanes`]); `L` a
/// multiple of 4. Bit for bit [`exp`] of each.
#[inline(always)]
pub(crate) fn exp_block<const L: usize>(x: &mut [f64; L]) {
    const { assert!(L % 4 == 0, "exp_block takes whole groups of four") };
    for c in x.chunks_exact_mut(4) {
        let four = [c[0], c[1], c[2], c[3]];
        c.copy_from_slice(&exp_lanes(four));
    }
}

/// |x| < X_MAX (false for NaN).
#[inline(always)]
fn in_range(x: f64) -> bool {
    x.abs() < X_MAX
}

/// x = ln(s) + r with s = 2^(k/N) for the integer k nearest x·N/ln2 and |r| ≤ ln2/(2N).
#[inline(always)]
fn reduce(x: f64) -> (f64, f64) {
    let kd = x * N_OVER_LN2 + SHIFT;
    let ki = kd.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
    let kd = kd - SHIFT;
    let r = (x - kd * LN2_HI_N) - kd * LN2_LO_N;
    // 2^(ki/N): the table's entry for ki mod N with ki div N added to its exponent.
    let s = f64::from_bits(
        TWO_J_N[(ki as usize) & (N - 1)].wrapping_add(((ki >> N.trailing_zeros()) as u64) << 52),
    );
    (s, r)
}

/// e^r − 1 to r⁵ (|r| ≤ 0.0028: the next term is below 2^−60), in Estrin's form:
/// r + r²(1/2 + r/6) + r⁴(1/24 + r/120).
#[inline(always)]
fn expm1_poly<const FUSED: bool>(r: f64) -> f64 {
    let r2 = r * r;
    let low = madd::<FUSED>(r2, madd::<FUSED>(r, 1.0 / 6.0, 0.5), r);
    madd::<FUSED>(r2 * r2, madd::<FUSED>(r, 1.0 / 120.0, 1.0 / 24.0), low)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn table_is_two_to_the_j_over_n() {
        for (j, &bits) in TWO_J_N.iter().enumerate() {
            let want = (j as f64 / N as f64).exp2();
            assert!(ulps(f64::from_bits(bits), want) <= 1, "j = {j}");
        }
    }

    #[test]
    fn agrees_with_the_c_library() {
        let mut worst = 0;
        // Dense over the EDPVR range, then coarse over the whole normal range.
        let dense = (0..2_000_000).map(|i| -20.0 + 40.0 * i as f64 / 2e6);
        let wide = (0..200_000).map(|i| -707.9 + 1415.8 * i as f64 / 2e5);
        for x in dense.chain(wide) {
            let want = x.exp();
            for got in [exp(x), exp_lanes_unfused([x])[0]] {
                worst = worst.max(ulps(got, want));
                assert!(ulps(got, want) <= 1, "x = {x}: {got:e} against {want:e}");
            }
        }
        eprintln!("worst {worst} ulp (fused and unfused)");
    }

    #[test]
    fn lanes_are_singles() {
        for i in 0..100_000 {
            let a = -30.0 + 60.0 * i as f64 / 1e5;
            let (b, c, d) = (5.0 - 0.37 * a, 0.011 * a * a - 4.0, -a);
            assert_eq!(exp_lanes([a, b]), [exp(a), exp(b)], "{a}, {b}");
            assert_eq!(
                exp_lanes([a, b, c, d]),
                [exp(a), exp(b), exp(c), exp(d)],
                "{a}, {b}, {c}, {d}"
            );
        }
        for ends in [[800.0, 1.0], [1.0, f64::NAN], [-750.0, f64::INFINITY]] {
            assert_eq!(
                exp_lanes_unfused(ends).map(f64::to_bits),
                ends.map(|x| exp_lanes_unfused([x])[0].to_bits())
            );
            let [a, b] = exp_lanes(ends);
            assert_eq!(a.to_bits(), exp(ends[0]).to_bits());
            assert_eq!(b.to_bits(), exp(ends[1]).to_bits());
            let four = exp_lanes([0.5, ends[0], -2.0, ends[1]]);
            let singles = [0.5, ends[0], -2.0, ends[1]].map(exp);
            assert_eq!(four.map(f64::to_bits), singles.map(f64::to_bits));
        }
    }

    #[test]
    fn hands_the_ends_to_the_c_library() {
        for x in [
            708.5,
            709.7,
            710.0,
            -708.5,
            -745.0,
            -800.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(exp(x), x.exp(), "x = {x}");
        }
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(0.0), 1.0);
    }
}

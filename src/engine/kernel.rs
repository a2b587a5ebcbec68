//! The hot work of a beat — its integration, the physical-state check and the beat metrics —
//! compiled twice: for any x86-64 CPU and for those with AVX2 and FMA (three-operand and
//! wider vector instructions, fused multiply-adds), the copy chosen at run time. Every
//! function on the fast path's way is `#[inline(always)]`, and none is reached through
//! `map_or` or a `&dyn Fn`, so that each copy holds all of it: a call from the AVX2 copy into
//! code compiled for the baseline costs more than the copy gains (0.80× when the chamber
//! pressures and the activation stayed out of line). The one call kept is the right-hand
//! side's, into its own copy for the same CPU (`OutOfLine`): inlined at each of the
//! integrator's stages it made the code larger than the instruction cache. The reference
//! path's ode_solvers code is not ours to inline; its right-hand side runs in the copy too.
//!
//! The arithmetic that gains from it — the integrator's stage sums and continuous extension,
//! the exponentials' polynomial, the activation's and the pump heads' cubics — is written
//! as fused multiply-adds (`f64::mul_add`: a·b + c rounded once), which round the same on
//! every CPU: one instruction in the AVX2/FMA copy, a call into the runtime library's
//! correctly rounded `fma` in the baseline copy (slower there, on x86-64 CPUs from before
//! about 2013, and in code outside the kernel). Everything else is plain IEEE arithmetic in
//! source order. So both copies give the same bits (test below), and results do not depend
//! on the CPU. Measurements: docs/benchmarks.md.
//!
//! Public so that benchmarks and tools that integrate a beat themselves run the copy `run`
//! runs: [`integrate`] and [`rhs`].

use super::{check_physical, SimError};
use crate::analysis::{beat_metrics, ActivationMemo, BeatMetrics};
use crate::physiology::activation::BeatClock;
use crate::physiology::{Circulation, State};
use crate::solver::{Branches, Integrator, OdeSystem, Sample, SolverError, Switches};

/// Whether this CPU runs the AVX2/FMA copies (std caches the answer). Other architectures
/// have the baseline copy only.
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `integrator.integrate(sys, t0, t1, y0, n, out)` in the copy for this CPU, with the
/// system's right-hand sides out of line in the same copy (`OutOfLine`).
pub fn integrate<I: Integrator, S: OdeSystem>(
    integrator: &mut I,
    sys: &S,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { integrate_avx2(integrator, sys, t0, t1, y0, n, out) };
    }
    integrate_baseline(integrator, sys, t0, t1, y0, n, out)
}

/// `sys.rhs(t, y, dy)` in the copy for this CPU (the right-hand side the reference path
/// calls).
pub fn rhs<S: OdeSystem>(sys: &S, t: f64, y: &State, dy: &mut State) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { rhs_avx2(sys, t, y, dy) };
    }
    rhs_baseline(sys, t, y, dy)
}

#[inline(never)]
fn integrate_baseline<I: Integrator, S: OdeSystem>(
    integrator: &mut I,
    sys: &S,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    integrator.integrate(&OutOfLine::<S, false>(sys), t0, t1, y0, n, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn integrate_avx2<I: Integrator, S: OdeSystem>(
    integrator: &mut I,
    sys: &S,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    integrator.integrate(&OutOfLine::<S, true>(sys), t0, t1, y0, n, out)
}

/// A system with its right-hand sides called out of line, in the AVX2/FMA copy if `AVX2`
/// (constructed only by [`integrate_avx2`], whose CPU has them). Inlined at each of the
/// integrator's call sites (the five stages, the step's end, after a switch) it made the
/// integration's code 90 KB, more than the instruction cache holds; one shared copy runs
/// faster despite the calls (docs/benchmarks.md). Everything inside the right-hand side
/// stays inlined into that copy.
struct OutOfLine<'a, S, const AVX2: bool>(&'a S);

impl<S: OdeSystem, const AVX2: bool> OdeSystem for OutOfLine<'_, S, AVX2> {
    #[inline(always)]
    fn rhs(&self, t: f64, y: &State, dy: &mut State) {
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: `OutOfLine::<_, true>` exists only inside `integrate_avx2`.
            return unsafe { rhs_avx2(self.0, t, y, dy) };
        }
        rhs_baseline(self.0, t, y, dy)
    }

    #[inline(always)]
    fn switching(&self, t: f64, y: &State, g: &mut Switches) -> usize {
        self.0.switching(t, y, g)
    }

    #[inline(always)]
    fn step_after(&self, switch: Option<usize>) -> f64 {
        self.0.step_after(switch)
    }

    #[inline(always)]
    fn rhs_on(&self, t: f64, y: &State, branches: Branches, dy: &mut State) {
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: as in `rhs`.
            return unsafe { rhs_on_avx2(self.0, t, y, branches, dy) };
        }
        rhs_on_baseline(self.0, t, y, branches, dy)
    }

    #[inline(always)]
    fn rhs_switching(
        &self,
        t: f64,
        y: &State,
        branches: Option<Branches>,
        dy: &mut State,
        g: &mut Switches,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if AVX2 {
            // SAFETY: as in `rhs`.
            return unsafe { rhs_switching_avx2(self.0, t, y, branches, dy, g) };
        }
        rhs_switching_baseline(self.0, t, y, branches, dy, g)
    }
}

#[inline(never)]
fn rhs_baseline<S: OdeSystem>(sys: &S, t: f64, y: &State, dy: &mut State) {
    sys.rhs(t, y, dy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
fn rhs_avx2<S: OdeSystem>(sys: &S, t: f64, y: &State, dy: &mut State) {
    sys.rhs(t, y, dy)
}

#[inline(never)]
fn rhs_on_baseline<S: OdeSystem>(sys: &S, t: f64, y: &State, branches: Branches, dy: &mut State) {
    sys.rhs_on(t, y, branches, dy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
fn rhs_on_avx2<S: OdeSystem>(sys: &S, t: f64, y: &State, branches: Branches, dy: &mut State) {
    sys.rhs_on(t, y, branches, dy)
}

#[inline(never)]
fn rhs_switching_baseline<S: OdeSystem>(
    sys: &S,
    t: f64,
    y: &State,
    branches: Option<Branches>,
    dy: &mut State,
    g: &mut Switches,
) -> usize {
    sys.rhs_switching(t, y, branches, dy, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
fn rhs_switching_avx2<S: OdeSystem>(
    sys: &S,
    t: f64,
    y: &State,
    branches: Option<Branches>,
    dy: &mut State,
    g: &mut Switches,
) -> usize {
    sys.rhs_switching(t, y, branches, dy, g)
}

/// The beat's samples checked ([`check_physical`]) and its metrics ([`beat_metrics`]), in
/// the copy for this CPU.
pub(super) fn measure(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
    memo: &mut ActivationMemo,
) -> Result<BeatMetrics, SimError> {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { measure_avx2(circ, clock, samples, memo) };
    }
    measure_baseline(circ, clock, samples, memo)
}

#[inline(never)]
fn measure_baseline(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
    memo: &mut ActivationMemo,
) -> Result<BeatMetrics, SimError> {
    check_physical(samples)?;
    Ok(beat_metrics(circ, clock, samples, memo))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn measure_avx2(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
    memo: &mut ActivationMemo,
) -> Result<BeatMetrics, SimError> {
    check_physical(samples)?;
    Ok(beat_metrics(circ, clock, samples, memo))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::devices::{Catalogue, Position, Pump};
    use crate::engine::BeatSystem;
    use crate::physiology::presets;
    use crate::solver::{FastTsit5, SolverSettings};

    #[test]
    fn both_copies_give_the_same_bits() {
        if !avx2_fma() {
            return; // nothing to compare on this CPU
        }
        let mut p = presets::normal();
        p.mitral.regurgitant_area = 0.2; // both branches of a valve law
        let catalogue = Catalogue::builtin();
        let cp = catalogue.get("cp").expect("built-in CP");
        let circ = Circulation::new(p)
            .with_pump(Pump::new(cp, 8, Position::Correct).expect("P8"))
            .expect("one left pump");
        let (mut fast_a, mut fast_b) = (
            FastTsit5::new(SolverSettings::default()),
            FastTsit5::new(SolverSettings::default()),
        );
        let (mut y_a, mut y_b) = (circ.initial_state(), circ.initial_state());
        let (mut memo_a, mut memo_b) = (ActivationMemo::default(), ActivationMemo::default());
        let mut t = 0.0;
        for _ in 0..4 {
            let clock = circ.clock(t);
            let sys = BeatSystem { circ: &circ, clock };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            y_a = integrate_baseline(&mut fast_a, &sys, t, t + clock.period, &y_a, 800, &mut a)
                .expect("baseline copy integrates");
            // SAFETY: the CPU has AVX2 and FMA.
            y_b = unsafe {
                integrate_avx2(&mut fast_b, &sys, t, t + clock.period, &y_b, 800, &mut b)
            }
            .expect("AVX2 copy integrates");
            let bits = |s: &[Sample]| -> Vec<u64> {
                s.iter()
                    .flat_map(|(t, y)| {
                        std::iter::once(t.to_bits()).chain(y.iter().map(|v| v.to_bits()))
                    })
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b));
            let m_a = measure_baseline(&circ, &clock, &a, &mut memo_a).expect("sound beat");
            // SAFETY: the CPU has AVX2 and FMA.
            let m_b = unsafe { measure_avx2(&circ, &clock, &b, &mut memo_b) }.expect("sound beat");
            let mbits =
                |m: &BeatMetrics| m.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(mbits(&m_a), mbits(&m_b));
            t += clock.period;
        }
        assert_eq!(y_a, y_b);
    }
}

//! The hot work of a beat — its integration, the physical-state check and the beat metrics —
//! compiled twice: for any x86-64 CPU and for those with AVX2 (three-operand and wider vector
//! instructions), the copy chosen at run time. Every function on the fast path's way is
//! `#[inline(always)]`, and none is reached through `map_or` or a `&dyn Fn`, so that each
//! copy holds all of it: a call from the AVX2 copy into code compiled for the baseline costs
//! more than the copy gains (0.80× when the chamber pressures and the activation stayed out
//! of line). The one call kept is the right-hand side's, into its own copy for the same CPU
//! ([`OutOfLine`]): inlined at each of the integrator's stages it made the code larger than
//! the instruction cache. The reference path's ode_solvers code is not ours to inline; it
//! runs as it did (1.02× A/B). Both copies perform the
//! same IEEE operations in the same order (neither fuses a multiplication and an addition),
//! so results are bit for bit the same on every CPU (test below). Measurements:
//! docs/benchmarks.md.

use super::{check_physical, BeatSystem, SimError};
use crate::analysis::{beat_metrics, ActivationMemo, BeatMetrics};
use crate::physiology::activation::BeatClock;
use crate::physiology::{Circulation, State};
use crate::solver::{Branches, Integrator, OdeSystem, Sample, SolverError, Switches};

/// Whether this CPU runs the AVX2 copies (std caches the answer). Other architectures have
/// the baseline copy only.
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// `integrator.integrate(sys, t0, t1, y0, n, out)` in the copy for this CPU.
pub(super) fn integrate<I: Integrator>(
    integrator: &mut I,
    sys: &BeatSystem,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { integrate_avx2(integrator, sys, t0, t1, y0, n, out) };
    }
    integrate_baseline(integrator, sys, t0, t1, y0, n, out)
}

#[inline(never)]
fn integrate_baseline<I: Integrator>(
    integrator: &mut I,
    sys: &BeatSystem,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    integrator.integrate(&OutOfLine::<false>(sys), t0, t1, y0, n, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn integrate_avx2<I: Integrator>(
    integrator: &mut I,
    sys: &BeatSystem,
    t0: f64,
    t1: f64,
    y0: &State,
    n: usize,
    out: &mut Vec<Sample>,
) -> Result<State, SolverError> {
    integrator.integrate(&OutOfLine::<true>(sys), t0, t1, y0, n, out)
}

/// The beat's system with its right-hand side called out of line, in the copy for AVX2 CPUs
/// if `AVX2` (constructed only by [`integrate_avx2`], whose CPU has it). Inlined at each of
/// the integrator's call sites (the five stages, the step's end, after a switch) it made
/// the integration's code 90 KB, more than the instruction cache holds; one shared copy
/// runs faster despite the calls (docs/benchmarks.md). Everything inside the right-hand
/// side stays inlined into that copy.
struct OutOfLine<'a, const AVX2: bool>(&'a BeatSystem<'a>);

impl<const AVX2: bool> OdeSystem for OutOfLine<'_, AVX2> {
    #[inline(always)]
    fn rhs(&self, t: f64, y: &State, dy: &mut State) {
        self.0.rhs(t, y, dy);
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
            // SAFETY: `OutOfLine::<true>` exists only inside `integrate_avx2`.
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
            // SAFETY: as in `rhs_on`.
            return unsafe { rhs_switching_avx2(self.0, t, y, branches, dy, g) };
        }
        rhs_switching_baseline(self.0, t, y, branches, dy, g)
    }
}

#[inline(never)]
fn rhs_on_baseline(sys: &BeatSystem, t: f64, y: &State, branches: Branches, dy: &mut State) {
    sys.rhs_on(t, y, branches, dy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
fn rhs_on_avx2(sys: &BeatSystem, t: f64, y: &State, branches: Branches, dy: &mut State) {
    sys.rhs_on(t, y, branches, dy)
}

#[inline(never)]
fn rhs_switching_baseline(
    sys: &BeatSystem,
    t: f64,
    y: &State,
    branches: Option<Branches>,
    dy: &mut State,
    g: &mut Switches,
) -> usize {
    sys.rhs_switching(t, y, branches, dy, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
fn rhs_switching_avx2(
    sys: &BeatSystem,
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
    if avx2() {
        // SAFETY: the CPU has AVX2.
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
#[target_feature(enable = "avx2")]
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
    use crate::physiology::presets;
    use crate::solver::{FastTsit5, SolverSettings};

    #[test]
    fn both_copies_give_the_same_bits() {
        if !avx2() {
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
            // SAFETY: the CPU has AVX2.
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
            // SAFETY: the CPU has AVX2.
            let m_b = unsafe { measure_avx2(&circ, &clock, &b, &mut memo_b) }.expect("sound beat");
            let mbits =
                |m: &BeatMetrics| m.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(mbits(&m_a), mbits(&m_b));
            t += clock.period;
        }
        assert_eq!(y_a, y_b);
    }
}

//! The hot work of a beat — its integration, the physical-state check and the beat metrics —
//! compiled twice: for any x86-64 CPU and for those with AVX2 (three-operand and wider vector
//! instructions), the copy chosen at run time. Every function on the fast path's way is
//! `#[inline(always)]`, and none is reached through `map_or` or a `&dyn Fn`, so that each
//! copy holds all of it: a call from the AVX2 copy into code compiled for the baseline costs
//! more than the copy gains (0.80× when the chamber pressures and the activation stayed out
//! of line). The reference path's ode_solvers code is not ours to inline; it runs as it did
//! (1.02× A/B). Both copies perform the
//! same IEEE operations in the same order (neither fuses a multiplication and an addition),
//! so results are bit for bit the same on every CPU (test below). Measurements:
//! docs/benchmarks.md.

use super::{check_physical, BeatSystem, SimError};
use crate::analysis::{beat_metrics, BeatMetrics};
use crate::physiology::activation::BeatClock;
use crate::physiology::{Circulation, State};
use crate::solver::{Integrator, Sample, SolverError};

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
    integrator.integrate(sys, t0, t1, y0, n, out)
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
    integrator.integrate(sys, t0, t1, y0, n, out)
}

/// The beat's samples checked ([`check_physical`]) and its metrics ([`beat_metrics`]), in
/// the copy for this CPU.
pub(super) fn measure(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
) -> Result<BeatMetrics, SimError> {
    #[cfg(target_arch = "x86_64")]
    if avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { measure_avx2(circ, clock, samples) };
    }
    measure_baseline(circ, clock, samples)
}

#[inline(never)]
fn measure_baseline(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
) -> Result<BeatMetrics, SimError> {
    check_physical(samples)?;
    Ok(beat_metrics(circ, clock, samples))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn measure_avx2(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
) -> Result<BeatMetrics, SimError> {
    check_physical(samples)?;
    Ok(beat_metrics(circ, clock, samples))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::devices::{Catalogue, Position, Pump};
    use crate::physiology::presets;
    use crate::solver::{FastDopri5, SolverSettings};

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
            FastDopri5::new(SolverSettings::default()),
            FastDopri5::new(SolverSettings::default()),
        );
        let (mut y_a, mut y_b) = (circ.initial_state(), circ.initial_state());
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
            let m_a = measure_baseline(&circ, &clock, &a).expect("sound beat");
            // SAFETY: the CPU has AVX2.
            let m_b = unsafe { measure_avx2(&circ, &clock, &b) }.expect("sound beat");
            let mbits =
                |m: &BeatMetrics| m.values().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(mbits(&m_a), mbits(&m_b));
            t += clock.period;
        }
        assert_eq!(y_a, y_b);
    }
}

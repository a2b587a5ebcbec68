//! Numerical integration behind a small trait, so other steppers can sit beside the reference.
//!
//! The reference path is ode_solvers' Dopri5 (Dormand–Prince 5(4), adaptive step, dense
//! output); the fast path ([`FastRk`]) is written for the model, with Tsitouras's 5(4) pair by
//! default or Dormand–Prince's. Tolerances are documented in docs/model.md.

mod dopri5;
mod fast;
#[cfg(test)]
mod test_systems;

pub use dopri5::Dopri5Integrator;
pub use fast::{DormandPrince, FastDopri5, FastRk, FastTsit5, Pair, Tsitouras};

use crate::physiology::State;
use thiserror::Error;

/// A system dy/dt = f(t, y) on the model's state vector.
pub trait OdeSystem {
    /// Writes f(t, y) into `dy`; must not allocate.
    fn rhs(&self, t: f64, y: &State, dy: &mut State);

    /// Writes the system's switching functions g_i(t, y) into `g` and returns how many there
    /// are: f is smooth while none of them changes sign (a valve opening or closing, an
    /// activation onset). An integrator that uses them ends its step at a sign change instead
    /// of stepping across the kink. Default: none.
    fn switching(&self, _t: f64, _y: &State, _g: &mut Switches) -> usize {
        0
    }

    /// Largest first step, s, after switch `i` has been crossed, or at the start of an
    /// integration call when `switch` is `None`. Where f is continuous but its derivatives
    /// are not bounded (an activation rising as t^m, 1 < m < 2, from its onset) the embedded
    /// error estimate of a long step is not to be trusted, so the integrator restarts small
    /// and lets the controller grow the step. Default: no limit.
    fn step_after(&self, _switch: Option<usize>) -> f64 {
        f64::INFINITY
    }

    /// f with the system's piecewise laws held on `branches` (bit i set: the law of switching
    /// function i's positive side, else of its other side), whichever side the state is on:
    /// the smooth continuation of f past a switch. An integrator that locates switches holds
    /// the branches through a step, so that no stage of it sees a kink, even a stage that
    /// overshoots a switch the step itself does not reach, and takes the state at a switch
    /// from the step's continuous extension. A system that reports switching functions must
    /// hold all of them here; the default, f itself, is right only for one that reports none.
    fn rhs_on(&self, t: f64, y: &State, _branches: Branches, dy: &mut State) {
        self.rhs(t, y, dy);
    }

    /// [`OdeSystem::rhs`] (or [`OdeSystem::rhs_on`] with `branches`) and
    /// [`OdeSystem::switching`] at one point, for systems that share work between them (the
    /// model computes its pressures once for both).
    fn rhs_switching(
        &self,
        t: f64,
        y: &State,
        branches: Option<Branches>,
        dy: &mut State,
        g: &mut Switches,
    ) -> usize {
        match branches {
            Some(b) => self.rhs_on(t, y, b, dy),
            None => self.rhs(t, y, dy),
        }
        self.switching(t, y, g)
    }
}

/// Branches of a system's piecewise laws, one bit per switching function (see
/// [`OdeSystem::rhs_on`]).
pub type Branches = u32;

/// The branches the signs of the first `n` switching functions `g` select.
#[inline]
pub(crate) fn branches_of(g: &Switches, n: usize) -> Branches {
    (0..n).fold(0, |b, i| b | (u32::from(g[i] > 0.0) << i))
}

/// Most switching functions a system may report.
pub const MAX_SWITCHES: usize = 8;

/// Values of a system's switching functions (the first `n` are used).
pub type Switches = [f64; MAX_SWITCHES];

/// One output sample: time (s) and state.
pub type Sample = (f64, State);

/// Error of sampled trajectory `got` against `exact` on the same time grid: the largest, over
/// the states, of max_k |y_k − y_ref,k| / max_k |y_ref,k| (states that stay 0 in `exact`,
/// such as an absent pump's flow, are skipped). The accuracy measure of docs/benchmarks.md.
pub fn trajectory_error(got: &[Sample], exact: &[Sample]) -> f64 {
    assert_eq!(got.len(), exact.len(), "both trajectories sample one grid");
    (0..crate::physiology::N_STATES)
        .filter_map(|i| {
            let scale = exact.iter().map(|s| s.1[i].abs()).fold(0.0, f64::max);
            let diff = got
                .iter()
                .zip(exact)
                .map(|(a, b)| (a.1[i] - b.1[i]).abs())
                .fold(0.0, f64::max);
            (scale > 0.0).then(|| diff / scale)
        })
        .fold(0.0, f64::max)
}

/// Which integrator a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// [`FastTsit5`]: the fast path (hand-written, locates valve switches) with Tsitouras's
    /// 5(4) pair.
    #[default]
    Tsit5,
    /// [`FastDopri5`]: the fast path with Dormand–Prince's 5(4) pair.
    Dopri5Fast,
    /// [`Dopri5Integrator`]: ode_solvers' Dopri5, the reference path.
    Reference,
}

impl Method {
    /// Scenario names (`solver.method`), in the order of the variants.
    pub const NAMES: [&'static str; 3] = ["tsit5", "dopri5-fast", "dopri5"];

    /// Its scenario name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The method a scenario name stands for.
    pub fn from_name(name: &str) -> Option<Method> {
        [Method::Tsit5, Method::Dopri5Fast, Method::Reference]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Default rtol = atol: one at which this method's error on the last beat stays within
    /// 1e-5 on every preset, device and regurgitation combination tested, with a margin
    /// (docs/benchmarks.md). The reference path steps across the valves' kinks and needs a
    /// hundredfold tighter tolerance for it.
    pub fn default_tolerance(self) -> f64 {
        match self {
            Method::Tsit5 | Method::Dopri5Fast => 1e-7,
            Method::Reference => 1e-9,
        }
    }
}

/// Tolerances and limits shared by all integrators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverSettings {
    /// Integrator a run uses ([`Solver::new`]).
    pub method: Method,
    /// Relative tolerance of the local error estimate.
    pub rtol: f64,
    /// Absolute tolerance (mL for volumes, mL/s for flows).
    pub atol: f64,
    /// Largest step, s.
    pub h_max: f64,
}

impl SolverSettings {
    /// Defaults for `method`, with its default tolerance.
    pub fn for_method(method: Method) -> Self {
        let tol = method.default_tolerance();
        SolverSettings {
            method,
            rtol: tol,
            atol: tol,
            h_max: 0.02,
        }
    }
}

impl Default for SolverSettings {
    fn default() -> Self {
        Self::for_method(Method::default())
    }
}

/// Work counters, summed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolverStats {
    /// Right-hand-side evaluations.
    pub rhs_evaluations: u64,
    /// Steps whose error estimate passed.
    pub accepted_steps: u64,
    /// Steps redone with a smaller step.
    pub rejected_steps: u64,
    /// Evaluations of the switching functions on their own (integrators that locate switches).
    pub switching_evaluations: u64,
}

/// Why an integration failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SolverError {
    /// The integrator gave up (step too small, too many steps, non-finite state).
    #[error("integrator {method} failed at t = {t:.4} s: {reason}")]
    Failed {
        /// Integrator name.
        method: &'static str,
        /// Time, s.
        t: f64,
        /// What went wrong.
        reason: String,
    },
    #[error(
        "integrator {method} returned {got} samples on [{t0:.4}, {t1:.4}] s, expected {expected}"
    )]
    /// The interval's samples are not all there.
    MissingSamples {
        /// Integrator name.
        method: &'static str,
        /// Interval start, s.
        t0: f64,
        /// Interval end, s.
        t1: f64,
        /// Samples returned.
        got: usize,
        /// Samples asked for.
        expected: usize,
    },
}

/// The contract of [`Integrator::integrate`] on its interval: t1 > t0 and at least one
/// sample interval. Every integrator checks it first, so bad calls fail alike.
fn check_interval(method: &'static str, t0: f64, t1: f64, n: usize) -> Result<(), SolverError> {
    if n == 0 || t1.partial_cmp(&t0) != Some(std::cmp::Ordering::Greater) {
        return Err(SolverError::Failed {
            method,
            t: t0,
            reason: format!("needs t1 > t0 and at least one sample interval (t1 = {t1}, n = {n})"),
        });
    }
    Ok(())
}

/// An ODE integrator.
pub trait Integrator {
    /// Short name for provenance ("dopri5").
    fn name(&self) -> &'static str;

    /// Integrates from `t0` to `t1`, appending `n + 1` samples at t0 + k·(t1 − t0)/n
    /// (both ends included) to `out`, and returns the state at `t1`.
    fn integrate<S: OdeSystem>(
        &mut self,
        sys: &S,
        t0: f64,
        t1: f64,
        y0: &State,
        n: usize,
        out: &mut Vec<Sample>,
    ) -> Result<State, SolverError>;

    /// Work done so far.
    fn stats(&self) -> SolverStats;

    /// Settings in use.
    fn settings(&self) -> SolverSettings;
}

/// A borrowed integrator integrates as the integrator does (so a caller can read its
/// statistics after a run that took it by value).
impl<I: Integrator> Integrator for &mut I {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    #[inline(always)]
    fn integrate<S: OdeSystem>(
        &mut self,
        sys: &S,
        t0: f64,
        t1: f64,
        y0: &State,
        n: usize,
        out: &mut Vec<Sample>,
    ) -> Result<State, SolverError> {
        (**self).integrate(sys, t0, t1, y0, n, out)
    }

    fn stats(&self) -> SolverStats {
        (**self).stats()
    }

    fn settings(&self) -> SolverSettings {
        (**self).settings()
    }
}

/// The integrator a scenario's `solver.method` names, chosen at run time. Dispatch costs one
/// branch per integrated interval (a beat or a segment of one); `integrate` is inlined so that
/// the chosen integrator runs inside the kernel's copy for this CPU.
#[derive(Debug, Clone)]
pub enum Solver {
    /// [`Method::Tsit5`].
    Tsit5(FastTsit5),
    /// [`Method::Dopri5Fast`].
    Dopri5Fast(FastDopri5),
    /// [`Method::Reference`].
    Reference(Dopri5Integrator),
}

impl Solver {
    /// The integrator `settings.method` names.
    pub fn new(settings: SolverSettings) -> Self {
        match settings.method {
            Method::Tsit5 => Solver::Tsit5(FastTsit5::new(settings)),
            Method::Dopri5Fast => Solver::Dopri5Fast(FastDopri5::new(settings)),
            Method::Reference => Solver::Reference(Dopri5Integrator::new(settings)),
        }
    }
}

impl Integrator for Solver {
    fn name(&self) -> &'static str {
        match self {
            Solver::Tsit5(i) => i.name(),
            Solver::Dopri5Fast(i) => i.name(),
            Solver::Reference(i) => i.name(),
        }
    }

    #[inline(always)]
    fn integrate<S: OdeSystem>(
        &mut self,
        sys: &S,
        t0: f64,
        t1: f64,
        y0: &State,
        n: usize,
        out: &mut Vec<Sample>,
    ) -> Result<State, SolverError> {
        match self {
            Solver::Tsit5(i) => i.integrate(sys, t0, t1, y0, n, out),
            Solver::Dopri5Fast(i) => i.integrate(sys, t0, t1, y0, n, out),
            Solver::Reference(i) => i.integrate(sys, t0, t1, y0, n, out),
        }
    }

    fn stats(&self) -> SolverStats {
        match self {
            Solver::Tsit5(i) => i.stats(),
            Solver::Dopri5Fast(i) => i.stats(),
            Solver::Reference(i) => i.stats(),
        }
    }

    fn settings(&self) -> SolverSettings {
        match self {
            Solver::Tsit5(i) => i.settings(),
            Solver::Dopri5Fast(i) => i.settings(),
            Solver::Reference(i) => i.settings(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_systems::Oscillator;
    use super::*;

    /// Both paths on the grid, call after call (the second call starts where the first ended,
    /// with the fast path's carried step).
    fn matches_the_oscillator<I: Integrator>(mut integ: I) {
        let mut y = State::zeros();
        y[0] = 1.0;
        for (t0, t1) in [(0.0, 2.0), (2.0, 5.0)] {
            let mut out = Vec::new();
            y = integ
                .integrate(&Oscillator, t0, t1, &y, 200, &mut out)
                .unwrap();
            assert_eq!(out.len(), 201);
            assert_eq!(out[0].0, t0);
            assert_eq!(out[200].0, t1);
            for (t, s) in &out {
                assert!((s[0] - t.cos()).abs() < 1e-8, "{}: t={t}", integ.name());
            }
            assert!((y[0] - t1.cos()).abs() < 1e-9);
        }
        assert!(integ.stats().accepted_steps > 0);
    }

    #[test]
    fn both_paths_match_an_analytic_solution_on_the_grid() {
        let settings = SolverSettings {
            rtol: 1e-10,
            atol: 1e-10,
            h_max: 0.1,
            ..SolverSettings::default()
        };
        matches_the_oscillator(Dopri5Integrator::new(settings));
        matches_the_oscillator(FastTsit5::new(settings));
        matches_the_oscillator(FastDopri5::new(settings));
    }

    /// Both paths refuse an empty or backward interval, and no sample interval, alike.
    fn refuses_bad_intervals<I: Integrator>(mut integ: I) {
        let y = State::zeros();
        for (t0, t1, n) in [
            (0.0, 1.0, 0),
            (1.0, 1.0, 10),
            (2.0, 1.0, 10),
            (0.0, f64::NAN, 10),
        ] {
            let mut out = Vec::new();
            let err = integ
                .integrate(&Oscillator, t0, t1, &y, n, &mut out)
                .unwrap_err();
            assert!(
                err.to_string().contains("needs t1 > t0"),
                "{}: {err}",
                integ.name()
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn both_paths_refuse_bad_intervals() {
        refuses_bad_intervals(Dopri5Integrator::new(SolverSettings::default()));
        refuses_bad_intervals(FastTsit5::new(SolverSettings::default()));
        refuses_bad_intervals(FastDopri5::new(SolverSettings::default()));
    }

    #[test]
    fn method_names_round_trip() {
        for m in [Method::Tsit5, Method::Dopri5Fast, Method::Reference] {
            assert_eq!(Method::from_name(m.name()), Some(m));
        }
        assert_eq!(Method::from_name("rk4"), None);
    }
}

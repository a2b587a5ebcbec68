//! Numerical integration behind a small trait, so other steppers can sit beside the reference.
//!
//! The reference path is ode_solvers' Dopri5 (Dormand–Prince 5(4), adaptive step, dense
//! output). Tolerances are documented in docs/model.md.

mod dopri5;

pub use dopri5::Dopri5Integrator;

use crate::physiology::State;
use thiserror::Error;

/// A system dy/dt = f(t, y) on the model's state vector.
pub trait OdeSystem {
    /// Writes f(t, y) into `dy`; must not allocate.
    fn rhs(&self, t: f64, y: &State, dy: &mut State);
}

/// One output sample: time (s) and state.
pub type Sample = (f64, State);

/// Tolerances and limits shared by all integrators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverSettings {
    /// Relative tolerance of the local error estimate.
    pub rtol: f64,
    /// Absolute tolerance (mL for volumes, mL/s for flows).
    pub atol: f64,
    /// Largest step, s.
    pub h_max: f64,
}

impl Default for SolverSettings {
    fn default() -> Self {
        SolverSettings {
            rtol: 1e-7,
            atol: 1e-7,
            h_max: 0.01,
        }
    }
}

/// Work counters, summed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolverStats {
    pub rhs_evaluations: u64,
    pub accepted_steps: u64,
    pub rejected_steps: u64,
}

/// Why an integration failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SolverError {
    #[error("integrator {method} failed at t = {t:.4} s: {reason}")]
    Failed {
        method: &'static str,
        t: f64,
        reason: String,
    },
    #[error(
        "integrator {method} returned {got} samples on [{t0:.4}, {t1:.4}] s, expected {expected}"
    )]
    MissingSamples {
        method: &'static str,
        t0: f64,
        t1: f64,
        got: usize,
        expected: usize,
    },
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

//! The benchmark cases and tolerances, shared by `benches/solver.rs` and
//! `examples/accuracy.rs`. Method: docs/benchmarks.md.
#![allow(dead_code)] // each of the two users needs a different part

use impella_sim::devices::{Catalogue, Position, Pump};
use impella_sim::engine::{run_model, RunResult, RunSettings};
use impella_sim::physiology::{presets, Circulation};
use impella_sim::solver::{trajectory_error, Dopri5Integrator, Sample, SolverSettings};

/// One simulated minute at HR 75.
pub const BEATS: usize = 75;

/// Accuracy every benchmarked configuration must reach (see [`last_beat_error`]).
pub const TARGET_ERROR: f64 = 1e-5;

/// rtol = atol of the reference path: the loosest tolerance on the grid of
/// `examples/accuracy.rs` from which on the one-minute runs, with and without pump, have an
/// error ≤ [`TARGET_ERROR`].
pub const TOL_REFERENCE: f64 = 2e-8;
/// The same for the fast path.
pub const TOL_FAST: f64 = 5e-6;

/// rtol = atol of the tight-tolerance runs that stand in for the exact solution.
pub const TOL_TIGHT: f64 = 1e-12;

/// The normal adult at HR 75, alone or with an Impella CP at P8, correctly placed.
pub fn model(pump: bool) -> Circulation {
    let mut p = presets::normal();
    p.heart.hr = 75.0;
    // The beat kernel: open loop. With the baroreflex on, a run first finds the resting
    // state and the reflex rebuilds the model each beat while it settles: measured apart
    // (docs/benchmarks.md, "Baroreflex").
    p.reflex.gain = 0.0;
    let c = Circulation::new(p);
    if !pump {
        return c;
    }
    let catalogue = Catalogue::builtin();
    let cp = Pump::new(
        catalogue.get("cp").expect("built-in CP"),
        8,
        Position::Correct,
    )
    .expect("CP has P8");
    c.with_pump(cp).expect("one left-sided pump")
}

/// [`BEATS`] beats from static equilibrium, 1 ms samples, only the last beats kept.
pub fn minute_settings() -> RunSettings {
    RunSettings {
        steady_state: false,
        max_beats: BEATS,
        keep_all_samples: false,
        sample_interval: 1e-3,
        ..RunSettings::default()
    }
}

/// Solver settings with rtol = atol = `tol` and the default largest step.
pub fn tolerance(tol: f64) -> SolverSettings {
    SolverSettings {
        rtol: tol,
        atol: tol,
        ..SolverSettings::default()
    }
}

/// One simulated minute of `circ` with `integrator`, end to end (beat metrics included).
pub fn minute<I: impella_sim::solver::Integrator>(
    circ: Circulation,
    integrator: &mut I,
) -> RunResult {
    run_model(circ, &minute_settings(), integrator).expect("the benchmark model runs")
}

/// The tight-tolerance run of the reference path that errors are measured against.
pub fn exact_minute(pump: bool) -> RunResult {
    minute(
        model(pump),
        &mut Dopri5Integrator::new(tolerance(TOL_TIGHT)),
    )
}

/// Samples of a run's last beat.
pub fn last_beat(r: &RunResult) -> &[Sample] {
    &r.beats.last().expect("at least one beat").samples
}

/// Error of a run's last beat against the tight run's ([`trajectory_error`]).
pub fn last_beat_error(run: &RunResult, exact: &RunResult) -> f64 {
    trajectory_error(last_beat(run), last_beat(exact))
}

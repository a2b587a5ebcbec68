//! The fast path (with either of its pairs) and the reference path (ode_solvers) solve the
//! same model: on cases across the presets and devices, each stays within the stated error
//! (1e-5, docs/benchmarks.md) of a tight-tolerance run at its default tolerance, and the
//! default fast path and the reference within twice that of each other.

mod common;

use impella_sim::devices::Position;
use impella_sim::engine::{run_model, RunResult, RunSettings};
use impella_sim::physiology::{presets, Circulation};
use impella_sim::solver::{
    trajectory_error, Dopri5Integrator, FastDopri5, FastTsit5, Integrator, Method, SolverSettings,
};

/// Error both paths must reach on the last beat.
const STATED_ERROR: f64 = 1e-5;
/// Tolerance of the run standing in for the exact solution.
const TIGHT_TOL: f64 = 1e-11;

/// (preset, devices as (model, P-level), organic mitral regurgitant area in cm²).
type Case = (&'static str, &'static [(&'static str, u8)], f64);

/// `preset` with `devices` and, if `mr_cm2` > 0, an organic mitral regurgitant orifice of
/// that area.
fn model(preset: &str, devices: &[(&str, u8)], mr_cm2: f64) -> Circulation {
    let devices: Vec<_> = devices
        .iter()
        .map(|&(m, level)| (m, level, Position::Correct))
        .collect();
    let mut p = presets::preset(preset).expect("preset").parameters();
    if mr_cm2 > 0.0 {
        p.mitral.regurgitant_area = mr_cm2;
    }
    common::circulation(p, &devices)
}

fn run<I: Integrator>(circ: &Circulation, integrator: &mut I) -> RunResult {
    let settings = RunSettings {
        steady_state: false,
        max_beats: 20,
        keep_all_samples: false,
        ..RunSettings::default()
    };
    run_model(circ.clone(), &settings, integrator).expect("runs")
}

fn tol(t: f64) -> SolverSettings {
    SolverSettings {
        rtol: t,
        atol: t,
        ..SolverSettings::default()
    }
}

fn last_beat(r: &RunResult) -> &[impella_sim::solver::Sample] {
    &r.beats.last().expect("beats").samples
}

#[test]
fn fast_and_reference_paths_agree_within_the_stated_error() {
    // (preset, devices, organic mitral regurgitation in cm²): the last case is the one whose
    // error follows the tolerance least (docs/benchmarks.md, "Default tolerances").
    let cases: [Case; 6] = [
        ("normal", &[], 0.0),
        ("normal", &[("cp", 8)], 0.0),
        ("scai_c_lv", &[("cp", 8)], 0.0),
        ("scai_e_lv", &[("5.5", 9)], 0.0),
        ("scai_d_biv", &[("cp", 6), ("rp", 8)], 0.0),
        ("normal", &[("cp", 8)], 0.3),
    ];
    for (preset, devices, mr_cm2) in cases {
        let circ = model(preset, devices, mr_cm2);
        let exact = run(&circ, &mut Dopri5Integrator::new(tol(TIGHT_TOL)));
        let fast = run(&circ, &mut FastTsit5::new(SolverSettings::default()));
        let dopri5_fast = run(
            &circ,
            &mut FastDopri5::new(SolverSettings::for_method(Method::Dopri5Fast)),
        );
        let reference = run(
            &circ,
            &mut Dopri5Integrator::new(SolverSettings::for_method(Method::Reference)),
        );
        let e_fast = trajectory_error(last_beat(&fast), last_beat(&exact));
        let e_dopri5_fast = trajectory_error(last_beat(&dopri5_fast), last_beat(&exact));
        let e_ref = trajectory_error(last_beat(&reference), last_beat(&exact));
        let e_between = trajectory_error(last_beat(&fast), last_beat(&reference));
        assert!(
            e_fast <= STATED_ERROR
                && e_dopri5_fast <= STATED_ERROR
                && e_ref <= STATED_ERROR
                && e_between <= 2.0 * STATED_ERROR,
            "{preset} {devices:?} MR {mr_cm2}: fast {e_fast:.1e}, dopri5-fast \
             {e_dopri5_fast:.1e}, reference {e_ref:.1e}, between {e_between:.1e}"
        );
    }
}

#[test]
fn the_fast_paths_error_follows_its_tolerance() {
    // Every stage of a step holds the valve laws' branches, so the error is a small multiple
    // of the tolerance; stages that saw a valve shut the step did not reach made it 10-25x,
    // and a closed regurgitant branch continued past ΔP = 0 by a mere tangent 13x
    // (docs/benchmarks.md, session 5).
    for (devices, mr_cm2) in [
        (&[][..], 0.0),
        (&[("cp", 8)][..], 0.0),
        (&[("cp", 8)][..], 0.3),
    ] {
        let circ = model("normal", devices, mr_cm2);
        let exact = run(&circ, &mut Dopri5Integrator::new(tol(TIGHT_TOL)));
        for t in [1e-6, 2e-6, 5e-6] {
            let fast = run(&circ, &mut FastTsit5::new(tol(t)));
            let e = trajectory_error(last_beat(&fast), last_beat(&exact));
            assert!(
                e <= 2.5 * t,
                "{devices:?} MR {mr_cm2} at {t:e}: error {e:.1e}"
            );
        }
    }
}

#[test]
fn the_fast_path_steps_past_a_valve_opening_without_rejections() {
    // An opening aortic or pulmonary valve adds a fast mode the step carried from before does
    // not resolve: that step was rejected twice at every opening (about five rejections a
    // beat). The step taken after the same crossing a beat earlier is now tried first.
    for devices in [&[][..], &[("cp", 8)][..]] {
        let circ = model("normal", devices, 0.0);
        let mut fast = FastTsit5::new(SolverSettings::for_method(Method::Tsit5));
        let r = run(&circ, &mut fast);
        let rejected = fast.stats().rejected_steps as f64 / r.beats.len() as f64;
        assert!(
            rejected < 1.0,
            "{devices:?}: {rejected} rejected steps a beat"
        );
    }
}

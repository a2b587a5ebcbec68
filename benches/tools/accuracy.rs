//! Error and speed of the integrators against tolerance, for the one-minute benchmark runs
//! (normal adult at HR 75, with and without an Impella CP at P8): the scan that chose the
//! tolerances the benchmarks use. Run: `cargo run --release --example accuracy`.
//! Method: docs/benchmarks.md.

#[path = "../common/mod.rs"]
mod common;

use std::time::Instant;

use common::{exact_minute, last_beat_error, minute, model, tolerance, BEATS, TARGET_ERROR};
use impella_sim::engine::RunResult;
use impella_sim::physiology::Slot;
use impella_sim::solver::{Dopri5Integrator, FastDopri5, FastTsit5, Integrator, SolverSettings};

/// rtol = atol grid, 1-2-5 per decade.
const GRID: [f64; 13] = [
    1e-5, 5e-6, 2e-6, 1e-6, 5e-7, 2e-7, 1e-7, 5e-8, 2e-8, 1e-8, 5e-9, 2e-9, 1e-9,
];

/// One path at one tolerance: error and work of a one-minute run, best time of three.
fn measure<I: Integrator>(
    pump: bool,
    tol: f64,
    exact: &RunResult,
    make: impl Fn(SolverSettings) -> I,
) -> f64 {
    let circ = model(pump);
    let mut best_s = f64::INFINITY;
    let mut last = None;
    for _ in 0..3 {
        let mut integrator = make(tolerance(tol));
        let start = Instant::now();
        let run = minute(circ.clone(), &mut integrator);
        best_s = best_s.min(start.elapsed().as_secs_f64());
        last = Some((run, integrator.stats(), integrator.name()));
    }
    let (run, stats, name) = last.expect("three runs");
    let error = last_beat_error(&run, exact);
    let per_beat = |n: u64| n as f64 / BEATS as f64;
    println!(
        "{name:12} {:9} {tol:7.0e} {:9.0} {error:9.2e} {:9.0} {:9.1} {:9.1} {:9.1}",
        if pump { "CP P8" } else { "none" },
        BEATS as f64 / best_s,
        per_beat(stats.rhs_evaluations),
        per_beat(stats.accepted_steps),
        per_beat(stats.rejected_steps),
        per_beat(stats.switching_evaluations),
    );
    error
}

fn main() {
    println!(
        "{:12} {:9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "path", "pump", "tol", "beats/s", "error", "rhs/beat", "acc/beat", "rej/beat", "sw/beat"
    );
    // errors[path][pump][grid index]
    let mut errors = [[[0.0; GRID.len()]; 2]; 3];
    for (p, pump) in [false, true].into_iter().enumerate() {
        let exact = exact_minute(pump);
        if !pump {
            // The same figures benches/scipy_compare.py prints for its own tight run.
            let beat = common::last_beat(&exact);
            let range = |i: usize| {
                let v = beat.iter().map(|s| s.1[i]);
                (
                    v.clone().fold(f64::MAX, f64::min),
                    v.fold(f64::MIN, f64::max),
                )
            };
            let ((lv0, lv1), (ao0, ao1)) = (range(Slot::VLv.i()), range(Slot::VAo.i()));
            println!(
                "tight run, last beat: LV volume {lv0:.6} .. {lv1:.6} mL, \
                 aortic volume {ao0:.6} .. {ao1:.6} mL"
            );
        }
        for (g, &tol) in GRID.iter().enumerate() {
            errors[0][p][g] = measure(pump, tol, &exact, Dopri5Integrator::new);
            errors[1][p][g] = measure(pump, tol, &exact, FastDopri5::new);
            errors[2][p][g] = measure(pump, tol, &exact, FastTsit5::new);
        }
    }
    for (path, errs) in ["dopri5", "dopri5-fast", "tsit5"].iter().zip(&errors) {
        // The loosest tolerance from which on every tighter one also meets the target in
        // both cases: the error is not monotone in the tolerance (docs/benchmarks.md).
        let ok = |g: usize| errs.iter().all(|e| e[g] <= TARGET_ERROR);
        let chosen = (0..GRID.len()).find(|&g| (g..GRID.len()).all(ok));
        match chosen {
            Some(g) => println!(
                "{path}: error ≤ {TARGET_ERROR:.0e} from tol {:.0e}",
                GRID[g]
            ),
            None => println!("{path}: no grid tolerance reaches {TARGET_ERROR:.0e}"),
        }
    }
}

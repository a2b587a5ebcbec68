//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use impella_sim::analysis::BeatMetrics;
use impella_sim::physiology::Parameters;
use impella_sim::simulation::{run, RunResult, RunSettings};
use impella_sim::solver::{FastDopri5, SolverSettings};

/// Runs to steady state with default settings, keeping only the report beats' samples.
pub fn steady(params: Parameters) -> RunResult {
    let settings = RunSettings {
        keep_all_samples: false,
        ..RunSettings::default()
    };
    let mut integ = FastDopri5::new(SolverSettings::default());
    let r = run(params, &settings, &mut integ).expect("simulation runs");
    assert!(r.steady.reached, "no steady state: {:?}", r.steady);
    r
}

/// Mean metrics of the steady beats.
pub fn steady_metrics(params: Parameters) -> BeatMetrics {
    steady(params).report
}

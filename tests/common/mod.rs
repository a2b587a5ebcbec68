//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

pub mod pictures;

use impella_sim::analysis::BeatMetrics;
use impella_sim::devices::{Catalogue, Position, Pump};
use impella_sim::engine::{run, RunResult, RunSettings};
use impella_sim::physiology::{Circulation, Parameters};
use impella_sim::solver::{FastTsit5, SolverSettings};

/// Runs to steady state with default settings, keeping only the report beats' samples.
pub fn steady(params: Parameters) -> RunResult {
    let settings = RunSettings {
        keep_all_samples: false,
        ..RunSettings::default()
    };
    let mut integ = FastTsit5::new(SolverSettings::default());
    let r = run(params, &settings, &mut integ).expect("simulation runs");
    assert!(r.steady.reached, "no steady state: {:?}", r.steady);
    r
}

/// Mean metrics of the steady beats.
pub fn steady_metrics(params: Parameters) -> BeatMetrics {
    steady(params).report
}

/// `p` with built-in devices coupled: (model, P-level, position) each.
pub fn circulation(p: Parameters, devices: &[(&str, u8, Position)]) -> Circulation {
    let cat = Catalogue::builtin();
    devices
        .iter()
        .fold(Circulation::new(p), |m, &(id, level, pos)| {
            m.with_pump(Pump::new(cat.get(id).expect("device"), level, pos).expect("level"))
                .expect("coupling")
        })
}

//! The three largest eigenvalues (by modulus) of the right-hand side's Jacobian every 25 ms
//! over the last beat of the one-minute benchmark run (finite differences), to tell a
//! stability-bound step from an accuracy-bound one (docs/benchmarks.md):
//!
//!     cargo run --release --example eigenvalues [nopump]

#[path = "../common/mod.rs"]
mod common;

use impella_sim::physiology::{State, N_STATES};
use impella_sim::solver::FastTsit5;
use nalgebra::SMatrix;

fn main() {
    let pump = std::env::args().nth(1).as_deref() != Some("nopump");
    let model = common::model(pump);
    let run = common::minute(model.clone(), &mut FastTsit5::new(common::tolerance(1e-8)));
    let beat = run.beats.last().expect("a minute has beats");
    let clock = beat.clock;
    println!("t after onset (s), largest eigenvalues (1/s)");
    for (t, y) in beat.samples.iter().step_by(25) {
        let mut f0 = State::zeros();
        model.rhs(&clock, *t, y, &mut f0);
        let mut jacobian = SMatrix::<f64, N_STATES, N_STATES>::zeros();
        for i in 0..N_STATES {
            let mut y1 = *y;
            let d = 1e-6 * (1.0 + y[i].abs());
            y1[i] += d;
            let mut f1 = State::zeros();
            model.rhs(&clock, *t, &y1, &mut f1);
            jacobian.set_column(i, &((f1 - f0) / d));
        }
        let mut ev: Vec<_> = jacobian.complex_eigenvalues().iter().copied().collect();
        ev.sort_by(|a, b| b.norm().total_cmp(&a.norm()));
        let top: Vec<String> = ev
            .iter()
            .take(3)
            .map(|c| format!("{:7.0}{:+5.0}i", c.re, c.im))
            .collect();
        println!("{:.3}  {}", t - clock.t_start, top.join("  "));
    }
}

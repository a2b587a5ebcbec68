//! One simulated minute (the benchmark model with or without a CP at P8, fast path at the
//! benchmark tolerance), best wall time of 30 runs, in beats/s, then the median and the
//! slowest. For comparing two builds side by side, alternating runs, where criterion
//! compares against a baseline saved earlier; the best is the figure to compare, as this
//! VM runs at two speeds in stretches (docs/benchmarks.md) and the median says which
//! phase the runs met:
//!
//!     cargo run --release --example minute [nopump]
//!
//! docs/benchmarks.md records what it measured.
#[path = "../common/mod.rs"]
mod common;

use std::time::Instant;

use impella_sim::engine::run_model;
use impella_sim::solver::FastTsit5;

fn main() {
    let pump = std::env::args().nth(1).as_deref() != Some("nopump");
    let model = common::model(pump);
    let mut times = Vec::with_capacity(30);
    for _ in 0..30 {
        let circ = model.clone();
        let t0 = Instant::now();
        let run = run_model(
            circ,
            &common::minute_settings(),
            &mut FastTsit5::new(common::tolerance(common::TOL_FAST)),
        )
        .expect("the benchmark model runs");
        times.push(t0.elapsed().as_secs_f64());
        std::hint::black_box(run);
    }
    times.sort_by(f64::total_cmp);
    let rate = |s: f64| (common::BEATS as f64 / s).round();
    println!(
        "{} beats/s end to end ({}, best of 30; median {}, slowest {})",
        rate(times[0]),
        if pump { "CP P8" } else { "no pump" },
        rate(times[15]),
        rate(times[29]),
    );
}

//! Where the fast path's error comes from: for each tolerance given, the one-minute runs of
//! the benchmark model (without and with a CP at P8) against the tight reference, with the
//! state and the time within the last beat where the error is largest, and the work per beat.
//! The figures of "The global error follows the tolerance only loosely" in
//! docs/benchmarks.md:
//!
//!     cargo run --release --example error_profile -- 1e-6 1.2e-6 2e-6 3e-6

#[path = "../common/mod.rs"]
mod common;

use common::{exact_minute, last_beat, minute, model, tolerance, BEATS};
use impella_sim::physiology::{Slot, N_STATES};
use impella_sim::solver::{FastTsit5, Integrator};

fn main() {
    let tols: Vec<f64> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("tolerances are numbers"))
        .collect();
    for pump in [false, true] {
        let exact = exact_minute(pump);
        let reference = last_beat(&exact);
        for &tol in &tols {
            let mut fast = FastTsit5::new(tolerance(tol));
            let run = minute(model(pump), &mut fast);
            let beat = last_beat(&run);
            // (state, error relative to the state's largest magnitude, sample index)
            let mut worst = (0, 0.0, 0);
            for i in 0..N_STATES {
                let scale = reference.iter().map(|s| s.1[i].abs()).fold(0.0, f64::max);
                for (k, (got, want)) in beat.iter().zip(reference).enumerate() {
                    let e = (got.1[i] - want.1[i]).abs() / scale;
                    if e > worst.1 {
                        worst = (i, e, k);
                    }
                }
            }
            let st = fast.stats();
            let per_beat = |n: u64| n as f64 / BEATS as f64;
            println!(
                "{:7} tol {tol:7.1e}  error {:.2e} in {} at sample {} of the last beat  \
                 rhs/beat {:.0}  accepted {:.0}  rejected {:.0}",
                if pump { "CP P8" } else { "no pump" },
                worst.1,
                Slot::ALL[worst.0].name(),
                worst.2,
                per_beat(st.rhs_evaluations),
                per_beat(st.accepted_steps),
                per_beat(st.rejected_steps),
            );
        }
    }
}

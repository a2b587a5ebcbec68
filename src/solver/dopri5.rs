//! The reference integrator: ode_solvers' Dopri5 with dense output.

use ode_solvers::dopri5::Dopri5;
use ode_solvers::{OutputType, System};

use super::{Integrator, OdeSystem, Sample, SolverError, SolverSettings, SolverStats};
use crate::physiology::State;

/// ode_solvers::Dopri5 behind [`Integrator`].
#[derive(Debug, Clone)]
pub struct Dopri5Integrator {
    settings: SolverSettings,
    stats: SolverStats,
}

impl Dopri5Integrator {
    /// A fresh integrator with these settings.
    pub fn new(settings: SolverSettings) -> Self {
        Dopri5Integrator {
            settings,
            stats: SolverStats::default(),
        }
    }
}

/// Runs the stepper on local time x = t − t0, so its dense-output grid stays exact on long
/// courses (absolute times of days would cost the grid its last sample to round-off).
struct Adapter<'a, S> {
    sys: &'a S,
    t0: f64,
}

impl<S: OdeSystem> System<f64, State> for Adapter<'_, S> {
    fn system(&self, x: f64, y: &State, dy: &mut State) {
        self.sys.rhs(self.t0 + x, y, dy);
    }
}

impl Integrator for Dopri5Integrator {
    fn name(&self) -> &'static str {
        "dopri5"
    }

    fn integrate<S: OdeSystem>(
        &mut self,
        sys: &S,
        t0: f64,
        t1: f64,
        y0: &State,
        n: usize,
        out: &mut Vec<Sample>,
    ) -> Result<State, SolverError> {
        super::check_interval("dopri5", t0, t1, n)?;
        let s = self.settings;
        let span = t1 - t0;
        let dx = span / n as f64;
        let mut stepper = Dopri5::from_param(
            Adapter { sys, t0 },
            0.0,
            span,
            dx,
            *y0,
            s.rtol,
            s.atol,
            0.9,
            0.04,
            0.2,
            10.0,
            s.h_max,
            0.0,
            100_000,
            1000,
            OutputType::Dense,
        );
        let stats = stepper.integrate().map_err(|e| SolverError::Failed {
            method: "dopri5",
            t: t0,
            reason: format!("{e} (local time from the interval start)"),
        })?;
        self.stats.rhs_evaluations += u64::from(stats.num_eval);
        self.stats.accepted_steps += u64::from(stats.accepted_steps);
        self.stats.rejected_steps += u64::from(stats.rejected_steps);

        let (ts, ys) = (stepper.x_out(), stepper.y_out());
        // Dense output may repeat the end point or round the last grid time; keep the grid.
        let mut got = 0;
        for (k, (x, y)) in ts.iter().zip(ys).enumerate().take(n + 1) {
            let x_grid = k as f64 * dx;
            if (x - x_grid).abs() > 1e-9 * (1.0 + span) {
                break;
            }
            // The last sample is the interval's end exactly, so consecutive intervals join.
            let t = if k == n { t1 } else { t0 + x_grid };
            out.push((t, *y));
            got += 1;
        }
        if got != n + 1 {
            return Err(SolverError::MissingSamples {
                method: "dopri5",
                t0,
                t1,
                got,
                expected: n + 1,
            });
        }
        Ok(out.last().expect("n + 1 > 0 samples").1)
    }

    fn stats(&self) -> SolverStats {
        self.stats
    }

    fn settings(&self) -> SolverSettings {
        self.settings
    }
}

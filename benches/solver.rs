//! Solver benchmarks: the right-hand side, one integrator step (a 1 ms sample interval in
//! early ejection), one beat and one simulated minute end to end (75 beats at HR 75, beat
//! metrics included), for the normal adult without and with an Impella CP at P8, on the
//! reference path (ode_solvers' Dopri5) and the fast path ([`FastTsit5`], and [`FastDopri5`]
//! beside it at the benchmark tolerance) in the same run;
//! a 100-case sweep on one and on two threads; and a 20-minute course with events, as `run`
//! runs a scenario's `[course]`. Before measuring, it prints the accuracy
//! each configuration runs at (error against a tight-tolerance run, docs/benchmarks.md).
//! Every group runs the beat kernel's copy for this CPU ([`kernel`]), as `run` does.
//! Run: `cargo bench --bench solver`. Results: docs/benchmarks.md.

mod common;

use std::hint::black_box;

use common::{
    exact_minute, last_beat, last_beat_error, minute, model, tolerance, BEATS, TOL_FAST,
    TOL_REFERENCE, TOL_TIGHT,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use impella_sim::engine::{kernel, BeatSystem, RunResult};
use impella_sim::physiology::activation::BeatClock;
use impella_sim::physiology::{Circulation, State};
use impella_sim::solver::{
    trajectory_error, Branches, Dopri5Integrator, FastDopri5, FastTsit5, Integrator, OdeSystem,
    Sample, SolverSettings, Switches,
};
use impella_sim::sweep::{run_sweep, SweepOptions};

/// The two benchmark cases: (name, with a CP at P8).
const CASES: [(&str, bool); 2] = [("no_pump", false), ("cp_p8", true)];

/// Start of the benchmarked 1 ms interval after the beat's onset, s: early ejection, where
/// the steps are shortest.
const INTERVAL_START_S: f64 = 0.1;

/// The model of a beat without the small first step of a call (see
/// [`OdeSystem::step_after`]), so that a call over a 1 ms interval is one step. Forwards
/// inline, so that the kernel's copy for this CPU holds the right-hand side.
struct NoRestart<'a>(&'a BeatSystem<'a>);

impl OdeSystem for NoRestart<'_> {
    #[inline(always)]
    fn rhs(&self, t: f64, y: &State, dy: &mut State) {
        self.0.rhs(t, y, dy);
    }
    #[inline(always)]
    fn switching(&self, t: f64, y: &State, g: &mut Switches) -> usize {
        self.0.switching(t, y, g)
    }
    #[inline(always)]
    fn rhs_on(&self, t: f64, y: &State, branches: Branches, dy: &mut State) {
        self.0.rhs_on(t, y, branches, dy);
    }
    #[inline(always)]
    fn rhs_switching(
        &self,
        t: f64,
        y: &State,
        branches: Option<Branches>,
        dy: &mut State,
        g: &mut Switches,
    ) -> usize {
        self.0.rhs_switching(t, y, branches, dy, g)
    }
}

/// One benchmark case: its model and the tight run's last beat to start from and compare with.
struct Case {
    name: &'static str,
    circ: Circulation,
    exact: RunResult,
}

impl Case {
    fn clock(&self) -> BeatClock {
        self.exact.beats.last().expect("a beat").clock
    }

    fn beat(&self) -> &[Sample] {
        last_beat(&self.exact)
    }
}

fn cases() -> Vec<Case> {
    CASES
        .iter()
        .map(|&(name, pump)| Case {
            name,
            circ: model(pump),
            exact: exact_minute(pump),
        })
        .collect()
}

fn bench_rhs(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group("rhs");
    for case in cases {
        let (beat, clock) = (case.beat(), case.clock());
        // Evaluations per second: the right-hand side at each sample of a beat.
        group.throughput(Throughput::Elements(beat.len() as u64));
        let sys = BeatSystem {
            circ: &case.circ,
            clock,
        };
        group.bench_function(case.name, |b| {
            let mut dy = State::zeros();
            b.iter(|| {
                for (t, y) in beat {
                    kernel::rhs(&sys, black_box(*t), black_box(y), &mut dy);
                    black_box(&dy);
                }
            })
        });
    }
    group.finish();
}

/// One path in the interval, beat and minute groups.
fn bench_path<I: Integrator>(
    c: &mut Criterion,
    cases: &[Case],
    tol: f64,
    make: impl Fn(SolverSettings) -> I,
) {
    let name = format!("{}@{tol:.0e}", make(tolerance(tol)).name());
    for case in cases {
        let (beat, clock) = (case.beat(), case.clock());
        let sys = BeatSystem {
            circ: &case.circ,
            clock,
        };
        let n = beat.len() - 1;
        let dt = clock.period / n as f64;
        let k0 = (INTERVAL_START_S / dt).round() as usize;
        let (t0, y0) = beat[k0];
        let mut out = Vec::with_capacity(n + 1);

        // Accuracy of each configuration, from the tight run's state at the same time.
        let mut integrator = make(tolerance(tol));
        kernel::integrate(&mut integrator, &sys, t0, t0 + dt, &y0, 1, &mut out).expect("interval");
        let e_interval = trajectory_error(&out, &beat[k0..=k0 + 1]);
        out.clear();
        kernel::integrate(
            &mut integrator,
            &sys,
            clock.t_start,
            clock.t_start + clock.period,
            &beat[0].1,
            n,
            &mut out,
        )
        .expect("beat");
        let e_beat = trajectory_error(&out, beat);
        // One step: the interval once more, on the model without the restart after onsets
        // (the interval has none), with the step the beat ended with.
        let step_sys = NoRestart(&sys);
        let before = integrator.stats();
        out.clear();
        kernel::integrate(&mut integrator, &step_sys, t0, t0 + dt, &y0, 1, &mut out)
            .expect("interval");
        let after = integrator.stats();
        let steps = (after.accepted_steps + after.rejected_steps)
            - (before.accepted_steps + before.rejected_steps);
        let e_minute = last_beat_error(
            &minute(case.circ.clone(), &mut make(tolerance(tol))),
            &case.exact,
        );
        eprintln!(
            "accuracy {name}/{}: tol {tol:.0e}; error 1 ms interval {e_interval:.1e}, \
             one beat {e_beat:.1e}, last beat of one minute {e_minute:.1e}; \
             {steps} steps per 1 ms interval",
            case.name,
        );

        let id = BenchmarkId::new(&name, case.name);
        let mut group = c.benchmark_group("step");
        group.throughput(Throughput::Elements(1));
        group.bench_function(id.clone(), |b| {
            b.iter(|| {
                out.clear();
                kernel::integrate(
                    &mut integrator,
                    &step_sys,
                    t0,
                    t0 + dt,
                    black_box(&y0),
                    1,
                    &mut out,
                )
            })
        });
        group.finish();

        let mut group = c.benchmark_group("beat");
        group.throughput(Throughput::Elements(1));
        group.bench_function(id.clone(), |b| {
            b.iter(|| {
                out.clear();
                let (t, y) = (clock.t_start, black_box(&beat[0].1));
                kernel::integrate(&mut integrator, &sys, t, t + clock.period, y, n, &mut out)
            })
        });
        group.finish();

        let mut group = c.benchmark_group("minute");
        group.sample_size(10);
        group.throughput(Throughput::Elements(BEATS as u64));
        // The model's copy and the integrator are made outside the timed part (the pump's
        // tables make the copy about 1 % of a minute).
        group.bench_function(id, |b| {
            b.iter_batched(
                || (case.circ.clone(), make(tolerance(tol))),
                |(circ, mut integrator)| minute(circ, &mut integrator),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// The shipped 100-case cohort sweep (scenarios/sweeps/cohort_scai_c_lv.toml: 50 patients
/// without and with a CP at P8, each to steady state), on one and on two threads.
fn bench_sweep(c: &mut Criterion) {
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/sweeps/cohort_scai_c_lv.toml");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("sweep_100");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100));
    let mut k = 0;
    for threads in [1, 2] {
        let opts = SweepOptions {
            threads: Some(threads),
            ..SweepOptions::default()
        };
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter(|| {
                k += 1;
                let report = run_sweep(&scenario, &[], &dir.path().join(k.to_string()), &opts)
                    .expect("sweep runs");
                assert_eq!(report.cases_run, 100);
            })
        });
    }
    group.finish();
}

/// A 20-minute course with events, the way `run` runs a scenario with a `[course]`: SCAI C
/// (LV) with a CP at P8, a contractility ramp over minutes 2–12 and a P-level step at
/// minute 15, at the default tolerance (the scenario's). The course rebuilds its model every
/// beat (the ramp changes it), so this is where rebuilding costs show.
fn bench_course(c: &mut Criterion) {
    const SCENARIO: &str = r#"
title = "benchmark course"
[patient]
preset = "scai_c_lv"
[[devices]]
model = "cp"
p_level = 8
[course]
duration = "20 min"
[[events]]
at = "2 min"
do = { ramp = { "lv.ees" = 1.6 }, over = "10 min" }
[[events]]
at = "15 min"
do = { p_level = 6 }
"#;
    let sc = impella_sim::scenario::parse(SCENARIO, None, &[]).expect("benchmark scenario");
    // Its accuracy, measured like the minute's: the last beat against the reference path at
    // the tight tolerance, on the same 1 ms grid.
    let tight = format!(
        "{SCENARIO}[solver]\nmethod = \"dopri5\"\nrtol = {TOL_TIGHT:e}\natol = {TOL_TIGHT:e}\n"
    );
    let tight = impella_sim::scenario::parse(&tight, None, &[]).expect("tight scenario");
    let run = sc.simulate().expect("course runs");
    let exact = tight.simulate().expect("tight course runs");
    // Throughput in beats integrated (fast-forwarded beats, repeated at periodic steady
    // state without integrating, are not counted).
    let skipped: usize = run.beats.iter().map(|b| b.fast_forwarded).sum();
    eprintln!(
        "accuracy course (tsit5, default tol): error, last beat of the course {:.1e}; {} beats \
         integrated, {skipped} fast-forwarded",
        last_beat_error(&run, &exact),
        run.beats.len()
    );
    let mut group = c.benchmark_group("course");
    group.sample_size(10);
    group.throughput(Throughput::Elements(run.beats.len() as u64));
    group.bench_function("scai_c_cp_20min", |b| {
        b.iter(|| black_box(sc.simulate().expect("course runs")))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let cases = cases();
    bench_rhs(c, &cases);
    bench_path(c, &cases, TOL_REFERENCE, Dopri5Integrator::new);
    bench_path(c, &cases, TOL_FAST, FastTsit5::new);
    // The fast path with the reference's pair, for the gain of Tsitouras's.
    bench_path(c, &cases, TOL_FAST, FastDopri5::new);
    // The default (rtol = atol), which meets the target on every preset and device tested
    // (tests/solver_paths.rs).
    bench_path(c, &cases, SolverSettings::default().rtol, FastTsit5::new);
    bench_sweep(c);
    bench_course(c);
}

criterion_group!(solver, benches);
criterion_main!(solver);

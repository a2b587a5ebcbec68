//! Ventricular interdependence through the septum (docs/model.md, "Septum"): off by default
//! and continuous in its switch, physical in every preset when on, the published direction
//! of the effects of LV unloading and RV failure, the interaction gains against the
//! canine measurements, and no allocation in the right-hand side with it on.
//!
//! `cargo test --release --test septum -- --nocapture` prints the measurements.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

mod common;

use impella_sim::devices::Position;
use impella_sim::engine::{run_model, Beat, BeatSystem, RunResult, RunSettings};
use impella_sim::physiology::circulation::total_volume;
use impella_sim::physiology::presets::{self, PRESETS};
use impella_sim::physiology::{Circulation, Parameters, Slot, State};
use impella_sim::solver::{FastTsit5, Integrator, SolverSettings};

/// Counts the allocations of the thread that makes them, so the tests of this binary that
/// run beside the no-allocation test do not count.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `p` with the septum at compliance scale `c` (1 = Smith et al. 2004's septum).
fn septum(mut p: Parameters, c: f64) -> Parameters {
    p.septum.compliance_scale = c;
    p
}

fn preset(name: &str) -> Parameters {
    presets::preset(name).expect("preset").parameters()
}

/// Steady state of a model (devices included), report beats' samples kept.
fn steady_model(circ: Circulation) -> RunResult {
    let settings = RunSettings {
        keep_all_samples: false,
        ..RunSettings::default()
    };
    let mut integ = FastTsit5::new(SolverSettings::default());
    let r = run_model(circ, &settings, &mut integ).expect("simulation runs");
    assert!(r.steady.reached, "no steady state: {:?}", r.steady);
    r
}

/// The last report beat.
fn last_beat(r: &RunResult) -> &Beat {
    r.report_beats().last().expect("a report beat")
}

/// The samples of `beat` at end-diastole (its onset, the R wave, where the ventricles'
/// activation starts from 0) and at end-systole (nearest peak elastance).
fn ed_and_es(beat: &Beat) -> (usize, usize) {
    let t_es = beat.clock.t_start + beat.model.t_end_systole();
    let i_es = (0..beat.samples.len())
        .min_by(|&a, &b| {
            (beat.samples[a].0 - t_es)
                .abs()
                .total_cmp(&(beat.samples[b].0 - t_es).abs())
        })
        .unwrap();
    (0, i_es)
}

/// Interaction gains at sample `i` of `beat`: (L→R, R→L), dP_RV/dP_LV for a change of the
/// LV volume at fixed RV volume and dP_LV/dP_RV for a change of the RV volume, by central
/// differences of ±0.5 mL (the pressures of the model's right-hand side, pericardium
/// included, as an isolated heart's cavities would measure them).
fn gains(beat: &Beat, i: usize) -> (f64, f64) {
    let (t, y) = &beat.samples[i];
    let h = |dl: f64, dr: f64| {
        let mut z: State = *y;
        z[Slot::VLv.i()] += dl;
        z[Slot::VRv.i()] += dr;
        beat.model.hemodynamics(&beat.clock, *t, &z)
    };
    let d = 0.5;
    let (lp, lm) = (h(d, 0.0), h(-d, 0.0));
    let (rp, rm) = (h(0.0, d), h(0.0, -d));
    (
        (lp.p_rv - lm.p_rv) / (lp.p_lv - lm.p_lv),
        (rp.p_lv - rm.p_lv) / (rp.p_rv - rm.p_rv),
    )
}

/// The same gains with the pericardium removed: the septum's share alone.
fn septal_gains(beat: &Beat, i: usize) -> (f64, f64) {
    let mut p = *beat.model.parameters();
    p.pericardium.p0 = 0.0;
    let model = Circulation::new(p);
    let b = Beat {
        model: std::sync::Arc::new(model),
        ..beat.clone()
    };
    gains(&b, i)
}

#[test]
fn the_septum_is_off_by_default_and_off_is_its_rigid_limit() {
    for p in PRESETS {
        assert_eq!(p.parameters().septum.compliance_scale, 0.0, "{}", p.name);
    }
    // A nearly rigid septum gives nearly the model without one: the switch is the limit
    // of the law, not a jump.
    let p = preset("scai_c_lv");
    let off = common::steady_metrics(p);
    let stiff = common::steady_metrics(septum(p, 1e-6));
    let names = impella_sim::analysis::BeatMetrics::NAMES;
    for ((name, a), b) in names.iter().zip(off.values()).zip(stiff.values()) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{name}: {a} off, {b} nearly rigid"
        );
    }
}

#[test]
fn every_preset_runs_physically_with_the_septum_on() {
    for p in PRESETS {
        let params = septum(p.parameters(), 1.0);
        let r = common::steady(params);
        let m = &r.report;
        assert!(m.values().iter().all(|v| v.is_finite()), "{}", p.name);
        for (edv, esv, ef) in [
            (m.lvedv_ml, m.lvesv_ml, m.lvef_pct),
            (m.rvedv_ml, m.rvesv_ml, m.rvef_pct),
        ] {
            assert!(
                esv <= edv && (0.0..=100.0).contains(&ef),
                "{}: {m:?}",
                p.name
            );
        }
        let v_end = total_volume(&r.final_state);
        assert!(
            (v_end - params.blood_volume).abs() < 1e-9 * params.blood_volume,
            "{}: blood volume {v_end}",
            p.name
        );
    }
}

#[test]
fn rv_failure_bows_the_septum_into_the_lv_and_the_lv_helps_the_rv_eject() {
    // RV-dominant shock: in diastole the RV free wall's pressure exceeds the LV's and the
    // septum shifts left (x < 0), so the LV fills less; in systole the LV's pressure pushes
    // the septum right and adds to the RV's (Santamore & Dell'Italia 1998; the LV
    // generates 20-40 % of RV systolic pressure in the dog).
    let p = preset("scai_c_rv");
    let (off, on) = (common::steady(p), common::steady(septum(p, 1.0)));
    let beat = last_beat(&on);
    let (i_ed, i_es) = ed_and_es(beat);
    let x = |i: usize| {
        let (t, y) = &beat.samples[i];
        beat.model.hemodynamics(&beat.clock, *t, y).x_spt
    };
    println!(
        "scai_c_rv, septum on: x at ED {:.2} mL, at ES {:.2} mL",
        x(i_ed),
        x(i_es)
    );
    assert!(x(i_ed) < 0.0 && x(i_es) > 0.0);
    assert!(on.report.lvedv_ml < off.report.lvedv_ml);
    assert!(on.report.rvedv_ml > off.report.rvedv_ml);
    // The RV's peak pressure, with and without the septum, and the LV's part in it to
    // first order: the systolic L→R gain times the LV's developed pressure.
    let rv_peak = |r: &RunResult| {
        let beat = last_beat(r);
        beat.samples
            .iter()
            .map(|(t, y)| beat.model.hemodynamics(&beat.clock, *t, y).p_rv)
            .fold(f64::MIN, f64::max)
    };
    let (peak_off, peak_on) = (rv_peak(&off), rv_peak(&on));
    let (l_to_r, _) = gains(beat, i_es);
    let developed = on.report.lvsp_mmhg - on.report.lvedp_mmhg;
    println!(
        "scai_c_rv: RV peak {peak_off:.1} mmHg without the septum, {peak_on:.1} with; \
         L→R gain {l_to_r:.3} × LV developed pressure {developed:.0} mmHg = {:.1} mmHg \
         ({:.0} % of the RV peak)",
        l_to_r * developed,
        100.0 * l_to_r * developed / peak_on
    );
    assert!(peak_on > peak_off);
}

#[test]
fn lv_unloading_shifts_the_septum_left_and_lets_the_rv_fill() {
    // An Impella CP at P8 in LV-dominant shock unloads the LV: the septum moves left at
    // end-diastole and the RV's end-diastolic volume grows (the mechanism by which LV
    // support can unmask RV failure).
    let p = septum(preset("scai_c_lv"), 1.0);
    let without = steady_model(Circulation::new(p));
    let with = steady_model(common::circulation(p, &[("cp", 8, Position::Correct)]));
    let x_ed = |r: &RunResult| {
        let beat = last_beat(r);
        let (i_ed, _) = ed_and_es(beat);
        let (t, y) = &beat.samples[i_ed];
        beat.model.hemodynamics(&beat.clock, *t, y).x_spt
    };
    let (a, b) = (x_ed(&without), x_ed(&with));
    println!("scai_c_lv, septum on: x at ED {a:.2} mL without pump, {b:.2} mL with CP P8");
    assert!(b < a);
    assert!(with.report.rvedv_ml > without.report.rvedv_ml);
}

#[test]
fn interaction_gains_against_the_canine_measurements() {
    // Systolic L→R gain: 0.035-0.073 in the isolated canine heart (Dickstein, Todaka,
    // Burkhoff, AJP 1997), 0.04 ± 0.02 in vivo, R→L 0.10 ± 0.03. With linear walls the
    // septum's gains are c·E_RV/(E_spt + c·E_RV) and c·E_LV/(E_spt + c·E_LV)
    // (Santamore & Burkhoff 1991): Smith's E_es,spt = 48.754 mmHg/mL gives about a third
    // of the canine L→R gain on our walls; E_es,spt ≈ 18 mmHg/mL meets both.
    println!("preset      E_spt   ES L→R  ES R→L  ED L→R  ED R→L  (septum alone: ES L→R, R→L)");
    for name in ["normal", "scai_c_lv", "scai_c_rv"] {
        for ees in [48.754, 18.0] {
            let mut p = septum(preset(name), 1.0);
            p.septum.ees = ees;
            let r = common::steady(p);
            let beat = last_beat(&r);
            let (i_ed, i_es) = ed_and_es(beat);
            let (es, ed) = (gains(beat, i_es), gains(beat, i_ed));
            let alone = septal_gains(beat, i_es);
            println!(
                "{name:<10} {ees:>6.2}  {:>6.3}  {:>6.3}  {:>6.3}  {:>6.3}  ({:.3}, {:.3})",
                es.0, es.1, ed.0, ed.1, alone.0, alone.1
            );
            // At end-systole the walls are nearly linear: the septum alone gives the series
            // elastance gains of the ESPVR slopes.
            let (el, er) = (p.lv.ees, p.rv.ees);
            assert!(
                (alone.0 - er / (ees + er)).abs() < 0.2 * er / (ees + er),
                "{alone:?}"
            );
            assert!(
                (alone.1 - el / (ees + el)).abs() < 0.2 * el / (ees + el),
                "{alone:?}"
            );
            if name == "normal" && ees == 18.0 {
                assert!((0.02..=0.073).contains(&es.0), "L→R {}", es.0);
                assert!((0.07..=0.13).contains(&es.1), "R→L {}", es.1);
            }
        }
    }
}

#[test]
fn integrating_a_beat_with_the_septum_on_allocates_nothing() {
    let circ = common::circulation(
        septum(preset("scai_d_biv"), 1.0),
        &[("cp", 8, Position::Correct), ("rp", 6, Position::Correct)],
    );
    let mut integrator = FastTsit5::new(SolverSettings::default());
    let n = 800;
    let mut out = Vec::with_capacity(n + 1);
    let mut y = circ.initial_state();
    let mut t = 0.0;
    for beat in 0..5 {
        let clock = circ.clock(t);
        out.clear();
        let before = ALLOCATIONS.with(|a| a.get());
        y = integrator
            .integrate(
                &BeatSystem { circ: &circ, clock },
                t,
                t + clock.period,
                &y,
                n,
                &mut out,
            )
            .unwrap();
        let during = ALLOCATIONS.with(|a| a.get()) - before;
        assert_eq!(during, 0, "beat {beat}: {during} allocations");
        t += clock.period;
    }
    assert!(integrator.stats().accepted_steps > 100);
}

#[test]
fn the_septal_balance_takes_few_iterations_on_simulated_beats() {
    // Iterations (three exponentials each) per solve over a steady beat's samples with
    // Smith's septum: the cost of the septum in the right-hand side (docs/model.md).
    use impella_sim::physiology::elements::{chamber_pressure, septal_balance};
    for (name, most) in [("normal", 3.0), ("scai_c_lv", 3.0), ("scai_c_rv", 5.0)] {
        let p = septum(preset(name), 1.0);
        let r = common::steady(p);
        let beat = last_beat(&r);
        let mut total = 0;
        for (t, y) in &beat.samples {
            let e = beat.model.activations(&beat.clock, *t)[0];
            let (v_lv, v_rv) = (y[Slot::VLv.i()], y[Slot::VRv.i()]);
            let b = septal_balance(
                &p.septum,
                &p.lv,
                &p.rv,
                e,
                v_lv,
                v_rv,
                chamber_pressure(&p.lv, e, v_lv),
                chamber_pressure(&p.rv, e, v_rv),
            );
            total += b.iterations;
        }
        let mean = total as f64 / beat.samples.len() as f64;
        println!("{name}: {mean:.2} iterations per septal balance over a beat");
        assert!(mean <= most, "{name}: {mean}");
    }
}

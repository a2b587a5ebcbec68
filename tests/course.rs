//! Courses: events at exact times, fluids accounted, drugs, triggers, weaning, fast-forward.

use impella_sim::analysis::BeatMetrics;
use impella_sim::engine::protocol::WeaningResult;
use impella_sim::engine::{Cause, Complication, EventKind, RunResult};
use impella_sim::physiology::circulation::total_volume;
use impella_sim::scenario::{parse, Scenario};

fn scenario(text: &str) -> Scenario {
    parse(text, None, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn run(text: &str) -> RunResult {
    scenario(text).simulate().expect("course runs")
}

const CP: &str = "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n";

#[test]
fn an_event_applies_at_its_exact_time_inside_a_beat() {
    let mut sc = scenario(&format!(
        "{CP}[course]\nduration = \"20 s\"\n[[events]]\nat = \"10.3 s\"\ndo = {{ set = {{ \"systemic.r_periph\" = 1.4 }} }}\n"
    ));
    sc.run.keep_all_samples = true;
    let r = sc.simulate().unwrap();
    assert_eq!(r.events[0].t_s, 10.3);
    // The integration was split there: a sample sits exactly on the event time.
    assert!(r
        .beats
        .iter()
        .flat_map(|b| b.samples.iter())
        .any(|(t, _)| (t - 10.3).abs() < 1e-12));
    // Afterload up: MAP up, pump flow down.
    let before = r
        .beats
        .iter()
        .find(|b| b.clock.t_start > 5.0)
        .unwrap()
        .metrics;
    let after = r.report;
    assert!(after.map_mmhg > before.map_mmhg + 5.0);
    assert!(after.pump_flow_l_min < before.pump_flow_l_min);
}

#[test]
fn fluids_and_bleeding_are_accounted_in_the_blood_volume() {
    let sc = scenario(&format!(
        "{CP}[course]\nduration = \"40 min\"\n\
         [[events]]\nat = \"1 min\"\ndo = {{ fluid_ml = 500, over = \"10 min\" }}\n\
         [[events]]\nat = \"20 min\"\ndo = {{ fluid_ml = -800, over = \"5 min\" }}\n"
    ));
    let r = sc.simulate().unwrap();
    assert!((r.net_fluid_ml + 300.0).abs() < 1e-6, "{}", r.net_fluid_ml);
    let v = total_volume(&r.final_state);
    let expected = sc.params.blood_volume + r.net_fluid_ml;
    assert!((v - expected).abs() < 1e-9 * expected, "{v} vs {expected}");
    assert!((r.report.blood_volume_ml - expected).abs() < 1e-6 * expected);
}

#[test]
fn drugs_act_in_their_direction() {
    let base = run(&format!("{CP}[course]\nduration = \"3 min\"\n[[events]]\nat = \"1 min\"\ndo = {{ set = {{ \"heart.hr\" = 94 }} }}\n")).report;
    let pressor = run(&format!("{CP}[course]\nduration = \"3 min\"\n[[events]]\nat = \"1 min\"\ndo = {{ drug = \"norepinephrine\", dose = 0.2 }}\n")).report;
    let inotrope = run(&format!("{CP}[course]\nduration = \"3 min\"\n[[events]]\nat = \"1 min\"\ndo = {{ drug = \"dobutamine\", dose = 5.0 }}\n")).report;
    assert!(pressor.map_mmhg > base.map_mmhg + 5.0);
    assert!(inotrope.native_flow_l_min > base.native_flow_l_min);
    assert!(inotrope.lvedp_mmhg < base.lvedp_mmhg);
}

#[test]
fn a_trigger_fires_after_its_condition_holds() {
    // SCAI C at P2 has MAP ≈ 72; a vasodilator drops it below 65 and the trigger escalates.
    let r = run(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 2\n\
         [course]\nduration = \"15 min\"\n\
         [[events]]\nat = \"1 min\"\ndo = { drug = \"nitroprusside\", dose = 3.0 }\n\
         [[triggers]]\nmetric = \"map_mmhg\"\nbelow = 65\nfor = \"2 min\"\nrepeat = true\ncooldown = \"2 min\"\ndo = { p_level = \"+2\" }\n",
    );
    let fired: Vec<f64> = r
        .events
        .iter()
        .filter(|e| {
            matches!(e.what, EventKind::TriggerFired { metric, .. }
                if BeatMetrics::NAMES[metric] == "map_mmhg")
        })
        .map(|e| e.t_s)
        .collect();
    assert!(!fired.is_empty(), "{:?}", r.events);
    assert!(
        fired[0] >= 180.0 - 1.0,
        "held for 2 min after the drop at 1 min: {}",
        fired[0]
    );
    assert!(
        r.report.pump_speed_rpm > 31_000.0,
        "P-level raised above P2"
    );
}

fn weaning(recovered: bool) -> RunResult {
    let recovery = if recovered {
        "[[events]]\nat = \"5 min\"\ndo = { ramp = { \"lv.ees\" = 2.0 }, over = \"20 min\" }\n"
    } else {
        ""
    };
    run(&format!(
        "{CP}[course]\nduration = \"4 h\"\n{recovery}\
         [weaning]\nstart = \"30 min\"\nstep = -2\ndwell = \"15 min\"\nuntil = 2\n\
         require = [ {{ metric = \"map_mmhg\", min = 65 }}, {{ metric = \"cpo_w\", min = 0.6 }}, {{ metric = \"pcwp_mmhg\", max = 18 }} ]\n\
         on_failure = {{ back = 1, retry_after = \"30 min\", max_failures = 2 }}\n"
    ))
}

#[test]
fn weaning_succeeds_after_recovery_and_fails_without_it() {
    let ok = weaning(true);
    let w = ok.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Weaned, "{w:?} {:?}", ok.events);
    assert_eq!(w.p_level, 2);
    // Stepwise from 30 min: 8 -> 6, 6 -> 4, 4 -> 2 after each 15-min dwell, then P2 passes.
    assert!(
        (w.t_s.unwrap() - (30.0 + 3.0 * 15.0) * 60.0).abs() < 1.0,
        "{:?}",
        w.t_s
    );

    let bad = weaning(false);
    let w = bad.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Failed, "{w:?}");
    assert_eq!(w.failures, 2);
    assert!(w.failed_criterion.is_some());
    assert_eq!(w.p_level, 8, "back to the previous level");
    // Long quiet stretches were fast-forwarded.
    assert!(bad.beats.iter().map(|b| b.fast_forwarded).sum::<usize>() > 1000);
}

#[test]
fn a_weaning_trial_unmasks_mitral_regurgitation() {
    // Functional MR grows with LV size. Full support unloads the LV and closes the leak;
    // turning the pump down lets the LV dilate and the regurgitation return.
    let text = |level: u8| {
        format!(
            "[patient]\npreset = \"scai_c_lv\"\n[patient.set]\n\"mitral.regurgitant_area\" = 0.3\n\
             \"mitral.coaptation_volume\" = 110\n\
             [[devices]]\nmodel = \"5.0\"\np_level = {level}\n"
        )
    };
    let full = run(&text(9)).report;
    let low = run(&text(2)).report;
    assert!(
        low.mr_volume_ml > 1.5 * full.mr_volume_ml,
        "MR {} -> {}",
        full.mr_volume_ml,
        low.mr_volume_ml
    );
}

#[test]
fn fast_forward_matches_full_integration() {
    let text = |ff: bool| {
        format!(
            "{CP}[simulation]\nfast_forward = {ff}\n[course]\nduration = \"20 min\"\n\
             [[events]]\nat = \"15 min\"\ndo = {{ p_level = 5 }}\n"
        )
    };
    let fast = run(&text(true));
    let full = run(&text(false));
    assert!(
        fast.beats.len() * 5 < full.beats.len(),
        "fast-forward skipped most beats"
    );
    let (a, b) = (fast.report.values(), full.report.values());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let scale = y.abs().max(1.0);
        assert!(
            (x - y).abs() / scale < 1e-3,
            "{}: {x} vs {y}",
            impella_sim::analysis::BeatMetrics::NAMES[i]
        );
    }
}

#[test]
fn escalation_switches_and_adds_devices() {
    let r = run(
        "[patient]\npreset = \"scai_d_biv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n\
         [course]\nduration = \"10 min\"\n\
         [[events]]\nat = \"2 min\"\ndo = { switch_device = { model = \"5.0\", p_level = 8 } }\n\
         [[events]]\nat = \"4 min\"\ndo = { add_device = { model = \"rp\", p_level = 6 } }\n",
    );
    // The 5.0 at P8 runs at 30,000 rpm; every report beat is after the switch.
    assert_eq!(r.report.pump_speed_rpm, 30_000.0);
    assert!(
        r.report.pump_flow_l_min > 3.5,
        "{}",
        r.report.pump_flow_l_min
    );
    assert!(r.report.rp_flow_l_min > 2.0);
}

fn complications(seed: u64, hazards: &str) -> RunResult {
    run(&format!(
        "seed = {seed}\n{CP}[course]\nduration = \"3 h\"\n[complications]\nhazards = {{ {hazards} }}\n"
    ))
}

#[test]
fn complications_are_drawn_from_the_seed() {
    let times = |r: &RunResult| -> Vec<(u64, String)> {
        r.events
            .iter()
            .filter(|e| matches!(e.cause, Cause::Complication(_)))
            .map(|e| ((e.t_s * 1e6) as u64, e.to_string()))
            .collect()
    };
    // Hazards high enough that several occur within 3 h.
    let h = "bleeding = 0.5, haemolysis = 1.0, limb_ischaemia = 1.0";
    let a = complications(1, h);
    let b = complications(1, h);
    let c = complications(2, h);
    assert!(!times(&a).is_empty());
    assert_eq!(times(&a), times(&b), "same seed, same course");
    assert_ne!(times(&a), times(&c), "another seed, another course");
}

#[test]
fn complications_have_their_modelled_effects() {
    // Bleeding removes 500 mL.
    let r = complications(
        3,
        "bleeding = 1.0, haemolysis = 0, limb_ischaemia = 0, device_stop = 0, malposition = 0",
    );
    assert!((r.net_fluid_ml + 500.0).abs() < 1e-6, "{}", r.net_fluid_ml);
    // A device stop leaves the rotor at P0: back-flow instead of support.
    let r = complications(
        3,
        "bleeding = 0, haemolysis = 0, limb_ischaemia = 0, device_stop = 1.0, malposition = 0",
    );
    assert_eq!(r.report.pump_speed_rpm, 0.0);
    assert!(r.report.pump_flow_l_min < 0.0);
    // Malposition: the pump recirculates in the aorta; the console flags it.
    let r = complications(
        3,
        "bleeding = 0, haemolysis = 0, limb_ischaemia = 0, device_stop = 0, malposition = 1.0",
    );
    assert!(r.events.iter().any(|e| matches!(
        e.what,
        EventKind::Complication {
            complication: Complication::Malposition,
            device: Some(_)
        }
    )));
    assert!((r.report.total_flow_l_min - r.report.native_flow_l_min).abs() < 1e-9);
}

#[test]
fn a_suction_trigger_turns_the_pump_down() {
    let r = run(
        "[patient]\npreset = \"scai_c_lv\"\n[patient.set]\nblood_volume = 4300\n\
         [[devices]]\nmodel = \"5.0\"\np_level = 9\n\
         [course]\nduration = \"5 min\"\n\
         [[triggers]]\nmetric = \"suction_fraction\"\nabove = 0.0\nrepeat = true\ncooldown = \"30 s\"\n\
         do = { p_level = \"-1\" }\n",
    );
    assert!(
        r.events
            .iter()
            .any(|e| matches!(e.what, EventKind::TriggerFired { .. })),
        "{:?}",
        r.events
    );
    assert!(r.report.pump_speed_rpm < 33_000.0, "turned down from P9");
    assert_eq!(r.report.suction_fraction, 0.0, "suction cleared");
}

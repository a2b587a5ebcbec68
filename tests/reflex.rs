//! The arterial baroreflex: on by default, off on request (the open loop, unchanged), a
//! patient left alone stays as the preset put it, and the reflex answers what happens next.

use impella_sim::analysis::BeatMetrics;
use impella_sim::engine::RunResult;
use impella_sim::scenario::parse;

fn run(text: &str) -> RunResult {
    parse(text, None, &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .simulate()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn refused(text: &str) -> String {
    match parse(text, None, &[]) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

const OFF: &str = "[patient.reflexes]\nenabled = false\n";

fn patient(preset: &str, extra: &str) -> String {
    format!("[patient]\npreset = \"{preset}\"\n{extra}")
}

/// Systemic vascular resistance, Wood units.
fn svr(m: &BeatMetrics) -> f64 {
    (m.map_mmhg - m.cvp_mmhg) / m.co_l_min
}

fn cp8() -> &'static str {
    "[[devices]]\nmodel = \"cp\"\np_level = 8\n"
}

#[test]
fn enabled_false_is_gain_zero_and_the_open_loop() {
    let a = run(&patient("scai_c_lv", OFF));
    let b = run(&patient(
        "scai_c_lv",
        "[patient.set]\n\"reflex.gain\" = 0\n",
    ));
    assert_eq!(a.report.values(), b.report.values());
    assert_eq!(a.beats.len(), b.beats.len());
    // The open loop starts from static equilibrium and beats to steady state.
    assert!(a.beats.len() > 20, "{} beats", a.beats.len());
}

#[test]
fn a_patient_left_alone_stays_where_the_preset_put_it() {
    for preset in ["normal", "scai_c_lv", "scai_d_rv", "scai_e_biv"] {
        let open = run(&patient(preset, OFF)).report;
        let closed = run(&patient(preset, "")).report;
        for (key, a, b) in [
            ("MAP", open.map_mmhg, closed.map_mmhg),
            ("HR", open.hr_bpm, closed.hr_bpm),
            ("CO", open.co_l_min, closed.co_l_min),
            ("CVP", open.cvp_mmhg, closed.cvp_mmhg),
        ] {
            assert!(
                (a - b).abs() <= 0.01 * a.abs(),
                "{preset} {key}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn with_a_cp_the_reflex_holds_map_and_the_loop_shifts_left() {
    let rest = run(&patient("scai_c_lv", "")).report;
    let open = run(&(patient("scai_c_lv", OFF) + cp8())).report;
    let closed = run(&(patient("scai_c_lv", "") + cp8())).report;
    let rise = |m: &BeatMetrics| m.map_mmhg - rest.map_mmhg;
    // Sympathetic withdrawal: slower heart, lower SVR, so MAP rises less than open loop.
    assert!(
        rise(&closed) < rise(&open),
        "{} vs {}",
        rise(&closed),
        rise(&open)
    );
    assert!(
        closed.hr_bpm < rest.hr_bpm - 1.0 && (open.hr_bpm - rest.hr_bpm).abs() < 0.05,
        "HR {} {} {}",
        rest.hr_bpm,
        open.hr_bpm,
        closed.hr_bpm
    );
    assert!(
        svr(&closed) < svr(&open),
        "{} vs {}",
        svr(&closed),
        svr(&open)
    );
    // Published PV loops under Impella move left: both EDV and ESV fall.
    assert!(closed.lvedv_ml < rest.lvedv_ml && closed.lvesv_ml < rest.lvesv_ml);
    assert!(closed.pcwp_mmhg < open.pcwp_mmhg);
}

#[test]
fn a_bleed_recruits_the_reflex_and_map_falls_less() {
    let bleed = "[simulation]\nfast_forward = false\n[course]\nduration = \"4 min\"\n\
                 [[events]]\nat = \"0 s\"\ndo = { fluid_ml = -490, over = \"30 s\" }\n";
    let rest = run(&patient("normal", "")).report;
    let open = run(&(patient("normal", OFF) + bleed)).report;
    let closed = run(&(patient("normal", "") + bleed)).report;
    assert!(closed.hr_bpm > rest.hr_bpm + 3.0, "HR {}", closed.hr_bpm);
    assert!(
        svr(&closed) > svr(&rest),
        "SVR {} vs {}",
        svr(&closed),
        svr(&rest)
    );
    let fall = |m: &BeatMetrics| rest.map_mmhg - m.map_mmhg;
    assert!(fall(&closed) > 0.0 && fall(&closed) < 0.5 * fall(&open));
}

#[test]
fn a_course_fast_forwards_once_the_reflex_has_settled() {
    let r = run(&(patient("scai_c_lv", "")
        + cp8()
        + "[course]\nduration = \"2 h\"\n[[events]]\nat = \"1 h\"\ndo = { p_level = 4 }\n"));
    let skipped: usize = r.beats.iter().map(|b| b.fast_forwarded).sum();
    let integrated = r.beats.len();
    // Two hours are ~10,000 beats: most are skipped, before and after the step.
    assert!(
        skipped > 8 * integrated,
        "{skipped} skipped, {integrated} integrated"
    );
    let after = r.beats.iter().filter(|b| b.clock.t_start > 3600.0);
    assert!(after.map(|b| b.fast_forwarded).sum::<usize>() > 1000);
}

#[test]
fn reflex_settings_are_checked_where_they_are_written() {
    let e = refused(&patient("normal", "[patient.reflexes]\ngian = 1\n"));
    assert!(e.contains("gian") && e.contains(":4:"), "{e}");
    let e = refused(&patient("normal", "[patient.reflexes]\nresistance = 5\n"));
    assert!(
        e.contains("reflex.resistance") && e.contains("[0, 3]"),
        "{e}"
    );
    let e = refused(&patient(
        "normal",
        "[patient.reflexes]\nenabled = false\ngain = 1\n",
    ));
    assert!(e.contains("enabled = false"), "{e}");
}

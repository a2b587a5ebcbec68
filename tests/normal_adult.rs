//! The normal resting adult lands inside published normal ranges.
//! Ranges (not the model's own output): CO 4–7 L/min, MAP 70–105 mmHg, EF 50–70 %,
//! LVEDV 100–160 mL, LVEDP 4–12 mmHg, PCWP 6–12, CVP 2–8 (issue 2; docs/validation sources:
//! rnceus hemodynamic terms, Marino ICU Book ch. 8, Kovacs ERJ 2009, Framingham CMR).

mod common;

use impella_sim::physiology::presets;

#[test]
fn normal_adult_is_inside_published_ranges() {
    let m = common::steady_metrics(presets::normal());
    let checks = [
        ("co_l_min", m.co_l_min, 4.0, 7.0),
        ("map_mmhg", m.map_mmhg, 70.0, 105.0),
        ("lvef_pct", m.lvef_pct, 50.0, 70.0),
        ("lvedv_ml", m.lvedv_ml, 100.0, 160.0),
        ("lvedp_mmhg", m.lvedp_mmhg, 4.0, 12.0),
        ("pcwp_mmhg", m.pcwp_mmhg, 6.0, 12.0),
        ("cvp_mmhg", m.cvp_mmhg, 2.0, 8.0),
        // SBP 90–140, DBP 60–90 (rnceus); mean PA 14 ± 3.3, rarely > 20 (Kovacs 2009).
        ("sbp_mmhg", m.sbp_mmhg, 90.0, 140.0),
        ("dbp_mmhg", m.dbp_mmhg, 60.0, 90.0),
        ("mpap_mmhg", m.mpap_mmhg, 8.0, 20.0),
        // Cardiac index 2.5–4.0 L/min/m² (Marino); CPO ≈ 1 W at rest (Fincke 2004).
        ("ci_l_min_m2", m.ci_l_min_m2, 2.5, 4.0),
        ("cpo_w", m.cpo_w, 0.8, 1.4),
    ];
    let failures: Vec<String> = checks
        .iter()
        .filter(|(_, v, lo, hi)| !(lo..=hi).contains(&v))
        .map(|(n, v, lo, hi)| format!("{n} = {v:.2} not in [{lo}, {hi}]"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

#[test]
fn aortic_valve_opens_every_beat_and_ejects_forward() {
    let r = common::steady(presets::normal());
    for b in r.report_beats() {
        // Normal ejection lasts roughly 0.25–0.35 s of a 0.8 s beat.
        assert!(
            (0.2..0.5).contains(&b.metrics.av_open_fraction),
            "{}",
            b.metrics.av_open_fraction
        );
        // Native stroke volume equals the LV volume change when valves are competent.
        assert!((b.metrics.native_sv_ml - b.metrics.sv_ml).abs() < 0.03 * b.metrics.sv_ml);
    }
}

#[test]
fn steady_state_is_reached_and_reported() {
    let r = common::steady(presets::normal());
    assert!(r.steady.beats > 3 && r.steady.beats < 200, "{:?}", r.steady);
    assert_eq!(r.report_beats().len(), r.settings.report_beats);
}

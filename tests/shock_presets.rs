//! Every shock preset meets the definition of its SCAI stage and phenotype.
//! Definitions (../shared reference §3.2, seeds digest §2): SCAI 2019/2022 tables
//! (PMC9381657 table 3); DanGer Shock's operational stage rules (Kapur 2022):
//! E = SBP < 60 or MAP < 50; C/D keep SBP ≥ 60 and MAP ≥ 50.
//! BSA 1.9 m²: CI 2.2 L/min/m² ↔ CO 4.2 L/min.

mod common;

use impella_sim::analysis::BeatMetrics;
use impella_sim::physiology::presets::{preset, PRESETS};
// The definitions live in the library (one source for tests and `impella-sim validate`);
// they are transcribed from the SCAI tables, DanGer Shock and the AMICS RV criteria.
use impella_sim::validation::stage_criteria;

fn metrics(name: &str) -> BeatMetrics {
    common::steady_metrics(preset(name).expect("preset exists").parameters())
}

fn check(name: &str, conditions: &[(&str, bool)], m: &BeatMetrics) {
    let failed: Vec<&str> = conditions.iter().filter(|c| !c.1).map(|c| c.0).collect();
    assert!(
        failed.is_empty(),
        "{name} fails {failed:?}: SBP {:.1} MAP {:.1} HR {:.0} CI {:.2} PCWP {:.1} CVP {:.1} CPO {:.2} PAPi {:.2}",
        m.sbp_mmhg, m.map_mmhg, m.hr_bpm, m.ci_l_min_m2, m.pcwp_mmhg, m.cvp_mmhg, m.cpo_w, m.papi
    );
}

#[test]
fn every_shock_preset_meets_its_stage_definition() {
    let mut checked = 0;
    for p in PRESETS.iter().filter(|p| p.name.starts_with("scai_")) {
        let mut parts = p.name.split('_').skip(1);
        let stage = parts.next().unwrap().chars().next().unwrap();
        let side = parts.next().unwrap();
        let m = metrics(p.name);
        check(p.name, &stage_criteria(stage, side, &m), &m);
        checked += 1;
    }
    assert_eq!(checked, 15, "five stages × three phenotypes");
}

#[test]
fn scai_c_lv_resembles_the_danger_shock_median_patient() {
    // DanGer Shock median: SBP 82, MAP 63 mmHg, HR 94/min, LVEF 25 %.
    let m = metrics("scai_c_lv");
    assert!((m.sbp_mmhg - 82.0).abs() < 8.0, "SBP {}", m.sbp_mmhg);
    assert!((m.map_mmhg - 63.0).abs() < 8.0, "MAP {}", m.map_mmhg);
    assert_eq!(m.hr_bpm.round(), 94.0);
    assert!((m.lvef_pct - 25.0).abs() < 5.0, "LVEF {}", m.lvef_pct);
}

#[test]
fn shock_worsens_stage_by_stage() {
    for side in ["lv", "rv", "biv"] {
        let cpo: Vec<f64> = ['a', 'b', 'c', 'd', 'e']
            .iter()
            .map(|s| metrics(&format!("scai_{s}_{side}")).cpo_w)
            .collect();
        assert!(
            cpo.windows(2).all(|w| w[1] < w[0]),
            "{side}: CPO should fall from A to E: {cpo:?}"
        );
    }
}

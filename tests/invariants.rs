//! Invariants: blood volume conserved, no NaN, competent valves one-way, typed errors
//! instead of garbage for any parameters inside their documented bounds.

mod common;

use impella_sim::engine::{run, RunSettings, SimError};
use impella_sim::physiology::circulation::total_volume;
use impella_sim::physiology::{presets, Parameters, PARAMETERS};
use impella_sim::solver::{FastTsit5, SolverSettings};
use proptest::prelude::*;

#[test]
fn blood_volume_is_conserved_over_one_simulated_hour() {
    let p = presets::preset("scai_c_lv").unwrap().parameters();
    let hr = p.heart.hr;
    let settings = RunSettings {
        steady_state: false,
        max_beats: (3600.0 * hr / 60.0).ceil() as usize,
        keep_all_samples: false,
        ..RunSettings::default()
    };
    let mut integ = FastTsit5::new(SolverSettings::default());
    let r = run(p, &settings, &mut integ).unwrap();
    assert!(r.duration() >= 3600.0);
    let last = r.report_beats().last().unwrap();
    let v_end = total_volume(&last.samples.last().unwrap().1);
    let drift = (v_end - p.blood_volume).abs() / p.blood_volume;
    assert!(drift < 1e-9, "relative drift {drift:e}");
    for b in &r.beats {
        assert!(b.metrics.values().iter().all(|v| v.is_finite()));
    }
}

#[test]
fn competent_valves_never_leak_and_regurgitant_ones_do() {
    let r = common::steady(presets::normal());
    let b = r.report_beats().last().unwrap();
    for (t, y) in &b.samples {
        let h = b.model.hemodynamics(&b.clock, *t, y);
        for q in [h.q_mv, h.q_av, h.q_tv, h.q_pv] {
            assert!(
                q >= 0.0,
                "backflow {q} mL/s through a competent valve at t = {t}"
            );
        }
    }
    assert_eq!(b.metrics.mr_volume_ml, 0.0);

    let mut p = presets::normal();
    p.mitral.regurgitant_area = 0.3; // severe MR: EROA >= 0.4 cm² is severe, 0.2–0.39 moderate
    let m = common::steady_metrics(p);
    // Moderate-to-severe MR: regurgitant volume 30–60 mL, fraction 30–50 % (ASE grading).
    assert!(m.mr_volume_ml > 20.0, "MR volume {}", m.mr_volume_ml);
    assert!(
        (0.2..0.7).contains(&m.mr_fraction),
        "MR fraction {}",
        m.mr_fraction
    );
    // Forward output falls and the LA pressure rises with MR.
    let n = common::steady_metrics(presets::normal());
    assert!(m.native_flow_l_min < n.native_flow_l_min);
    assert!(m.pcwp_mmhg > n.pcwp_mmhg);
}

/// Parameters drawn uniformly inside every documented bound, around a preset.
fn random_parameters() -> impl Strategy<Value = Parameters> {
    let n = PARAMETERS.len();
    (
        proptest::collection::vec(0.0f64..1.0, n),
        proptest::collection::vec(any::<bool>(), n),
    )
        .prop_map(|(u, pick)| {
            let mut p = presets::normal();
            for ((spec, u), pick) in PARAMETERS.iter().zip(u).zip(pick) {
                // Change about half the parameters, anywhere inside their bounds.
                if pick {
                    let v = spec.min + u * (spec.max - spec.min);
                    p.set(spec.path, v).unwrap();
                }
            }
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn random_parameters_give_finite_physical_results_or_a_typed_error(p in random_parameters()) {
        let settings = RunSettings {
            steady_state: false,
            max_beats: 8,
            keep_all_samples: false,
            ..RunSettings::default()
        };
        let mut integ = FastTsit5::new(SolverSettings::default());
        match run(p, &settings, &mut integ) {
            Ok(r) => {
                for b in &r.beats {
                    for (_, y) in &b.samples {
                        prop_assert!(y.iter().all(|v| v.is_finite()));
                    }
                    prop_assert!((b.metrics.blood_volume_ml - p.blood_volume).abs() < 1e-6 * p.blood_volume);
                }
            }
            Err(SimError::Parameter(_)) | Err(SimError::Solver(_))
            | Err(SimError::NonFinite { .. }) | Err(SimError::NegativeVolume { .. }) => {}
            Err(SimError::Coupling(e)) => prop_assert!(false, "no device to couple: {}", e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]
    /// Any preset, any device at any level, with blood volume anywhere from hypovolaemic to
    /// overloaded: volumes stay positive (suction protects the inlet) and nothing is NaN.
    #[test]
    fn pumps_never_drive_a_volume_negative(
        preset_i in 0usize..16,
        device_i in 0usize..5,
        level in 0u8..10,
        volume_delta in -900.0f64..1200.0,
    ) {
        use impella_sim::devices::{Catalogue, Position, Pump};
        use impella_sim::physiology::presets::PRESETS;
        use impella_sim::physiology::{Circulation, Slot};
        use impella_sim::engine::run_model;

        let mut p = PRESETS[preset_i].parameters();
        p.blood_volume = (p.blood_volume + volume_delta).max(p.unstressed_volume() + 250.0);
        let cat = Catalogue::builtin();
        let spec = cat.iter().nth(device_i).unwrap();
        let level = level.min(spec.max_p_level());
        let model = Circulation::new(p)
            .with_pump(Pump::new(spec, level, Position::Correct).unwrap())
            .unwrap();
        let settings = RunSettings {
            steady_state: false,
            max_beats: 20,
            keep_all_samples: true,
            ..RunSettings::default()
        };
        let mut integ = FastTsit5::new(SolverSettings::default());
        match run_model(model, &settings, &mut integ) {
            Ok(r) => {
                for b in &r.beats {
                    for (_, y) in &b.samples {
                        prop_assert!(y.iter().all(|v| v.is_finite()));
                        for s in Slot::VOLUMES {
                            prop_assert!(y[s.i()] > 0.0, "{} = {}", s.name(), y[s.i()]);
                        }
                    }
                }
            }
            Err(e) => prop_assert!(false, "typed error is fine only for bad parameters: {e}"),
        }
    }
}

/// Ejection fractions and volumes stay physical in every preset at low, normal and high blood
/// volume: 0 ≤ EF ≤ 100 % and ESV ≤ EDV in both ventricles (a failing, overfilled RV used to
/// report a negative RVEF: its end-diastole was taken at mitral closure while it still filled).
#[test]
fn ejection_fractions_stay_physical_across_presets_and_volumes() {
    use impella_sim::physiology::presets::PRESETS;
    let settings = RunSettings {
        keep_all_samples: false,
        max_beats: 400,
        ..RunSettings::default()
    };
    let mut checked = 0;
    for preset in PRESETS {
        let base = preset.parameters();
        for dv in [-600.0, 0.0, 1500.0] {
            let mut p = base;
            p.blood_volume += dv;
            let mut integ = FastTsit5::new(SolverSettings::default());
            let Ok(r) = impella_sim::engine::run(p, &settings, &mut integ) else {
                continue; // a volume the preset cannot take is refused, not measured
            };
            let m = r.report;
            let at = format!("{} at {} mL", preset.name, p.blood_volume);
            for (ef, edv, esv) in [
                (m.lvef_pct, m.lvedv_ml, m.lvesv_ml),
                (m.rvef_pct, m.rvedv_ml, m.rvesv_ml),
            ] {
                assert!((0.0..=100.0).contains(&ef), "{at}: EF {ef} %");
                assert!(esv <= edv + 1e-9, "{at}: ESV {esv} > EDV {edv}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 2 * PRESETS.len(), "{checked} runs");
}

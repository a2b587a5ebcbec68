//! A4–A6: closed-loop validation cases (issue 19, item 6).
//!
//! - **A4**: the reflex response to haemorrhage and to a volume load, and an open-loop
//!   check of the reflex's steady-state venous-capacity sensitivity, in the `normal` preset
//!   (healthy subjects and animals);
//! - **A5**: Impella RP in RV shock (`scai_c_rv`);
//! - **A6**: the right ventricle while a left-sided Impella unloads the LV.
//!
//! Every reference, its source and the reason for its band are in docs/validation.md
//! ("Closed-loop cases"). Cases that switch the reflexes off write a `[patient.reflexes]`
//! table with `enabled = false`. Bands come from the studies, not from the model's output.

use std::fmt::Write as _;

use super::{metrics, run, within, Case, Status};
use crate::analysis::BeatMetrics;
use crate::engine::RunResult;
use crate::physiology::Slot;

/// Blood volume of the `normal` preset, mL.
const NORMAL_BLOOD_VOLUME: f64 = 4900.0;

/// Body mass that goes with the `normal` preset's blood volume at 70 mL/kg, kg.
const NORMAL_BODY_MASS: f64 = 70.0;

/// Canine blood volume used to scale per-kilogram bleeds in dogs to a fraction of blood
/// volume, mL/kg (a textbook value, recalled: not read in a source this session).
const DOG_BLOOD_VOLUME_ML_KG: f64 = 86.0;

/// The `[patient.reflexes]` table that switches every reflex off.
const REFLEXES_OFF: &str = "[patient.reflexes]\nenabled = false\n";

/// A fluid event of a course: start, volume (negative: bleeding) and duration, as TOML
/// times and mL.
struct Fluid {
    at: &'static str,
    ml: f64,
    over: &'static str,
}

/// A course in `preset` (with `patient_extra` appended to `[patient]`, e.g. the reflex
/// switch) of length `duration`, with the fluid events `fluids`, without fast-forward.
fn course(
    preset: &str,
    patient_extra: &str,
    duration: &str,
    fluids: &[Fluid],
) -> Result<RunResult, String> {
    let mut text = format!("[patient]\npreset = \"{preset}\"\n{patient_extra}");
    // Every beat integrated: the windows of `window` must find their beats (fast-forward
    // would skip the quiet ones).
    let _ = write!(
        text,
        "[simulation]\nfast_forward = false\n[course]\nduration = \"{duration}\"\n"
    );
    for f in fluids {
        let _ = write!(
            text,
            "[[events]]\nat = \"{}\"\ndo = {{ fluid_ml = {}, over = \"{}\" }}\n",
            f.at, f.ml, f.over
        );
    }
    run(&text)
}

/// Steady state of `preset` with `patient_extra` in `[patient]` (e.g. the reflex switch or a
/// `[patient.set]` table).
fn steady(preset: &str, patient_extra: &str) -> Result<RunResult, String> {
    run(&format!(
        "[patient]\npreset = \"{preset}\"\n{patient_extra}"
    ))
}

/// Steady state of `preset` with one pump at `p_level`.
fn supported(preset: &str, model: &str, p_level: u8) -> Result<RunResult, String> {
    run(&format!(
        "[patient]\npreset = \"{preset}\"\n[[devices]]\nmodel = \"{model}\"\np_level = {p_level}\n"
    ))
}

/// Mean metrics of the course beats that start in [t0, t1) s of course time.
fn window(r: &RunResult, t0: f64, t1: f64) -> Result<BeatMetrics, String> {
    let beats: Vec<BeatMetrics> = r
        .beats
        .iter()
        .filter(|b| b.clock.t_start >= t0 && b.clock.t_start < t1)
        .map(|b| b.metrics)
        .collect();
    if beats.is_empty() {
        return Err(format!("no beat between {t0} and {t1} s of the course"));
    }
    Ok(BeatMetrics::mean(&beats))
}

/// Systemic vascular resistance (MAP − CVP)/CO, mmHg·s/mL.
fn svr(m: &BeatMetrics) -> f64 {
    (m.map_mmhg - m.cvp_mmhg) / (m.co_l_min * 1000.0 / 60.0)
}

/// RV stroke work, the area of the RV pressure–volume loop (−∮P dV, mmHg·mL), averaged over
/// the report beats (their samples are kept).
fn rv_stroke_work(r: &RunResult) -> Result<f64, String> {
    let mut sum = 0.0;
    let mut n = 0;
    for beat in r.report_beats() {
        if beat.samples.len() < 2 {
            continue;
        }
        let mut p_dv = 0.0;
        let mut last: Option<(f64, f64)> = None;
        for (t, y) in &beat.samples {
            let p = beat.model.hemodynamics(&beat.clock, *t, y).p_rv;
            let v = y[Slot::VRv.i()];
            if let Some((p0, v0)) = last {
                p_dv += 0.5 * (p0 + p) * (v - v0);
            }
            last = Some((p, v));
        }
        sum += -p_dv;
        n += 1;
    }
    if n == 0 {
        return Err("no report beat kept its samples".into());
    }
    Ok(sum / f64::from(n))
}

/// Relative change b over a, %.
fn pct(a: f64, b: f64) -> f64 {
    100.0 * (b - a) / a
}

/// Appends one case: `sim` passes inside `band` (both ends included).
#[allow(clippy::too_many_arguments)] // one argument per column of the table
fn case(
    out: &mut Vec<Case>,
    id: &str,
    quantity: &str,
    reference: &str,
    source: &'static str,
    sim: f64,
    (lo, hi): (f64, f64),
    tolerance: &str,
) {
    out.push(Case {
        id: id.into(),
        kind: "validation",
        quantity: quantity.into(),
        reference: reference.into(),
        source,
        simulated: format!("{sim:.2}"),
        tolerance: format!("[{lo}, {hi}]: {tolerance}"),
        status: match (sim.is_finite(), KNOWN.contains(&id)) {
            (false, _) => Status::Fail,
            (true, known) => match within(sim, lo, hi) {
                Status::Fail if known => Status::Known,
                st => st,
            },
        },
    });
}

/// Cases that miss their band for reasons docs/validation.md ("Known limits") gives: the
/// human 1-L bleed and the engines' haemorrhage target (Ursino's dog heart-rate gain, no
/// cardiopulmonary reflex by default, no transcapillary refill), the dogs' open-loop gain,
/// and the Impella RP's and 5.5's effect on the right heart (the RV presets and the rigid
/// septum).
const KNOWN: &[&str] = &[
    "A4-2", "A4-5", "A4-6", "A4-7", "A4-8", "A4-12", "A4-14", "A5-1", "A5-2", "A6-3",
];

/// A4-1…A4-10: the reflex response to haemorrhage in the `normal` preset, reflexes on (the
/// default).
pub fn haemorrhage() -> Result<Vec<Case>, String> {
    let base = metrics("normal", None)?;
    let mut out = Vec::new();

    // Hosomi & Sagawa 1979 and the engines that reproduce it: 10 % of blood volume in 30 s.
    let h10 = course(
        "normal",
        "",
        "205 s",
        &[Fluid {
            at: "0 s",
            ml: -0.1 * NORMAL_BLOOD_VOLUME,
            over: "30 s",
        }],
    )?;
    let at_1_2_min = window(&h10, 60.0, 120.0)?;
    let at_200_s = window(&h10, 195.0, 205.0)?;
    let hosomi =
        "Hosomi & Sagawa, Am J Physiol 1979;236:H607 (abstract, via reflex-reference-data [abs])";
    let engines = "Pulse and BioGears nervous-methodology docs (targets citing Hosomi 1979; not in its abstract)";
    case(
        &mut out,
        "A4-1",
        "ΔMAP 1–2 min after losing 10 % of blood volume in 30 s (mmHg)",
        "−8.0 ± 1.3 (conscious dogs); −9.4 ± 2.0 (pentobarbital)",
        hosomi,
        at_1_2_min.map_mmhg - base.map_mmhg,
        (-12.0, -4.0),
        "±50 % of −8: splenectomised dogs, not the preset",
    );
    case(
        &mut out,
        "A4-2",
        "HR change 200 s after a 10 % bleed in 30 s (%)",
        "≈ +30 %",
        engines,
        pct(base.hr_bpm, at_200_s.hr_bpm),
        (15.0, 45.0),
        "±50 %: a peer engines' target, not a measurement",
    );
    case(
        &mut out,
        "A4-3",
        "CO change 200 s after a 10 % bleed in 30 s (%)",
        "−15 … −20 %",
        engines,
        pct(base.co_l_min, at_200_s.co_l_min),
        (-30.0, -7.5),
        "the target range widened by 50 % at each end",
    );
    case(
        &mut out,
        "A4-4",
        "SVR change 200 s after a 10 % bleed in 30 s (%)",
        "+10 … +15 %",
        engines,
        pct(svr(&base), svr(&at_200_s)),
        (5.0, 22.5),
        "the target range widened by 50 % at each end",
    );

    // Johnson et al. 2013: 1 L in three 333-mL stages 5 min apart, healthy men.
    let stage = |at| Fluid {
        at,
        ml: -333.0,
        over: "2 min",
    };
    let h1l = course(
        "normal",
        "",
        "15 min",
        &[stage("0 s"), stage("5 min"), stage("10 min")],
    )?
    .report;
    let johnson = "Johnson et al., FASEB J 2013;27:1206.3 (abstracts: bohrium.dp.tech 5fc99a31d83c7e914a8ca18b; SV: discovery.researcher.life)";
    case(
        &mut out,
        "A4-5",
        "ΔMAP after 1 L blood loss, healthy men (mmHg)",
        "89.5 ± 2.1 → 80.8 ± 4.0 (−8.7)",
        johnson,
        h1l.map_mmhg - base.map_mmhg,
        (-11.3, -6.1),
        "±30 % of the change: healthy adults, the normal preset",
    );
    case(
        &mut out,
        "A4-6",
        "ΔHR after 1 L blood loss (bpm)",
        "59 ± 4 → 66 ± 5 (+7, p = 0.07)",
        johnson,
        h1l.hr_bpm - base.hr_bpm,
        (4.9, 9.1),
        "±30 % of the change",
    );
    case(
        &mut out,
        "A4-7",
        "SV change after 1 L blood loss (%)",
        "118 ± 4 → 99 ± 7 mL (−16 %)",
        johnson,
        pct(base.sv_ml, h1l.sv_ml),
        (-20.9, -11.3),
        "±30 % of the change",
    );
    case(
        &mut out,
        "A4-8",
        "ΔCVP after 1 L blood loss (mmHg)",
        "5.8 ± 1.1 → 1.1 ± 1.4 (−4.7)",
        johnson,
        h1l.cvp_mmhg - base.cvp_mmhg,
        (-6.1, -3.3),
        "±30 % of the change",
    );

    // Shen et al.: 20 mL/kg at 0.5 mL/kg/min in conscious dogs, nerves intact.
    let frac = 20.0 / DOG_BLOOD_VOLUME_ML_KG;
    let h20 = course(
        "normal",
        "",
        "40 min",
        &[Fluid {
            at: "0 s",
            ml: -(frac * NORMAL_BLOOD_VOLUME).round(),
            over: "40 min",
        }],
    )?
    .report;
    case(
        &mut out,
        "A4-9",
        "ΔMAP after 20 mL/kg (≈ 23 % of blood volume) over 40 min, reflexes on (mmHg)",
        "−15 ± 3.3 (intact conscious dogs)",
        "Shen, Knight, Thomas & Vatner (abstract, scholars.northwestern.edu: relative roles of cardiac receptors and arterial baroreceptors during hemorrhage in conscious dogs)",
        h20.map_mmhg - base.map_mmhg,
        (-22.5, -7.5),
        "±50 % of the change: dogs; the bleed scaled by blood volume",
    );

    // Cats: 20 % of blood volume removed (Am J Physiol 1984;247:R833).
    let cat = course(
        "normal",
        "",
        "15 min",
        &[Fluid {
            at: "0 s",
            ml: -0.2 * NORMAL_BLOOD_VOLUME,
            over: "10 min",
        }],
    )?
    .report;
    case(
        &mut out,
        "A4-10",
        "MAP change 5 min after removing 20 % of blood volume (%)",
        "−10.8 % and −8.9 % (two series of cats)",
        "Am J Physiol 1984;247:R833, 'Blood volume changes and high and low pressoreceptor activity in cats' (abstract, sciencegate.app)",
        pct(base.map_mmhg, cat.map_mmhg),
        (-16.2, -4.45),
        "±50 % beyond the two series: cats; bleed duration not in the abstract (10 min assumed)",
    );
    Ok(out)
}

/// A4-11: the reflex response to a volume load in the `normal` preset.
pub fn volume_load() -> Result<Vec<Case>, String> {
    let base = metrics("normal", None)?;
    let load = course(
        "normal",
        "",
        "15 min",
        &[Fluid {
            at: "0 s",
            ml: 0.2 * NORMAL_BLOOD_VOLUME,
            over: "10 min",
        }],
    )?
    .report;
    let mut out = Vec::new();
    case(
        &mut out,
        "A4-11",
        "MAP change 5 min after a 20 % blood-volume expansion (%)",
        "+5.2 % and +5.9 % (two series of cats)",
        "Am J Physiol 1984;247:R833 (as A4-10)",
        pct(base.map_mmhg, load.map_mmhg),
        (2.6, 8.9),
        "±50 % beyond the two series: cats; infusion duration not in the abstract (10 min assumed)",
    );
    Ok(out)
}

/// A4-12: the venous-capacity sensitivity of the reflex (open-loop type).
///
/// The reflex's effectors are functions of the pressure it senses, whatever moved that
/// pressure: 250 mL taken or given over 30 s, read 5 min later (five venous time constants),
/// give the static slope of the systemic venous unstressed volume against MAP. (Two resting
/// patients of different volume would not: the set point is each one's own resting MAP.)
pub fn open_loop() -> Result<Vec<Case>, String> {
    // The carotid sinus alone (Shoukas & Sagawa held CVP and cardiac output): the
    // cardiopulmonary reflex off.
    let at = |dv: f64| {
        course(
            "normal",
            "[patient.reflexes]\ncardiopulmonary = 0\n",
            "5 min",
            &[Fluid {
                at: "0 s",
                ml: dv,
                over: "30 s",
            }],
        )
    };
    let (lo, hi) = (at(-250.0)?, at(250.0)?);
    let vu = |r: &RunResult| r.final_model.parameters().systemic.vu_ven;
    let d_map = hi.report.map_mmhg - lo.report.map_mmhg;
    let slope = (vu(&hi) - vu(&lo)) / d_map / NORMAL_BODY_MASS;
    let mut out = Vec::new();
    case(
        &mut out,
        "A4-12",
        "systemic venous unstressed-volume shift per mmHg of MAP, steady state (mL·kg⁻¹·mmHg⁻¹)",
        "carotid-sinus capacity shift 7.5 mL/kg over 75–200 mmHg (mean 0.06); at most 3.6 mL/kg per 25 mmHg (0.144), about doubled with MAP held",
        "Shoukas & Sagawa, Circ Res 1973;33:22 (abstract, pure.johnshopkins.edu, via reflex-reference-data [abs])",
        slope,
        (0.06, 0.29),
        "from the mean slope over the whole range to twice the steepest slope; 70 kg for the preset's 4.9 L",
    );
    Ok(out)
}

/// A4-13, A4-14: the same bleeds with the reflexes switched off (`[patient.reflexes]`).
pub fn reflex_contrast() -> Result<Vec<Case>, String> {
    let base_off = steady("normal", REFLEXES_OFF)?.report;
    let base_on = metrics("normal", None)?;
    let frac = 20.0 / DOG_BLOOD_VOLUME_ML_KG;
    let h20_off = course(
        "normal",
        REFLEXES_OFF,
        "40 min",
        &[Fluid {
            at: "0 s",
            ml: -(frac * NORMAL_BLOOD_VOLUME).round(),
            over: "40 min",
        }],
    )?
    .report;
    let mut out = Vec::new();
    case(
        &mut out,
        "A4-13",
        "ΔMAP after 20 mL/kg over 40 min, reflexes off (mmHg)",
        "−53 ± 3.4 (sinoaortic-denervated conscious dogs; −49 ± 2.9 with cardiac denervation too)",
        "Shen, Knight, Thomas & Vatner (as A4-9)",
        h20_off.map_mmhg - base_off.map_mmhg,
        (-79.5, -26.5),
        "±50 % of the change: dogs; the bleed scaled by blood volume",
    );
    // Open-loop gain of the whole arterial pressure control from a small quick bleed:
    // G = ΔP without feedback / ΔP with feedback − 1 (2 mL/kg in dogs ≈ 2.3 % of blood volume).
    let small = -(2.0 / DOG_BLOOD_VOLUME_ML_KG * NORMAL_BLOOD_VOLUME).round();
    let quick = |extra| {
        course(
            "normal",
            extra,
            "3 min",
            &[Fluid {
                at: "0 s",
                ml: small,
                over: "10 s",
            }],
        )
    };
    let on = quick("")?.report;
    let off = quick(REFLEXES_OFF)?.report;
    let gain = (off.map_mmhg - base_off.map_mmhg) / (on.map_mmhg - base_on.map_mmhg) - 1.0;
    case(
        &mut out,
        "A4-14",
        "open-loop gain of arterial pressure control, ΔMAP(off)/ΔMAP(on) − 1 after a 2.3 % bleed",
        "G_intact 7.8 (carotid sinus 2.0, vago-aortic 1.8), dogs under pentobarbital",
        "'Time-dependent changes in open-loop gains of baroreflex systems after massive hemorrhage' (abstract, discovery.researcher.life)",
        gain,
        (3.9, 15.6),
        "half to twice: anaesthetised dogs, mean only; the study's 'immediate' fall read as the reflex-off steady fall",
    );
    Ok(out)
}

/// A5-1, A5-2: Impella RP in RV shock (RECOVER RIGHT).
pub fn rp_support() -> Result<Vec<Case>, String> {
    let base = metrics("scai_c_rv", None)?;
    let rp = metrics("scai_c_rv", Some(("rp", 8)))?;
    let src = "RECOVER RIGHT, Anderson et al., J Heart Lung Transplant 2015;34:1549 (n = 30; values recalled from the abstract, whose results were not reached here)";
    let mut out = Vec::new();
    case(
        &mut out,
        "A5-1",
        "ΔCI with Impella RP P8 in RV shock (L/min/m²)",
        "1.8 ± 0.2 → 3.3 ± 0.23 (+1.5)",
        src,
        rp.ci_l_min_m2 - base.ci_l_min_m2,
        (0.75, 2.25),
        "±50 % of the change: 18 of 30 had RV failure after an LVAD (their LV supported), 12 after cardiotomy or MI",
    );
    case(
        &mut out,
        "A5-2",
        "ΔCVP with Impella RP P8 in RV shock (mmHg)",
        "19.2 ± 4.3 → 12.4 ± 4.2 (−6.8)",
        src,
        rp.cvp_mmhg - base.cvp_mmhg,
        (-10.2, -3.4),
        "±50 % of the change",
    );
    Ok(out)
}

/// A6-2…A6-4: the RV while a left-sided Impella unloads the LV.
pub fn rv_under_lv_support() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    // Impella 5.5 in heart-failure cardiogenic shock, n = 7, within 15 min of activation.
    let hf = steady("scai_c_lv", "")?;
    let i55 = supported("scai_c_lv", "5.5", 8)?;
    let src55 = "abstract 'Impella 5.5 … biventricular pressure-volume loops', 7 HF-CS patients (read at staging.scite.ai, author page of R. Botto; journal and year not shown)";
    case(
        &mut out,
        "A6-2",
        "Δ mean PA pressure with Impella 5.5 P8, SCAI C LV (mmHg)",
        "falls (significantly)",
        src55,
        i55.report.mpap_mmhg - hf.report.mpap_mmhg,
        (-40.0, -1.0),
        "falls by at least 1 mmHg: direction only, no numbers in the abstract",
    );
    case(
        &mut out,
        "A6-3",
        "ΔCVP with Impella 5.5 P8, SCAI C LV (mmHg)",
        "falls (significantly)",
        src55,
        i55.report.cvp_mmhg - hf.report.cvp_mmhg,
        (-20.0, -0.5),
        "falls by at least 0.5 mmHg: direction only",
    );
    case(
        &mut out,
        "A6-4",
        "RV stroke-work change with Impella 5.5 P8, SCAI C LV (%)",
        "not significantly changed",
        src55,
        pct(rv_stroke_work(&hf)?, rv_stroke_work(&i55)?),
        (-30.0, 30.0),
        "±30 %: no significant change in 7 patients",
    );
    Ok(out)
}

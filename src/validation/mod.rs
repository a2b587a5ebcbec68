//! `impella-sim validate`: verification and validation cases against the literature.
//!
//! Every case states its reference, source, tolerance and why. A case is `pass`, `fail`,
//! `known` (a documented limitation of the model: reported, expected to miss, does not fail
//! the run) or `skipped` (not implemented yet, with the reason). docs/validation.md explains.

mod closed_loop;
mod peer;

use std::fmt::Write as _;

use serde::Serialize;

use crate::analysis::BeatMetrics;
use crate::devices::Catalogue;
use crate::engine::{self, RunResult};
use crate::physiology::circulation::total_volume;
use crate::physiology::presets::PRESETS;
use crate::scenario;
use crate::solver::{Dopri5Integrator, SolverSettings};

/// Outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Misses its reference for a documented reason (docs/validation.md, "Known limits").
    Known,
    Skipped,
}

/// One row of the validation table.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub id: String,
    /// "verification" or "validation".
    pub kind: &'static str,
    pub quantity: String,
    pub reference: String,
    pub source: &'static str,
    pub simulated: String,
    /// The tolerance and why.
    pub tolerance: String,
    pub status: Status,
}

fn run(text: &str) -> Result<RunResult, String> {
    let sc = scenario::parse(text, None, &[]).map_err(|e| e.to_string())?;
    sc.simulate().map_err(|e| e.to_string())
}

fn metrics(preset: &str, device: Option<(&str, u8)>) -> Result<BeatMetrics, String> {
    let mut text = format!("[patient]\npreset = \"{preset}\"\n");
    if let Some((m, l)) = device {
        let _ = write!(text, "[[devices]]\nmodel = \"{m}\"\np_level = {l}\n");
    }
    Ok(run(&text)?.report)
}

fn within(v: f64, lo: f64, hi: f64) -> Status {
    if (lo..=hi).contains(&v) {
        Status::Pass
    } else {
        Status::Fail
    }
}

/// Runs every case.
pub fn run_all() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |c: Result<Vec<Case>, String>, id: &str| match c {
        Ok(v) => cases.extend(v),
        Err(e) => cases.push(Case {
            id: id.to_string(),
            kind: "validation",
            quantity: "simulation".into(),
            reference: "-".into(),
            source: "-",
            simulated: format!("error: {e}"),
            tolerance: "-".into(),
            status: Status::Fail,
        }),
    };
    push(conservation(), "V1");
    push(convergence(), "V2");
    push(device_flow_ranges(), "V3");
    push(peer::code_to_code(), "V4");
    push(normal_adult(), "A1");
    push(shock_stages(), "A2");
    push(impella_effects(), "A3");
    push(closed_loop::haemorrhage(), "A4-bleed");
    push(closed_loop::volume_load(), "A4-volume");
    push(closed_loop::open_loop(), "A4-open-loop");
    push(closed_loop::reflex_contrast(), "A4-reflexes-off");
    push(closed_loop::rp_support(), "A5");
    push(closed_loop::rv_under_lv_support(), "A6");
    cases
}

/// V1: blood volume over one simulated hour with a pump.
fn conservation() -> Result<Vec<Case>, String> {
    let r = run(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n\
         [simulation]\nsteady_state = false\nmax_beats = 5640\n",
    )?;
    let v0 = crate::physiology::presets::preset("scai_c_lv")
        .expect("preset")
        .parameters()
        .blood_volume;
    let v = total_volume(&r.final_state);
    let drift = (v - v0).abs() / v0;
    Ok(vec![Case {
        id: "V1".into(),
        kind: "verification",
        quantity: "blood volume drift over 1 h (SCAI C + CP P8)".into(),
        reference: "0".into(),
        source: "conservation by construction (docs/model.md)",
        simulated: format!("{drift:.1e}"),
        tolerance: "< 1e-9 relative: round-off only".into(),
        status: if drift < 1e-9 {
            Status::Pass
        } else {
            Status::Fail
        },
    }])
}

/// V2: the error of one beat falls as the tolerance tightens.
fn convergence() -> Result<Vec<Case>, String> {
    let steady = run("[patient]\npreset = \"normal\"\n")?;
    let y0 = steady.final_state;
    let circ = (*steady.final_model).clone();
    let clock = circ.clock(0.0);
    let beat = |tol: f64| -> Result<Vec<crate::physiology::State>, String> {
        let mut integ = Dopri5Integrator::new(SolverSettings {
            rtol: tol,
            atol: tol,
            h_max: 0.01,
            ..SolverSettings::default()
        });
        let mut out = Vec::new();
        engine::kernel::integrate(
            &mut integ,
            &engine::BeatSystem { circ: &circ, clock },
            0.0,
            clock.period,
            &y0,
            800,
            &mut out,
        )
        .map_err(|e| e.to_string())?;
        Ok(out.into_iter().map(|s| s.1).collect())
    };
    let reference = beat(1e-12)?;
    let scale = reference
        .iter()
        .flat_map(|y| y.iter())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let tols = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8];
    let mut errors = Vec::new();
    for tol in tols {
        let ys = beat(tol)?;
        let e = ys
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs().max())
            .fold(0.0, f64::max)
            / scale;
        errors.push(e);
    }
    let monotone = errors.windows(2).all(|w| w[1] < w[0]);
    // Least-squares slope of log(error) against log(tolerance).
    let xs: Vec<f64> = tols.iter().map(|t| t.log10()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| e.log10()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / 5.0, ys.iter().sum::<f64>() / 5.0);
    let slope = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
    Ok(vec![Case {
        id: "V2".into(),
        kind: "verification",
        quantity: "one-beat error vs tolerance 1e-4..1e-8 (Dopri5)".into(),
        reference: "error falls with tolerance; slope ≈ 1 for error-per-step control".into(),
        source: "Hairer, Nørsett & Wanner, Solving ODEs I, §II.4",
        simulated: format!(
            "errors {}; slope {slope:.2}",
            errors
                .iter()
                .map(|e| format!("{e:.1e}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        tolerance: "monotone and slope in [0.6, 1.4]: valve kinks keep it near 1, not 5".into(),
        status: if monotone && (0.6..=1.4).contains(&slope) {
            Status::Pass
        } else {
            Status::Fail
        },
    }])
}

/// V3: pump flow at steady ΔP 60 and 30 mmHg inside each published P-level range.
fn device_flow_ranges() -> Result<Vec<Case>, String> {
    let cat = Catalogue::builtin();
    let mut out = Vec::new();
    for spec in cat.iter() {
        let curve = spec.pump_curve();
        let (mut n, mut ok) = (0, 0);
        for lvl in spec.p_levels().iter().filter(|l| l.level >= 2) {
            let Some([lo, hi]) = lvl.flow_range_l_min else {
                continue;
            };
            for dp in [30.0, 60.0] {
                let q = curve.steady_flow_ml_s(dp, lvl.rpm) * 0.06;
                n += 1;
                if q >= lo - 0.15 && q <= hi + 0.15 {
                    ok += 1;
                }
            }
        }
        out.push(Case {
            id: format!("V3-{}", spec.id()),
            kind: "verification",
            quantity: format!(
                "{}: flow at ΔP 30/60 mmHg, P2..P{}",
                spec.name(),
                spec.max_p_level()
            ),
            reference: "published P-level flow ranges (docs/devices.md)".into(),
            source: "IFU tables (2.5, CP, 5.5); derived/estimated (5.0, RP)",
            simulated: format!("{ok}/{n} inside"),
            tolerance: "±0.15 L/min: table resolution 0.1 L/min".into(),
            status: if ok == n { Status::Pass } else { Status::Fail },
        });
    }
    Ok(out)
}

/// A1: the normal adult inside published normal ranges.
fn normal_adult() -> Result<Vec<Case>, String> {
    let m = metrics("normal", None)?;
    let rows = [
        (
            "CO (L/min)",
            m.co_l_min,
            4.0,
            7.0,
            "rnceus; Marino ICU Book ch. 8",
        ),
        ("MAP (mmHg)", m.map_mmhg, 70.0, 105.0, "rnceus"),
        (
            "LVEF (%)",
            m.lvef_pct,
            50.0,
            70.0,
            "Framingham CMR (PMC3961548), echo normal ≥ 50 %",
        ),
        (
            "LVEDV (mL)",
            m.lvedv_ml,
            100.0,
            160.0,
            "CMR normal ranges (Maceira 2006, recalled)",
        ),
        ("LVEDP (mmHg)", m.lvedp_mmhg, 4.0, 12.0, "droracle / rnceus"),
        ("PCWP (mmHg)", m.pcwp_mmhg, 6.0, 12.0, "Marino"),
        ("CVP (mmHg)", m.cvp_mmhg, 2.0, 8.0, "rnceus; Marino"),
        (
            "mean PA (mmHg)",
            m.mpap_mmhg,
            8.0,
            20.0,
            "Kovacs ERJ 2009: 14 ± 3.3",
        ),
        ("SBP (mmHg)", m.sbp_mmhg, 90.0, 140.0, "rnceus"),
    ];
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, (q, v, lo, hi, src))| Case {
            id: format!("A1-{}", i + 1),
            kind: "validation",
            quantity: format!("normal adult {q}"),
            reference: format!("{lo}–{hi}"),
            source: src,
            simulated: format!("{v:.1}"),
            tolerance: "the published normal range itself".into(),
            status: within(*v, *lo, *hi),
        })
        .collect())
}

/// The hemodynamic definition of a SCAI stage and phenotype, as (label, holds).
pub fn stage_criteria(stage: char, side: &str, m: &BeatMetrics) -> Vec<(&'static str, bool)> {
    let mut c = match stage {
        'a' => vec![
            ("SBP >= 100", m.sbp_mmhg >= 100.0),
            ("CI >= 2.5", m.ci_l_min_m2 >= 2.5),
            ("CVP < 10", m.cvp_mmhg < 10.0),
        ],
        'b' => vec![
            ("SBP < 90", m.sbp_mmhg < 90.0),
            ("HR >= 100", m.hr_bpm >= 100.0),
            ("CI >= 2.2", m.ci_l_min_m2 >= 2.2),
        ],
        'c' | 'd' => vec![
            ("SBP < 90", m.sbp_mmhg < 90.0),
            ("CI < 2.2", m.ci_l_min_m2 < 2.2),
            ("CPO <= 0.6", m.cpo_w <= 0.6),
            ("SBP >= 60", m.sbp_mmhg >= 60.0),
            ("MAP >= 50", m.map_mmhg >= 50.0),
        ],
        _ => vec![(
            "SBP < 60 or MAP < 50",
            m.sbp_mmhg < 60.0 || m.map_mmhg < 50.0,
        )],
    };
    if stage >= 'c' {
        let lv = ("PCWP > 15", m.pcwp_mmhg > 15.0);
        let rv = [
            ("CVP > 15", m.cvp_mmhg > 15.0),
            ("RAP/PCWP >= 0.8", m.cvp_mmhg / m.pcwp_mmhg >= 0.8),
            ("PAPi < 1.0", m.papi < 1.0),
        ];
        match side {
            "lv" => c.extend([lv, ("RAP/PCWP < 0.8", m.cvp_mmhg / m.pcwp_mmhg < 0.8)]),
            "rv" => c.extend(rv),
            _ => {
                c.extend(rv);
                c.push(lv);
            }
        }
    }
    // Blood flows from the right atrium through the lungs: the pulmonary artery's mean
    // pressure is above the atrium's in every phenotype.
    c.push(("mean PA > CVP", m.mpap_mmhg > m.cvp_mmhg));
    c
}

/// A2: each shock preset meets its stage definition.
fn shock_stages() -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for p in PRESETS.iter().filter(|p| p.name.starts_with("scai_")) {
        let mut parts = p.name.split('_').skip(1);
        let stage = parts.next().and_then(|s| s.chars().next()).unwrap_or('a');
        let side = parts.next().unwrap_or("lv");
        let m = metrics(p.name, None)?;
        let crit = stage_criteria(stage, side, &m);
        let failed: Vec<&str> = crit.iter().filter(|c| !c.1).map(|c| c.0).collect();
        out.push(Case {
            id: format!("A2-{}", p.name),
            kind: "validation",
            quantity: format!("{} meets its definition", p.name),
            reference: crit.iter().map(|c| c.0).collect::<Vec<_>>().join(", "),
            source: "SCAI 2019/2022 (PMC9381657); DanGer Shock stage rules; AMICS RV criteria",
            simulated: format!(
                "SBP {:.0} MAP {:.0} CI {:.2} PCWP {:.0} CVP {:.0} CPO {:.2}",
                m.sbp_mmhg, m.map_mmhg, m.ci_l_min_m2, m.pcwp_mmhg, m.cvp_mmhg, m.cpo_w
            ),
            tolerance: "every criterion, exactly".into(),
            status: if failed.is_empty() {
                Status::Pass
            } else {
                Status::Fail
            },
        });
    }
    Ok(out)
}

/// A3: published effects of Impella support.
fn impella_effects() -> Result<Vec<Case>, String> {
    let base = metrics("scai_c_lv", None)?;
    let i25 = metrics("scai_c_lv", Some(("2.5", 8)))?;
    let i50 = metrics("scai_c_lv", Some(("5.0", 9)))?;
    let cp = metrics("scai_c_lv", Some(("cp", 9)))?;
    let cp8 = metrics("scai_c_lv", Some(("cp", 8)))?;
    let profound = metrics("scai_d_lv", None)?;
    let profound_cp = metrics("scai_d_lv", Some(("cp", 9)))?;
    let rv_base = metrics("scai_c_rv", None)?;
    let rp = metrics("scai_c_rv", Some(("rp", 8)))?;
    let pct = |a: f64, b: f64| 100.0 * (b - a) / a;
    let mut out = Vec::new();
    let mut case = |id: &str,
                    q: &str,
                    reference: String,
                    source: &'static str,
                    sim: f64,
                    lo: f64,
                    hi: f64,
                    tol: &str,
                    known: bool| {
        let st = within(sim, lo, hi);
        out.push(Case {
            id: id.into(),
            kind: "validation",
            quantity: q.into(),
            reference,
            source,
            simulated: format!("{sim:.2}"),
            tolerance: format!("[{lo}, {hi}]: {tol}"),
            status: if st == Status::Fail && known {
                Status::Known
            } else {
                st
            },
        });
    };
    case(
        "A3-1",
        "ΔCI with Impella 2.5 in AMI shock (L/min/m²)",
        "+0.49 ± 0.46".into(),
        "ISAR-SHOCK (pubmed 19007597)",
        i25.ci_l_min_m2 - base.ci_l_min_m2,
        0.03,
        0.95,
        "mean ± 1 SD of the trial",
        false,
    );
    case(
        "A3-2",
        "LVEDP change with Impella 2.5 (%)",
        "22 → 13 mmHg (−41 %)".into(),
        "Remmelink 2010 (conductance catheter)",
        pct(base.lvedp_mmhg, i25.lvedp_mmhg),
        -70.0,
        -10.0,
        "falls; SDs of ±12/±9 mmHg allow a wide band",
        false,
    );
    case(
        "A3-3",
        "total flow change, Impella 2.5 at 50k rpm (%)",
        "+4.4 %".into(),
        "CARDIOSIM (De Lazzari 2023, PMC10198323)",
        pct(base.total_flow_l_min, i25.total_flow_l_min),
        0.0,
        15.0,
        "same direction and order as a peer simulation",
        false,
    );
    case(
        "A3-4",
        "LVEDV change, Impella 2.5 at 50k rpm (%)",
        "−15 … −30 %".into(),
        "CARDIOSIM (De Lazzari 2023)",
        pct(base.lvedv_ml, i25.lvedv_ml),
        -30.0,
        -15.0,
        "the peer's range",
        true,
    );
    case(
        "A3-5",
        "ΔCI with Impella 5.0 (L/min/m²)",
        "1.65 → 2.7 (+1.05)".into(),
        "RECOVER I (Griffith 2013)",
        i50.ci_l_min_m2 - base.ci_l_min_m2,
        0.5,
        1.6,
        "±50 %: different patients (post-cardiotomy)",
        false,
    );
    case(
        "A3-6",
        "ΔMAP with Impella 5.0 (mmHg)",
        "71.4 → 83.1 (+11.7)".into(),
        "RECOVER I",
        i50.map_mmhg - base.map_mmhg,
        5.0,
        18.0,
        "±50 %",
        false,
    );
    case(
        "A3-7",
        "Δ PA diastolic with Impella 5.0 (mmHg)",
        "28.0 → 19.8 (−8.2)".into(),
        "RECOVER I",
        i50.padp_mmhg - base.padp_mmhg,
        -12.3,
        -4.1,
        "±50 %",
        false,
    );
    case(
        "A3-8",
        "aortic-valve opening fraction at full support (5.0 P9)",
        "valve stays shut".into(),
        "mechanism figure, PMC7584716",
        i50.av_open_fraction,
        0.0,
        0.0,
        "exactly shut",
        false,
    );
    case(
        "A3-9",
        "Impella CP mean flow at P9 in shock (L/min)",
        "3.8 ± 0.6".into(),
        "CP pivotal data (IFU rev V)",
        cp.pump_flow_l_min,
        3.2,
        4.4,
        "mean ± 1 SD",
        false,
    );
    case(
        "A3-10",
        "ΔCVP with Impella RP in RV shock (mmHg)",
        "falls".into(),
        "RECOVER RIGHT; Impella RP IFU",
        rp.cvp_mmhg - rv_base.cvp_mmhg,
        -15.0,
        -1.0,
        "falls by at least 1 mmHg",
        false,
    );
    case(
        "A3-11",
        "PVA change with Impella 5.0 P9 (%)",
        "falls with unloading".into(),
        "Burkhoff et al. JACC 2015 (mechanism)",
        pct(base.pva_mmhg_ml, i50.pva_mmhg_ml),
        -80.0,
        -5.0,
        "falls",
        false,
    );
    // Large-animal studies. Watanabe et al. (Ishikawa lab; pigs two weeks after an LAD
    // infarct, LVEF 39 %, Impella CP at P8): the SCAI C preset is the nearest in LVEDP and
    // LA pressure. The animals differ from the preset, so the bands are ±50 % of the change.
    let watanabe = "Watanabe et al., AHA abstract (a-cure.org), pigs post-MI, CP P8";
    case(
        "A3-12",
        "total flow change with Impella CP P8, animal (%)",
        "2.80 → 3.27 L/min (+17 %)".into(),
        watanabe,
        pct(base.total_flow_l_min, cp8.total_flow_l_min),
        8.4,
        25.2,
        "±50 % of the change: pigs, not the preset",
        false,
    );
    case(
        "A3-13",
        "LVEDP change with Impella CP P8, animal (%)",
        "27.5 → 17.9 mmHg (−35 %)".into(),
        watanabe,
        pct(base.lvedp_mmhg, cp8.lvedp_mmhg),
        -52.4,
        -17.5,
        "±50 % of the change",
        false,
    );
    case(
        "A3-14",
        "mean LA pressure change with Impella CP P8, animal (%)",
        "17.3 → 10.8 mmHg (−38 %)".into(),
        watanabe,
        pct(base.pcwp_mmhg, cp8.pcwp_mmhg),
        -56.4,
        -18.8,
        "±50 % of the change",
        false,
    );
    case(
        "A3-15",
        "PVA change with Impella CP in profound shock, animal (%)",
        "unchanged vs shock (VA-ECMO: +127 %)".into(),
        "Møller-Helgestad et al. EuroIntervention 2019 (swine, 60 min)",
        pct(profound.pva_mmhg_ml, profound_cp.pva_mmhg_ml),
        -20.0,
        20.0,
        "±20 %: no significant change in 14 swine; the contrast is ECMO's doubling",
        false,
    );
    Ok(out)
}

/// The table as Markdown.
pub fn markdown(cases: &[Case]) -> String {
    let mut s = String::from("| id | kind | quantity | reference | source | simulated | tolerance | status |\n|---|---|---|---|---|---|---|---|\n");
    // A `|` inside a cell would end it.
    let cell = |t: &str| t.replace('|', "\\|");
    for c in cases {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {:?} |",
            cell(&c.id),
            c.kind,
            cell(&c.quantity),
            cell(&c.reference),
            cell(c.source),
            cell(&c.simulated),
            cell(&c.tolerance),
            c.status
        );
    }
    s
}

/// Whether the run passes: no `fail`.
pub fn passed(cases: &[Case]) -> bool {
    cases.iter().all(|c| c.status != Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes_inside_cells() {
        let case = Case {
            id: "X".into(),
            kind: "verification",
            quantity: "max |Δ|".into(),
            reference: "0".into(),
            source: "-",
            simulated: "1".into(),
            tolerance: "-".into(),
            status: Status::Pass,
        };
        let row = markdown(&[case]).lines().nth(2).unwrap().to_string();
        // Eight cells: nine separators once the escaped ones are set aside.
        assert_eq!(row.replace("\\|", "").matches('|').count(), 9, "{row}");
        assert!(row.contains("max \\|Δ\\|"));
    }
}

//! Per-beat metrics from one beat's samples.
//!
//! A beat runs from one ventricular activation onset (the model's R wave) to the next, so
//! beats are found from the cardiac clock, not from valve events: every metric stays defined
//! when the aortic valve never opens. Definitions: docs/outputs.md.

use serde::Serialize;

use crate::physiology::activation::BeatClock;
use crate::physiology::elements::edpvr_area;
use crate::physiology::{Circulation, Hemodynamics, Slot};
use crate::solver::Sample;

/// mL/s → L/min.
const ML_S_TO_L_MIN: f64 = 60.0 / 1000.0;
/// mmHg·L/min → W (133.322 Pa · 1e-3 m³ / 60 s).
const MMHG_L_MIN_TO_W: f64 = 133.322e-3 / 60.0;
/// Forward aortic flow above which the valve counts as open, mL/s.
const AV_OPEN_THRESHOLD_ML_S: f64 = 1.0;

macro_rules! metrics {
    ($( $(#[doc = $doc:literal])+ $name:ident, )*) => {
        /// Metrics of one beat. Field names are the output column names (snake_case + unit).
        #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
        pub struct BeatMetrics { $( $(#[doc = $doc])+ pub $name: f64, )* }

        impl BeatMetrics {
            /// Column names, in output order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Values in the order of [`BeatMetrics::NAMES`].
            pub fn values(&self) -> Vec<f64> { vec![$(self.$name),*] }

            /// Field-by-field mean over beats (empty input gives all zeros).
            pub fn mean(beats: &[BeatMetrics]) -> BeatMetrics {
                let n = beats.len().max(1) as f64;
                BeatMetrics { $( $name: beats.iter().map(|b| b.$name).sum::<f64>() / n, )* }
            }
        }
    };
}

metrics! {
    /// Heart rate, beats/min.
    hr_bpm,
    /// Systolic aortic pressure (maximum over the beat), mmHg.
    sbp_mmhg,
    /// Diastolic aortic pressure (minimum over the beat), mmHg.
    dbp_mmhg,
    /// Mean aortic pressure (time mean over the beat), mmHg.
    map_mmhg,
    /// Native cardiac output: net aortic-valve flow, L/min.
    native_flow_l_min,
    /// Total systemic flow into the aorta (native + left-sided pump), L/min.
    co_l_min,
    /// Cardiac index: co_l_min / BSA, L/min/m².
    ci_l_min_m2,
    /// LV stroke volume EDV − ESV (all outflow routes), mL.
    sv_ml,
    /// Net forward aortic-valve volume in the beat, mL.
    native_sv_ml,
    /// LV ejection fraction (EDV − ESV)/EDV, %.
    lvef_pct,
    /// LV end-diastolic volume (maximum LV volume before end-systole), mL.
    lvedv_ml,
    /// LV end-systolic volume (at peak ventricular elastance), mL.
    lvesv_ml,
    /// LV end-diastolic pressure, mmHg.
    lvedp_mmhg,
    /// LV end-systolic pressure, mmHg.
    lvesp_mmhg,
    /// Peak LV pressure, mmHg.
    lvsp_mmhg,
    /// RV end-diastolic volume, mL.
    rvedv_ml,
    /// RV end-systolic volume, mL.
    rvesv_ml,
    /// RV ejection fraction, %.
    rvef_pct,
    /// Pulmonary capillary wedge pressure: mean LA pressure, mmHg.
    pcwp_mmhg,
    /// Central venous pressure: mean RA pressure, mmHg.
    cvp_mmhg,
    /// Pulmonary artery systolic pressure, mmHg.
    pasp_mmhg,
    /// Pulmonary artery diastolic pressure, mmHg.
    padp_mmhg,
    /// Mean pulmonary artery pressure, mmHg.
    mpap_mmhg,
    /// Cardiac power output MAP · CO / 451, W.
    cpo_w,
    /// Pulmonary artery pulsatility index (PASP − PADP)/CVP.
    papi,
    /// LV stroke work: PV-loop area, mmHg·mL.
    stroke_work_mmhg_ml,
    /// LV pressure–volume area (Suga): stroke work + potential energy, mmHg·mL.
    pva_mmhg_ml,
    /// Fraction of the beat with forward aortic-valve flow (0 = valve stayed shut).
    av_open_fraction,
    /// Mitral regurgitant volume in the beat, mL.
    mr_volume_ml,
    /// Mitral regurgitant fraction: regurgitant volume / LV stroke volume.
    mr_fraction,
    /// Total blood volume at the beat's start, mL.
    blood_volume_ml,
}

/// Computes the metrics of one beat from its samples (both ends included).
pub fn beat_metrics(circ: &Circulation, clock: &BeatClock, samples: &[Sample]) -> BeatMetrics {
    let p = circ.parameters();
    let period = clock.period;
    let hs: Vec<Hemodynamics> = samples
        .iter()
        .map(|(t, y)| circ.hemodynamics(clock, *t, y))
        .collect();
    let ts: Vec<f64> = samples.iter().map(|s| s.0).collect();
    let vol = |slot: Slot| -> Vec<f64> { samples.iter().map(|s| s.1[slot.i()]).collect() };
    let v_lv = vol(Slot::VLv);
    let v_rv = vol(Slot::VRv);

    let integral = |f: &dyn Fn(&Hemodynamics) -> f64| -> f64 {
        ts.windows(2)
            .zip(hs.windows(2))
            .map(|(t, h)| 0.5 * (t[1] - t[0]) * (f(&h[0]) + f(&h[1])))
            .sum()
    };
    let mean = |f: &dyn Fn(&Hemodynamics) -> f64| integral(f) / period;
    let max = |f: &dyn Fn(&Hemodynamics) -> f64| hs.iter().map(f).fold(f64::MIN, f64::max);
    let min = |f: &dyn Fn(&Hemodynamics) -> f64| hs.iter().map(f).fold(f64::MAX, f64::min);

    // End-systole: the sample nearest peak ventricular elastance (Suga's definition).
    let t0 = clock.t_start;
    let i_es = ts
        .iter()
        .enumerate()
        .min_by(|a, b| {
            let da = (a.1 - t0 - circ.t_end_systole()).abs();
            let db = (b.1 - t0 - circ.t_end_systole()).abs();
            da.total_cmp(&db)
        })
        .map(|(i, _)| i)
        .unwrap_or(0);
    // End-diastole: the first time, between onset and end-systole, that the volume reaches
    // its maximum (within a small band, so the flat isovolumic phase does not move it late).
    let argmax = |v: &[f64]| {
        let v = &v[..=i_es];
        let v_max = v.iter().copied().fold(f64::MIN, f64::max);
        let band = (1e-4 * v_max.abs()).max(0.05);
        v.iter().position(|&x| x >= v_max - band).unwrap_or(0)
    };
    let i_ed = argmax(&v_lv);
    let i_ed_rv = argmax(&v_rv);

    let lvedv = v_lv[i_ed];
    let lvesv = v_lv[i_es];
    let rvedv = v_rv[i_ed_rv];
    let rvesv = v_rv[i_es];
    let sv = lvedv - lvesv;

    let native_sv = integral(&|h| h.q_av);
    let native_flow = native_sv / period * ML_S_TO_L_MIN;
    let co = native_flow;
    let map = mean(&|h| h.p_ao);
    let cvp = mean(&|h| h.p_ra);
    let pasp = max(&|h| h.p_pa);
    let padp = min(&|h| h.p_pa);
    let mr_volume = 0.0 - integral(&|h| h.q_mv.min(0.0));

    // Stroke work = −∮ P dV (counter-clockwise loop in the V–P plane).
    let stroke_work: f64 = -v_lv
        .windows(2)
        .zip(hs.windows(2))
        .map(|(v, h)| 0.5 * (h[0].p_lv + h[1].p_lv) * (v[1] - v[0]))
        .sum::<f64>();
    // Potential energy: triangle under the ESPVR down to V0, less the passive EDPVR area.
    let lvesp = hs[i_es].p_lv;
    let pe = (0.5 * lvesp * (lvesv - p.lv.v0) - edpvr_area(&p.lv, lvesv)).max(0.0);
    let open_time: f64 = ts
        .windows(2)
        .zip(hs.windows(2))
        .filter(|(_, h)| 0.5 * (h[0].q_av + h[1].q_av) > AV_OPEN_THRESHOLD_ML_S)
        .map(|(t, _)| t[1] - t[0])
        .sum();

    BeatMetrics {
        hr_bpm: 60.0 / period,
        sbp_mmhg: max(&|h| h.p_ao),
        dbp_mmhg: min(&|h| h.p_ao),
        map_mmhg: map,
        native_flow_l_min: native_flow,
        co_l_min: co,
        ci_l_min_m2: co / p.bsa,
        sv_ml: sv,
        native_sv_ml: native_sv,
        lvef_pct: 100.0 * sv / lvedv,
        lvedv_ml: lvedv,
        lvesv_ml: lvesv,
        lvedp_mmhg: hs[i_ed].p_lv,
        lvesp_mmhg: lvesp,
        lvsp_mmhg: max(&|h| h.p_lv),
        rvedv_ml: rvedv,
        rvesv_ml: rvesv,
        rvef_pct: 100.0 * (rvedv - rvesv) / rvedv,
        pcwp_mmhg: mean(&|h| h.p_la),
        cvp_mmhg: cvp,
        pasp_mmhg: pasp,
        padp_mmhg: padp,
        mpap_mmhg: mean(&|h| h.p_pa),
        cpo_w: map * co * MMHG_L_MIN_TO_W,
        papi: (pasp - padp) / cvp,
        stroke_work_mmhg_ml: stroke_work,
        pva_mmhg_ml: stroke_work + pe,
        av_open_fraction: open_time / period,
        mr_volume_ml: mr_volume,
        mr_fraction: if sv > 0.0 { mr_volume / sv } else { 0.0 },
        blood_volume_ml: crate::physiology::circulation::total_volume(&samples[0].1),
    }
}

//! Per-beat metrics from one beat's samples.
//!
//! A beat runs from one ventricular activation onset (the model's R wave) to the next, so
//! beats are found from the cardiac clock, not from valve events: every metric stays defined
//! when the aortic valve never opens. Definitions: docs/outputs.md.

use serde::Serialize;

use crate::devices::Side;
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
    /// Mean flow of the left-sided pump (0 without one), L/min.
    pump_flow_l_min,
    /// Highest pump flow in the beat, L/min.
    pump_flow_max_l_min,
    /// Lowest pump flow in the beat (negative = back-flow into the LV), L/min.
    pump_flow_min_l_min,
    /// Total systemic flow into the aorta: native + left-sided pump (when it ejects into the
    /// aorta from the LV), L/min.
    total_flow_l_min,
    /// Cardiac output, the total systemic flow (same as total_flow_l_min), L/min.
    co_l_min,
    /// Cardiac index: co_l_min / BSA, L/min/m².
    ci_l_min_m2,
    /// Rotor speed of the left-sided pump, rpm.
    pump_speed_rpm,
    /// Mean hydraulic rotor torque of the left-sided pump (motor-current proxy), mN·m.
    pump_torque_mnm,
    /// Beat's max − min of that torque: the pulsatility of the motor current proxy, mN·m.
    pump_torque_pulsatility_mnm,
    /// Highest placement-signal pressure (at the left pump's outlet), mmHg.
    placement_max_mmhg,
    /// Lowest placement-signal pressure, mmHg.
    placement_min_mmhg,
    /// Mean flow of the right-sided pump (0 without one), L/min.
    rp_flow_l_min,
    /// Rotor speed of the right-sided pump, rpm.
    rp_speed_rpm,
    /// Fraction of the beat with a pump inlet obstructed (suction), either pump.
    suction_fraction,
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
    // Filling ends when the mitral valve closes: the end of the last forward mitral flow
    // before ES. Volume that enters later (aortic regurgitation, back-flow through a stopped
    // pump) is not filling. Without forward mitral flow in the beat (the valve closed in
    // diastole, as in severe aortic regurgitation) end-diastole is the onset itself.
    let i_contracting = hs[..=i_es]
        .iter()
        .rposition(|h| h.q_mv > 0.0)
        .map_or(0, |i| (i + 1).min(i_es));
    let argmax = |v: &[f64]| {
        let v = &v[..=i_contracting];
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
    let pump_flow = mean(&|h| h.q_pump_l) * ML_S_TO_L_MIN;
    // Only a pump that moves blood from the LV into the aorta adds to systemic flow; a
    // malpositioned one recirculates within one compartment.
    let delivered = circ
        .pump(Side::Left)
        .filter(|c| c.inlet == Slot::VLv && c.outlet == Slot::VAo)
        .map_or(0.0, |_| pump_flow);
    let co = native_flow + delivered;
    let console = ConsoleTrace::new(circ, samples, &hs);
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
        pump_flow_l_min: pump_flow,
        pump_flow_max_l_min: max(&|h| h.q_pump_l) * ML_S_TO_L_MIN,
        pump_flow_min_l_min: min(&|h| h.q_pump_l) * ML_S_TO_L_MIN,
        total_flow_l_min: co,
        co_l_min: co,
        ci_l_min_m2: co / p.bsa,
        pump_speed_rpm: circ.pump(Side::Left).map_or(0.0, |c| c.pump.speed_rpm()),
        pump_torque_mnm: console.torque_mean,
        pump_torque_pulsatility_mnm: console.torque_max - console.torque_min,
        placement_max_mmhg: console.placement_max,
        placement_min_mmhg: console.placement_min,
        rp_flow_l_min: mean(&|h| h.q_pump_r) * ML_S_TO_L_MIN,
        rp_speed_rpm: circ.pump(Side::Right).map_or(0.0, |c| c.pump.speed_rpm()),
        suction_fraction: console.suction_time / period,
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
        av_open_fraction: open_time / period + 0.0, // + 0.0 turns an empty sum's -0.0 into 0
        mr_volume_ml: mr_volume,
        mr_fraction: if sv > 0.0 { mr_volume / sv } else { 0.0 },
        blood_volume_ml: crate::physiology::circulation::total_volume(&samples[0].1),
    }
}

/// The left pump's console signals over one beat, and suction time of either pump.
struct ConsoleTrace {
    torque_mean: f64,
    torque_min: f64,
    torque_max: f64,
    placement_min: f64,
    placement_max: f64,
    /// Time with an obstructed inlet, s.
    suction_time: f64,
}

impl ConsoleTrace {
    fn new(circ: &Circulation, samples: &[Sample], hs: &[Hemodynamics]) -> Self {
        let mut c = ConsoleTrace {
            torque_mean: 0.0,
            torque_min: 0.0,
            torque_max: 0.0,
            placement_min: 0.0,
            placement_max: 0.0,
            suction_time: 0.0,
        };
        for w in samples.windows(2) {
            let dt = w[1].0 - w[0].0;
            if circ
                .pumps()
                .any(|p| p.suction.is_some_and(|s| s.active(w[0].1[p.inlet.i()])))
            {
                c.suction_time += dt;
            }
        }
        let Some(left) = circ.pump(Side::Left) else {
            return c;
        };
        let torque: Vec<f64> = samples
            .iter()
            .map(|(_, y)| left.pump.torque_mnm(y[left.flow.i()]))
            .collect();
        let placement: Vec<f64> = hs.iter().map(|h| h.pressure(left.outlet)).collect();
        let fold = |v: &[f64]| {
            v.iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
        };
        (c.torque_min, c.torque_max) = fold(&torque);
        (c.placement_min, c.placement_max) = fold(&placement);
        let span = samples.last().unwrap().0 - samples[0].0;
        c.torque_mean = samples
            .windows(2)
            .zip(torque.windows(2))
            .map(|(t, q)| 0.5 * (t[1].0 - t[0].0) * (q[0] + q[1]))
            .sum::<f64>()
            / span;
        c
    }
}

//! Per-beat metrics from one beat's samples.
//!
//! A beat runs from one ventricular activation onset (the model's R wave) to the next, so
//! beats are found from the cardiac clock, not from valve events: every metric stays defined
//! when the aortic valve never opens. Definitions: docs/outputs.md.

use serde::Serialize;

use crate::devices::Side;
use crate::physiology::activation::BeatClock;
use crate::physiology::elements::edpvr_area;
use crate::physiology::{Circulation, MetricPressures, Slot, State};
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

/// One signal over a beat, sample by sample: its time integral (trapezoidal rule), maximum
/// and minimum.
#[derive(Debug, Clone, Copy)]
struct Signal {
    integral: f64,
    max: f64,
    min: f64,
    last: f64,
}

impl Signal {
    fn start(v: f64) -> Self {
        Signal {
            integral: 0.0,
            max: v,
            min: v,
            last: v,
        }
    }

    /// Adds the next sample, `dt` s after the last. The samples are finite (the beat has
    /// passed `check_physical`), so the extrema are plain comparisons, one instruction each,
    /// where `f64::max` also handles NaN.
    #[inline(always)]
    fn push(&mut self, dt: f64, v: f64) {
        self.integral += 0.5 * dt * (self.last + v);
        self.max = if v > self.max { v } else { self.max };
        self.min = if v < self.min { v } else { self.min };
        self.last = v;
    }
}

/// The signals the metrics are made of, each taken from the pressures and flows of one sample.
#[derive(Debug, Clone, Copy)]
struct Signals {
    p_ao: Signal,
    p_pa: Signal,
    p_la: Signal,
    p_ra: Signal,
    p_lv: Signal,
    q_av: Signal,
    /// Regurgitant (negative) part of the mitral flow.
    q_mr: Signal,
    q_pump_l: Signal,
    q_pump_r: Signal,
    /// Hydraulic torque of the left pump (0 without one), mN·m.
    torque: Signal,
    /// Placement signal: pressure at the left pump's outlet (0 without one), mmHg.
    placement: Signal,
}

impl Signals {
    #[inline(always)]
    fn values(circ: &Circulation, h: &MetricPressures, y: &State) -> [f64; 11] {
        let (q_pump_l, q_pump_r) = (y[Slot::QPumpL.i()], y[Slot::QPumpR.i()]);
        // `if let`, not `map_or`: the adaptor is not inlined into the kernel's AVX2 copy.
        let (torque, placement) = if let Some(c) = circ.pump(Side::Left) {
            (c.pump.torque_mnm(q_pump_l), h.outlet_pressure(c.outlet))
        } else {
            (0.0, 0.0)
        };
        [
            h.p_ao,
            h.p_pa,
            h.p_la,
            h.p_ra,
            h.p_lv,
            h.q_av,
            h.q_mv.min(0.0),
            q_pump_l,
            q_pump_r,
            torque,
            placement,
        ]
    }

    fn start(circ: &Circulation, h: &MetricPressures, y: &State) -> Self {
        let [p_ao, p_pa, p_la, p_ra, p_lv, q_av, q_mr, q_pump_l, q_pump_r, torque, placement] =
            Self::values(circ, h, y).map(Signal::start);
        Signals {
            p_ao,
            p_pa,
            p_la,
            p_ra,
            p_lv,
            q_av,
            q_mr,
            q_pump_l,
            q_pump_r,
            torque,
            placement,
        }
    }

    #[inline(always)]
    fn push(&mut self, circ: &Circulation, dt: f64, h: &MetricPressures, y: &State) {
        let [p_ao, p_pa, p_la, p_ra, p_lv, q_av, q_mr, q_pump_l, q_pump_r, torque, placement] =
            Self::values(circ, h, y);
        self.p_ao.push(dt, p_ao);
        self.p_pa.push(dt, p_pa);
        self.p_la.push(dt, p_la);
        self.p_ra.push(dt, p_ra);
        self.p_lv.push(dt, p_lv);
        self.q_av.push(dt, q_av);
        self.q_mr.push(dt, q_mr);
        self.q_pump_l.push(dt, q_pump_l);
        self.q_pump_r.push(dt, q_pump_r);
        self.torque.push(dt, torque);
        self.placement.push(dt, placement);
    }
}

/// Computes the metrics of one beat from its samples (both ends included), in one pass that
/// evaluates the pressures and flows once per sample and keeps none of them.
#[inline(always)]
pub fn beat_metrics(circ: &Circulation, clock: &BeatClock, samples: &[Sample]) -> BeatMetrics {
    let p = circ.parameters();
    let period = clock.period;
    let pressures = |(t, y): &Sample| circ.metric_pressures(clock, *t, y);
    let v_lv = |i: usize| samples[i].1[Slot::VLv.i()];
    let v_rv = |i: usize| samples[i].1[Slot::VRv.i()];

    // End-systole: the sample nearest peak ventricular elastance (Suga's definition).
    let t0 = clock.t_start;
    let i_es = samples
        .iter()
        .enumerate()
        .min_by(|a, b| {
            let da = (a.1 .0 - t0 - circ.t_end_systole()).abs();
            let db = (b.1 .0 - t0 - circ.t_end_systole()).abs();
            da.total_cmp(&db)
        })
        .map(|(i, _)| i)
        .unwrap_or(0);

    let suction_active = |y: &State| {
        circ.pumps()
            .any(|p| p.suction.is_some_and(|s| s.active(y[p.inlet.i()])))
    };
    let h0 = pressures(&samples[0]);
    let mut signals = Signals::start(circ, &h0, &samples[0].1);
    // Stroke work = −∮ P dV (counter-clockwise loop in the V–P plane), by the trapezoidal rule.
    let mut p_dv = 0.0;
    let mut open_time = 0.0;
    let mut suction_time = 0.0;
    // Last sample up to end-systole with forward mitral flow.
    let mut last_filling = (h0.q_mv > 0.0).then_some(0);
    let mut lvesp = h0.p_lv;
    for (k, w) in (1..).zip(samples.windows(2)) {
        // Sample k = w[1], the window's end.
        let h = pressures(&w[1]);
        let dt = w[1].0 - w[0].0;
        p_dv += 0.5 * (signals.p_lv.last + h.p_lv) * (v_lv(k) - v_lv(k - 1));
        if 0.5 * (signals.q_av.last + h.q_av) > AV_OPEN_THRESHOLD_ML_S {
            open_time += dt;
        }
        if suction_active(&w[0].1) {
            suction_time += dt;
        }
        if k <= i_es && h.q_mv > 0.0 {
            last_filling = Some(k);
        }
        if k == i_es {
            lvesp = h.p_lv;
        }
        signals.push(circ, dt, &h, &w[1].1);
    }
    let stroke_work = -p_dv;

    // End-diastole: the first time, between onset and end-systole, that the volume reaches
    // its maximum (within a small band, so the flat isovolumic phase does not move it late).
    // Filling ends when the mitral valve closes: the end of the last forward mitral flow
    // before ES. Volume that enters later (aortic regurgitation, back-flow through a stopped
    // pump) is not filling. Without forward mitral flow in the beat (the valve closed in
    // diastole, as in severe aortic regurgitation) end-diastole is the onset itself.
    let i_contracting = last_filling.map_or(0, |i| (i + 1).min(i_es));
    // (Plain loops over a slot, where a `&dyn Fn` through iterator adaptors cost a dynamic
    // call per sample and stayed out of the kernel's AVX2 copy.)
    let argmax = |slot: Slot| {
        let v = |i: usize| samples[i].1[slot.i()];
        let mut v_max = f64::MIN;
        for i in 0..=i_contracting {
            v_max = v_max.max(v(i));
        }
        let band = (1e-4 * v_max.abs()).max(0.05);
        (0..=i_contracting)
            .find(|&i| v(i) >= v_max - band)
            .unwrap_or(0)
    };
    let i_ed = argmax(Slot::VLv);
    let i_ed_rv = argmax(Slot::VRv);

    let lvedv = v_lv(i_ed);
    let lvesv = v_lv(i_es);
    let rvedv = v_rv(i_ed_rv);
    let rvesv = v_rv(i_es);
    let sv = lvedv - lvesv;

    let mean = |s: &Signal| s.integral / period;
    let native_sv = signals.q_av.integral;
    let native_flow = native_sv / period * ML_S_TO_L_MIN;
    let pump_flow = mean(&signals.q_pump_l) * ML_S_TO_L_MIN;
    // Only a pump that moves blood from the LV into the aorta adds to systemic flow; a
    // malpositioned one recirculates within one compartment.
    let delivered = circ
        .pump(Side::Left)
        .filter(|c| c.inlet == Slot::VLv && c.outlet == Slot::VAo)
        .map_or(0.0, |_| pump_flow);
    let co = native_flow + delivered;
    let map = mean(&signals.p_ao);
    let cvp = mean(&signals.p_ra);
    let pasp = signals.p_pa.max;
    let padp = signals.p_pa.min;
    let mr_volume = 0.0 - signals.q_mr.integral;
    let span = samples[samples.len() - 1].0 - samples[0].0;

    // Potential energy: triangle under the ESPVR down to V0, less the passive EDPVR area.
    let pe = (0.5 * lvesp * (lvesv - p.lv.v0) - edpvr_area(&p.lv, lvesv)).max(0.0);

    BeatMetrics {
        hr_bpm: 60.0 / period,
        sbp_mmhg: signals.p_ao.max,
        dbp_mmhg: signals.p_ao.min,
        map_mmhg: map,
        native_flow_l_min: native_flow,
        pump_flow_l_min: pump_flow,
        pump_flow_max_l_min: signals.q_pump_l.max * ML_S_TO_L_MIN,
        pump_flow_min_l_min: signals.q_pump_l.min * ML_S_TO_L_MIN,
        total_flow_l_min: co,
        co_l_min: co,
        ci_l_min_m2: co / p.bsa,
        pump_speed_rpm: circ.pump(Side::Left).map_or(0.0, |c| c.pump.speed_rpm()),
        pump_torque_mnm: signals.torque.integral / span,
        pump_torque_pulsatility_mnm: signals.torque.max - signals.torque.min,
        placement_max_mmhg: signals.placement.max,
        placement_min_mmhg: signals.placement.min,
        rp_flow_l_min: mean(&signals.q_pump_r) * ML_S_TO_L_MIN,
        rp_speed_rpm: circ.pump(Side::Right).map_or(0.0, |c| c.pump.speed_rpm()),
        suction_fraction: suction_time / period,
        sv_ml: sv,
        native_sv_ml: native_sv,
        lvef_pct: 100.0 * sv / lvedv,
        lvedv_ml: lvedv,
        lvesv_ml: lvesv,
        lvedp_mmhg: pressures(&samples[i_ed]).p_lv,
        lvesp_mmhg: lvesp,
        lvsp_mmhg: signals.p_lv.max,
        rvedv_ml: rvedv,
        rvesv_ml: rvesv,
        rvef_pct: 100.0 * (rvedv - rvesv) / rvedv,
        pcwp_mmhg: mean(&signals.p_la),
        cvp_mmhg: cvp,
        pasp_mmhg: pasp,
        padp_mmhg: padp,
        mpap_mmhg: mean(&signals.p_pa),
        cpo_w: map * co * MMHG_L_MIN_TO_W,
        papi: (pasp - padp) / cvp,
        stroke_work_mmhg_ml: stroke_work,
        pva_mmhg_ml: stroke_work + pe,
        av_open_fraction: open_time / period + 0.0, // + 0.0 turns -0.0 into 0
        mr_volume_ml: mr_volume,
        mr_fraction: if sv > 0.0 { mr_volume / sv } else { 0.0 },
        blood_volume_ml: crate::physiology::circulation::total_volume(&samples[0].1),
    }
}

//! Per-beat metrics from one beat's samples.
//!
//! A beat runs from one ventricular activation onset (the model's R wave) to the next, so
//! beats are found from the cardiac clock, not from valve events: every metric stays defined
//! when the aortic valve never opens. Definitions: docs/outputs.md.

use serde::Serialize;

use crate::devices::Side;
use crate::physiology::activation::BeatClock;
use crate::physiology::elements::edpvr_area;
use crate::physiology::parameters::ActivationParams;
use crate::physiology::{Circulation, MetricPressures, Slot, State};
use crate::solver::Sample;

/// mL/s → L/min.
const ML_S_TO_L_MIN: f64 = 60.0 / 1000.0;
/// mmHg·L/min → W (133.322 Pa · 1e-3 m³ / 60 s).
const MMHG_L_MIN_TO_W: f64 = 133.322e-3 / 60.0;
/// Forward aortic flow above which the valve counts as open, mL/s.
const AV_OPEN_THRESHOLD_ML_S: f64 = 1.0;

/// Which part of a report a metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricGroup {
    /// Heart rate, systemic and pulmonary pressures.
    PressuresAndRate,
    /// Flows, cardiac index and power.
    FlowAndPower,
    /// LV volumes, pressures, work and valves.
    LeftVentricle,
    /// RV volumes and PAPi.
    RightVentricle,
    /// Pump speeds, torque, placement signal, suction.
    Pumps,
    /// Total blood volume.
    Volume,
}

impl MetricGroup {
    /// In report order.
    pub const ALL: [MetricGroup; 6] = [
        MetricGroup::PressuresAndRate,
        MetricGroup::FlowAndPower,
        MetricGroup::LeftVentricle,
        MetricGroup::RightVentricle,
        MetricGroup::Pumps,
        MetricGroup::Volume,
    ];

    /// Its heading in the report.
    pub fn title(self) -> &'static str {
        match self {
            MetricGroup::PressuresAndRate => "Pressures and rate",
            MetricGroup::FlowAndPower => "Flow and power",
            MetricGroup::LeftVentricle => "Left ventricle",
            MetricGroup::RightVentricle => "Right ventricle",
            MetricGroup::Pumps => "Pumps",
            MetricGroup::Volume => "Volume",
        }
    }
}

/// What a beat metric is: the one source of its key (the output column), unit, labels, report
/// group and definition, read by beats.csv, summary.json, the report, sweep charts, triggers
/// and weaning criteria; docs/outputs.md's table is checked against it (tests/docs.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInfo {
    /// Column name: snake_case with the unit as suffix.
    pub key: &'static str,
    /// Unit as shown to people ("–" for none).
    pub unit: &'static str,
    /// Where the report shows it.
    pub group: MetricGroup,
    /// A name that stands alone ("LV end-diastolic pressure").
    pub label: &'static str,
    /// A short name for headlines and legends ("LVEDP").
    pub short: &'static str,
    /// How it is computed (docs/outputs.md).
    pub definition: &'static str,
}

impl MetricInfo {
    /// The metric `key`, if there is one.
    pub fn of(key: &str) -> Option<&'static MetricInfo> {
        BeatMetrics::INFO.iter().find(|m| m.key == key)
    }

    /// "LVEDP (mmHg)": an axis title.
    pub fn axis_title(&self) -> String {
        match self.unit {
            "–" => self.short.to_string(),
            unit => format!("{} ({unit})", self.short),
        }
    }
}

macro_rules! metrics {
    ($( $name:ident, $unit:literal, $group:ident, $label:literal, $short:literal,
        $definition:literal; )*) => {
        /// Metrics of one beat. Field names are the output column names (snake_case + unit);
        /// each field's unit, labels and definition are in [`BeatMetrics::INFO`].
        #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
        pub struct BeatMetrics { $( #[doc = $definition] pub $name: f64, )* }

        impl BeatMetrics {
            /// Column names, in output order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// What each metric is, in the order of [`BeatMetrics::NAMES`].
            pub const INFO: &'static [MetricInfo] = &[$(MetricInfo {
                key: stringify!($name),
                unit: $unit,
                group: MetricGroup::$group,
                label: $label,
                short: $short,
                definition: $definition,
            }),*];

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
    hr_bpm, "beats/min", PressuresAndRate, "Heart rate", "HR",
        "heart rate, 60 / beat period";
    sbp_mmhg, "mmHg", PressuresAndRate, "Systolic pressure", "SBP",
        "systolic pressure: maximum of proximal aortic pressure P_ao";
    dbp_mmhg, "mmHg", PressuresAndRate, "Diastolic pressure", "DBP",
        "diastolic pressure: minimum of P_ao";
    map_mmhg, "mmHg", PressuresAndRate, "Mean arterial pressure", "MAP",
        "mean arterial pressure: time mean of P_ao";
    native_flow_l_min, "L/min", FlowAndPower, "Native (aortic-valve) flow", "Native (aortic-valve) flow",
        "native cardiac output: net aortic-valve flow (forward minus regurgitant)";
    pump_flow_l_min, "L/min", FlowAndPower, "Left pump flow", "Pump flow",
        "mean cannula flow of the left-sided pump (0 without one; negative = net back-flow into the LV, e.g. at P0)";
    pump_flow_max_l_min, "L/min", FlowAndPower, "Left pump flow, maximum", "Left pump flow, maximum",
        "highest left-pump flow in the beat (the console's flow waveform peak)";
    pump_flow_min_l_min, "L/min", FlowAndPower, "Left pump flow, minimum", "Left pump flow, minimum",
        "lowest left-pump flow in the beat";
    total_flow_l_min, "L/min", FlowAndPower, "Total systemic flow", "Total flow",
        "total systemic flow into the aorta: `native_flow_l_min` + `pump_flow_l_min` (a malpositioned pump recirculates and adds nothing)";
    co_l_min, "L/min", FlowAndPower, "Cardiac output", "CO",
        "cardiac output, the total systemic flow (equal to `total_flow_l_min`; kept under its clinical name)";
    ci_l_min_m2, "L/min/m²", FlowAndPower, "Cardiac index", "CI",
        "cardiac index: `co_l_min` / BSA";
    pump_speed_rpm, "rpm", Pumps, "Left pump speed", "Left pump speed",
        "rotor speed of the left-sided pump (0 without one)";
    pump_torque_mnm, "mN·m", Pumps, "Left pump torque (motor-current proxy)", "Left pump torque (motor-current proxy)",
        "mean hydraulic rotor torque H·Q/ω of the left pump: the motor-current proxy (motor current ∝ torque; no published current law, see docs/devices.md)";
    pump_torque_pulsatility_mnm, "mN·m", Pumps, "Torque pulsatility", "Torque pulsatility",
        "max − min of that torque in the beat: a pulsatile motor current marks a correctly placed pump";
    placement_max_mmhg, "mmHg", Pumps, "Placement signal, maximum", "Placement signal, maximum",
        "highest placement-signal pressure (pressure at the left pump's outlet: aortic when placed correctly)";
    placement_min_mmhg, "mmHg", Pumps, "Placement signal, minimum", "Placement signal, minimum",
        "lowest placement-signal pressure";
    rp_flow_l_min, "L/min", FlowAndPower, "Right pump flow", "RP flow",
        "mean cannula flow of the right-sided pump (RA → PA)";
    rp_speed_rpm, "rpm", Pumps, "Right pump speed", "Right pump speed",
        "rotor speed of the right-sided pump";
    suction_fraction, "–", Pumps, "Beat fraction with suction", "Suction",
        "fraction of the beat with a pump inlet obstructed (suction), either pump";
    sv_ml, "mL", LeftVentricle, "LV stroke volume", "SV",
        "LV stroke volume EDV − ESV (all outflow routes from ED to ES: aortic valve, mitral regurgitation, left pump)";
    native_sv_ml, "mL", LeftVentricle, "Net aortic-valve volume", "Net aortic-valve volume",
        "net aortic-valve volume in the beat";
    lvef_pct, "%", LeftVentricle, "LV ejection fraction", "LVEF",
        "LV ejection fraction 100·(EDV − ESV)/EDV";
    lvedv_ml, "mL", LeftVentricle, "LV end-diastolic volume", "LVEDV",
        "LV end-diastolic volume";
    lvesv_ml, "mL", LeftVentricle, "LV end-systolic volume", "LVESV",
        "LV end-systolic volume (at the end of ejection, see End-systole)";
    lvedp_mmhg, "mmHg", LeftVentricle, "LV end-diastolic pressure", "LVEDP",
        "LV pressure at ED";
    lvesp_mmhg, "mmHg", LeftVentricle, "LV end-systolic pressure", "LV end-systolic pressure",
        "LV pressure at ES";
    lvsp_mmhg, "mmHg", LeftVentricle, "LV peak pressure", "LV peak pressure",
        "peak LV pressure";
    rvedv_ml, "mL", RightVentricle, "RV end-diastolic volume", "RVEDV",
        "RV end-diastolic volume (maximum RV volume before RV ES)";
    rvesv_ml, "mL", RightVentricle, "RV end-systolic volume", "RVESV",
        "RV volume at RV ES (the end of pulmonary ejection)";
    rvef_pct, "%", RightVentricle, "RV ejection fraction", "RVEF",
        "RV ejection fraction 100·(RVEDV − RVESV)/RVEDV";
    pcwp_mmhg, "mmHg", PressuresAndRate, "Wedge pressure, mean LA", "PCWP",
        "pulmonary capillary wedge pressure, taken as mean LA pressure";
    cvp_mmhg, "mmHg", PressuresAndRate, "Central venous pressure", "CVP",
        "central venous pressure, taken as mean RA pressure";
    pasp_mmhg, "mmHg", PressuresAndRate, "PA systolic pressure", "PASP",
        "pulmonary artery systolic pressure (maximum of P_pa)";
    padp_mmhg, "mmHg", PressuresAndRate, "PA diastolic pressure", "PADP",
        "pulmonary artery diastolic pressure (minimum of P_pa)";
    mpap_mmhg, "mmHg", PressuresAndRate, "Mean PA pressure", "mPAP",
        "mean pulmonary artery pressure";
    cpo_w, "W", FlowAndPower, "Cardiac power output", "Cardiac power",
        "cardiac power output MAP·CO·(133.322 Pa/mmHg)/(60 000 mL·s/L·min) = MAP·CO/450 (Fincke 2004)";
    papi, "–", RightVentricle, "PA pulsatility index (PAPi)", "PAPi",
        "pulmonary artery pulsatility index (PASP − PADP)/CVP";
    stroke_work_mmhg_ml, "mmHg·mL", LeftVentricle, "LV stroke work", "LV stroke work",
        "LV stroke work: area of the PV loop, −∮P dV (1 mmHg·mL = 1.333·10⁻⁴ J)";
    pva_mmhg_ml, "mmHg·mL", LeftVentricle, "LV pressure–volume area", "PVA",
        "pressure–volume area (Suga 1990): stroke work + potential energy PE, PE = ½·P_es·(V_es − V_0) − ∫_{V0}^{Ves} P_ed dV (relaxation limb taken as vertical)";
    av_open_fraction, "–", LeftVentricle, "Aortic valve open", "Aortic valve open",
        "fraction of the beat with forward aortic-valve flow above 1 mL/s (0 = the valve stayed shut)";
    mr_volume_ml, "mL", LeftVentricle, "Mitral regurgitant volume", "MR volume",
        "mitral regurgitant volume in the beat";
    mr_fraction, "–", LeftVentricle, "Mitral regurgitant fraction", "Mitral regurgitant fraction",
        "mitral regurgitant volume / LV stroke volume";
    blood_volume_ml, "mL", Volume, "Total blood volume", "Total blood volume",
        "total blood volume (sum of all compartment volumes) at the beat's start; changes only with fluids or bleeding";
}

/// The signals the metrics are made of, each taken from the pressures and flows of one
/// sample; an index into [`Signals`]' arrays.
#[derive(Debug, Clone, Copy)]
enum Sig {
    PAo,
    PPa,
    PLa,
    PRa,
    PLv,
    QAv,
    /// Regurgitant (negative) part of the mitral flow.
    QMr,
    QPumpL,
    QPumpR,
    /// Hydraulic torque of the left pump (0 without one), mN·m.
    Torque,
    /// Placement signal: pressure at the left pump's outlet (0 without one), mmHg.
    Placement,
}

/// Length of the signal arrays: the 11 [`Sig`]s and one unused lane (always 0), so that the
/// arrays fill three four-wide vectors.
const N_SIG: usize = 12;

/// Samples per block of [`beat_metrics`]' loop.
const BLOCK: usize = 32;

/// Every signal over a beat, sample by sample: its time integral (trapezoidal rule), maximum
/// and minimum. Kept as arrays indexed by [`Sig`], so that a sample's update is one loop
/// over all signals, which the compiler turns into vector instructions (same operations,
/// element by element, as one signal at a time).
#[derive(Debug, Clone, Copy)]
struct Signals {
    integral: [f64; N_SIG],
    max: [f64; N_SIG],
    min: [f64; N_SIG],
    last: [f64; N_SIG],
}

impl Signals {
    #[inline(always)]
    fn values(circ: &Circulation, h: &MetricPressures, y: &State) -> [f64; N_SIG] {
        let (q_pump_l, q_pump_r) = (y[Slot::QPumpL.i()], y[Slot::QPumpR.i()]);
        // `if let`, not `map_or`: the adaptor is not inlined into the kernel's AVX2 copy.
        let (torque, placement) = if let Some(c) = circ.pump(Side::Left) {
            (c.pump.torque_mnm(q_pump_l), h.outlet_pressure(c.outlet))
        } else {
            (0.0, 0.0)
        };
        let mut v = [0.0; N_SIG];
        v[Sig::PAo as usize] = h.p_ao;
        v[Sig::PPa as usize] = h.p_pa;
        v[Sig::PLa as usize] = h.p_la;
        v[Sig::PRa as usize] = h.p_ra;
        v[Sig::PLv as usize] = h.p_lv;
        v[Sig::QAv as usize] = h.q_av;
        v[Sig::QMr as usize] = h.q_mv.min(0.0);
        v[Sig::QPumpL as usize] = q_pump_l;
        v[Sig::QPumpR as usize] = q_pump_r;
        v[Sig::Torque as usize] = torque;
        v[Sig::Placement as usize] = placement;
        v
    }

    fn start(circ: &Circulation, h: &MetricPressures, y: &State) -> Self {
        let v = Self::values(circ, h, y);
        Signals {
            integral: [0.0; N_SIG],
            max: v,
            min: v,
            last: v,
        }
    }

    /// Adds the next sample's values, `dt` s after the last. The samples are finite (the
    /// beat has passed `check_physical`), so the extrema are plain comparisons, one
    /// instruction each, where `f64::max` also handles NaN.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)] // five arrays in step, one index
    fn push(&mut self, dt: f64, v: &[f64; N_SIG]) {
        for i in 0..N_SIG {
            self.integral[i] += 0.5 * dt * (self.last[i] + v[i]);
            self.max[i] = if v[i] > self.max[i] {
                v[i]
            } else {
                self.max[i]
            };
            self.min[i] = if v[i] < self.min[i] {
                v[i]
            } else {
                self.min[i]
            };
        }
        self.last = *v;
    }

    fn integral(&self, s: Sig) -> f64 {
        self.integral[s as usize]
    }

    fn max(&self, s: Sig) -> f64 {
        self.max[s as usize]
    }

    fn min(&self, s: Sig) -> f64 {
        self.min[s as usize]
    }
}

/// The activations [e_v, e_a] at the last beat's sample times, for the next beat: a run's
/// beats put most of their samples at the same times since onset, to the bit (91 % of them
/// in the benchmark minute), where the activations are the same values. A sample at a time
/// not seen at its index, or a changed activation, heart period or PR interval, has them
/// computed afresh, so the metrics are the same with or without it. Keeps two values a
/// sample, grown once to the longest beat.
#[derive(Debug, Clone, Default)]
pub struct ActivationMemo {
    /// What the activations at a given time since onset depend on besides that time.
    key: Option<MemoKey>,
    /// Per sample index: time since onset (its bits) and the activations there.
    at: Vec<(u64, [f64; 2])>,
}

#[derive(Debug, Clone, PartialEq)]
struct MemoKey {
    ventricle: ActivationParams,
    atrium: ActivationParams,
    /// Bits of the model's heart period (its activation tables'), the clock's period and
    /// PR interval (the atrial clock).
    periods_pr: [u64; 3],
}

impl ActivationMemo {
    /// Forgets the values if they were for another activation or clock.
    fn start(&mut self, circ: &Circulation, clock: &BeatClock) {
        let heart = &circ.parameters().heart;
        let key = MemoKey {
            ventricle: heart.ventricle,
            atrium: heart.atrium,
            periods_pr: [circ.period(), clock.period, clock.pr].map(f64::to_bits),
        };
        if self.key.as_ref() != Some(&key) {
            self.key = Some(key);
            self.at.clear();
        }
    }

    /// [`Circulation::activations`] of sample `i`, at time `t`.
    #[inline(always)]
    fn get(&mut self, circ: &Circulation, clock: &BeatClock, i: usize, t: f64) -> [f64; 2] {
        let tv = clock.ventricular_time(t).to_bits();
        match self.at.get(i) {
            Some(&(seen, e)) if seen == tv => e,
            _ => self.compute(circ, clock, i, t, tv),
        }
    }

    /// [`ActivationMemo::get`] for a sample not seen: out of line, so that the common path
    /// stays small enough to inline.
    #[cold]
    #[inline(never)]
    fn compute(
        &mut self,
        circ: &Circulation,
        clock: &BeatClock,
        i: usize,
        t: f64,
        tv: u64,
    ) -> [f64; 2] {
        let e = circ.activations(clock, t);
        if i >= self.at.len() {
            self.at.resize(i + 1, (u64::MAX, [0.0; 2]));
        }
        self.at[i] = (tv, e);
        e
    }
}

/// Index of the sample whose `offset(t)` (a time relative to some instant, rising with t)
/// is nearest 0; the first of equally near ones. The samples run forward in time, so the
/// distance falls up to the first sample at or after the instant and rises from there.
fn nearest_sample(samples: &[Sample], offset: impl Fn(f64) -> f64) -> usize {
    let d = |i: usize| offset(samples[i].0).abs();
    match samples.partition_point(|s| offset(s.0) < 0.0) {
        0 => 0,
        i if i == samples.len() || d(i - 1) <= d(i) => i - 1,
        i => i,
    }
}

/// Whether ejection has ended at a sample `since_peak` samples after peak ventricular
/// elastance, with outlet-valve flow `q_out` (mL/s, negative = regurgitant) there and
/// ventricular volume `dv` mL above the sample before: `Some(0)` if end-systole is this
/// sample — the outlet valve carries no forward flow (it is shut at peak elastance, or has
/// just closed) —, `Some(1)` if it is the sample before — the ventricle, its outlet valve
/// still open, has begun to fill: the smallest volume of the beat's ejection (a failing
/// ventricle that blood passes through with both its valves open) —, `None` while ejection
/// goes on. End-systole is therefore never before peak elastance, and all forward flow
/// through the outlet valve after peak elastance and before end-systole is in the stroke
/// volume EDV − ESV.
#[inline(always)]
fn end_of_ejection(since_peak: usize, q_out: f64, dv: f64) -> Option<usize> {
    if since_peak > 0 && dv > 0.0 {
        Some(1)
    } else if q_out <= 0.0 {
        Some(0)
    } else {
        None
    }
}

/// Computes the metrics of one beat from its samples (both ends included), in one pass that
/// evaluates the pressures and flows once per sample and keeps none of them.
#[inline(always)]
pub fn beat_metrics(
    circ: &Circulation,
    clock: &BeatClock,
    samples: &[Sample],
    memo: &mut ActivationMemo,
) -> BeatMetrics {
    let p = circ.parameters();
    let period = clock.period;
    let pressures = |(t, y): &Sample| circ.metric_pressures(clock, *t, y);
    let v_lv = |i: usize| samples[i].1[Slot::VLv.i()];
    let v_rv = |i: usize| samples[i].1[Slot::VRv.i()];

    // Peak ventricular elastance (Suga's end-systole): the sample nearest it. End-systole
    // is there if the outlet valve is shut, else at the end of ejection (below).
    let t0 = clock.t_start;
    let i_peak = nearest_sample(samples, |t| t - t0 - circ.t_end_systole());

    let suction_active = |y: &State| {
        circ.pumps()
            .any(|p| p.suction.is_some_and(|s| s.active(y[p.inlet.i()])))
    };
    memo.start(circ, clock);
    let h0 = pressures(&samples[0]);
    let mut signals = Signals::start(circ, &h0, &samples[0].1);
    // Stroke work = −∮ P dV (counter-clockwise loop in the V–P plane), by the trapezoidal rule.
    let mut p_dv = 0.0;
    let mut open_time = 0.0;
    let mut suction_time = 0.0;
    // LV end-systole: found as the samples come (`end_of_ejection`).
    let mut i_es = None;
    let mut lvesp = h0.p_lv;
    if i_peak == 0 && h0.q_av <= 0.0 {
        i_es = Some(0);
    }
    // Last sample up to end-systole with forward mitral flow.
    let mut last_filling = (h0.q_mv > 0.0).then_some(0);
    // Samples in blocks: first each sample's pressures and signal values, then the signals
    // folded in. Folding each sample as it comes read the last sample's values back while
    // their stores were still in flight (they are written one by one and read as vectors),
    // which stalled the loop.
    let (mut p_lv_last, mut q_av_last) = (h0.p_lv, h0.q_av);
    let mut values = [[0.0; N_SIG]; BLOCK];
    let mut dts = [0.0; BLOCK];
    let mut k = 1;
    while k < samples.len() {
        let n = BLOCK.min(samples.len() - k);
        let block = circ.metric_pressures_block::<BLOCK>(&samples[k..k + n], |j, t| {
            memo.get(circ, clock, k + j, t)
        });
        for j in 0..n {
            let (w0, w1) = (&samples[k + j - 1], &samples[k + j]);
            let h = block.lane(j);
            let dt = w1.0 - w0.0;
            p_dv += 0.5 * (p_lv_last + h.p_lv) * (w1.1[Slot::VLv.i()] - w0.1[Slot::VLv.i()]);
            if 0.5 * (q_av_last + h.q_av) > AV_OPEN_THRESHOLD_ML_S {
                open_time += dt;
            }
            if suction_active(&w0.1) {
                suction_time += dt;
            }
            let i = k + j;
            if i_es.is_none() && i >= i_peak {
                match end_of_ejection(i - i_peak, h.q_av, v_lv(i) - v_lv(i - 1)) {
                    Some(0) => (i_es, lvesp) = (Some(i), h.p_lv),
                    Some(_) => (i_es, lvesp) = (Some(i - 1), p_lv_last),
                    None => {}
                }
            }
            if h.q_mv > 0.0 && i_es.is_none_or(|e| i <= e) {
                last_filling = Some(i);
            }
            (p_lv_last, q_av_last) = (h.p_lv, h.q_av);
            values[j] = Signals::values(circ, &h, &w1.1);
            dts[j] = dt;
        }
        for j in 0..n {
            signals.push(dts[j], &values[j]);
        }
        k += n;
    }
    let stroke_work = -p_dv;
    // Ejection still under way at the last sample (it never is in a beat of the model):
    // end-systole is the last sample.
    let i_es = match i_es {
        Some(i) => i,
        None => {
            lvesp = p_lv_last;
            samples.len() - 1
        }
    };

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

    let lvedv = v_lv(i_ed);
    let lvesv = v_lv(i_es);
    // RV end-systole: the same rule with the pulmonary valve, whose flow the metric
    // pressures skip: the full hemodynamics of the few samples from peak elastance to the
    // end of ejection (tens of a beat's hundreds).
    let mut i_rv_es = samples.len() - 1;
    for (i, (t, y)) in samples.iter().enumerate().skip(i_peak) {
        let q_pv = circ.hemodynamics(clock, *t, y).q_pv;
        let rising = if i > i_peak {
            v_rv(i) - v_rv(i - 1)
        } else {
            0.0
        };
        if let Some(back) = end_of_ejection(i - i_peak, q_pv, rising) {
            i_rv_es = i - back;
            break;
        }
    }
    // RV end-diastole: its largest volume from onset to end-systole. The tricuspid valve's
    // closure is not tracked (the metric pressures skip the right ventricle), and the mitral
    // window above can close before a failing, overfilled RV stops filling: its ES volume
    // then exceeded the ED volume and RVEF came out negative.
    let mut rvedv = f64::MIN;
    for i in 0..=i_rv_es {
        rvedv = rvedv.max(v_rv(i));
    }
    let rvesv = v_rv(i_rv_es);
    let sv = lvedv - lvesv;

    let mean = |s: Sig| signals.integral(s) / period;
    let native_sv = signals.integral(Sig::QAv);
    let native_flow = native_sv / period * ML_S_TO_L_MIN;
    let pump_flow = mean(Sig::QPumpL) * ML_S_TO_L_MIN;
    // Only a pump that moves blood from the LV into the aorta adds to systemic flow; a
    // malpositioned one recirculates within one compartment.
    let delivered = circ
        .pump(Side::Left)
        .filter(|c| c.inlet == Slot::VLv && c.outlet == Slot::VAo)
        .map_or(0.0, |_| pump_flow);
    let co = native_flow + delivered;
    let map = mean(Sig::PAo);
    let cvp = mean(Sig::PRa);
    let pasp = signals.max(Sig::PPa);
    let padp = signals.min(Sig::PPa);
    let mr_volume = 0.0 - signals.integral(Sig::QMr);
    let span = samples[samples.len() - 1].0 - samples[0].0;

    // Potential energy: triangle under the ESPVR down to V0, less the passive EDPVR area.
    let pe = (0.5 * lvesp * (lvesv - p.lv.v0) - edpvr_area(&p.lv, lvesv)).max(0.0);

    BeatMetrics {
        hr_bpm: 60.0 / period,
        sbp_mmhg: signals.max(Sig::PAo),
        dbp_mmhg: signals.min(Sig::PAo),
        map_mmhg: map,
        native_flow_l_min: native_flow,
        pump_flow_l_min: pump_flow,
        pump_flow_max_l_min: signals.max(Sig::QPumpL) * ML_S_TO_L_MIN,
        pump_flow_min_l_min: signals.min(Sig::QPumpL) * ML_S_TO_L_MIN,
        total_flow_l_min: co,
        co_l_min: co,
        ci_l_min_m2: co / p.bsa,
        pump_speed_rpm: circ.pump(Side::Left).map_or(0.0, |c| c.pump.speed_rpm()),
        pump_torque_mnm: signals.integral(Sig::Torque) / span,
        pump_torque_pulsatility_mnm: signals.max(Sig::Torque) - signals.min(Sig::Torque),
        placement_max_mmhg: signals.max(Sig::Placement),
        placement_min_mmhg: signals.min(Sig::Placement),
        rp_flow_l_min: mean(Sig::QPumpR) * ML_S_TO_L_MIN,
        rp_speed_rpm: circ.pump(Side::Right).map_or(0.0, |c| c.pump.speed_rpm()),
        suction_fraction: suction_time / period,
        sv_ml: sv,
        native_sv_ml: native_sv,
        lvef_pct: 100.0 * sv / lvedv,
        lvedv_ml: lvedv,
        lvesv_ml: lvesv,
        lvedp_mmhg: pressures(&samples[i_ed]).p_lv,
        lvesp_mmhg: lvesp,
        lvsp_mmhg: signals.max(Sig::PLv),
        rvedv_ml: rvedv,
        rvesv_ml: rvesv,
        rvef_pct: 100.0 * (rvedv - rvesv) / rvedv,
        pcwp_mmhg: mean(Sig::PLa),
        cvp_mmhg: cvp,
        pasp_mmhg: pasp,
        padp_mmhg: padp,
        mpap_mmhg: mean(Sig::PPa),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_activation_memo_changes_no_metric() {
        use crate::engine::{run, RunSettings};
        use crate::physiology::presets;
        use crate::solver::{FastTsit5, SolverSettings};
        // Runs' beats measured with one memo carried through all of them and with a fresh
        // one per beat: the normal adult, then at another heart rate, then with only the PR
        // interval changed, then only the atrial activation — the last two with their
        // samples at the same times since onset as the run before, so only the memo's key
        // tells them apart.
        let settings = RunSettings {
            steady_state: false,
            max_beats: 4,
            keep_all_samples: true,
            ..RunSettings::default()
        };
        let normal = presets::normal();
        let mut faster = normal;
        faster.heart.hr = 95.0;
        let mut pr = faster;
        pr.heart.pr_interval *= 0.8;
        let mut atrium = pr;
        atrium.heart.atrium.tau2 *= 1.1;
        let mut carried = ActivationMemo::default();
        for params in [normal, faster, pr, atrium] {
            let result = run(
                params,
                &settings,
                &mut FastTsit5::new(SolverSettings::default()),
            );
            for beat in &result.expect("the run succeeds").beats {
                let circ = &beat.model;
                let fresh = beat_metrics(
                    circ,
                    &beat.clock,
                    &beat.samples,
                    &mut ActivationMemo::default(),
                );
                let with_memo = beat_metrics(circ, &beat.clock, &beat.samples, &mut carried);
                let bits = |m: &BeatMetrics| -> Vec<u64> {
                    m.values().iter().map(|v| v.to_bits()).collect()
                };
                assert_eq!(bits(&fresh), bits(&with_memo));
                assert_eq!(bits(&with_memo), bits(&beat.metrics));
            }
        }
    }

    /// A hand-made beat: both ventricles at 120 mL from onset, emptying linearly from 0.1 s
    /// to 50 mL 40 ms after peak elastance and refilling from there, the atria empty (no
    /// filling: end-diastole is the onset), the arteries' volumes set so that the outlet
    /// valves stay open all beat (`arterial` 0 mL) or shut (10 L).
    fn hand_made_beat(arterial: f64) -> (Circulation, BeatClock, Vec<Sample>, f64) {
        let circ = Circulation::new(crate::physiology::presets::normal());
        let clock = circ.clock(0.0);
        let t_min = circ.t_end_systole() + 0.04;
        let volume = |t: f64| {
            if t < 0.1 {
                120.0
            } else if t < t_min {
                120.0 - 70.0 * (t - 0.1) / (t_min - 0.1)
            } else {
                50.0 + 70.0 * (t - t_min) / (clock.period - t_min)
            }
        };
        let n = 500;
        let samples: Vec<Sample> = (0..=n)
            .map(|i| {
                let t = clock.period * i as f64 / n as f64;
                let mut y = State::zeros();
                y[Slot::VLv.i()] = volume(t);
                y[Slot::VRv.i()] = volume(t);
                y[Slot::VAo.i()] = arterial;
                y[Slot::VPa.i()] = arterial;
                (t, y)
            })
            .collect();
        let i_peak = nearest_sample(&samples, |t| t - circ.t_end_systole());
        let v_peak = volume(samples[i_peak].0);
        (circ, clock, samples, v_peak)
    }

    #[test]
    fn end_systole_is_the_end_of_ejection_while_the_outlet_valves_are_open() {
        let (circ, clock, samples, _) = hand_made_beat(0.0);
        let m = beat_metrics(&circ, &clock, &samples, &mut ActivationMemo::default());
        // The smallest volume: ejection goes on past peak elastance until the ventricle
        // begins to refill (the sample grid holds 40 ms after the peak within a sample).
        let v_min = samples
            .iter()
            .map(|(_, y)| y[Slot::VLv.i()])
            .fold(f64::MAX, f64::min);
        assert!((v_min - 50.0).abs() < 0.5, "{v_min}");
        for (edv, esv, sv, ef) in [
            (m.lvedv_ml, m.lvesv_ml, m.sv_ml, m.lvef_pct),
            (m.rvedv_ml, m.rvesv_ml, m.rvedv_ml - m.rvesv_ml, m.rvef_pct),
        ] {
            assert_eq!(edv, 120.0);
            assert_eq!(esv, v_min);
            assert_eq!(sv, 120.0 - v_min);
            assert!((ef - 100.0 * (120.0 - v_min) / 120.0).abs() < 1e-12, "{ef}");
        }
    }

    #[test]
    fn end_systole_is_peak_elastance_while_the_outlet_valves_are_shut() {
        let (circ, clock, samples, v_peak) = hand_made_beat(10_000.0);
        let m = beat_metrics(&circ, &clock, &samples, &mut ActivationMemo::default());
        assert!(m.av_open_fraction == 0.0 && m.native_sv_ml <= 0.0, "{m:?}");
        assert!(v_peak > 55.0, "{v_peak}");
        assert_eq!((m.lvedv_ml, m.lvesv_ml), (120.0, v_peak));
        assert_eq!((m.rvedv_ml, m.rvesv_ml), (120.0, v_peak));
    }

    #[test]
    fn end_of_ejection_rules() {
        // Valve shut at the peak: the peak. Open: not yet, whether the volume falls or
        // stays. Shut later: that sample. Volume rising with the valve open: the sample
        // before. A rise at the peak itself does not move end-systole before it.
        assert_eq!(end_of_ejection(0, 0.0, -1.0), Some(0));
        assert_eq!(end_of_ejection(0, -3.0, 0.0), Some(0));
        assert_eq!(end_of_ejection(0, 50.0, 0.5), None);
        assert_eq!(end_of_ejection(3, 50.0, -0.1), None);
        assert_eq!(end_of_ejection(3, 50.0, 0.0), None);
        assert_eq!(end_of_ejection(7, 0.0, 0.0), Some(0));
        assert_eq!(end_of_ejection(7, 20.0, 1e-9), Some(1));
        assert_eq!(end_of_ejection(7, -2.0, 0.3), Some(1));
    }

    #[test]
    fn nearest_sample_takes_the_first_of_a_tie_and_stays_in_range() {
        let samples: Vec<Sample> = [0.0, 0.5, 1.0].map(|t| (t, State::zeros())).to_vec();
        assert_eq!(nearest_sample(&samples, |t| t - 0.25), 0);
        assert_eq!(nearest_sample(&samples, |t| t - 0.75), 1);
        assert_eq!(nearest_sample(&samples, |t| t + 3.0), 0);
        assert_eq!(nearest_sample(&samples, |t| t - 3.0), 2);
    }

    proptest! {
        #[test]
        fn nearest_sample_is_the_first_nearest(
            t0 in -5.0..5.0f64,
            gaps in prop::collection::vec(1e-4..0.01f64, 1..60),
            at in -0.1..0.7f64,
        ) {
            let mut t = t0;
            let samples: Vec<Sample> = gaps
                .iter()
                .map(|g| {
                    t += g;
                    (t, State::zeros())
                })
                .collect();
            let offset = |t: f64| t - t0 - at;
            // The first of the minima, as a scan finds it.
            let scan = samples
                .iter()
                .enumerate()
                .min_by(|a, b| offset(a.1 .0).abs().total_cmp(&offset(b.1 .0).abs()))
                .map(|(i, _)| i)
                .unwrap();
            prop_assert_eq!(nearest_sample(&samples, offset), scan);
        }
    }
}

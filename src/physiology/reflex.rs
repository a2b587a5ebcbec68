//! The arterial baroreflex of Ursino (1998, Am J Physiol 275:H1733): afferent carotid-sinus
//! firing from arterial pressure, sympathetic and vagal efferents, and four effectors — heart
//! period, both ventricles' end-systolic elastance, systemic peripheral resistance and
//! systemic venous unstressed volume — each with its pure delay and first-order time constant.
//!
//! Two choices differ from the paper (docs/model.md, "Baroreflex"):
//! - Each effector acts as a *fraction* of the patient's own value, the fraction Ursino's
//!   effector changes by around his set point (his gain divided by his effector's value at
//!   the set point, as BioGears normalises the same gains), so the reflex sits on any patient.
//! - The afferent sigmoid is centred on the patient's resting mean arterial pressure (the
//!   baroreceptors reset to the prevailing pressure), so the reflex holds the patient as
//!   presented and answers what happens next: a device, a bleed, a drug.
//!
//! It is advanced once per beat on the beat's mean arterial pressure: exact for inputs held
//! over the beat, delays resolved to the beat.

use super::parameters::Parameters;

/// How strongly the reflex acts: multiples of the published gains (1 = Ursino 1998).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflexParams {
    /// All effectors together; 0 switches the reflex off (the open loop).
    pub gain: f64,
    /// Heart period (sympathetic and vagal).
    pub heart_rate: f64,
    /// End-systolic elastance of both ventricles.
    pub contractility: f64,
    /// Systemic peripheral resistance.
    pub resistance: f64,
    /// Systemic venous unstressed volume (venous tone).
    pub venous_tone: f64,
    /// The cardiopulmonary (low-pressure) reflex as a whole (Heldt 2002).
    pub cardiopulmonary: f64,
}

impl ReflexParams {
    /// The published gains, the cardiopulmonary reflex off: added to Ursino's arterial
    /// reflex at Heldt's gains it raised the loop's open-loop gain after a bleed to 44,
    /// against 7.8 measured in dogs, and halved the fall in MAP the bleeds of
    /// docs/validation.md (A4) measure; Heldt's own arterial gains are not Ursino's.
    pub const DEFAULT: ReflexParams = ReflexParams {
        gain: 1.0,
        heart_rate: 1.0,
        contractility: 1.0,
        resistance: 1.0,
        venous_tone: 1.0,
        cardiopulmonary: 0.0,
    };

    /// Whether the reflex acts at all.
    pub fn on(&self) -> bool {
        self.gain > 0.0
    }
}

// Afferent pathway (Ursino 1998; the same values in three public transcriptions, see
// docs/parameters.md).
/// Sigmoid slope k_a, mmHg.
const K_A: f64 = 11.758;
/// Afferent firing saturations f_min, f_max, spikes/s.
const F_MIN: f64 = 2.52;
const F_MAX: f64 = 47.78;
/// Afferent pole τ_p and zero τ_z (rate sensitivity), s.
const TAU_P: f64 = 2.076;
const TAU_Z: f64 = 6.37;
// Efferent pathways, spikes/s.
const F_ES_INF: f64 = 2.10;
const F_ES_0: f64 = 16.11;
/// Sympathetic exponent k_es, s.
const K_ES: f64 = 0.0675;
/// Sympathetic threshold of the effectors f_es,min, spikes/s.
const F_ES_MIN: f64 = 2.66;
const F_EV_0: f64 = 3.2;
const F_EV_INF: f64 = 6.3;
const F_CS_0: f64 = 25.0;
const K_EV: f64 = 7.06;

/// One sympathetic effector of Ursino's: gain G (per unit of ln(f_es − f_es,min + 1)), value
/// θ_ref at no sympathetic drive, delay D (s), time constant τ (s).
struct Effector {
    g: f64,
    theta_ref: f64,
    delay_s: f64,
    tau_s: f64,
}

const E_LV: Effector = Effector {
    g: 0.475,
    theta_ref: 2.392,
    delay_s: 2.0,
    tau_s: 8.0,
};
const E_RV: Effector = Effector {
    g: 0.282,
    theta_ref: 1.412,
    delay_s: 2.0,
    tau_s: 8.0,
};
/// Splanchnic and extrasplanchnic peripheral resistances (in parallel).
const R_SP: Effector = Effector {
    g: 0.695,
    theta_ref: 2.49,
    delay_s: 2.0,
    tau_s: 6.0,
};
const R_EP: Effector = Effector {
    g: 0.53,
    theta_ref: 0.78,
    delay_s: 2.0,
    tau_s: 6.0,
};
/// Splanchnic and extrasplanchnic venous unstressed volumes (in series: they add).
const VU_SV: Effector = Effector {
    g: -265.4,
    theta_ref: 1435.4,
    delay_s: 5.0,
    tau_s: 20.0,
};
const VU_EV: Effector = Effector {
    g: -132.5,
    theta_ref: 1537.0,
    delay_s: 5.0,
    tau_s: 20.0,
};
/// Heart period: T = T_0 + ΔT_s + ΔT_v.
const T_0_S: f64 = 0.58;
const T_S: Effector = Effector {
    g: -0.13,
    theta_ref: 0.0,
    delay_s: 2.0,
    tau_s: 2.0,
};
/// Vagal: linear in f_ev, s per spikes/s.
const T_V: Effector = Effector {
    g: 0.09,
    theta_ref: 0.0,
    delay_s: 0.2,
    tau_s: 1.5,
};

// Cardiopulmonary reflex (Heldt et al. 2002, J Appl Physiol 92:1239, as in his CVSim code):
// error e = S·atan((P_ra − P_ra,n)/S) on mean right-atrial pressure, effectors linear in e.
/// Saturation scale S, mmHg.
const CP_SCALE_MMHG: f64 = 5.0;
/// Venous unstressed volume, fraction per mmHg of e: Heldt's 13.5 + 2.7 + 64 + 30 mL/mmHg
/// over his 2,665 mL of venous unstressed volume.
const CP_VU_PER_MMHG: f64 = 110.2 / 2665.0;
/// Systemic resistance, fraction per mmHg of e: −0.3 PRU/mmHg in each of his four
/// parallel beds (4.9, 4.1, 3.0, 4.5 PRU) = −7.85 % of their parallel resistance.
const CP_R_PER_MMHG: f64 = -0.0785;
/// Heldt's triangular impulse responses (delay, peak, end: arterioles 2.5/5.5/35 s, veins
/// 5/9/40 s) as a delay and a first-order lag with the same mean: D = delay, τ = mean − D.
const CP_R: Effector = Effector {
    g: CP_R_PER_MMHG,
    theta_ref: 0.0,
    delay_s: 2.5,
    tau_s: (2.5 + 5.5 + 35.0) / 3.0 - 2.5,
};
const CP_VU: Effector = Effector {
    g: CP_VU_PER_MMHG,
    theta_ref: 0.0,
    delay_s: 5.0,
    tau_s: (5.0 + 9.0 + 40.0) / 3.0 - 5.0,
};

/// Afferent firing f_cs (spikes/s) at filtered pressure P̃ with set point P_n.
fn afferent(p_tilde: f64, p_n: f64) -> f64 {
    let e = ((p_tilde - p_n) / K_A).exp();
    (F_MIN + F_MAX * e) / (1.0 + e)
}

/// Sympathetic drive to the effectors, s = ln(max(f_es − f_es,min, 0) + 1).
fn sympathetic(f_cs: f64) -> f64 {
    let f_es = F_ES_INF + (F_ES_0 - F_ES_INF) * (-K_ES * f_cs).exp();
    ((f_es - F_ES_MIN).max(0.0) + 1.0).ln()
}

/// Vagal firing f_ev, spikes/s.
fn vagal(f_cs: f64) -> f64 {
    let e = ((f_cs - F_CS_0) / K_EV).exp();
    (F_EV_0 + F_EV_INF * e) / (1.0 + e)
}

/// The efferent signals at the set point (P̃ = P_n): [s_n, f_ev,n].
fn at_set_point() -> [f64; 2] {
    let f_cs = afferent(0.0, 0.0);
    [sympathetic(f_cs), vagal(f_cs)]
}

/// Largest number of beats the delay line holds: the longest delay (5 s) at 200 beats/min
/// is under 17 beats.
const HISTORY: usize = 24;

/// The fractions by which the effectors move the patient's own values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReflexOutput {
    /// Heart period ÷ the patient's own.
    pub heart_period: f64,
    /// LV end-systolic elastance ÷ the patient's own.
    pub ees_lv: f64,
    /// RV end-systolic elastance ÷ the patient's own.
    pub ees_rv: f64,
    /// Systemic peripheral resistance ÷ the patient's own.
    pub r_periph: f64,
    /// Systemic venous unstressed volume ÷ the patient's own.
    pub vu_ven: f64,
}

impl ReflexOutput {
    /// No change.
    pub const NONE: ReflexOutput = ReflexOutput {
        heart_period: 1.0,
        ees_lv: 1.0,
        ees_rv: 1.0,
        r_periph: 1.0,
        vu_ven: 1.0,
    };

    fn fields(&self) -> [f64; 5] {
        [
            self.heart_period,
            self.ees_lv,
            self.ees_rv,
            self.r_periph,
            self.vu_ven,
        ]
    }
}

/// The baroreflex's state: the afferent filter, the efferent signals of recent beats (the
/// delay line) and each effector's filtered deviation from the set point.
#[derive(Debug, Clone)]
pub struct Baroreflex {
    /// Set point P_n, mmHg: the patient's resting mean arterial pressure.
    p_n: f64,
    /// Low-pass part y of the afferent lead–lag filter, mmHg.
    y_p: f64,
    /// Efferent signals at the set point [s_n, f_ev,n].
    reference: [f64; 2],
    /// Cardiopulmonary set point P_ra,n, mmHg: the patient's resting mean RA pressure.
    p_ra_n: f64,
    /// (time, s, f_ev, e_cp) at recent beat ends, oldest first; `len` of them are valid.
    history: [(f64, f64, f64, f64); HISTORY],
    len: usize,
    /// Filtered deviations from the set point: sympathetic x_s of [E_LV, E_RV, R, V_u, T_s]
    /// and vagal x_v (f_ev − f_ev,n).
    x: [f64; 5],
    x_v: f64,
    /// Cardiopulmonary effectors' filtered errors [R, V_u], mmHg.
    x_cp: [f64; 2],
    /// Largest relative change of an effector at the last beat.
    last_change: f64,
}

impl Baroreflex {
    /// Reflexes at rest at arterial set point `p_n_mmhg` and right-atrial set point
    /// `p_ra_n_mmhg` (their effectors at the patient's own values).
    pub fn new(p_n_mmhg: f64, p_ra_n_mmhg: f64) -> Self {
        Baroreflex {
            p_n: p_n_mmhg,
            y_p: p_n_mmhg,
            reference: at_set_point(),
            p_ra_n: p_ra_n_mmhg,
            history: [(0.0, 0.0, 0.0, 0.0); HISTORY],
            len: 0,
            x: [0.0; 5],
            x_v: 0.0,
            x_cp: [0.0; 2],
            last_change: 0.0,
        }
    }

    /// The set point, mmHg.
    pub fn set_point(&self) -> f64 {
        self.p_n
    }

    /// Signal `k` (1 = s, 2 = f_ev, 3 = e_cp) delay `d` before `t`, interpolated between
    /// beat ends; the set point's before the first beat.
    fn delayed(&self, t: f64, d: f64, k: usize) -> f64 {
        let at = t - d;
        let value = |h: &(f64, f64, f64, f64)| match k {
            1 => h.1,
            2 => h.2,
            _ => h.3,
        };
        let h = &self.history[..self.len];
        match h.iter().rposition(|e| e.0 <= at) {
            None if k == 3 => 0.0,
            None => self.reference[k - 1],
            Some(i) if i + 1 == h.len() => value(&h[i]),
            Some(i) => {
                let (a, b) = (&h[i], &h[i + 1]);
                let f = (at - a.0) / (b.0 - a.0);
                value(a) + f * (value(b) - value(a))
            }
        }
    }

    /// Takes in one beat of `period_s` ending at `t_end_s` with mean arterial pressure
    /// `map_mmhg` and mean right-atrial pressure `p_ra_mmhg`.
    pub fn step(
        &mut self,
        t_end_s: f64,
        period_s: f64,
        map_mmhg: f64,
        p_ra_mmhg: f64,
        gains: &ReflexParams,
    ) {
        let before = self.output(gains);
        // Afferent lead–lag (1 + τ_z s)/(1 + τ_p s) = τ_z/τ_p + (1 − τ_z/τ_p)/(1 + τ_p s).
        let p = map_mmhg;
        self.y_p = p + (self.y_p - p) * (-period_s / TAU_P).exp();
        let p_tilde = TAU_Z / TAU_P * p + (1.0 - TAU_Z / TAU_P) * self.y_p;
        let f_cs = afferent(p_tilde, self.p_n);
        if self.len == HISTORY {
            self.history.copy_within(1.., 0);
            self.len -= 1;
        }
        let e_cp = CP_SCALE_MMHG * ((p_ra_mmhg - self.p_ra_n) / CP_SCALE_MMHG).atan();
        self.history[self.len] = (t_end_s, sympathetic(f_cs), vagal(f_cs), e_cp);
        self.len += 1;
        // Each effector: τ·dx/dt = u(t − D) − x, the input held over the beat.
        let relax = |x: &mut f64, u: f64, tau: f64| {
            *x = u + (*x - u) * (-period_s / tau).exp();
        };
        for (i, e) in [&E_LV, &E_RV, &R_SP, &VU_SV, &T_S].into_iter().enumerate() {
            let u = self.delayed(t_end_s, e.delay_s, 1) - self.reference[0];
            relax(&mut self.x[i], u, e.tau_s);
        }
        let u_v = self.delayed(t_end_s, T_V.delay_s, 2) - self.reference[1];
        relax(&mut self.x_v, u_v, T_V.tau_s);
        for (i, e) in [&CP_R, &CP_VU].into_iter().enumerate() {
            let u = self.delayed(t_end_s, e.delay_s, 3);
            relax(&mut self.x_cp[i], u, e.tau_s);
        }
        let after = self.output(gains);
        self.last_change = before
            .fields()
            .iter()
            .zip(after.fields())
            .map(|(a, b)| (b - a).abs() / a)
            .fold(0.0, f64::max);
    }

    /// Largest relative change of an effector at the last beat.
    pub fn last_change(&self) -> f64 {
        self.last_change
    }

    /// The effectors' fractions with `gains`.
    pub fn output(&self, gains: &ReflexParams) -> ReflexOutput {
        let [x_e_lv, x_e_rv, x_r, x_vu, x_ts] = self.x;
        let s_n = self.reference[0];
        let g = gains.gain;
        // Ursino's effector value at the set point plus the gained deviation, over the
        // value at the set point.
        let ratio = |e: &Effector, k: f64, x: f64| {
            let at_n = e.theta_ref + e.g * s_n;
            (at_n + g * k * e.g * x) / at_n
        };
        let parallel = |a: f64, b: f64| a * b / (a + b);
        let r_at = |x: f64| {
            let k = gains.resistance;
            parallel(
                R_SP.theta_ref + R_SP.g * s_n + g * k * R_SP.g * x,
                R_EP.theta_ref + R_EP.g * s_n + g * k * R_EP.g * x,
            )
        };
        let vu_at = |x: f64| {
            let k = gains.venous_tone;
            VU_SV.theta_ref
                + VU_SV.g * s_n
                + VU_EV.theta_ref
                + VU_EV.g * s_n
                + g * k * (VU_SV.g + VU_EV.g) * x
        };
        let t_n = T_0_S + T_S.g * s_n + T_V.g * self.reference[1];
        let k_t = g * gains.heart_rate;
        // Cardiopulmonary: fractions of the patient's own values, on top of the arterial.
        let k_cp = g * gains.cardiopulmonary;
        let [x_cr, x_cv] = self.x_cp;
        ReflexOutput {
            heart_period: (t_n + k_t * (T_S.g * x_ts + T_V.g * self.x_v)) / t_n,
            ees_lv: ratio(&E_LV, gains.contractility, x_e_lv),
            ees_rv: ratio(&E_RV, gains.contractility, x_e_rv),
            r_periph: r_at(x_r) / r_at(0.0) * (1.0 + k_cp * CP_R.g * x_cr).max(0.1),
            vu_ven: vu_at(x_vu) / vu_at(0.0) + k_cp * CP_VU.g * x_cv,
        }
    }

    /// Moves `p` (the patient's own values for this beat) by the effectors, within each
    /// parameter's allowed range.
    pub fn apply(&self, p: &mut Parameters) {
        let o = self.output(&p.reflex);
        let clamp = |path: &str, v: f64| {
            let s = super::parameters::spec(path).expect("reflex effectors are parameters");
            v.clamp(s.min, s.max)
        };
        p.heart.hr = clamp("heart.hr", p.heart.hr / o.heart_period);
        p.lv.ees = clamp("lv.ees", p.lv.ees * o.ees_lv);
        p.rv.ees = clamp("rv.ees", p.rv.ees * o.ees_rv);
        p.systemic.r_periph = clamp("systemic.r_periph", p.systemic.r_periph * o.r_periph);
        p.systemic.vu_ven = clamp("systemic.vu_ven", p.systemic.vu_ven * o.vu_ven);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: ReflexParams = ReflexParams {
        cardiopulmonary: 1.0,
        ..ReflexParams::DEFAULT
    };

    /// Runs the reflex at a constant pressure for `seconds` in beats of 0.8 s.
    fn hold(r: &mut Baroreflex, t: &mut f64, map: f64, seconds: f64) {
        let end = *t + seconds;
        while *t < end {
            *t += 0.8;
            r.step(*t, 0.8, map, 5.0, &G);
        }
    }

    #[test]
    fn at_the_set_point_nothing_moves() {
        let mut r = Baroreflex::new(70.0, 5.0);
        let mut t = 0.0;
        hold(&mut r, &mut t, 70.0, 60.0);
        assert_eq!(r.output(&G), ReflexOutput::NONE);
        assert_eq!(r.last_change(), 0.0);
    }

    #[test]
    fn the_set_point_values_are_ursinos() {
        // Heart period 0.866 s (69/min) and the static firing at P_n (docs/parameters.md).
        let [s_n, f_ev_n] = at_set_point();
        assert!((afferent(92.0, 92.0) - 25.15).abs() < 1e-9);
        assert!((s_n - 1.100).abs() < 1e-3, "{s_n}");
        assert!((f_ev_n - 4.77).abs() < 0.01, "{f_ev_n}");
        let t_n = T_0_S + T_S.g * s_n + T_V.g * f_ev_n;
        assert!((t_n - 0.866).abs() < 1e-3, "{t_n}");
    }

    #[test]
    fn a_pressure_rise_withdraws_sympathetic_drive_and_a_fall_adds_it() {
        for (dp, sign) in [(10.0, 1.0), (-10.0, -1.0)] {
            let mut r = Baroreflex::new(80.0, 5.0);
            let mut t = 0.0;
            hold(&mut r, &mut t, 80.0 + dp, 200.0);
            let o = r.output(&G);
            // Higher pressure: slower heart, weaker, dilated arterioles, more venous
            // unstressed volume.
            assert!(sign * (o.heart_period - 1.0) > 0.0, "{o:?}");
            assert!(sign * (o.ees_lv - 1.0) < 0.0 && sign * (o.ees_rv - 1.0) < 0.0);
            assert!(sign * (o.r_periph - 1.0) < 0.0);
            assert!(sign * (o.vu_ven - 1.0) > 0.0);
            assert!(r.last_change() < 1e-5, "settled: {}", r.last_change());
        }
    }

    #[test]
    fn open_loop_sensitivities_at_the_set_point_are_ursinos() {
        // Static, small step: ∂θ/∂P at P_n from docs/parameters.md (Ursino's effector
        // values at his set point): SVR −0.039 and −0.029 PRU/mmHg in parallel beds of 3.255
        // and 1.363 PRU; venous unstressed volume +22.0 mL/mmHg of 2,535 mL; heart period
        // +16.7 ms/mmHg of 0.866 s.
        let mut r = Baroreflex::new(92.0, 5.0);
        let mut t = 0.0;
        hold(&mut r, &mut t, 92.5, 400.0);
        let o = r.output(&G);
        let per_mmhg = |f: f64| (f - 1.0) / 0.5;
        let r_n = 3.2545 * 1.363 / (3.2545 + 1.363);
        let dr = (0.039 / 3.2545 / 3.2545 + 0.029 / 1.363 / 1.363) * r_n;
        assert!((per_mmhg(o.r_periph) + dr).abs() < 0.1 * dr, "{o:?}");
        assert!((per_mmhg(o.vu_ven) - 22.0 / 2534.7).abs() < 0.1 * 22.0 / 2534.7);
        assert!((per_mmhg(o.heart_period) - 0.0167 / 0.866).abs() < 0.1 * 0.0167 / 0.866);
    }

    #[test]
    fn a_fall_in_right_atrial_pressure_constricts_arterioles_and_veins() {
        // Heldt's cardiopulmonary reflex at his gains: −3 mmHg of RA pressure, MAP held.
        let mut r = Baroreflex::new(90.0, 6.0);
        let mut t = 0.0;
        let end = 300.0;
        while t < end {
            t += 0.8;
            r.step(t, 0.8, 90.0, 3.0, &G);
        }
        let o = r.output(&G);
        let e = 5.0 * (-3.0_f64 / 5.0).atan();
        assert!(
            (o.r_periph - (1.0 + CP_R_PER_MMHG * e)).abs() < 1e-6,
            "{o:?}"
        );
        assert!(
            (o.vu_ven - (1.0 + CP_VU_PER_MMHG * e)).abs() < 1e-6,
            "{o:?}"
        );
        assert_eq!(o.heart_period, 1.0);
        let off = ReflexParams {
            cardiopulmonary: 0.0,
            ..G
        };
        assert_eq!(r.output(&off), ReflexOutput::NONE);
    }

    #[test]
    fn gains_scale_the_effect_and_zero_is_the_open_loop() {
        let mut r = Baroreflex::new(80.0, 5.0);
        let mut t = 0.0;
        hold(&mut r, &mut t, 85.0, 100.0);
        let off = ReflexParams { gain: 0.0, ..G };
        assert_eq!(r.output(&off), ReflexOutput::NONE);
        let half = ReflexParams {
            resistance: 0.5,
            ..G
        };
        let (full, h) = (r.output(&G), r.output(&half));
        assert!((h.r_periph - 1.0).abs() < (full.r_periph - 1.0).abs());
        assert_eq!(h.heart_period, full.heart_period);
    }
}

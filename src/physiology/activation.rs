//! Normalised two-Hill activation e(t) ∈ [0, 1] and the cardiac clock.
//!
//! e(t) = k · g1/(1 + g1) · 1/(1 + g2),  g1 = (t/τ1)^m1,  g2 = (t/τ2)^m2
//! (Stergiopulos et al. 1996). k makes the peak exactly 1. Time constants scale with the
//! square root of the heart period (Bazett-like), see docs/model.md.

use super::parameters::{ActivationParams, T_REF_S};

/// A two-Hill activation at one heart period; evaluation allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct TwoHill {
    /// Relaxation time constant at this period, s (bounds the peak search).
    tau2: f64,
    m1: f64,
    m2: f64,
    /// ln τ1 and ln τ2, so that g_i = exp(m_i·(ln t − ln τ_i)) (see [`TwoHill::shape`]).
    ln_tau1: f64,
    ln_tau2: f64,
    /// Normalisation so that max e = 1.
    k: f64,
    /// Time of peak activation from onset, s.
    t_peak: f64,
}

impl TwoHill {
    /// Activation for heart period `period_s`, scaling τ1, τ2 by sqrt(T / T_ref).
    pub fn new(p: &ActivationParams, period_s: f64) -> Self {
        let s = (period_s / T_REF_S).sqrt();
        let mut a = TwoHill {
            tau2: p.tau2 * s,
            m1: p.m1,
            m2: p.m2,
            ln_tau1: (p.tau1 * s).ln(),
            ln_tau2: (p.tau2 * s).ln(),
            k: 1.0,
            t_peak: 0.0,
        };
        let (t_peak, peak) = a.find_peak();
        a.k = 1.0 / peak;
        a.t_peak = t_peak;
        a
    }

    /// Un-normalised shape g1/(1 + g1) · 1/(1 + g2).
    ///
    /// It is the right-hand side's most expensive part (two per call), so the powers are
    /// written as g_i = (t/τ_i)^m_i = exp(m_i·(ln t − ln τ_i)): one logarithm shared by both
    /// Hill terms and two exponentials cost about half of two `powf`. The result agrees with
    /// the `powf` form to 1e-14 relative while e ≥ 1e-3 and to 2e-14 in the relaxed tail,
    /// where the steep relaxation term (m2 ≈ 27) multiplies the rounding of ln t by m2 (the
    /// `powf` form is itself only good to ~3e-15 there); test `shared_log_form_matches_powf`.
    /// Now mostly evaluated to build [`Activation`]'s table, outside the beat kernel: hence
    /// the unfused exponentials ([`crate::exp::exp_lanes_unfused`]).
    #[inline]
    fn shape(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let ln_t = t.ln();
        let [g1, g2] = crate::exp::exp_lanes_unfused([
            self.m1 * (ln_t - self.ln_tau1),
            self.m2 * (ln_t - self.ln_tau2),
        ]);
        g1 / ((1.0 + g1) * (1.0 + g2))
    }

    /// Grid search then golden-section refinement; the shape is unimodal on (0, ∞).
    fn find_peak(&self) -> (f64, f64) {
        let t_max = 2.0 * self.tau2;
        let n = 400;
        let (mut best_t, mut best) = (0.0, 0.0);
        for i in 1..=n {
            let t = t_max * i as f64 / n as f64;
            let v = self.shape(t);
            if v > best {
                best = v;
                best_t = t;
            }
        }
        let h = t_max / n as f64;
        let (mut a, mut b) = ((best_t - h).max(0.0), best_t + h);
        let phi = 0.5 * (5f64.sqrt() - 1.0);
        for _ in 0..80 {
            let c = b - phi * (b - a);
            let d = a + phi * (b - a);
            if self.shape(c) > self.shape(d) {
                b = d;
            } else {
                a = c;
            }
        }
        let t = 0.5 * (a + b);
        (t, self.shape(t))
    }

    /// e(t) for time since onset `t` in s; 0 before onset.
    #[inline]
    pub fn eval(&self, t: f64) -> f64 {
        self.k * self.shape(t)
    }

    /// e(t) and de/dt (1/s) for `t` > 0:
    /// de/dt = e · (m1/(t·(1 + g1)) − m2·g2/(t·(1 + g2))).
    fn eval_with_slope(&self, t: f64) -> (f64, f64) {
        let ln_t = t.ln();
        let [g1, g2] = crate::exp::exp_lanes_unfused([
            self.m1 * (ln_t - self.ln_tau1),
            self.m2 * (ln_t - self.ln_tau2),
        ]);
        let e = self.k * g1 / ((1.0 + g1) * (1.0 + g2));
        (
            e,
            e * (self.m1 / (1.0 + g1) - self.m2 * g2 / (1.0 + g2)) / t,
        )
    }

    /// Time of peak activation (end-systole by Suga's definition), s after onset.
    pub fn t_peak(&self) -> f64 {
        self.t_peak
    }
}

/// Cells of an [`Activation`] table over one heart period.
const TABLE_CELLS: usize = 4096;
/// Cells after onset where [`Activation`] evaluates the formula itself: e rises as t^m1 there
/// (1 < m1 < 2 in the presets), which a cubic cannot follow to the table's accuracy.
const EXACT_CELLS: usize = 32;

/// A [`TwoHill`] activation tabulated over one heart period for the right-hand side.
///
/// The formula costs a logarithm and two exponentials (about 27 ns, half of a right-hand
/// side); the table costs a cubic. Values and slopes are tabulated on 4096 cells per period
/// and interpolated by cubic Hermite polynomials, which are C¹ like the formula. Within 32
/// cells of onset (the t^m1 rise) and outside [0, T] the formula is used. Agreement with the
/// formula: within 1e-9 absolute for the presets at heart periods 0.3–2 s (test
/// `table_matches_the_formula`), far below the integrators' tolerances.
#[derive(Clone)]
pub struct Activation {
    formula: TwoHill,
    /// Inverse cell width, 1/s.
    inv_dt: f64,
    /// Interpolate on (t_exact, t_end); the formula elsewhere. t_end is the heart period
    /// the table is for.
    t_exact: f64,
    t_end: f64,
    /// Per cell k (k = 0..TABLE_CELLS), the cubic Hermite polynomial on it in Horner form,
    /// [e0, d0, c2, c3] with e(k·dt + s·dt) = e0 + s·(d0 + s·(c2 + s·c3)): from the values e
    /// and scaled slopes d = dt·de/dt at its edges, c2 = 3(e1 − e0) − 2d0 − d1 and
    /// c3 = 2(e0 − e1) + d0 + d1, worked out once here rather than at every evaluation.
    table: std::sync::Arc<[[f64; 4]; TABLE_CELLS]>,
    /// What it was tabulated from, with `t_end` ([`Activation::is_for`]).
    params: ActivationParams,
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activation")
            .field("formula", &self.formula)
            .field("cells", &TABLE_CELLS)
            .finish()
    }
}

impl Activation {
    /// Tabulates the activation of `p` at heart period `period_s`.
    pub fn new(p: &ActivationParams, period_s: f64) -> Self {
        let formula = TwoHill::new(p, period_s);
        let dt = period_s / TABLE_CELLS as f64;
        let edges: Vec<[f64; 2]> = (0..=TABLE_CELLS)
            .map(|k| {
                let t = k as f64 * dt;
                if k == 0 {
                    [0.0, 0.0]
                } else {
                    let (e, slope) = formula.eval_with_slope(t);
                    [e, slope * dt]
                }
            })
            .collect();
        let table = edges
            .windows(2)
            .map(|w| {
                let ([e0, d0], [e1, d1]) = (w[0], w[1]);
                [
                    e0,
                    d0,
                    3.0 * (e1 - e0) - 2.0 * d0 - d1,
                    2.0 * (e0 - e1) + d0 + d1,
                ]
            })
            .collect::<std::sync::Arc<[[f64; 4]]>>()
            .try_into()
            .expect("TABLE_CELLS cells, one per pair of edges");
        Activation {
            formula,
            inv_dt: 1.0 / dt,
            t_exact: EXACT_CELLS as f64 * dt,
            t_end: period_s,
            table,
            params: *p,
        }
    }

    /// Whether this is the activation of `p` at heart period `period_s` (the same values to
    /// the bit), so that a model rebuilt with them can share its table
    /// ([`crate::physiology::Circulation::new_reusing`]).
    pub fn is_for(&self, p: &ActivationParams, period_s: f64) -> bool {
        self.params == *p && self.t_end.to_bits() == period_s.to_bits()
    }

    /// Whether the two share one table (not merely equal ones).
    #[cfg(test)]
    pub(crate) fn shares_table_with(&self, other: &Activation) -> bool {
        std::sync::Arc::ptr_eq(&self.table, &other.table)
    }

    /// e(t) for time since onset `t` in s; 0 before onset.
    #[inline(always)]
    pub fn eval(&self, t: f64) -> f64 {
        if !(t > self.t_exact && t < self.t_end) {
            return self.formula.eval(t);
        }
        let u = t * self.inv_dt;
        // 0 < t < t_end, so the cell index is below TABLE_CELLS (and the conversion through
        // i64 is one instruction, where f64 → usize is several on x86-64).
        let k = (u as i64 as usize).min(TABLE_CELLS - 1);
        let s = u - k as f64;
        let [e0, d0, c2, c3] = self.table[k];
        // e0 + s(d0 + s(c2 + s·c3)) in fused multiply-adds (see crate::engine::kernel).
        s.mul_add(s.mul_add(s.mul_add(c3, c2), d0), e0)
    }

    /// Time of peak activation (end-systole), s after onset.
    pub fn t_peak(&self) -> f64 {
        self.formula.t_peak()
    }
}

/// One beat on the cardiac clock: it starts at ventricular activation onset (the R wave).
#[derive(Debug, Clone, Copy)]
pub struct BeatClock {
    /// Ventricular onset of this beat, s.
    pub t_start: f64,
    /// Heart period of this beat, s.
    pub period: f64,
    /// PR interval, s.
    pub pr: f64,
}

impl BeatClock {
    /// Time since ventricular onset, s.
    #[inline(always)]
    pub fn ventricular_time(&self, t: f64) -> f64 {
        t - self.t_start
    }

    /// Time since the most recent atrial onset, s. The atria of this beat's successor start
    /// PR before the beat ends; before that, the atrial contraction that led this beat runs on.
    #[inline(always)]
    pub fn atrial_time(&self, t: f64) -> f64 {
        self.atrial_time_on(t, t - self.t_start >= self.period - self.pr)
    }

    /// [`BeatClock::atrial_time`] counted from the next atrial onset if `after_onset`, else
    /// from the one before, whichever side of the next onset `t` is on: the time a step that
    /// holds its branches through the onset ([`crate::solver::OdeSystem::rhs_on`]) uses.
    #[inline(always)]
    pub fn atrial_time_on(&self, t: f64, after_onset: bool) -> f64 {
        let tv = t - self.t_start;
        if after_onset {
            tv - (self.period - self.pr)
        } else {
            tv + self.pr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn peak_is_one_and_shape_is_bounded() {
        let p = presets::normal();
        for period in [0.4, 0.8, 1.5] {
            let a = TwoHill::new(&p.heart.ventricle, period);
            assert!((a.eval(a.t_peak()) - 1.0).abs() < 1e-12);
            for i in 0..=1000 {
                let e = a.eval(period * i as f64 / 1000.0);
                assert!((0.0..=1.0 + 1e-12).contains(&e));
            }
            // Relaxed by the end of the beat, so beats join smoothly.
            assert!(a.eval(period) < 1e-3, "period {period}: {}", a.eval(period));
        }
    }

    #[test]
    fn table_matches_the_formula() {
        let check = |act: &ActivationParams, period: f64, allowed: f64| {
            let (formula, table) = (TwoHill::new(act, period), Activation::new(act, period));
            // Ten points a cell, and past both ends.
            let n = 10 * TABLE_CELLS;
            let worst = (0..=n + 100)
                .map(|i| {
                    let t = period * i as f64 / n as f64;
                    (table.eval(t) - formula.eval(t)).abs()
                })
                .fold(0.0, f64::max);
            assert!(worst <= allowed, "period {period}: {worst:e}");
            assert_eq!(table.t_peak(), formula.t_peak());
        };
        for preset in crate::physiology::presets::PRESETS {
            let p = preset.parameters();
            for act in [p.heart.ventricle, p.heart.atrium] {
                for period in [0.3, 0.8, 2.0] {
                    check(&act, period, 1e-9);
                }
            }
        }
        // The steepest relaxation the parameter ranges allow.
        let mut steep = crate::physiology::presets::normal().heart.ventricle;
        steep.m2 = 60.0;
        check(&steep, 0.8, 1e-8);
    }

    #[test]
    fn shared_log_form_matches_powf() {
        // The textbook form, k · g1/(1 + g1) · 1/(1 + g2) with g_i = (t/τ_i)^m_i.
        let powf_form = |a: &TwoHill, p: &ActivationParams, period: f64, t: f64| {
            let s = (period / T_REF_S).sqrt();
            let g1 = (t / (p.tau1 * s)).powf(p.m1);
            let g2 = (t / (p.tau2 * s)).powf(p.m2);
            a.k * g1 / (1.0 + g1) / (1.0 + g2)
        };
        for preset in crate::physiology::presets::PRESETS {
            let p = preset.parameters();
            for act in [p.heart.ventricle, p.heart.atrium] {
                for period in [0.3, 0.8, 2.0] {
                    let a = TwoHill::new(&act, period);
                    for i in 1..=20_000 {
                        let t = 1.5 * period * i as f64 / 20_000.0;
                        let (fast, reference) = (a.eval(t), powf_form(&a, &act, period, t));
                        let rel = (fast - reference).abs() / reference;
                        // In the relaxed tail (e < 1e-3) m2 ≈ 27 amplifies rounding of
                        // ln t; powf itself is only good to ~3e-15 relative there.
                        let allowed = if reference >= 1e-3 { 1e-14 } else { 2e-14 };
                        assert!(
                            rel <= allowed,
                            "{}: t = {t}: {fast} vs {reference}",
                            preset.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn systole_shortens_with_heart_rate() {
        let p = presets::normal();
        let slow = TwoHill::new(&p.heart.ventricle, 1.0);
        let fast = TwoHill::new(&p.heart.ventricle, 0.5);
        assert!(fast.t_peak() < slow.t_peak());
        // But less than proportionally (sqrt scaling): the fraction of the cycle rises.
        assert!(fast.t_peak() / 0.5 > slow.t_peak() / 1.0);
    }

    #[test]
    fn atrial_clock_is_continuous_across_the_beat_boundary() {
        let c1 = BeatClock {
            t_start: 0.0,
            period: 0.8,
            pr: 0.16,
        };
        let c2 = BeatClock {
            t_start: 0.8,
            period: 0.6,
            pr: 0.16,
        };
        let before = c1.atrial_time(0.8 - 1e-9);
        let after = c2.atrial_time(0.8 + 1e-9);
        assert!((before - after).abs() < 1e-6);
        assert!((c1.atrial_time(0.0) - 0.16).abs() < 1e-12);
    }

    #[test]
    fn held_atrial_clock_runs_on_past_the_onset() {
        let c = BeatClock {
            t_start: 0.0,
            period: 0.8,
            pr: 0.16,
        };
        // Next atrial onset at 0.64 s: each branch is the clock on its own side ...
        for t in [0.1, 0.6399] {
            assert_eq!(c.atrial_time_on(t, false), c.atrial_time(t));
        }
        for t in [0.64, 0.7] {
            assert_eq!(c.atrial_time_on(t, true), c.atrial_time(t));
        }
        // ... and continues linearly across it: the old cycle past its period, the new one
        // before its onset (negative, where the activation is 0).
        assert!((c.atrial_time_on(0.65, false) - 0.81).abs() < 1e-12);
        assert!((c.atrial_time_on(0.63, true) + 0.01).abs() < 1e-12);
    }
}

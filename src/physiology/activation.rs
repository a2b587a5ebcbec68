//! Normalised two-Hill activation e(t) ∈ [0, 1] and the cardiac clock.
//!
//! e(t) = k · g1/(1 + g1) · 1/(1 + g2),  g1 = (t/τ1)^m1,  g2 = (t/τ2)^m2
//! (Stergiopulos et al. 1996). k makes the peak exactly 1. Time constants scale with the
//! square root of the heart period (Bazett-like), see docs/model.md.

use super::parameters::{ActivationParams, T_REF_S};

/// A two-Hill activation at one heart period; evaluation allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct TwoHill {
    tau1: f64,
    tau2: f64,
    m1: f64,
    m2: f64,
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
            tau1: p.tau1 * s,
            tau2: p.tau2 * s,
            m1: p.m1,
            m2: p.m2,
            k: 1.0,
            t_peak: 0.0,
        };
        let (t_peak, peak) = a.find_peak();
        a.k = 1.0 / peak;
        a.t_peak = t_peak;
        a
    }

    /// Un-normalised shape, for the peak search.
    fn shape(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let g1 = (t / self.tau1).powf(self.m1);
        let g2 = (t / self.tau2).powf(self.m2);
        g1 / (1.0 + g1) / (1.0 + g2)
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

    /// Time of peak activation (end-systole by Suga's definition), s after onset.
    pub fn t_peak(&self) -> f64 {
        self.t_peak
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
    #[inline]
    pub fn ventricular_time(&self, t: f64) -> f64 {
        t - self.t_start
    }

    /// Time since the most recent atrial onset, s. The atria of this beat's successor start
    /// PR before the beat ends; before that, the atrial contraction that led this beat runs on.
    #[inline]
    pub fn atrial_time(&self, t: f64) -> f64 {
        let tv = t - self.t_start;
        let next_onset = self.period - self.pr;
        if tv < next_onset {
            tv + self.pr
        } else {
            tv - next_onset
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
}

//! Pump characteristic: per-P-level quartic Q(h) made physical ([`LevelFlow`]), inverted to
//! head tables H_k(q), and joined across speed by affinity scaling ([`PumpCurve`]).
//! Symbols and the construction step by step: docs/devices.md, "HQ construction".

use std::fmt;

use crate::roots::illinois;

/// mL/s per L/min.
const ML_S_PER_L_MIN: f64 = 1000.0 / 60.0;
/// Upper end of the head range over which a polynomial is trusted, mmHg (before head
/// scaling): the reference data evaluated the polynomials on 0–200 mmHg.
const H_DATA_MAX_MMHG: f64 = 200.0;
/// Scan step for finding the valid range of a polynomial, mmHg.
const SCAN_STEP_MMHG: f64 = 0.05;
/// Flattest physical slope of a flow law, m_min in L/min per mmHg: the valid range of a
/// polynomial is where dQ/dh ≤ −m_min. Flatter parts are the turning regions of the fits
/// (rising starts, troughs before turn-up); the flattest slope inside the body of any curve
/// used here is ≈0.005 (5.0 P-9 and 2.5 P-9 near 0 mmHg; 0.004 for the RP, which is the 5.0
/// scaled by 0.8). It also bounds the steepness of the head curve:
/// |dH/dq| ≤ 1/m_min = 333 mmHg per L/min = 20 mmHg·s/mL.
const MIN_FLOW_SLOPE_L_MIN_PER_MMHG: f64 = 0.003;
/// Shortest acceptable valid range h_end − h_start, mmHg.
const MIN_VALID_SPAN_MMHG: f64 = 10.0;
/// Head range tabulated per level, mmHg; outside it H(q) continues linearly.
const TABLE_HEAD_MIN_MMHG: f64 = -100.0;
const TABLE_HEAD_MAX_MMHG: f64 = 250.0;
/// Nodes per head table (uniform in q).
const TABLE_NODES: usize = 2048;
/// Half-width of the central difference for a node's slope dQ/dh, mmHg.
const SLOPE_STEP_MMHG: f64 = 1e-4;
/// Bisection steps: 350 mmHg / 2^50 is far below any meaningful head.
const BISECTION_STEPS: usize = 50;
/// Width to which a head-table node's root is bracketed, mmHg (what 50 bisection steps of
/// the table's head range reach).
const NODE_HEAD_TOL_MMHG: f64 = 1e-12;
/// Evaluations allowed to a table node's root (about 7 are needed).
const NODE_EVALUATIONS: u64 = 60;

/// The rotor stopped (P-0): the cannula is a passive leak in both directions,
/// H_0(q) = −k·q·|q| − r·q, mmHg, with q in mL/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoppedRotor {
    /// Quadratic (inertial) loss k, mmHg·s²/mL².
    pub k_mmhg_s2_per_ml2: f64,
    /// Linear (viscous) loss r, mmHg·s/mL; > 0 so H_0 is strictly decreasing at q = 0.
    pub r_mmhg_s_per_ml: f64,
}

impl StoppedRotor {
    /// H_0(q), mmHg, for q in mL/s.
    #[inline(always)]
    pub fn head_mmhg(&self, q_ml_s: f64) -> f64 {
        -self.k_mmhg_s2_per_ml2 * q_ml_s * q_ml_s.abs() - self.r_mmhg_s_per_ml * q_ml_s
    }

    /// Leak flow, mL/s, at pressure difference dp (mmHg): the root of H_0(q) = dp,
    /// q = −sign(dp)·(√(r² + 4k|dp|) − r)/(2k) (q = −dp/r when k = 0).
    pub fn steady_flow_ml_s(&self, dp_mmhg: f64) -> f64 {
        let (k, r) = (self.k_mmhg_s2_per_ml2, self.r_mmhg_s_per_ml);
        if k == 0.0 {
            return -dp_mmhg / r;
        }
        // Written as 2|dp|/(√(r² + 4k|dp|) + r) to avoid cancellation at small |dp|.
        -dp_mmhg.signum() * 2.0 * dp_mmhg.abs() / ((r * r + 4.0 * k * dp_mmhg.abs()).sqrt() + r)
    }
}

/// Q(h) = s·Σ a_i·(h/t)^i, L/min, with a = [a0, a1, a2, a3, a4].
#[derive(Debug, Clone, Copy)]
struct ScaledQuartic {
    a: [f64; 5],
    flow_scale: f64,
    head_scale: f64,
}

impl ScaledQuartic {
    fn flow_l_min(&self, h_mmhg: f64) -> f64 {
        let x = h_mmhg / self.head_scale;
        let [a0, a1, a2, a3, a4] = self.a;
        self.flow_scale * ((((a4 * x + a3) * x + a2) * x + a1) * x + a0)
    }

    /// dQ/dh, L/min per mmHg.
    fn slope(&self, h_mmhg: f64) -> f64 {
        let x = h_mmhg / self.head_scale;
        let [_, a1, a2, a3, a4] = self.a;
        self.flow_scale / self.head_scale * (((4.0 * a4 * x + 3.0 * a3) * x + 2.0 * a2) * x + a1)
    }
}

/// One P-level's flow law Q_k(h), L/min, made physical: the scaled quartic on its valid range
/// [h_start, h_end], continued linearly on both sides with its slopes at the edges, m_lo and
/// m_hi (so Q_k is continuous with a continuous slope).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelFlow {
    poly: ScaledQuartic,
    h_start: f64,
    h_end: f64,
    q_start: f64,
    q_end: f64,
    m_lo: f64,
    m_hi: f64,
}

impl LevelFlow {
    /// `a` = [a0, a1, a2, a3, a4] of Q [L/min] = flow_scale · poly(h / head_scale).
    /// Errors (as text for the caller to place in its file) when the curve has no usable
    /// decreasing range.
    pub(crate) fn new(a: [f64; 5], flow_scale: f64, head_scale: f64) -> Result<Self, String> {
        if a.iter().any(|c| !c.is_finite()) {
            return Err("quartic coefficients must be finite numbers".into());
        }
        for (name, v) in [("flow_scale", flow_scale), ("head_scale", head_scale)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a positive number, got {v}"));
            }
        }
        let poly = ScaledQuartic {
            a,
            flow_scale,
            head_scale,
        };
        if poly.flow_l_min(0.0) <= 0.0 {
            return Err("the curve gives no forward flow at zero pressure difference".into());
        }
        let (h_start, h_end) = valid_range(&poly);
        if h_end - h_start < MIN_VALID_SPAN_MMHG {
            return Err(format!(
                "the flow falls by at least {MIN_FLOW_SLOPE_L_MIN_PER_MMHG} L/min per mmHg only \
                 on {h_start:.1}..{h_end:.1} mmHg; at least {MIN_VALID_SPAN_MMHG} mmHg is needed"
            ));
        }
        let q_start = poly.flow_l_min(h_start);
        let q_end = poly.flow_l_min(h_end);
        // The edge slopes are −m_min or steeper; min() keeps bisection round-off from
        // making them a hair flatter.
        let m_lo = poly.slope(h_start).min(-MIN_FLOW_SLOPE_L_MIN_PER_MMHG);
        let m_hi = poly.slope(h_end).min(-MIN_FLOW_SLOPE_L_MIN_PER_MMHG);
        Ok(Self {
            poly,
            h_start,
            h_end,
            q_start,
            q_end,
            m_lo,
            m_hi,
        })
    }

    /// Q_k(h), L/min: strictly decreasing and defined for every h.
    pub(crate) fn flow_l_min(&self, h_mmhg: f64) -> f64 {
        if h_mmhg < self.h_start {
            self.q_start + self.m_lo * (h_mmhg - self.h_start)
        } else if h_mmhg > self.h_end {
            self.q_end + self.m_hi * (h_mmhg - self.h_end)
        } else {
            self.poly.flow_l_min(h_mmhg)
        }
    }
}

/// [h_start, h_end]: h_start is the first h ≥ 0 where dQ/dh ≤ −m_min; h_end is the first
/// zero of Q after it, the first h where dQ/dh > −m_min again, or H_DATA_MAX·head_scale,
/// whichever comes first. An empty range (h_start = h_end) when the curve never falls
/// steeply enough before it reaches zero flow or the end of the data.
fn valid_range(poly: &ScaledQuartic) -> (f64, f64) {
    let h_max = H_DATA_MAX_MMHG * poly.head_scale;
    let steep = |h: f64| poly.slope(h) <= -MIN_FLOW_SLOPE_L_MIN_PER_MMHG;
    let positive = |h: f64| poly.flow_l_min(h) > 0.0;
    let mut h_start = None;
    let mut h = 0.0;
    if steep(0.0) {
        h_start = Some(0.0);
    }
    while h < h_max {
        let next = (h + SCAN_STEP_MMHG).min(h_max);
        match h_start {
            None if !positive(next) => return (next, next),
            None if steep(next) => h_start = Some(bisect(h, next, |x| !steep(x))),
            Some(start) if !positive(next) => return (start, bisect(h, next, positive)),
            Some(start) if !steep(next) => return (start, bisect(h, next, steep)),
            _ => {}
        }
        h = next;
    }
    (h_start.unwrap_or(h_max), h_max)
}

/// The boundary in [lo, hi] where `inside` turns false (true at lo, false at hi).
fn bisect(mut lo: f64, mut hi: f64, inside: impl Fn(f64) -> bool) -> f64 {
    for _ in 0..BISECTION_STEPS {
        let mid = 0.5 * (lo + hi);
        if inside(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// H(q), mmHg, tabulated at uniform q (mL/s) and interpolated by monotone cubic Hermite
/// segments, so H has a continuous slope; linear beyond the ends with the end nodes' slopes.
#[derive(Clone)]
struct HeadTable {
    q_first_ml_s: f64,
    q_last_ml_s: f64,
    inv_dq: f64,
    /// Per cell between nodes i and i + 1, its cubic in Horner form [h0, m0, c2, c3] with
    /// H = h0 + f·(m0 + f·(c2 + f·c3)) at the fraction f of the cell: from the nodes' heads h
    /// and slopes per spacing m, c2 = 3(h1 − h0) − 2m0 − m1, c3 = m0 + m1 − 2(h1 − h0),
    /// worked out once here rather than at every evaluation. H strictly decreasing.
    cells: Vec<[f64; 4]>,
    /// H at q_first and q_last, mmHg.
    head_first: f64,
    head_last: f64,
    /// dH/dq below q_first and above q_last, mmHg·s/mL (< 0).
    slope_below: f64,
    slope_above: f64,
}

impl HeadTable {
    /// Tabulates the inverse of a strictly decreasing flow law Q(h) (L/min) over
    /// TABLE_HEAD_MIN..TABLE_HEAD_MAX.
    fn invert(flow_l_min: impl Fn(f64) -> f64) -> Self {
        let q_first = flow_l_min(TABLE_HEAD_MAX_MMHG) * ML_S_PER_L_MIN;
        let q_last = flow_l_min(TABLE_HEAD_MIN_MMHG) * ML_S_PER_L_MIN;
        let dq = (q_last - q_first) / (TABLE_NODES - 1) as f64;
        let mut head_mmhg = Vec::with_capacity(TABLE_NODES);
        head_mmhg.push(TABLE_HEAD_MAX_MMHG);
        for i in 1..TABLE_NODES - 1 {
            let q = q_first + i as f64 * dq;
            // Flow falls with head, so the root lies between the lowest head and the last
            // node's (q grows). Regula falsi (Illinois) needs ~7 evaluations a node where
            // bisection needed 50, which made loading the catalogue take ~0.2 s.
            let excess = |h: f64| flow_l_min(h) * ML_S_PER_L_MIN - q;
            let (lo, hi) = (TABLE_HEAD_MIN_MMHG, head_mmhg[i - 1]);
            let r = illinois(
                excess,
                lo,
                excess(lo),
                hi,
                excess(hi),
                NODE_HEAD_TOL_MMHG,
                NODE_EVALUATIONS,
            );
            head_mmhg.push(0.5 * (r.a + r.b));
        }
        head_mmhg.push(TABLE_HEAD_MIN_MMHG);
        // Node slopes (per spacing) from the flow law's own slope, dH/dq = 1/(dQ/dh), by a
        // central difference; then Fritsch & Carlson's (1980) limit on each segment, which
        // keeps it monotone where the law has a corner (the caps of step 3).
        let n = TABLE_NODES;
        let mut slopes: Vec<f64> = head_mmhg
            .iter()
            .map(|&h| {
                let dq_dh = (flow_l_min(h + SLOPE_STEP_MMHG) - flow_l_min(h - SLOPE_STEP_MMHG))
                    / (2.0 * SLOPE_STEP_MMHG)
                    * ML_S_PER_L_MIN;
                dq / dq_dh
            })
            .collect();
        for i in 0..n - 1 {
            let secant = head_mmhg[i + 1] - head_mmhg[i];
            let (a, b) = (slopes[i] / secant, slopes[i + 1] / secant);
            let norm = a.hypot(b);
            if norm > 3.0 {
                slopes[i] = 3.0 * a / norm * secant;
                slopes[i + 1] = 3.0 * b / norm * secant;
            }
        }
        let cells = (0..n - 1)
            .map(|i| {
                let (h0, m0, h1, m1) = (head_mmhg[i], slopes[i], head_mmhg[i + 1], slopes[i + 1]);
                let d = h1 - h0;
                [h0, m0, 3.0 * d - 2.0 * m0 - m1, m0 + m1 - 2.0 * d]
            })
            .collect();
        Self {
            q_first_ml_s: q_first,
            q_last_ml_s: q_last,
            inv_dq: 1.0 / dq,
            cells,
            head_first: head_mmhg[0],
            head_last: head_mmhg[n - 1],
            slope_below: slopes[0] / dq,
            slope_above: slopes[n - 1] / dq,
        }
    }

    /// Affinity-scaled head r²·H(q/r), mmHg, for speed ratio r = ω/ω_k > 0. Written without
    /// q/r outside the table, so r → 0 stays finite (the term tends to 0).
    #[inline(always)]
    fn scaled_head(&self, q_ml_s: f64, ratio: SpeedRatio) -> f64 {
        let r = ratio.r;
        let q_lo = r * self.q_first_ml_s;
        let q_hi = r * self.q_last_ml_s;
        if q_ml_s <= q_lo {
            r * r * self.head_first + r * self.slope_below * (q_ml_s - q_lo)
        } else if q_ml_s >= q_hi {
            r * r * self.head_last + r * self.slope_above * (q_ml_s - q_hi)
        } else {
            let x = (q_ml_s * ratio.inv - self.q_first_ml_s) * self.inv_dq;
            // x > 0 here; through i64 the conversion is one instruction on x86-64.
            let i = (x as i64 as usize).min(self.cells.len() - 1);
            let f = x - i as f64;
            // Cubic Hermite on the cell: H(0) = h0, H(1) = h1, H'(0) = m0, H'(1) = m1.
            let [h0, m0, c2, c3] = self.cells[i];
            // r²(h0 + f(m0 + f(c2 + f·c3))), fused (see crate::engine::kernel).
            r * r * f.mul_add(f.mul_add(f.mul_add(c3, c2), m0), h0)
        }
    }
}

impl fmt::Debug for HeadTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HeadTable {{ q: {:.2}..{:.2} mL/s, {} nodes }}",
            self.q_first_ml_s,
            self.q_last_ml_s,
            self.cells.len() + 1
        )
    }
}

#[derive(Debug, Clone)]
struct SpeedLevel {
    speed_rpm: f64,
    table: HeadTable,
}

/// A speed ratio r = ω/ω_k with its reciprocal, so that the head's q/r is a multiplication
/// (the division was on the critical path of every right-hand side).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedRatio {
    pub r: f64,
    pub inv: f64,
}

impl SpeedRatio {
    pub fn new(r: f64) -> Self {
        SpeedRatio { r, inv: 1.0 / r }
    }
}

/// A rotor speed located among a [`PumpCurve`]'s levels (see [`PumpCurve::head_mmhg`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpeedPoint {
    /// ω ≤ 0.
    Stopped,
    /// 0 < ω < ω_1, r = ω/ω_1.
    BelowFirst {
        /// ω/ω_1.
        r: SpeedRatio,
    },
    /// One level's curve scaled by r = ω/ω_k: at a level's own speed, or above the top one.
    Level {
        /// Index of the level.
        k: usize,
        /// ω/ω_k.
        r: SpeedRatio,
    },
    /// ω_k < ω < ω_k+1.
    Between {
        /// Index of the level below.
        k: usize,
        /// ω/ω_k.
        r_a: SpeedRatio,
        /// ω/ω_k+1.
        r_b: SpeedRatio,
        /// Weight of the level above, 0–1.
        lambda: f64,
    },
}

/// Pressure head of one device as a function of cannula flow and rotor speed.
///
/// Built once per device ([`crate::devices::DeviceSpec::pump_curve`]); evaluation allocates
/// nothing and costs two table look-ups. For every speed the head is continuous and strictly
/// decreasing in flow, and it is continuous in speed.
#[derive(Debug, Clone)]
pub struct PumpCurve {
    /// Ascending speed, all > 0.
    levels: Vec<SpeedLevel>,
    stopped: StoppedRotor,
}

impl PumpCurve {
    /// `levels`: (ω_k in rpm, Q_k) for every running P-level, ascending in speed, non-empty.
    /// Level flows are ordered before inversion,
    /// Q̃_k(h) = max(min_{j≥k} Q_j(h), Q_0(h)) with Q_0 the stopped-rotor leak:
    /// a higher P-level never delivers less flow at the same pressure difference, and a
    /// turning rotor never lets more blood back than a stopped one.
    pub(crate) fn new(levels: &[(f64, LevelFlow)], stopped: StoppedRotor) -> Self {
        assert!(
            !levels.is_empty(),
            "a pump curve needs at least one running level"
        );
        let levels = (0..levels.len())
            .map(|k| SpeedLevel {
                speed_rpm: levels[k].0,
                table: HeadTable::invert(|h| {
                    let capped = levels[k..]
                        .iter()
                        .map(|(_, flow)| flow.flow_l_min(h))
                        .fold(f64::INFINITY, f64::min);
                    capped.max(stopped.steady_flow_ml_s(h) / ML_S_PER_L_MIN)
                }),
            })
            .collect();
        Self { levels, stopped }
    }

    /// Pressure head the rotor generates, mmHg, at flow q (mL/s, positive = inlet->outlet)
    /// and rotor speed (rpm; ≤ 0 = stopped).
    ///
    /// With speed ratios r_k = ω/ω_k:
    /// - ω ≤ 0: H = H_0(q) (stopped-rotor leak);
    /// - 0 < ω < ω_1: H = r_1²·H_1(q/r_1) + (1 − r_1)·H_0(q);
    /// - ω_k ≤ ω < ω_k+1: H = (1 − λ)·r_k²·H_k(q/r_k) + λ·r_k+1²·H_k+1(q/r_k+1),
    ///   λ = (ω − ω_k)/(ω_k+1 − ω_k);
    /// - ω ≥ ω_max: H = r_max²·H_max(q/r_max).
    #[inline(always)]
    pub fn head_mmhg(&self, q_ml_s: f64, speed_rpm: f64) -> f64 {
        self.head_at(q_ml_s, &self.at_speed(speed_rpm))
    }

    /// Where `speed_rpm` sits among the levels: the terms of [`PumpCurve::head_mmhg`] that
    /// depend on speed alone. A pump's speed changes only with its P-level, so it finds
    /// them once there, not in every right-hand side.
    pub fn at_speed(&self, speed_rpm: f64) -> SpeedPoint {
        if speed_rpm <= 0.0 {
            return SpeedPoint::Stopped;
        }
        let n = self.levels.len();
        let top = &self.levels[n - 1];
        if speed_rpm >= top.speed_rpm {
            return SpeedPoint::Level {
                k: n - 1,
                r: SpeedRatio::new(speed_rpm / top.speed_rpm),
            };
        }
        let k = self.levels.partition_point(|l| l.speed_rpm <= speed_rpm);
        if k == 0 {
            return SpeedPoint::BelowFirst {
                r: SpeedRatio::new(speed_rpm / self.levels[0].speed_rpm),
            };
        }
        let (a, b) = (&self.levels[k - 1], &self.levels[k]);
        let lambda = (speed_rpm - a.speed_rpm) / (b.speed_rpm - a.speed_rpm);
        if lambda == 0.0 {
            // At a level's own speed the other term has weight 0 exactly.
            return SpeedPoint::Level {
                k: k - 1,
                r: SpeedRatio::new(speed_rpm / a.speed_rpm),
            };
        }
        SpeedPoint::Between {
            k: k - 1,
            r_a: SpeedRatio::new(speed_rpm / a.speed_rpm),
            r_b: SpeedRatio::new(speed_rpm / b.speed_rpm),
            lambda,
        }
    }

    /// [`PumpCurve::head_mmhg`] at a speed located by [`PumpCurve::at_speed`].
    #[inline(always)]
    pub fn head_at(&self, q_ml_s: f64, at: &SpeedPoint) -> f64 {
        match *at {
            SpeedPoint::Stopped => self.stopped.head_mmhg(q_ml_s),
            SpeedPoint::Level { k, r } => self.levels[k].table.scaled_head(q_ml_s, r),
            SpeedPoint::BelowFirst { r } => {
                self.levels[0].table.scaled_head(q_ml_s, r)
                    + (1.0 - r.r) * self.stopped.head_mmhg(q_ml_s)
            }
            SpeedPoint::Between {
                k,
                r_a,
                r_b,
                lambda,
            } => {
                (1.0 - lambda) * self.levels[k].table.scaled_head(q_ml_s, r_a)
                    + lambda * self.levels[k + 1].table.scaled_head(q_ml_s, r_b)
            }
        }
    }

    /// Steady flow (mL/s) where head equals the pressure difference dp = P_outlet − P_inlet
    /// (mmHg): solves head(q, ω) = dp. The head is strictly decreasing and unbounded in q, so
    /// the root exists and is unique; found by bracketing and bisection (not for the ODE
    /// right-hand side). NaN when dp or the speed is not a number or dp is infinite.
    pub fn steady_flow_ml_s(&self, dp_mmhg: f64, speed_rpm: f64) -> f64 {
        if !dp_mmhg.is_finite() || speed_rpm.is_nan() {
            return f64::NAN;
        }
        let excess = |q: f64| self.head_mmhg(q, speed_rpm) - dp_mmhg;
        let (mut lo, mut hi) = (-100.0_f64, 100.0_f64);
        while excess(lo) < 0.0 {
            lo *= 2.0;
        }
        while excess(hi) > 0.0 {
            hi *= 2.0;
        }
        while hi - lo > 1e-10 * (1.0 + lo.abs().max(hi.abs())) {
            let mid = 0.5 * (lo + hi);
            if excess(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Quartics [a0..a4] from data/devices (reference data section 1.3).
    const CP_P2: [f64; 5] = [2.655, -4.289e-2, 1.899e-3, -4.116e-5, 2.362e-7];
    const CP_P9: [f64; 5] = [4.054, -3.556e-2, 7.433e-4, -6.962e-6, 1.775e-8];
    const I50_P5: [f64; 5] = [3.794, 1.570e-2, -8.624e-4, 6.151e-6, -1.452e-8];
    const CP_P1: [f64; 5] = [1.836, -3.315e-2, 2.719e-3, -1.351e-4, 1.567e-6];
    const LEAK: StoppedRotor = StoppedRotor {
        k_mmhg_s2_per_ml2: 0.1447,
        r_mmhg_s_per_ml: 0.4802,
    };

    #[test]
    fn valid_range_ends_at_first_zero() {
        // CP P-2 reaches zero flow at ~80 mmHg and turns back up above ~92 (reference 1.3).
        let f = LevelFlow::new(CP_P2, 1.0, 1.0).unwrap();
        assert_eq!(f.h_start, 0.0);
        assert!((f.h_end - 79.5).abs() < 0.5, "h_end {}", f.h_end);
        assert!(f.flow_l_min(120.0) < f.flow_l_min(100.0));
        assert!(f.flow_l_min(100.0) < 0.0);
    }

    #[test]
    fn rising_start_is_replaced_by_a_tangent() {
        // 5.0 P-5 rises from 3.79 to ~3.87 L/min over 0..10 mmHg: not physical. The valid
        // range starts where the slope reaches −m_min; below it Q continues on the tangent.
        let f = LevelFlow::new(I50_P5, 1.0, 1.0).unwrap();
        assert!((f.h_start - 12.45).abs() < 0.1, "h_start {}", f.h_start);
        assert!((f.m_lo + MIN_FLOW_SLOPE_L_MIN_PER_MMHG).abs() < 1e-9);
        let (a, b) = (
            f.flow_l_min(f.h_start - 1e-6),
            f.flow_l_min(f.h_start + 1e-6),
        );
        assert!((a - b).abs() < 1e-8 && a > b);
        assert!(
            (f.flow_l_min(0.0) - 3.905).abs() < 0.005,
            "{}",
            f.flow_l_min(0.0)
        );
        // Inside the valid range the polynomial is used unchanged.
        assert_eq!(f.flow_l_min(45.0), f.poly.flow_l_min(45.0));
    }

    #[test]
    fn turn_up_beyond_first_zero_is_removed() {
        // CP P-1 crosses zero at ~44 mmHg and explodes upward beyond ~49.
        let f = LevelFlow::new(CP_P1, 1.0, 1.0).unwrap();
        assert!(f.h_end < 45.0);
        assert!(f.m_hi < -0.04);
        assert!(f.flow_l_min(120.0) < -3.0);
    }

    #[test]
    fn scales_stretch_flow_and_head() {
        let base = LevelFlow::new(CP_P9, 1.0, 1.0).unwrap();
        let scaled = LevelFlow::new(CP_P9, 1.1, 0.9).unwrap();
        assert!((scaled.flow_l_min(45.0) - 1.1 * base.flow_l_min(50.0)).abs() < 1e-12);
    }

    #[test]
    fn rejects_curves_without_forward_flow_or_bad_scales() {
        assert!(LevelFlow::new([-1.0, -0.01, 0.0, 0.0, 0.0], 1.0, 1.0).is_err());
        assert!(LevelFlow::new(CP_P9, 0.0, 1.0).is_err());
        assert!(LevelFlow::new(CP_P9, 1.0, f64::NAN).is_err());
        // Rising over the whole data range.
        assert!(LevelFlow::new([1.0, 0.01, 0.0, 0.0, 0.0], 1.0, 1.0).is_err());
    }

    #[test]
    fn table_reproduces_level_flow_at_level_speed() {
        let flows = [
            (31_000.0, LevelFlow::new(CP_P2, 1.0, 1.0).unwrap()),
            (46_000.0, LevelFlow::new(CP_P9, 1.0, 1.0).unwrap()),
        ];
        let curve = PumpCurve::new(&flows, LEAK);
        for (speed, flow) in &flows {
            for h in [-40.0, 0.0, 30.0, 45.0, 60.0, 75.0] {
                let q = curve.steady_flow_ml_s(h, *speed) / ML_S_PER_L_MIN;
                assert!(
                    (q - flow.flow_l_min(h)).abs() < 2e-3,
                    "{speed} rpm, {h} mmHg: {q}"
                );
            }
        }
        // Far beyond shut-off the P-2 extension would leak back faster than the stopped
        // rotor; the leak floor holds it there.
        let leak = LEAK.steady_flow_ml_s(150.0) / ML_S_PER_L_MIN;
        assert!(flows[0].1.flow_l_min(150.0) < leak);
        let q = curve.steady_flow_ml_s(150.0, 31_000.0) / ML_S_PER_L_MIN;
        assert!((q - leak).abs() < 2e-3, "{q} vs {leak}");
    }

    #[test]
    fn head_table_is_strictly_decreasing_with_a_continuous_slope() {
        // The P-2 law alone is smooth (its linear extensions join with the slope at the
        // edges), so the table's H should be too.
        let flow = LevelFlow::new(CP_P2, 1.0, 1.0).unwrap();
        let table = HeadTable::invert(|h| flow.flow_l_min(h));
        let dq = 1.0 / table.inv_dq;
        let head = |q: f64| table.scaled_head(q, SpeedRatio::new(1.0));
        for i in 1..TABLE_NODES - 1 {
            let q = table.q_first_ml_s + i as f64 * dq;
            let eps = 1e-3 * dq;
            let left = (head(q) - head(q - eps)) / eps;
            let right = (head(q + eps) - head(q)) / eps;
            assert!(
                left < 0.0 && right < 0.0,
                "node {i}: slopes {left}, {right}"
            );
            // Linear interpolation's slope jumps at a node by the change of the secants
            // around it; a continuous slope changes over the difference step only, a
            // thousandth of one spacing.
            let secant_change = ((head(q + dq) - head(q)) - (head(q) - head(q - dq))) / dq;
            assert!(
                (right - left).abs() <= 0.01 * secant_change.abs() + 1e-8 * left.abs(),
                "node {i}: slope {left} on the left, {right} on the right"
            );
        }
        // Strictly decreasing through the table and beyond its ends.
        let (lo, hi) = (table.q_first_ml_s - 50.0, table.q_last_ml_s + 50.0);
        let steps = 100_000;
        let mut last = head(lo);
        for k in 1..=steps {
            let h = head(lo + (hi - lo) * k as f64 / steps as f64);
            assert!(h < last, "not decreasing at step {k}");
            last = h;
        }
    }

    #[test]
    fn affinity_scaling_between_and_above_levels() {
        let flows = [(46_000.0, LevelFlow::new(CP_P9, 1.0, 1.0).unwrap())];
        let curve = PumpCurve::new(&flows, LEAK);
        // Above the top speed: H(q, ω) = r²·H_top(q/r).
        let r = 1.1;
        let q = 50.0;
        let expected = r * r * curve.head_mmhg(q / r, 46_000.0);
        assert!((curve.head_mmhg(q, 46_000.0 * r) - expected).abs() < 1e-9);
    }

    #[test]
    fn a_located_speed_blends_the_levels_around_it() {
        let flows = [
            (30_000.0, LevelFlow::new(CP_P2, 1.0, 1.0).unwrap()),
            (46_000.0, LevelFlow::new(CP_P9, 1.0, 1.0).unwrap()),
        ];
        let curve = PumpCurve::new(&flows, LEAK);
        assert_eq!(curve.at_speed(0.0), SpeedPoint::Stopped);
        assert_eq!(
            curve.at_speed(30_000.0),
            SpeedPoint::Level {
                k: 0,
                r: SpeedRatio::new(1.0)
            }
        );
        assert_eq!(
            curve.at_speed(46_000.0),
            SpeedPoint::Level {
                k: 1,
                r: SpeedRatio::new(1.0)
            }
        );
        assert!(matches!(
            curve.at_speed(15_000.0),
            SpeedPoint::BelowFirst { .. }
        ));
        // Between two levels: the weighted sum of both scaled tables (λ = 1/4 here).
        let w = 34_000.0;
        let SpeedPoint::Between { k, lambda, .. } = curve.at_speed(w) else {
            panic!("{:?}", curve.at_speed(w));
        };
        assert_eq!((k, lambda), (0, 0.25));
        for q in [-20.0, 0.0, 40.0, 80.0] {
            let a = curve.levels[0]
                .table
                .scaled_head(q, SpeedRatio::new(w / 30_000.0));
            let b = curve.levels[1]
                .table
                .scaled_head(q, SpeedRatio::new(w / 46_000.0));
            assert_eq!(curve.head_mmhg(q, w), 0.75 * a + 0.25 * b);
        }
    }

    #[test]
    fn stopped_rotor_flow_inverts_its_head() {
        for dp in [-80.0, -1e-9, 0.0, 1e-6, 60.0] {
            let q = LEAK.steady_flow_ml_s(dp);
            assert!(
                (LEAK.head_mmhg(q) - dp).abs() < 1e-9 * (1.0 + dp.abs()),
                "{dp}"
            );
        }
        let linear = StoppedRotor {
            k_mmhg_s2_per_ml2: 0.0,
            r_mmhg_s_per_ml: 0.5,
        };
        assert_eq!(linear.steady_flow_ml_s(10.0), -20.0);
    }

    #[test]
    fn stopped_rotor_is_odd_and_blends_continuously() {
        let flows = [(23_000.0, LevelFlow::new(CP_P1, 1.0, 1.0).unwrap())];
        let curve = PumpCurve::new(&flows, LEAK);
        for q in [-80.0, -5.0, 0.0, 5.0, 80.0] {
            assert_eq!(curve.head_mmhg(q, 0.0), -curve.head_mmhg(-q, 0.0));
            let near_zero = curve.head_mmhg(q, 1e-3);
            assert!((near_zero - curve.head_mmhg(q, 0.0)).abs() < 1e-3);
            assert!(curve.head_mmhg(q, 1e-300).is_finite());
        }
    }
}

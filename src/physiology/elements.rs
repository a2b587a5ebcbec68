//! Constitutive laws of the circuit elements: chambers, pericardium, septum, valves,
//! vessels. Symbols as in docs/model.md.

use super::parameters::{ChamberParams, PericardiumParams, SeptumParams, ValveParams};

/// Orifice constant sqrt(2·133.322 Pa/mmHg / 1060 kg/m³) in cm/s per sqrt(mmHg):
/// Q (mL/s) = K_OR · EROA (cm²) · sqrt(ΔP (mmHg)).
pub const K_ORIFICE: f64 = 50.155;

/// Pressure scale below which the regurgitant orifice law is linearised, mmHg. Keeps the
/// derivative finite at ΔP = 0 (sqrt is not Lipschitz there).
const ORIFICE_SMOOTHING_MMHG: f64 = 0.5;

/// Transmural chamber pressure, mmHg:
/// P = e·E_es·(V − V_0) + (1 − e)·A·(exp(B·(V − V_0)) − 1).
#[inline(always)]
pub fn chamber_pressure(c: &ChamberParams, e: f64, v_ml: f64) -> f64 {
    with_passive(c, e, v_ml, edpvr(c, v_ml))
}

/// [`chamber_pressure`] of `L` chambers, chamber i under activation e\[i\], their
/// exponentials evaluated side by side (four-wide vector instructions).
#[inline(always)]
pub fn chamber_pressures<const L: usize>(
    c: [&ChamberParams; L],
    e: [f64; L],
    v_ml: [f64; L],
) -> [f64; L] {
    let x: [f64; L] = crate::exp::exp_lanes(std::array::from_fn(|i| edpvr_exponent(c[i], v_ml[i])));
    std::array::from_fn(|i| with_passive(c[i], e[i], v_ml[i], c[i].edpvr_a * (x[i] - 1.0)))
}

/// One chamber's pressures at `L` activations and volumes (lane by lane, e.g. a block of
/// samples) into `out`: [`chamber_pressure`] of each, bit for bit.
#[inline(always)]
pub fn chamber_pressures_lanes<const L: usize>(
    c: &ChamberParams,
    e: &[f64; L],
    v_ml: &[f64; L],
    out: &mut [f64; L],
) {
    let mut x = [0.0; L];
    for i in 0..L {
        x[i] = edpvr_exponent(c, v_ml[i]);
    }
    crate::exp::exp_block(&mut x);
    for i in 0..L {
        out[i] = with_passive(c, e[i], v_ml[i], c.edpvr_a * (x[i] - 1.0));
    }
}

/// [`pericardial_pressure`] of `L` pairs of ventricular volumes into `out`, lane by lane,
/// bit for bit.
#[inline(always)]
pub fn pericardial_pressures_lanes<const L: usize>(
    p: &PericardiumParams,
    v_lv: &[f64; L],
    v_rv: &[f64; L],
    out: &mut [f64; L],
) {
    for i in 0..L {
        out[i] = pericardial_exponent(p, v_lv[i], v_rv[i]);
    }
    crate::exp::exp_block(out);
    for o in out.iter_mut() {
        *o = p.p0 * (*o - 1.0);
    }
}

/// e·E_es·(V − V_0) + (1 − e)·P_ed, mmHg, for the passive pressure P_ed at V.
#[inline(always)]
fn with_passive(c: &ChamberParams, e: f64, v_ml: f64, p_ed: f64) -> f64 {
    e * c.ees * (v_ml - c.v0) + (1.0 - e) * p_ed
}

/// End-diastolic (passive) pressure P_ed(V) = A·(exp(B·(V − V_0)) − 1), mmHg.
#[inline(always)]
pub fn edpvr(c: &ChamberParams, v_ml: f64) -> f64 {
    c.edpvr_a * (crate::exp::exp(edpvr_exponent(c, v_ml)) - 1.0)
}

/// B·(V − V_0), the EDPVR's exponent.
#[inline(always)]
fn edpvr_exponent(c: &ChamberParams, v_ml: f64) -> f64 {
    c.edpvr_b * (v_ml - c.v0)
}

/// Volume on the EDPVR at pressure `p_mmhg` (inverse of [`edpvr`]), mL.
pub fn edpvr_volume(c: &ChamberParams, p_mmhg: f64) -> f64 {
    c.v0 + (p_mmhg / c.edpvr_a + 1.0).max(1e-12).ln() / c.edpvr_b
}

/// ∫_{V0}^{V} P_ed dV, mmHg·mL (the passive area under the EDPVR, for PVA).
pub fn edpvr_area(c: &ChamberParams, v_ml: f64) -> f64 {
    let x = v_ml - c.v0;
    c.edpvr_a * (((c.edpvr_b * x).exp() - 1.0) / c.edpvr_b - x)
}

/// Pericardial pressure acting on both ventricles, mmHg.
#[inline(always)]
pub fn pericardial_pressure(p: &PericardiumParams, v_lv: f64, v_rv: f64) -> f64 {
    p.p0 * (crate::exp::exp(pericardial_exponent(p, v_lv, v_rv)) - 1.0)
}

/// λ·(V_LV + V_RV − V_0), the pericardium's exponent.
#[inline(always)]
fn pericardial_exponent(p: &PericardiumParams, v_lv: f64, v_rv: f64) -> f64 {
    p.lambda * (v_lv + v_rv - p.v0)
}

/// The septal balance's iteration stops after a Halley step shorter than this, mL. Halley's
/// method converges cubically, so the displacement it returns is within about
/// |G'''/(6·G') − (G''/(2·G'))²|·(tolerance)³ ≈ 10⁻¹⁶ mL of the root: round-off.
pub const SEPTUM_TOLERANCE_ML: f64 = 1e-5;

/// Most iterations of the septal balance (each three exponentials). Bisection alone would
/// reach 10⁻⁹ mL within it from any bracket narrower than 10³ mL; if it were reached, the
/// last iterate is returned.
pub const SEPTUM_MAX_ITERATIONS: u32 = 40;

/// The septum's equilibrium at one instant: its displacement and the free walls' pressures
/// (transmural, without the pericardium).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeptalBalance {
    /// Septal displacement x, mL: positive towards the RV. The LV free wall holds
    /// V_LV − x, the RV free wall V_RV + x.
    pub x_ml: f64,
    /// LV free-wall pressure P_LV,fw(V_LV − x), mmHg.
    pub p_lvf: f64,
    /// RV free-wall pressure P_RV,fw(V_RV + x), mmHg.
    pub p_rvf: f64,
    /// Newton iterations that evaluated the laws (three exponentials each); the first step,
    /// from x = 0, needs none.
    pub iterations: u32,
}

/// Septal pressure P_spt(x) = e·E_es,spt·x + (1 − e)·P0,spt·(exp(λ_spt·x) − 1), mmHg, before
/// the division by the compliance scale (docs/model.md, "Septum").
pub fn septal_pressure(s: &SeptumParams, e: f64, x_ml: f64) -> f64 {
    e * s.ees * x_ml + (1.0 - e) * s.p0 * (crate::exp::exp(s.lambda * x_ml) - 1.0)
}

/// Solves the septal balance P_spt(x)/c_spt = P_LV,fw(V_LV − x) − P_RV,fw(V_RV + x) for the
/// displacement x (docs/model.md, "Septum"), given the free walls' pressures at x = 0,
/// `p_lvf0` = P_LV,fw(V_LV) and `p_rvf0` = P_RV,fw(V_RV) (what [`chamber_pressure`] gives,
/// which the caller has computed anyway). Requires c_spt > 0.
///
/// Safeguarded Halley iteration on
/// G(x) = P_spt(x) − c_spt·(P_LV,fw(V_LV − x) − P_RV,fw(V_RV + x)), which increases strictly
/// (G' = P_spt' + c_spt·(P_LV,fw' + P_RV,fw') > 0), so its root is unique:
/// - the root lies in [min(a, −b, 0) − 1, max(a, −b, 0) + 1] mL, a = V_LV − V_0,LV and
///   b = V_RV − V_0,RV: at the upper end the LV wall is at or below its V_0 (P ≤ 0), the RV
///   wall above its own (P > 0) and the septum bowed right (P_spt > 0), so G > 0; at the
///   lower end the reverse. x = 0 and every iterate narrow this bracket by their sign of G;
/// - the first step starts at x = 0 from the pressures given, whose slopes and curvatures
///   follow without an exponential (for a wall, (1 − e)·A·exp(B·(V − V_0)) = P −
///   e·E_es·(V − V_0) + (1 − e)·A): a second-order step, at no exponential's cost;
/// - each step is Halley's, x − (G/G')/(1 − G·G''/(2·G'²)) (Newton's where that
///   denominator falls below 1/2), and is replaced by bisection if it would leave the
///   bracket or not halve the step before it (Numerical Recipes' `rtsafe` safeguard);
/// - it stops after a Halley or Newton step shorter than [`SEPTUM_TOLERANCE_ML`] (or a
///   bisection shorter than 10⁻⁹ mL), updating the wall pressures to that last step to
///   second order.
///
/// No allocation; three exponentials per iteration, side by side. About 2 iterations per
/// solve on the normal adult's beat, about 4 in RV failure (where the septum inverts in
/// diastole): docs/model.md.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the laws, the state and the pressures at x = 0
pub fn septal_balance(
    s: &SeptumParams,
    lv: &ChamberParams,
    rv: &ChamberParams,
    e: f64,
    v_lv_ml: f64,
    v_rv_ml: f64,
    p_lvf0: f64,
    p_rvf0: f64,
) -> SeptalBalance {
    let c = s.compliance_scale;
    // A wall's passive part (1 − e)·A·exp(B·(v − V_0)) from its pressure p at volume v.
    let passive =
        |w: &ChamberParams, v: f64, p: f64| p - e * w.ees * (v - w.v0) + (1.0 - e) * w.edpvr_a;
    let (mut l, mut r) = (p_lvf0, p_rvf0);
    let (pl, pr) = (passive(lv, v_lv_ml, l), passive(rv, v_rv_ml, r));
    // dP/dV and d²P/dV² of each wall.
    let (mut dl, mut dr) = (e * lv.ees + lv.edpvr_b * pl, e * rv.ees + rv.edpvr_b * pr);
    let (mut ddl, mut ddr) = (lv.edpvr_b * lv.edpvr_b * pl, rv.edpvr_b * rv.edpvr_b * pr);
    // At x = 0: P_spt = 0, P_spt' = e·E_es,spt + (1 − e)·P0,spt·λ_spt and P_spt'' =
    // (1 − e)·P0,spt·λ_spt². In G' and G'' the LV wall's volume falls as x grows.
    let ps = (1.0 - e) * s.p0 * s.lambda;
    let mut x = 0.0;
    let mut g = -c * (l - r);
    let mut dg = e * s.ees + ps + c * (dl + dr);
    let mut ddg = ps * s.lambda - c * ddl + c * ddr;
    let (a, b) = (v_lv_ml - lv.v0, v_rv_ml - rv.v0);
    let (mut lo, mut hi) = if g < 0.0 {
        (0.0, a.max(-b).max(0.0) + 1.0)
    } else {
        (a.min(-b).min(0.0) - 1.0, 0.0)
    };
    let mut last_step = hi - lo;
    let mut iterations = 0;
    loop {
        if g == 0.0 {
            return SeptalBalance {
                x_ml: x,
                p_lvf: l,
                p_rvf: r,
                iterations,
            };
        }
        let newton = -g / dg;
        let denominator = 1.0 + newton * ddg / (2.0 * dg);
        let mut step = if denominator > 0.5 {
            newton / denominator
        } else {
            newton
        };
        let mut tolerance = SEPTUM_TOLERANCE_ML;
        // (Written so that a NaN step also bisects.)
        if !(x + step >= lo && x + step <= hi && (2.0 * step).abs() <= last_step.abs()) {
            step = 0.5 * (lo + hi) - x;
            tolerance = 1e-9;
        }
        if step.abs() <= tolerance || iterations == SEPTUM_MAX_ITERATIONS {
            let half = 0.5 * step * step;
            return SeptalBalance {
                x_ml: x + step,
                p_lvf: l - dl * step + ddl * half,
                p_rvf: r + dr * step + ddr * half,
                iterations,
            };
        }
        last_step = step;
        x += step;
        iterations += 1;
        let (v_l, v_r) = (v_lv_ml - x, v_rv_ml + x);
        let [xs, xl, xr, _] = crate::exp::exp_lanes([
            s.lambda * x,
            edpvr_exponent(lv, v_l),
            edpvr_exponent(rv, v_r),
            0.0,
        ]);
        l = with_passive(lv, e, v_l, lv.edpvr_a * (xl - 1.0));
        r = with_passive(rv, e, v_r, rv.edpvr_a * (xr - 1.0));
        let (pl, pr, psx) = (
            (1.0 - e) * lv.edpvr_a * xl,
            (1.0 - e) * rv.edpvr_a * xr,
            ps * xs,
        );
        dl = e * lv.ees + lv.edpvr_b * pl;
        dr = e * rv.ees + rv.edpvr_b * pr;
        ddl = lv.edpvr_b * lv.edpvr_b * pl;
        ddr = rv.edpvr_b * rv.edpvr_b * pr;
        g = e * s.ees * x + (1.0 - e) * s.p0 * (xs - 1.0) - c * (l - r);
        dg = e * s.ees + psx + c * (dl + dr);
        ddg = psx * s.lambda - c * ddl + c * ddr;
        if g > 0.0 {
            hi = x;
        } else {
            lo = x;
        }
    }
}

/// Volume span over which a functional regurgitant orifice opens fully, mL \[estimate\].
pub const FUNCTIONAL_OPENING_SPAN_ML: f64 = 40.0;

/// Effective regurgitant area (cm²) of an atrioventricular valve whose ventricle holds
/// `v_ml`: EROA · clamp((V − V_c)/ΔV, 0, 1); the full EROA when V_c = 0.
#[inline(always)]
pub fn regurgitant_area(v: &ValveParams, ventricle_ml: f64) -> f64 {
    if v.coaptation_volume <= 0.0 {
        return v.regurgitant_area;
    }
    let f = (ventricle_ml - v.coaptation_volume) / FUNCTIONAL_OPENING_SPAN_ML;
    v.regurgitant_area * f.clamp(0.0, 1.0)
}

/// Valve flow for ΔP = P_upstream − P_downstream, mL/s: forward through R (`g_open` = 1/R,
/// mL/(s·mmHg), computed once by the caller: see [`vessel_pressure`]); backward through a
/// regurgitant orifice of `area_cm2` (zero when competent).
#[inline(always)]
pub fn valve_flow(g_open: f64, dp_mmhg: f64, area_cm2: f64) -> f64 {
    valve_flow_on(g_open, dp_mmhg, area_cm2, dp_mmhg >= 0.0)
}

/// [`valve_flow`] on one branch of its law whatever the sign of ΔP: the forward law ΔP/R when
/// `forward`, else the backward (regurgitant) law, continued smoothly past ΔP = 0. Each branch
/// is then smooth across ΔP = 0, where the valve law itself has a kink; an integrator holds a
/// branch for a whole step and switches it only at the located crossing.
#[inline(always)]
pub fn valve_flow_on(g_open: f64, dp_mmhg: f64, area_cm2: f64, forward: bool) -> f64 {
    if forward {
        dp_mmhg * g_open
    } else if area_cm2 > 0.0 {
        let back = -dp_mmhg;
        let s = ORIFICE_SMOOTHING_MMHG;
        if back >= 0.0 {
            -K_ORIFICE * area_cm2 * back / (back + s).sqrt()
        } else {
            // For back < 0, the Taylor polynomial of back/√(back + s) at 0 to third order,
            // back/√s·(1 − back/(2s) + 3·back²/(8s²)): the join is smooth to the third
            // derivative, so a step holding this branch past ΔP = 0 sees no kink.
            let x = back / s;
            -K_ORIFICE * area_cm2 * back / s.sqrt() * (1.0 - 0.5 * x + 0.375 * x * x)
        }
    } else {
        0.0
    }
}

/// Pressure in a compliant vessel, mmHg: P = (V − V_u)/C, as (V − V_u)·E with the elastance
/// E = 1/C (mmHg/mL) computed once by the caller. The right-hand side's divisions by C, R and
/// L lie on the chain from a stage's state to its derivative, which the next stage waits
/// for; a multiplication has about a quarter of a division's latency (1.04× end to end,
/// docs/benchmarks.md).
#[inline(always)]
pub fn vessel_pressure(v_ml: f64, vu_ml: f64, e_mmhg_per_ml: f64) -> f64 {
    (v_ml - vu_ml) * e_mmhg_per_ml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn competent_valve_is_one_way() {
        let v = ValveParams {
            r: 0.01,
            regurgitant_area: 0.0,
            coaptation_volume: 0.0,
        };
        assert_eq!(
            valve_flow(1.0 / v.r, -50.0, regurgitant_area(&v, 150.0)),
            0.0
        );
        assert!((valve_flow(1.0 / v.r, 5.0, 0.0) - 500.0).abs() < 1e-9);
    }

    #[test]
    fn held_branches_continue_the_valve_law_across_its_kink() {
        let v = ValveParams {
            r: 0.01,
            regurgitant_area: 0.3,
            coaptation_volume: 0.0,
        };
        for dp in [-3.0, -1e-3, 0.0, 1e-3, 3.0] {
            // On its own side, each branch is the valve law.
            let own = valve_flow_on(1.0 / v.r, dp, 0.3, dp >= 0.0);
            assert_eq!(own, valve_flow(1.0 / v.r, dp, 0.3));
        }
        // Past the kink the forward branch stays linear, and the backward branch continues
        // smoothly: value, slope and curvature match on both sides of ΔP = 0.
        assert_eq!(valve_flow_on(1.0 / v.r, -2.0, 0.3, true), -200.0);
        let q = |dp: f64| valve_flow_on(1.0 / v.r, dp, 0.3, false);
        let d = 1e-4;
        let curvature = |dp: f64| (q(dp + d) - 2.0 * q(dp) + q(dp - d)) / (d * d);
        let c = curvature(0.0);
        assert!((q(1e-12) - q(-1e-12)).abs() < 1e-9);
        let (left, right) = ((q(0.0) - q(-d)) / d, (q(d) - q(0.0)) / d);
        assert!((left - right).abs() <= 2.0 * c.abs() * d, "{left} {right}");
        let (c_left, c_right) = (curvature(-2.0 * d), curvature(2.0 * d));
        assert!(
            (c_left - c_right).abs() < 0.02 * c.abs(),
            "{c_left} {c_right}"
        );
        assert!(q(2.0).is_finite() && q(2.0) > 0.0);
        assert_eq!(valve_flow_on(1.0 / v.r, 2.0, 0.0, false), 0.0);
    }

    #[test]
    fn functional_regurgitation_grows_with_ventricular_volume() {
        let v = ValveParams {
            r: 0.01,
            regurgitant_area: 0.3,
            coaptation_volume: 100.0,
        };
        assert_eq!(regurgitant_area(&v, 90.0), 0.0);
        assert!((regurgitant_area(&v, 120.0) - 0.15).abs() < 1e-12);
        assert_eq!(regurgitant_area(&v, 200.0), 0.3);
    }

    #[test]
    fn regurgitant_flow_follows_the_orifice_law() {
        // 0.3 cm² at 100 mmHg: Q ≈ 50.155·0.3·10 ≈ 150 mL/s (severe MR territory).
        let v = ValveParams {
            r: 0.01,
            regurgitant_area: 0.3,
            coaptation_volume: 0.0,
        };
        let q = valve_flow(1.0 / v.r, -100.0, regurgitant_area(&v, 150.0));
        assert!((q + 150.0).abs() < 1.0, "{q}");
    }

    /// G(x) of the septal balance, plainly from the laws (docs/model.md, "Septum").
    fn septal_residual(
        p: &crate::physiology::Parameters,
        e: f64,
        v_lv: f64,
        v_rv: f64,
        x: f64,
    ) -> f64 {
        septal_pressure(&p.septum, e, x) / p.septum.compliance_scale
            - (chamber_pressure(&p.lv, e, v_lv - x) - chamber_pressure(&p.rv, e, v_rv + x))
    }

    fn balance(p: &crate::physiology::Parameters, e: f64, v_lv: f64, v_rv: f64) -> SeptalBalance {
        septal_balance(
            &p.septum,
            &p.lv,
            &p.rv,
            e,
            v_lv,
            v_rv,
            chamber_pressure(&p.lv, e, v_lv),
            chamber_pressure(&p.rv, e, v_rv),
        )
    }

    #[test]
    fn septal_balance_finds_the_root_of_the_laws() {
        // Over activations, volumes and septal, LV and RV laws from soft to stiff, including
        // the ends of their allowed ranges: the balance is met (bisection on the laws agrees),
        // and in few iterations.
        let mut worst_iterations = 0;
        let mut total_iterations = 0;
        let mut cases = 0;
        for (ees, p0, lambda) in [
            (48.754, 1.1101, 0.435),
            (1.0, 0.01, 0.01),
            (500.0, 20.0, 2.0),
            (18.0, 1.1101, 0.435),
        ] {
            for c in [0.01, 1.0, 10.0] {
                for (lv_ees, lv_b, rv_ees, rv_b) in [
                    (2.21, 0.029, 0.74, 0.028),
                    (0.35, 0.2, 0.12, 0.001),
                    (10.0, 0.001, 5.0, 0.2),
                ] {
                    let mut p = presets::normal();
                    p.septum.ees = ees;
                    p.septum.p0 = p0;
                    p.septum.lambda = lambda;
                    p.septum.compliance_scale = c;
                    p.lv.ees = lv_ees;
                    p.lv.edpvr_b = lv_b;
                    p.rv.ees = rv_ees;
                    p.rv.edpvr_b = rv_b;
                    for e in [0.0, 1e-3, 0.05, 0.3, 0.7, 1.0] {
                        for v_lv in [10.0, 60.0, 120.0, 250.0] {
                            for v_rv in [10.0, 60.0, 140.0, 300.0] {
                                let b = balance(&p, e, v_lv, v_rv);
                                cases += 1;
                                total_iterations += b.iterations;
                                worst_iterations = worst_iterations.max(b.iterations);
                                assert!(
                                    b.iterations < SEPTUM_MAX_ITERATIONS,
                                    "{e} {v_lv} {v_rv} {:?} {:?} {:?} {b:?}",
                                    p.septum,
                                    p.lv,
                                    p.rv
                                );
                                // The root by bisection on the laws themselves.
                                let (mut lo, mut hi) = (-v_rv - 400.0, v_lv + 400.0);
                                for _ in 0..200 {
                                    let mid = 0.5 * (lo + hi);
                                    if septal_residual(&p, e, v_lv, v_rv, mid) > 0.0 {
                                        hi = mid;
                                    } else {
                                        lo = mid;
                                    }
                                }
                                let x = 0.5 * (lo + hi);
                                assert!(
                                    (b.x_ml - x).abs() < 1e-9 * (1.0 + x.abs()),
                                    "x {} against {x}",
                                    b.x_ml
                                );
                                let (l, r) = (
                                    chamber_pressure(&p.lv, e, v_lv - b.x_ml),
                                    chamber_pressure(&p.rv, e, v_rv + b.x_ml),
                                );
                                assert!(
                                    (b.p_lvf - l).abs() < 1e-9 * (1.0 + l.abs()),
                                    "{} {l}",
                                    b.p_lvf
                                );
                                assert!(
                                    (b.p_rvf - r).abs() < 1e-9 * (1.0 + r.abs()),
                                    "{} {r}",
                                    b.p_rvf
                                );
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "septal balance: {:.2} iterations on average, at most {worst_iterations}",
            total_iterations as f64 / cases as f64
        );
    }

    #[test]
    fn linear_walls_give_the_series_elastance_solution() {
        // At end-systole (e = 1) every wall is linear: x = c·(E_l·a − E_r·b)/(E_s + c·(E_l +
        // E_r)) with a, b the walls' volumes above V_0, and the systolic interaction gain
        // dP_RV/dP_LV at fixed RV volume is c·E_r/(E_s + c·E_r) (Santamore & Burkhoff 1991).
        let mut p = presets::normal();
        p.septum.compliance_scale = 1.0;
        let (es, el, er) = (p.septum.ees, p.lv.ees, p.rv.ees);
        let (v_lv, v_rv) = (70.0, 60.0);
        let (a, b) = (v_lv - p.lv.v0, v_rv - p.rv.v0);
        let x = (el * a - er * b) / (es + el + er);
        let bal = balance(&p, 1.0, v_lv, v_rv);
        assert!((bal.x_ml - x).abs() < 1e-12, "{} {x}", bal.x_ml);
        let dv = 1e-3;
        let up = balance(&p, 1.0, v_lv + dv, v_rv);
        let gain = (up.p_rvf - bal.p_rvf) / (up.p_lvf - bal.p_lvf);
        assert!((gain - er / (es + er)).abs() < 1e-6, "{gain}");
    }

    #[test]
    fn a_nearly_rigid_septum_approaches_the_walls_alone() {
        let mut p = presets::normal();
        for c in [1e-3, 1e-6, 1e-9] {
            p.septum.compliance_scale = c;
            for e in [0.0, 0.5, 1.0] {
                let b = balance(&p, e, 130.0, 150.0);
                let l = chamber_pressure(&p.lv, e, 130.0);
                assert!(b.x_ml.abs() < 200.0 * c, "c {c}: x {}", b.x_ml);
                assert!((b.p_lvf - l).abs() < 100.0 * c, "c {c}: {} {l}", b.p_lvf);
            }
        }
    }

    #[test]
    fn edpvr_inverse_and_area() {
        let c = presets::normal().lv;
        let v = edpvr_volume(&c, 8.0);
        assert!((edpvr(&c, v) - 8.0).abs() < 1e-9);
        // Area by quadrature.
        let n = 10_000;
        let h = (v - c.v0) / n as f64;
        let quad: f64 = (0..n)
            .map(|i| edpvr(&c, c.v0 + (i as f64 + 0.5) * h) * h)
            .sum();
        assert!((quad - edpvr_area(&c, v)).abs() < 1e-3 * quad);
    }
}

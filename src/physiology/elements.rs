//! Constitutive laws of the circuit elements: chambers, pericardium, valves, vessels.
//! Symbols as in docs/model.md.

use super::parameters::{ChamberParams, PericardiumParams, ValveParams};

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

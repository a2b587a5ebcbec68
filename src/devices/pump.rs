//! A pump placed in a patient: its speed, cannula dynamics, inlet suction and console readouts.
//!
//! Cannula flow Q (mL/s) is a state:
//!
//! ```text
//! L · dQ/dt = H(Q, ω) − (P_out − P_in) − R_s(V_in) · max(Q, 0)
//! ```
//!
//! H is the device's head ([`PumpCurve`]), L the cannula inertance and R_s the inlet
//! obstruction that appears when the inlet chamber empties (suction). Equations and
//! sources: docs/devices.md.

use super::hq::SpeedPoint;
use super::{DeviceError, DeviceSpec, PumpCurve, Side};

/// Where a left-sided pump sits. Right-sided pumps are always [`Position::Correct`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Inlet in the inlet chamber (LV or RA), outlet in the outflow artery (aorta or PA).
    Correct,
    /// Pulled back: inlet and outlet both in the aorta; the pump recirculates aortic blood.
    InletInAorta,
    /// Pushed in: inlet and outlet both in the LV; the pump recirculates ventricular blood.
    TooDeep,
}

impl Position {
    /// Names accepted in scenarios.
    pub const NAMES: [&'static str; 3] = ["correct", "inlet_in_aorta", "too_deep"];

    /// The position a scenario name stands for.
    pub fn from_name(name: &str) -> Option<Position> {
        match name {
            "correct" => Some(Position::Correct),
            "inlet_in_aorta" => Some(Position::InletInAorta),
            "too_deep" => Some(Position::TooDeep),
            _ => None,
        }
    }
}

/// Inlet obstruction as the inlet chamber empties:
/// R_s(V) = k_s · (V_s − V)² / (V − V_f) for V_f < V < V_s, 0 above V_s, capped at R_s,max.
/// It is smooth at V_s and grows without bound towards V_f, so the pump cannot empty the
/// chamber: flow falls instead (the console's suction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InletSuction {
    /// Volume below which the inlet starts to be obstructed V_s, mL.
    pub v_onset_ml: f64,
    /// Volume at which the obstruction would be complete V_f, mL.
    pub v_floor_ml: f64,
    /// Steepness k_s, mmHg·s/mL³.
    pub k_mmhg_s_per_ml3: f64,
}

/// Largest obstruction resistance, mmHg·s/mL (keeps the cannula time constant ≥ ~5 µs).
const R_SUCTION_MAX: f64 = 1.0e4;
/// Steepness of the obstruction law, mmHg·s/mL³ [estimate, docs/devices.md].
pub const SUCTION_K: f64 = 0.05;
/// Obstruction starts this far above the inlet chamber's V_0, mL [estimate after the
/// reference data §1.5: "V_LV < V0 + 10 mL"].
pub const SUCTION_ONSET_ABOVE_V0_ML: f64 = 15.0;
/// Obstruction would be complete this far above max(V_0, 0), mL \[estimate\].
pub const SUCTION_FLOOR_ABOVE_V0_ML: f64 = 3.0;

impl InletSuction {
    /// The obstruction for an inlet chamber with ESPVR/EDPVR intercept `v0_ml`.
    pub fn for_inlet(v0_ml: f64) -> Self {
        let base = v0_ml.max(0.0);
        InletSuction {
            v_onset_ml: base + SUCTION_ONSET_ABOVE_V0_ML,
            v_floor_ml: base + SUCTION_FLOOR_ABOVE_V0_ML,
            k_mmhg_s_per_ml3: SUCTION_K,
        }
    }

    /// R_s(V), mmHg·s/mL.
    #[inline(always)]
    pub fn resistance(&self, v_ml: f64) -> f64 {
        if v_ml >= self.v_onset_ml {
            return 0.0;
        }
        let gap = v_ml - self.v_floor_ml;
        if gap <= 0.0 {
            return R_SUCTION_MAX;
        }
        let d = self.v_onset_ml - v_ml;
        (self.k_mmhg_s_per_ml3 * d * d / gap).min(R_SUCTION_MAX)
    }

    /// Whether the inlet is obstructed at volume `v_ml`.
    #[inline(always)]
    pub fn active(&self, v_ml: f64) -> bool {
        v_ml < self.v_onset_ml
    }
}

/// A device running at a set P-level, ready to be coupled into the circulation.
#[derive(Debug, Clone)]
pub struct Pump {
    /// Catalogue id ("cp").
    pub model: String,
    /// Display name.
    pub name: String,
    /// Left (LV → aorta) or right (RA → PA).
    pub side: Side,
    /// P-level (changed with [`Pump::set_p_level`], which sets the speed with it).
    p_level: u8,
    /// Rotor speed ω, rpm (set with the P-level).
    speed_rpm: f64,
    /// `speed_rpm` located on the curve, kept with it by [`Pump::new`] and
    /// [`Pump::set_p_level`].
    speed: SpeedPoint,
    /// Cannula inertance L, mmHg·s²/mL.
    inertance: f64,
    /// 1/L, computed once: the right-hand side multiplies by it (see
    /// [`crate::physiology::elements::vessel_pressure`]).
    inv_inertance: f64,
    /// Where the pump sits (correct or malpositioned).
    pub position: Position,
    /// Shared with the catalogue's device and between clones (a course clones its pumps into
    /// every beat's model).
    curve: std::sync::Arc<PumpCurve>,
    /// Speed of each P-level, rpm (index = level), so the level can change at run time.
    level_speeds_rpm: Vec<f64>,
}

impl Pump {
    /// Sets up `spec` at `p_level` in `position`.
    pub fn new(spec: &DeviceSpec, p_level: u8, position: Position) -> Result<Pump, DeviceError> {
        let speed_rpm = spec.speed_rpm(p_level)?;
        let curve = spec.pump_curve();
        Ok(Pump {
            model: spec.id().to_string(),
            name: spec.name().to_string(),
            side: spec.side(),
            p_level,
            speed_rpm,
            speed: curve.at_speed(speed_rpm),
            inertance: spec.cannula_inertance_mmhg_s2_per_ml(),
            inv_inertance: 1.0 / spec.cannula_inertance_mmhg_s2_per_ml(),
            position,
            curve,
            level_speeds_rpm: spec.p_levels().iter().map(|l| l.rpm).collect(),
        })
    }

    /// Cannula inertance L, mmHg·s²/mL.
    pub fn inertance(&self) -> f64 {
        self.inertance
    }

    /// P-level.
    pub fn p_level(&self) -> u8 {
        self.p_level
    }

    /// Rotor speed ω, rpm.
    pub fn speed_rpm(&self) -> f64 {
        self.speed_rpm
    }

    /// Highest P-level of this device.
    pub fn max_p_level(&self) -> u8 {
        (self.level_speeds_rpm.len() - 1) as u8
    }

    /// Changes the P-level; levels outside 0..=max are refused with the allowed range.
    pub fn set_p_level(&mut self, level: u8) -> Result<(), String> {
        let rpm = self
            .level_speeds_rpm
            .get(usize::from(level))
            .ok_or_else(|| {
                format!(
                    "{} has P-levels 0..={}, not P{level}",
                    self.model,
                    self.max_p_level()
                )
            })?;
        self.p_level = level;
        self.speed_rpm = *rpm;
        self.speed = self.curve.at_speed(*rpm);
        Ok(())
    }

    /// Head the rotor generates at cannula flow `q_ml_s`, mmHg.
    #[inline(always)]
    pub fn head_mmhg(&self, q_ml_s: f64) -> f64 {
        self.curve.head_at(q_ml_s, &self.speed)
    }

    /// dQ/dt, mL/s², given inlet and outlet pressures and the inlet obstruction R_s.
    #[inline(always)]
    pub fn dq_dt(&self, q_ml_s: f64, p_in: f64, p_out: f64, r_suction: f64) -> f64 {
        (self.head_mmhg(q_ml_s) - (p_out - p_in) - r_suction * q_ml_s.max(0.0)) * self.inv_inertance
    }

    /// Hydraulic torque on the rotor, mN·m: H·Q/ω. The console's motor current is
    /// proportional to the motor torque; no current law is published, so this is the proxy.
    #[inline(always)]
    pub fn torque_mnm(&self, q_ml_s: f64) -> f64 {
        let omega_rad_s = self.speed_rpm * std::f64::consts::TAU / 60.0;
        if omega_rad_s <= 0.0 {
            return 0.0;
        }
        // mmHg·mL/s = 1.333e-4 W; W / (rad/s) = N·m.
        self.head_mmhg(q_ml_s) * q_ml_s * 133.322e-6 / omega_rad_s * 1e3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::Catalogue;

    #[test]
    fn obstruction_is_zero_above_onset_and_grows_towards_the_floor() {
        let s = InletSuction::for_inlet(5.0);
        assert_eq!(s.resistance(100.0), 0.0);
        assert_eq!(s.resistance(s.v_onset_ml), 0.0);
        let mut last = 0.0;
        for i in 1..60 {
            let v = s.v_onset_ml - i as f64 * (s.v_onset_ml - s.v_floor_ml) / 60.0;
            let r = s.resistance(v);
            assert!(r > last, "R_s must rise as the chamber empties");
            last = r;
        }
        assert_eq!(s.resistance(s.v_floor_ml - 1.0), R_SUCTION_MAX);
    }

    #[test]
    fn steady_cannula_flow_sits_on_the_hq_curve() {
        let cat = Catalogue::builtin();
        let pump = Pump::new(cat.get("cp").unwrap(), 8, Position::Correct).unwrap();
        // dQ/dt = 0 where H(Q) = ΔP.
        let dp = 60.0;
        let q = cat
            .get("cp")
            .unwrap()
            .pump_curve()
            .steady_flow_ml_s(dp, pump.speed_rpm());
        assert!(pump.dq_dt(q, 10.0, 70.0, 0.0).abs() < 1e-6 / pump.inertance());
        assert!(pump.torque_mnm(q) > 0.0);
    }

    #[test]
    fn unknown_p_level_is_an_error() {
        let cat = Catalogue::builtin();
        assert!(Pump::new(cat.get("cp").unwrap(), 12, Position::Correct).is_err());
    }
}

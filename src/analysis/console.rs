//! Console alarms derived from the pump signals, as an Impella console would raise them.
//! Thresholds are documented estimates (docs/devices.md): no console algorithm is published.

use serde::Serialize;

use super::BeatMetrics;
use crate::devices::Side;
use crate::physiology::Circulation;
use crate::solver::Sample;

/// An alarm a console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Alarm {
    /// The inlet chamber emptied and obstructed the inlet.
    Suction,
    /// The placement signal looks ventricular (outlet inside the LV): pump too deep.
    PlacementSignalVentricular,
    /// The motor-current proxy has lost its pulsatility (inlet and outlet see the same
    /// pressure): pump malpositioned, or native pulsatility too low to judge.
    MotorCurrentDamped,
}

impl Alarm {
    /// The alarm's key in outputs (its serialised name).
    pub fn key(self) -> &'static str {
        match self {
            Alarm::Suction => "suction",
            Alarm::PlacementSignalVentricular => "placement_signal_ventricular",
            Alarm::MotorCurrentDamped => "motor_current_damped",
        }
    }
}

/// Placement signal counts as ventricular when its minimum is below this fraction of its
/// maximum (aortic pressure keeps a diastolic level; ventricular pressure falls near zero).
const VENTRICULAR_MIN_TO_MAX: f64 = 0.4;
/// Motor current counts as damped when its beat-to-beat swing is below this fraction of
/// its mean.
const DAMPED_SWING_FRACTION: f64 = 0.1;

/// Alarms active in a beat, with the device they belong to.
pub fn active_alarms(circ: &Circulation, m: &BeatMetrics) -> Vec<(String, Alarm)> {
    let mut out = Vec::new();
    for c in circ.pumps() {
        let model = &c.pump.model;
        if m.suction_fraction > 0.0 && c.suction.is_some() {
            out.push((model.clone(), Alarm::Suction));
        }
        if c.pump.side == Side::Left && c.pump.speed_rpm() > 0.0 {
            if m.placement_min_mmhg < VENTRICULAR_MIN_TO_MAX * m.placement_max_mmhg {
                out.push((model.clone(), Alarm::PlacementSignalVentricular));
            }
            if m.pump_torque_pulsatility_mnm < DAMPED_SWING_FRACTION * m.pump_torque_mnm.abs() {
                out.push((model.clone(), Alarm::MotorCurrentDamped));
            }
        }
    }
    out
}

/// Times within a beat at which a pump inlet became obstructed (suction onsets).
pub fn suction_onsets(circ: &Circulation, samples: &[Sample]) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    for c in circ.pumps() {
        let Some(s) = c.suction else { continue };
        for w in samples.windows(2) {
            if !s.active(w[0].1[c.inlet.i()]) && s.active(w[1].1[c.inlet.i()]) {
                out.push((w[1].0, c.pump.model.clone()));
            }
        }
    }
    out
}

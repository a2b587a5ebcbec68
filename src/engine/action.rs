//! What can be done to the patient and the devices while the engine runs: the actions of
//! scenario events, triggers, protocols and front ends (Python, the live page), and the random
//! complications of a course.

use crate::devices::Pump;
use crate::physiology::drugs::Drug;

/// A device complication and its modelled effect (docs/scenarios.md, "Complications").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complication {
    /// Moderate/severe bleeding: 500 mL lost over 1 h.
    Bleeding,
    /// Mechanical haemolysis: logged, no haemodynamic effect modelled.
    Haemolysis,
    /// Access-limb ischaemia: logged, no haemodynamic effect modelled.
    LimbIschaemia,
    /// The pump stops (motor or purge failure): P-level 0, rotor a passive leak.
    DeviceStop,
    /// The left pump migrates out into the aorta: no more unloading.
    Malposition,
}

impl Complication {
    /// Name, default hazard per hour. Hazards λ = −ln(1 − p)/T from the incidence p over
    /// DanGer Shock's median support time T = 59 h (derivation in docs/scenarios.md).
    pub const ALL: [(Complication, &'static str, f64); 5] = [
        (Complication::Bleeding, "bleeding", 4.17e-3),
        (Complication::Haemolysis, "haemolysis", 2.24e-3),
        (Complication::LimbIschaemia, "limb_ischaemia", 9.8e-4),
        (Complication::DeviceStop, "device_stop", 1.0e-4),
        (Complication::Malposition, "malposition", 8.7e-4),
    ];

    /// Its key in scenarios and outputs ("bleeding").
    pub fn name(self) -> &'static str {
        Complication::ALL
            .iter()
            .find(|c| c.0 == self)
            .map_or("?", |c| c.1)
    }
}

/// A P-level change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LevelChange {
    /// To this level (clamped to the device's levels).
    To(u8),
    /// Up (positive) or down by this many levels (clamped).
    By(i8),
}

/// One thing done to the patient or the devices.
#[derive(Debug, Clone)]
pub enum Action {
    /// Step parameters (registry paths) to values.
    Set(Vec<(String, f64)>),
    /// Ramp parameters linearly from their current values to targets.
    Ramp {
        /// (registry path, target value).
        targets: Vec<(String, f64)>,
        /// Duration of the ramp, s.
        over_s: f64,
    },
    /// Change a device's P-level.
    PLevel {
        /// Catalogue id of the device (None: the first device in place).
        device: Option<String>,
        /// To a level, or by a number of levels.
        change: LevelChange,
    },
    /// Put a device in (its side must be free).
    AddDevice(Pump),
    /// Take the device with this catalogue id out.
    RemoveDevice(String),
    /// Replace the device on the new device's side (escalation).
    SwitchDevice(Pump),
    /// Give fluid (positive) or lose blood (negative) at a constant rate into the systemic
    /// veins.
    Fluid {
        /// Volume, mL.
        volume_ml: f64,
        /// Over this time, s.
        over_s: f64,
    },
    /// Set a drug's dose (0 stops it).
    Drug {
        /// Which drug.
        drug: Drug,
        /// Dose, µg/kg/min.
        dose: f64,
    },
    /// Start the weaning protocol (a course's schedule acts on it).
    StartWeaning,
}

/// Blood lost in a bleeding complication, mL, and over how long, s [estimate: a
/// transfusion-requiring (GUSTO moderate) bleed].
pub const BLEED_ML: f64 = 500.0;
/// Duration of a bleeding complication's loss, s.
pub const BLEED_S: f64 = 3600.0;

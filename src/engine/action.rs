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
    To(u8),
    By(i8),
}

/// One thing done to the patient or the devices.
#[derive(Debug, Clone)]
pub enum Action {
    /// Step parameters (registry paths) to values.
    Set(Vec<(String, f64)>),
    Ramp {
        targets: Vec<(String, f64)>,
        over_s: f64,
    },
    PLevel {
        device: Option<String>,
        change: LevelChange,
    },
    AddDevice(Pump),
    RemoveDevice(String),
    SwitchDevice(Pump),
    Fluid {
        volume_ml: f64,
        over_s: f64,
    },
    Drug {
        drug: Drug,
        dose: f64,
    },
    /// Start the weaning protocol (a course's schedule acts on it).
    StartWeaning,
}

/// Blood lost in a bleeding complication, mL, and over how long, s [estimate: a
/// transfusion-requiring (GUSTO moderate) bleed].
pub const BLEED_ML: f64 = 500.0;
pub const BLEED_S: f64 = 3600.0;

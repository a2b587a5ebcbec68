//! What the engine records while it runs: one typed event per thing that happened, with its
//! cause. events.csv, the course timeline and the report are rendered from these; nothing
//! parses their text back.

use std::fmt;

use super::action::Complication;
use super::protocol::Criterion;
use crate::analysis::{Alarm, BeatMetrics};
use crate::physiology::drugs::Drug;

/// Why something happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// A timed event of the scenario, by its label.
    Event(String),
    /// A trigger of the scenario, by its label.
    Trigger(String),
    /// The weaning protocol.
    Weaning,
    /// A random complication.
    Complication(Complication),
    /// An infusion or blood loss reached its end.
    Fluid,
    /// The console (alarms).
    Console,
    /// A front end driving the engine directly (`Engine::apply`).
    Command,
}

impl Cause {
    /// The `kind` column of events.csv.
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::Event(_) => "event",
            Cause::Trigger(_) => "trigger",
            Cause::Weaning => "weaning",
            Cause::Complication(_) => "complication",
            Cause::Fluid => "fluid",
            Cause::Console => "alarm",
            Cause::Command => "command",
        }
    }

    /// The label actions are shown under ("vasopressor: ...").
    pub fn label(&self) -> &str {
        match self {
            Cause::Event(l) | Cause::Trigger(l) => l,
            Cause::Weaning => "weaning",
            Cause::Complication(c) => c.name(),
            Cause::Fluid => "fluid",
            Cause::Console => "console",
            Cause::Command => "command",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// Parameters stepped to new values.
    Set {
        /// (registry path, value).
        values: Vec<(String, f64)>,
    },
    /// Parameters ramped linearly to targets over a duration.
    Ramp {
        /// (registry path, target value).
        targets: Vec<(String, f64)>,
        /// Duration, s.
        over_s: f64,
    },
    /// A device's P-level changed.
    PLevel {
        /// Catalogue id.
        device: String,
        /// Level before.
        from: u8,
        /// Level after.
        to: u8,
    },
    /// A P-level change addressed a device that is not in place.
    PLevelSkipped {
        /// The device asked for.
        device: Option<String>,
    },
    /// A device was put in.
    DeviceAdded {
        /// Catalogue id.
        device: String,
        /// Its level.
        p_level: u8,
    },
    /// A device was taken out.
    DeviceRemoved {
        /// Catalogue id.
        device: String,
    },
    /// The devices on one side replaced by another (escalation).
    DeviceSwitched {
        /// Catalogue ids of the devices taken out.
        from: Vec<String>,
        /// Catalogue id of the device put in.
        to: String,
        /// Its level.
        p_level: u8,
    },
    /// Fluid given (positive) or lost (negative) at a constant rate.
    Fluid {
        /// Volume, mL.
        volume_ml: f64,
        /// Over this time, s.
        over_s: f64,
    },
    /// The total infusion rate changed because an infusion ended.
    InfusionRate {
        /// Total rate before, mL/s.
        from_ml_s: f64,
        /// Total rate after, mL/s.
        to_ml_s: f64,
    },
    /// A drug's dose set (0 stops it).
    Drug {
        /// Which drug.
        drug: Drug,
        /// Dose, µg/kg/min.
        dose: f64,
    },
    /// A trigger's condition held long enough.
    TriggerFired {
        /// Index into [`BeatMetrics::NAMES`].
        metric: usize,
        /// Its value in the beat that completed the condition.
        value: f64,
    },
    /// The weaning protocol started.
    WeaningStarted,
    /// All weaning criteria met.
    WeaningCriteriaMet {
        /// The device's level.
        level: u8,
    },
    /// A weaning criterion failed.
    WeaningCriterionFailed {
        /// The device's level.
        level: u8,
        /// The first criterion not met.
        criterion: Criterion,
    },
    /// Weaning ended with the patient weaned.
    Weaned {
        /// The device's level.
        level: u8,
    },
    /// Weaning was abandoned.
    WeaningFailed {
        /// The device's level.
        level: u8,
    },
    /// A complication occurred.
    Complication {
        /// Which complication.
        complication: Complication,
        /// Catalogue id of the device it struck, if one was in place.
        device: Option<String>,
    },
    /// A console alarm's onset on a device.
    Alarm {
        /// Catalogue id.
        device: String,
        /// Which alarm.
        alarm: Alarm,
    },
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Course time (or run time before a course), s.
    pub t_s: f64,
    /// Why it happened.
    pub cause: Cause,
    /// What happened.
    pub what: EventKind,
}

impl Event {
    /// The device an event concerns, for events.csv's `device` column (alarms only, as before
    /// typed events: the detail names the device of the others).
    pub fn device(&self) -> Option<&str> {
        match &self.what {
            EventKind::Alarm { device, .. } => Some(device),
            _ => None,
        }
    }

    /// The alarm, if this is an alarm onset.
    pub fn alarm(&self) -> Option<(&str, Alarm)> {
        match &self.what {
            EventKind::Alarm { device, alarm } => Some((device, *alarm)),
            _ => None,
        }
    }
}

/// A duration as people write it: the largest of d, h, min that divides it, else seconds
/// ("4 h", not "14400 s").
pub fn readable_duration(seconds: f64) -> String {
    for (unit, size) in [("d", 86_400.0), ("h", 3600.0), ("min", 60.0)] {
        let n = seconds / size;
        if seconds >= size && n.fract() == 0.0 {
            return format!("{n} {unit}");
        }
    }
    format!("{seconds} s")
}

/// A list of `path = value` or `path -> value` pairs.
fn pairs(list: &[(String, f64)], sep: &str) -> String {
    list.iter()
        .map(|(p, v)| format!("{p} {sep} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `detail` column of events.csv.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = self.cause.label();
        match &self.what {
            EventKind::Set { values } => write!(f, "{label}: set {}", pairs(values, "=")),
            EventKind::Ramp { targets, over_s } => {
                let over = readable_duration(*over_s);
                write!(f, "{label}: ramp {} over {over}", pairs(targets, "->"))
            }
            EventKind::PLevel { device, from, to } => write!(f, "{device} P{from} -> P{to}"),
            EventKind::PLevelSkipped { device } => write!(
                f,
                "P-level change skipped: device {} not in place",
                device.as_deref().unwrap_or("?")
            ),
            EventKind::DeviceAdded { device, p_level } => {
                write!(f, "{label}: add {device} at P{p_level}")
            }
            EventKind::DeviceRemoved { device } => write!(f, "{label}: remove {device}"),
            EventKind::DeviceSwitched { from, to, p_level } => {
                write!(f, "{label}: switch {} -> {to} at P{p_level}", from.join(""))
            }
            EventKind::Fluid { volume_ml, over_s } => {
                let over = readable_duration(*over_s);
                write!(f, "{label}: fluid {volume_ml} mL over {over}")
            }
            EventKind::InfusionRate { from_ml_s, to_ml_s } => {
                write!(f, "infusion rate {from_ml_s:.3} -> {to_ml_s:.3} mL/s")
            }
            EventKind::Drug { drug, dose } => {
                write!(f, "{label}: {} {dose} µg/kg/min", drug.name())
            }
            EventKind::TriggerFired { metric, value } => {
                write!(f, "{label}: {} = {value:.2}", BeatMetrics::NAMES[*metric])
            }
            EventKind::WeaningStarted => write!(f, "start"),
            EventKind::WeaningCriteriaMet { level } => write!(f, "criteria met at P{level}"),
            EventKind::WeaningCriterionFailed { level, criterion } => {
                write!(f, "criterion failed at P{level}: {}", criterion.describe())
            }
            EventKind::Weaned { level } => write!(f, "weaned at P{level}"),
            EventKind::WeaningFailed { level } => write!(f, "failed at P{level}"),
            EventKind::Complication {
                complication,
                device,
            } => match (complication, device) {
                (Complication::Bleeding, _) => write!(f, "bleeding"),
                (Complication::Haemolysis, _) => {
                    write!(f, "haemolysis (no haemodynamic effect modelled)")
                }
                (Complication::LimbIschaemia, _) => {
                    write!(f, "limb ischaemia (no haemodynamic effect modelled)")
                }
                (Complication::DeviceStop, Some(d)) => write!(f, "device stop: {d} at P0"),
                (Complication::DeviceStop, None) => write!(f, "device stop: no device in place"),
                (Complication::Malposition, Some(d)) => {
                    write!(f, "malposition: {d} migrated into the aorta")
                }
                (Complication::Malposition, None) => {
                    write!(f, "malposition: no left-sided device")
                }
            },
            EventKind::Alarm { alarm, .. } => write!(f, "{}", alarm.key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(readable_duration(14_400.0), "4 h");
        assert_eq!(readable_duration(172_800.0), "2 d");
        assert_eq!(readable_duration(5400.0), "90 min");
        assert_eq!(readable_duration(45.0), "45 s");
        assert_eq!(readable_duration(0.5), "0.5 s");
        assert_eq!(readable_duration(90.5), "90.5 s");
    }

    #[test]
    fn alarm_keys_are_their_serialised_names() {
        for a in [
            Alarm::Suction,
            Alarm::PlacementSignalVentricular,
            Alarm::MotorCurrentDamped,
        ] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.key());
        }
    }
}

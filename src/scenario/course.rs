//! A clinical course as written in TOML: timed events, condition triggers, a weaning protocol
//! and complications, checked and built into the engine's typed plan
//! ([`crate::engine::protocol::Course`]). Keys: docs/scenarios.md.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{DeviceSection, Duration};
use crate::analysis::BeatMetrics;
use crate::devices::{Catalogue, Pump, Side};
use crate::engine::protocol::{Course, Criterion, TimedEvent, Trigger, Weaning};
use crate::engine::{Action, Complication, LevelChange};
use crate::physiology::drugs::Drug;
use crate::physiology::parameters;

/// `[course]`: how long the course runs after stabilisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseSection {
    pub duration: Spanned<Duration>,
}

/// `[[events]]`: actions at a time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSection {
    pub at: Spanned<Duration>,
    pub label: Option<String>,
    #[serde(rename = "do")]
    pub action: Spanned<ActionSection>,
}

/// `[[triggers]]`: actions when a beat metric crosses a threshold for long enough.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    pub metric: Spanned<String>,
    pub below: Option<f64>,
    pub above: Option<f64>,
    #[serde(rename = "for")]
    pub sustained: Option<Spanned<Duration>>,
    #[serde(default)]
    pub repeat: bool,
    pub cooldown: Option<Spanned<Duration>>,
    pub label: Option<String>,
    #[serde(rename = "do")]
    pub action: Spanned<ActionSection>,
}

/// A P-level written as a number (absolute) or "+1" / "-2" (relative).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LevelText {
    Absolute(u8),
    Relative(String),
}

/// What an event or trigger does; several keys may be combined.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSection {
    /// Parameter steps.
    pub set: Option<BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// Linear parameter ramps to these values over `over`.
    pub ramp: Option<BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// Duration of a ramp or of a fluid change.
    pub over: Option<Spanned<Duration>>,
    pub p_level: Option<Spanned<LevelText>>,
    /// Device the P-level change or removal applies to (default: the only/left one).
    pub device: Option<Spanned<String>>,
    pub add_device: Option<Spanned<DeviceSection>>,
    pub remove_device: Option<Spanned<String>>,
    /// Replaces the device on the new device's side (e.g. CP -> 5.0 escalation).
    pub switch_device: Option<Spanned<DeviceSection>>,
    /// Fluid in (positive) or blood loss (negative), mL, spread over `over`.
    pub fluid_ml: Option<Spanned<f64>>,
    pub drug: Option<Spanned<String>>,
    /// Drug dose, µg/kg/min (0 stops it).
    pub dose: Option<Spanned<f64>>,
    pub start_weaning: Option<bool>,
}

/// `[weaning]`: a stepwise weaning protocol.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaningSection {
    /// When it starts (or with an event's `start_weaning = true`).
    pub start: Option<Spanned<Duration>>,
    pub device: Option<Spanned<String>>,
    /// P-levels per step (negative, e.g. -2).
    pub step: Spanned<i8>,
    /// Time at each level before the criteria are checked.
    pub dwell: Spanned<Duration>,
    /// Level at which the patient counts as weaned (default 2).
    pub until: Option<Spanned<u8>>,
    #[serde(default)]
    pub require: Vec<Spanned<CriterionSection>>,
    #[serde(default)]
    pub on_failure: FailureSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionSection {
    pub metric: Spanned<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSection {
    /// Steps to go back up on failure.
    pub back: u8,
    pub retry_after: Duration,
    /// Failures after which weaning is abandoned.
    pub max_failures: u32,
}

impl Default for FailureSection {
    fn default() -> Self {
        FailureSection {
            back: 1,
            retry_after: Duration { seconds: 3600.0 },
            max_failures: 3,
        }
    }
}

/// `[complications]`: random complications with per-hour hazards, drawn with the seed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplicationsSection {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Per-hour hazards overriding the defaults of [`Complication::ALL`].
    #[serde(default)]
    pub hazards: BTreeMap<Spanned<String>, Spanned<f64>>,
}

fn yes() -> bool {
    true
}

/// Builds the typed plan, checking every reference before anything runs. `err(span, msg)`
/// turns a problem into the scenario's error with line and column.
#[allow(clippy::too_many_arguments)]
pub(super) fn build<E>(
    course: &CourseSection,
    events: &[EventSection],
    triggers: &[TriggerSection],
    weaning: Option<&WeaningSection>,
    complications: Option<&ComplicationsSection>,
    catalogue: &Catalogue,
    initial_devices: &[Pump],
    err: &dyn Fn(std::ops::Range<usize>, String) -> E,
) -> Result<Course, E> {
    let duration_s = course.duration.get_ref().seconds;
    if duration_s <= 0.0 {
        return Err(err(
            course.duration.span(),
            "course.duration must be positive".into(),
        ));
    }
    let mut roster: Vec<Pump> = initial_devices.to_vec();
    let mut out_events = Vec::new();
    let mut last_at = 0.0;
    for (i, e) in events.iter().enumerate() {
        let at = e.at.get_ref().seconds;
        if at < last_at {
            return Err(err(
                e.at.span(),
                format!("events[{i}].at = {at} s is before the previous event ({last_at} s): list events in time order"),
            ));
        }
        if at > duration_s {
            return Err(err(
                e.at.span(),
                format!("events[{i}].at = {at} s is after the end of the course ({duration_s} s)"),
            ));
        }
        last_at = at;
        let actions = actions(&e.action, catalogue, &mut roster, err)?;
        out_events.push(TimedEvent {
            at_s: at,
            label: e
                .label
                .clone()
                .unwrap_or_else(|| format!("event {}", i + 1)),
            actions,
        });
    }

    let mut out_triggers = Vec::new();
    for (i, t) in triggers.iter().enumerate() {
        let metric = metric_index(&t.metric, err)?;
        if t.below.is_none() && t.above.is_none() {
            return Err(err(
                t.metric.span(),
                format!("triggers[{i}] needs `below` or `above`"),
            ));
        }
        // Triggers may fire at any time: check them against the devices present at the start.
        let mut r = initial_devices.to_vec();
        let actions = actions(&t.action, catalogue, &mut r, err)?;
        out_triggers.push(Trigger {
            label: t
                .label
                .clone()
                .unwrap_or_else(|| format!("trigger {}", i + 1)),
            metric,
            below: t.below,
            above: t.above,
            sustained_s: t.sustained.as_ref().map_or(0.0, |d| d.get_ref().seconds),
            repeat: t.repeat,
            cooldown_s: t.cooldown.as_ref().map_or(0.0, |d| d.get_ref().seconds),
            actions,
        });
    }

    let weaning = match weaning {
        None => None,
        Some(w) => {
            let step = *w.step.get_ref();
            if step >= 0 {
                return Err(err(
                    w.step.span(),
                    format!("weaning.step = {step}: must be negative (levels per step down)"),
                ));
            }
            if w.dwell.get_ref().seconds <= 0.0 {
                return Err(err(w.dwell.span(), "weaning.dwell must be positive".into()));
            }
            let mut require = Vec::new();
            for c in &w.require {
                let c = c.get_ref();
                require.push(Criterion {
                    metric: metric_index(&c.metric, err)?,
                    min: c.min,
                    max: c.max,
                });
            }
            let started_by_event = out_events
                .iter()
                .any(|e| e.actions.iter().any(|a| matches!(a, Action::StartWeaning)));
            if w.start.is_none() && !started_by_event {
                return Err(err(
                    w.step.span(),
                    "weaning has no `start` and no event starts it (`do = { start_weaning = true }`)".into(),
                ));
            }
            if let Some(d) = &w.device {
                if !initial_devices.iter().any(|p| p.model == *d.get_ref())
                    && !catalogue
                        .get(d.get_ref())
                        .is_ok_and(|s| initial_devices.iter().any(|p| p.model == s.id()))
                {
                    return Err(err(
                        d.span(),
                        format!(
                            "weaning.device '{}' is not among the scenario's devices",
                            d.get_ref()
                        ),
                    ));
                }
            }
            Some(Weaning {
                start_s: w.start.as_ref().map(|d| d.get_ref().seconds),
                device: w
                    .device
                    .as_ref()
                    .map(|d| resolve_id(catalogue, d.get_ref())),
                step,
                dwell_s: w.dwell.get_ref().seconds,
                until: w.until.as_ref().map_or(2, |u| *u.get_ref()),
                require,
                back: w.on_failure.back,
                retry_after_s: w.on_failure.retry_after.seconds,
                max_failures: w.on_failure.max_failures.max(1),
            })
        }
    };
    if events
        .iter()
        .any(|e| e.action.get_ref().start_weaning == Some(true))
        && weaning.is_none()
    {
        return Err(err(
            course.duration.span(),
            "an event starts weaning but there is no [weaning] section".into(),
        ));
    }
    let mut hazards = Vec::new();
    if let Some(c) = complications {
        for (key, v) in &c.hazards {
            if !Complication::ALL.iter().any(|a| a.1 == key.get_ref()) {
                let names: Vec<&str> = Complication::ALL.iter().map(|a| a.1).collect();
                return Err(err(
                    key.span(),
                    format!(
                        "complications.hazards: unknown complication '{}'; allowed: {}",
                        key.get_ref(),
                        names.join(", ")
                    ),
                ));
            }
            let x = *v.get_ref();
            if !(0.0..=1.0).contains(&x) {
                return Err(err(
                    v.span(),
                    format!(
                        "complications.hazards.{} = {x} per hour is outside [0, 1]",
                        key.get_ref()
                    ),
                ));
            }
        }
        if c.enabled {
            for (kind, name, default) in Complication::ALL {
                let rate = c
                    .hazards
                    .iter()
                    .find(|(k, _)| k.get_ref() == name)
                    .map_or(default, |(_, v)| *v.get_ref());
                hazards.push((kind, rate));
            }
        }
    }
    Ok(Course {
        duration_s,
        events: out_events,
        triggers: out_triggers,
        weaning,
        complications: hazards,
    })
}

fn resolve_id(catalogue: &Catalogue, name: &str) -> String {
    catalogue
        .get(name)
        .map(|s| s.id().to_string())
        .unwrap_or_else(|_| name.to_string())
}

fn metric_index<E>(
    m: &Spanned<String>,
    err: &dyn Fn(std::ops::Range<usize>, String) -> E,
) -> Result<usize, E> {
    BeatMetrics::NAMES
        .iter()
        .position(|n| n == m.get_ref())
        .ok_or_else(|| {
            err(
                m.span(),
                format!(
                    "unknown metric '{}'; allowed: {}",
                    m.get_ref(),
                    BeatMetrics::NAMES.join(", ")
                ),
            )
        })
}

fn param_list<E>(
    map: &BTreeMap<Spanned<String>, Spanned<f64>>,
    key: &str,
    err: &dyn Fn(std::ops::Range<usize>, String) -> E,
) -> Result<Vec<(String, f64)>, E> {
    map.iter()
        .map(|(k, v)| {
            let s =
                parameters::spec(k.get_ref()).map_err(|e| err(k.span(), format!("{key}: {e}")))?;
            let x = *v.get_ref();
            if !(s.min..=s.max).contains(&x) {
                return Err(err(
                    v.span(),
                    format!(
                        "{key}: {} = {x} {} is outside the allowed range [{}, {}]",
                        s.path, s.unit, s.min, s.max
                    ),
                ));
            }
            Ok((k.get_ref().clone(), x))
        })
        .collect()
}

/// Index of the device an action addresses in `roster`.
fn target<E>(
    roster: &[Pump],
    device: Option<&Spanned<String>>,
    catalogue: &Catalogue,
    span: std::ops::Range<usize>,
    err: &dyn Fn(std::ops::Range<usize>, String) -> E,
) -> Result<usize, E> {
    match device {
        Some(d) => {
            let id = resolve_id(catalogue, d.get_ref());
            roster.iter().position(|p| p.model == id).ok_or_else(|| {
                err(
                    d.span(),
                    format!(
                        "device '{}' is not in the patient at that time",
                        d.get_ref()
                    ),
                )
            })
        }
        None => match roster.len() {
            0 => Err(err(span, "no device in the patient at that time".into())),
            _ => Ok(roster
                .iter()
                .position(|p| p.side == Side::Left)
                .unwrap_or(0)),
        },
    }
}

fn actions<E>(
    a: &Spanned<ActionSection>,
    catalogue: &Catalogue,
    roster: &mut Vec<Pump>,
    err: &dyn Fn(std::ops::Range<usize>, String) -> E,
) -> Result<Vec<Action>, E> {
    let span = a.span();
    let a = a.get_ref();
    let mut out = Vec::new();
    if let Some(m) = &a.set {
        out.push(Action::Set(param_list(m, "set", err)?));
    }
    let over = a.over.as_ref().map(|d| d.get_ref().seconds);
    if let Some(m) = &a.ramp {
        let over_s = over
            .filter(|o| *o > 0.0)
            .ok_or_else(|| err(span.clone(), "ramp needs a positive `over` duration".into()))?;
        out.push(Action::Ramp {
            targets: param_list(m, "ramp", err)?,
            over_s,
        });
    }
    let new_pump = |d: &Spanned<DeviceSection>, key: &str| -> Result<Pump, E> {
        d.get_ref().pump(catalogue, key, err)
    };
    if let Some(d) = &a.remove_device {
        let i = target(roster, Some(d), catalogue, span.clone(), err)?;
        out.push(Action::RemoveDevice(roster.remove(i).model));
    }
    if let Some(d) = &a.switch_device {
        let pump = new_pump(d, "switch_device")?;
        let i = roster
            .iter()
            .position(|p| p.side == pump.side)
            .ok_or_else(|| {
                err(
                    d.span(),
                    format!("switch_device: no {:?}-sided device to replace", pump.side),
                )
            })?;
        roster[i] = pump.clone();
        out.push(Action::SwitchDevice(pump));
    }
    if let Some(d) = &a.add_device {
        let pump = new_pump(d, "add_device")?;
        if roster.iter().any(|p| p.side == pump.side) {
            return Err(err(
                d.span(),
                format!(
                    "add_device: a {:?}-sided device is already in place (use switch_device)",
                    pump.side
                ),
            ));
        }
        roster.push(pump.clone());
        out.push(Action::AddDevice(pump));
    }
    if let Some(l) = &a.p_level {
        let i = target(roster, a.device.as_ref(), catalogue, l.span(), err)?;
        let max = roster[i].max_p_level();
        let change = match l.get_ref() {
            LevelText::Absolute(n) if *n <= max => LevelChange::To(*n),
            LevelText::Absolute(n) => {
                return Err(err(
                    l.span(),
                    format!(
                        "p_level: {} has P-levels 0..={max}, not P{n}",
                        roster[i].model
                    ),
                ))
            }
            LevelText::Relative(s) => {
                let n: i8 = s.trim().parse().ok().filter(|_| s.trim().starts_with(['+', '-'])).ok_or_else(|| {
                    err(l.span(), format!("p_level: '{s}' is neither a level (0..={max}) nor a change like \"+1\" or \"-2\""))
                })?;
                LevelChange::By(n)
            }
        };
        out.push(Action::PLevel {
            device: Some(roster[i].model.clone()),
            change,
        });
    }
    if let Some(v) = &a.fluid_ml {
        let over_s = over
            .filter(|o| *o > 0.0)
            .ok_or_else(|| err(v.span(), "fluid_ml needs a positive `over` duration".into()))?;
        let volume_ml = *v.get_ref();
        if !volume_ml.is_finite() || volume_ml.abs() > 5000.0 {
            return Err(err(
                v.span(),
                format!("fluid_ml = {volume_ml}: allowed range [-5000, 5000] mL"),
            ));
        }
        out.push(Action::Fluid { volume_ml, over_s });
    }
    match (&a.drug, &a.dose) {
        (Some(d), Some(dose)) => {
            let drug = Drug::from_name(d.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = Drug::ALL.iter().map(|d| d.1).collect();
                err(
                    d.span(),
                    format!(
                        "unknown drug '{}'; allowed: {}",
                        d.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
            let x = *dose.get_ref();
            if !(0.0..=drug.max_dose()).contains(&x) {
                return Err(err(
                    dose.span(),
                    format!(
                        "dose = {x} µg/kg/min for {} is outside [0, {}]",
                        drug.name(),
                        drug.max_dose()
                    ),
                ));
            }
            out.push(Action::Drug { drug, dose: x });
        }
        (Some(d), None) => {
            return Err(err(
                d.span(),
                "drug needs a `dose` (µg/kg/min; 0 stops it)".into(),
            ))
        }
        (None, Some(d)) => return Err(err(d.span(), "dose without a `drug`".into())),
        (None, None) => {}
    }
    if a.start_weaning == Some(true) {
        out.push(Action::StartWeaning);
    }
    if out.is_empty() {
        return Err(err(span, "this `do` table has no action".into()));
    }
    Ok(out)
}

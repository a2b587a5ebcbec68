//! A clinical course as written in TOML: timed events, condition triggers, a weaning protocol
//! and complications, checked and built into the engine's typed plan
//! ([`crate::engine::protocol::Course`]). Keys: docs/scenarios.md.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{DeviceSection, Duration};
use crate::analysis::BeatMetrics;
use crate::devices::{Catalogue, Pump, Side};
use crate::engine::protocol::{Course, Criterion, TimedEvent, Trigger, Weaning};
use crate::engine::{action, Action, Complication, LevelChange};
use crate::physiology::drugs::Drug;
use crate::physiology::parameters::{self, display_number, MIN_STRESSED_VOLUME_ML};
use crate::physiology::Circulation;

/// Longest course: 30 days, as written in docs/scenarios.md. A course keeps one record per
/// simulated beat, so its length bounds the memory it needs.
pub const MAX_COURSE_S: f64 = 30.0 * 86_400.0;

/// Shortest `cooldown` of a repeating trigger, s: a condition that always holds then fires at
/// most 2 880 times a day, not at every beat, so its records stay bounded.
pub const MIN_COOLDOWN_S: f64 = 30.0;

/// Fastest removal, mL/min: within what the patient can lose, 2 000 mL/min still ran in every
/// preset tried (docs/scenarios.md) and 5 000 emptied the right atrium; half of 2 000 is kept.
pub const MAX_REMOVAL_ML_MIN: f64 = 1000.0;

type Span = std::ops::Range<usize>;

/// `[course]`: how long the course runs after stabilisation.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseSection {
    /// Course length after stabilisation.
    #[schemars(with = "Duration")]
    pub duration: Spanned<Duration>,
}

/// `[[events]]`: actions at a time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSection {
    /// Course time.
    #[schemars(with = "Duration")]
    pub at: Spanned<Duration>,
    /// Shown in events.csv.
    pub label: Option<String>,
    /// `do = { ... }`: what it does.
    #[serde(rename = "do")]
    #[schemars(with = "ActionSection")]
    pub action: Spanned<ActionSection>,
}

/// `[[triggers]]`: actions when a beat metric crosses a threshold for long enough.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSection {
    /// A beat metric (docs/outputs.md).
    #[schemars(with = "String")]
    pub metric: Spanned<String>,
    /// Holds while the metric is below this.
    #[schemars(with = "Option<f64>")]
    pub below: Option<Spanned<f64>>,
    /// Holds while the metric is above this.
    #[schemars(with = "Option<f64>")]
    pub above: Option<Spanned<f64>>,
    /// `for`: how long it must hold.
    #[serde(rename = "for")]
    #[schemars(with = "Option<Duration>")]
    pub sustained: Option<Spanned<Duration>>,
    /// Fire again after `cooldown`.
    #[serde(default)]
    pub repeat: bool,
    /// Least time between firings.
    #[schemars(with = "Option<Duration>")]
    pub cooldown: Option<Spanned<Duration>>,
    /// Shown in events.csv.
    pub label: Option<String>,
    /// `do = { ... }`: what it does.
    #[serde(rename = "do")]
    #[schemars(with = "ActionSection")]
    pub action: Spanned<ActionSection>,
}

/// A P-level written as a number (absolute) or "+1" / "-2" (relative).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LevelText {
    /// A level, e.g. 6.
    Absolute(u8),
    /// A change, e.g. "+1" or "-2".
    Relative(String),
}

/// What an event or trigger does; several keys may be combined.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSection {
    /// Parameter steps.
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub set: Option<BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// Linear parameter ramps to these values over `over`.
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub ramp: Option<BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// Duration of a ramp or of a fluid change.
    #[schemars(with = "Option<Duration>")]
    pub over: Option<Spanned<Duration>>,
    /// P-level to set or change by.
    #[schemars(with = "Option<LevelText>")]
    pub p_level: Option<Spanned<LevelText>>,
    /// Device the P-level change or removal applies to (default: the only/left one).
    #[schemars(with = "Option<String>")]
    pub device: Option<Spanned<String>>,
    /// Device to put in.
    #[schemars(with = "Option<DeviceSection>")]
    pub add_device: Option<Spanned<DeviceSection>>,
    /// Device to take out.
    #[schemars(with = "Option<String>")]
    pub remove_device: Option<Spanned<String>>,
    /// Replaces the device on the new device's side (e.g. CP -> 5.0 escalation).
    #[schemars(with = "Option<DeviceSection>")]
    pub switch_device: Option<Spanned<DeviceSection>>,
    /// Fluid in (positive) or blood loss (negative), mL, spread over `over`.
    #[schemars(with = "Option<f64>")]
    pub fluid_ml: Option<Spanned<f64>>,
    /// Drug name (with `dose`).
    #[schemars(with = "Option<String>")]
    pub drug: Option<Spanned<String>>,
    /// Drug dose, µg/kg/min (0 stops it).
    #[schemars(with = "Option<f64>")]
    pub dose: Option<Spanned<f64>>,
    /// Start the `[weaning]` protocol.
    pub start_weaning: Option<bool>,
}

/// `[weaning]`: a stepwise weaning protocol.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeaningSection {
    /// When it starts (or with an event's `start_weaning = true`).
    #[schemars(with = "Option<Duration>")]
    pub start: Option<Spanned<Duration>>,
    /// Device weaned (default: the left-sided one).
    #[schemars(with = "Option<String>")]
    pub device: Option<Spanned<String>>,
    /// P-levels per step (negative, e.g. -2).
    #[schemars(with = "i8")]
    pub step: Spanned<i8>,
    /// Time at each level before the criteria are checked.
    #[schemars(with = "Duration")]
    pub dwell: Spanned<Duration>,
    /// Level at which the patient counts as weaned (default 2).
    #[schemars(with = "Option<u8>")]
    pub until: Option<Spanned<u8>>,
    /// Criteria checked after each dwell.
    #[serde(default)]
    #[schemars(with = "Vec<CriterionSection>")]
    pub require: Vec<Spanned<CriterionSection>>,
    /// What a failed check does.
    #[serde(default)]
    pub on_failure: FailureSection,
}

/// A weaning criterion: `{ metric, min, max }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionSection {
    /// A beat metric (docs/outputs.md).
    #[schemars(with = "String")]
    pub metric: Spanned<String>,
    /// Met when the metric is at least this.
    #[schemars(with = "Option<f64>")]
    pub min: Option<Spanned<f64>>,
    /// Met when the metric is at most this.
    #[schemars(with = "Option<f64>")]
    pub max: Option<Spanned<f64>>,
}

/// `on_failure = { back, retry_after, max_failures }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FailureSection {
    /// Steps to go back up on failure.
    pub back: u8,
    /// Time before stepping down again.
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
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplicationsSection {
    /// Whether complications are drawn.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Per-hour hazards overriding the defaults of [`Complication::ALL`].
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, f64>")]
    pub hazards: BTreeMap<Spanned<String>, Spanned<f64>>,
}

fn yes() -> bool {
    true
}

/// Builds the typed plan, checking every reference before anything runs. `patient` is the
/// patient's model without devices (placements are checked on it, as for `[[devices]]`).
/// `err(span, msg)` turns a problem into the scenario's error with line and column.
#[allow(clippy::too_many_arguments)]
pub(super) fn build<E>(
    course: &CourseSection,
    events: &[EventSection],
    triggers: &[TriggerSection],
    weaning: Option<&WeaningSection>,
    complications: Option<&ComplicationsSection>,
    catalogue: &Catalogue,
    patient: &Circulation,
    initial_devices: &[Pump],
    err: &dyn Fn(Span, String) -> E,
) -> Result<Course, E> {
    let duration_s = course.duration.get_ref().seconds;
    if duration_s <= 0.0 || duration_s > MAX_COURSE_S {
        return Err(err(
            course.duration.span(),
            format!(
                "course.duration = {} s is outside the allowed range: more than 0, at most \
                 {MAX_COURSE_S} s (30 d)",
                display_number(duration_s)
            ),
        ));
    }
    let mut roster: Vec<Pump> = initial_devices.to_vec();
    // The devices in place after each event, for the weaning and trigger checks.
    let mut rosters: Vec<(f64, Vec<Pump>)> = vec![(0.0, roster.clone())];
    // Fluid removals (where, what, mL), for the check of what the patient can lose.
    let mut removals: Vec<(Span, String, f64)> = Vec::new();
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
        let actions = actions(&e.action, catalogue, patient, &mut roster, err)?;
        removals.push((
            e.action.span(),
            format!("events[{i}]"),
            removal_ml(&actions),
        ));
        rosters.push((at, roster.clone()));
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
    let mut trigger_sides: Vec<Side> = Vec::new();
    for (i, t) in triggers.iter().enumerate() {
        let metric = metric_index(&t.metric, err)?;
        let threshold = match (&t.below, &t.above) {
            (None, None) => {
                return Err(err(
                    t.metric.span(),
                    format!("triggers[{i}] needs `below` or `above`"),
                ))
            }
            (Some(_), Some(a)) => {
                return Err(err(
                    a.span(),
                    format!(
                        "triggers[{i}] has both `below` and `above`: give one (for a band, \
                         write two triggers)"
                    ),
                ))
            }
            (Some(v), None) => ("below", v),
            (None, Some(v)) => ("above", v),
        };
        finite(threshold.1, &format!("triggers[{i}].{}", threshold.0), err)?;
        let cooldown_s = t.cooldown.as_ref().map_or(0.0, |d| d.get_ref().seconds);
        match (&t.cooldown, t.repeat) {
            (Some(c), false) => {
                return Err(err(
                    c.span(),
                    format!(
                        "triggers[{i}].cooldown applies to repeating triggers only: add \
                         `repeat = true` or remove it"
                    ),
                ))
            }
            (_, true) if cooldown_s < MIN_COOLDOWN_S => {
                return Err(err(
                    t.cooldown
                        .as_ref()
                        .map_or_else(|| t.action.span(), |c| c.span()),
                    format!(
                        "triggers[{i}]: a repeating trigger needs `cooldown` of at least \
                         {MIN_COOLDOWN_S} s (got {} s), so a condition that keeps holding \
                         cannot fire at every beat",
                        display_number(cooldown_s)
                    ),
                ))
            }
            _ => {}
        }
        // Triggers may fire at any time: check them against the devices present at the start.
        let mut r = initial_devices.to_vec();
        let actions = actions(&t.action, catalogue, patient, &mut r, err)?;
        removals.push((
            t.action.span(),
            format!("triggers[{i}]"),
            removal_ml(&actions),
        ));
        for a in &actions {
            match a {
                Action::AddDevice(p) => {
                    // It must still be free whenever the trigger may fire, and only once.
                    let taken = rosters
                        .iter()
                        .any(|(_, r)| r.iter().any(|q| q.side == p.side))
                        || trigger_sides.contains(&p.side);
                    if taken || t.repeat {
                        return Err(err(
                            t.action.span(),
                            format!(
                                "triggers[{i}]: add_device needs a trigger that fires once \
                                 (no `repeat`) and a {:?} side that no device, event or other \
                                 trigger occupies during the course (use switch_device)",
                                p.side
                            ),
                        ));
                    }
                    trigger_sides.push(p.side);
                }
                Action::StartWeaning if weaning.is_none() => {
                    return Err(err(
                        t.action.span(),
                        format!("triggers[{i}] starts weaning but there is no [weaning] section"),
                    ))
                }
                _ => {}
            }
        }
        out_triggers.push(Trigger {
            label: t
                .label
                .clone()
                .unwrap_or_else(|| format!("trigger {}", i + 1)),
            metric,
            below: t.below.as_ref().map(|v| *v.get_ref()),
            above: t.above.as_ref().map(|v| *v.get_ref()),
            sustained_s: t.sustained.as_ref().map_or(0.0, |d| d.get_ref().seconds),
            repeat: t.repeat,
            cooldown_s,
            actions,
        });
    }

    let weaning = match weaning {
        None => None,
        Some(w) => Some(weaning_plan(
            w,
            duration_s,
            &out_events,
            &rosters,
            catalogue,
            err,
        )?),
    };
    if let Some(e) = events
        .iter()
        .find(|e| e.action.get_ref().start_weaning == Some(true))
    {
        if weaning.is_none() {
            return Err(err(
                e.action.span(),
                "this event starts weaning but there is no [weaning] section".into(),
            ));
        }
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
    if hazards
        .iter()
        .any(|(k, rate)| *k == Complication::Bleeding && *rate > 0.0)
    {
        let span = complications
            .and_then(|c| c.hazards.keys().find(|k| k.get_ref() == "bleeding"))
            .map_or_else(|| course.duration.span(), |k| k.span());
        let what = "the bleeding complication".to_string();
        removals.push((span, what, action::BLEED_ML));
    }
    can_lose(patient, &removals, err)?;
    Ok(Course {
        duration_s,
        events: out_events,
        triggers: out_triggers,
        weaning,
        complications: hazards,
    })
}

/// Volume an action list removes, mL (0 for fluids in).
fn removal_ml(actions: &[Action]) -> f64 {
    actions
        .iter()
        .map(|a| match a {
            Action::Fluid { volume_ml, .. } => (-volume_ml).max(0.0),
            _ => 0.0,
        })
        .sum()
}

/// Refuses removals beyond what the patient can lose: a blood volume must exceed the
/// unstressed volume by MIN_STRESSED_VOLUME_ML (Parameters::validate), below which a
/// compartment runs dry. The error points at the removal that goes past it and lists them all.
fn can_lose<E>(
    patient: &Circulation,
    removals: &[(Span, String, f64)],
    err: &dyn Fn(Span, String) -> E,
) -> Result<(), E> {
    let p = patient.parameters();
    let limit = p.blood_volume - p.unstressed_volume() - MIN_STRESSED_VOLUME_ML;
    let removals: Vec<&(Span, String, f64)> = removals.iter().filter(|r| r.2 > 0.0).collect();
    let mut total = 0.0;
    for (span, _, ml) in &removals {
        total += ml;
        if total > limit {
            let all: f64 = removals.iter().map(|r| r.2).sum();
            let list: Vec<String> = removals
                .iter()
                .map(|(_, what, ml)| format!("{what} {} mL", display_number(*ml)))
                .collect();
            return Err(err(
                span.clone(),
                format!(
                    "the course removes {} mL ({}; a trigger counted once), more than the \
                     patient can lose: at most {} mL (blood_volume {} mL minus the unstressed \
                     volume {} mL and the {MIN_STRESSED_VOLUME_ML} mL of stressed volume every \
                     patient keeps)",
                    display_number(all),
                    list.join(", "),
                    display_number(limit.round()),
                    display_number(p.blood_volume),
                    display_number(p.unstressed_volume().round()),
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a threshold that is not a finite number.
fn finite<E>(v: &Spanned<f64>, key: &str, err: &dyn Fn(Span, String) -> E) -> Result<f64, E> {
    let x = *v.get_ref();
    if x.is_finite() {
        Ok(x)
    } else {
        Err(err(
            v.span(),
            format!("{key} = {x}: must be a finite number"),
        ))
    }
}

/// The weaning plan, checked against the devices in place when it starts.
fn weaning_plan<E>(
    w: &WeaningSection,
    duration_s: f64,
    events: &[TimedEvent],
    rosters: &[(f64, Vec<Pump>)],
    catalogue: &Catalogue,
    err: &dyn Fn(Span, String) -> E,
) -> Result<Weaning, E> {
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
    for (i, c) in w.require.iter().enumerate() {
        let key = format!("weaning.require[{i}]");
        let span = c.span();
        let c = c.get_ref();
        let min = c
            .min
            .as_ref()
            .map(|v| finite(v, &format!("{key}.min"), err))
            .transpose()?;
        let max = c
            .max
            .as_ref()
            .map(|v| finite(v, &format!("{key}.max"), err))
            .transpose()?;
        match (min, max) {
            (None, None) => {
                return Err(err(span, format!("{key} needs `min`, `max` or both")));
            }
            (Some(lo), Some(hi)) if lo > hi => {
                return Err(err(
                    span,
                    format!("{key}: min = {lo} is above max = {hi}: no value meets it"),
                ));
            }
            _ => {}
        }
        require.push(Criterion {
            metric: metric_index(&c.metric, err)?,
            min,
            max,
        });
    }
    // When it starts: `start`, or the first event that starts it, whichever comes first;
    // an event at the start time acts before it.
    let by_event = events
        .iter()
        .position(|e| e.actions.iter().any(|a| matches!(a, Action::StartWeaning)));
    let start_s = w.start.as_ref().map(|d| d.get_ref().seconds);
    if let (Some(s), Some(d)) = (start_s, &w.start) {
        if s >= duration_s {
            return Err(err(
                d.span(),
                format!(
                    "weaning.start = {} s is not before the end of the course ({} s)",
                    display_number(s),
                    display_number(duration_s)
                ),
            ));
        }
    }
    let first_s =
        match (start_s, by_event.map(|e| events[e].at_s)) {
            (None, None) => return Err(err(
                w.step.span(),
                "weaning has no `start` and no event starts it (`do = { start_weaning = true }`)"
                    .into(),
            )),
            (Some(s), Some(e)) => s.min(e),
            (Some(t), None) | (None, Some(t)) => t,
        };
    // Every event up to that time has acted (events at the same time act first).
    let roster = &rosters
        .iter()
        .rev()
        .find(|(at, _)| *at <= first_s)
        .unwrap_or(&rosters[0])
        .1;
    let span = w
        .device
        .as_ref()
        .map_or_else(|| w.step.span(), |d| d.span());
    let names = || {
        if roster.is_empty() {
            "none".to_string()
        } else {
            roster
                .iter()
                .map(|p| p.model.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let weaned = match &w.device {
        Some(d) => {
            let id = resolve_id(catalogue, d.get_ref());
            roster.iter().find(|p| p.model == id)
        }
        None => roster
            .iter()
            .find(|p| p.side == Side::Left)
            .or(roster.first()),
    };
    let Some(weaned) = weaned else {
        let what = match &w.device {
            Some(d) => format!("weaning.device '{}' is not", d.get_ref()),
            None => "weaning needs a device, but none is".into(),
        };
        return Err(err(
            span,
            format!(
                "{what} in the patient when weaning starts ({} s); devices then: {}",
                display_number(first_s),
                names()
            ),
        ));
    };
    let until = w.until.as_ref().map_or(2, |u| *u.get_ref());
    let max = weaned.max_p_level();
    if until > max {
        return Err(err(
            w.until.as_ref().map_or(span, |u| u.span()),
            format!(
                "weaning.until = {until}: {} has P-levels 0..={max}; allowed: 0 to {max}",
                weaned.model
            ),
        ));
    }
    Ok(Weaning {
        start_s,
        device: w
            .device
            .as_ref()
            .map(|d| resolve_id(catalogue, d.get_ref())),
        step,
        dwell_s: w.dwell.get_ref().seconds,
        until,
        require,
        back: w.on_failure.back,
        retry_after_s: w.on_failure.retry_after.seconds,
        max_failures: w.on_failure.max_failures.max(1),
    })
}

fn resolve_id(catalogue: &Catalogue, name: &str) -> String {
    catalogue
        .get(name)
        .map(|s| s.id().to_string())
        .unwrap_or_else(|_| name.to_string())
}

fn metric_index<E>(m: &Spanned<String>, err: &dyn Fn(Span, String) -> E) -> Result<usize, E> {
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
    err: &dyn Fn(Span, String) -> E,
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
    span: Span,
    err: &dyn Fn(Span, String) -> E,
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
    patient: &Circulation,
    roster: &mut Vec<Pump>,
    err: &dyn Fn(Span, String) -> E,
) -> Result<Vec<Action>, E> {
    let span = a.span();
    let a = a.get_ref();
    let mut out = Vec::new();
    if let Some(o) = &a.over {
        if a.ramp.is_none() && a.fluid_ml.is_none() {
            return Err(err(
                o.span(),
                "`over` is the duration of a ramp or of fluid_ml; this action has neither \
                 (set, p_level, drug and device changes act at once)"
                    .into(),
            ));
        }
    }
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
    // The devices must be placeable in the patient, as `[[devices]]` are.
    let placed = |roster: &[Pump], d: &Spanned<DeviceSection>, key: &str| -> Result<(), E> {
        super::place(patient, roster)
            .map(|_| ())
            .map_err(|e| err(d.get_ref().position_span(), format!("{key}: {e}")))
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
        placed(roster, d, "switch_device")?;
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
        placed(roster, d, "add_device")?;
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
        let ml_min = -volume_ml * 60.0 / over_s;
        if ml_min > MAX_REMOVAL_ML_MIN {
            return Err(err(
                v.span(),
                format!(
                    "fluid_ml = {} over {} s removes {} mL/min: at most {MAX_REMOVAL_ML_MIN} \
                     mL/min (make `over` longer)",
                    display_number(volume_ml),
                    display_number(over_s),
                    display_number(ml_min)
                ),
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

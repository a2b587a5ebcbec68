//! The course protocol: timed events, condition triggers, a stepwise weaning protocol and
//! seeded random complications, run on an [`Engine`] from its stabilised patient, with
//! fast-forward over quiet stretches. Semantics: docs/scenarios.md, "Courses".

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::Serialize;

use super::{
    Action, Advance, BeatSink, Cause, Complication, Controls, Discard, Engine, EventKind,
    LevelChange, Schedule, SimError,
};
use crate::analysis::BeatMetrics;
use crate::devices::Side;
use crate::solver::Integrator;

/// A timed event.
#[derive(Debug, Clone)]
pub struct TimedEvent {
    /// Course time, s.
    pub at_s: f64,
    /// Shown in events.csv ("event N" when the scenario gives none).
    pub label: String,
    /// What it does, in order.
    pub actions: Vec<Action>,
}

/// A condition on a beat metric, held for a time.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// Shown in events.csv ("trigger N" when the scenario gives none).
    pub label: String,
    /// Index into [`BeatMetrics::NAMES`].
    pub metric: usize,
    /// The condition holds while the metric is below this value.
    pub below: Option<f64>,
    /// The condition holds while the metric is above this value.
    pub above: Option<f64>,
    /// How long the condition must hold on consecutive beats, s.
    pub sustained_s: f64,
    /// Fire again (after `cooldown_s`) each time the condition holds long enough.
    pub repeat: bool,
    /// Least time between two firings, s.
    pub cooldown_s: f64,
    /// What it does when it fires.
    pub actions: Vec<Action>,
}

impl Trigger {
    /// Whether the condition holds for these metrics.
    pub fn holds(&self, m: &BeatMetrics) -> bool {
        let v = m.values()[self.metric];
        self.below.is_some_and(|b| v < b) || self.above.is_some_and(|a| v > a)
    }
}

/// A weaning criterion on the mean metrics of the last beats.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// Index into [`BeatMetrics::NAMES`].
    pub metric: usize,
    /// Met when the metric is at least this.
    pub min: Option<f64>,
    /// Met when the metric is at most this.
    pub max: Option<f64>,
}

impl Criterion {
    /// Whether these metrics meet it.
    pub fn met(&self, m: &BeatMetrics) -> bool {
        let v = m.values()[self.metric];
        self.min.is_none_or(|lo| v >= lo) && self.max.is_none_or(|hi| v <= hi)
    }

    /// "map_mmhg >= 65" style text.
    pub fn describe(&self) -> String {
        let name = BeatMetrics::NAMES[self.metric];
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{lo} <= {name} <= {hi}"),
            (Some(lo), None) => format!("{name} >= {lo}"),
            (None, Some(hi)) => format!("{name} <= {hi}"),
            (None, None) => name.to_string(),
        }
    }
}

/// A weaning protocol.
#[derive(Debug, Clone)]
pub struct Weaning {
    /// Course time it starts at, s (None: an event starts it).
    pub start_s: Option<f64>,
    /// Catalogue id of the device weaned (None: the left-sided, else the only one).
    pub device: Option<String>,
    /// P-levels per step (negative).
    pub step: i8,
    /// Time at each level before the criteria are checked, s.
    pub dwell_s: f64,
    /// Level at which the patient counts as weaned.
    pub until: u8,
    /// Criteria that must all be met at each check.
    pub require: Vec<Criterion>,
    /// Steps back up after a failure.
    pub back: u8,
    /// Time after a failure before stepping down again, s.
    pub retry_after_s: f64,
    /// Failures after which weaning is abandoned.
    pub max_failures: u32,
}

/// The course plan.
#[derive(Debug, Clone)]
pub struct Course {
    /// Course length after stabilisation, s.
    pub duration_s: f64,
    /// Timed events, in time order.
    pub events: Vec<TimedEvent>,
    /// Conditions on beat metrics.
    pub triggers: Vec<Trigger>,
    /// The weaning protocol, if any.
    pub weaning: Option<Weaning>,
    /// Per-hour hazards of the random complications (empty: none).
    pub complications: Vec<(Complication, f64)>,
}

/// Fast-forward needs the beat-to-beat change this far below the steady-state tolerance, so
/// the drift it skips stays negligible (checked against full integration in tests/course.rs).
const FAST_FORWARD_TOLERANCE_FACTOR: f64 = 0.1;

/// How a weaning protocol ended (or where it stands at the end of the course).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeaningResult {
    /// Criteria met at the `until` level.
    Weaned,
    /// Abandoned after `max_failures` failures (or its device was taken out).
    Failed,
    /// Still stepping when the course ended.
    InProgress,
    /// The course ended before it started.
    NotStarted,
}

impl WeaningResult {
    /// Its name in outputs.
    pub fn key(self) -> &'static str {
        match self {
            WeaningResult::Weaned => "weaned",
            WeaningResult::Failed => "failed",
            WeaningResult::InProgress => "in_progress",
            WeaningResult::NotStarted => "not_started",
        }
    }
}

/// How a weaning protocol ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeaningOutcome {
    /// How it ended.
    pub outcome: WeaningResult,
    /// When it was weaned or abandoned, s.
    pub t_s: Option<f64>,
    /// P-level at that time (or now).
    pub p_level: u8,
    /// Checks that failed.
    pub failures: u32,
    /// The criterion that failed last.
    pub failed_criterion: Option<String>,
}

/// Where the weaning protocol stands (docs/scenarios.md, "Weaning").
#[derive(Debug, Clone, PartialEq)]
pub enum WeaningState {
    /// Not started.
    Idle,
    /// At a level for `dwell`; the criteria are checked at its end.
    Dwelling,
    /// Back up after a failure; steps down again after `retry_after`.
    Recovering,
    /// Ended (weaned or failed).
    Done(WeaningOutcome),
}

/// Something the course does at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pending {
    Event(usize),
    WeaningStart,
    WeaningCheck,
    WeaningRetry,
    Complication(Complication),
}

/// The weaning protocol as a state machine over [`WeaningState`].
#[derive(Debug, Clone)]
struct WeaningRun {
    plan: Weaning,
    state: WeaningState,
    failures: u32,
    last_failed: Option<String>,
}

impl WeaningRun {
    /// The device weaned: the named one, else the left-sided one, else the only one.
    fn device(&self, c: &Controls) -> Option<(String, u8)> {
        let p = match &self.plan.device {
            Some(m) => c.pump(Some(m)),
            None => c
                .pumps()
                .iter()
                .find(|p| p.side == Side::Left)
                .or_else(|| c.pump(None)),
        };
        p.map(|p| (p.model.clone(), p.p_level()))
    }

    fn finish(&mut self, t: f64, c: &mut Controls, outcome: WeaningResult, level: u8) {
        self.state = WeaningState::Done(WeaningOutcome {
            outcome,
            t_s: Some(t),
            p_level: level,
            failures: self.failures,
            failed_criterion: self.last_failed.clone(),
        });
        let what = match outcome {
            WeaningResult::Weaned => EventKind::Weaned { level },
            _ => EventKind::WeaningFailed { level },
        };
        c.record(t, Cause::Weaning, what);
    }

    /// Steps down by `step`, not below `until`; a device already at `until` stays there for
    /// another dwell (weaned only once its criteria are met there). Returns when to check.
    fn step_down(&mut self, t: f64, c: &mut Controls) -> Option<f64> {
        let Some((model, level)) = self.device(c) else {
            self.last_failed = Some("device not in place".into());
            self.finish(t, c, WeaningResult::Failed, 0);
            return None;
        };
        if level > self.plan.until {
            let to = (i16::from(level) + i16::from(self.plan.step)).max(i16::from(self.plan.until));
            c.set_level(t, Cause::Weaning, Some(&model), LevelChange::To(to as u8));
        }
        self.state = WeaningState::Dwelling;
        Some(t + self.plan.dwell_s)
    }

    /// Checks the criteria on the mean of the recent beats: returns the next time to act.
    fn check(&mut self, t: f64, c: &mut Controls, recent: &[BeatMetrics]) -> Option<f64> {
        let m = BeatMetrics::mean(recent);
        let failed = self.plan.require.iter().find(|k| !k.met(&m)).cloned();
        let Some((model, level)) = self.device(c) else {
            return self.step_down(t, c);
        };
        match failed {
            None => {
                c.record(t, Cause::Weaning, EventKind::WeaningCriteriaMet { level });
                if level <= self.plan.until {
                    self.finish(t, c, WeaningResult::Weaned, level);
                    None
                } else {
                    self.step_down(t, c)
                }
            }
            Some(criterion) => {
                self.failures += 1;
                self.last_failed = Some(criterion.describe());
                c.record(
                    t,
                    Cause::Weaning,
                    EventKind::WeaningCriterionFailed { level, criterion },
                );
                if self.plan.back > 0 {
                    let up = i8::try_from(i16::from(self.plan.back) * -i16::from(self.plan.step))
                        .unwrap_or(i8::MAX);
                    c.set_level(t, Cause::Weaning, Some(&model), LevelChange::By(up));
                }
                let level = self.device(c).map_or(0, |d| d.1);
                if self.failures >= self.plan.max_failures {
                    self.finish(t, c, WeaningResult::Failed, level);
                    None
                } else {
                    self.state = WeaningState::Recovering;
                    Some(t + self.plan.retry_after_s)
                }
            }
        }
    }

    /// The outcome at the end of the course.
    fn outcome(&self, c: &Controls) -> WeaningOutcome {
        match &self.state {
            WeaningState::Done(o) => o.clone(),
            state => WeaningOutcome {
                outcome: if *state == WeaningState::Idle {
                    WeaningResult::NotStarted
                } else {
                    WeaningResult::InProgress
                },
                t_s: None,
                p_level: self.device(c).map_or(0, |d| d.1),
                failures: self.failures,
                failed_criterion: self.last_failed.clone(),
            },
        }
    }
}

/// A course in progress: the engine's [`Schedule`].
struct CourseRun<'a> {
    plan: &'a Course,
    pending: Vec<(f64, Pending)>,
    weaning: Option<WeaningRun>,
    /// Per trigger: since when its condition holds, and when it last fired.
    held_since: Vec<Option<f64>>,
    last_fired: Vec<Option<f64>>,
}

impl<'a> CourseRun<'a> {
    fn new(plan: &'a Course, seed: u64) -> Self {
        let mut pending: Vec<(f64, Pending)> = plan
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.at_s, Pending::Event(i)))
            .collect();
        if let Some(s) = plan.weaning.as_ref().and_then(|w| w.start_s) {
            pending.push((s, Pending::WeaningStart));
        }
        // Each complication's first occurrence: exponential waiting time with its hazard,
        // drawn in a fixed order from the scenario's seed, so the same seed gives the same
        // course.
        let mut rng = StdRng::seed_from_u64(seed);
        for (c, per_hour) in &plan.complications {
            if *per_hour > 0.0 {
                let wait_h = Exp::new(*per_hour)
                    .expect("positive hazard")
                    .sample(&mut rng);
                if wait_h * 3600.0 < plan.duration_s {
                    pending.push((wait_h * 3600.0, Pending::Complication(*c)));
                }
            }
        }
        CourseRun {
            plan,
            pending,
            weaning: plan.weaning.clone().map(|w| WeaningRun {
                plan: w,
                state: WeaningState::Idle,
                failures: 0,
                last_failed: None,
            }),
            held_since: vec![None; plan.triggers.len()],
            last_fired: vec![None; plan.triggers.len()],
        }
    }

    /// Applies actions with their cause; a start of weaning is scheduled for now.
    fn act(&mut self, t: f64, cause: &Cause, actions: &[Action], c: &mut Controls) {
        for a in actions {
            if matches!(a, Action::StartWeaning) {
                self.pending.push((t, Pending::WeaningStart));
            } else {
                c.apply(t, cause, a);
            }
        }
    }

    fn weaning(&mut self) -> &mut WeaningRun {
        self.weaning
            .as_mut()
            .expect("the scenario has a weaning protocol")
    }

    /// Evaluates the triggers on a finished beat (at `t`, its end).
    fn after_beat(&mut self, t: f64, t_start: f64, m: &BeatMetrics, c: &mut Controls) {
        let plan = self.plan;
        for (k, trig) in plan.triggers.iter().enumerate() {
            if !trig.holds(m) {
                self.held_since[k] = None;
                continue;
            }
            let since = *self.held_since[k].get_or_insert(t_start);
            let cooled = self.last_fired[k].is_none_or(|f| t - f >= trig.cooldown_s);
            let allowed = trig.repeat || self.last_fired[k].is_none();
            if t - since >= trig.sustained_s && cooled && allowed {
                let cause = Cause::Trigger(trig.label.clone());
                let value = m.values()[trig.metric];
                c.record(
                    t,
                    cause.clone(),
                    EventKind::TriggerFired {
                        metric: trig.metric,
                        value,
                    },
                );
                self.act(t, &cause, &trig.actions, c);
                self.last_fired[k] = Some(t);
                self.held_since[k] = None;
            }
        }
    }

    fn building_up(&self) -> bool {
        self.held_since.iter().any(Option::is_some)
    }
}

impl Schedule for CourseRun<'_> {
    fn next_due(&self) -> f64 {
        self.pending
            .iter()
            .map(|p| p.0)
            .fold(f64::INFINITY, f64::min)
    }

    fn apply_due(&mut self, t: f64, c: &mut Controls, recent: &[BeatMetrics]) {
        let eps = super::EPS_S;
        loop {
            // The earliest due entry; of equal times, the first scheduled.
            let Some(i) = self
                .pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.0 <= t + eps)
                .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
                .map(|(i, _)| i)
            else {
                return;
            };
            let (at, what) = self.pending.remove(i);
            let next = match what {
                Pending::Event(k) => {
                    let e = &self.plan.events[k];
                    self.act(at, &Cause::Event(e.label.clone()), &e.actions, c);
                    None
                }
                Pending::WeaningStart => {
                    let w = self.weaning();
                    if w.state == WeaningState::Idle {
                        c.record(at, Cause::Weaning, EventKind::WeaningStarted);
                        w.step_down(at, c).map(|t| (t, Pending::WeaningCheck))
                    } else {
                        None
                    }
                }
                Pending::WeaningCheck => {
                    self.weaning()
                        .check(at, c, recent)
                        .map(|t| match self.weaning().state {
                            WeaningState::Recovering => (t, Pending::WeaningRetry),
                            _ => (t, Pending::WeaningCheck),
                        })
                }
                Pending::WeaningRetry => self
                    .weaning()
                    .step_down(at, c)
                    .map(|t| (t, Pending::WeaningCheck)),
                Pending::Complication(k) => {
                    c.complication(at, k);
                    None
                }
            };
            self.pending.extend(next);
        }
    }
}

/// Runs `plan` on `engine`: stabilises the patient, restarts the clock at 0 and runs the
/// course, each reported beat to `sink`. Returns the weaning outcome, if there is a protocol.
pub fn run_course<I: Integrator>(
    engine: &mut Engine<I>,
    plan: &Course,
    seed: u64,
    sink: &mut dyn BeatSink,
) -> Result<Option<WeaningOutcome>, SimError> {
    // The course starts from the periodic steady state of the initial patient (one beat past
    // the one that met the tolerance).
    engine.stabilise(&mut Discard)?;
    engine.advance(Advance::Beats(1), &mut Discard)?;
    engine.restart_clock();
    let settings = *engine.settings();
    let mut course = CourseRun::new(plan, seed);
    // Course time is a sum of beat periods: over days its rounding exceeds EPS_S, and a beat
    // starting a few nanoseconds before the end would run a whole period past it.
    let end = plan.duration_s - super::EPS_S.max(plan.duration_s * 1e-12);
    while engine.time() < end {
        let actions_before = engine.controls().actions_recorded();
        let mut beat = engine.advance_beat_with(&mut course)?;
        let t = engine.time();
        course.after_beat(t, beat.clock.t_start, &beat.metrics, engine.controls_mut());

        // Fast-forward: at periodic steady state with nothing changing (no action in this
        // beat either), later beats repeat this one exactly; skip them in whole beats up to
        // one beat before the next action.
        let quiet = settings.fast_forward
            && engine.controls().actions_recorded() == actions_before
            && engine.quiet()
            && !course.building_up()
            && beat.change < FAST_FORWARD_TOLERANCE_FACTOR * settings.steady_tolerance;
        if quiet {
            // Up to one beat before the next action; before the end, up to the report beats,
            // so that the beats the summary averages and the waveforms show are integrated
            // one after the other.
            let next = course.next_due();
            let keep = if next < plan.duration_s {
                1
            } else {
                settings.report_beats.max(1) as i64
            };
            let next = next.min(plan.duration_s);
            let skip = ((next - t) / beat.clock.period).floor() as i64 - keep;
            if skip >= 1 {
                engine.skip_beats(skip as usize, beat.clock.period);
                beat.fast_forwarded = skip as usize;
            }
        }
        sink.take(beat);
    }
    Ok(course
        .weaning
        .as_ref()
        .map(|w| w.outcome(engine.controls())))
}

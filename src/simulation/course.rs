//! The discrete-event course: after stabilisation, integrate beat by beat and apply events at
//! their exact times (the integrator restarts at each), evaluate triggers on beat metrics,
//! run a weaning protocol, and fast-forward quiet stretches at periodic steady state.
//! Semantics: docs/scenarios.md, "Courses".

use serde::Serialize;

use super::{AlarmTracker, Beat, BeatSystem, RunResult, RunSettings, SimError};
use crate::analysis::{beat_to_beat_change, BeatMetrics};
use crate::devices::Pump;
use crate::physiology::drugs::Drug;
use crate::physiology::{Circulation, Parameters, State};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};

use crate::devices::{Position, Side};
use crate::scenario::course::{Action, Complication, Course, LevelChange, Weaning};
use crate::scenario::Scenario;
use crate::solver::{Integrator, Sample};

/// One thing the course did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// Course time, s.
    pub t_s: f64,
    /// "event", "trigger", "weaning", "fluid".
    pub kind: &'static str,
    pub detail: String,
}

/// How a weaning protocol ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeaningOutcome {
    /// "weaned", "failed", "in_progress" or "not_started".
    pub outcome: &'static str,
    /// When it was weaned or abandoned, s.
    pub t_s: Option<f64>,
    /// P-level at that time (or now).
    pub p_level: u8,
    pub failures: u32,
    /// The criterion that failed last.
    pub failed_criterion: Option<String>,
}

/// Fast-forward needs the beat-to-beat change this far below the steady-state tolerance, so
/// the drift it skips stays negligible (checked against full integration in tests/course.rs).
const FAST_FORWARD_TOLERANCE_FACTOR: f64 = 0.1;

/// Blood lost in a bleeding complication, mL, and over how long, s [estimate: a
/// transfusion-requiring (GUSTO moderate) bleed].
const BLEED_ML: f64 = 500.0;
const BLEED_S: f64 = 3600.0;

/// Beats averaged for weaning checks.
const WEANING_WINDOW_BEATS: usize = 10;

#[derive(Debug, Clone, Copy)]
struct Ramp {
    path: &'static str,
    from: f64,
    to: f64,
    t0: f64,
    t1: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pending {
    Event(usize),
    InfusionEnd,
    WeaningCheck,
    WeaningRetry,
    WeaningStart,
    Complication(Complication),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Dwelling,
    Waiting,
    Done,
}

struct WeaningRun {
    plan: Weaning,
    phase: Phase,
    failures: u32,
    outcome: Option<WeaningOutcome>,
    last_failed: Option<String>,
}

/// Everything that changes during a course.
struct CourseState {
    base: Parameters,
    ramps: Vec<Ramp>,
    drugs: Vec<(Drug, f64)>,
    pumps: Vec<Pump>,
    /// (rate mL/s, end time s)
    infusions: Vec<(f64, f64)>,
    pending: Vec<(f64, Pending)>,
    log: Vec<LogEntry>,
    weaning: Option<WeaningRun>,
    net_fluid_ml: f64,
}

impl CourseState {
    /// Parameters at `t`: ramps evaluated (piecewise constant per beat), then drugs.
    fn params_at(&self, t: f64) -> Parameters {
        let mut p = self.base;
        for r in &self.ramps {
            let f = ((t - r.t0) / (r.t1 - r.t0)).clamp(0.0, 1.0);
            p.set(r.path, r.from + f * (r.to - r.from))
                .expect("ramp values lie between two valid values");
        }
        for (d, dose) in &self.drugs {
            d.apply(*dose, &mut p);
        }
        p
    }

    /// The model at `t`; `hr` keeps the running beat's heart rate for a mid-beat rebuild.
    /// The model at `t` (at heart rate `hr` if given), sharing what it can with `previous`,
    /// the model of the beat before ([`Circulation::new_reusing`]).
    fn model(&self, t: f64, hr: Option<f64>, previous: Option<&Circulation>) -> Circulation {
        let mut p = self.params_at(t);
        if let Some(hr) = hr {
            p.heart.hr = hr;
        }
        let rate: f64 = self.infusions.iter().map(|i| i.0).sum();
        let circ = match previous {
            Some(previous) => Circulation::new_reusing(p, previous),
            None => Circulation::new(p),
        };
        self.pumps
            .iter()
            .try_fold(circ, |m, pump| m.with_pump(pump.clone()))
            .expect("the scenario checked device placement")
            .with_infusion(rate)
    }

    fn log(&mut self, t_s: f64, kind: &'static str, detail: String) {
        self.log.push(LogEntry { t_s, kind, detail });
    }

    /// Commits finished ramps into the base parameters.
    fn settle_ramps(&mut self, t: f64) {
        let (done, running): (Vec<Ramp>, Vec<Ramp>) = self.ramps.iter().partition(|r| t >= r.t1);
        for r in done {
            self.base
                .set(r.path, r.to)
                .expect("ramp target was validated");
        }
        self.ramps = running;
    }

    fn pump_mut(&mut self, model: Option<&str>) -> Option<&mut Pump> {
        match model {
            Some(m) => self.pumps.iter_mut().find(|p| p.model == m),
            None => self.pumps.first_mut(),
        }
    }

    fn set_level(&mut self, t: f64, kind: &'static str, model: Option<&str>, change: LevelChange) {
        let Some(p) = self.pump_mut(model) else {
            let detail = format!(
                "P-level change skipped: device {} not in place",
                model.unwrap_or("?")
            );
            self.log(t, kind, detail);
            return;
        };
        let old = p.p_level();
        let new = match change {
            LevelChange::To(n) => n,
            LevelChange::By(d) => {
                (i16::from(old) + i16::from(d)).clamp(0, i16::from(p.max_p_level())) as u8
            }
        };
        let name = p.model.clone();
        p.set_p_level(new)
            .expect("level clamped into the device's range");
        self.log(t, kind, format!("{name} P{old} -> P{new}"));
    }

    fn apply(&mut self, t: f64, kind: &'static str, label: &str, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Set(list) => {
                    for (path, v) in list {
                        self.ramps.retain(|r| r.path != path.as_str());
                        self.base.set(path, *v).expect("validated");
                    }
                    let text: Vec<String> =
                        list.iter().map(|(p, v)| format!("{p} = {v}")).collect();
                    self.log(t, kind, format!("{label}: set {}", text.join(", ")));
                }
                Action::Ramp { targets, over_s } => {
                    for (path, to) in targets {
                        let spec = crate::physiology::parameters::spec(path).expect("validated");
                        let from = spec.get(&self.params_at_without_drugs(t));
                        self.ramps.retain(|r| r.path != spec.path);
                        self.ramps.push(Ramp {
                            path: spec.path,
                            from,
                            to: *to,
                            t0: t,
                            t1: t + over_s,
                        });
                    }
                    let text: Vec<String> =
                        targets.iter().map(|(p, v)| format!("{p} -> {v}")).collect();
                    self.log(
                        t,
                        kind,
                        format!("{label}: ramp {} over {over_s} s", text.join(", ")),
                    );
                }
                Action::PLevel { device, change } => {
                    self.set_level(t, kind, device.as_deref(), *change)
                }
                Action::AddDevice(p) => {
                    self.log(
                        t,
                        kind,
                        format!("{label}: add {} at P{}", p.model, p.p_level()),
                    );
                    self.pumps.push(p.clone());
                }
                Action::RemoveDevice(m) => {
                    self.pumps.retain(|p| p.model != *m);
                    self.log(t, kind, format!("{label}: remove {m}"));
                }
                Action::SwitchDevice(p) => {
                    let old: Vec<String> = self
                        .pumps
                        .iter()
                        .filter(|q| q.side == p.side)
                        .map(|q| q.model.clone())
                        .collect();
                    self.pumps.retain(|q| q.side != p.side);
                    self.pumps.push(p.clone());
                    self.log(
                        t,
                        kind,
                        format!(
                            "{label}: switch {} -> {} at P{}",
                            old.join(""),
                            p.model,
                            p.p_level()
                        ),
                    );
                }
                Action::Fluid { volume_ml, over_s } => {
                    self.infusions.push((volume_ml / over_s, t + over_s));
                    self.pending.push((t + over_s, Pending::InfusionEnd));
                    self.log(
                        t,
                        kind,
                        format!("{label}: fluid {volume_ml} mL over {over_s} s"),
                    );
                }
                Action::Drug { drug, dose } => {
                    self.drugs.retain(|(d, _)| d != drug);
                    if *dose > 0.0 {
                        self.drugs.push((*drug, *dose));
                    }
                    self.log(
                        t,
                        kind,
                        format!("{label}: {} {dose} µg/kg/min", drug.name()),
                    );
                }
                Action::StartWeaning => self.pending.push((t, Pending::WeaningStart)),
            }
        }
    }

    fn params_at_without_drugs(&self, t: f64) -> Parameters {
        let mut p = self.base;
        for r in &self.ramps {
            let f = ((t - r.t0) / (r.t1 - r.t0)).clamp(0.0, 1.0);
            p.set(r.path, r.from + f * (r.to - r.from)).expect("valid");
        }
        p
    }

    fn weaning_device_level(&mut self) -> Option<u8> {
        let model = self.weaning.as_ref()?.plan.device.clone();
        self.pump_mut(model.as_deref()).map(|p| p.p_level())
    }

    fn weaning_step_down(&mut self, t: f64) {
        let Some(level) = self.weaning_device_level() else {
            self.finish_weaning(t, "failed", 0, Some("device not in place".into()));
            return;
        };
        let w = self.weaning.as_ref().expect("weaning runs");
        let (step, until, model) = (w.plan.step, w.plan.until, w.plan.device.clone());
        if level <= until {
            self.finish_weaning(t, "weaned", level, None);
            return;
        }
        let new = (i16::from(level) + i16::from(step)).max(i16::from(until)) as u8;
        self.set_level(t, "weaning", model.as_deref(), LevelChange::To(new));
        let w = self.weaning.as_mut().expect("weaning runs");
        w.phase = Phase::Dwelling;
        let at = t + w.plan.dwell_s;
        self.pending.push((at, Pending::WeaningCheck));
    }

    fn weaning_check(&mut self, t: f64, recent: &[BeatMetrics]) {
        let m = BeatMetrics::mean(recent);
        let w = self.weaning.as_ref().expect("weaning runs");
        let failed = w
            .plan
            .require
            .iter()
            .find(|c| !c.met(&m))
            .map(|c| c.describe());
        let level = self.weaning_device_level().unwrap_or(0);
        let w = self.weaning.as_mut().expect("weaning runs");
        match failed {
            None => {
                let until = w.plan.until;
                self.log(t, "weaning", format!("criteria met at P{level}"));
                if level <= until {
                    self.finish_weaning(t, "weaned", level, None);
                } else {
                    self.weaning_step_down(t);
                }
            }
            Some(c) => {
                w.failures += 1;
                w.last_failed = Some(c.clone());
                let (back, step, retry, max_f, failures, model) = (
                    w.plan.back,
                    w.plan.step,
                    w.plan.retry_after_s,
                    w.plan.max_failures,
                    w.failures,
                    w.plan.device.clone(),
                );
                self.log(t, "weaning", format!("criterion failed at P{level}: {c}"));
                let up = i8::try_from(i16::from(back) * -i16::from(step)).unwrap_or(i8::MAX);
                self.set_level(t, "weaning", model.as_deref(), LevelChange::By(up));
                let level = self.weaning_device_level().unwrap_or(0);
                if failures >= max_f {
                    self.finish_weaning(t, "failed", level, Some(c));
                } else {
                    self.weaning.as_mut().expect("runs").phase = Phase::Waiting;
                    self.pending.push((t + retry, Pending::WeaningRetry));
                }
            }
        }
    }

    fn finish_weaning(
        &mut self,
        t: f64,
        outcome: &'static str,
        level: u8,
        criterion: Option<String>,
    ) {
        let w = self.weaning.as_mut().expect("weaning runs");
        w.phase = Phase::Done;
        w.outcome = Some(WeaningOutcome {
            outcome,
            t_s: Some(t),
            p_level: level,
            failures: w.failures,
            failed_criterion: criterion.or_else(|| w.last_failed.clone()),
        });
        self.log(t, "weaning", format!("{outcome} at P{level}"));
    }

    /// Applies everything due at or before `t` (within `eps`).
    fn apply_due(&mut self, t: f64, eps: f64, plan: &Course, recent: &[BeatMetrics]) {
        loop {
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
            match what {
                Pending::Event(k) => {
                    let e = &plan.events[k];
                    self.apply(at, "event", &e.label, &e.actions);
                }
                Pending::InfusionEnd => {
                    let before: f64 = self.infusions.iter().map(|i| i.0).sum();
                    self.infusions.retain(|i| i.1 > at + eps);
                    let after: f64 = self.infusions.iter().map(|i| i.0).sum::<f64>() + 0.0;
                    self.log(
                        at,
                        "fluid",
                        format!("infusion rate {before:.3} -> {after:.3} mL/s"),
                    );
                }
                Pending::WeaningStart => {
                    if self
                        .weaning
                        .as_ref()
                        .is_some_and(|w| w.phase == Phase::Idle)
                    {
                        self.log(at, "weaning", "start".into());
                        self.weaning_step_down(at);
                    }
                }
                Pending::WeaningCheck => self.weaning_check(at, recent),
                Pending::Complication(c) => self.complication(at, c),
                Pending::WeaningRetry => self.weaning_step_down(at),
            }
        }
    }

    fn complication(&mut self, t: f64, c: Complication) {
        let detail = match c {
            Complication::Bleeding => {
                self.apply(
                    t,
                    "complication",
                    "bleeding",
                    &[Action::Fluid {
                        volume_ml: -BLEED_ML,
                        over_s: BLEED_S,
                    }],
                );
                return;
            }
            Complication::Haemolysis => "haemolysis (no haemodynamic effect modelled)".to_string(),
            Complication::LimbIschaemia => {
                "limb ischaemia (no haemodynamic effect modelled)".to_string()
            }
            Complication::DeviceStop => match self.pumps.first_mut() {
                Some(p) => {
                    p.set_p_level(0).expect("P0 exists");
                    format!("device stop: {} at P0", p.model)
                }
                None => "device stop: no device in place".to_string(),
            },
            Complication::Malposition => match self.pumps.iter_mut().find(|p| p.side == Side::Left)
            {
                Some(p) => {
                    p.position = Position::InletInAorta;
                    format!("malposition: {} migrated into the aorta", p.model)
                }
                None => "malposition: no left-sided device".to_string(),
            },
        };
        self.log(t, "complication", detail);
    }

    fn next_pending(&self) -> f64 {
        self.pending
            .iter()
            .map(|p| p.0)
            .fold(f64::INFINITY, f64::min)
    }
}

/// Runs the course of `sc` from its steady state.
pub fn run_course<I: Integrator>(
    sc: &Scenario,
    plan: &Course,
    integrator: &mut I,
) -> Result<RunResult, SimError> {
    // Stabilise: the course starts from the periodic steady state of the initial patient.
    let stab_settings = RunSettings {
        keep_all_samples: false,
        report_beats: 1,
        ..sc.run
    };
    let stable = super::run_model(sc.model(), &stab_settings, integrator)?;
    let settings = sc.run;

    let mut st = CourseState {
        base: sc.params,
        ramps: Vec::new(),
        drugs: Vec::new(),
        pumps: sc.pumps.clone(),
        infusions: Vec::new(),
        pending: plan
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.at_s, Pending::Event(i)))
            .collect(),
        log: Vec::new(),
        weaning: plan.weaning.clone().map(|w| WeaningRun {
            plan: w,
            phase: Phase::Idle,
            failures: 0,
            outcome: None,
            last_failed: None,
        }),
        net_fluid_ml: 0.0,
    };
    if let Some(s) = plan.weaning.as_ref().and_then(|w| w.start_s) {
        st.pending.push((s, Pending::WeaningStart));
    }
    // Each complication's first occurrence: exponential waiting time with its hazard, drawn
    // in a fixed order from the scenario's seed, so the same seed gives the same course.
    let mut rng = StdRng::seed_from_u64(sc.seed);
    for (c, per_hour) in &plan.complications {
        if *per_hour > 0.0 {
            let wait_h = Exp::new(*per_hour)
                .expect("positive hazard")
                .sample(&mut rng);
            if wait_h * 3600.0 < plan.duration_s {
                st.pending
                    .push((wait_h * 3600.0, Pending::Complication(*c)));
            }
        }
    }

    let mut y: State = stable.final_state;
    let mut t = 0.0;
    let mut beats: Vec<Beat> = Vec::new();
    let mut alarms = AlarmTracker::default();
    let mut held_since: Vec<Option<f64>> = vec![None; plan.triggers.len()];
    // The last beat's model, whose activation tables the next one shares when it can.
    let mut last_model: Option<Circulation> = None;
    let mut memo = crate::analysis::ActivationMemo::default();
    let mut last_fired: Vec<Option<f64>> = vec![None; plan.triggers.len()];
    let eps = 1e-9;

    while t < plan.duration_s - eps {
        let log_before = st.log.len();
        let recent: Vec<BeatMetrics> = beats
            .iter()
            .rev()
            .take(WEANING_WINDOW_BEATS)
            .map(|b| b.metrics)
            .collect();
        st.apply_due(t, eps, plan, &recent);
        st.settle_ramps(t);
        let mut circ = st.model(t, None, last_model.as_ref());
        let clock = circ.clock(t);
        let t_end = t + clock.period;
        let hr = circ.parameters().heart.hr;

        let mut samples: Vec<Sample> = Vec::new();
        let mut seg_start = t;
        let mut y_cur = y;
        let mut fluid_ml = 0.0;
        loop {
            let split = st.next_pending();
            let seg_end = if split > seg_start + eps && split < t_end - eps {
                split
            } else {
                t_end
            };
            let n = (((seg_end - seg_start) / settings.sample_interval).round() as usize).max(1);
            if !samples.is_empty() {
                samples.pop();
            }
            y_cur = super::kernel::integrate(
                integrator,
                &BeatSystem { circ: &circ, clock },
                seg_start,
                seg_end,
                &y_cur,
                n,
                &mut samples,
            )?;
            fluid_ml += circ.infusion_ml_s() * (seg_end - seg_start);
            if seg_end >= t_end - eps {
                break;
            }
            // An event inside the beat: apply it now and continue with the same beat clock.
            st.apply_due(seg_end, eps, plan, &recent);
            circ = st.model(seg_end, Some(hr), Some(&circ));
            seg_start = seg_end;
        }
        st.net_fluid_ml += fluid_ml;
        let metrics = super::kernel::measure(&circ, &clock, &samples, &mut memo)?;
        alarms.observe(&circ, &clock, &samples, &metrics);
        last_model = Some(circ);
        let change = beat_to_beat_change(&y, &y_cur);
        y = y_cur;
        t = t_end;

        // Triggers: a condition held for its duration fires its actions at the beat's end.
        for (k, trig) in plan.triggers.iter().enumerate() {
            if trig.holds(&metrics) {
                let since = *held_since[k].get_or_insert(clock.t_start);
                let cooled = last_fired[k].is_none_or(|f| t - f >= trig.cooldown_s);
                let allowed = trig.repeat || last_fired[k].is_none();
                if t - since >= trig.sustained_s && cooled && allowed {
                    let name = crate::analysis::BeatMetrics::NAMES[trig.metric];
                    st.log(
                        t,
                        "trigger",
                        format!(
                            "{}: {name} = {:.2}",
                            trig.label,
                            metrics.values()[trig.metric]
                        ),
                    );
                    st.apply(t, "trigger", &trig.label, &trig.actions);
                    last_fired[k] = Some(t);
                    held_since[k] = None;
                }
            } else {
                held_since[k] = None;
            }
        }

        let keep = settings.keep_all_samples;
        beats.push(Beat {
            clock,
            metrics,
            samples,
            fast_forwarded: 0,
        });
        if !keep {
            if let Some(old) = beats.len().checked_sub(settings.report_beats + 1) {
                beats[old].samples = Vec::new();
            }
        }

        // Fast-forward: at periodic steady state with nothing changing (no action in this
        // beat either), later beats repeat this one exactly; skip them in whole beats up to
        // one beat before the next action.
        let quiet = settings.fast_forward
            && st.log.len() == log_before
            && st.ramps.is_empty()
            && st.infusions.is_empty()
            && held_since.iter().all(Option::is_none)
            && change < FAST_FORWARD_TOLERANCE_FACTOR * settings.steady_tolerance;
        if quiet {
            let next = st.next_pending().min(plan.duration_s);
            let skip = ((next - t) / clock.period).floor() as i64 - 1;
            if skip >= 1 {
                t += skip as f64 * clock.period;
                beats.last_mut().expect("just pushed").fast_forwarded = skip as usize;
            }
        }
    }

    let n_report = settings.report_beats.min(beats.len());
    let report_metrics: Vec<BeatMetrics> = beats[beats.len() - n_report..]
        .iter()
        .map(|b| b.metrics)
        .collect();
    let weaning = st.weaning.as_ref().map(|w| {
        w.outcome.clone().unwrap_or(WeaningOutcome {
            outcome: if w.phase == Phase::Idle {
                "not_started"
            } else {
                "in_progress"
            },
            t_s: None,
            p_level: st
                .pumps
                .iter()
                .find(|p| w.plan.device.as_ref().is_none_or(|d| *d == p.model))
                .map_or(0, |p| p.p_level()),
            failures: w.failures,
            failed_criterion: w.last_failed.clone(),
        })
    });
    Ok(RunResult {
        circulation: st.model(t, None, last_model.as_ref()),
        beats,
        steady: stable.steady,
        report: BeatMetrics::mean(&report_metrics),
        events: alarms.events,
        log: st.log,
        weaning,
        net_fluid_ml: st.net_fluid_ml,
        final_state: y,
        stats: integrator.stats(),
        settings,
    })
}

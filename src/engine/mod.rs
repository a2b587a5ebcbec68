//! The engine: one patient with its devices, advanced beat by beat.
//!
//! Contract (in the manner of the physiology engines): build from a typed [`EngineSpec`]
//! (patient parameters, devices, solver, run settings) → [`Engine::stabilise`] to periodic
//! steady state → [`Engine::advance_beat`] / [`Engine::advance`] by beats or by time →
//! [`Engine::apply`] an [`Action`] at any time → read the current beat's metrics, state,
//! devices and [`Event`]s. Every run of the crate — plain runs, courses, sweeps, validation,
//! benchmarks — integrates its beats here ([`Engine::advance_beat_with`], the one beat loop).
//!
//! Between beats, [`process`]es change the model (ramps, drugs, infusions); a [`Schedule`]
//! (the course [`protocol`]: timed events, triggers, weaning, complications) applies actions
//! at exact times, splitting a beat where one falls inside it. Each beat comes out as a
//! [`Beat`] record carrying the model it ran on, pushed to [`BeatSink`]s: outputs are sinks
//! and no output setting steers what the engine keeps. docs/architecture.md shows the flow.

pub mod action;
pub mod event;
pub mod kernel;
pub mod process;
pub mod protocol;

use std::sync::Arc;

use thiserror::Error;

use crate::analysis::console::{active_alarms, suction_onsets};
use crate::analysis::{beat_to_beat_change, ActivationMemo, BeatMetrics};
use crate::devices::{Position, Pump, Side};
use crate::physiology::activation::BeatClock;
use crate::physiology::{Circulation, ParameterError, Parameters, Slot, State, N_STATES};
use crate::solver::{
    Branches, Integrator, OdeSystem, Sample, Solver, SolverError, SolverSettings, SolverStats,
    Switches,
};
pub use action::{Action, Complication, LevelChange};
pub use event::{Cause, Event, EventKind};
use process::{DrugEffect, Infusion, Process, Ramp, Replaces, Stage};

/// Version of the model's equations and default parameters: raised whenever a model change
/// moves the golden outputs (not for refactors, speed work or new outputs), so two results
/// with the same version come from the same physiology. 2: the arterial baroreflex, on by
/// default.
pub const MODEL_VERSION: u32 = 2;

/// The commit the crate was built from ("unknown" outside a git checkout; build.rs).
pub const GIT_COMMIT: &str = env!("IMPELLA_SIM_GIT_COMMIT");

/// How long to run and what to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSettings {
    /// Stop at periodic steady state (then run `report_beats` more); otherwise run `max_beats`.
    pub steady_state: bool,
    /// Largest number of beats before reporting (the whole run when `steady_state` is off).
    pub max_beats: usize,
    /// Beat-to-beat relative state change below which the run is at steady state.
    pub steady_tolerance: f64,
    /// Number of final beats averaged into the summary.
    pub report_beats: usize,
    /// Target sample interval inside a beat, s (adjusted so a beat holds a whole number).
    pub sample_interval: f64,
    /// Keep every beat's samples in the [`RunResult`]; otherwise only the report beats'.
    /// A setting of the [`Recorder`], not of the engine.
    pub keep_all_samples: bool,
    /// In a course, skip repeated beats at periodic steady state (see docs/scenarios.md).
    pub fast_forward: bool,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            steady_state: true,
            max_beats: 1000,
            steady_tolerance: 1e-4,
            report_beats: 5,
            sample_interval: 1e-3,
            keep_all_samples: true,
            fast_forward: true,
        }
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimError {
    /// A parameter outside its range.
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    /// The integrator failed.
    #[error(transparent)]
    Solver(#[from] SolverError),
    /// A state became NaN or infinite (`slot`, at `t` s).
    #[error("the state became non-finite ({slot}) at t = {t:.3} s: the parameters give an unstable or unphysical circulation")]
    NonFinite {
        /// The state's name.
        slot: &'static str,
        /// Time, s.
        t: f64,
    },
    /// A volume became negative.
    #[error("{slot} became negative ({value:.2} mL) at t = {t:.3} s: the parameters drain a compartment completely")]
    NegativeVolume {
        /// The state's name.
        slot: &'static str,
        /// Its value, mL.
        value: f64,
        /// Time, s.
        t: f64,
    },
    /// A device cannot be placed (its side taken, a position it cannot have).
    #[error("device placement: {0}")]
    Coupling(#[from] crate::physiology::circulation::CouplingError),
}

/// Steady-state outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadyState {
    /// Whether the tolerance was met within `max_beats`.
    pub reached: bool,
    /// Beats simulated until it was met (or until the run stopped looking).
    pub beats: usize,
    /// Beat-to-beat change at that point.
    pub last_change: f64,
}

/// One simulated beat: its clock, metrics, samples and the model it ran on.
#[derive(Debug, Clone)]
pub struct Beat {
    /// Onset, period and timing of the beat.
    pub clock: BeatClock,
    /// What the beat measured.
    pub metrics: BeatMetrics,
    /// Samples from onset to the next onset, both included (empty once a [`Recorder`] has
    /// dropped them, see [`RunSettings::keep_all_samples`]).
    pub samples: Vec<Sample>,
    /// Identical beats skipped after this one at periodic steady state (fast-forward).
    pub fast_forwarded: usize,
    /// The model at the beat's end (after any action inside it): what its pressures are
    /// computed with. Shared with the beats around it while nothing changes.
    pub model: Arc<Circulation>,
    /// Beat-to-beat relative change of the state over this beat.
    pub change: f64,
}

/// Receives each beat as the engine finishes it (outputs, recorders, live views).
pub trait BeatSink {
    /// The beat, lent.
    fn beat(&mut self, beat: &Beat);

    /// The beat, handed over: a sink that keeps beats takes it without copying its samples.
    fn take(&mut self, beat: Beat) {
        self.beat(&beat);
    }
}

impl<F: FnMut(&Beat)> BeatSink for F {
    fn beat(&mut self, beat: &Beat) {
        self(beat)
    }
}

/// A sink that keeps nothing.
pub struct Discard;

impl BeatSink for Discard {
    fn beat(&mut self, _beat: &Beat) {}
}

/// Two sinks fed in turn; the second is handed the beat.
pub struct Tee<'a>(pub &'a mut dyn BeatSink, pub &'a mut dyn BeatSink);

impl BeatSink for Tee<'_> {
    fn beat(&mut self, beat: &Beat) {
        self.0.beat(beat);
        self.1.beat(beat);
    }

    fn take(&mut self, beat: Beat) {
        self.0.beat(&beat);
        self.1.take(beat);
    }
}

/// Keeps the beats of a run for a [`RunResult`]: every beat's clock and metrics, and the
/// samples of the last `report_beats` (or of all, with `keep_all_samples`).
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The beats so far.
    pub beats: Vec<Beat>,
    keep_all_samples: bool,
    report_beats: usize,
}

impl Recorder {
    /// A recorder that keeps samples as `settings` says.
    pub fn new(settings: &RunSettings) -> Self {
        Recorder {
            beats: Vec::new(),
            keep_all_samples: settings.keep_all_samples,
            report_beats: settings.report_beats,
        }
    }
}

impl BeatSink for Recorder {
    fn beat(&mut self, beat: &Beat) {
        self.take(beat.clone());
    }

    fn take(&mut self, beat: Beat) {
        self.beats.push(beat);
        if !self.keep_all_samples {
            // Only the report window can still be needed.
            if let Some(old) = self.beats.len().checked_sub(self.report_beats + 1) {
                self.beats[old].samples = Vec::new();
            }
        }
    }
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Every reported beat (its samples only for the report beats unless
    /// `keep_all_samples`).
    pub beats: Vec<Beat>,
    /// Whether and when steady state was reached (a course: before it started).
    pub steady: SteadyState,
    /// Mean metrics over the last `report_beats` beats.
    pub report: BeatMetrics,
    /// What happened, in order: course actions, weaning, complications, console alarms.
    pub events: Vec<Event>,
    /// Weaning outcome, when the course has a protocol.
    pub weaning: Option<protocol::WeaningOutcome>,
    /// Infused minus lost fluid over the run, mL (blood volume = parameter + this).
    pub net_fluid_ml: f64,
    /// Devices at the end of the run (level, speed, position).
    pub devices: Vec<Pump>,
    /// State at the end of the run.
    pub final_state: State,
    /// The model at the end of the run.
    pub final_model: Arc<Circulation>,
    /// The integrator's work over the run.
    pub stats: SolverStats,
    /// The settings it ran with.
    pub settings: RunSettings,
}

impl RunResult {
    /// The beats averaged into [`RunResult::report`].
    pub fn report_beats(&self) -> &[Beat] {
        let n = self.settings.report_beats.min(self.beats.len());
        &self.beats[self.beats.len() - n..]
    }

    /// Simulated time, s.
    pub fn duration(&self) -> f64 {
        self.beats
            .last()
            .map(|b| b.clock.t_start + b.clock.period)
            .unwrap_or(0.0)
    }

    /// Console alarm onsets.
    pub fn alarms(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.alarm().is_some())
    }

    /// What the course did (every event but alarms).
    pub fn course_log(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.alarm().is_none())
    }
}

/// First step after an activation onset, s: the activation rises as t^m1 (m1 ≈ 1.3) from
/// it, which a long first step would integrate with an error its estimate does not see.
const ONSET_STEP_S: f64 = 1e-4;

/// Times closer than this are one time, s.
const EPS_S: f64 = 1e-9;

/// Beats remembered for protocols that look at the recent past (weaning checks).
pub const RECENT_BEATS: usize = 10;

/// The model during one beat, as an ODE system.
pub struct BeatSystem<'a> {
    /// The model.
    pub circ: &'a Circulation,
    /// The beat's clock.
    pub clock: BeatClock,
}

impl OdeSystem for BeatSystem<'_> {
    #[inline(always)]
    fn rhs(&self, t: f64, y: &State, dy: &mut State) {
        self.circ.rhs(&self.clock, t, y, dy);
    }

    #[inline(always)]
    fn switching(&self, t: f64, y: &State, g: &mut Switches) -> usize {
        self.circ.switching(&self.clock, t, y, g);
        Circulation::N_SWITCHES
    }

    fn step_after(&self, switch: Option<usize>) -> f64 {
        match switch {
            // A call starts at a beat's onset or at an event; switch 4 is the atrial onset.
            None | Some(Circulation::ATRIAL_ONSET) => ONSET_STEP_S,
            Some(_) => f64::INFINITY,
        }
    }

    #[inline(always)]
    fn rhs_on(&self, t: f64, y: &State, branches: Branches, dy: &mut State) {
        // The valves' switching functions come first, in the bit order of ValveBranches.
        self.circ.rhs_on(&self.clock, t, y, branches, dy);
    }

    #[inline(always)]
    fn rhs_switching(
        &self,
        t: f64,
        y: &State,
        branches: Option<Branches>,
        dy: &mut State,
        g: &mut Switches,
    ) -> usize {
        self.circ.rhs_switching(&self.clock, t, y, branches, dy, g);
        Circulation::N_SWITCHES
    }
}

/// What an engine is built from: the patient, the devices, how to integrate and how long.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    /// The patient's parameters (validated when the engine is built).
    pub params: Parameters,
    /// Devices in place at the start, in order.
    pub pumps: Vec<Pump>,
    /// Integrator and tolerances.
    pub solver: SolverSettings,
    /// Steady state, report beats, sampling, fast-forward.
    pub run: RunSettings,
}

/// What changes the model between beats: the patient's own parameters, the devices and the
/// running processes. Actions act here; the engine rebuilds its model from it when it changed.
#[derive(Debug, Clone)]
pub struct Controls {
    base: Parameters,
    pumps: Vec<Pump>,
    processes: Vec<Box<dyn Process>>,
    events: Vec<Event>,
    /// Events recorded that are not console alarms.
    actions_recorded: usize,
    /// Something changed since the model was built.
    dirty: bool,
}

impl Controls {
    fn new(base: Parameters, pumps: Vec<Pump>) -> Self {
        Controls {
            base,
            pumps,
            processes: Vec::new(),
            events: Vec::new(),
            actions_recorded: 0,
            dirty: true,
        }
    }

    /// The patient's parameters before processes act.
    pub fn base(&self) -> &Parameters {
        &self.base
    }

    /// Devices in place.
    pub fn pumps(&self) -> &[Pump] {
        &self.pumps
    }

    /// The device `model` (any, if `None`: the first), for protocols that step it.
    pub fn pump(&self, model: Option<&str>) -> Option<&Pump> {
        match model {
            Some(m) => self.pumps.iter().find(|p| p.model == m),
            None => self.pumps.first(),
        }
    }

    /// Events recorded so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Records an event.
    pub fn record(&mut self, t_s: f64, cause: Cause, what: EventKind) {
        if cause != Cause::Console {
            self.actions_recorded += 1;
        }
        self.events.push(Event { t_s, cause, what });
    }

    /// How many events other than console alarms were recorded so far.
    pub fn actions_recorded(&self) -> usize {
        self.actions_recorded
    }

    /// Adds a process (after those of its stage).
    pub fn add_process(&mut self, p: Box<dyn Process>) {
        self.processes.push(p);
        self.dirty = true;
    }

    fn replace(&mut self, what: Replaces) {
        self.processes.retain(|p| !p.replaced_by(&what));
    }

    /// Parameters at `t_s` with the processes of stages up to `last` applied, in stage order.
    fn params_through(&self, t_s: f64, last: Stage) -> Parameters {
        let mut p = self.base;
        for stage in [Stage::Set, Stage::Scale] {
            if stage > last {
                break;
            }
            for proc in self.processes.iter().filter(|q| q.stage() == stage) {
                proc.modify(t_s, &mut p);
            }
        }
        p
    }

    /// Parameters a beat starting at `t_s` runs on.
    pub fn params_at(&self, t_s: f64) -> Parameters {
        self.params_through(t_s, Stage::Scale)
    }

    fn infusion_ml_s(&self) -> f64 {
        self.processes.iter().map(|p| p.infusion_ml_s()).sum()
    }

    /// Whether every process is quiet at `t_s`.
    pub fn quiet(&self, t_s: f64) -> bool {
        self.processes.iter().all(|p| p.quiet(t_s))
    }

    /// The model at `t_s` (at heart rate `hr` if given: a beat keeps its period), sharing
    /// what it can with `previous`.
    fn model(
        &self,
        t_s: f64,
        hr: Option<f64>,
        previous: &Circulation,
    ) -> Result<Circulation, SimError> {
        let mut p = self.params_at(t_s);
        if let Some(hr) = hr {
            p.heart.hr = hr;
        }
        let circ = Circulation::new_reusing(p, previous);
        Ok(self
            .pumps
            .iter()
            .try_fold(circ, |m, pump| m.with_pump(pump.clone()))?
            .with_infusion(self.infusion_ml_s()))
    }

    /// Commits processes finished by `t_s` into the base parameters.
    fn settle(&mut self, t_s: f64) {
        let mut i = 0;
        while i < self.processes.len() {
            if self.processes[i].finished(t_s) {
                let p = self.processes.remove(i);
                p.commit(&mut self.base);
                self.dirty = true;
            } else {
                i += 1;
            }
        }
    }

    /// The next time a process changes at once.
    fn next_end(&self) -> f64 {
        self.processes
            .iter()
            .filter_map(|p| p.ends_at())
            .fold(f64::INFINITY, f64::min)
    }

    /// Ends the processes due by `t_s`, recording the infusion rate change.
    fn end_due(&mut self, t_s: f64) {
        while self.next_end() <= t_s + EPS_S {
            let at = self.next_end();
            let before = self.infusion_ml_s();
            self.processes
                .retain(|p| p.ends_at().is_none_or(|e| e > at + EPS_S));
            let after = self.infusion_ml_s() + 0.0;
            self.dirty = true;
            self.record(
                at,
                Cause::Fluid,
                EventKind::InfusionRate {
                    from_ml_s: before,
                    to_ml_s: after,
                },
            );
        }
    }

    fn pump_mut(&mut self, model: Option<&str>) -> Option<&mut Pump> {
        match model {
            Some(m) => self.pumps.iter_mut().find(|p| p.model == m),
            None => self.pumps.first_mut(),
        }
    }

    /// Changes a device's P-level (clamped to its levels); records the change.
    pub fn set_level(&mut self, t_s: f64, cause: Cause, model: Option<&str>, change: LevelChange) {
        let Some(p) = self.pump_mut(model) else {
            let device = model.map(str::to_string);
            self.record(t_s, cause, EventKind::PLevelSkipped { device });
            return;
        };
        let from = p.p_level();
        let to = match change {
            LevelChange::To(n) => n.min(p.max_p_level()),
            LevelChange::By(d) => {
                (i16::from(from) + i16::from(d)).clamp(0, i16::from(p.max_p_level())) as u8
            }
        };
        let device = p.model.clone();
        p.set_p_level(to)
            .expect("level clamped into the device's range");
        self.dirty = true;
        self.record(t_s, cause, EventKind::PLevel { device, from, to });
    }

    /// Applies an action at `t_s`, recording it with its cause. [`Action::StartWeaning`] is
    /// the schedule's (a protocol's) to act on: here it does nothing.
    pub fn apply(&mut self, t_s: f64, cause: &Cause, action: &Action) {
        self.dirty = true;
        let cause = cause.clone();
        match action {
            Action::Set(list) => {
                for (path, v) in list {
                    let spec = crate::physiology::parameters::spec(path).expect("validated");
                    self.replace(Replaces::Parameter(spec.path));
                    self.base.set(path, *v).expect("validated");
                }
                let values = list.clone();
                self.record(t_s, cause, EventKind::Set { values });
            }
            Action::Ramp { targets, over_s } => {
                for (path, to) in targets {
                    let spec = crate::physiology::parameters::spec(path).expect("validated");
                    let from = spec.get(&self.params_through(t_s, Stage::Set));
                    self.replace(Replaces::Parameter(spec.path));
                    self.add_process(Box::new(Ramp {
                        path: spec.path,
                        from,
                        to: *to,
                        t0_s: t_s,
                        t1_s: t_s + over_s,
                    }));
                }
                let (targets, over_s) = (targets.clone(), *over_s);
                self.record(t_s, cause, EventKind::Ramp { targets, over_s });
            }
            Action::PLevel { device, change } => {
                self.set_level(t_s, cause, device.as_deref(), *change)
            }
            Action::AddDevice(p) => {
                self.record(
                    t_s,
                    cause,
                    EventKind::DeviceAdded {
                        device: p.model.clone(),
                        p_level: p.p_level(),
                    },
                );
                self.pumps.push(p.clone());
            }
            Action::RemoveDevice(m) => {
                self.pumps.retain(|p| p.model != *m);
                self.record(t_s, cause, EventKind::DeviceRemoved { device: m.clone() });
            }
            Action::SwitchDevice(p) => {
                let from: Vec<String> = self
                    .pumps
                    .iter()
                    .filter(|q| q.side == p.side)
                    .map(|q| q.model.clone())
                    .collect();
                self.pumps.retain(|q| q.side != p.side);
                self.pumps.push(p.clone());
                let (to, p_level) = (p.model.clone(), p.p_level());
                self.record(t_s, cause, EventKind::DeviceSwitched { from, to, p_level });
            }
            Action::Fluid { volume_ml, over_s } => {
                self.add_process(Box::new(Infusion {
                    rate_ml_s: volume_ml / over_s,
                    end_s: t_s + over_s,
                }));
                let (volume_ml, over_s) = (*volume_ml, *over_s);
                self.record(t_s, cause, EventKind::Fluid { volume_ml, over_s });
            }
            Action::Drug { drug, dose } => {
                self.replace(Replaces::Drug(*drug));
                if *dose > 0.0 {
                    self.add_process(Box::new(DrugEffect {
                        drug: *drug,
                        dose: *dose,
                    }));
                }
                let (drug, dose) = (*drug, *dose);
                self.record(t_s, cause, EventKind::Drug { drug, dose });
            }
            Action::StartWeaning => {}
        }
    }

    /// A complication's effect on the devices or the patient, recorded.
    pub fn complication(&mut self, t_s: f64, c: Complication) {
        let cause = Cause::Complication(c);
        let device = match c {
            Complication::Bleeding => {
                let bleed = Action::Fluid {
                    volume_ml: -action::BLEED_ML,
                    over_s: action::BLEED_S,
                };
                return self.apply(t_s, &cause, &bleed);
            }
            Complication::Haemolysis | Complication::LimbIschaemia => None,
            Complication::DeviceStop => self.pumps.first_mut().map(|p| {
                p.set_p_level(0).expect("P0 exists");
                p.model.clone()
            }),
            Complication::Malposition => {
                self.pumps
                    .iter_mut()
                    .find(|p| p.side == Side::Left)
                    .map(|p| {
                        p.position = Position::InletInAorta;
                        p.model.clone()
                    })
            }
        };
        self.dirty = true;
        self.record(
            t_s,
            cause,
            EventKind::Complication {
                complication: c,
                device,
            },
        );
    }
}

/// Actions at exact times, decided from outside the engine: the course protocol.
pub trait Schedule {
    /// The next time at which the schedule has something to apply (infinite if none).
    fn next_due(&self) -> f64;

    /// Applies everything due at or before `t_s`. `recent` holds the metrics of the last
    /// [`RECENT_BEATS`] beats, newest first.
    fn apply_due(&mut self, t_s: f64, controls: &mut Controls, recent: &[BeatMetrics]);
}

/// A schedule with nothing on it.
pub struct Unscheduled;

impl Schedule for Unscheduled {
    fn next_due(&self) -> f64 {
        f64::INFINITY
    }

    fn apply_due(&mut self, _t_s: f64, _controls: &mut Controls, _recent: &[BeatMetrics]) {}
}

/// How far to advance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Advance {
    /// This many beats.
    Beats(usize),
    /// Whole beats until at least this much time has passed, s.
    Seconds(f64),
}

/// One patient with its devices, advanced beat by beat (see the module documentation).
/// Cloning an engine saves its state: the clone continues from the same point.
#[derive(Debug, Clone)]
pub struct Engine<I: Integrator = Solver> {
    integrator: I,
    settings: RunSettings,
    controls: Controls,
    t: f64,
    y: State,
    model: Arc<Circulation>,
    memo: ActivationMemo,
    alarms: AlarmTracker,
    /// Metrics of the last [`RECENT_BEATS`] beats, newest first.
    recent: Vec<BeatMetrics>,
    net_fluid_ml: f64,
    steady: Option<SteadyState>,
    last: Option<BeatMetrics>,
}

impl Engine<Solver> {
    /// Builds the engine of `spec` with the integrator its solver settings name.
    pub fn new(spec: EngineSpec) -> Result<Self, SimError> {
        let integrator = Solver::new(spec.solver);
        Engine::with_integrator(spec, integrator)
    }
}

impl<I: Integrator> Engine<I> {
    /// Builds the engine of `spec` with `integrator`, at static equilibrium.
    pub fn with_integrator(spec: EngineSpec, integrator: I) -> Result<Self, SimError> {
        spec.params.validate()?;
        let model = spec
            .pumps
            .iter()
            .try_fold(Circulation::new(spec.params), |m, p| m.with_pump(p.clone()))?;
        Engine::assemble(spec, model, integrator).close_loop()
    }

    /// An engine for an assembled model (with its pumps and infusion), at static equilibrium.
    pub fn for_model(
        circ: Circulation,
        settings: &RunSettings,
        integrator: I,
    ) -> Result<Self, SimError> {
        circ.parameters().validate()?;
        let spec = EngineSpec {
            params: *circ.parameters(),
            pumps: circ.pumps().map(|c| c.pump.clone()).collect(),
            solver: integrator.settings(),
            run: *settings,
        };
        // The model as given (with its infusion, which is no process of the engine's).
        Engine::assemble(spec, circ, integrator).close_loop()
    }

    /// With the baroreflex on, finds the patient at rest before any device (open loop,
    /// periodic steady state): its mean arterial pressure is the reflex's set point and its
    /// state the engine's start (a device is placed in the resting patient). Off, the engine
    /// stays as it is (the open loop of earlier versions, bit for bit).
    fn close_loop(mut self) -> Result<Self, SimError> {
        let mut params = self.controls.base;
        if !params.reflex.on() {
            return Ok(self);
        }
        params.reflex.gain = 0.0;
        let mut rest = Engine::new(EngineSpec {
            params,
            pumps: Vec::new(),
            solver: self.integrator.settings(),
            run: RunSettings {
                steady_state: true,
                max_beats: self
                    .settings
                    .max_beats
                    .max(RunSettings::default().max_beats),
                ..self.settings
            },
        })?;
        rest.stabilise(&mut Discard)?;
        let (map, cvp) = rest
            .metrics()
            .map_or((0.0, 0.0), |m| (m.map_mmhg, m.cvp_mmhg));
        for s in Slot::VOLUMES {
            self.y[s.i()] = rest.y[s.i()];
        }
        self.controls
            .add_process(Box::new(process::Reflex::new(map, cvp)));
        Ok(self)
    }

    fn assemble(spec: EngineSpec, model: Circulation, integrator: I) -> Self {
        Engine {
            integrator,
            settings: spec.run,
            controls: Controls {
                dirty: false,
                ..Controls::new(spec.params, spec.pumps)
            },
            t: 0.0,
            y: model.initial_state(),
            model: Arc::new(model),
            memo: ActivationMemo::default(),
            alarms: AlarmTracker::default(),
            recent: Vec::with_capacity(RECENT_BEATS + 1),
            net_fluid_ml: 0.0,
            steady: None,
            last: None,
        }
    }

    /// Runs to periodic steady state (or `max_beats`), each beat to `sink`. Console alarms
    /// of the start-up transient are not the patient's: they are cleared here.
    pub fn stabilise(&mut self, sink: &mut dyn BeatSink) -> Result<SteadyState, SimError> {
        let mut n = 0;
        loop {
            let beat = self.advance_beat()?;
            let change = beat.change;
            sink.take(beat);
            n += 1;
            // Processes (a reflex) must have settled too.
            let settled = change < self.settings.steady_tolerance && self.controls.quiet(self.t);
            if settled || n >= self.settings.max_beats {
                let steady = SteadyState {
                    reached: settled,
                    beats: n,
                    last_change: change,
                };
                self.alarms = AlarmTracker::default();
                self.controls.events.retain(|e| e.alarm().is_none());
                self.steady = Some(steady);
                return Ok(steady);
            }
        }
    }

    /// Restarts the clock at 0 from the current state (a course starts from its stabilised
    /// patient): the recent beats and console alarm states are forgotten.
    pub fn restart_clock(&mut self) {
        self.t = 0.0;
        self.recent.clear();
        self.alarms = AlarmTracker::default();
        self.controls.events.retain(|e| e.alarm().is_none());
    }

    /// Advances one beat with no schedule.
    pub fn advance_beat(&mut self) -> Result<Beat, SimError> {
        self.advance_beat_with(&mut Unscheduled)
    }

    /// Advances by beats or time, each beat to `sink`.
    pub fn advance(&mut self, by: Advance, sink: &mut dyn BeatSink) -> Result<(), SimError> {
        match by {
            Advance::Beats(n) => {
                for _ in 0..n {
                    let b = self.advance_beat()?;
                    sink.take(b);
                }
            }
            Advance::Seconds(s) => {
                let end = self.t + s;
                while self.t < end - EPS_S {
                    let b = self.advance_beat()?;
                    sink.take(b);
                }
            }
        }
        Ok(())
    }

    /// Applies an action now (at the next beat's start, or now if between beats).
    pub fn apply(&mut self, action: &Action) {
        self.controls.apply(self.t, &Cause::Command, action);
    }

    /// Adds a process that changes the model between beats.
    pub fn add_process(&mut self, p: Box<dyn Process>) {
        self.controls.add_process(p);
    }

    /// Integrates one beat, applying what `schedule` has due at its start and inside it (the
    /// beat is split at each such time; the beat keeps the heart period it started with).
    pub fn advance_beat_with(&mut self, schedule: &mut dyn Schedule) -> Result<Beat, SimError> {
        let t = self.t;
        schedule.apply_due(t, &mut self.controls, &self.recent);
        self.controls.end_due(t);
        self.controls.settle(t);
        if self.controls.dirty || !self.controls.quiet(t) {
            self.model = Arc::new(self.controls.model(t, None, &self.model)?);
            self.controls.dirty = false;
        }
        let clock = self.model.clock(t);
        let t_end = t + clock.period;
        let hr = self.model.parameters().heart.hr;
        let whole = ((clock.period / self.settings.sample_interval).round() as usize).max(8);
        let mut samples: Vec<Sample> = Vec::with_capacity(whole + 1);
        let mut seg_start = t;
        let mut y = self.y;
        loop {
            let split = schedule.next_due().min(self.controls.next_end());
            let seg_end = if split > seg_start + EPS_S && split < t_end - EPS_S {
                split
            } else {
                t_end
            };
            let n = if seg_start == t && seg_end == t_end {
                whole
            } else {
                (((seg_end - seg_start) / self.settings.sample_interval).round() as usize).max(1)
            };
            // Segments share their boundary sample: keep the later one's.
            if seg_start > t {
                samples.pop();
            }
            y = kernel::integrate(
                &mut self.integrator,
                &BeatSystem {
                    circ: &self.model,
                    clock,
                },
                seg_start,
                seg_end,
                &y,
                n,
                &mut samples,
            )?;
            self.net_fluid_ml += self.model.infusion_ml_s() * (seg_end - seg_start);
            if seg_end >= t_end - EPS_S {
                break;
            }
            // An action inside the beat: apply it now and go on with the same beat clock.
            schedule.apply_due(seg_end, &mut self.controls, &self.recent);
            self.controls.end_due(seg_end);
            self.model = Arc::new(self.controls.model(seg_end, Some(hr), &self.model)?);
            self.controls.dirty = false;
            seg_start = seg_end;
        }
        let metrics = kernel::measure(&self.model, &clock, &samples, &mut self.memo)?;
        let onsets = self.alarms.observe(&self.model, &clock, &samples, &metrics);
        for (t_s, device, alarm) in onsets {
            self.controls
                .record(t_s, Cause::Console, EventKind::Alarm { device, alarm });
        }
        let change = beat_to_beat_change(&self.y, &y);
        self.y = y;
        self.t = t_end;
        self.recent.insert(0, metrics);
        self.recent.truncate(RECENT_BEATS);
        self.last = Some(metrics);
        let beat = Beat {
            clock,
            metrics,
            samples,
            fast_forwarded: 0,
            model: Arc::clone(&self.model),
            change,
        };
        for p in &mut self.controls.processes {
            p.observe(&beat);
        }
        Ok(beat)
    }

    /// Skips `beats` whole beats of the last one's period: at periodic steady state with
    /// nothing evolving they repeat it exactly. The caller checks that (see [`protocol`]).
    pub fn skip_beats(&mut self, beats: usize, period: f64) {
        self.t += beats as f64 * period;
    }

    /// Current time, s.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// Current state.
    pub fn state(&self) -> &State {
        &self.y
    }

    /// The model the last beat ran on (or will run on, before the first).
    pub fn model(&self) -> &Arc<Circulation> {
        &self.model
    }

    /// Metrics of the last beat.
    pub fn metrics(&self) -> Option<&BeatMetrics> {
        self.last.as_ref()
    }

    /// Devices in place.
    pub fn pumps(&self) -> &[Pump] {
        self.controls.pumps()
    }

    /// Events recorded so far.
    pub fn events(&self) -> &[Event] {
        self.controls.events()
    }

    /// The controls, for protocols.
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// The controls, for protocols that act between beats.
    pub fn controls_mut(&mut self) -> &mut Controls {
        &mut self.controls
    }

    /// The steady state found by [`Engine::stabilise`].
    pub fn steady(&self) -> Option<SteadyState> {
        self.steady
    }

    /// Infused minus lost fluid so far, mL.
    pub fn net_fluid_ml(&self) -> f64 {
        self.net_fluid_ml
    }

    /// The run settings.
    pub fn settings(&self) -> &RunSettings {
        &self.settings
    }

    /// The integrator's work so far.
    pub fn stats(&self) -> SolverStats {
        self.integrator.stats()
    }

    /// Whether processes are quiet now.
    pub fn quiet(&self) -> bool {
        self.controls.quiet(self.t)
    }

    /// The run's result from the beats a [`Recorder`] kept.
    pub fn result(
        self,
        beats: Vec<Beat>,
        steady: SteadyState,
        weaning: Option<protocol::WeaningOutcome>,
    ) -> RunResult {
        let n_report = self.settings.report_beats.min(beats.len());
        let report: Vec<BeatMetrics> = beats[beats.len() - n_report..]
            .iter()
            .map(|b| b.metrics)
            .collect();
        RunResult {
            report: BeatMetrics::mean(&report),
            beats,
            steady,
            events: self.controls.events,
            weaning,
            net_fluid_ml: self.net_fluid_ml,
            devices: self.controls.pumps,
            final_state: self.y,
            final_model: self.model,
            stats: self.integrator.stats(),
            settings: self.settings,
        }
    }
}

/// Runs a plain run: to steady state and `report_beats` more (or `max_beats` without the
/// steady-state search), every beat to `sink`. Returns the steady-state outcome.
pub fn run_plain<I: Integrator>(
    engine: &mut Engine<I>,
    sink: &mut dyn BeatSink,
) -> Result<SteadyState, SimError> {
    let s = *engine.settings();
    if s.steady_state {
        let steady = engine.stabilise(sink)?;
        engine.advance(Advance::Beats(s.report_beats), sink)?;
        Ok(steady)
    } else {
        let mut last = f64::INFINITY;
        for _ in 0..s.max_beats {
            let b = engine.advance_beat()?;
            last = b.change;
            sink.take(b);
        }
        Ok(SteadyState {
            reached: last < s.steady_tolerance,
            beats: s.max_beats,
            last_change: last,
        })
    }
}

/// Runs a spec: a plain run, or its course after stabilisation. `sink` sees every reported
/// beat (a course's stabilisation is not reported).
pub fn run_spec_with<I: Integrator>(
    spec: EngineSpec,
    course: Option<&protocol::Course>,
    seed: u64,
    integrator: I,
    sink: &mut dyn BeatSink,
) -> Result<RunResult, SimError> {
    let settings = spec.run;
    let mut engine = Engine::with_integrator(spec, integrator)?;
    let mut recorder = Recorder::new(&settings);
    match course {
        None => {
            let steady = run_plain(&mut engine, &mut Tee(sink, &mut recorder))?;
            Ok(engine.result(recorder.beats, steady, None))
        }
        Some(plan) => {
            let mut tee = Tee(sink, &mut recorder);
            let weaning = protocol::run_course(&mut engine, plan, seed, &mut tee)?;
            let steady = engine.steady().expect("a course stabilises first");
            Ok(engine.result(recorder.beats, steady, weaning))
        }
    }
}

/// [`run_spec_with`] with the integrator the spec's solver settings name.
pub fn run_spec(
    spec: EngineSpec,
    course: Option<&protocol::Course>,
    seed: u64,
    sink: &mut dyn BeatSink,
) -> Result<RunResult, SimError> {
    let integrator = Solver::new(spec.solver);
    run_spec_with(spec, course, seed, integrator, sink)
}

/// Simulates `params` without devices from static equilibrium (a plain run).
pub fn run<I: Integrator>(
    params: Parameters,
    settings: &RunSettings,
    integrator: I,
) -> Result<RunResult, SimError> {
    let spec = EngineSpec {
        params,
        pumps: Vec::new(),
        solver: integrator.settings(),
        run: *settings,
    };
    run_spec_with(spec, None, 0, integrator, &mut Discard)
}

/// Simulates an assembled model (with any pumps) from static equilibrium (a plain run).
pub fn run_model<I: Integrator>(
    circ: Circulation,
    settings: &RunSettings,
    integrator: I,
) -> Result<RunResult, SimError> {
    let mut engine = Engine::for_model(circ, settings, integrator)?;
    let mut recorder = Recorder::new(settings);
    let steady = run_plain(&mut engine, &mut recorder)?;
    Ok(engine.result(recorder.beats, steady, None))
}

/// Turns per-beat alarm states into onsets.
#[derive(Debug, Clone, Default)]
struct AlarmTracker {
    active_before: Vec<(String, crate::analysis::Alarm)>,
}

impl AlarmTracker {
    /// The onsets in this beat: (time, device, alarm).
    fn observe(
        &mut self,
        circ: &Circulation,
        clock: &BeatClock,
        samples: &[Sample],
        metrics: &BeatMetrics,
    ) -> Vec<(f64, String, crate::analysis::Alarm)> {
        let active = active_alarms(circ, metrics);
        let mut onsets = Vec::new();
        for (device, alarm) in &active {
            if self.active_before.contains(&(device.clone(), *alarm)) {
                continue;
            }
            let t_s = if *alarm == crate::analysis::Alarm::Suction {
                // Suction onsets carry the sample time at which the inlet obstructed; one on
                // the boundary sample belongs to this beat's start.
                suction_onsets(circ, samples)
                    .into_iter()
                    .find(|(_, d)| d == device)
                    .map_or(clock.t_start, |(t, _)| t)
            } else {
                clock.t_start
            };
            onsets.push((t_s, device.clone(), *alarm));
        }
        self.active_before = active;
        onsets
    }
}

/// Refuses non-finite states and negative volumes, naming the state and time.
#[inline(always)]
pub(crate) fn check_physical(samples: &[Sample]) -> Result<(), SimError> {
    // A quick test of the whole beat first, element by element across the state (vector
    // instructions): whether any value is not finite, and the smallest of each. Only a beat
    // that fails it is searched, sample by sample, for the value to name.
    let mut non_finite = [false; N_STATES];
    let mut min = [f64::INFINITY; N_STATES];
    for (_, y) in samples {
        for i in 0..N_STATES {
            non_finite[i] |= !y[i].is_finite();
            min[i] = if y[i] < min[i] { y[i] } else { min[i] };
        }
    }
    if !non_finite.contains(&true) && Slot::VOLUMES.iter().all(|s| min[s.i()] >= 0.0) {
        return Ok(());
    }
    for (t, y) in samples {
        if let Some(s) = Slot::ALL.iter().find(|s| !y[s.i()].is_finite()) {
            return Err(SimError::NonFinite {
                slot: s.name(),
                t: *t,
            });
        }
        if let Some(s) = Slot::VOLUMES.iter().find(|s| y[s.i()] < 0.0) {
            return Err(SimError::NegativeVolume {
                slot: s.name(),
                value: y[s.i()],
                t: *t,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_physical_names_the_first_unsound_value() {
        let sound = State::from_element(10.0);
        let with = |slot: Slot, v: f64| {
            let mut y = sound;
            y[slot.i()] = v;
            y
        };
        let run = |y: State| check_physical(&[(0.0, sound), (0.5, y)]);
        assert_eq!(run(sound), Ok(()));
        // A volume of −0 is not negative; values whose sum overflows are still finite.
        assert_eq!(run(with(Slot::VLv, -0.0)), Ok(()));
        let mut huge = with(Slot::VSv, 1e308);
        huge[Slot::VSa.i()] = 1e308;
        assert_eq!(run(huge), Ok(()));
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(
                run(with(Slot::QPa, v)),
                Err(SimError::NonFinite {
                    slot: Slot::QPa.name(),
                    t: 0.5
                })
            );
        }
        assert_eq!(
            run(with(Slot::VRa, -0.25)),
            Err(SimError::NegativeVolume {
                slot: Slot::VRa.name(),
                value: -0.25,
                t: 0.5
            })
        );
        // A negative flow is no error.
        assert_eq!(run(with(Slot::QAo, -50.0)), Ok(()));
    }
}

//! Runs the model beat by beat: integrate one beat, measure it, check for steady state.
//! A scenario with a course continues from steady state through its events ([`course`]).

pub mod course;
pub mod kernel;

use thiserror::Error;

use crate::analysis::console::{active_alarms, suction_onsets};
use crate::analysis::{beat_to_beat_change, ActivationMemo, BeatMetrics, ConsoleEvent};
use crate::physiology::activation::BeatClock;
use crate::physiology::{Circulation, ParameterError, Parameters, Slot, State, N_STATES};
use crate::solver::{
    Branches, Dopri5Integrator, FastDopri5, FastTsit5, Integrator, Method, OdeSystem, Sample,
    SolverError, SolverStats, Switches,
};

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
    /// Keep every beat's samples (for timeseries output); otherwise only the report beats'.
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
    #[error(transparent)]
    Parameter(#[from] ParameterError),
    #[error(transparent)]
    Solver(#[from] SolverError),
    #[error("the state became non-finite ({slot}) at t = {t:.3} s: the parameters give an unstable or unphysical circulation")]
    NonFinite { slot: &'static str, t: f64 },
    #[error("{slot} became negative ({value:.2} mL) at t = {t:.3} s: the parameters drain a compartment completely")]
    NegativeVolume {
        slot: &'static str,
        value: f64,
        t: f64,
    },
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

/// One simulated beat: its clock, metrics and samples.
#[derive(Debug, Clone)]
pub struct Beat {
    pub clock: BeatClock,
    pub metrics: BeatMetrics,
    /// Samples from onset to the next onset, both included (empty once dropped, see
    /// [`RunSettings::keep_all_samples`]).
    pub samples: Vec<Sample>,
    /// Identical beats skipped after this one at periodic steady state (fast-forward).
    pub fast_forwarded: usize,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub circulation: Circulation,
    pub beats: Vec<Beat>,
    pub steady: SteadyState,
    /// Mean metrics over the last `report_beats` beats.
    pub report: BeatMetrics,
    /// Console alarm onsets (suction onsets at the sample where the inlet obstructed).
    pub events: Vec<ConsoleEvent>,
    /// What a course did and when (empty without a course).
    pub log: Vec<course::LogEntry>,
    /// Weaning outcome, when the course has a protocol.
    pub weaning: Option<course::WeaningOutcome>,
    /// Infused minus lost fluid over the run, mL (blood volume = parameter + this).
    pub net_fluid_ml: f64,
    /// State at the end of the run.
    pub final_state: State,
    pub stats: SolverStats,
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
}

/// First step after an activation onset, s: the activation rises as t^m1 (m1 ≈ 1.3) from
/// it, which a long first step would integrate with an error its estimate does not see.
const ONSET_STEP_S: f64 = 1e-4;

/// The model during one beat, as an ODE system.
pub struct BeatSystem<'a> {
    pub circ: &'a Circulation,
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

/// Runs a scenario: its patient with its devices to steady state, then its course if any.
pub fn run_scenario(sc: &crate::scenario::Scenario) -> Result<RunResult, SimError> {
    match sc.solver.method {
        Method::Tsit5 => run_scenario_with(sc, &mut FastTsit5::new(sc.solver)),
        Method::Dopri5Fast => run_scenario_with(sc, &mut FastDopri5::new(sc.solver)),
        Method::Reference => run_scenario_with(sc, &mut Dopri5Integrator::new(sc.solver)),
    }
}

fn run_scenario_with<I: Integrator>(
    sc: &crate::scenario::Scenario,
    integrator: &mut I,
) -> Result<RunResult, SimError> {
    match &sc.course {
        None => run_model(sc.model(), &sc.run, integrator),
        Some(plan) => course::run_course(sc, plan, integrator),
    }
}

/// Simulates `params` without devices from static equilibrium.
pub fn run<I: Integrator>(
    params: Parameters,
    settings: &RunSettings,
    integrator: &mut I,
) -> Result<RunResult, SimError> {
    params.validate()?;
    run_model(Circulation::new(params), settings, integrator)
}

/// Simulates an assembled model (with any pumps) from static equilibrium.
pub fn run_model<I: Integrator>(
    circ: Circulation,
    settings: &RunSettings,
    integrator: &mut I,
) -> Result<RunResult, SimError> {
    circ.parameters().validate()?;
    let mut y = circ.initial_state();
    let mut t = 0.0;
    let mut beats: Vec<Beat> = Vec::new();
    let mut steady = SteadyState {
        reached: false,
        beats: 0,
        last_change: f64::INFINITY,
    };
    let mut remaining_after_steady: Option<usize> = None;
    let mut alarms = AlarmTracker::default();
    let mut memo = ActivationMemo::default();

    loop {
        let clock = circ.clock(t);
        let n = ((clock.period / settings.sample_interval).round() as usize).max(8);
        let mut samples = Vec::with_capacity(n + 1);
        let y_next = kernel::integrate(
            integrator,
            &BeatSystem { circ: &circ, clock },
            t,
            t + clock.period,
            &y,
            n,
            &mut samples,
        )?;
        let metrics = kernel::measure(&circ, &clock, &samples, &mut memo)?;
        alarms.observe(&circ, &clock, &samples, &metrics);
        beats.push(Beat {
            clock,
            metrics,
            samples,
            fast_forwarded: 0,
        });
        if !settings.keep_all_samples {
            // Only the report window can still be needed.
            if let Some(old) = beats.len().checked_sub(settings.report_beats + 1) {
                beats[old].samples = Vec::new();
            }
        }
        let change = beat_to_beat_change(&y, &y_next);
        y = y_next;
        t += clock.period;

        if let Some(left) = remaining_after_steady.as_mut() {
            *left -= 1;
            if *left == 0 {
                break;
            }
            continue;
        }
        if settings.steady_state {
            steady.beats = beats.len();
            steady.last_change = change;
            if change < settings.steady_tolerance || beats.len() >= settings.max_beats {
                steady.reached = change < settings.steady_tolerance;
                // Alarms of the start-up transient are not the patient's: report from here.
                alarms = AlarmTracker::default();
                if settings.report_beats == 0 {
                    break;
                }
                remaining_after_steady = Some(settings.report_beats);
            }
        } else if beats.len() >= settings.max_beats {
            steady = SteadyState {
                reached: change < settings.steady_tolerance,
                beats: beats.len(),
                last_change: change,
            };
            break;
        }
    }

    let n_report = settings.report_beats.min(beats.len());
    let report_metrics: Vec<BeatMetrics> = beats[beats.len() - n_report..]
        .iter()
        .map(|b| b.metrics)
        .collect();
    Ok(RunResult {
        circulation: circ,
        beats,
        steady,
        report: BeatMetrics::mean(&report_metrics),
        events: alarms.events,
        log: Vec::new(),
        weaning: None,
        net_fluid_ml: 0.0,
        final_state: y,
        stats: integrator.stats(),
        settings: *settings,
    })
}

/// Turns per-beat alarm states into onset events.
#[derive(Debug, Default)]
pub(crate) struct AlarmTracker {
    pub events: Vec<ConsoleEvent>,
    active_before: Vec<(String, crate::analysis::Alarm)>,
}

impl AlarmTracker {
    pub(crate) fn observe(
        &mut self,
        circ: &Circulation,
        clock: &BeatClock,
        samples: &[Sample],
        metrics: &BeatMetrics,
    ) {
        let active = active_alarms(circ, metrics);
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
            self.events.push(ConsoleEvent {
                t_s,
                device: device.clone(),
                alarm: *alarm,
            });
        }
        self.active_before = active;
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

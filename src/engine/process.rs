//! Processes: everything that changes the model between beats — parameter ramps, drug
//! effects and infusions today; reflexes, oxygen and lactate and the myocardium over time
//! next. The engine asks every process for the parameters of each beat (and of each segment
//! when an action splits a beat), in stage order, and whether it is quiet, so that fast-forward
//! skips beats only while nothing evolves.
//!
//! Adding one: implement [`Process`], give it to the engine with `Engine::add_process`
//! (docs/architecture.md).

use std::fmt::Debug;

use super::Beat;
use crate::physiology::drugs::Drug;
use crate::physiology::reflex::Baroreflex;
use crate::physiology::Parameters;

/// When a process acts on the parameters, relative to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Sets parameter values (ramps): first, so that scaling acts on the set value.
    Set,
    /// Scales parameters (drugs, reflexes): on top of the patient's own values.
    Scale,
}

/// Something that changes the model between beats.
pub trait Process: Debug + Send + Sync {
    /// Order among processes: all [`Stage::Set`] before all [`Stage::Scale`], each stage in
    /// the order the processes were added.
    fn stage(&self) -> Stage;

    /// Changes the parameters the beat (or segment) starting at `t_s` runs on.
    fn modify(&self, t_s: f64, p: &mut Parameters);

    /// Fluid it gives (positive) or takes (negative) into the systemic veins, mL/s.
    fn infusion_ml_s(&self) -> f64 {
        0.0
    }

    /// Takes in the beat just integrated (a reflex reads its pressures, a slow process its
    /// flows); a process whose output changes with it is not [`Process::quiet`].
    fn observe(&mut self, _beat: &Beat) {}

    /// Whether the parameters it gives no longer change after `t_s` (the model is then
    /// periodic as far as this process goes and beats may be skipped).
    fn quiet(&self, t_s: f64) -> bool;

    /// A time at which it changes at once (an infusion's end): the engine splits the beat
    /// there and removes the process.
    fn ends_at(&self) -> Option<f64> {
        None
    }

    /// Whether it has finished by `t_s`; if so, the engine writes its final values into the
    /// base parameters with [`Process::commit`] and drops it.
    fn finished(&self, _t_s: f64) -> bool {
        false
    }

    /// Writes the process's final values into the base parameters.
    fn commit(&self, _base: &mut Parameters) {}

    /// Whether a new process replaces this one: a ramp or step of the same parameter, a new
    /// dose of the same drug.
    fn replaced_by(&self, _other: &Replaces) -> bool {
        false
    }

    /// A copy (engines are cloned to save a stabilised state).
    fn boxed_clone(&self) -> Box<dyn Process>;
}

impl Clone for Box<dyn Process> {
    fn clone(&self) -> Self {
        self.boxed_clone()
    }
}

/// What a new action takes over from running processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Replaces<'a> {
    /// A parameter, by its registry path, stepped or ramped anew.
    Parameter(&'a str),
    /// A drug given at a new dose.
    Drug(Drug),
}

/// A linear ramp of one parameter from `from` at `t0_s` to `to` at `t1_s`, evaluated at each
/// beat onset (piecewise constant per beat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Registry path of the parameter.
    pub path: &'static str,
    /// Value at the start.
    pub from: f64,
    /// Value at the end.
    pub to: f64,
    /// Start, s.
    pub t0_s: f64,
    /// End, s.
    pub t1_s: f64,
}

impl Ramp {
    fn value(&self, t_s: f64) -> f64 {
        let f = ((t_s - self.t0_s) / (self.t1_s - self.t0_s)).clamp(0.0, 1.0);
        self.from + f * (self.to - self.from)
    }
}

impl Process for Ramp {
    fn stage(&self) -> Stage {
        Stage::Set
    }

    fn modify(&self, t_s: f64, p: &mut Parameters) {
        p.set(self.path, self.value(t_s))
            .expect("ramp values lie between two valid values");
    }

    /// A ramp runs until the engine commits it, at the first beat onset at or after its end.
    fn quiet(&self, _t_s: f64) -> bool {
        false
    }

    fn finished(&self, t_s: f64) -> bool {
        t_s >= self.t1_s
    }

    fn commit(&self, base: &mut Parameters) {
        base.set(self.path, self.to)
            .expect("ramp target was validated");
    }

    fn replaced_by(&self, other: &Replaces) -> bool {
        *other == Replaces::Parameter(self.path)
    }

    fn boxed_clone(&self) -> Box<dyn Process> {
        Box::new(*self)
    }
}

/// A drug at a constant dose, µg/kg/min: its effects scale parameters at once (no
/// pharmacokinetics; docs/parameters.md, "Drugs").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrugEffect {
    /// Which drug.
    pub drug: Drug,
    /// Dose, µg/kg/min.
    pub dose: f64,
}

impl Process for DrugEffect {
    fn stage(&self) -> Stage {
        Stage::Scale
    }

    fn modify(&self, _t_s: f64, p: &mut Parameters) {
        self.drug.apply(self.dose, p);
    }

    fn quiet(&self, _t_s: f64) -> bool {
        true
    }

    fn replaced_by(&self, other: &Replaces) -> bool {
        *other == Replaces::Drug(self.drug)
    }

    fn boxed_clone(&self) -> Box<dyn Process> {
        Box::new(*self)
    }
}

/// Fluid given (positive rate) or lost (negative) into the systemic veins until `end_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Infusion {
    /// Rate, mL/s (negative: loss).
    pub rate_ml_s: f64,
    /// When it ends, s.
    pub end_s: f64,
}

impl Process for Infusion {
    fn stage(&self) -> Stage {
        Stage::Scale
    }

    fn modify(&self, _t_s: f64, _p: &mut Parameters) {}

    fn infusion_ml_s(&self) -> f64 {
        self.rate_ml_s
    }

    /// An infusion changes the blood volume every beat: never quiet.
    fn quiet(&self, _t_s: f64) -> bool {
        false
    }

    fn ends_at(&self) -> Option<f64> {
        Some(self.end_s)
    }

    fn boxed_clone(&self) -> Box<dyn Process> {
        Box::new(*self)
    }
}

/// The arterial baroreflex ([`Baroreflex`]) as a process: it reads each beat's mean arterial
/// pressure and moves heart rate, contractility, SVR and venous tone of the next, with the
/// gains of the beat's parameters (`reflex.*`, so an event may change them).
#[derive(Debug, Clone)]
pub struct Reflex {
    /// The reflex's state.
    pub baroreflex: Baroreflex,
}

/// A reflex whose effectors moved less than this fraction at the last beat is quiet: the
/// state it leaves then differs from its fixed point by about this over (1 − e^(−T/τ)),
/// under 10⁻³ with τ = 20 s.
pub const REFLEX_QUIET: f64 = 1e-5;

impl Reflex {
    /// Reflexes at rest at set points `map_mmhg` (arterial) and `cvp_mmhg` (right atrial).
    pub fn new(map_mmhg: f64, cvp_mmhg: f64) -> Self {
        Reflex {
            baroreflex: Baroreflex::new(map_mmhg, cvp_mmhg),
        }
    }
}

impl Process for Reflex {
    fn stage(&self) -> Stage {
        Stage::Scale
    }

    fn modify(&self, _t_s: f64, p: &mut Parameters) {
        self.baroreflex.apply(p);
    }

    fn observe(&mut self, beat: &Beat) {
        self.baroreflex.step(
            beat.clock.t_start + beat.clock.period,
            beat.clock.period,
            beat.metrics.map_mmhg,
            beat.metrics.cvp_mmhg,
            &beat.model.parameters().reflex,
        );
    }

    fn quiet(&self, _t_s: f64) -> bool {
        self.baroreflex.last_change() < REFLEX_QUIET
    }

    fn boxed_clone(&self) -> Box<dyn Process> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn a_ramp_runs_linearly_then_commits_its_target() {
        let r = Ramp {
            path: "lv.ees",
            from: 1.0,
            to: 2.0,
            t0_s: 10.0,
            t1_s: 20.0,
        };
        let mut p = presets::normal();
        r.modify(15.0, &mut p);
        assert_eq!(p.lv.ees, 1.5);
        r.modify(5.0, &mut p);
        assert_eq!(p.lv.ees, 1.0);
        assert!(!r.quiet(25.0) && !r.finished(19.9) && r.finished(20.0));
        let mut base = presets::normal();
        r.commit(&mut base);
        assert_eq!(base.lv.ees, 2.0);
        assert!(r.replaced_by(&Replaces::Parameter("lv.ees")));
        assert!(!r.replaced_by(&Replaces::Parameter("rv.ees")));
    }

    #[test]
    fn drugs_are_quiet_and_infusions_never_are() {
        let d = DrugEffect {
            drug: Drug::Dobutamine,
            dose: 5.0,
        };
        assert!(d.quiet(0.0) && d.replaced_by(&Replaces::Drug(Drug::Dobutamine)));
        let i = Infusion {
            rate_ml_s: 1.0,
            end_s: 60.0,
        };
        assert!(!i.quiet(0.0));
        assert_eq!(i.ends_at(), Some(60.0));
    }
}

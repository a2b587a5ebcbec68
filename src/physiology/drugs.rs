//! Simplified drug effects: each drug scales a few parameters by an Emax dose–effect law
//! f(d) = 1 + E_max · d / (EC50 + d), applied on top of the patient's own parameters.
//! Magnitudes are estimates (docs/parameters.md, "Drugs"); directions follow the seeds'
//! review of cardiogenic-shock therapy (inotropes raise contractility, vasopressors raise
//! SVR, vasodilators lower it; levosimendan-like inodilators do both).

use super::Parameters;

/// A drug the scenario can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Drug {
    /// Vasoconstrictor with inotropy.
    Norepinephrine,
    /// Inotrope.
    Dobutamine,
    /// Inodilator.
    Milrinone,
    /// Vasodilator.
    Nitroprusside,
}

/// One effect: the parameter it scales, E_max (fractional change at infinite dose), EC50.
struct Effect {
    paths: &'static [&'static str],
    e_max: f64,
    ec50: f64,
}

impl Drug {
    /// Every drug with its scenario name, dose unit and largest accepted dose.
    pub const ALL: [(Drug, &'static str, &'static str, f64); 4] = [
        (Drug::Norepinephrine, "norepinephrine", "µg/kg/min", 2.0),
        (Drug::Dobutamine, "dobutamine", "µg/kg/min", 40.0),
        (Drug::Milrinone, "milrinone", "µg/kg/min", 1.0),
        (Drug::Nitroprusside, "nitroprusside", "µg/kg/min", 10.0),
    ];

    /// The drug a scenario name stands for.
    pub fn from_name(name: &str) -> Option<Drug> {
        Drug::ALL.iter().find(|d| d.1 == name).map(|d| d.0)
    }

    /// Its scenario name.
    pub fn name(self) -> &'static str {
        Drug::ALL
            .iter()
            .find(|d| d.0 == self)
            .map(|d| d.1)
            .unwrap_or("?")
    }

    /// Largest accepted dose, µg/kg/min.
    pub fn max_dose(self) -> f64 {
        Drug::ALL
            .iter()
            .find(|d| d.0 == self)
            .map(|d| d.3)
            .unwrap_or(0.0)
    }

    fn effects(self) -> &'static [Effect] {
        const ESS: &[&str] = &["lv.ees", "rv.ees"];
        const SVR: &[&str] = &["systemic.r_periph"];
        const HR: &[&str] = &["heart.hr"];
        match self {
            // α1 vasoconstriction with some β1 inotropy.
            Drug::Norepinephrine => &[
                Effect {
                    paths: SVR,
                    e_max: 1.0,
                    ec50: 0.2,
                },
                Effect {
                    paths: ESS,
                    e_max: 0.2,
                    ec50: 0.2,
                },
            ],
            // β1 inotropy, chronotropy, mild β2 vasodilatation.
            Drug::Dobutamine => &[
                Effect {
                    paths: ESS,
                    e_max: 0.8,
                    ec50: 7.5,
                },
                Effect {
                    paths: HR,
                    e_max: 0.25,
                    ec50: 10.0,
                },
                Effect {
                    paths: SVR,
                    e_max: -0.2,
                    ec50: 7.5,
                },
            ],
            // PDE-3 inodilator.
            Drug::Milrinone => &[
                Effect {
                    paths: ESS,
                    e_max: 0.5,
                    ec50: 0.4,
                },
                Effect {
                    paths: SVR,
                    e_max: -0.35,
                    ec50: 0.4,
                },
            ],
            // Arterial and venous vasodilator.
            Drug::Nitroprusside => &[Effect {
                paths: SVR,
                e_max: -0.5,
                ec50: 1.5,
            }],
        }
    }

    /// Applies this drug at `dose` (µg/kg/min) to `p`. Results are clamped into each
    /// parameter's allowed range.
    pub fn apply(self, dose: f64, p: &mut Parameters) {
        if dose <= 0.0 {
            return;
        }
        for e in self.effects() {
            let factor = 1.0 + e.e_max * dose / (e.ec50 + dose);
            for path in e.paths {
                let spec = super::parameters::spec(path).expect("drug targets are known paths");
                let v = (spec.get(p) * factor).clamp(spec.min, spec.max);
                p.set(path, v).expect("clamped into range");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn directions_follow_pharmacology() {
        let base = presets::normal();
        let with = |d: Drug, dose: f64| {
            let mut p = base;
            d.apply(dose, &mut p);
            p
        };
        assert!(with(Drug::Norepinephrine, 0.2).systemic.r_periph > base.systemic.r_periph);
        assert!(with(Drug::Dobutamine, 5.0).lv.ees > base.lv.ees);
        let m = with(Drug::Milrinone, 0.5);
        assert!(m.lv.ees > base.lv.ees && m.systemic.r_periph < base.systemic.r_periph);
        assert!(with(Drug::Nitroprusside, 2.0).systemic.r_periph < base.systemic.r_periph);
        assert_eq!(with(Drug::Dobutamine, 0.0), base);
    }

    #[test]
    fn effect_saturates_with_dose() {
        let base = presets::normal();
        let svr = |dose: f64| {
            let mut p = base;
            Drug::Norepinephrine.apply(dose, &mut p);
            p.systemic.r_periph
        };
        assert!(svr(0.1) < svr(0.3) && svr(0.3) < svr(1.0));
        assert!(svr(1.0) < 2.0 * base.systemic.r_periph + 1e-9);
    }
}

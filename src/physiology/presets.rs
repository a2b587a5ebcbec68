//! Named patient presets: a normal resting adult and cardiogenic-shock phenotypes.
//! Every value and its source: docs/parameters.md.

use super::parameters::{
    ActivationParams, ChamberParams, CirculationParams, HeartParams, Parameters, PericardiumParams,
    ReflexParams, SeptumParams, ValveParams,
};

/// A normal resting adult (HR 75/min, 5.3 L blood volume).
pub fn normal() -> Parameters {
    Parameters {
        heart: HeartParams {
            hr: 75.0,
            pr_interval: 0.16,
            // Stergiopulos 1996 / Regazzoni 2022: τ1 = 0.269·T, τ2 = 0.452·T at T = 0.8 s.
            ventricle: ActivationParams {
                tau1: 0.215,
                tau2: 0.362,
                m1: 1.32,
                m2: 27.4,
            },
            // Regazzoni 2022: τ1 = 0.110·T, τ2 = 0.180·T.
            atrium: ActivationParams {
                tau1: 0.088,
                tau2: 0.144,
                m1: 1.32,
                m2: 13.1,
            },
        },
        la: ChamberParams {
            ees: 0.48,
            v0: 10.0,
            edpvr_a: 0.44,
            edpvr_b: 0.058,
        },
        lv: ChamberParams {
            ees: 2.21,
            v0: 5.0,
            edpvr_a: 0.34,
            edpvr_b: 0.029,
        },
        ra: ChamberParams {
            ees: 0.38,
            v0: 10.0,
            edpvr_a: 0.44,
            edpvr_b: 0.046,
        },
        rv: ChamberParams {
            ees: 0.74,
            v0: 5.0,
            edpvr_a: 0.34,
            edpvr_b: 0.028,
        },
        mitral: ValveParams {
            r: 0.0158,
            regurgitant_area: 0.0,
            coaptation_volume: 0.0,
        },
        aortic: ValveParams {
            r: 0.018,
            regurgitant_area: 0.0,
            coaptation_volume: 0.0,
        },
        tricuspid: ValveParams {
            r: 0.0237,
            regurgitant_area: 0.0,
            coaptation_volume: 0.0,
        },
        pulmonary: ValveParams {
            r: 0.0055,
            regurgitant_area: 0.0,
            coaptation_volume: 0.0,
        },
        systemic: CirculationParams {
            c_prox: 0.28,
            vu_prox: 0.0,
            r_char: 0.06,
            inertance: 2.2e-4,
            c_art: 1.45,
            vu_art: 611.0,
            r_periph: 0.9,
            c_ven: 111.0,
            vu_ven: 2496.0,
            r_ven: 0.02,
        },
        pulmonary_circ: CirculationParams {
            c_prox: 0.76,
            vu_prox: 0.0,
            r_char: 0.023,
            inertance: 1.8e-4,
            c_art: 2.7,
            vu_art: 123.0,
            r_periph: 0.053,
            c_ven: 25.37,
            vu_ven: 120.0,
            r_ven: 0.0056,
        },
        pericardium: PericardiumParams {
            p0: 0.5003,
            lambda: 0.03,
            v0: 200.0,
        },
        reflex: ReflexParams::DEFAULT,
        // Smith et al. 2004's septal wall, off (rigid septum) by default: on, a beat costs
        // 1.76 times the instructions and Smith's value gives a third of the canine systolic
        // interaction gain (docs/model.md, "Septum").
        septum: SeptumParams {
            ees: 48.754,
            p0: 1.1101,
            lambda: 0.435,
            compliance_scale: 0.0,
        },
        blood_volume: 4900.0,
        bsa: 1.9,
    }
}

/// A named preset: a description and its changes from [`normal`].
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// Its name in scenarios (`patient.preset`).
    pub name: &'static str,
    /// One line on what it models.
    pub description: &'static str,
    /// (parameter path, value) applied on top of the normal adult.
    pub changes: &'static [(&'static str, f64)],
}

impl Preset {
    /// The preset's parameters.
    pub fn parameters(&self) -> Parameters {
        let mut p = normal();
        for (path, value) in self.changes {
            p.set(path, *value)
                .expect("preset changes are valid parameter paths within range");
        }
        p
    }
}

/// Every preset, `normal` first. Stage definitions and sources: docs/parameters.md.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "normal",
        description: "normal resting adult",
        changes: &[],
    },
    Preset {
        name: "scai_a_lv",
        description: "SCAI A (at risk), LV dysfunction, compensated",
        changes: &[
            ("lv.ees", 1.6),
            ("lv.v0", 10.0),
            ("heart.hr", 85.0),
            ("systemic.r_periph", 0.95),
            ("blood_volume", 5000.0),
        ],
    },
    Preset {
        name: "scai_b_lv",
        description:
            "SCAI B (beginning), LV-dominant: hypotension and tachycardia without low output",
        changes: &[
            ("lv.ees", 1.0),
            ("lv.v0", 10.0),
            ("heart.hr", 105.0),
            ("systemic.r_periph", 0.75),
            ("blood_volume", 5000.0),
        ],
    },
    Preset {
        name: "scai_c_lv",
        description: "SCAI C (classic), LV-dominant: DanGer Shock median patient",
        changes: &[
            ("lv.ees", 0.75),
            ("lv.v0", 10.0),
            ("heart.hr", 94.0),
            ("systemic.r_periph", 0.95),
            ("blood_volume", 5100.0),
        ],
    },
    Preset {
        name: "scai_d_lv",
        description: "SCAI D (deteriorating), LV-dominant",
        changes: &[
            ("lv.ees", 0.55),
            ("lv.v0", 15.0),
            ("heart.hr", 110.0),
            ("systemic.r_periph", 1.1),
            ("blood_volume", 5200.0),
        ],
    },
    Preset {
        name: "scai_e_lv",
        description: "SCAI E (extremis), LV-dominant",
        changes: &[
            ("lv.ees", 0.35),
            ("lv.v0", 20.0),
            ("heart.hr", 120.0),
            ("systemic.r_periph", 1.0),
            ("blood_volume", 5300.0),
        ],
    },
    Preset {
        name: "scai_a_rv",
        description: "SCAI A (at risk), RV dysfunction, compensated",
        changes: &[
            ("rv.ees", 0.45),
            ("rv.v0", 10.0),
            ("heart.hr", 85.0),
            ("blood_volume", 5200.0),
        ],
    },
    Preset {
        name: "scai_b_rv",
        description: "SCAI B (beginning), RV-dominant",
        changes: &[
            ("rv.ees", 0.3),
            ("rv.v0", 15.0),
            ("heart.hr", 105.0),
            ("systemic.r_periph", 0.6),
            ("blood_volume", 5300.0),
        ],
    },
    Preset {
        name: "scai_c_rv",
        description: "SCAI C (classic), RV-dominant (e.g. RV infarction)",
        changes: &[
            ("rv.ees", 0.19),
            ("rv.v0", 20.0),
            ("lv.ees", 1.1),
            ("heart.hr", 94.0),
            ("systemic.r_periph", 0.66),
            ("blood_volume", 6100.0),
        ],
    },
    Preset {
        name: "scai_d_rv",
        description: "SCAI D (deteriorating), RV-dominant",
        changes: &[
            ("rv.ees", 0.18),
            ("rv.v0", 25.0),
            ("lv.ees", 1.1),
            ("heart.hr", 110.0),
            ("systemic.r_periph", 0.75),
            ("pulmonary_circ.r_periph", 0.1),
            ("blood_volume", 6200.0),
        ],
    },
    Preset {
        name: "scai_e_rv",
        description: "SCAI E (extremis), RV-dominant",
        changes: &[
            ("rv.ees", 0.16),
            ("rv.v0", 30.0),
            ("lv.ees", 1.0),
            ("heart.hr", 120.0),
            ("systemic.r_periph", 0.55),
            ("pulmonary_circ.r_periph", 0.18),
            ("blood_volume", 5900.0),
        ],
    },
    Preset {
        name: "scai_a_biv",
        description: "SCAI A (at risk), biventricular dysfunction, compensated",
        changes: &[
            ("lv.ees", 1.7),
            ("rv.ees", 0.5),
            ("heart.hr", 85.0),
            ("blood_volume", 5100.0),
        ],
    },
    Preset {
        name: "scai_b_biv",
        description: "SCAI B (beginning), biventricular",
        changes: &[
            ("lv.ees", 1.1),
            ("rv.ees", 0.4),
            ("heart.hr", 105.0),
            ("systemic.r_periph", 0.75),
            ("blood_volume", 5300.0),
        ],
    },
    Preset {
        name: "scai_c_biv",
        description: "SCAI C (classic), biventricular",
        changes: &[
            ("lv.ees", 0.8),
            ("lv.v0", 10.0),
            ("rv.ees", 0.25),
            ("rv.v0", 15.0),
            ("heart.hr", 94.0),
            ("systemic.r_periph", 0.95),
            ("blood_volume", 6200.0),
        ],
    },
    Preset {
        name: "scai_d_biv",
        description: "SCAI D (deteriorating), biventricular",
        changes: &[
            ("lv.ees", 0.6),
            ("lv.v0", 15.0),
            ("rv.ees", 0.2),
            ("rv.v0", 20.0),
            ("heart.hr", 110.0),
            ("systemic.r_periph", 1.05),
            ("blood_volume", 6300.0),
        ],
    },
    Preset {
        name: "scai_e_biv",
        description: "SCAI E (extremis), biventricular",
        changes: &[
            ("lv.ees", 0.4),
            ("lv.v0", 20.0),
            ("rv.ees", 0.15),
            ("rv.v0", 25.0),
            ("heart.hr", 120.0),
            ("systemic.r_periph", 1.0),
            ("blood_volume", 6300.0),
        ],
    },
];

/// Looks up a preset by name.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

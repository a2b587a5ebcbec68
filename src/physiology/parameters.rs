//! Model parameters, their units and allowed ranges, addressed by dotted paths.
//!
//! One table ([`PARAMETERS`]) names every scalar parameter once: its path (`lv.ees`), unit,
//! allowed range and meaning. Validation, `--set` overrides, presets and the property tests
//! all go through it, so a parameter cannot exist in one place and be missing in another.
//! Values and sources are in docs/parameters.md.

use thiserror::Error;

pub use super::reflex::ReflexParams;

/// One cardiac chamber: time-varying elastance with a linear ESPVR and an exponential EDPVR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChamberParams {
    /// End-systolic elastance E_es, mmHg/mL (slope of the ESPVR).
    pub ees: f64,
    /// Volume intercept V_0 of the ESPVR and EDPVR, mL.
    pub v0: f64,
    /// EDPVR scale A, mmHg: P_ed = A·(exp(B·(V − V_0)) − 1).
    pub edpvr_a: f64,
    /// EDPVR stiffness B, 1/mL.
    pub edpvr_b: f64,
}

/// A heart valve: forward resistance, optional regurgitant orifice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValveParams {
    /// Forward (open) resistance R, mmHg·s/mL.
    pub r: f64,
    /// Effective regurgitant orifice area (EROA), cm². 0 = competent valve.
    pub regurgitant_area: f64,
    /// Atrioventricular valves only: ventricular volume V_c (mL) at or below which the
    /// leaflets coapt fully, so functional regurgitation grows as the ventricle dilates
    /// (0 = the area does not depend on volume).
    pub coaptation_volume: f64,
}

/// Two-Hill activation shape, time constants given at the reference period [`T_REF_S`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationParams {
    /// Contraction time constant τ1 at the reference heart period, s.
    pub tau1: f64,
    /// Relaxation time constant τ2 at the reference heart period, s.
    pub tau2: f64,
    /// Contraction steepness m1 (dimensionless).
    pub m1: f64,
    /// Relaxation steepness m2 (dimensionless).
    pub m2: f64,
}

/// Heart rate and timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeartParams {
    /// Heart rate, beats/min.
    pub hr: f64,
    /// PR interval: atrial activation onset precedes ventricular onset by this, s.
    pub pr_interval: f64,
    /// Ventricular activation (both ventricles).
    pub ventricle: ActivationParams,
    /// Atrial activation (both atria).
    pub atrium: ActivationParams,
}

/// One circulation (systemic or pulmonary): proximal artery, characteristic resistance with
/// inertance, distal arteries, peripheral resistance, veins, venous return resistance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CirculationParams {
    /// Proximal (aortic or main pulmonary) arterial compliance C_p, mL/mmHg.
    pub c_prox: f64,
    /// Unstressed volume of the proximal artery V_u,p, mL.
    pub vu_prox: f64,
    /// Characteristic resistance R_c between proximal and distal arteries, mmHg·s/mL.
    pub r_char: f64,
    /// Inertance L between proximal and distal arteries, mmHg·s²/mL.
    pub inertance: f64,
    /// Distal arterial compliance C_a, mL/mmHg.
    pub c_art: f64,
    /// Unstressed volume of the distal arteries V_u,a, mL.
    pub vu_art: f64,
    /// Peripheral resistance (SVR or PVR) R_p, mmHg·s/mL.
    pub r_periph: f64,
    /// Venous compliance C_v, mL/mmHg.
    pub c_ven: f64,
    /// Venous unstressed volume V_u,v, mL.
    pub vu_ven: f64,
    /// Venous return resistance R_v (veins to atrium), mmHg·s/mL.
    pub r_ven: f64,
}

/// Pericardium around both ventricles: P_peri = P0·(exp(λ·(V_LV + V_RV − V_0,peri)) − 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PericardiumParams {
    /// Scale P0, mmHg.
    pub p0: f64,
    /// Stiffness λ, 1/mL.
    pub lambda: f64,
    /// Reference volume V_0,peri, mL.
    pub v0: f64,
}

/// Interventricular septum (Smith et al. 2004, after Olansen et al. 2000): a third wall
/// between the ventricles with the chamber law of the free walls, in terms of its
/// displacement x (mL, positive towards the RV):
/// P_spt = (e·E_es,spt·x + (1 − e)·P0,spt·(exp(λ_spt·x) − 1)) / c_spt, and
/// P_spt(x) = P_LV,fw(V_LV − x) − P_RV,fw(V_RV + x). Equations: docs/model.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeptumParams {
    /// Septal end-systolic elastance E_es,spt, mmHg/mL.
    pub ees: f64,
    /// Septal passive scale P0,spt, mmHg.
    pub p0: f64,
    /// Septal passive stiffness λ_spt, 1/mL.
    pub lambda: f64,
    /// Compliance scale c_spt (dimensionless): the septal wall's compliance is multiplied by
    /// it (its pressure law divided by it). 0 = rigid septum: no direct interaction, the
    /// ventricles are the chambers `lv` and `rv` alone (the model without a septum, bit for
    /// bit); 1 = the septum of `ees`, `p0`, `lambda`.
    pub compliance_scale: f64,
}

/// Every parameter of the closed-loop circulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parameters {
    /// Rate, PR interval, activation.
    pub heart: HeartParams,
    /// Left atrium.
    pub la: ChamberParams,
    /// Left ventricle.
    pub lv: ChamberParams,
    /// Right atrium.
    pub ra: ChamberParams,
    /// Right ventricle.
    pub rv: ChamberParams,
    /// Mitral valve.
    pub mitral: ValveParams,
    /// Aortic valve.
    pub aortic: ValveParams,
    /// Tricuspid valve.
    pub tricuspid: ValveParams,
    /// Pulmonary valve.
    pub pulmonary: ValveParams,
    /// Systemic circulation.
    pub systemic: CirculationParams,
    /// Pulmonary circulation.
    pub pulmonary_circ: CirculationParams,
    /// Pericardium.
    pub pericardium: PericardiumParams,
    /// Arterial baroreflex gains.
    pub reflex: ReflexParams,
    /// Interventricular septum (off when its compliance scale is 0).
    pub septum: SeptumParams,
    /// Total blood volume (stressed + unstressed), mL.
    pub blood_volume: f64,
    /// Body surface area, m² (for indexed values such as CI).
    pub bsa: f64,
}

/// Reference heart period at which activation time constants are given, s (HR 75/min).
pub const T_REF_S: f64 = 0.8;

/// The description of one scalar parameter.
#[derive(Clone, Copy)]
pub struct ParamSpec {
    /// Dotted path, e.g. `lv.ees`.
    pub path: &'static str,
    /// Unit as written in docs and messages.
    pub unit: &'static str,
    /// Smallest allowed value (inclusive).
    pub min: f64,
    /// Largest allowed value (inclusive).
    pub max: f64,
    /// One-line meaning.
    pub description: &'static str,
    get: fn(&Parameters) -> f64,
    get_mut: fn(&mut Parameters) -> &mut f64,
}

impl ParamSpec {
    /// Current value of this parameter in `p`.
    pub fn get(&self, p: &Parameters) -> f64 {
        (self.get)(p)
    }
}

impl std::fmt::Debug for ParamSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamSpec")
            .field("path", &self.path)
            .field("unit", &self.unit)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

macro_rules! param_table {
    ($( $path:literal => $($field:ident).+ , $unit:literal, [$min:expr, $max:expr], $desc:literal; )*) => {
        /// Every scalar parameter: path, unit, allowed range, meaning.
        pub const PARAMETERS: &[ParamSpec] = &[ $(
            ParamSpec {
                path: $path, unit: $unit, min: $min, max: $max, description: $desc,
                get: |p: &Parameters| p.$($field).+,
                get_mut: |p: &mut Parameters| &mut p.$($field).+,
            },
        )* ];
    };
}

// Ranges are physical plausibility bounds (wide enough for disease and for sweeps), not
// normal ranges; values outside them are refused with this message rather than simulated.
param_table! {
    "heart.hr" => heart.hr, "beats/min", [20.0, 200.0], "heart rate";
    "heart.pr_interval" => heart.pr_interval, "s", [0.05, 0.4], "atrial-to-ventricular activation delay";
    "heart.ventricle.tau1" => heart.ventricle.tau1, "s", [0.05, 0.6], "ventricular contraction time constant at HR 75";
    "heart.ventricle.tau2" => heart.ventricle.tau2, "s", [0.1, 0.8], "ventricular relaxation time constant at HR 75";
    "heart.ventricle.m1" => heart.ventricle.m1, "-", [1.0, 5.0], "ventricular contraction steepness";
    "heart.ventricle.m2" => heart.ventricle.m2, "-", [5.0, 60.0], "ventricular relaxation steepness";
    "heart.atrium.tau1" => heart.atrium.tau1, "s", [0.02, 0.3], "atrial contraction time constant at HR 75";
    "heart.atrium.tau2" => heart.atrium.tau2, "s", [0.04, 0.4], "atrial relaxation time constant at HR 75";
    "heart.atrium.m1" => heart.atrium.m1, "-", [1.0, 5.0], "atrial contraction steepness";
    "heart.atrium.m2" => heart.atrium.m2, "-", [5.0, 60.0], "atrial relaxation steepness";
    "la.ees" => la.ees, "mmHg/mL", [0.01, 5.0], "LA end-systolic elastance";
    "la.v0" => la.v0, "mL", [0.0, 100.0], "LA volume intercept";
    "la.edpvr_a" => la.edpvr_a, "mmHg", [0.01, 5.0], "LA EDPVR scale";
    "la.edpvr_b" => la.edpvr_b, "1/mL", [0.001, 0.2], "LA EDPVR stiffness";
    "lv.ees" => lv.ees, "mmHg/mL", [0.05, 10.0], "LV end-systolic elastance";
    "lv.v0" => lv.v0, "mL", [-50.0, 150.0], "LV volume intercept";
    "lv.edpvr_a" => lv.edpvr_a, "mmHg", [0.01, 5.0], "LV EDPVR scale";
    "lv.edpvr_b" => lv.edpvr_b, "1/mL", [0.001, 0.2], "LV EDPVR stiffness";
    "ra.ees" => ra.ees, "mmHg/mL", [0.01, 5.0], "RA end-systolic elastance";
    "ra.v0" => ra.v0, "mL", [0.0, 100.0], "RA volume intercept";
    "ra.edpvr_a" => ra.edpvr_a, "mmHg", [0.01, 5.0], "RA EDPVR scale";
    "ra.edpvr_b" => ra.edpvr_b, "1/mL", [0.001, 0.2], "RA EDPVR stiffness";
    "rv.ees" => rv.ees, "mmHg/mL", [0.05, 5.0], "RV end-systolic elastance";
    "rv.v0" => rv.v0, "mL", [-50.0, 150.0], "RV volume intercept";
    "rv.edpvr_a" => rv.edpvr_a, "mmHg", [0.01, 5.0], "RV EDPVR scale";
    "rv.edpvr_b" => rv.edpvr_b, "1/mL", [0.001, 0.2], "RV EDPVR stiffness";
    "mitral.r" => mitral.r, "mmHg·s/mL", [0.001, 1.0], "mitral forward resistance";
    "mitral.regurgitant_area" => mitral.regurgitant_area, "cm²", [0.0, 1.5], "mitral effective regurgitant orifice area";
    "mitral.coaptation_volume" => mitral.coaptation_volume, "mL", [0.0, 400.0], "LV volume below which functional MR closes (0 = fixed area)";
    "aortic.r" => aortic.r, "mmHg·s/mL", [0.001, 1.0], "aortic forward resistance";
    "aortic.regurgitant_area" => aortic.regurgitant_area, "cm²", [0.0, 1.0], "aortic effective regurgitant orifice area";
    "tricuspid.r" => tricuspid.r, "mmHg·s/mL", [0.001, 1.0], "tricuspid forward resistance";
    "tricuspid.regurgitant_area" => tricuspid.regurgitant_area, "cm²", [0.0, 1.5], "tricuspid effective regurgitant orifice area";
    "tricuspid.coaptation_volume" => tricuspid.coaptation_volume, "mL", [0.0, 400.0], "RV volume below which functional TR closes (0 = fixed area)";
    "pulmonary.r" => pulmonary.r, "mmHg·s/mL", [0.001, 1.0], "pulmonary-valve forward resistance";
    "pulmonary.regurgitant_area" => pulmonary.regurgitant_area, "cm²", [0.0, 1.0], "pulmonary-valve effective regurgitant orifice area";
    "systemic.c_prox" => systemic.c_prox, "mL/mmHg", [0.02, 3.0], "proximal aortic compliance";
    "systemic.vu_prox" => systemic.vu_prox, "mL", [0.0, 300.0], "proximal aortic unstressed volume";
    "systemic.r_char" => systemic.r_char, "mmHg·s/mL", [0.001, 0.5], "aortic characteristic resistance";
    "systemic.inertance" => systemic.inertance, "mmHg·s²/mL", [1e-5, 0.01], "aortic inertance";
    "systemic.c_art" => systemic.c_art, "mL/mmHg", [0.1, 10.0], "systemic arterial compliance";
    "systemic.vu_art" => systemic.vu_art, "mL", [0.0, 2000.0], "systemic arterial unstressed volume";
    "systemic.r_periph" => systemic.r_periph, "mmHg·s/mL", [0.2, 5.0], "systemic vascular resistance (SVR)";
    "systemic.c_ven" => systemic.c_ven, "mL/mmHg", [5.0, 500.0], "systemic venous compliance";
    "systemic.vu_ven" => systemic.vu_ven, "mL", [0.0, 5000.0], "systemic venous unstressed volume";
    "systemic.r_ven" => systemic.r_ven, "mmHg·s/mL", [0.001, 0.5], "venous return resistance";
    "pulmonary_circ.c_prox" => pulmonary_circ.c_prox, "mL/mmHg", [0.05, 10.0], "main pulmonary artery compliance";
    "pulmonary_circ.vu_prox" => pulmonary_circ.vu_prox, "mL", [0.0, 300.0], "main pulmonary artery unstressed volume";
    "pulmonary_circ.r_char" => pulmonary_circ.r_char, "mmHg·s/mL", [0.001, 0.5], "pulmonary characteristic resistance";
    "pulmonary_circ.inertance" => pulmonary_circ.inertance, "mmHg·s²/mL", [1e-5, 0.01], "pulmonary arterial inertance";
    "pulmonary_circ.c_art" => pulmonary_circ.c_art, "mL/mmHg", [0.5, 50.0], "distal pulmonary arterial compliance";
    "pulmonary_circ.vu_art" => pulmonary_circ.vu_art, "mL", [0.0, 1000.0], "distal pulmonary arterial unstressed volume";
    "pulmonary_circ.r_periph" => pulmonary_circ.r_periph, "mmHg·s/mL", [0.01, 2.0], "pulmonary vascular resistance (PVR)";
    "pulmonary_circ.c_ven" => pulmonary_circ.c_ven, "mL/mmHg", [2.0, 200.0], "pulmonary venous compliance";
    "pulmonary_circ.vu_ven" => pulmonary_circ.vu_ven, "mL", [0.0, 1000.0], "pulmonary venous unstressed volume";
    "pulmonary_circ.r_ven" => pulmonary_circ.r_ven, "mmHg·s/mL", [0.001, 0.5], "pulmonary venous resistance";
    "pericardium.p0" => pericardium.p0, "mmHg", [0.0, 5.0], "pericardial pressure scale (0 = no pericardium)";
    "pericardium.lambda" => pericardium.lambda, "1/mL", [0.001, 0.1], "pericardial stiffness";
    "pericardium.v0" => pericardium.v0, "mL", [50.0, 800.0], "pericardial reference volume (both ventricles)";
    "reflex.gain" => reflex.gain, "-", [0.0, 3.0], "baroreflex gain, a multiple of the published gains (0 = open loop)";
    "reflex.heart_rate" => reflex.heart_rate, "-", [0.0, 3.0], "baroreflex gain on the heart period, a multiple of the published";
    "reflex.contractility" => reflex.contractility, "-", [0.0, 3.0], "baroreflex gain on both ventricles' end-systolic elastance, a multiple of the published";
    "reflex.resistance" => reflex.resistance, "-", [0.0, 3.0], "baroreflex gain on systemic vascular resistance, a multiple of the published";
    "reflex.venous_tone" => reflex.venous_tone, "-", [0.0, 3.0], "baroreflex gain on systemic venous unstressed volume, a multiple of the published";
    "reflex.cardiopulmonary" => reflex.cardiopulmonary, "-", [0.0, 3.0], "cardiopulmonary (low-pressure) reflex gain, a multiple of the published";
    "septum.ees" => septum.ees, "mmHg/mL", [1.0, 500.0], "septal end-systolic elastance";
    "septum.p0" => septum.p0, "mmHg", [0.01, 20.0], "septal passive pressure scale";
    "septum.lambda" => septum.lambda, "1/mL", [0.01, 2.0], "septal passive stiffness";
    "septum.compliance_scale" => septum.compliance_scale, "-", [0.0, 10.0], "septal compliance multiplier (0 = rigid septum, no septal interaction; 1 = septum.ees, p0, lambda)";
    "blood_volume" => blood_volume, "mL", [2000.0, 9000.0], "total blood volume";
    "bsa" => bsa, "m²", [1.0, 3.0], "body surface area";
}

/// A parameter could not be set or is outside what the model accepts.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParameterError {
    /// No parameter has this path.
    #[error("unknown parameter '{path}'{hint}")]
    Unknown {
        /// The path given.
        path: String,
        /// " (did you mean …?)" or empty.
        hint: String,
    },
    /// A value outside the parameter's range.
    #[error(
        "{path} = {} {unit} is outside the allowed range [{min}, {max}] {unit}{hint}",
        display_number(*value)
    )]
    OutOfRange {
        /// The parameter's path.
        path: String,
        /// The value given.
        value: f64,
        /// Its unit.
        unit: &'static str,
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
        /// What the value may have meant, e.g. a resistance in dyn·s·cm⁻⁵ (or empty).
        hint: String,
    },
    /// NaN or infinite.
    #[error("{path} = {value} is not a finite number")]
    NotFinite {
        /// The parameter's path.
        path: String,
        /// The value given.
        value: f64,
    },
    /// Too little blood to fill the unstressed volumes.
    #[error(
        "blood_volume = {blood_volume} mL is below the total unstressed volume of the vessels \
         and chamber intercepts ({unstressed:.0} mL): it must exceed it by at least {margin} mL"
    )]
    BloodVolumeTooLow {
        /// The blood volume given, mL.
        blood_volume: f64,
        /// Total unstressed volume, mL.
        unstressed: f64,
        /// Least stressed volume required, mL.
        margin: f64,
    },
    /// An activation that relaxes before it contracts.
    #[error(
        "heart.{chamber}.tau2 = {tau2} s must exceed heart.{chamber}.tau1 = {tau1} s \
         (relaxation follows contraction)"
    )]
    ActivationOrder {
        /// "ventricle" or "atrium".
        chamber: &'static str,
        /// Contraction time constant, s.
        tau1: f64,
        /// Relaxation time constant, s.
        tau2: f64,
    },
}

/// Smallest stressed volume accepted above the total unstressed volume, mL.
pub const MIN_STRESSED_VOLUME_ML: f64 = 200.0;

/// Looks up a parameter by its dotted path.
pub fn spec(path: &str) -> Result<&'static ParamSpec, ParameterError> {
    PARAMETERS
        .iter()
        .find(|s| s.path == path)
        .ok_or_else(|| ParameterError::Unknown {
            path: path.to_string(),
            hint: hint_for(path),
        })
}

/// Suggests the known paths under the same first segment, so a typo is easy to fix.
fn hint_for(path: &str) -> String {
    let head = path.split('.').next().unwrap_or("");
    let siblings: Vec<&str> = PARAMETERS
        .iter()
        .map(|s| s.path)
        .filter(|p| p.split('.').next() == Some(head))
        .collect();
    if siblings.is_empty() {
        let groups: std::collections::BTreeSet<&str> = PARAMETERS
            .iter()
            .map(|s| s.path.split('.').next().unwrap_or(""))
            .collect();
        format!(
            "; known groups: {}",
            groups.into_iter().collect::<Vec<_>>().join(", ")
        )
    } else {
        format!("; known under '{head}': {}", siblings.join(", "))
    }
}

impl Parameters {
    /// Value at a dotted path.
    pub fn get(&self, path: &str) -> Result<f64, ParameterError> {
        Ok(spec(path)?.get(self))
    }

    /// Sets the value at a dotted path, checking the allowed range.
    pub fn set(&mut self, path: &str, value: f64) -> Result<(), ParameterError> {
        let s = spec(path)?;
        check_range(s, value)?;
        *(s.get_mut)(self) = value;
        Ok(())
    }

    /// Checks every parameter's range and the cross-parameter constraints.
    pub fn validate(&self) -> Result<(), ParameterError> {
        for s in PARAMETERS {
            check_range(s, s.get(self))?;
        }
        for (name, a) in [
            ("ventricle", self.heart.ventricle),
            ("atrium", self.heart.atrium),
        ] {
            if a.tau2 <= a.tau1 {
                return Err(ParameterError::ActivationOrder {
                    chamber: name,
                    tau1: a.tau1,
                    tau2: a.tau2,
                });
            }
        }
        let unstressed = self.unstressed_volume();
        if self.blood_volume < unstressed + MIN_STRESSED_VOLUME_ML {
            return Err(ParameterError::BloodVolumeTooLow {
                blood_volume: self.blood_volume,
                unstressed,
                margin: MIN_STRESSED_VOLUME_ML,
            });
        }
        Ok(())
    }

    /// Sum of vessel unstressed volumes and (non-negative) chamber volume intercepts, mL.
    pub fn unstressed_volume(&self) -> f64 {
        let vessels = |c: &CirculationParams| c.vu_prox + c.vu_art + c.vu_ven;
        let chambers = [self.la, self.lv, self.ra, self.rv]
            .iter()
            .map(|c| c.v0.max(0.0))
            .sum::<f64>();
        vessels(&self.systemic) + vessels(&self.pulmonary_circ) + chambers
    }
}

fn check_range(s: &ParamSpec, value: f64) -> Result<(), ParameterError> {
    if !value.is_finite() {
        return Err(ParameterError::NotFinite {
            path: s.path.to_string(),
            value,
        });
    }
    if value < s.min || value > s.max {
        return Err(ParameterError::OutOfRange {
            path: s.path.to_string(),
            value,
            unit: s.unit,
            min: s.min,
            max: s.max,
            hint: unit_hint(s, value),
        });
    }
    Ok(())
}

/// dyn·s·cm⁻⁵ in one mmHg·s/mL (133.322 Pa · 10 dyn/cm² per Pa).
pub const DYN_S_CM5_PER_MMHG_S_ML: f64 = 1333.22;

/// For a resistance out of range that fits once read as dyn·s·cm⁻⁵ (the clinical unit of
/// SVR and PVR), the converted value; else empty.
fn unit_hint(s: &ParamSpec, value: f64) -> String {
    let converted = value / DYN_S_CM5_PER_MMHG_S_ML;
    if s.unit == "mmHg·s/mL" && converted >= s.min && converted <= s.max {
        format!(
            "; if {} is in dyn·s·cm⁻⁵, write {} mmHg·s/mL (1 mmHg·s/mL = {} dyn·s·cm⁻⁵)",
            display_number(value),
            sig4(converted),
            DYN_S_CM5_PER_MMHG_S_ML
        )
    } else {
        String::new()
    }
}

/// `v` to four significant figures, trailing zeros dropped.
fn sig4(v: f64) -> String {
    let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number for a message: as written when of everyday size, in exponent form (`1e308`,
/// `2.5e-9`) when very large or small, so a huge value is not printed as hundreds of digits.
pub fn display_number(v: f64) -> String {
    let a = v.abs();
    if a.is_finite() && a != 0.0 && !(1e-4..1e9).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physiology::presets;

    #[test]
    fn paths_are_unique() {
        let mut paths: Vec<_> = PARAMETERS.iter().map(|s| s.path).collect();
        paths.sort_unstable();
        let n = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), n);
    }

    #[test]
    fn set_and_get_round_trip() {
        let mut p = presets::normal();
        p.set("lv.ees", 1.25).unwrap();
        assert_eq!(p.lv.ees, 1.25);
        assert_eq!(p.get("lv.ees").unwrap(), 1.25);
    }

    #[test]
    fn unknown_path_names_siblings() {
        let err = presets::normal().set("lv.eees", 1.0).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("lv.eees") && msg.contains("lv.ees"), "{msg}");
    }

    #[test]
    fn huge_values_print_in_exponent_form() {
        let msg = presets::normal()
            .set("lv.ees", 1e308)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("lv.ees = 1e308 mmHg/mL is outside"),
            "{msg}"
        );
        assert_eq!(display_number(4500.0), "4500");
        assert_eq!(display_number(-2.5e-9), "-2.5e-9");
        assert_eq!(display_number(0.0), "0");
    }

    #[test]
    fn a_resistance_in_dyn_s_cm5_is_converted_in_the_message() {
        let msg = presets::normal()
            .set("systemic.r_periph", 1200.0)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("dyn·s·cm⁻⁵") && msg.contains("write 0.9001 mmHg·s/mL"),
            "{msg}"
        );
        // Not for values that are out of range in either unit, nor for other units.
        let msg = presets::normal()
            .set("systemic.r_periph", 1e6)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("dyn"), "{msg}");
        let msg = presets::normal()
            .set("heart.hr", 1200.0)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("dyn"), "{msg}");
    }

    #[test]
    fn out_of_range_names_range_and_unit() {
        let err = presets::normal().set("heart.hr", 0.0).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("heart.hr") && msg.contains("[20, 200]"),
            "{msg}"
        );
        let err = presets::normal().set("systemic.c_art", -1.0).unwrap_err();
        assert!(err.to_string().contains("mL/mmHg"));
    }

    #[test]
    fn blood_volume_below_unstressed_is_refused() {
        let mut p = presets::normal();
        p.blood_volume = 2500.0;
        assert!(matches!(
            p.validate(),
            Err(ParameterError::BloodVolumeTooLow { .. })
        ));
    }
}

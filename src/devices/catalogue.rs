//! Device files (data/devices/*.toml): schema, validation, and the catalogue of models.

use super::hq::{LevelFlow, PumpCurve, StoppedRotor};
use super::{Basis, DeviceError, Side};
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;
use toml::Spanned;

use crate::text_position::{line_column, utf8_text};

/// The embedded device files: (file name, contents).
const BUILTIN_FILES: [(&str, &str); 5] = [
    (
        "impella_2_5.toml",
        include_str!("../../data/devices/impella_2_5.toml"),
    ),
    (
        "impella_cp.toml",
        include_str!("../../data/devices/impella_cp.toml"),
    ),
    (
        "impella_5_0.toml",
        include_str!("../../data/devices/impella_5_0.toml"),
    ),
    (
        "impella_5_5.toml",
        include_str!("../../data/devices/impella_5_5.toml"),
    ),
    (
        "impella_rp.toml",
        include_str!("../../data/devices/impella_rp.toml"),
    ),
];

// ---- File schema (one struct per TOML table; unknown keys are errors) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceFile {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    side: Side,
    rated_max_flow: RatedMaxFlowFile,
    cannula: CannulaFile,
    stopped_rotor: StoppedRotorFile,
    p_levels: PLevelsFile,
    hq: HqFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatedMaxFlowFile {
    l_min: Spanned<f64>,
    basis: Basis,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CannulaFile {
    inertance_mmhg_s2_per_ml: Spanned<f64>,
    basis: Basis,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoppedRotorFile {
    k_mmhg_s2_per_ml2: Spanned<f64>,
    r_mmhg_s_per_ml: Spanned<f64>,
    basis: Basis,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PLevelsFile {
    rpm_source: String,
    flow_source: String,
    level: Vec<Spanned<PLevelFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PLevelFile {
    level: Spanned<u8>,
    rpm: Spanned<f64>,
    rpm_basis: Basis,
    flow_l_min: Option<Spanned<[f64; 2]>>,
    flow_basis: Option<Basis>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HqFile {
    basis: Basis,
    source: String,
    curve: Vec<Spanned<CurveFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurveFile {
    level: u8,
    quartic: QuarticFile,
    #[serde(default = "unit_scale")]
    flow_scale: f64,
    #[serde(default = "unit_scale")]
    head_scale: f64,
    basis: Option<Basis>,
    note: Option<String>,
}

/// Q [L/min] = a4·h⁴ + a3·h³ + a2·h² + a1·h + a0, h in mmHg.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarticFile {
    a4: f64,
    a3: f64,
    a2: f64,
    a1: f64,
    a0: f64,
}

fn unit_scale() -> f64 {
    1.0
}

// ---- Validated model ----

/// A basis mark and the source text for one table of a device file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced {
    /// Published, derived or estimated.
    pub basis: Basis,
    /// The reference, as written in the file.
    pub source: String,
}

/// Where each part of a device's data came from (verbatim from its file).
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Of the rated maximum flow.
    pub rated_max_flow: Sourced,
    /// Of the cannula's dimensions and inertance.
    pub cannula: Sourced,
    /// Of the stopped rotor's leak.
    pub stopped_rotor: Sourced,
    /// Source of the speed column; each level also has its own [`PLevel::rpm_basis`].
    pub rpm_source: String,
    /// Source of the flow-range column; each level also has its own [`PLevel::flow_basis`].
    pub flow_source: String,
    /// Source of the HQ polynomials; a level may override the basis ([`PLevel::hq_basis`]).
    pub hq: Sourced,
}

/// One P-level of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct PLevel {
    /// P-level number, 0 (stopped) upward.
    pub level: u8,
    /// Rotor speed, rpm (0 for P-0).
    pub rpm: f64,
    /// Basis of the speed.
    pub rpm_basis: Basis,
    /// Published (or derived/estimated, see `flow_basis`) mean-flow range [lo, hi], L/min:
    /// the flow at a pump pressure difference of 60 mmHg (lo) and 30 mmHg (hi).
    pub flow_range_l_min: Option<[f64; 2]>,
    /// Basis of the flow range.
    pub flow_basis: Option<Basis>,
    /// Basis of this level's HQ curve (None for P-0, which has none).
    pub hq_basis: Option<Basis>,
    /// How this level's HQ curve was adjusted, when it was.
    pub hq_note: Option<String>,
}

/// One pump model, validated: P-levels, rated flow, cannula, stopped-rotor leak and its
/// precomputed [`PumpCurve`].
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    id: String,
    name: String,
    aliases: Vec<String>,
    side: Side,
    origin: String,
    rated_max_flow_l_min: f64,
    cannula_inertance_mmhg_s2_per_ml: f64,
    stopped_rotor: StoppedRotor,
    p_levels: Vec<PLevel>,
    provenance: Provenance,
    /// Shared with every pump made from it (a sweep makes some per case).
    curve: std::sync::Arc<PumpCurve>,
}

impl DeviceSpec {
    /// Parses and validates one device file. `origin` names it in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<DeviceSpec, DeviceError> {
        let file: DeviceFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            DeviceError::Parse {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim_end().to_string(),
            }
        })?;
        Validator { text, origin }.device(file)
    }

    /// Short id, e.g. "cp".
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Display name, e.g. "Impella CP with SmartAssist".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Other names accepted by [`Catalogue::get`].
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// Left (LV → aorta) or right (RA/IVC → pulmonary artery).
    pub fn side(&self) -> Side {
        self.side
    }

    /// The file the device came from (`builtin:<file>` for embedded data).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Rated maximum mean flow, L/min.
    pub fn rated_max_flow_l_min(&self) -> f64 {
        self.rated_max_flow_l_min
    }

    /// Inertance L of the blood column in the cannula, mmHg·s²/mL.
    pub fn cannula_inertance_mmhg_s2_per_ml(&self) -> f64 {
        self.cannula_inertance_mmhg_s2_per_ml
    }

    /// The stopped-rotor (P-0) leak law.
    pub fn stopped_rotor(&self) -> StoppedRotor {
        self.stopped_rotor
    }

    /// All P-levels, 0 to [`Self::max_p_level`], in order.
    pub fn p_levels(&self) -> &[PLevel] {
        &self.p_levels
    }

    /// One P-level; error naming the allowed levels if the model has no such level.
    pub fn p_level(&self, p_level: u8) -> Result<&PLevel, DeviceError> {
        self.p_levels
            .get(usize::from(p_level))
            .ok_or_else(|| DeviceError::UnknownPLevel {
                device: self.id.clone(),
                level: p_level,
                max: self.max_p_level(),
            })
    }

    /// Rotor speed of a P-level, rpm.
    pub fn speed_rpm(&self, p_level: u8) -> Result<f64, DeviceError> {
        self.p_level(p_level).map(|l| l.rpm)
    }

    /// Highest P-level (9 for every built-in model).
    pub fn max_p_level(&self) -> u8 {
        self.p_levels[self.p_levels.len() - 1].level
    }

    /// Speed of the highest P-level, rpm.
    pub fn max_speed_rpm(&self) -> f64 {
        self.p_levels[self.p_levels.len() - 1].rpm
    }

    /// Basis and source of each table of the device file.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The HQ characteristic (built at load, shared).
    pub fn pump_curve(&self) -> std::sync::Arc<PumpCurve> {
        self.curve.clone()
    }
}

/// Name comparison ignores case and treats '-', '.', ' ' like '_' ("Impella 2.5" = "impella_2_5").
fn normalise(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

struct Validator<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Validator<'_> {
    fn invalid(&self, span: Range<usize>, message: String) -> DeviceError {
        let (line, column) = line_column(self.text, span.start);
        DeviceError::Invalid {
            origin: self.origin.to_string(),
            line: Some(line),
            column: Some(column),
            message,
        }
    }

    fn positive(&self, value: &Spanned<f64>, key: &str) -> Result<f64, DeviceError> {
        let v = *value.get_ref();
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.invalid(
                value.span(),
                format!("{key} must be a positive number, got {v}"),
            ))
        }
    }

    fn device(&self, file: DeviceFile) -> Result<DeviceSpec, DeviceError> {
        let id = file.id.get_ref().trim().to_string();
        if id.is_empty() {
            return Err(self.invalid(file.id.span(), "id must not be empty".into()));
        }
        let mut seen = vec![normalise(&id)];
        for alias in &file.aliases {
            let n = normalise(alias.get_ref());
            if n.is_empty() || seen.contains(&n) {
                return Err(self.invalid(
                    alias.span(),
                    format!("alias '{}' is empty or repeats a name", alias.get_ref()),
                ));
            }
            seen.push(n);
        }
        let rated = self.positive(&file.rated_max_flow.l_min, "rated_max_flow.l_min")?;
        let inertance = self.positive(
            &file.cannula.inertance_mmhg_s2_per_ml,
            "cannula.inertance_mmhg_s2_per_ml",
        )?;
        let k = *file.stopped_rotor.k_mmhg_s2_per_ml2.get_ref();
        if !(k.is_finite() && k >= 0.0) {
            return Err(self.invalid(
                file.stopped_rotor.k_mmhg_s2_per_ml2.span(),
                format!("stopped_rotor.k_mmhg_s2_per_ml2 must be >= 0, got {k}"),
            ));
        }
        let stopped_rotor = StoppedRotor {
            k_mmhg_s2_per_ml2: k,
            r_mmhg_s_per_ml: self.positive(
                &file.stopped_rotor.r_mmhg_s_per_ml,
                "stopped_rotor.r_mmhg_s_per_ml",
            )?,
        };
        let mut p_levels = self.p_levels(&file.p_levels.level)?;
        let running = self.curves(&file.hq, &mut p_levels)?;
        Ok(DeviceSpec {
            id,
            name: file.name,
            aliases: file.aliases.into_iter().map(Spanned::into_inner).collect(),
            side: file.side,
            origin: self.origin.to_string(),
            rated_max_flow_l_min: rated,
            cannula_inertance_mmhg_s2_per_ml: inertance,
            stopped_rotor,
            curve: std::sync::Arc::new(PumpCurve::new(&running, stopped_rotor)),
            p_levels,
            provenance: Provenance {
                rated_max_flow: Sourced {
                    basis: file.rated_max_flow.basis,
                    source: file.rated_max_flow.source,
                },
                cannula: Sourced {
                    basis: file.cannula.basis,
                    source: file.cannula.source,
                },
                stopped_rotor: Sourced {
                    basis: file.stopped_rotor.basis,
                    source: file.stopped_rotor.source,
                },
                rpm_source: file.p_levels.rpm_source,
                flow_source: file.p_levels.flow_source,
                hq: Sourced {
                    basis: file.hq.basis,
                    source: file.hq.source,
                },
            },
        })
    }

    /// Levels listed in order 0, 1, 2, …; P-0 at 0 rpm; speeds strictly increasing.
    fn p_levels(&self, entries: &[Spanned<PLevelFile>]) -> Result<Vec<PLevel>, DeviceError> {
        let mut levels: Vec<PLevel> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let e = entry.get_ref();
            let (level, rpm) = (*e.level.get_ref(), *e.rpm.get_ref());
            if usize::from(level) != i {
                return Err(self.invalid(
                    e.level.span(),
                    format!(
                        "P-levels must be listed in order 0, 1, 2, ...: found level {level} where \
                         level {i} was expected"
                    ),
                ));
            }
            if i == 0 && rpm != 0.0 {
                return Err(self.invalid(
                    e.rpm.span(),
                    format!("P-0 is the stopped rotor: rpm must be 0, got {rpm}"),
                ));
            }
            if let Some(prev) = levels.last() {
                if !(rpm.is_finite() && rpm > prev.rpm) {
                    return Err(self.invalid(
                        e.rpm.span(),
                        format!(
                            "P-{level} speed {rpm} rpm must be finite and above P-{} ({} rpm)",
                            prev.level, prev.rpm
                        ),
                    ));
                }
            }
            if let Some(range) = &e.flow_l_min {
                let [lo, hi] = *range.get_ref();
                if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi) {
                    return Err(self.invalid(
                        range.span(),
                        format!(
                            "P-{level} flow_l_min must be [lo, hi] with 0 <= lo <= hi, got \
                             [{lo}, {hi}]"
                        ),
                    ));
                }
            }
            if e.flow_l_min.is_some() != e.flow_basis.is_some() {
                return Err(self.invalid(
                    entry.span(),
                    format!("P-{level}: flow_l_min and flow_basis must be given together"),
                ));
            }
            levels.push(PLevel {
                level,
                rpm,
                rpm_basis: e.rpm_basis,
                flow_range_l_min: e.flow_l_min.as_ref().map(|r| *r.get_ref()),
                flow_basis: e.flow_basis,
                hq_basis: None,
                hq_note: None,
            });
        }
        if levels.len() < 2 {
            return Err(DeviceError::Invalid {
                origin: self.origin.to_string(),
                line: None,
                column: None,
                message: "p_levels needs P-0 and at least one running level".into(),
            });
        }
        Ok(levels)
    }

    /// One HQ curve for every running level (P-1 upward), none for P-0. Returns (ω_k, Q_k)
    /// in level order and records each curve's basis and note on its level.
    fn curves(
        &self,
        hq: &HqFile,
        levels: &mut [PLevel],
    ) -> Result<Vec<(f64, LevelFlow)>, DeviceError> {
        let mut flows: Vec<Option<(f64, LevelFlow)>> = vec![None; levels.len()];
        for entry in &hq.curve {
            let c = entry.get_ref();
            let bad = |message: String| self.invalid(entry.span(), message);
            let k = usize::from(c.level);
            if k == 0 || k >= levels.len() {
                return Err(bad(format!(
                    "HQ curve for P-{}: curves are for levels 1 to {}",
                    c.level,
                    levels.len() - 1
                )));
            }
            if flows[k].is_some() {
                return Err(bad(format!("second HQ curve for P-{k}")));
            }
            let q = &c.quartic;
            let flow = LevelFlow::new([q.a0, q.a1, q.a2, q.a3, q.a4], c.flow_scale, c.head_scale)
                .map_err(|reason| bad(format!("HQ curve for P-{k}: {reason}")))?;
            flows[k] = Some((levels[k].rpm, flow));
            levels[k].hq_basis = Some(c.basis.unwrap_or(hq.basis));
            levels[k].hq_note = c.note.clone();
        }
        flows
            .into_iter()
            .enumerate()
            .skip(1)
            .map(|(k, f)| {
                f.ok_or_else(|| DeviceError::Invalid {
                    origin: self.origin.to_string(),
                    line: None,
                    column: None,
                    message: format!("no HQ curve for P-{k}: every running level needs one"),
                })
            })
            .collect()
    }
}

/// The known pump models: the five built-in devices plus any added from files.
#[derive(Debug, Clone)]
pub struct Catalogue {
    devices: Vec<DeviceSpec>,
}

impl Catalogue {
    /// The five embedded devices: Impella 2.5, CP, 5.0, 5.5 and RP.
    pub fn builtin() -> Catalogue {
        static BUILTIN: OnceLock<Catalogue> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut catalogue = Catalogue {
                    devices: Vec::new(),
                };
                for (file, text) in BUILTIN_FILES {
                    let spec = DeviceSpec::from_toml_str(text, &format!("builtin:{file}"))
                        .and_then(|spec| catalogue.add(spec));
                    if let Err(e) = spec {
                        panic!("embedded device data is invalid: {e}");
                    }
                }
                catalogue
            })
            .clone()
    }

    /// Reads and validates one device file (same format as data/devices/*.toml).
    pub fn load_file(path: &Path) -> Result<DeviceSpec, DeviceError> {
        let bytes = crate::text_position::read_input(path).map_err(|source| DeviceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = utf8_text(bytes).map_err(|e| DeviceError::Parse {
            origin: path.display().to_string(),
            line: Some(e.line),
            column: Some(e.column),
            message: e.to_string(),
        })?;
        DeviceSpec::from_toml_str(&text, &path.display().to_string())
    }

    /// Adds a device; its id and aliases must not collide with any known name.
    pub fn add(&mut self, spec: DeviceSpec) -> Result<(), DeviceError> {
        for name in std::iter::once(&spec.id).chain(&spec.aliases) {
            if let Ok(existing) = self.get(name) {
                return Err(DeviceError::DuplicateName {
                    device: spec.id.clone(),
                    name: name.clone(),
                    existing: existing.id.clone(),
                });
            }
        }
        self.devices.push(spec);
        Ok(())
    }

    /// Looks a model up by id or alias, ignoring case and '-', '.', ' ' vs '_'.
    pub fn get(&self, model: &str) -> Result<&DeviceSpec, DeviceError> {
        let wanted = normalise(model);
        self.devices
            .iter()
            .find(|d| {
                normalise(&d.id) == wanted || d.aliases.iter().any(|a| normalise(a) == wanted)
            })
            .ok_or_else(|| DeviceError::UnknownModel {
                model: model.to_string(),
                known: self
                    .devices
                    .iter()
                    .map(|d| format!("{} (or {})", d.id, d.aliases.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
    }

    /// Device ids in catalogue order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.devices.iter().map(|d| d.id.as_str())
    }

    /// Devices in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = &DeviceSpec> + '_ {
        self.devices.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp_text() -> &'static str {
        BUILTIN_FILES[1].1
    }

    #[test]
    fn builtin_devices_load() {
        let c = Catalogue::builtin();
        assert_eq!(
            c.ids().collect::<Vec<_>>(),
            ["2.5", "cp", "5.0", "5.5", "rp"]
        );
        for d in c.iter() {
            assert_eq!(d.p_levels().len(), 10, "{}", d.id());
            assert!(d.origin().starts_with("builtin:"));
        }
    }

    #[test]
    fn names_are_normalised() {
        let c = Catalogue::builtin();
        for name in [
            "Impella CP",
            "impella-cp",
            "CP",
            "Impella 2.5",
            "2_5",
            "impella_5.0",
            "LD",
        ] {
            assert!(c.get(name).is_ok(), "{name}");
        }
        assert_eq!(c.get("Impella 5.5").unwrap().id(), "5.5");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let mut c = Catalogue::builtin();
        let cp = c.get("cp").unwrap().clone();
        let err = c.add(cp).unwrap_err().to_string();
        assert!(err.contains("already used by device 'cp'"), "{err}");
    }

    fn invalid_message(text: &str) -> String {
        DeviceSpec::from_toml_str(text, "test.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn levels_out_of_order_name_the_line() {
        let text = cp_text().replacen("level = 3\nrpm = 33000", "level = 4\nrpm = 33000", 1);
        let offset = text.find("level = 4\nrpm = 33000").unwrap() + "level = ".len();
        let (line, column) = line_column(&text, offset);
        let msg = invalid_message(&text);
        assert!(
            msg.contains("found level 4 where level 3 was expected"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("line {line}, column {column}")),
            "{msg}"
        );
    }

    #[test]
    fn speeds_must_increase() {
        let msg = invalid_message(&cp_text().replacen("rpm = 35000", "rpm = 32000", 1));
        assert!(msg.contains("must be finite and above P-3"), "{msg}");
    }

    #[test]
    fn missing_curve_is_reported() {
        let text = cp_text();
        let start = text.find("[[hq.curve]]\nlevel = 9").unwrap();
        let msg = invalid_message(&text[..start]);
        assert!(msg.contains("no HQ curve for P-9"), "{msg}");
    }

    #[test]
    fn bad_curve_is_reported_with_its_level() {
        let msg = invalid_message(&cp_text().replacen("a0 = 4.054", "a0 = -4.054", 1));
        assert!(
            msg.contains("HQ curve for P-9: the curve gives no forward flow"),
            "{msg}"
        );
    }

    #[test]
    fn flow_range_needs_its_basis() {
        let msg = invalid_message(&cp_text().replacen(
            "flow_l_min = [3.3, 3.7]\nflow_basis = \"ifu\"",
            "flow_l_min = [3.3, 3.7]",
            1,
        ));
        assert!(
            msg.contains("flow_l_min and flow_basis must be given together"),
            "{msg}"
        );
    }
}

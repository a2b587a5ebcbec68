//! Scenarios: the TOML schema, its validation, and the typed run it becomes.
//!
//! Every key is documented in docs/scenarios.md. Unknown keys are errors; every error names
//! the file, the key and, where the text has one, the line and column.

pub mod course;
pub mod duration;
mod messages;
mod overrides;
pub mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use crate::text_position::MAX_INPUT_BYTES;
use crate::text_position::{line_column, read_input, utf8_text};
use thiserror::Error;
use toml::Spanned;

use crate::devices::{Catalogue, Position, Pump};
use crate::engine::{Action, BeatSink, EngineSpec, RunResult, RunSettings, SimError};
use crate::physiology::parameters::display_number;
use crate::physiology::presets::{self, PRESETS};
use crate::physiology::{Circulation, Parameters};
use crate::solver::{Method, SolverSettings};
pub use duration::Duration;

/// A scenario as written in TOML.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// What is simulated; used in titles and the summary.
    pub title: Option<String>,
    /// Seed of the random-number generator, recorded in provenance.
    #[serde(default)]
    pub seed: u64,
    /// `[patient]`: preset and parameter overrides.
    #[serde(default)]
    pub patient: PatientSection,
    /// `[simulation]`: steady state, report beats, fast-forward.
    #[serde(default)]
    pub simulation: SimulationSection,
    /// `[solver]`: integrator and tolerances.
    #[serde(default)]
    pub solver: SolverSection,
    /// `[output]`: timeseries and pictures.
    #[serde(default)]
    pub output: OutputSection,
    /// Extra device files (paths relative to the scenario file), added to the catalogue.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub device_files: Vec<Spanned<String>>,
    /// Pumps in the patient: at most one left-sided and one right-sided.
    #[serde(default)]
    #[schemars(with = "Vec<DeviceSection>")]
    pub devices: Vec<Spanned<DeviceSection>>,
    /// A clinical course after stabilisation (events, triggers and weaning need it).
    pub course: Option<course::CourseSection>,
    /// `[[events]]` of the course.
    #[serde(default)]
    pub events: Vec<course::EventSection>,
    /// `[[triggers]]` of the course.
    #[serde(default)]
    pub triggers: Vec<course::TriggerSection>,
    /// `[weaning]` protocol.
    pub weaning: Option<course::WeaningSection>,
    /// `[complications]`: random, seeded.
    pub complications: Option<course::ComplicationsSection>,
}

/// `[[devices]]` (and the device tables of course actions).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceSection {
    /// Catalogue id or alias ("2.5", "cp", "5.0", "5.5", "rp").
    #[schemars(with = "String")]
    pub model: Spanned<String>,
    /// Performance level P0..P9 (the device's range).
    #[schemars(with = "u8")]
    pub p_level: Spanned<u8>,
    /// "correct" (default), "inlet_in_aorta" or "too_deep" (left-sided devices).
    #[schemars(with = "Option<String>")]
    pub position: Option<Spanned<String>>,
}

/// `[patient]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientSection {
    /// Preset name (see `impella-sim presets`); default "normal".
    #[schemars(with = "Option<String>")]
    pub preset: Option<Spanned<String>>,
    /// Parameter overrides by dotted path.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, f64>")]
    pub set: BTreeMap<Spanned<String>, Spanned<f64>>,
    /// `[patient.reflexes]`: the baroreflex on or off and its gains.
    #[serde(default)]
    pub reflexes: Option<ReflexesSection>,
}

/// `[patient.reflexes]`: the arterial baroreflex (docs/model.md). Each gain is a multiple of
/// the published one and sets the parameter `reflex.<key>`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReflexesSection {
    /// `false`: the open loop (`reflex.gain` = 0). Default true.
    #[schemars(with = "Option<bool>")]
    pub enabled: Option<Spanned<bool>>,
    /// All effectors together.
    #[schemars(with = "Option<f64>")]
    pub gain: Option<Spanned<f64>>,
    /// Heart period.
    #[schemars(with = "Option<f64>")]
    pub heart_rate: Option<Spanned<f64>>,
    /// Both ventricles' end-systolic elastance.
    #[schemars(with = "Option<f64>")]
    pub contractility: Option<Spanned<f64>>,
    /// Systemic vascular resistance.
    #[schemars(with = "Option<f64>")]
    pub resistance: Option<Spanned<f64>>,
    /// Systemic venous unstressed volume.
    #[schemars(with = "Option<f64>")]
    pub venous_tone: Option<Spanned<f64>>,
    /// The cardiopulmonary reflex (on right-atrial pressure).
    #[schemars(with = "Option<f64>")]
    pub cardiopulmonary: Option<Spanned<f64>>,
}

impl ReflexesSection {
    /// (parameter path, value, where it was written) of each gain given.
    fn settings(&self) -> Vec<(&'static str, f64, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        for (path, v) in [
            ("reflex.gain", &self.gain),
            ("reflex.heart_rate", &self.heart_rate),
            ("reflex.contractility", &self.contractility),
            ("reflex.resistance", &self.resistance),
            ("reflex.venous_tone", &self.venous_tone),
            ("reflex.cardiopulmonary", &self.cardiopulmonary),
        ] {
            if let Some(v) = v {
                out.push((path, *v.get_ref(), v.span()));
            }
        }
        out
    }
}

/// `[simulation]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationSection {
    /// Run to periodic steady state (else `max_beats` beats).
    pub steady_state: bool,
    /// Most beats before reporting.
    #[schemars(with = "u32")]
    pub max_beats: Spanned<u32>,
    /// Beat-to-beat relative change that counts as steady.
    #[schemars(with = "f64")]
    pub steady_tolerance: Spanned<f64>,
    /// Beats averaged into the summary.
    #[schemars(with = "u32")]
    pub report_beats: Spanned<u32>,
    /// Skip repeated beats of a quiet course.
    pub fast_forward: bool,
}

impl Default for SimulationSection {
    fn default() -> Self {
        let d = RunSettings::default();
        SimulationSection {
            steady_state: d.steady_state,
            max_beats: Spanned::new(0..0, d.max_beats as u32),
            steady_tolerance: Spanned::new(0..0, d.steady_tolerance),
            report_beats: Spanned::new(0..0, d.report_beats as u32),
            fast_forward: d.fast_forward,
        }
    }
}

/// `[solver]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SolverSection {
    /// "tsit5", "dopri5-fast" or "dopri5".
    #[schemars(with = "String")]
    pub method: Spanned<String>,
    /// Absent: the method's default ([`Method::default_tolerance`]).
    #[schemars(with = "Option<f64>")]
    pub rtol: Option<Spanned<f64>>,
    /// Absolute tolerance (absent: the method's default).
    #[schemars(with = "Option<f64>")]
    pub atol: Option<Spanned<f64>>,
    /// Largest step.
    #[schemars(with = "Duration")]
    pub max_step: Spanned<Duration>,
    /// Analysis and output grid within a beat.
    #[schemars(with = "Duration")]
    pub sample_interval: Spanned<Duration>,
}

impl Default for SolverSection {
    fn default() -> Self {
        let d = SolverSettings::default();
        SolverSection {
            method: Spanned::new(0..0, d.method.name().to_string()),
            rtol: None,
            atol: None,
            max_step: Spanned::new(0..0, Duration { seconds: d.h_max }),
            sample_interval: Spanned::new(
                0..0,
                Duration {
                    seconds: RunSettings::default().sample_interval,
                },
            ),
        }
    }
}

/// Which picture formats to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PictureFormats {
    /// PNG only.
    Png,
    /// SVG only.
    Svg,
    /// PNG and SVG.
    Both,
    /// No pictures.
    None,
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSection {
    /// Interval between timeseries rows; a whole multiple of the solver's sample interval.
    #[schemars(with = "Duration")]
    pub timeseries_every: Spanned<Duration>,
    /// Which beats timeseries.csv holds: "report" (default), "all" or "none" (`true` and
    /// `false` mean "all" and "none").
    /// integrated sample would otherwise be held in memory).
    pub timeseries: TimeseriesExtent,
    /// Significant digits of timeseries values (1–17; default: as many as round-trip).
    #[schemars(with = "Option<u8>")]
    pub timeseries_digits: Option<Spanned<u8>>,
    /// PV-loop picture formats.
    pub pv_loop: PictureFormats,
    /// Chambers with a PV-loop picture ("lv", "rv", "la", "ra").
    #[schemars(with = "Vec<String>")]
    pub pv_chambers: Vec<Spanned<String>>,
}

/// Which beats timeseries.csv holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeseriesExtent {
    /// The report beats (those the summary averages): what a user reads, and what the
    /// report's and overlay's PV loops need.
    Report,
    /// Every beat of the run, written as it goes (for a plain run, from the start-up transient
    /// on; for a course, its integrated beats).
    All,
    /// No timeseries.csv.
    None,
}

impl<'de> Deserialize<'de> for TimeseriesExtent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TimeseriesExtent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"report\", \"all\" or \"none\" (or true = all, false = none)")
            }
            fn visit_bool<E>(self, v: bool) -> Result<TimeseriesExtent, E> {
                Ok(if v {
                    TimeseriesExtent::All
                } else {
                    TimeseriesExtent::None
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TimeseriesExtent, E> {
                match v {
                    "report" => Ok(TimeseriesExtent::Report),
                    "all" => Ok(TimeseriesExtent::All),
                    "none" => Ok(TimeseriesExtent::None),
                    _ => Err(E::custom(format!(
                        "unknown value '{v}'; allowed: \"report\", \"all\", \"none\" (or true, false)"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// In a JSON Schema: one of the names, or a boolean.
impl JsonSchema for TimeseriesExtent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeseriesExtent".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Which beats timeseries.csv holds: \"report\" (default), \"all\", \"none\"; true and false mean \"all\" and \"none\".",
            "oneOf": [
                { "type": "string", "enum": ["report", "all", "none"] },
                { "type": "boolean" }
            ]
        })
    }
}

/// The JSON Schema of the scenario format (what `run` reads; sweep files add `[sweep]` and
/// `[cohort]`, docs/sweeps.md), for editors that check TOML against a schema.
pub fn json_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(ScenarioFile)).expect("a schema is JSON");
    schema["title"] = "impella-sim scenario".into();
    schema
}

/// What timeseries.csv holds and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeseries {
    /// Which beats.
    pub extent: TimeseriesExtent,
    /// Every k-th sample.
    pub stride: usize,
    /// Significant digits (None: as many as round-trip).
    pub digits: Option<u8>,
}

/// A chamber whose pressure–volume loop is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PvChamber {
    /// Left ventricle.
    Lv,
    /// Right ventricle.
    Rv,
    /// Left atrium.
    La,
    /// Right atrium.
    Ra,
}

impl PvChamber {
    const NAMES: [(&'static str, PvChamber); 4] = [
        ("lv", PvChamber::Lv),
        ("rv", PvChamber::Rv),
        ("la", PvChamber::La),
        ("ra", PvChamber::Ra),
    ];

    /// Output file name without extension: pv_loop (LV), pv_loop_rv, ...
    pub fn file_stem(self) -> &'static str {
        match self {
            PvChamber::Lv => "pv_loop",
            PvChamber::Rv => "pv_loop_rv",
            PvChamber::La => "pv_loop_la",
            PvChamber::Ra => "pv_loop_ra",
        }
    }
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            timeseries_every: Spanned::new(0..0, Duration { seconds: 1e-3 }),
            timeseries: TimeseriesExtent::Report,
            timeseries_digits: None,
            pv_loop: PictureFormats::Png,
            pv_chambers: vec![Spanned::new(0..0, "lv".to_string())],
        }
    }
}

impl DeviceSection {
    /// The pump this section describes; `key` names it in errors.
    pub(crate) fn pump<E>(
        &self,
        catalogue: &Catalogue,
        key: &str,
        err: &dyn Fn(std::ops::Range<usize>, String) -> E,
    ) -> Result<Pump, E> {
        let spec = catalogue
            .get(self.model.get_ref())
            .map_err(|e| err(self.model.span(), format!("{key}.model: {e}")))?;
        let position = match &self.position {
            None => Position::Correct,
            Some(p) => Position::from_name(p.get_ref()).ok_or_else(|| {
                err(
                    p.span(),
                    format!(
                        "{key}.position: unknown position '{}'; allowed: {}",
                        p.get_ref(),
                        Position::NAMES.join(", ")
                    ),
                )
            })?,
        };
        Pump::new(spec, *self.p_level.get_ref(), position)
            .map_err(|e| err(self.p_level.span(), format!("{key}.p_level: {e}")))
    }

    /// Where a placement error points: the position if written, else the model.
    pub(crate) fn position_span(&self) -> std::ops::Range<usize> {
        self.position
            .as_ref()
            .map_or_else(|| self.model.span(), |p| p.span())
    }
}

/// The patient's model with `pumps` coupled in, or why they cannot be placed (two on a side,
/// a malposition modelled for left-sided devices only). `[[devices]]`, the course's device
/// changes and the engine all place pumps this way.
pub(crate) fn place(
    patient: &Circulation,
    pumps: &[Pump],
) -> Result<Circulation, crate::physiology::circulation::CouplingError> {
    pumps
        .iter()
        .try_fold(patient.clone(), |m, p| m.with_pump(p.clone()))
}

/// A scenario ready to run: validated parameters and settings plus provenance.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Title of the run (titles, summary).
    pub title: String,
    /// Seed of complications and cohorts.
    pub seed: u64,
    /// Name of the patient preset.
    pub preset: String,
    /// The patient, preset plus overrides, validated.
    pub params: Parameters,
    /// Devices, in scenario order.
    pub pumps: Vec<Pump>,
    /// The course after stabilisation, if the scenario has one.
    pub course: Option<crate::engine::protocol::Course>,
    /// How long to run and what to keep.
    pub run: RunSettings,
    /// Integrator and tolerances.
    pub solver: SolverSettings,
    /// What timeseries.csv holds.
    pub timeseries: Timeseries,
    /// Picture formats.
    pub pv_loop: PictureFormats,
    /// Chambers with a PV-loop picture.
    pub pv_chambers: Vec<PvChamber>,
    /// Where it came from.
    pub provenance: Provenance,
}

/// Where a scenario came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The scenario file (None: text given directly).
    pub file: Option<PathBuf>,
    /// SHA-256 of the scenario text followed by the command-line overrides.
    pub sha256: String,
    /// `--set` overrides, as given.
    pub overrides: Vec<String>,
}

/// What is wrong with a scenario.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {reason}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A problem at a place in the text.
    #[error("{file}:{line}:{column}: {message}")]
    At {
        /// The file.
        file: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What is wrong, naming the key and what is allowed.
        message: String,
    },
    /// A problem of the scenario as a whole.
    #[error("{file}: {message}")]
    Whole {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads and validates a scenario file, then applies `--set path=value` overrides.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let bytes = read_input(path).map_err(|e| ScenarioError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let text = utf8_text(bytes).map_err(|e| ScenarioError::At {
        file,
        line: e.line,
        column: e.column,
        message: e.to_string(),
    })?;
    parse(&text, Some(path), overrides)
}

/// Parses scenario text (`file` names it in messages), applying `--set` overrides.
pub fn parse(
    text: &str,
    file: Option<&Path>,
    overrides: &[String],
) -> Result<Scenario, ScenarioError> {
    let name = file
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "<scenario>".to_string());
    let at = |span: std::ops::Range<usize>, message: String| {
        if span.is_empty() && span.start == 0 {
            return ScenarioError::Whole {
                file: name.clone(),
                message,
            };
        }
        let (line, column) = line_column(text, span.start);
        ScenarioError::At {
            file: name.clone(),
            line,
            column,
            message,
        }
    };

    let mut raw: ScenarioFile = toml::from_str(text).map_err(|e| {
        let message = messages::humanize(e.message());
        match e.span() {
            Some(span) => at(span, message),
            None => ScenarioError::Whole {
                file: name.clone(),
                message,
            },
        }
    })?;

    let parameter_overrides =
        overrides::apply(&mut raw, overrides).map_err(|message| ScenarioError::Whole {
            file: name.clone(),
            message,
        })?;
    let (preset_name, mut params) = match &raw.patient.preset {
        None => ("normal".to_string(), presets::normal()),
        Some(p) => match presets::preset(p.get_ref()) {
            Some(found) => (found.name.to_string(), found.parameters()),
            None => {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                return Err(at(
                    p.span(),
                    format!(
                        "patient.preset: unknown preset '{}'; allowed: {}",
                        p.get_ref(),
                        names.join(", ")
                    ),
                ));
            }
        },
    };
    for (key, value) in &raw.patient.set {
        params
            .set(key.get_ref(), *value.get_ref())
            .map_err(|e| at(key.span(), format!("patient.set: {e}")))?;
    }
    if let Some(r) = &raw.patient.reflexes {
        for (path, value, span) in r.settings() {
            params
                .set(path, value)
                .map_err(|e| at(span, format!("patient.reflexes: {e}")))?;
        }
        if let Some(on) = &r.enabled {
            if !*on.get_ref() {
                if let Some(g) = &r.gain {
                    return Err(at(
                        g.span(),
                        "patient.reflexes: gain is given while enabled = false; \
                         remove one of them"
                            .to_string(),
                    ));
                }
                params.reflex.gain = 0.0;
            }
        }
    }
    for (written, path, value) in parameter_overrides {
        params.set(path, value).map_err(|e| ScenarioError::Whole {
            file: name.clone(),
            message: format!("--set {written}: {e}"),
        })?;
    }
    params.validate().map_err(|e| ScenarioError::Whole {
        file: name.clone(),
        message: e.to_string(),
    })?;

    let mut catalogue = Catalogue::builtin();
    for f in &raw.device_files {
        let base = file.and_then(Path::parent).unwrap_or(Path::new("."));
        let spec = Catalogue::load_file(&base.join(f.get_ref()))
            .map_err(|e| at(f.span(), format!("device_files: {e}")))?;
        catalogue
            .add(spec)
            .map_err(|e| at(f.span(), format!("device_files: {e}")))?;
    }
    let mut pumps = Vec::new();
    let patient = Circulation::new(params);
    for d in &raw.devices {
        let d = d.get_ref();
        pumps.push(d.pump(&catalogue, "devices", &at)?);
        place(&patient, &pumps).map_err(|e| at(d.model.span(), format!("devices: {e}")))?;
    }

    let course = match &raw.course {
        Some(c) => Some(course::build(
            c,
            &raw.events,
            &raw.triggers,
            raw.weaning.as_ref(),
            raw.complications.as_ref(),
            &catalogue,
            &patient,
            &pumps,
            &at,
        )?),
        None if !raw.events.is_empty()
            || !raw.triggers.is_empty()
            || raw.weaning.is_some()
            || raw.complications.is_some() =>
        {
            return Err(ScenarioError::Whole {
                file: name.clone(),
                message: "events, triggers, weaning and complications need a [course] section \
                          with a `duration`"
                    .into(),
            })
        }
        None => None,
    };

    let sim = &raw.simulation;
    let in_range = |v: f64, lo: f64, hi: f64, key: &str, span: std::ops::Range<usize>| {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(at(
                span,
                format!(
                    "{key} = {} is outside the allowed range [{lo}, {hi}]",
                    display_number(v)
                ),
            ))
        }
    };
    in_range(
        f64::from(*sim.max_beats.get_ref()),
        1.0,
        1e6,
        "simulation.max_beats",
        sim.max_beats.span(),
    )?;
    in_range(
        *sim.steady_tolerance.get_ref(),
        1e-12,
        0.1,
        "simulation.steady_tolerance",
        sim.steady_tolerance.span(),
    )?;
    in_range(
        f64::from(*sim.report_beats.get_ref()),
        1.0,
        1000.0,
        "simulation.report_beats",
        sim.report_beats.span(),
    )?;

    let s = &raw.solver;
    let Some(method) = Method::from_name(s.method.get_ref()) else {
        return Err(at(
            s.method.span(),
            format!(
                "solver.method: unknown method '{}'; allowed: {}",
                s.method.get_ref(),
                Method::NAMES.join(", ")
            ),
        ));
    };
    let tolerance = |given: &Option<Spanned<f64>>, max: f64, key: &str| match given {
        Some(v) => in_range(*v.get_ref(), 1e-13, max, key, v.span()).map(|()| *v.get_ref()),
        None => Ok(method.default_tolerance()),
    };
    let rtol = tolerance(&s.rtol, 1e-2, "solver.rtol")?;
    let atol = tolerance(&s.atol, 1e-1, "solver.atol")?;
    in_range(
        s.max_step.get_ref().seconds,
        1e-5,
        0.1,
        "solver.max_step (s)",
        s.max_step.span(),
    )?;
    let sample = s.sample_interval.get_ref().seconds;
    in_range(
        sample,
        1e-4,
        0.01,
        "solver.sample_interval (s)",
        s.sample_interval.span(),
    )?;

    let o = &raw.output;
    let mut pv_chambers = Vec::new();
    for c in &o.pv_chambers {
        let chamber = PvChamber::NAMES
            .iter()
            .find(|(n, _)| n == c.get_ref())
            .map(|(_, ch)| *ch)
            .ok_or_else(|| {
                at(
                    c.span(),
                    format!(
                        "output.pv_chambers: unknown chamber '{}'; allowed: lv, rv, la, ra",
                        c.get_ref()
                    ),
                )
            })?;
        if !pv_chambers.contains(&chamber) {
            pv_chambers.push(chamber);
        }
    }
    let every = o.timeseries_every.get_ref().seconds;
    let stride = (every / sample).round();
    if stride < 1.0 || (stride * sample - every).abs() > 1e-9 {
        return Err(at(
            o.timeseries_every.span(),
            format!(
                "output.timeseries_every = {every} s must be a whole multiple (1, 2, ...) of \
                 solver.sample_interval = {sample} s"
            ),
        ));
    }

    let digits = match &o.timeseries_digits {
        Some(d) if !(1..=17).contains(d.get_ref()) => {
            return Err(at(
                d.span(),
                format!(
                    "output.timeseries_digits = {}: allowed 1 to 17 significant digits",
                    d.get_ref()
                ),
            ))
        }
        d => d.as_ref().map(|d| *d.get_ref()),
    };

    let sha256 = provenance_sha256(text, overrides);

    Ok(Scenario {
        title: raw
            .title
            .clone()
            .unwrap_or_else(|| format!("{preset_name} (impella-sim)")),
        seed: raw.seed,
        preset: preset_name,
        params,
        pumps,
        course,
        run: RunSettings {
            steady_state: sim.steady_state,
            max_beats: *sim.max_beats.get_ref() as usize,
            steady_tolerance: *sim.steady_tolerance.get_ref(),
            report_beats: *sim.report_beats.get_ref() as usize,
            sample_interval: sample,
            // The timeseries is written as the run goes (output::RunWriter): the run keeps
            // only the report beats' samples.
            keep_all_samples: false,
            fast_forward: sim.fast_forward,
        },
        solver: SolverSettings {
            method,
            rtol,
            atol,
            h_max: s.max_step.get_ref().seconds,
        },
        timeseries: Timeseries {
            extent: o.timeseries,
            stride: stride as usize,
            digits,
        },
        pv_loop: o.pv_loop,
        pv_chambers,
        provenance: Provenance {
            file: file.map(Path::to_path_buf),
            sha256,
            overrides: overrides.to_vec(),
        },
    })
}

impl Scenario {
    /// The model: the patient's circulation with the scenario's pumps coupled in.
    pub fn model(&self) -> Circulation {
        place(&Circulation::new(self.params), &self.pumps)
            .expect("pump placement was checked when the scenario was parsed")
    }

    /// What the engine is built from.
    pub fn engine_spec(&self) -> EngineSpec {
        EngineSpec {
            params: self.params,
            pumps: self.pumps.clone(),
            solver: self.solver,
            run: self.run,
        }
    }

    /// A failed simulation in words. When a compartment ran dry in a course that removes
    /// fluid, the removals are named as the likely cause (the engine names only the
    /// compartment): e.g. a repeating trigger that bleeds, which the removal rule counts once.
    pub fn explain(&self, e: &SimError) -> String {
        let (SimError::NegativeVolume { .. }, Some(c)) = (e, &self.course) else {
            return e.to_string();
        };
        let removes = |actions: &[Action]| {
            actions.iter().find_map(|a| match a {
                Action::Fluid { volume_ml, over_s } if *volume_ml < 0.0 => Some(format!(
                    "{} mL over {} s",
                    display_number(-volume_ml),
                    display_number(*over_s)
                )),
                _ => None,
            })
        };
        let mut causes: Vec<String> = Vec::new();
        for ev in &c.events {
            if let Some(r) = removes(&ev.actions) {
                let at = display_number(ev.at_s);
                causes.push(format!("event '{}' at {at} s ({r})", ev.label));
            }
        }
        for t in &c.triggers {
            if let Some(r) = removes(&t.actions) {
                let each = if t.repeat { " each time it fires" } else { "" };
                causes.push(format!("trigger '{}' ({r}{each})", t.label));
            }
        }
        if c.complications
            .iter()
            .any(|(k, rate)| *k == crate::engine::Complication::Bleeding && *rate > 0.0)
        {
            causes.push("the bleeding complication".into());
        }
        if causes.is_empty() {
            return e.to_string();
        }
        format!(
            "{e}; the course removes fluid, the likely cause: {}",
            causes.join(", ")
        )
    }

    /// Simulates the scenario: its patient to steady state, then its course if any.
    pub fn simulate(&self) -> Result<RunResult, SimError> {
        self.simulate_into(&mut crate::engine::Discard)
    }

    /// [`Scenario::simulate`], each reported beat also to `sink` as it is made.
    pub fn simulate_into(&self, sink: &mut dyn BeatSink) -> Result<RunResult, SimError> {
        crate::engine::run_spec(self.engine_spec(), self.course.as_ref(), self.seed, sink)
    }
}

/// SHA-256 (hex) of a scenario's text and its `--set` overrides: the provenance that tells
/// two runs' inputs apart.
pub(crate) fn provenance_sha256(text: &str, overrides: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for o in overrides {
        hasher.update(b"\n--set ");
        hasher.update(o.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scenario_is_the_normal_adult() {
        let s = parse("", None, &[]).unwrap();
        assert_eq!(s.preset, "normal");
        assert_eq!(s.params, presets::normal());
    }

    #[test]
    fn an_unknown_solver_method_names_its_line_and_the_allowed_ones() {
        let err = parse("[solver]\nmethod = \"rk4\"\n", None, &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("<scenario>:2:10:"), "{err}");
        assert!(
            err.contains("'rk4'") && err.contains("tsit5, dopri5-fast, dopri5"),
            "{err}"
        );
        let reference = parse("[solver]\nmethod = \"dopri5\"\n", None, &[]).unwrap();
        assert_eq!(reference.solver.method, Method::Reference);
        let dopri5_fast = parse("[solver]\nmethod = \"dopri5-fast\"\n", None, &[]).unwrap();
        assert_eq!(dopri5_fast.solver.method, Method::Dopri5Fast);
        assert_eq!(parse("", None, &[]).unwrap().solver.method, Method::Tsit5);
    }

    #[test]
    fn tolerances_default_by_method_unless_given() {
        let tols = |text: &str| {
            let s = parse(text, None, &[]).unwrap().solver;
            (s.rtol, s.atol)
        };
        let fast = Method::Tsit5.default_tolerance();
        let reference = Method::Reference.default_tolerance();
        assert!(reference < fast);
        assert_eq!(tols(""), (fast, fast));
        assert_eq!(
            tols("[solver]\nmethod = \"dopri5\"\n"),
            (reference, reference)
        );
        assert_eq!(
            tols("[solver]\nmethod = \"dopri5\"\nrtol = 1e-5\n"),
            (1e-5, reference)
        );
        let err = parse("[solver]\natol = 1.0\n", None, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("<scenario>:2:8:") && err.contains("solver.atol"),
            "{err}"
        );
    }

    #[test]
    fn overrides_change_the_hash() {
        let a = parse("", None, &[]).unwrap();
        let b = parse("", None, &["lv.ees=1.0".into()]).unwrap();
        assert_ne!(a.provenance.sha256, b.provenance.sha256);
        assert_eq!(b.params.lv.ees, 1.0);
    }
}

//! A sweep plan: the base scenario, the grid axes and the cohort, and the case each index
//! stands for. Keys and their meaning: docs/sweeps.md.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Spanned, Table, Value};

use super::cohort::{self, Cohort, Marginal, Variable};
use super::spans::{SpanEntry, SpanTable, RECORDED};
use super::SweepError;
use crate::physiology::parameters::spec;
use crate::scenario::{self, Scenario, ScenarioError};
use crate::text_position::{line_column, utf8_text};

/// Largest number of cases a sweep may expand to: checking a case takes some 0.16 ms and
/// simulating one some 30 ms, so a million is minutes of checks and hours of runs on 2 cores
/// (docs/sweeps.md); larger studies are split into files.
pub const MAX_CASES: usize = 1_000_000;

/// What a `[sweep]` key changes in the scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A patient parameter: `patient.set."PATH"`.
    Parameter(String),
    /// `device` sugar: `"none"`, `"MODEL"` or `"MODEL@P"` for the first `[[devices]]` entry.
    Device,
    /// A dotted path into the scenario document (numbers index arrays).
    Path(Vec<String>),
}

impl Target {
    /// The document path this target writes (for overlap checks).
    fn footprint(&self) -> Vec<String> {
        match self {
            Target::Parameter(p) => vec!["patient".into(), "set".into(), p.clone()],
            Target::Device => vec!["devices".into(), "0".into()],
            Target::Path(p) => p.clone(),
        }
    }
}

/// One grid dimension: a key and its values.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The key as written, used as the column name.
    pub name: String,
    pub target: Target,
    pub values: Vec<Value>,
    span: Range<usize>,
}

/// A validated sweep: expands case indices into scenarios.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    file: PathBuf,
    base: Table,
    axes: Vec<Axis>,
    cohort: Option<Cohort>,
    overrides: Vec<String>,
    sha256: String,
    /// The base scenario's own error, with its position in the file, if it has one.
    base_error: Option<ScenarioError>,
}

/// `device` sugar value.
enum DeviceChoice {
    None,
    Model(String),
    ModelAt(String, i64),
}

fn device_choice(text: &str) -> Result<DeviceChoice, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(DeviceChoice::None);
    }
    match t.split_once('@') {
        None if !t.is_empty() => Ok(DeviceChoice::Model(t.to_string())),
        Some((m, p)) if !m.trim().is_empty() => {
            let level = p
                .trim()
                .trim_start_matches(['P', 'p'])
                .parse::<i64>()
                .map_err(|_| format!("'{text}': the P-level after '@' must be a whole number"))?;
            Ok(DeviceChoice::ModelAt(m.trim().to_string(), level))
        }
        _ => Err(format!(
            "'{text}' is not a device choice: use \"none\", \"MODEL\" or \"MODEL@P\" (e.g. \"cp@8\")"
        )),
    }
}

/// `["a", "b", rho]` in `cohort.correlation`.
type CorrelationEntry = (Spanned<String>, Spanned<String>, Spanned<f64>);

/// `[cohort]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CohortSection {
    n: Spanned<i64>,
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    correlation: Vec<Spanned<CorrelationEntry>>,
    #[serde(default)]
    vary: BTreeMap<Spanned<String>, Spanned<VarySpec>>,
}

/// `[cohort.vary."PATH"]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VarySpec {
    distribution: Spanned<String>,
    mean: Option<f64>,
    sd: Option<f64>,
    median: Option<f64>,
    gsd: Option<f64>,
    mu: Option<f64>,
    sigma: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    truncate: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize)]
struct CohortDoc {
    cohort: Option<CohortSection>,
}

impl VarySpec {
    fn marginal(&self) -> Result<Marginal, String> {
        let given: Vec<&str> = [
            ("mean", self.mean),
            ("sd", self.sd),
            ("median", self.median),
            ("gsd", self.gsd),
            ("mu", self.mu),
            ("sigma", self.sigma),
            ("min", self.min),
            ("max", self.max),
        ]
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
        let only = |allowed: &[&str], usage: &str| -> Result<(), String> {
            let extra: Vec<&str> = given
                .iter()
                .filter(|k| !allowed.contains(k))
                .copied()
                .collect();
            let missing: Vec<&str> = allowed
                .iter()
                .filter(|k| !given.contains(k))
                .copied()
                .collect();
            if extra.is_empty() && missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{usage} (given: {})",
                    if given.is_empty() {
                        "nothing".to_string()
                    } else {
                        given.join(", ")
                    }
                ))
            }
        };
        let name = self.distribution.get_ref().as_str();
        match name {
            "normal" => {
                only(&["mean", "sd"], "normal takes mean and sd")?;
                Ok(Marginal::Normal {
                    mean: self.mean.unwrap(),
                    sd: self.sd.unwrap(),
                })
            }
            "lognormal" => {
                let usage = "lognormal takes median and gsd (geometric SD), or mu and sigma";
                if self.median.is_some() || self.gsd.is_some() {
                    only(&["median", "gsd"], usage)?;
                    let (median, gsd) = (self.median.unwrap(), self.gsd.unwrap());
                    if !(median > 0.0 && median.is_finite()) {
                        return Err(format!("median = {median} must be > 0"));
                    }
                    if !(gsd > 1.0 && gsd.is_finite()) {
                        return Err(format!("gsd = {gsd} must be > 1"));
                    }
                    Ok(Marginal::LogNormal {
                        mu: median.ln(),
                        sigma: gsd.ln(),
                    })
                } else {
                    only(&["mu", "sigma"], usage)?;
                    Ok(Marginal::LogNormal {
                        mu: self.mu.unwrap(),
                        sigma: self.sigma.unwrap(),
                    })
                }
            }
            "uniform" => {
                only(&["min", "max"], "uniform takes min and max")?;
                Ok(Marginal::Uniform {
                    min: self.min.unwrap(),
                    max: self.max.unwrap(),
                })
            }
            other => Err(format!(
                "unknown distribution '{other}'; allowed: normal, lognormal, uniform"
            )),
        }
    }
}

/// Splits a key such as `patient.set."lv.ees"` or `devices[0].model` into segments.
fn split_path(key: &str) -> Result<Vec<String>, String> {
    let mut segs = Vec::new();
    let mut chars = key.chars().peekable();
    let mut cur = String::new();
    let mut quoted_seg = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if cur.is_empty() && !quoted_seg => {
                let mut closed = false;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => match chars.next() {
                            Some(e) => cur.push(e),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => cur.push(q),
                    }
                }
                if !closed {
                    return Err(format!("unclosed quote in '{key}'"));
                }
                quoted_seg = true;
            }
            '.' => {
                if cur.is_empty() && !quoted_seg {
                    return Err(format!("empty segment in '{key}'"));
                }
                segs.push(std::mem::take(&mut cur));
                quoted_seg = false;
            }
            '[' => {
                if !cur.is_empty() || quoted_seg {
                    segs.push(std::mem::take(&mut cur));
                    quoted_seg = false;
                }
                let mut index = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == ']' {
                        closed = true;
                        break;
                    }
                    index.push(q);
                }
                let index = index.trim();
                if !closed || index.parse::<usize>().is_err() {
                    return Err(format!("'{key}': [..] must hold an index, e.g. devices[0]"));
                }
                segs.push(index.to_string());
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
            }
            _ if quoted_seg => return Err(format!("unexpected '{c}' after a quote in '{key}'")),
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() || quoted_seg {
        segs.push(cur);
    } else if key.ends_with('.') || key.is_empty() {
        return Err(format!("empty segment in '{key}'"));
    }
    Ok(segs)
}

/// Joins segments back into a dotted key, quoting where needed.
fn join_path(segs: &[String]) -> String {
    segs.iter()
        .map(|s| {
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                s.clone()
            } else {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A value as written in a cases.csv cell: strings bare, anything else as TOML.
pub(crate) fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets `value` at `segs` below `cur`; tables are created on the way, array entries not.
fn set_in(cur: &mut Value, segs: &[String], value: Value, done: &[String]) -> Result<(), String> {
    let (seg, rest) = segs.split_first().expect("paths are not empty");
    let here = |done: &[String]| {
        if done.is_empty() {
            "the scenario's top level".to_string()
        } else {
            format!("`{}`", join_path(done))
        }
    };
    let mut next_done = done.to_vec();
    next_done.push(seg.clone());
    match cur {
        Value::Table(t) => {
            if rest.is_empty() {
                t.insert(seg.clone(), value);
                return Ok(());
            }
            if !t.contains_key(seg) && rest[0].parse::<usize>().is_ok() {
                return Err(format!(
                    "`{}` is not in the scenario, so it has no entry {} \
                     (sweeps change list entries, they do not create them)",
                    join_path(&next_done),
                    rest[0]
                ));
            }
            let child = t
                .entry(seg.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            set_in(child, rest, value, &next_done)
        }
        Value::Array(a) => {
            let n = a.len();
            let i: usize = seg.parse().map_err(|_| {
                format!(
                    "{} is a list: index its entries by number, e.g. {}.0",
                    here(done),
                    join_path(done)
                )
            })?;
            if i >= n {
                return Err(format!(
                    "{} has {n} entr{} in the scenario, so index {i} does not exist \
                     (sweeps change entries, they do not create them)",
                    here(done),
                    if n == 1 { "y" } else { "ies" }
                ));
            }
            if rest.is_empty() {
                a[i] = value;
                Ok(())
            } else {
                set_in(&mut a[i], rest, value, &next_done)
            }
        }
        other => Err(format!(
            "{} is a {} ({other}), not a table or list",
            here(done),
            other.type_str()
        )),
    }
}

fn set_path(root: &mut Table, segs: &[String], value: Value) -> Result<(), String> {
    let mut v = Value::Table(std::mem::take(root));
    let r = set_in(&mut v, segs, value, &[]);
    if let Value::Table(t) = v {
        *root = t;
    }
    r
}

fn apply(root: &mut Table, target: &Target, value: &Value) -> Result<(), String> {
    match target {
        Target::Parameter(p) => {
            let x = match value {
                Value::Float(f) => *f,
                Value::Integer(i) => *i as f64,
                other => return Err(format!("{other} is not a number")),
            };
            set_path(
                root,
                &["patient".into(), "set".into(), p.clone()],
                Value::Float(x),
            )
        }
        Target::Path(segs) => set_path(root, segs, value.clone()),
        Target::Device => {
            let text = value
                .as_str()
                .ok_or_else(|| format!("{value} is not a string such as \"cp@8\" or \"none\""))?;
            let choice = device_choice(text)?;
            let devices = root.get_mut("devices").and_then(Value::as_array_mut);
            match (choice, devices) {
                (DeviceChoice::None, Some(list)) => {
                    if !list.is_empty() {
                        list.remove(0);
                    }
                    if list.is_empty() {
                        root.remove("devices");
                    }
                    Ok(())
                }
                (DeviceChoice::None, None) => Ok(()),
                (DeviceChoice::ModelAt(m, p), Some(list)) if !list.is_empty() => {
                    let entry = list[0].as_table_mut().ok_or("devices.0 is not a table")?;
                    entry.insert("model".into(), Value::String(m));
                    entry.insert("p_level".into(), Value::Integer(p));
                    Ok(())
                }
                (DeviceChoice::ModelAt(m, p), _) => {
                    let mut entry = Table::new();
                    entry.insert("model".into(), Value::String(m));
                    entry.insert("p_level".into(), Value::Integer(p));
                    root.insert("devices".into(), Value::Array(vec![Value::Table(entry)]));
                    Ok(())
                }
                (DeviceChoice::Model(m), Some(list)) if !list.is_empty() => {
                    let entry = list[0].as_table_mut().ok_or("devices.0 is not a table")?;
                    entry.insert("model".into(), Value::String(m));
                    Ok(())
                }
                (DeviceChoice::Model(m), _) => Err(format!(
                    "\"{m}\" has no P-level and the scenario has no [[devices]] entry to take one \
                     from: write \"{m}@P\", e.g. \"{m}@8\""
                )),
            }
        }
    }
}

/// The message of a scenario error without its (generated-text) position.
pub(crate) fn scenario_message(e: &ScenarioError) -> String {
    match e {
        ScenarioError::At { message, .. } | ScenarioError::Whole { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl SweepPlan {
    /// Reads a scenario file with a `[sweep]` and/or `[cohort]` table.
    pub fn load(path: &Path, overrides: &[String]) -> Result<SweepPlan, SweepError> {
        let file = path.display().to_string();
        let bytes = crate::text_position::read_input(path).map_err(|e| {
            SweepError::Scenario(ScenarioError::Read {
                file: file.clone(),
                reason: e.to_string(),
            })
        })?;
        let text = utf8_text(bytes).map_err(|e| {
            SweepError::Scenario(ScenarioError::At {
                file,
                line: e.line,
                column: e.column,
                message: e.to_string(),
            })
        })?;
        SweepPlan::parse(&text, path, overrides)
    }

    /// Parses and checks a sweep. `file` names it in messages and anchors `device_files`.
    /// Each case's own validity is checked by [`SweepPlan::scenario`].
    pub fn parse(text: &str, file: &Path, overrides: &[String]) -> Result<SweepPlan, SweepError> {
        let name = file.display().to_string();
        let at = |span: Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            SweepError::Scenario(ScenarioError::At {
                file: name.clone(),
                line,
                column,
                message,
            })
        };
        let whole = |message: String| {
            SweepError::Scenario(ScenarioError::Whole {
                file: name.clone(),
                message,
            })
        };
        let toml_err = |e: toml::de::Error, prefix: &str| {
            let message = format!("{prefix}{}", e.message().trim());
            match e.span() {
                Some(s) => at(s, message),
                None => whole(message),
            }
        };

        let doc: Table = toml::from_str(text).map_err(|e| toml_err(e, ""))?;
        let spans = SpanTable::parse_root(text).map_err(|e| toml_err(e, ""))?;
        let mut base = doc.clone();
        for k in RECORDED {
            base.remove(k);
        }

        // ---- [sweep] ----
        let mut axes: Vec<Axis> = Vec::new();
        if let Some(entry) = spans.get("sweep") {
            let sweep = doc
                .get("sweep")
                .and_then(Value::as_table)
                .ok_or_else(|| at(entry.key_span.clone(), "sweep must be a table".into()))?;
            let mut leaves = Vec::new();
            flatten(entry, sweep, &mut Vec::new(), &mut leaves);
            if leaves.is_empty() {
                return Err(at(
                    entry.key_span.clone(),
                    "[sweep] has no keys: add e.g. \"lv.ees\" = [0.5, 1.0]".into(),
                ));
            }
            for (segs, span, value) in leaves {
                let written = if segs.len() == 1 {
                    segs[0].clone()
                } else {
                    join_path(&segs)
                };
                let key_err = |m: String| at(span.clone(), format!("sweep key `{written}`: {m}"));
                let segs = if segs.len() == 1 {
                    split_path(&segs[0]).map_err(&key_err)?
                } else {
                    segs
                };
                let joined = segs.join(".");
                let target = if spec(&joined).is_ok() {
                    Target::Parameter(joined.clone())
                } else if segs.len() == 1 && segs[0] == "device" {
                    Target::Device
                } else {
                    Target::Path(segs.clone())
                };
                let values = match value {
                    Value::Array(a) => a.clone(),
                    other => {
                        return Err(key_err(format!(
                            "expected a list of values, e.g. [{other}], got {}",
                            other.type_str()
                        )))
                    }
                };
                if values.is_empty() {
                    return Err(key_err("the list of values is empty".into()));
                }
                if let Some(v) = values.iter().find(|v| cell_text(v).contains(['\n', '\r'])) {
                    return Err(key_err(format!(
                        "{v}: values with line breaks are not supported (cases.csv keeps one \
                         case per line)"
                    )));
                }
                for (i, v) in values.iter().enumerate() {
                    let mut trial = base.clone();
                    apply(&mut trial, &target, v)
                        .map_err(|m| key_err(format!("value {} ({v}): {m}", i + 1)))?;
                }
                if let Target::Path(p) = &target {
                    if matches!(p.first().map(String::as_str), Some("sweep" | "cohort")) {
                        return Err(key_err("a sweep cannot change [sweep] or [cohort]".into()));
                    }
                }
                axes.push(Axis {
                    name: written,
                    target,
                    values,
                    span,
                });
            }
        }

        // ---- [cohort] ----
        let cohort = match spans.get("cohort") {
            None => None,
            Some(entry) => {
                let section = toml::from_str::<CohortDoc>(text)
                    .map_err(|e| toml_err(e, "cohort: "))?
                    .cohort
                    .ok_or_else(|| at(entry.key_span.clone(), "cohort must be a table".into()))?;
                Some(build_cohort(&section, &doc, entry, &at)?)
            }
        };

        if axes.is_empty() && cohort.is_none() {
            return Err(whole(
                "nothing to sweep: add a [sweep] table (lists of values) and/or a [cohort] \
                 table (see docs/sweeps.md)"
                    .into(),
            ));
        }

        // ---- overlaps: two keys, a key and a varied parameter, or a --set override ----
        let mut footprints: Vec<(String, Vec<String>)> = axes
            .iter()
            .map(|a| (format!("sweep key `{}`", a.name), a.target.footprint()))
            .collect();
        if let Some(c) = &cohort {
            for v in &c.variables {
                footprints.push((
                    format!("cohort.vary.\"{}\"", v.path),
                    Target::Parameter(v.path.clone()).footprint(),
                ));
            }
        }
        for o in overrides {
            if let Some((p, _)) = o.split_once('=') {
                let p = p.trim();
                // --set also takes scenario keys (patient.preset, device, devices.0.p_level).
                let target = if p == "device" {
                    Target::Device
                } else if spec(p).is_ok() {
                    Target::Parameter(p.to_string())
                } else {
                    Target::Path(p.split('.').map(String::from).collect())
                };
                footprints.push((format!("--set {o}"), target.footprint()));
            }
        }
        for (i, (a, fa)) in footprints.iter().enumerate() {
            for (b, fb) in &footprints[..i] {
                let n = fa.len().min(fb.len());
                if fa[..n] == fb[..n] {
                    let msg = format!(
                        "{a} and {b} change the same scenario key ({}): keep one",
                        join_path(if fa.len() < fb.len() { fa } else { fb })
                    );
                    let span = axes.iter().find(|x| a.ends_with(&format!("`{}`", x.name)));
                    return Err(match span {
                        Some(x) => at(x.span.clone(), msg),
                        None => whole(msg),
                    });
                }
            }
        }

        let grid: usize = axes
            .iter()
            .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()))
            .and_then(|g| g.checked_mul(cohort.as_ref().map_or(1, |c| c.n)))
            .filter(|&n| n <= MAX_CASES)
            .ok_or_else(|| {
                whole(format!(
                    "the sweep expands to more than {MAX_CASES} cases (the most a sweep may have, \
                     docs/sweeps.md): split it into several files"
                ))
            })?;
        debug_assert!(grid > 0);

        let sha256 = scenario::provenance_sha256(text, overrides);

        // The base scenario alone: its errors keep their positions in the file when the
        // sweep tables can be blanked out line by line.
        let base_text = blank_recorded(text, &spans, &base)
            .unwrap_or_else(|| toml::to_string(&base).expect("a parsed table serialises"));
        let base_error = scenario::parse(&base_text, Some(file), overrides).err();

        let plan = SweepPlan {
            file: file.to_path_buf(),
            base,
            axes,
            cohort,
            overrides: overrides.to_vec(),
            sha256,
            base_error,
        };

        // Unknown keys are reported at the key, not at the first case that uses them.
        for axis in &plan.axes {
            if matches!(axis.target, Target::Parameter(_)) {
                continue;
            }
            let mut trial = plan.base.clone();
            apply(&mut trial, &axis.target, &axis.values[0]).expect("checked above");
            let text = toml::to_string(&trial).expect("a table serialises");
            if let Err(e) = scenario::parse(&text, Some(file), overrides) {
                let m = scenario_message(&e);
                let base_m = plan.base_error.as_ref().map(scenario_message);
                if (m.contains("unknown field") || m.contains("unknown parameter"))
                    && base_m.as_deref() != Some(m.as_str())
                {
                    let mut msg = format!("sweep key `{}`: {m}", axis.name);
                    if let Target::Path(segs) = &axis.target {
                        let top_level = m.contains(&format!("unknown field `{}`", segs[0]));
                        if let (true, Err(pe)) = (top_level, spec(&segs.join("."))) {
                            msg.push_str(&format!(
                                "; nor is it a parameter path ({pe}). Keys are parameter paths \
                                 (`impella-sim parameters`), `device`, or dotted scenario keys \
                                 such as patient.preset, devices.0.p_level, simulation.max_beats"
                            ));
                        }
                    }
                    return Err(at(axis.span.clone(), msg));
                }
            }
        }
        Ok(plan)
    }

    /// Number of cases (grid size × cohort size).
    pub fn len(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product::<usize>() * self.members()
    }

    /// Always false: a plan has at least one case.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn members(&self) -> usize {
        self.cohort.as_ref().map_or(1, |c| c.n)
    }

    /// The scenario file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// SHA-256 of the scenario text followed by the `--set` overrides.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The grid axes, outermost first.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    pub fn cohort(&self) -> Option<&Cohort> {
        self.cohort.as_ref()
    }

    /// Input column names: grid keys, then `member` and the varied parameters.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self.axes.iter().map(|a| a.name.clone()).collect();
        if let Some(co) = &self.cohort {
            c.push("member".into());
            c.extend(co.paths().iter().map(|p| p.to_string()));
        }
        c
    }

    /// Grid value indices (outermost first) and cohort member of a case.
    pub fn coordinates(&self, case: usize) -> (Vec<usize>, usize) {
        let m = self.members();
        let (mut g, member) = (case / m, case % m);
        let mut idx = vec![0; self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            idx[i] = g % a.values.len();
            g /= a.values.len();
        }
        (idx, member)
    }

    /// The case's inputs, in the order of [`SweepPlan::columns`].
    pub fn inputs(&self, case: usize) -> Vec<Value> {
        let (idx, member) = self.coordinates(case);
        let mut v: Vec<Value> = self
            .axes
            .iter()
            .zip(&idx)
            .map(|(a, &i)| a.values[i].clone())
            .collect();
        if let Some(c) = &self.cohort {
            v.push(Value::Integer(member as i64));
            v.extend(c.draw(member).into_iter().map(Value::Float));
        }
        v
    }

    /// "key = value, ..." for messages.
    pub fn describe_inputs(&self, case: usize) -> String {
        self.columns()
            .iter()
            .zip(self.inputs(case))
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The TOML text of a case's scenario (no `[sweep]`/`[cohort]`).
    pub fn case_text(&self, case: usize) -> String {
        let mut t = self.base.clone();
        let (idx, member) = self.coordinates(case);
        for (a, &i) in self.axes.iter().zip(&idx) {
            apply(&mut t, &a.target, &a.values[i]).expect("values were checked");
        }
        if let Some(c) = &self.cohort {
            for (v, x) in c.variables.iter().zip(c.draw(member)) {
                apply(&mut t, &Target::Parameter(v.path.clone()), &Value::Float(x))
                    .expect("parameters are tables of numbers");
            }
        }
        toml::to_string(&t).expect("a table serialises")
    }

    /// The case's scenario, parsed and validated; errors name the case and its inputs.
    pub fn scenario(&self, case: usize) -> Result<Scenario, SweepError> {
        scenario::parse(&self.case_text(case), Some(&self.file), &self.overrides).map_err(|e| {
            let message = scenario_message(&e);
            match &self.base_error {
                // The scenario itself is wrong, whatever the case: point into the file.
                Some(b) if scenario_message(b) == message => SweepError::Scenario(b.clone()),
                _ => SweepError::Case {
                    file: self.file.display().to_string(),
                    case,
                    inputs: self.describe_inputs(case),
                    message: if self.cohort.is_some() {
                        format!(
                            "{message} (if a drawn value is the cause, narrow its distribution \
                             with truncate = [lower, upper])"
                        )
                    } else {
                        message
                    },
                },
            }
        })
    }
}

/// Leaves (key segments, key span, value) of a `[sweep]` table, in written order.
fn flatten(
    entry: &SpanEntry,
    table: &Table,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Range<usize>, Value)>,
) {
    let Some(st) = &entry.table else { return };
    for e in &st.entries {
        let Some(v) = table.get(&e.key) else { continue };
        prefix.push(e.key.clone());
        match v {
            Value::Table(t) => flatten(e, t, prefix, out),
            _ => out.push((prefix.clone(), e.key_span.clone(), v.clone())),
        }
        prefix.pop();
    }
}

/// The text with every line of `[sweep]` and `[cohort]` blanked, if that leaves exactly
/// the base scenario (so positions of its errors stay right).
fn blank_recorded(text: &str, spans: &SpanTable, base: &Table) -> Option<String> {
    let mut ranges = Vec::new();
    for k in RECORDED {
        if let Some(e) = spans.get(k) {
            ranges.push(e.key_span.clone());
            ranges.push(e.value_span.clone());
            if let Some(t) = &e.table {
                t.all_spans(&mut ranges);
            }
        }
    }
    if ranges.is_empty() {
        return Some(text.to_string());
    }
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let line_of = |off: usize| line_starts.partition_point(|&s| s <= off) - 1;
    let mut blank: BTreeSet<usize> = BTreeSet::new();
    for r in ranges {
        let end = r.end.max(r.start + 1).min(text.len()).max(1) - 1;
        for l in line_of(r.start)..=line_of(end.max(r.start)) {
            blank.insert(l);
        }
    }
    let out: String = text
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| {
            if blank.contains(&i) {
                if l.ends_with('\n') {
                    "\n".to_string()
                } else {
                    String::new()
                }
            } else {
                l.to_string()
            }
        })
        .collect();
    match toml::from_str::<Table>(&out) {
        Ok(t) if &t == base => Some(out),
        _ => None,
    }
}

fn build_cohort(
    section: &CohortSection,
    doc: &Table,
    entry: &SpanEntry,
    at: &dyn Fn(Range<usize>, String) -> SweepError,
) -> Result<Cohort, SweepError> {
    let n = *section.n.get_ref();
    if n <= 0 {
        return Err(at(
            section.n.span(),
            format!("cohort.n = {n}: a cohort needs at least one member"),
        ));
    }
    let seed = match &section.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(at(
                s.span(),
                format!("cohort.seed = {} must be ≥ 0", s.get_ref()),
            ))
        }
        Some(s) => *s.get_ref() as u64,
        None => doc
            .get("seed")
            .and_then(Value::as_integer)
            .map_or(0, |s| s.max(0) as u64),
    };
    if section.vary.is_empty() {
        return Err(at(
            entry.key_span.clone(),
            "cohort: no [cohort.vary.\"PATH\"] entries: declare at least one varied parameter, \
             e.g. [cohort.vary.\"lv.ees\"] distribution = \"normal\", mean = 0.7, sd = 0.15"
                .into(),
        ));
    }
    let mut vary: Vec<(&Spanned<String>, &Spanned<VarySpec>)> = section.vary.iter().collect();
    vary.sort_by_key(|(k, _)| k.span().start);
    let mut variables = Vec::new();
    for (key, v) in &vary {
        let path = key.get_ref();
        let here = |m: String| at(key.span(), format!("cohort.vary.\"{path}\": {m}"));
        let p = spec(path).map_err(|e| here(format!("{e}; varied keys are parameter paths")))?;
        let spec_v = v.get_ref();
        let marginal = spec_v.marginal().map_err(|m| {
            at(
                spec_v.distribution.span(),
                format!("cohort.vary.\"{path}\": {m}"),
            )
        })?;
        let truncate = match &spec_v.truncate {
            None => None,
            Some(t) => match t.get_ref().as_slice() {
                [lo, hi] => Some((*lo, *hi)),
                _ => {
                    return Err(at(
                        t.span(),
                        format!("cohort.vary.\"{path}\".truncate must be [lower, upper]"),
                    ))
                }
            },
        };
        let var = Variable::new(path, marginal, truncate).map_err(|m| {
            let span = spec_v
                .truncate
                .as_ref()
                .filter(|_| m.starts_with("truncate"))
                .map_or(spec_v.distribution.span(), |t| t.span());
            at(span, format!("cohort.vary.\"{path}\": {m}"))
        })?;
        // Distributions (practically) wholly outside the parameter's range are refused now;
        // ones that merely reach beyond it fail at the first case that draws outside.
        let inside = var.mass_within(p.min, p.max);
        if inside.is_nan() || inside < cohort::MIN_TRUNCATED_MASS {
            return Err(here(format!(
                "every draw is outside the parameter's range [{}, {}] {}",
                p.min, p.max, p.unit
            )));
        }
        variables.push(var);
    }
    let index = |name: &Spanned<String>| {
        variables
            .iter()
            .position(|v| &v.path == name.get_ref())
            .ok_or_else(|| {
                at(
                    name.span(),
                    format!(
                        "cohort.correlation: '{}' is not a varied parameter (varied: {})",
                        name.get_ref(),
                        variables
                            .iter()
                            .map(|v| v.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    };
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for c in &section.correlation {
        let (a, b, rho) = c.get_ref();
        let (i, j) = (index(a)?, index(b)?);
        let r = *rho.get_ref();
        if i == j {
            return Err(at(
                c.span(),
                format!(
                    "cohort.correlation: '{}' is paired with itself",
                    a.get_ref()
                ),
            ));
        }
        if !(r > -1.0 && r < 1.0) {
            return Err(at(
                rho.span(),
                format!("cohort.correlation: {r} must lie strictly between -1 and 1"),
            ));
        }
        if pairs
            .iter()
            .any(|&(x, y, _)| (x, y) == (i, j) || (x, y) == (j, i))
        {
            return Err(at(
                c.span(),
                format!(
                    "cohort.correlation: the pair '{}', '{}' is declared twice",
                    a.get_ref(),
                    b.get_ref()
                ),
            ));
        }
        pairs.push((i, j, r));
    }
    let span = section
        .correlation
        .first()
        .map_or(entry.key_span.clone(), |c| c.span());
    Cohort::new(n as usize, seed, variables, &pairs).map_err(|m| at(span, format!("cohort: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_with_quotes_and_indices() {
        assert_eq!(split_path("lv.ees").unwrap(), ["lv", "ees"]);
        assert_eq!(
            split_path("patient.set.\"lv.ees\"").unwrap(),
            ["patient", "set", "lv.ees"]
        );
        assert_eq!(
            split_path("devices[0].p_level").unwrap(),
            ["devices", "0", "p_level"]
        );
        assert_eq!(
            split_path("devices.0.model").unwrap(),
            ["devices", "0", "model"]
        );
        assert!(split_path("a..b").is_err());
        assert!(split_path("a.\"b").is_err());
        assert_eq!(
            join_path(&["patient".into(), "set".into(), "lv.ees".into()]),
            "patient.set.\"lv.ees\""
        );
    }

    #[test]
    fn grid_coordinates_run_last_key_fastest() {
        let text = "[sweep]\n\"lv.ees\" = [0.5, 0.7, 0.9]\n\"heart.hr\" = [60, 80]\n";
        let plan = SweepPlan::parse(text, Path::new("t.toml"), &[]).unwrap();
        assert_eq!(plan.len(), 6);
        assert_eq!(plan.coordinates(0), (vec![0, 0], 0));
        assert_eq!(plan.coordinates(1), (vec![0, 1], 0));
        assert_eq!(plan.coordinates(5), (vec![2, 1], 0));
    }

    #[test]
    fn a_set_of_a_swept_scenario_key_is_refused() {
        let text = "[[devices]]\nmodel = \"cp\"\np_level = 8\n[sweep]\n\
                    \"patient.preset\" = [\"scai_b_lv\", \"scai_c_lv\"]\n\
                    \"devices.0.p_level\" = [2, 4]\n";
        for set in [
            "patient.preset=scai_d_lv",
            "devices.0.p_level=6",
            "device=cp@6",
        ] {
            let e = SweepPlan::parse(text, Path::new("t.toml"), &[set.to_string()])
                .unwrap_err()
                .to_string();
            assert!(e.contains("change the same scenario key"), "{set}: {e}");
        }
        let plan = SweepPlan::parse(text, Path::new("t.toml"), &["lv.ees=0.7".into()]).unwrap();
        assert_eq!(plan.len(), 4);
    }
}

#[cfg(test)]
mod blank_tests {
    use super::*;

    fn blanked(text: &str) -> Option<String> {
        let doc: Table = toml::from_str(text).unwrap();
        let spans = SpanTable::parse_root(text).unwrap();
        let mut base = doc.clone();
        for k in RECORDED {
            base.remove(k);
        }
        blank_recorded(text, &spans, &base)
    }

    #[test]
    fn sweep_and_cohort_lines_blank_out_keeping_the_rest_in_place() {
        let shipped = include_str!("../../scenarios/sweeps/cohort_scai_c_lv.toml");
        let b = blanked(shipped).expect("blanked");
        assert_eq!(b.lines().count(), shipped.lines().count());
        assert!(b.contains("preset = \"scai_c_lv\""), "{b}");
        for gone in [
            "[cohort",
            "[sweep",
            "n = 50",
            "median =",
            "device =",
            "correlation =",
        ] {
            assert!(!b.contains(gone), "{gone} left in:\n{b}");
        }
        let text = "title = \"t\"\n[cohort.vary.\"lv.ees\"]\ndistribution = \"normal\"\nmean = 1\nsd = 0.1\n\
                    [patient]\npreset = \"x\"\n[sweep]\n\"heart.hr\" = [\n  60,\n  80,\n]\n[cohort]\nn = 3\n\
                    [simulation]\nmax_beats = 3\n";
        let b = blanked(text).expect("blanked");
        assert_eq!(b.lines().nth(6), Some("preset = \"x\""));
        assert_eq!(b.lines().nth(15), Some("max_beats = 3"));
    }
}

//! Teaching figures made from real runs: the course timeline of one run, the
//! PV loops of several run directories overlaid, and the charts of a sweep's
//! `cases.csv`. They turn run data into the plain data of [`super::plot`];
//! what each shows: docs/plots.md and docs/teaching.md.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

use super::plot::{
    self, stacked_size_px, Curve, EventMarker, Heatmap, Histogram, ImageFormat, Panel, PlotError,
    PvLoop, PvPlot, Series, StackedPlot, XyChart,
};
use super::report::{self, JsonExt, ReportError};
use crate::analysis::console::Alarm;
use crate::analysis::{BeatMetrics, MetricInfo};
use crate::engine::protocol::Criterion;
use crate::engine::{Event, EventKind, RunResult};
use crate::physiology::parameters;

/// Why a figure could not be made. Messages name the file or directory.
#[derive(Debug, Error)]
pub enum FigureError {
    /// A run directory that cannot be read (missing summary.json, …).
    #[error(transparent)]
    Run(#[from] ReportError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("{}: {what}", .path.display())]
    Content { path: PathBuf, what: String },
    #[error("{}: {source}", .path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn content(path: &Path, what: impl Into<String>) -> FigureError {
    FigureError::Content {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

// ---------------------------------------------------------------------------
// Course timeline

/// Most event markers a course timeline shows (the earliest are kept).
pub const MAX_COURSE_MARKERS: usize = 16;

/// Mitral regurgitant volume (mL per beat) above which the course timeline
/// gets an MR panel.
pub const MR_PANEL_THRESHOLD_ML: f64 = 0.5;

/// The panels and event markers of a course timeline (time in hours):
/// P-level of each pump (step series, from the course log; the left pump's
/// speed in krpm when the log changes no P-level) with the left pump's flow
/// on the right axis, MAP, cardiac power, PCWP and CVP, and the mitral
/// regurgitant volume when there is any. A fast-forwarded beat holds its
/// values across the beats it stands for. Markers: course actions, weaning
/// steps and failed criteria ("FAILED: PCWP > 18 mmHg"), complications and
/// console alarms (repeated onsets of one alarm are counted in one marker).
pub fn course_timeline_parts(result: &RunResult) -> (Vec<Panel>, Vec<EventMarker>) {
    let end_s = result.duration();
    let h = |t: f64| t / 3600.0;

    // One (time h, metric) point at each beat's start, and again at the
    // start of the last beat it stands for when it was fast-forwarded.
    let trace = |f: &dyn Fn(&crate::analysis::BeatMetrics) -> f64| -> Vec<(f64, f64)> {
        let mut pts = Vec::with_capacity(result.beats.len() + 8);
        for b in &result.beats {
            let v = f(&b.metrics);
            if !v.is_finite() {
                continue;
            }
            pts.push((h(b.clock.t_start), v));
            if b.fast_forwarded > 0 {
                let last = b.clock.t_start + b.clock.period * b.fast_forwarded as f64;
                pts.push((h(last), v));
            }
        }
        if let Some(&(_, v)) = pts.last() {
            // Hold the last beat's value to its end.
            pts.push((h(end_s), v));
        }
        pts
    };

    let mut panels = Vec::new();

    // P-level (or speed) with pump flow on the right axis.
    let levels = p_level_series(result, end_s);
    let pump_flow = trace(&|m| m.pump_flow_l_min);
    let has_pump = result
        .beats
        .iter()
        .any(|b| b.metrics.pump_speed_rpm > 0.0 || b.metrics.rp_speed_rpm > 0.0)
        || !levels.is_empty();
    if has_pump {
        let mut series: Vec<Series> = if !levels.is_empty() {
            levels
                .into_iter()
                .map(|(model, pts)| Series::step(format!("{} P-level", device_name(&model)), pts))
                .collect()
        } else {
            let mut s = vec![Series::step(
                "Left pump speed",
                trace(&|m| m.pump_speed_rpm / 1000.0),
            )];
            if result.beats.iter().any(|b| b.metrics.rp_speed_rpm > 0.0) {
                s.push(Series::step(
                    "Right pump speed",
                    trace(&|m| m.rp_speed_rpm / 1000.0),
                ));
            }
            s
        };
        let y_label = if series[0].label.ends_with("P-level") {
            "P-level"
        } else {
            "Speed (krpm)"
        };
        let mut panel_has_flow = false;
        if result
            .beats
            .iter()
            .any(|b| b.metrics.pump_flow_l_min != 0.0)
        {
            series.push(Series::line("Left pump flow", pump_flow).on_right_axis());
            panel_has_flow = true;
        }
        let panel = Panel::new(y_label, series);
        panels.push(if panel_has_flow {
            panel.with_right_axis("Flow (L/min)")
        } else {
            panel
        });
    }
    panels.push(Panel::new(
        "MAP (mmHg)",
        vec![Series::line(
            "Mean arterial pressure",
            trace(&|m| m.map_mmhg),
        )],
    ));
    panels.push(Panel::new(
        "Power (W)",
        vec![Series::line("Cardiac power output", trace(&|m| m.cpo_w))],
    ));
    panels.push(Panel::new(
        "Pressure (mmHg)",
        vec![
            Series::line("PCWP", trace(&|m| m.pcwp_mmhg)),
            Series::line("CVP", trace(&|m| m.cvp_mmhg)),
        ],
    ));
    if result
        .beats
        .iter()
        .any(|b| b.metrics.mr_volume_ml > MR_PANEL_THRESHOLD_ML)
    {
        panels.push(Panel::new(
            "MR (mL/beat)",
            vec![Series::line(
                "Mitral regurgitant volume",
                trace(&|m| m.mr_volume_ml),
            )],
        ));
    }

    (panels, course_markers(result, end_s))
}

/// Writes the course timeline of `result` (see [`course_timeline_parts`])
/// to `path`, sized `stacked_size_px(panels)`.
pub fn write_course_timeline(
    path: &Path,
    title: &str,
    result: &RunResult,
    format: ImageFormat,
) -> Result<(), PlotError> {
    let (panels, events) = course_timeline_parts(result);
    let plot = StackedPlot {
        title,
        panels: &panels,
        events: &events,
    };
    plot::write_timeline(path, &plot, format, stacked_size_px(panels.len()))
}

/// A catalogue id as people write it: "cp" → "Impella CP", "5.5" → "Impella 5.5".
fn device_name(model: &str) -> String {
    format!("Impella {}", model.to_ascii_uppercase())
}

/// P-level step series per device, in hours, from the course's events: each
/// starts at 0 h with the level before its first change (or where the
/// device was added) and holds to `end_s`. Empty when the course changes no
/// P-level.
pub fn p_level_series(result: &RunResult, end_s: f64) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let mut any_change = false;
    let find = |out: &mut Vec<(String, Vec<(f64, f64)>)>, model: &str| -> usize {
        match out.iter().position(|(m, _)| m == model) {
            Some(i) => i,
            None => {
                out.push((model.to_string(), Vec::new()));
                out.len() - 1
            }
        }
    };
    for e in result.course_log() {
        let t = e.t_s / 3600.0;
        match &e.what {
            EventKind::PLevel { device, from, to } => {
                any_change = true;
                let i = find(&mut out, device);
                let pts = &mut out[i].1;
                if pts.is_empty() {
                    pts.push((0.0, f64::from(*from)));
                }
                pts.push((t, f64::from(*to)));
            }
            EventKind::DeviceAdded { device, p_level } => {
                let i = find(&mut out, device);
                out[i].1.push((t, f64::from(*p_level)));
            }
            EventKind::DeviceSwitched { from, to, p_level } => {
                for old in from {
                    if let Some(j) = out.iter().position(|(m, _)| m == old) {
                        out[j].1.push((t, 0.0));
                    }
                }
                let i = find(&mut out, to);
                out[i].1.push((t, f64::from(*p_level)));
            }
            EventKind::DeviceRemoved { device } => {
                if let Some(j) = out.iter().position(|(m, _)| m == device) {
                    out[j].1.push((t, 0.0));
                }
            }
            _ => {}
        }
    }
    if !any_change {
        return Vec::new();
    }
    out.retain(|(_, pts)| !pts.is_empty());
    for (_, pts) in &mut out {
        let last = pts.last().expect("non-empty").1;
        pts.push((end_s / 3600.0, last));
    }
    out
}

/// A metric key as a clinician reads it: "pcwp_mmhg" → ("PCWP", "mmHg").
fn metric_words(key: &str) -> (&'static str, &'static str) {
    let unit = report::unit_of(key);
    (MetricInfo::of(key).map_or("?", |m| m.short), unit)
}

/// A course event as a marker label: P-level changes "P8→P6", failed
/// weaning criteria "FAILED: PCWP > 18 mmHg", the rest as recorded.
fn event_label(e: &Event, devices: usize) -> String {
    match &e.what {
        EventKind::PLevel { device, from, to } => {
            if devices > 1 {
                format!("{} P{from}→P{to}", device.to_ascii_uppercase())
            } else {
                format!("P{from}→P{to}")
            }
        }
        EventKind::WeaningStarted => "Weaning starts".into(),
        EventKind::WeaningCriterionFailed { criterion, .. } => {
            format!("FAILED: {}", failed_criterion(criterion))
        }
        EventKind::WeaningCriteriaMet { level } => format!("criteria met at P{level}"),
        EventKind::WeaningFailed { level } => format!("WEANING ABANDONED at P{level}"),
        EventKind::Weaned { level } => format!("WEANED at P{level}"),
        _ => shorten(e.to_string().trim(), 48),
    }
}

/// What a failed criterion required → what happened: "pcwp_mmhg <= 18" → "PCWP > 18 mmHg".
fn failed_criterion(c: &Criterion) -> String {
    let (name, unit) = metric_words(BeatMetrics::NAMES[c.metric]);
    let text = match (c.min, c.max) {
        (None, Some(hi)) => format!("{name} > {hi} {unit}"),
        (Some(lo), None) => format!("{name} < {lo} {unit}"),
        (Some(lo), Some(hi)) => format!("{name} outside {lo}–{hi} {unit}"),
        (None, None) => c.describe(),
    };
    text.trim().to_string()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn alarm_words(alarm: &Alarm) -> &'static str {
    match alarm {
        Alarm::Suction => "suction",
        Alarm::PlacementSignalVentricular => "placement: ventricular",
        Alarm::MotorCurrentDamped => "motor current damped",
    }
}

/// The markers of a course: log entries at one time share a label; alarm
/// onsets of one kind closer than 2 % of the course are counted in one.
fn course_markers(result: &RunResult, end_s: f64) -> Vec<EventMarker> {
    let devices = {
        let mut names: Vec<&str> = result
            .course_log()
            .filter_map(|e| match &e.what {
                EventKind::PLevel { device, .. } => Some(device.as_str()),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    };
    let mut marks: Vec<(f64, String)> = Vec::new();
    for e in result.course_log() {
        if !e.t_s.is_finite() {
            continue;
        }
        let label = event_label(e, devices);
        match marks.last_mut() {
            Some((t, l)) if (*t - e.t_s).abs() <= 1e-6 * t.abs().max(1.0) => {
                if !l.split("; ").any(|x| x == label) {
                    l.push_str("; ");
                    l.push_str(&label);
                }
            }
            _ => marks.push((e.t_s, label)),
        }
    }
    // Alarm clusters.
    let gap = 0.02 * end_s.max(1.0);
    let mut clusters: Vec<(f64, f64, String, usize)> = Vec::new(); // start, last, key, count
    for a in result.alarms() {
        let Some((device, alarm)) = a.alarm() else {
            continue;
        };
        let key = format!("{} {}", device.to_ascii_uppercase(), alarm_words(&alarm));
        match clusters
            .iter_mut()
            .rev()
            .find(|c| c.2 == key && a.t_s - c.1 <= gap)
        {
            Some(c) => {
                c.1 = a.t_s;
                c.3 += 1;
            }
            None => clusters.push((a.t_s, a.t_s, key, 1)),
        }
    }
    for (t, _, key, n) in clusters {
        let label = if n > 1 { format!("{key} ×{n}") } else { key };
        marks.push((t, label));
    }
    marks.sort_by(|a, b| a.0.total_cmp(&b.0));
    marks.truncate(MAX_COURSE_MARKERS);
    marks
        .into_iter()
        .map(|(t, l)| EventMarker::new(t / 3600.0, l))
        .collect()
}

// ---------------------------------------------------------------------------
// PV overlay

/// Overlays the LV pressure–volume loop of the last beat of each run
/// directory (written by `impella-sim run` or `sweep --case-dirs`, with
/// timeseries.csv), in the order given, coloured along the ramp, with ED
/// and ES points. Labels default to short ones that tell the runs apart: the
/// sweep inputs that differ between the runs (for `case_NNNNN` directories
/// beside a cases.csv), else the preset and/or devices that differ ("no
/// device", "CP P8"), else the directory names. (Titles are long sentences
/// and made poor legend entries.) An empty `title` gives "LV pressure–volume
/// loops".
pub fn write_pv_overlay(
    run_dirs: &[PathBuf],
    labels: Option<&[String]>,
    out: &Path,
    format: ImageFormat,
    title: &str,
) -> Result<(), FigureError> {
    let loops = pv_overlay_loops(run_dirs, labels)?;
    let title = if title.trim().is_empty() {
        "LV pressure–volume loops"
    } else {
        title
    };
    let plot = PvPlot {
        chamber: "LV",
        title,
        loops: &loops,
        reference_lines: &[],
    };
    plot::write_pv_plot(out, &plot, format, plot::DEFAULT_SIZE_PX)?;
    Ok(())
}

/// The loops [`write_pv_overlay`] draws, labelled.
pub fn pv_overlay_loops(
    run_dirs: &[PathBuf],
    labels: Option<&[String]>,
) -> Result<Vec<PvLoop>, FigureError> {
    if run_dirs.is_empty() {
        return Err(content(Path::new("overlay"), "no run directories given"));
    }
    if let Some(l) = labels {
        if l.len() != run_dirs.len() {
            return Err(content(
                Path::new("overlay"),
                format!("{} labels for {} run directories", l.len(), run_dirs.len()),
            ));
        }
    }
    let runs = run_dirs
        .iter()
        .map(|d| report::read_run(d))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = match labels {
        Some(l) => l.to_vec(),
        None => default_labels(&runs),
    };
    let mut loops = Vec::new();
    for (run, name) in runs.iter().zip(names) {
        let ts = run.dir.join("timeseries.csv");
        if !ts.is_file() {
            return Err(content(
                &ts,
                "missing: the PV loop needs the run's timeseries (run with output.timeseries = true)",
            ));
        }
        match report::last_beat_pv_loop(run, &name)? {
            Some(l) => loops.push(l),
            None => {
                return Err(content(
                    &ts,
                    "holds no samples of the last beat of beats.csv",
                ))
            }
        }
    }
    Ok(loops)
}

/// Short labels that tell the runs apart (see [`write_pv_overlay`]).
pub(crate) fn default_labels(runs: &[report::RunData]) -> Vec<String> {
    let distinct = |v: &[String]| {
        let mut s: Vec<&String> = v.iter().collect();
        s.sort();
        s.dedup();
        s.len() == v.len() && v.iter().all(|x| !x.trim().is_empty())
    };
    if let Some(inputs) = case_input_labels(runs) {
        if distinct(&inputs) {
            return inputs;
        }
    }
    // The preset and the devices, those that differ between the runs (both for one run).
    let presets: Vec<String> = runs
        .iter()
        .map(|r| {
            r.summary
                .at("provenance.preset")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let devices: Vec<String> = runs.iter().map(|r| devices_label(&r.summary)).collect();
    let shown = |v: &[String]| runs.len() == 1 || v.iter().any(|x| *x != v[0]);
    let (show_preset, show_devices) = (shown(&presets), shown(&devices));
    let labels: Vec<String> = presets
        .iter()
        .zip(&devices)
        .map(|(p, d)| {
            [(show_preset, p), (show_devices, d)]
                .iter()
                .filter(|(show, text)| *show && !text.is_empty())
                .map(|(_, text)| text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    if distinct(&labels) {
        return labels;
    }
    runs.iter()
        .map(|r| {
            r.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| r.dir.display().to_string())
        })
        .collect()
}

/// "CP P8", "CP P8 + RP P6", "no device".
fn devices_label(summary: &Value) -> String {
    let devices: Vec<String> = summary
        .get("devices")
        .map(Value::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|d| {
            let model = d.get("model")?.as_str()?;
            let p = d.get("p_level")?.as_f64()?;
            Some(format!("{} P{p:.0}", device_name(model)))
        })
        .collect();
    if devices.is_empty() {
        "no device".into()
    } else {
        devices.join(" + ")
    }
}

/// For `case_NNNNN` directories beside their sweep's cases.csv: each run's
/// inputs that differ between the runs, e.g. "P4" or "blood_volume = 4500".
fn case_input_labels(runs: &[report::RunData]) -> Option<Vec<String>> {
    let mut rows: Vec<Vec<(String, String)>> = Vec::new();
    for r in runs {
        let name = r.dir.file_name()?.to_str()?;
        let case: usize = name.strip_prefix("case_")?.parse().ok()?;
        let cases = read_cases(&r.dir.parent()?.join("cases.csv")).ok()?;
        let row = cases.rows.iter().find(|row| row[0] == case.to_string())?;
        rows.push(
            cases
                .input_columns()
                .map(|j| (cases.header[j].clone(), row[j].clone()))
                .collect(),
        );
    }
    let first = rows.first()?.clone();
    let varying: Vec<usize> = (0..first.len())
        .filter(|&j| rows.iter().any(|r| r.get(j) != first.get(j)))
        .collect();
    if varying.is_empty() {
        return None;
    }
    Some(
        rows.iter()
            .map(|r| {
                varying
                    .iter()
                    .filter_map(|&j| r.get(j))
                    .map(|(k, v)| input_label(k, v))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect(),
    )
}

/// One sweep input as a legend label: "P4", "CP P9", "no device",
/// "blood_volume = 4500 mL" (a parameter with its unit from the registry).
fn input_label(key: &str, value: &str) -> String {
    if key.ends_with("p_level") {
        return format!("P{value}");
    }
    if key == "device" {
        return match value.split_once('@') {
            Some((m, p)) => format!("{} P{p}", device_name(m)),
            None if value == "none" => "no device".into(),
            None => device_name(value),
        };
    }
    if key.ends_with("preset") {
        return value.to_string();
    }
    let short = short_key(key);
    match parameters::spec(&short) {
        Ok(s) if s.unit != "-" => format!("{short} = {value} {}", s.unit),
        _ => format!("{short} = {value}"),
    }
}

/// The last segment of a sweep key: "patient.set.\"lv.ees\"" → "lv.ees".
fn short_key(key: &str) -> String {
    if let Some(start) = key.find('"') {
        return key[start..].trim_matches('"').to_string();
    }
    key.rsplit('.').next().unwrap_or(key).to_string()
}

// ---------------------------------------------------------------------------
// Sweep charts

/// The metrics charted from a sweep, by key; their names (`short`) and
/// axis titles come from the metric registry ([`MetricInfo`]).
pub const KEY_METRICS: [&str; 6] = [
    "lvedp_mmhg",
    "map_mmhg",
    "total_flow_l_min",
    "pva_mmhg_ml",
    "cpo_w",
    "pcwp_mmhg",
];

/// Charted as well when some ok case has a nonzero value.
pub const OTHER_METRICS: [&str; 5] = [
    "pump_flow_l_min",
    "rp_flow_l_min",
    "cvp_mmhg",
    "suction_fraction",
    "mr_volume_ml",
];

/// A charted metric's axis title: its label with its unit, "Left pump flow
/// (L/min)" (chart titles name it by its short name, "Pump flow").
fn metric_axis_title(m: &MetricInfo) -> String {
    match m.unit {
        "–" => m.label.to_string(),
        unit => format!("{} ({unit})", m.label),
    }
}

/// A cases.csv as text cells.
#[derive(Debug, Clone)]
pub struct CasesTable {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Column of `status`.
    pub status: usize,
    /// Column of `member` (cohorts only).
    pub member: Option<usize>,
}

impl CasesTable {
    /// The input columns: everything between `case` and `status` except `member`.
    pub fn input_columns(&self) -> impl Iterator<Item = usize> + '_ {
        (1..self.status).filter(move |&j| Some(j) != self.member)
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Rows whose status is `ok`.
    pub fn ok_rows(&self) -> impl Iterator<Item = &Vec<String>> + '_ {
        self.rows.iter().filter(move |r| r[self.status] == "ok")
    }
}

/// Reads a sweep's cases.csv; errors name the file and what is missing.
pub fn read_cases(path: &Path) -> Result<CasesTable, FigureError> {
    if !path.is_file() {
        return Err(content(
            path,
            "no such file (write it with impella-sim sweep)",
        ));
    }
    let csv_err = |source| FigureError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(csv_err)?;
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(content(path, "empty: no header, not a sweep's cases.csv"));
    }
    if header.first().map(String::as_str) != Some("case") {
        return Err(content(
            path,
            "no column \"case\" first: not a sweep's cases.csv",
        ));
    }
    let status = header
        .iter()
        .position(|h| h == "status")
        .ok_or_else(|| content(path, "no column \"status\""))?;
    let member = header.iter().position(|h| h == "member");
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(csv_err)?;
        let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
        row.resize(header.len(), String::new());
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(content(path, "no cases (only a header)"));
    }
    Ok(CasesTable {
        path: path.to_path_buf(),
        header,
        rows,
        status,
        member,
    })
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An input column of a sweep: its name, whether all values are numbers,
/// and its distinct values in order of first appearance (numbers sorted).
struct Input {
    col: usize,
    name: String,
    numeric: bool,
    values: Vec<String>,
}

fn inputs_of(t: &CasesTable, cols: impl Iterator<Item = usize>) -> Vec<Input> {
    cols.map(|col| {
        let mut values: Vec<String> = Vec::new();
        for r in t.ok_rows() {
            if !values.contains(&r[col]) {
                values.push(r[col].clone());
            }
        }
        let numeric = !values.is_empty() && values.iter().all(|v| num(v).is_some());
        if numeric {
            values.sort_by(|a, b| num(a).unwrap().total_cmp(&num(b).unwrap()));
        }
        Input {
            col,
            name: t.header[col].clone(),
            numeric,
            values,
        }
    })
    .collect()
}

/// A file-name-safe form: "devices.0.p_level" → "devices_0_p_level".
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out.trim_matches('_').to_string()
}

/// An input's axis title: "P-level", "Blood volume (mL)"-like where known.
fn axis_title(key: &str) -> String {
    if key.ends_with("p_level") {
        return "P-level".into();
    }
    let short = short_key(key);
    match short.as_str() {
        "blood_volume" => "Blood volume (mL)".into(),
        "r_periph" if key.contains("systemic") => "SVR (mmHg·s/mL)".into(),
        "r_periph" if key.contains("pulmonary") => "PVR (mmHg·s/mL)".into(),
        "hr" => "Heart rate (beats/min)".into(),
        "ees" => format!("{key} (mmHg/mL)"),
        _ => key.to_string(),
    }
}

/// Writes charts of a sweep's cases.csv into `out_dir` (created if missing)
/// and returns the files written. Only rows with status `ok` are used.
///
/// - a cohort (a `member` column): a histogram of each metric, one per
///   combination of the grid inputs (e.g. per device) when there are any;
/// - two numeric inputs and nothing else: a heatmap of each metric;
/// - otherwise, with a numeric input: each metric against it (the last
///   numeric input, the one varying fastest), one line per combination of
///   the other inputs;
/// - only text inputs (e.g. `device`): each metric per value, as points.
///
/// The metrics are [`KEY_METRICS`], plus [`OTHER_METRICS`] that are nonzero.
pub fn write_sweep_charts(
    cases_csv: &Path,
    out_dir: &Path,
    format: ImageFormat,
) -> Result<Vec<PathBuf>, FigureError> {
    let t = read_cases(cases_csv)?;
    let ok = t.ok_rows().count();
    if ok == 0 {
        return Err(content(
            cases_csv,
            format!("no case with status ok (of {})", t.rows.len()),
        ));
    }
    let metrics: Vec<(&str, &str, String)> = KEY_METRICS
        .iter()
        .copied()
        .filter(|k| t.column(k).is_some())
        .chain(OTHER_METRICS.iter().copied().filter(|k| {
            t.column(k).is_some_and(|j| {
                t.ok_rows()
                    .any(|r| num(&r[j]).is_some_and(|v| v.abs() > 1e-6))
            })
        }))
        .filter_map(MetricInfo::of)
        .map(|m| (m.key, m.short, metric_axis_title(m)))
        .collect();
    if metrics.is_empty() {
        return Err(content(
            cases_csv,
            format!("no metric column (expected e.g. {:?})", KEY_METRICS[0]),
        ));
    }
    fs::create_dir_all(out_dir).map_err(|source| FigureError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let ext = format.extension();
    let mut written = Vec::new();

    if let Some(member) = t.member {
        // Cohort: grid inputs come before `member`.
        let grid: Vec<Input> = inputs_of(&t, 1..member)
            .into_iter()
            .filter(|i| i.values.len() > 1)
            .collect();
        let groups = group_rows(&t, &grid);
        for (key, name, x_label) in &metrics {
            let j = t.column(key).expect("filtered");
            for (group, rows) in &groups {
                let values: Vec<f64> = rows.iter().filter_map(|r| num(&r[j])).collect();
                if values.is_empty() {
                    continue;
                }
                let (title, file) = if group.is_empty() {
                    (
                        format!("{name} across {} virtual patients", values.len()),
                        format!("{key}_histogram.{ext}"),
                    )
                } else {
                    (
                        format!("{name}: {group}"),
                        format!("{key}_histogram_{}.{ext}", slug(group)),
                    )
                };
                let path = out_dir.join(file);
                plot::write_histogram(
                    &path,
                    &Histogram {
                        title: &title,
                        x_label,
                        values: &values,
                        bins: None,
                    },
                    format,
                    plot::DEFAULT_SIZE_PX,
                )?;
                written.push(path);
            }
        }
        return Ok(written);
    }

    let inputs: Vec<Input> = inputs_of(&t, t.input_columns())
        .into_iter()
        .filter(|i| i.values.len() > 1)
        .collect();
    let numeric: Vec<&Input> = inputs.iter().filter(|i| i.numeric).collect();

    if inputs.len() == 2 && numeric.len() == 2 {
        // Heatmaps: first key across, second up.
        let (xi, yi) = (numeric[0], numeric[1]);
        let xs: Vec<f64> = xi.values.iter().filter_map(|v| num(v)).collect();
        let ys: Vec<f64> = yi.values.iter().filter_map(|v| num(v)).collect();
        for (key, name, colour_label) in &metrics {
            let j = t.column(key).expect("filtered");
            let mut grid = vec![f64::NAN; xs.len() * ys.len()];
            for r in t.ok_rows() {
                let (Some(x), Some(y)) = (num(&r[xi.col]), num(&r[yi.col])) else {
                    continue;
                };
                let cx = xs.iter().position(|&v| v == x);
                let cy = ys.iter().position(|&v| v == y);
                if let (Some(cx), Some(cy), Some(v)) = (cx, cy, num(&r[j])) {
                    grid[cy * xs.len() + cx] = v;
                }
            }
            if grid.iter().all(|v| v.is_nan()) {
                continue;
            }
            let title = format!(
                "{name} by {} and {}",
                short_key(&xi.name),
                short_key(&yi.name)
            );
            let path = out_dir.join(format!("{key}_heatmap.{ext}"));
            plot::write_heatmap(
                &path,
                &Heatmap {
                    title: &title,
                    x_label: &axis_title(&xi.name),
                    y_label: &axis_title(&yi.name),
                    colour_label,
                    x_values: &xs,
                    y_values: &ys,
                    values: &grid,
                    show_values: true,
                },
                format,
                plot::DEFAULT_SIZE_PX,
            )?;
            written.push(path);
        }
        return Ok(written);
    }

    if let Some(x) = numeric.last().copied() {
        // Lines against the last numeric input, one per combination of the others.
        let others: Vec<Input> = inputs_of(&t, inputs.iter().map(|i| i.col))
            .into_iter()
            .filter(|i| i.col != x.col && i.values.len() > 1)
            .collect();
        let groups = group_rows(&t, &others);
        for (key, name, y_label) in &metrics {
            let j = t.column(key).expect("filtered");
            let series: Vec<Curve> = groups
                .iter()
                .filter_map(|(group, rows)| {
                    let mut pts: Vec<(f64, f64)> = rows
                        .iter()
                        .filter_map(|r| Some((num(&r[x.col])?, num(&r[j])?)))
                        .collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (!pts.is_empty()).then(|| {
                        Curve::new(
                            if group.is_empty() {
                                name.to_string()
                            } else {
                                group.clone()
                            },
                            pts,
                        )
                    })
                })
                .collect();
            if series.is_empty() {
                continue;
            }
            let what = axis_title(&x.name);
            let what = what.split(" (").next().unwrap_or("");
            let what = if what.chars().nth(1).is_some_and(char::is_lowercase) {
                what.to_lowercase()
            } else {
                what.to_string()
            };
            let title = format!("{name} against {what}");
            let path = out_dir.join(format!("{key}_vs_{}.{ext}", slug(&short_key(&x.name))));
            plot::write_xy_chart(
                &path,
                &XyChart {
                    title: &title,
                    x_label: &axis_title(&x.name),
                    y_label,
                    series: &series,
                    x_categories: &[],
                },
                format,
                plot::DEFAULT_SIZE_PX,
            )?;
            written.push(path);
        }
        return Ok(written);
    }

    // Only text inputs: one point per value on a categorical axis, in case order.
    let groups = group_rows(&t, &inputs);
    let what = inputs
        .iter()
        .map(|i| short_key(&i.name))
        .collect::<Vec<_>>()
        .join(", ");
    let categories: Vec<String> = groups
        .iter()
        .map(|(group, _)| {
            if group.is_empty() {
                "all cases".to_string()
            } else {
                group.clone()
            }
        })
        .collect();
    for (key, name, y_label) in &metrics {
        let j = t.column(key).expect("filtered");
        let series: Vec<Curve> = groups
            .iter()
            .zip(&categories)
            .enumerate()
            .filter_map(|(k, ((_, rows), label))| {
                let v = rows.iter().find_map(|r| num(&r[j]))?;
                Some(Curve::new(label.clone(), vec![((k + 1) as f64, v)]))
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let title = format!("{name} by {what}");
        let mut x_label = what.clone();
        if let Some(first) = x_label.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let path = out_dir.join(format!("{key}_by_{}.{ext}", slug(&what)));
        plot::write_xy_chart(
            &path,
            &XyChart {
                title: &title,
                x_label: &x_label,
                y_label,
                series: &series,
                x_categories: &categories,
            },
            format,
            plot::DEFAULT_SIZE_PX,
        )?;
        written.push(path);
    }
    Ok(written)
}

/// Ok rows grouped by their values of `by` (in order of the values), each
/// group labelled like "no device" or "scai_c_lv, CP P8"; one unlabelled
/// group when `by` is empty.
fn group_rows<'a>(t: &'a CasesTable, by: &[Input]) -> Vec<(String, Vec<&'a Vec<String>>)> {
    let mut groups: BTreeMap<Vec<usize>, (String, Vec<&Vec<String>>)> = BTreeMap::new();
    for r in t.ok_rows() {
        let idx: Vec<usize> = by
            .iter()
            .map(|i| i.values.iter().position(|v| *v == r[i.col]).unwrap_or(0))
            .collect();
        let label = by
            .iter()
            .map(|i| input_label(&i.name, &r[i.col]))
            .collect::<Vec<_>>()
            .join(", ");
        groups
            .entry(idx)
            .or_insert_with(|| (label, Vec::new()))
            .1
            .push(r);
    }
    groups.into_values().collect()
}

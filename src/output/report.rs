//! A self-contained HTML report of a finished run directory.
//!
//! `write_report` reads `summary.json`, `beats.csv`, and `timeseries.csv`
//! and `events.csv` when present (columns: docs/outputs.md), and writes one
//! HTML file with the figures inlined as SVG: no scripts, no fonts, no
//! network. It needs only the files, not the simulation.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use serde_json::Value;
use thiserror::Error;

use super::plot::{
    self, Curve, EventMarker, Panel, PlotError, PvLoop, PvPlot, Series, StackedPlot,
};
use crate::analysis::{BeatMetrics, MetricGroup, MetricInfo};

/// Why a report could not be written. Messages name the file concerned.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error(
        "{}: no {file}; is this a finished impella-sim run directory? (a run writes its files only when it completes)",
        .dir.display()
    )]
    Missing { dir: PathBuf, file: &'static str },
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: not valid JSON: {message}", .path.display())]
    Json { path: PathBuf, message: String },
    #[error("{}: {source}", .path.display())]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{}: {what}", .path.display())]
    Content { path: PathBuf, what: String },
    #[error("report figure {figure:?}: {source}")]
    Plot { figure: String, source: PlotError },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{given} labels for two runs: give one label per run directory")]
    Labels { given: usize },
}

// ---------------------------------------------------------------------------
// summary.json as a `serde_json::Value`: with serde_json's `preserve_order`
// feature its objects keep the file's key order, which the tables follow.

/// What the report reads of a JSON value, beside `serde_json::Value`'s own
/// `get`, `as_f64` and `as_str`.
pub trait JsonExt {
    /// The value at a dotted path, e.g. `console.events`.
    fn at(&self, path: &str) -> Option<&Value>;
    /// The items of an array; none for anything else.
    fn items(&self) -> &[Value];
    /// The members of an object in the file's order; none for anything else.
    fn members(&self) -> impl Iterator<Item = (&String, &Value)>;
    /// Plain text for a table cell: integers as written, other numbers to
    /// about four significant figures.
    fn text(&self) -> String;
}

impl JsonExt for Value {
    fn at(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(self, |v, key| v.get(key))
    }

    fn items(&self) -> &[Value] {
        self.as_array().map_or(&[], Vec::as_slice)
    }

    fn members(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.as_object().into_iter().flatten()
    }

    fn text(&self) -> String {
        match self {
            Value::Null => "–".into(),
            Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
            Value::Number(n) => match n.as_f64() {
                Some(v) if n.is_f64() => number(v),
                _ => n.to_string(),
            },
            Value::String(s) => s.clone(),
            Value::Array(items) if items.is_empty() => "none".into(),
            Value::Array(items) => items.iter().map(Value::text).collect::<Vec<_>>().join(", "),
            Value::Object(_) => "…".into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Reading a run directory

/// Numeric columns of a CSV file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    /// One row per record; cells that are not numbers are NaN.
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// The values of column `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        let i = self.columns.iter().position(|c| c == name)?;
        Some(self.rows.iter().map(|r| r[i]).collect())
    }
}

/// One row of `events.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub t_s: f64,
    pub kind: String,
    pub device: String,
    pub detail: String,
}

/// What a report shows of a run directory.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: Value,
    /// All of beats.csv.
    pub beats: Table,
    /// The rows of timeseries.csv from the start of the last `WAVEFORM_BEATS`
    /// beats, with the columns the figures use (`None`: no timeseries.csv,
    /// or it holds none of those beats).
    pub timeseries: Option<Table>,
    /// events.csv, when the run wrote one.
    pub events: Option<Vec<EventRow>>,
}

/// How many of the last beats the waveform figure shows.
pub const WAVEFORM_BEATS: usize = 3;

/// Timeseries columns the figures use; the first six are required (the
/// last two give the PV loop its ESPVR and EDPVR, [`lv_pv_relations`]).
const TS_COLUMNS: [&str; 11] = [
    "t_s",
    "v_lv_ml",
    "p_lv_mmhg",
    "p_ao_mmhg",
    "p_la_mmhg",
    "p_ra_mmhg",
    "q_pump_left_ml_s",
    "q_av_ml_s",
    "q_pump_right_ml_s",
    "p_peri_mmhg",
    "e_v",
];
const TS_REQUIRED: usize = 6;

/// Reads the files of a finished run in `dir`.
pub fn read_run(dir: &Path) -> Result<RunData, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::Read {
            path: dir.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such directory"),
        });
    }
    let need = |file: &'static str| {
        let path = dir.join(file);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ReportError::Missing {
                dir: dir.to_path_buf(),
                file,
            })
        }
    };
    let summary_path = need("summary.json")?;
    let beats_path = need("beats.csv")?;

    let text = fs::read_to_string(&summary_path).map_err(|source| ReportError::Read {
        path: summary_path.clone(),
        source,
    })?;
    let summary: Value = serde_json::from_str(&text).map_err(|e| ReportError::Json {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    if summary.get("metrics").is_none() {
        return Err(ReportError::Content {
            path: summary_path,
            what: "no \"metrics\" object".into(),
        });
    }

    let beats = read_table(&beats_path, None, |_| true)?;
    if beats.rows.is_empty() {
        return Err(ReportError::Content {
            path: beats_path,
            what: "no beats".into(),
        });
    }
    let t_start = beats
        .column("t_start_s")
        .ok_or_else(|| ReportError::Content {
            path: beats_path.clone(),
            what: "no column \"t_start_s\"".into(),
        })?;

    let ts_path = dir.join("timeseries.csv");
    let timeseries = if ts_path.is_file() {
        let from = t_start[t_start.len().saturating_sub(WAVEFORM_BEATS)] - 1e-9;
        let table = read_table(&ts_path, Some(&TS_COLUMNS), |t| t >= from)?;
        if let Some(missing) = TS_COLUMNS[..TS_REQUIRED]
            .iter()
            .find(|c| !table.columns.iter().any(|h| h == *c))
        {
            return Err(ReportError::Content {
                path: ts_path,
                what: format!("no column {missing:?}"),
            });
        }
        (table.rows.len() >= 3).then_some(table)
    } else {
        None
    };

    let events_path = dir.join("events.csv");
    let events = if events_path.is_file() {
        Some(read_events(&events_path)?)
    } else {
        None
    };
    Ok(RunData {
        dir: dir.to_path_buf(),
        summary,
        beats,
        timeseries,
        events,
    })
}

/// Reads a CSV file of numbers: only `keep` columns (those present) if
/// given, and only rows whose first column passes `row_ok`.
fn read_table(
    path: &Path,
    keep: Option<&[&str]>,
    row_ok: impl Fn(f64) -> bool,
) -> Result<Table, ReportError> {
    let csv_err = |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_err)?;
    let headers = reader.byte_headers().map_err(csv_err)?.clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let picked: Vec<usize> = match keep {
        Some(keep) => keep
            .iter()
            .filter_map(|k| names.iter().position(|n| n == k))
            .collect(),
        None => (0..names.len()).collect(),
    };
    let parse = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_err)? {
        if !row_ok(record.get(0).map_or(f64::NAN, parse)) {
            continue;
        }
        rows.push(
            picked
                .iter()
                .map(|&i| record.get(i).map_or(f64::NAN, parse))
                .collect(),
        );
    }
    Ok(Table {
        columns: picked.iter().map(|&i| names[i].clone()).collect(),
        rows,
    })
}

fn read_events(path: &Path) -> Result<Vec<EventRow>, ReportError> {
    let csv_err = |source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (t, kind, device, detail) = (col("t_s"), col("kind"), col("device"), col("detail"));
    let Some(t) = t else {
        return Err(ReportError::Content {
            path: path.to_path_buf(),
            what: "no column \"t_s\"".into(),
        });
    };
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").to_string();
        out.push(EventRow {
            t_s: record
                .get(t)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(f64::NAN),
            kind: field(kind),
            device: field(device),
            detail: field(detail),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Figures

/// Size of the PV-loop figure.
pub const PV_SIZE_PX: (u32, u32) = (1200, 900);

fn plot_err(figure: &str) -> impl Fn(PlotError) -> ReportError + '_ {
    move |source| ReportError::Plot {
        figure: figure.to_string(),
        source,
    }
}

/// The rows of the timeseries from time `from` on.
fn rows_from(ts: &Table, from: f64) -> impl Iterator<Item = &Vec<f64>> {
    ts.rows.iter().filter(move |r| r[0] >= from - 1e-9)
}

fn column_index(ts: &Table, name: &str) -> Option<usize> {
    ts.columns.iter().position(|c| c == name)
}

/// The last beat's row of beats.csv as (column, value) lookups.
fn last_beat(run: &RunData, name: &str) -> Option<f64> {
    let i = run.beats.columns.iter().position(|c| c == name)?;
    run.beats
        .rows
        .last()
        .map(|r| r[i])
        .filter(|v| v.is_finite())
}

/// The LV PV loop of the last beat with its ED and ES points (from the last
/// row of beats.csv), labelled `label`; `None` when the run has no
/// timeseries. Also used to overlay the loops of several runs
/// (`output::figures::write_pv_overlay`).
pub fn last_beat_pv_loop(run: &RunData, label: &str) -> Result<Option<PvLoop>, ReportError> {
    let Some(ts) = &run.timeseries else {
        return Ok(None);
    };
    let from = last_beat(run, "t_start_s").unwrap_or(f64::NEG_INFINITY);
    let column = |name: &str| {
        column_index(ts, name).ok_or_else(|| ReportError::Content {
            path: run.dir.join("timeseries.csv"),
            what: format!("no column {name:?}"),
        })
    };
    let (iv, ip) = (column("v_lv_ml")?, column("p_lv_mmhg")?);
    let (volume, pressure): (Vec<f64>, Vec<f64>) = rows_from(ts, from)
        .filter(|r| r[iv].is_finite() && r[ip].is_finite())
        .map(|r| (r[iv], r[ip]))
        .unzip();
    if volume.len() < 3 {
        return Ok(None);
    }
    let point = |v: &str, p: &str| Some((last_beat(run, v)?, last_beat(run, p)?));
    Ok(Some(PvLoop {
        label: label.to_string(),
        volume_ml: volume,
        pressure_mmhg: pressure,
        end_diastole: point("lvedv_ml", "lvedp_mmhg"),
        end_systole: point("lvesv_ml", "lvesp_mmhg"),
    }))
}

/// The end-systolic and end-diastolic pressure–volume relations (ESPVR,
/// EDPVR) of a ventricle: P = Ees·(V − V0) and P = A·(exp(B·(V − V0)) − 1),
/// transmural pressures (docs/model.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvRelations {
    /// End-systolic elastance, mmHg/mL.
    pub ees: f64,
    /// Unstressed volume, mL.
    pub v0: f64,
    /// EDPVR scale A, mmHg.
    pub edpvr_a: f64,
    /// EDPVR stiffness B, 1/mL.
    pub edpvr_b: f64,
}

impl PvRelations {
    /// Transmural pressure at volume `v_ml` and activation `e` (0–1).
    pub fn pressure(&self, e: f64, v_ml: f64) -> f64 {
        e * self.ees * (v_ml - self.v0) + (1.0 - e) * self.edpvr(v_ml)
    }

    /// The EDPVR at `v_ml`, mmHg.
    pub fn edpvr(&self, v_ml: f64) -> f64 {
        self.edpvr_a * ((self.edpvr_b * (v_ml - self.v0)).exp() - 1.0)
    }
}

/// The LV's ESPVR and EDPVR at the last beat, recovered from that beat's
/// samples in timeseries.csv (LV volume and pressure, pericardial pressure,
/// activation e_v), so the report draws the lines `pv_loop.png` draws
/// without the run's parameters. The chamber law P_lv − P_peri =
/// e·Ees·(V − V0) + (1 − e)·(C·exp(B·V) − A), C = A·exp(−B·V0), is linear in
/// Ees, Ees·V0, C and A once B is fixed: B is found by a one-dimensional
/// search over least-squares fits. `None` without those columns, or when
/// the relations found do not reproduce the samples (to 0.05 mmHg rms):
/// then no lines rather than wrong ones.
pub fn lv_pv_relations(run: &RunData) -> Option<PvRelations> {
    let ts = run.timeseries.as_ref()?;
    let from = last_beat(run, "t_start_s").unwrap_or(f64::NEG_INFINITY);
    let col = |name: &str| column_index(ts, name);
    let (iv, ip, ipp, ie) = (
        col("v_lv_ml")?,
        col("p_lv_mmhg")?,
        col("p_peri_mmhg")?,
        col("e_v")?,
    );
    // (volume, transmural pressure, activation)
    let samples: Vec<[f64; 3]> = rows_from(ts, from)
        .map(|r| [r[iv], r[ip] - r[ipp], r[ie]])
        .filter(|s| s.iter().all(|x| x.is_finite()))
        .collect();
    if samples.len() < 8 {
        return None;
    }
    // exp(B·V) relative to the largest volume, so the column stays near 1.
    let v_ref = samples.iter().map(|s| s[0]).fold(f64::MIN, f64::max);
    let fit = |b: f64| -> Option<(f64, DVector<f64>)> {
        let design = DMatrix::from_fn(samples.len(), 4, |i, j| {
            let [v, _, e] = samples[i];
            match j {
                0 => e * v,
                1 => -e,
                2 => (1.0 - e) * (b * (v - v_ref)).exp(),
                _ => -(1.0 - e),
            }
        });
        let p = DVector::from_fn(samples.len(), |i, _| samples[i][1]);
        let x = design.clone().svd(true, true).solve(&p, 1e-14).ok()?;
        let residual = (&design * &x - &p).norm_squared();
        residual.is_finite().then_some((residual, x))
    };
    let cost = |ln_b: f64| fit(ln_b.exp()).map_or(f64::INFINITY, |f| f.0);
    // A grid over B from 0.001 to 0.5 /mL, then golden-section refinement.
    let (lo, hi, n) = (0.001f64.ln(), 0.5f64.ln(), 60);
    let step = (hi - lo) / n as f64;
    let best = (0..=n)
        .map(|k| lo + step * k as f64)
        .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))?;
    let (mut a, mut b) = (best - step, best + step);
    let phi = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let c = b - phi * (b - a);
        let d = a + phi * (b - a);
        if cost(c) < cost(d) {
            b = d;
        } else {
            a = c;
        }
    }
    let edpvr_b = (0.5 * (a + b)).exp();
    let (_, x) = fit(edpvr_b)?;
    let relations = PvRelations {
        ees: x[0],
        v0: x[1] / x[0],
        edpvr_a: x[3],
        edpvr_b,
    };
    let rms = (samples
        .iter()
        .map(|&[v, p, e]| (relations.pressure(e, v) - p).powi(2))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt();
    (relations.ees > 0.0 && rms < 0.05).then_some(relations)
}

/// The ESPVR and EDPVR as `pv_loop.png` draws them: from V0 (or 0) to 15 %
/// beyond the loop's largest volume.
fn reference_lines(r: &PvRelations, volume_ml: &[f64]) -> [Curve; 2] {
    let v_hi = volume_ml.iter().copied().fold(f64::MIN, f64::max) * 1.15;
    let v_lo = r.v0.max(0.0);
    let n = 60;
    let grid = |k: usize| v_lo + (v_hi - v_lo) * k as f64 / n as f64;
    [
        Curve {
            label: format!("ESPVR (Ees {:.2} mmHg/mL)", r.ees),
            points: (0..=n)
                .map(|k| (grid(k), r.ees * (grid(k) - r.v0)))
                .collect(),
        },
        Curve {
            label: "EDPVR".to_string(),
            points: (0..=n).map(|k| (grid(k), r.edpvr(grid(k)))).collect(),
        },
    ]
}

/// The LV PV loop of the last beat with its ED and ES points and, when
/// they can be recovered ([`lv_pv_relations`]), its ESPVR and EDPVR, as
/// SVG; `None` when the run has no timeseries.
pub fn pv_loop_svg(run: &RunData, size_px: (u32, u32)) -> Result<Option<String>, ReportError> {
    let label = match last_beat(run, "hr_bpm") {
        Some(hr) => format!("LV, last beat ({hr:.0} bpm)"),
        None => "LV, last beat".into(),
    };
    let Some(lv) = last_beat_pv_loop(run, &label)? else {
        return Ok(None);
    };
    let references = lv_pv_relations(run).map(|r| reference_lines(&r, &lv.volume_ml));
    let loops = [lv];
    let plot = PvPlot {
        chamber: "LV",
        title: "",
        loops: &loops,
        reference_lines: references.as_ref().map_or(&[], |r| r.as_slice()),
    };
    plot::pv_plot_svg(&plot, size_px)
        .map(Some)
        .map_err(plot_err("PV loop"))
}

/// Console alarms from summary.json as (time s, label).
fn console_events(run: &RunData) -> Vec<(f64, String)> {
    run.summary
        .at("console.events")
        .map(Value::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| {
            let t = e.get("t_s")?.as_f64()?;
            let alarm = e.get("alarm").map(Value::text).unwrap_or_default();
            let device = e.get("device").map(Value::text).unwrap_or_default();
            Some((
                t,
                format!("{device} {}", alarm.replace('_', " "))
                    .trim()
                    .to_string(),
            ))
        })
        .collect()
}

/// Most markers a figure shows.
const MAX_MARKERS: usize = 12;

/// The run's events as (time s, label): events.csv when the run wrote one
/// (course actions and alarms; rows at the same time share one label),
/// else the console alarms of summary.json.
fn run_events(run: &RunData) -> Vec<(f64, String)> {
    let Some(rows) = &run.events else {
        return console_events(run);
    };
    let mut out: Vec<(f64, String)> = Vec::new();
    for e in rows.iter().filter(|e| e.t_s.is_finite()) {
        // Alarm names read better with spaces; details name metrics by key.
        let label = if e.kind == "alarm" {
            format!("{} {}", e.device, e.detail.replace('_', " "))
                .trim()
                .to_string()
        } else if e.detail.trim().contains(' ') {
            e.detail.trim().to_string()
        } else {
            format!("{} {}", e.kind, e.detail).trim().to_string()
        };
        match out.last_mut() {
            Some((t, l)) if (*t - e.t_s).abs() <= 1e-6 * t.abs().max(1.0) => {
                l.push_str("; ");
                l.push_str(&label);
            }
            _ => out.push((e.t_s, label)),
        }
    }
    out
}

/// Pressures and flows over the last `WAVEFORM_BEATS` beats, as SVG;
/// `None` when the run has no timeseries.
pub fn waveforms_svg(run: &RunData) -> Result<Option<String>, ReportError> {
    let Some(ts) = &run.timeseries else {
        return Ok(None);
    };
    let col = |name: &str, scale: f64| -> Option<Vec<(f64, f64)>> {
        let i = column_index(ts, name)?;
        let pts: Vec<(f64, f64)> = ts
            .rows
            .iter()
            .filter(|r| r[0].is_finite() && r[i].is_finite())
            .map(|r| (r[0], r[i] * scale))
            .collect();
        (!pts.is_empty()).then_some(pts)
    };
    let nonzero = |pts: &Option<Vec<(f64, f64)>>| {
        pts.as_ref()
            .is_some_and(|p| p.iter().any(|q| q.1.abs() > 1e-9))
    };
    let ml_s_to_l_min = 60.0 / 1000.0;
    let mut panels = Vec::new();
    let mut pressures = Vec::new();
    for (name, label) in [("p_lv_mmhg", "LV"), ("p_ao_mmhg", "Aortic")] {
        if let Some(p) = col(name, 1.0) {
            pressures.push(Series::line(label, p));
        }
    }
    if !pressures.is_empty() {
        panels.push(Panel::new("Pressure (mmHg)", pressures));
    }
    let mut atria = Vec::new();
    for (name, label) in [("p_la_mmhg", "LA"), ("p_ra_mmhg", "RA")] {
        if let Some(p) = col(name, 1.0) {
            atria.push(Series::line(label, p));
        }
    }
    if !atria.is_empty() {
        panels.push(Panel::new("Pressure (mmHg)", atria));
    }
    let mut flows = Vec::new();
    let left = col("q_pump_left_ml_s", ml_s_to_l_min);
    if nonzero(&left) {
        flows.push(Series::line("Left pump", left.unwrap_or_default()));
    }
    if let Some(q) = col("q_av_ml_s", ml_s_to_l_min) {
        flows.push(Series::line("Aortic valve", q));
    }
    let right = col("q_pump_right_ml_s", ml_s_to_l_min);
    if nonzero(&right) {
        flows.push(Series::line("Right pump", right.unwrap_or_default()));
    }
    if !flows.is_empty() {
        panels.push(Panel::new("Flow (L/min)", flows));
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let (t0, t1) = (ts.rows[0][0], ts.rows[ts.rows.len() - 1][0]);
    let events: Vec<EventMarker> = run_events(run)
        .into_iter()
        .filter(|(t, _)| *t >= t0 && *t <= t1)
        .take(MAX_MARKERS)
        .map(|(t, label)| EventMarker::new(t, label))
        .collect();
    let plot = StackedPlot {
        title: "",
        panels: &panels,
        events: &events,
    };
    plot::waveforms_svg(&plot, plot::stacked_size_px(panels.len()))
        .map(Some)
        .map_err(plot_err("waveforms"))
}

/// Beat-by-beat MAP, flows and LVEDP against time, as SVG (time in hours
/// when the run is longer than 2 h).
pub fn trends_svg(run: &RunData) -> Result<String, ReportError> {
    let beats = &run.beats;
    let t = beats.column("t_start_s").unwrap_or_default();
    let hours = t.last().copied().unwrap_or(0.0) - t.first().copied().unwrap_or(0.0) > 7200.0;
    let scale = if hours { 1.0 / 3600.0 } else { 1.0 };
    let series = |name: &str| -> Option<Vec<(f64, f64)>> {
        let v = beats.column(name)?;
        let pts: Vec<(f64, f64)> = t
            .iter()
            .zip(v)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (x * scale, y))
            .collect();
        (!pts.is_empty()).then_some(pts)
    };
    let mut panels = Vec::new();
    if let Some(map) = series("map_mmhg") {
        panels.push(Panel::new("MAP (mmHg)", vec![Series::line("MAP", map)]));
    }
    let mut flows = Vec::new();
    if let Some(total) = series("total_flow_l_min").or_else(|| series("co_l_min")) {
        flows.push(Series::line("Total", total));
    }
    let pump = series("pump_flow_l_min").filter(|p| p.iter().any(|q| q.1.abs() > 1e-9));
    if let Some(pump) = pump {
        flows.push(Series::line("Left pump", pump));
        if let Some(native) = series("native_flow_l_min") {
            flows.push(Series::line("Native", native));
        }
    }
    if !flows.is_empty() {
        panels.push(Panel::new("Flow (L/min)", flows));
    }
    if let Some(lvedp) = series("lvedp_mmhg") {
        panels.push(Panel::new(
            "LVEDP (mmHg)",
            vec![Series::line("LVEDP", lvedp)],
        ));
    }
    if panels.is_empty() {
        return Err(ReportError::Content {
            path: run.dir.join("beats.csv"),
            what: "none of the columns map_mmhg, total_flow_l_min, lvedp_mmhg has values".into(),
        });
    }
    // Where steady state was reached (runs without a course: a course's
    // beats start after stabilisation), then the run's events.
    let mut events = Vec::new();
    let steady = run.summary.get("steady_state");
    let reached = steady
        .and_then(|s| s.get("reached"))
        .is_some_and(|r| r.as_bool() == Some(true));
    let at_beat = steady
        .and_then(|s| s.get("beats_to_steady_state"))
        .and_then(Value::as_f64);
    if let (true, Some(k), None) = (reached, at_beat, run.summary.get("course")) {
        if let Some(&ts) = t.get(k as usize) {
            events.push(EventMarker::new(ts * scale, "steady state"));
        }
    }
    events.extend(
        run_events(run)
            .into_iter()
            .take(MAX_MARKERS)
            .map(|(ts, label)| EventMarker::new(ts * scale, label)),
    );
    let plot = StackedPlot {
        title: "",
        panels: &panels,
        events: &events,
    };
    let size = plot::stacked_size_px(panels.len());
    if hours {
        plot::timeline_svg(&plot, size)
    } else {
        plot::waveforms_svg(&plot, size)
    }
    .map_err(plot_err("beat-by-beat trends"))
}

/// An SVG document made fit to sit inside HTML: no XML namespace
/// declaration (HTML gives `<svg>` its namespace), an accessible label.
fn inline_svg(svg: &str, label: &str) -> String {
    let svg = svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
    let Some(start) = svg.find("<svg") else {
        return svg;
    };
    let mut out = String::with_capacity(svg.len() + 64);
    out.push_str(&format!(
        "<svg role=\"img\" aria-label=\"{}\"",
        escape(label)
    ));
    out.push_str(&svg[start + 4..]);
    out
}

// ---------------------------------------------------------------------------
// HTML

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for reading: four significant figures without trailing
/// zeros, whole numbers from 1000 up, an exponent only far from 1.
fn number(v: f64) -> String {
    significant(v, 4)
}

/// `v` to `digits` significant figures, trailing zeros dropped.
fn significant(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    if !(-4.0..15.0).contains(&mag) {
        let p = (digits - 1).max(0) as usize;
        return format!("{v:.p$e}");
    }
    let decimals = (digits as f64 - 1.0 - mag).clamp(0.0, 9.0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// The unit a key's suffix names (docs/outputs.md), or "" if none.
pub fn unit_of(key: &str) -> &'static str {
    match MetricInfo::of(key) {
        Some(m) if m.unit == "–" => "",
        Some(m) => m.unit,
        None => unit_suffix(key).map_or("", |(_, unit)| unit),
    }
}

/// The unit suffix of `key` and the unit it names.
fn unit_suffix(key: &str) -> Option<(&'static str, &'static str)> {
    const SUFFIXES: [(&str, &str); 16] = [
        ("_mmhg_s_ml", "mmHg·s/mL"),
        ("_mmhg_ml", "mmHg·mL"),
        ("_l_min_m2", "L/min/m²"),
        ("_l_min", "L/min"),
        ("_ml_s", "mL/s"),
        ("_mmhg", "mmHg"),
        ("_ml", "mL"),
        ("_bpm", "beats/min"),
        ("_rpm", "rpm"),
        ("_mnm", "mN·m"),
        ("_pct", "%"),
        ("_w", "W"),
        ("_s", "s"),
        ("_h", "h"),
        ("_fraction", "fraction"),
        ("_kg", "kg"),
    ];
    if key == "papi" {
        return Some(("", "ratio"));
    }
    SUFFIXES
        .iter()
        .find(|(suffix, _)| key.ends_with(suffix) && key.len() > suffix.len())
        .copied()
}

/// Headline numbers, by metric key.
const HEADLINE: [&str; 8] = [
    "map_mmhg",
    "total_flow_l_min",
    "ci_l_min_m2",
    "cpo_w",
    "lvedp_mmhg",
    "pcwp_mmhg",
    "cvp_mmhg",
    "pump_flow_l_min",
];

const STYLE: &str = r#"
:root { --ink: #191919; --muted: #5a5a5a; --line: #dcdcdc; --soft: #f5f6f8; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); max-width: 1120px; margin: 0 auto; padding: 28px 32px 64px; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.65rem; margin: 0 0 .2em; }
h2 { font-size: 1.2rem; margin: 2.2em 0 .6em; padding-bottom: .25em; border-bottom: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 1.4em 0 .4em; }
p.sub { color: var(--muted); margin: 0 0 1em; }
.disclaimer { background: #fff4e5; border-left: 5px solid #d55e00; padding: .6em 1em; margin: 1em 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 1.2em 0; }
.card { background: var(--soft); border-radius: 8px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: .85rem; }
.card .v { font-size: 1.55rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .u { color: var(--muted); font-size: .85rem; margin-left: .25em; }
table { border-collapse: collapse; width: 100%; margin: .3em 0 1em; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: var(--soft); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.unit, td.key { color: var(--muted); }
code.key { color: var(--muted); font-size: .8rem; }
td.wrap { word-break: break-all; }
table.kv td:first-child { width: 1%; white-space: nowrap; padding-right: 2em; }
th.num { text-align: right; }
.groups { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 0 28px; }
figure { margin: 1em 0 2em; }
figure svg { display: block; width: 100%; height: auto; }
figure.pv svg { max-width: 760px; margin: 0 auto; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .4em; }
.note { color: var(--muted); font-style: italic; }
footer { margin-top: 3em; color: var(--muted); font-size: .85rem; }
@media print { body { max-width: none; padding: 0; font-size: 11pt; } figure, table, .card { break-inside: avoid; } }
"#;

/// The report of `run` as one HTML document; `run_href` leads from the
/// report to the run directory for the links to its files ("" when the
/// report is in it; see [`run_href`]).
pub fn render_report(run: &RunData, run_href: &str) -> Result<String, ReportError> {
    let s = &run.summary;
    let title = s
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("impella-sim run");
    let disclaimer = s
        .get("disclaimer")
        .and_then(Value::as_str)
        .unwrap_or(super::DISCLAIMER);
    let metrics = s
        .get("metrics")
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    let metric = |k: &str| metrics.get(k).and_then(Value::as_f64);

    let mut h = String::with_capacity(256 * 1024);
    let w = &mut h;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} – impella-sim report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(title)
    );
    let _ = writeln!(w, "<header>\n<h1>{}</h1>", escape(title));
    let file = s
        .at("provenance.scenario_file")
        .and_then(Value::as_str)
        .map(|f| format!("Scenario <code>{}</code>, ", escape(f)))
        .unwrap_or_default();
    let _ = writeln!(
        w,
        "<p class=\"sub\">{file}run directory <code>{}</code></p>\n<p class=\"sub\">Files: {}</p>",
        escape(&run.dir.display().to_string()),
        file_links(run, run_href)
    );
    let _ = writeln!(
        w,
        "<p class=\"disclaimer\"><strong>Not for patient care.</strong> {}</p>\n</header>",
        escape(disclaimer)
    );

    // Headline numbers.
    let _ = writeln!(w, "<section class=\"cards\">");
    for key in HEADLINE {
        let Some(v) = metric(key) else { continue };
        let name = MetricInfo::of(key).map_or(key, |m| m.short);
        if key == "pump_flow_l_min" && v == 0.0 {
            continue;
        }
        let _ = writeln!(
            w,
            "<div class=\"card\"><div class=\"k\">{name}</div><span class=\"v\">{}</span><span class=\"u\">{}</span></div>",
            significant(v, 3),
            escape(unit_of(key))
        );
    }
    let _ = writeln!(w, "</section>");
    let steady = s.get("steady_state");
    if let Some(steady) = steady {
        let reached = steady.get("reached").and_then(Value::as_bool) == Some(true);
        let beats = steady
            .get("beats_to_steady_state")
            .map(Value::text)
            .unwrap_or_default();
        let report_beats = s.at("provenance.report_beats").map(Value::text);
        let last = report_beats.unwrap_or_else(|| "few".into());
        let text = if let Some(course) = s.get("course") {
            let hours = course
                .get("duration_s")
                .and_then(Value::as_f64)
                .map(|d| format!("{} h", number(d / 3600.0)))
                .unwrap_or_else(|| "a course".into());
            format!(
                "A course of {hours} after stabilisation (steady state after {beats} beats); metrics are the mean of the last {last} beats."
            )
        } else if reached {
            format!(
                "Periodic steady state reached after {beats} beats; metrics are the mean of the last {last} beats."
            )
        } else {
            "Steady state was <strong>not</strong> reached: metrics are from the last beats simulated and may still be drifting.".into()
        };
        let _ = writeln!(w, "<p>{text}</p>");
    }

    // Figures.
    let _ = writeln!(w, "<h2>Figures</h2>");
    match pv_loop_svg(run, PV_SIZE_PX)? {
        Some(svg) => {
            let lines = if lv_pv_relations(run).is_some() {
                "; ESPVR and EDPVR of that beat, recovered from timeseries.csv"
            } else {
                ""
            };
            let _ = writeln!(
                w,
                "<h3>LV pressure–volume loop</h3>\n<figure class=\"pv\">{}<figcaption>The last simulated beat: LV volume across, LV pressure up; circle end-diastole, square end-systole (from beats.csv){lines}.</figcaption></figure>",
                inline_svg(&svg, "LV pressure-volume loop of the last beat")
            );
        }
        None => {
            let _ = writeln!(
                w,
                "<p class=\"note\">No PV loop or waveforms: the run wrote no timeseries.csv (output.timeseries = false).</p>"
            );
        }
    }
    if let Some(svg) = waveforms_svg(run)? {
        let _ = writeln!(
            w,
            "<h3>Waveforms, last {WAVEFORM_BEATS} beats</h3>\n<figure>{}<figcaption>Pressures (mmHg) and flows (L/min; pump cannula and aortic valve, negative = backward) from timeseries.csv.</figcaption></figure>",
            inline_svg(&svg, "Pressure and flow waveforms of the last beats")
        );
    }
    let trends = trends_svg(run)?;
    let n_events = run_events(run).len();
    let marks = match (s.get("course").is_some(), n_events) {
        (false, 0) => "where steady state was reached".to_string(),
        (false, _) => "where steady state was reached and the console alarms".to_string(),
        (true, n) if n > MAX_MARKERS => {
            format!("the first {MAX_MARKERS} of {n} event times (all in the table below)")
        }
        (true, _) => "the course's events (events.csv)".to_string(),
    };
    let _ = writeln!(
        w,
        "<h3>Beat by beat</h3>\n<figure>{}<figcaption>One point per simulated beat (beats.csv; a course skips identical beats); dashed lines mark {marks}.</figcaption></figure>",
        inline_svg(&trends, "Beat-by-beat MAP, flow and LVEDP")
    );

    // Metrics.
    let _ = writeln!(
        w,
        "<h2>Steady-state metrics</h2>\n<p class=\"sub\">summary.json <code>metrics</code>; definitions in docs/outputs.md.</p>\n<div class=\"groups\">"
    );
    // Without a device the pump metrics are all 0: left out, not "Other".
    let hide_pumps = without_devices(s);
    let mut shown: Vec<&str> = BeatMetrics::INFO
        .iter()
        .filter(|m| hide_pumps && is_pump_metric(m))
        .map(|m| m.key)
        .collect();
    for group in MetricGroup::ALL {
        let rows: Vec<_> = BeatMetrics::INFO
            .iter()
            .filter(|m| m.group == group && !(hide_pumps && is_pump_metric(m)))
            .filter_map(|m| metrics.get(m.key).map(|v| (m.key, m.label, v)))
            .collect();
        let group = group.title();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            w,
            "<div><h3>{group}</h3>\n<table>\n<tr><th>Metric</th><th class=\"num\">Value</th><th>Unit</th></tr>"
        );
        for (k, name, v) in rows {
            shown.push(k);
            metric_row(w, name, k, v);
        }
        let _ = writeln!(w, "</table></div>");
    }
    let others: Vec<_> = metrics
        .members()
        .filter(|(k, _)| !shown.contains(&k.as_str()))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(
            w,
            "<div><h3>Other</h3>\n<table>\n<tr><th>Metric</th><th class=\"num\">Value</th><th>Unit</th></tr>"
        );
        for (k, v) in others {
            metric_row(w, k, k, v);
        }
        let _ = writeln!(w, "</table></div>");
    }
    let _ = writeln!(w, "</div>");
    if hide_pumps {
        let _ = writeln!(
            w,
            "<p class=\"note\">No device in this run: the pump metrics (all 0) are not shown.</p>"
        );
    }

    // Devices and console.
    let _ = writeln!(w, "<h2>Devices</h2>");
    let devices = s.get("devices").map(Value::items).unwrap_or(&[]);
    if devices.is_empty() {
        let _ = writeln!(w, "<p>No mechanical support.</p>");
    } else {
        object_table(w, devices);
    }
    let _ = writeln!(w, "<h2>Console alarms</h2>");
    if let Some(n) = s.at("console.suction_beats").and_then(Value::as_f64) {
        let _ = writeln!(w, "<p>Beats with suction over the whole run: {n:.0}.</p>");
    }
    let alarms = s.at("console.events").map(Value::items).unwrap_or(&[]);
    if alarms.is_empty() {
        let _ = writeln!(
            w,
            "<p>No alarms from steady state on (summary.json <code>console.events</code>).</p>"
        );
    } else {
        object_table(w, alarms);
    }
    if let Some(events) = &run.events {
        if !events.is_empty() {
            let _ = writeln!(
                w,
                "<h2>Course actions and alarms</h2>\n<p class=\"sub\">events.csv, in time order.</p>"
            );
            events_table(w, events);
        }
    }

    // Everything else in summary.json, as key-value tables.
    for (key, value) in s.members() {
        if matches!(
            key.as_str(),
            "title" | "disclaimer" | "metrics" | "devices" | "console" | "provenance"
        ) {
            continue;
        }
        let _ = writeln!(w, "<h2>{}</h2>", escape(&heading(key)));
        flat_table(w, key, value);
    }
    if let Some(p) = s.get("provenance") {
        let _ = writeln!(w, "<h2>Provenance</h2>");
        flat_table(w, "provenance", p);
    }
    let version = s
        .at("provenance.crate_version")
        .and_then(Value::as_str)
        .unwrap_or(env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        w,
        "<footer>Report written by impella-sim {} from the run written by impella-sim {}. {}</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        escape(version),
        escape(disclaimer)
    );
    Ok(h)
}

fn metric_row(w: &mut String, name: &str, key: &str, v: &Value) {
    let value = match v.as_f64() {
        Some(x) if key.ends_with("_fraction") => format!("{} ({:.0} %)", number(x), 100.0 * x),
        _ => v.text(),
    };
    let label = if name == key {
        format!("<code>{}</code>", escape(key))
    } else {
        format!(
            "{}<br><code class=\"key\">{}</code>",
            escape(name),
            escape(key)
        )
    };
    let _ = writeln!(
        w,
        "<tr><td>{label}</td><td class=\"num\">{}</td><td class=\"unit\">{}</td></tr>",
        escape(&value),
        escape(unit_of(key)),
    );
}

/// "steady_state" -> "Steady state".
fn heading(key: &str) -> String {
    let s = key.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// A table with one row per object and one column per key (in order of
/// first appearance); numbers get the unit their key names.
fn object_table(w: &mut String, items: &[Value]) {
    let mut keys: Vec<&str> = Vec::new();
    for item in items {
        for (k, _) in item.members() {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    let _ = write!(w, "<table>\n<tr>");
    for k in &keys {
        let head = match unit_suffix(k) {
            Some((suffix, unit)) if !suffix.is_empty() && unit != "fraction" => {
                let name = &k[..k.len() - suffix.len()];
                format!("{} ({})", escape(&heading(name)), escape(unit))
            }
            _ => escape(&heading(k)),
        };
        let _ = write!(w, "<th>{head}</th>");
    }
    let _ = writeln!(w, "</tr>");
    for item in items {
        let _ = write!(w, "<tr>");
        for k in &keys {
            match item.get(k) {
                Some(v) if v.is_number() => {
                    let _ = write!(w, "<td class=\"num\">{}</td>", v.text());
                }
                Some(v) => {
                    let _ = write!(w, "<td>{}</td>", escape(&v.text().replace('_', " ")));
                }
                None => {
                    let _ = write!(w, "<td></td>");
                }
            }
        }
        let _ = writeln!(w, "</tr>");
    }
    let _ = writeln!(w, "</table>");
}

/// An object flattened to `path.to.key | value` rows.
fn flat_table(w: &mut String, root: &str, value: &Value) {
    fn rows<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(members) => {
                for (k, v) in members {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    rows(&path, v, out);
                }
            }
            v => out.push((prefix.to_string(), v)),
        }
    }
    let mut out = Vec::new();
    rows("", value, &mut out);
    if out.is_empty() {
        let _ = writeln!(w, "<p>{}: empty.</p>", escape(root));
        return;
    }
    let _ = writeln!(
        w,
        "<table class=\"kv\">\n<tr><th>Key</th><th>Value</th></tr>"
    );
    for (path, v) in out {
        let last = path.rsplit('.').next().unwrap_or(&path);
        let unit = match v {
            Value::Number(_) => unit_of(last),
            _ => "",
        };
        let text = if unit.is_empty() || unit == "fraction" || unit == "ratio" {
            v.text()
        } else {
            format!("{} {unit}", v.text())
        };
        let _ = writeln!(
            w,
            "<tr><td class=\"key\"><code>{}</code></td><td class=\"wrap\">{}</td></tr>",
            escape(&path),
            escape(&text)
        );
    }
    let _ = writeln!(w, "</table>");
}

/// events.csv as a table (at most 500 rows).
fn events_table(w: &mut String, events: &[EventRow]) {
    const MAX: usize = 500;
    let _ = writeln!(
        w,
        "<table>\n<tr><th>Time (s)</th><th>Time (h)</th><th>Kind</th><th>Device</th><th>Detail</th></tr>"
    );
    for e in events.iter().take(MAX) {
        let _ = writeln!(
            w,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            number(e.t_s),
            e.t_s / 3600.0,
            escape(&e.kind.replace('_', " ")),
            escape(&e.device),
            escape(&if e.kind == "alarm" {
                e.detail.replace('_', " ")
            } else {
                e.detail.clone()
            })
        );
    }
    let _ = writeln!(w, "</table>");
    if events.len() > MAX {
        let _ = writeln!(
            w,
            "<p class=\"note\">{} more rows in events.csv.</p>",
            events.len() - MAX
        );
    }
}

/// Reads the finished run in `run_dir` and writes its report to `out_html`
/// (parent directories are created). The file is written under a
/// temporary name (`NAME.partial`) and renamed when complete, so a report
/// that fails never looks complete.
pub fn write_report(run_dir: &Path, out_html: &Path) -> Result<(), ReportError> {
    let run = read_run(run_dir)?;
    create_parent(out_html)?;
    let html = render_report(&run, &run_href(run_dir, out_html))?;
    write_html(out_html, &html)
}

/// Creates the directory `out_html` goes into.
fn create_parent(out_html: &Path) -> Result<(), ReportError> {
    match out_html.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs::create_dir_all(parent).map_err(|source| ReportError::Write {
            path: out_html.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

/// Writes `html` to `out_html` (in an existing directory) under a
/// temporary name (`NAME.partial`), renamed when complete, so a report
/// that fails never looks complete.
fn write_html(out_html: &Path, html: &str) -> Result<(), ReportError> {
    let write_err = |source| ReportError::Write {
        path: out_html.to_path_buf(),
        source,
    };
    let name = out_html
        .file_name()
        .ok_or_else(|| write_err(io::Error::other("not a file name")))?;
    let mut partial = name.to_os_string();
    partial.push(".partial");
    let tmp = out_html.with_file_name(partial);
    let result = fs::write(&tmp, html.as_bytes()).and_then(|()| fs::rename(&tmp, out_html));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(e));
    }
    Ok(())
}

/// The run directory `run_dir` as a link relative to the directory of
/// `out_html` ("" when the report sits in it, else e.g. "../base/"), so the
/// links to the run's files hold when both are moved together. An absolute
/// `file:` URL when there is no relative path (another drive).
pub fn run_href(run_dir: &Path, out_html: &Path) -> String {
    let from = out_html
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (Ok(from), Ok(to)) = (fs::canonicalize(from), fs::canonicalize(run_dir)) else {
        return String::new();
    };
    let (from, to): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    // Root and prefix components are separators or drive names ("C:").
    let segments: String = to[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().replace(['/', '\\'], ""))
        .filter(|c| !c.is_empty())
        .map(|c| url_segment(&c) + "/")
        .collect();
    if common == 0 {
        return format!("file:///{segments}");
    }
    "../".repeat(from.len() - common) + &segments
}

/// A path segment for a URL: bytes other than unreserved ones and ':' percent-encoded.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The run's files that exist, as links through `href` (see [`run_href`]).
fn file_links(run: &RunData, href: &str) -> String {
    RUN_FILES
        .iter()
        .filter(|f| run.dir.join(f).is_file())
        .map(|f| format!("<a href=\"{}{f}\">{f}</a>", escape(href)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The files of a run directory a report links to.
const RUN_FILES: [&str; 4] = ["summary.json", "beats.csv", "events.csv", "timeseries.csv"];

/// Reads two finished runs (e.g. baseline and pump) and writes one page
/// with both side by side to `out_html`: headline and all metrics with the
/// difference (second − first), and both LV PV loops overlaid. `labels`
/// name the runs (default: what tells them apart, as `impella-sim overlay`
/// labels loops). Written like [`write_report`].
pub fn write_compare_report(
    run_dirs: [&Path; 2],
    labels: Option<&[String]>,
    out_html: &Path,
) -> Result<(), ReportError> {
    if let Some(l) = labels.filter(|l| l.len() != 2) {
        return Err(ReportError::Labels { given: l.len() });
    }
    let runs = [read_run(run_dirs[0])?, read_run(run_dirs[1])?];
    let labels: Vec<String> = match labels {
        Some(l) => l.to_vec(),
        None => super::figures::default_labels(&runs),
    };
    create_parent(out_html)?;
    let hrefs = run_dirs.map(|d| run_href(d, out_html));
    let html = render_compare_report(
        [&runs[0], &runs[1]],
        [&labels[0], &labels[1]],
        [&hrefs[0], &hrefs[1]],
    )?;
    write_html(out_html, &html)
}

/// A metric's value for a table cell: four significant figures.
fn value_text(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), number)
}

/// A difference with its sign: "+1.23", "−4.5", "0".
fn difference_text(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if (b - a).is_finite() => {
            let d = b - a;
            let text = significant(d.abs(), 3);
            if text == "0" {
                text
            } else if d > 0.0 {
                format!("+{text}")
            } else {
                format!("−{text}")
            }
        }
        _ => "–".into(),
    }
}

/// Whether a summary says the run had no device (an empty `devices` list).
fn without_devices(summary: &Value) -> bool {
    summary.get("devices").is_some_and(|d| d.items().is_empty())
}

/// Metrics of the pumps: 0 throughout a run without a device.
fn is_pump_metric(m: &MetricInfo) -> bool {
    m.group == MetricGroup::Pumps || m.key.starts_with("pump_") || m.key.starts_with("rp_")
}

/// Two runs side by side as one HTML document (see
/// [`write_compare_report`]); `hrefs` lead from the page to each run
/// directory (see [`run_href`]).
pub fn render_compare_report(
    runs: [&RunData; 2],
    labels: [&str; 2],
    hrefs: [&str; 2],
) -> Result<String, ReportError> {
    let metric = |run: &RunData, key: &str| {
        run.summary
            .get("metrics")
            .and_then(|m| m.get(key))
            .and_then(Value::as_f64)
    };
    let title = format!("{} vs {}", labels[0], labels[1]);
    let disclaimer = runs[0]
        .summary
        .get("disclaimer")
        .and_then(Value::as_str)
        .unwrap_or(super::DISCLAIMER);
    let mut h = String::with_capacity(128 * 1024);
    let w = &mut h;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} – impella-sim comparison</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let _ = writeln!(w, "<header>\n<h1>{}</h1>", escape(&title));
    for ((run, label), href) in runs.iter().zip(labels).zip(hrefs) {
        let run_title = run
            .summary
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("impella-sim run");
        let _ = writeln!(
            w,
            "<p class=\"sub\"><strong>{}</strong>: {} — run directory <code>{}</code> ({})</p>",
            escape(label),
            escape(run_title),
            escape(&run.dir.display().to_string()),
            file_links(run, href)
        );
    }
    let _ = writeln!(
        w,
        "<p class=\"disclaimer\"><strong>Not for patient care.</strong> {}</p>\n</header>",
        escape(disclaimer)
    );

    // Metric tables: value of each run, and the second minus the first.
    let hide_pumps = runs.iter().all(|r| without_devices(&r.summary));
    let table = |w: &mut String, keys: &mut dyn Iterator<Item = &'static MetricInfo>| {
        let _ = writeln!(
            w,
            "<table class=\"compare\">\n<tr><th>Metric</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th class=\"num\">Difference</th><th>Unit</th></tr>",
            escape(labels[0]),
            escape(labels[1])
        );
        for m in keys {
            let (a, b) = (metric(runs[0], m.key), metric(runs[1], m.key));
            if a.is_none() && b.is_none() {
                continue;
            }
            let _ = writeln!(
                w,
                "<tr><td>{}<br><code class=\"key\">{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"unit\">{}</td></tr>",
                escape(m.label),
                escape(m.key),
                value_text(a),
                value_text(b),
                difference_text(a, b),
                escape(unit_of(m.key))
            );
        }
        let _ = writeln!(w, "</table>");
    };
    let _ = writeln!(
        w,
        "<h2>Headline metrics</h2>\n<p class=\"sub\">Means over each run's report beats (summary.json <code>metrics</code>); difference = {} − {}.</p>",
        escape(labels[1]),
        escape(labels[0])
    );
    table(
        w,
        &mut HEADLINE
            .iter()
            .filter_map(|k| MetricInfo::of(k))
            .filter(|m| !(hide_pumps && is_pump_metric(m))),
    );

    // Both LV loops in one picture.
    let _ = writeln!(w, "<h2>LV pressure–volume loops</h2>");
    let mut loops = Vec::new();
    for (run, label) in runs.iter().zip(labels) {
        match last_beat_pv_loop(run, label)? {
            Some(l) => loops.push(l),
            None => {
                let _ = writeln!(
                    w,
                    "<p class=\"note\">No PV loop of {}: the run wrote no timeseries.csv (output.timeseries = false).</p>",
                    escape(label)
                );
            }
        }
    }
    if !loops.is_empty() {
        let plot = PvPlot {
            chamber: "LV",
            title: "",
            loops: &loops,
            reference_lines: &[],
        };
        let svg = plot::pv_plot_svg(&plot, PV_SIZE_PX).map_err(plot_err("PV loops"))?;
        let _ = writeln!(
            w,
            "<figure class=\"pv\">{}<figcaption>The last simulated beat of each run: LV volume across, LV pressure up; circles end-diastole, squares end-systole (from beats.csv).</figcaption></figure>",
            inline_svg(&svg, "LV pressure-volume loops of both runs")
        );
    }

    let _ = writeln!(
        w,
        "<h2>All metrics</h2>\n<p class=\"sub\">Definitions in docs/outputs.md.{}</p>",
        if hide_pumps {
            " Neither run had a device: pump metrics are not shown."
        } else {
            ""
        }
    );
    table(
        w,
        &mut BeatMetrics::INFO
            .iter()
            .filter(|m| !(hide_pumps && is_pump_metric(m))),
    );
    let _ = writeln!(
        w,
        "<footer>Comparison written by impella-sim {}. {}</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        escape(disclaimer)
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_come_from_key_suffixes() {
        assert_eq!(unit_of("map_mmhg"), "mmHg");
        assert_eq!(unit_of("ci_l_min_m2"), "L/min/m²");
        assert_eq!(unit_of("pump_flow_l_min"), "L/min");
        assert_eq!(unit_of("stroke_work_mmhg_ml"), "mmHg·mL");
        assert_eq!(unit_of("r_suction_left_mmhg_s_ml"), "mmHg·s/mL");
        assert_eq!(unit_of("lvedv_ml"), "mL");
        assert_eq!(unit_of("q_av_ml_s"), "mL/s");
        assert_eq!(unit_of("pump_torque_mnm"), "mN·m");
        assert_eq!(unit_of("simulated_time_s"), "s");
        assert_eq!(unit_of("cpo_w"), "W");
        assert_eq!(unit_of("seed"), "");
    }

    #[test]
    fn numbers_and_escapes() {
        assert_eq!(number(76.998), "77");
        assert_eq!(number(76.978), "76.98");
        assert_eq!(number(4.19173), "4.192");
        assert_eq!(number(1614.6), "1615");
        assert_eq!(number(44000.0), "44000");
        assert_eq!(number(0.0556), "0.0556");
        assert_eq!(number(1e-4), "0.0001");
        assert_eq!(number(-0.00001), "-1.000e-5");
        assert_eq!(number(-0.00001234), "-1.234e-5");
        assert_eq!(significant(18.2753, 3), "18.3");
        assert_eq!(significant(0.71717, 3), "0.717");
        assert_eq!(significant(-0.0001, 3), "-0.0001");
        assert_eq!(number(f64::NAN), "–");
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn json_keeps_key_order() {
        let j: Value = serde_json::from_str(
            r#"{"b": 1, "a": {"y": 2.5, "x": null, "z": 2.0}, "c": [true, 3]}"#,
        )
        .unwrap();
        let keys: Vec<&str> = j.members().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(j.at("a.y").and_then(Value::as_f64), Some(2.5));
        assert_eq!(j.at("a.x"), Some(&Value::Null));
        assert_eq!(j.at("a.x.q"), None);
        // Integers as written, other numbers as numbers read.
        assert_eq!(j["b"].text(), "1");
        assert_eq!(j.at("a.z").map(Value::text).as_deref(), Some("2"));
        assert_eq!(j.at("a.x").map(Value::text).as_deref(), Some("–"));
        assert_eq!(j["c"].text(), "yes, 3");
        assert_eq!(j["c"].items().len(), 2);
        assert!(j["b"].items().is_empty());
        assert_eq!(j["b"].members().count(), 0);
    }

    #[test]
    fn svg_is_inlined_without_namespace_url() {
        let svg = "<svg width=\"10\" height=\"5\" viewBox=\"0 0 10 5\" xmlns=\"http://www.w3.org/2000/svg\">\n</svg>\n";
        let out = inline_svg(svg, "a \"plot\"");
        assert!(!out.contains("http"));
        assert!(out.starts_with("<svg role=\"img\" aria-label=\"a &quot;plot&quot;\" width=\"10\""));
    }
}

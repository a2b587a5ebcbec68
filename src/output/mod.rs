//! Writers for tables and pictures: summary.json, beats.csv, timeseries.csv, PV loops.
//! Columns and keys: docs/outputs.md.

pub mod atomic;
pub mod figures;
pub mod plot;
pub mod report;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::analysis::BeatMetrics;
use crate::engine::{Beat, BeatSink, RunResult};
use crate::physiology::elements::edpvr;
use crate::physiology::{Hemodynamics, Slot};
use crate::scenario::{PictureFormats, PvChamber, Scenario, TimeseriesExtent};
use atomic::StagedDir;
use plot::{Curve, EventMarker, ImageFormat, Panel, PvLoop, PvPlot, Series, StackedPlot};

/// Why output could not be written.
#[derive(Debug, Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// A CSV table could not be written.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// The error.
        source: csv::Error,
    },
    /// A picture could not be drawn.
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> OutputError + '_ {
    move |source| OutputError::Csv {
        path: path.display().to_string(),
        source,
    }
}

/// The statement every summary carries.
pub const DISCLAIMER: &str =
    "impella-sim is a research and teaching tool, not a medical device; do not use it for patient care.";

#[derive(Serialize)]
struct Summary<'a> {
    /// Every device of the run, with its final state and history.
    title: &'a str,
    disclaimer: &'a str,
    /// Mean over the report beats.
    metrics: &'a BeatMetrics,
    steady_state: SteadyJson,
    devices: Vec<DeviceJson>,
    console: ConsoleJson<'a>,
    /// Present when the scenario has a course.
    #[serde(skip_serializing_if = "Option::is_none")]
    course: Option<CourseJson<'a>>,
    provenance: ProvenanceJson<'a>,
}

/// A device that was in the patient during the run: its state at the end (or when it was
/// taken out) and its history of levels.
#[derive(Serialize)]
struct DeviceJson {
    model: String,
    name: String,
    side: &'static str,
    /// P-level, speed and position at the end of the run (or at removal).
    p_level: u8,
    speed_rpm: f64,
    position: &'static str,
    /// P-level when it was put in (at the start, or when added).
    initial_p_level: u8,
    /// In the patient at the end of the run.
    in_place: bool,
    /// When it was taken out (removed or switched for another), s.
    removed_s: Option<f64>,
    /// Each level it ran at, from when.
    history: Vec<LevelJson>,
}

#[derive(Serialize)]
struct LevelJson {
    t_s: f64,
    p_level: u8,
    speed_rpm: f64,
}

#[derive(Serialize)]
struct CourseJson<'a> {
    duration_s: f64,
    /// Course time simulated beat by beat, s (the rest was fast-forwarded).
    integrated_time_s: f64,
    beats_integrated: usize,
    beats_fast_forwarded: usize,
    net_fluid_ml: f64,
    actions_logged: usize,
    weaning: Option<&'a crate::engine::protocol::WeaningOutcome>,
}

#[derive(Serialize)]
struct ConsoleJson<'a> {
    /// Beats in which a pump inlet was obstructed.
    suction_beats: usize,
    /// Alarm onsets.
    events: Vec<AlarmJson<'a>>,
}

#[derive(Serialize)]
struct AlarmJson<'a> {
    t_s: f64,
    device: &'a str,
    alarm: crate::analysis::Alarm,
}

#[derive(Serialize)]
struct SteadyJson {
    reached: bool,
    beats_to_steady_state: usize,
    last_beat_to_beat_change: f64,
    tolerance: f64,
}

#[derive(Serialize)]
struct ProvenanceJson<'a> {
    crate_version: &'a str,
    /// The commit the binary was built from ("unknown" outside a git checkout).
    git_commit: &'a str,
    /// [`crate::engine::MODEL_VERSION`].
    model_version: u32,
    scenario_file: Option<String>,
    scenario_sha256: &'a str,
    overrides: &'a [String],
    seed: u64,
    preset: &'a str,
    solver: SolverJson,
    beats_simulated: usize,
    report_beats: usize,
    simulated_time_s: f64,
}

#[derive(Serialize)]
struct SolverJson {
    method: &'static str,
    rtol: f64,
    atol: f64,
    max_step_s: f64,
    sample_interval_s: f64,
    rhs_evaluations: u64,
    accepted_steps: u64,
    rejected_steps: u64,
    /// Evaluations of the switching functions on their own (0 on the reference path).
    switching_evaluations: u64,
}

/// The outputs of a run being written: open before the run so that the timeseries is written
/// beat by beat as the engine makes them ([the writer as a [`BeatSink`]]), in bounded memory; the
/// tables and pictures that need the whole run are written by [`RunWriter::finish`]. The
/// files appear together or not at all (a run that fails leaves none).
pub struct RunWriter {
    dir: PathBuf,
    staged: StagedDir,
    timeseries: Option<TimeseriesSink>,
}

impl RunWriter {
    /// Opens the outputs of `scenario` in `dir`.
    pub fn begin(dir: &Path, scenario: &Scenario) -> Result<Self, OutputError> {
        let mut staged = StagedDir::new(dir).map_err(io_err(dir))?;
        let ts = scenario.timeseries;
        let timeseries = match ts.extent {
            TimeseriesExtent::None => None,
            extent => Some(TimeseriesSink::create(
                &staged.path("timeseries.csv"),
                ts.stride,
                ts.digits,
                extent == TimeseriesExtent::All,
            )?),
        };
        Ok(RunWriter {
            dir: dir.to_path_buf(),
            staged,
            timeseries,
        })
    }

    /// Writes everything else and makes the files appear. Returns the paths written.
    pub fn finish(
        mut self,
        scenario: &Scenario,
        result: &RunResult,
    ) -> Result<Vec<PathBuf>, OutputError> {
        let dir = self.dir.clone();
        let mut written = Vec::new();
        let staged = &mut self.staged;

        let beats_path = staged.path("beats.csv");
        write_beats(&beats_path, result)?;
        written.push(dir.join("beats.csv"));

        let events_path = staged.path("events.csv");
        write_events(&events_path, result)?;
        written.push(dir.join("events.csv"));

        if let Some(mut ts) = self.timeseries.take() {
            if !ts.streaming {
                for b in result.report_beats() {
                    ts.write_beat(b);
                }
            }
            ts.finish()?;
            written.push(dir.join("timeseries.csv"));
        }

        let formats: &[ImageFormat] = match scenario.pv_loop {
            PictureFormats::Png => &[ImageFormat::Png],
            PictureFormats::Svg => &[ImageFormat::Svg],
            PictureFormats::Both => &[ImageFormat::Png, ImageFormat::Svg],
            PictureFormats::None => &[],
        };
        for &format in formats {
            for &chamber in &scenario.pv_chambers {
                let name = format!("{}.{}", chamber.file_stem(), format.extension());
                let path = staged.path(&name);
                write_pv_loop(&path, scenario, result, chamber, format)?;
                written.push(dir.join(name));
            }
            let name = format!("waveforms.{}", format.extension());
            let path = staged.path(&name);
            write_waveform_picture(&path, scenario, result, format)?;
            written.push(dir.join(name));
            if scenario.course.is_some() {
                let name = format!("timeline.{}", format.extension());
                let path = staged.path(&name);
                figures::write_course_timeline(&path, &scenario.title, result, format)?;
                written.push(dir.join(name));
            }
        }

        // summary.json last: its presence marks a complete run.
        let summary_path = staged.path("summary.json");
        write_summary(&summary_path, scenario, result)?;
        written.push(dir.join("summary.json"));

        self.staged.commit().map_err(io_err(&dir))?;
        Ok(written)
    }
}

/// The run's beats go to the writer as the engine makes them.
impl BeatSink for RunWriter {
    fn beat(&mut self, beat: &Beat) {
        if let Some(t) = &mut self.timeseries {
            t.beat(beat);
        }
    }
}

/// Writes every output of a finished run into `dir` (its beats must have kept their samples
/// for the timeseries: `keep_all_samples`); the files appear together or not at all.
/// Returns the paths written.
pub fn write_run(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
) -> Result<Vec<PathBuf>, OutputError> {
    let mut w = RunWriter::begin(dir, scenario)?;
    for b in &result.beats {
        w.beat(b);
    }
    w.finish(scenario, result)
}

/// Simulates `scenario` and writes its outputs into `dir`, the timeseries as the run goes.
pub fn simulate_and_write(
    dir: &Path,
    scenario: &Scenario,
) -> Result<(RunResult, Vec<PathBuf>), RunError> {
    let mut w = RunWriter::begin(dir, scenario)?;
    let result = scenario.simulate_into(&mut w)?;
    let written = w.finish(scenario, &result)?;
    Ok((result, written))
}

/// Why [`simulate_and_write`] failed.
#[derive(Debug, Error)]
pub enum RunError {
    /// The simulation failed (nothing was written).
    #[error("simulation failed: {0}")]
    Simulation(#[from] crate::engine::SimError),
    /// An output could not be written (nothing was left that looks complete).
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// timeseries.csv written beat by beat, each sample's pressures from the model its beat ran
/// on. A beat's last sample is the next beat's first: it is written once, with the next beat
/// (the run's very last one at the end).
struct TimeseriesSink {
    path: PathBuf,
    w: csv::Writer<std::fs::File>,
    stride: usize,
    /// Significant digits of the values (None: round-trip).
    digits: Option<u8>,
    /// Written beat by beat as the run goes (every beat); otherwise the report beats at the end.
    streaming: bool,
    row: Vec<f64>,
    /// The last sample of the last beat, if it falls on the stride: written by `finish`.
    tail: Option<Vec<f64>>,
    /// The first write error; the run goes on and `finish` reports it.
    error: Option<OutputError>,
}

impl TimeseriesSink {
    fn create(
        path: &Path,
        stride: usize,
        digits: Option<u8>,
        streaming: bool,
    ) -> Result<Self, OutputError> {
        let mut w = csv::Writer::from_path(path).map_err(csv_err(path))?;
        let mut header = vec!["t_s"];
        header.extend(Slot::ALL.iter().map(|s| s.name()));
        header.extend_from_slice(&Hemodynamics::NAMES);
        w.write_record(&header).map_err(csv_err(path))?;
        Ok(TimeseriesSink {
            path: path.to_path_buf(),
            w,
            stride,
            digits,
            streaming,
            row: Vec::with_capacity(header.len()),
            tail: None,
            error: None,
        })
    }

    fn fill(&self, row: &mut Vec<f64>, b: &Beat, t: f64, y: &crate::physiology::State) {
        row.clear();
        row.push(t);
        row.extend(y.iter());
        row.extend(b.model.hemodynamics(&b.clock, t, y).values());
        if let Some(d) = self.digits {
            // Rounded to d significant digits; written in the shortest form that reads back
            // as the rounded value.
            for v in row.iter_mut().skip(1) {
                *v = format!("{:.*e}", usize::from(d) - 1, *v)
                    .parse()
                    .unwrap_or(*v);
            }
        }
    }

    fn finish(mut self) -> Result<(), OutputError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(tail) = self.tail.take() {
            self.w.serialize(&tail).map_err(csv_err(&self.path))?;
        }
        self.w.flush().map_err(io_err(&self.path))
    }
}

impl TimeseriesSink {
    fn write_beat(&mut self, b: &Beat) {
        if self.error.is_some() || b.samples.is_empty() {
            return;
        }
        let last = b.samples.len() - 1;
        let mut row = std::mem::take(&mut self.row);
        for (t, y) in b.samples[..last].iter().step_by(self.stride) {
            self.fill(&mut row, b, *t, y);
            if let Err(e) = self.w.serialize(&row) {
                self.error = Some(csv_err(&self.path)(e));
                return;
            }
        }
        self.row = row;
        self.tail = (last % self.stride == 0).then(|| {
            let (t, y) = &b.samples[last];
            let mut row = Vec::with_capacity(self.row.len());
            self.fill(&mut row, b, *t, y);
            row
        });
    }
}

impl BeatSink for TimeseriesSink {
    fn beat(&mut self, b: &Beat) {
        if self.streaming {
            self.write_beat(b);
        }
    }
}

fn write_summary(path: &Path, scenario: &Scenario, r: &RunResult) -> Result<(), OutputError> {
    let s = &scenario.solver;
    let summary = Summary {
        title: &scenario.title,
        disclaimer: DISCLAIMER,
        metrics: &r.report,
        steady_state: SteadyJson {
            reached: r.steady.reached,
            beats_to_steady_state: r.steady.beats,
            last_beat_to_beat_change: r.steady.last_change,
            tolerance: r.settings.steady_tolerance,
        },
        devices: device_rows(scenario, r),
        course: scenario.course.as_ref().map(|c| CourseJson {
            duration_s: c.duration_s,
            integrated_time_s: r.beats.iter().map(|b| b.clock.period).sum(),
            beats_integrated: r.beats.len(),
            beats_fast_forwarded: r.beats.iter().map(|b| b.fast_forwarded).sum(),
            net_fluid_ml: r.net_fluid_ml,
            actions_logged: r.course_log().count(),
            weaning: r.weaning.as_ref(),
        }),
        console: ConsoleJson {
            suction_beats: r
                .beats
                .iter()
                .filter(|b| b.metrics.suction_fraction > 0.0)
                .count(),
            events: r
                .alarms()
                .filter_map(|e| {
                    let (device, alarm) = e.alarm()?;
                    Some(AlarmJson {
                        t_s: e.t_s,
                        device,
                        alarm,
                    })
                })
                .collect(),
        },
        provenance: ProvenanceJson {
            crate_version: env!("CARGO_PKG_VERSION"),
            git_commit: crate::engine::GIT_COMMIT,
            model_version: crate::engine::MODEL_VERSION,
            scenario_file: scenario
                .provenance
                .file
                .as_ref()
                .map(|p| p.display().to_string()),
            scenario_sha256: &scenario.provenance.sha256,
            overrides: &scenario.provenance.overrides,
            seed: scenario.seed,
            preset: &scenario.preset,
            solver: SolverJson {
                method: s.method.name(),
                rtol: s.rtol,
                atol: s.atol,
                max_step_s: s.h_max,
                sample_interval_s: r.settings.sample_interval,
                rhs_evaluations: r.stats.rhs_evaluations,
                accepted_steps: r.stats.accepted_steps,
                rejected_steps: r.stats.rejected_steps,
                switching_evaluations: r.stats.switching_evaluations,
            },
            beats_simulated: r.beats.len(),
            report_beats: r.report_beats().len(),
            simulated_time_s: r.duration(),
        },
    };
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, &summary)
        .map_err(|e| io_err(path)(io::Error::other(e)))?;
    writeln!(w).map_err(io_err(path))?;
    w.flush().map_err(io_err(path))
}

/// The devices of a run from its scenario and its events: initial devices, those added or
/// switched in, each with its levels over time; the final state from the engine.
fn device_rows(scenario: &Scenario, r: &RunResult) -> Vec<DeviceJson> {
    use crate::devices::{Position, Pump, Side};
    use crate::engine::{Action, EventKind};
    // Every pump the scenario can put in, to know a device's name and speeds by its id.
    let mut known: Vec<&Pump> = scenario.pumps.iter().collect();
    if let Some(c) = &scenario.course {
        let actions = c
            .events
            .iter()
            .flat_map(|e| &e.actions)
            .chain(c.triggers.iter().flat_map(|t| &t.actions));
        for a in actions {
            if let Action::AddDevice(p) | Action::SwitchDevice(p) = a {
                known.push(p);
            }
        }
    }
    struct Row {
        pump: Pump,
        initial: u8,
        history: Vec<(f64, u8)>,
        removed_s: Option<f64>,
    }
    let row = |id: &str, t: f64, level: u8| -> Option<Row> {
        let pump = (*known.iter().find(|p| p.model == id)?).clone();
        Some(Row {
            pump,
            initial: level,
            history: vec![(t, level)],
            removed_s: None,
        })
    };
    let mut rows: Vec<Row> = scenario
        .pumps
        .iter()
        .filter_map(|p| row(&p.model, 0.0, p.p_level()))
        .collect();
    let current = |rows: &mut Vec<Row>, id: &str| -> Option<usize> {
        rows.iter()
            .rposition(|r| r.pump.model == id && r.removed_s.is_none())
    };
    for e in r.course_log() {
        let t = e.t_s;
        match &e.what {
            EventKind::PLevel { device, to, .. } => {
                if let Some(i) = current(&mut rows, device) {
                    rows[i].history.push((t, *to));
                }
            }
            EventKind::Complication {
                complication: crate::engine::Complication::DeviceStop,
                device: Some(device),
            } => {
                if let Some(i) = current(&mut rows, device) {
                    rows[i].history.push((t, 0));
                }
            }
            EventKind::DeviceAdded { device, p_level } => rows.extend(row(device, t, *p_level)),
            EventKind::DeviceSwitched { from, to, p_level } => {
                for old in from {
                    if let Some(i) = current(&mut rows, old) {
                        rows[i].removed_s = Some(t);
                    }
                }
                rows.extend(row(to, t, *p_level));
            }
            EventKind::DeviceRemoved { device } => {
                if let Some(i) = current(&mut rows, device) {
                    rows[i].removed_s = Some(t);
                }
            }
            _ => {}
        }
    }
    rows.into_iter()
        .map(|row| {
            let at_end = r
                .devices
                .iter()
                .find(|p| row.removed_s.is_none() && p.model == row.pump.model);
            let last = row.history.last().map_or(row.initial, |h| h.1);
            let mut pump = row.pump.clone();
            let speed =
                |p: &mut Pump, level: u8| p.set_p_level(level).map_or(f64::NAN, |()| p.speed_rpm());
            let history = row
                .history
                .iter()
                .map(|&(t_s, p_level)| LevelJson {
                    t_s,
                    p_level,
                    speed_rpm: speed(&mut pump, p_level),
                })
                .collect();
            let (p_level, speed_rpm, position) = match at_end {
                Some(p) => (p.p_level(), p.speed_rpm(), p.position),
                None => (last, speed(&mut pump, last), row.pump.position),
            };
            DeviceJson {
                model: row.pump.model.clone(),
                name: row.pump.name.clone(),
                side: match row.pump.side {
                    Side::Left => "left",
                    Side::Right => "right",
                },
                p_level,
                speed_rpm,
                position: Position::NAMES[position as usize],
                initial_p_level: row.initial,
                in_place: at_end.is_some(),
                removed_s: row.removed_s,
                history,
            }
        })
        .collect()
}

fn write_beats(path: &Path, r: &RunResult) -> Result<(), OutputError> {
    let mut w = csv::Writer::from_path(path).map_err(csv_err(path))?;
    let mut header = vec!["beat", "t_start_s", "fast_forwarded_beats"];
    header.extend_from_slice(BeatMetrics::NAMES);
    w.write_record(&header).map_err(csv_err(path))?;
    for (i, b) in r.beats.iter().enumerate() {
        w.serialize((i, b.clock.t_start, b.fast_forwarded, b.metrics.values()))
            .map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// Every course action and console alarm, in time order.
fn write_events(path: &Path, r: &RunResult) -> Result<(), OutputError> {
    let mut rows: Vec<&crate::engine::Event> = r.events.iter().collect();
    // Stable sort: same-time rows keep their order of occurrence.
    rows.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let mut w = csv::Writer::from_path(path).map_err(csv_err(path))?;
    w.write_record(["t_s", "kind", "device", "detail"])
        .map_err(csv_err(path))?;
    for e in rows {
        w.serialize((
            e.t_s,
            e.cause.kind(),
            e.device().unwrap_or(""),
            e.to_string(),
        ))
        .map_err(csv_err(path))?;
    }
    w.flush().map_err(io_err(path))
}

/// Pressures, flows and the console signals over the report beats, as a monitor shows them.
fn write_waveform_picture(
    path: &Path,
    scenario: &Scenario,
    r: &RunResult,
    format: ImageFormat,
) -> Result<(), OutputError> {
    // The report beats that follow one another (none skipped between them by fast-forward).
    let report = r.report_beats();
    let first = report
        .iter()
        .rposition(|b| b.fast_forwarded > 0)
        .filter(|&i| i + 1 < report.len())
        .map_or(0, |i| i + 1);
    let beats = &report[first..];
    // A course is drawn in seconds from the first beat shown (its course time in the title).
    let t0 = match scenario.course {
        Some(_) => beats.first().map_or(0.0, |b| b.clock.t_start),
        None => 0.0,
    };
    let mut points: Vec<(
        f64,
        crate::physiology::Hemodynamics,
        crate::physiology::State,
    )> = Vec::new();
    for b in beats {
        let n = b.samples.len();
        for (t, y) in &b.samples[..n.saturating_sub(1)] {
            points.push((*t - t0, b.model.hemodynamics(&b.clock, *t, y), *y));
        }
    }
    let series = |label: &str, f: &dyn Fn(&crate::physiology::Hemodynamics) -> f64| {
        Series::line(label, points.iter().map(|(t, h, _)| (*t, f(h))).collect())
    };
    let to_l_min = 0.06;
    // Devices as the last beat ran with them.
    let model = &beats.last().expect("a run has beats").model;
    let mut panels = vec![
        Panel::new(
            "Pressure (mmHg)",
            vec![series("LV", &|h| h.p_lv), series("Aorta", &|h| h.p_ao)],
        ),
        Panel::new(
            "Pressure (mmHg)",
            vec![series("LA", &|h| h.p_la), series("RA", &|h| h.p_ra)],
        ),
    ];
    let mut flows = vec![series("Aortic valve", &|h| h.q_av * to_l_min)];
    if model.pump(crate::devices::Side::Left).is_some() {
        flows.push(series("Left pump", &|h| h.q_pump_l * to_l_min));
    }
    if model.pump(crate::devices::Side::Right).is_some() {
        flows.push(series("RP", &|h| h.q_pump_r * to_l_min));
    }
    panels.push(Panel::new("Flow (L/min)", flows));
    if let Some(left) = model.pump(crate::devices::Side::Left) {
        let torque = points
            .iter()
            .map(|(t, _, y)| (*t, left.pump.torque_mnm(y[left.flow.i()])))
            .collect();
        panels.push(
            Panel::new(
                "Placement signal (mmHg)",
                vec![
                    series("Placement signal", &|h| h.pressure(left.outlet)),
                    Series::line("Motor-current proxy", torque).on_right_axis(),
                ],
            )
            .with_right_axis("Torque (mN·m)"),
        );
    }
    let (t_first, t_last) = (
        points.first().map_or(0.0, |p| p.0),
        points.last().map_or(0.0, |p| p.0),
    );
    let events: Vec<EventMarker> = r
        .alarms()
        .filter(|e| e.t_s - t0 >= t_first && e.t_s - t0 <= t_last)
        .filter_map(|e| Some(EventMarker::new(e.t_s - t0, format!("{:?}", e.alarm()?.1))))
        .collect();
    let title = match scenario.course {
        Some(_) => format!(
            "{}: last {} beats, from {:.2} h",
            scenario.title,
            beats.len(),
            t0 / 3600.0
        ),
        None => format!("{}: last {} beats", scenario.title, beats.len()),
    };
    plot::write_waveforms(
        path,
        &StackedPlot {
            title: &title,
            panels: &panels,
            events: &events,
        },
        format,
        plot::stacked_size_px(panels.len()),
    )?;
    Ok(())
}

/// A chamber's pressure–volume loop of the last beat with the ESPVR and EDPVR (and, for the
/// LV, the ED and ES points of the metrics).
fn write_pv_loop(
    path: &Path,
    scenario: &Scenario,
    r: &RunResult,
    chamber: PvChamber,
    format: ImageFormat,
) -> Result<(), OutputError> {
    let beat = r.beats.last().expect("a run has beats");
    let samples = &beat.samples;
    let p = beat.model.parameters();
    let (params, slot, name) = match chamber {
        PvChamber::Lv => (p.lv, Slot::VLv, "LV"),
        PvChamber::Rv => (p.rv, Slot::VRv, "RV"),
        PvChamber::La => (p.la, Slot::VLa, "LA"),
        PvChamber::Ra => (p.ra, Slot::VRa, "RA"),
    };
    let pressure: Vec<f64> = samples
        .iter()
        .map(|(t, y)| beat.model.hemodynamics(&beat.clock, *t, y).pressure(slot))
        .collect();
    let volume: Vec<f64> = samples.iter().map(|s| s.1[slot.i()]).collect();
    let m = &beat.metrics;
    let v_hi = volume.iter().copied().fold(f64::MIN, f64::max) * 1.15;
    let v_lo = params.v0.max(0.0);
    let n = 60;
    let grid = |k: usize| v_lo + (v_hi - v_lo) * k as f64 / n as f64;
    let reference = [
        Curve {
            label: format!("ESPVR (Ees {:.2} mmHg/mL)", params.ees),
            points: (0..=n)
                .map(|k| (grid(k), params.ees * (grid(k) - params.v0)))
                .collect(),
        },
        Curve {
            label: "EDPVR".to_string(),
            points: (0..=n)
                .map(|k| (grid(k), edpvr(&params, grid(k))))
                .collect(),
        },
    ];
    let lv = chamber == PvChamber::Lv;
    let loops = [PvLoop {
        label: format!("{name}, {:.0} bpm", m.hr_bpm),
        volume_ml: volume,
        pressure_mmhg: pressure,
        end_diastole: lv.then_some((m.lvedv_ml, m.lvedp_mmhg)),
        end_systole: lv.then_some((m.lvesv_ml, m.lvesp_mmhg)),
    }];
    let title = format!("{}: {name} pressure-volume loop", scenario.title);
    plot::write_pv_plot(
        path,
        &PvPlot {
            chamber: name,
            title: &title,
            loops: &loops,
            reference_lines: &reference,
        },
        format,
        plot::DEFAULT_SIZE_PX,
    )?;
    Ok(())
}

/// Writes the validation table as validation.csv and validation.md (all or nothing).
pub fn write_validation(dir: &Path, cases: &[crate::validation::Case]) -> Result<(), OutputError> {
    let mut staged = StagedDir::new(dir).map_err(io_err(dir))?;
    let csv_path = staged.path("validation.csv");
    let mut w = csv::Writer::from_path(&csv_path).map_err(csv_err(&csv_path))?;
    for c in cases {
        w.serialize(c).map_err(csv_err(&csv_path))?;
    }
    w.flush().map_err(io_err(&csv_path))?;
    let md_path = staged.path("validation.md");
    std::fs::write(&md_path, crate::validation::markdown(cases)).map_err(io_err(&md_path))?;
    staged.commit().map_err(io_err(dir))
}

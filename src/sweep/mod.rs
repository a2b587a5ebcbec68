//! Sweeps and virtual cohorts: one scenario file expanded into many cases (a grid of
//! values, a sampled cohort, or both), run in parallel, with one row per case in
//! `DIR/cases.csv`. Keys, outputs, resuming and sharding: docs/sweeps.md.
//!
//! Rows are produced by a pool of workers that take cases in index order and pass their
//! rows to the calling thread, which appends each to the journal (for `--resume`) and
//! writes the rows to `cases.csv.partial` in case order through a bounded reorder buffer
//! (workers wait rather than run more than [`window`] cases ahead of the writer), so memory
//! stays flat however many cases there are and the file does not depend on the thread count.

pub mod cohort;
mod journal;
pub mod plan;
mod spans;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Serialize, Serializer};
use thiserror::Error;
use toml::Value;

use crate::analysis::BeatMetrics;
use crate::output::atomic::StagedDir;
use crate::scenario::ScenarioError;
pub use cohort::{Cohort, Marginal, Variable};
use journal::Journal;
pub use journal::JOURNAL;
pub use plan::{Axis, SweepPlan, Target};

/// How to run a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOptions {
    /// Continue from `DIR/cases.journal`: run only the cases not finished yet.
    pub resume: bool,
    /// Run only shard K of N (1-based K): the cases with index % N == K − 1.
    pub shard: Option<(usize, usize)>,
    /// Worker threads (default: every core, or `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
    /// Also write each case's full run output into `DIR/case_NNNNN/`.
    pub keep_case_dirs: bool,
    /// Show a progress bar on stderr (never drawn when stderr is not a terminal).
    pub progress: bool,
}

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Rows in cases.csv: the cases of the sweep, or of the shard.
    pub cases_total: usize,
    /// Cases simulated by this call.
    pub cases_run: usize,
    /// Cases taken from the journal of an earlier, interrupted run (`resume`).
    pub cases_skipped: usize,
    /// Rows whose status is not `ok` (simulation failed), run or skipped.
    pub cases_failed: usize,
    /// The table written.
    pub cases_csv: PathBuf,
}

/// Why a sweep could not run. Case failures during simulation are not errors: they are
/// rows with the failure in `status`.
#[derive(Debug, Error)]
pub enum SweepError {
    /// The file cannot be read, or the scenario or its `[sweep]`/`[cohort]` tables are
    /// invalid (with file, line and column where known).
    #[error(transparent)]
    Scenario(ScenarioError),
    /// A case's scenario is invalid (e.g. a drawn value outside the parameter's range).
    #[error("{file}: case {case} ({inputs}): {message}")]
    Case {
        /// The sweep file.
        file: String,
        /// Case index.
        case: usize,
        /// The case's inputs, as `key = value` pairs.
        inputs: String,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// The journal of an earlier run does not belong to this sweep.
    #[error("cannot resume in {dir}: {message}")]
    Resume {
        /// The output directory.
        dir: String,
        /// Why.
        message: String,
    },
    /// Options that do not fit together (e.g. a shard outside 1..=N).
    #[error("{0}")]
    Options(String),
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Runs the sweep declared in `scenario_path` (with `--set` overrides) into `out_dir`.
pub fn run_sweep(
    scenario_path: &Path,
    overrides: &[String],
    out_dir: &Path,
    opts: &SweepOptions,
) -> Result<SweepReport, SweepError> {
    let plan = SweepPlan::load(scenario_path, overrides)?;
    run_plan(&plan, out_dir, opts)
}

/// The cases of shard K of N (all cases without a shard), in index order.
pub fn shard_cases(total: usize, shard: Option<(usize, usize)>) -> Result<Vec<usize>, SweepError> {
    let (k, n) = shard.unwrap_or((1, 1));
    if n == 0 || k == 0 || k > n {
        return Err(SweepError::Options(format!(
            "--shard {k}/{n}: K/N needs 1 ≤ K ≤ N, e.g. --shard 1/4"
        )));
    }
    Ok((k - 1..total).step_by(n).collect())
}

/// Parses `--shard K/N` (1-based K), e.g. "2/8" → (2, 8).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard {text}: expected K/N with 1 ≤ K ≤ N, e.g. --shard 2/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// How far ahead of the writer (in cases) workers may run.
pub fn window(threads: usize) -> usize {
    (16 * threads).max(64)
}

/// The cases.csv header.
pub fn header(plan: &SweepPlan) -> Vec<String> {
    let mut h = vec!["case".to_string()];
    h.extend(plan.columns());
    h.push("status".into());
    h.push("steady_state_reached".into());
    h.extend(BeatMetrics::NAMES.iter().map(|s| s.to_string()));
    h
}

/// An input value in a CSV cell: strings bare, numbers as numbers, anything else as TOML.
struct Cell<'a>(&'a Value);

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(v) => s.serialize_str(v),
            Value::Integer(v) => s.serialize_i64(*v),
            Value::Float(v) => s.serialize_f64(*v),
            Value::Boolean(v) => s.serialize_bool(*v),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

/// One finished case: its cases.csv row (one line) and whether it succeeded.
struct Row {
    bytes: Vec<u8>,
    ok: bool,
}

fn csv_line<T: Serialize>(record: T) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(record).expect("rows serialise into memory");
    w.into_inner().expect("in-memory writer")
}

fn row(plan: &SweepPlan, case: usize, status: &str, outcome: Option<(bool, &BeatMetrics)>) -> Row {
    let inputs = plan.inputs(case);
    let cells: Vec<Cell> = inputs.iter().map(Cell).collect();
    // One row per line: error texts lose their line breaks.
    let status = status.replace(['\n', '\r'], " ");
    let metrics: Vec<Option<f64>> = match outcome {
        Some((_, m)) => m.values().into_iter().map(Some).collect(),
        None => vec![None; BeatMetrics::NAMES.len()],
    };
    Row {
        bytes: csv_line((case, cells, &status, outcome.map(|o| o.0), metrics)),
        ok: outcome.is_some(),
    }
}

/// Simulates one case; a failed simulation is a row, an output error is an error.
fn run_case(
    plan: &SweepPlan,
    case: usize,
    opts: &SweepOptions,
    out_dir: &Path,
    width: usize,
) -> Result<Row, SweepError> {
    let sc = plan.scenario(case)?;
    let dir = out_dir.join(format!("case_{case:0width$}"));
    let io = |e: &dyn std::fmt::Display| SweepError::Io {
        path: dir.display().to_string(),
        source: io::Error::other(e.to_string()),
    };
    // With case directories, the case's outputs are written as it runs (its timeseries).
    let mut writer = match opts.keep_case_dirs {
        true => Some(crate::output::RunWriter::begin(&dir, &sc).map_err(|e| io(&e))?),
        false => None,
    };
    let simulate = || match writer.as_mut() {
        Some(w) => sc.simulate_into(w),
        None => sc.simulate(),
    };
    let result = match catch_unwind(AssertUnwindSafe(simulate)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            return Ok(row(
                plan,
                case,
                &format!("internal error (panic): {what}"),
                None,
            ));
        }
    };
    match result {
        Ok(r) => {
            if let Some(w) = writer {
                w.finish(&sc, &r).map_err(|e| io(&e))?;
            }
            Ok(row(plan, case, "ok", Some((r.steady.reached, &r.report))))
        }
        Err(e) => Ok(row(plan, case, &sc.explain(&e), None)),
    }
}

/// A progress bar over `len` cases on stderr when asked for and stderr is a terminal.
fn progress_bar(opts: &SweepOptions, len: usize, done: &str) -> ProgressBar {
    let bar = if opts.progress && std::io::IsTerminal::is_terminal(&io::stderr()) {
        ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} cases {done}, ETA {{eta}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Checks a journal row: right number of fields, a case of this sweep; tells its status.
fn journal_row_checker(
    plan: &SweepPlan,
    n_fields: usize,
) -> impl Fn(&[u8]) -> Option<(usize, bool)> {
    let total = plan.len();
    let status_col = 1 + plan.columns().len();
    move |line: &[u8]| {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line);
        let rec = r.records().next()?.ok()?;
        if rec.len() != n_fields {
            return None;
        }
        let case: usize = rec.get(0)?.parse().ok()?;
        (case < total).then(|| (case, rec.get(status_col) == Some("ok")))
    }
}

/// Runs a parsed sweep plan into `out_dir`.
pub fn run_plan(
    plan: &SweepPlan,
    out_dir: &Path,
    opts: &SweepOptions,
) -> Result<SweepReport, SweepError> {
    let selection = shard_cases(plan.len(), opts.shard)?;
    if opts.threads == Some(0) {
        return Err(SweepError::Options("--threads must be at least 1".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::Options(format!("cannot start worker threads: {e}")))?;

    // Every case must be a valid scenario before anything is simulated (a million cases take
    // a while: the bar shows it).
    {
        use rayon::prelude::*;
        let bar = progress_bar(opts, selection.len(), "checked");
        let found = pool.install(|| {
            selection.par_iter().find_map_first(|&c| {
                bar.inc(1);
                plan.scenario(c).err()
            })
        });
        bar.finish_and_clear();
        if let Some(e) = found {
            return Err(e);
        }
    }

    fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let cases_csv = out_dir.join("cases.csv");
    let header = header(plan);
    let header_line = csv_line(&header);
    let identity = journal::identity(plan.sha256(), plan.len());
    let mut journal = if opts.resume {
        Journal::resume(
            out_dir,
            &identity,
            &header_line,
            &journal_row_checker(plan, header.len()),
        )?
    } else {
        Journal::create(out_dir, &identity, &header_line)?
    };

    // An earlier table must not pass for this sweep's if this one is interrupted.
    match fs::remove_file(&cases_csv) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&cases_csv)(e)),
        _ => {}
    }

    let todo: Vec<(usize, usize)> = selection
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, c)| !journal.has(c))
        .collect();
    let width = plan.len().saturating_sub(1).to_string().len().max(5);

    let bar = progress_bar(opts, todo.len(), "run");

    let mut staged = StagedDir::new(out_dir).map_err(io_err(out_dir))?;
    let tmp = staged.path("cases.csv");
    let mut out = BufWriter::new(File::create(&tmp).map_err(io_err(&tmp))?);
    out.write_all(&header_line).map_err(io_err(&tmp))?;

    let threads = pool.current_num_threads();
    let ahead = window(threads);
    let next = AtomicUsize::new(0);
    // Position (in `selection`) of the next row to write, and whether to stop.
    let progress = Mutex::new((0usize, false));
    let moved = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, Result<Row, SweepError>)>();
    let mut counts = (0usize, 0usize, 0usize); // run, skipped, failed

    let written = pool.in_place_scope(|s| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, progress, moved, todo) = (&next, &progress, &moved, &todo);
            s.spawn(move |_| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(pos, case)) = todo.get(k) else {
                    break;
                };
                {
                    let mut p = progress.lock().expect("writer alive");
                    while pos >= p.0 + ahead && !p.1 {
                        p = moved.wait(p).expect("writer alive");
                    }
                    if p.1 {
                        break;
                    }
                }
                let r = catch_unwind(AssertUnwindSafe(|| {
                    run_case(plan, case, opts, out_dir, width)
                }))
                .unwrap_or_else(|_| {
                    Err(SweepError::Options(format!(
                        "internal error while running case {case}"
                    )))
                });
                if tx.send((pos, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);

        let advance = |pos: usize, stop: bool| {
            let mut p = progress.lock().expect("workers do not panic holding it");
            p.0 = pos;
            p.1 |= stop;
            moved.notify_all();
        };
        let mut write = || -> Result<(), SweepError> {
            let mut buffer: BTreeMap<usize, Row> = BTreeMap::new();
            let mut pos = 0;
            while pos < selection.len() {
                let case = selection[pos];
                let row = if let Some((bytes, ok)) = journal.earlier_row(case)? {
                    counts.1 += 1;
                    Row { bytes, ok }
                } else if let Some(row) = buffer.remove(&pos) {
                    row
                } else {
                    match rx.recv() {
                        Ok((p, Ok(row))) => {
                            journal.append(&row.bytes)?;
                            counts.0 += 1;
                            bar.inc(1);
                            buffer.insert(p, row);
                            continue;
                        }
                        Ok((_, Err(e))) => return Err(e),
                        Err(_) => {
                            return Err(SweepError::Options(format!(
                                "internal error: workers stopped before case {case}"
                            )))
                        }
                    }
                };
                if !row.ok {
                    counts.2 += 1;
                }
                out.write_all(&row.bytes).map_err(io_err(&tmp))?;
                pos += 1;
                advance(pos, false);
            }
            Ok(())
        };
        let r = write();
        // Release waiting workers; after an error they stop after their current case,
        // whose row still goes into the journal for --resume.
        advance(selection.len(), true);
        if r.is_err() {
            for (_, row) in rx.iter() {
                if let Ok(row) = row {
                    let _ = journal.append(&row.bytes);
                }
            }
        }
        r
    });
    bar.finish_and_clear();
    written?;
    out.flush().map_err(io_err(&tmp))?;
    drop(out);
    staged.commit().map_err(io_err(&cases_csv))?;

    Ok(SweepReport {
        cases_total: selection.len(),
        cases_run: counts.0,
        cases_skipped: counts.1,
        cases_failed: counts.2,
        cases_csv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("0/8").is_err());
        assert!(parse_shard("9/8").is_err());
        assert!(parse_shard("2").is_err());
        assert_eq!(shard_cases(7, Some((2, 3))).unwrap(), [1, 4]);
        assert_eq!(shard_cases(3, None).unwrap(), [0, 1, 2]);
        assert!(shard_cases(3, Some((4, 3))).is_err());
    }
}

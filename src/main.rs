//! The `impella-sim` command line: parses arguments, calls the library, reports errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use serde_json::json;

use impella_sim::output::figures;
use impella_sim::output::plot::ImageFormat;
use impella_sim::physiology::presets::PRESETS;
use impella_sim::physiology::PARAMETERS;
use impella_sim::{output, scenario, sweep};

/// Closed-loop circulation with Impella pump models.
/// Research and teaching tool, not a medical device.
#[derive(Parser)]
#[command(name = "impella-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario to periodic steady state and write summary.json, beats.csv,
    /// timeseries.csv and a PV-loop picture into --out.
    Run {
        /// Scenario file (TOML); see docs/scenarios.md.
        scenario: PathBuf,
        /// Output directory (created if missing).
        #[arg(long, short)]
        out: PathBuf,
        /// Override a parameter, e.g. --set lv.ees=0.8 (repeatable; see `impella-sim parameters`),
        /// or a scenario key as in sweep files: patient.preset, device, devices.0.p_level.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
        /// Patient preset instead of the scenario's (see `impella-sim presets`).
        #[arg(long, value_name = "NAME")]
        preset: Option<String>,
        /// Device instead of the scenario's first one: a model (see `impella-sim devices`),
        /// MODEL@P such as cp@6, or none.
        #[arg(long, value_name = "MODEL")]
        device: Option<String>,
        /// P-level of the (first) device.
        #[arg(long = "p-level", value_name = "P")]
        p_level: Option<u8>,
    },
    /// Run a sweep or virtual cohort ([sweep] / [cohort] in the scenario) in parallel and write
    /// DIR/cases.csv; see docs/sweeps.md.
    Sweep {
        /// Scenario file with a [sweep] and/or [cohort] section.
        scenario: PathBuf,
        /// Output directory.
        #[arg(long, short)]
        out: PathBuf,
        /// Continue an interrupted sweep: run only the cases missing from DIR/cases.journal.
        #[arg(long)]
        resume: bool,
        /// Run only shard K of N (cases with index % N == K-1), e.g. --shard 2/8.
        #[arg(long, value_name = "K/N", value_parser = sweep::parse_shard)]
        shard: Option<(usize, usize)>,
        /// Worker threads (default: all cores).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Also write each case's full output into DIR/case_NNNNN/.
        #[arg(long = "case-dirs")]
        case_dirs: bool,
        /// Override a parameter in every case, e.g. --set lv.ees=0.8 (repeatable), or a scenario
        /// key that is not swept (patient.preset, device, devices.0.p_level).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
    /// Run the verification and validation cases and print the table (exit 1 if any fails).
    Validate {
        /// Also write validation.csv and validation.md into this directory.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Write a self-contained HTML report (figures, tables, events, provenance) of a run
    /// directory; opens in a browser with no network.
    Report {
        /// A directory written by `impella-sim run`; two put the runs side by side (e.g.
        /// baseline and pump: metrics with their difference, PV loops overlaid).
        #[arg(required = true, num_args = 1..=2, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Output file (default: DIR/report.html; for two runs DIR_B/compare.html).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Names of the two runs, comma-separated (e.g. --labels "no pump,CP P8"); default:
        /// what tells them apart (devices, preset, or directory names).
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        labels: Vec<String>,
    },
    /// Overlay the LV pressure–volume loops of several run directories in one picture
    /// (e.g. the case directories of a P-level sweep).
    Overlay {
        /// Run directories (written by `run`, or a sweep with --case-dirs), in legend order.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Picture file (.png or .svg).
        #[arg(long, short)]
        out: PathBuf,
        /// Picture title.
        #[arg(long)]
        title: Option<String>,
        /// Legend labels, one per directory in order, comma-separated (e.g. --labels
        /// "no pump,CP P8"); default: what tells the runs apart (sweep inputs, devices, or
        /// directory names).
        #[arg(
            long,
            value_name = "A,B,...",
            value_delimiter = ',',
            conflicts_with = "label"
        )]
        labels: Vec<String>,
        /// One legend label (repeat it, once per directory; for labels with commas).
        #[arg(long, value_name = "LABEL")]
        label: Vec<String>,
    },
    /// Draw charts of a sweep's cases.csv: metric vs swept input, heat maps, cohort histograms.
    Chart {
        /// A cases.csv written by `sweep`.
        cases: PathBuf,
        /// Directory for the pictures.
        #[arg(long, short)]
        out: PathBuf,
        /// Picture format.
        #[arg(long, default_value = "png")]
        format: ImageFormat,
    },
    /// List the patient presets.
    Presets {
        /// As JSON (a list of {name, description}).
        #[arg(long)]
        json: bool,
    },
    /// List the devices in the catalogue with their P-levels and speeds.
    Devices {
        /// As JSON (a list of {id, name, side, rated_max_flow_l_min, p_levels}).
        #[arg(long)]
        json: bool,
    },
    /// List every parameter path with its unit, allowed range and value in the normal adult.
    Parameters {
        /// As JSON (a list of {path, unit, min, max, normal, description}).
        #[arg(long)]
        json: bool,
    },
    /// Write a commented starting scenario (a CP at P8 in SCAI C shock) to edit and run.
    Init {
        /// File to write.
        #[arg(default_value = "scenario.toml")]
        file: PathBuf,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script, e.g. `impella-sim completions bash >
    /// ~/.local/share/bash-completion/completions/impella-sim`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Print the JSON Schema of the scenario format, for editors that check TOML against a
    /// schema (e.g. `impella-sim schema > impella-sim.schema.json`, then a first line
    /// `#:schema ./impella-sim.schema.json` in a scenario; docs/scenarios.md).
    Schema,
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing to a closed pipe (`impella-sim parameters | head -1`)
/// would panic; with the default action the process ends quietly, as command-line tools do.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread starts; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `--preset`, `--device` and `--p-level` as the `--set` keys they stand for.
fn run_overrides(
    preset: Option<String>,
    device: Option<String>,
    p_level: Option<u8>,
) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(p) = preset {
        keys.push(format!("patient.preset={p}"));
    }
    match (device, p_level) {
        (Some(d), Some(p)) if !d.contains('@') && !d.eq_ignore_ascii_case("none") => {
            keys.push(format!("device={d}@{p}"))
        }
        (Some(d), p) => {
            keys.push(format!("device={d}"));
            keys.extend(p.map(|p| format!("devices.0.p_level={p}")));
        }
        (None, Some(p)) => keys.push(format!("devices.0.p_level={p}")),
        (None, None) => {}
    }
    keys
}

fn execute(command: Command) -> Result<(), String> {
    match command {
        Command::Run {
            scenario,
            out,
            mut set,
            preset,
            device,
            p_level,
        } => {
            set.extend(run_overrides(preset, device, p_level));
            let sc = scenario::load(&scenario, &set).map_err(|e| e.to_string())?;
            let (result, written) = output::simulate_and_write(&out, &sc).map_err(|e| match e {
                output::RunError::Simulation(e) => {
                    format!(
                        "{}: simulation failed: {}",
                        scenario.display(),
                        sc.explain(&e)
                    )
                }
                e => e.to_string(),
            })?;
            let m = &result.report;
            println!("{}", sc.title);
            if result.steady.reached {
                println!("steady state after {} beats", result.steady.beats);
            } else {
                println!(
                    "warning: no steady state within {} beats (last beat-to-beat change {:.2e}); \
                     metrics are of the last beats",
                    result.steady.beats, result.steady.last_change
                );
            }
            println!(
                "MAP {:.0} mmHg ({:.0}/{:.0}), CO {:.2} L/min, LVEF {:.0} %, LVEDP {:.1} mmHg, \
                 PCWP {:.1} mmHg, CVP {:.1} mmHg, CPO {:.2} W",
                m.map_mmhg,
                m.sbp_mmhg,
                m.dbp_mmhg,
                m.co_l_min,
                m.lvef_pct,
                m.lvedp_mmhg,
                m.pcwp_mmhg,
                m.cvp_mmhg,
                m.cpo_w
            );
            // Devices as the run ended (a course may have changed or replaced them).
            for p in &result.devices {
                println!(
                    "{} at P{} ({:.0} rpm): mean flow {:.2} L/min",
                    p.name,
                    p.p_level(),
                    p.speed_rpm(),
                    match p.side {
                        impella_sim::devices::Side::Left => m.pump_flow_l_min,
                        impella_sim::devices::Side::Right => m.rp_flow_l_min,
                    }
                );
            }
            if let Some(w) = &result.weaning {
                println!(
                    "weaning: {} at P{}{}",
                    w.outcome.key(),
                    w.p_level,
                    w.t_s
                        .map(|t| format!(" (t = {:.2} h)", t / 3600.0))
                        .unwrap_or_default()
                );
            }
            for (t_s, (device, alarm)) in result.alarms().filter_map(|e| Some((e.t_s, e.alarm()?)))
            {
                println!("alarm at {t_s:.2} s: {device} {alarm:?}");
            }
            for p in written {
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        Command::Sweep {
            scenario,
            out,
            resume,
            shard,
            threads,
            case_dirs,
            set,
        } => {
            let opts = sweep::SweepOptions {
                resume,
                shard,
                threads,
                keep_case_dirs: case_dirs,
                progress: true,
            };
            let r = sweep::run_sweep(&scenario, &set, &out, &opts).map_err(|e| e.to_string())?;
            println!(
                "{} cases: {} run, {} resumed, {} failed",
                r.cases_total, r.cases_run, r.cases_skipped, r.cases_failed
            );
            println!("wrote {}", r.cases_csv.display());
            Ok(())
        }
        Command::Validate { out } => {
            let cases = impella_sim::validation::run_all();
            let width = cases
                .iter()
                .map(|c| c.quantity.chars().count())
                .max()
                .unwrap_or(10);
            for c in &cases {
                println!(
                    "{:8} {:9} {:width$}  ref {}  sim {}  [{:?}]",
                    c.id, c.kind, c.quantity, c.reference, c.simulated, c.status
                );
            }
            if let Some(dir) = out {
                output::write_validation(&dir, &cases).map_err(|e| e.to_string())?;
                println!("wrote {}", dir.join("validation.md").display());
            }
            let count = |s| cases.iter().filter(|c| c.status == s).count();
            use impella_sim::validation::Status;
            println!(
                "{} passed, {} failed, {} known limits, {} skipped",
                count(Status::Pass),
                count(Status::Fail),
                count(Status::Known),
                count(Status::Skipped)
            );
            if impella_sim::validation::passed(&cases) {
                Ok(())
            } else {
                Err("validation failed".into())
            }
        }
        Command::Report { dirs, out, labels } => {
            let labels = (!labels.is_empty()).then_some(labels.as_slice());
            let (written, out) = match (dirs.as_slice(), labels) {
                ([dir], None) => {
                    let out = out.unwrap_or_else(|| dir.join("report.html"));
                    (output::report::write_report(dir, &out), out)
                }
                ([a, b], _) => {
                    let out = out.unwrap_or_else(|| b.join("compare.html"));
                    (
                        output::report::write_compare_report([a, b], labels, &out),
                        out,
                    )
                }
                _ => {
                    return Err(
                        "--labels names the two runs of a comparison: give two run directories"
                            .into(),
                    )
                }
            };
            written.map_err(|e| e.to_string())?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Overlay {
            dirs,
            out,
            title,
            labels,
            label,
        } => {
            let format = ImageFormat::from_path(&out).ok_or_else(|| {
                format!("{}: the picture must end in .png or .svg", out.display())
            })?;
            let labels = if labels.is_empty() { label } else { labels };
            let labels = (!labels.is_empty()).then_some(labels.as_slice());
            figures::write_pv_overlay(&dirs, labels, &out, format, title.as_deref().unwrap_or(""))
                .map_err(|e| e.to_string())?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Chart { cases, out, format } => {
            for f in figures::write_sweep_charts(&cases, &out, format).map_err(|e| e.to_string())? {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Command::Presets { json } => {
            if json {
                let list: Vec<_> = PRESETS
                    .iter()
                    .map(|p| json!({"name": p.name, "description": p.description}))
                    .collect();
                return print_json(&list);
            }
            for p in PRESETS {
                println!("{:12} {}", p.name, p.description);
            }
            Ok(())
        }
        Command::Devices { json } => {
            let cat = impella_sim::devices::Catalogue::builtin();
            if json {
                let list: Vec<_> = cat
                    .iter()
                    .map(|d| {
                        let levels: Vec<_> = d
                            .p_levels()
                            .iter()
                            .map(|l| json!({"level": l.level, "rpm": l.rpm}))
                            .collect();
                        json!({
                            "id": d.id(),
                            "name": d.name(),
                            "side": format!("{:?}", d.side()).to_lowercase(),
                            "rated_max_flow_l_min": d.rated_max_flow_l_min(),
                            "p_levels": levels,
                        })
                    })
                    .collect();
                return print_json(&list);
            }
            for d in cat.iter() {
                let levels: Vec<String> = d
                    .p_levels()
                    .iter()
                    .map(|l| format!("P{} {:.0}", l.level, l.rpm))
                    .collect();
                println!(
                    "{:5} {} ({:?}; rated {:.1} L/min)\n      rpm: {}",
                    d.id(),
                    d.name(),
                    d.side(),
                    d.rated_max_flow_l_min(),
                    levels.join(", ")
                );
            }
            Ok(())
        }
        Command::Parameters { json } => {
            let normal = impella_sim::physiology::presets::normal();
            if json {
                let list: Vec<_> = PARAMETERS
                    .iter()
                    .map(|s| {
                        json!({
                            "path": s.path,
                            "unit": s.unit,
                            "min": s.min,
                            "max": s.max,
                            "normal": s.get(&normal),
                            "description": s.description,
                        })
                    })
                    .collect();
                return print_json(&list);
            }
            println!(
                "{:28} {:>10} {:>12}  {:<24} meaning",
                "path", "normal", "unit", "allowed"
            );
            for s in PARAMETERS {
                println!(
                    "{:28} {:>10} {:>12}  {:<24} {}",
                    s.path,
                    s.get(&normal),
                    s.unit,
                    format!("[{}, {}]", s.min, s.max),
                    s.description
                );
            }
            Ok(())
        }
        Command::Init { file, force } => {
            // create_new: never replace a file that appeared after a check.
            let mut options = std::fs::OpenOptions::new();
            options.write(true);
            if force {
                options.create(true).truncate(true);
            } else {
                options.create_new(true);
            }
            let mut f = options.open(&file).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    format!(
                        "{} exists: give another name, or --force to overwrite it",
                        file.display()
                    )
                } else {
                    format!("{}: cannot write: {e}", file.display())
                }
            })?;
            std::io::Write::write_all(&mut f, scenario::template::TEMPLATE.as_bytes())
                .map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
            println!("wrote {}", file.display());
            println!(
                "run it with: impella-sim run {} --out runs/first",
                file.display()
            );
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "impella-sim",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Schema => {
            let text = serde_json::to_string_pretty(&scenario::json_schema())
                .map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(())
        }
    }
}

/// `value` as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

//! Sweeps and cohorts: grid expansion, byte-identical output for any thread count, resume,
//! shards, cohort sampling, and errors before any simulation.

use std::fs;
use std::path::{Path, PathBuf};

use impella_sim::analysis::BeatMetrics;
use impella_sim::sweep::{run_sweep, SweepError, SweepOptions, SweepPlan, JOURNAL};

/// Keeps each case to a few beats (~30 ms).
const FAST: &str = r#"
[simulation]
steady_state = false
max_beats = 3
report_beats = 1

[output]
timeseries = false
pv_loop = "none"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn opts(threads: usize) -> SweepOptions {
    SweepOptions {
        threads: Some(threads),
        ..SweepOptions::default()
    }
}

fn read_rows(p: &Path) -> (String, Vec<String>) {
    let text = fs::read_to_string(p).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    (header, lines.collect())
}

fn grid_scenario() -> String {
    format!(
        "[patient]\npreset = \"scai_c_lv\"\n\n[[devices]]\nmodel = \"cp\"\np_level = 2\n\n\
         [sweep]\n\"devices.0.p_level\" = [2, 5, 8]\n\"heart.hr\" = [70, 100]\n{FAST}"
    )
}

fn plan_err(text: &str) -> String {
    let r = SweepPlan::parse(text, Path::new("s.toml"), &[]);
    if let Err(e) = &r {
        eprintln!("{e}");
    }
    match r {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn grid_expands_to_the_product_in_written_order() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let out = tmp.path().join("out");
    let report = run_sweep(&sc, &[], &out, &opts(2)).unwrap();
    assert_eq!(report.cases_total, 6);
    assert_eq!(report.cases_run, 6);
    assert_eq!(report.cases_skipped, 0);
    assert_eq!(report.cases_failed, 0);
    assert_eq!(report.cases_csv, out.join("cases.csv"));

    let (header, rows) = read_rows(&report.cases_csv);
    let mut expected = vec![
        "case",
        "devices.0.p_level",
        "heart.hr",
        "status",
        "steady_state_reached",
    ];
    expected.extend_from_slice(BeatMetrics::NAMES);
    assert_eq!(header, expected.join(","));
    assert_eq!(rows.len(), 6);
    let inputs: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.split(',').take(5).collect())
        .collect();
    let want = [
        ["0", "2", "70", "ok", "false"],
        ["1", "2", "100", "ok", "false"],
        ["2", "5", "70", "ok", "false"],
        ["3", "5", "100", "ok", "false"],
        ["4", "8", "70", "ok", "false"],
        ["5", "8", "100", "ok", "false"],
    ];
    for (got, want) in inputs.iter().zip(want) {
        assert_eq!(got, &want);
    }
    // The P-level reaches the pump: flow rises with it.
    let col = header
        .split(',')
        .position(|c| c == "pump_flow_l_min")
        .unwrap();
    let flow = |r: &str| r.split(',').nth(col).unwrap().parse::<f64>().unwrap();
    assert!(
        flow(&rows[4]) > flow(&rows[0]) + 0.5,
        "{} vs {}",
        rows[4],
        rows[0]
    );
    // Temporary files are gone; the journal stays for --resume.
    assert!(!out.join("cases.csv.partial").exists());
    assert!(out.join(JOURNAL).exists());
}

#[test]
fn one_and_two_threads_give_byte_identical_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let a = run_sweep(&sc, &[], &tmp.path().join("a"), &opts(1)).unwrap();
    let b = run_sweep(&sc, &[], &tmp.path().join("b"), &opts(2)).unwrap();
    assert_eq!(
        fs::read(&a.cases_csv).unwrap(),
        fs::read(&b.cases_csv).unwrap()
    );
}

#[test]
fn resume_runs_only_missing_cases_and_gives_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let full = run_sweep(&sc, &[], &tmp.path().join("full"), &opts(2)).unwrap();
    let reference = fs::read(&full.cases_csv).unwrap();

    // A sweep killed after three cases, one row half written.
    let dir = tmp.path().join("killed");
    run_sweep(&sc, &[], &dir, &opts(1)).unwrap();
    let journal = fs::read_to_string(dir.join(JOURNAL)).unwrap();
    let lines: Vec<&str> = journal.split_inclusive('\n').collect();
    // identity, header, then rows 0..6 (one thread: in order); keep rows 0, 2, 5 and a torn row.
    let mut kept: String = [lines[0], lines[1], lines[2], lines[4], lines[7]].concat();
    kept.push_str(&lines[3][..20]);
    fs::write(dir.join(JOURNAL), kept).unwrap();
    fs::remove_file(dir.join("cases.csv")).unwrap();

    let resume = SweepOptions {
        resume: true,
        ..opts(2)
    };
    let r = run_sweep(&sc, &[], &dir, &resume).unwrap();
    assert_eq!((r.cases_run, r.cases_skipped, r.cases_total), (3, 3, 6));
    assert_eq!(fs::read(&r.cases_csv).unwrap(), reference);

    // Resuming a finished sweep runs nothing.
    let r = run_sweep(&sc, &[], &dir, &resume).unwrap();
    assert_eq!((r.cases_run, r.cases_skipped), (0, 6));
    assert_eq!(fs::read(&r.cases_csv).unwrap(), reference);

    // A shard first, then the whole sweep resumed in the same directory.
    let dir = tmp.path().join("shard_then_all");
    let shard = SweepOptions {
        shard: Some((1, 2)),
        ..opts(2)
    };
    assert_eq!(run_sweep(&sc, &[], &dir, &shard).unwrap().cases_run, 3);
    let r = run_sweep(&sc, &[], &dir, &resume).unwrap();
    assert_eq!((r.cases_run, r.cases_skipped), (3, 3));
    assert_eq!(fs::read(&r.cases_csv).unwrap(), reference);
}

#[test]
fn resume_refuses_a_different_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let dir = tmp.path().join("out");
    run_sweep(
        &sc,
        &[],
        &dir,
        &SweepOptions {
            shard: Some((1, 6)),
            ..opts(1)
        },
    )
    .unwrap();
    let resume = SweepOptions {
        resume: true,
        shard: Some((2, 6)),
        ..opts(1)
    };
    // Other overrides: another sweep.
    let e = run_sweep(&sc, &["lv.ees=0.5".into()], &dir, &resume).unwrap_err();
    assert!(matches!(e, SweepError::Resume { .. }), "{e}");
    assert!(e.to_string().contains("different sweep"), "{e}");
    // Edited scenario text: another sweep.
    let sc2 = write(
        tmp.path(),
        "grid.toml",
        &grid_scenario().replace("[70, 100]", "[70, 101]"),
    );
    let e = run_sweep(&sc2, &[], &dir, &resume).unwrap_err();
    assert!(matches!(e, SweepError::Resume { .. }), "{e}");
    // The refused sweep left the earlier results alone.
    assert!(dir.join("cases.csv").exists());
}

#[test]
fn shards_together_are_the_whole_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let full = run_sweep(&sc, &[], &tmp.path().join("full"), &opts(2)).unwrap();
    let (full_header, full_rows) = read_rows(&full.cases_csv);
    let mut rows = Vec::new();
    for k in 1..=4 {
        let o = SweepOptions {
            shard: Some((k, 4)),
            ..opts(1)
        };
        let r = run_sweep(&sc, &[], &tmp.path().join(format!("s{k}")), &o).unwrap();
        let (header, shard_rows) = read_rows(&r.cases_csv);
        assert_eq!(header, full_header);
        assert_eq!(r.cases_total, shard_rows.len());
        // Round-robin: shard k holds cases k-1, k-1+4, ...
        for row in &shard_rows {
            let case: usize = row.split(',').next().unwrap().parse().unwrap();
            assert_eq!(case % 4, k - 1);
        }
        rows.extend(shard_rows);
    }
    rows.sort_by_key(|r| r.split(',').next().unwrap().parse::<usize>().unwrap());
    assert_eq!(rows, full_rows);
}

#[test]
fn case_dirs_hold_full_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!("[sweep]\ndevice = [\"none\", \"cp@8\"]\n{FAST}");
    let sc = write(tmp.path(), "dev.toml", &text);
    let dir = tmp.path().join("out");
    let o = SweepOptions {
        keep_case_dirs: true,
        ..opts(2)
    };
    let r = run_sweep(&sc, &[], &dir, &o).unwrap();
    assert_eq!(r.cases_total, 2);
    let s0 = fs::read_to_string(dir.join("case_00000/summary.json")).unwrap();
    let s1 = fs::read_to_string(dir.join("case_00001/summary.json")).unwrap();
    assert!(!s0.contains("\"cp\""), "{s0}");
    assert!(s1.contains("\"model\": \"cp\""), "{s1}");
    let (_, rows) = read_rows(&r.cases_csv);
    assert!(rows[0].starts_with("0,none,ok,"));
    assert!(rows[1].starts_with("1,cp@8,ok,"));
}

const COHORT: &str = r#"
seed = 3

[cohort]
n = 2000
correlation = [["lv.ees", "rv.ees", 0.6]]

[cohort.vary."lv.ees"]
distribution = "normal"
mean = 0.7
sd = 0.15

[cohort.vary."rv.ees"]
distribution = "normal"
mean = 0.5
sd = 0.1

[cohort.vary."systemic.r_periph"]
distribution = "lognormal"
median = 1.1
gsd = 1.3
truncate = [0.8, 1.6]

[cohort.vary."heart.hr"]
distribution = "uniform"
min = 70
max = 110
"#;

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let (mx, sx) = mean_sd(x);
    let (my, sy) = mean_sd(y);
    let n = x.len() as f64;
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / ((n - 1.0) * sx * sy)
}

#[test]
fn cohort_draws_match_their_distributions_and_are_reproducible() {
    let plan = SweepPlan::parse(COHORT, Path::new("c.toml"), &[]).unwrap();
    assert_eq!(plan.len(), 2000);
    let c = plan.cohort().unwrap();
    assert_eq!(c.seed, 3, "the scenario's seed is the default");
    assert_eq!(
        c.paths(),
        ["lv.ees", "rv.ees", "systemic.r_periph", "heart.hr"]
    );
    let draws: Vec<Vec<f64>> = (0..c.n).map(|m| c.draw(m)).collect();
    let col = |j: usize| draws.iter().map(|d| d[j]).collect::<Vec<f64>>();

    let (m, sd) = mean_sd(&col(0));
    assert!(
        (m - 0.7).abs() < 0.01 && (sd - 0.15).abs() < 0.01,
        "{m} {sd}"
    );
    let (m, sd) = mean_sd(&col(1));
    assert!(
        (m - 0.5).abs() < 0.007 && (sd - 0.1).abs() < 0.007,
        "{m} {sd}"
    );
    let r = correlation(&col(0), &col(1));
    assert!((r - 0.6).abs() < 0.05, "correlation {r}");
    // Undeclared pairs are independent.
    assert!(correlation(&col(0), &col(3)).abs() < 0.07);

    let svr = col(2);
    assert!(svr.iter().all(|&v| (0.8..=1.6).contains(&v)), "truncation");
    let mut sorted = svr.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!((median - 1.1).abs() < 0.03, "median {median}");
    let hr = col(3);
    assert!(hr.iter().all(|&v| (70.0..=110.0).contains(&v)));
    let (m, _) = mean_sd(&hr);
    assert!((m - 90.0).abs() < 1.0, "{m}");

    // Same seed and member: same draws, whoever draws them and in which order.
    let again = SweepPlan::parse(COHORT, Path::new("elsewhere.toml"), &[]).unwrap();
    assert_eq!(again.cohort().unwrap().draw(1234), draws[1234]);
    // Another seed: other draws.
    let other = SweepPlan::parse(
        &COHORT.replace("n = 2000", "n = 2000\nseed = 4"),
        Path::new("c.toml"),
        &[],
    )
    .unwrap();
    assert_eq!(other.cohort().unwrap().seed, 4);
    assert_ne!(other.cohort().unwrap().draw(0), draws[0]);
    // The case's scenario gets exactly the drawn values.
    let sc = plan.scenario(17).unwrap();
    assert_eq!(sc.params.lv.ees, draws[17][0]);
    assert_eq!(sc.params.systemic.r_periph, draws[17][2]);
}

#[test]
fn a_small_cohort_runs_and_grid_times_cohort_pairs_members() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "[sweep]\n\"heart.hr\" = [70, 90]\n\n[cohort]\nn = 3\nseed = 11\n\
         [cohort.vary.\"lv.ees\"]\ndistribution = \"lognormal\"\nmu = -0.4\nsigma = 0.2\n{FAST}"
    );
    let sc = write(tmp.path(), "c.toml", &text);
    let r = run_sweep(&sc, &[], &tmp.path().join("o"), &opts(2)).unwrap();
    assert_eq!(r.cases_total, 6);
    let (header, rows) = read_rows(&r.cases_csv);
    assert!(header.starts_with("case,heart.hr,member,lv.ees,status,"));
    let fields: Vec<Vec<&str>> = rows.iter().map(|r| r.split(',').collect()).collect();
    for m in 0..3 {
        // Member m is the same virtual patient in both grid cells.
        assert_eq!(fields[m][2], m.to_string());
        assert_eq!(fields[m][3], fields[m + 3][3]);
        assert_eq!(fields[m][1], "70");
        assert_eq!(fields[m + 3][1], "90");
    }
    assert_ne!(fields[0][3], fields[1][3]);
}

#[test]
fn errors_name_the_key_before_anything_runs() {
    // Unknown scenario key: named, with its line.
    let e = plan_err("title = \"t\"\n[sweep]\n\"simulation.max_beat\" = [3]\n");
    assert!(
        e.starts_with("s.toml:3:1: sweep key `simulation.max_beat`"),
        "{e}"
    );
    assert!(e.contains("max_beats"), "allowed keys are listed: {e}");
    // A typo in a parameter path.
    let e = plan_err("[sweep]\n\"lv.eess\" = [3]\n");
    assert!(e.contains("s.toml:2:1") && e.contains("lv.ees"), "{e}");
    // Empty values; a value that is not a list.
    let e = plan_err("[sweep]\n\"lv.ees\" = []\n");
    assert!(e.contains("s.toml:2:1") && e.contains("empty"), "{e}");
    let e = plan_err("[sweep]\n\"lv.ees\" = 0.5\n");
    assert!(e.contains("expected a list"), "{e}");
    // Nothing to sweep.
    assert!(plan_err("title = \"x\"\n").contains("nothing to sweep"));
    assert!(plan_err("[sweep]\n").contains("no keys"));
    // Array index that does not exist.
    let e = plan_err("[sweep]\n\"devices.0.p_level\" = [3]\n");
    assert!(e.contains("no entry 0"), "{e}");
    let e = plan_err(
        "[[devices]]\nmodel = \"cp\"\np_level = 2\n[sweep]\n\"devices.1.p_level\" = [3]\n",
    );
    assert!(
        e.contains("s.toml:5:1") && e.contains("index 1 does not exist"),
        "{e}"
    );
    // A parameter value that is not a number.
    let e = plan_err("[sweep]\n\"lv.ees\" = [0.5, \"x\"]\n");
    assert!(e.contains("value 2") && e.contains("not a number"), "{e}");
    // Device sugar without a P-level and no device to take one from.
    let e = plan_err("[sweep]\ndevice = [\"cp\"]\n");
    assert!(e.contains("cp@8"), "{e}");
    // Two keys for one scenario key.
    let e = plan_err("[sweep]\n\"lv.ees\" = [0.5]\n\"patient.set.\\\"lv.ees\\\"\" = [0.6]\n");
    assert!(e.contains("change the same scenario key"), "{e}");

    // Cohort: N = 0, impossible distributions, truncation without mass, correlation.
    let v = |body: &str| format!("[cohort]\nn = 5\n[cohort.vary.\"lv.ees\"]\n{body}\n");
    let e =
        plan_err(&v("distribution = \"normal\"\nmean = 0.7\nsd = 0.1").replace("n = 5", "n = 0"));
    assert!(e.contains("s.toml:2:5") && e.contains("n = 0"), "{e}");
    let e = plan_err(&v("distribution = \"normal\"\nmean = 0.7\nsd = 0"));
    assert!(
        e.contains("cohort.vary.\"lv.ees\"") && e.contains("sd = 0 must be > 0"),
        "{e}"
    );
    let e = plan_err(&v("distribution = \"uniform\"\nmin = 0.9\nmax = 0.5"));
    assert!(e.contains("min = 0.9 must be < max = 0.5"), "{e}");
    let e = plan_err(&v("distribution = \"lognormal\"\nmedian = 0.7\ngsd = 0.9"));
    assert!(e.contains("gsd = 0.9 must be > 1"), "{e}");
    let e = plan_err(&v(
        "distribution = \"normal\"\nmean = 0.7\nsd = 0.1\ntruncate = [5.0, 6.0]",
    ));
    assert!(
        e.contains("s.toml:7:12") && e.contains("no probability mass"),
        "{e}"
    );
    let e = plan_err(&v(
        "distribution = \"normal\"\nmean = 0.7\nsd = 0.1\ntruncate = [0.9, 0.8]",
    ));
    assert!(e.contains("lower < upper"), "{e}");
    let e = plan_err(&v("distribution = \"normal\"\nmean = 0.7"));
    assert!(e.contains("normal takes mean and sd"), "{e}");
    let e = plan_err(&v("distribution = \"gamma\"\nmean = 0.7"));
    assert!(e.contains("unknown distribution 'gamma'"), "{e}");
    let e = plan_err(
        &v("distribution = \"normal\"\nmean = 0.7\nsd = 0.1").replace("lv.ees", "lv.eess"),
    );
    assert!(
        e.contains("s.toml:3:14") && e.contains("unknown parameter"),
        "{e}"
    );
    let e = plan_err(&v("distribution = \"normal\"\nmean = 50\nsd = 1"));
    assert!(e.contains("outside the parameter's range"), "{e}");
    let three = "[cohort]\nn = 5\ncorrelation = [[\"la.ees\", \"lv.ees\", 0.9], [\"lv.ees\", \"rv.ees\", 0.9], [\"la.ees\", \"rv.ees\", -0.9]]\n\
                 [cohort.vary.\"la.ees\"]\ndistribution = \"uniform\"\nmin = 0.1\nmax = 0.3\n\
                 [cohort.vary.\"lv.ees\"]\ndistribution = \"uniform\"\nmin = 0.5\nmax = 0.9\n\
                 [cohort.vary.\"rv.ees\"]\ndistribution = \"uniform\"\nmin = 0.4\nmax = 0.6\n";
    let e = plan_err(three);
    assert!(e.contains("not positive definite"), "{e}");
    let e = plan_err(&three.replace("\"rv.ees\", -0.9", "\"ra.ees\", -0.9"));
    assert!(e.contains("'ra.ees' is not a varied parameter"), "{e}");

    // A --set override of a swept parameter.
    let e = SweepPlan::parse(
        "[sweep]\n\"lv.ees\" = [0.5]\n",
        Path::new("s.toml"),
        &["lv.ees=0.6".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--set lv.ees=0.6"), "{e}");

    // An error in the scenario itself keeps its position in the file.
    let text = "[sweep]\n\"lv.ees\" = [0.5]\n\n[patient]\npreset = \"nope\"\n";
    let plan = SweepPlan::parse(text, Path::new("s.toml"), &[]).unwrap();
    let e = plan.scenario(0).unwrap_err().to_string();
    assert!(
        e.starts_with("s.toml:5:10: patient.preset: unknown preset 'nope'"),
        "{e}"
    );
}

#[test]
fn values_outside_a_parameters_range_stop_the_sweep_with_the_case() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!("[sweep]\n\"heart.hr\" = [60, 80]\n\"lv.ees\" = [0.5, 20.0]\n{FAST}");
    let sc = write(tmp.path(), "bad.toml", &text);
    let out = tmp.path().join("out");
    let e = run_sweep(&sc, &[], &out, &opts(2)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SweepError::Case { case: 1, .. }), "{msg}");
    assert!(
        msg.contains("case 1 (heart.hr = 60, lv.ees = 20.0)"),
        "{msg}"
    );
    assert!(msg.contains("outside the allowed range"), "{msg}");
    assert!(
        !out.exists(),
        "nothing is written before every case is valid"
    );
}

#[test]
fn shipped_sweeps_are_valid_in_every_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let plan = SweepPlan::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            for case in 0..plan.len() {
                plan.scenario(case).unwrap_or_else(|e| panic!("{e}"));
            }
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn a_failed_sweep_leaves_no_table_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = write(tmp.path(), "grid.toml", &grid_scenario());
    let full = run_sweep(&sc, &[], &tmp.path().join("full"), &opts(2)).unwrap();
    let dir = tmp.path().join("out");
    fs::create_dir_all(&dir).unwrap();
    // An earlier table, and a file where case 3's directory must go: the sweep fails there.
    fs::write(dir.join("cases.csv"), "stale").unwrap();
    fs::write(dir.join("case_00003"), "in the way").unwrap();
    let o = SweepOptions {
        keep_case_dirs: true,
        ..opts(2)
    };
    let e = run_sweep(&sc, &[], &dir, &o).unwrap_err();
    assert!(e.to_string().contains("case_00003"), "{e}");
    assert!(!dir.join("cases.csv").exists());
    assert!(!dir.join("cases.csv.partial").exists());
    assert!(dir.join("case_00000/summary.json").exists());

    fs::remove_file(dir.join("case_00003")).unwrap();
    let r = run_sweep(&sc, &[], &dir, &SweepOptions { resume: true, ..o }).unwrap();
    assert!(
        r.cases_skipped >= 3 && r.cases_run + r.cases_skipped == 6,
        "{r:?}"
    );
    assert!(dir.join("case_00003/summary.json").exists());
    assert_eq!(
        fs::read(&r.cases_csv).unwrap(),
        fs::read(&full.cases_csv).unwrap()
    );
}

//! The engine: stepping API, beat records that carry their model, weaning as a state machine,
//! and the final device state in the outputs.

use std::path::Path;

use impella_sim::engine::protocol::WeaningResult;
use impella_sim::engine::{Action, Advance, Beat, Engine, EventKind, LevelChange, Recorder};
use impella_sim::scenario::{parse, Scenario};

fn scenario(text: &str) -> Scenario {
    parse(text, None, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let mut r = csv::Reader::from_path(path).expect("csv");
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| {
            rec.expect("row")
                .iter()
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn a_course_timeseries_is_computed_with_each_beats_own_model() {
    // An afterload change half-way: before the fix every row was computed with the model the
    // course ended on, so beats before 20 s showed half their mean aortic pressure.
    let sc = scenario(
        "[course]\nduration = \"40 s\"\n[output]\ntimeseries = true\npv_loop = \"none\"\n\
         [[events]]\nat = \"20 s\"\ndo = { set = { \"systemic.c_prox\" = 0.56 } }\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    impella_sim::output::simulate_and_write(&out, &sc).unwrap();
    let (bh, beats) = read_csv(&out.join("beats.csv"));
    let (th, ts) = read_csv(&out.join("timeseries.csv"));
    let col = |h: &[String], k: &str| h.iter().position(|c| c == k).unwrap();
    let (b_t, b_map, b_hr) = (
        col(&bh, "t_start_s"),
        col(&bh, "map_mmhg"),
        col(&bh, "hr_bpm"),
    );
    let p_ao = col(&th, "p_ao_mmhg");
    let mut checked = 0;
    for b in &beats {
        // One beat from its onset (fast-forward may skip beats after it).
        let (t0, t1) = (b[b_t], b[b_t] + 60.0 / b[b_hr]);
        // Trapezoidal time mean of the rows of this beat.
        let rows: Vec<&Vec<f64>> = ts
            .iter()
            .filter(|r| r[0] >= t0 - 1e-9 && r[0] <= t1 + 1e-9)
            .collect();
        let area: f64 = rows
            .windows(2)
            .map(|p| 0.5 * (p[0][p_ao] + p[1][p_ao]) * (p[1][0] - p[0][0]))
            .sum();
        // Over the rows written (a beat followed by skipped ones lacks its closing sample).
        let mean = area / (rows[rows.len() - 1][0] - rows[0][0]);
        let map = b[b_map];
        assert!(
            (mean - map).abs() < 5e-3 * map,
            "beat at {t0} s: timeseries mean {mean}, beats.csv MAP {map}"
        );
        checked += 1;
    }
    assert!(checked > 40, "{checked} beats checked");
}

/// A CP course with a weaning protocol: `weaning` is the `[weaning]` body.
fn wean(level: u8, weaning: &str) -> impella_sim::engine::RunResult {
    scenario(&format!(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = {level}\n\
         [output]\npv_loop = \"none\"\n[course]\nduration = \"3 h\"\n\
         [weaning]\nstart = \"10 min\"\nstep = -2\ndwell = \"10 min\"\nuntil = 2\n{weaning}"
    ))
    .simulate()
    .unwrap()
}

const IMPOSSIBLE: &str = "require = [ { metric = \"map_mmhg\", min = 200 } ]\n";

fn levels(r: &impella_sim::engine::RunResult) -> Vec<(u8, u8)> {
    r.events
        .iter()
        .filter_map(|e| match e.what {
            EventKind::PLevel { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect()
}

#[test]
fn weaning_with_back_zero_fails_without_a_no_op_step_or_a_false_success() {
    let r = wean(
        4,
        &format!(
            "{IMPOSSIBLE}on_failure = {{ back = 0, retry_after = \"10 min\", max_failures = 3 }}\n"
        ),
    );
    let w = r.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Failed, "{:?}", r.events);
    assert_eq!(w.failures, 3);
    assert_eq!(w.p_level, 2);
    assert_eq!(levels(&r), vec![(4, 2)], "no 'P2 -> P2' steps");
    assert!(!r
        .events
        .iter()
        .any(|e| matches!(e.what, EventKind::Weaned { .. })));
}

#[test]
fn a_device_already_at_until_is_checked_before_it_counts_as_weaned() {
    // Failing criteria at P2 from the start: not weaned.
    let r = wean(
        2,
        &format!("{IMPOSSIBLE}on_failure = {{ max_failures = 1 }}\n"),
    );
    let w = r.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Failed, "{:?}", r.events);
    // Criteria that hold: weaned at P2 after one dwell, not at the start.
    let r = wean(2, "require = [ { metric = \"map_mmhg\", min = 20 } ]\n");
    let w = r.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Weaned);
    assert_eq!(w.t_s, Some(20.0 * 60.0), "start 10 min + one 10-min dwell");
    assert!(r
        .events
        .iter()
        .any(|e| e.what == EventKind::WeaningCriteriaMet { level: 2 }));
}

#[test]
fn failure_at_the_last_step_goes_back_up_and_retries_until_exhausted() {
    // P8 -> P6 -> P4 pass (MAP >= 20 always holds); the last step to P2 fails on a criterion
    // that only full support meets (pump flow >= 2.5 L/min).
    let r = wean(
        8,
        "require = [ { metric = \"pump_flow_l_min\", min = 2.5 } ]\n\
         on_failure = { back = 1, retry_after = \"10 min\", max_failures = 2 }\n",
    );
    let w = r.weaning.as_ref().unwrap();
    assert_eq!(w.outcome, WeaningResult::Failed, "{:?}", r.events);
    assert_eq!(w.failures, 2);
    let steps = levels(&r);
    let downs = steps.iter().filter(|(a, b)| b < a).count();
    let ups = steps.iter().filter(|(a, b)| b > a).count();
    assert_eq!(ups, 2, "back up once per failure: {steps:?}");
    assert!(downs >= 2, "{steps:?}");
    assert!(w.failed_criterion.as_deref() == Some("pump_flow_l_min >= 2.5"));
}

#[test]
fn the_final_device_state_is_reported() {
    let sc = scenario(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n\
         [output]\npv_loop = \"none\"\n[course]\nduration = \"1 h\"\n\
         [[events]]\nat = \"10 min\"\ndo = { p_level = 3 }\n",
    );
    let r = sc.simulate().unwrap();
    assert_eq!(r.devices[0].p_level(), 3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    impella_sim::output::write_run(&out, &sc, &r).unwrap();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let d = &s["devices"][0];
    assert_eq!(d["p_level"], 3);
    assert_eq!(d["initial_p_level"], 8);
    assert!((d["speed_rpm"].as_f64().unwrap() - r.devices[0].speed_rpm()).abs() < 1e-9);
    let history = d["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[1]["t_s"], 600.0);
    assert_eq!(history[1]["p_level"], 3);
}

#[test]
fn the_engine_steps_applies_actions_and_saves_its_state() {
    let sc =
        scenario("[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 2\n");
    let mut e = Engine::new(sc.engine_spec()).unwrap();
    let steady = e.stabilise(&mut Recorder::new(&sc.run)).unwrap();
    assert!(steady.reached);
    let saved = e.clone();
    let low = e.metrics().unwrap().pump_flow_l_min;
    e.apply(&Action::PLevel {
        device: None,
        change: LevelChange::To(8),
    });
    let mut beats: Vec<Beat> = Vec::new();
    e.advance(Advance::Seconds(10.0), &mut |b: &Beat| {
        beats.push(b.clone())
    })
    .unwrap();
    assert!(beats.len() >= 8);
    assert!(e.metrics().unwrap().pump_flow_l_min > low + 1.0);
    assert_eq!(e.pumps()[0].p_level(), 8);
    assert!(matches!(
        e.events().last().unwrap().what,
        EventKind::PLevel { from: 2, to: 8, .. }
    ));
    // The saved engine goes on from where it was, unchanged by what the other did.
    let mut again = saved.clone();
    let mut b1 = Vec::new();
    let mut b2 = Vec::new();
    let mut other = saved;
    again
        .advance(Advance::Beats(3), &mut |b: &Beat| b1.push(b.metrics))
        .unwrap();
    other
        .advance(Advance::Beats(3), &mut |b: &Beat| b2.push(b.metrics))
        .unwrap();
    assert_eq!(b1, b2);
    assert_eq!(again.pumps()[0].p_level(), 2);
}

#[test]
fn a_course_ends_on_its_duration_with_its_report_beats_integrated_in_a_row() {
    let r = scenario(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n\
         [output]\npv_loop = \"none\"\n[course]\nduration = \"30 h\"\n",
    )
    .simulate()
    .unwrap();
    // Fast-forward skipped most of it, but not past the end and not among the report beats.
    assert!(r.beats.iter().any(|b| b.fast_forwarded > 1000));
    // It ends with the beat that reaches the duration (beats are whole).
    let last = r.beats.last().unwrap().clock.period;
    let over = r.duration() - 30.0 * 3600.0;
    assert!((-1e-6..last).contains(&over), "ends at {} s", r.duration());
    let report = r.report_beats();
    assert_eq!(report.len(), 5);
    assert!(report.iter().all(|b| b.fast_forwarded == 0));
    for w in report.windows(2) {
        assert!((w[0].clock.t_start + w[0].clock.period - w[1].clock.t_start).abs() < 1e-6);
    }
}

#[test]
fn the_timeseries_holds_the_report_beats_unless_asked_for_all() {
    let rows = |output: &str| -> (usize, Vec<String>) {
        // Open loop: a run of ~40 beats from static equilibrium (with the reflex on, the
        // engine starts at the resting state and the run is a few beats).
        let sc = scenario(&format!(
            "[patient.reflexes]\nenabled = false\n[output]\npv_loop = \"none\"\n{output}"
        ));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let (r, _) = impella_sim::output::simulate_and_write(&out, &sc).unwrap();
        let text = std::fs::read_to_string(out.join("timeseries.csv")).unwrap_or_default();
        let second = text.lines().nth(1).unwrap_or("").to_string();
        let beats = r.beats.len();
        let cells = second.split(',').map(String::from).collect();
        (
            text.lines().count().saturating_sub(1) * 1000 / beats.max(1),
            cells,
        )
    };
    // Default: the 5 report beats only (about 5 × 800 rows of a run of ~40 beats).
    let (per_kilobeat_report, _) = rows("");
    let (per_kilobeat_all, full) = rows("timeseries = \"all\"\n");
    assert!(
        per_kilobeat_all > 5 * per_kilobeat_report,
        "{per_kilobeat_all} vs {per_kilobeat_report}"
    );
    let (none, _) = rows("timeseries = \"none\"\n");
    assert_eq!(none, 0);
    let (_, short) = rows("timeseries = \"all\"\ntimeseries_digits = 4\n");
    // The same row, each value (after t) rounded to 4 significant digits.
    for (a, b) in full.iter().zip(&short).skip(1) {
        let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
        assert!((a - b).abs() <= 5e-4 * a.abs() + 1e-12, "{a} vs {b}");
        assert!(b.abs() < 1e-300 || format!("{:e}", b.abs()).split('e').next().unwrap().len() <= 5);
    }
    let err = impella_sim::scenario::parse("[output]\ntimeseries = \"some\"\n", None, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("report") && err.contains(":2:"), "{err}");
}

#[test]
fn provenance_names_the_build_and_the_model_version() {
    let sc = scenario("[output]\npv_loop = \"none\"\ntimeseries = \"none\"\n");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    impella_sim::output::simulate_and_write(&out, &sc).unwrap();
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let commit = s["provenance"]["git_commit"].as_str().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    assert_eq!(
        s["provenance"]["model_version"],
        impella_sim::engine::MODEL_VERSION
    );
}

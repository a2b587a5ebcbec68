//! Teaching figures from real runs (src/output/figures.rs): course timeline,
//! PV overlay of run directories, sweep charts; and every shipped teaching
//! scenario parses.

mod common;

use std::path::{Path, PathBuf};

use common::pictures::{png_size, svg_texts};

use impella_sim::analysis::MetricInfo;
use impella_sim::output::figures::{
    course_timeline_parts, pv_overlay_loops, write_course_timeline, write_pv_overlay,
    write_sweep_charts, FigureError, KEY_METRICS, OTHER_METRICS,
};
use impella_sim::output::plot::{stacked_size_px, ImageFormat};
use impella_sim::output::report::{read_run, JsonExt};
use impella_sim::scenario;
use impella_sim::sweep::{run_sweep, SweepOptions, SweepPlan};

/// A short course: CP P8, stepped to P6 at 40 s and to P4 at 80 s (2 min).
const SHORT_COURSE: &str = r#"
title = "short course"
[patient]
preset = "scai_c_lv"
[[devices]]
model = "cp"
p_level = 8
[course]
duration = "2 min"
[[events]]
at = "40 s"
label = "step down"
do = { p_level = 6 }
[[events]]
at = "80 s"
label = "step down again"
do = { p_level = 4 }
[output]
timeseries = false
"#;

#[test]
fn course_timeline_steps_where_the_log_changes_the_p_level() {
    let sc = scenario::parse(SHORT_COURSE, None, &[]).unwrap();
    let result = sc.simulate().unwrap();
    let changes: Vec<f64> = result
        .events
        .iter()
        .filter(|e| matches!(e.what, impella_sim::engine::EventKind::PLevel { .. }))
        .map(|e| e.t_s / 3600.0)
        .collect();
    assert_eq!(changes.len(), 2, "events: {:?}", result.events);

    let (panels, events) = course_timeline_parts(&result);
    assert_eq!(panels[0].y_label, "P-level");
    let level = &panels[0].series[0];
    assert!(level.step);
    // Values 8, 6, 4, changing exactly at the logged times.
    let mut steps: Vec<(f64, f64)> = Vec::new();
    for w in level.points.windows(2) {
        if w[1].1 != w[0].1 {
            steps.push((w[1].0, w[1].1));
        }
    }
    assert_eq!(level.points[0].1, 8.0);
    assert_eq!(steps.len(), 2, "{:?}", level.points);
    for ((t, _), c) in steps.iter().zip(&changes) {
        assert!((t - c).abs() < 1e-9, "step at {t} h, log at {c} h");
    }
    assert_eq!(steps[1].1, 4.0);
    // The series spans the course.
    let end = level.points.last().unwrap().0;
    assert!((end - result.duration() / 3600.0).abs() < 1e-9);
    // Markers at the changes, labelled with the step.
    assert!(
        events.iter().any(|e| e.label.contains("P8→P6")),
        "{events:?}"
    );
    let labels: Vec<&str> = panels.iter().map(|p| p.y_label.as_str()).collect();
    assert!(labels.contains(&"MAP (mmHg)") && labels.contains(&"Power (W)"));

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("timeline.png");
    write_course_timeline(&png, "short course", &result, ImageFormat::Png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(png_size(&bytes), stacked_size_px(panels.len()));
    let svg = dir.path().join("timeline.svg");
    write_course_timeline(&svg, "short course", &result, ImageFormat::Svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    let (w, h) = stacked_size_px(panels.len());
    assert!(text.contains("<svg") && text.contains(&format!("viewBox=\"0 0 {w} {h}\"")));
    assert!(text.contains("P8→P6"));
}

#[test]
fn course_timeline_marks_failed_weaning_criteria_and_shows_mr() {
    let text = r#"
[patient]
preset = "scai_c_lv"
[patient.set]
"mitral.regurgitant_area" = 0.3
"mitral.coaptation_volume" = 110
[[devices]]
model = "5.0"
p_level = 8
[course]
duration = "3 min"
[weaning]
start = "30 s"
step = -2
dwell = "1 min"
until = 2
require = [ { metric = "pcwp_mmhg", max = 18 } ]
on_failure = { back = 1, retry_after = "1 min", max_failures = 1 }
"#;
    let sc = scenario::parse(text, None, &[]).unwrap();
    let result = sc.simulate().unwrap();
    let (panels, events) = course_timeline_parts(&result);
    assert!(
        events
            .iter()
            .any(|e| e.label.contains("FAILED: PCWP > 18 mmHg")),
        "{events:?}"
    );
    assert!(
        panels.iter().any(|p| p.y_label == "MR (mL/beat)"),
        "no MR panel"
    );
}

/// Three small runs (CP at P2, P5, P8) written as run directories.
fn three_runs(root: &Path) -> Vec<PathBuf> {
    [2, 5, 8]
        .iter()
        .map(|p| {
            let text = format!(
                "title = \"CP P{p}\"\n[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = {p}\n\
                 [simulation]\nmax_beats = 60\n[output]\npv_loop = \"none\"\ntimeseries_every = \"2 ms\"\n"
            );
            let sc = scenario::parse(&text, None, &[]).unwrap();
            let dir = root.join(format!("run_p{p}"));
            impella_sim::output::simulate_and_write(&dir, &sc).unwrap();
            dir
        })
        .collect()
}

#[test]
fn pv_overlay_has_one_loop_per_run_matching_its_volumes() {
    let root = tempfile::tempdir().unwrap();
    let dirs = three_runs(root.path());
    let loops = pv_overlay_loops(&dirs, None).unwrap();
    assert_eq!(loops.len(), 3);
    let labels: Vec<&str> = loops.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["Impella CP P2", "Impella CP P5", "Impella CP P8"]);
    for (l, d) in loops.iter().zip(&dirs) {
        let run = read_run(d).unwrap();
        let edv = run
            .summary
            .at("metrics.lvedv_ml")
            .unwrap()
            .as_f64()
            .unwrap();
        let esv = run
            .summary
            .at("metrics.lvesv_ml")
            .unwrap()
            .as_f64()
            .unwrap();
        let max = l.volume_ml.iter().cloned().fold(f64::MIN, f64::max);
        let min = l.volume_ml.iter().cloned().fold(f64::MAX, f64::min);
        assert!(
            (max - edv).abs() < 0.05 * edv,
            "{}: max {max} vs EDV {edv}",
            l.label
        );
        assert!(
            (min - esv).abs() < 0.1 * esv + 2.0,
            "{}: min {min} vs ESV {esv}",
            l.label
        );
        assert!(l.end_diastole.is_some() && l.end_systole.is_some());
    }
    // More support, smaller LV.
    assert!(loops[2].end_diastole.unwrap().0 < loops[0].end_diastole.unwrap().0);

    let png = root.path().join("overlay.png");
    write_pv_overlay(&dirs, None, &png, ImageFormat::Png, "").unwrap();
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1200, 900));
    let svg = root.path().join("overlay.svg");
    let own = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    write_pv_overlay(&dirs, Some(&own), &svg, ImageFormat::Svg, "Three").unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains(">Three<") || text.contains("Three"));
    // Wrong number of labels.
    let err = write_pv_overlay(&dirs, Some(&own[..2]), &svg, ImageFormat::Svg, "").unwrap_err();
    assert!(err.to_string().contains("2 labels for 3"), "{err}");
}

#[test]
fn pv_overlay_errors_name_the_missing_file() {
    let root = tempfile::tempdir().unwrap();
    let dirs = three_runs(root.path());
    std::fs::remove_file(dirs[1].join("timeseries.csv")).unwrap();
    let out = root.path().join("o.png");
    let err = write_pv_overlay(&dirs, None, &out, ImageFormat::Png, "").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("run_p5") && msg.contains("timeseries.csv"),
        "{msg}"
    );
    assert!(!out.exists());

    let empty = root.path().join("not_a_run");
    std::fs::create_dir(&empty).unwrap();
    let err = write_pv_overlay(&[empty], None, &out, ImageFormat::Png, "").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("not_a_run") && msg.contains("summary.json"),
        "{msg}"
    );
}

const SMALL_SWEEP: &str = r#"
title = "small sweep"
[patient]
preset = "scai_c_lv"
[[devices]]
model = "cp"
p_level = 8
[simulation]
max_beats = 40
[output]
timeseries_every = "2 ms"
pv_loop = "none"
[sweep]
"patient.preset" = ["scai_b_lv", "scai_c_lv"]
"devices.0.p_level" = [2, 6, 9]
"#;

#[test]
fn sweep_charts_from_a_small_sweep() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("s.toml");
    std::fs::write(&file, SMALL_SWEEP).unwrap();
    let out = root.path().join("sweep");
    let opts = SweepOptions {
        keep_case_dirs: true,
        ..SweepOptions::default()
    };
    let report = run_sweep(&file, &[], &out, &opts).unwrap();
    assert_eq!(report.cases_total, 6);

    let charts = root.path().join("charts");
    let files = write_sweep_charts(&report.cases_csv, &charts, ImageFormat::Png).unwrap();
    assert!(files.len() >= 6, "{files:?}");
    assert!(files
        .iter()
        .any(|f| f.file_name().unwrap() == "lvedp_mmhg_vs_p_level.png"));
    for f in &files {
        assert_eq!(png_size(&std::fs::read(f).unwrap()), (1200, 900));
    }
    // The case directories overlay, labelled by the input that differs.
    // Case directories are case_NNNNN (at least five digits).
    let dirs: Vec<PathBuf> = (3..6).map(|c| out.join(format!("case_{c:05}"))).collect();
    let loops = pv_overlay_loops(&dirs, None).unwrap();
    let labels: Vec<&str> = loops.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["P2", "P6", "P9"]);

    // Two numeric inputs: heatmaps.
    let grid = SMALL_SWEEP.replace(
        "\"patient.preset\" = [\"scai_b_lv\", \"scai_c_lv\"]",
        "\"lv.ees\" = [0.6, 0.9]",
    );
    std::fs::write(&file, grid).unwrap();
    let out2 = root.path().join("sweep2");
    let report = run_sweep(&file, &[], &out2, &SweepOptions::default()).unwrap();
    let files = write_sweep_charts(&report.cases_csv, &charts, ImageFormat::Svg).unwrap();
    let heatmap = files
        .iter()
        .find(|f| f.file_name().unwrap() == "map_mmhg_heatmap.svg")
        .expect("a MAP heatmap");
    // Names and axis titles from the metric registry.
    let texts: Vec<String> = svg_texts(&std::fs::read_to_string(heatmap).unwrap())
        .into_iter()
        .map(|t| t.3)
        .collect();
    assert!(texts.iter().any(|t| t.starts_with("MAP by ")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t == "Mean arterial pressure (mmHg)"),
        "{texts:?}"
    );
}

#[test]
fn charted_metrics_are_in_the_registry() {
    for key in KEY_METRICS.iter().chain(&OTHER_METRICS) {
        assert!(MetricInfo::of(key).is_some(), "{key}");
    }
}

#[test]
fn sweep_charts_of_a_cohort_are_histograms() {
    let root = tempfile::tempdir().unwrap();
    let csv = root.path().join("cases.csv");
    let mut text =
        String::from("case,device,member,lv.ees,status,steady_state_reached,lvedp_mmhg,map_mmhg\n");
    for i in 0..20 {
        let dev = if i % 2 == 0 { "none" } else { "cp@8" };
        text.push_str(&format!(
            "{i},{dev},{},{},ok,true,{},{}\n",
            i / 2,
            0.5 + 0.01 * i as f64,
            20.0 + i as f64,
            60.0 + i as f64
        ));
    }
    text.push_str("20,none,10,0.7,solver failed,,,\n");
    std::fs::write(&csv, text).unwrap();
    let files = write_sweep_charts(&csv, &root.path().join("c"), ImageFormat::Svg).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "lvedp_mmhg_histogram_no_device.svg",
            "lvedp_mmhg_histogram_Impella_CP_P8.svg",
            "map_mmhg_histogram_no_device.svg",
            "map_mmhg_histogram_Impella_CP_P8.svg"
        ]
    );
}

#[test]
fn sweep_chart_errors_name_the_file() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("charts");
    let missing = root.path().join("nowhere/cases.csv");
    let err = write_sweep_charts(&missing, &out, ImageFormat::Png).unwrap_err();
    assert!(err.to_string().contains("nowhere/cases.csv"), "{err}");

    let empty = root.path().join("cases.csv");
    std::fs::write(&empty, "").unwrap();
    let err = write_sweep_charts(&empty, &out, ImageFormat::Png).unwrap_err();
    assert!(matches!(err, FigureError::Content { .. }), "{err:?}");
    assert!(err.to_string().contains("cases.csv"), "{err}");

    std::fs::write(&empty, "case,device,status,map_mmhg\n").unwrap();
    let err = write_sweep_charts(&empty, &out, ImageFormat::Png).unwrap_err();
    assert!(err.to_string().contains("no cases"), "{err}");

    std::fs::write(&empty, "case,device,map_mmhg\n0,none,70\n").unwrap();
    let err = write_sweep_charts(&empty, &out, ImageFormat::Png).unwrap_err();
    assert!(err.to_string().contains("no column \"status\""), "{err}");

    std::fs::write(&empty, "case,device,status,map_mmhg\n0,none,diverged,\n").unwrap();
    let err = write_sweep_charts(&empty, &out, ImageFormat::Png).unwrap_err();
    assert!(err.to_string().contains("no case with status ok"), "{err}");
}

fn teaching_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/teaching");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_teaching_scenario_parses() {
    let files = teaching_files();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        if text.contains("\n[sweep]") || text.contains("\n[cohort]") {
            let plan = SweepPlan::load(&f, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert!(plan.len() >= 2, "{}", f.display());
            for case in 0..plan.len() {
                plan.scenario(case)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            }
        } else {
            scenario::load(&f, &[]).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Runs the whole teaching set and writes its figures:
/// `IMPELLA_SIM_TEACHING=/tmp/teach cargo test --release --test figures -- --ignored`
#[test]
#[ignore]
fn teaching_set_samples() {
    let Some(root) = std::env::var_os("IMPELLA_SIM_TEACHING") else {
        eprintln!("set IMPELLA_SIM_TEACHING=DIR to write the teaching figures");
        return;
    };
    let root = PathBuf::from(root);
    let opts = SweepOptions {
        keep_case_dirs: true,
        ..SweepOptions::default()
    };
    for f in teaching_files() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        let out = root.join(&name);
        if text.contains("\n[sweep]") {
            let report = run_sweep(&f, &[], &out, &opts).unwrap();
            let plan = SweepPlan::load(&f, &[]).unwrap();
            let width = plan.len().saturating_sub(1).to_string().len().max(5);
            let dirs: Vec<PathBuf> = (0..plan.len())
                .map(|c| out.join(format!("case_{c:0width$}")))
                .filter(|d| d.is_dir())
                .collect();
            write_pv_overlay(
                &dirs,
                None,
                &root.join(format!("{name}_pv.png")),
                ImageFormat::Png,
                plan.scenario(0).unwrap().title.as_str(),
            )
            .unwrap();
            write_sweep_charts(
                &report.cases_csv,
                &root.join(format!("{name}_charts")),
                ImageFormat::Png,
            )
            .unwrap();
        } else {
            let sc = scenario::load(&f, &[]).unwrap();
            let (r, _) = impella_sim::output::simulate_and_write(&out, &sc).unwrap();
            if sc.course.is_some() {
                write_course_timeline(
                    &root.join(format!("{name}_timeline.png")),
                    &sc.title,
                    &r,
                    ImageFormat::Png,
                )
                .unwrap();
            }
        }
        eprintln!("{name} done");
    }
}

/// A small run directory of `scenario` text (short, no pictures).
fn small_run(root: &Path, name: &str, scenario: &str) -> PathBuf {
    let text = format!(
        "{scenario}\n[simulation]\nmax_beats = 40\n[output]\npv_loop = \"none\"\n\
         timeseries_every = \"2 ms\"\n"
    );
    let sc = scenario::parse(&text, None, &[]).unwrap();
    let dir = root.join(name);
    impella_sim::output::simulate_and_write(&dir, &sc).unwrap();
    dir
}

#[test]
fn overlay_labels_are_short_by_default() {
    // The educator's first picture: the same patient without and with a pump. The titles
    // are sentences; the legend says what differs.
    let root = tempfile::tempdir().unwrap();
    let shock = "[patient]\npreset = \"scai_c_lv\"\n";
    let without = small_run(
        root.path(),
        "scai_c_lv",
        &format!("title = \"SCAI C cardiogenic shock, LV-dominant, no support\"\n{shock}"),
    );
    let with = small_run(
        root.path(),
        "cp",
        &format!(
            "title = \"Impella CP at P8 in SCAI C LV-dominant shock (DanGer-like patient)\"\n\
             {shock}[[devices]]\nmodel = \"cp\"\np_level = 8\n"
        ),
    );
    let labels = |dirs: &[PathBuf]| -> Vec<String> {
        pv_overlay_loops(dirs, None)
            .unwrap()
            .into_iter()
            .map(|l| l.label)
            .collect()
    };
    assert_eq!(
        labels(&[without.clone(), with.clone()]),
        ["no device", "Impella CP P8"]
    );
    // Presets differ, devices do not: the presets.
    let d = small_run(root.path(), "d", "[patient]\npreset = \"scai_d_lv\"\n");
    assert_eq!(
        labels(&[without.clone(), d.clone()]),
        ["scai_c_lv", "scai_d_lv"]
    );
    // Nothing tells them apart but the directory.
    let again = small_run(root.path(), "again", shock);
    assert_eq!(labels(&[without.clone(), again]), ["scai_c_lv", "again"]);

    // The picture: both labels in the legend, whole.
    let svg = root.path().join("loops.svg");
    write_pv_overlay(&[without, with], None, &svg, ImageFormat::Svg, "").unwrap();
    let texts: Vec<String> = svg_texts(&std::fs::read_to_string(&svg).unwrap())
        .into_iter()
        .map(|t| t.3)
        .collect();
    assert!(texts.iter().any(|t| t == "no device") && texts.iter().any(|t| t == "Impella CP P8"));
}

#[test]
fn swept_parameters_are_labelled_with_their_unit() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("s.toml");
    std::fs::write(
        &file,
        "[patient]\npreset = \"scai_c_lv\"\n[simulation]\nmax_beats = 30\n\
         [output]\npv_loop = \"none\"\ntimeseries_every = \"2 ms\"\n\
         [sweep]\nblood_volume = [3800, 4500]\n",
    )
    .unwrap();
    let out = root.path().join("sweep");
    let opts = SweepOptions {
        keep_case_dirs: true,
        ..SweepOptions::default()
    };
    run_sweep(&file, &[], &out, &opts).unwrap();
    let dirs: Vec<PathBuf> = (0..2).map(|c| out.join(format!("case_{c:05}"))).collect();
    let labels: Vec<String> = pv_overlay_loops(&dirs, None)
        .unwrap()
        .into_iter()
        .map(|l| l.label)
        .collect();
    assert_eq!(labels, ["blood_volume = 3800 mL", "blood_volume = 4500 mL"]);
}

#[test]
fn charts_by_device_have_the_devices_on_a_categorical_axis() {
    let root = tempfile::tempdir().unwrap();
    let csv = root.path().join("cases.csv");
    let mut text = String::from("case,device,status,steady_state_reached,lvedp_mmhg,map_mmhg\n");
    for (i, dev) in ["none", "2.5@9", "cp@9", "5.0@9"].iter().enumerate() {
        text.push_str(&format!(
            "{i},{dev},ok,true,{},{}\n",
            24.0 - 3.0 * i as f64,
            60.0 + 5.0 * i as f64
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let files = write_sweep_charts(&csv, &root.path().join("c"), ImageFormat::Svg).unwrap();
    let lvedp = files
        .iter()
        .find(|f| f.file_name().unwrap() == "lvedp_mmhg_by_device.svg")
        .unwrap();
    let texts = svg_texts(&std::fs::read_to_string(lvedp).unwrap());
    let names = [
        "no device",
        "Impella 2.5 P9",
        "Impella CP P9",
        "Impella 5.0 P9",
    ];
    let xs: Vec<f64> = names
        .iter()
        .map(|n| {
            let at: Vec<_> = texts.iter().filter(|t| t.3 == *n).collect();
            assert_eq!(at.len(), 1, "{n} should be one tick label: {texts:?}");
            at[0].0
        })
        .collect();
    assert!(xs.windows(2).all(|w| w[1] > w[0]), "{xs:?}");
    assert!(texts.iter().any(|t| t.3 == "Device"));
    assert!(!texts
        .iter()
        .any(|t| t.3.contains("see legend") || t.3 == "1" || t.3 == "4"));
}

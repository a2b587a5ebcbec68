//! Behaviour tests for the HTML run report: it is made from a run written
//! here through the library, opens without a network, and shows that run.

mod common;

use std::path::{Path, PathBuf};

use common::pictures::{attr, fit, svg_polylines, svg_texts};

use impella_sim::output::report::{
    lv_pv_relations, pv_loop_svg, read_run, render_report, waveforms_svg, write_compare_report,
    write_report, JsonExt, ReportError, PV_SIZE_PX, WAVEFORM_BEATS,
};

/// Runs `scenario` (TOML text) with `overrides` and writes its outputs to a
/// new temporary directory.
fn run(scenario: &str, overrides: &[&str]) -> tempfile::TempDir {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let sc = impella_sim::scenario::parse(scenario, None, &overrides).expect("scenario parses");
    let dir = tempfile::tempdir().unwrap();
    impella_sim::output::simulate_and_write(dir.path(), &sc).expect("simulation runs and writes");
    dir
}

const CP: &str = include_str!("../scenarios/impella_cp.toml");

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn metric(dir: &Path, key: &str) -> f64 {
    summary(dir)["metrics"][key].as_f64().unwrap()
}

// ---------------------------------------------------------------------------
/// Least-squares line pixel = a + b * value through tick labels with `anchor`.
fn tick_mapping(svg: &str, anchor: &str, pick: fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let pairs: Vec<(f64, f64)> = svg_texts(svg)
        .into_iter()
        .filter(|t| t.2 == anchor)
        .filter_map(|(x, y, _, t)| t.parse::<f64>().ok().map(|v| (v, pick(&(x, y)))))
        .collect();
    assert!(pairs.len() >= 3, "{anchor} tick labels: {pairs:?}");
    fit(&pairs)
}

// ---------------------------------------------------------------------------

#[test]
fn report_is_one_self_contained_file_showing_the_run() {
    let run_dir = run(CP, &[]);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("nested").join("report.html");
    write_report(run_dir.path(), &out).unwrap();
    let names: Vec<String> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["report.html".to_string()],
        "no partial file left"
    );

    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    // Opens with no network: no URLs, scripts, external images or styles.
    for banned in [
        "http://", "https://", "<script", "<link", "<img", "url(", "@import",
    ] {
        assert!(!html.contains(banned), "found {banned:?}");
    }
    // Three inline figures: PV loop, waveforms, beat-by-beat trends.
    assert_eq!(html.matches("<svg ").count(), 3);
    assert_eq!(html.matches("</svg>").count(), 3);

    let s = summary(run_dir.path());
    let title = s["title"].as_str().unwrap();
    assert!(html.contains(&format!("<h1>{title}</h1>")), "title");
    assert!(html.contains("not a medical device"), "disclaimer");
    // Every metric key is listed, with units from the key suffixes.
    for (key, _) in s["metrics"].as_object().unwrap() {
        assert!(html.contains(&format!(">{key}</code>")), "{key}");
    }
    for unit in ["mmHg", "L/min", "L/min/m²", "mL", "mN·m", "beats/min", "W"] {
        assert!(
            html.contains(&format!("<td class=\"unit\">{unit}</td>")),
            "{unit}"
        );
    }
    // The metrics table shows the summary's values, to 4 significant figures.
    for key in ["map_mmhg", "lvedp_mmhg", "ci_l_min_m2", "pump_flow_l_min"] {
        let row = html
            .lines()
            .find(|l| l.contains(&format!(">{key}</code>")))
            .unwrap_or_else(|| panic!("row of {key}"));
        let cell = row.split("<td class=\"num\">").nth(1).unwrap();
        let shown: f64 = cell[..cell.find('<').unwrap()].parse().unwrap();
        let value = metric(run_dir.path(), key);
        assert!(
            (shown - value).abs() <= 1e-3 * value.abs(),
            "{key}: {shown} vs {value}"
        );
    }
    // Devices, console and provenance.
    assert!(html.contains("Impella CP with SmartAssist"));
    assert!(html.contains("Console alarms"));
    assert!(html.contains(s["provenance"]["scenario_sha256"].as_str().unwrap()));
    assert!(html.contains("<code>solver.rtol</code>"));
}

#[test]
fn pv_loop_figure_spans_the_runs_end_diastolic_and_end_systolic_volumes() {
    let run_dir = run(CP, &[]);
    let data = read_run(run_dir.path()).unwrap();
    let svg = pv_loop_svg(&data, PV_SIZE_PX).unwrap().expect("a PV loop");
    let open = &svg[..svg.find('>').unwrap()];
    assert_eq!(attr(open, "width"), Some("1200"));
    assert_eq!(attr(open, "height"), Some("900"));
    let (ax, bx) = tick_mapping(&svg, "middle", |p| p.0);
    let (ay, by) = tick_mapping(&svg, "end", |p| p.1);
    let (_, pts) = svg_polylines(&svg)
        .into_iter()
        .max_by_key(|(_, p)| p.len())
        .unwrap();
    assert!(pts.len() > 50, "the loop");
    let volumes: Vec<f64> = pts.iter().map(|p| (p.0 - ax) / bx).collect();
    let pressures: Vec<f64> = pts.iter().map(|p| (p.1 - ay) / by).collect();
    let extent = |v: &[f64]| {
        v.iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
    };
    let (vmin, vmax) = extent(&volumes);
    let (_, pmax) = extent(&pressures);

    // The loop spans the last beat's samples in timeseries.csv ...
    let ts = data.timeseries.as_ref().unwrap();
    let t_last = *data.beats.column("t_start_s").unwrap().last().unwrap();
    let col = |name: &str| ts.columns.iter().position(|c| c == name).unwrap();
    let (it, iv, ip) = (col("t_s"), col("v_lv_ml"), col("p_lv_mmhg"));
    let beat: Vec<&Vec<f64>> = ts.rows.iter().filter(|r| r[it] >= t_last).collect();
    let (v_lo, v_hi) = extent(&beat.iter().map(|r| r[iv]).collect::<Vec<_>>());
    let (_, p_hi) = extent(&beat.iter().map(|r| r[ip]).collect::<Vec<_>>());
    assert!((vmin - v_lo).abs() < 0.5, "min volume {vmin} vs {v_lo}");
    assert!((vmax - v_hi).abs() < 0.5, "max volume {vmax} vs {v_hi}");
    assert!((pmax - p_hi).abs() < 0.5, "peak pressure {pmax} vs {p_hi}");

    // ... which roughly span the run's LVEDV and LVESV (with a pump the LV
    // keeps emptying after end-systole and filling before end-diastole).
    let dir = run_dir.path();
    let (edv, esv) = (metric(dir, "lvedv_ml"), metric(dir, "lvesv_ml"));
    assert!(
        vmax >= edv - 0.5 && vmax < 1.05 * edv,
        "{vmax} vs LVEDV {edv}"
    );
    assert!(
        vmin <= esv + 0.5 && vmin > 0.95 * esv,
        "{vmin} vs LVESV {esv}"
    );

    // The end-diastolic marker (a circle in the loop's colour) sits at the
    // run's LVEDV and LVEDP, the end-systolic one (a square) at LVESV.
    let fill = "#0054A6";
    let ed = svg
        .lines()
        .find(|l| l.trim_start().starts_with("<circle") && l.contains(fill))
        .expect("end-diastolic marker");
    let num = |l: &str, a: &str| attr(l, a).unwrap().parse::<f64>().unwrap();
    let (ed_v, ed_p) = ((num(ed, "cx") - ax) / bx, (num(ed, "cy") - ay) / by);
    assert!((ed_v - edv).abs() < 1.0, "ED marker at {ed_v} mL vs {edv}");
    let edp = metric(dir, "lvedp_mmhg");
    assert!(
        (ed_p - edp).abs() < 1.0,
        "ED marker at {ed_p} mmHg vs {edp}"
    );
    let es = svg
        .lines()
        .find(|l| l.trim_start().starts_with("<rect") && l.contains(fill))
        .expect("end-systolic marker");
    let es_v = (num(es, "x") + num(es, "width") / 2.0 - ax) / bx;
    assert!((es_v - esv).abs() < 1.0, "ES marker at {es_v} mL vs {esv}");
}

#[test]
fn waveforms_cover_the_last_beats() {
    let run_dir = run(CP, &[]);
    let data = read_run(run_dir.path()).unwrap();
    let t_start = data.beats.column("t_start_s").unwrap();
    let from = t_start[t_start.len() - WAVEFORM_BEATS];
    let end = metric(run_dir.path(), "hr_bpm").recip() * 60.0 + t_start[t_start.len() - 1];
    let svg = waveforms_svg(&data).unwrap().expect("waveforms");
    let (ax, bx) = tick_mapping(&svg, "middle", |p| p.0);
    let lines: Vec<_> = svg_polylines(&svg)
        .into_iter()
        .filter(|(_, p)| p.len() > 20)
        .collect();
    // LV and aortic pressure, LA and RA pressure, pump and valve flow.
    assert_eq!(lines.len(), 6);
    for (stroke, pts) in lines {
        let t0 = (pts[0].0 - ax) / bx;
        let t1 = (pts[pts.len() - 1].0 - ax) / bx;
        assert!((t0 - from).abs() < 0.01, "{stroke}: starts {t0} vs {from}");
        assert!((t1 - end).abs() < 0.01, "{stroke}: ends {t1} vs {end}");
    }
    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.3).collect();
    for want in [
        "LV",
        "Aortic",
        "LA",
        "RA",
        "Left pump",
        "Aortic valve",
        "Time (s)",
    ] {
        assert!(texts.iter().any(|t| t == want), "{want:?} in {texts:?}");
    }
}

#[test]
fn a_run_without_timeseries_still_gets_a_report() {
    let text = CP.replace("[output]", "[output]\ntimeseries = false");
    let run_dir = run(&text, &[]);
    assert!(!run_dir.path().join("timeseries.csv").exists());
    let data = read_run(run_dir.path()).unwrap();
    assert!(data.timeseries.is_none());
    let html = render_report(&data, "").unwrap();
    assert_eq!(html.matches("<svg ").count(), 1, "trends only");
    assert!(html.contains("no timeseries.csv"));
}

#[test]
fn missing_or_broken_files_are_errors_naming_them() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("r.html");
    let nothing_written = |what: &str| {
        let left: Vec<PathBuf> = std::fs::read_dir(out_dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{what}: {left:?}");
    };

    let empty = tempfile::tempdir().unwrap();
    let err = write_report(empty.path(), &out).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Missing {
                file: "summary.json",
                ..
            }
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("summary.json") && msg.contains(&empty.path().display().to_string()));
    nothing_written("empty directory");

    let err = write_report(&empty.path().join("no-such-run"), &out).unwrap_err();
    assert!(err.to_string().contains("no-such-run"), "{err}");

    let run_dir = run(CP, &[]);
    let dir = run_dir.path();
    std::fs::rename(dir.join("beats.csv"), dir.join("beats.bak")).unwrap();
    let err = write_report(dir, &out).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Missing {
                file: "beats.csv",
                ..
            }
        ),
        "{err}"
    );
    std::fs::rename(dir.join("beats.bak"), dir.join("beats.csv")).unwrap();

    let good = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    std::fs::write(dir.join("summary.json"), &good[..good.len() / 2]).unwrap();
    let err = write_report(dir, &out).unwrap_err();
    assert!(matches!(err, ReportError::Json { .. }), "{err}");
    assert!(err.to_string().contains("summary.json"), "{err}");
    std::fs::write(dir.join("summary.json"), &good).unwrap();

    let ts = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let renamed = ts.replacen("p_lv_mmhg", "p_left_ventricle", 1);
    std::fs::write(dir.join("timeseries.csv"), renamed).unwrap();
    let err = write_report(dir, &out).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("timeseries.csv") && msg.contains("p_lv_mmhg"),
        "{msg}"
    );
    nothing_written("broken files");

    // An output path that cannot be written: an error, and no partial file.
    std::fs::write(dir.join("timeseries.csv"), ts).unwrap();
    let blocker = out_dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let err = write_report(dir, &blocker.join("r.html")).unwrap_err();
    assert!(matches!(err, ReportError::Write { .. }), "{err}");
    std::fs::remove_file(&blocker).unwrap();
    nothing_written("unwritable output");

    // The same files again: a good report.
    write_report(dir, &out).unwrap();
    assert!(out.exists());
}

#[test]
fn summary_json_keeps_its_key_order() {
    let j: serde_json::Value = serde_json::from_str(r#"{"z": 1, "a": {"m": 2.5}}"#).unwrap();
    let keys: Vec<&str> = j.members().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["z", "a"]);
    assert_eq!(j.at("a.m").and_then(serde_json::Value::as_f64), Some(2.5));
}

// ---------------------------------------------------------------------------
// Issue 25: ESPVR/EDPVR, runs without a device, links, two runs side by side.

const NORMAL: &str = include_str!("../scenarios/normal_adult.toml");

/// The texts of an SVG.
fn texts(svg: &str) -> Vec<String> {
    svg_texts(svg).into_iter().map(|t| t.3).collect()
}

#[test]
fn pv_loop_has_the_espvr_and_edpvr_of_the_run() {
    // The run's own PV picture as SVG, to compare with. Open loop, so that the relations
    // are the preset's (the reflex scales E_es).
    let open = CP.replace(
        "preset = \"scai_c_lv\"\n",
        "preset = \"scai_c_lv\"\n[patient.reflexes]\nenabled = false\n",
    );
    let run_dir = run(&open.replace("pv_loop = \"png\"", "pv_loop = \"svg\""), &[]);
    let data = read_run(run_dir.path()).unwrap();
    let svg = pv_loop_svg(&data, PV_SIZE_PX).unwrap().expect("a PV loop");
    let own = std::fs::read_to_string(run_dir.path().join("pv_loop.svg")).unwrap();
    let espvr = |svg: &str| texts(svg).into_iter().find(|t| t.starts_with("ESPVR"));
    let label = espvr(&svg).expect("an ESPVR line in the report's PV loop");
    assert_eq!(Some(label), espvr(&own), "the same Ees as pv_loop.svg");
    assert!(texts(&svg).iter().any(|t| t == "EDPVR"), "an EDPVR line");

    // The relations are the patient's, recovered from timeseries.csv.
    let lv = impella_sim::physiology::presets::preset("scai_c_lv")
        .unwrap()
        .parameters()
        .lv;
    let r = lv_pv_relations(&data).expect("relations");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * b.abs().max(1.0);
    assert!(close(r.ees, lv.ees), "Ees {} vs {}", r.ees, lv.ees);
    assert!(close(r.v0, lv.v0), "V0 {} vs {}", r.v0, lv.v0);
    assert!(
        close(r.edpvr_a, lv.edpvr_a),
        "A {} vs {}",
        r.edpvr_a,
        lv.edpvr_a
    );
    assert!(
        close(r.edpvr_b, lv.edpvr_b),
        "B {} vs {}",
        r.edpvr_b,
        lv.edpvr_b
    );
}

#[test]
fn a_run_without_a_device_shows_no_pump_metrics() {
    let run_dir = run(NORMAL, &[]);
    assert!(summary(run_dir.path())["devices"]
        .as_array()
        .unwrap()
        .is_empty());
    let html = render_report(&read_run(run_dir.path()).unwrap(), "").unwrap();
    for key in [
        "pump_speed_rpm",
        "pump_torque_mnm",
        "placement_min_mmhg",
        "rp_speed_rpm",
        "suction_fraction",
        "pump_flow_l_min",
        "rp_flow_l_min",
    ] {
        assert!(!html.contains(&format!(">{key}</code>")), "{key} shown");
    }
    for key in ["map_mmhg", "lvedp_mmhg", "cpo_w", "blood_volume_ml"] {
        assert!(html.contains(&format!(">{key}</code>")), "{key} missing");
    }
    assert!(html.contains("No mechanical support."));
}

/// The targets of the report's links (href="...").
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

#[test]
fn the_report_links_its_run_files_relative_to_itself() {
    let run_dir = run(CP, &[]);
    let dir = run_dir.path();
    write_report(dir, &dir.join("report.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let links = hrefs(&html);
    for file in ["beats.csv", "events.csv", "timeseries.csv", "summary.json"] {
        assert!(links.iter().any(|l| l == file), "{file} in {links:?}");
    }

    // Written elsewhere, the links lead back to the run's files; no link to
    // a file the run did not write.
    std::fs::remove_file(dir.join("events.csv")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("a b").join("report.html");
    write_report(dir, &out).unwrap();
    let links = hrefs(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(links.len(), 3, "{links:?}");
    for l in &links {
        assert!(l.starts_with("../../"), "{l}");
        let target = out.parent().unwrap().join(l);
        assert!(target.is_file(), "{l} → {}", target.display());
    }
}

#[test]
fn two_runs_side_by_side() {
    let (base, pump) = (
        run(
            &CP.replace("[[devices]]\nmodel = \"cp\"\np_level = 8\n", ""),
            &[],
        ),
        run(CP, &[]),
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("compare.html");
    let labels = ["no pump".to_string(), "CP P8".to_string()];
    write_compare_report([base.path(), pump.path()], Some(&labels), &out).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<h1>no pump vs CP P8</h1>"));
    for banned in ["http://", "https://", "<script", "<img"] {
        assert!(!html.contains(banned), "found {banned:?}");
    }
    // Headline metrics: both values and the difference (pump − base).
    for key in [
        "map_mmhg",
        "lvedp_mmhg",
        "total_flow_l_min",
        "pump_flow_l_min",
    ] {
        let row = html
            .lines()
            .find(|l| l.contains(&format!(">{key}</code>")))
            .unwrap_or_else(|| panic!("row of {key}"));
        let cells: Vec<f64> = row
            .split("<td class=\"num\">")
            .skip(1)
            .map(|c| c[..c.find('<').unwrap()].replace('−', "-").parse().unwrap())
            .collect();
        let (a, b) = (metric(base.path(), key), metric(pump.path(), key));
        let near = |x: f64, y: f64| (x - y).abs() <= 2e-3 * y.abs().max(0.01);
        assert!(
            near(cells[0], a) && near(cells[1], b),
            "{key}: {cells:?} vs {a}, {b}"
        );
        assert!(
            near(cells[2], b - a),
            "{key}: difference {} vs {}",
            cells[2],
            b - a
        );
    }
    // One figure: both LV loops overlaid, labelled.
    assert_eq!(html.matches("<svg ").count(), 1);
    let svg = &html[html.find("<svg ").unwrap()..html.find("</svg>").unwrap()];
    let t = texts(svg);
    assert!(
        t.iter().any(|x| x == "no pump") && t.iter().any(|x| x == "CP P8"),
        "{t:?}"
    );
    let loops = svg_polylines(svg)
        .into_iter()
        .filter(|(_, p)| p.len() > 50)
        .count();
    assert_eq!(loops, 2);

    // Wrong label count: an error, nothing written.
    let out2 = out_dir.path().join("x.html");
    let err =
        write_compare_report([base.path(), pump.path()], Some(&labels[..1]), &out2).unwrap_err();
    assert!(matches!(err, ReportError::Labels { given: 1 }), "{err}");
    assert!(!out2.exists());

    // From the command line, with default labels and file name.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_impella-sim"))
        .arg("report")
        .args([base.path(), pump.path()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let html = std::fs::read_to_string(pump.path().join("compare.html")).unwrap();
    assert!(
        html.contains("<h1>no device vs Impella CP P8</h1>"),
        "default labels"
    );
}

/// Writes a sample report for a person to look at:
/// `IMPELLA_SIM_REPORT_SAMPLE=/tmp/r.html cargo test --release --test report -- --ignored`
/// (`IMPELLA_SIM_REPORT_RUN=DIR` reports on an existing run directory instead).
#[test]
#[ignore]
fn write_sample_report() {
    let out = std::env::var_os("IMPELLA_SIM_REPORT_SAMPLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("impella-sim-report-sample.html"));
    let (_keep, dir) = match std::env::var_os("IMPELLA_SIM_REPORT_RUN") {
        Some(d) => (None, PathBuf::from(d)),
        None => {
            let d = run(CP, &[]);
            let p = d.path().to_path_buf();
            (Some(d), p)
        }
    };
    write_report(&dir, &out).unwrap();
    eprintln!(
        "wrote {} ({} bytes)",
        out.display(),
        std::fs::metadata(&out).unwrap().len()
    );
}

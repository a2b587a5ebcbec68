//! The command line end to end: outputs, reproducibility, and clear errors for bad input.

use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_impella-sim"))
}

fn run_scenario(text: &str, out: &Path, extra: &[&str]) -> Output {
    let dir = out.parent().unwrap();
    let file = dir.join("scenario.toml");
    std::fs::write(&file, text).unwrap();
    bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each scenario text fails, and its message contains every expected fragment.
fn assert_errors(out: &Path, cases: Vec<(String, Vec<&str>)>) {
    for (text, expected) in cases {
        let o = run_scenario(&text, out, &[]);
        assert!(!o.status.success(), "{text} should fail");
        let e = stderr(&o);
        for x in expected {
            assert!(e.contains(x), "error for {text:?} lacks {x:?}: {e}");
        }
    }
}

#[test]
fn run_writes_every_output_with_documented_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_scenario(
        "title = \"t\"\n[output]\npv_loop = \"both\"\npv_chambers = [\"lv\", \"rv\"]\n",
        &out,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "summary.json",
        "beats.csv",
        "timeseries.csv",
        "pv_loop.png",
        "pv_loop.svg",
        "events.csv",
        "waveforms.png",
        "waveforms.svg",
        "pv_loop_rv.png",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let o = bin().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("http://") && !html.contains("https://"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "map_mmhg",
        "co_l_min",
        "lvedp_mmhg",
        "cpo_w",
        "lvedv_ml",
        "pva_mmhg_ml",
        "av_open_fraction",
    ] {
        assert!(summary["metrics"][key].is_number(), "metrics.{key}");
    }
    let prov = &summary["provenance"];
    assert_eq!(prov["crate_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(prov["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(prov["solver"]["rtol"].is_number());
    // The default fast path locates valve switches, so it evaluates switching functions.
    assert_eq!(prov["solver"]["method"], "tsit5");
    assert!(prov["solver"]["switching_evaluations"].as_u64().unwrap() > 0);
    assert!(summary["steady_state"]["reached"].as_bool().unwrap());
    assert!(summary["disclaimer"]
        .as_str()
        .unwrap()
        .contains("not a medical device"));

    // Every documented metric is a beats.csv column.
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/outputs.md"))
            .unwrap();
    let header = std::fs::read_to_string(out.join("beats.csv")).unwrap();
    let header = header.lines().next().unwrap();
    for name in impella_sim::analysis::BeatMetrics::NAMES {
        assert!(
            header.split(',').any(|h| h == *name),
            "{name} not in beats.csv"
        );
        assert!(
            docs.contains(&format!("`{name}`")),
            "{name} not documented in docs/outputs.md"
        );
    }
}

#[test]
fn same_scenario_gives_byte_identical_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let text = "[patient]\npreset = \"scai_c_lv\"\n[output]\npv_loop = \"none\"\ntimeseries_every = \"5 ms\"\n";
    assert!(run_scenario(text, &a, &[]).status.success());
    assert!(run_scenario(text, &b, &[]).status.success());
    for f in ["summary.json", "beats.csv", "timeseries.csv"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between identical runs");
    }
}

#[test]
fn syntax_errors_and_unknown_keys_name_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_scenario(
        "title = \"x\"\n[patient]\npreset = \"normal\"\nfoo = 3\n",
        &out,
        &[],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("scenario.toml:4:1") && e.contains("foo"), "{e}");
    assert!(!out.join("summary.json").exists());

    let o = run_scenario("title = \n", &out, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("scenario.toml:1:"), "{}", stderr(&o));
}

#[test]
fn bad_values_name_the_key_and_the_allowed_range() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cases: [(&str, &[&str], &[&str]); 6] = [
        (
            "[patient.set]\n\"heart.hr\" = 0\n",
            &[],
            &["scenario.toml:2:1", "heart.hr", "[20, 200]"],
        ),
        (
            "[patient.set]\n\"systemic.c_art\" = -1.0\n",
            &[],
            &["systemic.c_art", "mL/mmHg"],
        ),
        (
            "[patient.set]\n\"lv.eees\" = 1.0\n",
            &[],
            &["lv.eees", "lv.ees"],
        ),
        (
            "[patient]\npreset = \"scai_z\"\n",
            &[],
            &["scenario.toml:2:10", "scai_c_lv"],
        ),
        (
            "",
            &["--set", "blood_volume=2500"],
            &["blood_volume", "unstressed"],
        ),
        (
            "[output]\ntimeseries_every = \"5 furlongs\"\n",
            &[],
            &["scenario.toml:2:", "ms, s, min, h, d"],
        ),
    ];
    for (text, extra, expected) in cases {
        let o = run_scenario(text, &out, extra);
        assert!(!o.status.success(), "{text} should fail");
        let e = stderr(&o);
        for x in expected {
            assert!(e.contains(x), "error for {text:?} lacks {x:?}: {e}");
        }
    }
    assert!(!out.exists() || !out.join("summary.json").exists());
}

#[test]
fn device_errors_list_the_allowed_values() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dev = |body: &str| format!("[[devices]]\n{body}\n");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            dev("model = \"cp9\"\np_level = 2"),
            vec!["scenario.toml:2:", "cp9", "2.5", "5.0", "rp"],
        ),
        (
            dev("model = \"cp\"\np_level = 12"),
            vec!["scenario.toml:3:", "P-level", "12", "9"],
        ),
        (
            dev("model = \"cp\"\np_level = 2\nposition = \"sideways\""),
            vec!["scenario.toml:4:", "inlet_in_aorta", "too_deep"],
        ),
        (
            dev("model = \"cp\"\np_level = 2\nspeed = 3"),
            vec!["scenario.toml:4:", "speed"],
        ),
        (
            format!(
                "{}{}",
                dev("model = \"cp\"\np_level = 2"),
                dev("model = \"5.0\"\np_level = 2")
            ),
            vec!["scenario.toml:5:", "left-sided"],
        ),
    ];
    assert_errors(&out, cases);
}

#[test]
fn course_errors_are_caught_before_simulating() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cp = "[[devices]]\nmodel = \"cp\"\np_level = 8\n[course]\nduration = \"1 h\"\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{cp}[[events]]\nat = \"20 min\"\ndo = {{ p_level = 4 }}\n[[events]]\nat = \"10 min\"\ndo = {{ p_level = 2 }}\n"),
            vec!["scenario.toml:10:6", "before the previous event"],
        ),
        (format!("{cp}[[events]]\nat = \"2 h\"\ndo = {{ p_level = 4 }}\n"), vec!["after the end of the course"]),
        (
            format!("{cp}[[triggers]]\nmetric = \"mapp\"\nbelow = 60\ndo = {{ p_level = \"+1\" }}\n"),
            vec!["scenario.toml:7:10", "unknown metric 'mapp'", "map_mmhg"],
        ),
        (format!("{cp}[[events]]\nat = \"1 min\"\ndo = {{ p_level = 11 }}\n"), vec!["P-levels 0..=9"]),
        (format!("{cp}[[events]]\nat = \"1 min\"\ndo = {{ drug = \"coffee\", dose = 1 }}\n"), vec!["unknown drug", "norepinephrine"]),
        (format!("{cp}[[events]]\nat = \"1 min\"\ndo = {{ ramp = {{ \"lv.ees\" = 1.0 }} }}\n"), vec!["ramp needs a positive `over`"]),
        (format!("{cp}[[events]]\nat = \"1 min\"\ndo = {{ jump = 1 }}\n"), vec!["unknown field `jump`"]),
        ("[[events]]\nat = \"1 min\"\ndo = { p_level = 2 }\n".to_string(), vec!["need a [course] section"]),
        (format!("{cp}[weaning]\nstep = 2\ndwell = \"1 h\"\nstart = \"1 min\"\n"), vec!["weaning.step = 2"]),
    ];
    assert_errors(&out, cases);
}

#[test]
fn a_device_scenario_reports_pump_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let text = "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"impella_cp\"\np_level = 8\n[output]\ntimeseries = false\n";
    let o = run_scenario(text, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["devices"][0]["model"], "cp");
    assert_eq!(s["devices"][0]["p_level"], 8);
    let m = &s["metrics"];
    let (pump, native, total) = (
        m["pump_flow_l_min"].as_f64().unwrap(),
        m["native_flow_l_min"].as_f64().unwrap(),
        m["total_flow_l_min"].as_f64().unwrap(),
    );
    assert!(pump > 2.0);
    assert!((pump + native - total).abs() < 1e-9);
    assert!(m["pump_speed_rpm"].as_f64().unwrap() > 40_000.0);
    assert!(s["console"]["suction_beats"].is_number());
}

#[test]
fn set_overrides_a_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let text = "[output]\npv_loop = \"none\"\ntimeseries = false\n";
    assert!(run_scenario(text, &a, &[]).status.success());
    let o = run_scenario(text, &b, &["--set", "lv.ees=1.0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    let (ma, mb) = (read(&a), read(&b));
    // A weaker ventricle ejects less: EF falls.
    assert!(mb["metrics"]["lvef_pct"].as_f64() < ma["metrics"]["lvef_pct"].as_f64());
    assert_eq!(mb["provenance"]["overrides"][0], "lv.ees=1.0");
    assert!(!b.join("timeseries.csv").exists());
}

#[test]
fn presets_and_help_list_what_exists() {
    let o = bin().arg("presets").output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for name in ["normal", "scai_a_lv", "scai_c_rv", "scai_e_biv"] {
        assert!(s.contains(name), "{name}");
    }
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["presets", "--help"],
        &["parameters", "--help"],
    ] {
        assert!(
            bin().args(cmd).output().unwrap().status.success(),
            "{cmd:?}"
        );
    }
    let o = bin().arg("parameters").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("lv.ees"));
}

#[test]
fn a_failed_run_leaves_no_complete_looking_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // An output path that is a file cannot become a directory: the run must fail cleanly.
    std::fs::write(&out, "not a directory").unwrap();
    let o = run_scenario("", &out, &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("out"), "{}", stderr(&o));
}

#[test]
fn shipped_scenarios_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            impella_sim::scenario::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn validate_passes_and_writes_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("validate")
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let md = std::fs::read_to_string(tmp.path().join("validation.md")).unwrap();
    assert!(md.contains("ISAR-SHOCK") && md.contains("| V1 |"));
    let csv = std::fs::read_to_string(tmp.path().join("validation.csv")).unwrap();
    assert!(csv.lines().count() > 30);
    assert!(!csv.contains(",fail\n"), "no case fails");
}

#[test]
fn sweep_writes_one_row_per_case() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("grid.toml");
    std::fs::write(
        &file,
        "[simulation]\nsteady_tolerance = 1e-3\n[sweep]\n\"lv.ees\" = [1.0, 2.0]\n\"heart.hr\" = [60, 90]\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--threads",
            "2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(out.join("cases.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "header + 2 × 2 cases");
    assert!(csv.lines().next().unwrap().contains("map_mmhg"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // The reading end is gone before the tool writes anything.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for args in [&["parameters"][..], &["presets"], &["devices", "--json"]] {
        let o = bin()
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let e = stderr(&o);
        assert!(e.is_empty(), "{args:?}: {e}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
                "{args:?}: {:?}",
                o.status
            );
        }
    }
}

#[test]
fn lists_come_as_json_too() {
    for (command, key, count) in [
        ("presets", "description", 10),
        ("devices", "p_levels", 5),
        ("parameters", "unit", 50),
    ] {
        let o = bin().args([command, "--json"]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let list = v.as_array().unwrap();
        assert!(list.len() >= count, "{command}: {}", list.len());
        assert!(list.iter().all(|e| e.get(key).is_some()), "{command}");
    }
    let o = bin().args(["parameters", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ees = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "lv.ees")
        .unwrap();
    assert_eq!(ees["unit"], "mmHg/mL");
    assert!(ees["normal"].as_f64().unwrap() > 0.0);
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = bin().args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = String::from_utf8(o.stdout).unwrap();
        assert!(
            script.contains("impella-sim") && script.contains("overlay"),
            "{shell}"
        );
    }
    assert!(!bin()
        .args(["completions", "cmd"])
        .output()
        .unwrap()
        .status
        .success());
}

#[test]
fn init_writes_a_template_that_runs_and_keeps_existing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("first.toml");
    let o = bin().arg("init").arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with('#') && text.contains("[[devices]]"));

    std::fs::write(&file, "title = \"mine\"\n").unwrap();
    let o = bin().arg("init").arg(&file).output().unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "title = \"mine\"\n"
    );
    let o = bin()
        .arg("init")
        .arg(&file)
        .arg("--force")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let out = tmp.path().join("run");
    let o = bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("steady state after"));
    assert!(out.join("summary.json").is_file());
}

#[test]
fn the_command_line_sets_preset_and_device() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let short = "[simulation]\nsteady_state = false\nmax_beats = 2\nreport_beats = 1\n\
                 [output]\npv_loop = \"none\"\ntimeseries = false\n";
    let summary = |out: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
    };
    let o = run_scenario(
        short,
        &out,
        &["--preset", "scai_d_lv", "--device", "cp", "--p-level", "6"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&out);
    assert_eq!(s["provenance"]["preset"], "scai_d_lv");
    assert_eq!(s["devices"][0]["model"], "cp");
    assert_eq!(s["devices"][0]["p_level"], 6);

    // The keys sweep files use work with --set.
    let with_cp = format!("{short}[[devices]]\nmodel = \"cp\"\np_level = 8\n");
    let o = run_scenario(
        &with_cp,
        &out,
        &[
            "--set",
            "devices.0.p_level=3",
            "--set",
            "patient.preset=scai_b_lv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&out);
    assert_eq!(s["provenance"]["preset"], "scai_b_lv");
    assert_eq!(s["devices"][0]["p_level"], 3);
    let o = run_scenario(&with_cp, &out, &["--device", "none"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&out)["devices"].as_array().unwrap().len(), 0);

    let o = run_scenario(short, &out, &["--p-level", "6"]);
    assert!(
        stderr(&o).contains("devices.0 does not exist"),
        "{}",
        stderr(&o)
    );
    let o = run_scenario(short, &out, &["--device", "cp"]);
    assert!(stderr(&o).contains("cp@8"), "{}", stderr(&o));
}

#[test]
fn scenario_mistakes_get_human_messages_with_positions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_errors(
        &out,
        vec![
            (
                "[[devices]]\nmodel = \"cp\"\np_level = \"P8\"\n".into(),
                vec!["scenario.toml:3:", "expected a whole number", "write 8"],
            ),
            (
                "[patient.set]\n\"blood_volume\" = \"5 L\"\n".into(),
                vec![
                    "scenario.toml:2:",
                    "expected a number",
                    "impella-sim parameters",
                ],
            ),
            (
                "[solver]\nmax_step = 0.02\n".into(),
                vec!["scenario.toml:2:", "\"0.02 s\"", "\"20 ms\""],
            ),
            (
                "[solver]\nmax_step = \"1e6 h\"\n".into(),
                vec!["solver.max_step (s) = 3.6e9 is outside"],
            ),
            (
                "[patient.set]\n\"lv.ees\" = 1e308\n".into(),
                vec!["lv.ees = 1e308 mmHg/mL is outside"],
            ),
            (
                "[patient.set]\n\"systemic.r_periph\" = 1200\n".into(),
                vec!["dyn·s·cm⁻⁵", "0.9001 mmHg·s/mL"],
            ),
            (
                "title = \"x\"\n[sweep]\n\"lv.ees\" = [0.5, 1.0]\n".into(),
                vec!["scenario.toml:2:", "impella-sim sweep FILE"],
            ),
        ],
    );
    let e = stderr(&run_scenario("[solver]\nmax_step = \"1e6 h\"\n", &out, &[]));
    assert!(!e.contains("unknown time unit"), "{e}");
    // Not UTF-8: the position of the first bad byte.
    let file = tmp.path().join("latin1.toml");
    std::fs::write(&file, b"# caf\xe9\ntitle = \"x\"\n").unwrap();
    let o = bin()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(
        e.contains("latin1.toml:1:6:") && e.contains("byte 5") && e.contains("UTF-8"),
        "{e}"
    );
    // A long digit string stays short.
    assert!(e.len() < 200, "{e}");
    // The same for sweep files and device files.
    let o = bin()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(e.contains("latin1.toml:1:6:") && e.contains("UTF-8"), "{e}");
    let o = run_scenario("device_files = [\"latin1.toml\"]\n", &out, &[]);
    let e = stderr(&o);
    assert!(
        e.contains("latin1.toml, line 1, column 6") && e.contains("UTF-8"),
        "{e}"
    );
}

#[test]
fn overlay_takes_curve_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let short = "[simulation]\nmax_beats = 20\n[output]\npv_loop = \"none\"\n";
    let (a, b) = (tmp.path().join("a/run"), tmp.path().join("b/run"));
    for (dir, extra) in [(&a, ""), (&b, "[[devices]]\nmodel = \"cp\"\np_level = 8\n")] {
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let o = run_scenario(&format!("{short}{extra}"), dir, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let svg = tmp.path().join("loops.svg");
    let overlay = |extra: &[&str]| {
        bin()
            .arg("overlay")
            .arg(&a)
            .arg(&b)
            .arg("--out")
            .arg(&svg)
            .args(extra)
            .output()
            .unwrap()
    };
    for args in [
        &["--labels", "without pump,with CP"][..],
        &["--label", "without pump", "--label", "with CP"],
    ] {
        let o = overlay(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("without pump") && text.contains("with CP"));
    }
    let o = overlay(&["--labels", "only one"]);
    assert!(stderr(&o).contains("1 labels for 2"), "{}", stderr(&o));
}

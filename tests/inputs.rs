//! Inputs that used to get through (or crash at run time) and are now refused when the
//! scenario is read, each with file:line:column, the key and what is allowed (issue 25).

use std::path::Path;
use std::process::Command;

use impella_sim::scenario::{self, parse};
use impella_sim::sweep::{run_sweep, SweepOptions};

const CP: &str = "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 8\n";

/// The error of a scenario that must be refused.
fn refused(text: &str) -> String {
    match parse(text, None, &[]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The error names the place (line:column) and contains every fragment.
fn assert_refused(text: &str, line: usize, fragments: &[&str]) {
    let e = refused(text);
    assert!(
        e.starts_with(&format!("<scenario>:{line}:")),
        "wrong place for {text:?}: {e}"
    );
    for f in fragments {
        assert!(e.contains(f), "error for {text:?} lacks {f:?}: {e}");
    }
}

fn course(duration: &str, rest: &str) -> String {
    format!("{CP}[course]\nduration = \"{duration}\"\n{rest}")
}

#[test]
fn a_right_sided_pump_malpositioned_by_an_event_or_trigger_is_refused_when_read() {
    for (key, position) in [
        ("add_device", "inlet_in_aorta"),
        ("add_device", "too_deep"),
        ("switch_device", "too_deep"),
    ] {
        // An RP to switch needs an RP in place.
        let devices = if key == "switch_device" {
            "[[devices]]\nmodel = \"rp\"\np_level = 6\n"
        } else {
            ""
        };
        let text = format!(
            "{CP}{devices}[course]\nduration = \"1 min\"\n[[events]]\nat = \"10 s\"\n\
             do = {{ {key} = {{ model = \"rp\", p_level = 6, position = \"{position}\" }} }}\n"
        );
        let line = text.lines().count();
        assert_refused(
            &text,
            line,
            &[key, position, "left-sided devices only", "allowed: correct"],
        );
        // The same action in a trigger.
        let trigger = format!(
            "{CP}{devices}[course]\nduration = \"1 min\"\n[[triggers]]\nmetric = \"map_mmhg\"\n\
             below = 50\ndo = {{ {key} = {{ model = \"rp\", p_level = 6, position = \"{position}\" }} }}\n"
        );
        let line = trigger.lines().count();
        assert_refused(&trigger, line, &[key, "left-sided devices only"]);
    }
}

#[test]
fn a_sweep_case_with_a_malpositioned_rp_stops_the_sweep_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "{CP}[course]\nduration = \"20 s\"\n[[events]]\nat = \"5 s\"\n\
             do = {{ add_device = {{ model = \"rp\", p_level = 6 }} }}\n\
             [sweep]\n\"events.0.do.add_device.position\" = [\"correct\", \"too_deep\"]\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let e = run_sweep(&file, &[], &out, &SweepOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("case 1") && e.contains("too_deep") && e.contains("left-sided devices only"),
        "{e}"
    );
    assert!(!out.join("cases.csv").exists());
}

#[test]
fn trigger_thresholds_must_be_finite_and_one_sided() {
    let t = |cond: &str| {
        course(
            "1 min",
            &format!("[[triggers]]\nmetric = \"map_mmhg\"\n{cond}\ndo = {{ p_level = 6 }}\n"),
        )
    };
    // CP has 5 lines, [course] 2, [[triggers]] and metric 2: the threshold is on line 10.
    assert_refused(&t("below = nan"), 10, &["triggers[0].below", "finite"]);
    assert_refused(&t("above = inf"), 10, &["triggers[0].above", "finite"]);
    assert_refused(
        &t("below = 60\nabove = 90"),
        11,
        &["both `below` and `above`", "give one"],
    );
    assert!(parse(&t("below = 60"), None, &[]).is_ok());
}

#[test]
fn weaning_criteria_must_be_finite_and_satisfiable() {
    let w = |criterion: &str| {
        course(
            "1 h",
            &format!(
                "[weaning]\nstart = \"10 min\"\nstep = -2\ndwell = \"10 min\"\n\
                 require = [ {criterion} ]\n"
            ),
        )
    };
    assert_refused(
        &w("{ metric = \"map_mmhg\", min = nan }"),
        12,
        &["weaning.require[0].min", "finite"],
    );
    assert_refused(
        &w("{ metric = \"map_mmhg\", min = 80, max = 60 }"),
        12,
        &["weaning.require[0]", "min = 80 is above max = 60"],
    );
    assert_refused(
        &w("{ metric = \"map_mmhg\" }"),
        12,
        &["weaning.require[0]", "`min`, `max`"],
    );
    assert!(parse(
        &w("{ metric = \"map_mmhg\", min = 60, max = 80 }"),
        None,
        &[]
    )
    .is_ok());
}

#[test]
fn weaning_needs_a_device_in_place_when_it_starts() {
    let weaning = "[weaning]\nstart = \"10 min\"\nstep = -2\ndwell = \"10 min\"\n";
    // No device at all.
    assert_refused(
        &format!("[course]\nduration = \"1 h\"\n{weaning}"),
        5,
        &["weaning needs a device", "devices then: none"],
    );
    // A device switched in by an event before the start is in place; the old one is not.
    let switched = |device: &str| {
        course(
            "2 h",
            &format!(
                "[[events]]\nat = \"5 min\"\ndo = {{ switch_device = {{ model = \"5.0\", p_level = 9 }} }}\n\
                 {weaning}device = \"{device}\"\n"
            ),
        )
    };
    let s = parse(&switched("5.0"), None, &[]).unwrap();
    assert_eq!(
        s.course.unwrap().weaning.unwrap().device.as_deref(),
        Some("5.0")
    );
    assert_refused(
        &switched("cp"),
        15,
        &["weaning.device 'cp'", "600 s", "devices then: 5.0"],
    );
    // A device added by an event after the start is not there yet.
    let late = format!(
        "[course]\nduration = \"1 h\"\n[[events]]\nat = \"20 min\"\n\
         do = {{ add_device = {{ model = \"cp\", p_level = 8 }} }}\n{weaning}"
    );
    assert_refused(&late, 8, &["weaning needs a device", "devices then: none"]);
}

#[test]
fn weaning_until_and_start_are_within_the_device_and_the_course() {
    let w = |keys: &str| {
        course(
            "1 h",
            &format!("[weaning]\nstep = -2\ndwell = \"10 min\"\n{keys}\n"),
        )
    };
    assert_refused(
        &w("start = \"10 min\"\nuntil = 99"),
        12,
        &["weaning.until = 99", "cp", "allowed: 0 to 9"],
    );
    assert_refused(
        &w("start = \"2 h\""),
        11,
        &["weaning.start = 7200 s", "end of the course (3600 s)"],
    );
    assert!(parse(&w("start = \"10 min\"\nuntil = 9"), None, &[]).is_ok());
}

#[test]
fn over_on_an_action_without_duration_is_refused() {
    for action in [
        "drug = \"norepinephrine\", dose = 0.1",
        "p_level = 6",
        "set = { \"heart.hr\" = 80 }",
        "switch_device = { model = \"5.0\", p_level = 8 }",
    ] {
        let text = course(
            "1 h",
            &format!("[[events]]\nat = \"1 min\"\ndo = {{ {action}, over = \"10 min\" }}\n"),
        );
        assert_refused(&text, 10, &["`over`", "ramp or of fluid_ml"]);
    }
    let ramp = course(
        "1 h",
        "[[events]]\nat = \"1 min\"\ndo = { set = { \"heart.hr\" = 80 }, fluid_ml = 200, over = \"10 min\" }\n",
    );
    assert!(parse(&ramp, None, &[]).is_ok());
}

#[test]
fn a_course_is_at_most_30_days() {
    assert_refused(
        &course("31 d", ""),
        7,
        &["course.duration = 2678400 s", "at most 2592000 s (30 d)"],
    );
    assert_refused(&course("1e300 h", ""), 7, &["course.duration", "30 d"]);
    assert!(parse(&course("30 d", ""), None, &[]).is_ok());
}

#[test]
fn a_repeating_trigger_needs_a_cooldown_and_a_cooldown_needs_repeat() {
    let t = |keys: &str| {
        course(
            "1 h",
            &format!("[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 60\n{keys}\ndo = {{ p_level = \"+1\" }}\n"),
        )
    };
    assert_refused(
        &t("repeat = true"),
        12,
        &["triggers[0]", "`cooldown` of at least 30 s", "got 0 s"],
    );
    assert_refused(
        &t("repeat = true\ncooldown = \"1 s\""),
        12,
        &["at least 30 s", "got 1 s"],
    );
    assert_refused(
        &t("cooldown = \"5 min\""),
        11,
        &["triggers[0].cooldown", "repeat = true"],
    );
    assert!(parse(&t("repeat = true\ncooldown = \"30 s\""), None, &[]).is_ok());
}

#[test]
fn triggers_that_would_fail_when_they_fire_are_refused() {
    // Starting weaning without a protocol used to panic when the trigger fired.
    let text = course(
        "1 h",
        "[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 200\ndo = { start_weaning = true }\n",
    );
    assert_refused(
        &text,
        11,
        &["triggers[0] starts weaning", "no [weaning] section"],
    );
    let rp = "do = { add_device = { model = \"rp\", p_level = 6 } }\n";
    // A repeating trigger would add a second RP when it fires again.
    let repeat = course(
        "1 h",
        &format!("[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 200\nrepeat = true\ncooldown = \"1 min\"\n{rp}"),
    );
    assert_refused(&repeat, 13, &["add_device", "fires once", "Right"]);
    // So would one after an event put an RP in.
    let after_event = course(
        "1 h",
        &format!(
            "[[events]]\nat = \"30 min\"\n{rp}[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 200\n{rp}"
        ),
    );
    assert_refused(&after_event, 14, &["add_device", "occupies"]);
    let once = course(
        "1 h",
        &format!("[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 200\n{rp}"),
    );
    assert!(parse(&once, None, &[]).is_ok());
}

#[test]
fn removals_beyond_what_the_patient_can_lose_are_refused_naming_the_events() {
    // SCAI C LV: blood volume 5100 mL, unstressed 3385 mL, 200 mL kept: 1515 mL to lose.
    let bleed = |events: &str| course("2 h", events);
    let e = |at: &str, ml: i32, over: &str| {
        format!("[[events]]\nat = \"{at}\"\ndo = {{ fluid_ml = {ml}, over = \"{over}\" }}\n")
    };
    let two = format!("{}{}", e("10 min", -1000, "1 h"), e("1 h", -600, "30 min"));
    // At the removal that goes past it, naming each.
    assert_refused(
        &bleed(&two),
        13,
        &[
            "removes 1600 mL",
            "events[0] 1000 mL, events[1] 600 mL",
            "at most 1515 mL",
            "blood_volume 5100 mL",
            "unstressed volume 3385 mL",
        ],
    );
    // The bleeding complication's 500 mL counts when its hazard is positive.
    let with_complication = format!(
        "{}[complications]\nhazards = {{ bleeding = 0.01 }}\n",
        e("10 min", -1100, "2 h")
    );
    assert_refused(
        &bleed(&with_complication),
        12,
        &["removes 1600 mL", "the bleeding complication 500 mL"],
    );
    // All of it, at the fastest rate allowed, runs.
    let whole = bleed(&e("10 min", -1515, "91 s"));
    let r = parse(&whole, None, &[]).unwrap().simulate();
    assert!(r.is_ok(), "{r:?}");
    // Too fast: the veins empty before the circulation refills them.
    assert_refused(
        &bleed(&e("10 min", -1000, "30 s")),
        10,
        &["fluid_ml = -1000", "2000 mL/min", "at most 1000 mL/min"],
    );
}

#[test]
fn input_files_are_read_up_to_10_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.toml");
    let line = format!("# {}\n", "x".repeat(1000));
    std::fs::write(&big, line.repeat(11 * 1024)).unwrap();
    let e = scenario::load(&big, &[]).unwrap_err().to_string();
    assert!(
        e.contains("big.toml") && e.contains("larger than 10 MiB"),
        "{e}"
    );
    let e = impella_sim::sweep::SweepPlan::load(&big, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than 10 MiB"), "{e}");
    let e = impella_sim::devices::Catalogue::load_file(&big)
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than 10 MiB"), "{e}");
    if Path::new("/dev/zero").exists() {
        let e = scenario::load(Path::new("/dev/zero"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 10 MiB"), "{e}");
    }
}

#[test]
fn the_command_line_fails_without_outputs_and_names_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(
        &file,
        course(
            "1 h",
            "[[triggers]]\nmetric = \"map_mmhg\"\nbelow = nan\ndo = { p_level = 6 }\n",
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_impella-sim"))
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains("s.toml:10:9") && e.contains("triggers[0].below"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    assert!(!out.join("summary.json").exists());
}

#[test]
fn a_sweep_has_at_most_a_million_cases() {
    let list = |n: usize, from: f64| {
        (0..n)
            .map(|i| format!("{:?}", from + i as f64 * 1e-4))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "[sweep]\n\"heart.hr\" = [{}]\n\"lv.ees\" = [{}]\n",
        list(1001, 60.0),
        list(1000, 0.5)
    );
    let e = impella_sim::sweep::SweepPlan::parse(&text, Path::new("big.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("more than 1000000 cases") && e.contains("split it"),
        "{e}"
    );
}

#[test]
fn a_compartment_run_dry_by_a_repeating_bleed_names_the_trigger() {
    // Counted once (1000 mL) it passes the removal rule; firing every 30 s it drains.
    let text = course(
        "10 min",
        "[[triggers]]\nlabel = \"ooze\"\nmetric = \"hr_bpm\"\nabove = 0\nrepeat = true\n\
         cooldown = \"30 s\"\ndo = { fluid_ml = -1000, over = \"1 min\" }\n",
    );
    let sc = parse(&text, None, &[]).unwrap();
    let e = sc.simulate().unwrap_err();
    let text = sc.explain(&e);
    assert!(
        text.contains("became negative")
            && text.contains("trigger 'ooze' (1000 mL over 60 s each time it fires)"),
        "{text}"
    );
}

//! Mutation fuzzing of the shipped scenarios: seeded random edits (lines deleted, duplicated
//! or swapped, numbers replaced by extremes, strings swapped, brackets dropped, unknown keys
//! inserted, text cut short) must never make reading a scenario or sweep panic, nor the short
//! simulation of a mutant that reads, nor writing its outputs. The suite runs a few hundred mutants;
//! `IMPELLA_FUZZ_MUTANTS=10000 cargo test --release --test fuzz -- --nocapture` (or the ignored
//! test) runs more. Counts run and what they found: docs/scenarios.md, "Mutation fuzzing".

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use impella_sim::engine::protocol::Course;
use impella_sim::engine::Action;
use impella_sim::output::RunWriter;
use impella_sim::scenario::{self, PictureFormats, Scenario};
use impella_sim::sweep::SweepPlan;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Every shipped scenario and sweep: (path, text).
fn shipped() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("teaching"), root.join("sweeps")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&p).unwrap();
                files.push((p, text));
            }
        }
    }
    files.sort();
    files
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "1e-300",
    "255",
    "256",
    "-129",
    "4294967296",
    "99999999999999999999",
    "0.5",
    "-0.0",
    "9",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\"x\"",
    "\"0 s\"",
    "\"1e308 h\"",
    "\"-1 s\"",
    "\"nan s\"",
    "\"1 ms\"",
    "\"30 d\"",
    "\"rp\"",
    "\"cp\"",
    "\"5.5\"",
    "\"too_deep\"",
    "\"inlet_in_aorta\"",
    "\"none\"",
    "\"+9\"",
    "\"-200\"",
    "\"map_mmhg\"",
    "\"lv.ees\"",
    "\"scai_e_biv\"",
    "\"/dev/zero\"",
    "\"cp@99\"",
];

const KEYS: &[&str] = &[
    "bogus = 1",
    "[course]\nduration = \"30 s\"",
    "[[events]]\nat = \"1 s\"\ndo = { start_weaning = true }",
    "[[events]]\nat = \"2 s\"\ndo = { add_device = { model = \"rp\", p_level = 9 } }",
    "[[events]]\nat = \"3 s\"\ndo = { remove_device = \"cp\" }",
    "[[events]]\nat = \"4 s\"\ndo = { fluid_ml = -5000, over = \"1 ms\" }",
    "[[triggers]]\nmetric = \"map_mmhg\"\nbelow = 1e308\ndo = { switch_device = { model = \"rp\", p_level = 0 } }",
    "[[triggers]]\nmetric = \"hr_bpm\"\nabove = 0\ndo = { start_weaning = true }",
    "[weaning]\nstart = \"5 s\"\nstep = -128\ndwell = \"1 ms\"\nuntil = 0",
    "[complications]\nhazards = { bleeding = 1, device_stop = 1, malposition = 1 }",
    "[[devices]]\nmodel = \"5.5\"\np_level = 9",
    "[sweep]\ndevice = [\"none\", \"rp@9\", \"cp\"]",
    "[cohort]\nn = 3\n[cohort.vary.\"lv.ees\"]\ndistribution = \"uniform\"\nmin = 0\nmax = 1e308",
    "[patient.set]\n\"heart.hr\" = 300",
];

/// Replaces one number of `line` (one quoted string, with `quoted`) by `with`.
fn replace_token(line: &str, rng: &mut StdRng, quoted: bool, with: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if quoted && bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
            if i < bytes.len() {
                spans.push((start, i + 1));
            }
            i += 1;
        } else if !quoted && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || b".-+".contains(&bytes[i]))
            {
                i += 1;
            }
            spans.push((start, i));
        } else if bytes[i] == b'"' {
            // Skip strings when looking for numbers.
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += 1;
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    if spans.is_empty() {
        return None;
    }
    let (a, b) = spans[rng.random_range(0..spans.len())];
    Some(format!("{}{with}{}", &line[..a], &line[b..]))
}

/// One to three random edits of `text`.
fn mutate(text: &str, rng: &mut StdRng) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..rng.random_range(1..=3) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..10) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            3 | 4 => {
                // A number somewhere (retry a few lines to find one).
                for _ in 0..8 {
                    let k = rng.random_range(0..lines.len());
                    let with = NUMBERS[rng.random_range(0..NUMBERS.len())];
                    if let Some(l) = replace_token(&lines[k], rng, false, with) {
                        lines[k] = l;
                        break;
                    }
                }
            }
            5 => {
                for _ in 0..8 {
                    let k = rng.random_range(0..lines.len());
                    let with = STRINGS[rng.random_range(0..STRINGS.len())];
                    if let Some(l) = replace_token(&lines[k], rng, true, with) {
                        lines[k] = l;
                        break;
                    }
                }
            }
            6 => {
                let l = &lines[i];
                if let Some(p) = l.find(['[', ']', '{', '}', '"', '=']) {
                    let mut l = l.clone();
                    l.remove(p);
                    lines[i] = l;
                }
            }
            7 | 8 => {
                // Inside a table (often invalid), or appended (a new section that reads).
                let k = KEYS[rng.random_range(0..KEYS.len())];
                let at = if rng.random_bool(0.5) { i } else { lines.len() };
                lines.insert(at, k.to_string());
            }
            _ => {
                let l = &lines[i];
                let cut = rng.random_range(0..=l.len());
                if l.is_char_boundary(cut) {
                    lines[i] = l[..cut].to_string();
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Longest simulated course of a mutant, s: its times are compressed into this.
const SHORT_COURSE_S: f64 = 30.0;

/// A mutant's scenario made quick to simulate: few beats to stabilise, and its course (if
/// longer than [`SHORT_COURSE_S`]) compressed in time, rates (fluids, hazards) kept.
fn shorten(mut sc: Scenario) -> Scenario {
    sc.run.max_beats = sc.run.max_beats.min(20);
    sc.run.report_beats = sc.run.report_beats.min(5);
    if let Some(c) = sc.course.as_mut() {
        compress(c);
    }
    sc
}

fn compress(c: &mut Course) {
    if c.duration_s <= SHORT_COURSE_S {
        return;
    }
    let k = SHORT_COURSE_S / c.duration_s;
    c.duration_s = SHORT_COURSE_S;
    let actions = |list: &mut Vec<Action>| {
        for a in list {
            match a {
                Action::Ramp { over_s, .. } => *over_s *= k,
                Action::Fluid { volume_ml, over_s } => {
                    *over_s *= k;
                    *volume_ml *= k;
                }
                _ => {}
            }
        }
    };
    for e in &mut c.events {
        e.at_s *= k;
        actions(&mut e.actions);
    }
    for t in &mut c.triggers {
        t.sustained_s *= k;
        t.cooldown_s *= k;
        actions(&mut t.actions);
    }
    if let Some(w) = c.weaning.as_mut() {
        w.start_s = w.start_s.map(|s| s * k);
        w.dwell_s *= k;
        w.retry_after_s *= k;
    }
    for (_, per_hour) in &mut c.complications {
        *per_hour /= k;
    }
}

/// Reads a mutant (as a sweep when it has [sweep] or [cohort]) and simulates what reads.
/// Returns whether it was read and whether a simulation ran to the end.
/// Pictures are drawn only with `pictures` (they take most of the time).
fn exercise(file: &Path, text: &str, pictures: bool) -> (bool, bool) {
    let scenarios: Vec<Scenario> = if text.contains("[sweep") || text.contains("[cohort") {
        match SweepPlan::parse(text, file, &[]) {
            Ok(plan) => (0..plan.len().min(3))
                .filter_map(|c| plan.scenario(c).ok())
                .collect(),
            Err(_) => return (false, false),
        }
    } else {
        match scenario::parse(text, Some(file), &[]) {
            Ok(s) => vec![s],
            Err(_) => return (false, false),
        }
    };
    let mut simulated = false;
    for sc in scenarios {
        let mut sc = shorten(sc);
        if !pictures {
            sc.pv_loop = PictureFormats::None;
        }
        if let Ok(r) = sc.simulate() {
            simulated = true;
            // The outputs too: tables, summary and pictures of whatever the mutant made.
            let dir = tempfile::tempdir().unwrap();
            let writer = RunWriter::begin(dir.path(), &sc).unwrap();
            writer.finish(&sc, &r).unwrap();
        }
    }
    (true, simulated)
}

/// Panics caught while fuzzing: (mutant, message).
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs `n` mutants from `seed`, drawing the pictures of every `pictures_every`-th; returns
/// (read, simulated) counts, failing on any panic.
fn fuzz(n: usize, seed: u64, pictures_every: usize) -> (usize, usize) {
    let files = shipped();
    let mut rng = StdRng::seed_from_u64(seed);
    // Panics are collected with their mutant rather than printed.
    std::panic::set_hook(Box::new(|info| {
        PANICS.lock().unwrap().push(info.to_string());
    }));
    let (mut read, mut simulated) = (0, 0);
    let mut failures = Vec::new();
    for m in 0..n {
        let (file, text) = &files[rng.random_range(0..files.len())];
        let mutant = mutate(text, &mut rng);
        let pictures = m % pictures_every == 0;
        match catch_unwind(AssertUnwindSafe(|| exercise(file, &mutant, pictures))) {
            Ok((r, s)) => {
                read += usize::from(r);
                simulated += usize::from(s);
            }
            Err(_) => {
                let what = PANICS.lock().unwrap().pop().unwrap_or_default();
                failures.push(format!(
                    "mutant {m} of {}: {what}\n{mutant}",
                    file.display()
                ));
            }
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        failures.is_empty(),
        "{} of {n} mutants panicked; the first:\n{}",
        failures.len(),
        failures[0]
    );
    println!("{n} mutants (seed {seed}): {read} read, {simulated} simulated to the end, 0 panics");
    (read, simulated)
}

fn mutants_from_env(default: usize) -> usize {
    std::env::var("IMPELLA_FUZZ_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutants_of_the_shipped_scenarios_never_panic() {
    let (read, simulated) = fuzz(mutants_from_env(300), 25, 10);
    // The edits are small: many mutants still read, and some simulate.
    assert!(
        read > 30 && simulated > 10,
        "{read} read, {simulated} simulated"
    );
}

/// The long run recorded in docs/scenarios.md.
#[test]
#[ignore = "a few minutes; run by hand: cargo test --release --test fuzz -- --ignored"]
fn ten_thousand_mutants_never_panic() {
    fuzz(10_000, 2025, 4);
}

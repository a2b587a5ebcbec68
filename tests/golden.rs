//! Golden outputs: every shipped scenario's summary.json, beats.csv and events.csv (cases.csv
//! for sweeps) are stored in tests/golden/ and compared here, numbers at a relative 1e-9.
//!
//! Regenerate after a deliberate model change (and say in the commit which values moved, by
//! how much and why):
//!
//! ```text
//! IMPELLA_GOLDEN=update cargo test --release --test golden
//! ```

use std::path::{Path, PathBuf};

use impella_sim::scenario::{self, PictureFormats};
use impella_sim::sweep::{self, SweepOptions};

/// Relative tolerance on numbers (absolute below 1e-12): the outputs are deterministic, the
/// slack only absorbs a libm that rounds a last bit differently.
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn updating() -> bool {
    std::env::var("IMPELLA_GOLDEN").is_ok_and(|v| v == "update")
}

/// Shipped files, relative to the crate root (as a user passes them, so provenance agrees).
fn shipped(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("scenario folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.ends_with(".toml").then(|| format!("{dir}/{name}"))
        })
        .collect();
    files.sort();
    files
}

fn is_sweep(path: &str) -> bool {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .expect("scenario text");
    text.lines()
        .any(|l| matches!(l.trim(), "[sweep]" | "[cohort]") || l.trim().starts_with("[sweep."))
}

fn numbers_agree(a: f64, b: f64) -> bool {
    a == b
        || (a.is_nan() && b.is_nan())
        || (a - b).abs() <= ABS_TOL
        || (a - b).abs() <= REL_TOL * a.abs().max(b.abs())
}

/// Compares two CSV texts cell by cell: numbers within tolerance, text exactly.
fn compare_csv(name: &str, got: &str, want: &str) -> Result<(), String> {
    let read = |s: &str| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(s.as_bytes())
            .records()
            .map(|r| r.expect("csv").iter().map(str::to_string).collect())
            .collect()
    };
    let (g, w) = (read(got), read(want));
    if g.len() != w.len() {
        return Err(format!("{name}: {} rows, golden has {}", g.len(), w.len()));
    }
    for (i, (gr, wr)) in g.iter().zip(&w).enumerate() {
        if gr.len() != wr.len() {
            return Err(format!(
                "{name}: row {i} has {} cells, golden {}",
                gr.len(),
                wr.len()
            ));
        }
        for (j, (gc, wc)) in gr.iter().zip(wr).enumerate() {
            let same = match (gc.parse::<f64>(), wc.parse::<f64>()) {
                (Ok(x), Ok(y)) => numbers_agree(x, y),
                _ => gc == wc,
            };
            if !same {
                let col = w[0].get(j).map_or("?", String::as_str);
                return Err(format!(
                    "{name}: row {i}, column {col}: got {gc:?}, golden {wc:?}"
                ));
            }
        }
    }
    Ok(())
}

fn compare_json(at: &str, got: &serde_json::Value, want: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().expect("f64"), b.as_f64().expect("f64"));
            numbers_agree(a, b)
                .then_some(())
                .ok_or_else(|| format!("{at}: got {a}, golden {b}"))
        }
        // The commit a binary was built from differs with every commit.
        _ if at.ends_with(".provenance.git_commit") => Ok(()),
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            if ka != kb {
                return Err(format!("{at}: keys {ka:?}, golden {kb:?}"));
            }
            a.iter()
                .try_for_each(|(k, v)| compare_json(&format!("{at}.{k}"), v, &b[k]))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("{at}: {} items, golden {}", a.len(), b.len()));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .try_for_each(|(i, (x, y))| compare_json(&format!("{at}[{i}]"), x, y))
        }
        _ => (got == want)
            .then_some(())
            .ok_or_else(|| format!("{at}: got {got}, golden {want}")),
    }
}

/// Compares (or, when updating, stores) the files `names` of `out` against golden/`stem`/.
fn check(stem: &str, out: &Path, names: &[&str]) -> Result<(), String> {
    let dir = golden_dir().join(stem);
    for name in names {
        let got =
            std::fs::read_to_string(out.join(name)).map_err(|e| format!("{stem}/{name}: {e}"))?;
        let path = dir.join(name);
        if updating() {
            std::fs::create_dir_all(&dir).expect("golden dir");
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (IMPELLA_GOLDEN=update regenerates)",
                path.display()
            )
        })?;
        if name.ends_with(".json") {
            let g: serde_json::Value = serde_json::from_str(&got).expect("json");
            let w: serde_json::Value = serde_json::from_str(&want).expect("golden json");
            compare_json(&format!("{stem}/{name}"), &g, &w)?;
        } else {
            compare_csv(&format!("{stem}/{name}"), &got, &want)?;
        }
    }
    Ok(())
}

fn run_case(path: &str) -> Result<(), String> {
    let stem = path
        .trim_start_matches("scenarios/")
        .trim_end_matches(".toml");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    if is_sweep(path) {
        let opts = SweepOptions {
            threads: Some(1),
            ..SweepOptions::default()
        };
        sweep::run_sweep(Path::new(path), &[], &out, &opts).map_err(|e| e.to_string())?;
        check(stem, &out, &["cases.csv"])
    } else {
        let mut sc = scenario::load(Path::new(path), &[]).map_err(|e| e.to_string())?;
        // The golden files do not depend on pictures or the timeseries: skip their cost.
        sc.pv_loop = PictureFormats::None;
        sc.timeseries.extent = scenario::TimeseriesExtent::None;
        let result = sc.simulate().map_err(|e| e.to_string())?;
        impella_sim::output::write_run(&out, &sc, &result).map_err(|e| e.to_string())?;
        check(stem, &out, &["summary.json", "beats.csv", "events.csv"])
    }
}

#[test]
fn every_shipped_scenario_matches_its_golden_outputs() {
    // Relative paths, as a user types them: cargo runs tests in the crate root.
    let mut files = shipped("scenarios");
    files.extend(shipped("scenarios/teaching"));
    files.extend(shipped("scenarios/sweeps"));
    assert!(files.len() >= 25, "shipped scenarios found: {files:?}");
    let failures: Vec<String> = files.iter().filter_map(|f| run_case(f).err()).collect();
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
    // Every golden folder belongs to a shipped scenario (none left behind by a rename).
    if !updating() {
        let stems: Vec<String> = files
            .iter()
            .map(|f| {
                f.trim_start_matches("scenarios/")
                    .trim_end_matches(".toml")
                    .to_string()
            })
            .collect();
        for group in ["", "teaching", "sweeps"] {
            for e in std::fs::read_dir(golden_dir().join(group)).expect("golden dir") {
                let e = e.expect("entry");
                let name = e.file_name().into_string().expect("utf-8");
                let stem = if group.is_empty() {
                    name
                } else {
                    format!("{group}/{name}")
                };
                if e.path().join("summary.json").exists() || e.path().join("cases.csv").exists() {
                    assert!(
                        stems.contains(&stem),
                        "golden/{stem} has no shipped scenario"
                    );
                }
            }
        }
    }
}

#[test]
fn the_comparison_tolerates_rounding_but_not_change() {
    assert!(compare_csv("x", "a,b\n1.0,x\n", "a,b\n1.0000000000001,x\n").is_ok());
    assert!(compare_csv("x", "a,b\n1.0,x\n", "a,b\n1.001,x\n").is_err());
    assert!(compare_csv("x", "a,b\n1.0,x\n", "a,b\n1.0,y\n").is_err());
    assert!(compare_csv("x", "a\n1\n", "a\n1\n2\n").is_err());
    let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert!(compare_json(
        "s",
        &j(r#"{"a":[1.0,"p"]}"#),
        &j(r#"{"a":[1.0000000000001,"p"]}"#)
    )
    .is_ok());
    assert!(compare_json("s", &j(r#"{"a":1.0}"#), &j(r#"{"a":1.1}"#)).is_err());
    assert!(compare_json("s", &j(r#"{"a":1.0}"#), &j(r#"{"b":1.0}"#)).is_err());
}

//! Every command of README.md runs as written, in the order written, on a fresh copy of the
//! shipped scenarios (`cargo run --release --` stands for the built binary; `cargo test` and
//! `cargo bench` are left to CI and the benchmarks).

use std::path::Path;
use std::process::Command;

/// The commands of README's code blocks, in order.
fn commands() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside;
            continue;
        }
        if inside && line.starts_with("cargo ") {
            out.push(line.to_string());
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn every_readme_command_runs_in_order() {
    let all = commands();
    assert!(
        all.iter().any(|c| c.starts_with("cargo test")),
        "README names its test command"
    );
    let runs: Vec<&String> = all
        .iter()
        .filter(|c| c.starts_with("cargo run --release --"))
        .collect();
    assert!(runs.len() >= 15, "{runs:?}");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")),
        &dir.path().join("scenarios"),
    );
    let bin = env!("CARGO_BIN_EXE_impella-sim");
    for c in runs {
        let line = c.replacen("cargo run --release --", bin, 1);
        let o = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(dir.path())
            .output()
            .expect("sh runs");
        assert!(
            o.status.success(),
            "README command failed: {c}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for made in [
        "my_case.toml",
        "loops.png",
        "runs/grid/charts",
        "impella-sim.bash",
        "impella-sim.schema.json",
    ] {
        assert!(dir.path().join(made).exists(), "{made}");
    }
}

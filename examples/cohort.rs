//! A virtual cohort from Rust: run the shipped SCAI C cohort sweep and analyse its cases —
//! how much a CP lowers LVEDP across patients.
//!
//! `cargo run --release --example cohort`

use std::path::Path;

use impella_sim::sweep::{run_sweep, SweepOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join("impella-sim-example-cohort");
    let report = run_sweep(
        Path::new("scenarios/sweeps/cohort_scai_c_lv.toml"),
        &[],
        &out,
        &SweepOptions::default(),
    )?;
    println!(
        "{} cases ({} failed) in {}",
        report.cases_total,
        report.cases_failed,
        report.cases_csv.display()
    );

    // cases.csv: the inputs of each case, its status, then every metric.
    let mut reader = csv::Reader::from_path(&report.cases_csv)?;
    let header = reader.headers()?.clone();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(device), Some(lvedp), Some(status)) =
        (col("device"), col("lvedp_mmhg"), col("status"))
    else {
        return Err("cases.csv lacks device, lvedp_mmhg or status".into());
    };
    let mut by_device: Vec<(String, Vec<f64>)> = Vec::new();
    for row in reader.records() {
        let row = row?;
        if &row[status] != "ok" {
            continue;
        }
        let v: f64 = row[lvedp].parse()?;
        match by_device.iter_mut().find(|(d, _)| d == &row[device]) {
            Some((_, vs)) => vs.push(v),
            None => by_device.push((row[device].to_string(), vec![v])),
        }
    }
    for (d, mut vs) in by_device {
        vs.sort_by(f64::total_cmp);
        println!(
            "{d:>8}: LVEDP median {:.1} mmHg (range {:.1}–{:.1}, n = {})",
            vs[vs.len() / 2],
            vs[0],
            vs[vs.len() - 1],
            vs.len()
        );
    }
    Ok(())
}

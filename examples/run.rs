//! Run a shipped scenario from Rust and read its results: what `impella-sim run` does.
//!
//! `cargo run --release --example run [scenarios/impella_cp.toml]`

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "scenarios/impella_cp.toml".into());
    let scenario = impella_sim::scenario::load(Path::new(&file), &[])?;
    // Outputs (summary.json, beats.csv, pictures …) as the CLI writes them.
    let out = std::env::temp_dir().join("impella-sim-example-run");
    let (result, written) = impella_sim::output::simulate_and_write(&out, &scenario)?;

    let m = &result.report;
    println!("{}", scenario.title);
    println!(
        "steady state after {} beats: MAP {:.0} mmHg, total flow {:.2} L/min, LVEDP {:.1} mmHg, \
         PVA {:.0} mmHg·mL",
        result.steady.beats, m.map_mmhg, m.total_flow_l_min, m.lvedp_mmhg, m.pva_mmhg_ml
    );
    for p in &result.devices {
        println!(
            "{} at P{}: {:.2} L/min",
            p.name,
            p.p_level(),
            m.pump_flow_l_min
        );
    }
    // Every metric with its unit, from the one registry the outputs use.
    for (info, v) in impella_sim::analysis::BeatMetrics::INFO
        .iter()
        .zip(m.values())
        .take(6)
    {
        println!("  {:<28} {v:>9.2} {}", info.label, info.unit);
    }
    println!("wrote {} files into {}", written.len(), out.display());
    Ok(())
}

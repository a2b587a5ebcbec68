//! Drive the engine yourself: stabilise a patient in shock, put in a CP, step it up while
//! watching each beat, then wean it — the stepping API a notebook or a live page uses.
//!
//! `cargo run --release --example course`

use impella_sim::engine::{Action, Advance, Beat, Engine, LevelChange};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sc = impella_sim::scenario::parse(
        "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 2\n",
        None,
        &[],
    )?;
    let mut engine = Engine::new(sc.engine_spec())?;
    let steady = engine.stabilise(&mut |_: &Beat| {})?;
    println!("stable after {} beats at P2", steady.beats);

    println!("  t (s)  P  LVEDP (mmHg)  MAP (mmHg)  pump (L/min)");
    for level in [4, 6, 8, 6, 4, 2] {
        engine.apply(&Action::PLevel {
            device: None,
            change: LevelChange::To(level),
        });
        // 20 s at each level; the closure sees every beat as the engine makes it.
        let mut last: Option<Beat> = None;
        engine.advance(Advance::Seconds(20.0), &mut |b: &Beat| {
            last = Some(b.clone())
        })?;
        let b = last.expect("20 s holds beats");
        println!(
            "{:7.1}  {level}  {:12.1}  {:10.0}  {:12.2}",
            b.clock.t_start, b.metrics.lvedp_mmhg, b.metrics.map_mmhg, b.metrics.pump_flow_l_min
        );
    }
    // What happened, as typed events (events.csv renders the same list).
    for e in engine.events() {
        println!("{:8.1} s  {:<8} {e}", e.t_s, e.cause.kind());
    }
    Ok(())
}

//! impella-sim: a closed-loop lumped-parameter (0D) circulation with Impella pump models.
//!
//! Research and teaching tool, not a medical device.
//!
//! Data flows one way: [`scenario`] (typed input) → [`engine`] (stabilise, advance beat by
//! beat, apply actions; the model in [`physiology`] and [`devices`], integrated by
//! [`solver`], measured by [`analysis`]) → beat records and events → [`output`].
//! docs/architecture.md draws it.
//!
//! ```
//! use impella_sim::engine::{Action, Advance, Discard, Engine, LevelChange};
//!
//! let sc = impella_sim::scenario::parse(
//!     "[patient]\npreset = \"scai_c_lv\"\n[[devices]]\nmodel = \"cp\"\np_level = 2\n",
//!     None,
//!     &[],
//! )
//! .unwrap();
//! let mut engine = Engine::new(sc.engine_spec()).unwrap();
//! engine.stabilise(&mut Discard).unwrap();
//! let before = engine.metrics().unwrap().lvedp_mmhg;
//! engine.apply(&Action::PLevel { device: None, change: LevelChange::To(8) });
//! engine.advance(Advance::Seconds(30.0), &mut Discard).unwrap();
//! assert!(engine.metrics().unwrap().lvedp_mmhg < before); // the CP unloads the LV
//! ```

// Modules marked missing_docs have every public item documented; CI (clippy -D warnings)
// keeps them so. The others are to follow.
#[warn(missing_docs)]
pub mod analysis;
#[warn(missing_docs)]
pub mod devices;
#[warn(missing_docs)]
pub mod engine;
mod exp;
pub mod output;
#[warn(missing_docs)]
pub mod physiology;
mod roots;
#[warn(missing_docs)]
pub mod scenario;
#[warn(missing_docs)]
pub mod solver;
pub mod sweep;
mod text_position;
pub mod validation;

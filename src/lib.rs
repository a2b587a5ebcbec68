//! impella-sim: a closed-loop lumped-parameter (0D) circulation with Impella pump models.
//!
//! Research and teaching tool, not a medical device.
//!
//! Data flow: `scenario` (typed input) -> `physiology` + `devices` (the model)
//! -> `solver` (integration) -> `analysis` (beats, metrics, steady state) -> `output`.

pub mod analysis;
pub mod devices;
pub mod engine;
mod exp;
pub mod output;
pub mod physiology;
mod roots;
pub mod scenario;
pub mod solver;
pub mod sweep;
mod text_position;
pub mod validation;

//! Analysis: per-beat metrics and periodic steady state.

pub mod beat;
pub mod steady;

pub use beat::{beat_metrics, BeatMetrics};
pub use steady::beat_to_beat_change;

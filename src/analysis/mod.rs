//! Analysis: per-beat metrics and periodic steady state.

pub mod beat;
pub mod console;
pub mod steady;

pub use beat::{beat_metrics, ActivationMemo, BeatMetrics, MetricGroup, MetricInfo};
pub use console::Alarm;
pub use steady::beat_to_beat_change;

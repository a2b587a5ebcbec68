//! Physiology: chambers, valves, vessels, their assembly into a closed loop, and presets.
//! Knows nothing of files, TOML or plotting.

pub mod activation;
pub mod circulation;
pub mod drugs;
pub mod elements;
pub mod parameters;
pub mod presets;
pub mod reflex;

pub use circulation::{
    Circulation, Hemodynamics, MetricBlock, MetricPressures, Slot, State, N_STATES,
};
pub use parameters::{ParameterError, Parameters, PARAMETERS};

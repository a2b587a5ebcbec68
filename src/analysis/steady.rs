//! Periodic steady state: the state at successive beat onsets stops changing.

use crate::physiology::{Slot, State};

/// Floors of the relative change, so states near zero do not dominate: mL for volumes,
/// mL/s for flows.
const VOLUME_FLOOR_ML: f64 = 10.0;
const FLOW_FLOOR_ML_S: f64 = 50.0;

/// Largest relative change of any state between two beat onsets:
/// max_i |y_i − y'_i| / max(|y_i|, floor_i).
pub fn beat_to_beat_change(prev: &State, next: &State) -> f64 {
    Slot::ALL
        .iter()
        .map(|s| {
            let floor = if Slot::VOLUMES.contains(s) {
                VOLUME_FLOOR_ML
            } else {
                FLOW_FLOOR_ML_S
            };
            let i = s.i();
            (next[i] - prev[i]).abs() / prev[i].abs().max(floor)
        })
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_states_have_no_change_and_scaling_is_relative() {
        let mut a = State::zeros();
        a[Slot::VLv.i()] = 100.0;
        assert_eq!(beat_to_beat_change(&a, &a), 0.0);
        let mut b = a;
        b[Slot::VLv.i()] = 101.0;
        assert!((beat_to_beat_change(&a, &b) - 0.01).abs() < 1e-12);
    }
}

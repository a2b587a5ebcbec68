//! Small systems with known solutions for the integrators' unit tests.

use super::{Branches, OdeSystem, Switches};
use crate::physiology::State;

/// dy0/dt = y1, dy1/dt = −y0: a harmonic oscillator, y0 = cos t from y = (1, 0).
pub struct Oscillator;

impl OdeSystem for Oscillator {
    fn rhs(&self, _t: f64, y: &State, dy: &mut State) {
        *dy = State::zeros();
        dy[0] = y[1];
        dy[1] = -y[0];
    }
}

/// dy0/dt = 1, dy1/dt = max(y0 − 1/2, 0) from y = 0: a kink in f at y0 = 1/2 (as a valve has at
/// ΔP = 0), reported as switching function g = y0 − 1/2; y1(t) = (t − 1/2)²/2 after it.
pub struct Kink;

impl Kink {
    /// y1 at t = 1.
    pub const Y1_AT_1: f64 = 0.125;
}

impl Kink {
    fn derivatives(y: &State, beyond: bool, dy: &mut State) {
        *dy = State::zeros();
        dy[0] = 1.0;
        dy[1] = if beyond { y[0] - 0.5 } else { 0.0 };
    }
}

impl OdeSystem for Kink {
    fn rhs(&self, _t: f64, y: &State, dy: &mut State) {
        Self::derivatives(y, y[0] > 0.5, dy);
    }
    fn rhs_on(&self, _t: f64, y: &State, branches: Branches, dy: &mut State) {
        Self::derivatives(y, branches & 1 == 1, dy);
    }
    fn switching(&self, _t: f64, y: &State, g: &mut Switches) -> usize {
        g[0] = y[0] - 0.5;
        1
    }
}

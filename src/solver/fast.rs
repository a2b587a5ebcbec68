//! The fast path: a hand-written explicit Runge–Kutta 5(4) pair on the model's fixed-size
//! state, with Tsitouras's pair (`tsit5`, the default) or Dormand–Prince's (`dopri5-fast`,
//! the reference path's method).
//!
//! Same error norm and step controller as the reference ([`super::Dopri5Integrator`], after
//! Hairer, Nørsett & Wanner, *Solving ODEs I*, II.4–5 and their DOPRI5 code), so the
//! tolerances mean the same kind of thing on every path. Tsitouras's pair has smaller
//! truncation errors than Dormand–Prince's: on the benchmark model it reaches the same error
//! with 7–9 % fewer right-hand sides, and at the benchmark tolerance takes 12–13 % fewer
//! (its error per unit of tolerance is about 1.4× Dormand–Prince's; docs/benchmarks.md).
//! The fast path is more accurate at a given tolerance than the reference because it
//! - holds the branches of the system's piecewise laws through each step
//!   ([`OdeSystem::rhs_on`]) and locates switches: where one of the system's switching
//!   functions (a valve's pressure difference, an onset time) changes sign inside a step, the
//!   step ends there, with the state from its continuous extension, which is accurate up to
//!   the switch because every stage held the branches; the next step starts on the other
//!   branch. So no step integrates across a kink of f, which the error estimate does not
//!   see, and no step is redone for a switch;
//! - restarts with a short step after an onset ([`OdeSystem::step_after`]);
//!
//! and faster because it
//! - keeps the stages on the stack (`State` is `SVector<f64, 14>`) and allocates nothing while
//!   integrating: samples go straight into the caller's `Vec`, reserved once per call;
//! - reuses the last stage of an accepted step as the first of the next (FSAL), and takes the
//!   switching functions at the step's end from that same evaluation;
//! - carries the last step size and the PI controller's memory from one call (beat) to the
//!   next instead of estimating a starting step every beat, and per switch the step the
//!   controller asked for after crossing it, which is the first tried at the next crossing
//!   (an opening valve's fast mode had cost two rejected steps at every opening);
//! - evaluates the continuous extension only where a sample falls.
//!
//! Measurements: docs/benchmarks.md.

use super::{
    branches_of, Branches, Integrator, OdeSystem, Sample, SolverError, SolverSettings, SolverStats,
    Switches, MAX_SWITCHES,
};
use crate::physiology::{State, N_STATES};
use crate::roots::illinois;

/// An explicit Runge–Kutta 5(4) pair with seven stages, the last evaluated at the step's end
/// on the fifth-order solution (first same as last), and a continuous extension of order 4:
/// nodes C, stage weights A, fifth-order increment Σ b_i k_i, error estimate Σ (b_i − b̂_i) k_i
/// and the extension's coefficients, as the fast path uses them.
pub trait Pair {
    /// Scenario name of the fast path with this pair (`solver.method`).
    const NAME: &'static str;
    /// Node c2 of the tableau (likewise c3–c5; c6 = c7 = 1).
    const C2: f64;
    #[allow(missing_docs)]
    const C3: f64;
    #[allow(missing_docs)]
    const C4: f64;
    #[allow(missing_docs)]
    const C5: f64;
    /// Coefficient a21 of the tableau (likewise a_ij below).
    const A21: f64;
    #[allow(missing_docs)]
    const A31: f64;
    #[allow(missing_docs)]
    const A32: f64;
    #[allow(missing_docs)]
    const A41: f64;
    #[allow(missing_docs)]
    const A42: f64;
    #[allow(missing_docs)]
    const A43: f64;
    #[allow(missing_docs)]
    const A51: f64;
    #[allow(missing_docs)]
    const A52: f64;
    #[allow(missing_docs)]
    const A53: f64;
    #[allow(missing_docs)]
    const A54: f64;
    #[allow(missing_docs)]
    const A61: f64;
    #[allow(missing_docs)]
    const A62: f64;
    #[allow(missing_docs)]
    const A63: f64;
    #[allow(missing_docs)]
    const A64: f64;
    #[allow(missing_docs)]
    const A65: f64;
    /// Σ b_i k_i: y_new = y + h·Σ b_i k_i.
    fn increment(k: [&State; 6]) -> State;
    /// Σ (b_i − b̂_i) k_i over all seven stages: the local error estimate is h times it.
    fn error(k: [&State; 7]) -> State;
    /// The continuous extension's four coefficient vectors for the step y → y_new.
    fn extension(y: &State, y_new: &State, k: [&State; 7], h: f64) -> [State; 4];
    /// The continuous extension at θ ∈ [0, 1] from [`Pair::extension`]'s vectors.
    fn extension_at(y: &State, r: &[State; 4], th: f64) -> State;
}

/// Dormand & Prince's 5(4) pair with Shampine's continuous extension, as in Hairer's DOPRI5
/// (the reference path's method): scenario name `dopri5-fast`.
#[derive(Debug, Clone, Copy)]
pub struct DormandPrince;

impl DormandPrince {
    const B1: f64 = 35.0 / 384.0;
    const B3: f64 = 500.0 / 1113.0;
    const B4: f64 = 125.0 / 192.0;
    const B5: f64 = -2187.0 / 6784.0;
    const B6: f64 = 11.0 / 84.0;
    const E1: f64 = 71.0 / 57600.0;
    const E3: f64 = -71.0 / 16695.0;
    const E4: f64 = 71.0 / 1920.0;
    const E5: f64 = -17253.0 / 339200.0;
    const E6: f64 = 22.0 / 525.0;
    const E7: f64 = -1.0 / 40.0;
    const D1: f64 = -12715105075.0 / 11282082432.0;
    const D3: f64 = 87487479700.0 / 32700410799.0;
    const D4: f64 = -10690763975.0 / 1880347072.0;
    const D5: f64 = 701980252875.0 / 199316789632.0;
    const D6: f64 = -1453857185.0 / 822651844.0;
    const D7: f64 = 69997945.0 / 29380423.0;
}

impl Pair for DormandPrince {
    const NAME: &'static str = "dopri5-fast";
    const C2: f64 = 1.0 / 5.0;
    const C3: f64 = 3.0 / 10.0;
    const C4: f64 = 4.0 / 5.0;
    const C5: f64 = 8.0 / 9.0;
    const A21: f64 = 1.0 / 5.0;
    const A31: f64 = 3.0 / 40.0;
    const A32: f64 = 9.0 / 40.0;
    const A41: f64 = 44.0 / 45.0;
    const A42: f64 = -56.0 / 15.0;
    const A43: f64 = 32.0 / 9.0;
    const A51: f64 = 19372.0 / 6561.0;
    const A52: f64 = -25360.0 / 2187.0;
    const A53: f64 = 64448.0 / 6561.0;
    const A54: f64 = -212.0 / 729.0;
    const A61: f64 = 9017.0 / 3168.0;
    const A62: f64 = -355.0 / 33.0;
    const A63: f64 = 46732.0 / 5247.0;
    const A64: f64 = 49.0 / 176.0;
    const A65: f64 = -5103.0 / 18656.0;

    #[inline(always)]
    fn increment(k: [&State; 6]) -> State {
        let [k1, _, k3, k4, k5, k6] = k;
        weighted(
            [Self::B1, Self::B3, Self::B4, Self::B5, Self::B6],
            [k1, k3, k4, k5, k6],
        )
    }

    #[inline(always)]
    fn error(k: [&State; 7]) -> State {
        let [k1, _, k3, k4, k5, k6, k7] = k;
        weighted(
            [Self::E1, Self::E3, Self::E4, Self::E5, Self::E6, Self::E7],
            [k1, k3, k4, k5, k6, k7],
        )
    }

    /// y + θ(r1 + (1−θ)(r2 + θ(r3 + (1−θ)r4))): [r1, r2, r3, r4].
    #[inline(always)]
    fn extension(y: &State, y_new: &State, k: [&State; 7], h: f64) -> [State; 4] {
        let [k1, _, k3, k4, k5, k6, k7] = k;
        let r1 = y_new - y;
        let r2 = k1 * h - r1;
        let r3 = r1 - k7 * h - r2;
        let r4 = weighted(
            [Self::D1, Self::D3, Self::D4, Self::D5, Self::D6, Self::D7],
            [k1, k3, k4, k5, k6, k7],
        ) * h;
        [r1, r2, r3, r4]
    }

    #[inline(always)]
    fn extension_at(y: &State, r: &[State; 4], th: f64) -> State {
        let [r1, r2, r3, r4] = r;
        let th1 = 1.0 - th;
        let mut out = State::zeros();
        for i in 0..N_STATES {
            let c = r4[i]
                .mul_add(th1, r3[i])
                .mul_add(th, r2[i])
                .mul_add(th1, r1[i]);
            out[i] = c.mul_add(th, y[i]);
        }
        out
    }
}

/// Tsitouras's 5(4) pair (Comput. Math. Appl. 62 (2011) 770–775), which drops the simplifying
/// assumptions Dormand–Prince satisfies and so has smaller truncation errors, with its
/// continuous extension b_i(θ) = Σ_j r_ij θ^j: scenario name `tsit5`, the default. Values to
/// 16 digits as the paper gives them (and as DifferentialEquations.jl's Tsit5 uses them).
#[derive(Debug, Clone, Copy)]
pub struct Tsitouras;

impl Tsitouras {
    const B1: f64 = 0.09646076681806523;
    const B2: f64 = 0.01;
    const B3: f64 = 0.4798896504144996;
    const B4: f64 = 1.379008574103742;
    const B5: f64 = -3.290069515436081;
    const B6: f64 = 2.324710524099774;
    const E1: f64 = -0.001780011052225771;
    const E2: f64 = -0.0008164344596567469;
    const E3: f64 = 0.007880878010261995;
    const E4: f64 = -0.1447110071732629;
    const E5: f64 = 0.5823571654525552;
    const E6: f64 = -0.45808210592918697;
    const E7: f64 = 1.0 / 66.0;
    /// r_ij for j = 2, 3, 4 (r_11 = 1, the other r_i1 = 0); only j = 2 is used, see
    /// [`Pair::extension`], the rest are checked by the tests.
    const R: [[f64; 3]; 7] = [
        [-2.763706197274826, 2.9132554618219126, -1.0530884977290216],
        [0.1317, -0.2234, 0.1017],
        [3.9302962368947516, -5.941033872131505, 2.490627285651253],
        [-12.411077166933676, 30.33818863028232, -16.548102889244902],
        [37.50931341651104, -88.1789048947664, 47.37952196281928],
        [-27.896526289197286, 65.09189467479366, -34.87065786149661],
        [1.5, -4.0, 2.5],
    ];
}

impl Pair for Tsitouras {
    const NAME: &'static str = "tsit5";
    const C2: f64 = 0.161;
    const C3: f64 = 0.327;
    const C4: f64 = 0.9;
    const C5: f64 = 0.9800255409045097;
    const A21: f64 = 0.161;
    const A31: f64 = -0.008480655492356989;
    const A32: f64 = 0.335480655492357;
    const A41: f64 = 2.8971530571054935;
    const A42: f64 = -6.359448489975075;
    const A43: f64 = 4.3622954328695815;
    const A51: f64 = 5.325864828439257;
    const A52: f64 = -11.748883564062828;
    const A53: f64 = 7.4955393428898365;
    const A54: f64 = -0.09249506636175525;
    const A61: f64 = 5.86145544294642;
    const A62: f64 = -12.92096931784711;
    const A63: f64 = 8.159367898576159;
    const A64: f64 = -0.071584973281401;
    const A65: f64 = -0.028269050394068383;

    #[inline(always)]
    fn increment(k: [&State; 6]) -> State {
        weighted(
            [Self::B1, Self::B2, Self::B3, Self::B4, Self::B5, Self::B6],
            k,
        )
    }

    #[inline(always)]
    fn error(k: [&State; 7]) -> State {
        weighted(
            [
                Self::E1,
                Self::E2,
                Self::E3,
                Self::E4,
                Self::E5,
                Self::E6,
                Self::E7,
            ],
            k,
        )
    }

    /// y + θ(c1 + θ(c2 + θ(c3 + θ·c4))) with c1 = h·k1 and c_j = h·Σ_i r_ij k_i. The
    /// extension ends on the step's solution with its slope (Σ_j r_ij = b_i and
    /// Σ_j j·r_ij = 0, except 1 for the last stage), so c1 + c2 + c3 + c4 = y_new − y and
    /// c1 + 2c2 + 3c3 + 4c4 = h·k7: c3 and c4 follow from c1, c2 and those, and only c2 needs
    /// the stages (two sums of seven vectors fewer a step).
    #[inline(always)]
    fn extension(y: &State, y_new: &State, k: [&State; 7], h: f64) -> [State; 4] {
        let [k1, .., k7] = k;
        let r = &Self::R;
        let c1 = k1 * h;
        let c2 = weighted(
            [
                r[0][0], r[1][0], r[2][0], r[3][0], r[4][0], r[5][0], r[6][0],
            ],
            k,
        ) * h;
        let d1 = y_new - y - c1 - c2;
        let d2 = k7 * h - c1 - c2 * 2.0;
        let c4 = d2 - d1 * 3.0;
        let c3 = d1 - c4;
        [c1, c2, c3, c4]
    }

    #[inline(always)]
    fn extension_at(y: &State, r: &[State; 4], th: f64) -> State {
        let [c1, c2, c3, c4] = r;
        let mut out = State::zeros();
        for i in 0..N_STATES {
            let c = c4[i]
                .mul_add(th, c3[i])
                .mul_add(th, c2[i])
                .mul_add(th, c1[i]);
            out[i] = c.mul_add(th, y[i]);
        }
        out
    }
}

/// Σ_j c_j·k_j, state by state: c_1·k_1, then each further term added by one fused
/// multiply-add (one rounding; in one instruction in the beat kernel's FMA copy, see
/// [`crate::engine::kernel`], and the same bits everywhere else).
#[inline(always)]
fn weighted<const N: usize>(c: [f64; N], k: [&State; N]) -> State {
    let mut out = State::zeros();
    for i in 0..N_STATES {
        let mut s = k[0][i] * c[0];
        for j in 1..N {
            s = k[j][i].mul_add(c[j], s);
        }
        out[i] = s;
    }
    out
}

/// y + h·v, state by state, each a fused multiply-add.
#[inline(always)]
fn advanced(y: &State, h: f64, v: &State) -> State {
    let mut out = State::zeros();
    for i in 0..N_STATES {
        out[i] = v[i].mul_add(h, y[i]);
    }
    out
}

// PI step-size control (Hairer's DOPRI5 defaults, the same as the reference path's):
// h_new = h · SAFETY · err^−ALPHA · err_prev^BETA, the factor clamped to [FAC_MIN, FAC_MAX].
const SAFETY: f64 = 0.9;
const BETA: f64 = 0.04;
const ALPHA: f64 = 0.2 - 0.75 * BETA;
const FAC_MIN: f64 = 0.2;
const FAC_MAX: f64 = 10.0;
/// Floor of the remembered error, so one very accurate step cannot inflate the next.
const ERR_PREV_MIN: f64 = 1e-4;
/// Switches closer than this fraction of a step to its start change their branch at the
/// start (the step is then redone on the new branch) rather than ending a step of that length.
const THETA_MIN: f64 = 1e-3;
/// Steps allowed in one call before giving up (as the reference).
const MAX_STEPS: u64 = 100_000;

/// A 5(4) pair ([`Pair`]) with continuous extension, specialised to the model's stack state.
///
/// One instance integrates one run, call after call: it remembers the last step size and the
/// controller's error memory between calls. Use a new instance (or [`FastRk::new`] again)
/// for an unrelated run if bit-for-bit repeatability matters.
#[derive(Debug, Clone)]
pub struct FastRk<P: Pair> {
    settings: SolverSettings,
    stats: SolverStats,
    /// Step to try first in the next call, s; 0 until the first call has estimated one.
    h_next: f64,
    /// ln of the error norm of the last accepted step (the PI controller's memory),
    /// ≥ ln ERR_PREV_MIN. Kept as a logarithm: the controller's powers are then one `exp`.
    ln_err_prev: f64,
    /// Per switch and branch (index 2i + the branch bit entered), the step to try first after
    /// switch i was last crossed onto that branch, s; 0 until it has been crossed. A valve that
    /// opens adds a fast mode the step carried from before does not resolve, which cost two
    /// rejected steps at every opening; the same crossing a beat earlier tells the size.
    after_switch: [f64; 2 * MAX_SWITCHES],
    pair: std::marker::PhantomData<P>,
}

/// The fast path with Tsitouras's pair: the default (`tsit5`).
pub type FastTsit5 = FastRk<Tsitouras>;
/// The fast path with Dormand–Prince's pair, the reference path's method (`dopri5-fast`).
pub type FastDopri5 = FastRk<DormandPrince>;

impl<P: Pair> FastRk<P> {
    /// A fresh integrator with these settings (no step size carried yet).
    pub fn new(settings: SolverSettings) -> Self {
        FastRk {
            settings,
            stats: SolverStats::default(),
            h_next: 0.0,
            ln_err_prev: ERR_PREV_MIN.ln(),
            after_switch: [0.0; 2 * MAX_SWITCHES],
            pair: std::marker::PhantomData,
        }
    }

    /// Weighted RMS norm of `e` with the reference's scale atol + rtol·max(|y|, |y_new|).
    #[inline(always)]
    fn error_norm(&self, e: &State, y: &State, y_new: &State) -> f64 {
        let (rtol, atol) = (self.settings.rtol, self.settings.atol);
        let mut sum = 0.0;
        for i in 0..e.len() {
            let sc = atol + rtol * y[i].abs().max(y_new[i].abs());
            let r = e[i] / sc;
            sum += r * r;
        }
        (sum / e.len() as f64).sqrt()
    }

    /// Starting step for the first call (Hairer's HINIT): a step for which an explicit Euler
    /// step would change y by about 1 % in the error norm, then refined by a second-derivative
    /// estimate. Costs one right-hand side.
    fn initial_step<S: OdeSystem>(&mut self, sys: &S, t0: f64, y0: &State, f0: &State) -> f64 {
        let s = self.settings;
        let unit = State::from_element(1.0);
        let scale = unit * s.atol + y0.abs() * s.rtol;
        let d0 = y0.component_div(&scale).norm() / (y0.len() as f64).sqrt();
        let d1 = f0.component_div(&scale).norm() / (y0.len() as f64).sqrt();
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(s.h_max);
        let mut f1 = State::zeros();
        sys.rhs(t0 + h0, &(y0 + f0 * h0), &mut f1);
        self.stats.rhs_evaluations += 1;
        let d2 = (f1 - f0).component_div(&scale).norm() / (y0.len() as f64).sqrt() / h0;
        let h1 = if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(1.0 / 5.0)
        };
        (100.0 * h0).min(h1).min(s.h_max)
    }
}

/// A failure of `method` at time `t`, with its reason.
fn failed(method: &'static str, t: f64, reason: &str) -> SolverError {
    SolverError::Failed {
        method,
        t,
        reason: reason.to_string(),
    }
}

impl<P: Pair> Integrator for FastRk<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    #[inline(always)]
    fn integrate<S: OdeSystem>(
        &mut self,
        sys: &S,
        t0: f64,
        t1: f64,
        y0: &State,
        n: usize,
        out: &mut Vec<Sample>,
    ) -> Result<State, SolverError> {
        super::check_interval(P::NAME, t0, t1, n)?;
        let h_max = self.settings.h_max;
        // Steps run on local time x = t − t0 (as the reference's), so the step arithmetic and
        // the sample grid keep their precision on long courses where t is large.
        let span = t1 - t0;
        let dx_sample = span / n as f64;
        out.reserve(n + 1);
        out.push((t0, *y0));
        // Index of the next sample to write; sample n (t1) is the end state itself.
        let mut next = 1;

        let mut x = 0.0;
        let mut y = *y0;
        // The first stage is evaluated afresh at every call: the system may have changed at
        // the boundary (the activation restarts at each beat), so the last call's final
        // stage is not this call's first.
        let mut k1 = State::zeros();
        let mut g_old: Switches = [0.0; MAX_SWITCHES];
        let n_switches = sys.rhs_switching(t0, &y, None, &mut k1, &mut g_old);
        self.stats.rhs_evaluations += 1;
        // The branches of the system's piecewise laws every stage of a step is evaluated on:
        // the side of each switch the step starts on, changed only at a located crossing.
        let mut branches = branches_of(&g_old, n_switches);
        if !k1.iter().chain(y.iter()).all(|v| v.is_finite()) {
            return Err(failed(
                P::NAME,
                t0,
                "non-finite state or derivative at the start",
            ));
        }
        if self.h_next <= 0.0 {
            self.h_next = self.initial_step(sys, t0, &y, &k1);
        }
        let mut h = self.h_next.min(h_max).min(sys.step_after(None));
        let mut g_new: Switches = [0.0; MAX_SWITCHES];
        let mut rejected_before = false;
        // The crossing (index into `after_switch`) the current step is the first after.
        let mut first_after: Option<usize> = None;
        let mut non_finite = false;
        let mut steps = 0u64;
        let (mut k2, mut k3, mut k4, mut k5, mut k6, mut k7) = (
            State::zeros(),
            State::zeros(),
            State::zeros(),
            State::zeros(),
            State::zeros(),
            State::zeros(),
        );

        loop {
            let t = t0 + x;
            if steps >= MAX_STEPS {
                return Err(failed(
                    P::NAME,
                    t,
                    "too many steps (100000 in one interval)",
                ));
            }
            if 0.1 * h <= f64::EPSILON * x.max(span) {
                return Err(failed(
                    P::NAME,
                    t,
                    if non_finite {
                        "the state became non-finite (step size underflow)"
                    } else {
                        "step size underflow"
                    },
                ));
            }
            // The step that would overshoot (or stop just short of) the end lands on it.
            let h_wanted = h;
            let last = x + 1.01 * h >= span;
            if last {
                h = span - x;
            }
            steps += 1;

            let b = branches;
            sys.rhs_on(
                t0 + (x + P::C2 * h),
                &advanced(&y, h * P::A21, &k1),
                b,
                &mut k2,
            );
            sys.rhs_on(
                t0 + (x + P::C3 * h),
                &advanced(&y, h, &weighted([P::A31, P::A32], [&k1, &k2])),
                b,
                &mut k3,
            );
            sys.rhs_on(
                t0 + (x + P::C4 * h),
                &advanced(&y, h, &weighted([P::A41, P::A42, P::A43], [&k1, &k2, &k3])),
                b,
                &mut k4,
            );
            sys.rhs_on(
                t0 + (x + P::C5 * h),
                &advanced(
                    &y,
                    h,
                    &weighted([P::A51, P::A52, P::A53, P::A54], [&k1, &k2, &k3, &k4]),
                ),
                b,
                &mut k5,
            );
            let x_new = if last { span } else { x + h };
            sys.rhs_on(
                t0 + x_new,
                &advanced(
                    &y,
                    h,
                    &weighted(
                        [P::A61, P::A62, P::A63, P::A64, P::A65],
                        [&k1, &k2, &k3, &k4, &k5],
                    ),
                ),
                b,
                &mut k6,
            );
            let y_new = advanced(&y, h, &P::increment([&k1, &k2, &k3, &k4, &k5, &k6]));
            // The last stage doubles as the next step's first (FSAL) and gives the switching
            // functions at the step's end from the same pressures.
            sys.rhs_switching(t0 + x_new, &y_new, Some(b), &mut k7, &mut g_new);
            self.stats.rhs_evaluations += 6;

            let e = P::error([&k1, &k2, &k3, &k4, &k5, &k6, &k7]) * h;
            let err = self.error_norm(&e, &y, &y_new);

            if !err.is_finite() {
                // A non-finite stage: retry smaller; a state that stays non-finite ends in
                // step-size underflow, reported as such.
                non_finite = true;
                rejected_before = true;
                self.stats.rejected_steps += 1;
                h *= FAC_MIN;
                continue;
            }
            non_finite = false;

            // err^ALPHA as exp(ALPHA · ln err): one logarithm serves both branches and the
            // memory, where two `powf` cost about 6 % of a run (err = 0 gives ln = −∞, exp 0).
            let ln_err = err.ln();
            if err > 1.0 {
                // Rejected: shrink by the error alone (no PI memory), at most by FAC_MIN.
                h /= (crate::exp::exp(ALPHA * ln_err) / SAFETY).min(1.0 / FAC_MIN);
                rejected_before = true;
                self.stats.rejected_steps += 1;
                continue;
            }
            // The continuous extension y(x + θh), for the samples and for locating switches.
            let r = P::extension(&y, &y_new, [&k1, &k2, &k3, &k4, &k5, &k6, &k7], h);
            let dense = |th: f64| P::extension_at(&y, &r, th);
            // The first switch inside the step: the step ends just past it, with the state
            // there from the continuous extension — accurate up to it, since every stage held
            // the branches — and the next step starts on the switch's other branch. A switch
            // right at the step's start changes its branch there instead, and the step is
            // redone.
            let mut theta = 1.0;
            let mut first = 0;
            let mut at_start: Branches = 0;
            for i in 0..n_switches {
                let after = g_new[i] > 0.0;
                if (g_old[i] > 0.0) == after || (b >> i & 1 == 1) == after {
                    // No crossing, or one whose branch this step already holds.
                    continue;
                }
                let mut g: Switches = [0.0; MAX_SWITCHES];
                let g_i = |th: f64| {
                    sys.switching(t0 + (x + th * h), &dense(th), &mut g);
                    g[i]
                };
                // θ just past the crossing, to within THETA_MIN/10.
                let r = illinois(g_i, 0.0, g_old[i], 1.0, g_new[i], 0.1 * THETA_MIN, 20);
                self.stats.switching_evaluations += r.evaluations;
                if r.b <= THETA_MIN {
                    at_start |= 1 << i;
                } else if r.b < theta {
                    theta = r.b;
                    first = i;
                }
            }
            if at_start != 0 {
                branches ^= at_start;
                sys.rhs_on(t0 + x, &y, branches, &mut k1);
                self.stats.rhs_evaluations += 1;
                self.stats.rejected_steps += 1;
                h = h_wanted;
                continue;
            }
            let cut = theta < 1.0;
            let x_end = if cut { x + theta * h } else { x_new };

            let fac = (crate::exp::exp(ALPHA * ln_err - BETA * self.ln_err_prev) / SAFETY)
                .clamp(1.0 / FAC_MAX, 1.0 / FAC_MIN);
            let mut h_new = (h / fac).min(h_max);
            if rejected_before {
                // Do not grow straight after a rejection.
                h_new = h_new.min(h);
            }
            self.ln_err_prev = ln_err.max(ERR_PREV_MIN.ln());
            self.stats.accepted_steps += 1;
            rejected_before = false;
            if let Some(crossing) = first_after.take() {
                // What the controller asks for after the first step past the crossing,
                // having seen that step's error: the first try next time.
                self.after_switch[crossing] = h_new;
            }

            // Samples inside (x, x_end).
            while next < n {
                let x_sample = next as f64 * dx_sample;
                if x_sample >= x_end {
                    break;
                }
                out.push((t0 + x_sample, dense((x_sample - x) / h)));
                next += 1;
            }

            if cut {
                // The switch's far branch even if the extension put its end a hair short.
                branches = b ^ (1 << first);
                y = dense(theta);
                x = x_end;
                sys.rhs_switching(t0 + x, &y, Some(branches), &mut k1, &mut g_old);
                self.stats.rhs_evaluations += 1;
                let crossing = 2 * first + (branches >> first & 1) as usize;
                h = h_new.min(sys.step_after(Some(first)));
                if self.after_switch[crossing] > 0.0 {
                    h = h.min(self.after_switch[crossing]);
                }
                first_after = Some(crossing);
                continue;
            }
            g_old = g_new;
            y = y_new;
            x = x_new;
            let next_branches = branches_of(&g_new, n_switches);
            if next_branches == branches {
                k1 = k7;
            } else {
                branches = next_branches;
                sys.rhs_on(t0 + x, &y, branches, &mut k1);
                self.stats.rhs_evaluations += 1;
            }
            if last {
                // The last sample is the interval's end exactly, so consecutive calls join.
                out.push((t1, y));
                // Carry the step the controller would take next; if this step was cut short
                // to land on the end, the uncut step is the better guide.
                self.h_next = if h < h_wanted {
                    h_new.max(h_wanted)
                } else {
                    h_new
                };
                return Ok(y);
            }
            h = h_new;
        }
    }

    fn stats(&self) -> SolverStats {
        self.stats
    }

    fn settings(&self) -> SolverSettings {
        self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order conditions a pair's coefficients can be checked by without an ODE: rows of
    /// A sum to the nodes; the fifth-order weights integrate t^(q−1) exactly for q ≤ 5 and the
    /// error weights vanish on it for q ≤ 4; the continuous extension integrates it exactly
    /// up to θ for q ≤ 4 and ends on the fifth-order solution. Stage i is given the values
    /// c_i^(q−1) in state component q − 1, so one evaluation checks every q at once.
    fn satisfies_the_order_conditions<P: Pair>() {
        let c = [0.0, P::C2, P::C3, P::C4, P::C5, 1.0, 1.0];
        let rows = [
            (P::C2, P::A21),
            (P::C3, P::A31 + P::A32),
            (P::C4, P::A41 + P::A42 + P::A43),
            (P::C5, P::A51 + P::A52 + P::A53 + P::A54),
            (1.0, P::A61 + P::A62 + P::A63 + P::A64 + P::A65),
        ];
        for (ci, sum) in rows {
            assert!(
                (ci - sum).abs() < 1e-14,
                "{}: row sum {sum} against c {ci}",
                P::NAME
            );
        }
        let k: [State; 7] = std::array::from_fn(|i| {
            State::from_fn(|q, _| if q < 5 { c[i].powi(q as i32) } else { 0.0 })
        });
        let kr = [&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6]];
        let inc = P::increment([kr[0], kr[1], kr[2], kr[3], kr[4], kr[5]]);
        let err = P::error(kr);
        let (y, y_new) = (
            State::zeros(),
            P::increment([kr[0], kr[1], kr[2], kr[3], kr[4], kr[5]]),
        );
        let ext = P::extension(&y, &y_new, kr, 1.0);
        for q in 1..=5 {
            let want = 1.0 / q as f64;
            assert!(
                (inc[q - 1] - want).abs() < 1e-13,
                "{} b·c^{}: {}",
                P::NAME,
                q - 1,
                inc[q - 1]
            );
            if q <= 4 {
                assert!(
                    err[q - 1].abs() < 1e-13,
                    "{} e·c^{}: {}",
                    P::NAME,
                    q - 1,
                    err[q - 1]
                );
                for th in [0.25, 0.5, 0.8] {
                    let got = P::extension_at(&y, &ext, th)[q - 1];
                    let want = th.powi(q as i32) / q as f64;
                    assert!(
                        (got - want).abs() < 1e-13,
                        "{} θ = {th}, q = {q}: {got}",
                        P::NAME
                    );
                }
            }
            let end = P::extension_at(&y, &ext, 1.0)[q - 1];
            assert!(
                (end - inc[q - 1]).abs() < 1e-13,
                "{} θ = 1, q = {q}: {end}",
                P::NAME
            );
        }
        // The embedded solution is of order 4, not 5: its error weights do not vanish at q = 5.
        assert!(err[4].abs() > 1e-6, "{}", P::NAME);
    }

    #[test]
    fn tsitouras_extension_ends_on_the_step_with_its_slope() {
        // What lets `Tsitouras::extension` derive c3 and c4 from c1, c2, y_new and k7.
        let b = [
            Tsitouras::B1,
            Tsitouras::B2,
            Tsitouras::B3,
            Tsitouras::B4,
            Tsitouras::B5,
            Tsitouras::B6,
            0.0,
        ];
        for (i, r) in Tsitouras::R.iter().enumerate() {
            let r1 = if i == 0 { 1.0 } else { 0.0 };
            let end = r1 + r[0] + r[1] + r[2];
            let slope = r1 + 2.0 * r[0] + 3.0 * r[1] + 4.0 * r[2];
            assert!(
                (end - b[i]).abs() < 1e-14,
                "stage {}: {end} against b {}",
                i + 1,
                b[i]
            );
            let want = if i == 6 { 1.0 } else { 0.0 };
            assert!(
                (slope - want).abs() < 1e-14,
                "stage {}: slope {slope}",
                i + 1
            );
        }
    }

    #[test]
    fn both_pairs_satisfy_the_order_conditions() {
        satisfies_the_order_conditions::<DormandPrince>();
        satisfies_the_order_conditions::<Tsitouras>();
    }

    use crate::solver::test_systems::Kink;

    /// Ends its steps at the kink with either pair.
    fn ends_steps_at_the_kink<P: Pair>() {
        // Polynomial on both sides of the kink, so a fifth-order pair is exact on each side:
        // what error is left comes from the kink alone.
        let settings = SolverSettings {
            rtol: 1e-6,
            atol: 1e-6,
            h_max: 0.1,
            ..SolverSettings::default()
        };
        let mut out = Vec::new();
        let mut fast = FastRk::<P>::new(settings);
        let y = fast
            .integrate(&Kink, 0.0, 1.0, &State::zeros(), 10, &mut out)
            .unwrap();
        assert!(
            (y[1] - Kink::Y1_AT_1).abs() < 1e-12,
            "{}: {:e}",
            P::NAME,
            y[1] - Kink::Y1_AT_1
        );
        assert!(fast.stats().switching_evaluations > 0);
        // The reference steps across the kink and keeps a larger error.
        out.clear();
        let y_ref = super::super::Dopri5Integrator::new(settings)
            .integrate(&Kink, 0.0, 1.0, &State::zeros(), 10, &mut out)
            .unwrap();
        assert!((y_ref[1] - Kink::Y1_AT_1).abs() > 1e-10);
    }

    #[test]
    fn ends_steps_at_a_kink_instead_of_stepping_across_it() {
        ends_steps_at_the_kink::<Tsitouras>();
        ends_steps_at_the_kink::<DormandPrince>();
    }
}

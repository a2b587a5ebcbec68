//! Virtual cohorts: parameter draws from declared distributions, correlated through a
//! Gaussian copula, reproducible from (seed, member index) alone.
//!
//! For member m, a Xoshiro256++ generator is seeded with SHA-256("impella-sim cohort v1",
//! seed, m); it draws one standard normal score per varied parameter (in the order they are
//! written). The scores are correlated with the Cholesky factor of the declared correlation
//! matrix, then each score is mapped monotonically to its parameter's distribution:
//! normal `mean + sd·z`, lognormal `exp(mu + sigma·z)`, uniform `min + (max − min)·Φ(z)`.
//! Truncation maps the score into the kept part of the distribution by inverse-CDF
//! (no rejection), so the rank correlation is kept and every member costs the same draws.

use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use sha2::{Digest, Sha256};

/// Smallest probability mass a truncation may keep.
pub const MIN_TRUNCATED_MASS: f64 = 1e-300;

/// A parameter's distribution (before truncation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Marginal {
    Normal {
        mean: f64,
        sd: f64,
    },
    /// ln(X) ~ Normal(mu, sigma); median e^mu, geometric SD e^sigma.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
}

impl Marginal {
    /// Checks the parameters; the message names the offending one.
    pub fn check(&self) -> Result<(), String> {
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} = {v} must be a finite number"))
            }
        };
        match *self {
            Marginal::Normal { mean, sd } => {
                finite("mean", mean)?;
                finite("sd", sd)?;
                if sd <= 0.0 {
                    return Err(format!("sd = {sd} must be > 0"));
                }
            }
            Marginal::LogNormal { mu, sigma } => {
                finite("mu", mu)?;
                finite("sigma", sigma)?;
                if sigma <= 0.0 {
                    return Err(format!("sigma = {sigma} must be > 0 (gsd > 1)"));
                }
            }
            Marginal::Uniform { min, max } => {
                finite("min", min)?;
                finite("max", max)?;
                if min >= max {
                    return Err(format!("min = {min} must be < max = {max}"));
                }
            }
        }
        Ok(())
    }

    /// Standard-normal score of value `x` (for normal and lognormal; ±inf beyond the support).
    fn score(&self, x: f64) -> f64 {
        match *self {
            Marginal::Normal { mean, sd } => (x - mean) / sd,
            Marginal::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    f64::NEG_INFINITY
                } else {
                    (x.ln() - mu) / sigma
                }
            }
            Marginal::Uniform { .. } => unreachable!("uniform truncation is an interval"),
        }
    }
}

/// One varied parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Parameter path, e.g. `lv.ees`.
    pub path: String,
    pub marginal: Marginal,
    /// Values kept, inclusive (either end may be infinite).
    pub truncate: Option<(f64, f64)>,
    kept: Kept,
}

/// The part of the distribution a truncation keeps, in the form draws use.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kept {
    All,
    /// Standard-normal scores in [a, b].
    Scores {
        a: f64,
        b: f64,
    },
    /// Uniform on [lo, hi].
    Interval {
        lo: f64,
        hi: f64,
    },
}

impl Variable {
    /// A variable with checked parameters and truncation.
    pub fn new(
        path: &str,
        marginal: Marginal,
        truncate: Option<(f64, f64)>,
    ) -> Result<Self, String> {
        marginal.check()?;
        let kept = match (marginal, truncate) {
            (_, None) => Kept::All,
            (_, Some((lo, hi))) if lo.is_nan() || hi.is_nan() || lo >= hi => {
                return Err(format!(
                    "truncate = [{lo}, {hi}] must be an interval with lower < upper"
                ))
            }
            (Marginal::Uniform { min, max }, Some((lo, hi))) => {
                let (lo2, hi2) = (lo.max(min), hi.min(max));
                if lo2 >= hi2 {
                    return Err(format!(
                        "truncate = [{lo}, {hi}] keeps none of uniform [{min}, {max}]"
                    ));
                }
                Kept::Interval { lo: lo2, hi: hi2 }
            }
            (m, Some((lo, hi))) => {
                let (a, b) = (m.score(lo), m.score(hi));
                let mass = normal_mass(a, b);
                if mass.is_nan() || mass < MIN_TRUNCATED_MASS {
                    return Err(format!(
                        "truncate = [{lo}, {hi}] keeps no probability mass of the distribution \
                         (standard scores {a:.3} to {b:.3})"
                    ));
                }
                Kept::Scores { a, b }
            }
        };
        Ok(Variable {
            path: path.to_string(),
            marginal,
            truncate,
            kept,
        })
    }

    /// The smallest and largest value a draw can take.
    pub fn support(&self) -> (f64, f64) {
        match (self.kept, self.marginal) {
            (Kept::Interval { lo, hi }, _) => (lo, hi),
            (Kept::All, Marginal::Uniform { min, max }) => (min, max),
            (Kept::All, m) => (
                self.value(m, f64::NEG_INFINITY),
                self.value(m, f64::INFINITY),
            ),
            (Kept::Scores { a, b }, m) => (self.value(m, a), self.value(m, b)),
        }
    }

    /// Probability that a draw lies in [lo, hi].
    pub fn mass_within(&self, lo: f64, hi: f64) -> f64 {
        match (self.kept, self.marginal) {
            (Kept::Interval { lo: a, hi: b }, _)
            | (Kept::All, Marginal::Uniform { min: a, max: b }) => {
                (hi.min(b) - lo.max(a)).max(0.0) / (b - a)
            }
            (kept, m) => {
                let (a, b) = match kept {
                    Kept::Scores { a, b } => (a, b),
                    _ => (f64::NEG_INFINITY, f64::INFINITY),
                };
                let (x, y) = (m.score(lo).max(a), m.score(hi).min(b));
                if x >= y {
                    0.0
                } else {
                    normal_mass(x, y) / normal_mass(a, b)
                }
            }
        }
    }

    fn value(&self, m: Marginal, z: f64) -> f64 {
        match m {
            Marginal::Normal { mean, sd } => mean + sd * z,
            Marginal::LogNormal { mu, sigma } => (mu + sigma * z).exp(),
            Marginal::Uniform { min, max } => min + (max - min) * phi(z),
        }
    }

    /// The value for a (correlated) standard-normal score `z`.
    pub fn transform(&self, z: f64) -> f64 {
        match self.kept {
            Kept::All => self.value(self.marginal, z),
            Kept::Interval { lo, hi } => lo + (hi - lo) * phi(z),
            Kept::Scores { a, b } => {
                let x = self.value(self.marginal, truncated_score(z, a, b));
                // Guard the ends against rounding.
                let (lo, hi) = self.truncate.expect("scores come from a truncation");
                x.clamp(lo, hi)
            }
        }
    }
}

/// A cohort: members × varied parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    /// Number of members.
    pub n: usize,
    pub seed: u64,
    pub variables: Vec<Variable>,
    /// Lower Cholesky factor of the correlation matrix (None: independent).
    cholesky: Option<Vec<Vec<f64>>>,
}

impl Cohort {
    /// A cohort with `correlations` given as (i, j, rho) over `variables` indices.
    pub fn new(
        n: usize,
        seed: u64,
        variables: Vec<Variable>,
        correlations: &[(usize, usize, f64)],
    ) -> Result<Self, String> {
        if n == 0 {
            return Err("n = 0: a cohort needs at least one member".into());
        }
        let k = variables.len();
        let cholesky = if correlations.is_empty() {
            None
        } else {
            let mut r = vec![vec![0.0; k]; k];
            for (i, row) in r.iter_mut().enumerate() {
                row[i] = 1.0;
            }
            for &(i, j, rho) in correlations {
                r[i][j] = rho;
                r[j][i] = rho;
            }
            Some(cholesky(&r).ok_or_else(|| {
                "the correlation matrix is not positive definite: the declared correlations \
                 cannot hold together (e.g. a~b 0.9, b~c 0.9 and a~c -0.9); weaken some of them"
                    .to_string()
            })?)
        };
        Ok(Cohort {
            n,
            seed,
            variables,
            cholesky,
        })
    }

    /// Parameter paths, in draw order.
    pub fn paths(&self) -> Vec<&str> {
        self.variables.iter().map(|v| v.path.as_str()).collect()
    }

    /// The parameter values of member `m` (any m; members ≥ n continue the same sequence).
    pub fn draw(&self, m: usize) -> Vec<f64> {
        let mut rng = member_rng(self.seed, m);
        let z: Vec<f64> = self
            .variables
            .iter()
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let x: Vec<f64> = match &self.cholesky {
            None => z,
            Some(l) => l
                .iter()
                .map(|row| row.iter().zip(&z).map(|(a, b)| a * b).sum())
                .collect(),
        };
        self.variables
            .iter()
            .zip(x)
            .map(|(v, s)| v.transform(s))
            .collect()
    }
}

/// The generator of member `m`: independent of thread, shard and the other members.
fn member_rng(seed: u64, m: usize) -> Xoshiro256PlusPlus {
    let mut h = Sha256::new();
    h.update(b"impella-sim cohort v1");
    h.update(seed.to_le_bytes());
    h.update((m as u64).to_le_bytes());
    Xoshiro256PlusPlus::from_seed(h.finalize().into())
}

/// Lower Cholesky factor of a symmetric matrix, or None when it is not positive definite.
pub fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i][p] * l[j][p]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d.is_nan() || d <= 1e-10 {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Standard normal CDF Φ.
pub fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Inverse standard normal CDF Φ⁻¹ (−inf at 0, +inf at 1); accurate to a few ulp, also in
/// the far lower tail.
pub fn phi_inv(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        // 1 − p is exact here (Sterbenz), so the upper half loses nothing by symmetry.
        return -phi_inv(1.0 - p);
    }
    // Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4), then Halley steps on Φ(x) = p.
    let t = (-2.0 * p.ln()).sqrt();
    let mut x = -(t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t)
            / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
    for _ in 0..4 {
        let e = phi(x) - p;
        let u = e * (2.0 * std::f64::consts::PI).sqrt() * (0.5 * x * x).exp();
        let step = u / (1.0 + 0.5 * x * u);
        if !step.is_finite() {
            break;
        }
        x -= step;
        if step.abs() <= 1e-15 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// P(a ≤ Z ≤ b) for a standard normal Z, accurate in either tail.
fn normal_mass(a: f64, b: f64) -> f64 {
    if a > 0.0 {
        phi(-a) - phi(-b)
    } else {
        phi(b) - phi(a)
    }
}

/// Maps a standard-normal score `z` to the score with the same rank in Z truncated to [a, b].
fn truncated_score(z: f64, a: f64, b: f64) -> f64 {
    let x = if a > 0.0 {
        // Upper tail: work with survival probabilities Φ(−x).
        let (sa, sb) = (phi(-a), phi(-b));
        -phi_inv(sb + phi(-z) * (sa - sb))
    } else {
        let (pa, pb) = (phi(a), phi(b));
        phi_inv(pa + phi(z) * (pb - pa))
    };
    x.clamp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_and_its_inverse_agree() {
        assert!((phi(0.0) - 0.5).abs() < 1e-16);
        assert!((phi(1.959963984540054) - 0.975).abs() < 1e-15);
        for &p in &[1e-300, 1e-20, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.99, 1.0 - 1e-12] {
            let x = phi_inv(p);
            assert!(
                ((phi(x) - p) / p).abs() < 1e-12,
                "p {p}: x {x}, phi {}",
                phi(x)
            );
        }
        assert!((phi_inv(0.975) - 1.959963984540054).abs() < 1e-13);
    }

    #[test]
    fn cholesky_rejects_impossible_correlations() {
        let ok = [vec![1.0, 0.5], vec![0.5, 1.0]];
        let l = cholesky(&ok).unwrap();
        assert!((l[1][0] - 0.5).abs() < 1e-15);
        let bad = [
            vec![1.0, 0.9, -0.9],
            vec![0.9, 1.0, 0.9],
            vec![-0.9, 0.9, 1.0],
        ];
        assert!(cholesky(&bad).is_none());
    }

    #[test]
    fn truncation_in_the_far_tail_is_accurate() {
        let v = Variable::new(
            "x",
            Marginal::Normal { mean: 0.0, sd: 1.0 },
            Some((8.0, 9.0)),
        )
        .unwrap();
        for z in [-3.0, 0.0, 3.0] {
            let x = v.transform(z);
            assert!((8.0..=9.0).contains(&x), "{x}");
        }
        assert!(v.transform(-1.0) < v.transform(1.0));
        assert!(Variable::new(
            "x",
            Marginal::Normal { mean: 0.0, sd: 1.0 },
            Some((40.0, 41.0))
        )
        .is_err());
    }
}

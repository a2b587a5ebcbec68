//! Narrowing a bracketed sign change of a scalar function: the fast path's switch location
//! and the HQ tables' inversion.

/// A sign change of g on [a, b]: g(a) and g(b) have the signs they had at the start (a = b
/// when an exact zero was hit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bracket {
    pub a: f64,
    pub b: f64,
    /// Evaluations of g it took.
    pub evaluations: u64,
}

/// Narrows the bracket [a, b] of a sign change of `g` (g(a) = ga, g(b) = gb, of opposite
/// signs) by the Illinois method — regula falsi that halves the value at an end kept twice
/// running, so both ends move and convergence is superlinear — until b − a ≤ `width` or
/// `max_evaluations` are spent. Where round-off puts the secant point on an end, the bracket
/// is halved instead.
#[inline(always)]
pub(crate) fn illinois(
    mut g: impl FnMut(f64) -> f64,
    mut a: f64,
    mut ga: f64,
    mut b: f64,
    mut gb: f64,
    width: f64,
    max_evaluations: u64,
) -> Bracket {
    debug_assert!(
        (ga > 0.0) != (gb > 0.0),
        "the ends must bracket a sign change"
    );
    let mut evaluations = 0;
    let mut moved = 0i8; // which end the last iteration moved: −1 a, +1 b
    while b - a > width && evaluations < max_evaluations {
        let c = (a * gb - b * ga) / (gb - ga);
        let c = if c > a && c < b { c } else { 0.5 * (a + b) };
        let gc = g(c);
        evaluations += 1;
        if gc == 0.0 {
            return Bracket {
                a: c,
                b: c,
                evaluations,
            };
        }
        if (gc > 0.0) == (gb > 0.0) {
            (b, gb) = (c, gc);
            if moved == 1 {
                ga *= 0.5;
            }
            moved = 1;
        } else {
            (a, ga) = (c, gc);
            if moved == -1 {
                gb *= 0.5;
            }
            moved = -1;
        }
    }
    Bracket { a, b, evaluations }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_the_root_to_the_width_in_few_evaluations() {
        // Convex and decreasing: plain regula falsi would keep one end for ever.
        let f = |x: f64| (-x).exp() - 0.25;
        let root = 4f64.ln();
        let r = illinois(f, 0.0, f(0.0), 10.0, f(10.0), 1e-12, 100);
        assert!(r.a <= root && root <= r.b, "{r:?}");
        assert!(r.b - r.a <= 1e-12, "{r:?}");
        assert!(f(r.a) >= 0.0 && f(r.b) <= 0.0, "{r:?}");
        // Bisection would need 44 evaluations for the same width.
        assert!(r.evaluations < 20, "{}", r.evaluations);
    }

    #[test]
    fn an_exact_zero_closes_the_bracket() {
        let r = illinois(|x| x - 0.5, 0.0, -0.5, 1.0, 0.5, 1e-12, 100);
        assert_eq!((r.a, r.b), (0.5, 0.5));
    }

    #[test]
    fn stops_at_the_evaluation_limit_with_a_valid_bracket() {
        let f = |x: f64| x * x * x - 2.0;
        let r = illinois(f, 0.0, -2.0, 2.0, 6.0, 0.0, 3);
        assert_eq!(r.evaluations, 3);
        assert!(f(r.a) < 0.0 && f(r.b) > 0.0 && r.a < r.b);
        assert!(r.a < 2f64.cbrt() && 2f64.cbrt() < r.b);
    }
}

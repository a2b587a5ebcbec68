//! Layout arithmetic shared by every chart: axis ranges and ticks, number
//! formatting, clipping, thinning, colours. No drawing here.

use plotters::style::RGBColor;

/// An axis: its range and tick values (all within the range).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    /// Decimals that show every tick distinctly.
    pub decimals: usize,
    /// Names written at the ticks instead of their values (a categorical axis: one tick per
    /// category); empty for a numeric axis.
    pub names: Vec<String>,
}

impl Axis {
    /// The tick labels, one per tick.
    pub(super) fn labels(&self) -> Vec<String> {
        if !self.names.is_empty() {
            return self.names.clone();
        }
        self.ticks
            .iter()
            .map(|&t| fixed(t, self.decimals))
            .collect()
    }

    /// A categorical axis: category k (from 0) at x = k + 1, half a step of room at the ends.
    pub(super) fn categories(names: &[String]) -> Axis {
        Axis {
            lo: 0.5,
            hi: names.len() as f64 + 0.5,
            ticks: (1..=names.len()).map(|k| k as f64).collect(),
            decimals: 0,
            names: names.to_vec(),
        }
    }
}

/// The PV-loop axis for data in [min, max]: a margin of about 5 % of the
/// axis length beyond the data, starting at 0 when the data are
/// non-negative, beginning and ending on a tick, at most 8 intervals.
pub(super) fn axis_for(min: f64, max: f64) -> Axis {
    let base = min.min(0.0);
    let extent = max - base;
    let extent = if extent > 1e-6 {
        extent
    } else {
        (max.abs() * 0.2).max(1.0)
    };
    let pad = 0.05 * extent;
    let lo = if min >= 0.0 { 0.0 } else { min - pad };
    let hi = max + pad;
    nice_ends(lo, hi, 8)
}

/// An axis for data in [min, max] with at most `max_intervals` intervals,
/// a 5 % margin and ends on ticks. It reaches down (or up) to 0 when the data
/// are all on one side of 0 and 0 is no farther than the data's own span
/// (so a pressure of 5-20 mmHg starts at 0, a MAP of 74-82 mmHg does not).
pub(super) fn axis_auto(min: f64, max: f64, max_intervals: i64) -> Axis {
    let to_zero_below = min >= 0.0 && min <= 0.5 * max;
    let to_zero_above = max <= 0.0 && max >= 0.5 * min;
    let (lo_d, hi_d) = (
        if to_zero_below { 0.0 } else { min },
        if to_zero_above { 0.0 } else { max },
    );
    let extent = hi_d - lo_d;
    let extent = if extent > 1e-9 * lo_d.abs().max(hi_d.abs()) && extent > 1e-12 {
        extent
    } else {
        (hi_d.abs() * 0.2).max(1.0)
    };
    let pad = 0.05 * extent;
    let lo = if to_zero_below { 0.0 } else { lo_d - pad };
    let hi = if to_zero_above { 0.0 } else { hi_d + pad };
    nice_ends(lo, hi, max_intervals)
}

/// An axis spanning exactly [min, max] (widened a little when they are
/// equal), with ticks at 1-2-5 multiples inside it.
pub(super) fn axis_tight(min: f64, max: f64, max_intervals: i64) -> Axis {
    let (lo, hi) = if max - min > 1e-9 * min.abs().max(max.abs()) && max - min > 1e-12 {
        (min, max)
    } else {
        let half = (min.abs() * 0.05).max(0.5);
        (min - half, max + half)
    };
    let step = step_for(lo, hi, max_intervals.max(1));
    let eps = 1e-9 * step;
    let first = ((lo - eps) / step).ceil() as i64;
    let last = ((hi + eps) / step).floor() as i64;
    Axis {
        lo,
        hi,
        ticks: (first..=last).map(|k| multiple(k, step)).collect(),
        decimals: decimals_for(step),
        names: Vec::new(),
    }
}

/// `axis_tight` for a time axis in hours: from 2 h up, ticks fall on
/// whole hours that divide a day or a week (1, 2, 3, 6, 12, 24 h, ...).
pub(super) fn axis_tight_hours(min: f64, max: f64, max_intervals: i64) -> Axis {
    const STEPS: [f64; 11] = [
        1.0, 2.0, 3.0, 6.0, 12.0, 24.0, 48.0, 72.0, 168.0, 336.0, 720.0,
    ];
    let span = max - min;
    if span.is_nan() || span < 2.0 {
        return axis_tight(min, max, max_intervals);
    }
    let eps = 1e-9;
    let count = |step: f64| ((max + eps) / step).floor() - ((min - eps) / step).ceil();
    match STEPS
        .iter()
        .find(|&&s| count(s) <= max_intervals.max(1) as f64)
    {
        Some(&step) => {
            let first = ((min - eps) / step).ceil() as i64;
            let last = ((max + eps) / step).floor() as i64;
            Axis {
                lo: min,
                hi: max,
                ticks: (first..=last).map(|k| multiple(k, step)).collect(),
                decimals: 0,
                names: Vec::new(),
            }
        }
        None => axis_tight(min, max, max_intervals),
    }
}

/// [lo, hi] widened to multiples of the finest 1-2-5 step giving at most
/// `max_intervals` intervals.
fn nice_ends(lo: f64, hi: f64, max_intervals: i64) -> Axis {
    let step = step_for(lo, hi, max_intervals.max(1));
    let first = (lo / step).floor() as i64;
    let last = ((hi / step).ceil() as i64).max(first + 1);
    Axis {
        lo: multiple(first, step),
        hi: multiple(last, step),
        ticks: (first..=last).map(|k| multiple(k, step)).collect(),
        decimals: decimals_for(step),
        names: Vec::new(),
    }
}

/// k * step, computed by multiplication so ticks are exact multiples, and
/// never -0.
fn multiple(k: i64, step: f64) -> f64 {
    let v = k as f64 * step;
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// The smallest step of 1, 2 or 5 times a power of ten that divides
/// [lo, hi] (widened to multiples of the step) into at most `max` intervals.
pub(super) fn step_for(lo: f64, hi: f64, max: i64) -> f64 {
    let raw = (hi - lo) / max as f64;
    let raw = if raw > 0.0 && raw.is_finite() {
        raw
    } else {
        1.0
    };
    let mut mag = 10f64.powf(raw.log10().floor() - 1.0);
    // Terminates within a few decades; the cap only guards the arithmetic.
    for _ in 0..40 {
        for m in [1.0, 2.0, 5.0] {
            let step = m * mag;
            let n = (hi / step).ceil() - (lo / step).floor();
            if n <= max as f64 {
                return step;
            }
        }
        mag *= 10.0;
    }
    hi - lo
}

/// Decimals needed to write multiples of `step` exactly (1-2-5 steps).
pub(super) fn decimals_for(step: f64) -> usize {
    if !(step > 0.0 && step.is_finite()) {
        return 0;
    }
    (-step.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize
}

/// `v` with `decimals` decimals, never "-0".
pub(super) fn fixed(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// `v` to three significant figures (whole numbers from 100 up), e.g.
/// 1615, 77.0, 4.19, 0.717.
pub(super) fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    let decimals = (2.0 - mag).clamp(0.0, 9.0) as usize;
    fixed(v, decimals)
}

/// Clip a polyline to the rectangle [x0, x1] x [y0, y1]; returns the visible
/// pieces (a curve leaving and re-entering gives several; a single point
/// inside is a piece of one point).
pub(super) fn clip_polyline(
    points: &[(f64, f64)],
    x: (f64, f64),
    y: (f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    if points.len() == 1 {
        let p = points[0];
        if p.0 >= x.0 && p.0 <= x.1 && p.1 >= y.0 && p.1 <= y.1 {
            return vec![vec![p]];
        }
        return pieces;
    }
    for w in points.windows(2) {
        match clip_segment(w[0], w[1], x, y) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() >= 2 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
            }
            None => {
                if current.len() >= 2 {
                    pieces.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        pieces.push(current);
    }
    pieces
}

/// Liang–Barsky segment clipping.
fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (pk, qk) in [
        (-dx, p.0 - x0),
        (dx, x1 - p.0),
        (-dy, p.1 - y0),
        (dy, y1 - p.1),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return None;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            p
        } else if t == 1.0 {
            q
        } else {
            (p.0 + t * dx, p.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

/// Drop points closer than `min_px` pixels to the last kept one; the first
/// and last points are always kept.
pub(super) fn thin<P: Copy>(points: &[P], to_px: impl Fn(&P) -> (i32, i32), min_px: f64) -> Vec<P> {
    let mut out: Vec<P> = Vec::with_capacity(points.len().min(4096));
    let mut last_px = None;
    for (k, p) in points.iter().enumerate() {
        let q = to_px(p);
        let far = match last_px {
            None => true,
            Some((x, y)) => {
                let (dx, dy) = ((q.0 - x) as f64, (q.1 - y) as f64);
                dx.hypot(dy) >= min_px
            }
        };
        if far || k + 1 == points.len() {
            if !far && out.len() > 1 {
                out.pop(); // end exactly on the last point
            }
            out.push(*p);
            last_px = Some(q);
        }
    }
    out
}

/// The corners of a step line through `points`: each value is held until
/// the next point's x. Repeated values are merged first, so a long series
/// of mostly equal settings stays small.
pub(super) fn step_corners(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2);
    let mut held: Option<f64> = None;
    for (k, &(x, y)) in points.iter().enumerate() {
        let last = k + 1 == points.len();
        match held {
            None => out.push((x, y)),
            Some(h) if h == y => {
                if last {
                    out.push((x, y));
                }
            }
            Some(h) => {
                out.push((x, h));
                out.push((x, y));
            }
        }
        held = Some(y);
    }
    out
}

/// Viridis colour map at t in [0, 1] (piecewise-linear through 9 anchors).
pub(super) fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (72, 40, 120),
        (62, 73, 137),
        (49, 104, 142),
        (38, 130, 142),
        (31, 158, 137),
        (53, 183, 121),
        (110, 206, 88),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let t = t * (ANCHORS.len() - 1) as f64;
    let i = (t.floor() as usize).min(ANCHORS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + f * (y as f64 - x as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Relative luminance (0 black, 1 white) of an sRGB colour.
pub(super) fn luminance(c: RGBColor) -> f64 {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// Colour of item `i` of `n` ordered items (loops of stages, levels): one
/// strong blue, or a viridis ramp from dark purple to green that stops
/// short of viridis' yellow end, which is too faint on white. The ramp
/// gets lighter step by step, so the order reads in greyscale print.
pub(super) fn ramp_colour(i: usize, n: usize) -> RGBColor {
    if n <= 1 {
        RGBColor(0, 84, 166) // strong blue
    } else {
        viridis(0.82 * i as f64 / (n - 1) as f64)
    }
}

/// Okabe–Ito colours (distinguishable with colour-vision deficiency),
/// without the yellow, which is too faint on white.
pub(super) const CATEGORICAL: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

/// Colour of unordered series `i` of `n`: categorical up to 7, a ramp beyond.
pub(super) fn series_colour(i: usize, n: usize) -> RGBColor {
    if n <= CATEGORICAL.len() {
        CATEGORICAL[i % CATEGORICAL.len()]
    } else {
        ramp_colour(i, n)
    }
}

pub(super) const INK: RGBColor = RGBColor(25, 25, 25);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
pub(super) const LEGEND_BORDER: RGBColor = RGBColor(190, 190, 190);
pub(super) const EVENT_GREY: RGBColor = RGBColor(90, 90, 90);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_ranges_start_at_zero_and_end_on_ticks() {
        let a = axis_for(50.0, 120.0);
        assert_eq!((a.lo, a.hi), (0.0, 140.0));
        assert_eq!(
            a.ticks,
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 140.0]
        );
        let a = axis_for(10.0, 110.0);
        assert_eq!((a.lo, a.hi), (0.0, 120.0));
        let a = axis_for(-5.0, 110.0);
        assert!(a.lo < -5.0 && a.hi > 110.0, "{a:?}");
        assert!(a.ticks.contains(&0.0));
        let a = axis_for(3.0, 3.0);
        assert!(a.lo == 0.0 && a.hi > 3.0, "{a:?}");
        let a = axis_for(0.1, 0.37);
        assert_eq!(a.ticks.first(), Some(&0.0));
        assert!(a.hi >= 0.37 && a.ticks.len() <= 10, "{a:?}");
        for a in [
            axis_for(0.0, 1e6),
            axis_for(-3e-3, 2e-3),
            axis_for(-50.0, -10.0),
            axis_for(0.0, 1e-300),
            axis_for(-1e9, 1e9),
        ] {
            assert!(a.ticks.len() >= 3 && a.ticks.len() <= 10, "{a:?}");
            assert_eq!(a.ticks.first(), Some(&a.lo));
            assert_eq!(a.ticks.last(), Some(&a.hi));
        }
        assert_eq!(step_for(0.0, 147.0, 8), 20.0);
        assert_eq!(step_for(0.0, 0.3, 8), 0.05);
        assert_eq!(step_for(-3.0, 7.0, 8), 2.0);
    }

    #[test]
    fn auto_axes_include_zero_only_when_it_is_near() {
        let a = axis_auto(5.0, 20.0, 6);
        assert_eq!(a.lo, 0.0);
        let a = axis_auto(74.0, 82.0, 6);
        assert!(a.lo > 60.0 && a.lo <= 74.0 && a.hi >= 82.0, "{a:?}");
        let a = axis_auto(-40.0, 300.0, 6);
        assert!(a.lo <= -40.0 && a.hi >= 300.0 && a.ticks.contains(&0.0));
        let a = axis_auto(-20.0, -15.0, 6);
        assert!(a.hi < 0.0, "{a:?}");
        let a = axis_auto(7.0, 7.0, 6);
        assert!(a.lo <= 7.0 && a.hi > 7.0);
        for a in [axis_auto(0.0, 0.0, 4), axis_auto(-1e9, 1e9, 8)] {
            assert!(a.ticks.len() >= 2 && a.hi > a.lo, "{a:?}");
        }
    }

    #[test]
    fn tight_axes_keep_the_data_range() {
        let a = axis_tight(47.1, 49.8, 8);
        assert_eq!((a.lo, a.hi), (47.1, 49.8));
        assert!(a.ticks.iter().all(|&t| (47.1..=49.8).contains(&t)));
        assert!(a.ticks.len() >= 3, "{a:?}");
        assert_eq!(a.labels()[0], "47.5");
        let a = axis_tight(0.0, 24.0, 6);
        assert_eq!(a.ticks, vec![0.0, 5.0, 10.0, 15.0, 20.0]);
        let a = axis_tight(3.0, 3.0, 6);
        assert!(a.lo < 3.0 && a.hi > 3.0 && a.ticks.contains(&3.0));
    }

    #[test]
    fn hour_axes_tick_on_divisors_of_a_day() {
        let a = axis_tight_hours(0.0, 24.0, 6);
        assert_eq!(a.ticks, vec![0.0, 6.0, 12.0, 18.0, 24.0]);
        let a = axis_tight_hours(0.0, 72.0, 8);
        assert_eq!(a.ticks, vec![0.0, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0]);
        let a = axis_tight_hours(0.0, 1.5, 6);
        assert_eq!(a.ticks.len(), 4, "{a:?}");
        assert_eq!(a.labels()[1], "0.5");
    }

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(12.345, 1), "12.3");
        assert_eq!(decimals_for(20.0), 0);
        assert_eq!(decimals_for(0.5), 1);
        assert_eq!(decimals_for(0.05), 2);
        assert_eq!(decimals_for(1.0), 0);
        assert_eq!(sig3(1614.6), "1615");
        assert_eq!(sig3(76.998), "77.0");
        assert_eq!(sig3(4.1917), "4.19");
        assert_eq!(sig3(0.71717), "0.717");
        assert_eq!(sig3(-0.0123456), "-0.0123");
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(f64::NAN), "n/a");
    }

    #[test]
    fn step_lines_hold_values() {
        let pts = [(0.0, 8.0), (1.0, 8.0), (2.0, 6.0), (3.0, 6.0), (4.0, 4.0)];
        assert_eq!(
            step_corners(&pts),
            vec![(0.0, 8.0), (2.0, 8.0), (2.0, 6.0), (4.0, 6.0), (4.0, 4.0)]
        );
        assert_eq!(step_corners(&[(1.0, 2.0)]), vec![(1.0, 2.0)]);
        assert_eq!(
            step_corners(&[(0.0, 1.0), (5.0, 1.0)]),
            vec![(0.0, 1.0), (5.0, 1.0)]
        );
    }

    #[test]
    fn thinning_keeps_ends_and_spacing() {
        let pts: Vec<(f64, f64)> = (0..=1000).map(|i| (i as f64 * 0.01, 0.0)).collect();
        let to_px = |p: &(f64, f64)| ((p.0 * 100.0).round() as i32, 0);
        let thinned = thin(&pts, to_px, 3.0);
        assert_eq!(thinned.first(), pts.first());
        assert_eq!(thinned.last(), pts.last());
        assert!(thinned.len() <= 1000 / 3 + 2 && thinned.len() >= 1000 / 3 - 2);
        for w in thinned.windows(2) {
            assert!(to_px(&w[1]).0 - to_px(&w[0]).0 >= 3);
        }
        assert_eq!(thin(&pts[..1], to_px, 3.0), pts[..1].to_vec());
        let two = [(0.0, 0.0), (0.001, 0.0)];
        assert_eq!(thin(&two, to_px, 3.0), two.to_vec());
    }

    #[test]
    fn clipping_keeps_inside_and_splits_pieces() {
        let x = (0.0, 10.0);
        let y = (0.0, 10.0);
        // Leaves at the top and comes back.
        let pts = [(1.0, 1.0), (5.0, 20.0), (9.0, 1.0)];
        let pieces = clip_polyline(&pts, x, y);
        assert_eq!(pieces.len(), 2);
        for p in pieces.iter().flatten() {
            assert!(
                p.0 >= 0.0 && p.0 <= 10.0 && p.1 >= 0.0 && p.1 <= 10.0,
                "{p:?}"
            );
        }
        assert!((pieces[0][1].1 - 10.0).abs() < 1e-12);
        // Entirely outside.
        assert!(clip_polyline(&[(-5.0, -5.0), (-1.0, 20.0)], x, y).is_empty());
        // Entirely inside: unchanged.
        let inside = [(1.0, 2.0), (3.0, 4.0), (5.0, 5.0)];
        assert_eq!(clip_polyline(&inside, x, y), vec![inside.to_vec()]);
        // A single point.
        assert_eq!(clip_polyline(&[(1.0, 1.0)], x, y), vec![vec![(1.0, 1.0)]]);
        assert!(clip_polyline(&[(11.0, 1.0)], x, y).is_empty());
    }

    #[test]
    fn colours() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_ne!(ramp_colour(0, 3), ramp_colour(2, 3));
        // The ramp gets lighter step by step (reads in greyscale).
        for n in [2, 5, 10] {
            for i in 1..n {
                assert!(luminance(ramp_colour(i, n)) > luminance(ramp_colour(i - 1, n)));
            }
        }
        assert_ne!(series_colour(0, 2), series_colour(1, 2));
    }
}

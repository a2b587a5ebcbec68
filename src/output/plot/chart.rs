//! Single-frame charts: a metric against a swept parameter (xy chart) and
//! the distribution of a metric across cases (histogram).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    draw_axes, labels_width, place_inside, AxesSpec, AxisStyle, DrawResult, Frame, Legend, Mark,
    Painter, Shape, CHART_DESIGN_PX, MAX_LEGEND_SHARE,
};
use super::layout::{axis_auto, axis_tight, decimals_for, series_colour, sig3, step_for, Axis};
use super::{
    scan, scan_points, svg_figure, write_figure, Curve, Figure, ImageFormat, Invalid, PlotError,
};

/// A metric against a swept parameter: one line with markers per series
/// (e.g. LVEDP against P-level, one series per device).
#[derive(Debug, Clone, Copy)]
pub struct XyChart<'a> {
    /// Drawn above the chart (shrunk to fit).
    pub title: &'a str,
    /// Parameter name with unit, e.g. "P-level" or "LV Ees (mmHg/mL)".
    pub x_label: &'a str,
    /// Metric name with unit, e.g. "LVEDP (mmHg)".
    pub y_label: &'a str,
    /// Points are joined in the order given; an empty label has no legend entry.
    pub series: &'a [Curve],
    /// Names of the x values for a categorical axis (e.g. devices): the point at x = k + 1
    /// is category k, written under its tick, and the chart has no legend (the axis names
    /// the points). Empty: a numeric x axis.
    pub x_categories: &'a [String],
}

/// Render `chart` and write it to exactly `path` in `format`.
pub fn write_xy_chart(
    path: &Path,
    chart: &XyChart,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, chart, format, size_px)
}

/// `chart` as an SVG document string.
pub fn xy_chart_svg(chart: &XyChart, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(chart, size_px)
}

/// The distribution of a metric across cases (e.g. a cohort), with the
/// median marked.
#[derive(Debug, Clone, Copy)]
pub struct Histogram<'a> {
    pub title: &'a str,
    /// Metric name with unit, e.g. "LVEDP (mmHg)".
    pub x_label: &'a str,
    /// One value per case.
    pub values: &'a [f64],
    /// About how many bins (widths are rounded to 1, 2 or 5 times a power
    /// of ten); `None`: about √n, 5 to 40.
    pub bins: Option<usize>,
}

/// Render `histogram` and write it to exactly `path` in `format`.
pub fn write_histogram(
    path: &Path,
    histogram: &Histogram,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, histogram, format, size_px)
}

/// `histogram` as an SVG document string.
pub fn histogram_svg(histogram: &Histogram, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(histogram, size_px)
}

// ---------------------------------------------------------------------------
// Shared single-frame layout

/// The frame for axes `x` and `y` below `top`, leaving `right_room` px on
/// the right.
fn frame_for<DB: DrawingBackend>(
    p: &Painter<DB>,
    st: &AxisStyle,
    top: i32,
    (x, y): (&Axis, &Axis),
    right_room: i32,
) -> Frame
where
    DB::ErrorType: 'static,
{
    let y_w = labels_width(p, y, st.tick_px);
    Frame {
        left: p.pxi(16.0) + st.y_area(y_w),
        top,
        right: p.width as i32 - right_room,
        bottom: p.height as i32 - p.pxi(16.0) - st.x_area(true),
        x: x.clone(),
        y: y.clone(),
    }
}

/// Right margin that keeps the last x tick label inside the picture.
fn right_margin<DB: DrawingBackend>(p: &Painter<DB>, st: &AxisStyle, x: &Axis) -> i32
where
    DB::ErrorType: 'static,
{
    let last = x
        .labels()
        .last()
        .map_or(0.0, |l| p.text_width(l, st.tick_px));
    p.pxi(30.0).max((last / 2.0).ceil() as i32 + p.pxi(8.0))
}

/// A frame with `legend` inside it (if some corner is clear of `drawn`,
/// a function of the frame) or to its right. Returns the frame and the
/// legend's top-left corner.
fn frame_with_legend<DB: DrawingBackend>(
    p: &Painter<DB>,
    st: &AxisStyle,
    top: i32,
    axes: (&Axis, &Axis),
    legend: &Legend,
    drawn: impl Fn(&Frame) -> Vec<Vec<(i32, i32)>>,
) -> DrawResult<(Frame, Option<(i32, i32)>)>
where
    DB::ErrorType: 'static,
{
    let frame = frame_for(p, st, top, axes, right_margin(p, st, axes.0));
    let check = |f: Frame| {
        if f.right - f.left < p.pxi(100.0) || f.bottom - f.top < p.pxi(60.0) {
            Err(format!(
                "the picture ({}x{} px) is too small for its labels and legend",
                p.width, p.height
            ))
        } else {
            Ok(f)
        }
    };
    if legend.is_empty() {
        return Ok((check(frame)?, None));
    }
    let size = legend.box_size(p);
    let rect = (frame.left, frame.top, frame.right, frame.bottom);
    let (at, covered) = place_inside(rect, &drawn(&frame), size, p.pxi(14.0), p.pxi(10.0));
    if covered == 0 {
        return Ok((check(frame)?, Some(at)));
    }
    let gap = p.pxi(28.0);
    let frame = frame_for(p, st, top, axes, gap + size.0 + p.pxi(20.0));
    let at = (frame.right + gap, frame.top);
    Ok((check(frame)?, Some(at)))
}

// ---------------------------------------------------------------------------
// xy chart

impl Figure for XyChart<'_> {
    fn validate(&self) -> Result<(), Invalid> {
        if self.series.is_empty() {
            return Err(Invalid::Empty("no series given".into()));
        }
        for s in self.series {
            if s.points.is_empty() {
                return Err(Invalid::Empty(format!(
                    "series {:?} has no points",
                    s.label
                )));
            }
            scan_points(&s.points, |i| format!("series {:?} point {i}", s.label))?;
            let n = self.x_categories.len();
            if n > 0 {
                if let Some(&(x, _)) = s
                    .points
                    .iter()
                    .find(|&&(x, _)| x.fract() != 0.0 || x < 1.0 || x > n as f64)
                {
                    return Err(Invalid::Inconsistent(format!(
                        "series {:?} has x = {x}, not the number of one of the {n} categories \
                         (1 to {n})",
                        s.label
                    )));
                }
            }
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        size: (u32, u32),
        bitmap: bool,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        draw_xy(root, self, size, bitmap)
    }
}

/// The x axis of a sweep: ticks at the swept values themselves when there
/// are at most 12 evenly spaced ones, else 1-2-5 ticks; a small margin so
/// end markers clear the axes.
fn sweep_axis(xs: &[f64], max_intervals: i64) -> Axis {
    let mut distinct: Vec<f64> = xs.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.05 * span
    } else {
        (lo.abs() * 0.1).max(0.5)
    };
    let even = distinct.len() >= 2 && {
        let d = distinct[1] - distinct[0];
        let tol = 1e-9 * d.abs().max(lo.abs()).max(hi.abs());
        distinct
            .windows(2)
            .all(|w| ((w[1] - w[0]) - d).abs() <= tol)
    };
    if even && distinct.len() <= 12 {
        let d = distinct[1] - distinct[0];
        // Decimals that write each value exactly (to 1e-6).
        let decimals = (0..=6usize)
            .find(|&k| {
                let f = 10f64.powi(k as i32);
                distinct
                    .iter()
                    .all(|&v| ((v * f).round() - v * f).abs() <= 1e-6 * f.max(1.0))
            })
            .unwrap_or(decimals_for(d));
        return Axis {
            lo: lo - pad,
            hi: hi + pad,
            ticks: distinct,
            decimals,
            names: Vec::new(),
        };
    }
    axis_tight(lo - pad, hi + pad, max_intervals)
}

fn draw_xy<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &XyChart,
    size: (u32, u32),
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let p = Painter::new(root, size, CHART_DESIGN_PX, bitmap);
    let st = AxisStyle::new(&p);
    p.clear()?;
    let top = p.title(chart.title)?;

    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.0))
        .collect();
    let (ylo, yhi) = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let x = if chart.x_categories.is_empty() {
        sweep_axis(&xs, 8)
    } else {
        Axis::categories(chart.x_categories)
    };
    let y = axis_auto(ylo, yhi, 8);

    let n = chart.series.len();
    let width = p.pxu(4.0);
    let style = |i: usize| (series_colour(i, n), Shape::ORDER[i % Shape::ORDER.len()]);
    let entries: Vec<(String, Mark)> = chart
        .series
        .iter()
        .enumerate()
        .filter(|(_, s)| chart.x_categories.is_empty() && !s.label.trim().is_empty())
        .map(|(i, s)| {
            let (c, shape) = style(i);
            (s.label.clone(), Mark::LineMarker(c, width, shape))
        })
        .collect();
    let mut legend = Legend::new(&p, entries);
    legend.limit_width(&p, (MAX_LEGEND_SHARE * size.0 as f64) as i32);
    let drawn = |f: &Frame| {
        chart
            .series
            .iter()
            .map(|s| s.points.iter().map(|&q| f.px(q)).collect())
            .collect()
    };
    let (frame, legend_at) = frame_with_legend(&p, &st, top, (&x, &y), &legend, drawn)?;

    let spec = AxesSpec {
        x_title: Some(chart.x_label),
        x_labels: true,
        y_title: chart.y_label,
        grid: true,
        y_title_room: 0.0,
    };
    draw_axes(
        &p,
        &frame,
        &st,
        spec,
        labels_width(&p, &frame.y, st.tick_px),
    )?;

    let (r, e) = (p.pxi(10.0), p.pxi(2.5));
    for (i, s) in chart.series.iter().enumerate() {
        let (colour, shape) = style(i);
        for piece in frame.polyline_px(&s.points, 0.0) {
            if piece.len() >= 2 {
                p.polyline(piece, colour, width)?;
            }
        }
        for &q in &s.points {
            if frame.contains(q) {
                p.marker(shape, frame.px(q), r, e, colour)?;
            }
        }
    }
    if let Some(at) = legend_at {
        legend.draw_box(&p, at)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Histogram

impl Figure for Histogram<'_> {
    fn validate(&self) -> Result<(), Invalid> {
        if self.values.is_empty() {
            return Err(Invalid::Empty("no values given".into()));
        }
        if self.bins == Some(0) {
            return Err(Invalid::Inconsistent("0 bins asked for".into()));
        }
        scan(self.values.iter().copied(), |i| format!("value {i}"))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        size: (u32, u32),
        bitmap: bool,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        draw_histogram(root, self, size, bitmap)
    }
}

/// Bins for `values`: (first edge, width, counts). Widths are 1, 2 or 5
/// times a power of ten, edges multiples of the width; each bin holds
/// [edge, edge + width), the last one also its upper edge.
fn bins(values: &[f64], target: usize) -> (f64, f64, Vec<usize>) {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (lo_r, hi_r) = if hi - lo > 1e-9 * lo.abs().max(hi.abs()) && hi - lo > 1e-12 {
        (lo, hi)
    } else {
        let half = (lo.abs() * 0.05).max(0.5);
        (lo - half, hi + half)
    };
    let width = step_for(lo_r, hi_r, target.clamp(1, 200) as i64);
    let first = (lo_r / width).floor() as i64;
    let last = ((hi_r / width).ceil() as i64).max(first + 1);
    let nbins = (last - first) as usize;
    let start = first as f64 * width;
    let mut counts = vec![0usize; nbins];
    for &v in values {
        let k = ((v - start) / width).floor();
        let k = (k.max(0.0) as usize).min(nbins - 1);
        counts[k] += 1;
    }
    (start, width, counts)
}

/// The median of `values` (mean of the middle two for an even count).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &Histogram,
    size: (u32, u32),
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let p = Painter::new(root, size, CHART_DESIGN_PX, bitmap);
    let st = AxisStyle::new(&p);
    p.clear()?;
    let top = p.title(h.title)?;

    let n = h.values.len();
    let target = h
        .bins
        .unwrap_or_else(|| ((n as f64).sqrt().round() as usize).clamp(5, 40));
    let (start, width, counts) = bins(h.values, target);
    let end = start + width * counts.len() as f64;
    let x = axis_tight(start, end, 8);
    let max_count = counts.iter().copied().max().unwrap_or(0) as f64;
    let mut y = axis_auto(0.0, max_count.max(1.0), 6);
    if y.ticks.len() > 1 && y.ticks[1] - y.ticks[0] < 1.0 {
        // Whole cases only.
        let top_tick = max_count.max(1.0).ceil();
        y = Axis {
            lo: 0.0,
            hi: top_tick + 1.0,
            ticks: (0..=(top_tick as i64 + 1)).map(|k| k as f64).collect(),
            decimals: 0,
            names: Vec::new(),
        };
    }
    let med = median(h.values);

    let bar = RGBColor(49, 104, 142);
    let med_colour = RGBColor(213, 94, 0);
    let med_width = p.pxu(5.0);
    let entries = vec![
        (
            format!("Median {}", sig3(med)),
            Mark::Line(med_colour, med_width),
        ),
        (
            format!("{n} case{}", if n == 1 { "" } else { "s" }),
            Mark::Swatch(bar),
        ),
    ];
    let legend = Legend::new(&p, entries);
    let drawn = |f: &Frame| {
        let mut lines: Vec<Vec<(i32, i32)>> = vec![vec![f.px((med, y.lo)), f.px((med, y.hi))]];
        // Bars fill everything below their tops: sample them as columns.
        for (k, &c) in counts.iter().enumerate() {
            let x0 = start + k as f64 * width;
            let c = c as f64;
            lines.push(vec![f.px((x0, c)), f.px((x0 + width, c))]);
            for frac in [0.1, 0.5, 0.9] {
                let xm = x0 + frac * width;
                lines.push(vec![f.px((xm, 0.0)), f.px((xm, c))]);
            }
        }
        lines
    };
    let (frame, legend_at) = frame_with_legend(&p, &st, top, (&x, &y), &legend, drawn)?;

    let spec = AxesSpec {
        x_title: Some(h.x_label),
        x_labels: true,
        y_title: "Cases",
        grid: true,
        y_title_room: 0.0,
    };
    draw_axes(
        &p,
        &frame,
        &st,
        spec,
        labels_width(&p, &frame.y, st.tick_px),
    )?;
    let gap = p.pxi(1.5);
    for (k, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let x0 = start + k as f64 * width;
        let (a, b) = (frame.px((x0, c as f64)), frame.px((x0 + width, 0.0)));
        p.fill_rect(
            (a.0 + gap, a.1),
            (b.0 - gap, b.1 - p.pxi(1.0)),
            bar.to_rgba(),
        )?;
    }
    let mx = frame.map_x(med).round() as i32;
    p.polyline(
        vec![(mx, frame.top), (mx, frame.bottom)],
        med_colour,
        med_width,
    )?;
    if let Some(at) = legend_at {
        legend.draw_box(&p, at)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_every_value_once() {
        let values: Vec<f64> = (0..100).map(|i| 10.0 + 0.173 * i as f64).collect();
        let (start, width, counts) = bins(&values, 10);
        assert_eq!(counts.iter().sum::<usize>(), 100);
        assert!(start <= 10.0 && start + width * counts.len() as f64 >= values[99]);
        let mantissa = (width / 10f64.powf(width.log10().floor())).round();
        assert!([1.0, 2.0, 5.0].contains(&mantissa), "{width}");
        // Equal values: one bin.
        let (_, _, counts) = bins(&[3.2, 3.2, 3.2], 10);
        assert_eq!(counts.iter().sum::<usize>(), 3);
        assert_eq!(counts.iter().filter(|&&c| c > 0).count(), 1);
        // Upper edge value falls in the last bin.
        let (start, width, counts) = bins(&[0.0, 10.0], 5);
        assert_eq!(start, 0.0);
        assert_eq!(counts.len() as f64 * width, 10.0);
        assert_eq!(*counts.last().unwrap(), 1);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn sweep_axes_tick_at_swept_values() {
        let a = sweep_axis(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 8);
        assert_eq!(a.ticks.len(), 10);
        assert_eq!(a.labels()[9], "9");
        assert!(a.lo < 0.0 && a.hi > 9.0);
        let a = sweep_axis(&[0.5, 1.0, 1.5, 2.0], 8);
        assert_eq!(a.labels(), vec!["0.5", "1.0", "1.5", "2.0"]);
        let xs: Vec<f64> = (0..50).map(|i| i as f64 * 0.37).collect();
        let a = sweep_axis(&xs, 8);
        assert!(a.ticks.len() <= 9);
        let a = sweep_axis(&[2.0], 8);
        assert!(a.lo < 2.0 && a.hi > 2.0);
    }
}

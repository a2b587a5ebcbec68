//! Pressure–volume loops.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{
    fit_tick_labels, place_inside, Legend, Mark, Painter, Shape, AXIS_TITLE_PX, CHART_DESIGN_PX,
    MAX_LEGEND_SHARE, TICK_PX,
};
use super::layout::{axis_for, clip_polyline, ramp_colour, thin, GRID, INK};
use super::text::{Along, FONT_FAMILY};
use super::{
    scan, scan_points, svg_figure, write_figure, Curve, Figure, ImageFormat, Invalid, PlotError,
};

/// One PV loop: volume and pressure samples of equal length, in order,
/// with optional end-diastolic and end-systolic points (volume, pressure).
#[derive(Debug, Clone, PartialEq)]
pub struct PvLoop {
    pub label: String,
    pub volume_ml: Vec<f64>,
    pub pressure_mmhg: Vec<f64>,
    pub end_diastole: Option<(f64, f64)>,
    pub end_systole: Option<(f64, f64)>,
}

/// Everything one PV picture shows.
#[derive(Debug, Clone, Copy)]
pub struct PvPlot<'a> {
    /// Says what was simulated; drawn above the chart (shrunk to fit).
    pub title: &'a str,
    /// One loop (drawn in a strong colour) or several (a viridis ramp, first
    /// to last: dark purple to green, which also reads in greyscale print).
    pub loops: &'a [PvLoop],
    /// Drawn dashed in grey behind the loops, clipped to the axes, labelled in the legend.
    pub reference_lines: &'a [Curve],
    /// Chamber name for the axis labels ("LV", "RV", "LA", "RA").
    pub chamber: &'a str,
}

/// Render `plot` and write it to `path` (exactly that path, whatever its
/// extension) in `format`, `size_px` = (width, height) pixels; for SVG the
/// size is the document's width and height.
///
/// Inputs are checked before anything is written: no loops, an empty loop or
/// reference curve, unequal volume/pressure lengths or a non-finite number
/// give an error and leave `path` untouched.
pub fn write_pv_plot(
    path: &Path,
    plot: &PvPlot,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, plot, format, size_px)
}

/// `plot` as an SVG document of `size_px`.
pub fn pv_plot_svg(plot: &PvPlot, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(plot, size_px)
}

const REFERENCE_GREYS: [RGBColor; 3] = [
    RGBColor(90, 90, 90),
    RGBColor(130, 130, 130),
    RGBColor(110, 110, 110),
];

/// (dash length, gap) in units of the line width, per reference line.
const DASHES: [(f64, f64); 3] = [(5.0, 2.5), (1.6, 1.6), (7.0, 2.0)];

impl Figure for PvPlot<'_> {
    fn validate(&self) -> Result<(), Invalid> {
        if self.loops.is_empty() {
            return Err(Invalid::Empty("no PV loops given".into()));
        }
        for l in self.loops {
            if l.volume_ml.len() != l.pressure_mmhg.len() {
                return Err(Invalid::Length {
                    label: l.label.clone(),
                    volume: l.volume_ml.len(),
                    pressure: l.pressure_mmhg.len(),
                });
            }
            if l.volume_ml.is_empty() {
                return Err(Invalid::Empty(format!("loop {:?} has no samples", l.label)));
            }
            let name = &l.label;
            scan(l.volume_ml.iter().copied(), |i| {
                format!("loop {name:?} volume sample {i}")
            })?;
            scan(l.pressure_mmhg.iter().copied(), |i| {
                format!("loop {name:?} pressure sample {i}")
            })?;
            for (kind, p) in [
                ("end-diastolic", l.end_diastole),
                ("end-systolic", l.end_systole),
            ] {
                if let Some((v, q)) = p {
                    scan([v, q].into_iter(), |_| {
                        format!("loop {name:?} {kind} point")
                    })?;
                }
            }
        }
        for c in self.reference_lines {
            if c.points.is_empty() {
                return Err(Invalid::Empty(format!(
                    "reference line {:?} has no points",
                    c.label
                )));
            }
            scan_points(&c.points, |i| {
                format!("reference line {:?} point {i}", c.label)
            })?;
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
        draw_pv(root, self, size, bitmap)
    }
}

/// Draw the whole picture; `bitmap` selects glyph-by-glyph text setting.
fn draw_pv<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &PvPlot,
    size: (u32, u32),
    bitmap: bool,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // Sizes are tuned at 1200x900 and scale with the picture.
    let p = Painter::new(root, size, CHART_DESIGN_PX, bitmap);
    let (tick_px, desc_px) = (p.px(TICK_PX), p.px(AXIS_TITLE_PX));

    p.clear()?;
    let top = p.title(plot.title)?;
    let area = root.margin(top, 0, 0, 0);

    // Axis ranges from the loops and their marked points.
    let mut vmin = f64::INFINITY;
    let mut vmax = f64::NEG_INFINITY;
    let mut pmin = f64::INFINITY;
    let mut pmax = f64::NEG_INFINITY;
    let mut include = |v: f64, p: f64| {
        vmin = vmin.min(v);
        vmax = vmax.max(v);
        pmin = pmin.min(p);
        pmax = pmax.max(p);
    };
    for l in plot.loops {
        for (&v, &p) in l.volume_ml.iter().zip(&l.pressure_mmhg) {
            include(v, p);
        }
        for (v, p) in l.end_diastole.into_iter().chain(l.end_systole) {
            include(v, p);
        }
    }
    let x_axis = axis_for(vmin, vmax);
    let y_axis = axis_for(pmin, pmax);
    let (x0, x1) = (x_axis.lo, x_axis.hi);
    let (y0, y1) = (y_axis.lo, y_axis.hi);

    // What will be drawn, in data coordinates.
    let n = plot.loops.len();
    let loop_width = p.pxu(if n == 1 { 5.0 } else { 4.0 });
    let loops: Vec<Vec<(f64, f64)>> = plot
        .loops
        .iter()
        .map(|l| {
            l.volume_ml
                .iter()
                .copied()
                .zip(l.pressure_mmhg.iter().copied())
                .collect()
        })
        .collect();
    let marked = |f: fn(&PvLoop) -> Option<(f64, f64)>| -> Vec<((f64, f64), RGBColor)> {
        plot.loops
            .iter()
            .enumerate()
            .filter_map(|(i, l)| f(l).map(|pt| (pt, ramp_colour(i, n))))
            .collect()
    };
    let eds = marked(|l| l.end_diastole);
    let ess = marked(|l| l.end_systole);
    let ref_width = p.pxu(3.0);
    let mut references = Vec::new(); // (label, colour, (dash, gap), visible pieces)
    for (i, c) in plot.reference_lines.iter().enumerate() {
        let pieces: Vec<_> = clip_polyline(&c.points, (x0, x1), (y0, y1))
            .into_iter()
            .filter(|piece| piece.len() >= 2)
            .collect();
        if pieces.is_empty() {
            continue; // nothing visible: no legend entry either
        }
        let colour = REFERENCE_GREYS[i % REFERENCE_GREYS.len()];
        let (dash, gap) = DASHES[i % DASHES.len()];
        let dash = (dash * ref_width as f64).round() as u32;
        let gap = (gap * ref_width as f64).round() as u32;
        references.push((c.label.clone(), colour, (dash, gap), pieces));
    }

    // Legend: loops, marked points, reference lines. A long legend (many
    // loops, e.g. P0-P9) gets slightly smaller text.
    let mut entries: Vec<(String, Mark)> = Vec::new();
    for (i, l) in plot.loops.iter().enumerate() {
        let label = if l.label.trim().is_empty() {
            format!("Loop {}", i + 1)
        } else {
            l.label.clone()
        };
        entries.push((label, Mark::Line(ramp_colour(i, n), loop_width)));
    }
    let legend_grey = RGBColor(110, 110, 110);
    if !eds.is_empty() {
        entries.push((
            "End-diastole".into(),
            Mark::Marker(Shape::Circle, legend_grey),
        ));
    }
    if !ess.is_empty() {
        entries.push((
            "End-systole".into(),
            Mark::Marker(Shape::Square, legend_grey),
        ));
    }
    for (label, colour, dash, _) in &references {
        entries.push((label.clone(), Mark::Dashed(*colour, ref_width, *dash)));
    }
    let mut legend = Legend::new(&p, entries);
    if legend.entries.len() > 10 {
        legend.text_px = p.px(26.0);
        legend.line_h = 1.25 * legend.text_px;
    }
    legend.limit_width(&p, (MAX_LEGEND_SHARE * size.0 as f64) as i32);
    let (box_w, box_h) = legend.box_size(&p);

    // Room for tick labels and axis titles, which are set here (not by
    // plotters) so PNG and SVG share one layout.
    let tick_len = p.pxi(8.0);
    let tick_gap = p.pxi(8.0);
    let desc_gap = p.pxi(26.0);
    let x_labels = x_axis.labels();
    let y_labels = y_axis.labels();
    let y_tick_w = y_labels
        .iter()
        .map(|l| p.text_width(l, tick_px))
        .fold(0.0, f64::max)
        .ceil() as i32;
    let tick_h = (tick_px * 0.65).round() as i32; // digits' height
    let desc_h = (desc_px * 0.85).round() as i32; // ascender to descender
    let y_area = tick_len + tick_gap + y_tick_w + desc_gap + desc_h + p.pxi(4.0);
    let x_area = tick_len + tick_gap + tick_h + desc_gap + desc_h + p.pxi(4.0);

    // Inside the axes if a corner is free of data, else to the right of them.
    let mut drawn: Vec<Vec<(f64, f64)>> = loops.clone();
    drawn.extend(references.iter().flat_map(|r| r.3.iter().cloned()));
    drawn.extend(eds.iter().chain(&ess).map(|&(pt, _)| vec![pt]));
    let build = |right: i32| {
        ChartBuilder::on(&area)
            .margin_left(p.pxi(16.0))
            .margin_right(right)
            .margin_bottom(p.pxi(16.0))
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(x0..x1, y0..y1)
    };
    let last_x_label = p.text_width(x_labels.last().map_or("", |s| s.as_str()), tick_px);
    let mut chart = build(
        p.pxi(20.0)
            .max((last_x_label / 2.0).ceil() as i32 + p.pxi(8.0)),
    )
    .map_err(err)?;
    let inside = |chart: &ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>| {
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let spec = chart.as_coord_spec();
        let px: Vec<Vec<(i32, i32)>> = drawn
            .iter()
            .map(|l| l.iter().map(|q| spec.translate(q)).collect())
            .collect();
        place_inside(
            (xr.start, yr.start, xr.end, yr.end),
            &px,
            (box_w, box_h),
            p.pxi(14.0),
            p.pxi(10.0),
        )
    };
    let (inside_at, covered) = inside(&chart);
    let legend_pos = if covered == 0 {
        inside_at
    } else {
        let gap = p.pxi(28.0);
        chart = build(gap + box_w + p.pxi(20.0)).map_err(err)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        (xr.end + gap, yr.start)
    };

    // Grid, axes and tick marks from plotters; its own labels are made
    // invisible (plotters skips transparent text) and set below instead.
    let axis = ShapeStyle {
        color: INK.to_rgba(),
        filled: false,
        stroke_width: p.pxu(2.0),
    };
    let hidden = TextStyle::from((FONT_FAMILY, tick_px).into_font()).color(&TRANSPARENT);
    chart
        .configure_mesh()
        .label_style(hidden)
        .x_labels(x_axis.ticks.len())
        .y_labels(y_axis.ticks.len())
        .axis_style(axis)
        .set_all_tick_mark_size(tick_len)
        .bold_line_style(GRID.stroke_width(p.pxu(1.0)))
        .max_light_lines(0)
        .draw()
        .map_err(err)?;

    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let spec = chart.as_coord_spec().clone();
    let xs: Vec<i32> = x_axis
        .ticks
        .iter()
        .map(|&t| spec.translate(&(t, y0)).0)
        .collect();
    let (x_size, shown) = fit_tick_labels(&p, &xs, &x_labels, tick_px, &x_axis);
    for (&x, label) in xs.iter().zip(shown) {
        if let Some(label) = label {
            let at = (x, yr.end + tick_len + tick_gap);
            p.text(&label, x_size, (HPos::Center, VPos::Top), at, Along::Across)?;
        }
    }
    for (&t, label) in y_axis.ticks.iter().zip(&y_labels) {
        let (_, y) = spec.translate(&(x0, t));
        let at = (xr.start - tick_len - tick_gap, y);
        p.text(
            label,
            tick_px,
            (HPos::Right, VPos::Center),
            at,
            Along::Across,
        )?;
    }
    let top_anchor = (HPos::Center, VPos::Top);
    let x_desc_at = (
        (xr.start + xr.end) / 2,
        yr.end + tick_len + tick_gap + tick_h + desc_gap,
    );
    p.text(
        &format!("{} volume (mL)", plot.chamber),
        desc_px,
        top_anchor,
        x_desc_at,
        Along::Across,
    )?;
    let y_desc_at = (
        xr.start - tick_len - tick_gap - y_tick_w - desc_gap - desc_h,
        (yr.start + yr.end) / 2,
    );
    p.text(
        &format!("{} pressure (mmHg)", plot.chamber),
        desc_px,
        top_anchor,
        y_desc_at,
        Along::Up,
    )?;

    // Reference lines behind the loops.
    for (_, colour, (dash, gap), pieces) in &references {
        for piece in pieces {
            chart
                .draw_series(DashedLineSeries::new(
                    piece.iter().copied(),
                    *dash,
                    *gap,
                    colour.stroke_width(ref_width),
                ))
                .map_err(err)?;
        }
    }

    // Loops. Simulated beats have thousands of samples, most less than a
    // pixel apart; thinning them gives cleaner thick lines and smaller SVG.
    for (i, pts) in loops.into_iter().enumerate() {
        let colour = ramp_colour(i, n);
        let pts = thin(&pts, |q| spec.translate(q), p.px(2.0));
        if pts.len() == 1 {
            let dot = Circle::new(pts[0], loop_width, colour.filled());
            chart.draw_series(std::iter::once(dot)).map_err(err)?;
        } else {
            let line = PathElement::new(pts, colour.stroke_width(loop_width));
            chart.draw_series(std::iter::once(line)).map_err(err)?;
        }
    }

    // End-diastolic (circle) and end-systolic (square) points, on top,
    // filled in their loop's colour.
    let (r, e) = (p.pxi(11.0), p.pxi(2.5));
    for (shape, points) in [(Shape::Circle, &eds), (Shape::Square, &ess)] {
        for &(pt, colour) in points.iter() {
            p.marker(shape, spec.translate(&pt), r, e, colour)?;
        }
    }

    // The legend, drawn by hand so it may also sit outside the axes.
    legend.draw_box(&p, legend_pos)
}

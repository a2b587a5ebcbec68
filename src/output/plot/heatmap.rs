//! A two-parameter grid coloured by a metric, with a colour bar.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{
    draw_axes, labels_width, y_title, AxesSpec, AxisStyle, DrawResult, Frame, Painter,
    CHART_DESIGN_PX,
};
use super::layout::{axis_tight, fixed, luminance, sig3, viridis, Axis, INK};
use super::text::Along;
use super::{
    scan, svg_figure, write_figure, Figure, ImageFormat, Invalid, PlotError, MAX_ABS_VALUE,
};

/// A metric over a grid of two swept parameters: one cell per (x, y)
/// pair, coloured on the viridis ramp (dark purple low, yellow high; it
/// reads in greyscale print), with a colour bar.
#[derive(Debug, Clone, Copy)]
pub struct Heatmap<'a> {
    /// Drawn above the chart (shrunk to fit).
    pub title: &'a str,
    /// Column parameter with unit, e.g. "P-level".
    pub x_label: &'a str,
    /// Row parameter with unit, e.g. "LV Ees (mmHg/mL)".
    pub y_label: &'a str,
    /// Metric with unit, e.g. "LVEDP (mmHg)": the colour bar's title.
    pub colour_label: &'a str,
    /// Column values, strictly increasing.
    pub x_values: &'a [f64],
    /// Row values, strictly increasing (drawn bottom to top).
    pub y_values: &'a [f64],
    /// `values[row * x_values.len() + column]`. NaN marks a cell without a
    /// value (e.g. a failed run): it is drawn light grey.
    pub values: &'a [f64],
    /// Write each cell's value in it (when every value fits its cell).
    pub show_values: bool,
}

/// Render `map` and write it to exactly `path` in `format`.
pub fn write_heatmap(
    path: &Path,
    map: &Heatmap,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, map, format, size_px)
}

/// `map` as an SVG document string.
pub fn heatmap_svg(map: &Heatmap, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(map, size_px)
}

const NO_VALUE: RGBColor = RGBColor(215, 215, 215);

impl Figure for Heatmap<'_> {
    fn validate(&self) -> Result<(), Invalid> {
        for (name, v) in [("x", self.x_values), ("y", self.y_values)] {
            if v.is_empty() {
                return Err(Invalid::Empty(format!("no {name} values given")));
            }
            scan(v.iter().copied(), |i| format!("{name} value {i}"))?;
            if let Some(i) = v.windows(2).position(|w| w[1] <= w[0]) {
                return Err(Invalid::Inconsistent(format!(
                    "{name} values must increase strictly ({} then {})",
                    v[i],
                    v[i + 1]
                )));
            }
        }
        let cells = self.x_values.len() * self.y_values.len();
        if self.values.len() != cells {
            return Err(Invalid::Inconsistent(format!(
                "{} values for {} columns x {} rows",
                self.values.len(),
                self.x_values.len(),
                self.y_values.len()
            )));
        }
        for (i, &v) in self.values.iter().enumerate() {
            if v.is_infinite() {
                return Err(Invalid::NonFinite(format!("cell {i}")));
            }
            if v.abs() > MAX_ABS_VALUE {
                return Err(Invalid::OutOfRange(format!("cell {i}")));
            }
        }
        if self.values.iter().all(|v| v.is_nan()) {
            return Err(Invalid::Empty("no cell has a value".into()));
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
        draw_heatmap(root, self, size, bitmap)
    }
}

/// Cell edges around `values`: midpoints between neighbours, and half a
/// spacing beyond the ends.
fn edges(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 1 {
        let half = (values[0].abs() * 0.1).max(0.5);
        return vec![values[0] - half, values[0] + half];
    }
    let mut e = Vec::with_capacity(n + 1);
    e.push(values[0] - 0.5 * (values[1] - values[0]));
    for w in values.windows(2) {
        e.push(0.5 * (w[0] + w[1]));
    }
    e.push(values[n - 1] + 0.5 * (values[n - 1] - values[n - 2]));
    e
}

/// An axis over the cells with ticks at every `keep_every`-th parameter
/// value, written with the decimals the values need.
fn cell_axis(values: &[f64], edges: &[f64], keep_every: usize) -> Axis {
    // Decimals that write each value exactly (to 1e-6), at most 4.
    let decimals = (0..=4usize)
        .find(|&k| {
            let f = 10f64.powi(k as i32);
            values
                .iter()
                .all(|&v| ((v * f).round() - v * f).abs() <= 1e-6 * f.max(1.0))
        })
        .unwrap_or(4);
    Axis {
        lo: edges[0],
        hi: edges[edges.len() - 1],
        ticks: values.iter().copied().step_by(keep_every.max(1)).collect(),
        decimals,
        names: Vec::new(),
    }
}

/// How many values to step so labels `label_w` px wide keep `gap` px apart
/// on an axis `len` px long.
fn keep_every(values: usize, len: i32, label_w: f64, gap: f64) -> usize {
    let per = len as f64 / values.max(1) as f64;
    ((label_w + gap) / per).ceil().max(1.0) as usize
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    map: &Heatmap,
    size: (u32, u32),
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let p = Painter::new(root, size, CHART_DESIGN_PX, bitmap);
    let st = AxisStyle::new(&p);
    p.clear()?;
    let top = p.title(map.title)?;

    let (vmin, vmax) = map
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let any_missing = map.values.iter().any(|v| v.is_nan());
    let (xe, ye) = (edges(map.x_values), edges(map.y_values));
    let (nx, ny) = (map.x_values.len(), map.y_values.len());

    // Colour bar geometry, right of the frame.
    let bar_w = p.pxi(40.0);
    let bar_gap = p.pxi(44.0);
    let bottom = p.height as i32 - p.pxi(16.0) - st.x_area(true);
    let bar_axis_for = |len: i32| {
        let intervals = ((len as f64) / (2.2 * st.tick_px)).floor() as i64;
        axis_tight(vmin, vmax, intervals.clamp(2, 8))
    };
    let bar = bar_axis_for(bottom - top);
    let bar_label_w = labels_width(&p, &bar, st.tick_px);
    let bar_room = bar_gap
        + bar_w
        + st.tick_len
        + st.tick_gap
        + bar_label_w
        + st.title_gap
        + st.title_h()
        + p.pxi(20.0);

    // Frame: tick labels at the parameter values, thinned if they crowd.
    let x_all = cell_axis(map.x_values, &xe, 1);
    let y_all = cell_axis(map.y_values, &ye, 1);
    let x_label_w = map
        .x_values
        .iter()
        .map(|&v| p.text_width(&fixed(v, x_all.decimals), st.tick_px))
        .fold(0.0, f64::max);
    let y_w = labels_width(&p, &y_all, st.tick_px);
    let left = p.pxi(16.0) + st.y_area(y_w);
    let right = p.width as i32 - bar_room;
    if right - left < p.pxi(100.0) || bottom - top < p.pxi(60.0) {
        return Err(format!(
            "the picture ({}x{} px) is too small for a heatmap",
            p.width, p.height
        ));
    }
    let kx = keep_every(nx, right - left, x_label_w, 1.2 * st.tick_px);
    let ky = keep_every(ny, bottom - top, st.tick_px * 0.7, 0.8 * st.tick_px);
    let frame = Frame {
        left,
        top,
        right,
        bottom,
        x: cell_axis(map.x_values, &xe, kx),
        y: cell_axis(map.y_values, &ye, ky),
    };

    // Cells, with a thin white seam between them.
    let seam = p.pxi(1.0);
    let colour_of = |v: f64| {
        if v.is_nan() {
            NO_VALUE
        } else if vmax > vmin {
            viridis((v - vmin) / (vmax - vmin))
        } else {
            viridis(0.5)
        }
    };
    let mut cells = Vec::with_capacity(nx * ny);
    for r in 0..ny {
        for c in 0..nx {
            let v = map.values[r * nx + c];
            let a = frame.px((xe[c], ye[r + 1]));
            let b = frame.px((xe[c + 1], ye[r]));
            p.fill_rect(
                (a.0 + seam, a.1 + seam),
                (b.0 - seam, b.1 - seam),
                colour_of(v).to_rgba(),
            )?;
            cells.push((v, a, b));
        }
    }

    // Values in the cells, if every one fits.
    if map.show_values {
        let size = p.px(26.0);
        let fits = cells.iter().all(|&(v, a, b)| {
            v.is_nan()
                || (p.text_width(&sig3(v), size) <= (b.0 - a.0 - 2 * p.pxi(6.0)) as f64
                    && size * 0.9 <= (b.1 - a.1) as f64)
        });
        if fits {
            for &(v, a, b) in &cells {
                if v.is_nan() {
                    continue;
                }
                let ink = if luminance(colour_of(v)) < 0.35 {
                    WHITE
                } else {
                    INK
                };
                let mid = ((a.0 + b.0) / 2, (a.1 + b.1) / 2);
                p.text_in(ink, &sig3(v), size, (HPos::Center, VPos::Center), mid)?;
            }
        }
    }

    let spec = AxesSpec {
        x_title: Some(map.x_label),
        x_labels: true,
        y_title: map.y_label,
        grid: false,
        y_title_room: 0.0,
    };
    draw_axes(&p, &frame, &st, spec, y_w)?;

    // Colour bar: the ramp, its outline, ticks and title; a "no value"
    // swatch below it when some cells have none.
    let bx0 = frame.right + bar_gap;
    let bx1 = bx0 + bar_w;
    let swatch_h = if any_missing { p.pxi(70.0) } else { 0 };
    let (bt, bb) = (frame.top, frame.bottom - swatch_h);
    let bar = bar_axis_for(bb - bt);
    let steps = 96;
    for k in 0..steps {
        let y_hi = bb - ((k + 1) * (bb - bt)) / steps;
        let y_lo = bb - (k * (bb - bt)) / steps;
        let t = (k as f64 + 0.5) / steps as f64;
        p.fill_rect((bx0, y_hi), (bx1, y_lo), viridis(t).to_rgba())?;
    }
    p.frame_rect((bx0, bt), (bx1, bb), INK, p.pxu(1.5))?;
    let map_bar = |v: f64| {
        if vmax > vmin {
            (bb as f64 - (v - vmin) / (vmax - vmin) * (bb - bt) as f64).round() as i32
        } else {
            (bt + bb) / 2
        }
    };
    let bar_label_w = labels_width(&p, &bar, st.tick_px);
    for (&t, label) in bar.ticks.iter().zip(bar.labels()) {
        if vmax > vmin && (t < vmin || t > vmax) {
            continue;
        }
        let y = map_bar(t);
        p.polyline(vec![(bx1, y), (bx1 + st.tick_len, y)], INK, st.line)?;
        p.text(
            &label,
            st.tick_px,
            (HPos::Left, VPos::Center),
            (bx1 + st.tick_len + st.tick_gap, y),
            Along::Across,
        )?;
    }
    let bar_frame = Frame {
        left: bx0,
        top: bt,
        right: bx1,
        bottom: bb,
        x: frame.x.clone(),
        y: bar.clone(),
    };
    y_title(
        &p,
        &bar_frame,
        &st,
        map.colour_label,
        bx1 + st.tick_len + st.tick_gap + bar_label_w + st.title_gap,
        0.0,
    )?;
    if any_missing {
        let s = p.pxi(22.0);
        let y = frame.bottom - s / 2 - p.pxi(4.0);
        p.fill_rect((bx0, y - s / 2), (bx0 + s, y + s / 2), NO_VALUE.to_rgba())?;
        p.text(
            "no value",
            p.px(26.0),
            (HPos::Left, VPos::Center),
            (bx0 + s + p.pxi(8.0), y),
            Along::Across,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_edges_are_midpoints() {
        assert_eq!(edges(&[0.0, 1.0, 2.0]), vec![-0.5, 0.5, 1.5, 2.5]);
        assert_eq!(edges(&[1.0, 2.0, 4.0]), vec![0.5, 1.5, 3.0, 5.0]);
        assert_eq!(edges(&[3.0]), vec![2.5, 3.5]);
        assert_eq!(keep_every(10, 1000, 30.0, 20.0), 1);
        assert_eq!(keep_every(100, 1000, 30.0, 20.0), 5);
        let a = cell_axis(&[0.5, 1.0, 1.5], &edges(&[0.5, 1.0, 1.5]), 1);
        assert_eq!(a.labels(), vec!["0.5", "1.0", "1.5"]);
    }
}

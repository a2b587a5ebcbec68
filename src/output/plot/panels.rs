//! Stacked panels sharing a time axis: waveforms (time in s) and course
//! timelines (time in h), with labelled vertical event markers.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{
    draw_axes, draw_right_axis, labels_width, y_title, AxesSpec, AxisStyle, DrawResult, Frame,
    Legend, Mark, Painter,
};
use super::layout::{
    axis_auto, axis_tight, axis_tight_hours, series_colour, step_corners, Axis, EVENT_GREY,
};
use super::{scan, scan_points, svg_figure, write_figure, Figure, ImageFormat, Invalid, PlotError};

/// One named series of a panel: (time, value) points drawn in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend text; an empty label has no legend entry.
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Hold each value until the next point instead of joining points with
    /// straight lines: for settings such as the P-level.
    pub step: bool,
    /// Plot against the panel's right-hand axis (`Panel::y2_label`).
    pub right_axis: bool,
}

impl Series {
    /// A series joining its points with straight lines.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            ..Series::default()
        }
    }

    /// A series holding each value until the next point.
    pub fn step(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            step: true,
            ..Series::line(label, points)
        }
    }

    /// The same series, plotted against the panel's right-hand axis.
    pub fn on_right_axis(self) -> Self {
        Series {
            right_axis: true,
            ..self
        }
    }
}

/// One panel: a y axis with its label (quantity and unit, e.g.
/// "Pressure (mmHg)") and one or more series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    pub y_label: String,
    /// Label of the right-hand axis, used when some series are on it.
    pub y2_label: String,
    pub series: Vec<Series>,
}

impl Panel {
    pub fn new(y_label: impl Into<String>, series: Vec<Series>) -> Self {
        Panel {
            y_label: y_label.into(),
            y2_label: String::new(),
            series,
        }
    }

    /// The same panel with a right-hand axis labelled `y2_label`.
    pub fn with_right_axis(self, y2_label: impl Into<String>) -> Self {
        Panel {
            y2_label: y2_label.into(),
            ..self
        }
    }
}

/// A labelled vertical line across every panel at time `x` (in the
/// picture's time unit).
#[derive(Debug, Clone, PartialEq)]
pub struct EventMarker {
    pub x: f64,
    pub label: String,
}

impl EventMarker {
    pub fn new(x: f64, label: impl Into<String>) -> Self {
        EventMarker {
            x,
            label: label.into(),
        }
    }
}

/// Panels stacked top to bottom over one shared time axis.
#[derive(Debug, Clone, Copy)]
pub struct StackedPlot<'a> {
    /// Drawn above the panels (shrunk to fit).
    pub title: &'a str,
    pub panels: &'a [Panel],
    /// Events outside the time span of the data are left out.
    pub events: &'a [EventMarker],
}

/// A picture size that gives `panels` stacked panels slide-readable text:
/// 1600 px wide, about 270 px per panel.
pub fn stacked_size_px(panels: usize) -> (u32, u32) {
    (1600, design_height(panels).round() as u32)
}

fn design_height(panels: usize) -> f64 {
    (240.0 + 270.0 * panels.max(1) as f64).clamp(600.0, 10_000.0)
}

/// Waveforms over a few beats: stacked panels with time in seconds
/// ("Time (s)"). Written to exactly `path` in `format`.
pub fn write_waveforms(
    path: &Path,
    plot: &StackedPlot,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, &Stacked::seconds(plot), format, size_px)
}

/// `write_waveforms` as an SVG document string.
pub fn waveforms_svg(plot: &StackedPlot, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(&Stacked::seconds(plot), size_px)
}

/// A course over hours (e.g. weaning): stacked panels with time in hours
/// ("Time (h)"; ticks on 1, 2, 3, 6, 12, 24 h ... from 2 h up); use step
/// series for settings and event markers for criterion failures or
/// actions. Written to exactly `path` in `format`.
pub fn write_timeline(
    path: &Path,
    plot: &StackedPlot,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    write_figure(path, &Stacked::hours(plot), format, size_px)
}

/// `write_timeline` as an SVG document string.
pub fn timeline_svg(plot: &StackedPlot, size_px: (u32, u32)) -> Result<String, PlotError> {
    svg_figure(&Stacked::hours(plot), size_px)
}

/// A stacked plot with its time axis.
struct Stacked<'p, 'a> {
    plot: &'p StackedPlot<'a>,
    x_title: &'static str,
    /// Hour-friendly time ticks.
    hours: bool,
}

impl<'p, 'a> Stacked<'p, 'a> {
    fn seconds(plot: &'p StackedPlot<'a>) -> Self {
        Stacked {
            plot,
            x_title: "Time (s)",
            hours: false,
        }
    }
    fn hours(plot: &'p StackedPlot<'a>) -> Self {
        Stacked {
            plot,
            x_title: "Time (h)",
            hours: true,
        }
    }
}

impl Figure for Stacked<'_, '_> {
    fn validate(&self) -> Result<(), Invalid> {
        let panels = self.plot.panels;
        if panels.is_empty() {
            return Err(Invalid::Empty("no panels given".into()));
        }
        for (k, panel) in panels.iter().enumerate() {
            let name = if panel.y_label.trim().is_empty() {
                format!("panel {}", k + 1)
            } else {
                format!("panel {} ({:?})", k + 1, panel.y_label)
            };
            if panel.series.is_empty() {
                return Err(Invalid::Empty(format!("{name} has no series")));
            }
            for s in &panel.series {
                if s.points.is_empty() {
                    return Err(Invalid::Empty(format!(
                        "series {:?} in {name} has no points",
                        s.label
                    )));
                }
                scan_points(&s.points, |i| {
                    format!("series {:?} in {name}, point {i}", s.label)
                })?;
            }
        }
        scan(self.plot.events.iter().map(|e| e.x), |i| {
            format!("event marker {:?}", self.plot.events[i].label)
        })
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
        draw_stacked(root, self, size, bitmap)
    }
}

/// Where one panel goes and what it shows.
struct PanelLayout {
    frame: Frame,
    /// The right-hand axis, if some series are on it.
    y2: Option<Axis>,
    legend: Legend,
    rows: Vec<Vec<(usize, i32)>>,
    /// Top of the legend rows (the panel's top).
    legend_top: i32,
    y_label_w: i32,
    y2_label_w: i32,
}

/// The whole layout for a given frame left and right edge.
struct Layout {
    panels: Vec<PanelLayout>,
    /// Per event shown: its index, pixel x, label row and anchor.
    events: Vec<(usize, i32, usize, HPos)>,
    events_top: i32,
    event_px: f64,
    event_line_h: f64,
    /// Frame edges this layout asks for (from its tick label widths).
    want_left: i32,
    want_right: i32,
}

/// Series of `panel` on the left axis, and on the right axis. A panel with
/// only right-axis series plots them on the left.
fn split_series(panel: &Panel) -> (Vec<&Series>, Vec<&Series>) {
    let (right, left): (Vec<&Series>, Vec<&Series>) =
        panel.series.iter().partition(|s| s.right_axis);
    if left.is_empty() {
        (right, Vec::new())
    } else {
        (left, right)
    }
}

fn y_range<'s>(series: impl Iterator<Item = &'s Series>) -> (f64, f64) {
    series
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

fn line_width(series_in_panel: usize) -> f64 {
    if series_in_panel <= 3 {
        4.0
    } else {
        3.0
    }
}

/// Sample length of legend lines above panels.
const SHORT_SAMPLE: f64 = 44.0;

fn layout<DB: DrawingBackend>(
    p: &Painter<DB>,
    st: &AxisStyle,
    fig: &Stacked,
    top: i32,
    (left, right): (i32, i32),
) -> DrawResult<Layout>
where
    DB::ErrorType: 'static,
{
    let plot = fig.plot;
    let n = plot.panels.len();

    // Shared time axis over the data; ticks spaced for their labels.
    let (xmin, xmax) = plot
        .panels
        .iter()
        .flat_map(|pn| pn.series.iter())
        .flat_map(|s| s.points.iter().map(|q| q.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let probe = p.text_width(&format!("{:.1}", xmax.abs().max(xmin.abs())), st.tick_px);
    let x_intervals = (((right - left) as f64) / (probe + 2.5 * st.tick_px)).floor() as i64;
    let x = if fig.hours {
        axis_tight_hours(xmin, xmax, x_intervals.clamp(2, 10))
    } else {
        axis_tight(xmin, xmax, x_intervals.clamp(2, 10))
    };

    // Event labels in rows above the panels: each goes in the first row
    // where it does not touch an earlier label.
    let event_px = p.px(26.0);
    let event_line_h = 1.3 * event_px;
    let frame_x = |v: f64| left as f64 + (v - x.lo) / (x.hi - x.lo) * (right - left) as f64;
    let mut order: Vec<usize> = (0..plot.events.len())
        .filter(|&i| {
            let v = plot.events[i].x;
            v >= x.lo && v <= x.hi
        })
        .collect();
    order.sort_by(|&a, &b| plot.events[a].x.total_cmp(&plot.events[b].x));
    let mut row_ends: Vec<i32> = Vec::new();
    let mut events = Vec::new();
    let label_gap = p.pxi(6.0);
    for i in order {
        let ex = frame_x(plot.events[i].x).round() as i32;
        let w = p.text_width(&plot.events[i].label, event_px).ceil() as i32;
        let (start, end, anchor) = if ex + label_gap + w <= p.width as i32 - p.pxi(10.0) {
            (ex, ex + label_gap + w, HPos::Left)
        } else {
            (ex - label_gap - w, ex, HPos::Right)
        };
        let row = row_ends
            .iter()
            .position(|&e| start > e + p.pxi(16.0))
            .unwrap_or(row_ends.len());
        if row == row_ends.len() {
            row_ends.push(end);
        } else {
            row_ends[row] = end;
        }
        events.push((i, ex, row, anchor));
    }
    let events_top = top;
    let events_h = if row_ends.is_empty() {
        0
    } else {
        (row_ends.len() as f64 * event_line_h).round() as i32 + p.pxi(6.0)
    };

    // Legends: one or more rows above each panel.
    let short = p.pxi(SHORT_SAMPLE);
    let mut legends = Vec::with_capacity(n);
    for panel in plot.panels {
        let (left_s, right_s) = split_series(panel);
        let count = panel.series.len();
        let width = p.pxu(line_width(count));
        let entries: Vec<(String, Mark)> = left_s
            .iter()
            .chain(&right_s)
            .enumerate()
            .filter(|(_, s)| !s.label.trim().is_empty())
            .map(|(i, s)| {
                let label = if s.right_axis && !right_s.is_empty() {
                    format!("{} (right axis)", s.label)
                } else {
                    s.label.clone()
                };
                (label, Mark::Line(series_colour(i, count), width))
            })
            .collect();
        let mut legend = Legend::new(p, entries);
        legend.text_px = p.px(28.0);
        legend.line_h = 1.3 * legend.text_px;
        let rows = legend.rows(p, right - left, short);
        legends.push((legend, rows));
    }

    // Panel heights: what is left, shared equally.
    let panel_gap = st.tick_len + p.pxi(22.0);
    let legend_pad = p.pxi(8.0);
    let bottom_area = st.x_area(true) + p.pxi(16.0);
    let legend_total: i32 = legends
        .iter()
        .map(|(l, rows)| (rows.len() as f64 * l.line_h).round() as i32 + legend_pad)
        .sum();
    let avail =
        p.height as i32 - top - events_h - legend_total - (n as i32 - 1) * panel_gap - bottom_area;
    let h = avail / n as i32;
    if h < p.pxi(40.0).max(30) || st.tick_px < 8.0 {
        return Err(format!(
            "{n} panels do not fit a {}x{} px picture; make it taller (stacked_size_px gives a fitting size)",
            p.width, p.height
        ));
    }

    let max_intervals = ((h as f64) / (1.9 * st.tick_px)).floor() as i64;
    let max_intervals = max_intervals.clamp(2, 8);
    let mut panels = Vec::with_capacity(n);
    let mut y = top + events_h;
    let (mut want_left, mut want_right) = (0, p.width as i32);
    for (panel, (legend, rows)) in plot.panels.iter().zip(legends) {
        let legend_top = y;
        let plot_top = y + (rows.len() as f64 * legend.line_h).round() as i32 + legend_pad;
        let plot_bottom = plot_top + h;
        let (left_s, right_s) = split_series(panel);
        let (lo, hi) = y_range(left_s.iter().copied());
        let y_axis = axis_auto(lo, hi, max_intervals);
        let y2 = if right_s.is_empty() {
            None
        } else {
            let (lo, hi) = y_range(right_s.iter().copied());
            Some(axis_auto(lo, hi, max_intervals))
        };
        let y_label_w = labels_width(p, &y_axis, st.tick_px);
        let y2_label_w = y2.as_ref().map_or(0, |a| labels_width(p, a, st.tick_px));
        want_left = want_left.max(p.pxi(16.0) + st.y_area(y_label_w));
        if y2.is_some() {
            want_right = want_right.min(p.width as i32 - p.pxi(16.0) - st.y_area(y2_label_w));
        }
        panels.push(PanelLayout {
            frame: Frame {
                left,
                top: plot_top,
                right,
                bottom: plot_bottom,
                x: x.clone(),
                y: y_axis,
            },
            y2,
            legend,
            rows,
            legend_top,
            y_label_w,
            y2_label_w,
        });
        y = plot_bottom + panel_gap;
    }
    let last_label = x
        .labels()
        .last()
        .map_or(0.0, |l| p.text_width(l, st.tick_px));
    let right_margin = p
        .pxi(30.0)
        .max((last_label / 2.0).ceil() as i32 + p.pxi(8.0));
    want_right = want_right.min(p.width as i32 - right_margin);
    Ok(Layout {
        panels,
        events,
        events_top,
        event_px,
        event_line_h,
        want_left,
        want_right,
    })
}

fn draw_stacked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Stacked,
    size: (u32, u32),
    bitmap: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let plot = fig.plot;
    let n = plot.panels.len();
    let p = Painter::new(root, size, (1600.0, design_height(n)), bitmap);
    let st = AxisStyle::new(&p);
    p.clear()?;
    let top = p.title(plot.title)?;

    // The frame's edges depend on the tick labels, which depend on the
    // panel heights: settle them in a few passes.
    let mut edges = (
        p.pxi(16.0) + st.y_area(p.text_width("0", st.tick_px).ceil() as i32),
        p.width as i32 - p.pxi(30.0),
    );
    let mut lay = layout(&p, &st, fig, top, edges)?;
    for _ in 0..3 {
        let want = (lay.want_left.max(edges.0), lay.want_right.min(edges.1));
        if want == edges {
            break;
        }
        edges = want;
        lay = layout(&p, &st, fig, top, edges)?;
    }
    if edges.1 - edges.0 < p.pxi(100.0) {
        return Err(format!(
            "the picture is too narrow ({} px) for its axis labels",
            p.width
        ));
    }

    // Axes and grids. Every y title gets the same size: the largest at
    // which each fits beside its panel and the panel's legend.
    let room = |pl: &PanelLayout| (pl.frame.bottom - pl.legend_top) as f64 + p.px(20.0);
    let title_px = plot
        .panels
        .iter()
        .zip(&lay.panels)
        .flat_map(|(panel, pl)| {
            let r = room(pl);
            [(&panel.y_label, r), (&panel.y2_label, r)]
        })
        .filter(|(t, _)| !t.trim().is_empty())
        .map(|(t, r)| p.fit(t, st.title_px, r))
        .fold(st.title_px, f64::min);
    let st_titles = AxisStyle { title_px, ..st };
    for (k, pl) in lay.panels.iter().enumerate() {
        let last = k + 1 == n;
        let spec = AxesSpec {
            x_title: last.then_some(fig.x_title),
            x_labels: last,
            y_title: "",
            grid: true,
            y_title_room: 0.0,
        };
        draw_axes(&p, &pl.frame, &st, spec, pl.y_label_w)?;
        // Titles centred on the panel and its legend.
        let centred = Frame {
            top: pl.legend_top,
            ..pl.frame.clone()
        };
        let x = pl.frame.left
            - st.tick_len
            - st.tick_gap
            - pl.y_label_w
            - st.title_gap
            - st_titles.title_h();
        let panel = &plot.panels[k];
        y_title(&p, &centred, &st_titles, &panel.y_label, x, room(pl))?;
        if let Some(y2) = &pl.y2 {
            draw_right_axis(&p, &pl.frame, y2, &st, "", pl.y2_label_w, 0.0)?;
            let x = pl.frame.right + st.tick_len + st.tick_gap + pl.y2_label_w + st.title_gap;
            y_title(&p, &centred, &st_titles, &panel.y2_label, x, room(pl))?;
        }
    }

    // Event lines from their label down through every panel (legend and
    // label text is drawn over them on a white ground).
    let ev_w = p.pxu(2.5);
    let dash = (p.pxu(12.0), p.pxu(8.0));
    let bottom = lay.panels.last().map_or(0, |pl| pl.frame.bottom);
    for &(_, ex, row, _) in &lay.events {
        let from = lay.events_top + (row as f64 * lay.event_line_h).round() as i32;
        p.dashed(vec![(ex, from), (ex, bottom)], EVENT_GREY, ev_w, dash)?;
    }

    // Series.
    for (panel, pl) in plot.panels.iter().zip(&lay.panels) {
        let (left_s, right_s) = split_series(panel);
        let count = panel.series.len();
        let width = p.pxu(line_width(count));
        let right_frame = pl.y2.as_ref().map(|y2| Frame {
            y: y2.clone(),
            ..pl.frame.clone()
        });
        for (i, s) in left_s.iter().chain(&right_s).enumerate() {
            let frame = if i >= left_s.len() {
                right_frame.as_ref().unwrap_or(&pl.frame)
            } else {
                &pl.frame
            };
            let colour = series_colour(i, count);
            let pts = if s.step {
                step_corners(&s.points)
            } else {
                s.points.clone()
            };
            let min_px = if s.step { 0.0 } else { p.px(1.5) };
            for piece in frame.polyline_px(&pts, min_px) {
                if piece.len() == 1 {
                    p.fill_circle(piece[0], width as i32, colour)?;
                } else {
                    p.polyline(piece, colour, width)?;
                }
            }
        }
    }

    // Legend rows, on white so event lines pass behind them.
    let short = p.pxi(SHORT_SAMPLE);
    for pl in &lay.panels {
        let l = &pl.legend;
        let y0 = pl.legend_top + (0.5 * l.line_h).round() as i32;
        let half = (0.5 * l.line_h).round() as i32;
        for (r, row) in pl.rows.iter().enumerate() {
            let y = y0 + (r as f64 * l.line_h).round() as i32;
            let end = row
                .last()
                .map_or(0, |&(k, dx)| dx + l.row_entry_width(&p, k, short));
            p.fill_rect(
                (pl.frame.left - p.pxi(4.0), y - half),
                (pl.frame.left + end + p.pxi(8.0), y + half),
                WHITE.to_rgba(),
            )?;
        }
        l.draw_rows(&p, &pl.rows, (pl.frame.left, y0), short)?;
    }

    // Event labels, on white where another event's line passes.
    let gap = p.pxi(6.0);
    let half = (0.5 * lay.event_line_h).round() as i32;
    for &(i, ex, row, anchor) in &lay.events {
        let label = &plot.events[i].label;
        let y = lay.events_top + ((row as f64 + 0.5) * lay.event_line_h).round() as i32;
        let w = p.text_width(label, lay.event_px).ceil() as i32;
        let (x, x0, x1) = if matches!(anchor, HPos::Left) {
            (ex + gap, ex + gap - p.pxi(2.0), ex + gap + w + p.pxi(4.0))
        } else {
            (ex - gap, ex - gap - w - p.pxi(4.0), ex - gap + p.pxi(2.0))
        };
        p.fill_rect((x0, y - half), (x1, y + half), WHITE.to_rgba())?;
        p.text_in(
            EVENT_GREY,
            label,
            lay.event_px,
            (anchor, VPos::Center),
            (x, y),
        )?;
    }
    Ok(())
}

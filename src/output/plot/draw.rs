//! Drawing shared by every chart: a painter that scales sizes with the
//! picture, axes frames with hand-set tick labels, legends and markers.
//!
//! Everything is drawn in backend pixels on the root area; data are mapped
//! to pixels by a `Frame`. Tick labels and axis titles are set with the
//! `Typesetter`, so PNG and SVG share one layout.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::layout::{clip_polyline, thin, Axis, GRID, INK, LEGEND_BORDER};
use super::text::{Along, Typesetter};

pub(super) type DrawResult<T = ()> = Result<T, String>;

/// Text sizes at the design size of a chart (plotters' size:
/// ascender-to-descender height, about 1.16 em).
pub(super) const TITLE_PX: f64 = 40.0;
pub(super) const AXIS_TITLE_PX: f64 = 36.0;
pub(super) const TICK_PX: f64 = 32.0;
pub(super) const LEGEND_PX: f64 = 30.0;

/// Widest a legend may be, as a share of the picture's width: longer labels are shortened
/// rather than shrinking the axes beside it.
pub(super) const MAX_LEGEND_SHARE: f64 = 0.3;

/// Design size of the single-chart pictures (PV loops, x–y charts, histograms, heat maps):
/// their text sizes and margins are set at it, and scale with the picture from it.
pub(super) const CHART_DESIGN_PX: (f64, f64) = (1200.0, 900.0);

/// Draws on a root area whose sizes scale with the picture: `s` is the
/// picture size over the chart's design size.
pub(super) struct Painter<'a, DB: DrawingBackend> {
    pub root: &'a DrawingArea<DB, Shift>,
    pub text: Typesetter,
    pub s: f64,
    pub width: u32,
    pub height: u32,
}

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

impl<'a, DB: DrawingBackend> Painter<'a, DB>
where
    DB::ErrorType: 'static,
{
    /// A painter for a picture of `size` drawn for `design` size.
    pub(super) fn new(
        root: &'a DrawingArea<DB, Shift>,
        (width, height): (u32, u32),
        design: (f64, f64),
        bitmap: bool,
    ) -> Self {
        Painter {
            root,
            text: Typesetter::new(bitmap, INK),
            s: (width as f64 / design.0).min(height as f64 / design.1),
            width,
            height,
        }
    }

    /// A design length in pixels (at least 1).
    pub(super) fn px(&self, v: f64) -> f64 {
        (v * self.s).round().max(1.0)
    }
    pub(super) fn pxi(&self, v: f64) -> i32 {
        self.px(v) as i32
    }
    pub(super) fn pxu(&self, v: f64) -> u32 {
        self.px(v) as u32
    }

    pub(super) fn clear(&self) -> DrawResult {
        self.root.fill(&WHITE).map_err(err)
    }

    pub(super) fn polyline(
        &self,
        pts: Vec<(i32, i32)>,
        colour: RGBColor,
        width: u32,
    ) -> DrawResult {
        self.root
            .draw(&PathElement::new(pts, colour.stroke_width(width)))
            .map_err(err)
    }

    pub(super) fn dashed(
        &self,
        pts: Vec<(i32, i32)>,
        colour: RGBColor,
        width: u32,
        (dash, gap): (u32, u32),
    ) -> DrawResult {
        self.root
            .draw(&DashedPathElement::new(
                pts,
                dash,
                gap,
                colour.stroke_width(width),
            ))
            .map_err(err)
    }

    pub(super) fn fill_rect(&self, a: (i32, i32), b: (i32, i32), colour: RGBAColor) -> DrawResult {
        self.root
            .draw(&Rectangle::new([a, b], colour.filled()))
            .map_err(err)
    }

    pub(super) fn fill_circle(&self, c: (i32, i32), r: i32, colour: RGBColor) -> DrawResult {
        self.root
            .draw(&Circle::new(c, r.max(1), colour.filled()))
            .map_err(err)
    }

    /// An outlined rectangle (a closed polyline).
    pub(super) fn frame_rect(
        &self,
        a: (i32, i32),
        b: (i32, i32),
        colour: RGBColor,
        width: u32,
    ) -> DrawResult {
        self.polyline(vec![a, (b.0, a.1), b, (a.0, b.1), a], colour, width)
    }

    pub(super) fn text_width(&self, text: &str, size: f64) -> f64 {
        self.text.width(text, size)
    }

    pub(super) fn text(
        &self,
        text: &str,
        size: f64,
        anchor: (HPos, VPos),
        at: (i32, i32),
        along: Along,
    ) -> DrawResult {
        self.text
            .draw(self.root, text, size, anchor, at, along)
            .map_err(err)
    }

    /// Text across in `colour`.
    pub(super) fn text_in(
        &self,
        colour: RGBColor,
        text: &str,
        size: f64,
        anchor: (HPos, VPos),
        at: (i32, i32),
    ) -> DrawResult {
        self.text
            .with_ink(colour)
            .draw(self.root, text, size, anchor, at, Along::Across)
            .map_err(err)
    }

    /// `text`, or as much of its start as fits in `avail` px followed by "…".
    pub(super) fn ellipsize(&self, text: &str, size: f64, avail: f64) -> String {
        if self.text_width(text, size) <= avail {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        // The longest prefix that fits: widths grow with the prefix, so bisect.
        let (mut lo, mut hi) = (0, chars.len());
        let shortened = |n: usize| {
            let mut s: String = chars[..n].iter().collect::<String>().trim_end().to_string();
            s.push('…');
            s
        };
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.text_width(&shortened(mid), size) <= avail {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        shortened(lo)
    }

    /// The largest size up to `size` at which `text` is at most `avail` px long.
    pub(super) fn fit(&self, text: &str, size: f64, avail: f64) -> f64 {
        let mut size = size;
        let floor = (12.0 * self.s).max(8.0);
        while size > floor && self.text_width(text, size) > avail {
            size -= 1.0;
        }
        size
    }

    /// The title centred at the top, shrunk to fit the width; returns the y
    /// where the content below it may start.
    pub(super) fn title(&self, title: &str) -> DrawResult<i32> {
        let title = title.trim();
        if title.is_empty() {
            return Ok(self.pxi(24.0));
        }
        let avail = self.width as f64 - 2.0 * self.px(30.0);
        let size = self.fit(title, self.px(TITLE_PX), avail);
        let y = self.pxi(22.0);
        self.text(
            title,
            size,
            (HPos::Center, VPos::Top),
            ((self.width / 2) as i32, y),
            Along::Across,
        )?;
        Ok(y + (size * 0.85).round() as i32 + self.pxi(30.0))
    }

    /// A marker of `shape` centred at `c`, about `r` px in radius: an ink
    /// outline `e` px wide around a fill. (Outlines are an ink shape under
    /// a smaller fill: plotters' SVG shapes carry no stroke width.)
    pub(super) fn marker(
        &self,
        shape: Shape,
        c: (i32, i32),
        r: i32,
        e: i32,
        fill: RGBColor,
    ) -> DrawResult {
        let polygon = |pts: Vec<(f64, f64)>, colour: RGBColor| {
            let pts: Vec<(i32, i32)> = pts
                .into_iter()
                .map(|(x, y)| (c.0 + x.round() as i32, c.1 + y.round() as i32))
                .collect();
            self.root
                .draw(&Polygon::new(pts, colour.filled()))
                .map_err(err)
        };
        let (rf, ef) = (r as f64, e as f64);
        match shape {
            Shape::Circle => {
                self.fill_circle(c, r, INK)?;
                self.fill_circle(c, r - e, fill)
            }
            Shape::Square => {
                let h = (rf * 10.0 / 11.0).round() as i32;
                let ink = INK.to_rgba();
                self.fill_rect((c.0 - h, c.1 - h), (c.0 + h, c.1 + h), ink)?;
                let g = h - e;
                self.fill_rect((c.0 - g, c.1 - g), (c.0 + g, c.1 + g), fill.to_rgba())
            }
            Shape::TriangleUp | Shape::TriangleDown => {
                // Circumradius R, inradius R/2: the fill's R is R - 2e.
                let sign = if shape == Shape::TriangleUp {
                    1.0
                } else {
                    -1.0
                };
                let tri = |big: f64| {
                    (0..3)
                        .map(|k| {
                            let a = std::f64::consts::FRAC_PI_2
                                + k as f64 * 2.0 * std::f64::consts::PI / 3.0;
                            // Shifted down a little so the triangle looks
                            // centred on the point.
                            (big * a.cos(), -sign * (big * a.sin() - 0.1 * big))
                        })
                        .collect::<Vec<_>>()
                };
                let big = 1.3 * rf;
                polygon(tri(big), INK)?;
                polygon(tri(big - 2.0 * ef), fill)
            }
            Shape::Diamond => {
                let dia = |h: f64| vec![(0.0, -h), (h, 0.0), (0.0, h), (-h, 0.0)];
                let big = 1.25 * rf;
                polygon(dia(big), INK)?;
                polygon(dia(big - std::f64::consts::SQRT_2 * ef), fill)
            }
        }
    }
}

/// Marker shapes, in the order series get them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
}

impl Shape {
    pub(super) const ORDER: [Shape; 5] = [
        Shape::Circle,
        Shape::Square,
        Shape::TriangleUp,
        Shape::Diamond,
        Shape::TriangleDown,
    ];
}

// ---------------------------------------------------------------------------
// Frames: a pixel rectangle with its axes.

/// The plotting rectangle in backend pixels and its axes.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub left: i32,
    pub top: i32,
    pub right: i32,
    pub bottom: i32,
    pub x: Axis,
    pub y: Axis,
}

impl Frame {
    pub(super) fn map_x(&self, v: f64) -> f64 {
        self.left as f64
            + (v - self.x.lo) / (self.x.hi - self.x.lo) * (self.right - self.left) as f64
    }
    pub(super) fn map_y(&self, v: f64) -> f64 {
        self.bottom as f64
            - (v - self.y.lo) / (self.y.hi - self.y.lo) * (self.bottom - self.top) as f64
    }
    pub(super) fn px(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (self.map_x(x).round() as i32, self.map_y(y).round() as i32)
    }

    /// The visible pieces of a polyline in pixels, thinned to `min_px`
    /// spacing (a single visible point stays a single point).
    pub(super) fn polyline_px(&self, pts: &[(f64, f64)], min_px: f64) -> Vec<Vec<(i32, i32)>> {
        clip_polyline(pts, (self.x.lo, self.x.hi), (self.y.lo, self.y.hi))
            .into_iter()
            .map(|piece| {
                let px: Vec<(i32, i32)> = piece.iter().map(|&p| self.px(p)).collect();
                if min_px > 0.0 {
                    thin(&px, |&q| q, min_px)
                } else {
                    px
                }
            })
            .collect()
    }

    pub(super) fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x.lo && x <= self.x.hi && y >= self.y.lo && y <= self.y.hi
    }
}

/// Sizes used to draw axes, from the painter's scale.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisStyle {
    pub tick_px: f64,
    pub title_px: f64,
    pub tick_len: i32,
    pub tick_gap: i32,
    pub title_gap: i32,
    pub line: u32,
}

impl AxisStyle {
    pub(super) fn new<DB: DrawingBackend>(p: &Painter<DB>) -> Self
    where
        DB::ErrorType: 'static,
    {
        AxisStyle {
            tick_px: p.px(TICK_PX),
            title_px: p.px(AXIS_TITLE_PX),
            tick_len: p.pxi(8.0),
            tick_gap: p.pxi(8.0),
            title_gap: p.pxi(26.0),
            line: p.pxu(2.0),
        }
    }

    /// Digits' height of tick labels.
    pub(super) fn tick_h(&self) -> i32 {
        (self.tick_px * 0.65).round() as i32
    }
    /// Ascender-to-descender height of axis titles.
    pub(super) fn title_h(&self) -> i32 {
        (self.title_px * 0.85).round() as i32
    }

    /// Room below the frame for x tick labels and the x title.
    pub(super) fn x_area(&self, with_title: bool) -> i32 {
        let ticks = self.tick_len + self.tick_gap + self.tick_h();
        if with_title {
            ticks + self.title_gap + self.title_h() + 4
        } else {
            ticks
        }
    }

    /// Room beside the frame for y tick labels (`label_w` px wide) and the title.
    pub(super) fn y_area(&self, label_w: i32) -> i32 {
        self.tick_len + self.tick_gap + label_w + self.title_gap + self.title_h() + 4
    }
}

/// Widest tick label of `axis` in pixels.
pub(super) fn labels_width<DB: DrawingBackend>(p: &Painter<DB>, axis: &Axis, size: f64) -> i32
where
    DB::ErrorType: 'static,
{
    axis.labels()
        .iter()
        .map(|l| p.text_width(l, size))
        .fold(0.0, f64::max)
        .ceil() as i32
}

/// Which parts of a frame's axes to draw.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxesSpec<'s> {
    pub x_title: Option<&'s str>,
    /// Write the x tick labels (stacked panels share them at the bottom).
    pub x_labels: bool,
    pub y_title: &'s str,
    /// Light grid lines at the ticks.
    pub grid: bool,
    /// Length the y title may take, px; 0: the frame's height and a little.
    pub y_title_room: f64,
}

/// Grid, left and bottom axis lines, outward tick marks, tick labels and
/// axis titles of `f`. `y_label_w`: the width reserved for y tick labels.
pub(super) fn draw_axes<DB: DrawingBackend>(
    p: &Painter<DB>,
    f: &Frame,
    st: &AxisStyle,
    spec: AxesSpec,
    y_label_w: i32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    if spec.grid {
        let g = p.pxu(1.0);
        for &t in &f.x.ticks {
            let x = f.map_x(t).round() as i32;
            p.polyline(vec![(x, f.top), (x, f.bottom)], GRID, g)?;
        }
        for &t in &f.y.ticks {
            let y = f.map_y(t).round() as i32;
            p.polyline(vec![(f.left, y), (f.right, y)], GRID, g)?;
        }
    }
    p.polyline(vec![(f.left, f.top), (f.left, f.bottom)], INK, st.line)?;
    p.polyline(vec![(f.left, f.bottom), (f.right, f.bottom)], INK, st.line)?;
    let xs: Vec<i32> =
        f.x.ticks
            .iter()
            .map(|&t| f.map_x(t).round() as i32)
            .collect();
    let (x_size, x_labels) = fit_tick_labels(p, &xs, &f.x.labels(), st.tick_px, &f.x);
    for (&x, label) in xs.iter().zip(x_labels) {
        p.polyline(
            vec![(x, f.bottom), (x, f.bottom + st.tick_len)],
            INK,
            st.line,
        )?;
        if let (true, Some(label)) = (spec.x_labels, label) {
            let at = (x, f.bottom + st.tick_len + st.tick_gap);
            p.text(&label, x_size, (HPos::Center, VPos::Top), at, Along::Across)?;
        }
    }
    for (&t, label) in f.y.ticks.iter().zip(f.y.labels()) {
        let y = f.map_y(t).round() as i32;
        p.polyline(vec![(f.left - st.tick_len, y), (f.left, y)], INK, st.line)?;
        let at = (f.left - st.tick_len - st.tick_gap, y);
        p.text(
            &label,
            st.tick_px,
            (HPos::Right, VPos::Center),
            at,
            Along::Across,
        )?;
    }
    if let Some(title) = spec.x_title {
        let at = (
            (f.left + f.right) / 2,
            f.bottom + st.tick_len + st.tick_gap + st.tick_h() + st.title_gap,
        );
        let size = p.fit(title, st.title_px, (p.width as f64 - 20.0).max(10.0));
        p.text(title, size, (HPos::Center, VPos::Top), at, Along::Across)?;
    }
    let x = f.left - st.tick_len - st.tick_gap - y_label_w - st.title_gap - st.title_h();
    y_title(p, f, st, spec.y_title, x, spec.y_title_room)
}

/// x tick labels that do not overlap, for ticks centred at `xs` px: the text size and, per
/// tick, its label or `None`. Numbers keep `size` and label every k-th tick (the smallest k
/// that leaves a gap); the names of a categorical `axis` are all written, smaller down to a
/// floor, then shortened with "…".
pub(super) fn fit_tick_labels<DB: DrawingBackend>(
    p: &Painter<DB>,
    xs: &[i32],
    labels: &[String],
    size: f64,
    axis: &Axis,
) -> (f64, Vec<Option<String>>)
where
    DB::ErrorType: 'static,
{
    let gap = p.px(12.0);
    let spacing = xs
        .windows(2)
        .map(|w| (w[1] - w[0]).abs() as f64)
        .fold(f64::INFINITY, f64::min);
    if !axis.names.is_empty() {
        let avail = (spacing - gap).max(p.px(20.0));
        let floor = (size * 0.6).max(8.0);
        let mut s = size;
        while s > floor && labels.iter().any(|l| p.text_width(l, s) > avail) {
            s -= 1.0;
        }
        let shown = labels
            .iter()
            .map(|l| Some(p.ellipsize(l, s, avail)))
            .collect();
        return (s, shown);
    }
    let widths: Vec<f64> = labels.iter().map(|l| p.text_width(l, size)).collect();
    let clear = |stride: usize| {
        let shown: Vec<usize> = (0..xs.len()).step_by(stride).collect();
        shown.windows(2).all(|w| {
            let (a, b) = (w[0], w[1]);
            ((xs[b] - xs[a]).abs() as f64) >= (widths[a] + widths[b]) / 2.0 + gap
        })
    };
    let stride = (1..xs.len().max(2)).find(|&k| clear(k)).unwrap_or(xs.len());
    let shown = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (i % stride == 0).then(|| l.clone()))
        .collect();
    (size, shown)
}

/// Room for a y title beside frame `f`: its height and a little.
pub(super) fn y_title_room<DB: DrawingBackend>(p: &Painter<DB>, f: &Frame) -> f64
where
    DB::ErrorType: 'static,
{
    (f.bottom - f.top) as f64 + 2.0 * p.px(20.0)
}

/// A y-axis title reading upwards with its top at x = `x`, centred on the
/// frame and shrunk to `room` px (0: `y_title_room`).
pub(super) fn y_title<DB: DrawingBackend>(
    p: &Painter<DB>,
    f: &Frame,
    st: &AxisStyle,
    title: &str,
    x: i32,
    room: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    if title.trim().is_empty() {
        return Ok(());
    }
    let avail = if room > 0.0 { room } else { y_title_room(p, f) };
    let size = p.fit(title, st.title_px, avail);
    // Keep the text centred on the same line as a full-size title.
    let shift = ((st.title_px - size) * 0.85 / 2.0).round() as i32;
    p.text(
        title,
        size,
        (HPos::Center, VPos::Top),
        (x + shift, (f.top + f.bottom) / 2),
        Along::Up,
    )
}

/// A right-hand y axis for `axis` on the frame's right edge: line, ticks,
/// labels (`label_w` px reserved) and a title reading upwards.
pub(super) fn draw_right_axis<DB: DrawingBackend>(
    p: &Painter<DB>,
    f: &Frame,
    axis: &Axis,
    st: &AxisStyle,
    title: &str,
    label_w: i32,
    room: f64,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    p.polyline(vec![(f.right, f.top), (f.right, f.bottom)], INK, st.line)?;
    let map = |v: f64| {
        (f.bottom as f64 - (v - axis.lo) / (axis.hi - axis.lo) * (f.bottom - f.top) as f64).round()
            as i32
    };
    for (&t, label) in axis.ticks.iter().zip(axis.labels()) {
        let y = map(t);
        p.polyline(vec![(f.right, y), (f.right + st.tick_len, y)], INK, st.line)?;
        let at = (f.right + st.tick_len + st.tick_gap, y);
        p.text(
            &label,
            st.tick_px,
            (HPos::Left, VPos::Center),
            at,
            Along::Across,
        )?;
    }
    let x = f.right + st.tick_len + st.tick_gap + label_w + st.title_gap;
    y_title(p, f, st, title, x, room)
}

// ---------------------------------------------------------------------------
// Legends

/// What a legend line shows before its label.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mark {
    /// A line sample.
    Line(RGBColor, u32),
    /// A dashed line sample: colour, width, (dash, gap).
    Dashed(RGBColor, u32, (u32, u32)),
    /// A marker alone: shape, fill.
    Marker(Shape, RGBColor),
    /// A line sample with a marker on it.
    LineMarker(RGBColor, u32, Shape),
    /// A filled square (bars, cells).
    Swatch(RGBColor),
}

/// Legend geometry at a painter's scale.
#[derive(Debug, Clone)]
pub(super) struct Legend {
    pub entries: Vec<(String, Mark)>,
    pub text_px: f64,
    pub margin: i32,
    pub sample: i32,
    pub sample_gap: i32,
    pub line_h: f64,
    pub marker_r: i32,
    pub marker_e: i32,
}

impl Legend {
    pub(super) fn new<DB: DrawingBackend>(p: &Painter<DB>, entries: Vec<(String, Mark)>) -> Self
    where
        DB::ErrorType: 'static,
    {
        let text_px = p.px(LEGEND_PX);
        Legend {
            entries,
            text_px,
            margin: p.pxi(14.0),
            sample: p.pxi(56.0),
            sample_gap: p.pxi(14.0),
            line_h: 1.3 * text_px,
            marker_r: p.pxi(11.0),
            marker_e: p.pxi(2.5),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Wraps labels onto a second line, shortened with "…" beyond it, so the boxed legend
    /// is at most `max_w` px wide: a legend beside the axes then never squeezes them,
    /// whatever the labels.
    pub(super) fn limit_width<DB: DrawingBackend>(&mut self, p: &Painter<DB>, max_w: i32)
    where
        DB::ErrorType: 'static,
    {
        let avail = (max_w - self.sample - self.sample_gap - 2 * self.margin).max(1) as f64;
        let size = self.text_px;
        for (label, _) in &mut self.entries {
            if p.text_width(label, size) <= avail {
                continue;
            }
            // As many whole words as fit on the first line, the rest on the second.
            let words: Vec<&str> = label.split_whitespace().collect();
            let first = (1..=words.len())
                .take_while(|&n| p.text_width(&words[..n].join(" "), size) <= avail)
                .last();
            *label = match first {
                Some(n) if n < words.len() => format!(
                    "{}\n{}",
                    words[..n].join(" "),
                    p.ellipsize(&words[n..].join(" "), size, avail)
                ),
                _ => p.ellipsize(label, size, avail),
            };
        }
    }

    /// Text lines of all entries (a wrapped label has two).
    fn lines(&self) -> usize {
        self.entries
            .iter()
            .map(|(l, _)| l.split('\n').count())
            .sum()
    }

    /// Width and height of the boxed legend.
    pub(super) fn box_size<DB: DrawingBackend>(&self, p: &Painter<DB>) -> (i32, i32)
    where
        DB::ErrorType: 'static,
    {
        let text_w = self
            .entries
            .iter()
            .flat_map(|(label, _)| label.split('\n'))
            .map(|line| p.text_width(line, self.text_px))
            .fold(0.0, f64::max)
            .ceil() as i32;
        (
            text_w + self.sample + self.sample_gap + 2 * self.margin,
            (self.lines() as f64 * self.line_h).round() as i32 + 2 * self.margin,
        )
    }

    /// The sample of `mark` with its left end at `x`, centred on `y`.
    fn draw_mark<DB: DrawingBackend>(
        &self,
        p: &Painter<DB>,
        mark: Mark,
        x: i32,
        y: i32,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let line = vec![(x, y), (x + self.sample, y)];
        let mid = (x + self.sample / 2, y);
        match mark {
            Mark::Line(c, w) => p.polyline(line, c, w),
            Mark::Dashed(c, w, dash) => p.dashed(line, c, w, dash),
            Mark::Marker(shape, fill) => p.marker(shape, mid, self.marker_r, self.marker_e, fill),
            Mark::LineMarker(c, w, shape) => {
                p.polyline(line, c, w)?;
                p.marker(shape, mid, self.marker_r, self.marker_e, c)
            }
            Mark::Swatch(c) => {
                let h = (self.text_px * 0.4).round() as i32;
                let (a, b) = ((mid.0 - h, y - h), (mid.0 + h, y + h));
                p.fill_rect(a, b, c.to_rgba())
            }
        }
    }

    /// The boxed legend with its top-left corner at `origin`.
    pub(super) fn draw_box<DB: DrawingBackend>(
        &self,
        p: &Painter<DB>,
        origin: (i32, i32),
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = self.box_size(p);
        let far = (origin.0 + w, origin.1 + h);
        p.fill_rect(origin, far, WHITE.mix(0.9))?;
        p.frame_rect(origin, far, LEGEND_BORDER, p.pxu(2.0))?;
        let mut line = 0;
        for (label, mark) in &self.entries {
            let y_of =
                |k: usize| origin.1 + self.margin + ((k as f64 + 0.5) * self.line_h).round() as i32;
            let x = origin.0 + self.margin;
            self.draw_mark(p, *mark, x, y_of(line))?;
            for text in label.split('\n') {
                let at = (x + self.sample + self.sample_gap, y_of(line));
                p.text(
                    text,
                    self.text_px,
                    (HPos::Left, VPos::Center),
                    at,
                    Along::Across,
                )?;
                line += 1;
            }
        }
        Ok(())
    }

    /// Lay the entries out in rows no wider than `avail`, with samples
    /// `short` px long: for each row, the entries' indices and x offsets.
    pub(super) fn rows<DB: DrawingBackend>(
        &self,
        p: &Painter<DB>,
        avail: i32,
        short: i32,
    ) -> Vec<Vec<(usize, i32)>>
    where
        DB::ErrorType: 'static,
    {
        let spacing = p.pxi(34.0);
        let mut rows: Vec<Vec<(usize, i32)>> = Vec::new();
        let mut x = 0;
        for (k, (label, _)) in self.entries.iter().enumerate() {
            let w = short + self.sample_gap + p.text_width(label, self.text_px).ceil() as i32;
            if rows.is_empty() || (x > 0 && x + w > avail) {
                rows.push(Vec::new());
                x = 0;
            }
            rows.last_mut().expect("a row").push((k, x));
            x += w + spacing;
        }
        rows
    }

    /// Width of entry `k` laid out in a row with `short` samples.
    pub(super) fn row_entry_width<DB: DrawingBackend>(
        &self,
        p: &Painter<DB>,
        k: usize,
        short: i32,
    ) -> i32
    where
        DB::ErrorType: 'static,
    {
        short + self.sample_gap + p.text_width(&self.entries[k].0, self.text_px).ceil() as i32
    }

    /// The entries in unboxed rows (from `rows`), starting at `origin` (the
    /// left end of the first row's vertical middle).
    pub(super) fn draw_rows<DB: DrawingBackend>(
        &self,
        p: &Painter<DB>,
        rows: &[Vec<(usize, i32)>],
        origin: (i32, i32),
        short: i32,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let short_legend = Legend {
            sample: short,
            ..self.clone()
        };
        for (r, row) in rows.iter().enumerate() {
            let y = origin.1 + (r as f64 * self.line_h).round() as i32;
            for &(k, dx) in row {
                let (label, mark) = &self.entries[k];
                let x = origin.0 + dx;
                short_legend.draw_mark(p, *mark, x, y)?;
                let at = (x + short + self.sample_gap, y);
                p.text(
                    label,
                    self.text_px,
                    (HPos::Left, VPos::Center),
                    at,
                    Along::Across,
                )?;
            }
        }
        Ok(())
    }
}

/// The best place inside `frame` for a box of `size` pixels: the corner
/// (or top middle) whose box, grown by `pad`, covers the fewest drawn
/// pixels (`polylines` in backend pixels, sampled every few pixels).
/// Returns its top-left corner and how many samples it covers
/// (`usize::MAX` if it does not fit at all).
pub(super) fn place_inside(
    (left, top, right, bottom): (i32, i32, i32, i32),
    polylines: &[Vec<(i32, i32)>],
    (w, h): (i32, i32),
    inset: i32,
    pad: i32,
) -> ((i32, i32), usize) {
    let (aw, ah) = (right - left, bottom - top);
    let mut samples: Vec<(i32, i32)> = Vec::new();
    for line in polylines {
        let pix: Vec<(i32, i32)> = line.iter().map(|&(x, y)| (x - left, y - top)).collect();
        for seg in pix.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()) / 3).max(1);
            for k in 0..steps {
                samples.push((a.0 + (b.0 - a.0) * k / steps, a.1 + (b.1 - a.1) * k / steps));
            }
        }
        samples.extend(pix.last().copied());
    }
    let candidates = [
        (aw - w - inset, inset),
        (inset, inset),
        (aw - w - inset, ah - h - inset),
        ((aw - w) / 2, inset),
        (inset, ah - h - inset),
    ];
    let covered = |&(x, y): &(i32, i32)| {
        if x < 0 || y < 0 || x + w > aw || y + h > ah {
            return usize::MAX; // does not fit
        }
        samples
            .iter()
            .filter(|&&(px, py)| {
                px >= x - pad && px <= x + w + pad && py >= y - pad && py <= y + h + pad
            })
            .count()
    };
    candidates
        .iter()
        .map(|c| (*c, covered(c)))
        .min_by_key(|&(_, hits)| hits)
        .map(|((x, y), hits)| ((left + x, top + y), hits))
        .unwrap_or(((left, top), usize::MAX))
}

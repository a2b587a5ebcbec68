//! Pressure–volume (PV) loop pictures as PNG or SVG.
//!
//! The picture is drawn with `plotters`. Text is laid out with DejaVu Sans,
//! embedded in the binary (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera /
//! DejaVu licence in `assets/fonts/LICENSE_DEJAVU`), so rendering needs no
//! font installed on the machine. PNG text is set glyph by glyph from the
//! font's metrics (`FontMetrics` below); SVG text refers to the font by name
//! and falls back to the viewer's sans-serif. PNG files are encoded here:
//! the `plotters` bitmap saver picks the format from the file extension, and
//! callers may write to temporary names.
//!
//! See `docs/plots.md` for what the picture shows.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans 2.35 (from matplotlib's bundled copy); licence beside it.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Family name the embedded font is registered under. It is also written
/// verbatim as the SVG `font-family`, so viewers use DejaVu Sans when they
/// have it (the metrics the layout was computed with) and else sans-serif.
const FONT_FAMILY: &str = "DejaVu Sans, sans-serif";

/// Picture size used when the caller has no preference: 4:3 slide size.
pub const DEFAULT_SIZE_PX: (u32, u32) = (1200, 900);

/// Smallest and largest accepted picture side, in pixels.
pub const MIN_SIDE_PX: u32 = 200;
pub const MAX_SIDE_PX: u32 = 10_000;

/// Largest magnitude accepted for any volume or pressure value (mL, mmHg):
/// far beyond physiology, small enough that axis arithmetic stays exact.
pub const MAX_ABS_VALUE: f64 = 1e9;

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// The format named by a path's extension (`png`/`svg`, any case), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse().ok())
    }

    /// Conventional file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(ImageFormat::Png),
            "svg" => Ok(ImageFormat::Svg),
            other => Err(format!(
                "unknown image format {other:?} (expected png or svg)"
            )),
        }
    }
}

/// A reference curve, e.g. an ESPVR or EDPVR: points are (volume mL, pressure mmHg).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

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
}

/// Why a picture could not be written. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot plot {}: no data ({what})", .path.display())]
    EmptyData { path: PathBuf, what: String },
    #[error("cannot plot {}: non-finite value in {what}", .path.display())]
    NonFinite { path: PathBuf, what: String },
    #[error(
        "cannot plot {}: value beyond ±{MAX_ABS_VALUE:e} in {what}",
        .path.display()
    )]
    OutOfRange { path: PathBuf, what: String },
    #[error(
        "cannot plot {}: loop {label:?} has {volume} volume but {pressure} pressure samples",
        .path.display()
    )]
    LengthMismatch {
        path: PathBuf,
        label: String,
        volume: usize,
        pressure: usize,
    },
    #[error(
        "cannot plot {}: picture size {width}x{height} px is outside {MIN_SIDE_PX}..={MAX_SIDE_PX} per side",
        .path.display()
    )]
    InvalidSize {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("cannot plot {}: the embedded font could not be loaded", .path.display())]
    Font { path: PathBuf },
    #[error("cannot plot {}: drawing failed: {message}", .path.display())]
    Draw { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
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
    let (width, height) = size_px;
    let side_ok = |s: u32| (MIN_SIDE_PX..=MAX_SIDE_PX).contains(&s);
    if !side_ok(width) || !side_ok(height) {
        return Err(PlotError::InvalidSize {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    validate(plot).map_err(|e| e.at(path))?;
    if !font_registered() {
        return Err(PlotError::Font {
            path: path.to_path_buf(),
        });
    }
    let draw_err = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let bytes = match format {
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size_px).into_drawing_area();
                draw_chart(&root, plot, size_px, false).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            svg.into_bytes()
        }
        ImageFormat::Png => {
            // plotters draws thick lines without anti-aliasing: draw at a
            // multiple of the size and average down.
            let k = supersampling(width, height);
            let big = (width * k, height * k);
            let mut rgb = vec![0u8; big.0 as usize * big.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, big).into_drawing_area();
                draw_chart(&root, plot, big, true).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            let rgb = downsample(&rgb, big, k);
            png::encode_rgb8(width, height, &rgb)
        }
    };
    std::fs::write(path, bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Supersampling factor for PNG: 3, or less when the enlarged canvas would
/// exceed about 100 million pixels.
fn supersampling(width: u32, height: u32) -> u32 {
    let pixels = width as u64 * height as u64;
    (1..=3u64)
        .rev()
        .find(|k| pixels * k * k <= 100_000_000)
        .unwrap_or(1) as u32
}

/// Average `k` x `k` blocks of an RGB image of `size` (a multiple of `k`).
fn downsample(rgb: &[u8], (w, h): (u32, u32), k: u32) -> Vec<u8> {
    if k == 1 {
        return rgb.to_vec();
    }
    let (w, h, k) = (w as usize, h as usize, k as usize);
    let (ow, oh) = (w / k, h / k);
    let mut out = vec![0u8; ow * oh * 3];
    let n = (k * k) as u32;
    for oy in 0..oh {
        for ox in 0..ow {
            let mut sum = [0u32; 3];
            for dy in 0..k {
                let row = (oy * k + dy) * w;
                for dx in 0..k {
                    let i = (row + ox * k + dx) * 3;
                    for c in 0..3 {
                        sum[c] += rgb[i + c] as u32;
                    }
                }
            }
            let o = (oy * ow + ox) * 3;
            for c in 0..3 {
                out[o + c] = ((sum[c] + n / 2) / n) as u8;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Input checks

/// A validation failure before the path is attached.
enum Invalid {
    Empty(String),
    NonFinite(String),
    OutOfRange(String),
    Length {
        label: String,
        volume: usize,
        pressure: usize,
    },
}

impl Invalid {
    fn at(self, path: &Path) -> PlotError {
        let path = path.to_path_buf();
        match self {
            Invalid::Empty(what) => PlotError::EmptyData { path, what },
            Invalid::NonFinite(what) => PlotError::NonFinite { path, what },
            Invalid::OutOfRange(what) => PlotError::OutOfRange { path, what },
            Invalid::Length {
                label,
                volume,
                pressure,
            } => PlotError::LengthMismatch {
                path,
                label,
                volume,
                pressure,
            },
        }
    }
}

fn validate(plot: &PvPlot) -> Result<(), Invalid> {
    if plot.loops.is_empty() {
        return Err(Invalid::Empty("no PV loops given".into()));
    }
    // The first unusable value among `values`, described by `what(index)`.
    fn scan(
        values: impl Iterator<Item = f64>,
        what: impl Fn(usize) -> String,
    ) -> Result<(), Invalid> {
        for (i, v) in values.enumerate() {
            if !v.is_finite() {
                return Err(Invalid::NonFinite(what(i)));
            }
            if v.abs() > MAX_ABS_VALUE {
                return Err(Invalid::OutOfRange(what(i)));
            }
        }
        Ok(())
    }
    for l in plot.loops {
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
    for c in plot.reference_lines {
        if c.points.is_empty() {
            return Err(Invalid::Empty(format!(
                "reference line {:?} has no points",
                c.label
            )));
        }
        scan(c.points.iter().flat_map(|&(v, p)| [v, p]), |i| {
            format!("reference line {:?} point {}", c.label, i / 2)
        })?;
    }
    Ok(())
}

/// Register the embedded font once per process; false if it failed to parse.
fn font_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // Also under the generic name, which plotters uses for any default text.
        [FONT_FAMILY, "sans-serif"]
            .iter()
            .all(|name| register_font(name, FontStyle::Normal, DEJAVU_SANS).is_ok())
    })
}

// ---------------------------------------------------------------------------
// Layout helpers

/// An axis for data in [min, max]: its range and tick values. The range has
/// a margin of about 5 % of the axis length beyond the data, starts at 0
/// when the data are non-negative, and begins and ends on a tick.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

fn axis_for(min: f64, max: f64) -> Axis {
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
    // The finest 1-2-5 step giving at most 8 intervals. (plotters then picks
    // the same ticks when asked for that many labels.)
    let step = step_for(lo, hi, 8);
    let first = (lo / step).floor() as i64;
    let last = ((hi / step).ceil() as i64).max(first + 1);
    // Multiply rather than accumulate, so ticks are exact multiples of the step.
    let at = |k: i64| {
        let v = k as f64 * step;
        if v == 0.0 {
            0.0
        } else {
            v
        }
    };
    Axis {
        lo: at(first),
        hi: at(last),
        ticks: (first..=last).map(at).collect(),
    }
}

/// The smallest step of 1, 2 or 5 times a power of ten that divides
/// [lo, hi] (widened to multiples of the step) into at most `max` intervals.
fn step_for(lo: f64, hi: f64, max: i64) -> f64 {
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

/// Clip a polyline to the rectangle [x0, x1] x [y0, y1]; returns the visible
/// pieces (a curve leaving and re-entering gives several).
fn clip_polyline(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
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

/// Viridis colour map at t in [0, 1] (piecewise-linear through 9 anchors).
fn viridis(t: f64) -> RGBColor {
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
    let t = t.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f64;
    let i = (t.floor() as usize).min(ANCHORS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (ANCHORS[i], ANCHORS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + f * (y as f64 - x as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour of loop `i` of `n`.
fn loop_colour(i: usize, n: usize) -> RGBColor {
    if n <= 1 {
        RGBColor(0, 84, 166) // strong blue
    } else {
        // Stop short of viridis' yellow end, which is too faint on white.
        viridis(0.82 * i as f64 / (n - 1) as f64)
    }
}

const REFERENCE_GREYS: [RGBColor; 3] = [
    RGBColor(90, 90, 90),
    RGBColor(130, 130, 130),
    RGBColor(110, 110, 110),
];

/// (dash length, gap) in units of the line width, per reference line.
const DASHES: [(f64, f64); 3] = [(5.0, 2.5), (1.6, 1.6), (7.0, 2.0)];

fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        format!("{:.0}", v)
    } else {
        let s = format!("{:.2}", v);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

// ---------------------------------------------------------------------------
// Drawing

/// One legend line.
enum LegendMark {
    Line(ShapeStyle),
    Dashed(ShapeStyle, u32, u32),
    EndDiastole,
    EndSystole,
}

/// Draw the whole picture; `bitmap` selects glyph-by-glyph text setting.
fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &PvPlot,
    (width, height): (u32, u32),
    bitmap: bool,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    // Sizes are tuned at 1200x900 and scale with the picture.
    let s = (width as f64 / 1200.0).min(height as f64 / 900.0);
    let px = |v: f64| (v * s).round().max(1.0);
    let pxi = |v: f64| px(v) as i32;
    let pxu = |v: f64| px(v) as u32;

    // Font sizes (plotters' size: ascender-to-descender height, ~1.16 em).
    let title_px = px(40.0);
    let desc_px = px(36.0);
    let tick_px = px(32.0);
    let legend_px = px(30.0);

    let ink = RGBColor(25, 25, 25);
    let text = Typesetter {
        bitmap,
        metrics: FontMetrics::embedded(),
        ink,
    };

    root.fill(&WHITE).map_err(err)?;

    // Title, shrunk to fit the width.
    let mut top = pxi(24.0);
    let title = plot.title.trim();
    if !title.is_empty() {
        let avail = width as f64 - 2.0 * px(30.0);
        let mut size = title_px;
        while size > 12.0 && text.width(title, size) > avail {
            size -= 1.0;
        }
        let y = pxi(22.0);
        let anchor = (HPos::Center, VPos::Top);
        text.draw(
            root,
            title,
            size,
            anchor,
            ((width / 2) as i32, y),
            Along::Across,
        )
        .map_err(err)?;
        top = y + (size * 0.85).round() as i32 + pxi(30.0);
    }
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
    let loop_width = pxu(if n == 1 { 5.0 } else { 4.0 });
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
    let eds: Vec<_> = plot
        .loops
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.end_diastole.map(|p| (p, loop_colour(i, n))))
        .collect();
    let ess: Vec<_> = plot
        .loops
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.end_systole.map(|p| (p, loop_colour(i, n))))
        .collect();
    let ref_width = pxu(3.0);
    let mut references = Vec::new(); // (label, style, dash, gap, visible pieces)
    for (i, c) in plot.reference_lines.iter().enumerate() {
        let pieces = clip_polyline(&c.points, (x0, x1), (y0, y1));
        if pieces.is_empty() {
            continue; // nothing visible: no legend entry either
        }
        let colour = REFERENCE_GREYS[i % REFERENCE_GREYS.len()];
        let (dash, gap) = DASHES[i % DASHES.len()];
        let dash = (dash * ref_width as f64).round() as u32;
        let gap = (gap * ref_width as f64).round() as u32;
        references.push((
            c.label.clone(),
            colour.stroke_width(ref_width),
            dash,
            gap,
            pieces,
        ));
    }

    // Legend: loops, marked points, reference lines.
    let mut legend: Vec<(String, LegendMark)> = Vec::new();
    for (i, l) in plot.loops.iter().enumerate() {
        let label = if l.label.trim().is_empty() {
            format!("Loop {}", i + 1)
        } else {
            l.label.clone()
        };
        let style = loop_colour(i, n).stroke_width(loop_width);
        legend.push((label, LegendMark::Line(style)));
    }
    if !eds.is_empty() {
        legend.push(("End-diastole".into(), LegendMark::EndDiastole));
    }
    if !ess.is_empty() {
        legend.push(("End-systole".into(), LegendMark::EndSystole));
    }
    for (label, style, dash, gap, _) in &references {
        legend.push((label.clone(), LegendMark::Dashed(*style, *dash, *gap)));
    }
    let legend_margin = pxi(14.0);
    let sample = pxi(56.0);
    let legend_area = sample + pxi(14.0);
    let text_w = legend
        .iter()
        .map(|(label, _)| text.width(label, legend_px))
        .fold(0.0, f64::max)
        .ceil() as i32;
    let line_h = 1.3 * legend_px;
    let box_w = text_w + legend_area + 2 * legend_margin;
    let box_h = (legend.len() as f64 * line_h).round() as i32 + 2 * legend_margin;

    // Room for tick labels and axis titles, which are set here (not by
    // plotters) so PNG and SVG share one layout.
    let tick_len = pxi(8.0);
    let tick_gap = pxi(8.0);
    let desc_gap = pxi(26.0);
    let y_tick_w = y_axis
        .ticks
        .iter()
        .map(|&t| text.width(&tick_label(t), tick_px))
        .fold(0.0, f64::max)
        .ceil() as i32;
    let tick_h = (tick_px * 0.65).round() as i32; // digits' height
    let desc_h = (desc_px * 0.85).round() as i32; // ascender to descender
    let y_area = tick_len + tick_gap + y_tick_w + desc_gap + desc_h + pxi(4.0);
    let x_area = tick_len + tick_gap + tick_h + desc_gap + desc_h + pxi(4.0);

    // Inside the axes if a corner is free of data, else to the right of them.
    let mut drawn: Vec<Vec<(f64, f64)>> = loops.clone();
    drawn.extend(references.iter().flat_map(|r| r.4.iter().cloned()));
    drawn.extend(eds.iter().chain(&ess).map(|&(p, _)| vec![p]));
    let build = |right: i32| {
        ChartBuilder::on(&area)
            .margin_left(pxi(16.0))
            .margin_right(right)
            .margin_bottom(pxi(16.0))
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(x0..x1, y0..y1)
    };
    let last_x_label = text.width(&tick_label(x1), tick_px);
    let mut chart =
        build(pxi(20.0).max((last_x_label / 2.0).ceil() as i32 + pxi(8.0))).map_err(err)?;
    let (inside, covered) = legend_inside(&chart, &drawn, (box_w, box_h), pxi(14.0), pxi(10.0));
    let legend_pos = if covered == 0 {
        inside
    } else {
        let gap = pxi(28.0);
        chart = build(gap + box_w + pxi(20.0)).map_err(err)?;
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        (xr.end + gap, yr.start)
    };

    // Grid, axes and tick marks from plotters; its own labels are made
    // invisible (plotters skips transparent text) and set below instead.
    let axis = ShapeStyle {
        color: ink.to_rgba(),
        filled: false,
        stroke_width: pxu(2.0),
    };
    let hidden = TextStyle::from((FONT_FAMILY, tick_px).into_font()).color(&TRANSPARENT);
    chart
        .configure_mesh()
        .label_style(hidden)
        .x_labels(x_axis.ticks.len())
        .y_labels(y_axis.ticks.len())
        .axis_style(axis)
        .set_all_tick_mark_size(tick_len)
        .bold_line_style(RGBColor(225, 225, 225).stroke_width(pxu(1.0)))
        .max_light_lines(0)
        .draw()
        .map_err(err)?;

    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let spec = chart.as_coord_spec();
    for &t in &x_axis.ticks {
        let (x, _) = spec.translate(&(t, y0));
        let at = (x, yr.end + tick_len + tick_gap);
        let anchor = (HPos::Center, VPos::Top);
        text.draw(root, &tick_label(t), tick_px, anchor, at, Along::Across)
            .map_err(err)?;
    }
    for &t in &y_axis.ticks {
        let (_, y) = spec.translate(&(x0, t));
        let at = (xr.start - tick_len - tick_gap, y);
        let anchor = (HPos::Right, VPos::Center);
        text.draw(root, &tick_label(t), tick_px, anchor, at, Along::Across)
            .map_err(err)?;
    }
    let x_desc_at = (
        (xr.start + xr.end) / 2,
        yr.end + tick_len + tick_gap + tick_h + desc_gap,
    );
    let anchor = (HPos::Center, VPos::Top);
    text.draw(
        root,
        "LV volume (mL)",
        desc_px,
        anchor,
        x_desc_at,
        Along::Across,
    )
    .map_err(err)?;
    let y_desc_at = (
        xr.start - tick_len - tick_gap - y_tick_w - desc_gap - desc_h,
        (yr.start + yr.end) / 2,
    );
    text.draw(
        root,
        "LV pressure (mmHg)",
        desc_px,
        anchor,
        y_desc_at,
        Along::Up,
    )
    .map_err(err)?;

    // Reference lines behind the loops.
    for (_, style, dash, gap, pieces) in &references {
        for piece in pieces {
            chart
                .draw_series(DashedLineSeries::new(
                    piece.iter().copied(),
                    *dash,
                    *gap,
                    *style,
                ))
                .map_err(err)?;
        }
    }

    // Loops. Simulated beats have thousands of samples, most less than a
    // pixel apart; thinning them gives cleaner thick lines and smaller SVG.
    let spec = chart.as_coord_spec().clone();
    for (i, pts) in loops.into_iter().enumerate() {
        let colour = loop_colour(i, n);
        let pts = thin(&pts, |p| spec.translate(p), px(2.0));
        if pts.len() == 1 {
            let dot = Circle::new(pts[0], loop_width, colour.filled());
            chart.draw_series(std::iter::once(dot)).map_err(err)?;
        } else {
            let line = PathElement::new(pts, colour.stroke_width(loop_width));
            chart.draw_series(std::iter::once(line)).map_err(err)?;
        }
    }

    // End-diastolic (circle) and end-systolic (square) points, on top,
    // filled in their loop's colour. Outlines are an ink shape under a
    // smaller fill: plotters' SVG rectangles carry no stroke width.
    let r = pxi(11.0);
    let h = pxi(10.0);
    let e = pxi(2.5);
    let ed_marker = move |c: (f64, f64), fill: RGBColor| {
        EmptyElement::at(c)
            + Circle::new((0, 0), r, ink.filled())
            + Circle::new((0, 0), r - e, fill.filled())
    };
    let es_marker = move |c: (f64, f64), fill: RGBColor| {
        EmptyElement::at(c)
            + Rectangle::new([(-h, -h), (h, h)], ink.filled())
            + Rectangle::new([(e - h, e - h), (h - e, h - e)], fill.filled())
    };
    chart
        .draw_series(eds.iter().map(|&(p, c)| ed_marker(p, c)))
        .map_err(err)?;
    chart
        .draw_series(ess.iter().map(|&(p, c)| es_marker(p, c)))
        .map_err(err)?;

    // The legend, drawn by hand so it may also sit outside the axes.
    let origin = legend_pos;
    let (lx1, ly1) = (origin.0 + box_w, origin.1 + box_h);
    root.draw(&Rectangle::new(
        [origin, (lx1, ly1)],
        WHITE.mix(0.9).filled(),
    ))
    .map_err(err)?;
    root.draw(&PathElement::new(
        [origin, (lx1, origin.1), (lx1, ly1), (origin.0, ly1), origin],
        RGBColor(190, 190, 190).stroke_width(pxu(2.0)),
    ))
    .map_err(err)?;
    let legend_fill = RGBColor(110, 110, 110);
    for (k, (label, mark)) in legend.iter().enumerate() {
        let y = origin.1 + legend_margin + ((k as f64 + 0.5) * line_h).round() as i32;
        let x = origin.0 + legend_margin;
        let line = [(x, y), (x + sample, y)];
        let mid = (x + sample / 2, y);
        match *mark {
            LegendMark::Line(style) => root.draw(&PathElement::new(line, style)),
            LegendMark::Dashed(style, dash, gap) => {
                root.draw(&DashedPathElement::new(line, dash, gap, style))
            }
            LegendMark::EndDiastole => root.draw(
                &(EmptyElement::at(mid)
                    + Circle::new((0, 0), r, ink.filled())
                    + Circle::new((0, 0), r - e, legend_fill.filled())),
            ),
            LegendMark::EndSystole => root.draw(
                &(EmptyElement::at(mid)
                    + Rectangle::new([(-h, -h), (h, h)], ink.filled())
                    + Rectangle::new([(e - h, e - h), (h - e, h - e)], legend_fill.filled())),
            ),
        }
        .map_err(err)?;
        let anchor = (HPos::Left, VPos::Center);
        text.draw(
            root,
            label,
            legend_px,
            anchor,
            (x + legend_area, y),
            Along::Across,
        )
        .map_err(err)?;
    }
    Ok(())
}

/// Drop points closer than `min_px` pixels to the last kept one; the first
/// and last points are always kept.
fn thin(
    points: &[(f64, f64)],
    to_px: impl Fn(&(f64, f64)) -> (i32, i32),
    min_px: f64,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(points.len().min(4096));
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

/// The best place inside the axes for a legend box of `size` pixels: the
/// corner (or top middle) whose box, grown by `pad`, covers the fewest
/// drawn pixels (polylines sampled every few pixels). Returns its top-left
/// corner in backend pixels and how many samples it covers.
fn legend_inside<DB: DrawingBackend>(
    chart: &ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    polylines: &[Vec<(f64, f64)>],
    (w, h): (i32, i32),
    inset: i32,
    pad: i32,
) -> ((i32, i32), usize) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (aw, ah) = (xr.end - xr.start, yr.end - yr.start);
    let spec = chart.as_coord_spec();
    let mut samples: Vec<(i32, i32)> = Vec::new();
    for line in polylines {
        let pix: Vec<(i32, i32)> = line
            .iter()
            .map(|p| {
                let (x, y) = spec.translate(p);
                (x - xr.start, y - yr.start)
            })
            .collect();
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
        .map(|((x, y), hits)| ((xr.start + x, yr.start + y), hits))
        .unwrap_or(((xr.start, yr.start), usize::MAX))
}

// ---------------------------------------------------------------------------
// Text

/// Horizontal metrics of the embedded font, read from its `cmap`, `hhea`,
/// `hmtx` and `kern` tables.
///
/// plotters 0.3.7's `ab_glyph` renderer draws each glyph's bitmap at the pen
/// position, ignoring the glyph's left side bearing, which makes letter
/// spacing visibly uneven in PNG text. Bitmap text is therefore set here one
/// glyph at a time, at the pen position plus its bearing, with the same
/// advances and kerning as `ab_glyph` uses.
struct FontMetrics {
    /// Font units per pixel of plotters' font size (hhea ascender - descender).
    height_units: f64,
    units_per_em: f64,
    glyphs: HashMap<char, u16>,
    /// Per glyph: advance width and left side bearing, in font units.
    h_metrics: Vec<(u16, i16)>,
    kern: HashMap<(u16, u16), i16>,
}

impl FontMetrics {
    fn embedded() -> Option<&'static FontMetrics> {
        static METRICS: OnceLock<Option<FontMetrics>> = OnceLock::new();
        METRICS.get_or_init(|| Self::parse(DEJAVU_SANS)).as_ref()
    }

    fn parse(font: &[u8]) -> Option<FontMetrics> {
        let u16_at = |o: usize| Some(u16::from_be_bytes([*font.get(o)?, *font.get(o + 1)?]));
        let i16_at = |o: usize| u16_at(o).map(|v| v as i16);
        let u32_at = |o: usize| {
            Some(u32::from_be_bytes([
                *font.get(o)?,
                *font.get(o + 1)?,
                *font.get(o + 2)?,
                *font.get(o + 3)?,
            ]))
        };
        let mut tables = HashMap::new();
        for i in 0..u16_at(4)? as usize {
            let rec = 12 + 16 * i;
            tables.insert(font.get(rec..rec + 4)?, u32_at(rec + 8)? as usize);
        }
        let table = |tag: &[u8]| tables.get(tag).copied();

        // Vertical scale as ab_glyph computes it: hhea, or OS/2 typo metrics
        // when the font asks for them (USE_TYPO_METRICS).
        let hhea = table(b"hhea")?;
        let mut ascent = i16_at(hhea + 4)? as f64;
        let mut descent = i16_at(hhea + 6)? as f64;
        if let Some(os2) = table(b"OS/2") {
            if u16_at(os2 + 62)? & (1 << 7) != 0 {
                ascent = i16_at(os2 + 68)? as f64;
                descent = i16_at(os2 + 70)? as f64;
            }
        }
        let height_units = ascent - descent;
        let units_per_em = u16_at(table(b"head")? + 18)? as f64;
        if height_units <= 0.0 || units_per_em <= 0.0 {
            return None;
        }

        let n_glyphs = u16_at(table(b"maxp")? + 4)? as usize;
        let n_long = (u16_at(hhea + 34)? as usize).clamp(1, n_glyphs.max(1));
        let hmtx = table(b"hmtx")?;
        let mut h_metrics = Vec::with_capacity(n_glyphs);
        for g in 0..n_glyphs {
            if g < n_long {
                h_metrics.push((u16_at(hmtx + 4 * g)?, i16_at(hmtx + 4 * g + 2)?));
            } else {
                let advance = h_metrics.last()?.0;
                h_metrics.push((advance, i16_at(hmtx + 4 * n_long + 2 * (g - n_long))?));
            }
        }

        // cmap: the Windows Unicode BMP subtable (format 4).
        let cmap = table(b"cmap")?;
        let mut sub = None;
        for i in 0..u16_at(cmap + 2)? as usize {
            let rec = cmap + 4 + 8 * i;
            let (platform, encoding) = (u16_at(rec)?, u16_at(rec + 2)?);
            let at = cmap + u32_at(rec + 4)? as usize;
            if u16_at(at)? == 4 && (platform, encoding) == (3, 1) {
                sub = Some(at);
            }
        }
        let sub = sub?;
        let segs = u16_at(sub + 6)? as usize / 2;
        let (ends, starts) = (sub + 14, sub + 16 + 2 * segs);
        let (deltas, offsets) = (sub + 16 + 4 * segs, sub + 16 + 6 * segs);
        let mut glyphs = HashMap::new();
        for s in 0..segs {
            let (start, end) = (u16_at(starts + 2 * s)?, u16_at(ends + 2 * s)?);
            let delta = u16_at(deltas + 2 * s)?;
            let range_offset = u16_at(offsets + 2 * s)? as usize;
            for c in start..=end.min(0xFFFE) {
                let g = if range_offset == 0 {
                    c.wrapping_add(delta)
                } else {
                    let at = offsets + 2 * s + range_offset + 2 * (c - start) as usize;
                    match u16_at(at)? {
                        0 => 0,
                        g => g.wrapping_add(delta),
                    }
                };
                if let (Some(ch), true) = (char::from_u32(c as u32), (g as usize) < n_glyphs) {
                    if g != 0 {
                        glyphs.insert(ch, g);
                    }
                }
            }
        }

        // kern: horizontal format-0 subtables (what ab_glyph applies).
        let mut kern = HashMap::new();
        if let Some(k) = table(b"kern") {
            if u16_at(k)? == 0 {
                let mut at = k + 4;
                for _ in 0..u16_at(k + 2)? {
                    let (length, coverage) = (u16_at(at + 2)? as usize, u16_at(at + 4)?);
                    if coverage & 0x0F == 1 && coverage >> 8 == 0 {
                        let pairs = u16_at(at + 6)? as usize;
                        for p in 0..pairs {
                            let e = at + 14 + 6 * p;
                            kern.insert((u16_at(e)?, u16_at(e + 2)?), i16_at(e + 4)?);
                        }
                    }
                    at += length;
                }
            }
        }
        Some(FontMetrics {
            height_units,
            units_per_em,
            glyphs,
            h_metrics,
            kern,
        })
    }

    /// Glyph positions for `text` at plotters font size `size`: for each
    /// visible glyph its pen position and the integer pixel offset of its
    /// bitmap from the pen; and the advance width of the whole string.
    fn layout(&self, text: &str, size: f64) -> (Vec<(char, f64, i32)>, f64) {
        let scale = size / self.height_units;
        let mut pen = 0.0;
        let mut prev: Option<u16> = None;
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let g = self.glyphs.get(&c).copied().unwrap_or(0);
            if let Some(p) = prev {
                pen += self.kern.get(&(p, g)).copied().unwrap_or(0) as f64 * scale;
            }
            let (advance, lsb) = self.h_metrics.get(g as usize).copied().unwrap_or((0, 0));
            if !c.is_whitespace() {
                out.push((c, pen, (lsb as f64 * scale).floor() as i32));
            }
            pen += advance as f64 * scale;
            prev = Some(g);
        }
        (out, pen)
    }
}

/// Text direction: along x, or rotated to read upwards (a y-axis label).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Along {
    Across,
    Up,
}

/// Sets text for one backend: SVG text is written whole (the viewer sets
/// it); bitmap text is placed glyph by glyph (`FontMetrics` below).
#[derive(Clone, Copy)]
struct Typesetter {
    bitmap: bool,
    metrics: Option<&'static FontMetrics>,
    ink: RGBColor,
}

impl Typesetter {
    /// plotters writes SVG `font-size` as size / 1.24, while its bitmap
    /// renderer makes a size the font's ascender-to-descender height. This
    /// factor gives SVG text the same em as PNG text.
    fn svg_size(&self, size: f64) -> f64 {
        match self.metrics {
            Some(m) => size * m.units_per_em / m.height_units * 1.24,
            None => size,
        }
    }

    /// Advance width of `text` in pixels.
    fn width(&self, text: &str, size: f64) -> f64 {
        match self.metrics {
            Some(m) => m.layout(text, size).1,
            None => 0.55 * size * text.chars().count() as f64,
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: &str,
        size: f64,
        (h, v): (HPos, VPos),
        pos: (i32, i32),
        along: Along,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let trans = match along {
            Along::Across => FontTransform::None,
            Along::Up => FontTransform::Rotate270,
        };
        let metrics = match (self.bitmap, self.metrics) {
            (true, Some(m)) => m,
            _ => {
                let size = if self.bitmap {
                    size
                } else {
                    self.svg_size(size)
                };
                let style = TextStyle::from((FONT_FAMILY, size).into_font()).color(&self.ink);
                return root.draw_text(text, &style.transform(trans).pos(Pos::new(h, v)), pos);
            }
        };
        let (glyphs, width) = metrics.layout(text, size);
        let start = match h {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // plotters sets the baseline half a size below the top of a box
        // 1/1.24 of the size high; move it so caps sit on the anchor.
        let drop = (size
            * match v {
                VPos::Top => 0.126,
                VPos::Center => 0.216,
                VPos::Bottom => 0.103,
            })
        .round() as i32;
        let style = TextStyle::from((FONT_FAMILY, size).into_font()).color(&self.ink);
        let style = style.transform(trans).pos(Pos::new(HPos::Left, v));
        let mut buf = [0u8; 4];
        for (c, pen, bearing) in glyphs {
            let along_px = (start + pen).round() as i32 + bearing;
            let at = match along {
                Along::Across => (pos.0 + along_px, pos.1 + drop),
                Along::Up => (pos.0 + drop, pos.1 - along_px),
            };
            root.draw_text(c.encode_utf8(&mut buf), &style, at)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// PNG encoding

/// A small PNG writer: 8-bit RGB, adaptive row filters, zlib stream with one
/// fixed-Huffman deflate block and greedy LZ77 matching. Plots are mostly
/// flat colour, so this compresses them well enough.
mod png {
    pub fn encode_rgb8(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        let stride = width as usize * 3;
        debug_assert_eq!(rgb.len(), stride * height as usize);
        let raw = filter_rows(rgb, stride);
        let idat = zlib(&raw);

        let mut out = Vec::with_capacity(idat.len() + 64);
        out.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bit, RGB, deflate, adaptive, no interlace
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }

    pub(super) fn crc32(data: &[u8]) -> u32 {
        static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
        let table = TABLE.get_or_init(|| {
            let mut t = [0u32; 256];
            for (n, e) in t.iter_mut().enumerate() {
                let mut c = n as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        0xEDB8_8320 ^ (c >> 1)
                    } else {
                        c >> 1
                    };
                }
                *e = c;
            }
            t
        });
        !data.iter().fold(!0u32, |c, &b| {
            table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
        })
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for block in data.chunks(5552) {
            for &x in block {
                a += x as u32;
                b += a;
            }
            a %= 65521;
            b %= 65521;
        }
        (b << 16) | a
    }

    /// Per row, the filter (None, Sub, Up, Average, Paeth) with the smallest
    /// sum of absolute signed bytes, prefixed by its type byte.
    fn filter_rows(rgb: &[u8], stride: usize) -> Vec<u8> {
        const BPP: usize = 3;
        let rows = rgb.len().checked_div(stride).unwrap_or(0);
        let mut out = Vec::with_capacity(rows * (stride + 1));
        let zero = vec![0u8; stride];
        let mut cand = vec![vec![0u8; stride]; 5];
        for r in 0..rows {
            let cur = &rgb[r * stride..(r + 1) * stride];
            let up = if r == 0 {
                &zero[..]
            } else {
                &rgb[(r - 1) * stride..r * stride]
            };
            for i in 0..stride {
                let a = if i >= BPP { cur[i - BPP] } else { 0 };
                let b = up[i];
                let c = if i >= BPP { up[i - BPP] } else { 0 };
                let x = cur[i];
                cand[0][i] = x;
                cand[1][i] = x.wrapping_sub(a);
                cand[2][i] = x.wrapping_sub(b);
                cand[3][i] = x.wrapping_sub(((a as u16 + b as u16) / 2) as u8);
                cand[4][i] = x.wrapping_sub(paeth(a, b, c));
            }
            let score = |v: &[u8]| {
                v.iter()
                    .map(|&x| (x as i8).unsigned_abs() as u64)
                    .sum::<u64>()
            };
            let best = (0..5).min_by_key(|&k| score(&cand[k])).unwrap_or(0);
            out.push(best as u8);
            out.extend_from_slice(&cand[best]);
        }
        out
    }

    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = a as i16 + b as i16 - c as i16;
        let (pa, pb, pc) = (
            (p - a as i16).abs(),
            (p - b as i16).abs(),
            (p - c as i16).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    struct BitWriter {
        out: Vec<u8>,
        acc: u64,
        nbits: u32,
    }

    impl BitWriter {
        /// Append `n` bits of `v`, least significant first.
        fn bits(&mut self, v: u32, n: u32) {
            self.acc |= (v as u64) << self.nbits;
            self.nbits += n;
            while self.nbits >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.nbits -= 8;
            }
        }
        /// Append a Huffman code of `n` bits, most significant first.
        fn code(&mut self, code: u32, n: u32) {
            self.bits(code.reverse_bits() >> (32 - n), n);
        }
        fn finish(mut self) -> Vec<u8> {
            if self.nbits > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }

    pub(super) const LEN_BASE: [u16; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    pub(super) const LEN_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    pub(super) const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    pub(super) const DIST_EXTRA: [u8; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];

    /// Fixed-Huffman code for a literal/length symbol.
    fn lit_code(w: &mut BitWriter, sym: u32) {
        match sym {
            0..=143 => w.code(0x30 + sym, 8),
            144..=255 => w.code(0x190 + sym - 144, 9),
            256..=279 => w.code(sym - 256, 7),
            _ => w.code(0xC0 + sym - 280, 8),
        }
    }

    fn put_match(w: &mut BitWriter, len: usize, dist: usize) {
        let li = LEN_BASE.partition_point(|&b| b as usize <= len) - 1;
        lit_code(w, 257 + li as u32);
        w.bits((len - LEN_BASE[li] as usize) as u32, LEN_EXTRA[li] as u32);
        let di = DIST_BASE.partition_point(|&b| b as usize <= dist) - 1;
        w.code(di as u32, 5);
        w.bits(
            (dist - DIST_BASE[di] as usize) as u32,
            DIST_EXTRA[di] as u32,
        );
    }

    pub(super) fn zlib(data: &[u8]) -> Vec<u8> {
        const WINDOW: usize = 32 * 1024;
        const MAX_LEN: usize = 258;
        const HASH_BITS: u32 = 15;
        let mut w = BitWriter {
            out: vec![0x78, 0x01],
            acc: 0,
            nbits: 0,
        };
        w.bits(1, 1); // BFINAL
        w.bits(1, 2); // BTYPE = fixed Huffman
        let hash = |i: usize| {
            let v = (data[i] as u32) | (data[i + 1] as u32) << 8 | (data[i + 2] as u32) << 16;
            (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
        };
        let mut head = vec![usize::MAX; 1 << HASH_BITS];
        let n = data.len();
        let mut i = 0;
        while i < n {
            let mut best = (0usize, 0usize);
            if i + 3 <= n {
                let h = hash(i);
                let cand = head[h];
                head[h] = i;
                // The hashed candidate and the run candidate (distance 1).
                for c in [cand, i.wrapping_sub(1)] {
                    if c < i && i - c <= WINDOW {
                        let max = MAX_LEN.min(n - i);
                        let mut l = 0;
                        while l < max && data[c + l] == data[i + l] {
                            l += 1;
                        }
                        if l >= 3 && l > best.0 {
                            best = (l, i - c);
                        }
                    }
                }
            }
            if best.0 >= 3 {
                put_match(&mut w, best.0, best.1);
                // Index the skipped positions too (cheap, helps later matches).
                for j in i + 1..(i + best.0).min(n.saturating_sub(2)) {
                    head[hash(j)] = j;
                }
                i += best.0;
            } else {
                lit_code(&mut w, data[i] as u32);
                i += 1;
            }
        }
        lit_code(&mut w, 256); // end of block
        let mut out = w.finish();
        out.extend_from_slice(&adler32(data).to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal inflater for the streams `png::zlib` writes (fixed Huffman
    /// blocks), to check the encoder round-trips.
    fn inflate_fixed(z: &[u8]) -> Vec<u8> {
        assert_eq!(&z[..2], &[0x78, 0x01]);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0);
        let data = &z[2..z.len() - 4];
        let mut pos = 0usize; // bit position
        let mut bit = || {
            let b = (data[pos / 8] >> (pos % 8)) & 1;
            pos += 1;
            b as u32
        };
        let mut out = Vec::new();
        let bits =
            |n: u32, bit: &mut dyn FnMut() -> u32| (0..n).fold(0u32, |acc, k| acc | (bit() << k));
        let last = bits(1, &mut bit);
        let kind = bits(2, &mut bit);
        assert_eq!((last, kind), (1, 1));
        let code =
            |n: u32, bit: &mut dyn FnMut() -> u32| (0..n).fold(0u32, |acc, _| (acc << 1) | bit());
        loop {
            // Decode a fixed-Huffman literal/length symbol.
            let mut c = code(7, &mut bit);
            let sym = if c <= 0x17 {
                256 + c
            } else {
                c = (c << 1) | bit();
                if (0x30..=0xBF).contains(&c) {
                    c - 0x30
                } else if (0xC0..=0xC7).contains(&c) {
                    280 + c - 0xC0
                } else {
                    c = (c << 1) | bit();
                    144 + c - 0x190
                }
            };
            match sym {
                0..=255 => out.push(sym as u8),
                256 => break,
                _ => {
                    let li = (sym - 257) as usize;
                    let len = png::LEN_BASE[li] as usize
                        + bits(png::LEN_EXTRA[li] as u32, &mut bit) as usize;
                    let di = code(5, &mut bit) as usize;
                    let dist = png::DIST_BASE[di] as usize
                        + bits(png::DIST_EXTRA[di] as u32, &mut bit) as usize;
                    for _ in 0..len {
                        out.push(out[out.len() - dist]);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn zlib_round_trips() {
        let mut seed = 12345u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        };
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![],
            vec![7],
            vec![0; 100_000],
            b"abcabcabcabcabcabd".to_vec(),
        ];
        inputs.push((0..70_000).map(|_| noise()).collect());
        // Long repeats farther back than 258 and up to the window edge.
        let block: Vec<u8> = (0..40_000).map(|_| noise() % 4).collect();
        inputs.push([block.clone(), block.clone(), vec![255; 1000], block].concat());
        for input in inputs {
            let z = png::zlib(&input);
            assert_eq!(inflate_fixed(&z), input);
        }
    }

    #[test]
    fn font_metrics_agree_with_plotters_layout() {
        assert!(font_registered());
        let m = FontMetrics::embedded().expect("embedded font metrics");
        assert!(m.glyphs.len() > 3000 && m.kern.len() > 100);
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, (800, 600)).into_drawing_area();
        for size in [12.0, 30.0, 40.0] {
            let style = TextStyle::from((FONT_FAMILY, size).into_font());
            for text in [
                "LV pressure (mmHg)",
                "AVATAR Te Yo",
                "Impella CP: P2–P8, 3.5 L/min",
            ] {
                let (w, _) = root.estimate_text_size(text, &style).unwrap();
                let mine = m.layout(text, size).1;
                assert!(
                    (mine - w as f64).abs() <= 1.0,
                    "{text:?} at {size}: {mine} vs {w}"
                );
            }
        }
        // Bearings: 'i' sits further right in its advance than 'v'.
        let (glyphs, _) = m.layout("iv", 100.0);
        assert!(glyphs[0].2 > glyphs[1].2, "{glyphs:?}");
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
    fn crc32_known_value() {
        assert_eq!(png::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(png::crc32(b"IEND"), 0xAE42_6082);
    }

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
    }

    #[test]
    fn colours_and_formats() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_ne!(loop_colour(0, 3), loop_colour(2, 3));
        assert_eq!("PNG".parse::<ImageFormat>(), Ok(ImageFormat::Png));
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.svg")),
            Some(ImageFormat::Svg)
        );
        assert_eq!(ImageFormat::from_path(Path::new("a/b.png.partial")), None);
        assert_eq!(tick_label(40.0), "40");
        assert_eq!(tick_label(0.25), "0.25");
    }
}

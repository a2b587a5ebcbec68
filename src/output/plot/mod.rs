//! Pictures as PNG or SVG: pressure–volume loops, stacked waveforms and
//! timelines, metric-vs-parameter charts, two-parameter heatmaps and
//! histograms.
//!
//! Every function takes plain data (no knowledge of the simulation), checks
//! it before anything is written (bad input is a `PlotError` naming the
//! file, never a panic), and writes exactly the path it is given, whatever
//! its extension. Each picture can also be rendered to an SVG string
//! (`*_svg`), e.g. to inline it in an HTML report.
//!
//! Pictures are drawn with `plotters`. Text is laid out with DejaVu Sans,
//! embedded in the binary (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera /
//! DejaVu licence in `assets/fonts/LICENSE_DEJAVU`), so rendering needs no
//! font installed on the machine. PNG text is set glyph by glyph from the
//! font's metrics; SVG text refers to the font by name and falls back to the
//! viewer's sans-serif. PNG files are encoded with the `png` crate (the
//! `plotters` bitmap saver picks the format from the file extension, and
//! callers may write to temporary names).
//!
//! See `docs/plots.md` for what each picture shows.

mod chart;
mod draw;
mod heatmap;
mod layout;
mod panels;
mod pv;
mod text;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use chart::{histogram_svg, write_histogram, write_xy_chart, xy_chart_svg, Histogram, XyChart};
pub use heatmap::{heatmap_svg, write_heatmap, Heatmap};
pub use panels::{
    stacked_size_px, timeline_svg, waveforms_svg, write_timeline, write_waveforms, EventMarker,
    Panel, Series, StackedPlot,
};
pub use pv::{pv_plot_svg, write_pv_plot, PvLoop, PvPlot};

/// Picture size used when the caller has no preference: 4:3 slide size.
pub const DEFAULT_SIZE_PX: (u32, u32) = (1200, 900);

/// Smallest and largest accepted picture side, in pixels.
pub const MIN_SIDE_PX: u32 = 200;
pub const MAX_SIDE_PX: u32 = 10_000;

/// Largest magnitude accepted for any plotted value: far beyond physiology,
/// small enough that axis arithmetic stays exact.
pub const MAX_ABS_VALUE: f64 = 1e9;

/// What errors from the `*_svg` functions name instead of a file.
pub const SVG_STRING: &str = "<SVG string>";

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

/// A named line through (x, y) points, drawn in order: a PV reference
/// curve such as an ESPVR (volume mL, pressure mmHg), or a series of an
/// xy chart (parameter, metric).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Curve {
            label: label.into(),
            points,
        }
    }
}

/// Why a picture could not be written. Every message names the file (or
/// `SVG_STRING` when rendering to a string).
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
    /// Data that do not fit together, e.g. a grid whose value count is not
    /// columns × rows, or axis values that do not increase.
    #[error("cannot plot {}: {what}", .path.display())]
    Inconsistent { path: PathBuf, what: String },
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
    /// Drawing failed, or the picture is too small for what it must hold
    /// (e.g. many stacked panels in a short picture).
    #[error("cannot plot {}: drawing failed: {message}", .path.display())]
    Draw { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
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
    Inconsistent(String),
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
            Invalid::Inconsistent(what) => PlotError::Inconsistent { path, what },
        }
    }
}

/// The first unusable value among `values`, described by `what(index)`.
fn scan(values: impl Iterator<Item = f64>, what: impl Fn(usize) -> String) -> Result<(), Invalid> {
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

/// `scan` over (x, y) points, naming the point.
fn scan_points(points: &[(f64, f64)], what: impl Fn(usize) -> String) -> Result<(), Invalid> {
    scan(points.iter().flat_map(|&(x, y)| [x, y]), |i| what(i / 2))
}

// ---------------------------------------------------------------------------
// Rendering

/// A picture: checks its data, then draws itself on a root area of `size`
/// pixels (`bitmap`: the backend is a bitmap, so text is set glyph by glyph).
trait Figure {
    fn validate(&self) -> Result<(), Invalid>;
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        size: (u32, u32),
        bitmap: bool,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

/// Check everything, then render `fig` in `format`; errors name `path`.
fn render<F: Figure>(
    fig: &F,
    format: ImageFormat,
    size_px: (u32, u32),
    path: &Path,
) -> Result<Vec<u8>, PlotError> {
    let (width, height) = size_px;
    let side_ok = |s: u32| (MIN_SIDE_PX..=MAX_SIDE_PX).contains(&s);
    if !side_ok(width) || !side_ok(height) {
        return Err(PlotError::InvalidSize {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    fig.validate().map_err(|e| e.at(path))?;
    if !text::font_registered() {
        return Err(PlotError::Font {
            path: path.to_path_buf(),
        });
    }
    let draw_err = |message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    match format {
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size_px).into_drawing_area();
                fig.draw(&root, size_px, false).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            Ok(svg.into_bytes())
        }
        ImageFormat::Png => {
            // plotters draws thick lines without anti-aliasing: draw at a
            // multiple of the size and average down.
            let k = supersampling(width, height);
            let big = (width * k, height * k);
            let mut rgb = vec![0u8; big.0 as usize * big.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, big).into_drawing_area();
                fig.draw(&root, big, true).map_err(draw_err)?;
                root.present().map_err(|e| draw_err(e.to_string()))?;
            }
            let rgb = downsample(&rgb, big, k);
            encode_png(width, height, &rgb).map_err(|e| draw_err(format!("PNG encoding: {e}")))
        }
    }
}

/// Render `fig` and write it to exactly `path`.
fn write_figure<F: Figure>(
    path: &Path,
    fig: &F,
    format: ImageFormat,
    size_px: (u32, u32),
) -> Result<(), PlotError> {
    let bytes = render(fig, format, size_px, path)?;
    std::fs::write(path, bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Render `fig` as an SVG document string.
fn svg_figure<F: Figure>(fig: &F, size_px: (u32, u32)) -> Result<String, PlotError> {
    let path = Path::new(SVG_STRING);
    let bytes = render(fig, ImageFormat::Svg, size_px, path)?;
    String::from_utf8(bytes).map_err(|e| PlotError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// 8-bit RGB PNG: adaptive row filters, deflate at its default level (on these plots,
/// mostly flat colour, it is both smaller and about three times faster than `Best`;
/// docs/benchmarks.md).
fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Default);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_through_the_png_decoder() {
        let (w, h) = (7u32, 5u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let bytes = encode_png(w, h, &rgb).unwrap();
        let decoder = png::Decoder::new(&bytes[..]);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&buf[..info.buffer_size()], &rgb[..]);
    }

    #[test]
    fn downsampling_averages_blocks() {
        let rgb = [0u8, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0];
        assert_eq!(downsample(&rgb, (2, 2), 2), vec![128, 128, 128]);
        assert_eq!(supersampling(1200, 900), 3);
        assert_eq!(supersampling(10_000, 10_000), 1);
    }

    #[test]
    fn formats() {
        assert_eq!("PNG".parse::<ImageFormat>(), Ok(ImageFormat::Png));
        assert_eq!(
            ImageFormat::from_path(Path::new("a/b.svg")),
            Some(ImageFormat::Svg)
        );
        assert_eq!(ImageFormat::from_path(Path::new("a/b.png.partial")), None);
    }
}

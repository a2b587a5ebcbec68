//! Text: the embedded DejaVu Sans font, its horizontal metrics (read with
//! ab_glyph), and a typesetter that writes whole strings to SVG and places PNG text glyph by
//! glyph.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

/// DejaVu Sans 2.35 (from matplotlib's bundled copy); licence beside it.
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Family name the embedded font is registered under. It is also written
/// verbatim as the SVG `font-family`, so viewers use DejaVu Sans when they
/// have it (the metrics the layout was computed with) and else sans-serif.
pub(super) const FONT_FAMILY: &str = "DejaVu Sans, sans-serif";

/// Register the embedded font once per process; false if it failed to parse.
pub(super) fn font_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        // Also under the generic name, which plotters uses for any default text.
        [FONT_FAMILY, "sans-serif"]
            .iter()
            .all(|name| register_font(name, FontStyle::Normal, DEJAVU_SANS).is_ok())
    })
}

/// Horizontal metrics of the embedded font, through `ab_glyph` (the font
/// reader plotters itself uses, so sizes, advances and kerning are the ones
/// plotters lays text out with).
///
/// plotters 0.3.7's `ab_glyph` renderer draws each glyph's bitmap at the pen
/// position, ignoring the glyph's left side bearing, which makes letter
/// spacing visibly uneven in PNG text. Bitmap text is therefore set here one
/// glyph at a time, at the pen position plus its bearing.
pub(super) struct FontMetrics {
    font: FontRef<'static>,
    /// Font units per pixel of plotters' font size (ascender - descender, as
    /// ab_glyph's `PxScale` counts it).
    height_units: f64,
    units_per_em: f64,
}

impl FontMetrics {
    pub(super) fn embedded() -> Option<&'static FontMetrics> {
        static METRICS: OnceLock<Option<FontMetrics>> = OnceLock::new();
        METRICS
            .get_or_init(|| {
                let font = FontRef::try_from_slice(DEJAVU_SANS).ok()?;
                let height_units = f64::from(font.height_unscaled());
                let units_per_em = f64::from(font.units_per_em()?);
                (height_units > 0.0 && units_per_em > 0.0).then_some(FontMetrics {
                    font,
                    height_units,
                    units_per_em,
                })
            })
            .as_ref()
    }

    /// Glyph positions for `text` at plotters font size `size`: for each
    /// visible glyph its pen position and the integer pixel offset of its
    /// bitmap from the pen; and the advance width of the whole string.
    pub(super) fn layout(&self, text: &str, size: f64) -> (Vec<(char, f64, i32)>, f64) {
        let scale = size / self.height_units;
        let mut pen = 0.0;
        let mut prev: Option<GlyphId> = None;
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let g = self.font.glyph_id(c);
            if let Some(p) = prev {
                pen += f64::from(self.font.kern_unscaled(p, g)) * scale;
            }
            if !c.is_whitespace() {
                let bearing = f64::from(self.font.h_side_bearing_unscaled(g)) * scale;
                out.push((c, pen, bearing.floor() as i32));
            }
            pen += f64::from(self.font.h_advance_unscaled(g)) * scale;
            prev = Some(g);
        }
        (out, pen)
    }
}

/// Text direction: along x, or rotated to read upwards (a y-axis label).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Along {
    Across,
    Up,
}

/// Sets text for one backend: SVG text is written whole (the viewer sets
/// it); bitmap text is placed glyph by glyph (`FontMetrics` above).
#[derive(Clone, Copy)]
pub(super) struct Typesetter {
    pub(super) bitmap: bool,
    pub(super) metrics: Option<&'static FontMetrics>,
    pub(super) ink: RGBColor,
}

impl Typesetter {
    /// A typesetter for a bitmap (glyph by glyph) or SVG (whole strings) backend.
    pub(super) fn new(bitmap: bool, ink: RGBColor) -> Self {
        Typesetter {
            bitmap,
            metrics: FontMetrics::embedded(),
            ink,
        }
    }

    /// The same typesetter writing in `ink`.
    pub(super) fn with_ink(self, ink: RGBColor) -> Self {
        Typesetter { ink, ..self }
    }

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
    pub(super) fn width(&self, text: &str, size: f64) -> f64 {
        match self.metrics {
            Some(m) => m.layout(text, size).1,
            None => 0.55 * size * text.chars().count() as f64,
        }
    }

    pub(super) fn draw<DB: DrawingBackend>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_metrics_agree_with_plotters_layout() {
        assert!(font_registered());
        let m = FontMetrics::embedded().expect("embedded font metrics");
        assert!(m.font.glyph_count() > 3000);
        let (a, v) = (m.font.glyph_id('A'), m.font.glyph_id('V'));
        assert!(m.font.kern_unscaled(a, v) < 0.0, "AV is kerned");
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
}

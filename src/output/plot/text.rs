//! Text: the embedded DejaVu Sans font, its horizontal metrics, and a
//! typesetter that writes whole strings to SVG and places PNG text glyph by
//! glyph.

use std::collections::HashMap;
use std::sync::OnceLock;

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

/// Horizontal metrics of the embedded font, read from its `cmap`, `hhea`,
/// `hmtx` and `kern` tables.
///
/// plotters 0.3.7's `ab_glyph` renderer draws each glyph's bitmap at the pen
/// position, ignoring the glyph's left side bearing, which makes letter
/// spacing visibly uneven in PNG text. Bitmap text is therefore set here one
/// glyph at a time, at the pen position plus its bearing, with the same
/// advances and kerning as `ab_glyph` uses.
pub(super) struct FontMetrics {
    /// Font units per pixel of plotters' font size (hhea ascender - descender).
    height_units: f64,
    units_per_em: f64,
    glyphs: HashMap<char, u16>,
    /// Per glyph: advance width and left side bearing, in font units.
    h_metrics: Vec<(u16, i16)>,
    kern: HashMap<(u16, u16), i16>,
}

impl FontMetrics {
    pub(super) fn embedded() -> Option<&'static FontMetrics> {
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
    pub(super) fn layout(&self, text: &str, size: f64) -> (Vec<(char, f64, i32)>, f64) {
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
}

//! PNG text that looks like the SVG text.
//!
//! plotters' bitmap text drops each glyph's left side bearing and rounds the pen position per
//! glyph ("H TTP", uneven digits), draws at a size 24 % larger than its SVG backend, and puts
//! the baseline elsewhere. [`SvgLikeText`] wraps any backend and draws text itself with
//! ab_glyph: advance widths and kerning in floating point, glyphs placed at their true origin,
//! and the font size, anchors and baseline offsets that plotters' SVG backend writes
//! (`font-size = size / 1.24`, `dy = 0.76em / 0.5ex / -0.5ex`), so both formats match.

use ab_glyph::{point, Font, FontRef, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontStyle,
};

/// A backend whose text is drawn like the SVG backend's (see the module comment).
pub struct SvgLikeText<B> {
    inner: B,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

impl<B> SvgLikeText<B> {
    pub fn new(inner: B) -> Self {
        SvgLikeText {
            inner,
            // The embedded DejaVu faces are known-good TTFs.
            regular: FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu Sans"),
            bold: FontRef::try_from_slice(dejavu::sans::bold()).expect("DejaVu Sans Bold"),
        }
    }

    fn font(&self, style: FontStyle) -> &FontRef<'static> {
        match style {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        }
    }
}

/// Pixel size the SVG backend writes for a plotters font size.
fn svg_pixel_size(size: f64) -> f32 {
    (size / 1.24) as f32
}

/// Advance width of `text` with kerning, in pixels.
fn advance_width<F: Font>(font: &impl ScaleFont<F>, text: &str) -> f32 {
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            width += font.kern(p, id);
        }
        width += font.h_advance(id);
        prev = Some(id);
    }
    width
}

impl<B: DrawingBackend> DrawingBackend for SvgLikeText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (w, h): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, (w, h), src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let px = svg_pixel_size(style.size());
        let font = self.font(style.style()).as_scaled(px);
        Ok((advance_width(&font, text).ceil() as u32, px.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let px = svg_pixel_size(style.size());
        let font = self.font(style.style()).clone();
        let scaled = font.as_scaled(px);
        let width = advance_width(&scaled, text);
        // Where the pen starts and where the baseline is, relative to `pos` before rotation.
        let x0 = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // 1ex of DejaVu Sans is 0.545em; the SVG backend's offsets are in em and ex.
        let ex = 0.545 * px;
        let baseline = match style.anchor().v_pos {
            VPos::Top => 0.76 * px,
            VPos::Center => 0.5 * ex,
            VPos::Bottom => -0.5 * ex,
        };
        let transform = style.transform();
        let (w, h) = self.inner.get_size();
        let mut pen = x0;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(px, point(pen, baseline));
            pen += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| {
                if coverage > 0.0 {
                    pixels.push((
                        bounds.min.x as i32 + x as i32,
                        bounds.min.y as i32 + y as i32,
                        coverage,
                    ))
                }
            });
            for (x, y, coverage) in pixels {
                let (dx, dy) = transform.transform(x, y);
                let (x, y) = (pos.0 + dx, pos.1 + dy);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    self.inner.draw_pixel(
                        (x, y),
                        BackendColor {
                            alpha: color.alpha * coverage.min(1.0) as f64,
                            rgb: color.rgb,
                        },
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    /// Ink columns of `text` drawn at plotters size `size` (columns with any dark pixel).
    fn ink_columns(text: &str, size: u32) -> Vec<bool> {
        super::super::plot::ensure_fonts();
        let (w, h) = (400u32, 60u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let style = TextStyle::from(("sans-serif", size).into_font()).color(&BLACK);
            let root =
                SvgLikeText::new(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
            root.draw(&Text::new(text.to_string(), (10, 10), style))
                .unwrap();
            root.present().unwrap();
        }
        (0..w as usize)
            .map(|x| (0..h as usize).any(|y| rgb[(y * w as usize + x) * 3] < 128))
            .collect()
    }

    /// Widest run of blank columns between the first and last inked column.
    fn widest_inner_gap(cols: &[bool]) -> usize {
        let first = cols.iter().position(|&c| c).unwrap();
        let last = cols.iter().rposition(|&c| c).unwrap();
        cols[first..=last]
            .split(|&c| c)
            .map(|run| run.len())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn letters_sit_at_their_advance_widths() {
        // "HTTP" has no space: no gap wider than the glyphs' own side bearings. (plotters'
        // own bitmap text leaves a 4 px gap after the H here, this one 2 px.)
        let cols = ink_columns("HTTP", 26);
        assert!(
            widest_inner_gap(&cols) <= 3,
            "gap of {} px",
            widest_inner_gap(&cols)
        );
        // The inked width matches the advance width the SVG backend's font size gives.
        let font = FontRef::try_from_slice(dejavu::sans::regular()).unwrap();
        let svg_width = advance_width(&font.as_scaled(svg_pixel_size(26.0)), "HTTP");
        let first = cols.iter().position(|&c| c).unwrap();
        let last = cols.iter().rposition(|&c| c).unwrap();
        let inked = (last - first + 1) as f32;
        assert!(
            (inked - svg_width).abs() <= 4.0,
            "inked {inked} px, SVG advance {svg_width} px"
        );
        // Digits are evenly spaced: the same glyph repeated has equal gaps.
        let cols = ink_columns("0000", 20);
        let runs: Vec<usize> = {
            let first = cols.iter().position(|&c| c).unwrap();
            let last = cols.iter().rposition(|&c| c).unwrap();
            cols[first..=last]
                .split(|&c| c)
                .map(|r| r.len())
                .filter(|&l| l > 0)
                .collect()
        };
        let spread = runs.iter().max().unwrap() - runs.iter().min().unwrap();
        assert!(spread <= 1, "uneven digit gaps {runs:?}");
    }
}

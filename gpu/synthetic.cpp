// Synthetic pages (see synthetic.hpp). Shapes are chosen so their analysis is predictable: glyphs are
// single 8-connected components separated by at least two background columns, table lines are thin
// and long, a photo binarises into one large blob plus fragments.
#include "gpu/synthetic.hpp"

#include <algorithm>

namespace quire::gpu {

void gray_image::fill(const pixel_box& b, std::uint8_t v) {
  const int x0 = std::max(0, b.x0), y0 = std::max(0, b.y0);
  const int x1 = std::min(width - 1, b.x1), y1 = std::min(height - 1, b.y1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) at(x, y) = v;
}

pixel_box draw_glyph(gray_image& img, int x, int y, int w, int h, splitmix64& rng, std::uint8_t ink) {
  const int s = std::max(1, std::min(w, h) / 5);  // stroke width
  const int x1 = x + w - 1, y1 = y + h - 1;
  switch (rng.below(5)) {
    case 0:  // 'l'
      img.fill({x, y, x + s - 1, y1}, ink);
      return pixel_box{x, y, x + s - 1, y1};
    case 1:  // 'o'
      img.fill({x, y, x1, y + s - 1}, ink), img.fill({x, y1 - s + 1, x1, y1}, ink);
      img.fill({x, y, x + s - 1, y1}, ink), img.fill({x1 - s + 1, y, x1, y1}, ink);
      break;
    case 2:  // 'n'
      img.fill({x, y, x1, y + s - 1}, ink), img.fill({x, y, x + s - 1, y1}, ink), img.fill({x1 - s + 1, y, x1, y1}, ink);
      break;
    case 3:  // 'T'
      img.fill({x, y, x1, y + s - 1}, ink), img.fill({x + w / 2 - s / 2, y, x + w / 2 - s / 2 + s - 1, y1}, ink);
      break;
    default:  // 'L'
      img.fill({x, y, x + s - 1, y1}, ink), img.fill({x, y1 - s + 1, x1, y1}, ink);
      break;
  }
  return pixel_box{x, y, x1, y1};
}

int draw_text(gray_image& img, const pixel_box& area, int gh, int pitch, splitmix64& rng, std::uint8_t ink) {
  int count = 0;
  const int gap = std::max(2, gh / 6), word_gap = std::max(gap + 2, gh * 3 / 5);
  for (int base = area.y0 + gh - 1; base <= area.y1; base += pitch) {
    int x = area.x0;
    while (true) {
      const int letters = 3 + rng.below(5);
      // Measure the word first so it is never cut at the right edge.
      std::vector<int> widths(letters);
      int word = 0;
      for (int& w : widths) w = gh / 2 + rng.below(std::max(1, gh / 3)), word += w + gap;
      if (x + word - gap - 1 > area.x1) break;
      for (int w : widths) {
        const int h = rng.below(3) == 0 ? gh : gh * 7 / 10;  // ascenders and x-height letters
        draw_glyph(img, x, base - h + 1, w, h, rng, ink);
        ++count;
        x += w + gap;
      }
      x += word_gap - gap;
    }
  }
  return count;
}

void draw_photo(gray_image& img, const pixel_box& area, splitmix64& rng) {
  const int w = area.width(), h = area.height();
  for (int y = std::max(0, area.y0); y <= std::min(img.height - 1, area.y1); ++y)
    for (int x = std::max(0, area.x0); x <= std::min(img.width - 1, area.x1); ++x) {
      const int ramp = 30 + 200 * ((x - area.x0) + (y - area.y0)) / std::max(1, w + h);
      img.at(x, y) = std::uint8_t(std::clamp(ramp + rng.below(81) - 40, 0, 255));
    }
}

void add_specks(gray_image& img, int count, splitmix64& rng, std::uint8_t ink) {
  for (int i = 0; i < count; ++i) img.at(rng.below(img.width), rng.below(img.height)) = ink;
}

gray_image make_synthetic_page(const synthetic_spec& s) {
  gray_image img(s.width, s.height);
  splitmix64 rng(s.seed);
  const int margin = s.dpi * 3 / 4;
  const int gh = std::max(6, s.dpi / 10);  // ~7pt glyph boxes
  const int pitch = gh * 9 / 5;
  const int line = std::max(2, s.dpi / 75);
  if (s.full_page_photo) {
    draw_photo(img, {0, 0, s.width - 1, s.height - 1}, rng);
  } else {
    int y = margin;
    const int col_w = (s.width - 2 * margin - s.dpi / 4) / 2;
    if (s.text && y < s.height - margin) {
      const int h = std::min(s.height - margin, y + s.dpi * 2) - y;
      draw_text(img, {margin, y, margin + col_w, y + h}, gh, pitch, rng);
      draw_text(img, {s.width - margin - col_w, y, s.width - margin, y + h}, gh, pitch, rng);
      y += h + s.dpi / 3;
    }
    if (s.table && y + s.dpi < s.height - margin) {
      const int rows = 5, cols = 4, row_h = gh * 3, col_w2 = (s.width - 2 * margin) / cols;
      for (int r = 0; r <= rows; ++r) img.fill({margin, y + r * row_h, margin + cols * col_w2 + line - 1, y + r * row_h + line - 1}, 0);
      for (int c = 0; c <= cols; ++c) img.fill({margin + c * col_w2, y, margin + c * col_w2 + line - 1, y + rows * row_h + line - 1}, 0);
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          const int cx = margin + c * col_w2 + line + std::max(3, s.dpi / 40), cy = y + r * row_h + line + gh / 2;
          draw_text(img, {cx, cy, cx + col_w2 / 2, cy + gh}, gh, pitch, rng);
        }
      y += rows * row_h + s.dpi / 3;
    }
    if (s.figure && y + s.dpi < s.height - margin) {
      const int h = std::min(s.dpi * 2, s.height - margin - y);
      draw_photo(img, {margin + s.dpi / 2, y, s.width - margin - s.dpi / 2, y + h - 1}, rng);
      y += h + s.dpi / 3;
    }
    if (s.text && y + pitch < s.height - margin)
      draw_text(img, {margin, y, s.width - margin, s.height - margin}, gh, pitch, rng);
  }
  if (s.specks) add_specks(img, s.specks, rng);
  if (s.grain)
    for (auto& v : img.pixels) v = std::uint8_t(std::clamp(int(v) + rng.below(2 * s.grain + 1) - s.grain, 0, 255));
  return img;
}

}  // namespace quire::gpu

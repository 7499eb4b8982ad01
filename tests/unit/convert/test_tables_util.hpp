// Synthetic page models for the table detector tests: text lines at exact positions, rules and
// fills, the way the extractor reports them for real PDFs.
#pragma once

#include <string>
#include <vector>

#include "convert/detail/layout.hpp"
#include "convert/detail/tables.hpp"

namespace quire::convert::test_tables {

struct page_builder {
  layout::page_model page;
  float size = 10;  // font size of added text

  page_builder() {
    page.number = 1;
    page.width = 595;
    page.height = 842;
  }

  // Width of text at the builder's size: 0.5 em per character, like a typical text face.
  float width_of(const std::string& t) const { return 0.5f * size * static_cast<float>(t.size()); }

  // One line holding one span; y is the top of the line box. Returns the line index.
  int text(float x, float y, const std::string& t, bool bold = false, bool mono = false) {
    layout::span s;
    s.text = t;
    s.size = size;
    s.bold = bold;
    s.mono = mono;
    s.box = {x, y, x + width_of(t), y + 1.2f * size};
    s.baseline = y + size;
    layout::line ln;
    ln.spans.push_back(s);
    ln.box = s.box;
    page.lines.push_back(ln);
    return static_cast<int>(page.lines.size()) - 1;
  }

  // One visual row: each non-empty cell's text at its column's x.
  void row(const std::vector<float>& xs, float y, const std::vector<const char*>& cells) {
    for (std::size_t c = 0; c < cells.size() && c < xs.size(); ++c)
      if (*cells[c]) text(xs[c], y, cells[c]);
  }

  // Right-aligned text ending at x1.
  int text_right(float x1, float y, const std::string& t, bool bold = false) {
    return text(x1 - width_of(t), y, t, bold);
  }

  void hrule(float x0, float x1, float y) { page.rules.push_back({{x0, y - 0.25f, x1, y + 0.25f}, true}); }
  void vrule(float x, float y0, float y1) { page.rules.push_back({{x - 0.25f, y0, x + 0.25f, y1}, false}); }

  // A full grid: a vertical rule at every x and a horizontal rule at every y.
  void grid(const std::vector<float>& xs, const std::vector<float>& ys) {
    for (float x : xs) vrule(x, ys.front(), ys.back());
    for (float y : ys) hrule(xs.front(), xs.back(), y);
  }

  // Ordinary paragraph lines (full measure, 12 pt pitch).
  float paragraph(float x, float y, int lines, float width = 420) {
    const std::string filler = "The crew checked the slipway and wrote down what they saw that day at";
    for (int i = 0; i < lines; ++i) {
      text(x, y, filler);
      page.lines.back().box.x1 = page.lines.back().spans[0].box.x1 = x + width;
      y += 12;
    }
    return y;
  }
};

inline std::vector<std::string> row_texts(const layout::block& t, std::size_t r) {
  std::vector<std::string> out;
  for (const auto& c : t.rows.at(r)) out.push_back(c.text);
  return out;
}

}  // namespace quire::convert::test_tables

// Stage 2, step 4b: a visual row's pieces → one flow line (fline), what the block builder
// (blocks.cpp) reads: its text, dominant size and style (bold, italic, the share set in a
// monospace font), its list marker (a bullet glyph, a number or letter with its delimiter, or a
// bullet drawn as a vector shape left of it) and its blockquote depth (vertical bars left of it);
// and the nesting level of a list item, from how far in its marker stands.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::line;

namespace {

// Glyphs that mark a list item when they start a line. Not the em dash: "— Name" is an attribution.
bool is_bullet_glyph(int c) {
  switch (c) {
    case 0x2022: case 0x25E6: case 0x25AA: case 0x25AB: case 0x2023: case 0x25CF: case 0x25CB: case 0x25A0:
    case 0x25A1: case 0x00B7: case 0x2043: case 0x27A2: case 0x25BA: case 0x25B8: case 0x2713: case 0x2714:
    case 0x2756: case 0x25C6: case 0x25C7: case 0x2219: case 0x2013: case '-': case '*': case 0x2192:
    case 0x25B6: case 0x2605: case 0x2666: case 0x29BF: case 0x25C9: case 0x2217:  // ∗: LaTeX's third level
      return true;
    default:
      return false;
  }
}

bool roman(std::string_view s) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s)
    if (!std::strchr("ivxlcIVXLC", c)) return false;
  return true;
}

// Recognises "1." "12)" "(3)" "a." "iv)" "A." at the start of `s`; returns its length (0 none).
size_t ordered_marker(std::string_view s, std::string& label, char& delim) {
  size_t i = 0;
  bool paren = false;
  if (i < s.size() && s[i] == '(') paren = true, ++i;
  size_t b = i;
  while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i])) && i - b < 6) ++i;
  if (i == b || i >= s.size()) return 0;
  std::string_view tok = s.substr(b, i - b);
  bool digits = std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; });
  bool letter = tok.size() == 1 && std::isalpha(static_cast<unsigned char>(tok[0]));
  if (!(digits && tok.size() <= 3) && !letter && !roman(tok)) return 0;
  char d = s[i];
  if (paren ? d != ')' : (d != '.' && d != ')')) return 0;
  ++i;
  if (i < s.size() && s[i] != ' ') return 0;
  if (!digits && d == '.' && i >= s.size()) return 0;
  label = std::string(tok);
  delim = d;
  return i;
}

}  // namespace

page_analyzer::fline page_analyzer::make_fline(const std::vector<int>& pieces) const {
  fline f;
  for (int p : pieces) f.pieces.push_back(&page.lines[p]);
  bool bold = true, italic = true, mono = true;
  int mono_chars = 0;
  std::map<int, int> sizes;
  for (const line* l : f.pieces) {
    for (const auto& sp : l->spans)
      if (sp.mono)
        for (char c : sp.text) mono_chars += c != ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    f.box.include(l->box);
    if (!f.plain.empty()) f.plain += ' ';
    f.plain += l->text();
    f.chars += l->chars;
    sizes[quarter(l->size)] += l->chars;
    bold = bold && style_bold(*l);
    italic = italic && style_italic(*l);
    mono = mono && style_mono(*l);
  }
  int best = -1;
  for (auto& [q, n] : sizes)
    if (n > best) best = n, f.size = q / 4.0f;
  f.baseline = f.pieces.front()->baseline;
  f.bold = bold;
  f.italic = italic;
  f.mono = mono;
  f.mono_share = f.chars > 0 ? std::min(1.0f, static_cast<float>(mono_chars) / static_cast<float>(f.chars)) : 0;
  f.text_x = f.box.x0;
  return f;
}

void page_analyzer::detect_marker(fline& f) const {
  // a vector bullet left of the line
  for (const auto& m : page.marks) {
    if (m.box.x1 > f.box.x0 - 1.0f || m.box.x1 < f.box.x0 - 3.0f * std::max(f.size, 6.0f)) continue;
    const float cy = m.box.cy();
    if (cy < f.box.y0 || cy > f.box.y1) continue;
    if (m.box.height() > 0.8f * f.size) continue;
    f.marker = list_marker::bullet;
    f.marker_x = m.box.x0;
    f.text_x = f.box.x0;
    return;
  }
  const std::string& t = f.plain;
  if (t.empty()) return;
  size_t i = 0;
  int c = text::next_cp(t, i);
  const line& first = *f.pieces.front();
  const bool own_piece = f.pieces.size() >= 2 && text::trim(first.text()).size() == i;
  if (is_bullet_glyph(c) && (own_piece || (i < t.size() && t[i] == ' '))) {
    if ((c == '-' || c == '*' || c == 0x2013) && !own_piece && i + 1 < t.size() && t[i + 1] == ' ')
      return;  // "- -" and friends are not bullets
    f.marker = list_marker::bullet;
    f.marker_x = f.box.x0;
    f.strip = i;
    f.marker_piece = own_piece;
    f.text_x = own_piece ? f.pieces[1]->box.x0 : f.box.x0 + 1.5f * f.size;
    return;
  }
  std::string label;
  char delim = '.';
  size_t len = ordered_marker(t, label, delim);
  if (len == 0) return;
  const bool piece_marker = f.pieces.size() >= 2 && text::trim(first.text()).size() == len;
  f.marker = list_marker::ordered;
  f.label = label;
  f.delim = delim;
  f.marker_x = f.box.x0;
  f.strip = len;
  f.marker_piece = piece_marker;
  f.text_x = piece_marker ? f.pieces[1]->box.x0 : f.box.x0 + (len + 1) * 0.5f * f.size;
}

int page_analyzer::quote_depth(const fline& f) const {
  int depth = 0;
  for (const auto& r : vrules) {
    if (r.box.x1 > f.box.x0 - 1.0f || f.box.x0 - r.box.x1 > 80.0f) continue;
    const float cy = f.box.cy();
    if (cy < r.box.y0 - 1 || cy > r.box.y1 + 1 || r.box.height() < 0.8f * f.size) continue;
    ++depth;
  }
  return depth;
}

int page_analyzer::list_level(const fline& f) {
  auto& stack = dc.list_stack;
  const float x = f.marker_x - region_left;
  while (!stack.empty() && stack.back().marker_x > x + 3.0f) stack.pop_back();
  if (stack.empty() || x > stack.back().marker_x + 3.0f) stack.push_back({x, f.text_x - region_left});
  else stack.back() = {x, f.text_x - region_left};
  return static_cast<int>(stack.size()) - 1;
}

}  // namespace quire::convert

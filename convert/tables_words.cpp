// Words, bands and cell text: the geometry both table detectors work on.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "convert/detail/inline.hpp"
#include "convert/detail/tables_internal.hpp"

namespace quire::convert::tables::detail {
namespace {

// Decodes one UTF-8 code point starting at s[i]; advances i.
char32_t next_code_point(const std::string& s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
  char32_t cp = extra == 0 ? c : extra == 1 ? (c & 0x1f) : extra == 2 ? (c & 0x0f) : (c & 0x07);
  ++i;
  for (int k = 0; k < extra && i < s.size(); ++k, ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3f);
  return cp;
}

// Relative advance width of a glyph in a typical proportional Latin text face. Only the ratios
// matter: they place word boundaries inside a span to within a fraction of a character.
float glyph_weight(char32_t c, bool mono) {
  if (mono) return 1.0f;
  if (c == ' ') return 0.27f;
  if (c < 0x80) {
    switch (c) {
      case 'i': case 'l': case 'j': case '.': case ',': case ';': case ':': case '!': case '|':
      case '\'': case '`': return 0.28f;
      case 'f': case 't': case 'r': case 'I': case '(': case ')': case '[': case ']': case '-':
      case '/': return 0.36f;
      case 'm': case 'w': case 'M': case 'W': case '@': case '%': return 0.85f;
      default: break;
    }
    if (c >= 'A' && c <= 'Z') return 0.68f;
    return 0.52f;
  }
  if (c >= 0x2E80) return 1.0f;  // CJK and other full-width scripts
  return 0.55f;
}

bool is_space(char32_t c) { return c == ' ' || c == '\t' || c == 0xA0 || c == 0x2009 || c == 0x202F; }

}  // namespace

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<word> split_words(const layout::page_model& page, int line_index) {
  std::vector<word> out;
  const auto& ln = page.lines[line_index];
  bool pending_space = false;
  for (std::size_t si = 0; si < ln.spans.size(); ++si) {
    const auto& sp = ln.spans[si];
    // code points and their cumulative weights
    std::vector<char32_t> cps;
    std::vector<std::size_t> offs;
    for (std::size_t i = 0; i < sp.text.size();) {
      offs.push_back(i);
      cps.push_back(next_code_point(sp.text, i));
    }
    offs.push_back(sp.text.size());
    float total = 0;
    for (char32_t c : cps) total += glyph_weight(c, sp.mono);
    if (total <= 0) continue;
    const float scale = sp.box.width() / total;
    float pos = sp.box.x0;
    std::size_t k = 0;
    while (k < cps.size()) {
      if (is_space(cps[k])) {
        pending_space = true;
        pos += glyph_weight(cps[k], sp.mono) * scale;
        ++k;
        continue;
      }
      std::size_t e = k;
      float x0 = pos;
      while (e < cps.size() && !is_space(cps[e])) pos += glyph_weight(cps[e++], sp.mono) * scale;
      word w;
      w.span = sp;
      w.span.text = sp.text.substr(offs[k], offs[e] - offs[k]);
      w.span.box.x0 = x0;
      w.span.box.x1 = pos;
      w.exact_x0 = k == 0;
      w.exact_x1 = e == cps.size();
      w.line = line_index;
      w.span_index = static_cast<int>(si);
      // a gap between spans wider than a quarter em is a word space even without a space glyph
      if (!out.empty() && k == 0 && !pending_space)
        pending_space = x0 - out.back().span.box.x1 > 0.25f * std::max(sp.size, 1.0f);
      w.space_before = pending_space && !out.empty();
      pending_space = false;
      out.push_back(std::move(w));
      k = e;
    }
  }
  return out;
}

std::vector<band> build_bands(const layout::page_model& page, const std::vector<int>& line_ids) {
  std::vector<int> ids = line_ids;
  std::sort(ids.begin(), ids.end(), [&](int a, int b) {
    const auto &ra = page.lines[a].box, &rb = page.lines[b].box;
    if (ra.y0 + ra.y1 != rb.y0 + rb.y1) return ra.y0 + ra.y1 < rb.y0 + rb.y1;
    return ra.x0 < rb.x0;
  });
  std::vector<band> bands;
  for (int id : ids) {
    const auto& r = page.lines[id].box;
    if (r.empty()) continue;
    bool joined = false;
    if (!bands.empty()) {
      band& b = bands.back();
      // same visual row when the vertical overlap covers most of the shorter extent
      const float overlap = std::min(b.y1, r.y1) - std::max(b.y0, r.y0);
      const float shorter = std::min(b.y1 - b.y0, r.height());
      if (overlap > 0.5f * shorter) {
        b.lines.push_back(id);
        b.y0 = std::min(b.y0, r.y0);
        b.y1 = std::max(b.y1, r.y1);
        b.x0 = std::min(b.x0, r.x0);
        b.x1 = std::max(b.x1, r.x1);
        joined = true;
      }
    }
    if (!joined) bands.push_back(band{{id}, {}, r.y0, r.y1, r.x0, r.x1});
  }
  for (auto& b : bands) {
    for (int id : b.lines) {
      auto ws = split_words(page, id);
      b.words.insert(b.words.end(), ws.begin(), ws.end());
    }
    std::stable_sort(b.words.begin(), b.words.end(),
                     [](const word& a, const word& c) { return a.span.box.x0 < c.span.box.x0; });
  }
  return bands;
}

bool broken_at_hyphen(const std::string& end, const std::string& next) {
  return end.size() >= 3 && end.back() == '-' && std::isalpha(static_cast<unsigned char>(end[end.size() - 2])) &&
         !next.empty() && std::islower(static_cast<unsigned char>(next.front()));
}

std::string cell_text(const cell_words& words, const layout::page_model& page, const hyphen_rule& hyphenated) {
  // the engine's inline renderer does emphasis, code, links and escaping; it takes the spaces
  // as given, so each word carries the space that separated it from the previous one (wrapped
  // lines of a cell are joined with a space, or none after a line-end hyphen of a word)
  std::vector<layout::span> spans;
  spans.reserve(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    layout::span s = words[i].span;
    bool glue = i > 0 && words[i].line == words[i - 1].line && !words[i].space_before;
    if (i > 0 && words[i].line != words[i - 1].line && !spans.back().mono) {
      std::string& prev = spans.back().text;
      if (broken_at_hyphen(prev, s.text)) {
        glue = true;
        std::size_t start = prev.find_last_of(" (\"", prev.size() - 2);
        start = start == std::string::npos ? 0 : start + 1;
        std::size_t end = 0;
        while (end < s.text.size() && std::isalpha(static_cast<unsigned char>(s.text[end]))) ++end;
        if (hyphenated && hyphenated(prev.substr(start, prev.size() - 1 - start), s.text.substr(0, end))) prev.pop_back();
      }
    }
    if (i > 0 && !glue) s.text.insert(s.text.begin(), ' ');
    spans.push_back(std::move(s));
  }
  inline_options options;
  options.block_start = false;
  options.table_cell = true;
  options.page = page.number;
  return render_inline(spans, page.links, options, nullptr);
}

bool is_list_marker(const std::string& text) {
  static const char* bullets[] = {"•", "◦", "▪", "▫", "‣", "⁃", "–", "—", "-", "*", "+", "·", "○", "●", "■", "□", "►", "✓"};
  for (const char* b : bullets)
    if (text == b) return true;
  // 1.  1)  (1)  a.  a)  iv.  A.
  std::string t = text;
  if (t.size() >= 3 && t.front() == '(' && t.back() == ')') t = t.substr(1, t.size() - 2) + ")";
  if (t.size() < 2 || t.size() > 5) return false;
  const char last = t.back();
  if (last != '.' && last != ')') return false;
  const std::string body = t.substr(0, t.size() - 1);
  const bool digits = std::all_of(body.begin(), body.end(), [](char c) { return c >= '0' && c <= '9'; });
  const bool letter = body.size() == 1 && std::isalpha(static_cast<unsigned char>(body[0]));
  const bool roman = std::all_of(body.begin(), body.end(), [](char c) { return std::string("ivxlcIVXLC").find(c) != std::string::npos; });
  return digits || letter || roman;
}

bool finish_table(const layout::page_model& page, word_grid grid, std::vector<float> column_x,
                  std::size_t min_rows, const hyphen_rule& hyphenated, detected& out) {
  // drop rows and columns that hold no word at all
  std::erase_if(grid, [](const std::vector<cell_words>& row) {
    return std::all_of(row.begin(), row.end(), [](const cell_words& c) { return c.empty(); });
  });
  if (grid.empty()) return false;
  const std::size_t ncols = grid.front().size();
  std::vector<bool> keep(ncols, false);
  for (const auto& row : grid)
    for (std::size_t c = 0; c < ncols; ++c) keep[c] = keep[c] || !row[c].empty();
  word_grid kept;
  std::vector<float> kept_x;
  for (const auto& row : grid) {
    std::vector<cell_words> r;
    for (std::size_t c = 0; c < ncols; ++c)
      if (keep[c]) r.push_back(row[c]);
    kept.push_back(std::move(r));
  }
  for (std::size_t c = 0; c < ncols && c < column_x.size(); ++c)
    if (keep[c]) kept_x.push_back(column_x[c]);
  if (kept.size() < min_rows || kept.front().size() < 2) return false;

  layout::block b;
  b.kind = layout::block_kind::table;
  b.page = page.number;
  b.column_x = std::move(kept_x);
  bool first = true;
  std::map<int, std::size_t> placed;
  for (const auto& row : kept) {
    std::vector<layout::table_cell> cells;
    for (const auto& cell : row) {
      cells.push_back(layout::table_cell{cell_text(cell, page, hyphenated)});
      for (const auto& w : cell) {
        ++placed[w.line];
        const auto& r = w.span.box;
        if (first) {
          b.box = r;
          first = false;
        } else {
          b.box.x0 = std::min(b.box.x0, r.x0);
          b.box.y0 = std::min(b.box.y0, r.y0);
          b.box.x1 = std::max(b.box.x1, r.x1);
          b.box.y1 = std::max(b.box.y1, r.y1);
        }
      }
    }
    b.rows.push_back(std::move(cells));
  }
  out.table = std::move(b);
  out.lines.clear();
  for (const auto& [line, n] : placed)
    if (n >= split_words(page, line).size()) out.lines.push_back(line);
  return true;
}

}  // namespace quire::convert::tables::detail

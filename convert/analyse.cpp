// Stage 2: page model → blocks. See analyse.hpp for the streaming contract.
//
// Per page, in this order:
//   1. furniture     running headers/footers and page numbers in the top/bottom bands
//   2. ruled tables  grids of vector rules claim the text inside them
//   3. columns       whitespace gutters split the page into regions, read column by column
//   4. rows          pieces on one baseline; aligned rows without rules become tables
//   5. blocks        lines → paragraphs, headings, list items, code, quotes, footnotes
#include "convert/analyse.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <regex>

#include "convert/inline.hpp"
#include "convert/tables.hpp"
#include "convert/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::page_model;
using layout::rect;
using layout::span;

namespace {

constexpr float kTopBand = 0.12f, kBottomBand = 0.88f;

int quarter(float v) { return static_cast<int>(std::lround(v * 4)); }

bool in_band(const rect& b, float h) { return b.y1 <= kTopBand * h || b.y0 >= kBottomBand * h; }

bool is_page_number(std::string_view raw) {
  std::string s(text::trim(raw));
  if (s.empty() || s.size() > 40) return false;
  static const std::regex re(
      R"(^(?:[-\u2013\u2014]\s*)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*[-\u2013\u2014])?$|^\(\d{1,4}\)$|^\[\d{1,4}\]$|^\d{1,4}\s*(?:/|of|von|de|sur)\s*\d{1,4}$|^(?:page|p\.|pg\.|seite|pagina|página|strona|sida|side)\s*\d{1,4}(?:\s*(?:/|of|von|de|sur|z)\s*\d{1,4})?$)",
      std::regex::icase);
  return std::regex_match(s, re);
}

// ---- list markers ----

bool is_bullet_glyph(int c) {
  switch (c) {
    case 0x2022: case 0x25E6: case 0x25AA: case 0x25AB: case 0x2023: case 0x25CF: case 0x25CB: case 0x25A0:
    case 0x25A1: case 0x00B7: case 0x2043: case 0x27A2: case 0x25BA: case 0x25B8: case 0x2713: case 0x2714:
    case 0x2756: case 0x25C6: case 0x25C7: case 0x2219: case 0x2013: case 0x2014: case '-': case '*': case 0x2192:
    case 0x25B6: case 0x2605: case 0x2666: case 0x29BF: case 0x25C9:
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

// ---- merged lines ----

struct fline {
  std::vector<const line*> pieces;  // left to right
  rect box = rect::none();
  float size = 0, baseline = 0;
  bool bold = false, italic = false, mono = false;
  int chars = 0;
  std::string plain;
  // list marker
  int marker = 0;  // 0 none, 1 bullet, 2 ordered
  std::string label;
  char delim = '.';
  float marker_x = 0, text_x = 0;
  size_t strip = 0;          // bytes of `plain`/first piece text taken by a glyph or number marker
  bool marker_piece = false; // the marker is a piece of its own (dropped when rendering)
  int quote = 0;
};

struct unit {  // something placed in the page flow
  rect box;
  int piece = -1;  // index into page.lines
  int table = -1;  // index into table_blocks
  int image = -1;  // index into page.images
  int rule = -1;   // index into standalone horizontal rules
};

struct flow_elem {
  int kind = 0;  // 0 line, 1 table, 2 image, 3 rule
  int index = 0;
  float y = 0;
};

bool style_bold(const line& l) { return l.all(&span::bold); }
bool style_italic(const line& l) { return l.all(&span::italic); }
bool style_mono(const line& l) { return l.all(&span::mono); }

}  // namespace

// ======================================================================================
// observe: document statistics

void doc_context::observe(const page_model& page) {
  ++observed_pages_;
  for (const auto& l : page.lines) size_chars_[quarter(l.size)] += l.chars;
  const float body = body_size();
  // line gaps between consecutive body lines of the same MuPDF block
  for (size_t i = 1; i < page.lines.size(); ++i) {
    const line& a = page.lines[i - 1];
    const line& b = page.lines[i];
    if (a.block != b.block || std::fabs(a.size - body) > 0.6f || std::fabs(b.size - body) > 0.6f) continue;
    float gap = b.box.y0 - a.box.y1;
    if (gap >= 0 && gap < 1.2f * body && layout::overlap(a.box.x0, a.box.x1, b.box.x0, b.box.x1) > 0)
      ++gap_count_[quarter(gap)];
  }
  // running header/footer candidates
  for (const auto& l : page.lines) {
    if (!in_band(l.box, page.height) || l.chars > 120) continue;
    std::string sig = text::signature(l.text());
    if (sig.empty()) continue;
    auto& hits = band_[sig];
    if (hits.size() < 64 && (hits.empty() || hits.back().page != page.number))
      hits.push_back({page.number, l.box.cy()});
    if (band_.size() > 20000) break;
  }
  // heading style candidates
  for (const auto& l : page.lines) {
    if (l.chars == 0 || l.chars > 200) continue;
    const bool b = style_bold(l), it = style_italic(l);
    if (style_mono(l)) continue;
    if (l.size >= 1.12f * body || ((b || it) && l.size >= 0.8f * body && l.chars <= 150))
      note_heading_style(l.size, b, it);
  }
  // vocabulary (for hyphen repair)
  if (words_.size() < 200000) {
    for (const auto& l : page.lines)
      for (const auto& sp : l.spans) {
        std::string w;
        std::string_view t = sp.text;
        for (size_t i = 0; i <= t.size();) {
          int c = i < t.size() ? text::next_cp(t, i) : (++i, ' ');
          if (text::is_alpha(c)) {
            text::append_cp(w, text::to_lower(c));
          } else {
            if (w.size() >= 3) words_.insert(w);
            w.clear();
          }
        }
      }
  }
}

float doc_context::body_size() const {
  long best = -1;
  int q = 40;
  for (auto& [k, n] : size_chars_)
    if (n > best) best = n, q = k;
  return q / 4.0f;
}

float doc_context::line_gap() const {
  long total = 0;
  for (auto& [k, n] : gap_count_) total += n;
  if (total < 3) return 0.3f * body_size();
  long seen = 0;
  for (auto& [k, n] : gap_count_) {
    seen += n;
    if (seen * 2 >= total) return k / 4.0f;
  }
  return 0.3f * body_size();
}

void doc_context::note_heading_style(float size, bool bold, bool italic) {
  for (auto& s : styles_)
    if (std::fabs(s.size - size) < 0.3f && s.bold == bold && s.italic == italic) {
      ++s.count;
      return;
    }
  if (styles_.size() < 64) styles_.push_back({size, bold, italic, 1, 0});
}

// Rank of a heading style among the candidate styles of the document: larger first, then
// bold+italic, bold, italic. Once a style got a level it keeps it.
int doc_context::level_for(float size, bool bold, bool italic) {
  note_heading_style(size, bold, italic);
  heading_style* self = nullptr;
  for (auto& s : styles_)
    if (std::fabs(s.size - size) < 0.3f && s.bold == bold && s.italic == italic) self = &s;
  if (self->level) return self->level;
  const float body = body_size();
  auto weight = [](const heading_style& s) { return (s.bold ? 2 : 0) + (s.italic ? 1 : 0); };
  auto above = [&](const heading_style& o) {
    if (o.size > self->size + 0.6f) return true;
    if (o.size < self->size - 0.6f) return false;
    return weight(o) > weight(*self);
  };
  // distinct style classes above this one (sizes within 0.6 pt and equal weight are one class)
  std::vector<std::pair<float, int>> classes;
  int min_level_below = 7, max_level_above = 0;
  for (auto& o : styles_) {
    if (&o == self) continue;
    const bool heading_like = o.size >= 1.12f * body || ((o.bold || o.italic) && o.size >= 0.8f * body);
    // a style seen once and never used for a heading is an accident (a formula, a drop cap)
    if (!heading_like || (o.count < 2 && !o.level)) continue;
    if (above(o)) {
      bool dup = false;
      for (auto& c : classes)
        if (std::fabs(c.first - o.size) < 0.6f && c.second == weight(o)) dup = true;
      if (!dup) classes.push_back({o.size, weight(o)});
      if (o.level) max_level_above = std::max(max_level_above, o.level);
    } else if (o.level) {
      min_level_below = std::min(min_level_below, o.level);
    }
  }
  int level = static_cast<int>(classes.size()) + 1;
  if (max_level_above && level <= max_level_above) level = max_level_above + 1;
  if (level >= min_level_below && max_level_above + 1 < min_level_below) level = max_level_above + 1;
  level = std::clamp(level, 1, 6);
  self->level = level;
  return level;
}

bool doc_context::repeated_in_band(const std::string& sig, int page, float y) const {
  auto it = band_.find(sig);
  if (it == band_.end()) return false;
  for (const auto& h : it->second)
    if (h.page != page && std::fabs(h.y - y) < 20.0f) return true;
  return false;
}

// ======================================================================================
// analyse: one page

struct page_analyser {
  doc_context& dc;
  page_model& page;
  float body, lgap;
  std::vector<char> furniture;
  std::vector<char> claimed;
  std::vector<block> table_blocks;
  std::vector<layout::rule> hrules;  // standalone horizontal rules (not table or box)
  std::vector<layout::rule> vrules;  // standalone vertical rules (quote bars)
  std::vector<fline> flines;
  std::vector<block> out;
  bool found_gutter = false;

  page_analyser(doc_context& d, page_model& p) : dc(d), page(p) {
    body = dc.body_size();
    lgap = dc.line_gap();
    furniture.assign(page.lines.size(), 0);
    claimed.assign(page.lines.size(), 0);
  }

  // ---------------------------------------------------------------- 1. furniture
  // A short line at the very top or bottom of the page, far from everything else: a running
  // header or footer even when it appears only once (first pages often have none).
  bool isolated_at_edge(int i) const {
    const line& l = page.lines[i];
    const bool top = l.box.y1 <= 0.075f * page.height, bottom = l.box.y0 >= 0.93f * page.height;
    if (!top && !bottom) return false;
    float nearest = 1e9f;
    for (size_t j = 0; j < page.lines.size(); ++j) {
      const line& o = page.lines[j];
      if (static_cast<int>(j) == i || o.chars == 0) continue;
      if (layout::overlap(l.box.y0, l.box.y1, o.box.y0, o.box.y1) > 0) continue;  // same row
      if (top && o.box.y0 >= l.box.y1) nearest = std::min(nearest, o.box.y0 - l.box.y1);
      if (bottom && o.box.y1 <= l.box.y0) nearest = std::min(nearest, l.box.y0 - o.box.y1);
      if (top && o.box.y1 < l.box.y0) return false;  // something above a "header" is not furniture
      if (bottom && o.box.y0 > l.box.y1 && !is_page_number(o.text())) return false;
    }
    return nearest >= 2.2f * body;
  }

  void find_furniture() {
    const int n = static_cast<int>(page.lines.size());
    std::vector<char> cand(n, 0);
    for (int i = 0; i < n; ++i) {
      const line& l = page.lines[i];
      if (!in_band(l.box, page.height) || l.chars > 120) continue;
      std::string t = l.text();
      if (is_page_number(t)) cand[i] = 1;
      else if (dc.page_count > 1 && dc.repeated_in_band(text::signature(t), page.number, l.box.cy())) cand[i] = 2;
      else if (l.chars <= 60 && l.size <= 1.05f * body && isolated_at_edge(i)) cand[i] = 3;
    }
    // a candidate is furniture only when everything on its row is a candidate too
    for (int i = 0; i < n; ++i) {
      if (!cand[i]) continue;
      const line& l = page.lines[i];
      bool row_ok = true;
      for (int j = 0; j < n && row_ok; ++j) {
        if (j == i || cand[j]) continue;
        const line& o = page.lines[j];
        float ov = layout::overlap(l.box.y0, l.box.y1, o.box.y0, o.box.y1);
        if (ov > 0.5f * std::min(l.box.height(), o.box.height())) row_ok = false;
      }
      if (row_ok) furniture[i] = 1;
    }
  }

  // ---------------------------------------------------------------- 2. ruled tables
  struct seg {
    float pos, a, b;  // horizontal: y, x0, x1; vertical: x, y0, y1
    int comp = -1;
  };

  static std::vector<seg> merge_segments(std::vector<seg> s) {
    std::sort(s.begin(), s.end(), [](const seg& p, const seg& q) {
      return std::fabs(p.pos - q.pos) > 1.0f ? p.pos < q.pos : p.a < q.a;
    });
    std::vector<seg> out;
    for (const auto& x : s) {
      bool merged = false;
      for (size_t k = out.size(); k-- > 0;) {
        seg& o = out[k];
        if (x.pos - o.pos > 2.0f) break;
        if (std::fabs(o.pos - x.pos) <= 2.0f && x.a <= o.b + 3.0f && x.b >= o.a - 3.0f) {
          o.a = std::min(o.a, x.a);
          o.b = std::max(o.b, x.b);
          merged = true;
          break;
        }
      }
      if (!merged) out.push_back(x);
    }
    return out;
  }

  static std::vector<float> cluster(std::vector<float> v, float tol) {
    std::sort(v.begin(), v.end());
    std::vector<float> out;
    for (float x : v)
      if (out.empty() || x - out.back() > tol) out.push_back(x);
    return out;
  }

  // Rules that form boxes or grids (tables, framed code) are taken; the others are thematic
  // breaks (horizontal) or blockquote bars (vertical).
  void classify_rules() {
    std::vector<seg> hs, vs;
    for (const auto& r : page.rules) {
      if (r.horizontal) hs.push_back({r.box.cy(), r.box.x0, r.box.x1});
      else vs.push_back({r.box.cx(), r.box.y0, r.box.y1});
    }
    hs = merge_segments(hs);
    vs = merge_segments(vs);
    const int nh = static_cast<int>(hs.size()), nv = static_cast<int>(vs.size());
    std::vector<int> parent(nh + nv);
    std::iota(parent.begin(), parent.end(), 0);
    std::function<int(int)> find = [&](int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); };
    const float tol = 2.5f;
    for (int i = 0; i < nh; ++i)
      for (int j = 0; j < nv; ++j) {
        const seg& h = hs[i];
        const seg& v = vs[j];
        if (v.pos >= h.a - tol && v.pos <= h.b + tol && h.pos >= v.a - tol && h.pos <= v.b + tol)
          parent[find(i)] = find(nh + j);
      }
    std::map<int, std::pair<std::vector<int>, std::vector<int>>> comps;
    for (int i = 0; i < nh; ++i) comps[find(i)].first.push_back(i);
    for (int j = 0; j < nv; ++j) comps[find(nh + j)].second.push_back(j);
    std::vector<char> h_used(nh, 0), v_used(nv, 0);
    for (auto& [root, members] : comps) {
      auto& [hi, vi] = members;
      if (hi.empty() || vi.empty()) continue;
      std::vector<float> ys, xs;
      for (int i : hi) ys.push_back(hs[i].pos);
      for (int j : vi) xs.push_back(vs[j].pos);
      ys = cluster(ys, 3.0f);
      xs = cluster(xs, 3.0f);
      if (ys.size() < 2 || xs.size() < 2) continue;
      for (int i : hi) h_used[i] = 1;
      for (int j : vi) v_used[j] = 1;
    }
    // rules that belong to no box or grid: horizontal rules and quote bars
    auto in_table = [&](float x, float y) {
      for (const auto& t : table_blocks)
        if (x >= t.box.x0 - 3 && x <= t.box.x1 + 3 && y >= t.box.y0 - 3 && y <= t.box.y1 + 3) return true;
      return false;
    };
    for (int i = 0; i < nh; ++i)
      if (!h_used[i] && !in_table((hs[i].a + hs[i].b) / 2, hs[i].pos))
        hrules.push_back({{hs[i].a, hs[i].pos - 0.5f, hs[i].b, hs[i].pos + 0.5f}, true});
    for (int j = 0; j < nv; ++j)
      if (!v_used[j] && !in_table(vs[j].pos, (vs[j].a + vs[j].b) / 2)) vrules.push_back({{vs[j].pos - 0.5f, vs[j].a, vs[j].pos + 0.5f, vs[j].b}, false});
  }

  // Tables (convert/tables.hpp) on the page without its furniture; their text leaves the flow.
  void find_tables() {
    page_model body_page;
    body_page.number = page.number;
    body_page.width = page.width;
    body_page.height = page.height;
    body_page.rules = page.rules;
    body_page.marks = page.marks;
    body_page.fills = page.fills;
    body_page.links = page.links;
    body_page.from_ocr = page.from_ocr;
    std::vector<int> original;
    for (size_t i = 0; i < page.lines.size(); ++i)
      if (!furniture[i]) {
        original.push_back(static_cast<int>(i));
        body_page.lines.push_back(page.lines[i]);
      }
    for (auto& d : tables::detect(body_page, body)) {
      if (d.table.rows.empty()) continue;
      for (int k : d.lines)
        if (k >= 0 && k < static_cast<int>(original.size())) claimed[original[k]] = 1;
      d.table.page = page.number;
      table_blocks.push_back(std::move(d.table));
    }
  }

  // ---------------------------------------------------------------- 3. columns
  // Finds a vertical whitespace gutter through `us`; returns false when there is none.
  bool find_gutter(const std::vector<unit>& us, float& g0, float& g1) const {
    float L = 1e9f, R = -1e9f;
    int text_units = 0;
    for (const auto& u : us) {
      L = std::min(L, u.box.x0), R = std::max(R, u.box.x1);
      if (u.piece >= 0) ++text_units;
    }
    const float W = R - L;
    // the columns of the previous page, if any: a page continuing them needs less evidence
    const bool known = dc.gutter_x1 > dc.gutter_x0;
    if (W < 150 || text_units < (known ? 4 : 8)) return false;
    const int n = static_cast<int>(us.size());
    int best_cover = n + 1;
    float best0 = 0, best1 = 0;
    const int x_start = static_cast<int>(L + 0.2f * W), x_end = static_cast<int>(R - 0.2f * W);
    std::vector<int> cover(std::max(0, x_end - x_start + 1), 0);
    for (const auto& u : us) {
      // units wider than a column could be span the columns anyway (titles, abstracts)
      if (u.box.width() > 0.6f * W) continue;
      int a = std::max(x_start, static_cast<int>(std::ceil(u.box.x0 + 1)));
      int b = std::min(x_end, static_cast<int>(std::floor(u.box.x1 - 1)));
      for (int x = a; x <= b; ++x) ++cover[x - x_start];
    }
    const int limit = std::max(1, n / 12);
    for (int x = x_start; x <= x_end;) {
      if (cover[x - x_start] > limit) {
        ++x;
        continue;
      }
      int y = x, worst = 0;
      while (y <= x_end && cover[y - x_start] <= limit) worst = std::max(worst, cover[y - x_start]), ++y;
      const float w = static_cast<float>(y - x);
      if (w >= std::max(6.0f, 0.6f * body) && (worst < best_cover || (worst == best_cover && w > best1 - best0))) {
        best_cover = worst;
        best0 = static_cast<float>(x) - 1;
        best1 = static_cast<float>(y);
      }
      x = y;
    }
    if (best_cover > limit) return false;
    // both sides must hold real text columns, side by side
    std::vector<float> lw, rw;
    rect lb = rect::none(), rb = rect::none();
    for (const auto& u : us) {
      if (u.piece < 0) continue;
      if (u.box.x1 <= best0 + 3) lw.push_back(u.box.width()), lb.include(u.box);
      else if (u.box.x0 >= best1 - 3) rw.push_back(u.box.width()), rb.include(u.box);
    }
    const bool same_as_before = known && best0 <= dc.gutter_x0 + 8 && best1 >= dc.gutter_x1 - 8;
    const size_t need = same_as_before ? 2 : 4;
    if (lw.size() < need || rw.size() < need) return false;
    auto median = [](std::vector<float> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    if (median(lw) < 0.22f * W || median(rw) < 0.22f * W) return false;
    if (layout::overlap(lb.y0, lb.y1, rb.y0, rb.y1) < 0.3f * std::min(lb.height(), rb.height())) return false;
    g0 = best0;
    g1 = best1;
    return true;
  }

  void order_units(std::vector<unit> us, std::vector<std::vector<unit>>& regions, int depth) {
    auto by_y = [](const unit& a, const unit& b) {
      return std::fabs(a.box.y0 - b.box.y0) > 1.0f ? a.box.y0 < b.box.y0 : a.box.x0 < b.box.x0;
    };
    float g0 = 0, g1 = 0;
    bool gut = us.size() >= 4 && find_gutter(us, g0, g1);
    if (gut && depth == 0) found_gutter = true, dc.gutter_x0 = g0, dc.gutter_x1 = g1;
    if (depth > 3 || !gut) {
      std::sort(us.begin(), us.end(), by_y);
      regions.push_back(std::move(us));
      return;
    }
    std::sort(us.begin(), us.end(), by_y);
    // a unit beside the gutter is column content only when the other column has text near the
    // same height; above or below the columns it is ordinary full-width flow
    auto side = [&](const unit& u) { return u.box.x1 <= g0 + 3 ? 0 : u.box.x0 >= g1 - 3 ? 1 : 2; };
    std::vector<int> sides(us.size());
    for (size_t i = 0; i < us.size(); ++i) {
      int sd = side(us[i]);
      if (sd < 2) {
        const float reach = 3.0f * std::max(body, us[i].box.height());
        bool partner = false;
        for (size_t j = 0; j < us.size() && !partner; ++j) {
          if (side(us[j]) != 1 - sd) continue;
          partner = us[j].box.y0 < us[i].box.y1 + reach && us[j].box.y1 > us[i].box.y0 - reach;
        }
        if (!partner) sd = 2;
      }
      sides[i] = sd;
    }
    std::vector<unit> left, right, spanning;
    auto flush = [&] {
      if (!left.empty()) order_units(std::move(left), regions, depth + 1);
      if (!right.empty()) order_units(std::move(right), regions, depth + 1);
      left.clear();
      right.clear();
    };
    for (size_t i = 0; i < us.size(); ++i) {
      const unit& u = us[i];
      const bool is_left = sides[i] == 0, is_right = sides[i] == 1;
      if (!is_left && !is_right) {
        // a unit across the gutter closes the section above it; consecutive ones form one region
        flush();
        spanning.push_back(u);
        continue;
      }
      if (!spanning.empty()) {
        regions.push_back(std::move(spanning));
        spanning.clear();
      }
      (is_left ? left : right).push_back(u);
    }
    flush();
    if (!spanning.empty()) regions.push_back(std::move(spanning));
  }

  // ---------------------------------------------------------------- 4. rows, unruled tables, lines
  struct row_t {
    std::vector<int> pieces;  // indices into page.lines, left to right
    rect box = rect::none();
  };

  std::vector<row_t> make_rows(const std::vector<int>& pieces) const {
    std::vector<int> idx = pieces;
    std::sort(idx.begin(), idx.end(), [&](int a, int b) { return page.lines[a].box.y0 < page.lines[b].box.y0; });
    std::vector<row_t> rows;
    for (int i : idx) {
      const rect& b = page.lines[i].box;
      row_t* target = nullptr;
      for (size_t k = rows.size(); k-- > 0 && k + 4 >= rows.size();) {
        const rect& rb = rows[k].box;
        float ov = layout::overlap(rb.y0, rb.y1, b.y0, b.y1);
        if (ov >= 0.5f * std::min(rb.height(), b.height())) {
          target = &rows[k];
          break;
        }
      }
      if (!target) {
        rows.emplace_back();
        target = &rows.back();
      }
      target->pieces.push_back(i);
      target->box.include(b);
    }
    for (auto& r : rows)
      std::sort(r.pieces.begin(), r.pieces.end(),
                [&](int a, int b) { return page.lines[a].box.x0 < page.lines[b].box.x0; });
    std::sort(rows.begin(), rows.end(), [](const row_t& a, const row_t& b) { return a.box.y0 < b.box.y0; });
    return rows;
  }

  fline make_fline(const std::vector<int>& pieces) const {
    fline f;
    for (int p : pieces) f.pieces.push_back(&page.lines[p]);
    bool bold = true, italic = true, mono = true;
    std::map<int, int> sizes;
    for (const line* l : f.pieces) {
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
    f.text_x = f.box.x0;
    return f;
  }

  // ---------------------------------------------------------------- markers and quotes
  void detect_marker(fline& f) const {
    // a vector bullet left of the line
    for (const auto& m : page.marks) {
      if (m.box.x1 > f.box.x0 - 1.0f || m.box.x1 < f.box.x0 - 3.0f * std::max(f.size, 6.0f)) continue;
      const float cy = m.box.cy();
      if (cy < f.box.y0 || cy > f.box.y1) continue;
      if (m.box.height() > 0.8f * f.size) continue;
      f.marker = 1;
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
      if ((c == '-' || c == '*' || c == 0x2013 || c == 0x2014) && !own_piece && i + 1 < t.size() && t[i + 1] == ' ')
        return;  // "- -" and friends are not bullets
      f.marker = 1;
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
    f.marker = 2;
    f.label = label;
    f.delim = delim;
    f.marker_x = f.box.x0;
    f.strip = len;
    f.marker_piece = piece_marker;
    f.text_x = piece_marker ? f.pieces[1]->box.x0 : f.box.x0 + (len + 1) * 0.5f * f.size;
  }

  int quote_depth(const fline& f) const {
    int depth = 0;
    for (const auto& r : vrules) {
      if (r.box.x1 > f.box.x0 - 1.0f || f.box.x0 - r.box.x1 > 80.0f) continue;
      const float cy = f.box.cy();
      if (cy < r.box.y0 - 1 || cy > r.box.y1 + 1 || r.box.height() < 0.8f * f.size) continue;
      ++depth;
    }
    return depth;
  }

  // ---------------------------------------------------------------- 5. blocks
  // spans of a group of lines, joined with spaces; hyphenated line ends repaired
  std::vector<span> join_spans(const std::vector<const fline*>& lines, bool strip_marker) const {
    std::vector<span> out;
    bool first_line = true;
    for (const fline* f : lines) {
      std::vector<span> ls;
      for (size_t p = 0; p < f->pieces.size(); ++p) {
        if (first_line && strip_marker && p == 0 && f->marker_piece) continue;
        std::vector<span> ps = f->pieces[p]->spans;
        if (first_line && strip_marker && p == 0 && f->strip && !f->marker_piece) {
          size_t drop = f->strip;
          for (auto& s : ps) {
            size_t k = std::min(drop, s.text.size());
            s.text.erase(0, k);
            drop -= k;
            if (!drop) break;
          }
        }
        if (!ls.empty() && !ps.empty()) ls.back().text += ' ';
        for (auto& s : ps)
          if (!s.text.empty()) ls.push_back(std::move(s));
      }
      first_line = false;
      if (ls.empty()) continue;
      if (!out.empty()) {
        std::string& prev = out.back().text;
        while (!prev.empty() && prev.back() == ' ') prev.pop_back();
        const int last = text::last_cp(prev);
        const int next = text::first_cp(ls.front().text);
        bool joined = false;
        if ((last == '-' || last == 0xAD || last == 0x2010) && text::is_lower(next)) {
          // hyphen at the end of a line: a soft hyphen goes; a hard one stays unless the
          // joined word is known from the document and the hyphenated form is not
          size_t cut = prev.size() - (last == '-' ? 1 : last == 0xAD ? 2 : 3);
          std::string head;
          for (size_t k = cut; k-- > 0;) {
            unsigned char ch = static_cast<unsigned char>(prev[k]);
            if (ch == ' ' || ch == '(' || ch == '"') break;
            head.insert(head.begin(), prev[k]);
          }
          std::string tail;
          for (char ch : ls.front().text) {
            if (ch == ' ' || ch == ',' || ch == '.' || ch == ';' || ch == ':' || ch == ')') break;
            tail += ch;
          }
          std::string joined_word, lower;
          joined_word = head + tail;
          for (size_t k = 0; k < joined_word.size();) text::append_cp(lower, text::to_lower(text::next_cp(joined_word, k)));
          bool head_alpha = !head.empty() && text::is_alpha(text::last_cp(head));
          if (last != '-' || (head_alpha && dc.known_word(lower))) prev.erase(cut);
          joined = true;
        }
        if (!joined) prev += ' ';
      }
      for (auto& s : ls) out.push_back(std::move(s));
    }
    return out;
  }

  std::string inline_md(const std::vector<const fline*>& lines, bool strip_marker, bool emphasis,
                        bool block_start = true) {
    inline_options o;
    o.emphasis = emphasis;
    o.block_start = block_start;
    return render_inline(join_spans(lines, strip_marker), page.links, o, &dc.footnote_refs);
  }

  std::string code_text(const std::vector<const fline*>& lines) const {
    float x0 = 1e9f;
    std::vector<float> cws;
    for (const fline* f : lines) {
      x0 = std::min(x0, f->box.x0);
      for (const line* p : f->pieces)
        if (p->char_width > 0) cws.push_back(p->char_width);
    }
    std::sort(cws.begin(), cws.end());
    const float cw = cws.empty() ? 0.6f * lines.front()->size : cws[cws.size() / 2];
    float pitch = 1e9f;
    for (size_t i = 1; i < lines.size(); ++i) {
      float d = lines[i]->baseline - lines[i - 1]->baseline;
      if (d > 0.5f * lines[i]->size) pitch = std::min(pitch, d);
    }
    if (pitch > 1e8f) pitch = 1.2f * lines.front()->size;
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) {
        int blanks = static_cast<int>(std::lround((lines[i]->baseline - lines[i - 1]->baseline) / pitch)) - 1;
        for (int k = 0; k < std::clamp(blanks, 0, 3); ++k) out += '\n';
        out += '\n';
      }
      std::string ln;
      for (const line* p : lines[i]->pieces) {
        int col = static_cast<int>(std::lround((p->box.x0 - x0) / cw));
        int have = 0;
        for (size_t k = 0; k < ln.size();) {
          text::next_cp(ln, k);
          ++have;
        }
        if (!ln.empty() && col <= have) col = have + 1;
        ln.append(static_cast<size_t>(std::max(0, col - have)), ' ');
        for (const auto& s : p->spans) ln += s.text;
      }
      while (!ln.empty() && ln.back() == ' ') ln.pop_back();
      out += ln;
    }
    return out;
  }

  bool outline_has(const std::string& plain) const {
    if (dc.outline.empty()) return false;
    std::string k = text::key(plain);
    for (const auto& e : dc.outline)
      if (!e.used && e.key == k && (!e.page || e.page == page.number)) return true;
    return false;
  }

  // outline entry for a heading-like text on this page
  outline_entry* outline_match(const std::string& plain, float y) {
    if (dc.outline.empty()) return nullptr;
    std::string k = text::key(plain);
    if (k.empty() || k.size() > 300) return nullptr;
    for (auto& e : dc.outline) {
      if (e.used || e.key.empty()) continue;
      if (e.page && e.page != page.number) continue;
      if (e.key == k) {
        e.used = true;
        return &e;
      }
    }
    (void)y;
    return nullptr;
  }

  // the block builder: one region's flow elements → blocks
  struct builder_state {
    int kind = 0;  // 0 none, 1 paragraph, 2 list item, 3 code
    std::vector<const fline*> lines;
  };

  float region_right = 0, region_left = 0;

  bool para_final(const fline& f) const {
    return text::ends_sentence(f.plain) && f.box.x1 < region_right - 3.0f * f.size;
  }

  bool continues_paragraph(const std::vector<const fline*>& blk, const fline& f) const {
    const fline& prev = *blk.back();
    const fline& first = *blk.front();
    if (prev.quote != f.quote) return false;
    if (std::fabs(f.size - first.size) > 0.12f * first.size) return false;
    const float gap = f.box.y0 - prev.box.y1;
    const float para_gap = lgap + 0.45f * f.size;
    if (gap > para_gap || gap < -0.5f * f.size) return false;
    if (para_final(prev)) return false;
    // a short emphasised line followed by a plain one (or the reverse) is a heading boundary
    if (prev.bold != f.bold && (prev.box.x1 < region_right - 3.0f * f.size || first.size > 1.1f * body)) return false;
    if (prev.mono != f.mono) return false;
    const float tol = 0.7f * f.size;
    // hanging indent after a label piece ("1" + note text, "Note:" + text): wrapped lines align
    // with the text after the label
    if (first.pieces.size() >= 2 && first.pieces[0]->chars <= 4 &&
        std::fabs(f.box.x0 - first.pieces[1]->box.x0) <= tol && (blk.size() == 1 || std::fabs(f.box.x0 - blk[1]->box.x0) <= tol))
      return true;
    if (blk.size() >= 2) {
      const float cont_x = blk[1]->box.x0;
      if (std::fabs(f.box.x0 - cont_x) <= tol) return true;
    } else {
      if (std::fabs(f.box.x0 - first.box.x0) <= tol) return true;
      // first-line indent: the paragraph's first line starts further right
      if (f.box.x0 < first.box.x0 && first.box.x0 - f.box.x0 <= 4.0f * f.size && !prev.marker) return true;
    }
    // centred text
    if (std::fabs(f.box.cx() - prev.box.cx()) < 2.0f && prev.box.x0 > region_left + 2 * f.size) return true;
    return false;
  }

  void emit_paragraph(const std::vector<const fline*>& lines, int region) {
    std::string plain;
    for (const fline* f : lines) plain += (plain.empty() ? "" : " ") + f->plain;
    const fline& first = *lines.front();
    block b;
    b.page = page.number;
    b.quote = first.quote;
    b.box = rect::none();
    for (const fline* f : lines) b.box.include(f->box);
    b.region = region;
    float size = 0;
    int bold = 0, italic = 0, chars = 0;
    for (const fline* f : lines) {
      size += f->size * f->chars;
      chars += f->chars;
      bold += f->bold ? f->chars : 0;
      italic += f->italic ? f->chars : 0;
    }
    size = chars ? size / chars : first.size;
    const bool all_bold = bold == chars && chars > 0, all_italic = italic == chars && chars > 0;
    // footnote definition: small text starting with a reference label
    if (size <= 0.93f * body && first.quote == 0) {
      std::string label;
      std::string_view t = plain;
      size_t k = 0;
      while (k < t.size() && k < 3 && std::isdigit(static_cast<unsigned char>(t[k]))) ++k;
      if (k > 0 && (k == t.size() || t[k] == ' ' || t[k] == '.' || t[k] == ')')) {
        label = std::string(t.substr(0, k));
        if (dc.footnote_refs.count(label)) {
          fline f0 = first;
          size_t strip = k + ((k < t.size() && (t[k] == '.' || t[k] == ')')) ? 1 : 0);
          const bool own = f0.pieces.size() >= 2 && text::trim(f0.pieces[0]->text()).size() <= strip;
          f0.marker_piece = own;
          f0.strip = own ? 0 : strip;
          std::vector<const fline*> ls = lines;
          ls[0] = &f0;
          b.kind = block_kind::footnote;
          b.marker = label;
          b.text = inline_md(ls, true, true);
          out.push_back(std::move(b));
          return;
        }
      }
    }
    // headings
    const bool letters = std::any_of(plain.begin(), plain.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || (c & 0x80); });
    if (letters && first.quote == 0) {
      const int nlines = static_cast<int>(lines.size());
      const int nchars = static_cast<int>(plain.size());
      outline_entry* oe = nlines <= 4 ? outline_match(plain, first.box.y0) : nullptr;
      bool heading = oe != nullptr;
      const float r = size / body;
      if (!heading && nlines <= 3 && nchars <= 200) {
        const int lc = text::last_cp(plain);
        const bool bad_end = lc == ',' || lc == ';' || (lc == '.' && !all_bold && r < 1.3f);
        if (r >= 1.15f && !bad_end) heading = true;
        else if (r >= 1.05f && (all_bold || all_italic) && !bad_end) heading = true;
        else if (all_bold && r >= 0.8f && nlines <= 2 && nchars <= 150 && lc != '.' && lc != ',' && lc != ';' &&
                 lc != ':')
          heading = true;
      }
      if (heading) {
        b.kind = block_kind::heading;
        if (oe) {
          b.level = oe->level;
          // remember the style's level for headings the outline does not list
          for (auto& s : dc.styles_)
            if (std::fabs(s.size - size) < 0.3f && s.bold == all_bold && s.italic == all_italic && !s.level)
              s.level = oe->level;
        } else {
          b.level = dc.level_for(size, all_bold, all_italic);
        }
        b.text = inline_md(lines, false, false, false);
        out.push_back(std::move(b));
        return;
      }
    }
    b.kind = block_kind::paragraph;
    b.text = inline_md(lines, false, true);
    const fline& last = *lines.back();
    b.continues = !text::ends_sentence(last.plain) && text::last_cp(last.plain) != ':';
    if (!b.text.empty()) out.push_back(std::move(b));
  }

  void emit_item(const std::vector<const fline*>& lines, int level, int region) {
    const fline& first = *lines.front();
    block b;
    b.kind = block_kind::list_item;
    b.page = page.number;
    b.region = region;
    b.quote = first.quote;
    b.level = level;
    b.box = rect::none();
    for (const fline* f : lines) b.box.include(f->box);
    b.ordered = first.marker == 2;
    if (b.ordered) {
      // footnote lists (endnotes): small numbered items whose numbers were referenced
      if (first.size <= 0.93f * body && dc.footnote_refs.count(first.label)) {
        b.kind = block_kind::footnote;
        b.marker = first.label;
        b.text = inline_md(lines, true, true);
        out.push_back(std::move(b));
        return;
      }
      const bool digits = std::all_of(first.label.begin(), first.label.end(), [](char c) { return c >= '0' && c <= '9'; });
      b.marker = (digits ? first.label : std::string("1")) + (first.delim == ')' ? ")" : ".");
    } else {
      b.marker = "-";
    }
    b.text = inline_md(lines, true, true);
    const fline& last = *lines.back();
    b.continues = !text::ends_sentence(last.plain);
    out.push_back(std::move(b));
  }

  void emit_code(const std::vector<const fline*>& lines, int region) {
    block b;
    b.kind = block_kind::code;
    b.page = page.number;
    b.region = region;
    b.quote = lines.front()->quote;
    b.box = rect::none();
    for (const fline* f : lines) b.box.include(f->box);
    b.text = code_text(lines);
    out.push_back(std::move(b));
  }

  void build_blocks(const std::vector<flow_elem>& flow, int region) {
    builder_state st;
    auto flush = [&] {
      if (st.lines.empty()) return;
      if (st.kind == 1) emit_paragraph(st.lines, region);
      else if (st.kind == 2) emit_item(st.lines, list_level(*st.lines.front()), region);
      else if (st.kind == 3) emit_code(st.lines, region);
      st.lines.clear();
      st.kind = 0;
    };
    for (const auto& e : flow) {
      if (e.kind == 1) {
        flush();
        block b = table_blocks[e.index];
        b.region = region;
        if (!b.rows.empty()) out.push_back(std::move(b));
        dc.list_stack.clear();
        continue;
      }
      if (e.kind == 2) {
        flush();
        const auto& im = page.images[e.index];
        if (im.asset >= 0) {
          block b;
          b.kind = block_kind::image;
          b.page = page.number;
          b.region = region;
          b.box = im.box;
          b.level = im.asset;
          out.push_back(std::move(b));
        }
        continue;
      }
      if (e.kind == 3) {
        flush();
        block b;
        b.kind = block_kind::rule;
        b.page = page.number;
        b.region = region;
        b.box = hrules[e.index].box;
        out.push_back(std::move(b));
        dc.list_stack.clear();
        continue;
      }
      fline& f = flines[e.index];
      const fline* prev = st.lines.empty() ? nullptr : st.lines.back();
      const float gap = prev ? f.box.y0 - prev->box.y1 : 0;
      if (f.mono && f.size < 1.1f * body) {
        if (st.kind == 3 && gap <= 4.0f * f.size && f.quote == prev->quote) {
          st.lines.push_back(&f);
          continue;
        }
        flush();
        st.kind = 3;
        st.lines.push_back(&f);
        continue;
      }
      if (f.marker == 2 && (f.size >= 1.15f * body || (f.bold && outline_has(f.plain)))) {
        f.marker = 0;  // a numbered heading ("2. Methods"), not a list item
      }
      if (f.marker) {
        // a wrapped paragraph line that happens to start with "3. " is not an item
        const bool wrapped = st.kind == 1 && prev && !para_final(*prev) && gap <= lgap + 0.3f * f.size &&
                             std::fabs(f.box.x0 - prev->box.x0) < 1.0f && f.marker == 2;
        if (!wrapped) {
          flush();
          st.kind = 2;
          st.lines.push_back(&f);
          continue;
        }
      }
      if (st.kind == 2) {
        const fline& head = *st.lines.front();
        if (gap <= lgap + 0.6f * f.size && f.box.x0 > head.marker_x + 2.0f && f.quote == head.quote &&
            std::fabs(f.size - head.size) <= 0.15f * head.size && !f.mono) {
          st.lines.push_back(&f);
          continue;
        }
        flush();
        dc.list_stack.clear();
      }
      if (st.kind == 1 && continues_paragraph(st.lines, f)) {
        st.lines.push_back(&f);
        continue;
      }
      flush();
      if (!f.marker) {
        // anything but an item closes the lists, unless it is indented under one
        if (dc.list_stack.empty() || f.box.x0 <= dc.list_stack.front() + 2.0f) dc.list_stack.clear();
      }
      st.kind = 1;
      st.lines.push_back(&f);
    }
    flush();
  }

  int list_level(const fline& f) {
    auto& stack = dc.list_stack;
    const float x = f.marker_x;
    while (!stack.empty() && stack.back() > x + 3.0f) stack.pop_back();
    if (stack.empty() || x > stack.back() + 3.0f) stack.push_back(x);
    else stack.back() = x;
    return static_cast<int>(stack.size()) - 1;
  }

  // ---------------------------------------------------------------- driver
  void run() {
    find_furniture();
    find_tables();
    classify_rules();
    // units for column analysis
    std::vector<unit> us;
    for (size_t i = 0; i < page.lines.size(); ++i)
      if (!furniture[i] && !claimed[i] && page.lines[i].chars > 0) {
        const rect& b = page.lines[i].box;
        if (b.x1 < 0 || b.x0 > page.width || b.y1 < 0 || b.y0 > page.height) continue;
        us.push_back({b, static_cast<int>(i), -1, -1, -1});
      }
    for (size_t t = 0; t < table_blocks.size(); ++t) us.push_back({table_blocks[t].box, -1, static_cast<int>(t), -1, -1});
    for (size_t k = 0; k < page.images.size(); ++k)
      if (page.images[k].asset >= 0) us.push_back({page.images[k].box, -1, -1, static_cast<int>(k), -1});
    for (size_t k = 0; k < hrules.size(); ++k) {
      const rect& b = hrules[k].box;
      if (b.width() < 0.3f * page.width || in_band(b, page.height)) continue;
      // an underline or a rule touching text is not a thematic break
      bool near_text = false;
      for (const auto& u : us)
        if (u.piece >= 0 && layout::overlap(u.box.x0, u.box.x1, b.x0, b.x1) > 0 &&
            (std::fabs(u.box.y1 - b.y0) < 3.0f || std::fabs(b.y1 - u.box.y0) < 1.5f))
          near_text = true;
      if (!near_text) us.push_back({b, -1, -1, -1, static_cast<int>(k)});
    }
    std::vector<std::vector<unit>> regions;
    order_units(std::move(us), regions, 0);
    if (!found_gutter) dc.gutter_x0 = dc.gutter_x1 = 0;

    for (size_t ri = 0; ri < regions.size(); ++ri) {
      const auto& region = regions[ri];
      std::vector<int> pieces;
      std::vector<flow_elem> flow;
      rect rb = rect::none();
      for (const auto& u : region) {
        rb.include(u.box);
        if (u.piece >= 0) pieces.push_back(u.piece);
        else if (u.table >= 0) flow.push_back({1, u.table, u.box.y0});
        else if (u.image >= 0) flow.push_back({2, u.image, u.box.y0});
        else if (u.rule >= 0) flow.push_back({3, u.rule, u.box.y0});
      }
      region_left = rb.x0;
      region_right = rb.x1;
      auto rows = make_rows(pieces);
      for (size_t k = 0; k < rows.size(); ++k) {
        fline f = make_fline(rows[k].pieces);
        detect_marker(f);
        f.quote = quote_depth(f);
        flow.push_back({0, static_cast<int>(flines.size()), f.box.y0});
        flines.push_back(std::move(f));
      }
      std::stable_sort(flow.begin(), flow.end(), [](const flow_elem& a, const flow_elem& b) { return a.y < b.y; });
      build_blocks(flow, static_cast<int>(ri));
    }
  }
};

std::vector<block> doc_context::analyse(page_model& page) {
  page_analyser pa(*this, page);
  pa.flines.reserve(page.lines.size());
  pa.run();
  return std::move(pa.out);
}

}  // namespace quire::convert

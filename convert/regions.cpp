// Stage 2, steps 2-4 and the per-page driver: tables (convert/detail/tables.hpp) and the rules they do
// not use (thematic breaks, blockquote bars), column gutters and reading order, visual rows.
#include <algorithm>
#include <functional>
#include <map>
#include <numeric>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/tables.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::page_model;
using layout::rect;
using layout::span;

std::vector<page_analyzer::seg> page_analyzer::merge_segments(std::vector<seg> s) {
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

// Rules that form boxes or grids (tables, framed code) are taken; the others are thematic
// breaks (horizontal) or blockquote bars (vertical).
void page_analyzer::classify_rules() {
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
    // horizontal and vertical rules that touch form a frame (a table, a code box, also one cut
    // open by a page break): none of them is a thematic break or a quote bar
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

// Tables (convert/detail/tables.hpp) among `lines` (indices into page.lines) and the vector shapes inside
// `clip`; their text leaves the flow.
void page_analyzer::detect_tables(const std::vector<int>& lines, const rect& clip) {
  page_model sub;
  sub.number = page.number;
  sub.width = page.width;
  sub.height = page.height;
  auto inside = [&](const rect& r) {
    return r.x0 >= clip.x0 - 4 && r.x1 <= clip.x1 + 4 && r.y0 >= clip.y0 - 4 && r.y1 <= clip.y1 + 4;
  };
  for (const auto& r : page.rules)
    if (inside(r.box)) sub.rules.push_back(r);
  for (const auto& m : page.marks)
    if (inside(m.box)) sub.marks.push_back(m);
  for (const auto& f : page.fills)
    if (inside(f)) sub.fills.push_back(f);
  sub.links = page.links;
  sub.from_ocr = page.from_ocr;
  for (int i : lines) sub.lines.push_back(page.lines[i]);
  const tables::hyphen_rule hyphenated = [this](const std::string& head, const std::string& tail) {
    return dc.hyphen_breaks_word(head, tail);
  };
  for (auto& d : tables::detect(sub, body, hyphenated)) {
    if (d.table.rows.empty()) continue;
    for (int k : d.lines)
      if (k >= 0 && k < static_cast<int>(lines.size())) claimed[lines[k]] = 1;
    d.table.page = page.number;
    table_blocks.push_back(std::move(d.table));
  }
}

// Tables on the page without its furniture. On a page set in columns each column of each section
// is searched on its own, so a table in one column is not read row by row together with the text
// beside it; wide horizontal rules (a full-width table's rules) close a column section.
void page_analyzer::find_tables() {
  std::vector<int> body_lines;
  std::vector<unit> us;
  for (size_t i = 0; i < page.lines.size(); ++i) {
    if (furniture[i] || toc_line[i] != toc_role::none) continue;
    body_lines.push_back(static_cast<int>(i));
    if (page.lines[i].chars > 0) us.push_back({page.lines[i].box, static_cast<int>(i), -1, -1, -1});
  }
  std::vector<seg> hs;
  for (const auto& r : page.rules)
    if (r.horizontal) hs.push_back({r.box.cy(), r.box.x0, r.box.x1});
  for (const auto& h : merge_segments(std::move(hs)))
    if (h.b - h.a >= 0.2f * page.width) us.push_back({{h.a, h.pos - 0.5f, h.b, h.pos + 0.5f}, -1, -1, -1, -1});
  std::vector<std::vector<unit>> sections;
  // one level of columns; the gutter found here is not the page's (that comes with the tables)
  const bool had_gutter = found_gutter;
  const float gx0 = dc.gutter_x0, gx1 = dc.gutter_x1;
  order_units(std::move(us), sections, 0, 1);
  found_gutter = had_gutter, dc.gutter_x0 = gx0, dc.gutter_x1 = gx1;
  detect_tables(body_lines, {0, 0, page.width, page.height});
  if (sections.size() <= 1) return;
  for (const auto& section : sections) {
    std::vector<int> lines;
    rect box = rect::none();
    for (const auto& u : section) {
      box.include(u.box);
      if (u.piece >= 0 && !claimed[u.piece]) lines.push_back(u.piece);
    }
    if (lines.size() >= 2) detect_tables(lines, box);
  }
  std::stable_sort(table_blocks.begin(), table_blocks.end(),
                   [](const block& a, const block& b) { return a.box.y0 < b.box.y0; });
}

namespace {

// Widths of the visual rows that a set of boxes forms, ascending: boxes that overlap vertically by
// half the smaller height are one row (a code line whose words the extractor split, a bullet and
// its text).
std::vector<float> row_widths(std::vector<rect> boxes) {
  std::sort(boxes.begin(), boxes.end(), [](const rect& a, const rect& b) { return a.y0 < b.y0; });
  std::vector<rect> rows;
  for (const auto& b : boxes) {
    bool joined = false;
    for (size_t k = rows.size(); k-- > 0 && k + 3 >= rows.size();) {
      const float ov = layout::overlap(rows[k].y0, rows[k].y1, b.y0, b.y1);
      if (ov >= 0.5f * std::min(rows[k].height(), b.height())) {
        rows[k].include(b);
        joined = true;
        break;
      }
    }
    if (!joined) rows.push_back(b);
  }
  std::vector<float> w;
  w.reserve(rows.size());
  for (const auto& r : rows) w.push_back(r.width());
  std::sort(w.begin(), w.end());
  return w;
}

float median_of(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// How often the drawing order switches between the two sides. Columns are drawn one after the
// other (a switch per column section); a table or code output with aligned fields is drawn row by
// row across the gutter and switches on nearly every row. -1 when the order is unknown.
int side_switches(std::vector<std::pair<int, int>> drawn /* (seq, side) */) {
  if (drawn.empty()) return -1;
  std::sort(drawn.begin(), drawn.end());
  if (drawn.front().first == drawn.back().first) return -1;
  int switches = 0;
  for (size_t k = 1; k < drawn.size(); ++k) switches += drawn[k].second != drawn[k - 1].second;
  return switches;
}

}  // namespace

// Finds a vertical whitespace gutter through `us`; returns false when there is none.
//
// A gutter is a band of x, at least a few points wide, that (almost) no unit covers; wide units
// (titles, abstracts, full-width figures and tables) are left out of the count because they span
// the columns anyway. Of the candidate bands the one crossed by the fewest units wins, so a
// column's short lines beside the gutter do not widen it into the column.
//
// Both sides must then hold columns of text, side by side. Either the sides were drawn one after
// the other (a switch per few rows at most: not a table or aligned code drawn row by row) and at
// least a quarter of each side's rows (units at one height joined, so code split into words counts
// as its line) are wider than three ems (not line numbers or bullets); or each side's typical line
// is a column's width and, when the sides were drawn row by row, few lines run across the band (a
// page of full-width lines that split at wide sentence spaces is one column). Terms beside their
// definitions or labels beside values are drawn row by row or have a narrow side, and stay one flow.
bool page_analyzer::find_gutter(const std::vector<unit>& us, float& g0, float& g1) const {
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
  const int x_start = static_cast<int>(L + 0.2f * W), x_end = static_cast<int>(R - 0.2f * W);
  if (x_end <= x_start) return false;
  std::vector<int> cover(x_end - x_start + 1, 0);
  for (const auto& u : us) {
    // units wider than a column could be span the columns anyway (titles, abstracts)
    if (u.box.width() > 0.6f * W) continue;
    int a = std::max(x_start, static_cast<int>(std::ceil(u.box.x0 + 1)));
    int b = std::min(x_end, static_cast<int>(std::floor(u.box.x1 - 1)));
    for (int x = a; x <= b; ++x) ++cover[x - x_start];
  }
  const int limit = std::max(1, n / 12);
  const float min_width = std::max(6.0f, 0.6f * body);
  // the lowest crossing count that leaves a wide enough band; the widest such band
  float best0 = 0, best1 = 0;
  bool found = false;
  for (int t = 0; t <= limit && !found; ++t) {
    for (int x = x_start; x <= x_end;) {
      if (cover[x - x_start] > t) {
        ++x;
        continue;
      }
      int y = x;
      while (y <= x_end && cover[y - x_start] <= t) ++y;
      const float w = static_cast<float>(y - x);
      if (w >= min_width && (!found || w > best1 - best0)) {
        found = true;
        best0 = static_cast<float>(x) - 1;
        best1 = static_cast<float>(y);
      }
      x = y;
    }
  }
  if (!found) return false;
  // both sides must hold real text columns, side by side
  std::vector<rect> lboxes, rboxes;
  std::vector<float> lunits, runits;
  std::vector<std::pair<int, int>> drawn;
  rect lb = rect::none(), rb = rect::none();
  for (const auto& u : us) {
    if (u.piece < 0) continue;
    const int seq = page.lines[u.piece].seq;
    if (u.box.x1 <= best0 + 3) {
      lboxes.push_back(u.box), lunits.push_back(u.box.width()), lb.include(u.box), drawn.push_back({seq, 0});
    } else if (u.box.x0 >= best1 - 3) {
      rboxes.push_back(u.box), runits.push_back(u.box.width()), rb.include(u.box), drawn.push_back({seq, 1});
    }
  }
  const bool same_as_before = known && best0 <= dc.gutter_x0 + 8 && best1 >= dc.gutter_x1 - 8;
  const size_t need = same_as_before ? 2 : 4;
  const auto lw = row_widths(std::move(lboxes)), rw = row_widths(std::move(rboxes));
  if (lw.size() < need || rw.size() < need) return false;
  if (layout::overlap(lb.y0, lb.y1, rb.y0, rb.y1) < 0.3f * std::min(lb.height(), rb.height())) return false;
  const int switches = side_switches(std::move(drawn));
  const int fewer_rows = static_cast<int>(std::min(lw.size(), rw.size()));
  const bool drawn_apart = switches >= 0 && switches <= std::max(1, fewer_rows / 5);
  auto upper_quartile = [](const std::vector<float>& v) { return v[v.size() * 3 / 4]; };
  const bool wide_rows = upper_quartile(lw) >= 3 * body && upper_quartile(rw) >= 3 * body;
  // text drawn across the band is a page of full-width lines that split at wide word spaces
  int crossing = 0;
  for (const auto& u : us)
    if (u.piece >= 0 && u.box.x0 < best0 && u.box.x1 > best1) ++crossing;
  const bool column_lines = median_of(lunits) >= 0.22f * W && median_of(runits) >= 0.22f * W &&
                            (switches < 0 || 4 * crossing <= static_cast<int>(lw.size() + rw.size()));
  if (!(drawn_apart && wide_rows) && !column_lines) return false;
  g0 = best0;
  g1 = best1;
  return true;
}

void page_analyzer::order_units(std::vector<unit> us, std::vector<std::vector<unit>>& regions, int depth,
                                int max_depth) {
  auto by_y = [](const unit& a, const unit& b) {
    return std::fabs(a.box.y0 - b.box.y0) > 1.0f ? a.box.y0 < b.box.y0 : a.box.x0 < b.box.x0;
  };
  float g0 = 0, g1 = 0;
  const bool gut = depth < max_depth && us.size() >= 4 && find_gutter(us, g0, g1);
  if (gut && depth == 0) found_gutter = true, dc.gutter_x0 = g0, dc.gutter_x1 = g1;
  if (!gut) {
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
  // ... or when it goes on from its column: the longer column runs on below the end of the shorter
  // one (the last page of an article, a listing at the foot of a column). A unit without a partner
  // joins its column when the column's unit just above it (below it, for a column that starts
  // higher) is close, with nothing across the gutter in between.
  auto extend = [&](bool down) {
    const int n = static_cast<int>(us.size());
    int last[2] = {-1, -1};
    for (int k = 0; k < n; ++k) {
      const int i = down ? k : n - 1 - k;
      const int sd = side(us[i]);
      if (sides[i] < 2) {
        last[sides[i]] = i;
        continue;
      }
      const int p = sd < 2 ? last[sd] : -1;
      if (p >= 0) {
        const rect &a = us[i].box, &b = us[p].box;
        const float gap = down ? a.y0 - b.y1 : b.y0 - a.y1;
        if (gap <= 2.0f * std::max(body, a.height())) {
          sides[i] = sd;
          last[sd] = i;
          continue;
        }
      }
      last[0] = last[1] = -1;  // full-width flow ends both columns
    }
  };
  extend(true);
  extend(false);
  std::vector<unit> left, right, spanning;
  auto flush = [&] {
    if (!left.empty()) order_units(std::move(left), regions, depth + 1, max_depth);
    if (!right.empty()) order_units(std::move(right), regions, depth + 1, max_depth);
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

std::vector<page_analyzer::row_t> page_analyzer::make_rows(const std::vector<int>& pieces) const {
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

void page_analyzer::run() {
  find_furniture();
  find_page_refs();
  find_contents();
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
    // an underline or a rule touching text is not a thematic break; nor is the border a browser
    // draws under a large heading (GitHub's h1/h2 style, a little further down), nor a table's
    // top or bottom rule (booktabs) that the table's cells left outside its box
    bool near_text = false;
    for (const auto& u : us) {
      if (u.image >= 0 || u.rule >= 0 || layout::overlap(u.box.x0, u.box.x1, b.x0, b.x1) <= 0) continue;
      if (u.piece >= 0) {
        const float size = page.lines[u.piece].size;
        const float below = b.y0 - u.box.y1;
        if (std::fabs(below) < 3.0f || std::fabs(b.y1 - u.box.y0) < 1.5f ||
            (size >= 1.15f * body && below > 0 && below < 0.8f * size))
          near_text = true;
      } else if (u.table >= 0) {
        const bool covers = layout::overlap(u.box.x0, u.box.x1, b.x0, b.x1) > 0.5f * u.box.width();
        if (covers && ((u.box.y0 - b.y1 > -1.0f && u.box.y0 - b.y1 < 1.2f * body) ||
                       (b.y0 - u.box.y1 > -1.0f && b.y0 - u.box.y1 < 1.2f * body)))
          near_text = true;
      }
    }
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
      else if (u.table >= 0) flow.push_back({flow_kind::table, u.table, u.box.y0});
      else if (u.image >= 0) flow.push_back({flow_kind::image, u.image, u.box.y0});
      else if (u.rule >= 0) flow.push_back({flow_kind::rule, u.rule, u.box.y0});
    }
    region_left = rb.x0;
    region_right = rb.x1;
    auto rows = make_rows(pieces);
    for (size_t k = 0; k < rows.size(); ++k) {
      fline f = make_fline(rows[k].pieces);
      detect_marker(f);
      f.quote = quote_depth(f);
      flow.push_back({flow_kind::line, static_cast<int>(flines.size()), f.box.y0});
      flines.push_back(std::move(f));
    }
    std::stable_sort(flow.begin(), flow.end(), [](const flow_elem& a, const flow_elem& b) { return a.y < b.y; });
    build_blocks(flow, static_cast<int>(ri));
  }
  demote_definition_terms();
  list_unnumbered_contents();
}

std::vector<block> doc_context::analyze(page_model& page) {
  page_analyzer pa(*this, page);
  pa.flines.reserve(page.lines.size());
  pa.run();
  content_chars = page.unread_chars;
  for (size_t i = 0; i < page.lines.size(); ++i)
    if (!pa.furniture[i]) content_chars += page.lines[i].chars;
  return std::move(pa.out);
}

}  // namespace quire::convert

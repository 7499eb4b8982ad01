// Strategy 1: tables drawn as a grid of rules (HTML/CSS borders, Word/LibreOffice bordered tables).
//
// Rules and the edges of shaded backgrounds are grouped into connected clusters; a cluster whose
// vertical rules give at least three distinct x positions and whose horizontal rules give at least
// three distinct y positions is a grid of at least 2×2 cells. Words are assigned to the cell that
// contains their centre, so text wrapped inside a cell stays one cell. A grid that only frames the
// table (few horizontal rules, many text rows inside one grid row) is split into its text rows.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "convert/detail/tables_internal.hpp"

namespace quire::convert::tables::detail {
namespace {

struct segment {
  layout::rect box;
  bool horizontal = true;
};

struct disjoint_sets {
  std::vector<int> parent;
  explicit disjoint_sets(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) { return parent[x] == x ? x : parent[x] = find(parent[x]); }
  void join(int a, int b) { parent[find(a)] = find(b); }
};

bool touches(const layout::rect& a, const layout::rect& b, float tol) {
  return a.x0 - tol <= b.x1 && b.x0 - tol <= a.x1 && a.y0 - tol <= b.y1 && b.y0 - tol <= a.y1;
}

// Rules plus the four edges of every shaded rectangle that could be a cell background. Page-sized
// fills (backgrounds) are skipped: they would connect every rule on the page.
std::vector<segment> collect_segments(const layout::page_model& page) {
  std::vector<segment> segs;
  for (const auto& r : page.rules) {
    if (r.box.width() <= 0 && r.box.height() <= 0) continue;
    segs.push_back({r.box, r.box.width() >= r.box.height()});
  }
  const float page_area = std::max(1.0f, page.width * page.height);
  for (const auto& f : page.fills) {
    if (f.width() * f.height() > 0.3f * page_area || f.width() < 2 || f.height() < 2) continue;
    const float t = 0.5f;
    segs.push_back({{f.x0, f.y0 - t, f.x1, f.y0 + t}, true});
    segs.push_back({{f.x0, f.y1 - t, f.x1, f.y1 + t}, true});
    segs.push_back({{f.x0 - t, f.y0, f.x0 + t, f.y1}, false});
    segs.push_back({{f.x1 - t, f.y0, f.x1 + t, f.y1}, false});
  }
  return segs;
}

// Distinct positions (within tol) of segment centre lines, each kept only when the segments on
// it cover at least `min_cover` of `extent` (a real column or row separator crosses the table).
std::vector<float> separators(const std::vector<segment>& segs, bool horizontal, float lo, float hi, float tol,
                              float min_cover, float extent) {
  struct pos {
    float at, cover;
  };
  std::vector<std::pair<float, float>> items;  // (position, covered length)
  for (const auto& s : segs) {
    if (s.horizontal != horizontal) continue;
    const float at = horizontal ? (s.box.y0 + s.box.y1) / 2 : (s.box.x0 + s.box.x1) / 2;
    const float len = horizontal ? s.box.width() : s.box.height();
    items.emplace_back(at, len);
  }
  std::sort(items.begin(), items.end());
  std::vector<pos> merged;
  for (const auto& [at, len] : items) {
    if (!merged.empty() && at - merged.back().at <= tol) {
      merged.back().cover += len;
    } else {
      merged.push_back({at, len});
    }
  }
  std::vector<float> out;
  for (const auto& p : merged)
    if (p.cover >= min_cover * extent) out.push_back(p.at);
  // the outer edges of the cluster bound the grid even when no rule is drawn there
  if (out.empty() || out.front() - lo > tol) out.insert(out.begin(), lo);
  if (out.back() < hi - tol) out.push_back(hi);
  return out;
}

int slot(const std::vector<float>& edges, float v) {
  for (std::size_t i = 0; i + 1 < edges.size(); ++i)
    if (v >= edges[i] && v < edges[i + 1]) return static_cast<int>(i);
  return -1;
}

std::size_t filled(const std::vector<cell_words>& row) {
  return static_cast<std::size_t>(std::count_if(row.begin(), row.end(), [](const cell_words& c) { return !c.empty(); }));
}

}  // namespace

std::vector<detected> detect_ruled(const layout::page_model& page, float em, const hyphen_rule& hyphenated,
                                   std::vector<bool>& used) {
  std::vector<detected> out;
  const auto segs = collect_segments(page);
  if (segs.size() < 4) return out;
  // connected clusters: a sweep over segments sorted by top edge keeps pages with thousands of
  // vector strokes (charts, drawings) from costing a quadratic number of tests
  std::vector<std::size_t> order(segs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return segs[a].box.y0 < segs[b].box.y0; });
  disjoint_sets sets(segs.size());
  for (std::size_t a = 0; a < order.size(); ++a) {
    const auto& ra = segs[order[a]].box;
    for (std::size_t b = a + 1; b < order.size() && segs[order[b]].box.y0 <= ra.y1 + 1.5f; ++b)
      if (touches(ra, segs[order[b]].box, 1.5f)) sets.join(static_cast<int>(order[a]), static_cast<int>(order[b]));
  }
  std::vector<std::vector<segment>> clusters(segs.size());
  for (std::size_t i = 0; i < segs.size(); ++i) clusters[sets.find(static_cast<int>(i))].push_back(segs[i]);

  for (const auto& cl : clusters) {
    if (cl.size() < 4) continue;
    layout::rect bb = cl.front().box;
    for (const auto& s : cl) {
      bb.x0 = std::min(bb.x0, s.box.x0);
      bb.y0 = std::min(bb.y0, s.box.y0);
      bb.x1 = std::max(bb.x1, s.box.x1);
      bb.y1 = std::max(bb.y1, s.box.y1);
    }
    if (bb.width() < 2 * em || bb.height() < em) continue;
    const auto xs = separators(cl, false, bb.x0, bb.x1, 2.5f, 0.5f, bb.height());
    const auto ys = separators(cl, true, bb.y0, bb.y1, 2.5f, 0.5f, bb.width());
    if (xs.size() < 3 || ys.size() < 3) continue;  // not a grid: left to the alignment detector

    // lines inside the grid, in reading order
    std::vector<int> inside;
    for (std::size_t i = 0; i < page.lines.size(); ++i) {
      if (used[i]) continue;
      const auto& r = page.lines[i].box;
      const float cx = (r.x0 + r.x1) / 2, cy = (r.y0 + r.y1) / 2;
      if (cx > bb.x0 && cx < bb.x1 && cy > bb.y0 && cy < bb.y1) inside.push_back(static_cast<int>(i));
    }
    if (inside.empty()) continue;
    const auto bands = build_bands(page, inside);
    const std::size_t ncols = xs.size() - 1, ngrid = ys.size() - 1;

    // band → grid row
    std::vector<int> band_row(bands.size());
    for (std::size_t b = 0; b < bands.size(); ++b) band_row[b] = slot(ys, (bands[b].y0 + bands[b].y1) / 2);
    word_grid grid;
    // a grid with far fewer rows than text rows only frames the table; rules found in a scan's
    // raster may miss some row separators: in both cases text rows split grid rows
    const bool framed_only = (ngrid < 3 && bands.size() >= 2 * ngrid + 1) || page.from_ocr;
    int last_row = -2;
    for (std::size_t b = 0; b < bands.size(); ++b) {
      if (band_row[b] < 0) continue;
      std::vector<cell_words> cells(ncols);
      for (const auto& w : bands[b].words) {
        const int c = slot(xs, w.cx());
        if (c >= 0) cells[c].push_back(w);
      }
      bool new_row = band_row[b] != last_row;
      if (framed_only && !new_row) {
        // inside one framed grid row: a text row with most cells filled starts a table row,
        // a sparse one continues wrapped cells of the row above
        const std::size_t n = filled(cells);
        new_row = n >= 2 && 2 * n >= ncols;
      }
      last_row = band_row[b];
      if (new_row || grid.empty()) {
        grid.push_back(std::move(cells));
      } else {
        for (std::size_t c = 0; c < ncols; ++c)
          grid.back()[c].insert(grid.back()[c].end(), cells[c].begin(), cells[c].end());
      }
    }
    std::vector<float> column_x(xs.begin(), xs.end() - 1);
    // a header row over ruled rows left empty (pictures that were not drawn as text, a form to
    // fill in) is still a table: the header and one empty body row
    const bool empty_body = grid.size() == 1 && ngrid >= 2 &&
                            std::all_of(band_row.begin(), band_row.end(), [](int r) { return r <= 0; });
    detected d;
    if (!finish_table(page, std::move(grid), column_x, empty_body ? 1 : 2, hyphenated, d)) continue;
    if (empty_body) d.table.rows.emplace_back(d.table.rows.front().size());
    d.table.box = bb;
    for (int line : d.lines) used[line] = true;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace quire::convert::tables::detail

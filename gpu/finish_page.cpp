// Shared post-processing: from the per-page pixel statistics (page_raw) to the public page_analysis.
// Both backends end here, so everything in this file is backend-independent by construction. It is
// O(runs + components) per page; the pixel-heavy work stays in the backends.
#include "gpu/detail/raw.hpp"

#include <algorithm>
#include <numeric>

namespace quire::gpu::detail {
namespace {

// Groups runs (sorted by fixed, then start) into lines: a run continues an open line when it lies in
// the next row/column and overlaps or touches it (touching keeps slightly skewed scanned lines
// together). Lines thicker than max_thickness are filled areas, not rules, and are dropped.
std::vector<ruling_line> group_runs(std::vector<ink_run>& runs, bool horizontal, int max_thickness, int max_gap) {
  std::sort(runs.begin(), runs.end(), [](const ink_run& a, const ink_run& b) {
    return a.fixed != b.fixed ? a.fixed < b.fixed : a.start < b.start;
  });
  struct open_line {
    int first, last, start, end;
  };
  std::vector<open_line> open, next, done;
  std::size_t i = 0;
  while (i < runs.size()) {
    const int row = runs[i].fixed;
    next.clear();
    std::vector<bool> taken(open.size(), false);
    for (; i < runs.size() && runs[i].fixed == row; ++i) {
      const ink_run& r = runs[i];
      bool joined = false;
      for (std::size_t k = 0; k < open.size() && !joined; ++k) {
        open_line& o = open[k];
        if (taken[k] || o.last != row - 1 || r.start > o.end + 1 || r.end < o.start - 1) continue;
        taken[k] = true;
        joined = true;
        next.push_back({o.first, row, std::min(o.start, r.start), std::max(o.end, r.end)});
      }
      if (!joined) next.push_back({row, row, r.start, r.end});
    }
    for (std::size_t k = 0; k < open.size(); ++k)
      if (!taken[k]) done.push_back(open[k]);
    open.swap(next);
  }
  done.insert(done.end(), open.begin(), open.end());
  done.erase(std::remove_if(done.begin(), done.end(),
                            [&](const open_line& o) { return o.last - o.first + 1 > max_thickness; }),
             done.end());

  // Chain collinear segments: per-cell borders leave small gaps where lines cross, and a skewed
  // scanned line steps sideways with a gap of a pixel or two, a light grey line fades in places. A
  // segment continues a chain when it starts at most max_gap after the chain's last segment ends and
  // lies within two pixels of that segment across the line (comparing with the last piece, not the
  // whole box, keeps a skewed line from swallowing a parallel rule a few pixels away).
  std::sort(done.begin(), done.end(), [](const open_line& a, const open_line& b) {
    return a.start != b.start ? a.start < b.start : a.first < b.first;
  });
  struct chain {
    open_line box, tail;
  };
  std::vector<chain> chains;
  for (const open_line& o : done) {
    chain* into = nullptr;
    for (chain& c : chains)
      if (o.start > c.tail.end && o.start - c.tail.end - 1 <= max_gap && o.first <= c.tail.last + 2 &&
          o.last >= c.tail.first - 2) {
        into = &c;
        break;
      }
    if (!into) {
      chains.push_back({o, o});
      continue;
    }
    into->box = {std::min(into->box.first, o.first), std::max(into->box.last, o.last), into->box.start, o.end};
    into->tail = o;
  }
  std::vector<ruling_line> lines;
  for (const chain& c : chains) {
    const open_line& o = c.box;
    ruling_line l;
    l.horizontal = horizontal;
    l.box = horizontal ? pixel_box{o.start, o.first, o.end, o.last} : pixel_box{o.first, o.start, o.last, o.end};
    lines.push_back(l);
  }
  std::sort(lines.begin(), lines.end(), [horizontal](const ruling_line& a, const ruling_line& b) {
    if (horizontal) return a.box.y0 != b.box.y0 ? a.box.y0 < b.box.y0 : a.box.x0 < b.box.x0;
    return a.box.x0 != b.box.x0 ? a.box.x0 < b.box.x0 : a.box.y0 < b.box.y0;
  });
  return lines;
}

// Small union-find over indices; union keeps the smaller index as root (deterministic).
struct union_find {
  std::vector<int> parent;
  explicit union_find(int n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a == b) return;
    if (a > b) std::swap(a, b);
    parent[b] = a;
  }
};

pixel_box component_box(const component& c) { return pixel_box{c.x0, c.y0, c.x1, c.y1}; }
bool intersects(const pixel_box& a, const pixel_box& b) { return a.x0 <= b.x1 && b.x0 <= a.x1 && a.y0 <= b.y1 && b.y0 <= a.y1; }
pixel_box grow(const pixel_box& b, int g) { return pixel_box{b.x0 - g, b.y0 - g, b.x1 + g, b.y1 + g}; }
void merge_into(pixel_box& a, const pixel_box& b) {
  a.x0 = std::min(a.x0, b.x0), a.y0 = std::min(a.y0, b.y0);
  a.x1 = std::max(a.x1, b.x1), a.y1 = std::max(a.y1, b.y1);
}
bool by_position(const region& a, const region& b) {
  return a.box.y0 != b.box.y0 ? a.box.y0 < b.box.y0 : a.box.x0 < b.box.x0;
}

enum class component_class { speck, line, text, figure };

}  // namespace

page_analysis finish_page(page_raw raw, const analysis_params& p) {
  page_analysis out;
  out.width = raw.width;
  out.height = raw.height;
  out.histogram = raw.histogram;
  out.threshold = raw.threshold;
  out.ink_pixels = raw.ink_pixels;
  out.mask = std::move(raw.mask);
  out.horizontal_rules = group_runs(raw.hruns, true, p.max_rule_thickness, p.rule_gap);
  out.vertical_rules = group_runs(raw.vruns, false, p.max_rule_thickness, p.rule_gap);

  auto& comps = raw.components;
  std::sort(comps.begin(), comps.end(), [](const component& a, const component& b) { return a.root < b.root; });
  // What is left of a ruling line after the thin-line pixels were removed (the small squares where
  // a grid's lines cross) lies inside a rule's box: it belongs to the rule, not to the text.
  auto inside_rule = [&](const component& c) {
    const pixel_box b = component_box(c);
    for (const auto* rules : {&out.horizontal_rules, &out.vertical_rules})
      for (const ruling_line& r : *rules) {
        const pixel_box g = grow(r.box, 1);
        if (b.x0 >= g.x0 && b.x1 <= g.x1 && b.y0 >= g.y0 && b.y1 <= g.y1) return true;
      }
    return false;
  };
  comps.erase(std::remove_if(comps.begin(), comps.end(), inside_rule), comps.end());
  const int n = int(comps.size());
  std::vector<component_class> cls(n);
  component_stats& st = out.components;
  st.total = n;
  std::vector<int> figure_idx;
  for (int i = 0; i < n; ++i) {
    const component& c = comps[i];
    const int w = c.x1 - c.x0 + 1, h = c.y1 - c.y0 + 1;
    if (int(c.pixels) <= p.speck_pixels) cls[i] = component_class::speck, ++st.specks;
    else if (std::min(w, h) <= p.max_rule_thickness && std::max(w, h) > p.max_text_height)
      cls[i] = component_class::line, ++st.line_like;  // a stroke too broken or too light to be a rule
    else if (h > p.max_text_height || w > p.max_text_width) cls[i] = component_class::figure, ++st.figure_like, figure_idx.push_back(i);
    else cls[i] = component_class::text, ++st.text_like;
  }

  // Figures: grown boxes of figure-like components, merged until no two overlap (a chart's bars, a
  // photo's blobs become one crop box), then every other component touching a figure is absorbed
  // (axis labels, halftone dots). The crop box is the union of the member components' real boxes.
  std::vector<pixel_box> grown;
  std::vector<pixel_box> real;
  for (int i : figure_idx) grown.push_back(grow(component_box(comps[i]), p.figure_gap)), real.push_back(component_box(comps[i]));
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t a = 0; a < grown.size(); ++a)
      for (std::size_t b = a + 1; b < grown.size(); ++b)
        if (intersects(grown[a], grown[b])) {
          merge_into(grown[a], grown[b]);
          merge_into(real[a], real[b]);
          grown.erase(grown.begin() + b);
          real.erase(real.begin() + b);
          merged = true;
          --b;
        }
  }
  std::vector<region> figs(grown.size());
  for (std::size_t f = 0; f < figs.size(); ++f) figs[f].kind = region_kind::figure, figs[f].box = real[f];
  std::vector<int> owner(n, -1);
  for (int i = 0; i < n; ++i) {
    const pixel_box b = component_box(comps[i]);
    for (std::size_t f = 0; f < grown.size(); ++f)
      if (intersects(grown[f], b)) {
        owner[i] = int(f);
        merge_into(figs[f].box, b);
        figs[f].components += 1;
        figs[f].ink_pixels += comps[i].pixels;
        st.figure_ink += comps[i].pixels;
        break;
      }
  }

  // Text blocks: text-like components outside figures, marked on a coarse grid (one extra cell to the
  // right so the gap between words closes) and grouped by 4-connected cells.
  const int cell = p.text_cell;
  const int gw = (raw.width + cell - 1) / cell, gh = (raw.height + cell - 1) / cell;
  std::vector<char> marked(std::size_t(gw) * gh, 0);
  std::vector<int> heights;
  for (int i = 0; i < n; ++i) {
    if (cls[i] != component_class::text || owner[i] >= 0) continue;
    const component& c = comps[i];
    st.text_ink += c.pixels;
    heights.push_back(c.y1 - c.y0 + 1);
    const int cx1 = std::min(gw - 1, c.x1 / cell + 1);
    for (int cy = c.y0 / cell; cy <= c.y1 / cell; ++cy)
      for (int cx = c.x0 / cell; cx <= cx1; ++cx) marked[std::size_t(cy) * gw + cx] = 1;
  }
  if (!heights.empty()) {
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    st.median_text_height = heights[heights.size() / 2];
  }
  union_find uf(gw * gh);
  for (int cy = 0; cy < gh; ++cy)
    for (int cx = 0; cx < gw; ++cx) {
      const int k = cy * gw + cx;
      if (!marked[k]) continue;
      if (cx > 0 && marked[k - 1]) uf.unite(k, k - 1);
      if (cy > 0 && marked[k - gw]) uf.unite(k, k - gw);
    }
  std::vector<int> block_of(std::size_t(gw) * gh, -1);
  for (int i = 0; i < n; ++i) {
    if (cls[i] != component_class::text || owner[i] >= 0) continue;
    const component& c = comps[i];
    const int root = uf.find((c.y0 / cell) * gw + c.x0 / cell);
    int& b = block_of[root];
    if (b < 0) {
      b = int(out.text_blocks.size());
      out.text_blocks.push_back(region{region_kind::text, component_box(c), 0, 0});
    }
    region& r = out.text_blocks[b];
    merge_into(r.box, component_box(c));
    r.components += 1;
    r.ink_pixels += c.pixels;
  }
  std::sort(out.text_blocks.begin(), out.text_blocks.end(), by_position);
  std::sort(figs.begin(), figs.end(), by_position);
  out.figures = std::move(figs);

  // Long thin runs inside a figure are part of the picture (a chart's axes, streaks in a photo), not
  // a table grid: only rules outside every figure are reported.
  auto in_figure = [&](const ruling_line& r) {
    for (const region& f : out.figures) {
      const pixel_box g = grow(f.box, p.figure_gap);
      if (r.box.x0 >= g.x0 && r.box.x1 <= g.x1 && r.box.y0 >= g.y0 && r.box.y1 <= g.y1) return true;
    }
    return false;
  };
  for (auto* rules : {&out.horizontal_rules, &out.vertical_rules})
    rules->erase(std::remove_if(rules->begin(), rules->end(), in_figure), rules->end());

  // Page kind from non-speck ink (specks absorbed by a figure count as figure ink: halftones).
  const long long content = st.text_ink + st.figure_ink;
  const bool ruled = !out.horizontal_rules.empty() || !out.vertical_rules.empty();
  if (content == 0) out.kind = ruled ? page_kind::text : page_kind::blank;
  else if (st.figure_ink * 10 >= content * 9) out.kind = page_kind::image_only;
  else if (!out.figures.empty()) out.kind = page_kind::mixed;
  else out.kind = page_kind::text;
  return out;
}

}  // namespace quire::gpu::detail

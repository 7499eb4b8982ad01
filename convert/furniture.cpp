// Stage 2, step 1: running headers, footers and page numbers. A line in the top or bottom band
// is furniture when it is a page number, when its text (digits aside) recurs in the band of other
// pages at about the same height, or when it sits alone at the very edge of the page; and only
// when everything on its row is furniture too (a table row at the page bottom is not). A bare
// number that is the outermost line of the page is furniture further in too (the outer fifth)
// when it follows the page sequence: its value minus the page index is what most pages show. Text
// set larger than the body that recurs on consecutive pages (a slide's title over the build steps
// of one frame, the continuation slides of a long one) is that run's heading once: where the
// outline lists it, else on the first page of the run (with an outline that does not list it,
// only a title with a continuation counter); unless it recurs apart (odd/even heads) or
// on half the pages.
#include <algorithm>
#include <regex>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::page_model;
using layout::rect;
using layout::span;

namespace {
// Removes the last `bytes` bytes of the line's text (and the blanks before them) from its spans.
void drop_tail(line& l, size_t bytes) {
  for (auto it = l.spans.rbegin(); it != l.spans.rend() && bytes > 0; ++it) {
    const size_t n = std::min(bytes, it->text.size());
    it->text.erase(it->text.size() - n);
    bytes -= n;
  }
  while (!l.spans.empty()) {
    std::string& last = l.spans.back().text;
    while (!last.empty() && last.back() == ' ') last.pop_back();
    if (!last.empty()) break;
    l.spans.pop_back();
  }
  int chars = 0;
  for (const auto& sp : l.spans)
    for (unsigned char c : sp.text) chars += c != ' ' && (c & 0xC0) != 0x80;
  l.chars = chars;
}
}  // namespace

bool is_page_number(std::string_view raw) {
  std::string s(text::trim(raw));
  if (s.empty() || s.size() > 40) return false;
  static const std::regex re(
      R"(^(?:[-\u2013\u2014]\s*)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*[-\u2013\u2014])?$|^\(\d{1,4}\)$|^\[\d{1,4}\]$|^\d{1,4}\s*(?:/|of|von|de|sur)\s*\d{1,4}$|^(?:page|p\.|pg\.|seite|pagina|página|strona|sida|side)\s*\d{1,4}(?:\s*(?:/|of|von|de|sur|z)\s*\d{1,4})?$)",
      std::regex::icase);
  return std::regex_match(s, re);
}

int edge_number(const page_model& page, size_t i) {
  const line& l = page.lines[i];
  if (l.chars == 0 || l.chars > 4) return -1;
  const std::string whole = l.text();  // trim() views it: it must outlive `t`
  const std::string_view t = text::trim(whole);
  if (t.empty() || t.size() > 4 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  const bool top = l.box.y1 <= kNumberBand * page.height, bottom = l.box.y0 >= (1 - kNumberBand) * page.height;
  if (!top && !bottom) return -1;
  for (size_t j = 0; j < page.lines.size(); ++j) {
    const line& o = page.lines[j];
    if (j == i || o.chars == 0 || layout::overlap(l.box.y0, l.box.y1, o.box.y0, o.box.y1) > 0) continue;
    if (top && o.box.y1 <= l.box.y0) return -1;
    if (bottom && o.box.y0 >= l.box.y1) return -1;
  }
  return std::stoi(std::string(t));
}

// A short line at the very top or bottom of the page, far from everything else: a running
// header or footer even when it appears only once (first pages often have none).
bool page_analyzer::isolated_at_edge(int i) const {
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

// The title a run of pages repeats in its band, kept on this page as the run's heading. Its
// continuation mark ("– 1/13", "(1/2)") is dropped: the pages that repeat the title are one
// section in the Markdown, and the outline lists the title without it.
bool page_analyzer::keeps_run_title(int i) {
  line& l = page.lines[i];
  if (l.size < 1.15f * body) return false;
  const std::string t = l.text();
  const std::string sig = text::signature(t);
  if (dc.recurs_apart(sig)) return false;
  const std::string_view shown = text::trim(t);
  const std::string bare(text::without_continuation(shown));
  bool keep = outline_has(t) || (bare.size() < shown.size() && outline_has(bare));
  if (!keep) {
    const std::string k = text::key(bare), k_bare = unnumbered_key(k);
    const bool listed = std::any_of(dc.outline.begin(), dc.outline.end(),
                                    [&](const outline_entry& e) { return e.key == k || e.bare == k_bare; });
    // an outline that does not list it lists sections, not slides: a counter still marks a title
    keep = !listed && (dc.outline.empty() || bare.size() < shown.size()) && dc.starts_run(sig, page.number, l.box.cy());
  }
  if (keep && bare.size() < shown.size()) drop_tail(l, t.size() - (shown.data() - t.data()) - bare.size());
  return keep;
}

void page_analyzer::find_furniture() {
  const int n = static_cast<int>(page.lines.size());
  std::vector<char> cand(n, 0);
  for (int i = 0; i < n; ++i) {
    const line& l = page.lines[i];
    if (const int v = edge_number(page, i); v >= 0 && dc.in_page_sequence(page.number, v)) {
      cand[i] = 1;  // the page's own number, wherever in the outer fifth it is set
      continue;
    }
    if (!in_band(l.box, page.height) || l.chars > 120) continue;
    std::string t = l.text();
    if (is_page_number(t)) cand[i] = 1;
    else if (dc.page_count > 1 && dc.repeated_in_band(text::signature(t), page.number, l.box.cy()) &&
             !keeps_run_title(i))
      cand[i] = 2;
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

}  // namespace quire::convert

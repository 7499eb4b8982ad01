// Stage 2: document statistics (doc_context). See analyze.hpp for the streaming contract; the
// per-page analysis is page_analyzer (detail/page_analyzer.hpp lists the files that define it).
#include "convert/detail/analyze.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::page_model;
using layout::rect;
using layout::span;

// ======================================================================================
// observe: document statistics

void doc_context::observe(const page_model& page) {
  ++observed_pages_;
  // body size: what most of the prose is set in (code listings can outweigh it in a manual)
  for (const auto& l : page.lines) (style_mono(l) ? mono_chars_ : size_chars_)[quarter(l.size)] += l.chars;
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
  // the offset between the printed page numbers and the page sequence
  std::set<int> offsets;
  for (size_t i = 0; i < page.lines.size(); ++i)
    if (const int v = edge_number(page, i); v >= 0) offsets.insert(page.number - v);
  for (int o : offsets)
    if (number_offsets_.size() < 256 || number_offsets_.count(o)) ++number_offsets_[o];
  // heading style candidates
  for (const auto& l : page.lines) {
    if (l.chars == 0 || l.chars > 200) continue;
    const bool b = style_bold(l), it = style_italic(l);
    if (style_mono(l)) continue;
    if (l.size >= 1.12f * body || ((b || it) && l.size >= 0.8f * body && l.chars <= 150))
      note_heading_style(l.size, b, it);
  }
  // vocabulary (for hyphen repair): whole words only, so neither the part before a hyphen at a
  // line's end nor the first word of the line after it (the rest of the hyphenated word) is taken
  if (words_.size() < 200000) {
    bool after_hyphen = false;
    for (const auto& l : page.lines) {
      std::string t;
      for (const auto& sp : l.spans) t += sp.text;
      t = std::string(text::trim(t));
      std::string w;
      bool first = true;
      for (size_t i = 0; i <= t.size();) {
        const int c = i < t.size() ? text::next_cp(t, i) : (++i, ' ');
        if (text::is_alpha(c)) {
          text::append_cp(w, text::to_lower(c));
          continue;
        }
        const bool fragment = (first && after_hyphen) || (i >= t.size() && c == '-');
        if (w.size() >= 2 && !fragment) words_.insert(w);
        if (!w.empty()) first = false;
        w.clear();
      }
      after_hyphen = text::last_cp(t) == '-';
    }
  }
}

float doc_context::body_size() const {
  long best = -1;
  int q = 40;
  for (auto& [k, n] : size_chars_.empty() ? mono_chars_ : size_chars_)
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
    if (s.is(size, bold, italic)) {
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
    if (s.is(size, bold, italic)) self = &s;
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

bool doc_context::recurs_apart(const std::string& sig) const {
  auto it = band_.find(sig);
  if (it == band_.end() || it->second.size() < 2) return false;
  const auto& hits = it->second;  // in page order, one per page
  const int n = static_cast<int>(hits.size());
  if (n >= 64 || 2 * n >= page_count) return true;
  return n >= 3 && hits.back().page - hits.front().page + 1 > n;
}

bool doc_context::starts_run(const std::string& sig, int page, float y) const {
  auto it = band_.find(sig);
  if (it == band_.end()) return true;
  for (const auto& h : it->second)
    if (h.page == page - 1 && std::fabs(h.y - y) < 20.0f) return false;
  return true;
}

// A number that is the page's index minus an offset that at least three pages (or most of the
// pages observed so far, early in a short document) share.
bool doc_context::in_page_sequence(int page, int value) const {
  auto it = number_offsets_.find(page - value);
  if (it == number_offsets_.end()) return false;
  return it->second >= 3 || (it->second >= 2 && it->second * 2 >= observed_pages_);
}

// ======================================================================================

}  // namespace quire::convert

// OCR word placement: Tesseract's words (pixels) become layout lines (points) with sizes, bold and
// splits at wide gaps, and a levelled page's other contents follow the turn. No Tesseract here, so
// the geometry is tested on its own (tests/unit/convert/test_ocr_layout.cpp). See ocr.hpp.
#include "convert/detail/ocr.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "convert/detail/ocr_words.hpp"
#include "utf8/utf8.hpp"

namespace quire::convert::ocr::detail {

// See ocr_words.hpp.
bool has_alnum(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (std::isalnum(c)) return true;
      ++i;
      continue;
    }
    const auto [cp, len, ok] = utf8::decode(s, i);
    i += len;
    if (ok && cp >= 0xC0 && cp != 0xD7 && cp != 0xF7 && !(cp >= 0x2000 && cp <= 0x2BFF)) return true;
  }
  return false;
}

namespace {

// x-height as a fraction of the em for common text faces (Times 0.45, Helvetica/Arial 0.52,
// DejaVu 0.55): the em — the font size — is estimated from the x-height, which every line of
// lower-case text shows, unlike ascenders or descenders.
constexpr float kXHeightPerEm = 0.5f;
// Sizes within this ratio are one size: OCR measurements scatter a few percent, and body text
// must come out uniform or the pipeline would read noise as heading levels.
constexpr float kSameSize = 1.12f;
// A stroke this much heavier than the page's typical stroke (relative to the x-height) is bold.
constexpr float kBoldStroke = 1.3f;
// Word gap (in x-heights) beyond which a Tesseract line is split: a word space is about half an
// x-height, justified text stretches it to about one; table cells and columns sit further apart.
constexpr float kWideGap = 1.6f;

// Removes table-rule bars read as text from both ends of a word ("|D.Havel", "2023 ‘|"): a run of
// '|' and quote marks, if it holds a '|'. Says which ends had one.
std::string strip_bars(const std::string& word, bool& lead, bool& trail) {
  static const std::string quotes[] = {"'", "`", "\xE2\x80\x98", "\xE2\x80\x99"};
  auto take = [&](std::string& t, bool front) {
    bool bar = false;
    size_t n = 0;  // bytes in the run
    while (n < t.size()) {
      const size_t pos = front ? n : t.size() - n - 1;
      if (t[pos] == '|') {
        bar = true, ++n;
        continue;
      }
      bool quote = false;
      for (const auto& q : quotes) {
        const size_t at = front ? n : t.size() - n - q.size();
        if (q.size() <= t.size() - n && t.compare(at, q.size(), q) == 0) {
          n += q.size(), quote = true;
          break;
        }
      }
      if (!quote) break;
    }
    if (bar) t = front ? t.substr(n) : t.substr(0, t.size() - n);
    return bar;
  };
  std::string t = word;
  lead = take(t, true);
  trail = !t.empty() && take(t, false);
  return t;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The em (font size) in pixels implied by a word's box height and the letters in it: ascenders
// and capitals reach ~0.72 em above the baseline, x-height letters ~0.5 em, descenders go ~0.22 em
// below. Tesseract's own row metrics are fitted per line and go astray on short table rows; this
// is local to each word. Returns 0 when the word says nothing reliable (too short, brackets).
float word_em(const word& w) {
  bool tall = false, low = false, comma = false;
  int letters = 0;
  for (unsigned char c : w.text) {
    if (c >= 0x80) return 0;  // non-ASCII glyph heights are unknown here
    if (std::strchr("()[]{}/\\|@$", c)) return 0;  // reach above and below the usual lines
    if (std::isalnum(c)) ++letters;
    if (std::isupper(c) || std::isdigit(c) || std::strchr("bdfhkli!?", c)) tall = true;
    if (std::strchr("gjpqy", c)) low = true;
    if (c == ',' || c == ';') comma = true;
  }
  if (letters < 2) return 0;
  const float top = tall ? 0.72f : 0.5f;
  const float bottom = low ? 0.22f : comma ? 0.12f : 0.f;
  return static_cast<float>(w.y1 - w.y0) / (top + bottom);
}

// A line segment being built: consecutive words of one Tesseract line without a wide gap.
struct segment {
  std::vector<const word*> words;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float raw_size = 0;  // points, before snapping
  float stroke_ratio = 0;
  int chars = 0;
};

// Weighted median of (value, weight) pairs; 0 for none.
float weighted_median(std::vector<std::pair<float, int>> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  long total = 0;
  for (const auto& [value, w] : v) total += std::max(w, 1);
  long seen = 0;
  for (const auto& [value, w] : v) {
    seen += std::max(w, 1);
    if (seen * 2 >= total) return value;
  }
  return v.back().first;
}

// Groups the segment sizes into clusters of "the same size" and gives each segment its cluster's
// (character-weighted) median, rounded to a quarter point.
void snap_sizes(std::vector<segment>& segs, std::vector<float>& sizes) {
  std::vector<size_t> order(segs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return segs[a].raw_size < segs[b].raw_size; });
  sizes.assign(segs.size(), 0);
  size_t start = 0;
  while (start < order.size()) {
    size_t end = start + 1;
    const float base = segs[order[start]].raw_size;
    while (end < order.size() && segs[order[end]].raw_size <= base * kSameSize) ++end;
    std::vector<std::pair<float, int>> members;
    for (size_t k = start; k < end; ++k) members.emplace_back(segs[order[k]].raw_size, segs[order[k]].chars);
    const float snapped = std::round(weighted_median(std::move(members)) * 4) / 4;
    for (size_t k = start; k < end; ++k) sizes[order[k]] = snapped;
    start = end;
  }
}

}  // namespace

void place_words(std::vector<word> words, const geometry& geo, layout::page_model& out) {
  // 1. Noise and rules. Table rules come back as '|' glued to cell text ("|D.Havel") or alone;
  // they are removed, and remembered as forced splits, since a rule separates two cells.
  std::vector<word> kept;
  std::vector<bool> split_before;  // parallel to `kept`
  kept.reserve(words.size());
  bool rule_pending = false;
  int last_line = -1;
  for (auto& w : words) {
    if (w.line != last_line) rule_pending = false, last_line = w.line;
    bool lead = false, trail = false;
    w.text = trim(strip_bars(trim(w.text), lead, trail));
    if (w.text.empty() && (lead || trail)) {
      rule_pending = true;
      continue;
    }
    if (w.text.empty() || w.x1 <= w.x0 || w.y1 <= w.y0) continue;
    // Punctuation-only words that are also doubtful are marks on the paper, not text. Words
    // with letters are kept whatever their confidence: on ruled tables Tesseract reports real
    // cell text ("C. Moreau") at confidence 0, and a garbled word still scores better than none.
    if (!has_alnum(w.text) && !is_bullet(w.text) && w.confidence < 60) continue;
    split_before.push_back(rule_pending || lead || w.rule_before);
    rule_pending = trail;
    kept.push_back(std::move(w));
  }

  // 2. Segments: split each Tesseract line where a wide gap separates two words.
  std::vector<segment> segs;
  for (size_t i = 0; i < kept.size();) {
    size_t j = i;
    while (j < kept.size() && kept[j].line == kept[i].line) ++j;
    const word& first = kept[i];
    float xh = first.x_height;
    if (!(xh > 0)) {  // no row metrics: half the median word height is a fair x-height
      std::vector<std::pair<float, int>> hs;
      for (size_t k = i; k < j; ++k) hs.emplace_back(static_cast<float>(kept[k].y1 - kept[k].y0), 1);
      xh = weighted_median(hs) * 0.5f;
    }
    std::vector<std::pair<float, int>> line_ems;  // fallback for segments without a usable word
    for (size_t k = i; k < j; ++k)
      if (const float em = word_em(kept[k]); em > 0) line_ems.emplace_back(em, count_chars(kept[k].text));
    const float line_em = weighted_median(line_ems);
    segment cur;
    for (size_t k = i; k < j; ++k) {
      const word& w = kept[k];
      const bool after_bullet = !cur.words.empty() && is_bullet(cur.words.back()->text);
      const bool wide = static_cast<float>(w.x0 - cur.x1) > kWideGap * xh;
      if (!cur.words.empty() && !after_bullet && (wide || split_before[k])) {
        segs.push_back(std::move(cur));
        cur = {};
      }
      if (cur.words.empty()) cur.x0 = w.x0, cur.y0 = w.y0, cur.x1 = w.x1, cur.y1 = w.y1;
      cur.x0 = std::min(cur.x0, w.x0), cur.y0 = std::min(cur.y0, w.y0);
      cur.x1 = std::max(cur.x1, w.x1), cur.y1 = std::max(cur.y1, w.y1);
      cur.words.push_back(&w);
    }
    if (!cur.words.empty()) segs.push_back(std::move(cur));
    for (auto s = segs.end() - 1;; --s) {  // metrics of the segments just added
      if (s->words.front()->line != first.line) break;
      std::vector<std::pair<float, int>> strokes, ems;
      s->chars = 0;
      for (const word* w : s->words) {
        const int n = count_chars(w->text);
        s->chars += n;
        if (w->stroke > 0) strokes.emplace_back(w->stroke, n);
        if (const float em = word_em(*w); em > 0) ems.emplace_back(em, n);
      }
      // Two estimates: from the word boxes, and from Tesseract's x-height for the line. Both go
      // wrong the same way — too large, when a box or a row takes in a rule, shading or a speck
      // — so the smaller is the better one.
      const float em = ems.empty() ? line_em : weighted_median(ems);
      const float from_xh = xh / kXHeightPerEm;
      s->raw_size = (em > 0 ? std::min(em, from_xh) : from_xh) / geo.scale;
      s->stroke_ratio = xh > 0 ? weighted_median(strokes) / xh : 0;
      if (s == segs.begin()) break;
    }
    i = j;
  }
  if (segs.empty()) return;

  // 3. Page-level decisions: uniform sizes per cluster, bold relative to the page's usual stroke.
  std::vector<float> sizes;
  snap_sizes(segs, sizes);
  std::vector<std::pair<float, int>> ratios;
  for (const auto& s : segs)
    if (s.stroke_ratio > 0) ratios.emplace_back(s.stroke_ratio, s.chars);
  const float usual_stroke = weighted_median(ratios);

  // 4. Emit lines in Tesseract's reading order, in PDF points.
  const auto px = [&](float v) { return geo.x0 + v / geo.scale; };
  const auto py = [&](float v) { return geo.y0 + v / geo.scale; };
  int page_chars = 0;
  for (size_t k = 0; k < segs.size(); ++k) {
    const segment& s = segs[k];
    const word& first = *s.words.front();
    layout::span sp;
    for (const word* w : s.words) {
      if (!sp.text.empty()) sp.text += ' ';
      sp.text += w->text;
    }
    sp.box = {px(static_cast<float>(s.x0)), py(static_cast<float>(s.y0)), px(static_cast<float>(s.x1)),
              py(static_cast<float>(s.y1))};
    sp.size = sizes[k];
    // The baseline under the segment's centre (Tesseract's line baseline is a sloped segment
    // on skewed scans); without one, the bottom of the box less a typical descent.
    float base_px = static_cast<float>(s.y1) + first.descenders;
    if (first.has_baseline && first.baseline_x1 != first.baseline_x0) {
      const float cx = (s.x0 + s.x1) / 2.0f;
      const float t = (cx - first.baseline_x0) / (first.baseline_x1 - first.baseline_x0);
      base_px = first.baseline_y0 + t * (first.baseline_y1 - first.baseline_y0);
    }
    sp.baseline = py(base_px);
    sp.font = "OCR";
    sp.bold = usual_stroke > 0 && ratios.size() >= 2 && s.stroke_ratio > kBoldStroke * usual_stroke;
    layout::line l;
    l.box = sp.box;
    l.block = first.block;
    l.seq = static_cast<int>(out.lines.size());
    const int n_code_points = count_chars(sp.text) + static_cast<int>(std::count(sp.text.begin(), sp.text.end(), ' '));
    l.size = sp.size;
    l.baseline = sp.baseline;
    l.chars = s.chars;
    l.char_width = n_code_points > 0 ? sp.box.width() / n_code_points : 0;
    page_chars += s.chars;
    l.spans.push_back(std::move(sp));
    out.lines.push_back(std::move(l));
  }
  out.chars += page_chars;
}

void level(layout::page_model& page, const turn& t) {
  if (t.degrees == 0) return;
  const double r = t.degrees * 3.14159265358979 / 180, c = std::cos(r), s = std::sin(r), tn = std::tan(r);
  // The point that lay on a line of skew `degrees` through the centre comes to lie level.
  auto move = [&](float x, float y) {
    const double dx = x - t.cx, dy = y - t.cy;
    return std::pair<float, float>{static_cast<float>(t.cx + dx * c + dy * s), static_cast<float>(t.cy - dx * s + dy * c)};
  };
  auto shift = [&](layout::rect& b, float w, float h) {
    const auto [x, y] = move(b.cx(), b.cy());
    b = {x - w / 2, y - h / 2, x + w / 2, y + h / 2};
  };
  for (auto& rule : page.rules) {
    // A ruling line found in the skewed raster has a box made taller (wider) by its slant; level,
    // it is only as thick as the box less that slant.
    const float w = rule.box.width(), h = rule.box.height();
    if (rule.horizontal)
      shift(rule.box, w, std::max(0.5f, h - static_cast<float>(std::abs(w * tn))));
    else
      shift(rule.box, std::max(0.5f, w - static_cast<float>(std::abs(h * tn))), h);
  }
  for (auto& m : page.marks) shift(m.box, m.box.width(), m.box.height());
  for (auto& f : page.fills) shift(f, f.width(), f.height());
  for (auto& im : page.images) shift(im.box, im.box.width(), im.box.height());
  for (auto& l : page.links) shift(l.box, l.box.width(), l.box.height());
}

}  // namespace quire::convert::ocr::detail

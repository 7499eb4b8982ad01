// Stage 1: one line segment's characters → a layout::line of styled spans. The segment's
// dominant size and baseline tell superscripts and subscripts; a gap wider than the line's own
// word gap (from the font's space advance and the line's gaps) is a space where no space character
// was drawn; runs of one font, size, style and link make a span; accents drawn as glyphs of their
// own fold into their letter.
#include <algorithm>
#include <cmath>

#include "convert/detail/extract_internal.hpp"
#include "convert/detail/text.hpp"
#include "utf8/utf8.hpp"

namespace quire::convert::extract_detail {
namespace {

using layout::rect;

void append_utf8(std::string& s, int c) {
  // A ToUnicode CMap can map a glyph to anything: MuPDF passes surrogates and values past U+10FFFF
  // through (tests/fuzz/regressions/tounicode_surrogates.pdf). utf8::append writes U+FFFD for
  // them, so the Markdown is always well-formed UTF-8.
  utf8::append(s, c < 0 ? utf8::kReplacement : static_cast<char32_t>(c));
}

// The gap (in em) from which two characters of chars[begin,end) are two words, when no space
// character stands between them. A share of the font's space advance (0.18 em when the font has
// no space glyph, as in TeX), lowered to the line's own word gaps when the line shows two
// clearly apart classes of gaps: a tightly justified line squeezes its word spaces below the
// usual share, but they stay alike and well apart from the letter gaps (kerning) near zero.
float word_gap_threshold(const std::vector<rawc>& chars, const std::vector<int>& idx, size_t begin, size_t end,
                         const page_fonts& fonts, float dom) {
  float threshold = 0.18f;
  std::vector<float> gaps;
  const rawc* prev = nullptr;
  bool spaced = false;
  for (size_t i = begin; i < end; ++i) {
    const rawc& c = chars[idx[i]];
    if (c.space) {
      spaced = true;
      continue;
    }
    if (c.size < 0.88f * dom) {  // superscripts and subscripts keep their own rules
      prev = nullptr;
      continue;
    }
    if (const float sp = fonts.styles[c.font].space; sp > 0) threshold = std::min(threshold, std::max(0.12f, 0.5f * sp));
    if (prev && !spaced) gaps.push_back((c.x0 - prev->x1) / std::max(dom, c.size));
    prev = &c;
    spaced = false;
  }
  if (gaps.size() < 4) return threshold;
  std::sort(gaps.begin(), gaps.end());
  // the widest step between neighbouring gaps that leads from letter gaps (near zero) to a
  // class of at least two word gaps below the threshold, holding more of the line's gaps than
  // those above it (a justified line spaces its words alike: where most word gaps are wide, a
  // few narrower ones are kerned letters, "ll" in italics)
  const auto wide = static_cast<size_t>(gaps.end() - std::lower_bound(gaps.begin(), gaps.end(), threshold));
  float best_step = 0, cut = threshold;
  for (size_t k = 0; k + 1 < gaps.size(); ++k) {
    const float lo = gaps[k], hi = gaps[k + 1];
    if (hi >= threshold) break;
    if (lo > 0.05f || hi < 0.07f || hi - lo < 0.05f) continue;
    size_t words = 0;
    for (size_t j = k + 1; j < gaps.size() && gaps[j] < threshold; ++j) words += gaps[j] <= 1.5f * hi;
    if (words >= 2 && words > wide && hi - lo > best_step) best_step = hi - lo, cut = (lo + hi) / 2;
  }
  return std::min(threshold, cut);
}

// The combining mark of a spacing accent that typesetters (TeX above all) draw as a glyph of its
// own over the letter ("P¨a¨abo" for Pääbo, "c⃝" for ©), or 0.
int accent_mark(int c) {
  switch (c) {
    case 0xB4: return 0x301;
    case 0x2C6: return 0x302;
    case 0x2DC: return 0x303;
    case 0xAF: case 0x2C9: return 0x304;
    case 0x2D8: return 0x306;
    case 0x2D9: return 0x307;
    case 0xA8: return 0x308;
    case 0x2DA: return 0x30A;
    case 0x2DD: return 0x30B;
    case 0x2C7: return 0x30C;
    case 0xB8: return 0x327;
    case 0x2DB: return 0x328;
    case 0x20DD: case 0x25EF: return 0x20DD;
    default: return 0;
  }
}

}  // namespace

// Folds accent glyphs into the letter they are drawn over: an accent whose box covers most of a
// neighbouring letter's (or the letter most of the accent's) becomes part of that letter when the
// pair has a precomposed form. A circumflex or tilde drawn apart from any letter is the ASCII
// character a typewriter font draws that way ("npm@ˆ11" is "npm@^11", "˜/.bashrc" is "~/.bashrc").
void fold_accents(std::vector<rawc>& chars, std::vector<int>& row) {
  std::vector<char> drop(row.size(), 0);
  bool any = false;
  for (size_t k = 0; k < row.size(); ++k) {
    rawc& a = chars[row[k]];
    const int mark = accent_mark(a.c);
    if (!mark) continue;
    int best = -1;
    float best_ov = 0;
    for (size_t j = k >= 2 ? k - 2 : 0; j < std::min(row.size(), k + 3); ++j) {
      const rawc& b = chars[row[j]];
      if (j == k || drop[j] || b.space || accent_mark(b.c)) continue;
      const float ov = layout::overlap(a.x0, a.x1, b.x0, b.x1);
      const float narrow = std::min(a.x1 - a.x0, b.x1 - b.x0);
      if (narrow > 0 && ov >= 0.5f * narrow && ov > best_ov) best = static_cast<int>(j), best_ov = ov;
    }
    if (best < 0) {
      if (a.c == 0x2C6) a.c = '^';
      else if (a.c == 0x2DC) a.c = '~';
      continue;
    }
    rawc& b = chars[row[static_cast<size_t>(best)]];
    int base = b.c == 0x131 ? 'i' : b.c == 0x237 ? 'j' : b.c;  // TeX accents the dotless letters
    if (const int composed = text::compose(base, mark)) {
      b.c = composed;
      drop[k] = 1;
      any = true;
    }
  }
  if (!any) return;
  size_t w = 0;
  for (size_t k = 0; k < row.size(); ++k)
    if (!drop[k]) row[w++] = row[k];
  row.resize(w);
}

// Builds one line segment from chars[begin,end) of a row (sorted by x).
layout::line make_segment(const std::vector<rawc>& chars, const std::vector<int>& idx, size_t begin, size_t end,
                          const page_fonts& fonts) {
  layout::line ln;
  // dominant size (by character count, quantised to 0.25 pt) and its median baseline
  std::vector<std::pair<float, int>> sizes;
  for (size_t i = begin; i < end; ++i) {
    const rawc& c = chars[idx[i]];
    if (c.space) continue;
    float q = std::round(c.size * 4) / 4;
    auto it = std::find_if(sizes.begin(), sizes.end(), [&](auto& p) { return std::fabs(p.first - q) < 0.01f; });
    if (it == sizes.end()) sizes.push_back({q, 1});
    else ++it->second;
  }
  float dom = 0;
  int best = -1;
  for (auto& [s, n] : sizes)
    if (n > best || (n == best && s > dom)) best = n, dom = s;
  std::vector<float> bases;
  for (size_t i = begin; i < end; ++i) {
    const rawc& c = chars[idx[i]];
    if (!c.space && std::fabs(std::round(c.size * 4) / 4 - dom) < 0.01f) bases.push_back(c.oy);
  }
  std::sort(bases.begin(), bases.end());
  const float base = bases.empty() ? chars[idx[begin]].oy : bases[bases.size() / 2];
  ln.size = dom;
  ln.baseline = base;
  ln.box = rect::none();
  // chars are numbered in the order MuPDF received them, i.e. the page's drawing order
  ln.seq = *std::min_element(idx.begin() + begin, idx.begin() + end);

  const float word_gap = word_gap_threshold(chars, idx, begin, end, fonts, dom);
  std::vector<float> advances;
  float prev_x1 = -1e9f;
  bool space_pending = false;
  layout::span cur;
  bool have = false;
  auto flush = [&] {
    if (have && !cur.text.empty()) ln.spans.push_back(std::move(cur));
    cur = layout::span{};
    have = false;
  };
  for (size_t i = begin; i < end; ++i) {
    const rawc& c = chars[idx[i]];
    if (c.space) {
      if (have) space_pending = true;
      continue;
    }
    const bool small = c.size < 0.88f * dom;
    const bool sup = small && c.oy < base - 0.18f * dom;
    const bool sub = small && !sup && c.oy > base + 0.08f * dom;
    const font_style& fs = fonts.styles[c.font];
    const float gap = c.x0 - prev_x1;
    if (!space_pending && have && gap > word_gap * std::max(dom, c.size) && !sup && !sub && !cur.superscript &&
        !cur.subscript)
      space_pending = true;
    // between monospace characters a gap of several cells is that many spaces (code alignment)
    std::string spaces = " ";
    if (space_pending && have && cur.mono && fs.mono && c.x1 > c.x0 && gap > 0)
      spaces.assign(static_cast<size_t>(std::clamp(std::lround(gap / (c.x1 - c.x0)), 1L, 64L)), ' ');
    const bool same = have && cur.font == fs.name && std::fabs(cur.size - c.size) < 0.3f && cur.bold == fs.bold &&
                      cur.italic == fs.italic && cur.mono == fs.mono && cur.superscript == sup &&
                      cur.subscript == sub && cur.link == c.link;
    if (!same) {
      std::string carry = space_pending ? spaces : "";
      // the space goes to whichever span is not emphasised, so markers hug the words
      if (have && space_pending) {
        cur.text += spaces;
        carry.clear();
      }
      flush();
      cur.font = fs.name;
      cur.size = c.size;
      cur.bold = fs.bold;
      cur.italic = fs.italic;
      cur.mono = fs.mono;
      cur.superscript = sup;
      cur.subscript = sub;
      cur.link = c.link;
      cur.baseline = c.oy;
      cur.box = rect::none();
      cur.text = carry;
      have = true;
    } else if (space_pending) {
      cur.text += spaces;
    }
    space_pending = false;
    // a combining mark drawn after its letter: store the precomposed letter (NFC)
    if (c.c >= 0x300 && c.c <= 0x36F && !cur.text.empty()) {
      const int base = text::last_cp(cur.text);
      if (const int composed = text::compose(base, c.c)) {
        size_t cut = cur.text.size() - 1;
        while (cut > 0 && (static_cast<unsigned char>(cur.text[cut]) & 0xC0) == 0x80) --cut;
        cur.text.erase(cut);
        append_utf8(cur.text, composed);
        cur.box.include({c.x0, c.y0, c.x1, c.y1});
        continue;
      }
    }
    append_utf8(cur.text, c.c);
    cur.box.include({c.x0, c.y0, c.x1, c.y1});
    ln.box.include({c.x0, c.y0, c.x1, c.y1});
    prev_x1 = c.x1;
    ++ln.chars;
    if (!sup && !sub) advances.push_back(c.x1 - c.x0);
  }
  flush();
  if (!advances.empty()) {
    std::sort(advances.begin(), advances.end());
    ln.char_width = advances[advances.size() / 2];
  }
  return ln;
}

}  // namespace quire::convert::extract_detail

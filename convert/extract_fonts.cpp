// Stage 1: the style of each font on a page (bold, italic, monospace, the width of its space),
// from the font's flags, its name (subset prefix stripped; TeX's and the usual families' naming),
// and, for monospace fonts that neither flags nor names reveal, the advances of its glyphs.
//
// space_advance calls MuPDF, which reports errors with longjmp: it holds only C data in its frame.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "convert/detail/extract_internal.hpp"

namespace quire::convert::extract_detail {
namespace {

bool name_has(const std::string& name, const char* what) {
  auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
  std::string n, w(what);
  for (char c : name) n += lower(c);
  for (auto& c : w) c = lower(c);
  return n.find(w) != std::string::npos;
}

// TeX's typewriter faces: CMTT10, SFTT1000, CMSLTT10, txtt, LMTT ("tt" ending the family name).
bool typewriter_name(const std::string& name) {
  std::string n;
  for (char c : name) n += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (std::size_t p = n.find("tt"); p != std::string::npos; p = n.find("tt", p + 1)) {
    const std::size_t e = p + 2;
    const bool family_end = e == n.size() || std::isdigit(static_cast<unsigned char>(n[e])) || n[e] == '-';
    const bool tex_prefix = p >= 2 && (n.compare(p - 2, 2, "cm") == 0 || n.compare(p - 2, 2, "sf") == 0 ||
                                       n.compare(p - 2, 2, "lm") == 0 || n.compare(p - 2, 2, "tx") == 0 ||
                                       n.compare(p - 2, 2, "ec") == 0 || n.compare(p - 2, 2, "sl") == 0 ||
                                       n.compare(p - 2, 2, "it") == 0 || n.compare(p - 2, 2, "tc") == 0);
    if (family_end && tex_prefix) return true;
  }
  return false;
}

// The advance of the font's space glyph in em; 0 when it has none (MuPDF errors mean none). Only
// C data in this frame (see the file comment).
float space_advance(fz_context* ctx, fz_font* font) {
  float adv = 0;
  fz_var(adv);
  fz_try(ctx) {
    const int gid = fz_encode_character(ctx, font, ' ');
    if (gid > 0) adv = fz_advance_glyph(ctx, font, gid, 0);
  }
  fz_catch(ctx) { adv = 0; }
  return adv >= 0.1f && adv <= 0.8f ? adv : 0;
}

}  // namespace

font_style classify_font(fz_context* ctx, fz_font* font) {
  font_style s;
  const char* raw = font ? fz_font_name(ctx, font) : "";
  s.name = raw ? raw : "";
  if (auto plus = s.name.find('+'); plus == 6) s.name.erase(0, 7);  // subset prefix ABCDEF+
  s.bold = (font && fz_font_is_bold(ctx, font)) || name_has(s.name, "bold") || name_has(s.name, "black") ||
           name_has(s.name, "heavy") || name_has(s.name, "semibold") || name_has(s.name, "demi");
  // italic: the font's flags, or the name ("...-Italic", "...Oblique", "...-BoldIt", "...-It")
  const auto dash = s.name.rfind('-');
  const std::string tail = dash == std::string::npos ? "" : s.name.substr(dash + 1);
  s.italic = (font && fz_font_is_italic(ctx, font)) || name_has(s.name, "italic") || name_has(s.name, "oblique") ||
             name_has(tail, "ital") || tail == "It" || tail == "BoldIt" || tail == "SemiboldIt";
  s.mono = (font && fz_font_is_monospaced(ctx, font)) || name_has(s.name, "mono") ||
           name_has(s.name, "courier") || name_has(s.name, "consol") || name_has(s.name, "menlo") ||
           name_has(s.name, "inconsolata") || name_has(s.name, "typewriter") || name_has(s.name, "code") ||
           name_has(s.name, "nimbusmon") || name_has(s.name, "cousine") ||
           typewriter_name(s.name);
  if (font) s.space = space_advance(ctx, font);
  return s;
}

namespace {

// Glyph advances of each font on a page, to find monospace fonts that neither their flags nor
// their names reveal (Type 3 bitmap fonts from TeX, subset fonts with generic names).
struct advance_sample {
  std::vector<float> em;  // advance / size of each character
  std::vector<int> distinct;
  bool narrow = false;    // has a glyph that is narrow in any proportional font
};

// Every glyph of a monospace font advances by one cell. Enough different glyphs, one of them
// narrow in proportional faces ("i", "l", ".", "("), must agree within a few percent; a few
// stray glyphs (fallbacks, accents drawn apart) are tolerated.
bool uniform_advances(advance_sample& a) {
  if (a.em.size() < 12 || a.distinct.size() < 5 || !a.narrow) return false;
  std::sort(a.em.begin(), a.em.end());
  const float med = a.em[a.em.size() / 2];
  if (med < 0.3f || med > 0.9f) return false;
  std::size_t near = 0;
  for (float e : a.em)
    if (std::fabs(e - med) <= 0.03f * med) ++near;
  return near >= a.em.size() * 9 / 10;
}

}  // namespace

// Fonts on the page whose glyphs all advance alike are monospace, whatever their flags and names.
void mark_uniform_fonts(const std::vector<rawc>& chars, page_fonts& fonts) {
  std::vector<advance_sample> samples(fonts.styles.size());
  for (const rawc& c : chars) {
    if (c.space || c.size <= 0 || fonts.styles[c.font].mono) continue;
    advance_sample& a = samples[c.font];
    if (a.em.size() >= 4000) continue;
    a.em.push_back((c.x1 - c.x0) / c.size);
    if (std::find(a.distinct.begin(), a.distinct.end(), c.c) == a.distinct.end()) a.distinct.push_back(c.c);
    if (c.c < 128 && std::strchr("il.,:;'!|()-fjtrI", c.c)) a.narrow = true;
  }
  for (std::size_t f = 0; f < samples.size(); ++f)
    if (uniform_advances(samples[f])) fonts.styles[f].mono = true;
}

}  // namespace quire::convert::extract_detail

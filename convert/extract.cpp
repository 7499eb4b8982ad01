// Stage 1: one MuPDF page → layout::page_model. See extract.hpp.
//
// MuPDF reports errors with longjmp. The device callbacks below run inside MuPDF's own fz_try
// frames, so they must not let a MuPDF error escape through C++ frames that own objects: every
// MuPDF call in them that can throw sits in its own fz_try holding only C data.
#include "convert/extract.hpp"

#include "convert/text.hpp"
#include "utf8/utf8.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>


namespace quire::convert {
namespace {

using layout::rect;

struct font_style {
  std::string name;
  bool bold = false, italic = false, mono = false;
  float space = 0;  // advance of the font's space glyph in em, 0 when it has none (TeX fonts)
};

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

// ---- the collecting device ----

struct collected {
  std::vector<layout::rule> rules;
  std::vector<layout::mark> marks;
  std::vector<rect> fills;
  std::vector<layout::image> images;
  std::vector<asset>* assets = nullptr;
  bool want_images = false;
  int page_number = 0;
  int image_count = 0;
  float page_w = 0, page_h = 0;
};

struct subpath {
  std::vector<fz_point> pts;
  bool curve = false;
  bool closed = false;
};

struct path_walk {
  fz_matrix ctm;
  std::vector<subpath> subs;
  fz_point cur{0, 0};
  void add(float x, float y) {
    if (subs.empty()) subs.emplace_back();
    subs.back().pts.push_back(fz_transform_point_xy(x, y, ctm));
    cur = {x, y};
  }
};

void walk_moveto(fz_context*, void* arg, float x, float y) {
  auto* w = static_cast<path_walk*>(arg);
  w->subs.emplace_back();
  w->add(x, y);
}
void walk_lineto(fz_context*, void* arg, float x, float y) { static_cast<path_walk*>(arg)->add(x, y); }
void walk_curveto(fz_context*, void* arg, float x1, float y1, float x2, float y2, float x3, float y3) {
  auto* w = static_cast<path_walk*>(arg);
  w->add(x1, y1);
  w->add(x2, y2);
  w->add(x3, y3);
  w->subs.back().curve = true;
}
void walk_closepath(fz_context*, void* arg) {
  auto* w = static_cast<path_walk*>(arg);
  if (!w->subs.empty()) w->subs.back().closed = true;
}
void walk_quadto(fz_context*, void* arg, float x1, float y1, float x2, float y2) {
  auto* w = static_cast<path_walk*>(arg);
  w->add(x1, y1);
  w->add(x2, y2);
  w->subs.back().curve = true;
}
void walk_rectto(fz_context*, void* arg, float x1, float y1, float x2, float y2) {
  auto* w = static_cast<path_walk*>(arg);
  w->subs.emplace_back();
  w->add(x1, y1);
  w->add(x2, y1);
  w->add(x2, y2);
  w->add(x1, y2);
  w->subs.back().closed = true;
}

const fz_path_walker path_walker = {walk_moveto, walk_lineto, walk_curveto, walk_closepath,
                                    walk_quadto, nullptr,     nullptr,      walk_rectto};

rect bounds(const subpath& s) {
  rect r = rect::none();
  for (auto p : s.pts) r.include({p.x, p.y, p.x, p.y});
  return r;
}

// Approximate luminance (0 black .. 1 white); MuPDF errors are caught (treated as black).
float luminance(fz_context* ctx, fz_colorspace* cs, const float* color) {
  float rgb[3] = {0, 0, 0};
  int failed = 0;
  fz_try(ctx) {
    if (cs) fz_convert_color(ctx, cs, color, fz_device_rgb(ctx), rgb, nullptr, fz_default_color_params);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed) return 0;
  return 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
}

struct collect_device {
  fz_device super;
  fz_device* text;
  collected* out;
  const std::optional<std::chrono::steady_clock::time_point>* deadline;
  std::uint64_t max_operators;
  std::uint64_t* operators;
};

// Called first thing in every callback, before any C++ object exists in the frame, so the
// longjmp of fz_throw skips no destructor.
void check_deadline(fz_context* ctx, fz_device* dev) {
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (d->operators && ++*d->operators > d->max_operators && d->max_operators > 0)
    fz_throw(ctx, FZ_ERROR_GENERIC, "page exceeded its drawing-operation budget");
  if (*d->deadline && std::chrono::steady_clock::now() > **d->deadline)
    fz_throw(ctx, FZ_ERROR_GENERIC, "page exceeded the conversion deadline");
}

bool walk(fz_context* ctx, const fz_path* path, fz_matrix ctm, path_walk& w) {
  w.ctm = ctm;
  int failed = 0;
  fz_try(ctx) { fz_walk_path(ctx, path, &path_walker, &w); }
  fz_catch(ctx) { failed = 1; }
  return !failed;
}

void add_shape(collected& c, const rect& b, bool filled, bool curve, float lum) {
  const float w = b.width(), h = b.height();
  if (w >= 0.9f * c.page_w && h >= 0.9f * c.page_h) return;  // page background
  if (lum > 0.93f) return;                                    // white on white: invisible
  if (h <= 3.0f && w >= 4.0f) {
    c.rules.push_back({b, true});
  } else if (w <= 3.0f && h >= 4.0f) {
    c.rules.push_back({b, false});
  } else if (w >= 1.2f && h >= 1.2f && w <= 10.0f && h <= 10.0f && w <= 2.2f * h && h <= 2.2f * w) {
    c.marks.push_back({b, filled, curve});
  } else if (filled && w > 10.0f && h > 4.0f) {
    if (c.fills.size() < 2000) c.fills.push_back(b);
  }
}

void dev_fill_path(fz_context* ctx, fz_device* dev, const fz_path* path, int, fz_matrix ctm, fz_colorspace* cs,
                   const float* color, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (alpha <= 0.05f) return;
  path_walk w;
  if (!walk(ctx, path, ctm, w)) return;
  const float lum = luminance(ctx, cs, color);
  for (const auto& s : w.subs) {
    if (s.pts.size() < 2) continue;
    add_shape(*d->out, bounds(s), true, s.curve, lum);
  }
}

void dev_stroke_path(fz_context* ctx, fz_device* dev, const fz_path* path, const fz_stroke_state* stroke,
                     fz_matrix ctm, fz_colorspace* cs, const float* color, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  if (alpha <= 0.05f) return;
  path_walk w;
  if (!walk(ctx, path, ctm, w)) return;
  const float lum = luminance(ctx, cs, color);
  if (lum > 0.93f) return;
  const float scale = std::sqrt(std::fabs(ctm.a * ctm.d - ctm.b * ctm.c));
  const float lw = std::max(0.3f, (stroke ? stroke->linewidth : 1.0f) * (scale > 0 ? scale : 1.0f));
  collected& c = *d->out;
  for (const auto& s : w.subs) {
    if (s.pts.size() < 2) continue;
    rect b = bounds(s);
    if (s.curve) {
      if (b.width() <= 10 && b.height() <= 10 && b.width() >= 1.2f && b.height() >= 1.2f)
        c.marks.push_back({b, false, true});
      continue;
    }
    if (b.width() <= 10 && b.height() <= 10 && b.width() >= 2.0f && b.height() >= 2.0f && s.closed) {
      c.marks.push_back({b, false, false});  // a small hollow square
      continue;
    }
    const size_t n = s.pts.size();
    const size_t segs = s.closed ? n : n - 1;
    for (size_t i = 0; i < segs; ++i) {
      fz_point a = s.pts[i], e = s.pts[(i + 1) % n];
      const float dx = std::fabs(a.x - e.x), dy = std::fabs(a.y - e.y);
      if (dy < 0.6f && dx >= 4.0f) {
        const float y = (a.y + e.y) / 2;
        c.rules.push_back({{std::min(a.x, e.x), y - lw / 2, std::max(a.x, e.x), y + lw / 2}, true});
      } else if (dx < 0.6f && dy >= 4.0f) {
        const float x = (a.x + e.x) / 2;
        c.rules.push_back({{x - lw / 2, std::min(a.y, e.y), x + lw / 2, std::max(a.y, e.y)}, false});
      }
    }
  }
}

void dev_fill_image(fz_context* ctx, fz_device* dev, fz_image* img, fz_matrix ctm, float alpha, fz_color_params) {
  check_deadline(ctx, dev);
  auto* d = reinterpret_cast<collect_device*>(dev);
  collected& c = *d->out;
  if (alpha <= 0.05f) return;
  fz_rect r = fz_transform_rect(fz_unit_rect, ctm);
  rect b{r.x0, r.y0, r.x1, r.y1};
  if (b.width() < 8 || b.height() < 8 || c.images.size() >= 500) return;
  layout::image im{b, -1};
  if (c.want_images && c.assets && img && img->w >= 16 && img->h >= 16) {
    fz_buffer* buf = nullptr;
    const char* type = "image/png";
    const char* ext = "png";
    fz_var(buf);
    fz_var(type);
    fz_var(ext);
    fz_try(ctx) {
      fz_compressed_buffer* cb = fz_compressed_image_buffer(ctx, img);
      if (cb && cb->params.type == FZ_IMAGE_JPEG && cb->buffer &&
          (img->colorspace == fz_device_rgb(ctx) || img->colorspace == fz_device_gray(ctx) || img->n <= 3)) {
        buf = fz_keep_buffer(ctx, cb->buffer);
        type = "image/jpeg";
        ext = "jpg";
      } else {
        buf = fz_new_buffer_from_image_as_png(ctx, img, fz_default_color_params);
      }
    }
    fz_catch(ctx) { buf = nullptr; }
    if (buf) {
      unsigned char* data = nullptr;
      size_t len = fz_buffer_storage(ctx, buf, &data);
      asset a;
      a.name = "img-p" + std::to_string(c.page_number) + "-" + std::to_string(++c.image_count) + "." + ext;
      a.media_type = type;
      a.bytes.assign(data, data + len);
      fz_drop_buffer(ctx, buf);
      im.asset = static_cast<int>(c.assets->size());
      c.assets->push_back(std::move(a));
    }
  }
  c.images.push_back(im);
}

// Text goes to the structured-text device unchanged.
void dev_fill_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm, fz_colorspace* cs,
                   const float* color, float alpha, fz_color_params cp) {
  check_deadline(ctx, dev);
  fz_fill_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm, cs, color, alpha, cp);
}
void dev_stroke_text(fz_context* ctx, fz_device* dev, const fz_text* text, const fz_stroke_state* st, fz_matrix ctm,
                     fz_colorspace* cs, const float* color, float alpha, fz_color_params cp) {
  check_deadline(ctx, dev);
  fz_stroke_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, st, ctm, cs, color, alpha, cp);
}
// Text used as a clip is still text on the page; it reaches the stext device as "ignored" text so
// that the clip stack of the text device stays empty (this device keeps its own).
void dev_clip_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm, fz_rect) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}
void dev_clip_stroke_text(fz_context* ctx, fz_device* dev, const fz_text* text, const fz_stroke_state*,
                          fz_matrix ctm, fz_rect) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}
void dev_ignore_text(fz_context* ctx, fz_device* dev, const fz_text* text, fz_matrix ctm) {
  check_deadline(ctx, dev);
  fz_ignore_text(ctx, reinterpret_cast<collect_device*>(dev)->text, text, ctm);
}

fz_device* new_collect_device(fz_context* ctx, fz_device* text, collected* out, const extract_options& options) {
  auto* d = fz_new_derived_device(ctx, collect_device);
  d->super.fill_path = dev_fill_path;
  d->super.stroke_path = dev_stroke_path;
  d->super.fill_image = dev_fill_image;
  d->super.fill_text = dev_fill_text;
  d->super.stroke_text = dev_stroke_text;
  d->super.clip_text = dev_clip_text;
  d->super.clip_stroke_text = dev_clip_stroke_text;
  d->super.ignore_text = dev_ignore_text;
  d->text = text;
  d->out = out;
  d->deadline = &options.deadline;
  d->max_operators = options.max_operators;
  d->operators = options.operators;
  return &d->super;
}

// ---- characters → line segments ----

struct rawc {
  int c;
  float x0, x1, y0, y1;  // y0/y1: a size-normalised box around the baseline
  float oy;              // baseline
  float size;
  int font;              // index into the page's font table
  int link;
  bool space;
};

struct raw_line {
  std::vector<int> chars;  // indices into the page's rawc table
  float y0 = 1e9f, y1 = -1e9f;
  float x0 = 1e9f, x1 = -1e9f;  // horizontal extent of its non-space characters
  float oy = 0, size = 0;        // baseline and size of its first non-space character
  int block = -1;
};

// Whether two vertically overlapping raw lines are one visual row: on (nearly) the same baseline,
// or side by side (a superscript or subscript beside its text). Lines of two page columns with
// different leading overlap too, but neither holds: joining them would chain the rows of one
// column through the other's lines.
bool same_row(const raw_line& a, const raw_line& b) {
  const float size = std::max(a.size, b.size);
  if (std::fabs(a.oy - b.oy) <= 0.3f * size) return true;
  const float gap = std::max(a.x0, b.x0) - std::min(a.x1, b.x1);
  return gap <= 2.0f * size;
}

// Maps a code point to what the Markdown should carry: -1 drop, else the (possibly replaced) one.
int map_char(int c) {
  if (c == '\t' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000) return ' ';
  if (c < 32 || c == 0x7F || c == 0xFFFD || c == 0xFEFF || (c >= 0x200B && c <= 0x200D) || c == 0x2060) return -1;
  if (c >= 0xE000 && c <= 0xF8FF) {
    switch (c) {  // Symbol/Wingdings bullets mapped into the private use area
      case 0xF0B7: case 0xF06C: case 0xF0A8: return 0x2022;
      case 0xF0A7: case 0xF06E: return 0x25AA;
      case 0xF0D8: case 0xF0E8: return 0x27A2;
      case 0xF0FC: return 0x2713;
      case 0xF02D: return '-';
      default: return -1;
    }
  }
  return c;
}

struct page_fonts {
  std::vector<font_style> styles;
  std::unordered_map<fz_font*, int> index;
  int get(fz_context* ctx, fz_font* f) {
    auto it = index.find(f);
    if (it != index.end()) return it->second;
    int i = static_cast<int>(styles.size());
    styles.push_back(classify_font(ctx, f));
    index.emplace(f, i);
    return i;
  }
};

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

void build_lines(fz_context* ctx, fz_stext_page* text, const std::vector<layout::link>& links,
                 layout::page_model& out) {
  page_fonts fonts;
  std::vector<rawc> chars;
  std::vector<raw_line> raws;
  std::vector<int> line_links;
  int block_no = 0;
  for (fz_stext_block* b = text->first_block; b; b = b->next, ++block_no) {
    if (b->type != FZ_STEXT_BLOCK_TEXT) continue;
    for (fz_stext_line* l = b->u.t.first_line; l; l = l->next) {
      if (std::fabs(l->dir.y) > 0.1f || l->dir.x < 0) {
        // rotated or vertical text: counted, but not laid out (watermarks, rotated labels)
        for (fz_stext_char* ch = l->first_char; ch; ch = ch->next)
          if (ch->c > ' ') ++out.chars, ++out.unread_chars;
        continue;
      }
      raw_line rl;
      rl.block = block_no;
      // the links this line can touch (a contents or index page has hundreds: testing each
      // character against all of them cost more than the rest of the line's work)
      float cy_min = 1e30f, cy_max = -1e30f;
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next) {
        const float cy = ch->origin.y - 0.3f * (ch->size > 0 ? ch->size : 1);
        cy_min = std::min(cy_min, cy);
        cy_max = std::max(cy_max, cy);
      }
      line_links.clear();
      for (size_t k = 0; k < links.size(); ++k)
        if (cy_max >= links[k].box.y0 - 1 && cy_min <= links[k].box.y1 + 1) line_links.push_back(static_cast<int>(k));
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next) {
        int c = map_char(ch->c);
        if (c < 0) continue;
        rawc r;
        r.c = c;
        r.space = c == ' ';
        r.size = ch->size > 0 ? ch->size : 1;
        r.x0 = std::min(ch->quad.ul.x, ch->quad.ll.x);
        r.x1 = std::max(ch->quad.ur.x, ch->quad.lr.x);
        r.oy = ch->origin.y;
        r.y0 = r.oy - 0.75f * r.size;
        r.y1 = r.oy + 0.22f * r.size;
        r.font = fonts.get(ctx, ch->font);
        r.link = -1;
        const float cx = (r.x0 + r.x1) / 2, cy = r.oy - 0.3f * r.size;
        for (int k : line_links) {
          const rect& lb = links[static_cast<size_t>(k)].box;
          if (cx >= lb.x0 - 0.5f && cx <= lb.x1 + 0.5f && cy >= lb.y0 - 1 && cy <= lb.y1 + 1) {
            r.link = k;
            break;
          }
        }
        if (!r.space) {
          if (rl.size <= 0) rl.oy = r.oy, rl.size = r.size;
          rl.y0 = std::min(rl.y0, r.y0);
          rl.y1 = std::max(rl.y1, r.y1);
          rl.x0 = std::min(rl.x0, r.x0);
          rl.x1 = std::max(rl.x1, r.x1);
          ++out.chars;
        }
        rl.chars.push_back(static_cast<int>(chars.size()));
        chars.push_back(r);
      }
      if (rl.y1 > rl.y0) raws.push_back(std::move(rl));
    }
  }
  mark_uniform_fonts(chars, fonts);
  // rows: raw lines that overlap vertically by half the smaller height (superscripts join
  // their line; neighbouring lines of a paragraph do not)
  std::vector<int> order(raws.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return raws[a].y0 < raws[b].y0; });
  std::vector<int> parent(raws.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const raw_line& a = raws[order[i]];
    for (size_t j = i + 1; j < order.size(); ++j) {
      const raw_line& b = raws[order[j]];
      if (b.y0 >= a.y1) break;
      const float ov = layout::overlap(a.y0, a.y1, b.y0, b.y1);
      const float minh = std::min(a.y1 - a.y0, b.y1 - b.y0);
      if (ov >= 0.5f * minh && same_row(a, b)) parent[find(order[j])] = find(order[i]);
    }
  }
  std::vector<std::vector<int>> row_members;  // raw lines of each row
  std::unordered_map<int, int> row_of;
  std::vector<int> row_block;
  for (int i : order) {
    int r = find(i);
    auto it = row_of.find(r);
    if (it == row_of.end()) {
      it = row_of.emplace(r, static_cast<int>(row_members.size())).first;
      row_members.emplace_back();
      row_block.push_back(raws[i].block);
    }
    row_members[it->second].push_back(i);
  }
  for (size_t ri = 0; ri < row_members.size(); ++ri) {
    // Merge the row's raw lines by x, keeping each raw line's own (logical) character order:
    // expanded ligatures and combining marks share or reverse x positions within a line.
    std::vector<int> row;
    {
      const auto& mem = row_members[ri];
      std::vector<size_t> pos(mem.size(), 0);
      for (;;) {
        int best = -1;
        float bx = 0;
        for (size_t m = 0; m < mem.size(); ++m) {
          const auto& cl = raws[mem[m]].chars;
          if (pos[m] >= cl.size()) continue;
          const float x = chars[cl[pos[m]]].x0;
          if (best < 0 || x < bx - 0.01f) best = static_cast<int>(m), bx = x;
        }
        if (best < 0) break;
        const auto& cl = raws[mem[best]].chars;
        // take the whole run of this line that stays left of the other lines' next characters
        float limit = 1e9f;
        for (size_t m = 0; m < mem.size(); ++m) {
          if (static_cast<int>(m) == best || pos[m] >= raws[mem[m]].chars.size()) continue;
          limit = std::min(limit, chars[raws[mem[m]].chars[pos[m]]].x0);
        }
        do {
          row.push_back(cl[pos[best]++]);
        } while (pos[best] < cl.size() && chars[cl[pos[best]]].x0 <= limit);
      }
    }
    // drop overprinted duplicates (fake bold, shadows)
    std::vector<int> kept;
    kept.reserve(row.size());
    for (int i : row) {
      const rawc& c = chars[i];
      bool dup = false;
      for (size_t k = kept.size(); k-- > 0 && kept.size() - k <= 3;) {
        const rawc& p = chars[kept[k]];
        if (p.c == c.c && std::fabs(p.x0 - c.x0) < 0.15f * c.size && std::fabs(p.oy - c.oy) < 0.15f * c.size) {
          dup = !c.space;
          break;
        }
      }
      if (!dup) kept.push_back(i);
    }
    fold_accents(chars, kept);
    // split at gaps too wide for a word space
    size_t start = 0;
    float last_x1 = -1e9f, last_size = 0;
    bool saw_space = false;
    bool any = false;
    auto emit = [&](size_t b, size_t e) {
      while (b < e && chars[kept[b]].space) ++b;
      while (e > b && chars[kept[e - 1]].space) --e;
      if (b >= e) return;
      layout::line ln = make_segment(chars, kept, b, e, fonts);
      ln.block = row_block[ri];
      if (!ln.spans.empty()) out.lines.push_back(std::move(ln));
    };
    for (size_t k = 0; k < kept.size(); ++k) {
      const rawc& c = chars[kept[k]];
      if (c.space) {
        saw_space = true;
        continue;
      }
      if (any) {
        const float gap = c.x0 - last_x1;
        const float em = std::max(last_size, c.size);
        if (gap > (saw_space ? 1.8f : 0.5f) * em || gap < -2.0f * em) {
          emit(start, k);
          start = k;
        }
      }
      any = true;
      saw_space = false;
      last_x1 = std::max(last_x1, c.x1);
      if (c.x1 < last_x1 - 2.0f * c.size) last_x1 = c.x1;
      last_size = c.size;
    }
    emit(start, kept.size());
  }
}

}  // namespace

bool safe_link_target(std::string_view uri) {
  // Viewers skip control characters and blanks inside a scheme ("java\tscript:"): none is allowed.
  for (char c : uri)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  while (!uri.empty() && uri.front() == ' ') uri.remove_prefix(1);
  // RFC 3986 scheme: a letter, then letters, digits, '+', '-', '.', up to the first ':'.
  std::size_t n = 0;
  while (n < uri.size() && (std::isalnum(static_cast<unsigned char>(uri[n])) || uri[n] == '+' || uri[n] == '-' ||
                            uri[n] == '.'))
    ++n;
  if (n == 0 || n == uri.size() || uri[n] != ':' || !std::isalpha(static_cast<unsigned char>(uri[0])))
    return true;  // no scheme: a relative or "#" target
  std::string scheme(uri.substr(0, n));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  return scheme == "http" || scheme == "https" || scheme == "mailto";
}

namespace {

// One run of the page through the collecting device under `ctm`: the structured text (owned by the
// caller, also on failure) and the shapes and images in `col`. False with `error` on a MuPDF error.
bool run_page(fz_context* ctx, fz_page* page, fz_matrix ctm, fz_rect bounds, collected& col,
              const extract_options& options, fz_stext_page*& text, std::string& error) {
  fz_device* tdev = nullptr;
  fz_device* cdev = nullptr;
  int failed = 0;
  fz_var(tdev);
  fz_var(cdev);
  fz_try(ctx) {
    text = fz_new_stext_page(ctx, bounds);
    fz_stext_options so{};
    so.flags = FZ_STEXT_PRESERVE_WHITESPACE | FZ_STEXT_INHIBIT_SPACES;
    tdev = fz_new_stext_device(ctx, text, &so);
    cdev = new_collect_device(ctx, tdev, &col, options);
    fz_run_page(ctx, page, cdev, ctm, options.cookie);
    fz_close_device(ctx, cdev);
    fz_close_device(ctx, tdev);
  }
  fz_always(ctx) {
    fz_drop_device(ctx, cdev);
    fz_drop_device(ctx, tdev);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed) error = fz_caught_message(ctx);
  return !failed;
}

// The turn (0, 90, 180 or 270 degrees) that makes most of the page's text run left to right: a
// landscape table or a page set sideways. 0 unless the text at one other angle outweighs the
// horizontal text (a rotated label or watermark on a portrait page stays a minority).
int dominant_rotation(const fz_stext_page* text) {
  long count[4] = {0, 0, 0, 0};  // by the turn that reads it: 0, 90, 180, 270
  for (fz_stext_block* b = text->first_block; b; b = b->next) {
    if (b->type != FZ_STEXT_BLOCK_TEXT) continue;
    for (fz_stext_line* l = b->u.t.first_line; l; l = l->next) {
      int k = -1;
      if (l->dir.x > 0.9f) k = 0;
      else if (l->dir.y < -0.9f) k = 1;  // runs bottom to top: turn the page a quarter clockwise
      else if (l->dir.x < -0.9f) k = 2;
      else if (l->dir.y > 0.9f) k = 3;
      if (k < 0) continue;
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next)
        if (ch->c > ' ') ++count[k];
    }
  }
  int best = 0;
  for (int k = 1; k < 4; ++k)
    if (count[k] > count[best]) best = k;
  return best > 0 && count[best] >= 10 ? 90 * best : 0;
}

}  // namespace

bool extract_page(fz_context* ctx, fz_page* page, int number, const extract_options& options,
                  std::vector<asset>& assets, layout::page_model& out, std::string& error) {
  out = layout::page_model{};
  out.number = number;
  const size_t assets_before = assets.size();
  collected col;
  col.assets = &assets;
  col.want_images = options.images;
  col.page_number = number;

  fz_stext_page* text = nullptr;
  fz_link* links = nullptr;
  fz_rect bounds{0, 0, 0, 0};
  fz_matrix ctm = fz_identity;
  int failed = 0;
  fz_var(links);
  fz_var(bounds);
  fz_try(ctx) {
    bounds = fz_bound_page(ctx, page);
    links = fz_load_links(ctx, page);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed) error = fz_caught_message(ctx);
  col.page_w = bounds.x1 - bounds.x0;
  col.page_h = bounds.y1 - bounds.y0;
  bool ok = !failed && run_page(ctx, page, ctm, bounds, col, options, text, error);
  if (const int turn = ok ? dominant_rotation(text) : 0) {
    // read the page in its text's direction: run it again turned, shapes and links with it
    const fz_matrix rot = fz_rotate(static_cast<float>(turn));
    const fz_rect turned = fz_transform_rect(bounds, rot);
    ctm = fz_concat(rot, fz_translate(-turned.x0, -turned.y0));
    bounds = fz_transform_rect(bounds, ctm);
    fz_drop_stext_page(ctx, text);
    text = nullptr;
    assets.resize(assets_before);
    col = collected{};
    col.assets = &assets;
    col.want_images = options.images;
    col.page_number = number;
    col.page_w = bounds.x1 - bounds.x0;
    col.page_h = bounds.y1 - bounds.y0;
    ok = run_page(ctx, page, ctm, bounds, col, options, text, error);
    out.rotation = turn;
  }

  out.width = bounds.x1 - bounds.x0;
  out.height = bounds.y1 - bounds.y0;
  for (fz_link* l = links; l; l = l->next) {
    if (!l->uri || !fz_is_external_link(ctx, l->uri) || !safe_link_target(l->uri)) continue;
    const fz_rect r = fz_transform_rect(l->rect, ctm);
    out.links.push_back({{r.x0, r.y0, r.x1, r.y1}, l->uri});
  }
  fz_drop_link(ctx, links);
  if (text && ok) build_lines(ctx, text, out.links, out);
  fz_drop_stext_page(ctx, text);
  out.rules = std::move(col.rules);
  out.marks = std::move(col.marks);
  out.fills = std::move(col.fills);
  out.images = std::move(col.images);
  return ok;
}

}  // namespace quire::convert

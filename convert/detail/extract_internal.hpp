// Shared pieces of stage 1 (extract*.cpp): the collecting device's output, the page's font
// table, and the characters that become line segments. Not for use outside convert/extract*.cpp.
//
//   extract.cpp         the driver: runs the page (turned when its text runs sideways), links
//   extract_device.cpp  the device beside MuPDF's stext device: rules, marks, fills, images
//   extract_fonts.cpp   font styles from flags, names and glyph advances
//   extract_lines.cpp   characters → rows → line segments (split at wide gaps)
//   extract_spans.cpp   one segment's characters → styled spans (word gaps, accents, scripts)
#pragma once

extern "C" {
#include <mupdf/fitz.h>
}

#include <string>
#include <unordered_map>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/extract.hpp"
#include "convert/detail/layout.hpp"

namespace quire::convert::extract_detail {

// ---- extract_device.cpp: what the collecting device keeps of a page

struct collected {
  std::vector<layout::rule> rules;
  std::vector<layout::mark> marks;
  std::vector<layout::rect> fills;
  std::vector<layout::image> images;
  std::vector<asset>* assets = nullptr;
  bool want_images = false;
  int page_number = 0;
  int image_count = 0;
  float page_w = 0, page_h = 0;
};

// A device that forwards text to `text` (MuPDF's structured-text device) and keeps vector paths,
// images and their assets in `out`; it enforces the options' deadline and operator budget.
fz_device* new_collect_device(fz_context* ctx, fz_device* text, collected* out, const extract_options& options);

// ---- the page's characters, as extract_lines.cpp collects them

// One character as MuPDF placed it; its index in the page's table is its drawing order.
struct rawc {
  int c;
  float x0, x1, y0, y1;  // y0/y1: a size-normalised box around the baseline
  float oy;              // baseline
  float size;
  int font;              // index into the page's font table
  int link;
  bool space;
};

// Lays out the page's horizontal text (out.lines) from MuPDF's structured text, and counts its
// characters (out.chars, out.unread_chars); `links` are the page's links, matched per character.
void build_lines(fz_context* ctx, fz_stext_page* text, const std::vector<layout::link>& links,
                 layout::page_model& out);

// ---- extract_fonts.cpp: the fonts of a page

struct font_style {
  std::string name;
  bool bold = false, italic = false, mono = false;
  float space = 0;  // advance of the font's space glyph in em, 0 when it has none (TeX fonts)
};

font_style classify_font(fz_context* ctx, fz_font* font);

// The styles of a page's fonts, each classified once.
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

// Fonts on the page whose glyphs all advance alike are monospace, whatever their flags and names.
void mark_uniform_fonts(const std::vector<rawc>& chars, page_fonts& fonts);

// ---- extract_spans.cpp: one line segment

// Folds accent glyphs drawn over a letter into it (row: indices into chars, sorted by x).
void fold_accents(std::vector<rawc>& chars, std::vector<int>& row);

// Builds one line segment from chars[idx[begin..end)] of a row (sorted by x).
layout::line make_segment(const std::vector<rawc>& chars, const std::vector<int>& idx, size_t begin, size_t end,
                          const page_fonts& fonts);

}  // namespace quire::convert::extract_detail

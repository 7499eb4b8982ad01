// The engine's internal page model, shared by the pipeline stages:
//
//   extract (MuPDF stext + vector paths + images, or OCR words)  → page_model
//   analyze (furniture, columns, tables, lists, code, headings)  → blocks
//   render  (blocks → Markdown)
//
// Coordinates are PDF points in MuPDF's space (origin top-left, y grows downwards).
// Not part of the public API (see convert.hpp); stages include this header.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace quire::convert::layout {

struct rect {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
  float cx() const { return (x0 + x1) / 2; }
  float cy() const { return (y0 + y1) / 2; }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
  void include(const rect& r) {
    if (r.x1 < r.x0) return;  // an "unset" rect adds nothing
    if (x1 < x0) {
      *this = r;
      return;
    }
    x0 = std::min(x0, r.x0), y0 = std::min(y0, r.y0);
    x1 = std::max(x1, r.x1), y1 = std::max(y1, r.y1);
  }
  static rect none() { return {1e9f, 1e9f, -1e9f, -1e9f}; }
};

inline float overlap(float a0, float a1, float b0, float b1) { return std::min(a1, b1) - std::max(a0, b0); }

// A run of characters on one line sharing font, size and style.
struct span {
  std::string text;   // UTF-8, ligatures expanded, NFC-ish normalised by the extractor
  rect box;
  float size = 0;     // font size in points
  float baseline = 0;
  std::string font;   // font name as MuPDF reports it (subset prefix stripped)
  bool bold = false;
  bool italic = false;
  bool mono = false;
  bool superscript = false;  // raised and smaller than its neighbours
  bool subscript = false;    // lowered and smaller than its neighbours
  int link = -1;             // index into page_model::links, or -1
};

// One visual line segment: characters on one baseline with no wide gap between them. Text in
// two columns or two table cells on the same baseline gives two lines.
struct line {
  std::vector<span> spans;
  rect box;
  float size = 0;       // dominant font size (by characters, superscripts excluded)
  float baseline = 0;   // dominant baseline
  int block = -1;       // the MuPDF stext block the line came from (a hint, not a decision)
  int seq = 0;          // drawing order: rank of the line's first character in the content stream
                        // (OCR: the recogniser's line order); equal for all when unknown
  int chars = 0;        // non-space characters
  float char_width = 0; // mean advance of the line's characters (monospace cell width for code)

  std::string text() const {
    std::string s;
    for (const auto& sp : spans) s += sp.text;
    return s;
  }
  bool all(bool span::*flag) const {  // every non-blank span has the flag
    bool any = false;
    for (const auto& sp : spans) {
      if (sp.text.find_first_not_of(' ') == std::string::npos) continue;
      if (!(sp.*flag)) return false;
      any = true;
    }
    return any;
  }
};

// A link annotation (or URI action) and where it sits on the page.
struct link {
  rect box;
  std::string uri;
};

// Straight vector strokes and thin filled rectangles: table rules, underlines, horizontal rules.
struct rule {
  rect box;
  bool horizontal = true;
};

// Small shapes (dots, squares, circles) left of text: list bullets drawn as vectors.
struct mark {
  rect box;
  bool filled = true;
  bool round = false;
};

struct image {
  rect box;
  int asset = -1;  // index into conversion::assets when images are extracted, else -1
};

struct page_model {
  int number = 0;  // 1-based
  float width = 0, height = 0;
  std::vector<line> lines;  // in MuPDF's extraction order
  std::vector<rule> rules;
  std::vector<mark> marks;
  std::vector<rect> fills;  // larger filled rectangles (cell shading, code block backgrounds)
  std::vector<image> images;
  std::vector<link> links;
  bool from_ocr = false;
  int chars = 0;            // non-space characters on the page
  int unread_chars = 0;     // of those, in lines at another angle than the page's text (not laid out)
  int rotation = 0;         // degrees the page was turned so that its text runs left to right
};

// Output blocks, in reading order, before rendering.
enum class block_kind { heading, paragraph, list_item, code, table, image, footnote, rule, quote };

struct table_cell {
  std::string text;  // inline Markdown (emphasis, code, links already rendered; '|' escaped)
};

struct block {
  block_kind kind = block_kind::paragraph;
  int page = 0;
  rect box;
  std::string text;       // inline Markdown for headings, paragraphs, list items, quotes, footnotes
  int level = 0;          // heading level 1..6, list/quote nesting depth (0 = top)
  int in_item = -1;       // paragraph, code: part of the list item open at this depth (-1: none)
  bool ordered = false;   // list_item: numbered
  std::string marker;     // list_item: "1." / "3)" / "-" ; footnote: its label
  std::string language;   // code: info string when known
  std::vector<std::vector<table_cell>> rows;  // table: rows[0] is the header row
  std::vector<float> column_x;                // table: left edge of each column (for merging)
  int quote = 0;           // blockquote depth
  int region = 0;          // the page region (column) the block came from
  bool continues = false;  // paragraph/list item: does not end a sentence
};

}  // namespace quire::convert::layout

// Shared pieces of the table detectors (tables_*.cpp). Not for use outside convert/tables*.
#pragma once

#include <string>
#include <vector>

#include "convert/detail/layout.hpp"
#include "convert/detail/tables.hpp"

namespace quire::convert::tables::detail {

// One word of a line: a piece of one span with an estimated box. Page models carry boxes per span,
// not per character, so word boxes inside a span are interpolated from glyph width classes; that
// is precise enough to tell which column a word sits in, and lets a span that MuPDF merged across
// two adjacent cells ("17.1 monitor") be split between them.
struct word {
  layout::span span;          // text = the word (no spaces); style and link of its span
  int line = -1;              // index into page.lines
  int span_index = -1;        // index into page.lines[line].spans
  bool space_before = false;  // whitespace separated it from the previous word of its line
  bool exact_x0 = true;       // left edge is the span's edge (else interpolated)
  bool exact_x1 = true;       // right edge is the span's edge (else interpolated)
  float cx() const { return (span.box.x0 + span.box.x1) / 2; }
};

std::vector<word> split_words(const layout::page_model& page, int line_index);

// A visual row: lines whose vertical extents overlap, with their words sorted by x.
struct band {
  std::vector<int> lines;
  std::vector<word> words;
  float y0 = 0, y1 = 0, x0 = 0, x1 = 0;
};

// Groups the given lines (indices into page.lines) into bands, top to bottom.
std::vector<band> build_bands(const layout::page_model& page, const std::vector<int>& line_ids);

// A table under construction: cells hold words in reading order.
using cell_words = std::vector<word>;
using word_grid = std::vector<std::vector<cell_words>>;

// Whether a cell line that ends with `end` (a word) and the line under it that starts with `next`
// show a word broken at a hyphen: a letter and a hyphen, then a lower-case letter.
bool broken_at_hyphen(const std::string& end, const std::string& next);

// Inline Markdown of one cell ('|' escaped, no line breaks).
std::string cell_text(const cell_words& words, const layout::page_model& page, const hyphen_rule& hyphenated);

// Builds the output block from a word grid: drops rows and columns that are empty throughout,
// fills `lines` with the page lines all of whose words were placed. Returns false when fewer than
// `min_rows` rows or 2 columns remain.
bool finish_table(const layout::page_model& page, word_grid grid, std::vector<float> column_x,
                  std::size_t min_rows, const hyphen_rule& hyphenated, detected& out);

// Shared constants/heuristics.
bool is_list_marker(const std::string& text);
float median(std::vector<float> v);

// Strategy 1: grids of rules. Marks the lines it consumes in `used`.
std::vector<detected> detect_ruled(const layout::page_model& page, float em, const hyphen_rule& hyphenated,
                                   std::vector<bool>& used);

// Strategy 2: column alignment; horizontal rules in the page serve as row/header hints.
std::vector<detected> detect_aligned(const layout::page_model& page, float em, const hyphen_rule& hyphenated,
                                     std::vector<bool>& used);

}  // namespace quire::convert::tables::detail

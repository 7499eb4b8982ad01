// Table detection: finds tables on a page model and turns them into layout::block{kind = table}.
//
// Two strategies, run in this order on each page:
//   1. ruled  — vector rules (stroked lines, thin filled rectangles) and the edges of shaded cell
//               backgrounds that form a grid of at least 2×2 cells; text is assigned to the cells
//               the grid encloses, so wrapped cell text stays in its cell.
//   2. aligned — tables drawn without a grid (LibreOffice default tables, groff tbl, booktabs-style
//               tables with horizontal rules only): consecutive visual rows whose words leave the
//               same vertical gutters free over at least 3 rows and 2 columns. Paragraphs, lists,
//               code and two-column page layouts are rejected explicitly.
// Pure functions of their inputs: no global state, deterministic.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "convert/detail/layout.hpp"

namespace quire::convert::tables {

struct detected {
  layout::block table;     // kind == table, rows[0] is the header row
  std::vector<int> lines;  // indices into page.lines whose text the table consumed
};

// Whether a hyphen that ends a line of a cell broke one word there (the hyphen goes: "Snap-" over
// "shots") rather than a compound (it stays: "command-" over "line"): `head` is the line's last
// word without its hyphen, `tail` the next line's first word. The engine answers from the words
// the document has shown; without a rule every such hyphen stays. Either way the two lines'
// halves join without a space.
using hyphen_rule = std::function<bool(const std::string& head, const std::string& tail)>;

// Tables on one page, top to bottom. body_font_size: the document's dominant text size (used as
// the unit for gaps and tolerances; the page's median line size is used when it is <= 0).
std::vector<detected> detect(const layout::page_model& page, float body_font_size, const hyphen_rule& hyphenated = {});

// A table at the top of a page that continues `previous` (same column structure; a repeated
// header row is dropped) is appended to it; returns false (and leaves `previous` unchanged) when
// `next` is not a continuation.
bool try_merge(layout::block& previous, const layout::block& next);

// GFM pipe table for a table block: header row, delimiter row, one line per body row. Unescaped
// '|' in cells is escaped and line breaks become spaces, so every row stays on one line.
std::string to_markdown(const layout::block& table);

}  // namespace quire::convert::tables

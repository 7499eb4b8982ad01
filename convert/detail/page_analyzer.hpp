// Stage 2 internals: the per-page analyzer. Its members are defined, stage by stage, in
//   furniture.cpp    running headers, footers and page numbers
//   contents.cpp     tables of contents and indexes (a nested list)
//   regions.cpp      tables and the rules they leave (thematic breaks, quote bars), column
//                    gutters and reading order, visual rows; the per-page driver (run)
//   flow_lines.cpp   a row's pieces → one flow line: style, list marker, quote depth
//   blocks.cpp       the block builder: flow lines → paragraphs, list items, footnotes, ...
//   code_blocks.cpp  listings: which lines are code, and the code's text
//   line_joins.cpp   a block's lines → inline Markdown (hyphenated line ends repaired)
//   headings.cpp     whether a finished paragraph is a heading, and its level
//   outline.cpp      the PDF outline matched against heading-like text
// Not part of the engine's API; only the stage-2 sources include it.
#pragma once

#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "convert/detail/analyze.hpp"
#include "convert/detail/layout.hpp"

namespace quire::convert {

// Top and bottom bands of a page (fractions of its height) where running headers and footers live.
constexpr float kTopBand = 0.12f, kBottomBand = 0.88f;

inline int quarter(float v) { return static_cast<int>(std::lround(v * 4)); }
inline bool in_band(const layout::rect& b, float h) { return b.y1 <= kTopBand * h || b.y0 >= kBottomBand * h; }
inline bool style_bold(const layout::line& l) { return l.all(&layout::span::bold); }
inline bool style_italic(const layout::line& l) { return l.all(&layout::span::italic); }
inline bool style_mono(const layout::line& l) { return l.all(&layout::span::mono); }

// "12", "- 3 -", "(4)", "Page 5 of 9", "iv": a page number on its own.
bool is_page_number(std::string_view text);

// Page numbers can sit above the bottom band (plain TeX puts them about 13 % up): a bare number that
// is the page's topmost or bottommost line within this fraction of either edge may be one.
constexpr float kNumberBand = 0.2f;

// The value of line i of `page` when it is such an outermost bare arabic number, else -1.
int edge_number(const layout::page_model& page, size_t i);

// Depth of a leading section number: "1.2.3 Title" → 3, "4 Title" → 1; 0 when there is none.
int section_depth(const std::string& plain);

// One page's analysis. run() does it all; the members are the stages, in the order run() calls them.
struct page_analyzer {
  using block = layout::block;
  using line = layout::line;
  using rect = layout::rect;
  using span = layout::span;

  // ---- working types
  enum class list_marker { none, bullet, ordered };

  struct fline {
    std::vector<const line*> pieces;  // left to right
    rect box = rect::none();
    float size = 0, baseline = 0;
    bool bold = false, italic = false, mono = false;
    float mono_share = 0;  // share of the non-space characters set in a monospace font
    int chars = 0;
    std::string plain;
    // list marker
    list_marker marker = list_marker::none;
    std::string label;
    char delim = '.';
    float marker_x = 0, text_x = 0;
    size_t strip = 0;          // bytes of `plain`/first piece text taken by a glyph or number marker
    bool marker_piece = false; // the marker is a piece of its own (dropped when rendering)
    int quote = 0;
  };

  struct unit {  // something placed in the page flow
    rect box;
    int piece = -1;  // index into page.lines
    int table = -1;  // index into table_blocks
    int image = -1;  // index into page.images
    int rule = -1;   // index into standalone horizontal rules
  };

  enum class flow_kind { line, table, image, rule };

  struct flow_elem {
    flow_kind kind = flow_kind::line;
    int index = 0;  // into flines, table_blocks, page.images or hrules, by kind
    float y = 0;
  };

  doc_context& dc;
  layout::page_model& page;
  float body, lgap;
  std::vector<char> furniture;
  std::vector<char> claimed;
  std::vector<block> table_blocks;
  std::vector<layout::rule> hrules;  // standalone horizontal rules (not table or box)
  std::vector<layout::rule> vrules;  // standalone vertical rules (quote bars)
  std::vector<fline> flines;
  std::vector<block> out;
  bool found_gutter = false;
  std::set<std::string> page_refs;  // labels of the superscript references on this page
  enum class toc_role : char { none, entry, wrapped_start };  // of a contents/index list
  std::vector<toc_role> toc_line;   // per page line

  page_analyzer(doc_context& d, layout::page_model& p) : dc(d), page(p) {
    body = dc.body_size();
    lgap = dc.line_gap();
    furniture.assign(page.lines.size(), 0);
    claimed.assign(page.lines.size(), 0);
  }

  // ---------------------------------------------------------------- 1. furniture
  // A short line at the very top or bottom of the page, far from everything else: a running
  // header or footer even when it appears only once (first pages often have none).
  bool isolated_at_edge(int i) const;

  void find_furniture();
  bool keeps_run_title(int i);


  // ---------------------------------------------------------------- 1b. notes and contents
  // Superscript numbers after a word (page_refs): a small numbered note is their definition.
  void find_page_refs();
  // Lines of a table of contents or an index: runs of lines ending in a page number after dot
  // leaders or a wide gap (toc_line). They become a nested list instead of a table or headings.
  void find_contents();

  // ---------------------------------------------------------------- 2. ruled tables
  struct seg {
    float pos, a, b;  // horizontal: y, x0, x1; vertical: x, y0, y1
  };

  static std::vector<seg> merge_segments(std::vector<seg> s);

  // Rules that form boxes or grids (tables, framed code) are taken; the others are thematic
  // breaks (horizontal) or blockquote bars (vertical).
  void classify_rules();

  // Tables (convert/detail/tables.hpp) on the page without its furniture, column by column on a page set
  // in columns; their text leaves the flow.
  void find_tables();

  // Tables among `lines` (indices into page.lines) and the vector shapes inside `clip`.
  void detect_tables(const std::vector<int>& lines, const rect& clip);

  // ---------------------------------------------------------------- 3. columns
  // Finds a vertical whitespace gutter through `us`; returns false when there is none.
  bool find_gutter(const std::vector<unit>& us, float& g0, float& g1) const;

  // Splits `us` at gutters (down to max_depth levels of nested columns) into regions in reading
  // order: each column top to bottom, units across the gutter between column sections.
  void order_units(std::vector<unit> us, std::vector<std::vector<unit>>& regions, int depth, int max_depth = 4);

  // ---------------------------------------------------------------- 4. rows, unruled tables, lines
  struct row_t {
    std::vector<int> pieces;  // indices into page.lines, left to right
    rect box = rect::none();
  };

  std::vector<row_t> make_rows(const std::vector<int>& pieces) const;

  fline make_fline(const std::vector<int>& pieces) const;

  // ---------------------------------------------------------------- markers and quotes
  void detect_marker(fline& f) const;

  int quote_depth(const fline& f) const;

  // ---------------------------------------------------------------- 5. blocks
  // spans of a group of lines, joined with spaces; hyphenated line ends repaired
  std::vector<span> join_spans(const std::vector<const fline*>& lines, bool strip_marker) const;

  std::string inline_md(const std::vector<const fline*>& lines, bool strip_marker, bool emphasis,
                        bool block_start = true);

  std::string code_text(const std::vector<const fline*>& lines) const;

  bool outline_has(const std::string& plain) const;
  // the outline lists this title once, on a page well after this one (a contents list's line)
  bool outline_elsewhere(const std::string& plain) const;

  // outline entry for a heading-like text on this page
  outline_entry* outline_match(const std::string& plain);

  // the block builder: one region's flow elements → blocks
  enum class open_block { none, paragraph, list_item, code };
  struct builder_state {
    open_block kind = open_block::none;
    std::vector<const fline*> lines;
    int in_item = -1;  // paragraph, code: the open list item it belongs to (item_under)
  };
  // The deepest open list item whose text starts where `f` does, or further right: a block that
  // starts there (a second paragraph, a listing) belongs to that item; -1 for none.
  int item_under(const fline& f) const;

  float region_right = 0, region_left = 0;

  bool para_final(const fline& f) const;

  bool note_label(const std::string& label, const rect& box, std::string_view rest) const;

  bool continues_paragraph(const std::vector<const fline*>& blk, const fline& f) const;

  void emit_paragraph(const std::vector<const fline*>& lines, int region);

  // headings.cpp: is this finished paragraph a heading, and at what level (0 = not a heading)
  struct heading_info {
    float size = 0;
    bool bold = false, italic = false;
    bool outlined = false;
  };
  int heading_level(const std::vector<const fline*>& lines, const std::string& plain, heading_info& info);
  // a line set wholly in a code font that names a section (an option or API heading such as
  // `workspace`), not a one-line listing: why it is one (see headings.cpp)
  enum class code_heading { none, in_outline, bold_name };
  code_heading code_font_heading(const fline& f) const;
  // a run-in heading (LaTeX's \paragraph): a bold lead-in, a wide space, then the paragraph's
  // text, which wraps back under the lead-in; emits both and returns true, else emits nothing
  bool emit_run_in(const std::vector<const fline*>& lines, int region);
  // a heading right under the previous one that belongs to it ("Chapter 1" / "Introduction")
  bool merge_heading(block& b, const heading_info& info);
  heading_info last_heading;
  int last_heading_block = -1;  // index in `out` of the last heading emitted
  // headings that only their weight sets apart from the text (one bold line of body size, not in
  // the outline): a definition list's terms look the same until the page shows their
  // descriptions indented under them
  struct bold_line_heading {
    int block;  // index in `out`
    float size;
  };
  std::vector<bold_line_heading> bold_line_headings;
  void demote_definition_terms();
  // one-line paragraphs that are the title of an outline entry on a later page: three or more in a
  // row are a contents list without page numbers (a word processor's linked contents)
  struct outline_title_line {
    int block;  // index in `out`
    std::string plain;
  };
  std::vector<outline_title_line> outline_title_lines;
  void list_unnumbered_contents();

  // contents.cpp: a contents/index entry as a list item
  bool toc_entry(const fline& f) const;
  void emit_toc_entry(const fline& f, const std::string& wrapped, int region);
  std::vector<float> toc_indents;  // left edges of the contents entries on the page, sorted
  std::string toc_wrap;  // the first line(s) of a wrapped entry, waiting for the line with its number

  void emit_item(const std::vector<const fline*>& lines, int level, int region);

  void emit_code(const std::vector<const fline*>& lines, int region);

  // A line that reads as code: every span monospace, or mostly monospace and no list item.
  bool code_like(const fline& f) const;

  // Whether flow line `f` continues the code block `blk` (a comment or an italic placeholder in
  // a proportional font stays in the listing when monospace lines follow it at the same pitch).
  bool continues_code(const std::vector<const fline*>& blk, const fline& f, const fline* next) const;
  bool code_line_continues(const fline& f) const;  // ends in a listing's line-break mark
  bool code_line_resumes(const fline& f) const;    // starts with one (the rest of a broken line)
  float code_wrap_edge(const std::vector<const fline*>& lines) const;  // where its long lines wrap, 0 unknown
  float text_right = 0;  // right edge of the region's prose (build_blocks)

  void build_blocks(const std::vector<flow_elem>& flow, int region);

  int list_level(const fline& f);

  // ---------------------------------------------------------------- driver
  void run();
};

}  // namespace quire::convert

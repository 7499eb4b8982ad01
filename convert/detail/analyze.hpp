// Stage 2 of the pipeline: page models → blocks in reading order.
//
// The engine streams pages through a small look-ahead window. Each page is first *observed*
// (document statistics: body font size, line spacing, heading styles, running header/footer
// candidates, vocabulary for hyphen repair), and analyzed once the window holds the pages after
// it, so the decisions that need other pages (furniture, heading levels) see them. Everything
// kept across pages is a bounded summary; page models are dropped once analyzed.
#pragma once

#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "convert/detail/layout.hpp"

namespace quire::convert {

struct outline_entry {
  std::string key;   // text::key of the title
  std::string bare;  // the key without its section number (unnumbered_key), computed once
  int level = 1;    // 1-based depth in the outline
  int page = 0;     // 1-based target page, 0 when unknown
  float y = -1;     // target y on that page, -1 when unknown
  bool used = false;
};

// A title key without its section number ("2 1 description" → "description", "chapter 3 tools"
// → "tools", "a 2 glossary" → "glossary"): outlines often leave the numbers out, or keep only them.
std::string unnumbered_key(const std::string& key);

struct heading_style {
  float size = 0;
  bool bold = false, italic = false;
  int count = 0;   // times seen as a candidate
  int level = 0;   // assigned when first emitted (0 = not yet)
  unsigned outline_levels = 0;  // bit L: the outline lists a heading in this style at level L
  // the same style: sizes within 0.3 pt, the same weight and slant
  bool is(float sz, bool b, bool i) const { return std::fabs(size - sz) < 0.3f && bold == b && italic == i; }
};

class doc_context {
 public:
  int page_count = 0;
  std::vector<outline_entry> outline;

  // Stage 2a: called for every page as it enters the window, in page order.
  void observe(const layout::page_model& page);
  // Stage 2b: called for every page, in page order, once the pages after it were observed.
  std::vector<layout::block> analyze(layout::page_model& page);

  // of the page analyzed last: its characters outside the running headers and footers
  int content_chars = 0;

  float body_size() const;
  float line_gap() const;  // typical vertical gap between lines of a body paragraph
  bool known_word(const std::string& lower) const { return words_.count(lower) != 0; }
  std::size_t vocabulary_size() const { return words_.size(); }
  // Whether a hard hyphen at a line end between `head` (the text before it, back to a space or an
  // opening bracket or quote) and `tail` (what the next line starts with) broke one word there
  // (line_joins.cpp says on what evidence).
  bool hyphen_breaks_word(const std::string& head, const std::string& tail) const;
  // Whether `head` + `tail` (a word broken at a line-end hyphen before a capital: "EEP" + "ROM") is
  // a word the document shows whole.
  bool known_joined(const std::string& head, const std::string& tail) const;

  // refs seen so far (superscript numbers in body text), for telling footnotes from lists
  std::set<std::string> footnote_refs;
  // the open (nested) lists, outermost first: where each level's markers stand and where its
  // items' text starts (a second paragraph or a listing of the item starts there), measured from
  // the left edge of the item's region, so that a list going on in the next column or on the next
  // page keeps its depth; survives page breaks
  struct open_list {
    float marker_x = 0, text_x = 0;
  };
  std::vector<open_list> list_stack;
  // level given to headings numbered to each depth ("1.2" → depth 2), first come first kept
  std::map<int, int> section_levels;
  // level of the last heading the outline listed (0 before the first)
  int last_outlined_level = 0;
  // heading styles (size in quarter points, bold, italic) used by headings on lines of their own:
  // a run-in heading in one of them ranks below them
  std::set<std::tuple<int, bool, bool>> display_heading_styles;
  // definition lists seen so far: their terms' size (quarter points) and how far the descriptions
  // stand indented from the terms (whole points), so that a page with one more such pair follows suit
  std::set<std::pair<int, int>> definition_list_styles;
  // the last page that held a table of contents or an index (0 before the first): a list that
  // ends a few entries into the next page is still one
  int last_contents_page = 0;
  // the column gutter of the previous page (x0 == x1 when it had none)
  float gutter_x0 = 0, gutter_x1 = 0;

 private:
  friend struct page_analyzer;
  std::map<int, long> size_chars_;   // size (quarter points) → characters, monospace aside
  std::map<int, long> mono_chars_;   // the same for monospace lines
  std::map<int, long> gap_count_;    // body line gap (quarter points) → count
  struct band_hit {
    int page;
    float y;
  };
  std::unordered_map<std::string, std::vector<band_hit>> band_;  // signature → where it was seen
  // page number printed at the outer edge of a page → pages whose index minus that number is the key
  // (the offset between the printed and the physical page sequence: front matter, a cover page)
  std::map<int, int> number_offsets_;
  std::vector<heading_style> styles_;
  std::unordered_set<std::string> words_;
  int observed_pages_ = 0;

  void note_heading_style(float size, bool bold, bool italic);
  int level_for(float size, bool bold, bool italic);
  bool repeated_in_band(const std::string& sig, int page, float y) const;
  // whether the band text `sig` is set on pages that are not one run of consecutive pages (odd/even
  // heads, a head broken by chapter openings), or on half the pages of the document
  bool recurs_apart(const std::string& sig) const;
  // whether the band text `sig` at height y on `page` is not on the page before (at that height)
  bool starts_run(const std::string& sig, int page, float y) const;
  // whether `value` printed on page `page` follows the page sequence that most pages show
  bool in_page_sequence(int page, int value) const;
};

}  // namespace quire::convert

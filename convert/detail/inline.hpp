// Inline Markdown from styled spans: emphasis, inline code, links, footnote references,
// escaping. Used for paragraph, heading, list item and table cell text.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "convert/detail/layout.hpp"

namespace quire::convert {

struct inline_options {
  bool emphasis = true;     // off in headings (the heading style is the emphasis)
  bool block_start = true;  // escape what would start a block at the beginning
  bool table_cell = false;  // escape '|'
  // The page the spans come from. When set, a reference is written as a placeholder
  // (footnote_ref_placeholder) that the Markdown writer resolves once it knows whether a note
  // with that label exists; without a page it is written as `[^n]` at once.
  int page = 0;
};

// The placeholder for a superscript reference `label` on `page`: "\x1E" page ":" label "\x1F".
// The extractor drops control characters, so these bytes never come from a PDF's text.
constexpr char kRefOpen = '\x1E', kRefClose = '\x1F';
std::string footnote_ref_placeholder(int page, const std::string& label);

// Renders `spans` (already joined: the caller puts the spaces between lines and pieces).
// Superscript numbers right after a word become footnote references (see inline_options::page);
// their labels are added to `refs`.
std::string render_inline(const std::vector<layout::span>& spans, const std::vector<layout::link>& links,
                          const inline_options& options, std::set<std::string>* refs);

// The same for text that does not start a block (table cells, captions): spans of `page` with
// emphasis, code, links and escaping; '|' is left to the caller.
std::string render_inline(const std::vector<layout::span>& spans, const layout::page_model& page);

}  // namespace quire::convert

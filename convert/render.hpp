// Stage 3 of the pipeline: blocks → Markdown text.
//
// The writer holds back the last block it was given, so that what a page or column break
// split can be joined again: a table continued on the next page (its repeated header row
// dropped), a code block, a paragraph or list item that ends mid-sentence. Footnote
// definitions are collected and written at the end of the document.
//
// Two decisions wait for the end of the document, when the whole output is known:
// - heading levels are renumbered without gaps (a "#" is never followed by a "###"), keeping
//   peers at one level;
// - a superscript reference (a placeholder from render_inline) becomes `[^label]` only when a
//   note with its number sits on its own page, or in a list of notes further on (endnotes);
//   otherwise it stays text (an exponent). Labels are made unique across the document.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/layout.hpp"

namespace quire::convert {

class markdown_writer {
 public:
  markdown_writer(std::string& out, const std::vector<asset>& assets, std::string asset_prefix)
      : out_(out), assets_(assets), prefix_(std::move(asset_prefix)) {}

  void add(std::vector<layout::block> blocks);
  void finish();

 private:
  std::string& out_;
  const std::vector<asset>& assets_;
  std::string prefix_;
  std::optional<layout::block> pending_;
  struct note {
    int page = 0;
    std::string label, text;
  };
  std::vector<note> footnotes_;
  std::vector<std::pair<size_t, int>> headings_;  // offset of the heading's '#' run in out_, level
  std::vector<size_t> list_indent_;  // content offset of each open list level
  bool last_was_item_ = false;
  int last_quote_ = 0;
  bool wrote_any_ = false;

  bool merge_into_pending(layout::block& b);
  void renumber_headings();
  void resolve_footnotes();
  void write(const layout::block& b);
};

}  // namespace quire::convert

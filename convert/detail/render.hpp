// Stage 3 of the pipeline: blocks → the document model (document.hpp), whose blocks carry their
// Markdown; to_markdown (markdown.cpp) joins them into the document's Markdown.
//
// The builder holds back the last block it was given, so that what a page or column break
// split can be joined again: a table continued on the next page (its repeated header row
// dropped), a code block, a paragraph or list item that ends mid-sentence. Footnote
// definitions are collected and placed at the end of the document.
//
// Two decisions wait for the end of the document, when every block is known:
// - heading levels are renumbered without gaps (a "#" is never followed by a "###"), keeping
//   peers at one level;
// - a superscript reference (a placeholder from render_inline) becomes `[^label]` only when a
//   note with its number sits on its own page, or in a list of notes further on (endnotes);
//   otherwise it stays text (an exponent). Labels are made unique across the document.
// Consecutive list items (at one blockquote depth) become one list block.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/layout.hpp"

namespace quire::convert {

class document_builder {
 public:
  document_builder(const std::vector<asset>& assets, std::string asset_prefix)
      : assets_(assets), prefix_(std::move(asset_prefix)) {}

  void add(std::vector<layout::block> blocks);
  // Called once, after the last page: renumbers headings, resolves references, builds the blocks.
  std::vector<document_block> finish();

 private:
  // A block as the analysis gave it, with where each of its pieces lies.
  struct held {
    layout::block b;
    std::vector<block_part> parts;
  };
  const std::vector<asset>& assets_;
  std::string prefix_;
  std::optional<held> pending_;
  std::vector<held> body_;
  std::vector<held> footnotes_;

  bool merge_into_pending(const layout::block& b);
  void renumber_headings();
};

}  // namespace quire::convert

// The document's Markdown from its model (document.hpp): the blocks' own Markdown joined by
// separators that depend only on the two blocks they stand between.
#include <algorithm>

#include "convert/document.hpp"

namespace quire::convert {

std::string_view to_string(block_type t) {
  switch (t) {
    case block_type::heading: return "heading";
    case block_type::paragraph: return "paragraph";
    case block_type::list: return "list";
    case block_type::code: return "code";
    case block_type::table: return "table";
    case block_type::footnote: return "footnote";
    case block_type::caption: return "caption";
    case block_type::image: return "image";
    case block_type::rule: return "rule";
    case block_type::quote: return "quote";
  }
  return "paragraph";
}

std::string block_separator(const document_block& previous, const document_block& next) {
  // footnote definitions are one a line; anything else in the notes section has a blank line
  if (previous.type == block_type::footnote && next.type == block_type::footnote && previous.referenced &&
      next.referenced)
    return "\n";
  // two quoted blocks in a row stay in one blockquote: the blank line between them is quoted
  if (previous.quote_depth > 0 && next.quote_depth > 0) {
    std::string sep = "\n";
    for (int i = 0; i < std::min(previous.quote_depth, next.quote_depth); ++i) sep += i ? " >" : ">";
    return sep + "\n";
  }
  return "\n\n";
}

std::string to_markdown(const document& doc, const markdown_options& opts) {
  std::string out;
  int marked = doc.pages.empty() ? 0 : doc.pages.front().number - 1;  // the last page with a marker
  for (size_t i = 0; i < doc.blocks.size(); ++i) {
    const document_block& b = doc.blocks[i];
    const bool marker = opts.page_markers && b.type != block_type::footnote && b.page() > marked;
    if (i > 0) out += marker ? std::string("\n\n") : block_separator(doc.blocks[i - 1], b);
    if (marker) {
      for (; marked < b.page(); ++marked) out += "<!-- page " + std::to_string(marked + 1) + " -->\n\n";
    }
    out += b.markdown;
  }
  if (!doc.blocks.empty()) out += "\n";
  return out;
}

}  // namespace quire::convert

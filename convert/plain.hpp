// Plain text from the inline Markdown the engine writes (render_inline, escape_markdown): the
// document model gives every block its text without Markdown syntax, for search and embeddings.
#pragma once

#include <string>
#include <string_view>

#include "convert/document.hpp"

namespace quire::convert {

// Removes backslash escapes, emphasis delimiters, code span fences, link and autolink syntax
// (keeping the link text, or the address of an autolink). Footnote references ("[^1]") stay.
// `verbatim` (code blocks): the text is returned as it is.
std::string plain_text(std::string_view inline_markdown, bool verbatim);

// The document as plain text (the service's result.txt): each block's text in reading order (list
// items and table rows on lines of their own, cells tab-separated, code verbatim), blocks apart by
// a blank line, ending in one newline; a footnote keeps its label as the Markdown writes it
// ("[^1]: …" where cited, "1 …" where not). Blocks without text (images, rules) are left out.
std::string document_text(const document& doc);

}  // namespace quire::convert

// Plain text from the inline Markdown the engine writes (render_inline, escape_markdown): the
// document model gives every block its text without Markdown syntax, for search and embeddings.
#pragma once

#include <string>
#include <string_view>

namespace quire::convert {

// Removes backslash escapes, emphasis delimiters, code span fences, link and autolink syntax
// (keeping the link text, or the address of an autolink). Footnote references ("[^1]") stay.
// `verbatim` (code blocks): the text is returned as it is.
std::string plain_text(std::string_view inline_markdown, bool verbatim);

}  // namespace quire::convert

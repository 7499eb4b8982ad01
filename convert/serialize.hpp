// quire::convert — JSON forms of a conversion (schemas: docs/document.schema.json and
// docs/chunks.schema.json). Both are built from conversion::doc, like the Markdown.
#pragma once

#include <string>
#include <vector>

#include "convert/convert.hpp"

namespace quire::convert {

// Bumped when a field changes meaning or goes away (adding fields does not bump it).
constexpr int document_schema_version = 1;

// The document model with the conversion's figures: markdown, page_count, pages (number, size,
// per-page stats), blocks, warnings, assets, timings. Indented by 2, ending in a newline.
std::string document_json(const conversion& c);

// The chunks of make_chunks(c.doc, opts), with the options that made them.
std::string chunks_json(const std::vector<chunk>& chunks, const chunk_options& opts);

}  // namespace quire::convert

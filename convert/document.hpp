// quire::convert — the document model: what the engine found, in reading order.
//
// One conversion builds one `document`; the Markdown, the JSON and the chunks are all derived
// from it (to_markdown, to_json, make_chunks), so they cannot disagree. Each block carries its
// own Markdown fragment; the whole Markdown is those fragments joined by the separators that
// to_markdown derives from the blocks' types, so a block's `markdown` is byte-for-byte the text
// the document's Markdown holds for it.
//
// Coordinates are PDF points, origin at the top-left corner of the page, y growing downwards
// (x0, y0, x1, y1). Page furniture (running headers and footers, page numbers) is removed before
// blocks are made: no block is furniture.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace quire::convert {

struct bbox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

// Where a block (or a piece of one) lies: a block continued across a page or column break (a
// table whose rows go on over the page, a paragraph split by a page break) has several parts.
struct block_part {
  int page = 0;  // 1-based
  bbox box;
};

enum class block_type { heading, paragraph, list, code, table, footnote, caption, image, rule, quote };
std::string_view to_string(block_type t);  // "heading", "paragraph", ...

struct list_item {
  std::string text;      // plain text (Markdown syntax removed)
  std::string markdown;  // the item's line(s) in the document's Markdown, marker and indent included
  std::string marker;    // "-", "1.", "a)" ...
  bool ordered = false;
  int level = 0;         // nesting depth, 0 = top
  std::vector<block_part> parts;  // at least one
};

struct table_cell {
  std::string text;      // plain text
  std::string markdown;  // inline Markdown, as in the pipe table
};

struct document_block {
  int id = 0;            // index in document::blocks
  block_type type = block_type::paragraph;
  std::vector<block_part> parts;  // at least one; parts[0] is where the block begins
  std::string text;      // plain text: no Markdown syntax (table cells tab-separated, rows and
                         // list items on their own lines, code verbatim)
  std::string markdown;  // the block's Markdown, exactly as it appears in the document's Markdown
  int level = 0;         // heading: 1..6 (after renumbering, as in the Markdown)
  std::vector<std::string> heading_path;  // plain texts of the enclosing headings, outermost first
  int quote_depth = 0;   // blockquote nesting (0 = not quoted)
  std::string language;  // code: info string when known
  std::vector<list_item> items;                // list
  std::vector<std::vector<table_cell>> rows;   // table: rows[0] is the header row
  std::string label;     // footnote: its label as written ("1", "1-2" when made unique)
  bool referenced = false;  // footnote: cited in the text (a [^label] definition); false: kept as text
  std::string asset;     // image: the asset's file name

  int page() const { return parts.empty() ? 0 : parts.front().page; }
};

struct page_info {
  int number = 0;  // 1-based
  float width = 0, height = 0;  // points
};

struct document {
  std::vector<page_info> pages;         // the pages converted, in order
  std::vector<document_block> blocks;   // reading order; footnote definitions last, as in the Markdown
};

struct markdown_options {
  // `<!-- page N -->` on a line of its own before the first block that begins on page N (and
  // for the pages before it that have none). Off by default: the Markdown is then unchanged.
  bool page_markers = false;
};

// The document's Markdown: the blocks' fragments with their separators, ending in one newline
// (empty for a document without blocks).
std::string to_markdown(const document& doc, const markdown_options& opts = {});

// The separator to_markdown writes between two consecutive blocks.
std::string block_separator(const document_block& previous, const document_block& next);

// Heading-aware chunks for retrieval. Each chunk is a run of whole blocks that starts at a
// heading (or where the previous chunk reached the limit); tables, code blocks and every other
// block are split only when a block alone is over the limit (then at line breaks, else at spaces).
// The chunks' texts, concatenated, are exactly to_markdown(doc) without page markers.
enum class chunk_unit { characters, tokens };  // tokens: approximated as characters / 4
struct chunk_options {
  int limit = 2000;
  chunk_unit unit = chunk_unit::characters;
};

struct chunk {
  int id = 0;
  std::string text;                       // a slice of the Markdown (with the separator after it)
  std::vector<std::string> heading_path;  // the section the chunk belongs to, its own first heading included
  std::vector<int> pages;                 // pages its blocks lie on, ascending
  std::vector<int> block_ids;             // blocks it holds (a split block is in several chunks)
};

std::vector<chunk> make_chunks(const document& doc, const chunk_options& opts = {});

// Length of `s` in the unit (code points, or approximate tokens).
int measure(std::string_view s, chunk_unit unit);

}  // namespace quire::convert

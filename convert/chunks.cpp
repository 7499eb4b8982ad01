// Heading-aware chunks for retrieval (document.hpp: make_chunks). Each block contributes its
// Markdown and the separator after it, so the chunks' texts partition the Markdown exactly.
#include <algorithm>
#include <set>

#include "convert/document.hpp"

namespace quire::convert {
namespace {

int code_points(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Byte offset in `s`, from `from`, after `count` code points (or the end).
size_t advance(std::string_view s, size_t from, int count) {
  size_t i = from;
  while (i < s.size() && count > 0) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --count;
  }
  return i;
}

// `text` cut into pieces of at most `max_chars` code points, at the last line break that fits,
// else the last space, else wherever the limit falls (never inside a UTF-8 sequence).
std::vector<std::string> split(std::string_view text, int max_chars) {
  std::vector<std::string> pieces;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = advance(text, at, max_chars);
    if (end < text.size()) {
      const std::string_view window = text.substr(at, end - at);
      size_t cut = window.rfind('\n');
      if (cut == std::string_view::npos || cut == 0) cut = window.rfind(' ');
      if (cut != std::string_view::npos && cut > 0) end = at + cut + 1;
    }
    pieces.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return pieces;
}

struct open_chunk {
  chunk c;
  int size = 0;          // code points in c.text
  bool content = false;  // holds something other than headings
  std::set<int> pages;
};

}  // namespace

int measure(std::string_view s, chunk_unit unit) {
  const int chars = code_points(s);
  return unit == chunk_unit::tokens ? (chars + 3) / 4 : chars;
}

std::vector<chunk> make_chunks(const document& doc, const chunk_options& opts) {
  const int max_chars = std::max(1, opts.unit == chunk_unit::tokens ? opts.limit * 4 : opts.limit);
  std::vector<chunk> out;
  open_chunk cur;
  auto flush = [&] {
    if (cur.c.text.empty()) return;
    cur.c.id = static_cast<int>(out.size());
    cur.c.pages.assign(cur.pages.begin(), cur.pages.end());
    out.push_back(std::move(cur.c));
    cur = {};
  };
  auto section_of = [](const document_block& b) {
    std::vector<std::string> path = b.heading_path;
    if (b.type == block_type::heading) path.push_back(b.text);
    return path;
  };
  auto take = [&](const document_block& b, const std::string& text) {
    if (cur.c.text.empty()) cur.c.heading_path = section_of(b);
    cur.size += code_points(text);
    cur.c.text += text;
    if (cur.c.block_ids.empty() || cur.c.block_ids.back() != b.id) cur.c.block_ids.push_back(b.id);
    for (const auto& p : b.parts) cur.pages.insert(p.page);
    for (const auto& it : b.items)
      for (const auto& p : it.parts) cur.pages.insert(p.page);
    if (b.type != block_type::heading) cur.content = true;
  };
  for (size_t i = 0; i < doc.blocks.size(); ++i) {
    const document_block& b = doc.blocks[i];
    std::string unit = b.markdown + (i + 1 < doc.blocks.size() ? block_separator(b, doc.blocks[i + 1]) : "\n");
    // a heading opens a chunk, unless the open one holds nothing but headings (its parents)
    if (b.type == block_type::heading && cur.content) flush();
    // notes are not part of the last section
    if (b.type == block_type::footnote && (i == 0 || doc.blocks[i - 1].type != block_type::footnote)) flush();
    const int size = code_points(unit);
    if (!cur.c.text.empty() && cur.size + size > max_chars) flush();
    if (size <= max_chars) {
      take(b, unit);
      continue;
    }
    // alone over the limit: the only case where a block is split
    auto pieces = split(unit, max_chars);
    for (size_t k = 0; k < pieces.size(); ++k) {
      take(b, pieces[k]);
      if (k + 1 < pieces.size()) flush();
    }
  }
  flush();
  return out;
}

}  // namespace quire::convert

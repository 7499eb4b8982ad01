#include "convert/detail/render.hpp"

#include "convert/detail/footnote_refs.hpp"
#include "convert/detail/inline.hpp"
#include "convert/detail/tables.hpp"
#include "convert/detail/text.hpp"
#include "convert/plain.hpp"

#include <algorithm>

namespace quire::convert {

using layout::block;
using layout::block_kind;

namespace {

std::string quote_prefix(int depth) {
  std::string p;
  for (int i = 0; i < depth; ++i) p += "> ";
  return p;
}

// Prefixes every line of `s` with `prefix` (lines that would be blank get the prefix trimmed).
std::string prefix_lines(const std::string& s, const std::string& prefix) {
  std::string out;
  size_t start = 0;
  std::string trimmed = prefix;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string ln = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    out += (ln.empty() ? trimmed : prefix) + ln;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

bbox to_bbox(const layout::rect& r) {
  if (r.x1 < r.x0 || r.y1 < r.y0) return {};  // never set
  return {r.x0, r.y0, r.x1, r.y1};
}

// A block's Markdown (reference placeholders still in it), blockquote prefix included. `indent`
// is the list state: the content offset of each open list level (cleared where a list starts).
std::string block_markdown(const block& b, const std::vector<asset>& assets, const std::string& prefix,
                           std::vector<size_t>& indent) {
  std::string body;
  switch (b.kind) {
    case block_kind::heading:
      body = std::string(std::clamp(b.level, 1, 6), '#') + " " + b.text;
      break;
    case block_kind::paragraph:
    case block_kind::quote:
    case block_kind::footnote:
      body = b.text;
      break;
    case block_kind::list_item: {
      size_t level = std::min<size_t>(b.level, indent.size());
      indent.resize(level);
      size_t spaces = 0;
      for (size_t w : indent) spaces += w;
      indent.push_back(b.marker.size() + 1);
      body = std::string(spaces, ' ') + b.marker + " " + b.text;
      break;
    }
    case block_kind::code: {
      std::string fence = "```";
      while (b.text.find(fence) != std::string::npos) fence += '`';
      body = fence + "\n" + b.text + "\n" + fence;
      break;
    }
    case block_kind::table:
      body = tables::to_markdown(b);
      while (!body.empty() && body.back() == '\n') body.pop_back();
      break;
    case block_kind::image:
      if (b.level >= 0 && b.level < static_cast<int>(assets.size())) body = "![](" + prefix + assets[b.level].name + ")";
      break;
    case block_kind::rule:
      body = "---";
      break;
  }
  // a paragraph or listing inside a list item sits at the item's content offset
  if ((b.kind == block_kind::paragraph || b.kind == block_kind::code) && b.in_item >= 0 &&
      static_cast<size_t>(b.in_item) < indent.size()) {
    indent.resize(static_cast<size_t>(b.in_item) + 1);
    size_t spaces = 0;
    for (size_t w : indent) spaces += w;
    body = prefix_lines(body, std::string(spaces, ' '));
  }
  return prefix_lines(body, quote_prefix(b.quote));
}

block_type type_of(block_kind k) {
  switch (k) {
    case block_kind::heading: return block_type::heading;
    case block_kind::paragraph: return block_type::paragraph;
    case block_kind::list_item: return block_type::list;
    case block_kind::code: return block_type::code;
    case block_kind::table: return block_type::table;
    case block_kind::image: return block_type::image;
    case block_kind::footnote: return block_type::footnote;
    case block_kind::rule: return block_type::rule;
    case block_kind::quote: return block_type::quote;
  }
  return block_type::paragraph;
}

}  // namespace

bool document_builder::merge_into_pending(const block& b) {
  if (!pending_) return false;
  block& p = pending_->b;
  const bool boundary = b.page != p.page || b.region != p.region;
  if (!boundary) return false;
  bool merged = false;
  if (p.kind == block_kind::table && b.kind == block_kind::table && tables::try_merge(p, b)) {
    merged = true;
  } else if (p.kind == block_kind::code && b.kind == block_kind::code && p.quote == b.quote) {
    p.text += "\n" + b.text;
    merged = true;
  } else if ((p.kind == block_kind::paragraph || p.kind == block_kind::list_item) && p.continues &&
             b.kind == block_kind::paragraph && p.quote == b.quote && !b.text.empty()) {
    const int first = text::first_cp(b.text);
    if (text::is_lower(first) || text::is_digit(first) || first == '(' || first == ',') {
      p.text += " " + b.text;
      p.continues = b.continues;
      merged = true;
    }
  }
  if (!merged) return false;
  p.page = b.page;
  p.region = b.region;
  pending_->parts.push_back({b.page, to_bbox(b.box)});
  return true;
}

void document_builder::add(std::vector<block> blocks) {
  for (auto& b : blocks) {
    if (b.kind == block_kind::footnote) {
      footnotes_.push_back({b, {{b.page, to_bbox(b.box)}}});
      continue;
    }
    if (merge_into_pending(b)) continue;
    if (pending_) body_.push_back(std::move(*pending_));
    block_part first{b.page, to_bbox(b.box)};
    pending_ = held{std::move(b), {first}};
  }
}

// Levels as a tree: a heading goes one below the nearest earlier heading of a smaller original
// level, so gaps close (1, 4, 4, 2, 5 → 1, 2, 2, 2, 3) and peers stay peers. A heading with no
// such parent keeps its level: the document may start below its (undetected) title.
void document_builder::renumber_headings() {
  std::vector<std::pair<int, int>> stack;  // (original, new) levels of the open headings
  for (auto& h : body_) {
    if (h.b.kind != block_kind::heading) continue;
    const int level = std::clamp(h.b.level, 1, 6);
    while (!stack.empty() && stack.back().first >= level) stack.pop_back();
    const int fixed = stack.empty() ? level : std::min(stack.back().second + 1, 6);
    stack.push_back({level, fixed});
    h.b.level = fixed;
  }
}

std::vector<document_block> document_builder::finish() {
  if (pending_) body_.push_back(std::move(*pending_));
  pending_.reset();
  renumber_headings();

  // Markdown of every body block, list items grouped (with the placeholders of references)
  std::vector<document_block> out;
  std::vector<size_t> indent;
  for (size_t i = 0; i < body_.size(); ++i) {
    const block& b = body_[i].b;
    const bool item = b.kind == block_kind::list_item;
    // a paragraph or listing of an item (its second paragraph, a command under it) stays in the list
    const bool in_item = (b.kind == block_kind::paragraph || b.kind == block_kind::code) && b.in_item >= 0;
    const bool after_list = i > 0 && body_[i - 1].b.quote == b.quote &&
                            (body_[i - 1].b.kind == block_kind::list_item || body_[i - 1].b.in_item >= 0);
    const bool same_list = (item || in_item) && !out.empty() && out.back().type == block_type::list && after_list;
    if (!same_list) indent.clear();
    std::string md = block_markdown(b, assets_, prefix_, indent);
    if (same_list) {
      // an item's own blocks are set apart by a blank line (a loose list), its lines are not
      out.back().markdown += (in_item || body_[i - 1].b.in_item >= 0 ? "\n\n" : "\n") + md;
    } else {
      document_block d;
      d.type = type_of(b.kind);
      d.quote_depth = b.quote;
      d.markdown = md;
      if (b.kind == block_kind::heading) d.level = b.level;
      if (b.kind == block_kind::code) d.language = b.language;
      if (b.kind == block_kind::image && b.level >= 0 && b.level < static_cast<int>(assets_.size()))
        d.asset = assets_[b.level].name;
      out.push_back(std::move(d));
    }
    document_block& d = out.back();
    if (item) {
      list_item it;
      it.markdown = std::move(md);
      it.text = b.text;  // plain text once references are resolved
      it.marker = b.marker;
      it.ordered = b.ordered;
      it.level = b.level;
      it.parts = body_[i].parts;
      d.items.push_back(std::move(it));
    } else if (same_list) {
      list_item& it = d.items.back();
      it.markdown += "\n\n" + md;
      it.text += "\n" + b.text;
      it.parts.insert(it.parts.end(), body_[i].parts.begin(), body_[i].parts.end());
    } else {
      d.text = b.text;
      for (const auto& row : b.rows) {
        d.rows.emplace_back();
        for (const auto& c : row) d.rows.back().push_back({c.text, c.text});
      }
    }
    for (const auto& p : body_[i].parts) {
      if (!d.parts.empty() && (item || same_list) && d.parts.back().page == p.page) {
        bbox& u = d.parts.back().box;
        u = {std::min(u.x0, p.box.x0), std::min(u.y0, p.box.y0), std::max(u.x1, p.box.x1), std::max(u.y1, p.box.y1)};
      } else {
        d.parts.push_back(p);
      }
    }
  }

  // references → [^label] where a note exists; notes nothing cites stay text
  footnote_refs refs;
  for (const auto& d : out) refs.cite(d.markdown);
  std::vector<footnote_refs::note> notes;
  for (const auto& f : footnotes_) notes.push_back({f.b.page, f.b.marker});
  refs.resolve(notes);
  for (auto& d : out) {
    d.markdown = refs.rewrite(d.markdown);
    d.text = plain_text(refs.rewrite(d.text), d.type == block_type::code);
    for (auto& it : d.items) {
      it.markdown = refs.rewrite(it.markdown);
      it.text = plain_text(refs.rewrite(it.text), false);
      d.text += (d.text.empty() ? "" : "\n") + it.text;
    }
    for (auto& row : d.rows) {
      for (auto& c : row) {
        c.markdown = refs.rewrite(c.markdown);
        c.text = plain_text(c.markdown, false);
      }
    }
    if (d.type == block_type::table) {
      for (const auto& row : d.rows) {
        std::string line;
        for (size_t c = 0; c < row.size(); ++c) line += (c ? "\t" : "") + row[c].text;
        d.text += (d.text.empty() ? "" : "\n") + line;
      }
    }
  }
  // a paragraph that names a figure or table right next to one is its caption
  for (size_t i = 0; i < out.size(); ++i) {
    auto near = [&](size_t j) { return j < out.size() && (out[j].type == block_type::table || out[j].type == block_type::image); };
    if (out[i].type == block_type::paragraph && (near(i + 1) || (i > 0 && near(i - 1))) && text::is_caption_label(out[i].text))
      out[i].type = block_type::caption;
  }
  // unused notes first (as text), then the definitions, as the Markdown has them
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < footnotes_.size(); ++k) {
      const std::string& unique = refs.unique_label(k);
      if ((pass == 0) != unique.empty()) continue;
      const block& f = footnotes_[k].b;
      document_block d;
      d.type = block_type::footnote;
      d.parts = footnotes_[k].parts;
      d.referenced = !unique.empty();
      d.label = unique.empty() ? f.marker : unique;
      const std::string body = refs.rewrite(f.text);
      d.markdown = unique.empty() ? f.marker + " " + body : "[^" + unique + "]: " + body;
      d.text = plain_text(body, false);
      out.push_back(std::move(d));
    }
  }
  footnotes_.clear();
  body_.clear();

  // ids and heading paths
  std::vector<std::pair<int, std::string>> open;  // (level, text) of the enclosing headings
  for (size_t i = 0; i < out.size(); ++i) {
    document_block& d = out[i];
    d.id = static_cast<int>(i);
    if (d.type == block_type::footnote) continue;  // notes sit outside the sections
    if (d.type == block_type::heading)
      while (!open.empty() && open.back().first >= d.level) open.pop_back();
    for (const auto& h : open) d.heading_path.push_back(h.second);
    if (d.type == block_type::heading) open.push_back({d.level, d.text});
  }
  return out;
}

}  // namespace quire::convert

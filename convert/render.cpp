#include "convert/render.hpp"

#include "convert/tables.hpp"
#include "convert/text.hpp"

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
std::string prefix_lines(const std::string& s, const std::string& prefix, const std::string& first_prefix) {
  std::string out;
  size_t start = 0;
  bool first = true;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string ln = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::string p = first ? first_prefix : prefix;
    if (ln.empty()) {
      while (!p.empty() && p.back() == ' ') p.pop_back();
    }
    out += p + ln;
    first = false;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

}  // namespace

bool markdown_writer::merge_into_pending(block& b) {
  if (!pending_) return false;
  block& p = *pending_;
  const bool boundary = b.page != p.page || b.region != p.region;
  if (!boundary) return false;
  if (p.kind == block_kind::table && b.kind == block_kind::table && tables::try_merge(p, b)) {
    p.page = b.page;
    p.region = b.region;
    return true;
  }
  if (p.kind == block_kind::code && b.kind == block_kind::code && p.quote == b.quote) {
    p.text += "\n" + b.text;
    p.page = b.page;
    p.region = b.region;
    return true;
  }
  if ((p.kind == block_kind::paragraph || p.kind == block_kind::list_item) && p.continues &&
      b.kind == block_kind::paragraph && p.quote == b.quote && !b.text.empty()) {
    const int first = text::first_cp(b.text);
    if (text::is_lower(first) || text::is_digit(first) || first == '(' || first == ',') {
      p.text += " " + b.text;
      p.continues = b.continues;
      p.page = b.page;
      p.region = b.region;
      return true;
    }
  }
  return false;
}

void markdown_writer::add(std::vector<block> blocks) {
  for (auto& b : blocks) {
    if (b.kind == block_kind::footnote) {
      footnotes_.emplace_back(b.marker, b.text);
      continue;
    }
    if (merge_into_pending(b)) continue;
    if (pending_) write(*pending_);
    pending_ = std::move(b);
  }
}

void markdown_writer::finish() {
  if (pending_) write(*pending_);
  pending_.reset();
  if (wrote_any_) out_ += "\n";
  if (!footnotes_.empty()) {
    if (wrote_any_) out_ += "\n";
    for (auto& [label, txt] : footnotes_) out_ += "[^" + label + "]: " + txt + "\n";
    footnotes_.clear();
  }
}

void markdown_writer::write(const block& b) {
  const bool item = b.kind == block_kind::list_item;
  // separation: items of one list are on consecutive lines, everything else has a blank line
  if (wrote_any_) {
    if (item && last_was_item_ && b.quote == last_quote_) {
      out_ += "\n";
    } else if (b.quote > 0 && last_quote_ > 0) {
      out_ += "\n" + quote_prefix(std::min(b.quote, last_quote_));
      while (!out_.empty() && out_.back() == ' ') out_.pop_back();
      out_ += "\n";
    } else {
      out_ += "\n\n";
    }
  }
  if (!item) list_indent_.clear();
  const std::string qp = quote_prefix(b.quote);
  std::string body;
  switch (b.kind) {
    case block_kind::heading:
      body = std::string(std::clamp(b.level, 1, 6), '#') + " " + b.text;
      break;
    case block_kind::paragraph:
    case block_kind::quote:
      body = b.text;
      break;
    case block_kind::list_item: {
      if (!last_was_item_ || b.quote != last_quote_) list_indent_.clear();
      size_t level = std::min<size_t>(b.level, list_indent_.size());
      list_indent_.resize(level);
      size_t indent = 0;
      for (size_t w : list_indent_) indent += w;
      list_indent_.push_back(b.marker.size() + 1);
      body = std::string(indent, ' ') + b.marker + " " + b.text;
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
      if (b.level >= 0 && b.level < static_cast<int>(assets_.size())) body = "![](" + prefix_ + assets_[b.level].name + ")";
      break;
    case block_kind::rule:
      body = "---";
      break;
    case block_kind::footnote:
      break;
  }
  out_ += prefix_lines(body, qp, qp);
  wrote_any_ = true;
  last_was_item_ = item;
  last_quote_ = b.quote;
  if (b.kind == block_kind::table || b.kind == block_kind::code || b.kind == block_kind::heading) last_was_item_ = false;
}

}  // namespace quire::convert

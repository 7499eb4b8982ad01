#include "convert/render.hpp"

#include "convert/inline.hpp"
#include "convert/tables.hpp"
#include "convert/text.hpp"

#include <algorithm>
#include <map>
#include <set>

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
      footnotes_.push_back({b.page, b.marker, b.text});
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
  renumber_headings();
  resolve_footnotes();
}

// Levels as a tree: a heading goes one below the nearest earlier heading of a smaller original
// level, so gaps close (1, 4, 4, 2, 5 → 1, 2, 2, 2, 3) and peers stay peers. A heading with no
// such parent keeps its level: the document may start below its (undetected) title.
void markdown_writer::renumber_headings() {
  if (headings_.empty()) return;
  std::vector<std::pair<int, int>> stack;  // (original, new) levels of the open headings
  std::string out;
  out.reserve(out_.size());
  size_t at = 0;
  for (auto [offset, level] : headings_) {
    while (!stack.empty() && stack.back().first >= level) stack.pop_back();
    const int fixed = stack.empty() ? level : std::min(stack.back().second + 1, 6);
    stack.push_back({level, fixed});
    out.append(out_, at, offset - at);
    out.append(static_cast<size_t>(fixed), '#');
    at = offset + static_cast<size_t>(level);
  }
  out.append(out_, at, std::string::npos);
  out_ = std::move(out);
  headings_.clear();
}

namespace {

struct ref_at {
  size_t begin, end;  // the placeholder's bytes in the text
  int page;
  std::string label;
};

std::vector<ref_at> find_refs(const std::string& s) {
  std::vector<ref_at> refs;
  for (size_t i = s.find(kRefOpen); i != std::string::npos; i = s.find(kRefOpen, i + 1)) {
    const size_t colon = s.find(':', i), close = s.find(kRefClose, i);
    if (colon == std::string::npos || close == std::string::npos || colon > close) continue;
    refs.push_back({i, close + 1, std::atoi(s.c_str() + i + 1), s.substr(colon + 1, close - colon - 1)});
  }
  return refs;
}

}  // namespace

void markdown_writer::resolve_footnotes() {
  const auto body_refs = find_refs(out_);
  std::set<std::pair<int, std::string>> cited;  // (page, label) of every reference in the body
  for (const auto& r : body_refs) cited.insert({r.page, r.label});
  // a note is a footnote of its page when that page cites its number, else an endnote
  auto note_for = [&](int page, const std::string& label) -> int {
    for (size_t k = 0; k < footnotes_.size(); ++k)
      if (footnotes_[k].page == page && footnotes_[k].label == label) return static_cast<int>(k);
    for (size_t k = 0; k < footnotes_.size(); ++k) {
      const note& n = footnotes_[k];
      if (n.label == label && n.page >= page && !cited.count({n.page, n.label})) return static_cast<int>(k);
    }
    return -1;
  };
  std::map<std::pair<int, std::string>, int> target;
  std::vector<char> used(footnotes_.size(), 0);
  for (const auto& r : body_refs) {
    const int k = note_for(r.page, r.label);
    target[{r.page, r.label}] = k;
    if (k >= 0) used[k] = 1;
  }
  // unique labels, in document order: the first note numbered 1 keeps "1", the next gets "1-2"
  std::vector<std::string> unique(footnotes_.size());
  std::set<std::string> taken;
  for (size_t k = 0; k < footnotes_.size(); ++k) {
    if (!used[k]) continue;
    std::string u = footnotes_[k].label;
    for (int n = 2; taken.count(u); ++n) u = footnotes_[k].label + "-" + std::to_string(n);
    taken.insert(u);
    unique[k] = u;
  }
  auto rewrite = [&](const std::string& s) {
    std::string out;
    size_t at = 0;
    for (const auto& r : find_refs(s)) {
      out.append(s, at, r.begin - at);
      at = r.end;
      auto it = target.find({r.page, r.label});
      if (it == target.end() || it->second < 0) {
        out += r.label;  // no note: an exponent or a stray mark stays text
        continue;
      }
      out += "[^" + unique[it->second] + "]";
      // "[^1](text)" would read as a link and "[^1][x]" as a reference link
      if (at < s.size() && (s[at] == '(' || s[at] == '[')) out += '\\';
    }
    out.append(s, at, std::string::npos);
    return out;
  };
  out_ = rewrite(out_);
  // notes nothing cites keep their text as paragraphs; the others are definitions, one a line
  bool any_out = wrote_any_;
  for (size_t k = 0; k < footnotes_.size(); ++k) {
    if (used[k]) continue;
    out_ += any_out ? "\n" : "";
    out_ += footnotes_[k].label + " " + rewrite(footnotes_[k].text) + "\n";
    any_out = true;
  }
  bool first_def = true;
  for (size_t k = 0; k < footnotes_.size(); ++k) {
    if (!used[k]) continue;
    if (first_def && any_out) out_ += "\n";
    first_def = false;
    out_ += "[^" + unique[k] + "]: " + rewrite(footnotes_[k].text) + "\n";
  }
  footnotes_.clear();
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
      headings_.push_back({out_.size() + qp.size(), std::clamp(b.level, 1, 6)});
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

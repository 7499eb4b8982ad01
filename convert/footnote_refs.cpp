#include "convert/detail/footnote_refs.hpp"

#include <cstdlib>

#include "convert/detail/inline.hpp"

namespace quire::convert {
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

void footnote_refs::cite(const std::string& body_text) {
  for (const auto& r : find_refs(body_text)) cited_.insert({r.page, r.label});
}

void footnote_refs::resolve(const std::vector<note>& notes) {
  // a note is a footnote of its page when that page cites its number, else an endnote
  auto note_for = [&](int page, const std::string& label) -> int {
    for (size_t k = 0; k < notes.size(); ++k)
      if (notes[k].page == page && notes[k].label == label) return static_cast<int>(k);
    for (size_t k = 0; k < notes.size(); ++k) {
      const note& n = notes[k];
      if (n.label == label && n.page >= page && !cited_.count({n.page, n.label})) return static_cast<int>(k);
    }
    return -1;
  };
  std::vector<char> used(notes.size(), 0);
  for (const auto& r : cited_) {
    const int k = note_for(r.first, r.second);
    target_[r] = k;
    if (k >= 0) used[k] = 1;
  }
  unique_.assign(notes.size(), std::string());
  std::set<std::string> taken;
  for (size_t k = 0; k < notes.size(); ++k) {
    if (!used[k]) continue;
    std::string u = notes[k].label;
    for (int n = 2; taken.count(u); ++n) u = notes[k].label + "-" + std::to_string(n);
    taken.insert(u);
    unique_[k] = u;
  }
}

std::string footnote_refs::rewrite(const std::string& s) const {
  std::string out;
  size_t at = 0;
  for (const auto& r : find_refs(s)) {
    out.append(s, at, r.begin - at);
    at = r.end;
    auto it = target_.find({r.page, r.label});
    if (it == target_.end() || it->second < 0) {
      out += r.label;  // no note: an exponent or a stray mark stays text
      continue;
    }
    out += "[^" + unique_[it->second] + "]";
    // "[^1](text)" would read as a link and "[^1][x]" as a reference link
    if (at < s.size() && (s[at] == '(' || s[at] == '[')) out += '\\';
  }
  out.append(s, at, std::string::npos);
  return out;
}

}  // namespace quire::convert

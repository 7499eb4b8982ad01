// Stage 2: the PDF outline (bookmarks) as evidence for headings. A heading-like text matches an
// unused outline entry for its page by its key (text::key), or by its key with section numbers
// set aside (unnumbered_key: "chapter 3 ...", "A 2 ...", "1 2 3 ..."); each entry matches once.
// A title the outline lists once, on a page further on, is a contents list's line.
#include <algorithm>
#include <cctype>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

std::string unnumbered_key(const std::string& key) {
  std::vector<std::string> w;
  for (size_t i = 0; i < key.size();) {
    size_t j = key.find(' ', i);
    if (j == std::string::npos) j = key.size();
    if (j > i) w.push_back(key.substr(i, j - i));
    i = j + 1;
  }
  auto digits = [](const std::string& t) { return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }); };
  size_t k = 0;
  if (w.size() > 2 && (w[0] == "chapter" || w[0] == "part" || w[0] == "appendix" || w[0] == "section")) k = 2;
  else if (w.size() > 2 && w[0].size() == 1 && std::isalpha(static_cast<unsigned char>(w[0][0])) && digits(w[1])) k = 1;
  while (k + 1 < w.size() && digits(w[k]) && w[k].size() <= 3) ++k;
  std::string out;
  for (size_t i = k; i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
  return out;
}


bool page_analyzer::outline_has(const std::string& plain) const {
  if (dc.outline.empty()) return false;
  const std::string k = text::key(plain), bare = unnumbered_key(k);
  for (const auto& e : dc.outline)
    if (!e.used && (!e.page || e.page == page.number) && (e.key == k || e.bare == bare)) return true;
  return false;
}

bool page_analyzer::outline_elsewhere(const std::string& plain) const {
  if (dc.outline.empty()) return false;
  const std::string k = unnumbered_key(text::key(plain));
  if (k.size() < 4) return false;
  // one entry only: a generic title ("Synopsis", "Further reading") may recur unlisted
  int entries = 0;
  for (const auto& e : dc.outline) {
    if (e.bare != k) continue;
    // targets can be one page off (an anchor set just before a page break)
    // and a contents list comes before what it lists
    if (!e.page || e.page <= page.number + 1 || ++entries > 1) return false;
  }
  return entries == 1;
}

// outline entry for a heading-like text on this page: the same title, else the same title once
// section numbers are set aside
outline_entry* page_analyzer::outline_match(const std::string& plain) {
  if (dc.outline.empty()) return nullptr;
  const std::string k = text::key(plain);
  if (k.empty() || k.size() > 300) return nullptr;
  for (int pass = 0; pass < 2; ++pass) {
    const std::string want = pass == 0 ? k : unnumbered_key(k);
    if (want.empty()) continue;
    for (auto& e : dc.outline) {
      if (e.used || e.key.empty()) continue;
      if (e.page && e.page != page.number) continue;
      if ((pass == 0 ? e.key : e.bare) == want) {
        e.used = true;
        return &e;
      }
    }
  }
  return nullptr;
}

}  // namespace quire::convert

// Footnote references, resolved once the whole document is known (render.cpp).
//
// render_inline writes a superscript number after a word as a placeholder naming its page and
// label (inline.hpp). A placeholder becomes `[^label]` when a note with that label sits on its
// page (a footnote), or, failing that, on a later page and cited from nowhere else (an endnote);
// otherwise it is written back as its label (an exponent, a stray mark). Notes nobody cites stay
// text. Labels are made unique across the document in the notes' order: the first note "1" keeps
// "1", the next one "1-2".
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace quire::convert {

class footnote_refs {
 public:
  struct note {
    int page = 0;
    std::string label;
  };

  // Every text of the document body that may hold placeholders, before resolve().
  void cite(const std::string& body_text);
  // The document's notes, in document order.
  void resolve(const std::vector<note>& notes);
  // `s` with its placeholders replaced (after resolve()).
  std::string rewrite(const std::string& s) const;
  // The unique label of note k, "" when nothing cites it.
  const std::string& unique_label(size_t k) const { return unique_[k]; }

 private:
  std::set<std::pair<int, std::string>> cited_;             // (page, label) of every reference
  std::map<std::pair<int, std::string>, int> target_;       // reference → note index, -1 = none
  std::vector<std::string> unique_;
};

}  // namespace quire::convert

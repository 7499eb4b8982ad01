// Stage 2, step 5c: a block's lines → one inline Markdown text. The pieces of a line join with
// spaces, a list item's marker is stripped, and a line that ends in a hyphen joins the next one:
// a soft hyphen always goes; a hard one goes only on evidence that the word was hyphenated there
// (the joined word is known from the document, or, once the document has shown enough words,
// neither half is a word of its own), so compounds broken at their hyphen keep it.
#include <algorithm>

#include "convert/detail/inline.hpp"
#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

// Distinct words a document must have shown before "neither half of a hyphenated line end is a
// word" counts as evidence of a hyphenation (a page or two of text knows too few words).
constexpr std::size_t kMinVocabulary = 500;

using layout::span;

namespace {

// The word that ends at `end` in `s` (back to a space or an opening bracket or quote).
std::string word_before(const std::string& s, size_t end) {
  size_t b = end;
  while (b > 0 && s[b - 1] != ' ' && s[b - 1] != '(' && s[b - 1] != '"') --b;
  return s.substr(b, end - b);
}

}  // namespace

bool doc_context::known_joined(const std::string& head, const std::string& tail) const {
  // the letters either side of the hyphen: the vocabulary holds runs of letters ("LC_MES" +
  // "SAGES" is "messages")
  std::string lower;
  for (size_t k = 0; k < head.size();) {
    const int c = text::next_cp(head, k);
    if (text::is_alpha(c)) text::append_cp(lower, text::to_lower(c));
    else lower.clear();
  }
  if (lower.empty()) return false;
  const size_t head_letters = lower.size();
  for (size_t k = 0; k < tail.size();) {
    const int c = text::next_cp(tail, k);
    if (!text::is_alpha(c)) break;
    text::append_cp(lower, text::to_lower(c));
  }
  return lower.size() > head_letters && known_word(lower);
}

bool doc_context::hyphen_breaks_word(const std::string& head, const std::string& tail) const {
  auto lowered = [](const std::string& w) {
    std::string l;
    for (size_t k = 0; k < w.size();) text::append_cp(l, text::to_lower(text::next_cp(w, k)));
    return l;
  };
  const std::string lower = lowered(head + tail);
  // the letters the word has before the hyphen (an opening quote or bracket is no part of it)
  std::string head_letters;
  for (size_t k = 0; k < head.size();) {
    const int c = text::next_cp(head, k);
    if (text::is_alpha(c)) text::append_cp(head_letters, c);
    else head_letters.clear();
  }
  std::string tail_letters;
  for (size_t k = 0; k < tail.size();) {
    const int c = text::next_cp(tail, k);
    if (!text::is_alpha(c)) break;
    text::append_cp(tail_letters, c);
  }
  const bool head_word = !head_letters.empty(), tail_word = !tail_letters.empty();
  const bool head_alpha = !head.empty() && text::is_alpha(text::last_cp(head));
  const bool compound = known_word(lowered(head_letters)) || known_word(lowered(tail_letters));
  return (head_alpha && known_word(lower)) ||
         (head_word && tail_word && !compound && vocabulary_size() >= kMinVocabulary);
}

// spans of a group of lines, joined with spaces; hyphenated line ends repaired
std::vector<span> page_analyzer::join_spans(const std::vector<const fline*>& lines, bool strip_marker) const {
  std::vector<span> out;
  bool first_line = true;
  for (const fline* f : lines) {
    std::vector<span> ls;
    for (size_t p = 0; p < f->pieces.size(); ++p) {
      if (first_line && strip_marker && p == 0 && f->marker_piece) continue;
      std::vector<span> ps = f->pieces[p]->spans;
      if (first_line && strip_marker && p == 0 && f->strip && !f->marker_piece) {
        size_t drop = f->strip;
        for (auto& s : ps) {
          size_t k = std::min(drop, s.text.size());
          s.text.erase(0, k);
          drop -= k;
          if (!drop) break;
        }
      }
      if (!ls.empty() && !ps.empty()) ls.back().text += ' ';
      for (auto& s : ps)
        if (!s.text.empty()) ls.push_back(std::move(s));
    }
    first_line = false;
    if (ls.empty()) continue;
    if (!out.empty()) {
      std::string& prev = out.back().text;
      while (!prev.empty() && prev.back() == ' ') prev.pop_back();
      const int last = text::last_cp(prev);
      const int next = text::first_cp(ls.front().text);
      bool joined = false;
      if ((last == '-' || last == 0xAD || last == 0x2010) && text::is_lower(next)) {
        // hyphen at the end of a line: a soft hyphen goes. A hard one goes when the joined word
        // is known from the document, or when the halves are letters and neither is a word of its
        // own ("imple-ments", "des-tinations" are hyphenations; "command-line", "right-to-left",
        // "non-blocking" are compounds broken at a hyphen) — evidence only once the document has
        // shown enough words (kMinVocabulary). In code (an option such as --disable-shared) it
        // always stays.
        size_t cut = prev.size() - (last == '-' ? 1 : last == 0xAD ? 2 : 3);
        const std::string head = word_before(prev, cut);
        std::string tail;
        for (char ch : ls.front().text) {
          if (ch == ' ' || ch == ',' || ch == '.' || ch == ';' || ch == ':' || ch == ')') break;
          tail += ch;
        }
        const bool code = out.back().mono;
        if (last != '-' || (!code && dc.hyphen_breaks_word(head, tail))) prev.erase(cut);
        joined = true;
      } else if (last == '-' && prev.size() >= 2 && std::isalnum(static_cast<unsigned char>(prev[prev.size() - 2])) &&
                 (text::is_upper(next) || (next >= '0' && next <= '9'))) {
        // before a capital or a digit: a compound broken at its hyphen ("CVE-2018-" / "19788",
        // "UTF-" / "8", "Jean-" / "Pierre") keeps it, with no space; a capitalised word the
        // document shows whole elsewhere ("EEP-" / "ROM", "FUNC-" / "NAME") was hyphenated there
        const std::string head = word_before(prev, prev.size() - 1);
        std::string tail;
        for (char ch : ls.front().text) {
          if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') break;
          tail += ch;
        }
        if (!out.back().mono && dc.known_joined(head, tail)) prev.pop_back();
        joined = true;
      }
      if (!joined) prev += ' ';
    }
    for (auto& s : ls) out.push_back(std::move(s));
  }
  return out;
}

std::string page_analyzer::inline_md(const std::vector<const fline*>& lines, bool strip_marker, bool emphasis,
                      bool block_start) {
  inline_options o;
  o.emphasis = emphasis;
  o.block_start = block_start;
  o.page = page.number;
  return render_inline(join_spans(lines, strip_marker), page.links, o, &dc.footnote_refs);
}

}  // namespace quire::convert

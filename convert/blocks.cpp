// Stage 2, step 5: merged lines → blocks. A small state machine walks one region's lines top to
// bottom: monospace lines make code blocks, a marker (glyph, number, drawn bullet) starts a list
// item whose wrapped lines follow it, other lines make paragraphs until the spacing, indent or
// style says a new block starts. Finished paragraphs become headings (outline, size, weight),
// footnote definitions (small, labelled with a referenced number) or paragraphs.
#include <algorithm>
#include <cstring>
#include <map>

#include "convert/inline.hpp"
#include "convert/page_analyzer.hpp"
#include "convert/text.hpp"

namespace quire::convert {

// Distinct words a document must have shown before "neither half of a hyphenated line end is a
// word" counts as evidence of a hyphenation (a page or two of text knows too few words).
constexpr std::size_t kMinVocabulary = 500;

using layout::block;
using layout::block_kind;
using layout::line;
using layout::page_model;
using layout::rect;
using layout::span;

namespace {

// Glyphs that mark a list item when they start a line. Not the em dash: "— Name" is an attribution.
bool is_bullet_glyph(int c) {
  switch (c) {
    case 0x2022: case 0x25E6: case 0x25AA: case 0x25AB: case 0x2023: case 0x25CF: case 0x25CB: case 0x25A0:
    case 0x25A1: case 0x00B7: case 0x2043: case 0x27A2: case 0x25BA: case 0x25B8: case 0x2713: case 0x2714:
    case 0x2756: case 0x25C6: case 0x25C7: case 0x2219: case 0x2013: case '-': case '*': case 0x2192:
    case 0x25B6: case 0x2605: case 0x2666: case 0x29BF: case 0x25C9: case 0x2217:  // ∗: LaTeX's third level
      return true;
    default:
      return false;
  }
}

bool roman(std::string_view s) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s)
    if (!std::strchr("ivxlcIVXLC", c)) return false;
  return true;
}

// Recognises "1." "12)" "(3)" "a." "iv)" "A." at the start of `s`; returns its length (0 none).
size_t ordered_marker(std::string_view s, std::string& label, char& delim) {
  size_t i = 0;
  bool paren = false;
  if (i < s.size() && s[i] == '(') paren = true, ++i;
  size_t b = i;
  while (i < s.size() && std::isalnum(static_cast<unsigned char>(s[i])) && i - b < 6) ++i;
  if (i == b || i >= s.size()) return 0;
  std::string_view tok = s.substr(b, i - b);
  bool digits = std::all_of(tok.begin(), tok.end(), [](char c) { return c >= '0' && c <= '9'; });
  bool letter = tok.size() == 1 && std::isalpha(static_cast<unsigned char>(tok[0]));
  if (!(digits && tok.size() <= 3) && !letter && !roman(tok)) return 0;
  char d = s[i];
  if (paren ? d != ')' : (d != '.' && d != ')')) return 0;
  ++i;
  if (i < s.size() && s[i] != ' ') return 0;
  if (!digits && d == '.' && i >= s.size()) return 0;
  label = std::string(tok);
  delim = d;
  return i;
}

// Marks a listing package sets where it breaks a code line too long for the column (fvextra's
// ⌋ and ↪, listings' ↩, ↵): the line goes on in the next one.
bool continuation_end_mark(int c) { return c == 0x230B || c == 0x21A9 || c == 0x21B5 || c == 0x23CE || c == 0x2936 || c == 0x21B2; }
bool continuation_start_mark(int c) { return c == 0x21AA || c == 0x21B3 || c == 0x2937 || c == 0x2192 || c == 0x230A; }

// Where `s` ends in a continuation mark (trailing blanks aside), else npos.
size_t continuation_mark_at(std::string_view s) {
  size_t e = s.size();
  while (e > 0 && s[e - 1] == ' ') --e;
  size_t b = e;
  while (b > 0 && (static_cast<unsigned char>(s[b - 1]) & 0xC0) == 0x80) --b;
  if (b == 0) return std::string_view::npos;
  --b;
  size_t i = b;
  return continuation_end_mark(text::next_cp(s, i)) ? b : std::string_view::npos;
}

}  // namespace

bool page_analyzer::code_line_continues(const fline& f) const {
  return continuation_mark_at(f.plain) != std::string_view::npos;
}

// fvextra's left mark: a small arrow of its own before the rest of a line broken at a space
bool page_analyzer::code_line_resumes(const fline& f) const {
  if (f.pieces.size() < 2) return false;
  const line& first = *f.pieces.front();
  const std::string whole = first.text();  // trim() views it: it must outlive `t`
  const std::string_view t = text::trim(whole);
  size_t i = 0;
  return !t.empty() && continuation_start_mark(text::next_cp(t, i)) && i == t.size() && first.size < 0.8f * f.size;
}

page_analyzer::fline page_analyzer::make_fline(const std::vector<int>& pieces) const {
  fline f;
  for (int p : pieces) f.pieces.push_back(&page.lines[p]);
  bool bold = true, italic = true, mono = true;
  int mono_chars = 0;
  std::map<int, int> sizes;
  for (const line* l : f.pieces) {
    for (const auto& sp : l->spans)
      if (sp.mono)
        for (char c : sp.text) mono_chars += c != ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    f.box.include(l->box);
    if (!f.plain.empty()) f.plain += ' ';
    f.plain += l->text();
    f.chars += l->chars;
    sizes[quarter(l->size)] += l->chars;
    bold = bold && style_bold(*l);
    italic = italic && style_italic(*l);
    mono = mono && style_mono(*l);
  }
  int best = -1;
  for (auto& [q, n] : sizes)
    if (n > best) best = n, f.size = q / 4.0f;
  f.baseline = f.pieces.front()->baseline;
  f.bold = bold;
  f.italic = italic;
  f.mono = mono;
  f.mono_share = f.chars > 0 ? std::min(1.0f, static_cast<float>(mono_chars) / static_cast<float>(f.chars)) : 0;
  f.text_x = f.box.x0;
  return f;
}

void page_analyzer::detect_marker(fline& f) const {
  // a vector bullet left of the line
  for (const auto& m : page.marks) {
    if (m.box.x1 > f.box.x0 - 1.0f || m.box.x1 < f.box.x0 - 3.0f * std::max(f.size, 6.0f)) continue;
    const float cy = m.box.cy();
    if (cy < f.box.y0 || cy > f.box.y1) continue;
    if (m.box.height() > 0.8f * f.size) continue;
    f.marker = list_marker::bullet;
    f.marker_x = m.box.x0;
    f.text_x = f.box.x0;
    return;
  }
  const std::string& t = f.plain;
  if (t.empty()) return;
  size_t i = 0;
  int c = text::next_cp(t, i);
  const line& first = *f.pieces.front();
  const bool own_piece = f.pieces.size() >= 2 && text::trim(first.text()).size() == i;
  if (is_bullet_glyph(c) && (own_piece || (i < t.size() && t[i] == ' '))) {
    if ((c == '-' || c == '*' || c == 0x2013) && !own_piece && i + 1 < t.size() && t[i + 1] == ' ')
      return;  // "- -" and friends are not bullets
    f.marker = list_marker::bullet;
    f.marker_x = f.box.x0;
    f.strip = i;
    f.marker_piece = own_piece;
    f.text_x = own_piece ? f.pieces[1]->box.x0 : f.box.x0 + 1.5f * f.size;
    return;
  }
  std::string label;
  char delim = '.';
  size_t len = ordered_marker(t, label, delim);
  if (len == 0) return;
  const bool piece_marker = f.pieces.size() >= 2 && text::trim(first.text()).size() == len;
  f.marker = list_marker::ordered;
  f.label = label;
  f.delim = delim;
  f.marker_x = f.box.x0;
  f.strip = len;
  f.marker_piece = piece_marker;
  f.text_x = piece_marker ? f.pieces[1]->box.x0 : f.box.x0 + (len + 1) * 0.5f * f.size;
}

int page_analyzer::quote_depth(const fline& f) const {
  int depth = 0;
  for (const auto& r : vrules) {
    if (r.box.x1 > f.box.x0 - 1.0f || f.box.x0 - r.box.x1 > 80.0f) continue;
    const float cy = f.box.cy();
    if (cy < r.box.y0 - 1 || cy > r.box.y1 + 1 || r.box.height() < 0.8f * f.size) continue;
    ++depth;
  }
  return depth;
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
        std::string head;
        for (size_t k = cut; k-- > 0;) {
          unsigned char ch = static_cast<unsigned char>(prev[k]);
          if (ch == ' ' || ch == '(' || ch == '"') break;
          head.insert(head.begin(), prev[k]);
        }
        std::string tail;
        for (char ch : ls.front().text) {
          if (ch == ' ' || ch == ',' || ch == '.' || ch == ';' || ch == ':' || ch == ')') break;
          tail += ch;
        }
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
        const std::string head_lower = lowered(head_letters), tail_lower = lowered(tail_letters);
        const bool head_alpha = !head.empty() && text::is_alpha(text::last_cp(head));
        const bool code = out.back().mono;
        const bool compound = dc.known_word(head_lower) || dc.known_word(tail_lower);
        if (last != '-' || (!code && head_alpha && dc.known_word(lower)) ||
            (!code && head_word && tail_word && !compound && dc.vocabulary_size() >= kMinVocabulary))
          prev.erase(cut);
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

namespace {

// A listing's line numbers: every line opens with a piece that is only a number, the numbers
// count up by one line by line (a blank line may keep its number), they end at one right edge,
// and the code stands well apart from them (more than a cell further right) or is set in another
// font. Figures in the first column of a table of output ("1 1 1", "2 4 8") stand one cell from
// the next column and are kept. Returns the pieces to drop, one per line.
std::vector<const line*> line_number_pieces(const std::vector<const page_analyzer::fline*>& lines, float cw) {
  if (lines.size() < 3) return {};
  std::vector<const line*> nums;
  float edge = 0, code_x0 = 1e9f;
  long expect = -1;
  bool other_font = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& pieces = lines[i]->pieces;
    if (pieces.size() < 2) return {};
    const line* p = pieces.front();
    const std::string whole = p->text();  // trim() views it: it must outlive `t`
    const std::string_view t = text::trim(whole);
    if (t.empty() || t.size() > 5 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return {};
    const long n = std::stol(std::string(t));
    if (expect >= 0 && n != expect && !(n > expect && n - expect <= 2 && i > 0 &&
                                         lines[i]->baseline - lines[i - 1]->baseline > 1.6f * lines[i]->size))
      return {};
    if (i > 0 && std::fabs(p->box.x1 - edge) > 0.4f * cw) return {};
    edge = p->box.x1;
    expect = n + 1;
    code_x0 = std::min(code_x0, pieces[1]->box.x0);
    other_font = other_font && !p->spans.empty() && !pieces[1]->spans.empty() &&
                 (p->spans.front().font != pieces[1]->spans.front().font ||
                  std::fabs(p->spans.front().size - pieces[1]->spans.front().size) > 0.5f);
    nums.push_back(p);
  }
  if (code_x0 - edge <= 1.5f * cw && !other_font) return {};
  return nums;
}

}  // namespace

float page_analyzer::code_wrap_edge(const std::vector<const fline*>& lines) const {
  rect box = rect::none();
  for (const fline* f : lines) box.include(f->box);
  // a shaded background: the code wraps inside it, as far from its right side as from its left
  for (const rect& r : page.fills)
    if (r.x0 <= box.x0 + 0.5f && r.x1 >= box.x1 - 0.5f && r.y0 <= box.y0 + 2 && r.y1 >= box.y1 - 2)
      return r.x1 - (box.x0 - r.x0);
  // the page's margins (and a code box's padding) are alike on both sides; in a right-hand
  // column that mirror falls left of the code, and the region's prose edge is the edge (too far
  // right, in a left-hand column, only means fewer joins)
  const float mirrored = page.width - box.x0;
  if (mirrored > box.x0 + 20.0f * lines.front()->size * 0.5f) return mirrored;
  return text_right > box.x0 ? text_right : 0.0f;
}

std::string page_analyzer::code_text(const std::vector<const fline*>& lines) const {
  // indentation in character cells: the cell is the advance of the monospace lines (a comment in
  // a proportional font has other advances)
  float x0 = 1e9f;
  std::vector<float> cws, all_cws;
  for (const fline* f : lines) {
    for (const line* p : f->pieces) {
      if (p->char_width <= 0) continue;
      all_cws.push_back(p->char_width);
      if (style_mono(*p)) cws.push_back(p->char_width);
    }
  }
  if (cws.empty()) cws = std::move(all_cws);
  std::sort(cws.begin(), cws.end());
  const float cw = cws.empty() ? 0.6f * lines.front()->size : cws[cws.size() / 2];
  // line numbers are not code: the indentation counts from the code's own left edge
  const std::vector<const line*> numbers = line_number_pieces(lines, cw);
  for (size_t i = 0; i < lines.size(); ++i)
    x0 = std::min(x0, numbers.empty() ? lines[i]->box.x0 : lines[i]->pieces[1]->box.x0);
  float pitch = 1e9f;
  for (size_t i = 1; i < lines.size(); ++i) {
    float d = lines[i]->baseline - lines[i - 1]->baseline;
    if (d > 0.5f * lines[i]->size) pitch = std::min(pitch, d);
  }
  if (pitch > 1e8f) pitch = 1.2f * lines.front()->size;
  // a line wrapped at the right edge (a word processor's paragraph, CSS pre-wrap) goes on at the
  // left edge in the next line: the first word there would not have fitted after it
  // (not in a listing that marks its breaks: it marks them all)
  bool marks = false;
  for (const fline* f : lines) marks = marks || code_line_continues(*f) || code_line_resumes(*f);
  const float wrap_edge = marks ? 0.0f : code_wrap_edge(lines);
  float edge = wrap_edge;
  for (const fline* f : lines)  // a line past the edge: this listing does not wrap at the left edge
    if (f->box.x1 > edge + cw) edge = 0;
  auto next_word_cells = [&](const fline& b) {
    const std::string_view bt = text::trim(b.plain);
    size_t word = 0;
    for (size_t k = 0; k < bt.size() && bt[k] != ' ';) text::next_cp(bt, k), ++word;
    return static_cast<float>(word);
  };
  auto soft_wrapped = [&](size_t i) {
    const fline& a = *lines[i - 1];
    const fline& b = *lines[i];
    if (marks || cw <= 0 || b.baseline - a.baseline > 1.5f * pitch) return false;
    const float b_x0 = numbers.empty() ? b.box.x0 : b.pieces[1]->box.x0;
    // left of the wrapped line and off the cell grid: a browser hangs the rest of a wrapped line
    // by the width of the spaces it broke at (the first word there would not have fitted)
    const float col = (b_x0 - x0) / cw;
    if (std::fabs(col - std::round(col)) > 0.2f && b_x0 < a.box.x0 - 0.5f * cw)
      return std::max(wrap_edge, text_right) - a.box.x1 < (next_word_cells(b) + 1.5f) * cw;
    // at the left edge: the wrapped line fills most of the width (a short line before a long
    // word is code that simply ends there), its rest is the shorter part (lines alike in length
    // are a table of settings, a hex dump), and the first word would not have fitted
    if (edge <= 0 || b_x0 > x0 + 0.5f * cw || a.box.x1 > edge + cw) return false;
    if (a.box.x1 - x0 < 0.85f * (edge - x0) || b.box.x1 - x0 >= 0.85f * (edge - x0)) return false;
    // closing brackets alone ("}", "});") end a block of code, they are no rest of a line
    if (std::none_of(b.plain.begin(), b.plain.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
      return false;
    // a line that opens with the same word as the one above is the next record of a log or a
    // list of commands, and fields aligned under the ones above make a table, not wrapped text
    const std::string_view at = text::trim(a.plain), bt = text::trim(b.plain);
    if (at.substr(0, at.find(' ')) == bt.substr(0, bt.find(' '))) return false;
    for (size_t pa = 1; pa < a.pieces.size(); ++pa)
      for (size_t pb = 1; pb < b.pieces.size(); ++pb)
        if (std::fabs(a.pieces[pa]->box.x0 - b.pieces[pb]->box.x0) < 0.5f * cw) return false;
    return edge - a.box.x1 < (next_word_cells(b) + 1.5f) * cw;
  };
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    // a line the listing broke at the margin: its remainder joins it without the marks
    const bool marked_end = i > 0 && code_line_continues(*lines[i - 1]);
    const bool joined = marked_end || (i > 0 && code_line_resumes(*lines[i]));
    const bool wrapped = i > 0 && !joined && soft_wrapped(i);
    if (wrapped && !out.empty() && out.back() != '-') out += ' ';  // a break after a hyphen keeps no space
    if (i > 0 && !joined && !wrapped) {
      int blanks = static_cast<int>(std::lround((lines[i]->baseline - lines[i - 1]->baseline) / pitch)) - 1;
      for (int k = 0; k < std::clamp(blanks, 0, 3); ++k) out += '\n';
      out += '\n';
    }
    std::string ln;
    for (const line* p : lines[i]->pieces) {
      if (!numbers.empty() && p == numbers[i]) continue;
      int col = static_cast<int>(std::lround((p->box.x0 - x0) / cw));
      int have = 0;
      for (size_t k = 0; k < ln.size();) {
        text::next_cp(ln, k);
        ++have;
      }
      if (!ln.empty() && col <= have) col = have + 1;
      ln.append(static_cast<size_t>(std::max(0, col - have)), ' ');
      for (const auto& s : p->spans) ln += s.text;
    }
    while (!ln.empty() && ln.back() == ' ') ln.pop_back();
    if (wrapped) ln.erase(0, ln.find_first_not_of(' '));
    if (joined) {
      const size_t mark = continuation_mark_at(out);
      if (mark != std::string::npos) {
        out.erase(mark);
        while (!out.empty() && out.back() == ' ') out.pop_back();
      }
      size_t k = 0;
      while (k < ln.size() && ln[k] == ' ') ++k;
      size_t after = k;
      if (k < ln.size() && continuation_start_mark(text::next_cp(ln, after))) k = after;
      while (k < ln.size() && ln[k] == ' ') ++k;
      if (!marked_end) out += ' ';  // broken at a space: the space goes back in
      out += ln.substr(k);
      continue;
    }
    out += ln;
  }
  return out;
}

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

void page_analyzer::find_page_refs() {
  for (size_t i = 0; i < page.lines.size(); ++i) {
    if (furniture[i]) continue;
    const auto& spans = page.lines[i].spans;
    for (size_t k = 1; k < spans.size(); ++k) {
      if (!spans[k].superscript || spans[k - 1].text.empty() || spans[k - 1].text.back() == ' ') continue;
      const std::string_view core = text::trim(spans[k].text);
      if (core.empty() || core.size() > 3 || !std::all_of(core.begin(), core.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      page_refs.insert(std::string(core));
    }
  }
}

// A small numbered text is a note when its number is cited on this page and it sits in the lower
// part of the page (a footnote), or was cited earlier in the document (a list of endnotes); and
// it has words after the number.
bool page_analyzer::note_label(const std::string& label, const rect& box, std::string_view rest) const {
  int letters = 0;
  for (size_t i = 0; i < rest.size() && letters < 3;)
    if (text::is_alpha(text::next_cp(rest, i))) ++letters;
  if (letters < 3) return false;
  if (page_refs.count(label) && box.y0 >= 0.5f * page.height) return true;
  return dc.footnote_refs.count(label) && !page_refs.count(label);
}

bool page_analyzer::para_final(const fline& f) const {
  return text::ends_sentence(f.plain) && f.box.x1 < region_right - 3.0f * f.size;
}

bool page_analyzer::continues_paragraph(const std::vector<const fline*>& blk, const fline& f) const {
  const fline& prev = *blk.back();
  const fline& first = *blk.front();
  if (prev.quote != f.quote) return false;
  if (std::fabs(f.size - first.size) > 0.12f * first.size) return false;
  const float gap = f.box.y0 - prev.box.y1;
  const float para_gap = lgap + 0.45f * f.size;
  if (gap > para_gap || gap < -0.5f * f.size) return false;
  if (para_final(prev)) return false;
  // a short emphasised line followed by a plain one (or the reverse) is a heading boundary
  if (prev.bold != f.bold && (prev.box.x1 < region_right - 3.0f * f.size || first.size > 1.1f * body)) return false;
  // a short italic first line that the outline lists or that starts with a section number
  // ("3.1. Creating links") is a heading over the text, not its first line
  if (blk.size() == 1 && prev.italic != f.italic && prev.box.x1 < region_right - 3.0f * f.size &&
      (section_depth(prev.plain) > 0 || outline_has(prev.plain)))
    return false;
  if (prev.mono != f.mono) return false;
  const float tol = 0.7f * f.size;
  // hanging indent after a label piece ("1" + note text, "Note:" + text): wrapped lines align
  // with the text after the label
  if (first.pieces.size() >= 2 && first.pieces[0]->chars <= 4 &&
      std::fabs(f.box.x0 - first.pieces[1]->box.x0) <= tol && (blk.size() == 1 || std::fabs(f.box.x0 - blk[1]->box.x0) <= tol))
    return true;
  // the same with the number inside the first piece ("10 The print run…", wrapped lines under
  // "The"): note definitions from word processors, whose label and text share one run
  if (blk.size() == 1 && f.box.x0 > first.box.x0 + 0.5f * f.size) {
    size_t k = 0;
    while (k < first.plain.size() && k < 3 && std::isdigit(static_cast<unsigned char>(first.plain[k]))) ++k;
    if (k > 0 && k < first.plain.size() && first.plain[k] == ' ') {
      const float cw = first.pieces.front()->char_width;
      const float text_x = first.box.x0 + static_cast<float>(k + 1) * cw;
      if (std::fabs(f.box.x0 - text_x) <= tol + cw) return true;
    }
  }
  if (blk.size() >= 2) {
    const float cont_x = blk[1]->box.x0;
    if (std::fabs(f.box.x0 - cont_x) <= tol) return true;
  } else {
    if (std::fabs(f.box.x0 - first.box.x0) <= tol) return true;
    // first-line indent: the paragraph's first line starts further right
    if (f.box.x0 < first.box.x0 && first.box.x0 - f.box.x0 <= 4.0f * f.size && prev.marker == list_marker::none) return true;
  }
  // centred text
  if (std::fabs(f.box.cx() - prev.box.cx()) < 2.0f && prev.box.x0 > region_left + 2 * f.size) return true;
  return false;
}

void page_analyzer::emit_paragraph(const std::vector<const fline*>& lines, int region) {
  std::string plain;
  for (const fline* f : lines) plain += (plain.empty() ? "" : " ") + f->plain;
  const fline& first = *lines.front();
  block b;
  b.page = page.number;
  b.quote = first.quote;
  b.box = rect::none();
  for (const fline* f : lines) b.box.include(f->box);
  b.region = region;
  float size = 0;
  int chars = 0;
  for (const fline* f : lines) {
    size += f->size * f->chars;
    chars += f->chars;
  }
  size = chars ? size / chars : first.size;
  // footnote definition: small text starting with a label that a reference on this page (or an
  // earlier one, for a list of endnotes) cites, and words after it (not a plot's tick labels)
  if (size <= 0.93f * body && first.quote == 0) {
    std::string label;
    std::string_view t = plain;
    size_t k = 0;
    while (k < t.size() && k < 3 && std::isdigit(static_cast<unsigned char>(t[k]))) ++k;
    // a raised label may touch its text ("¹http://…")
    const auto& spans0 = first.pieces.front()->spans;
    const bool raised = k > 0 && !spans0.empty() && spans0.front().superscript && spans0.front().text.size() == k;
    if (k > 0 && (raised || k == t.size() || t[k] == ' ' || t[k] == '.' || t[k] == ')')) {
      label = std::string(t.substr(0, k));
      if (note_label(label, b.box, t.substr(k))) {
        fline f0 = first;
        size_t strip = k + ((k < t.size() && (t[k] == '.' || t[k] == ')')) ? 1 : 0);
        const bool own = f0.pieces.size() >= 2 && text::trim(f0.pieces[0]->text()).size() <= strip;
        f0.marker_piece = own;
        f0.strip = own ? 0 : strip;
        std::vector<const fline*> ls = lines;
        ls[0] = &f0;
        b.kind = block_kind::footnote;
        b.marker = label;
        b.text = inline_md(ls, true, true);
        out.push_back(std::move(b));
        return;
      }
    }
  }
  // headings
  if (size > 0.93f * body && emit_run_in(lines, region)) return;
  const bool letters = std::any_of(plain.begin(), plain.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || (c & 0x80); });
  if (letters && first.quote == 0) {
    heading_info info;
    if (const int level = heading_level(lines, plain, info)) {
      b.kind = block_kind::heading;
      b.level = level;
      b.text = inline_md(lines, false, false, false);
      dc.display_heading_styles.insert({quarter(info.size), info.bold, info.italic});
      if (merge_heading(b, info)) return;
      last_heading = info;
      last_heading_block = static_cast<int>(out.size());
      out.push_back(std::move(b));
      return;
    }
  }
  b.kind = block_kind::paragraph;
  b.text = inline_md(lines, false, true);
  const fline& last = *lines.back();
  b.continues = !text::ends_sentence(last.plain) && text::last_cp(last.plain) != ':';
  if (!b.text.empty()) out.push_back(std::move(b));
}

void page_analyzer::emit_item(const std::vector<const fline*>& lines, int level, int region) {
  const fline& first = *lines.front();
  block b;
  b.kind = block_kind::list_item;
  b.page = page.number;
  b.region = region;
  b.quote = first.quote;
  b.level = level;
  b.box = rect::none();
  for (const fline* f : lines) b.box.include(f->box);
  b.ordered = first.marker == list_marker::ordered;
  if (b.ordered) {
    // footnote lists (endnotes): small numbered items whose numbers were referenced
    if (first.size <= 0.93f * body && note_label(first.label, b.box, first.plain.substr(std::min(first.strip, first.plain.size())))) {
      b.kind = block_kind::footnote;
      b.marker = first.label;
      b.text = inline_md(lines, true, true);
      out.push_back(std::move(b));
      return;
    }
    const bool digits = std::all_of(first.label.begin(), first.label.end(), [](char c) { return c >= '0' && c <= '9'; });
    b.marker = (digits ? first.label : std::string("1")) + (first.delim == ')' ? ")" : ".");
  } else {
    b.marker = "-";
  }
  b.text = inline_md(lines, true, true);
  const fline& last = *lines.back();
  b.continues = !text::ends_sentence(last.plain);
  out.push_back(std::move(b));
}

void page_analyzer::emit_code(const std::vector<const fline*>& lines, int region) {
  block b;
  b.kind = block_kind::code;
  b.page = page.number;
  b.region = region;
  b.quote = lines.front()->quote;
  b.box = rect::none();
  for (const fline* f : lines) b.box.include(f->box);
  b.text = code_text(lines);
  out.push_back(std::move(b));
}

bool page_analyzer::code_like(const fline& f) const {
  if (f.size >= 1.1f * body) return false;
  if (f.mono) return true;
  if (f.mono_share < 0.6f || f.marker != list_marker::none || f.bold) return false;
  for (const line* p : f.pieces)  // a heading with inline code (all bold, or set larger)
    if (p->size >= 1.1f * body) return false;
  return true;
}

bool page_analyzer::continues_code(const std::vector<const fline*>& blk, const fline& f, const fline* next) const {
  const fline& prev = *blk.back();
  if (f.quote != prev.quote || f.size >= 1.1f * body) return false;
  const float gap = f.box.y0 - prev.box.y1;
  if (code_like(f)) return gap <= 4.0f * f.size;
  // the listing's own line pitch (the smallest baseline step so far), or a single spaced line
  float pitch = 1.5f * prev.size;
  for (size_t i = 1; i < blk.size(); ++i) {
    const float d = blk[i]->baseline - blk[i - 1]->baseline;
    if (d > 0.5f * blk[i]->size) pitch = std::min(pitch, 1.15f * d);
  }
  const auto tight = [&](const fline& a, const fline& b) { return b.baseline - a.baseline <= pitch + 0.5f; };
  if (!tight(prev, f) || f.marker != list_marker::none) return false;
  for (const line* p : f.pieces)  // a heading set larger is not a comment
    if (p->size > 1.1f * prev.size) return false;
  // a comment starts within the code's width, at least as far in as the code around it, and is
  // not bold (text further left or right of the code is prose, e.g. the other column of a page
  // whose columns were not told apart; a bold line is a heading)
  float code_x0 = 1e9f, code_x1 = -1e9f;
  for (const fline* l : blk)
    if (code_like(*l)) code_x0 = std::min(code_x0, l->box.x0), code_x1 = std::max(code_x1, l->box.x1);
  if (f.box.x0 < code_x0 - 0.5f * f.size || f.box.x0 > code_x1 || f.bold) return false;
  // a monospace line follows at the same pitch, or this one opens with code and ends in a comment
  const bool first_mono = !f.pieces.empty() && !f.pieces.front()->spans.empty() && f.pieces.front()->spans.front().mono;
  return (next && code_like(*next) && next->quote == f.quote && tight(f, *next)) || (first_mono && f.mono_share >= 0.25f);
}

void page_analyzer::build_blocks(const std::vector<flow_elem>& flow, int region) {
  builder_state st;
  // the right edge of the region's text, where a long line wraps: the longest prose line
  text_right = 0;
  for (const flow_elem& e : flow)
    if (e.kind == flow_kind::line && !code_like(flines[e.index]) && flines[e.index].chars >= 20)
      text_right = std::max(text_right, flines[e.index].box.x1);
  auto flush = [&] {
    if (st.lines.empty()) return;
    if (st.kind == open_block::paragraph) emit_paragraph(st.lines, region);
    else if (st.kind == open_block::list_item) emit_item(st.lines, list_level(*st.lines.front()), region);
    else if (st.kind == open_block::code) emit_code(st.lines, region);
    st.lines.clear();
    st.kind = open_block::none;
  };
  for (size_t ei = 0; ei < flow.size(); ++ei) {
    const flow_elem& e = flow[ei];
    if (e.kind == flow_kind::table) {
      flush();
      block b = table_blocks[e.index];
      b.region = region;
      if (!b.rows.empty()) out.push_back(std::move(b));
      dc.list_stack.clear();
      continue;
    }
    if (e.kind == flow_kind::image) {
      flush();
      const auto& im = page.images[e.index];
      if (im.asset >= 0) {
        block b;
        b.kind = block_kind::image;
        b.page = page.number;
        b.region = region;
        b.box = im.box;
        b.level = im.asset;
        out.push_back(std::move(b));
      }
      continue;
    }
    if (e.kind == flow_kind::rule) {
      flush();
      block b;
      b.kind = block_kind::rule;
      b.page = page.number;
      b.region = region;
      b.box = hrules[e.index].box;
      out.push_back(std::move(b));
      dc.list_stack.clear();
      continue;
    }
    fline& f = flines[e.index];
    if (toc_entry(f)) {
      flush();
      const bool wrapped_start = std::any_of(f.pieces.begin(), f.pieces.end(), [&](const line* p) {
        return toc_line[static_cast<size_t>(p - page.lines.data())] == toc_role::wrapped_start;
      });
      if (wrapped_start) {
        toc_wrap += (toc_wrap.empty() ? "" : " ") + f.plain;
      } else {
        emit_toc_entry(f, toc_wrap, region);
        toc_wrap.clear();
      }
      continue;
    }
    if (!toc_wrap.empty()) {  // a wrapped start with no entry under it: plain text after all
      block b;
      b.page = page.number;
      b.region = region;
      b.text = text::escape_markdown(toc_wrap, true);
      out.push_back(std::move(b));
      toc_wrap.clear();
    }
    const fline* prev = st.lines.empty() ? nullptr : st.lines.back();
    const float gap = prev ? f.box.y0 - prev->box.y1 : 0;
    // the next line of the flow, if nothing else (table, image, rule) comes first
    const fline* next = ei + 1 < flow.size() && flow[ei + 1].kind == flow_kind::line ? &flines[flow[ei + 1].index] : nullptr;
    // a heading set in the code font, standing apart from any listing above or below it; one
    // that only its weight tells apart also from any text above (not a heading's second line)
    if (f.mono) {
      const fline* above = ei > 0 && flow[ei - 1].kind == flow_kind::line ? &flines[flow[ei - 1].index] : nullptr;
      const float apart = lgap + 0.45f * f.size;
      const bool far_above = !above || f.box.y0 - above->box.y1 > apart;
      const bool alone = (far_above || !code_like(*above)) && (!next || !code_like(*next) || next->box.y0 - f.box.y1 > apart);
      // (the lines of a listing stop here, before the outline is searched)
      const code_heading why = alone ? code_font_heading(f) : code_heading::none;
      if (why == code_heading::in_outline || (why == code_heading::bold_name && far_above)) {
        flush();
        st.kind = open_block::paragraph;
        st.lines.push_back(&f);
        flush();
        dc.list_stack.clear();
        continue;
      }
    }
    if (st.kind == open_block::code && (((code_line_continues(*prev) || code_line_resumes(f)) && f.quote == prev->quote &&
                          gap <= 2.0f * f.size) ||
                         continues_code(st.lines, f, next))) {
      st.lines.push_back(&f);
      continue;
    }
    // code: a monospace line, or two or more mostly monospace lines in a row whatever their indent,
    // unless they carry on a paragraph or list item (wrapped prose that is mostly inline code)
    const bool carries_on = (st.kind == open_block::paragraph || st.kind == open_block::list_item) && prev && !para_final(*prev) &&
                            gap <= lgap + 0.45f * f.size && f.quote == prev->quote;
    if (code_like(f) && (f.mono || (!carries_on && next && code_like(*next) && next->quote == f.quote &&
                                    next->box.y0 - f.box.y1 <= 4.0f * f.size))) {
      flush();
      st.kind = open_block::code;
      st.lines.push_back(&f);
      continue;
    }
    if (f.marker == list_marker::ordered && (f.size >= 1.15f * body || (f.bold && outline_has(f.plain)))) {
      f.marker = list_marker::none;  // a numbered heading ("2. Methods"), not a list item
    }
    if (f.marker != list_marker::none) {
      // a wrapped paragraph line that happens to start with "3. " is not an item
      // nor is one that starts with "* " or "- " (a product, a minus) under a full line of text
      const bool aligned_wrap = st.kind == open_block::paragraph && prev && !para_final(*prev) && gap <= lgap + 0.3f * f.size &&
                                std::fabs(f.box.x0 - prev->box.x0) < 1.0f;
      const bool ascii_bullet = f.marker == list_marker::bullet && !f.marker_piece && f.strip == 1 &&
                                (f.plain[0] == '*' || f.plain[0] == '-' || f.plain[0] == '+');
      const bool wrapped = aligned_wrap && (f.marker == list_marker::ordered || (ascii_bullet && prev->box.x1 >= region_right - 3.0f * f.size &&
                                                               text::last_cp(prev->plain) != ':'));
      if (!wrapped) {
        flush();
        st.kind = open_block::list_item;
        st.lines.push_back(&f);
        continue;
      }
    }
    if (st.kind == open_block::list_item) {
      const fline& head = *st.lines.front();
      if (gap <= lgap + 0.6f * f.size && f.box.x0 > head.marker_x + 2.0f && f.quote == head.quote &&
          std::fabs(f.size - head.size) <= 0.15f * head.size && !f.mono) {
        st.lines.push_back(&f);
        continue;
      }
      flush();
      dc.list_stack.clear();
    }
    if (st.kind == open_block::paragraph && continues_paragraph(st.lines, f)) {
      st.lines.push_back(&f);
      continue;
    }
    flush();
    if (f.marker == list_marker::none) {
      // anything but an item closes the lists, unless it is indented under one
      if (dc.list_stack.empty() || f.box.x0 <= dc.list_stack.front() + 2.0f) dc.list_stack.clear();
    }
    st.kind = open_block::paragraph;
    st.lines.push_back(&f);
  }
  flush();
}

int page_analyzer::list_level(const fline& f) {
  auto& stack = dc.list_stack;
  const float x = f.marker_x;
  while (!stack.empty() && stack.back() > x + 3.0f) stack.pop_back();
  if (stack.empty() || x > stack.back() + 3.0f) stack.push_back(x);
  else stack.back() = x;
  return static_cast<int>(stack.size()) - 1;
}

}  // namespace quire::convert

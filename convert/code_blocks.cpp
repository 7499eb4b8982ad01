// Stage 2, step 5a: code blocks. Which flow lines read as code (monospace, or mostly so), which
// proportional lines stay in a listing around them (comments, placeholders at the listing's
// pitch), and the listing's text: indentation in character cells, blank lines from the line
// pitch, line numbers dropped, and lines joined back where a listing package broke them at the
// margin (its continuation marks) or a browser or word processor wrapped them (soft wraps).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::rect;

namespace {

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

}  // namespace quire::convert

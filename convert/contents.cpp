// Stage 2, step 1b: tables of contents and indexes. Their lines end in a page number, after dot
// leaders ("Introduction ........ 5"), after a wide gap with the numbers right-aligned and rising
// down the page, or after a comma ("abort, 12, 31"). Left alone they become tables of 30 leader
// columns, a run of headings or one long paragraph; here they become a nested list (indentation
// or section-number depth gives the nesting), without the leaders.
#include <algorithm>
#include <cstring>
#include <regex>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;

namespace {

// Where the digits or roman-numeral letters that end `t` begin (t.size() when none do).
size_t number_start(std::string_view t) {
  size_t e = t.size();
  while (e > 0 && (std::isdigit(static_cast<unsigned char>(t[e - 1])) || std::strchr("ivxlcIVXLC", t[e - 1]))) --e;
  return e;
}

// "Title . . . . 12": the title and the number around three or more leader characters (dots,
// ellipses, middle dots, underscores), or two set apart; false when `t` is not such a line.
// Written out by hand: std::regex backtracks badly on long runs of dots.
bool split_leader_entry(std::string_view t, std::string& title, std::string& number) {
  t = text::trim(t);
  const size_t e = number_start(t);
  const std::string_view num = t.substr(e);
  if (num.empty() || num.size() > 7) return false;
  const bool digits = std::isdigit(static_cast<unsigned char>(num[0]));
  for (char c : num)
    if (digits != (std::isdigit(static_cast<unsigned char>(c)) != 0)) return false;
  if (digits && num.size() > 4) return false;
  int leaders = 0;
  size_t i = e;
  while (i > 0) {
    const unsigned char c = static_cast<unsigned char>(t[i - 1]);
    if (c == '.' || c == '_') ++leaders, --i;
    else if (c == ' ') --i;
    else if (i >= 3 && t.substr(i - 3, 3) == "\xE2\x80\xA6") ++leaders, i -= 3;  // …
    else if (i >= 2 && t.substr(i - 2, 2) == "\xC2\xB7") ++leaders, i -= 2;      // ·
    else break;
  }
  // two dots make a leader only set apart on both sides ("Information .. 48", not "1..10")
  if (leaders < 2 || i == 0 || e == 0) return false;
  const bool apart = t[i] == ' ' && t[e - 1] == ' ';
  if (leaders == 2 && !apart) return false;
  // the number stands apart from the leaders ("....12", ". . iv"), and a numeral is one case
  if (t[e - 1] != '.' && t[e - 1] != ' ' && t[e - 1] != '_' && static_cast<unsigned char>(t[e - 1]) < 0x80) return false;
  if (!digits && !std::all_of(num.begin(), num.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); }) &&
      !std::all_of(num.begin(), num.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); }))
    return false;
  title = std::string(text::trim(t.substr(0, i)));
  number = std::string(num);
  return !title.empty();
}

// an index line: "term, 12", "term, 12–14, 31"
const std::regex& index_entry() {
  static const std::regex re(R"(^(\D.*?),\s*\d{1,4}(?:\s*(?:-|\xE2\x80\x93)\s*\d{1,4})?(?:,\s*\d{1,4}(?:\s*(?:-|\xE2\x80\x93)\s*\d{1,4})?)*$)");
  return re;
}

bool arabic(std::string_view s) {
  return !s.empty() && s.size() <= 4 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The number of leader characters in `s`, or 0 when it holds anything else.
int only_leaders(std::string_view s) {
  int dots = 0;
  for (size_t i = 0; i < s.size();) {
    const int c = text::next_cp(s, i);
    if (c == '.' || c == 0x2026 || c == 0xB7 || c == '_') ++dots;
    else if (!text::is_space(c)) return 0;
  }
  return dots;
}

// ". . . . 35": leaders then a page number, nothing else (`number` gets the number)
bool leaders_then_number(std::string_view t, std::string& number) {
  const size_t e = number_start(t);
  const std::string_view num = t.substr(e);
  if (num.empty() || !(arabic(num) || std::all_of(num.begin(), num.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); })))
    return false;
  if (only_leaders(t.substr(0, e)) < 2) return false;
  number = std::string(num);
  return true;
}

}  // namespace

void page_analyzer::find_contents() {
  const int n = static_cast<int>(page.lines.size());
  toc_line.assign(n, toc_role::none);
  toc_indents.clear();
  struct entry {
    std::vector<int> lines;  // title piece first, then leaders and the number
    bool leaders = false;
    float num_x1 = 0, num_y = 0;
    int number = 0;
    bool apart = true;  // the number stands a wide gap from its title, or leaders lead to it
  };
  std::vector<entry> entries;
  std::vector<int> index;
  auto same_row = [&](const line& a, const line& b) {
    return layout::overlap(a.box.y0, a.box.y1, b.box.y0, b.box.y1) >= 0.5f * std::min(a.box.height(), b.box.height());
  };
  for (int i = 0; i < n; ++i) {
    const line& l = page.lines[i];
    if (furniture[i] || l.chars == 0) continue;
    const std::string t(text::trim(l.text()));
    if (t.empty()) continue;
    // std::regex is slow: only lines that end in a digit or a roman numeral can be entries
    const char last = t.back();
    if (!std::isdigit(static_cast<unsigned char>(last)) && !std::strchr("ivxlcIVXLC", last)) continue;
    std::string head, number;
    if (split_leader_entry(t, head, number)) {
      entries.push_back({{i}, true, l.box.x1, l.box.y0, arabic(number) ? std::stoi(number) : -1});
      continue;
    }
    if (l.chars <= 80 && t.find(',') != std::string::npos && std::regex_match(t, index_entry())) {
      index.push_back(i);
      continue;
    }
    // the number alone, or the leaders and the number in one piece (". . . . 35") after the title's
    std::string page_number = t;
    const bool led = leaders_then_number(t, page_number);
    if (!led && !arabic(t)) continue;
    // a page number ends its row: a number with more text a word space after it is a figure in a
    // run of them ("1 1 1", "2 4 8" drawn word by word), not an entry's page (a column gutter is
    // wider)
    bool followed = false;
    for (int j = 0; j < n && !followed; ++j)
      followed = j != i && !furniture[j] && page.lines[j].chars > 0 && page.lines[j].box.x0 >= l.box.x1 - 1 &&
                 page.lines[j].box.x0 - l.box.x1 < 0.8f * l.size && same_row(page.lines[j], l);
    if (followed) continue;
    // a page number piece: walk left over leader pieces to the title piece on its row
    std::vector<int> left;
    for (int j = 0; j < n; ++j)
      if (j != i && !furniture[j] && page.lines[j].chars > 0 && page.lines[j].box.x1 <= l.box.x0 + 1 &&
          same_row(page.lines[j], l))
        left.push_back(j);
    std::sort(left.begin(), left.end(), [&](int a, int b) { return page.lines[a].box.x1 > page.lines[b].box.x1; });
    entry e{{}, led, l.box.x1, l.box.y0, arabic(page_number) ? std::stoi(page_number) : -1};
    float edge = l.box.x0;
    int title = -1;
    size_t at = 0;
    for (; at < left.size(); ++at) {
      const int j = left[at];
      const line& o = page.lines[j];
      // a lone dot is what a leader leaves when a long title leaves room for one dot only: it
      // leads to the number but does not make the line an entry on its own
      if (const int dots = only_leaders(o.text()); dots > 0) {
        e.leaders = e.leaders || dots >= 2;
        e.lines.push_back(j);
        edge = o.box.x0;
        continue;
      }
      // three leader dots, or two set apart as leaders are (". ." before a page number that a
      // long title pushed to the line's end)
      static const std::regex trailing_leaders(R"((\.\s*){3,}$|\.\s+\.\s*$)");
      const bool own_leaders = std::regex_search(o.text(), trailing_leaders);
      e.leaders = e.leaders || own_leaders;
      e.apart = e.leaders || edge - o.box.x1 > 3.0f * l.size;
      title = j;
      break;
    }
    if (title < 0) continue;
    e.lines.insert(e.lines.begin(), title);
    // a title drawn in pieces a word space apart ("And finally ...", "pict2e"): the leftmost is its head
    for (size_t k = at + 1; k < left.size(); ++k) {
      const line& o = page.lines[left[k]];
      const line& head = page.lines[e.lines.front()];
      if (head.box.x0 - o.box.x1 > 1.0f * head.size || o.box.x1 > head.box.x0 + 1) break;
      e.lines.insert(e.lines.begin(), left[k]);
    }
    e.lines.push_back(i);
    entries.push_back(std::move(e));
  }
  std::vector<char> accept(entries.size(), 0);
  int with_leaders = 0;
  for (const auto& e : entries) with_leaders += e.leaders;
  const bool contents_go_on = dc.last_contents_page > 0 && dc.last_contents_page == page.number - 1;
  if (with_leaders >= 3 || (with_leaders >= 1 && contents_go_on))
    for (size_t k = 0; k < entries.size(); ++k) accept[k] = entries[k].leaders;
  // numbers set apart without leaders: a column of right-aligned numbers that never decrease
  // down the page, or that lines up with the numbers after leaders
  for (size_t k = 0; k < entries.size(); ++k) {
    if (accept[k] || entries[k].number < 0) continue;
    auto in_column = [&](size_t j) { return std::fabs(entries[j].num_x1 - entries[k].num_x1) < 3.0f; };
    bool beside_leaders = false;
    for (size_t j = 0; j < entries.size(); ++j) beside_leaders = beside_leaders || (accept[j] && in_column(j));
    // a number close to its title counts only in line with numbers after leaders
    std::vector<size_t> column;
    for (size_t j = 0; j < entries.size(); ++j)
      if (!accept[j] && in_column(j) && entries[j].number >= 0 && (entries[j].apart || beside_leaders)) column.push_back(j);
    std::sort(column.begin(), column.end(), [&](size_t a, size_t b) { return entries[a].num_y < entries[b].num_y; });
    bool rising = true;
    for (size_t c = 1; c < column.size(); ++c) rising = rising && entries[column[c]].number >= entries[column[c - 1]].number;
    if (beside_leaders || (column.size() >= 4 && rising))
      for (size_t j : column) accept[j] = 1;
  }
  std::vector<char> in_entry(n, 0);  // a piece of an accepted entry (another column's number too)
  for (size_t k = 0; k < entries.size(); ++k)
    if (accept[k])
      for (int i : entries[k].lines) in_entry[i] = 1;
  for (size_t k = 0; k < entries.size(); ++k) {
    if (!accept[k]) continue;
    // a section number set apart left of the title ("2.1   Options ...... 5") belongs to the entry
    const line& head = page.lines[entries[k].lines.front()];
    float x = head.box.x0;
    for (int j = 0; j < n; ++j) {
      const line& o = page.lines[j];
      if (furniture[j] || in_entry[j] || o.chars == 0 || o.chars > 12 || o.box.x1 > head.box.x0 + 1 || !same_row(o, head))
        continue;
      if (head.box.x0 - o.box.x1 > 4.0f * head.size) continue;
      toc_line[j] = toc_role::entry;
      x = std::min(x, o.box.x0);
    }
    for (int i : entries[k].lines) toc_line[i] = toc_role::entry;
    bool seen = false;
    for (float o : toc_indents) seen = seen || std::fabs(o - x) < 4.0f;
    if (!seen) toc_indents.push_back(x);
  }
  std::sort(toc_indents.begin(), toc_indents.end());
  // an index: many short comma entries on the page
  int body_lines = 0;
  for (int i = 0; i < n; ++i) body_lines += !furniture[i] && page.lines[i].chars > 0;
  const bool is_index = index.size() >= 6 && index.size() * 3 >= static_cast<size_t>(body_lines);
  if (is_index)
    for (int i : index) toc_line[i] = toc_role::entry;
  if (is_index || !toc_indents.empty()) dc.last_contents_page = page.number;
  // an entry wrapped onto two lines: the line just above an entry, inside the list, ending in none
  std::vector<int> marked;
  for (int i = 0; i < n; ++i)
    if (toc_line[i] == toc_role::entry) marked.push_back(i);
  if (marked.size() < 3) return;
  float x0 = 1e9f, y0 = 1e9f, y1 = -1e9f;
  for (int i : marked) {
    x0 = std::min(x0, page.lines[i].box.x0);
    y0 = std::min(y0, page.lines[i].box.y0);
    y1 = std::max(y1, page.lines[i].box.y1);
  }
  for (int i = 0; i < n; ++i) {
    const line& l = page.lines[i];
    if (toc_line[i] != toc_role::none || furniture[i] || l.chars == 0 || l.box.y0 < y0 || l.box.y1 > y1 || l.box.x0 < x0 - 2) continue;
    for (int e : marked) {
      const line& el = page.lines[e];
      const float gap = el.box.y0 - l.box.y1;
      // set like the entry: a larger letter above an index's entries heads a group, it wraps nothing
      if (gap >= -0.2f * l.size && gap < 0.8f * l.size && std::fabs(l.size - el.size) <= 1.0f &&
          layout::overlap(l.box.x0, l.box.x1, el.box.x0, el.box.x1) > 0) {
        toc_line[i] = toc_role::wrapped_start;
        break;
      }
    }
  }
}

void page_analyzer::list_unnumbered_contents() {
  const auto& ls = outline_title_lines;
  for (size_t i = 0; i < ls.size();) {
    size_t j = i + 1;
    while (j < ls.size() && ls[j].block == ls[j - 1].block + 1 && out[ls[j].block].region == out[ls[i].block].region) ++j;
    if (j - i >= 3) {
      // nesting by section-number depth, the shallowest entry of the run at the top
      int top = 99;
      for (size_t k = i; k < j; ++k) top = std::min(top, section_depth(ls[k].plain));
      for (size_t k = i; k < j; ++k) {
        block& b = out[ls[k].block];
        b.kind = block_kind::list_item;
        b.marker = "-";
        b.level = std::min(std::max(0, section_depth(ls[k].plain) - top), 5);
        b.text = text::escape_markdown(ls[k].plain, true);
        b.continues = false;
      }
    }
    i = j;
  }
}

// every piece of the row is part of a contents/index list
bool page_analyzer::toc_entry(const fline& f) const {
  if (toc_line.empty()) return false;
  for (const line* p : f.pieces)
    if (toc_line[static_cast<size_t>(p - page.lines.data())] == toc_role::none) return false;
  return true;
}

void page_analyzer::emit_toc_entry(const fline& f, const std::string& wrapped, int region) {
  std::string t = wrapped.empty() ? f.plain : wrapped + " " + f.plain;
  std::string number, title;
  if (split_leader_entry(t, title, number)) {
    t = title;
  } else if (f.pieces.size() >= 2 && arabic(text::trim(f.pieces.back()->text()))) {
    number = std::string(text::trim(f.pieces.back()->text()));
    t = std::string(text::trim(t.substr(0, t.size() - f.pieces.back()->text().size())));
  }
  // what is left of a leader too short to be one (". ." before a number): never part of a title
  while (t.size() >= 2 && t.back() == '.' && t[t.size() - 2] == ' ') t = std::string(text::trim(t.substr(0, t.size() - 1)));
  // nesting: the entry's indent among the indents of its column's entries, else its section
  // number. Indents further apart than an indent step ever is start another column.
  size_t at = 0;
  for (size_t k = 0; k < toc_indents.size(); ++k)
    if (toc_indents[k] <= f.box.x0 + 4.0f) at = k;
  size_t column_start = at, column_end = at + 1;
  const float column_gap = 6.0f * std::max(f.size, 6.0f);
  while (column_start > 0 && toc_indents[column_start] - toc_indents[column_start - 1] <= column_gap) --column_start;
  while (column_end < toc_indents.size() && toc_indents[column_end] - toc_indents[column_end - 1] <= column_gap) ++column_end;
  int level = static_cast<int>(at - column_start);
  if (column_end - column_start <= 1) level = std::max(0, section_depth(t) - 1);
  block b;
  b.kind = block_kind::list_item;
  b.page = page.number;
  b.region = region;
  b.box = f.box;
  b.level = std::min(level, 5);
  b.marker = "-";
  b.text = text::escape_markdown(t, true) + (number.empty() ? "" : " \u2014 " + number);
  out.push_back(std::move(b));
}

}  // namespace quire::convert

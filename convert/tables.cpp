// Table detection entry points: detect (ruled first, then aligned), cross-page merging and
// GFM rendering. The detectors live in tables_ruled.cpp and tables_aligned.cpp.
#include "convert/detail/tables.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "convert/detail/tables_internal.hpp"

namespace quire::convert::tables {
namespace {

// Cell text reduced to what a reader compares: no Markdown emphasis, no case, no spacing.
std::string comparable(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '_' || c == '`' || c == '\\' || std::isspace(static_cast<unsigned char>(c))) continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A row whose every non-empty cell is one bold run: how header rows of most producers look.
bool bold_row(const std::vector<layout::table_cell>& row) {
  bool any = false;
  for (const auto& c : row) {
    if (c.text.empty()) continue;
    const auto& t = c.text;
    if (t.size() < 5 || t.compare(0, 2, "**") != 0 || t.compare(t.size() - 2, 2, "**") != 0) return false;
    any = true;
  }
  return any;
}

bool same_row(const std::vector<layout::table_cell>& a, const std::vector<layout::table_cell>& b) {
  if (a.size() != b.size()) return false;
  bool any = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = comparable(a[i].text), y = comparable(b[i].text);
    if (x != y) return false;
    any = any || !x.empty();
  }
  return any;
}

// The tail of a repeated header whose first line was taken away (a running-header remover sees
// the same words at the top of every page): every non-empty cell ends the header cell above it.
bool header_remnant(const std::vector<layout::table_cell>& header, const std::vector<layout::table_cell>& row) {
  if (header.size() != row.size()) return false;
  bool any = false;
  for (std::size_t i = 0; i < row.size(); ++i) {
    const auto tail = comparable(row[i].text);
    if (tail.empty()) continue;
    const auto full = comparable(header[i].text);
    if (full.size() <= tail.size() || full.compare(full.size() - tail.size(), tail.size(), tail) != 0) return false;
    any = true;
  }
  return any;
}

// One cell on one line: line breaks become spaces, an unescaped '|' is escaped.
std::string pipe_safe(const std::string& s) {
  std::string out;
  bool escaped = false;
  for (char c : s) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == '|' && !escaped) out += '\\';
    out += c;
    escaped = c == '\\' && !escaped;
  }
  return out;
}

}  // namespace

std::vector<detected> detect(const layout::page_model& page, float body_font_size, const hyphen_rule& hyphenated) {
  float em = body_font_size;
  if (em <= 0) {
    std::vector<float> sizes;
    for (const auto& ln : page.lines)
      for (const auto& sp : ln.spans) sizes.push_back(sp.size);
    em = detail::median(sizes);
    if (em <= 0) em = 10;
  }
  std::vector<bool> used(page.lines.size(), false);
  auto out = detail::detect_ruled(page, em, hyphenated, used);
  auto aligned = detail::detect_aligned(page, em, hyphenated, used);
  out.insert(out.end(), std::make_move_iterator(aligned.begin()), std::make_move_iterator(aligned.end()));
  std::stable_sort(out.begin(), out.end(),
                   [](const detected& a, const detected& b) { return a.table.box.y0 < b.table.box.y0; });
  return out;
}

bool try_merge(layout::block& previous, const layout::block& next) {
  if (previous.kind != layout::block_kind::table || next.kind != layout::block_kind::table) return false;
  if (previous.rows.empty() || next.rows.empty()) return false;
  const std::size_t ncols = previous.rows.front().size();
  if (next.rows.front().size() != ncols) return false;
  const bool repeated_header =
      same_row(previous.rows.front(), next.rows.front()) || header_remnant(previous.rows.front(), next.rows.front());
  if (!repeated_header) {
    // a bold first row unlike the previous header is the header of another table
    const auto filled = std::count_if(next.rows.front().begin(), next.rows.front().end(),
                                      [](const layout::table_cell& c) { return !c.text.empty(); });
    if (filled >= 2 && bold_row(next.rows.front()) && !bold_row(previous.rows.back())) return false;
    // without a repeated header the columns must sit where they sat on the previous page; a
    // column's left edge may move when its widest text (often the header) is not on this page
    if (previous.column_x.size() != next.column_x.size() || previous.column_x.empty()) return false;
    float sum = 0;
    for (std::size_t i = 0; i < previous.column_x.size(); ++i) {
      const float d = std::fabs(previous.column_x[i] - next.column_x[i]);
      if (d > 40) return false;
      sum += d;
    }
    if (sum > 10 * static_cast<float>(previous.column_x.size())) return false;
  }
  for (std::size_t r = repeated_header ? 1 : 0; r < next.rows.size(); ++r) previous.rows.push_back(next.rows[r]);
  return true;
}

// A header row set entirely in bold is how a producer draws <th>; Markdown renderers embolden the
// header row themselves, so the emphasis is styling, not meaning: cells that are one bold run
// lose the markers. A header with mixed weights keeps them (there the bold says something).
std::vector<layout::table_cell> header_for_markdown(const std::vector<layout::table_cell>& header) {
  if (!bold_row(header)) return header;
  std::vector<layout::table_cell> out = header;
  for (auto& c : out) {
    if (c.text.empty()) continue;
    const std::string inner = c.text.substr(2, c.text.size() - 4);
    if (inner.find("**") != std::string::npos) return header;  // several runs: leave the row alone
    c.text = inner;
  }
  return out;
}

std::string to_markdown(const layout::block& table) {
  std::size_t ncols = 0;
  for (const auto& row : table.rows) ncols = std::max(ncols, row.size());
  if (table.rows.empty() || ncols == 0) return {};
  std::string out;
  auto emit = [&](const std::vector<layout::table_cell>& row) {
    out += '|';
    for (std::size_t c = 0; c < ncols; ++c) {
      const std::string text = c < row.size() ? pipe_safe(row[c].text) : std::string();
      out += ' ';
      out += text;
      out += text.empty() ? "|" : " |";
    }
    out += '\n';
  };
  emit(header_for_markdown(table.rows.front()));
  out += '|';
  for (std::size_t c = 0; c < ncols; ++c) out += " --- |";
  out += '\n';
  for (std::size_t r = 1; r < table.rows.size(); ++r) emit(table.rows[r]);
  return out;
}

}  // namespace quire::convert::tables

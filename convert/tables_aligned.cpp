// Strategy 2: tables without a grid, found from column alignment.
//
//  1. Visual rows (bands) of the lines no ruled table took. A band whose words leave a gap of at
//     least 0.8 em somewhere is "split"; runs of split bands (with narrow single-fragment bands
//     between them: wrapped cells, empty cells) close together vertically form candidate regions.
//  2. Columns are the vertical gutters that no word of the region's split bands covers. Narrow
//     gutters (two adjacent cells, e.g. a right-aligned number followed by a left-aligned word,
//     that the PDF merged into one span) are kept only when the text beside them is aligned.
//  3. Bands become rows: horizontal rules separate rows; leading bands above a rule (or bold
//     leading bands) form the header; a band continues the row above when row gaps are bimodal
//     and its gap is the small one, or when it fills only a few of the cells the band above filled.
//  4. Rejections, because a spurious table costs more than a missed one: at least 3 rows and 2
//     columns; rows on shared baselines (not two page columns side by side); not mostly monospace
//     (code); first column not list markers (lists drawn with the marker apart from the text); not
//     two columns of prose; no sentence in the header row; every column aligned.
//  5. One exception to "3 rows": a ruled header row alone at the foot of a page (see
//     orphan_header), kept so that the engine can merge the body that follows on the next page.
#include <algorithm>
#include <cmath>

#include "convert/detail/tables_internal.hpp"

namespace quire::convert::tables::detail {
namespace {

struct hint {
  float y, x0, x1;
};

// Horizontal rules (and shaded-row edges) that may separate rows or underline a header row.
std::vector<hint> row_hints(const layout::page_model& page, float em) {
  std::vector<hint> out;
  for (const auto& r : page.rules)
    if (r.box.width() >= 3 * em && r.box.width() >= 3 * r.box.height())
      out.push_back({(r.box.y0 + r.box.y1) / 2, r.box.x0, r.box.x1});
  const float page_area = std::max(1.0f, page.width * page.height);
  for (const auto& f : page.fills) {
    if (f.width() < 3 * em || f.width() * f.height() > 0.3f * page_area) continue;
    out.push_back({f.y0, f.x0, f.x1});
    out.push_back({f.y1, f.x0, f.x1});
  }
  return out;
}

bool rule_between(const std::vector<hint>& hints, float y_top, float y_bottom, float x0, float x1) {
  for (const auto& h : hints) {
    if (h.y < y_top - 1 || h.y > y_bottom + 1) continue;
    const float overlap = std::min(h.x1, x1) - std::max(h.x0, x0);
    if (overlap >= 0.5f * (x1 - x0)) return true;
  }
  return false;
}

// Widest gap between consecutive words of a band (0 with fewer than two words). The gap after a
// list marker opening the band does not count: a list item drawn with its marker apart from the
// text is no row of cells, and taking it for one would join the list above a table to the table.
float widest_gap(const band& b) {
  float best = 0, right = -1e9f;
  for (std::size_t k = 0; k < b.words.size(); ++k) {
    const auto& w = b.words[k];
    if (right > -1e8f && !(k == 1 && is_list_marker(b.words[0].span.text))) best = std::max(best, w.span.box.x0 - right);
    right = std::max(right, w.span.box.x1);
  }
  return best;
}

struct gutter {
  float x0, x1;
};

// Share of the bands whose word nearest the gutter on one side has its edge near the median.
// Interpolated edges (pulled in by `pull`, see find_gutters) get a wider tolerance.
float aligned_share(const std::vector<const band*>& bands, const gutter& g, bool left_side, float pull) {
  std::vector<std::pair<float, bool>> edges;  // (edge, interpolated)
  for (const band* b : bands) {
    // a band with a word across the gutter has no cell boundary there: it neither confirms
    // nor contradicts the alignment
    float best = left_side ? -1e9f : 1e9f;
    bool found = false, across = false, estimated = false;
    for (const auto& w : b->words) {
      const float x0 = w.span.box.x0 + (w.exact_x0 ? 0 : pull), x1 = w.span.box.x1 - (w.exact_x1 ? 0 : pull);
      if (x0 < g.x0 - 0.5f && x1 > g.x1 + 0.5f) across = true;
      if (left_side && x1 <= g.x0 + 0.5f && x1 > best) best = x1, found = true, estimated = !w.exact_x1;
      if (!left_side && x0 >= g.x1 - 0.5f && x0 < best) best = x0, found = true, estimated = !w.exact_x0;
    }
    if (found && !across) edges.emplace_back(best, estimated);
  }
  if (edges.size() < 3) return 0;
  std::vector<float> xs;
  for (const auto& e : edges) xs.push_back(e.first);
  const float m = median(xs);
  const auto near = std::count_if(edges.begin(), edges.end(), [&](const std::pair<float, bool>& e) {
    return std::fabs(e.first - m) <= 1.5f + (e.second ? 2 * pull : 0.0f);
  });
  return static_cast<float>(near) / static_cast<float>(edges.size());
}

// Whether some band has a real span edge (not an interpolated word edge) beside the gutter: text
// that the PDF drew as separate runs. Without one, a narrow gutter may be a word space that merely
// lines up (initials of the same width, two-digit days) and is not trusted.
bool exact_evidence(const std::vector<const band*>& bands, const std::vector<const band*>& extra, const gutter& g,
                    float pull, float em) {
  // a wrapped line of the region (a header's second line) drawn as its own run that ends or
  // starts right at the gutter marks it as a column edge too
  for (const band* b : extra)
    for (const auto& w : b->words) {
      if (w.exact_x1 && w.span.box.x1 >= g.x0 - 2 && w.span.box.x1 <= g.x0 + 0.5f * (g.x1 - g.x0)) return true;
      if (w.exact_x0 && w.span.box.x0 <= g.x1 + 2 && w.span.box.x0 >= g.x1 - 0.5f * (g.x1 - g.x0)) return true;
    }
  for (const band* b : bands) {
    const word *left = nullptr, *right = nullptr;
    bool across = false;
    for (const auto& w : b->words) {
      const float x0 = w.span.box.x0 + (w.exact_x0 ? 0 : pull), x1 = w.span.box.x1 - (w.exact_x1 ? 0 : pull);
      if (x0 < g.x0 - 0.5f && x1 > g.x1 + 0.5f) across = true;
      if (x1 <= g.x0 + 0.5f && (!left || w.span.box.x1 > left->span.box.x1)) left = &w;
      if (x0 >= g.x1 - 0.5f && (!right || w.span.box.x0 < right->span.box.x0)) right = &w;
    }
    // only a band whose own gap is narrow here defines the gutter; a band with far-apart words
    // (a short cell beside an empty stretch) says nothing about it
    if (across || !left || !right || right->span.box.x0 - left->span.box.x1 >= 0.8f * em) continue;
    if (left->exact_x1 || right->exact_x0) return true;
  }
  return false;
}

// Vertical gutters of a region: x ranges that no word of its split bands covers. Word edges
// interpolated inside a span are uncertain by a fraction of an em, so they are pulled in before
// the sweep; a right-aligned cell a space away from the next cell (merged into one span by the
// PDF) then still leaves a gutter. Narrow gutters need aligned text beside them, or in-cell word
// spaces would split cells: both sides aligned, or one side and a gap of at least 0.4 em, and
// at least one row where the PDF itself separated the two texts.
std::vector<gutter> find_gutters(const std::vector<const band*>& split, const std::vector<const band*>& extra,
                                 float em) {
  const float pull = 0.15f * em;
  std::vector<std::pair<float, float>> spans;
  for (const band* b : split)
    for (const auto& w : b->words) {
      const float x0 = w.span.box.x0 + (w.exact_x0 ? 0 : pull), x1 = w.span.box.x1 - (w.exact_x1 ? 0 : pull);
      spans.emplace_back(std::min(x0, x1), std::max(x0, x1));
    }
  std::sort(spans.begin(), spans.end());
  std::vector<gutter> out;
  if (spans.empty()) return out;
  float right = spans.front().second;
  for (const auto& [x0, x1] : spans) {
    const float width = x0 - right;
    if (width >= 0.12f * em) {
      const gutter g{right, x0};
      const bool left_aligned = aligned_share(split, g, true, pull) >= 0.8f;
      const bool right_aligned = aligned_share(split, g, false, pull) >= 0.8f;
      const bool narrow_ok = exact_evidence(split, extra, g, pull, em) &&
                             ((left_aligned && right_aligned) || ((left_aligned || right_aligned) && width >= 0.4f * em));
      if (width >= 0.8f * em || narrow_ok) out.push_back(g);
    }
    right = std::max(right, x1);
  }
  return out;
}

int column_of(const std::vector<gutter>& gutters, float x) {
  int c = 0;
  for (const auto& g : gutters)
    if (x > (g.x0 + g.x1) / 2) ++c;
  return c;
}

std::size_t filled(const std::vector<cell_words>& row) {
  return static_cast<std::size_t>(std::count_if(row.begin(), row.end(), [](const cell_words& c) { return !c.empty(); }));
}

// Share of a band's characters set in the given style.
float style_share(const band& b, bool layout::span::*flag) {
  std::size_t on = 0, all = 0;
  for (const auto& w : b.words) {
    all += w.span.text.size();
    if (w.span.*flag) on += w.span.text.size();
  }
  return all ? static_cast<float>(on) / static_cast<float>(all) : 0;
}

// Whether two bands are set alike (slant, size): a header line wrapped upwards is set like the
// header; an italic label or a small heading right above the table is not. Weight says nothing
// here: the first split band may be a body row when the header's first line was taken away as
// a running header, and the bold tail of the header ("(mm)") still belongs to the table.
bool same_style(const band& a, const band& b) {
  if (std::fabs(style_share(a, &layout::span::italic) - style_share(b, &layout::span::italic)) > 0.5f) return false;
  std::vector<float> sa, sb;
  for (const auto& w : a.words) sa.push_back(w.span.size);
  for (const auto& w : b.words) sb.push_back(w.span.size);
  const float ma = median(sa), mb = median(sb);
  return std::fabs(ma - mb) <= 0.1f * std::max(ma, mb);
}

float bold_share(const band& b) {
  std::size_t bold = 0, all = 0;
  for (const auto& w : b.words) {
    all += w.span.text.size();
    if (w.span.bold) bold += w.span.text.size();
  }
  return all ? static_cast<float>(bold) / static_cast<float>(all) : 0;
}

// The checks that keep paragraphs, lists, code and page columns out (see the file comment).
bool looks_like_table(const word_grid& grid) {
  const std::size_t ncols = grid.front().size();
  std::size_t words = 0, mono = 0, cells = 0, nonempty = 0;
  std::vector<std::size_t> col_words(ncols, 0), col_cells(ncols, 0), col_markers(ncols, 0);
  for (const auto& row : grid) {
    for (std::size_t c = 0; c < ncols; ++c) {
      ++cells;
      if (row[c].empty()) continue;
      ++nonempty;
      ++col_cells[c];
      col_words[c] += row[c].size();
      // a marker alone in its cell, or opening the first cell (justified list items whose wide
      // word spaces line up in a narrow page column)
      if ((row[c].size() == 1 || c == 0) && is_list_marker(row[c].front().span.text)) ++col_markers[c];
      for (const auto& w : row[c]) {
        ++words;
        if (w.span.mono) ++mono;
      }
    }
  }
  if (2 * mono >= words) return false;                // code block
  if (2 * nonempty < cells) return false;             // mostly empty: scattered text, not a grid
  if (col_cells[0] && 10 * col_markers[0] >= 6 * col_cells[0]) return false;  // a list
  std::size_t prose_cols = 0;
  for (std::size_t c = 0; c < ncols; ++c)
    if (col_cells[c] && col_words[c] >= 6 * col_cells[c]) ++prose_cols;
  if (prose_cols >= 2) return false;  // two columns of running text
  // a header row is labels: a sentence in it means the "table" is text beside text (tagged
  // paragraphs, definition lists, a term column beside running prose)
  std::size_t header_words = 0;
  for (std::size_t c = 0; c < ncols; ++c) header_words = std::max(header_words, grid.front()[c].size());
  if (header_words >= 10 || (prose_cols >= 1 && ncols == 2 && header_words >= 6)) return false;
  if (ncols == 2 && prose_cols == 1) {
    // "1  Footnote text ..." / "a)  item text ...": a short label column beside prose
    std::size_t short_labels = 0;
    for (const auto& row : grid)
      if (row[0].size() == 1 && row[0].front().span.text.size() <= 3) ++short_labels;
    if (10 * short_labels >= 8 * col_cells[0]) return false;
  }
  // every column's cells share a left, right or centre edge in most body rows
  for (std::size_t c = 0; c < ncols; ++c) {
    std::vector<float> l, r, m;
    for (std::size_t i = 1; i < grid.size(); ++i) {
      const auto& cell = grid[i][c];
      if (cell.empty()) continue;
      // first visual line of the cell
      float x0 = cell.front().span.box.x0, x1 = cell.front().span.box.x1;
      for (const auto& w : cell)
        if (w.line == cell.front().line || std::fabs(w.span.box.y0 - cell.front().span.box.y0) < 1) {
          x0 = std::min(x0, w.span.box.x0);
          x1 = std::max(x1, w.span.box.x1);
        }
      l.push_back(x0);
      r.push_back(x1);
      m.push_back((x0 + x1) / 2);
    }
    if (l.size() < 2) continue;
    auto share = [](const std::vector<float>& v) {
      const float med = median(v);
      return static_cast<float>(std::count_if(v.begin(), v.end(), [&](float e) { return std::fabs(e - med) <= 2.5f; })) /
             static_cast<float>(v.size());
    };
    if (std::max({share(l), share(r), share(m)}) < 0.6f) return false;
  }
  return true;
}

// Turns the bands of one region into a table, or returns false.
bool build_region(const layout::page_model& page, const std::vector<band>& bands, std::size_t first,
                  std::size_t last, const std::vector<bool>& split, const std::vector<hint>& hints, float em,
                  const hyphen_rule& hyphenated, detected& out) {
  std::vector<const band*> split_bands;
  for (std::size_t b = first; b <= last; ++b)
    if (split[b]) split_bands.push_back(&bands[b]);
  if (split_bands.size() < 2) return false;
  // cells of one table row share a baseline; the lines of two page columns side by side drift
  // against each other (other leading, headings in between). A scanned page is skewed: there the
  // baselines of a row may climb steadily, by the page's slope, but not scatter.
  struct point {
    float x, base;
  };
  std::vector<std::vector<point>> rows_pts;
  std::vector<float> slopes;
  for (const band* b : split_bands) {
    std::vector<point> pts;
    for (int id : b->lines) {
      const auto& ln = page.lines[id];
      const float base = ln.spans.empty() ? ln.box.y1 : ln.spans.front().baseline;
      pts.push_back({(ln.box.x0 + ln.box.x1) / 2, base});
    }
    std::sort(pts.begin(), pts.end(), [](const point& p, const point& q) { return p.x < q.x; });
    if (pts.size() >= 2 && pts.back().x - pts.front().x > em)
      slopes.push_back((pts.back().base - pts.front().base) / (pts.back().x - pts.front().x));
    rows_pts.push_back(std::move(pts));
  }
  const float slope = page.from_ocr ? median(slopes) : 0.0f;
  const float tolerance = page.from_ocr ? 0.25f * em : 1.0f;
  std::size_t level = 0;
  for (const auto& pts : rows_pts) {
    float worst = 0;
    for (const auto& p : pts)
      worst = std::max(worst, std::fabs(p.base - (pts.front().base + slope * (p.x - pts.front().x))));
    if (worst <= tolerance) ++level;
  }
  if (10 * level < 7 * split_bands.size()) return false;
  std::vector<const band*> other_bands;
  for (std::size_t b = first; b <= last; ++b)
    if (!split[b]) other_bands.push_back(&bands[b]);
  const auto gutters = find_gutters(split_bands, other_bands, em);
  const std::size_t ncols = gutters.size() + 1;
  if (ncols < 2) return false;
  float rx0 = 1e9f, rx1 = -1e9f;
  for (const band* b : split_bands) rx0 = std::min(rx0, b->x0), rx1 = std::max(rx1, b->x1);

  // a single-fragment band inside the region must not straddle a gutter
  auto fits = [&](const band& b) {
    for (const auto& w : b.words)
      for (const auto& g : gutters)
        if (w.span.box.x0 < g.x0 - 1 && w.span.box.x1 > g.x1 + 1) return false;
    return b.x0 >= rx0 - em && b.x1 <= rx1 + em;
  };
  // a leading line (a header wrapped upwards, or the second header line when a running-header
  // remover took the first) keeps its words out of the gutters, at most reaching into them; a
  // caption or the end of a paragraph right above the table does not
  auto clear_of_gutters = [&](const band& b) {
    for (const auto& w : b.words)
      for (const auto& g : gutters)
        if (std::min(w.span.box.x1, g.x1) - std::max(w.span.box.x0, g.x0) > 0.5f * w.span.box.width()) return false;
    return true;
  };
  std::vector<std::size_t> members;
  for (std::size_t b = first; b <= last; ++b) {
    if (!split[b] && members.empty() && (!clear_of_gutters(bands[b]) || !same_style(bands[b], *split_bands.front())))
      continue;
    if (!split[b] && !fits(bands[b])) {
      if (members.empty()) continue;  // a leading line that belongs to the text above
      break;
    }
    members.push_back(b);
  }
  if (members.size() < 3 && split_bands.size() < 3) return false;

  std::vector<std::vector<cell_words>> band_cells;
  for (std::size_t b : members) {
    std::vector<cell_words> cells(ncols);
    for (const auto& w : bands[b].words) cells[column_of(gutters, w.cx())].push_back(w);
    band_cells.push_back(std::move(cells));
  }
  const std::size_t n = members.size();
  auto between = [&](std::size_t i) {  // rule between member i-1 and i
    return rule_between(hints, bands[members[i - 1]].y1 - 1, bands[members[i]].y0 + 1, rx0, rx1);
  };

  // header: bands above the first rule near the top, or leading bold bands
  std::size_t header_end = 0;  // index of the last header band
  bool header_found = false;
  for (std::size_t i = 1; i < n && i <= 3; ++i)
    if (between(i)) {
      header_end = i - 1;
      header_found = true;
      break;
    }
  if (!header_found) {
    std::size_t k = 0;
    while (k < n && k < 4 && bold_share(bands[members[k]]) >= 0.6f) ++k;
    if (k >= 1 && k < n && bold_share(bands[members[k]]) < 0.6f) header_end = k - 1, header_found = true;
  }

  // row gaps after the header: bimodal gaps mean padded rows with wrapped lines inside them
  std::vector<float> gaps;
  for (std::size_t i = header_end + 2; i < n; ++i)
    if (!between(i)) gaps.push_back(bands[members[i]].y0 - bands[members[i - 1]].y1);
  std::sort(gaps.begin(), gaps.end());
  float threshold = -1;
  {
    float best = 0;
    for (std::size_t i = 1; i < gaps.size(); ++i) {
      const float jump = gaps[i] - gaps[i - 1];
      if (jump > best && gaps.size() - i >= 2) best = jump, threshold = (gaps[i] + gaps[i - 1]) / 2;
    }
    if (best < 1.5f) threshold = -1;
    // lines wrapped inside a cell sit at the text's own line spacing: their boxes (nearly)
    // touch. Larger "small" gaps are just jitter between rows (scans: tight glyph boxes).
    if (threshold >= 0 && gaps.front() > 0.25f * em) threshold = -1;
  }

  // How far text reaches in each column: where a cell's lines wrap.
  std::vector<float> column_right(ncols, -1e9f);
  for (const auto& cells : band_cells)
    for (std::size_t c = 0; c < ncols; ++c)
      for (const auto& w : cells[c]) column_right[c] = std::max(column_right[c], w.span.box.x1);
  // Whether every non-empty cell of `band` continues a cell of `row` whose last line had no room
  // for the band's first word in that column (so the line must have wrapped there; or a word
  // broke at a hyphen, see above), and at least
  // one of those lines reads as cut short: several words, or a break after a hyphen, slash, dot
  // or comma. A narrow column of one-word cells ("NodeSource" over "Datadog") never has room for
  // the next word, so room alone says nothing there.
  // A word broken at a hyphen in one cell and finished in lower case below it says the band is
  // wrapped text whatever room the other cells had left: TeX breaks a narrow cell's lines for
  // the whole paragraph, not greedily, so a line may end with room for the next word.
  auto hyphen_break = [&](const std::vector<cell_words>& row, const std::vector<cell_words>& band) {
    for (std::size_t c = 0; c < ncols; ++c) {
      if (band[c].empty() || row[c].empty()) continue;
      if (broken_at_hyphen(row[c].back().span.text, band[c].front().span.text)) return true;
    }
    return false;
  };
  auto wraps_into = [&](const std::vector<cell_words>& row, const std::vector<cell_words>& band) {
    const bool broken_word = hyphen_break(row, band);
    bool cut_short = broken_word;
    for (std::size_t c = 0; c < ncols; ++c) {
      if (band[c].empty()) continue;
      if (row[c].empty()) return false;
      const word& last = row[c].back();
      float line_end = last.span.box.x1;
      std::size_t words_on_line = 0;
      for (const auto& w : row[c])
        if (w.line == last.line && std::fabs(w.span.box.y0 - last.span.box.y0) < 1) {
          line_end = std::max(line_end, w.span.box.x1);
          ++words_on_line;
        }
      const word& next = band[c].front();
      const float space = 0.25f * std::max(next.span.size, 1.0f);
      if (!broken_word && line_end + space + next.span.box.width() <= column_right[c] + 0.5f) return false;
      const char end = last.span.text.empty() ? ' ' : last.span.text.back();
      if (words_on_line >= 2 || end == '-' || end == '/' || end == '.' || end == ',' || end == '_') cut_short = true;
    }
    return cut_short;
  };

  word_grid grid;
  for (std::size_t i = 0; i < n; ++i) {
    bool new_row;
    if (i == 0) {
      new_row = true;
    } else if (i <= header_end) {
      new_row = false;
    } else if ((header_found && i == header_end + 1) || between(i)) {
      new_row = true;
    } else if (threshold >= 0) {
      new_row = bands[members[i]].y0 - bands[members[i - 1]].y1 > threshold;
    } else {
      const std::size_t k = filled(band_cells[i]);
      bool subset = true;
      for (std::size_t c = 0; c < ncols; ++c)
        if (!band_cells[i][c].empty() && band_cells[i - 1][c].empty()) subset = false;
      const bool sparse = k == 1 || 2 * k < ncols;
      // a band that leaves a column empty and carries on only cells whose text above ran out of
      // room is wrapped text of the row above, however many cells wrapped at once
      const bool wrapped = (k < ncols || band_cells[i][0].empty()) && wraps_into(grid.back(), band_cells[i]);
      new_row = !((sparse && subset) || wrapped);
    }
    if (new_row) {
      grid.push_back(band_cells[i]);
    } else {
      for (std::size_t c = 0; c < ncols; ++c)
        grid.back()[c].insert(grid.back()[c].end(), band_cells[i][c].begin(), band_cells[i][c].end());
    }
  }
  if (grid.size() < 3 || !looks_like_table(grid)) return false;
  std::vector<float> column_x{rx0};
  for (const auto& g : gutters) column_x.push_back(g.x1);
  return finish_table(page, std::move(grid), column_x, 3, hyphenated, out);
}

// A header row left alone at the foot of a page (groff tbl does not keep it with the body): one
// row of at least three widely spaced cells, ruled underneath, with nothing after it but the
// footer zone. Returned as a one-row table so the engine can merge the body from the next page.
bool orphan_header(const layout::page_model& page, const std::vector<band>& bands, std::size_t b,
                   const std::vector<hint>& hints, float em, const hyphen_rule& hyphenated, detected& out) {
  const band& hb = bands[b];
  bool ruled = false;
  float rule_y = 0;
  for (const auto& h : hints)
    if (h.y >= hb.y1 - 1 && h.y <= hb.y1 + 0.6f * em && h.x0 <= hb.x0 + 2 && h.x1 >= hb.x1 - 2) ruled = true, rule_y = h.y;
  if (!ruled) return false;
  for (std::size_t k = b + 1; k < bands.size(); ++k)
    if (bands[k].y0 > rule_y && bands[k].y0 < 0.88f * page.height) return false;  // below: footer zone
  std::vector<cell_words> cells(1);
  std::vector<float> column_x{hb.words.front().span.box.x0};
  for (std::size_t k = 0; k < hb.words.size(); ++k) {
    if (k > 0 && hb.words[k].span.box.x0 - hb.words[k - 1].span.box.x1 >= 0.8f * em) {
      cells.emplace_back();
      column_x.push_back(hb.words[k].span.box.x0);
    }
    cells.back().push_back(hb.words[k]);
  }
  if (cells.size() < 3) return false;
  for (const auto& c : cells)
    if (c.size() > 4 || (c.size() == 1 && is_list_marker(c.front().span.text))) return false;  // labels, not prose
  return finish_table(page, word_grid{cells}, column_x, 1, hyphenated, out);
}

}  // namespace

std::vector<detected> detect_aligned(const layout::page_model& page, float em, const hyphen_rule& hyphenated,
                                     std::vector<bool>& used) {
  std::vector<detected> out;
  std::vector<int> ids;
  for (std::size_t i = 0; i < page.lines.size(); ++i)
    if (!used[i] && !page.lines[i].spans.empty()) ids.push_back(static_cast<int>(i));
  const auto bands = build_bands(page, ids);
  const auto hints = row_hints(page, em);
  std::vector<bool> split(bands.size());
  // a line set entirely in monospace is code: its spaces are a character wide, so only a gap far
  // wider than that parts two cells
  for (std::size_t b = 0; b < bands.size(); ++b)
    split[b] = widest_gap(bands[b]) >= (style_share(bands[b], &layout::span::mono) >= 1.0f ? 2.0f : 0.8f) * em;

  std::size_t i = 0;
  while (i < bands.size()) {
    if (!split[i]) {
      ++i;
      continue;
    }
    // leading narrow bands sitting right on top of the first split band (a header wrapped upwards)
    std::size_t first = i;
    while (first > 0 && i - first < 3 && !split[first - 1] && bands[first].y0 - bands[first - 1].y1 <= 0.35f * em)
      --first;
    float rx0 = bands[i].x0, rx1 = bands[i].x1;
    std::size_t last = i, j = i + 1;
    while (j < bands.size()) {
      const float gap = bands[j].y0 - bands[j - 1].y1;
      const bool ruled = rule_between(hints, bands[j - 1].y1 - 1, bands[j].y0 + 1, rx0, rx1);
      if (gap > (ruled ? 2.5f : 1.2f) * em) break;
      if (split[j]) {
        last = j;
        rx0 = std::min(rx0, bands[j].x0);
        rx1 = std::max(rx1, bands[j].x1);
      } else if (bands[j].x1 - bands[j].x0 > 0.6f * (rx1 - rx0) || bands[j].x0 < rx0 - em || bands[j].x1 > rx1 + em) {
        break;  // a full-width line: the paragraph after the table
      }
      ++j;
    }
    // trailing narrow bands hugging the last row (wrapped last-row cells)
    while (last + 1 < bands.size() && last + 1 < j && bands[last + 1].y0 - bands[last].y1 <= 0.35f * em) ++last;
    detected d;
    if (build_region(page, bands, first, last, split, hints, em, hyphenated, d) ||
        (last == i && orphan_header(page, bands, i, hints, em, hyphenated, d))) {
      for (int line : d.lines) used[line] = true;
      out.push_back(std::move(d));
    }
    i = last + 1;
  }
  return out;
}

}  // namespace quire::convert::tables::detail

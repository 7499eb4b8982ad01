// Stage 1: the page's characters → visual line segments. MuPDF's structured text gives lines in
// its own grouping; here its horizontal lines become rows by vertical overlap (so superscripts stay
// on their line), a row's lines merge by x (keeping each line's own character order), overprinted
// duplicates (fake bold, shadows) go, and the row splits at gaps too wide to be a word space (so
// two columns or two table cells on one baseline become two segments, see extract_spans.cpp).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "convert/detail/extract_internal.hpp"

namespace quire::convert::extract_detail {
namespace {

using layout::rect;

struct raw_line {
  std::vector<int> chars;  // indices into the page's rawc table
  float y0 = 1e9f, y1 = -1e9f;
  float x0 = 1e9f, x1 = -1e9f;  // horizontal extent of its non-space characters
  float oy = 0, size = 0;        // baseline and size of its first non-space character
  int block = -1;
};

// A character dot leaders are drawn with: a period, a middle dot, an ellipsis.
bool is_leader_char(int c) { return c == '.' || c == 0xB7 || c == 0x2026; }

// Whether two vertically overlapping raw lines are one visual row: on (nearly) the same baseline,
// or side by side (a superscript or subscript beside its text). Lines of two page columns with
// different leading overlap too, but neither holds: joining them would chain the rows of one
// column through the other's lines.
bool same_row(const raw_line& a, const raw_line& b) {
  const float size = std::max(a.size, b.size);
  if (std::fabs(a.oy - b.oy) <= 0.3f * size) return true;
  const float gap = std::max(a.x0, b.x0) - std::min(a.x1, b.x1);
  return gap <= 2.0f * size;
}

// Maps a code point to what the Markdown should carry: -1 drop, else the (possibly replaced) one.
int map_char(int c) {
  if (c == '\t' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000) return ' ';
  if (c < 32 || c == 0x7F || c == 0xFFFD || c == 0xFEFF || (c >= 0x200B && c <= 0x200D) || c == 0x2060) return -1;
  if (c >= 0xE000 && c <= 0xF8FF) {
    switch (c) {  // Symbol/Wingdings bullets mapped into the private use area
      case 0xF0B7: case 0xF06C: case 0xF0A8: return 0x2022;
      case 0xF0A7: case 0xF06E: return 0x25AA;
      case 0xF0D8: case 0xF0E8: return 0x27A2;
      case 0xF0FC: return 0x2713;
      case 0xF02D: return '-';
      default: return -1;
    }
  }
  return c;
}

}  // namespace

void build_lines(fz_context* ctx, fz_stext_page* text, const std::vector<layout::link>& links,
                 layout::page_model& out) {
  page_fonts fonts;
  std::vector<rawc> chars;
  std::vector<raw_line> raws;
  std::vector<int> line_links;
  int block_no = 0;
  for (fz_stext_block* b = text->first_block; b; b = b->next, ++block_no) {
    if (b->type != FZ_STEXT_BLOCK_TEXT) continue;
    for (fz_stext_line* l = b->u.t.first_line; l; l = l->next) {
      if (std::fabs(l->dir.y) > 0.1f || l->dir.x < 0) {
        // rotated or vertical text: counted, but not laid out (watermarks, rotated labels)
        for (fz_stext_char* ch = l->first_char; ch; ch = ch->next)
          if (ch->c > ' ') ++out.chars, ++out.unread_chars;
        continue;
      }
      raw_line rl;
      rl.block = block_no;
      // the links this line can touch (a contents or index page has hundreds: testing each
      // character against all of them cost more than the rest of the line's work)
      float cy_min = 1e30f, cy_max = -1e30f;
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next) {
        const float cy = ch->origin.y - 0.3f * (ch->size > 0 ? ch->size : 1);
        cy_min = std::min(cy_min, cy);
        cy_max = std::max(cy_max, cy);
      }
      line_links.clear();
      for (size_t k = 0; k < links.size(); ++k)
        if (cy_max >= links[k].box.y0 - 1 && cy_min <= links[k].box.y1 + 1) line_links.push_back(static_cast<int>(k));
      for (fz_stext_char* ch = l->first_char; ch; ch = ch->next) {
        int c = map_char(ch->c);
        if (c < 0) continue;
        rawc r;
        r.c = c;
        r.space = c == ' ';
        r.size = ch->size > 0 ? ch->size : 1;
        r.x0 = std::min(ch->quad.ul.x, ch->quad.ll.x);
        r.x1 = std::max(ch->quad.ur.x, ch->quad.lr.x);
        r.oy = ch->origin.y;
        r.y0 = r.oy - 0.75f * r.size;
        r.y1 = r.oy + 0.22f * r.size;
        r.font = fonts.get(ctx, ch->font);
        r.link = -1;
        const float cx = (r.x0 + r.x1) / 2, cy = r.oy - 0.3f * r.size;
        for (int k : line_links) {
          const rect& lb = links[static_cast<size_t>(k)].box;
          if (cx >= lb.x0 - 0.5f && cx <= lb.x1 + 0.5f && cy >= lb.y0 - 1 && cy <= lb.y1 + 1) {
            r.link = k;
            break;
          }
        }
        if (!r.space) {
          if (rl.size <= 0) rl.oy = r.oy, rl.size = r.size;
          rl.y0 = std::min(rl.y0, r.y0);
          rl.y1 = std::max(rl.y1, r.y1);
          rl.x0 = std::min(rl.x0, r.x0);
          rl.x1 = std::max(rl.x1, r.x1);
          ++out.chars;
        }
        rl.chars.push_back(static_cast<int>(chars.size()));
        chars.push_back(r);
      }
      if (rl.y1 > rl.y0) raws.push_back(std::move(rl));
    }
  }
  mark_uniform_fonts(chars, fonts);
  // rows: raw lines that overlap vertically by half the smaller height (superscripts join
  // their line; neighbouring lines of a paragraph do not)
  std::vector<int> order(raws.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return raws[a].y0 < raws[b].y0; });
  std::vector<int> parent(raws.size());
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (size_t i = 0; i < order.size(); ++i) {
    const raw_line& a = raws[order[i]];
    for (size_t j = i + 1; j < order.size(); ++j) {
      const raw_line& b = raws[order[j]];
      if (b.y0 >= a.y1) break;
      const float ov = layout::overlap(a.y0, a.y1, b.y0, b.y1);
      const float minh = std::min(a.y1 - a.y0, b.y1 - b.y0);
      if (ov >= 0.5f * minh && same_row(a, b)) parent[find(order[j])] = find(order[i]);
    }
  }
  std::vector<std::vector<int>> row_members;  // raw lines of each row
  std::unordered_map<int, int> row_of;
  std::vector<int> row_block;
  for (int i : order) {
    int r = find(i);
    auto it = row_of.find(r);
    if (it == row_of.end()) {
      it = row_of.emplace(r, static_cast<int>(row_members.size())).first;
      row_members.emplace_back();
      row_block.push_back(raws[i].block);
    }
    row_members[it->second].push_back(i);
  }
  for (size_t ri = 0; ri < row_members.size(); ++ri) {
    // Merge the row's raw lines by x, keeping each raw line's own (logical) character order:
    // expanded ligatures and combining marks share or reverse x positions within a line.
    std::vector<int> row;
    {
      const auto& mem = row_members[ri];
      std::vector<size_t> pos(mem.size(), 0);
      for (;;) {
        int best = -1;
        float bx = 0;
        for (size_t m = 0; m < mem.size(); ++m) {
          const auto& cl = raws[mem[m]].chars;
          if (pos[m] >= cl.size()) continue;
          const float x = chars[cl[pos[m]]].x0;
          if (best < 0 || x < bx - 0.01f) best = static_cast<int>(m), bx = x;
        }
        if (best < 0) break;
        const auto& cl = raws[mem[best]].chars;
        // take the whole run of this line that stays left of the other lines' next characters
        float limit = 1e9f;
        for (size_t m = 0; m < mem.size(); ++m) {
          if (static_cast<int>(m) == best || pos[m] >= raws[mem[m]].chars.size()) continue;
          limit = std::min(limit, chars[raws[mem[m]].chars[pos[m]]].x0);
        }
        do {
          row.push_back(cl[pos[best]++]);
        } while (pos[best] < cl.size() && chars[cl[pos[best]]].x0 <= limit);
      }
    }
    // drop overprinted duplicates (fake bold, shadows)
    std::vector<int> kept;
    kept.reserve(row.size());
    for (int i : row) {
      const rawc& c = chars[i];
      bool dup = false;
      for (size_t k = kept.size(); k-- > 0 && kept.size() - k <= 3;) {
        const rawc& p = chars[kept[k]];
        if (p.c == c.c && std::fabs(p.x0 - c.x0) < 0.15f * c.size && std::fabs(p.oy - c.oy) < 0.15f * c.size) {
          dup = !c.space;
          break;
        }
      }
      if (!dup) kept.push_back(i);
    }
    fold_accents(chars, kept);
    // split at gaps too wide for a word space
    size_t start = 0;
    float last_x1 = -1e9f, last_size = 0;
    bool saw_space = false;
    bool any = false;
    int leader_run = 0;  // leader characters ending the text so far (spaces between them allowed)
    auto emit = [&](size_t b, size_t e) {
      while (b < e && chars[kept[b]].space) ++b;
      while (e > b && chars[kept[e - 1]].space) --e;
      if (b >= e) return;
      layout::line ln = make_segment(chars, kept, b, e, fonts);
      ln.block = row_block[ri];
      if (!ln.spans.empty()) out.lines.push_back(std::move(ln));
    };
    for (size_t k = 0; k < kept.size(); ++k) {
      const rawc& c = chars[kept[k]];
      if (c.space) {
        saw_space = true;
        continue;
      }
      if (any) {
        const float gap = c.x0 - last_x1;
        const float em = std::max(last_size, c.size);
        // a dot leader goes on across the wider steps TeX's \leaders boxes leave on the grid they
        // align to: split there and its pieces look like table columns and hide the entry's page
        const bool in_leader = leader_run >= 1 && is_leader_char(c.c) && gap >= 0 && gap <= 1.5f * em;
        if (!in_leader && (gap > (saw_space ? 1.8f : 0.5f) * em || gap < -2.0f * em)) {
          emit(start, k);
          start = k;
          leader_run = 0;
        }
      }
      leader_run = is_leader_char(c.c) ? leader_run + 1 : 0;
      any = true;
      saw_space = false;
      last_x1 = std::max(last_x1, c.x1);
      if (c.x1 < last_x1 - 2.0f * c.size) last_x1 = c.x1;
      last_size = c.size;
    }
    emit(start, kept.size());
  }
}

}  // namespace quire::convert::extract_detail

// Stage 2, step 5: flow lines → blocks. A small state machine (build_blocks) walks one region's
// lines top to bottom: monospace lines make code blocks (code_blocks.cpp), a marker (glyph, number,
// drawn bullet: flow_lines.cpp) starts a list item whose wrapped lines follow it, other lines make
// paragraphs until the spacing, indent or style says a new block starts. Finished paragraphs
// become footnote definitions (small, labelled with a referenced number), headings (headings.cpp,
// outline.cpp) or paragraphs; a block's text is its lines joined (line_joins.cpp).
#include <algorithm>
#include <cctype>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::rect;

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
      if (!info.outlined && info.bold && !info.italic && lines.size() == 1 && info.size < 1.1f * body)
        bold_line_headings.push_back({last_heading_block, info.size});
      out.push_back(std::move(b));
      return;
    }
  }
  b.kind = block_kind::paragraph;
  b.text = inline_md(lines, false, true);
  const fline& last = *lines.back();
  b.continues = !text::ends_sentence(last.plain) && text::last_cp(last.plain) != ':';
  if (b.text.empty()) return;
  if (lines.size() == 1 && outline_elsewhere(plain)) outline_title_lines.push_back({static_cast<int>(out.size()), plain});
  out.push_back(std::move(b));
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

int page_analyzer::item_under(const fline& f) const {
  for (int level = static_cast<int>(dc.list_stack.size()) - 1; level >= 0; --level) {
    const auto& l = dc.list_stack[static_cast<size_t>(level)];
    const float x = f.box.x0 - region_left;
    if (x > l.marker_x + 2.0f && x >= l.text_x - 0.6f * f.size) return level;
  }
  return -1;
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
    const size_t first = out.size();
    if (st.kind == open_block::paragraph) emit_paragraph(st.lines, region);
    else if (st.kind == open_block::list_item) emit_item(st.lines, list_level(*st.lines.front()), region);
    else if (st.kind == open_block::code) emit_code(st.lines, region);
    for (size_t k = first; k < out.size() && st.in_item >= 0; ++k)
      if (out[k].kind == block_kind::paragraph || out[k].kind == block_kind::code) out[k].in_item = st.in_item;
    st.lines.clear();
    st.kind = open_block::none;
    st.in_item = -1;
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
      st.in_item = item_under(f);
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
      bool wrapped = aligned_wrap && (f.marker == list_marker::ordered || (ascii_bullet && prev->box.x1 >= region_right - 3.0f * f.size &&
                                                         text::last_cp(prev->plain) != ':'));
      // the same inside an item: a line at the item's text edge under a full line that ends no
      // sentence ("... JSVAL_TO_OBJECT" / "(o) to o.toObjectOrNull()") carries the item on
      if (!wrapped && st.kind == open_block::list_item && prev && f.marker == list_marker::ordered && !f.marker_piece) {
        const fline& head = *st.lines.front();
        const float prev_text_x = prev == &head ? head.text_x : prev->box.x0;
        wrapped = gap <= lgap + 0.3f * f.size && std::fabs(f.box.x0 - prev_text_x) < 0.6f * f.size &&
                  std::fabs(f.box.x0 - head.text_x) < 0.6f * f.size && prev->box.x1 >= region_right - 3.0f * f.size &&
                  !text::ends_sentence(prev->plain) && text::last_cp(prev->plain) != ':';
      }
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
      if (item_under(f) < 0) dc.list_stack.clear();
    }
    if (st.kind == open_block::paragraph && continues_paragraph(st.lines, f)) {
      st.lines.push_back(&f);
      continue;
    }
    flush();
    if (f.marker == list_marker::none) {
      // anything but an item closes the lists, unless it is indented under one
      if (dc.list_stack.empty() || f.box.x0 - region_left <= dc.list_stack.front().marker_x + 2.0f) dc.list_stack.clear();
    }
    st.kind = open_block::paragraph;
    st.in_item = f.marker == list_marker::none ? item_under(f) : -1;
    st.lines.push_back(&f);
  }
  flush();
}

}  // namespace quire::convert

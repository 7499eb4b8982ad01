// Stage 2, step 5b: is a finished paragraph a heading, and at which level.
//
// The evidence, strongest first: the PDF outline (bookmarks) names the heading and its depth; a
// section number ("1.2.3") gives the depth relative to the other numbered headings; the font
// (size, weight, slant of the text that is not inline code) ranks it among the heading styles of
// the document. Some short emphasised lines are never headings: figure and table captions,
// admonition labels ("Note", "Warning"), rows whose pieces stand apart (table header rows, labels
// inside a drawing).
#include <algorithm>
#include <map>
#include <regex>

#include "convert/detail/page_analyzer.hpp"
#include "convert/detail/text.hpp"

namespace quire::convert {

using layout::block;
using layout::block_kind;
using layout::line;
using layout::span;

namespace {

// An admonition label on its own: "Note", "Warning:", "Tip" ...
bool is_admonition(const std::string& plain) {
  // singular only: "Notes" or "Tips" is more often a section of its own
  static const char* words[] = {"note", "warning", "tip", "hint", "important", "caution", "danger", "attention", "remark"};
  const std::string k = text::key(plain);
  return std::any_of(std::begin(words), std::end(words), [&](const char* w) { return k == w; });
}

// Shell commands, paths and code set in a heading font: "./configure 2>&1 | tee log",
// "cd /usr/src/x", "cc -c foo.c", "a = b;", "sdcc main.c foo1.rel foo2.rel" (a lower-case command
// word and nothing but two or more file names after it; "Moving from setup.py to pyproject.toml"
// has words between them).
bool looks_like_code(const std::string& plain) {
  static const std::regex re(R"([|<>{}$;=\\]|^\./|(^|\s)/\w+/|(^|\s)--?[A-Za-z])");
  static const std::regex command(R"(^[a-z][a-z0-9_+-]*(\s+[\w+-]+\.[A-Za-z0-9]{1,4}){2,}$)");
  return std::regex_search(plain, re) || std::regex_match(plain, command);
}

// "1", "2.3", "A.1", "IV", "3)" : a section number standing alone as a piece of its own.
bool is_section_number(std::string_view s) {
  static const std::regex re(R"(^(\d{1,3}|[A-Z]|[IVX]{1,5})([.)]\d{1,3})*[.)]?$)");
  return std::regex_match(std::string(text::trim(s)), re);
}

}  // namespace

// Depth of a leading section number: "1.2.3 Title" → 3, "4 Title" and "4. Title" → 1, "A.2 Title"
// → 2; 0 when the text does not start with one.
int section_depth(const std::string& plain) {
  static const std::regex re(R"(^((\d{1,3}|[A-Z])((\.\d{1,3})+)|\d{1,3})\.?\s+\S.*)");
  std::smatch m;
  if (!std::regex_match(plain, m, re)) return 0;
  const std::string num = m[1].str();
  if (num.size() == 1 && std::isalpha(static_cast<unsigned char>(num[0]))) return 0;
  return static_cast<int>(std::count(num.begin(), num.end(), '.')) + 1;
}

int page_analyzer::heading_level(const std::vector<const fline*>& lines, const std::string& plain,
                                 heading_info& info) {
  // the style of the text that is not code: a heading may hold inline code in another font
  std::map<int, int> sizes, mono_sizes;
  int chars = 0, bold = 0, italic = 0, mono = 0;
  for (const fline* f : lines)
    for (const line* p : f->pieces)
      for (const span& sp : p->spans) {
        if (sp.superscript || sp.subscript) continue;
        int n = 0;
        for (size_t i = 0; i < sp.text.size();)
          if (!text::is_space(text::next_cp(sp.text, i))) ++n;
        if (!n) continue;
        if (sp.mono) {
          mono += n;
          mono_sizes[quarter(sp.size)] += n;
          continue;
        }
        chars += n;
        bold += sp.bold ? n : 0;
        italic += sp.italic ? n : 0;
        sizes[quarter(sp.size)] += n;
      }
  if (chars + mono == 0) return 0;
  const bool code_only = chars == 0;
  auto dominant = [](const std::map<int, int>& m) {
    int best = -1, q = 0;
    for (auto& [k, n] : m)
      if (n > best) best = n, q = k;
    return q / 4.0f;
  };
  float size = dominant(code_only ? mono_sizes : sizes);
  bool all_bold = !code_only && bold == chars, all_italic = !code_only && italic == chars;
  if (code_only) {  // an API signature set in bold code
    all_bold = true;
    for (const fline* f : lines) all_bold = all_bold && f->bold;
  }
  info = {size, all_bold, all_italic, false};

  const int nlines = static_cast<int>(lines.size());
  const int nchars = static_cast<int>(plain.size());
  outline_entry* oe = nlines <= 4 ? outline_match(plain) : nullptr;
  bool heading = oe != nullptr;
  if (!heading) {
    // first the style (cheap), then the exclusions (regexes, outline lookups): most paragraphs
    // fail the style test, and a paragraph must pass both to be a heading
    const float r = size / body;
    if (nlines <= 3 && nchars <= 200) {
      const int lc = text::last_cp(plain);
      const bool bad_end = lc == ',' || lc == ';' || (lc == '.' && !all_bold && r < 1.3f);
      if (r >= 1.15f && !bad_end) heading = true;
      else if (r >= 1.05f && (all_bold || all_italic) && !bad_end) heading = true;
      else if (all_bold && r >= 0.8f && nlines <= 2 && nchars <= 150 && lc != '.' && lc != ',' && lc != ';' &&
               lc != ':' && (!code_only || nlines == 1))
        heading = true;
    }
    if (!heading) return 0;
    int letters = 0;
    for (size_t i = 0; i < plain.size() && letters < 2;)
      if (text::is_alpha(text::next_cp(plain, i))) ++letters;
    if (letters < 2 || text::is_caption_label(plain) || is_admonition(plain) || looks_like_code(plain)) return 0;
    // a title the outline places on another page: an entry of a contents list, not the heading
    if (outline_elsewhere(plain)) return 0;
    // pieces standing apart on one row (table header cells, labels in a drawing); a section
    // number set apart from its title is fine
    for (const fline* f : lines)
      for (size_t k = 1; k < f->pieces.size(); ++k) {
        const float gap = f->pieces[k]->box.x0 - f->pieces[k - 1]->box.x1;
        if (gap > 2.5f * std::max(size, 4.0f) && !(k == 1 && is_section_number(f->pieces[0]->text()))) return 0;
      }
  }
  if (!heading) return 0;
  int level = 0;
  if (oe) {
    level = oe->level;
    info.outlined = true;
    // remember the style's level for headings the outline does not list
    for (auto& s : dc.styles_)
      if (s.is(size, all_bold, all_italic)) {
        if (!s.level) s.level = level;
        s.outline_levels |= 1u << std::clamp(level, 0, 31);
      }
    dc.last_outlined_level = level;
  } else {
    level = dc.level_for(size, all_bold, all_italic);
    // a style the outline lists at several depths (a slide's frame title) says nothing of the
    // depth: a heading the outline leaves out sits below the last one it lists
    for (const auto& s : dc.styles_)
      if (s.is(size, all_bold, all_italic) && (s.outline_levels & (s.outline_levels - 1)) && dc.last_outlined_level)
        level = dc.last_outlined_level + 1;
  }
  // section numbers: all headings numbered to one depth share a level, one below the depth above
  if (const int d = section_depth(plain)) {
    auto& depth_level = dc.section_levels;
    if (!oe) {
      if (auto same = depth_level.find(d); same != depth_level.end()) level = same->second;
      else if (auto up = depth_level.find(d - 1); up != depth_level.end()) level = std::max(level, up->second + 1);
      if (auto down = depth_level.find(d + 1); down != depth_level.end()) level = std::min(level, down->second - 1);
      level = std::max(level, 1);
    }
    depth_level.emplace(d, level);
  }
  return std::clamp(level, 1, 6);
}

// A heading made only of inline code (an option, a command, a module: `workspace`, `npm ci`):
// LaTeX sets it in bold typewriter, word processors in the code font and the heading colour, so
// on the page it looks like a one-line listing. It is a heading when the outline lists it on this
// page, or when it is bold (listings are not) and reads as a name: a few words starting with a
// letter, no closing punctuation, quotes or brackets, not a shell command or a statement (a bold
// macro call set apart in the text, `.PDF_BOOKMARKS OFF`, is an example, not a heading). The
// caller checks that it stands apart from any listing (and, when only bold, from the text above).
page_analyzer::code_heading page_analyzer::code_font_heading(const fline& f) const {
  if (!f.mono || f.chars < 2 || f.chars > 80 || f.marker != list_marker::none || f.quote) return code_heading::none;
  for (size_t k = 1; k < f.pieces.size(); ++k)  // pieces standing apart: a row of a table
    if (f.pieces[k]->box.x0 - f.pieces[k - 1]->box.x1 > 2.5f * std::max(f.size, 4.0f)) return code_heading::none;
  int letters = 0;
  for (size_t i = 0; i < f.plain.size() && letters < 2;)
    if (text::is_alpha(text::next_cp(f.plain, i))) ++letters;
  if (letters < 2) return code_heading::none;
  if (outline_has(f.plain)) return code_heading::in_outline;
  if (!f.bold || f.size < 0.8f * body || outline_elsewhere(f.plain)) return code_heading::none;
  size_t i = 0;
  if (!text::is_alpha(text::next_cp(f.plain, i))) return code_heading::none;
  if (f.plain.find_first_of("\"'()[]`") != std::string::npos) return code_heading::none;
  if (std::count(f.plain.begin(), f.plain.end(), ' ') > 3) return code_heading::none;
  const int lc = text::last_cp(f.plain);
  if (lc == '.' || lc == ',' || lc == ';' || lc == ':') return code_heading::none;
  return !text::is_caption_label(f.plain) && !is_admonition(f.plain) && !looks_like_code(f.plain)
             ? code_heading::bold_name
             : code_heading::none;
}

bool page_analyzer::emit_run_in(const std::vector<const fline*>& lines, int region) {
  const fline& first = *lines.front();
  if (lines.size() < 2 || first.quote || first.marker != list_marker::none || first.pieces.size() < 2) return false;
  size_t k = 0;  // the leading bold pieces
  while (k < first.pieces.size() && style_bold(*first.pieces[k])) ++k;
  if (k == 0 || k == first.pieces.size()) return false;
  const line& lead = *first.pieces[k - 1];
  const line& rest = *first.pieces[k];
  // (the text may open with a bold label of its own: `parseYAML` **New:** ...)
  if (rest.spans.empty() || rest.size > 1.1f * lead.size) return false;
  // the space after the lead-in is wider than a word space (TeX puts 1 em there), but it is no
  // column gap
  const float gap = rest.box.x0 - lead.box.x1;
  if (gap < 0.6f * first.size || gap > 3.0f * first.size) return false;
  // the text wraps back under the lead-in: a term whose description hangs beside it is a
  // definition list, not a heading
  if (std::fabs(lines[1]->box.x0 - first.box.x0) > 0.7f * first.size) return false;
  std::vector<int> head_pieces, body_pieces;
  for (size_t i = 0; i < first.pieces.size(); ++i)
    (i < k ? head_pieces : body_pieces).push_back(static_cast<int>(first.pieces[i] - page.lines.data()));
  const fline head = make_fline(head_pieces);
  if (text::last_cp(head.plain) == ':') return false;  // "Note:" and other labels
  const std::vector<const fline*> head_lines{&head};
  heading_info info;
  int level = heading_level(head_lines, head.plain, info);
  if (!level) return false;
  // LaTeX sets \paragraph in the font of \subsubsection: run in, it is the level below
  if (!info.outlined && dc.display_heading_styles.count({quarter(info.size), info.bold, info.italic}))
    level = std::min(level + 1, 6);
  block b;
  b.kind = block_kind::heading;
  b.page = page.number;
  b.region = region;
  b.box = head.box;
  b.level = level;
  b.text = inline_md(head_lines, false, false, false);
  if (!merge_heading(b, info)) {  // else the end of a heading wrapped onto the paragraph's line
    last_heading = info;
    last_heading_block = static_cast<int>(out.size());
    out.push_back(std::move(b));
  }
  const fline body_first = make_fline(body_pieces);
  std::vector<const fline*> body_lines = lines;
  body_lines[0] = &body_first;
  emit_paragraph(body_lines, region);
  return true;
}

namespace {

// "Chapter 3", "Part II", "Appendix B", "Chapter One", "4", "2.1": a label that names the heading
// under it.
bool label_only(const std::string& text) {
  static const std::regex re(
      R"(^((chapter|part|appendix|section|book|lecture|unit|module|kapitel|chapitre|teil)\s+[0-9A-Za-z.]{1,10}|[0-9]{1,3}(\.[0-9]{1,3})*\.?|[IVX]{1,5}\.?)$)",
      std::regex::icase);
  return std::regex_match(std::string(text::trim(text)), re);
}

// "CHAPTER" set on a line of its own, its number on the next (Sphinx's chapter openings set
// "CHAPTER" small and "ONE" large above the title).
bool bare_label(const std::string& text) {
  static const std::regex re(R"(^(chapter|part|appendix|book|lecture|unit|module|kapitel|chapitre|teil)$)", std::regex::icase);
  return std::regex_match(std::string(text::trim(text)), re);
}

bool label_number(const std::string& text) {
  static const std::regex re(
      R"(^([0-9]{1,3}|[IVXLC]{1,6}|[A-Z]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)$)",
      std::regex::icase);
  return std::regex_match(std::string(text::trim(text)), re);
}

}  // namespace

// A glossary or option list set as bold terms with their descriptions indented below them
// (DocBook's variablelist, LyX's description, groff's .TP): each term passes for a heading on its
// own. Two or more such pairs set alike on a page (the same term size and description indent) make
// them a definition list, and so does one on a later page set like one seen before: the terms
// become bold paragraphs. A heading outdented from the text around it (groff's .SS), or whose
// text sits where the page's terms do, stays a heading.
void page_analyzer::demote_definition_terms() {
  const float body = dc.body_size();
  std::vector<bold_line_heading> pairs;
  for (const bold_line_heading& t : bold_line_headings) {
    const int h = t.block;
    if (h + 1 >= static_cast<int>(out.size())) continue;
    const block& term = out[h];
    const block& desc = out[h + 1];
    if (term.kind != block_kind::heading || desc.kind != block_kind::paragraph || desc.region != term.region) continue;
    const float below = desc.box.y0 - term.box.y1;
    if (below < -0.2f * body || below > 1.2f * body) continue;
    if (desc.box.x0 < term.box.x0 + 0.8f * body) continue;  // the description stands indented under the term
    pairs.push_back(t);
  }
  if (pairs.empty()) return;
  // the left edge of each region's other paragraphs
  std::map<int, float> text_left;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k].kind != block_kind::paragraph) continue;
    const bool is_desc = std::any_of(pairs.begin(), pairs.end(), [&](const bold_line_heading& t) { return t.block + 1 == static_cast<int>(k); });
    if (is_desc) continue;
    auto [it, fresh] = text_left.emplace(out[k].region, out[k].box.x0);
    if (!fresh) it->second = std::min(it->second, out[k].box.x0);
  }
  std::vector<bold_line_heading> terms;
  for (const bold_line_heading& t : pairs) {
    const block& term = out[t.block];
    const block& desc = out[t.block + 1];
    if (auto it = text_left.find(term.region); it != text_left.end() && term.box.x0 < it->second - 0.5f * body) continue;
    const bool over_terms = std::any_of(pairs.begin(), pairs.end(), [&](const bold_line_heading& o) {
      return o.block != t.block && std::fabs(out[o.block].box.x0 - desc.box.x0) < 2.0f;
    });
    if (!over_terms) terms.push_back(t);
  }
  // the style of a pair: the term's size and the description's indent
  auto style = [&](const bold_line_heading& t) {
    return std::make_pair(quarter(t.size), static_cast<int>(std::lround(out[t.block + 1].box.x0 - out[t.block].box.x0)));
  };
  std::map<std::pair<int, int>, int> alike;
  for (const bold_line_heading& t : terms) ++alike[style(t)];
  for (const bold_line_heading& t : terms) {
    const auto st = style(t);
    if (alike[st] < 2 && !dc.definition_list_styles.count(st)) continue;
    dc.definition_list_styles.insert(st);
    block& b = out[t.block];
    b.kind = block_kind::paragraph;
    b.text = "**" + b.text + "**";
    b.level = 0;
  }
}

bool page_analyzer::merge_heading(block& b, const heading_info& info) {
  if (last_heading_block < 0 || last_heading_block + 1 != static_cast<int>(out.size())) return false;
  block& prev = out.back();
  if (prev.kind != block_kind::heading || prev.region != b.region || prev.page != b.page) return false;
  const float gap = b.box.y0 - prev.box.y1;
  const float size = std::max(info.size, last_heading.size);
  if (gap < -0.3f * size) return false;
  bool merge = false;
  if (bare_label(prev.text) && label_number(b.text) && gap <= 3.0f * size) {
    merge = true;  // "CHAPTER" + "ONE": a label, merged in turn with the title below it
  } else if (label_only(prev.text) && gap <= 3.0f * size && !label_only(b.text)) {
    merge = true;
  } else if (gap <= 0.8f * size && !info.outlined && !last_heading.outlined && !section_depth(b.text) &&
             std::fabs(info.size - last_heading.size) < 0.5f && info.bold == last_heading.bold &&
             !text::ends_sentence(prev.text)) {
    merge = true;  // one heading wrapped onto lines the paragraph builder kept apart
  }
  if (!merge) return false;
  prev.text += " " + b.text;
  prev.box.include(b.box);
  prev.level = info.outlined ? b.level : std::min(prev.level, b.level);
  last_heading.outlined = last_heading.outlined || info.outlined;
  return true;
}

}  // namespace quire::convert

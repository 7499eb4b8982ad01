#include "convert/detail/inline.hpp"

#include "convert/detail/text.hpp"

namespace quire::convert {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 3) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool has_alnum(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int c = text::next_cp(s, i);
    if (text::is_alpha(c) || text::is_digit(c)) return true;
  }
  return false;
}

// Runs of whitespace become one space (a leading or trailing one is kept: it separates words
// from the neighbouring segments).
std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool sp = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n') {
      sp = true;
      continue;
    }
    if (sp) out += ' ';
    sp = false;
    out += c;
  }
  if (sp && !out.empty()) out += ' ';
  return out;
}

std::string code_span(std::string_view s) {
  std::string fence = "`";
  while (std::string_view(s).find(fence) != std::string_view::npos) fence += '`';
  std::string body(s);
  bool pad = !body.empty() && (body.front() == '`' || body.back() == '`');
  return fence + (pad ? " " : "") + body + (pad ? " " : "") + fence;
}

std::string link_target(const std::string& uri) {
  std::string out;
  for (char c : uri) {
    if (c == ' ') out += "%20";
    else if (c == '(') out += "%28";
    else if (c == ')') out += "%29";
    else if (c == '<' || c == '>') out += c == '<' ? "%3C" : "%3E";
    else out += c;
  }
  return out;
}

struct segment {
  std::string text;
  bool bold = false, italic = false, mono = false, ref = false;
  int link = -1;
};

}  // namespace

std::string footnote_ref_placeholder(int page, const std::string& label) {
  return std::string(1, kRefOpen) + std::to_string(page) + ":" + label + std::string(1, kRefClose);
}

std::string render_inline(const std::vector<layout::span>& spans, const std::vector<layout::link>& links,
                          const inline_options& opt, std::set<std::string>* refs) {
  // 1. segments: runs of equal style; superscript numbers after a word are references
  std::vector<segment> segs;
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto& sp = spans[i];
    std::string_view t = sp.text;
    if (sp.superscript) {
      std::string_view core = text::trim(t);
      bool after_word = !segs.empty() && !segs.back().text.empty() && segs.back().text.back() != ' ';
      if (all_digits(core) && after_word) {
        segment r;
        r.text = std::string(core);
        r.ref = true;
        segs.push_back(r);
        if (t.size() && t.back() == ' ') segs.push_back(segment{" "});
        if (refs) refs->insert(std::string(core));
        continue;
      }
    }
    segment s;
    s.text = std::string(t);
    s.bold = opt.emphasis && sp.bold;
    s.italic = opt.emphasis && sp.italic;
    s.mono = sp.mono;
    s.link = sp.link >= 0 && sp.link < static_cast<int>(links.size()) ? sp.link : -1;
    if (!segs.empty()) {
      segment& p = segs.back();
      bool blank = text::trim(s.text).empty();
      if (!p.ref && p.link == s.link &&
          ((p.bold == s.bold && p.italic == s.italic && p.mono == s.mono) || (blank && !p.mono))) {
        p.text += s.text;
        continue;
      }
    }
    segs.push_back(std::move(s));
  }
  // whitespace-only segments take no style
  for (auto& s : segs)
    if (!s.ref && text::trim(s.text).empty()) s.bold = s.italic = s.mono = false;
  // Emphasis glued to a letter or digit outside it is part of a word or a formula (an italic
  // variable with its exponent, "x2"; a bold name with a suffix): markers there split the word for
  // search and, after a digit or before punctuation, are not even emphasis to a Markdown parser
  // ("1*−x*2" stays literal). Such runs stay plain.
  auto alnum_cp = [](int c) { return c > 0 && (text::is_alpha(c) || (c >= '0' && c <= '9')); };
  for (size_t k = 0; k < segs.size(); ++k) {
    segment& s = segs[k];
    if (s.ref || s.mono || !(s.bold || s.italic) || s.text.empty()) continue;
    const bool glued_before = k > 0 && !segs[k - 1].ref && s.text.front() != ' ' &&
                              alnum_cp(text::last_cp(segs[k - 1].text));
    const bool glued_after = k + 1 < segs.size() && !segs[k + 1].ref && s.text.back() != ' ' &&
                             alnum_cp(text::first_cp(segs[k + 1].text));
    if (glued_before || glued_after) s.bold = s.italic = false;
  }

  // An inline code box drawn with padding (a browser's) leaves a gap that reads as a space before
  // the punctuation after it ("`x` .") and after an opening bracket before it ("( `x`"); nobody
  // writes those spaces, so they go.
  // (a colon is left alone: "`RB` : Reachable Bytes" is a way to set a definition)
  auto closing = [](char c) { return c == '.' || c == ',' || c == ';' || c == '!' || c == '?' || c == ')' || c == ']'; };
  auto plain = [&](size_t k, int link) { return !segs[k].ref && !segs[k].mono && segs[k].link == link; };
  for (size_t k = 0; k < segs.size(); ++k) {
    if (!segs[k].mono || segs[k].ref) continue;
    size_t j = k + 1;
    while (j < segs.size() && plain(j, segs[k].link) && text::trim(segs[j].text).empty()) ++j;
    if (j < segs.size() && plain(j, segs[k].link)) {
      std::string& t = segs[j].text;
      const size_t b = t.find_first_not_of(' ');
      const bool gap = b > 0 || j > k + 1 || segs[k].text.back() == ' ';
      if (gap && b != std::string::npos && closing(t[b]) && (b + 1 == t.size() || t[b + 1] == ' ' || t[b + 1] == ')' || t[b + 1] == ']')) {
        while (!segs[k].text.empty() && segs[k].text.back() == ' ') segs[k].text.pop_back();
        for (size_t m = k + 1; m < j; ++m) segs[m].text.clear();
        t.erase(0, b);
      }
    }
    if (k > 0 && plain(k - 1, segs[k].link)) {
      std::string& t = segs[k - 1].text;
      const size_t e = t.find_last_not_of(' ');
      if (e != std::string::npos && e + 1 < t.size() && (t[e] == '(' || t[e] == '[')) t.erase(e + 1);
    }
  }

  // 2. render, links grouping consecutive segments with the same target
  std::string out;
  bool at_start = opt.block_start;
  auto render_seg = [&](const segment& s, bool in_link) -> std::string {
    if (s.ref) return opt.page > 0 ? footnote_ref_placeholder(opt.page, s.text) : "[^" + s.text + "]";
    std::string t = collapse_spaces(s.text);
    size_t b = 0, e = t.size();
    while (b < e && t[b] == ' ') ++b;
    while (e > b && t[e - 1] == ' ') --e;
    std::string lead = t.substr(0, b), core = t.substr(b, e - b), trail = t.substr(e);
    if (core.empty()) return t;
    std::string body;
    if (s.mono) {
      body = code_span(core);
    } else {
      body = text::escape_markdown(core, at_start && out.empty() && lead.empty(), in_link);
      if (opt.table_cell) {
        std::string esc;
        for (char c : body) {
          if (c == '|') esc += '\\';
          esc += c;
        }
        body = esc;
      }
      if ((s.bold || s.italic) && has_alnum(core)) {
        const char* m = s.bold && s.italic ? "***" : s.bold ? "**" : "*";
        body = m + body + m;
      }
    }
    return lead + body + trail;
  };
  for (size_t i = 0; i < segs.size();) {
    if (segs[i].link < 0) {
      out += render_seg(segs[i], false);
      ++i;
      continue;
    }
    // one target, even where the link is broken over two lines (two annotations with the same
    // URI, a blank between them)
    const std::string& uri = links[segs[i].link].uri;
    auto same_target = [&](size_t k) { return k < segs.size() && segs[k].link >= 0 && links[segs[k].link].uri == uri; };
    size_t j = i;
    bool broken = false;
    std::string raw;
    while (j < segs.size()) {
      const bool piece = same_target(j);
      if (!piece && !(segs[j].link < 0 && !segs[j].ref && text::trim(segs[j].text).empty() && same_target(j + 1)))
        break;
      broken = broken || (piece && segs[j].link != segs[i].link);
      raw += segs[j++].text;
    }
    std::string inner;
    const std::string_view raw_core = text::trim(raw);
    if (broken && (raw_core.find("://") != std::string_view::npos || raw_core.substr(0, 4) == "www.")) {
      // a web address wrapped at the line end: one piece, without the line's space, in the
      // style of its start
      segment whole = segs[i];
      whole.text.clear();
      for (char c : raw_core)
        if (c != ' ') whole.text += c;
      const size_t lead = raw.find_first_not_of(' '), last = raw.find_last_not_of(' ');
      inner = raw.substr(0, lead) + render_seg(whole, true) + raw.substr(last + 1);
    } else {
      for (size_t k = i; k < j; ++k) inner += render_seg(segs[k], true);
    }
    std::string_view core = text::trim(inner);
    size_t lead = inner.find_first_not_of(' ');
    std::string pre = lead == std::string::npos ? "" : inner.substr(0, lead);
    size_t last = inner.find_last_not_of(' ');
    std::string post = last == std::string::npos ? "" : inner.substr(last + 1);
    if (core.empty()) {
      out += inner;
    } else if (core == uri || ("mailto:" + std::string(core)) == uri) {
      out += pre + "<" + uri + ">" + post;
    } else {
      out += pre + "[" + std::string(core) + "](" + link_target(uri) + ")" + post;
    }
    i = j;
  }
  return std::string(text::trim(out));
}

std::string render_inline(const std::vector<layout::span>& spans, const layout::page_model& page) {
  inline_options o;
  o.block_start = false;
  o.page = page.number;
  return render_inline(spans, page.links, o, nullptr);
}

}  // namespace quire::convert

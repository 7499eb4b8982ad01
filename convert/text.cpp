#include "convert/detail/text.hpp"

#include <cctype>
#include <regex>

#include "utf8/utf8.hpp"

namespace quire::convert::text {

int next_cp(std::string_view s, size_t& i) {
  const auto d = utf8::decode(s, i);
  i += d.len;
  return static_cast<int>(d.cp);
}

int last_cp(std::string_view s) {
  if (s.empty()) return 0;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return next_cp(s, i);
}

int first_cp(std::string_view s) {
  if (s.empty()) return 0;
  size_t i = 0;
  return next_cp(s, i);
}

void append_cp(std::string& s, int c) { utf8::append(s, static_cast<char32_t>(c)); }

namespace {
struct composition {
  int base, mark, composed;
};
// Latin letters with the combining marks PDFs draw separately (NFC for the common cases).
const composition kCompositions[] = {
    {65, 0x300, 0xC0},
    {65, 0x301, 0xC1},
    {65, 0x302, 0xC2},
    {65, 0x303, 0xC3},
    {65, 0x304, 0x100},
    {65, 0x306, 0x102},
    {65, 0x307, 0x226},
    {65, 0x308, 0xC4},
    {65, 0x30A, 0xC5},
    {65, 0x30C, 0x1CD},
    {65, 0x328, 0x104},
    {97, 0x300, 0xE0},
    {97, 0x301, 0xE1},
    {97, 0x302, 0xE2},
    {97, 0x303, 0xE3},
    {97, 0x304, 0x101},
    {97, 0x306, 0x103},
    {97, 0x307, 0x227},
    {97, 0x308, 0xE4},
    {97, 0x30A, 0xE5},
    {97, 0x30C, 0x1CE},
    {97, 0x328, 0x105},
    {67, 0x301, 0x106},
    {67, 0x302, 0x108},
    {67, 0x307, 0x10A},
    {67, 0x30C, 0x10C},
    {67, 0x327, 0xC7},
    {99, 0x301, 0x107},
    {99, 0x302, 0x109},
    {99, 0x307, 0x10B},
    {99, 0x30C, 0x10D},
    {99, 0x327, 0xE7},
    {69, 0x300, 0xC8},
    {69, 0x301, 0xC9},
    {69, 0x302, 0xCA},
    {69, 0x303, 0x1EBC},
    {69, 0x304, 0x112},
    {69, 0x306, 0x114},
    {69, 0x307, 0x116},
    {69, 0x308, 0xCB},
    {69, 0x30C, 0x11A},
    {69, 0x327, 0x228},
    {69, 0x328, 0x118},
    {101, 0x300, 0xE8},
    {101, 0x301, 0xE9},
    {101, 0x302, 0xEA},
    {101, 0x303, 0x1EBD},
    {101, 0x304, 0x113},
    {101, 0x306, 0x115},
    {101, 0x307, 0x117},
    {101, 0x308, 0xEB},
    {101, 0x30C, 0x11B},
    {101, 0x327, 0x229},
    {101, 0x328, 0x119},
    {71, 0x301, 0x1F4},
    {71, 0x302, 0x11C},
    {71, 0x304, 0x1E20},
    {71, 0x306, 0x11E},
    {71, 0x307, 0x120},
    {71, 0x30C, 0x1E6},
    {71, 0x327, 0x122},
    {103, 0x301, 0x1F5},
    {103, 0x302, 0x11D},
    {103, 0x304, 0x1E21},
    {103, 0x306, 0x11F},
    {103, 0x307, 0x121},
    {103, 0x30C, 0x1E7},
    {103, 0x327, 0x123},
    {73, 0x300, 0xCC},
    {73, 0x301, 0xCD},
    {73, 0x302, 0xCE},
    {73, 0x303, 0x128},
    {73, 0x304, 0x12A},
    {73, 0x306, 0x12C},
    {73, 0x307, 0x130},
    {73, 0x308, 0xCF},
    {73, 0x30C, 0x1CF},
    {73, 0x328, 0x12E},
    {105, 0x300, 0xEC},
    {105, 0x301, 0xED},
    {105, 0x302, 0xEE},
    {105, 0x303, 0x129},
    {105, 0x304, 0x12B},
    {105, 0x306, 0x12D},
    {105, 0x308, 0xEF},
    {105, 0x30C, 0x1D0},
    {105, 0x328, 0x12F},
    {76, 0x301, 0x139},
    {76, 0x30C, 0x13D},
    {76, 0x327, 0x13B},
    {108, 0x301, 0x13A},
    {108, 0x30C, 0x13E},
    {108, 0x327, 0x13C},
    {78, 0x300, 0x1F8},
    {78, 0x301, 0x143},
    {78, 0x303, 0xD1},
    {78, 0x307, 0x1E44},
    {78, 0x30C, 0x147},
    {78, 0x327, 0x145},
    {110, 0x300, 0x1F9},
    {110, 0x301, 0x144},
    {110, 0x303, 0xF1},
    {110, 0x307, 0x1E45},
    {110, 0x30C, 0x148},
    {110, 0x327, 0x146},
    {79, 0x300, 0xD2},
    {79, 0x301, 0xD3},
    {79, 0x302, 0xD4},
    {79, 0x303, 0xD5},
    {79, 0x304, 0x14C},
    {79, 0x306, 0x14E},
    {79, 0x307, 0x22E},
    {79, 0x308, 0xD6},
    {79, 0x30B, 0x150},
    {79, 0x30C, 0x1D1},
    {79, 0x328, 0x1EA},
    {111, 0x300, 0xF2},
    {111, 0x301, 0xF3},
    {111, 0x302, 0xF4},
    {111, 0x303, 0xF5},
    {111, 0x304, 0x14D},
    {111, 0x306, 0x14F},
    {111, 0x307, 0x22F},
    {111, 0x308, 0xF6},
    {111, 0x30B, 0x151},
    {111, 0x30C, 0x1D2},
    {111, 0x328, 0x1EB},
    {82, 0x301, 0x154},
    {82, 0x307, 0x1E58},
    {82, 0x30C, 0x158},
    {82, 0x327, 0x156},
    {114, 0x301, 0x155},
    {114, 0x307, 0x1E59},
    {114, 0x30C, 0x159},
    {114, 0x327, 0x157},
    {83, 0x301, 0x15A},
    {83, 0x302, 0x15C},
    {83, 0x307, 0x1E60},
    {83, 0x30C, 0x160},
    {83, 0x327, 0x15E},
    {115, 0x301, 0x15B},
    {115, 0x302, 0x15D},
    {115, 0x307, 0x1E61},
    {115, 0x30C, 0x161},
    {115, 0x327, 0x15F},
    {84, 0x307, 0x1E6A},
    {84, 0x30C, 0x164},
    {84, 0x327, 0x162},
    {116, 0x307, 0x1E6B},
    {116, 0x308, 0x1E97},
    {116, 0x30C, 0x165},
    {116, 0x327, 0x163},
    {85, 0x300, 0xD9},
    {85, 0x301, 0xDA},
    {85, 0x302, 0xDB},
    {85, 0x303, 0x168},
    {85, 0x304, 0x16A},
    {85, 0x306, 0x16C},
    {85, 0x308, 0xDC},
    {85, 0x30A, 0x16E},
    {85, 0x30B, 0x170},
    {85, 0x30C, 0x1D3},
    {85, 0x328, 0x172},
    {117, 0x300, 0xF9},
    {117, 0x301, 0xFA},
    {117, 0x302, 0xFB},
    {117, 0x303, 0x169},
    {117, 0x304, 0x16B},
    {117, 0x306, 0x16D},
    {117, 0x308, 0xFC},
    {117, 0x30A, 0x16F},
    {117, 0x30B, 0x171},
    {117, 0x30C, 0x1D4},
    {117, 0x328, 0x173},
    {89, 0x300, 0x1EF2},
    {89, 0x301, 0xDD},
    {89, 0x302, 0x176},
    {89, 0x303, 0x1EF8},
    {89, 0x304, 0x232},
    {89, 0x307, 0x1E8E},
    {89, 0x308, 0x178},
    {121, 0x300, 0x1EF3},
    {121, 0x301, 0xFD},
    {121, 0x302, 0x177},
    {121, 0x303, 0x1EF9},
    {121, 0x304, 0x233},
    {121, 0x307, 0x1E8F},
    {121, 0x308, 0xFF},
    {121, 0x30A, 0x1E99},
    {90, 0x301, 0x179},
    {90, 0x302, 0x1E90},
    {90, 0x307, 0x17B},
    {90, 0x30C, 0x17D},
    {122, 0x301, 0x17A},
    {122, 0x302, 0x1E91},
    {122, 0x307, 0x17C},
    {122, 0x30C, 0x17E},
    {68, 0x307, 0x1E0A},
    {68, 0x30C, 0x10E},
    {68, 0x327, 0x1E10},
    {100, 0x307, 0x1E0B},
    {100, 0x30C, 0x10F},
    {100, 0x327, 0x1E11},
    {72, 0x302, 0x124},
    {72, 0x307, 0x1E22},
    {72, 0x308, 0x1E26},
    {72, 0x30C, 0x21E},
    {72, 0x327, 0x1E28},
    {104, 0x302, 0x125},
    {104, 0x307, 0x1E23},
    {104, 0x308, 0x1E27},
    {104, 0x30C, 0x21F},
    {104, 0x327, 0x1E29},
    {74, 0x302, 0x134},
    {106, 0x302, 0x135},
    {106, 0x30C, 0x1F0},
    {75, 0x301, 0x1E30},
    {75, 0x30C, 0x1E8},
    {75, 0x327, 0x136},
    {107, 0x301, 0x1E31},
    {107, 0x30C, 0x1E9},
    {107, 0x327, 0x137},
    {87, 0x300, 0x1E80},
    {87, 0x301, 0x1E82},
    {87, 0x302, 0x174},
    {87, 0x307, 0x1E86},
    {87, 0x308, 0x1E84},
    {119, 0x300, 0x1E81},
    {119, 0x301, 0x1E83},
    {119, 0x302, 0x175},
    {119, 0x307, 0x1E87},
    {119, 0x308, 0x1E85},
    {119, 0x30A, 0x1E98},
    // a letter in a circle (TeX's \textcircled): the copyright and registered signs
    {67, 0x20DD, 0xA9},
    {99, 0x20DD, 0xA9},
    {82, 0x20DD, 0xAE},
    {114, 0x20DD, 0xAE}
};
}  // namespace

int compose(int base, int mark) {
  for (const auto& c : kCompositions)
    if (c.base == base && c.mark == mark) return c.composed;
  return 0;
}

bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0; }
bool is_digit(int c) { return c >= '0' && c <= '9'; }

bool is_upper(int c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return true;
  if (c >= 0x100 && c <= 0x17F) return (c % 2) == 0 && c != 0x138;
  if (c >= 0x391 && c <= 0x3AB) return true;
  if (c >= 0x400 && c <= 0x42F) return true;
  return false;
}

bool is_lower(int c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 0xDF && c <= 0xFF && c != 0xF7) return true;
  if (c >= 0x100 && c <= 0x17F) return (c % 2) == 1 || c == 0x138;
  if (c >= 0x3AC && c <= 0x3CE) return true;
  if (c >= 0x430 && c <= 0x45F) return true;
  return false;
}

bool is_alpha(int c) {
  return is_upper(c) || is_lower(c) || (c >= 0x180 && c <= 0x24F) || (c >= 0x370 && c <= 0x3FF) ||
         (c >= 0x400 && c <= 0x52F) || (c >= 0x1E00 && c <= 0x1FFF);
}

int to_lower(int c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x17F && is_upper(c)) return c + 1;
  if (c >= 0x391 && c <= 0x3AB) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

namespace {
std::string fold(std::string_view s, bool digits_as_hash) {
  std::string out;
  bool space = false, in_digits = false;
  for (size_t i = 0; i < s.size();) {
    int c = next_cp(s, i);
    if (is_alpha(c) || is_digit(c)) {
      if (space && !out.empty()) out += ' ';
      space = false;
      if (digits_as_hash && is_digit(c)) {
        if (!in_digits) out += '#';
        in_digits = true;
        continue;
      }
      in_digits = false;
      append_cp(out, to_lower(c));
    } else {
      in_digits = false;
      space = true;
    }
  }
  return out;
}
}  // namespace

std::string key(std::string_view s) { return fold(s, false); }
std::string signature(std::string_view s) { return fold(s, true); }

std::string_view without_continuation(std::string_view s) {
  static const std::regex re(
      "^(.*?\\S)\\s*(?:(?:-|\xE2\x80\x93|\xE2\x80\x94|,|:)\\s*)?"
      "(?:\\(\\s*(?:(?:step|part|slide)\\s+)?\\d{1,3}\\s*/\\s*\\d{1,3}\\s*\\)|(?:(?:step|part|slide)\\s+)?\\d{1,3}\\s*/\\s*\\d{1,3}|"
      "\\((?:cont\\.?|cont'd|cont\xE2\x80\x99" "d|continued)\\))\\s*$",
      std::regex::icase);
  std::match_results<std::string_view::const_iterator> m;
  if (s.size() > 300 || !std::regex_match(s.begin(), s.end(), m, re)) return s;
  const std::string_view bare = s.substr(0, static_cast<size_t>(m.length(1)));
  size_t i = 0;
  while (i < bare.size())
    if (is_alpha(next_cp(bare, i))) return bare;
  return s;  // "12/13" alone is a number, not a title with a counter
}

bool ends_sentence(std::string_view s) {
  s = trim(s);
  while (!s.empty()) {
    int c = last_cp(s);
    if (c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x201D || c == 0x2019 || c == 0xBB || c == '*' ||
        c == '_') {
      size_t i = s.size() - 1;
      while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
      s = s.substr(0, i);
      continue;
    }
    return c == '.' || c == '!' || c == '?' || c == ':' || c == 0x2026 || c == 0x3002;
  }
  return false;
}

namespace {

bool ascii_punct(char c) { return c > ' ' && c < 0x7F && !std::isalnum(static_cast<unsigned char>(c)); }
bool blank_at(std::string_view s, size_t i) { return i < s.size() && (s[i] == ' ' || s[i] == '\t'); }

// A line of three or more '-', '*' or '_' (spaces between allowed): a thematic break.
bool thematic_break(std::string_view s) {
  char mark = 0;
  int n = 0;
  for (char c : s) {
    if (c == ' ' || c == '\t') continue;
    if (c != '-' && c != '*' && c != '_') return false;
    if (mark && c != mark) return false;
    mark = c;
    ++n;
  }
  return n >= 3;
}

// Where a block-level construct starts at the beginning of `rest` (the index of the character
// to escape), or npos: ATX headings ("# ", "###" alone), quotes, list markers ("- ", "+ ", "* ",
// "1. ", "2)"), thematic breaks, setext underlines and table rows.
size_t block_start_at(std::string_view rest) {
  if (rest.empty()) return std::string::npos;
  const char f = rest[0];
  if (f == '#') {
    size_t h = 0;
    while (h < rest.size() && rest[h] == '#') ++h;
    if (h <= 6 && (h == rest.size() || blank_at(rest, h))) return 0;
    return std::string::npos;
  }
  if (f == '>' || f == '=' || f == '|') return 0;
  if ((f == '-' || f == '+' || f == '*') && (rest.size() == 1 || blank_at(rest, 1))) return 0;
  if (thematic_break(rest)) return 0;
  size_t d = 0;
  while (d < rest.size() && d < 9 && std::isdigit(static_cast<unsigned char>(rest[d]))) ++d;
  if (d > 0 && d < rest.size() && (rest[d] == '.' || rest[d] == ')') && (d + 1 == rest.size() || blank_at(rest, d + 1)))
    return d;
  return std::string::npos;
}

}  // namespace

// Escapes only what a CommonMark/GFM parser would read as syntax: a citation "[1]" or a path
// "C:\dir" stays as it is, "a * b" too, while "[x](y)", "*word*", "`x`" and "<tag" are escaped.
// The edges of `s` are treated as touching unknown text (another styled segment may follow), so
// a delimiter at an edge is escaped.
std::string escape_markdown(std::string_view s, bool line_start, bool in_link) {
  std::string out;
  out.reserve(s.size() + 8);
  auto word = [&](size_t i) {
    return i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                            (static_cast<unsigned char>(s[i]) & 0x80));
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    bool esc = false;
    switch (c) {
      case '\\':  // a backslash escapes only punctuation (or breaks the line at the end)
        esc = next == '\0' || ascii_punct(next);
        break;
      case '`':
        esc = true;
        break;
      case '*': {  // with white space on both sides it can neither open nor close emphasis
        const bool space_left = i > 0 && blank_at(s, i - 1), space_right = blank_at(s, i + 1);
        esc = !(space_left && space_right);
        break;
      }
      case '_': {
        // intraword underscores (snake_case) are literal in CommonMark, and so is a lone one
        const bool left_word = i > 0 && word(i - 1), right_word = word(i + 1);
        const bool lone = i > 0 && blank_at(s, i - 1) && blank_at(s, i + 1);
        esc = !(left_word && right_word) && !lone;
        break;
      }
      case '[':  // "[^1]" would be a footnote reference; inside a link text brackets must balance
        esc = in_link || next == '^';
        break;
      case ']':  // "](" makes a link, "]:" a link definition, "][" a reference link
        esc = in_link || next == '(' || next == ':' || next == '[';
        break;
      case '<':
        esc = std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!' || next == '?';
        break;
      case '&': {
        size_t j = i + 1;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '#')) ++j;
        esc = j > i + 1 && j < s.size() && s[j] == ';';
        break;
      }
      case '!':
        esc = next == '[';
        break;
      case '~':
        esc = next == '~';
        break;
      default:
        break;
    }
    if (esc) out += '\\';
    out += c;
  }
  if (line_start && !out.empty()) {
    size_t k = 0;
    while (k < out.size() && out[k] == ' ') ++k;
    const size_t at = block_start_at(std::string_view(out).substr(k));
    if (at != std::string::npos) out.insert(k + at, 1, '\\');
  }
  return out;
}

bool is_caption_label(const std::string& plain) {
  static const std::regex word(
      R"(^(figure|fig\.|table|tab\.|listing|chart|diagram|plate|exhibit|illustration|abbildung|tabelle)\s*)",
      std::regex::icase);
  static const std::regex number(R"(^(\d+|[A-Z]|[IVX]+)([.\-]\d+)*\s*([:.\-]|\s+\S|$).*)");
  std::smatch m;
  if (!std::regex_search(plain, m, word)) return false;
  return std::regex_match(plain.substr(static_cast<size_t>(m.length(0))), number);
}

}  // namespace quire::convert::text

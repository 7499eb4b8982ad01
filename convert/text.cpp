#include "convert/text.hpp"

#include <cctype>

namespace quire::convert::text {

int next_cp(std::string_view s, size_t& i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  if (n == 0) {
    ++i;
    return 0xFFFD;
  }
  int cp = c & (0x3F >> n);
  for (int k = 1; k <= n; ++k) {
    if (i + k >= s.size() || (b(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  i += n + 1;
  return cp;
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

void append_cp(std::string& s, int c) {
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  }
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

std::string escape_markdown(std::string_view s, bool line_start) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    switch (c) {
      case '\\': case '`': case '*':
        out += '\\';
        break;
      case '_': {
        // intraword underscores (snake_case) are literal in CommonMark; escape the others
        bool left_word = i > 0 && (std::isalnum(static_cast<unsigned char>(s[i - 1])) || s[i - 1] == '_');
        bool right_word = i + 1 < s.size() && (std::isalnum(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '_');
        if (!(left_word && right_word)) out += '\\';
        break;
      }
      case '[': case ']':
        out += '\\';
        break;
      case '<':
        if (i + 1 < s.size() && (std::isalpha(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '/' ||
                                 s[i + 1] == '!' || s[i + 1] == '?'))
          out += '\\';
        break;
      case '&': {
        size_t j = i + 1;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '#')) ++j;
        if (j > i + 1 && j < s.size() && s[j] == ';') out += '\\';
        break;
      }
      case '!':
        if (i + 1 < s.size() && s[i + 1] == '[') out += '\\';
        break;
      case '~':
        if (i + 1 < s.size() && s[i + 1] == '~') out += '\\';
        break;
      default:
        break;
    }
    out += c;
  }
  if (line_start && !out.empty()) {
    size_t k = 0;
    while (k < out.size() && out[k] == ' ') ++k;
    std::string_view rest(out.data() + k, out.size() - k);
    auto starts_block = [&]() -> size_t {  // index to escape, or npos
      if (rest.empty()) return std::string::npos;
      char f = rest[0];
      if (f == '#' || f == '>' || f == '=' || f == '|') return k;
      if ((f == '-' || f == '+') && (rest.size() == 1 || rest[1] == ' ' || (f == '-' && rest[1] == '-')))
        return k;
      size_t d = 0;
      while (d < rest.size() && d < 9 && std::isdigit(static_cast<unsigned char>(rest[d]))) ++d;
      if (d > 0 && d < rest.size() && (rest[d] == '.' || rest[d] == ')') &&
          (d + 1 == rest.size() || rest[d + 1] == ' '))
        return k + d;
      return std::string::npos;
    };
    size_t at = starts_block();
    if (at != std::string::npos) out.insert(at, 1, '\\');
  }
  return out;
}

}  // namespace quire::convert::text

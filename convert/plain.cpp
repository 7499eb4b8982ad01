#include "convert/plain.hpp"

namespace quire::convert {
namespace {

bool ascii_punct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

bool blank(std::string_view s, size_t i) { return i >= s.size() || s[i] == ' ' || s[i] == '\n'; }

// The index of the unescaped `close` matching the bracket at `open`, or npos.
size_t matching(std::string_view s, size_t open, char o, char close) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == o) ++depth;
    if (s[i] == close && --depth == 0) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string plain_text(std::string_view s, bool verbatim) {
  if (verbatim) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && ascii_punct(s[i + 1])) {
      out += s[++i];
      continue;
    }
    if (c == '`') {  // a code span: the same run of backticks closes it
      size_t n = 0;
      while (i + n < s.size() && s[i + n] == '`') ++n;
      const std::string_view fence = s.substr(i, n);
      size_t close = s.find(fence, i + n);
      while (close != std::string_view::npos && close + n < s.size() && s[close + n] == '`')
        close = s.find(fence, close + n + 1);
      if (close == std::string_view::npos) {
        out += fence;
        i += n - 1;
        continue;
      }
      std::string_view body = s.substr(i + n, close - i - n);
      if (body.size() >= 2 && body.front() == ' ' && body.back() == ' ' && body.find_first_not_of(' ') != std::string_view::npos)
        body = body.substr(1, body.size() - 2);
      out += body;
      i = close + n - 1;
      continue;
    }
    if (c == '*') {  // emphasis delimiters go; a '*' with spaces on both sides is literal
      size_t n = 0;
      while (i + n < s.size() && s[i + n] == '*') ++n;
      if ((i == 0 || blank(s, i - 1)) && blank(s, i + n)) out.append(n, '*');
      i += n - 1;
      continue;
    }
    if (c == '[' && !(i + 1 < s.size() && s[i + 1] == '^')) {  // [text](target): the text
      const size_t close = matching(s, i, '[', ']');
      if (close != std::string_view::npos && close + 1 < s.size() && s[close + 1] == '(') {
        const size_t end = matching(s, close + 1, '(', ')');
        if (end != std::string_view::npos) {
          out += plain_text(s.substr(i + 1, close - i - 1), false);
          i = end;
          continue;
        }
      }
    }
    if (c == '<') {  // <scheme:address> or <user@host>: the address
      const size_t close = s.find('>', i);
      if (close != std::string_view::npos) {
        const std::string_view inner = s.substr(i + 1, close - i - 1);
        if (inner.find(' ') == std::string_view::npos &&
            (inner.find(':') != std::string_view::npos || inner.find('@') != std::string_view::npos)) {
          out += inner;
          i = close;
          continue;
        }
      }
    }
    out += c;
  }
  return out;
}

std::string document_text(const document& doc) {
  std::string out;
  for (const auto& b : doc.blocks) {
    std::string text = b.text;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.empty()) continue;
    if (b.type == block_type::footnote && !b.label.empty())
      text = (b.referenced ? "[^" + b.label + "]: " : b.label + " ") + text;
    if (!out.empty()) out += "\n\n";
    out += text;
  }
  if (!out.empty()) out += '\n';
  return out;
}

}  // namespace quire::convert

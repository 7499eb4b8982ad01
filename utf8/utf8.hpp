// quire::utf8 — the one UTF-8 codec (RFC 3629), header-only and dependency-free so that every
// module may use it: well-formed means no overlong forms, no UTF-16 surrogates (U+D800..DFFF),
// nothing past U+10FFFF. What reaches a client or the Markdown goes through these rules.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace quire::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// A code point that UTF-8 may carry: not a surrogate, not past U+10FFFF.
constexpr bool is_scalar(char32_t cp) { return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF); }

struct decoded {
  char32_t cp;      // U+FFFD when the sequence is malformed
  std::size_t len;  // bytes consumed: the sequence's length, or 1 when it is malformed
  bool valid;
};

// Decodes the sequence that starts at s[i] (i < s.size()). A malformed one (a stray continuation
// byte, a truncated or overlong sequence, a surrogate, past U+10FFFF) consumes one byte, so that
// decoding resynchronises at the next byte.
constexpr decoded decode(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return {c, 1, true};
  const std::size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  constexpr decoded bad{kReplacement, 1, false};
  if (len == 0 || len > s.size() - i) return bad;
  char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return bad;
    cp = (cp << 6) | (cc & 0x3F);
  }
  const char32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min || !is_scalar(cp)) return bad;
  return {cp, len, true};
}

// Appends cp's encoding; a surrogate or a value past U+10FFFF appends U+FFFD instead.
inline void append(std::string& out, char32_t cp) {
  if (!is_scalar(cp)) cp = kReplacement;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The offset of the first malformed sequence in s, or std::string_view::npos when s is well formed.
constexpr std::size_t first_invalid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto d = decode(s, i);
    if (!d.valid) return i;
    i += d.len;
  }
  return std::string_view::npos;
}

constexpr bool valid(std::string_view s) { return first_invalid(s) == std::string_view::npos; }

}  // namespace quire::utf8

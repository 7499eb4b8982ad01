// Word-text helpers shared by OCR's recognition (ocr.cpp) and word placement (ocr_placement.cpp).
// Internal to convert/; not part of ocr.hpp's contract.
#pragma once

#include <string>

namespace quire::convert::ocr::detail {

inline constexpr const char* kBullet = "\xE2\x80\xA2";      // U+2022 •, a list bullet to the pipeline
inline constexpr const char* kRingBullet = "\xE2\x97\xA6";  // U+25E6 ◦, the usual second-level bullet
inline bool is_bullet(const std::string& s) { return s == kBullet || s == kRingBullet; }

inline int count_chars(const std::string& s) {  // UTF-8 code points, spaces excluded
  int n = 0;
  for (char c : s)
    if (c != ' ' && (static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// Letters or digits, in any script: ASCII alphanumerics, or a code point from U+00C0 up that is
// not punctuation or a symbol (general punctuation, arrows, math, box drawing, shapes, dingbats:
// U+2000..U+2BFF; Latin-1's ×, ÷). Tesseract reads bullets and rules as '»', '©', '°', '=': those
// must not count as text.
bool has_alnum(const std::string& s);

}  // namespace quire::convert::ocr::detail

// The UTF-8 codec (utf8/utf8.hpp): RFC 3629's well-formed sequences, and nothing else.
#include <catch2/catch.hpp>

#include <string>

#include "utf8/utf8.hpp"

using namespace quire;

TEST_CASE("well-formed sequences of every length decode to their code point") {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a é € 😀
  std::size_t i = 0;
  for (const char32_t want : {U'a', U'\u00E9', U'\u20AC', U'\U0001F600'}) {
    const auto d = utf8::decode(s, i);
    CHECK(d.valid);
    CHECK(d.cp == want);
    std::string again;
    utf8::append(again, d.cp);
    CHECK(again == s.substr(i, d.len));  // encoding is the inverse
    i += d.len;
  }
  CHECK(i == s.size());
  CHECK(utf8::valid(s));
  CHECK(utf8::valid(""));
}

TEST_CASE("malformed sequences consume one byte and decode as U+FFFD") {
  for (const std::string bad : {
           std::string("\x80"),              // stray continuation byte
           std::string("\xC0\xAF"),          // overlong '/'
           std::string("\xE0\x80\xAF"),      // overlong, three bytes
           std::string("\xF0\x80\x80\xAF"),  // overlong, four bytes
           std::string("\xED\xA0\x80"),      // U+D800, a surrogate
           std::string("\xED\xBF\xBF"),      // U+DFFF
           std::string("\xF4\x90\x80\x80"),  // U+110000
           std::string("\xF5\x80\x80\x80"),  // a lead byte past U+10FFFF
           std::string("\xE2\x82"),          // truncated
           std::string("\xE2\x28\xA1"),      // a continuation byte missing
           std::string("\xFF"),
       }) {
    INFO(bad.size() << " bytes");
    const auto d = utf8::decode(bad, 0);
    CHECK_FALSE(d.valid);
    CHECK(d.len == 1);
    CHECK(d.cp == utf8::kReplacement);
    CHECK(utf8::first_invalid("ok " + bad) == 3);
  }
  // The largest scalar values on either side of the surrogates are fine.
  CHECK(utf8::valid("\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF"));
}

TEST_CASE("what cannot be encoded is encoded as U+FFFD") {
  std::string out;
  utf8::append(out, 0xD800);
  utf8::append(out, 0xDFFF);
  utf8::append(out, 0x110000);
  CHECK(out == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  out.clear();
  utf8::append(out, 0x7F);
  utf8::append(out, 0x80);
  utf8::append(out, 0x7FF);
  utf8::append(out, 0x800);
  utf8::append(out, 0xFFFF);
  utf8::append(out, 0x10000);
  utf8::append(out, 0x10FFFF);
  CHECK(out == "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
  CHECK(utf8::valid(out));
}

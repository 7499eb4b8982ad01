// Bad input never crashes the engine: every case maps to a stable error code.
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"

using namespace quire::convert;

namespace {
result<conversion> convert_text(const std::string& bytes) {
  engine e;
  return e.convert(std::as_bytes(std::span(bytes.data(), bytes.size())), {});
}
}  // namespace

TEST_CASE("empty input is pdf_empty") {
  auto r = convert_text("");
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_empty);
}

TEST_CASE("bytes that are not a PDF are pdf_unreadable") {
  auto r = convert_text("hello, this is plain text and not a PDF at all\n");
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_unreadable);
  CHECK(to_string(r.err().code) == "pdf_unreadable");
}

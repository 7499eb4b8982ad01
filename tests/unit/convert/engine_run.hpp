// What the engine tests share: run the engine on a PDF built with pdf_builder.hpp, and look for
// text in the Markdown it gives.
#pragma once

#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "pdf_builder.hpp"

namespace quire::test {

inline convert::result<convert::conversion> run_engine(const std::string& pdf, convert::options opts = {}) {
  convert::engine e;
  return e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), opts);
}

// The conversion of the pages; the test fails when the engine refuses them.
inline convert::conversion convert_pages(const std::vector<page_spec>& pages, convert::options opts = {}) {
  auto r = run_engine(make_pdf(pages), std::move(opts));
  REQUIRE(r);
  return std::move(*r);
}

inline std::string pages_markdown(const std::vector<page_spec>& pages, convert::options opts = {}) {
  return convert_pages(pages, std::move(opts)).markdown;
}

inline bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

inline size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t i = hay.find(needle); i != std::string::npos; i = hay.find(needle, i + 1)) ++n;
  return n;
}

// A paragraph of body lines (11 pt Helvetica, 14 pt apart) whose first baseline is at y.
inline std::string body_lines(float y, const std::vector<std::string>& lines, float x = 72) {
  std::string s;
  for (const auto& l : lines) {
    s += text_at("F1", 11, x, y, l);
    y -= 14;
  }
  return s;
}

}  // namespace quire::test

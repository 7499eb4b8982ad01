// Reading order on pages set in columns: gutters, full-width elements, side-by-side blocks.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::make_pdf;
using quire::test::text_at;
using quire::test::has;

namespace {

std::string md(const std::string& content) { return quire::test::pages_markdown({{content}}); }

// Courier 10 pt code: one text object per word, 6 pt cells, as typesetters place monospaced words.
std::string code_line(float x, float y, const std::string& line) {
  std::string s;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    size_t j = line.find(' ', i);
    if (j == std::string::npos) j = line.size();
    std::string word;  // a PDF string: parentheses escaped
    for (char ch : line.substr(i, j - i)) {
      if (ch == '(' || ch == ')' || ch == '\\') word += '\\';
      word += ch;
    }
    s += text_at("F3", 10, x + 6.0f * static_cast<float>(i), y, word);
    i = j;
  }
  return s;
}

}  // namespace

TEST_CASE("two columns drawn one after the other, with a full-width title and abstract", "[columns]") {
  // title and abstract across the page, then the left column (prose, a heading, code), then the
  // right column, then a closing paragraph across the page: the order a typesetter draws them in
  std::string c = text_at("F2", 18, 72, 740, "Tide Gauge Maintenance");
  c += text_at("F5", 10, 72, 714, "Abstract: the gauges along the estuary drift in winter and this note says how the crew");
  c += text_at("F5", 10, 72, 701, "finds the drift early, which checks it runs each month and what the logbook records.");
  std::vector<std::string> left = {
      "left column line 0 where the survey began",  "left column line 1 with the float chamber",
      "left column line 2 and the stilling well",   "left column line 3 as the silt builds up",
      "left column line 4 ends the first part.",
  };
  float y = 670;
  for (const auto& l : left) c += text_at("F5", 10, 72, y, l), y -= 13;
  y -= 6;
  c += text_at("F2", 12, 72, y, "Checking the Float");
  y -= 17;
  for (const std::string l : {"gauge = open(port)", "for day in month:", "    check(gauge, day)", "close(gauge)"})
    c += code_line(80, y, l), y -= 12;
  y -= 4;
  c += text_at("F5", 10, 72, y, "left column line 5 after the listing ends."), y -= 13;
  std::vector<std::string> right = {
      "right column line 0 continues the article", "right column line 1 with readings taken",
      "right column line 2 at low and high water", "right column line 3 over a whole month",
      "right column line 4 beside the old gauge",  "right column line 5 to compare the two",
      "right column line 6 before the winter.",
  };
  y = 670;
  for (const auto& r : right) c += text_at("F5", 10, 322, y, r), y -= 13;
  c += text_at("F5", 10, 72, 470, "Across the page again: the closing remarks run under both columns and stay one line.");
  const std::string out = md(c);
  INFO(out);
  const auto title = out.find("Tide Gauge Maintenance"), abstract = out.find("Abstract: the gauges");
  const auto l0 = out.find("left column line 0"), l5 = out.find("left column line 5");
  const auto r0 = out.find("right column line 0"), r6 = out.find("right column line 6");
  const auto closing = out.find("Across the page again");
  REQUIRE(title != std::string::npos);
  REQUIRE(abstract != std::string::npos);
  REQUIRE(l0 != std::string::npos);
  REQUIRE(l5 != std::string::npos);
  REQUIRE(r0 != std::string::npos);
  REQUIRE(r6 != std::string::npos);
  REQUIRE(closing != std::string::npos);
  // the abstract is one paragraph, its two lines joined with nothing from a column in between
  CHECK(has(out, "how the crew finds the drift early"));
  CHECK(title < abstract);
  CHECK(abstract < l0);
  CHECK(l5 < r0);  // the whole left column, then the right one
  CHECK(r6 < closing);
  // no line joins text from both columns
  CHECK_FALSE(has(out, "survey began right"));
  CHECK_FALSE(has(out, "part. right"));
  // the heading and the listing stay in the left column, the listing whole
  CHECK(has(out, "## Checking the Float"));
  CHECK(has(out, "```\ngauge = open(port)\nfor day in month:\n    check(gauge, day)\nclose(gauge)\n```"));
  CHECK(out.find("Checking the Float") < r0);
}

// The output's first figures ("1 1 1") stand right of the listing's first line like a contents
// entry's page number; a number with more text close after it is not one.
TEST_CASE("a code listing beside its output is read listing first, then output", "[columns]") {
  std::string c = text_at("F1", 11, 72, 720, "The program below prints a small table of squares and cubes for the crew.");
  // the listing on the left, its output on the right, at the same heights, drawn one after the other
  float y = 690;
  for (const std::string l :
       {"def table(n):", "    for i in range(1, n + 1):", "        sq = i * i", "        cu = i * i * i",
        "        print(i, sq, cu)", "table(4)"})
    c += code_line(72, y, l), y -= 12;
  y = 690;
  for (const std::string l : {"1 1 1", "2 4 8", "3 9 27", "4 16 64"}) c += code_line(340, y, l), y -= 12;
  c += text_at("F1", 11, 72, 600, "Each line of the output holds a number, its square and its cube, in that order.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "def table(n):\n    for i in range(1, n + 1):\n        sq = i * i\n        cu = i * i * i\n"
                 "        print(i, sq, cu)\ntable(4)\n"));
  CHECK(has(out, "1 1 1\n2 4 8\n3 9 27\n4 16 64\n"));
  CHECK_FALSE(has(out, "- def table"));  // not a contents entry
  const auto listing = out.find("def table(n):"), output = out.find("1 1 1");
  REQUIRE(listing != std::string::npos);
  REQUIRE(output != std::string::npos);
  CHECK(listing < output);
  CHECK(out.find("The program below") < listing);
  CHECK(output < out.find("Each line of the output"));
}

TEST_CASE("aligned fields of a code block drawn row by row are not columns", "[columns]") {
  // benchmark output: each row is drawn whole, left to right, with a wide gap before the figures;
  // the gap runs down every row, yet it is one block read row by row
  std::string c = text_at("F1", 11, 72, 720, "The benchmark printed these timings on the test machine last week.");
  float y = 690;
  for (const std::string l :
       {"Benchmark                   Time       CPU", "BM_copy/8                   36 ns      36 ns",
        "BM_copy/64                  76 ns      76 ns", "BM_copy/512                 84 ns      84 ns",
        "BM_copy/1024               116 ns     116 ns", "BM_copy/8192               643 ns     643 ns"})
    c += code_line(72, y, l), y -= 12;
  c += text_at("F1", 11, 72, 600, "The copies of small buffers cost about the same as a single cache miss.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "BM_copy/8                   36 ns      36 ns"));
  const auto first = out.find("BM_copy/8"), last_figure = out.find("643 ns");
  REQUIRE(first != std::string::npos);
  REQUIRE(last_figure != std::string::npos);
  // the figures of the first row come before the name of the last row
  CHECK(out.find("36 ns") < out.find("BM_copy/8192"));
}

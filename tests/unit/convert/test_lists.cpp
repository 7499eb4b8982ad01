// List detection rules: which line starts count as list markers, one small page each (generated
// PDFs, see pdf_builder.hpp, or a page model where the glyph is outside WinAnsi).
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"
#include "convert/detail/analyze.hpp"
#include "convert/detail/layout.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::make_pdf;
using quire::test::text_at;
using quire::test::has;

namespace {

std::string md(const std::string& content) { return quire::test::pages_markdown({{content}}); }

// One line of one span in a page model; y is the top of the line box, 10 pt text.
void add_line(layout::page_model& page, float x, float y, const std::string& text) {
  layout::span s;
  s.text = text;
  s.size = 10;
  s.font = "Times-Roman";
  s.box = {x, y, x + 5.0f * static_cast<float>(text.size()), y + 12};
  s.baseline = y + 10;
  layout::line ln;
  ln.spans.push_back(s);
  ln.box = s.box;
  ln.size = 10;
  ln.baseline = s.baseline;
  ln.chars = static_cast<int>(text.size());
  ln.char_width = 5;
  ln.seq = static_cast<int>(page.lines.size());
  page.lines.push_back(ln);
  page.chars += ln.chars;
}

}  // namespace

TEST_CASE("LaTeX's third-level bullet (the asterisk operator) starts a list item") {
  layout::page_model page;
  page.number = 1;
  page.width = 612;
  page.height = 792;
  add_line(page, 72, 100, "Reports can be added with these commands:");
  add_line(page, 90, 114, "\xE2\x80\x93 Use the summary feature of the tracker.");  // – level 2
  add_line(page, 108, 128, "\xE2\x88\x97 Add a report by its number.");            // ∗ level 3
  add_line(page, 108, 142, "\xE2\x88\x97 Remove a report by its number.");
  add_line(page, 72, 170, "The reports are then reviewed by the team before the release date.");
  doc_context dc;
  dc.page_count = 1;
  dc.observe(page);
  const auto blocks = dc.analyze(page);
  std::vector<std::pair<int, std::string>> items;
  for (const auto& b : blocks)
    if (b.kind == layout::block_kind::list_item) items.emplace_back(b.level, b.text);
  REQUIRE(items.size() == 3);
  CHECK(items[0] == std::pair<int, std::string>{0, "Use the summary feature of the tracker."});
  CHECK(items[1] == std::pair<int, std::string>{1, "Add a report by its number."});
  CHECK(items[2] == std::pair<int, std::string>{1, "Remove a report by its number."});
}

TEST_CASE("a wrapped line of a paragraph that starts with an asterisk or a minus is not a list item") {
  // "... machine epsilon * 100." wrapped so that "* 100." starts the next line, flush with the
  // paragraph, under a full line of text
  std::string c = text_at("F1", 11, 72, 720, "The latter two overloads provide a default margin of the machine epsilon");
  c += text_at("F1", 11, 72, 706, "* 100. This is enough for most of the values that the tests compare.");
  c += text_at("F1", 11, 72, 670, "The options are listed below:");
  c += text_at("F1", 11, 72, 656, "* the first option");
  c += text_at("F1", 11, 72, 642, "* the second option");
  const std::string out = md(c);
  INFO(out);
  const auto from = out.find("machine epsilon"), to = out.find("100. This is enough");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  CHECK(out.substr(from, to - from).find('\n') == std::string::npos);  // one paragraph
  CHECK(has(out, "- the first option\n- the second option"));
}

TEST_CASE("an item's wrapped line that starts like a marker, at the item's text edge under a full line, goes on") {
  std::string c = text_at("F5", 11, 72, 720, "\225");
  c += text_at("F5", 11, 84, 720, "Ray Strode (34): configure: bump mozjs requirement to 52 jsauthority: JSVAL_TO_OBJECT");
  c += text_at("F5", 11, 84, 706, "(o) to o.toObjectOrNull() jsauthority: JSVAL_TO_STRING (s) to s.toString().");
  c += text_at("F5", 11, 72, 686, "\225");
  c += text_at("F5", 11, 84, 686, "Colin Walters (17): PolkitSystemBusName: Add public API.");
  c += text_at("F5", 11, 72, 666, "\225");
  c += text_at("F5", 11, 84, 666, "Sub-items still start where their markers stand:");
  c += text_at("F5", 11, 96, 652, "(a) the first of them");
  c += text_at("F5", 11, 96, 638, "(b) the second of them");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "JSVAL_TO_OBJECT (o) to o.toObjectOrNull()"));
  CHECK_FALSE(has(out, "1) to o.toObjectOrNull"));
  CHECK(has(out, "- Colin Walters (17)"));
  CHECK(has(out, "the first of them"));
  CHECK_FALSE(has(out, "them:(a)"));
}

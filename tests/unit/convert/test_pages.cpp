// Page-level rules, one small generated PDF each (see pdf_builder.hpp): pages set sideways are read
// in their text's direction, a page whose text yields nothing is flagged, and running headers,
// footers and page numbers go also where they sit off the usual bands or alternate odd/even.
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::build_options;
using quire::test::make_pdf;
using quire::test::page_spec;
using quire::test::text_at;
using quire::test::count;
using quire::test::has;

namespace {

conversion run(const std::vector<page_spec>& pages) {
  const std::string pdf = make_pdf(pages);
  engine e;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), {});
  REQUIRE(r);
  return std::move(*r);
}

// Text drawn with a text matrix (a b c d) at (x, y): "0 1 -1 0" runs bottom to top, "0 -1 1 0" top to
// bottom, "0.7071 0.7071 -0.7071 0.7071" at 45 degrees.
std::string turned_text(const char* matrix, float x, float y, const std::string& s) {
  return "BT /F1 11 Tf " + std::string(matrix) + " " + std::to_string(x) + " " + std::to_string(y) + " Tm (" + s +
         ") Tj ET\n";
}

const char* kLines[] = {
    "Landscape table of the tide heights at the east quay for the spring.",
    "The duty manager signs the sheet after the morning crew has checked it.",
    "Readings are taken at six, at noon and at six in the evening again.",
};

bool any_warning(const conversion& c, const std::string& part) {
  for (const auto& w : c.warnings)
    if (has(w, part)) return true;
  return false;
}

}  // namespace

TEST_CASE("a page set sideways is read in its text's direction") {
  for (const char* m : {"0 1 -1 0", "0 -1 1 0"}) {
    const bool up = std::string(m) == "0 1 -1 0";
    std::string c;
    for (int i = 0; i < 3; ++i) {
      // each line a column further over, in reading order
      const float x = up ? 100.0f + 16.0f * i : 500.0f - 16.0f * i;
      c += turned_text(m, x, up ? 100.0f : 700.0f, kLines[i]);
    }
    const conversion r = run({{c}});
    INFO(m << "\n" << r.markdown);
    REQUIRE(r.pages.size() == 1);
    CHECK(r.pages[0].text_rotation == (up ? 90 : 270));
    CHECK_FALSE(r.pages[0].text_lost);
    CHECK(has(r.markdown, "Landscape table of the tide heights at the east quay for the spring. The duty manager"));
    CHECK(r.markdown.find("The duty manager") < r.markdown.find("Readings are taken"));
  }
}

TEST_CASE("rotated labels on an upright page stay out, and the page is read upright") {
  std::string c;
  for (int i = 0; i < 3; ++i) c += text_at("F1", 11, 72, 700 - 14.0f * i, kLines[i]);
  c += turned_text("0 1 -1 0", 40, 300, "Axis label");
  const conversion r = run({{c}});
  INFO(r.markdown);
  CHECK(r.pages[0].text_rotation == 0);
  CHECK(has(r.markdown, "Landscape table of the tide heights"));
  CHECK_FALSE(has(r.markdown, "Axis label"));
}

TEST_CASE("a page whose text yields no output is flagged and warned about") {
  std::string c;
  for (int i = 0; i < 3; ++i) c += turned_text("0.7071 0.7071 -0.7071 0.7071", 100 + 20.0f * i, 200, kLines[i]);
  std::string upright;
  for (int i = 0; i < 3; ++i) upright += text_at("F1", 11, 72, 700 - 14.0f * i, kLines[i]);
  const conversion r = run({{upright}, {c}});
  INFO(r.markdown);
  REQUIRE(r.pages.size() == 2);
  CHECK_FALSE(r.pages[0].text_lost);
  CHECK(r.pages[1].text_lost);
  CHECK(any_warning(r, "page 2: its text"));
}

TEST_CASE("a page number set above the bottom band is furniture, and the paragraph it cut is rejoined") {
  // plain TeX style: the number sits about 13 % up the page, under the last line of a paragraph
  // that goes on on the next page
  std::vector<page_spec> pages;
  const char* crews[] = {"harbour", "night", "relief", "river"};
  for (int p = 1; p <= 4; ++p) {
    std::string c;
    float y = 680;
    if (p > 1) {
      c += text_at("F1", 11, 72, y, std::string("or in the evening when the ") + crews[p - 1] + " crew comes in.");
      y -= 14;
    }
    for (int k = 0; k < 8; ++k, y -= 14)
      c += text_at("F1", 11, 72, y, "The crane " + std::to_string(p * 10 + k) + " on the " + crews[p - 1] +
                                        " quay is checked every morning by the crew who");
    c += text_at("F1", 11, 72, y, "sign the sheet at six");
    c += text_at("F1", 11, 303, 105, std::to_string(p + 4));
    pages.push_back({c});
  }
  const conversion r = run(pages);
  INFO(r.markdown);
  for (int p = 5; p <= 8; ++p) {
    CHECK_FALSE(has(r.markdown, "\n" + std::to_string(p) + "\n"));
    CHECK_FALSE(has(r.markdown, " " + std::to_string(p) + " or in the evening"));
    CHECK_FALSE(has(r.markdown, "\n" + std::to_string(p) + " or in the evening"));
  }
  CHECK(has(r.markdown, "sign the sheet at six or in the evening when the night crew comes in."));
}

TEST_CASE("odd and even running heads and outer page numbers are furniture") {
  std::vector<page_spec> pages;
  const char* topics[] = {"the refit of the hull", "the new crane rails", "the paint shop roster",
                          "the winter moorings"};
  for (int p = 1; p <= 4; ++p) {
    const bool odd = p % 2 == 1;
    std::string c = odd ? text_at("F4", 9, 420, 760, "Chapter 2. Moorings") + text_at("F1", 9, 530, 760, std::to_string(p + 10))
                        : text_at("F1", 9, 72, 760, std::to_string(p + 10)) + text_at("F4", 9, 100, 760, "Saltash Handbook");
    c += text_at("F1", 11, 72, 690, std::string("This page is about ") + topics[p - 1] + ".");
    c += text_at("F1", 11, 72, 676, "The duty manager signs the sheet after the morning round.");
    pages.push_back({c});
  }
  const conversion r = run(pages);
  INFO(r.markdown);
  CHECK_FALSE(has(r.markdown, "Saltash Handbook"));
  CHECK_FALSE(has(r.markdown, "Chapter 2. Moorings"));
  for (int p = 11; p <= 14; ++p) CHECK_FALSE(has(r.markdown, std::to_string(p)));
  CHECK(has(r.markdown, "This page is about the winter moorings."));
}

TEST_CASE("a slide title repeated over a frame's pages is one heading, without its counter") {
  // no outline: the first page of each run of pages that repeat a large title carries the heading
  std::vector<page_spec> pages;
  const char* titles[] = {"Cable Winches \226 1/3", "Cable Winches \226 2/3", "Cable Winches \226 3/3",
                          "Deck Lighting (1/2)", "Deck Lighting (2/2)", "Rope Storage", "Rope Storage"};
  const char* topics[] = {"the drum brake", "the pawl", "the spare cable", "the mast lamps",
                          "the spare bulbs", "the coils", "the drying rack"};
  for (int p = 0; p < 7; ++p) {
    std::string c = text_at("F2", 20, 40, 760, titles[p]);
    c += text_at("F1", 11, 72, 690, std::string("This slide is about ") + topics[p] + ".");
    c += text_at("F1", 11, 72, 676, "The crew checks it before every sailing.");
    pages.push_back({c});
  }
  const conversion r = run(pages);
  INFO(r.markdown);
  CHECK(count(r.markdown, "Cable Winches") == 1);
  CHECK(has(r.markdown, "# Cable Winches\n"));
  CHECK(count(r.markdown, "Deck Lighting") == 1);
  CHECK(has(r.markdown, "# Deck Lighting\n"));
  CHECK(count(r.markdown, "Rope Storage") == 1);
  CHECK(has(r.markdown, "# Rope Storage\n"));
  CHECK_FALSE(has(r.markdown, "1/3"));
  CHECK_FALSE(has(r.markdown, "(2/2)"));
  CHECK(has(r.markdown, "This slide is about the drying rack."));
  // each title comes before its first page's text
  CHECK(r.markdown.find("Deck Lighting") < r.markdown.find("the mast lamps"));
  CHECK(r.markdown.find("the spare cable") < r.markdown.find("Deck Lighting"));
}

TEST_CASE("with an outline, a slide title it lists heads the run once; one it leaves out sits below") {
  // the outline lists the frame-title style at two depths, so an unlisted frame title takes its
  // depth from the last listed heading, not from its style
  std::vector<page_spec> pages;
  const char* titles[] = {"Harbour Works", "Cable Winches (1/2)", "Cable Winches (2/2)", "Winch Example",
                          "Dry Dock", "Slipway"};
  const char* topics[] = {"the harbour", "the drum brake", "the pawl", "a worked example", "the dock gate",
                          "the cradle"};
  for (int p = 0; p < 6; ++p) {
    std::string c = text_at("F2", 20, 40, 760, titles[p]);
    c += text_at("F1", 11, 72, 690, std::string("This slide is about ") + topics[p] + ".");
    c += text_at("F1", 11, 72, 676, "The crew checks it before every sailing.");
    pages.push_back({c});
  }
  build_options o;
  o.outline = {{1, "Harbour Works", 0}, {2, "Cable Winches", 1}, {1, "Dry Dock", 4}, {2, "Slipway", 5}};
  const std::string pdf = make_pdf(pages, o);
  engine e;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), {});
  REQUIRE(r);
  INFO(r->markdown);
  CHECK(has(r->markdown, "# Harbour Works\n"));
  CHECK(has(r->markdown, "\n## Cable Winches\n"));
  CHECK(count(r->markdown, "Cable Winches") == 1);
  CHECK(has(r->markdown, "\n### Winch Example\n"));
  CHECK(has(r->markdown, "\n# Dry Dock\n"));
  CHECK(has(r->markdown, "\n## Slipway\n"));
}

TEST_CASE("lines that are the outline's titles of later pages, three or more in a row, are a contents list") {
  // a word processor's linked contents: the titles alone, no page numbers, no leaders
  std::string front = text_at("F2", 20, 72, 740, "Harbour FAQ");
  front += quire::test::body_lines(700, {"This list answers the questions harbour staff ask most often, one section each."});
  const char* entries[] = {"1 GENERAL QUESTIONS", "1.1 WHO RUNS THE HARBOUR?", "1.2 WHEN DOES THE GATE OPEN?",
                           "2 MOORING", "2.1 HOW LONG MAY I MOOR?"};
  float y = 660;
  for (const char* e : entries) {
    front += text_at("F2", 11, 72, y, e);
    y -= 22;
  }
  // (a preface between: an entry whose section starts on the very next page reads as a heading set
  // just before a page break, as outline targets can be one page off)
  std::vector<page_spec> pages{{front}, {quire::test::body_lines(720, {"The harbour opened in the spring of that year."})}};
  for (const char* e : entries) {
    std::string c = text_at("F2", 14, 72, 740, e);
    c += quire::test::body_lines(710, {"The harbour master answers this in the notice board at the east quay every spring."});
    pages.push_back({c});
  }
  build_options o;
  o.outline = {{1, "1 GENERAL QUESTIONS", 2}, {2, "1.1 WHO RUNS THE HARBOUR?", 3}, {2, "1.2 WHEN DOES THE GATE OPEN?", 4},
               {1, "2 MOORING", 5}, {2, "2.1 HOW LONG MAY I MOOR?", 6}};
  const std::string pdf = make_pdf(pages, o);
  engine e;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), {});
  REQUIRE(r);
  INFO(r->markdown);
  CHECK(has(r->markdown, "- 1 GENERAL QUESTIONS\n  - 1.1 WHO RUNS THE HARBOUR?\n  - 1.2 WHEN DOES THE GATE OPEN?\n"
                         "- 2 MOORING\n  - 2.1 HOW LONG MAY I MOOR?\n"));
  CHECK(count(r->markdown, "# 1.1 WHO RUNS THE HARBOUR?") == 1);  // the section itself keeps its heading
  CHECK_FALSE(has(r->markdown, "**1 GENERAL QUESTIONS**"));
}

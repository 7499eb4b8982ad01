// The conversion rules, one small generated PDF each (see pdf_builder.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"
#include "convert/detail/extract.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::make_pdf;
using quire::test::page_spec;
using quire::test::text_at;
using quire::test::has;
using quire::test::body_lines;
using quire::test::run_engine;

namespace {

std::string md(const std::vector<page_spec>& pages) { return quire::test::pages_markdown(pages); }

const std::vector<std::string> kProse = {
    "The morning crew checked the slipway and wrote down what they saw on the",
    "east quay before the tide turned, and the duty manager signed the sheet.",
};

}  // namespace

TEST_CASE("headings come from font size and weight relative to the body text") {
  std::string c = text_at("F2", 22, 72, 720, "Harbour Handbook");
  c += body_lines(690, kProse);
  c += text_at("F2", 16, 72, 640, "Tides and moorings");
  c += body_lines(615, kProse);
  c += text_at("F2", 13, 72, 570, "Checking a mooring line");
  c += body_lines(545, kProse);
  c += body_lines(500, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Harbour Handbook\n"));
  CHECK(has(out, "\n## Tides and moorings\n"));
  CHECK(has(out, "\n### Checking a mooring line\n"));
  // body text never becomes a heading
  CHECK_FALSE(has(out, "# The morning crew"));
}

TEST_CASE("paragraph lines are joined and a line-end hyphen of a known word is removed") {
  std::string c = body_lines(700, {"We replaced the anemometer at the coastal station in March, and",
                                   "the new anemo-", "meter has worked since."});
  c += body_lines(640, {"The anemometer is checked every week by the site engineer."});
  c += body_lines(600, {"Keep the salt-", "stained ropes apart."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "in March, and the new anemometer has worked since."));
  CHECK(has(out, "salt-stained ropes"));  // not a known word without the hyphen: the hyphen stays
  CHECK(has(out, "\n\nThe anemometer is checked"));
}

TEST_CASE("in a document that has shown many words, a line-end hyphen between non-words goes") {
  // 600 distinct made-up words ("qab", "qac", ...) fill two pages: the document's vocabulary
  std::vector<page_spec> pages;
  int n = 0;
  for (int p = 0; p < 2; ++p) {
    std::vector<std::string> lines;
    for (int l = 0; l < 30; ++l) {
      std::string line;
      for (int w = 0; w < 10; ++w, ++n) line += std::string(line.empty() ? "" : " ") + "q" + char('a' + n / 26 % 26) + char('a' + n % 26);
      lines.push_back(line + ",");
    }
    pages.push_back({body_lines(740, lines)});
  }
  pages.push_back({body_lines(700, {"The salt water stung and the new pump imple-", "ments the plan; the salt-",
                                    "stained ropes stay apart, and the \\(\223des-", "tinations\224\\) are listed."})});
  const std::string out = md(pages);
  INFO(out);
  CHECK(has(out, "the new pump implements the plan;"));   // neither "imple" nor "ments" is a word
  CHECK(has(out, "the salt-stained ropes"));               // "salt" is: a compound broken at its hyphen
  CHECK(has(out, "(\u201cdestinations\u201d) are listed"));  // quotes are no part of the halves
}

TEST_CASE("emphasis glued to letters or digits outside it stays plain (formulas, suffixes)") {
  // an italic variable with its exponent after a digit ("1 - x2/2" set as 1-<i>x</i>2/2), and an
  // italic word standing apart
  // (x positions from Helvetica's advances: each run starts where the previous one ends)
  std::string c = text_at("F1", 11, 72, 700, "close to 1-") + text_at("F4", 11, 122.75f, 700, "x") +
                  text_at("F1", 11, 128.25f, 700, "2/2, as the ") + text_at("F4", 11, 182.7f, 700, "notes ") +
                  text_at("F1", 11, 212.7f, 700, "say.");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "close to 1-x2/2, as the *notes* say."));
}

TEST_CASE("running headers, footers and page numbers are removed") {
  std::vector<page_spec> pages;
  const char* topics[] = {"the refit of the hull", "the new crane rails", "the paint shop roster"};
  for (int p = 1; p <= 3; ++p) {
    std::string c = text_at("F1", 9, 72, 760, "Saltash Shipyard Bulletin");
    c += body_lines(690, {std::string("This page is about ") + topics[p - 1] + "."});
    c += text_at("F1", 9, 280, 40, "Page " + std::to_string(p) + " of 3");
    pages.push_back({c});
  }
  const std::string out = md(pages);
  INFO(out);
  CHECK_FALSE(has(out, "Saltash Shipyard Bulletin"));
  CHECK_FALSE(has(out, "of 3"));
  CHECK(has(out, "This page is about the new crane rails."));
}

TEST_CASE("bare page numbers at the bottom are removed, numbers in the text are kept") {
  std::string c = body_lines(700, {"There were 17 cranes on the quay."});
  c += text_at("F1", 10, 300, 40, "7");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "There were 17 cranes"));
  CHECK_FALSE(has(out, "\n7\n"));
}

TEST_CASE("glyph bullets, numbered items, nesting by indentation and continuation lines") {
  std::string c = body_lines(720, {"The checklist:"});
  c += text_at("F1", 11, 72, 700, "\225") + text_at("F1", 11, 86, 700, "Rinse the buckets");
  c += text_at("F1", 11, 72, 686, "\225") + text_at("F1", 11, 86, 686, "Check the ropes for wear and replace the");
  c += text_at("F1", 11, 86, 672, "frayed ones before the next tide");
  c += text_at("F1", 11, 100, 658, "1.") + text_at("F1", 11, 114, 658, "Starboard lines first");
  c += text_at("F1", 11, 100, 644, "2.") + text_at("F1", 11, 114, 644, "Port lines second");
  c += text_at("F1", 11, 72, 630, "\225") + text_at("F1", 11, 86, 630, "Sign the sheet");
  c += body_lines(600, {"That is all for the morning round."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "- Rinse the buckets\n- Check the ropes for wear and replace the frayed ones before the next tide\n"
                 "  1. Starboard lines first\n  2. Port lines second\n- Sign the sheet\n"));
  CHECK(has(out, "\n\nThat is all for the morning round."));
}

TEST_CASE("a paragraph or listing set at an item's text indent belongs to that item") {
  std::string c = body_lines(720, {"To use a dictionary:"});
  c += text_at("F1", 11, 72, 700, "1.") + text_at("F1", 11, 86, 700, "Create the dictionary");
  c += text_at("F1", 11, 86, 676, "It is written next to the samples, and the tool reads it back later.");
  c += text_at("F1", 11, 72, 652, "2.") + text_at("F1", 11, 86, 652, "Compress with the dictionary");
  c += text_at("F3", 10, 86, 628, "zstd -D dictionaryName FILE");
  c += text_at("F1", 11, 72, 604, "3.") + text_at("F1", 11, 86, 604, "Decompress it again");
  c += body_lines(580, {"The tool checks the dictionary's identifier first."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "1. Create the dictionary\n\n   It is written next to the samples, and the tool reads it back later.\n\n"
                 "2. Compress with the dictionary\n\n   ```\n   zstd -D dictionaryName FILE\n   ```\n\n3. Decompress it again"));
  // text back at the margin ends the list
  CHECK(has(out, "again\n\nThe tool checks"));
}

TEST_CASE("a list that goes on in the next column keeps its depth") {
  // items at the left edge of each column: the second column's items are not nested under the first's
  std::string c;
  for (int i = 0; i < 6; ++i)
    c += text_at("F1", 10, 72, 700 - 14.0f * i, "\225") + text_at("F1", 10, 84, 700 - 14.0f * i, "left item " + std::to_string(i) + " of the list");
  for (int i = 0; i < 6; ++i)
    c += text_at("F1", 10, 320, 700 - 14.0f * i, "\225") + text_at("F1", 10, 332, 700 - 14.0f * i, "right item " + std::to_string(i) + " of the list");
  c += text_at("F1", 10, 320, 600, "Improvements made in this release follow.");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "- left item 5 of the list\n- right item 0 of the list\n"));
  CHECK_FALSE(has(out, "  - right item"));
  CHECK(has(out, "\n\nImprovements made in this release follow."));
}

TEST_CASE("bullets drawn as vector shapes are list markers") {
  std::string c;
  const char* items[] = {"Wash the deck", "Coil the ropes", "Lock the shed"};
  for (int i = 0; i < 3; ++i) {
    const float y = 700 - 16.0f * i;
    c += "0 0 0 rg 76 " + std::to_string(y + 2) + " 3.5 3.5 re f\n";  // a small filled square
    c += text_at("F1", 11, 88, y, items[i]);
  }
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "- Wash the deck\n- Coil the ropes\n- Lock the shed"));
}

TEST_CASE("monospace lines become a fenced block with their indentation; inline monospace becomes code") {
  std::string c = text_at("F1", 11, 72, 720, "Call ") + text_at("F3", 11, 98, 720, "refill()") +
                  text_at("F1", 11, 155, 720, " before use.");
  c += text_at("F3", 10, 72, 690, "func refill() {");
  c += text_at("F3", 10, 96, 677, "level = max");  // 4 cells of 6 pt
  c += text_at("F3", 10, 72, 664, "}");
  c += body_lines(630, {"After the listing."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "Call `refill()` before use."));
  CHECK(has(out, "```\nfunc refill() {\n    level = max\n}\n```"));
}

TEST_CASE("a comment in a proportional font inside a listing stays in the one fenced block") {
  std::string c = body_lines(720, {"The loop below counts the entries."});
  c += text_at("F3", 10, 72, 690, "int count(void) {");
  c += text_at("F3", 10, 96, 677, "int n = 0;");
  c += text_at("F1", 10, 96, 664, "/* walk the table */");
  c += text_at("F3", 10, 96, 651, "while (next()) n++;");
  c += text_at("F3", 10, 96, 638, "return n;");
  c += text_at("F3", 10, 72, 625, "}");
  c += body_lines(595, {"After the listing."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "```\nint count(void) {\n    int n = 0;\n    /* walk the table */\n    while (next()) n++;\n"
                 "    return n;\n}\n```"));
  std::size_t fences = 0;
  for (std::size_t p = out.find("```"); p != std::string::npos; p = out.find("```", p + 3)) ++fences;
  CHECK(fences == 2);
  CHECK(has(out, "After the listing."));
}

TEST_CASE("a font is monospace when its glyph advances are uniform, without flag or name") {
  std::string c = body_lines(720, {"Drain the surplus like this:"});
  c += text_at("F6", 10, 72, 690, "if (level > max) {");
  c += text_at("F6", 10, 96, 677, "drain(level - max);");
  c += text_at("F6", 10, 72, 664, "}");
  c += body_lines(634, {"The level is then back under the limit."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "```\nif (level > max) {\n    drain(level - max);\n}\n```"));
}

TEST_CASE("word spaces on a tightly justified line are kept, letters of a kerned word stay together") {
  // TJ offsets in thousandths of an em: -100 is a word gap of 0.1 em (below the usual share of
  // Times' 0.25 em space), -30 a kern inside a word
  std::string c = "BT /F5 11 Tf 72 700 Td [(we) -100 (need) -100 (to) -100 (use) -100 (constants) -100 (or) -100 "
                  "(global) -100 (variables) -100 (here.)] TJ ET\n";
  c += "BT /F5 11 Tf 72 660 Td [(ke) -30 (ep) -100 (the) -100 (bo) -30 (ok) -100 (sh) -30 (elves) -100 (tidy.)] TJ ET\n";
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "we need to use constants or global variables here."));
  CHECK(has(out, "keep the book shelves tidy."));
}

TEST_CASE("citations are not escaped; what Markdown would misread still is") {
  std::string c = body_lines(720, {"# of entries is counted as in [1] and [2, 3]."});
  c += body_lines(690, {"A star pair like *this* is literal text."});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "\\# of entries is counted as in [1] and [2, 3]."));
  CHECK(has(out, "A star pair like \\*this\\* is literal text."));
}

TEST_CASE("two columns are read column by column") {
  std::string c = text_at("F2", 18, 72, 740, "Two Column Bulletin");
  // two justified columns of prose, 10 pt, about 230 pt wide each, paragraphs of unequal length
  std::vector<std::string> left, right;
  for (int i = 0; i < 14; ++i) {
    left.push_back(i == 6 ? "the end of the first paragraph " + std::to_string(i) + "."
                          : "left column line " + std::to_string(i) + " of the running text goes on");
    right.push_back(i == 9 ? "a short last line " + std::to_string(i) + "."
                           : "right column line " + std::to_string(i) + " continues the article text");
  }
  for (int i = 0; i < 14; ++i) {
    c += text_at("F5", 10, 72, 700 - 13.0f * i, left[i]);
    c += text_at("F5", 10, 320, 700 - 13.0f * i, right[i]);
  }
  const std::string out = md({{c}});
  INFO(out);
  const auto l9 = out.find("left column line 13"), r0 = out.find("right column line 0");
  REQUIRE(l9 != std::string::npos);
  REQUIRE(r0 != std::string::npos);
  CHECK(l9 < r0);
}

TEST_CASE("bold and italic spans and link annotations") {
  // each run ends with its space, as word processors write them
  std::string c = text_at("F1", 11, 72, 700, "Read the ") + text_at("F2", 11, 120, 700, "safety rules ") +
                  text_at("F1", 11, 196, 700, "and the ") + text_at("F4", 11, 238, 700, "notes ") +
                  text_at("F1", 11, 272, 700, "on the ") + text_at("F1", 11, 306, 700, "website ") +
                  text_at("F1", 11, 350, 700, "today.");
  page_spec p{c, {{305, 696, 346, 710, "https://example.com/rules"}}};
  const std::string out = md({p});
  INFO(out);
  CHECK(has(out, "Read the **safety rules** and the *notes* on the [website](https://example.com/rules) today."));
}

TEST_CASE("superscript references and small notes at the page bottom become footnotes") {
  std::string c = body_lines(700, {"The crane was inspected in May."});
  c += "BT /F1 7 Tf 233 705 Td (1) Tj ET\n";  // raised, smaller
  c += body_lines(686, {"Nothing else happened on the quay that week."});
  c += text_at("F1", 8, 72, 80, "1") + text_at("F1", 8, 80, 80, "By the harbour master.");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "inspected in May.[^1]"));
  CHECK(has(out, "[^1]: By the harbour master."));
}

TEST_CASE("a note whose number and text share one run keeps its wrapped lines (hanging indent)") {
  std::string c = body_lines(700, {"The crane was inspected in May."});
  c += "BT /F1 7 Tf 233 705 Td (10) Tj ET\n";  // raised, smaller
  c += body_lines(672, {"The crane was inspected in May."});
  c += "BT /F1 7 Tf 233 677 Td (11) Tj ET\n";
  for (float y : {640.f, 600.f, 560.f}) c += body_lines(y, kProse);  // enough body text to set the body size
  // "10 " and the note text in one string; the wrapped line starts under the note text
  c += text_at("F1", 9, 72, 110, "10 Every guillotine is still cleaned by hand on the night shift, which the duty") +
       text_at("F1", 9, 87, 99, "manager signs off before the morning crew arrives.");
  c += text_at("F1", 9, 72, 88, "11 Four leaflets out of forty passed the check.");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "[^10]: Every guillotine is still cleaned by hand on the night shift, which the duty manager signs "
                 "off before the morning crew arrives."));
  CHECK(has(out, "[^11]: Four leaflets out of forty passed the check."));
}

TEST_CASE("pages without a text layer are flagged and reported") {
  std::string c = "0.5 g 72 72 400 600 re f\n";
  options o;
  o.ocr = ocr_mode::off;
  auto r = run_engine(make_pdf({{c}}), o);
  REQUIRE(r);
  REQUIRE(r->pages.size() == 1);
  CHECK(r->pages[0].no_text_layer);
  bool warned = false;
  for (auto& w : r->warnings) warned = warned || has(w, "no text layer");
  CHECK(warned);
}

TEST_CASE("the same bytes and options give byte-identical output") {
  std::string c = text_at("F2", 18, 72, 720, "Determinism") + body_lines(690, kProse);
  const std::string pdf = make_pdf({{c}, {c}});
  auto a = run_engine(pdf), b = run_engine(pdf);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->markdown == b->markdown);
}

TEST_CASE("a page range converts only those pages") {
  std::vector<page_spec> pages;
  for (int p = 1; p <= 3; ++p) pages.push_back({body_lines(700, {"Only page " + std::to_string(p) + " is here."})});
  options o;
  o.first_page = 2;
  o.last_page = 2;
  auto r = run_engine(make_pdf(pages), o);
  REQUIRE(r);
  CHECK(r->page_count == 3);
  REQUIRE(r->pages.size() == 1);
  CHECK(r->pages[0].number == 2);
  CHECK(has(r->markdown, "Only page 2"));
  CHECK_FALSE(has(r->markdown, "Only page 1"));
}

TEST_CASE("with image extraction, embedded images become assets referenced in reading order") {
  std::string hex;
  for (int i = 0; i < 32 * 32; ++i) hex += (i % 7 == 0) ? "00" : "C8";
  std::string c = body_lines(720, {"Before the figure."});
  c += "q 200 0 0 120 72 560 cm BI /W 32 /H 32 /CS /G /BPC 8 /F /AHx ID " + hex + "> EI Q\n";
  c += body_lines(520, {"After the figure."});
  const std::string pdf = make_pdf({{c}});
  options o;
  o.extract_images = true;
  o.asset_prefix = "assets/";
  auto r = run_engine(pdf, o);
  REQUIRE(r);
  INFO(r->markdown);
  REQUIRE(r->assets.size() == 1);
  CHECK(r->assets[0].media_type == "image/png");
  CHECK(r->assets[0].bytes.size() > 8);
  const auto img = r->markdown.find("![](assets/" + r->assets[0].name + ")");
  REQUIRE(img != std::string::npos);
  CHECK(r->markdown.find("Before the figure.") < img);
  CHECK(img < r->markdown.find("After the figure."));
  // without the option nothing is extracted and no image link is written
  auto plain = run_engine(pdf);
  REQUIRE(plain);
  CHECK(plain->assets.empty());
  CHECK_FALSE(has(plain->markdown, "![]("));
}

TEST_CASE("link annotations with script, data or file targets become plain text") {
  // One paragraph per target, each with the link over the word "here" (x 120..146).
  const std::vector<std::string> targets = {
      "https://example.com/ok", "mailto:ops@example.com", "javascript:alert(document.cookie)",
      "JavaScript:alert(1)",    "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)",
      "file:///etc/passwd",     " javascript:alert(2)"};
  std::string c;
  std::vector<quire::test::link_spec> links;
  float y = 700;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    c += text_at("F1", 11, 72, y, "Link " + std::to_string(i) + " here now.");
    links.push_back({104, y - 4, 128, y + 10, targets[i]});
    y -= 40;
  }
  const std::string out = md({page_spec{c, links}});
  INFO(out);
  CHECK(has(out, "](https://example.com/ok)"));
  CHECK(has(out, "](mailto:ops@example.com)"));
  for (const char* bad : {"javascript:", "JavaScript:", "data:", "vbscript:", "file:"}) CHECK_FALSE(has(out, bad));
  for (std::size_t i = 2; i < targets.size(); ++i) CHECK(has(out, "Link " + std::to_string(i) + " here now."));
}

TEST_CASE("safe link targets: http(s), mailto, relative and fragment targets only") {
  CHECK(safe_link_target("https://example.com/a"));
  CHECK(safe_link_target("HTTP://example.com"));
  CHECK(safe_link_target("mailto:a@example.com"));
  CHECK(safe_link_target("docs/other.pdf"));
  CHECK(safe_link_target("#section-2"));
  CHECK(safe_link_target("a/b:c"));  // a colon after a '/' is no scheme
  CHECK_FALSE(safe_link_target("javascript:alert(1)"));
  CHECK_FALSE(safe_link_target("  JAVASCRIPT:alert(1)"));
  CHECK_FALSE(safe_link_target("java\tscript:alert(1)"));
  CHECK_FALSE(safe_link_target("data:text/html,x"));
  CHECK_FALSE(safe_link_target("vbscript:x"));
  CHECK_FALSE(safe_link_target("file:///etc/passwd"));
}

TEST_CASE("tight rows of one page column are not chained into one line through the other column") {
  // left column: 8 pt rows 9.5 pt apart (a LaTeX table); right column: 10 pt lines placed so
  // that each overlaps two left rows by half their height
  std::string c;
  const char* left[] = {"Datadog", "Bryan", "Regent", "Nearform", "Vladimir", "Platform"};
  for (int i = 0; i < 6; ++i) c += text_at("F5", 8, 72, 600 - 9.5f * static_cast<float>(i), left[i]);
  for (int i = 0; i < 5; ++i)
    c += text_at("F5", 10, 320, 594.72f - 9.5f * static_cast<float>(i), "the other column carries on with its prose");
  const std::string out = md({{c}});
  INFO(out);
  for (const char* w : left) CHECK(has(out, w));
}

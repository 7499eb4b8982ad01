// Text rebuilt from glyphs as typesetters place them: accents drawn as glyphs of their own, marks
// and numbers a listing sets around its code lines. One small generated PDF each (pdf_builder.hpp).
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::link_spec;
using quire::test::make_pdf;
using quire::test::text_at;
using quire::test::has;

namespace {

std::string md(const std::string& content) { return quire::test::pages_markdown({{content}}); }

// The advance of ASCII `s` in a base-14 font, in points.
float width(const char* font, float size, const std::string& s) {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_font* f = fz_new_base14_font(ctx, font);
  float w = 0;
  for (char c : s) w += fz_advance_glyph(ctx, f, fz_encode_character(ctx, f, c), 0) * size;
  fz_drop_font(ctx, f);
  fz_drop_context(ctx);
  return w;
}

}  // namespace

TEST_CASE("an accent drawn over its letter as a glyph of its own becomes one letter", "[glyphs]") {
  // TeX's \"a: the dieresis (Times, 333/1000 em) centred over the a (444/1000 em), then the a
  // drawn at the same place, twice: "P¨a¨abo" as extracted glyph by glyph
  const std::string accented = "-55.5 (\\250) 388.5 (a) ";
  std::string c = "BT /F5 11 Tf 72 700 Td [(The work of Svante P) " + accented + accented +
                  "(bo on ancient genomes was read by the whole team.)] TJ ET\n";
  c += text_at("F5", 11, 72, 686, "It changed how the field dates the split of the populations.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "Svante P\u00E4\u00E4bo on ancient"));
  CHECK_FALSE(has(out, "\u00A8"));
}

TEST_CASE("a circumflex or tilde drawn apart from any letter is the ASCII character", "[glyphs]") {
  // a typewriter font's ^ and ~ are often the spacing accents (WinAnsi \210 and \230)
  std::string c = text_at("F1", 11, 72, 720, "Install the release line and read your profile with these commands:");
  c += text_at("F3", 10, 72, 700, "npm install -g npm@\\21011.15");
  c += text_at("F3", 10, 72, 688, "cat \\230/.profile");
  c += text_at("F1", 11, 72, 660, "Both commands print what they changed on the terminal.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "npm install -g npm@^11.15\ncat ~/.profile\n"));
}

TEST_CASE("a code line broken at the margin with continuation marks is one line again", "[glyphs]") {
  // fvextra breaks a long line, ends it with a mark and starts the rest with another one
  std::string c = text_at("F1", 11, 72, 720, "The target below pins the project's identifier for the generator.");
  c += text_at("F7", 10, 72, 700, "'targets': [{");
  c += text_at("F7", 10, 84, 688, "'msvs_guid': '5ECEC9E5-8F23-47B6-93E0");
  c += text_at("F7", 10, 318, 688, "\\200");
  c += text_at("F7", 10, 84, 676, "\\201-C3B328B3BE65',");
  c += text_at("F7", 10, 84, 664, "'type': 'executable',");
  c += text_at("F7", 10, 72, 652, "}]");
  c += text_at("F1", 11, 72, 624, "The identifier keeps the generated solution stable between runs.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "```\n'targets': [{\n  'msvs_guid': '5ECEC9E5-8F23-47B6-93E0-C3B328B3BE65',\n  'type': 'executable',\n}]\n```"));
}

TEST_CASE("a code line broken at a space starts its rest with a small mark", "[glyphs]") {
  // broken at a space there is no mark at the end, only a small arrow before the rest
  std::string c = text_at("F1", 11, 72, 720, "Grant the workflow the right to publish with the following command:");
  c += text_at("F7", 10, 72, 700, "npm trust github [package] --file [--repo|--repository]");
  c += text_at("F7", 5, 75, 690, "\\201");
  c += text_at("F7", 10, 90, 688, "[--allow-publish] [-y|--yes]");
  c += text_at("F7", 10, 72, 676, "npm trust list");
  c += text_at("F1", 11, 72, 650, "The second command lists the relationships the package already has.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "```\nnpm trust github [package] --file [--repo|--repository] [--allow-publish] [-y|--yes]\n"
                 "npm trust list\n```"));
}

TEST_CASE("line numbers at the left of a listing are not code text", "[glyphs]") {
  // listings-style numbers: small, right-aligned, set apart left of the code
  std::string c = text_at("F1", 11, 72, 720, "The loop below drains the tank until the level is back under the limit.");
  const char* code[] = {"while level > limit:", "    open(valve)", "    wait(10)", "close(valve)"};
  const char* nums[] = {"8", "9", "10", "11"};
  float y = 700;
  for (int i = 0; i < 4; ++i, y -= 12) {
    c += text_at("F1", 7, i < 2 ? 67.1f : 63.2f, y, nums[i]);
    c += text_at("F3", 10, 84, y, code[i]);
  }
  c += text_at("F1", 11, 72, 640, "The valve closes once the level is back under the limit set above.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "```\nwhile level > limit:\n    open(valve)\n    wait(10)\nclose(valve)\n```"));
}

TEST_CASE("a web address wrapped at the line end is one link", "[glyphs]") {
  // each line's piece of the address carries its own link annotation, both to the same target
  const std::string lead = "The full guide to the tide gauges is kept at ", first = "https://example.org/guides/",
                    second = "gauges/maintenance.html", rest = " and is updated each spring.";
  std::string c = text_at("F1", 11, 72, 700, lead + first);
  c += text_at("F1", 11, 72, 686, second + rest);
  c += text_at("F1", 11, 72, 660, "The crew reads it before the first survey of the season.");
  const float x1 = 72 + width("Helvetica", 11, lead);
  const std::string uri = "https://example.org/guides/gauges/maintenance.html";
  const std::vector<link_spec> links = {{x1 - 0.5f, 697, x1 + width("Helvetica", 11, first) + 0.5f, 710, uri},
                                        {71.5f, 683, 72 + width("Helvetica", 11, second) + 0.5f, 696, uri}};
  const std::string pdf = make_pdf({{c, links}});
  engine e;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), {});
  REQUIRE(r);
  INFO(r->markdown);
  CHECK(has(r->markdown, "kept at <" + uri + "> and is updated"));
}

TEST_CASE("a code line wrapped at the right edge goes on in the next line", "[glyphs]") {
  // a word processor wraps a long code paragraph at the text's right edge: the rest of the line
  // starts at the left edge, and its first word would not have fitted after the wrapped part
  const std::string p1 = "The check below compares each reading with the target that the crew set for the gauge,",
                    p2 = "within one part in a hundred either way, and it fails the run when a reading strays.";
  std::string c = text_at("F1", 11, 72, 720, p1) + text_at("F1", 11, 72, 706, p2);
  const float right = 72 + std::max(width("Helvetica", 11, p1), width("Helvetica", 11, p2));
  const auto cells = static_cast<size_t>((right - 72) / 6);
  std::string wrapped = "CHECK(level == target); // True, because the crew allows up to one part";
  for (int k = 0; wrapped.size() + 5 < cells - 2; ++k) wrapped += " more";
  wrapped.resize(cells - 2);
  while (wrapped.back() == ' ') wrapped.pop_back();
  c += text_at("F3", 10, 72, 686, wrapped);
  c += text_at("F3", 10, 72, 674, "difference_in_percent;");
  c += text_at("F3", 10, 72, 662, "CHECK(level < limit);");
  c += text_at("F3", 10, 72, 650, "report(level);");
  c += text_at("F1", 11, 72, 626, "A reading outside the target fails the run before the report is written.");
  const std::string out = md(c);
  INFO(out);
  CHECK(has(out, "```\n" + wrapped + " difference_in_percent;\nCHECK(level < limit);\nreport(level);\n```"));
}

// Document structure rules, one small generated PDF each (see pdf_builder.hpp): footnote references
// and their labels, heading detection and levels, contents lists.
#include <catch2/catch.hpp>

#include <string>

#include "convert/convert.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::make_pdf;
using quire::test::page_spec;
using quire::test::text_at;
using quire::test::has;
using quire::test::body_lines;
using quire::test::count;

namespace {

std::string md(const std::vector<page_spec>& pages) { return quire::test::pages_markdown(pages); }

const std::vector<std::string> kProse = {
    "The morning crew checked the slipway and wrote down what they saw on the",
    "east quay before the tide turned, and the duty manager signed the sheet.",
};

// "The crane was inspected in May." ends near x = 232 at 11 pt
const char* kSentence = "The crane was inspected in May.";

}  // namespace

TEST_CASE("a footnote reference followed by a parenthesis cannot read as a link") {
  std::string c = text_at("F1", 11, 72, 700, kSentence);
  c += "BT /F1 7 Tf 233 705 Td (1) Tj ET\n";
  c += text_at("F1", 11, 237, 700, "(and in June)");
  for (float y : {660.f, 620.f, 580.f}) c += body_lines(y, kProse);
  c += text_at("F1", 8, 72, 80, "1") + text_at("F1", 8, 80, 80, "By the harbour master.");
  const std::string out = md({{c}});
  INFO(out);
  // "[^1](and in June)" is an inline link in CommonMark; the escaped parenthesis is not
  CHECK_FALSE(has(out, "[^1]("));
  CHECK(has(out, "May.[^1]\\(and in June)"));
  CHECK(has(out, "[^1]: By the harbour master."));
}

TEST_CASE("footnote labels are unique across the document when every page restarts at 1") {
  std::vector<page_spec> pages;
  const char* notes[] = {"By the harbour master.", "By the night watch."};
  for (const char* note : notes) {
    // below the top band: the same line at the same height on every page would be a running head
    std::string c = text_at("F1", 11, 72, 520, kSentence);
    c += "BT /F1 7 Tf 233 525 Td (1) Tj ET\n";
    for (float y : {660.f, 620.f, 580.f}) c += body_lines(y, kProse);
    c += text_at("F1", 8, 72, 80, "1") + text_at("F1", 8, 80, 80, note);
    pages.push_back({c});
  }
  const std::string out = md(pages);
  INFO(out);
  CHECK(count(out, "[^1]:") == 1);
  CHECK(count(out, "[^1-2]:") == 1);
  CHECK(has(out, "[^1]: By the harbour master."));
  CHECK(has(out, "[^1-2]: By the night watch."));
  CHECK(count(out, "May.[^1]") == 1);
  CHECK(count(out, "May.[^1-2]") == 1);
}

TEST_CASE("a raised number without a note on its page is an exponent, not a reference") {
  std::string c = text_at("F1", 11, 72, 700, "The load grows as K");
  c += "BT /F1 7 Tf 174 705 Td (2) Tj ET\n";
  c += text_at("F1", 11, 179, 700, " over the span.");
  for (float y : {660.f, 620.f, 580.f}) c += body_lines(y, kProse);
  c += text_at("F1", 8, 300, 300, "2");  // a small tick label in a drawing
  const std::string out = md({{c}});
  INFO(out);
  CHECK_FALSE(has(out, "[^"));
  CHECK(has(out, "K2 over the span."));
}

TEST_CASE("a table of contents with dot leaders becomes a nested list") {
  std::string c = text_at("F2", 18, 72, 740, "Table of Contents");
  c += text_at("F1", 11, 72, 700, "1 Tides and moorings . . . . . . . . . . . . . . . . . . . . . 3");
  c += text_at("F1", 11, 90, 686, "1.1 Reading the tide table . . . . . . . . . . . . . . . . . 4");
  c += text_at("F1", 11, 90, 672, "1.2 Mooring lines . . . . . . . . . . . . . . . . . . . . . . . 6");
  c += text_at("F1", 11, 72, 658, "2 The crane ....................................................... 9");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Table of Contents\n"));  // "Table" + a word is not a caption
  CHECK(has(out, "- 1 Tides and moorings \xE2\x80\x94 3\n  - 1.1 Reading the tide table \xE2\x80\x94 4\n"
                 "  - 1.2 Mooring lines \xE2\x80\x94 6\n- 2 The crane \xE2\x80\x94 9"));
  CHECK_FALSE(has(out, "|"));
  CHECK_FALSE(has(out, ". . ."));
}

// One contents row: the title at x, then each further piece (leader runs, lone dots, the number)
// drawn on its own at its x, as TeX's \leaders boxes and a right-aligned page number are.
std::string contents_row(const char* font, float x, float y, const std::string& title,
                         const std::vector<std::pair<float, std::string>>& pieces) {
  std::string c = text_at(font, 10, x, y, title);
  for (const auto& [px, t] : pieces) c += text_at(font, 10, px, y, t);
  return c;
}

TEST_CASE("a two-column table of contents: leaders drawn in pieces, each column nested on its own") {
  std::string c = text_at("F2", 18, 72, 750, "Contents");
  // left column: chapters at 72, sections at 86, one piece of leaders per row
  c += contents_row("F2", 72, 710, "1 Tides", {{270, "5"}});
  c += contents_row("F1", 86, 696, "1.1 Tide tables", {{170, ". . . . . . . . . . . . . . ."}, {270, "5"}});
  c += contents_row("F1", 86, 682, "1.2 Spring tides", {{170, ". . . . . . . . . . . . . . ."}, {270, "6"}});
  c += text_at("F2", 10, 72, 662, "2 Moorings .. 8");  // a title that leaves room for two dots
  // leaders and the page number in one piece after the title's
  c += contents_row("F1", 86, 648, "2.1 Lines", {{140, ". . . . . . . . . . . . . . . . . . . . . . 8"}});
  // right column: chapters at 320, sections at 334; the leader's last dots stand a wider step
  // apart (separate pieces), or only one dot fits after a long title
  c += contents_row("F2", 320, 710, "3 Cranes", {{520, "11"}});
  c += contents_row("F1", 334, 696, "3.1 Load charts", {{430, ". . . . . . . . . . . ."}, {493, "."}, {500, "."}, {520, "11"}});
  c += contents_row("F1", 334, 682, "3.2 Inspection of the hooks", {{497, "."}, {520, "12"}});
  c += contents_row("F1", 334, 668, "3.3 Slings", {{430, ". . . . . . . . . . . ."}, {493, "."}, {500, "."}, {520, "13"}});
  c += contents_row("F2", 320, 648, "4 Signals", {{520, "15"}});
  c += contents_row("F1", 334, 634, "4.1 Hand signals", {{430, ". . . . . . . . . . . ."}, {493, "."}, {500, "."}, {520, "15"}});
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "- 1 Tides \xE2\x80\x94 5\n  - 1.1 Tide tables \xE2\x80\x94 5\n  - 1.2 Spring tides \xE2\x80\x94 6\n"
                 "- 2 Moorings \xE2\x80\x94 8\n  - 2.1 Lines \xE2\x80\x94 8\n"));
  // the right column's chapters sit at the top level too, not below the left column's sections
  CHECK(has(out, "- 3 Cranes \xE2\x80\x94 11\n  - 3.1 Load charts \xE2\x80\x94 11\n"
                 "  - 3.2 Inspection of the hooks \xE2\x80\x94 12\n  - 3.3 Slings \xE2\x80\x94 13\n"
                 "- 4 Signals \xE2\x80\x94 15\n  - 4.1 Hand signals \xE2\x80\x94 15"));
  CHECK_FALSE(has(out, "|"));
  CHECK_FALSE(has(out, " ."));
}

TEST_CASE("an index's group letter is no part of the entry below it; contents go on for a few lines overleaf") {
  std::string c = text_at("F2", 18, 72, 750, "Index");
  c += text_at("F2", 14, 72, 716, "A");
  c += contents_row("F1", 72, 700, "anchors", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "4"}});
  c += contents_row("F1", 72, 688, "awnings", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "9"}});
  c += text_at("F2", 14, 72, 664, "B");
  c += contents_row("F1", 72, 648, "bollards", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "7"}});
  c += contents_row("F1", 72, 636, "buoys", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "12"}});
  // overleaf: two more entries, then the text
  std::string c2 = contents_row("F1", 72, 740, "cleats", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "3"}});
  c2 += contents_row("F1", 72, 728, "cranes", {{150, ". . . . . . . . . . . . . . . . ."}, {270, "11"}});
  c2 += body_lines(690, kProse);
  c2 += text_at("F1", 10, 72, 670, "Count the turns of the capstan 1..10");
  c2 += body_lines(650, kProse);
  const std::string out = md({{c}, {c2}});
  INFO(out);
  CHECK(has(out, "- anchors \xE2\x80\x94 4\n"));
  CHECK(has(out, "- bollards \xE2\x80\x94 7\n"));
  CHECK_FALSE(has(out, "A anchors"));
  CHECK_FALSE(has(out, "B bollards"));
  CHECK(has(out, "- cleats \xE2\x80\x94 3\n- cranes \xE2\x80\x94 11"));
  CHECK(has(out, "capstan 1..10"));  // two dots within a word are no leader
  CHECK_FALSE(has(out, "capstan 1 \xE2\x80\x94"));
}

TEST_CASE("a heading set on two lines is one heading") {
  std::string c = text_at("F2", 20, 72, 720, "Chapter 1");
  c += text_at("F2", 20, 72, 680, "Harbour Operations");
  c += body_lines(640, kProse);
  c += body_lines(600, kProse);
  c += body_lines(560, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Chapter 1 Harbour Operations\n"));
  CHECK(count(out, "#") == 1);
}

TEST_CASE("a chapter label set over two lines above the title heads it as one heading") {
  // Sphinx's chapter opening: "CHAPTER" small, its number spelled out large, the title below
  std::string c = text_at("F2", 10, 480, 700, "CHAPTER");
  c += text_at("F2", 20, 490, 676, "ONE");
  c += text_at("F2", 20, 430, 630, "ARTICLES");
  c += body_lines(590, kProse);
  c += body_lines(550, kProse);
  c += text_at("F2", 14, 72, 500, "1.1 Harbour Operations");
  c += body_lines(470, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# CHAPTER ONE ARTICLES\n"));
  CHECK_FALSE(has(out, "# ONE"));
  CHECK(count(out, "\n#") + (out.rfind("#", 0) == 0 ? 1 : 0) == 2);
}

TEST_CASE("a command line set in bold between paragraphs is no heading; a title naming files is") {
  std::string c = body_lines(720, kProse);
  c += text_at("F2", 11, 72, 680, "sdcc main.c foo1.rel foo2.rel");
  c += body_lines(650, kProse);
  c += text_at("F2", 11, 72, 600, "Moving from setup.py to pyproject.toml");
  c += body_lines(585, kProse);
  c += body_lines(545, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK_FALSE(has(out, "# sdcc"));
  CHECK(has(out, "sdcc main.c foo1.rel foo2.rel"));
  CHECK(has(out, "# Moving from setup.py to pyproject.toml\n"));
}

TEST_CASE("bold terms with their descriptions indented below them are a definition list, not headings") {
  std::string c = text_at("F2", 16, 72, 740, "Glossary");
  c += body_lines(715, kProse);
  float y = 680;
  for (const auto& [term, desc] : std::vector<std::pair<std::string, std::string>>{
           {"ATS", "Automatic Transfer Switch."}, {"PDU", "Power Distribution Unit."}, {"UPS", "Uninterruptible Power Supply."}}) {
    c += text_at("F2", 11, 72, y, term);
    c += text_at("F1", 11, 92, y - 13, desc);
    y -= 34;
  }
  c += text_at("F2", 11, 72, y - 10, "Cabling");  // a bold heading over text that is not indented
  c += body_lines(y - 25, kProse);
  c += body_lines(y - 65, kProse);
  // overleaf, one more term set the same way goes on the list
  std::string c2 = text_at("F2", 11, 72, 720, "VRLA");
  c2 += text_at("F1", 11, 92, 707, "Valve Regulated Lead Acid.");
  c2 += body_lines(670, kProse);
  const std::string out = md({{c}, {c2}});
  INFO(out);
  CHECK(has(out, "**ATS**\n\nAutomatic Transfer Switch."));
  CHECK(has(out, "**UPS**\n\nUninterruptible Power Supply."));
  CHECK_FALSE(has(out, "# ATS"));
  CHECK_FALSE(has(out, "# PDU"));
  CHECK(has(out, "# Cabling\n"));
  CHECK(has(out, "**VRLA**\n\nValve Regulated Lead Acid."));
}

TEST_CASE("a man page's subsection heading over its option list stays a heading; the options do not") {
  // groff -man: .SS outdented from the text, .TP tags at the text's edge, their text indented
  std::string c = text_at("F2", 11, 72, 740, "OPTIONS");
  c += text_at("F1", 11, 108, 722, "The shell reads these options when it starts.");
  c += text_at("F2", 11, 90, 700, "Startup Options");
  c += text_at("F1", 11, 108, 686, "These apply when the shell is invoked.");
  float y = 664;
  for (const auto& [term, desc] : std::vector<std::pair<std::string, std::string>>{
           {"login", "Act as if invoked as a login shell."}, {"noediting", "Do not use the line editor."},
           {"restricted", "The shell becomes restricted."}}) {
    c += text_at("F2", 11, 108, y, term);
    c += text_at("F1", 11, 144, y - 13, desc);
    y -= 34;
  }
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Startup Options\n"));
  CHECK(has(out, "**login**\n\nAct as if invoked as a login shell."));
  CHECK(has(out, "**restricted**"));
  CHECK_FALSE(has(out, "# login"));
}

TEST_CASE("a line-end hyphen before a capital or a digit: a compound keeps it, a word the document knows whole loses it") {
  std::string c = body_lines(720, kProse);
  c += text_at("F1", 11, 72, 680, "The programmer writes the EEPROM first and then the flash of the chip on the board.");
  c += text_at("F1", 11, 72, 666, "This release fixes the advisory filed as CVE-2018-");
  c += text_at("F1", 11, 72, 652, "19788 for high user ids, and the contents of the EEP-");
  c += text_at("F1", 11, 72, 638, "ROM survive a reset of the board; the files stay UTF-");
  c += text_at("F1", 11, 72, 624, "8 encoded whatever the locale of the machine is.");
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "CVE-2018-19788 for high"));
  CHECK(has(out, "the EEPROM survive"));
  CHECK(has(out, "stay UTF-8 encoded"));
}

TEST_CASE("captions and admonition labels are not headings") {
  std::string c = body_lines(720, kProse);
  c += text_at("F2", 11, 72, 680, "Figure 2: Tide gauge readings at the east quay");
  c += body_lines(650, kProse);
  c += text_at("F2", 11, 72, 610, "Note");
  c += body_lines(595, kProse);
  c += text_at("F2", 11, 72, 550, "Crane inspection");
  c += body_lines(535, kProse);
  c += body_lines(500, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK_FALSE(has(out, "# Figure"));
  CHECK_FALSE(has(out, "# Note"));
  CHECK(has(out, "Figure 2: Tide gauge readings"));
  CHECK(has(out, "# Crane inspection\n"));  // a bold line that is neither is still a heading
}

TEST_CASE("heading levels have no gaps and section numbers give the depth") {
  std::string c = text_at("F2", 22, 72, 740, "Harbour Handbook");
  c += body_lines(715, kProse);
  // a large style that is never a heading (a pull quote ending in a comma), seen twice
  c += text_at("F1", 17, 72, 680, "Keep the quay clear,");
  c += text_at("F1", 17, 72, 650, "and keep it dry,");
  c += body_lines(625, kProse);
  c += text_at("F2", 13, 72, 590, "2.1 Tides");
  c += body_lines(570, kProse);
  c += text_at("F2", 13, 72, 535, "2.1.1 Reading the table");
  c += body_lines(515, kProse);
  c += text_at("F2", 13, 72, 480, "2.2 Moorings");
  c += body_lines(460, kProse);
  c += body_lines(420, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Harbour Handbook\n"));
  CHECK(has(out, "\n## 2.1 Tides\n"));
  CHECK(has(out, "\n### 2.1.1 Reading the table\n"));
  CHECK(has(out, "\n## 2.2 Moorings\n"));
  CHECK_FALSE(has(out, "####"));
}

TEST_CASE("a heading set wholly in bold code font is a heading, a listing line is not") {
  std::string c = body_lines(720, kProse);
  c += text_at("F8", 11, 72, 670, "workspace");  // an option's heading, well apart from the text
  c += body_lines(650, kProse);
  // a listing whose middle line is bold (typed input): it stays one code block
  c += text_at("F3", 11, 72, 600, "$ npm exec --package yo");
  c += text_at("F8", 11, 72, 588, "npm run build");
  c += text_at("F3", 11, 72, 576, "$ npm test");
  c += body_lines(550, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# `workspace`\n"));
  CHECK(count(out, "#") == 1);
  CHECK(has(out, "```\n$ npm exec --package yo\nnpm run build\n$ npm test\n```"));
}

TEST_CASE("a run-in heading (bold lead-in, wide space, text wrapping under it) is split off") {
  std::string c = text_at("F2", 11, 72, 750, "Linker settings");  // a heading on a line of its own
  c += body_lines(720, kProse);
  // "Add new linker flags" is 107 pt wide in Helvetica-Bold 11: the text follows 1 em later
  c += text_at("F2", 11, 72, 680, "Add new linker flags");
  c += text_at("F1", 11, 190, 680, "Setting linker flags is specific to each system,");
  c += body_lines(666, {"and on most of them they can be added with the ldflags setting of the", "target that needs them."});
  // a term whose description hangs beside it is a definition list entry, not a heading
  c += text_at("F2", 11, 72, 610, "Quay crane");
  c += text_at("F1", 11, 160, 610, "The crane on the east quay, inspected in May by the");
  c += text_at("F1", 11, 160, 596, "morning crew before the tide turned.");
  const std::string out = md({{c}});
  INFO(out);
  // in the style of the heading above, but run in: one level below it
  CHECK(has(out, "# Linker settings\n"));
  CHECK(has(out, "\n## Add new linker flags\n\nSetting linker flags is specific to each system, and on most"));
  CHECK_FALSE(has(out, "# Quay crane"));
  CHECK(count(out, "#") == 3);
}

TEST_CASE("a border under a heading and a table's outer rules are no thematic breaks; a rule apart is") {
  // a browser's h2 border a little under the heading; booktabs' top and bottom rules a few points
  // off the table's text; a rule with space around it between two paragraphs
  std::string c = text_at("F2", 20, 72, 720, "Harbour Operations");
  c += "0.6 w 72 708 m 540 708 l S\n";
  c += body_lines(680, kProse);
  c += "0.8 w 72 626 m 400 626 l S\n";
  const char* rows[4][3] = {{"Berth", "Crane", "Shift"}, {"North", "C-12", "early"}, {"South", "C-14", "late"},
                            {"West", "C-9", "night"}};
  float y = 614;
  for (auto& r : rows) {
    c += text_at("F1", 11, 72, y, r[0]) + text_at("F1", 11, 200, y, r[1]) + text_at("F1", 11, 330, y, r[2]);
    if (y == 614) c += "0.4 w 72 609 m 400 609 l S\n";
    y -= 14;
  }
  c += "0.8 w 72 " + std::to_string(y + 8) + " m 400 " + std::to_string(y + 8) + " l S\n";
  c += body_lines(500, kProse);
  c += "0.5 w 200 455 m 400 455 l S\n";
  c += body_lines(420, kProse);
  const std::string out = md({{c}});
  INFO(out);
  CHECK(has(out, "# Harbour Operations\n"));
  CHECK(has(out, "| Berth | Crane | Shift |"));
  CHECK(count(out, "\n---\n") == 1);
  CHECK(out.find("\n---\n") > out.find("| West |"));
}

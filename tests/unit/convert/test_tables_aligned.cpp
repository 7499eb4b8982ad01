// Tables without a grid, found from column alignment, and the text that must never become one.
#include <catch2/catch.hpp>

#include <algorithm>

#include "test_tables_util.hpp"

using namespace quire::convert;
using test_tables::page_builder;
using test_tables::row_texts;

TEST_CASE("an unruled table with a bold header row is found from its columns", "[tables][aligned]") {
  page_builder p;
  float y = p.paragraph(72, 80, 3);
  y += 8;
  p.text(72, y, "Plate", true);
  p.text(150, y, "Location", true);
  p.text_right(300, y, "Thickness", true);
  p.text(320, y, "Inspector", true);
  const char* rows[4][4] = {{"P-101", "starboard", "17.1", "Nakamura"},
                            {"P-102", "keel", "8.2", "Albrecht"},
                            {"P-103", "port", "19.75", "Brennan"},
                            {"P-104", "bow", "6.7", "Mensah"}};
  for (auto& r : rows) {
    y += 12;
    p.text(72, y, r[0]);
    p.text(150, y, r[1]);
    p.text_right(300, y, r[2]);
    p.text(320, y, r[3]);
  }
  p.paragraph(72, y + 24, 2);
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 5);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"**Plate**", "**Location**", "**Thickness**", "**Inspector**"});
  CHECK(row_texts(t, 3) == std::vector<std::string>{"P-103", "port", "19.75", "Brennan"});
  CHECK(found[0].lines.size() == 20);
}

TEST_CASE("a header wrapped over two lines above a rule is one header row", "[tables][aligned]") {
  // Word/LibreOffice from DOCX: bottom-aligned header cells, a rule under the header
  page_builder p;
  p.text(200, 100, "Weight");
  p.text(72, 112, "Station");
  p.text(140, 112, "Due");
  p.text(200, 112, "(kg)");
  p.text(260, 112, "Grade");
  p.hrule(72, 320, 125);
  const char* rows[3][4] = {{"Wexcombe", "Nov", "370.28", "B"}, {"Marden", "Feb", "197.58", "A+"}, {"Penrose", "Oct", "234.23", "A"}};
  float y = 128;
  for (auto& r : rows) {
    for (int c = 0; c < 4; ++c) p.text(c == 0 ? 72 : c == 1 ? 140 : c == 2 ? 200 : 260, y, r[c]);
    y += 16;
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"Station", "Due", "Weight (kg)", "Grade"});
  CHECK(row_texts(t, 1) == std::vector<std::string>{"Wexcombe", "Nov", "370.28", "B"});
}

TEST_CASE("cells wrapped on an even line pitch continue their row", "[tables][aligned]") {
  // groff tbl: no padding between rows, so a text row that fills fewer than half the cells, all
  // of them under filled cells of the row above, is the wrapped rest of those cells
  page_builder p;
  const std::vector<float> xs = {90, 150, 200, 250, 340, 380};
  auto row = [&](float y, std::vector<const char*> cells) { p.row(xs, y, cells); };
  row(100, {"Site", "Orders", "Ratio", "Contact", "Grade", "State"});
  p.hrule(90, 430, 112);
  row(114, {"Gorsey", "3775", "0.57", "E.", "B", "rejected"});
  row(126, {"Bank", "", "", "Nakamura", "", ""});
  row(138, {"Yelverton", "4616", "0.69", "N. Kowal", "A", "on hold"});
  row(150, {"Cresswell", "3366", "0.42", "D. Havel", "B", "draft"});
  row(162, {"Eskdale", "", "0.69", "M. Ferrand", "D", "archived"});
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 5);
  CHECK(row_texts(t, 1) == std::vector<std::string>{"Gorsey Bank", "3775", "0.57", "E. Nakamura", "B", "rejected"});
  CHECK(row_texts(t, 3) == std::vector<std::string>{"Cresswell", "3366", "0.42", "D. Havel", "B", "draft"});
  // a row with an empty cell is still a row of its own
  CHECK(row_texts(t, 4) == std::vector<std::string>{"Eskdale", "", "0.69", "M. Ferrand", "D", "archived"});
}

TEST_CASE("several cells wrapped at once on an even pitch continue their row", "[tables][aligned]") {
  // LaTeX p{} columns: no padding between rows, and a long row wraps in two cells at once. Each
  // wrapped line carries on a cell whose line above had no room for its first word.
  page_builder p;
  const std::vector<float> xs = {72, 170, 300, 350};
  auto row = [&](float y, std::vector<const char*> cells) { p.row(xs, y, cells); };
  row(100, {"Argument", "Description", "Required", "Example"});
  p.hrule(72, 420, 112);
  row(114, {"--node-version", "The version that is", "No", "v19.0.0"});
  row(126, {"--output-dir", "Where the output goes.", "Yes", "./out/api/"});
  row(138, {"--versions-file", "This file is used to", "No", "./out/prev-doc."});
  row(150, {"", "list older releases.", "", "json"});
  row(162, {"--apilinks", "An index of modules", "No", "./links"});
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 5);
  CHECK(row_texts(t, 3) == std::vector<std::string>{"--versions-file", "This file is used to list older releases.", "No",
                                                    "./out/prev-doc. json"});
  CHECK(row_texts(t, 4) == std::vector<std::string>{"--apilinks", "An index of modules", "No", "./links"});
}

TEST_CASE("a word broken at a hyphen in a narrow cell continues its row, room elsewhere or not", "[tables][aligned]") {
  // TeX breaks a p{} cell for the whole paragraph: "references" may end a line that had room for
  // "the", so room says nothing; "Snap-" over "shots," does.
  page_builder p;
  const std::vector<float> xs = {72, 200, 270};
  auto row = [&](float y, std::vector<const char*> cells) { p.row(xs, y, cells); };
  row(100, {"Label key", "Resources", "Description"});
  p.hrule(72, 420, 112);
  row(114, {"gc.root", "Content,", "Keep this"});
  row(126, {"", "Snapshots", "object."});
  row(138, {"gc.ref.content", "Content,", "Resource"});
  row(150, {"", "Snap-", "references"});
  row(162, {"", "shots,", "the given"});
  row(174, {"", "Images", "content blob"});
  row(186, {"gc.expire", "Leases", "When to expire."});
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 4);
  CHECK(row_texts(t, 2)[2] == "Resource references the given content blob");
  CHECK(row_texts(t, 3)[0] == "gc.expire");
}

TEST_CASE("a cell's line-end hyphen joins the next line: gone where it broke a word, kept in a compound", "[tables][aligned]") {
  page_builder p;
  const std::vector<float> xs = {72, 200, 270};
  auto row = [&](float y, std::vector<const char*> cells) { p.row(xs, y, cells); };
  row(100, {"Label key", "Resources", "Description"});
  p.hrule(72, 420, 112);
  row(114, {"gc.root", "Content,", "A command-"});
  row(126, {"", "Snap-", "line flag."});
  row(138, {"", "shots", ""});
  row(150, {"gc.expire", "Leases", "When to expire."});
  row(162, {"gc.flat", "Leases", "Flat labels."});
  // the engine's rule: the document knows "snapshots", and "command" is a word of its own
  const tables::hyphen_rule rule = [](const std::string& head, const std::string& tail) {
    return head + tail == "Snapshots";
  };
  const auto found = tables::detect(p.page, 10, rule);
  REQUIRE(found.size() == 1);
  CHECK(row_texts(found[0].table, 1) == std::vector<std::string>{"gc.root", "Content, Snapshots", "A command-line flag."});
  // without a rule every hyphen stays, and still no space is put after it
  const auto plain = tables::detect(p.page, 10);
  REQUIRE(plain.size() == 1);
  CHECK(row_texts(plain[0].table, 1)[1] == "Content, Snap-shots");
}

TEST_CASE("padded rows with wrapped lines are grouped by the larger row gap", "[tables][aligned]") {
  page_builder p;
  p.text(72, 100, "Station");
  p.text(160, 100, "Due");
  p.text(240, 100, "State");
  float y = 118;
  const char* rows[4][3] = {{"Wexcombe", "4 Nov", "approved"}, {"Marden", "16 Feb", "on hold"},
                            {"Penrose", "26 Oct", "draft"}, {"Aldwick", "18 Jul", "approved"}};
  for (auto& r : rows) {
    p.text(72, y, r[0]);
    p.text(160, y, r[1]);
    p.text(240, y, r[2]);
    p.text(160, y + 12, "2023");  // the date wraps inside its cell
    y += 12 + 12 + 5;             // two lines plus cell padding
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 5);
  CHECK(row_texts(t, 2) == std::vector<std::string>{"Marden", "16 Feb 2023", "on hold"});
}

TEST_CASE("a right-aligned number merged with the next cell's word is split at the gutter", "[tables][aligned]") {
  // LibreOffice: a right-aligned cell followed closely by a left-aligned one comes out as one
  // span; the header row, drawn as separate runs, shows that the gap is a cell boundary
  page_builder p;
  const char* rows[4][2] = {{"17.1 monitor", "Nakamura"}, {"8.2 replace", "Albrecht"}, {"19.7 sound", "Brennan"},
                            {"6.7 pitted", "Mensah"}};
  const char* left[4] = {"17.1", "8.2", "19.7", "6.7"};
  p.text(72, 100, "Plate");
  p.text_right(200, 100, "Thick");
  p.text(203.5f, 100, "Condition");
  p.text(320, 100, "Inspector");
  float y = 112;
  for (int i = 0; i < 4; ++i) {
    p.text(72, y, "P-10" + std::to_string(i + 1));
    // the merged span starts where its first word must start to end at x = 200
    p.text(200 - p.width_of(left[i]), y, rows[i][0]);
    p.text(320, y, rows[i][1]);
    y += 12;
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 5);
  REQUIRE(t.rows[0].size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"Plate", "Thick", "Condition", "Inspector"});
  CHECK(row_texts(t, 1) == std::vector<std::string>{"P-101", "17.1", "monitor", "Nakamura"});
}

TEST_CASE("word spaces that happen to line up do not split a cell", "[tables][aligned]") {
  // initials of equal width put every surname at the same x; nothing in the PDF separates them
  page_builder p;
  const char* names[5] = {"C. Moreau", "K. Albrecht", "F. Castell", "H. Brennan", "N. Kowal"};
  for (int i = 0; i < 5; ++i) {
    const float y = 100 + 12.0f * i;
    p.text(72, y, "P-14" + std::to_string(i));
    p.text(150, y, "sound");
    p.text(250, y, names[i]);
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].table.rows[0].size() == 3);
  CHECK(found[0].table.rows[1][2].text == "K. Albrecht");
}

TEST_CASE("paragraphs are not tables", "[tables][aligned]") {
  page_builder p;
  p.paragraph(72, 100, 12);
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("a numbered list with markers apart from the text is not a table", "[tables][aligned]") {
  page_builder p;
  float y = 100;
  const char* items[] = {"No access token leaves the site", "Warm dashboards go on the second list",
                         "Ask two of the trainees about it", "Ask the apprentices about the snapshot"};
  int n = 1;
  for (const char* it : items) {
    p.text(84, y, std::to_string(n++) + ".");
    p.text(108, y, it);
    y += 16;
  }
  p.text(120, y, "–");  // a nested bullet item
  p.text(144, y, "No shard leaves the site without a label");
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("a two-column page of running text is not a table", "[tables][aligned]") {
  page_builder p;
  const std::string left = "the committee decided to tighten the humidity probes";
  const std::string right = "nobody on the board could say why the balloon was so";
  for (int i = 0; i < 10; ++i) {
    p.text(72, 100 + 12.0f * i, left);
    p.text(320, 100 + 12.0f * i, right);
  }
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("aligned monospace code is not a table", "[tables][aligned]") {
  page_builder p;
  const char* lhs[] = {"interval", "channels", "upload_host", "retries"};
  const char* rhs[] = {"= 600", "= wind_speed", "= collector.local", "= 3"};
  for (int i = 0; i < 4; ++i) {
    p.text(72, 100 + 12.0f * i, lhs[i], false, true);
    p.text(180, 100 + 12.0f * i, rhs[i], false, true);
  }
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("two aligned rows are too few for a table without rules", "[tables][aligned]") {
  page_builder p;
  p.text(72, 100, "Name");
  p.text(200, 100, "Value");
  p.text(72, 112, "alpha");
  p.text(200, 112, "1");
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("two page columns whose lines drift against each other are not a table", "[tables][aligned]") {
  // short lines (a heading, a reference list) would pass the prose check; the baselines do not
  page_builder p;
  const char* left[] = {"Sensitivity to the threshold", "Lowering the threshold", "raises the detections", "and the false alarms"};
  const char* right[] = {"4. K. Albrecht and D. Havel.", "Homogenisation of series", "in complex terrain.", "Climatology, 2019."};
  for (int i = 0; i < 4; ++i) {
    p.text(72, 100 + 14.0f * i, left[i]);
    p.text(320, 103 + 14.0f * i, right[i]);
  }
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("a table on a skewed scan is found: its rows climb by the page's slope", "[tables][aligned]") {
  page_builder p;
  p.page.from_ocr = true;
  const char* rows[4][3] = {{"Station", "Length", "State"}, {"Rushmere", "340.27", "approved"},
                            {"Yelverton", "294.20", "on hold"}, {"Varley", "183.30", "draft"}};
  const float xs[3] = {72, 200, 300};
  const float slope = 0.012f;  // about 0.7 degrees
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) {
      const float y = 100 + 14.0f * r + slope * (xs[c] - 72);
      const int id = p.text(xs[c], y, rows[r][c]);
      p.page.lines[id].spans[0].baseline = y + 10;
    }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].table.rows.size() == 4);
  CHECK(row_texts(found[0].table, 2) == std::vector<std::string>{"Yelverton", "294.20", "on hold"});
}

TEST_CASE("a wrapped header line ending at a narrow gutter confirms it", "[tables][aligned]") {
  // every row, header included, merged the right-aligned number with the next cell; only the
  // header's second line "(mm)", a run of its own ending at the column edge, shows the boundary
  page_builder p;
  const char* merged[5] = {"Thickness Condition", "17.1 monitor", "8.2 replace", "19.7 sound", "6.7 pitted"};
  const char* left[5] = {"Thickness", "17.1", "8.2", "19.7", "6.7"};
  float y = 100;
  for (int i = 0; i < 5; ++i) {
    p.text(72, y, i == 0 ? "Plate" : "P-10" + std::to_string(i));
    p.text(200 - p.width_of(left[i]), y, merged[i]);
    p.text(320, y, i == 0 ? "Inspector" : "Nakamura");
    if (i == 0) p.text_right(200, y += 12, "(mm)");
    y += 12;
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows[0].size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"Plate", "Thickness (mm)", "Condition", "Inspector"});
  CHECK(row_texts(t, 2) == std::vector<std::string>{"P-102", "8.2", "replace", "Nakamura"});
}

TEST_CASE("a ruled header row alone at the foot of a page is kept for the table on the next page", "[tables][aligned]") {
  page_builder p;
  p.paragraph(72, 600, 3);
  p.text(90, 690, "Branch");
  p.text(156, 690, "Equipment");
  p.text(221, 690, "Due");
  p.text(290, 690, "Contact");
  p.hrule(90, 346, 703);
  p.text(282, 760, "(1)");  // the page number in the footer zone
  auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].table.rows.size() == 1);
  CHECK(row_texts(found[0].table, 0) == std::vector<std::string>{"Branch", "Equipment", "Due", "Contact"});

  // the body on the next page, at the same columns, merges under it
  page_builder next;
  const char* rows[3][4] = {{"Ullswick", "crane", "11 Aug", "B. Lindqvist"}, {"Marden", "dry dock", "17 Apr", "F. Castell"},
                            {"Holloway", "sea trial", "23 Apr", "I. Sorensen"}};
  const float xs[4] = {90, 156, 221, 290};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) next.text(xs[c], 95 + 12.0f * r, rows[r][c]);
  const auto body = tables::detect(next.page, 10);
  REQUIRE(body.size() == 1);
  REQUIRE(tables::try_merge(found[0].table, body[0].table));
  CHECK(found[0].table.rows.size() == 4);
  CHECK(found[0].table.rows[1][0].text == "Ullswick");

  // without the rule, or with text after it, a lone row is not a table
  page_builder plain;
  plain.text(90, 690, "Branch");
  plain.text(156, 690, "Equipment");
  plain.text(221, 690, "Due");
  CHECK(tables::detect(plain.page, 10).empty());
  p.paragraph(72, 710, 2);
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("tagged paragraphs (a term beside running text) are not a table", "[tables][aligned]") {
  page_builder p;
  const char* terms[3] = {"--verbose", "--quiet", "--output"};
  const char* text[3][2] = {{"Print every step of the conversion as it happens,", "including the timings of each stage."},
                            {"Print nothing except errors.", ""},
                            {"Write the result to the named file instead of", "standard output, creating it when needed."}};
  float y = 100;
  for (int i = 0; i < 3; ++i) {
    p.text(72, y, terms[i]);
    p.text(160, y, text[i][0]);
    if (*text[i][1]) p.text(160, y += 12, text[i][1]);
    y += 18;
  }
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("justified list items whose word spaces line up are not a table", "[tables][aligned]") {
  // a narrow page column: the items' widened word spaces leave the same gutters free
  page_builder p;
  const char* items[4][3] = {{"\xE2\x80\xA2 The", "--npm option is", "removed. Use the"},
                             {"\xE2\x80\xA2 The", "--node-arg and", "-n options are gone."},
                             {"\xE2\x80\xA2 The", "--always-spawn", "option is redundant."},
                             {"\xE2\x80\xA2 The", "--shell option", "is now replaced."}};
  float y = 100;
  for (auto& r : items) {
    p.text(72, y, r[0]);
    p.text(110, y, r[1]);
    p.text(200, y, r[2]);
    y += 12;
  }
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("an italic label right above the header row stays out of the table", "[tables][aligned]") {
  // a word processor's "Flags" label (an H4 in italics) sits right on top of the header row
  page_builder p;
  p.text(72, 100, "Flags");
  p.page.lines.back().spans[0].italic = true;
  p.text(72, 112, "Flag");
  p.text(160, 112, "Default");
  p.text(240, 112, "Type");
  p.hrule(72, 320, 124);
  const char* rows[3][3] = {{"--tag", "latest", "String"}, {"--otp", "null", "String"}, {"--json", "false", "Boolean"}};
  float y = 127;
  for (auto& r : rows) {
    p.text(72, y, r[0]);
    p.text(160, y, r[1]);
    p.text(240, y, r[2]);
    y += 14;
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"Flag", "Default", "Type"});
  CHECK(std::find(found[0].lines.begin(), found[0].lines.end(), 0) == found[0].lines.end());  // the label is left
}

TEST_CASE("a bulleted list right above a table stays out of it", "[tables][aligned]") {
  // list items drawn with the bullet apart from the text, then a heading close on top of the
  // header row: the bullet's gap is no column gutter, so the list does not swallow the table
  page_builder p;
  p.text(74, 60, "\xE2\x80\xA2");
  p.text(98, 60, "npm stage reject <stage-id> - Reject a staged package");
  p.text(74, 74, "\xE2\x80\xA2");
  p.text(98, 74, "npm stage download <stage-id> - Download the tarball for inspection");
  p.text(72, 96, "Requirements by Subcommand", true);
  p.text(72, 110, "Command");
  p.text(190, 110, "Requires 2FA");
  p.text(300, 110, "Notes");
  p.hrule(72, 420, 122);
  const char* rows[3][3] = {{"npm stage publish", "No", "Designed for automated workflows"},
                            {"npm stage list", "No", "View staged packages"},
                            {"npm stage approve", "Yes", "Prompts for 2FA to publish"}};
  float y = 126;
  for (auto& r : rows) {
    p.text(72, y, r[0]);
    p.text(190, y, r[1]);
    p.text(300, y, r[2]);
    y += 16;
  }
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"Command", "Requires 2FA", "Notes"});
  CHECK(row_texts(t, 3) == std::vector<std::string>{"npm stage approve", "Yes", "Prompts for 2FA to publish"});
  for (int i = 0; i < 5; ++i)  // neither list item nor the heading
    CHECK(std::find(found[0].lines.begin(), found[0].lines.end(), i) == found[0].lines.end());
}

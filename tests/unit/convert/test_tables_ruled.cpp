// Ruled tables: grids of vector rules (browser and word-processor borders), shaded cells.
#include <catch2/catch.hpp>

#include "test_tables_util.hpp"

using namespace quire::convert;
using test_tables::page_builder;
using test_tables::row_texts;

namespace {

// Header + 3 rows, 3 columns, every cell bordered (what Chromium prints for a bordered table).
page_builder bordered_table() {
  page_builder p;
  p.paragraph(72, 80, 3);
  const std::vector<float> xs{72, 180, 300, 420};
  const std::vector<float> ys{130, 150, 170, 190, 210};
  p.grid(xs, ys);
  const char* cells[4][3] = {{"Site", "Inspector", "Cost"},
                             {"Marden", "N. Kowal", "396.81"},
                             {"Ormside", "I. Sorensen", "327.56"},
                             {"Carrow", "B. Lindqvist", "293.98"}};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c) p.text(xs[c] + 4, ys[r] + 4, cells[r][c], r == 0);
  p.paragraph(72, 230, 2);
  return p;
}

}  // namespace

TEST_CASE("a bordered grid becomes one table with its header row first", "[tables][ruled]") {
  auto p = bordered_table();
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  CHECK(t.kind == layout::block_kind::table);
  REQUIRE(t.rows.size() == 4);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"**Site**", "**Inspector**", "**Cost**"});
  CHECK(row_texts(t, 2) == std::vector<std::string>{"Ormside", "I. Sorensen", "327.56"});
  CHECK(found[0].lines.size() == 12);  // the paragraphs around it are not consumed
  CHECK(t.column_x.size() == 3);
}

TEST_CASE("text wrapped inside a bordered cell stays in that cell", "[tables][ruled]") {
  page_builder p;
  const std::vector<float> xs{72, 200, 400};
  const std::vector<float> ys{100, 120, 160, 180};
  p.grid(xs, ys);
  p.text(76, 104, "Object");
  p.text(204, 104, "Condition");
  p.text(76, 124, "Bowl 13");
  p.text(204, 124, "Records from 1987 show");
  p.text(204, 136, "that the loans were cleaned.");
  p.text(76, 164, "Gallery 19");
  p.text(204, 164, "Fine");
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[1][1].text == "Records from 1987 show that the loans were cleaned.");
  CHECK(t.rows[2][0].text == "Gallery 19");
}

TEST_CASE("empty cells stay empty and an empty header cell is kept", "[tables][ruled]") {
  page_builder p;
  const std::vector<float> xs{72, 150, 220, 290};
  const std::vector<float> ys{100, 120, 140, 160};
  p.grid(xs, ys);
  p.text(154, 104, "Before");
  p.text(224, 104, "After");
  p.text(76, 124, "Dust");
  p.text(154, 124, "3.0");
  p.text(76, 144, "Humidity");
  p.text(224, 144, "47");
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 3);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"", "Before", "After"});
  CHECK(row_texts(t, 2) == std::vector<std::string>{"Humidity", "", "47"});
}

TEST_CASE("a single framed box (code block, note) is not a table", "[tables][ruled]") {
  page_builder p;
  p.grid({72, 400}, {100, 160});
  p.text(76, 104, "interval = 600", false, true);
  p.text(76, 118, "channels = wind_speed", false, true);
  p.text(76, 132, "upload_host = collector", false, true);
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("cells drawn as shaded rectangles without borders form a grid", "[tables][ruled]") {
  page_builder p;
  const std::vector<float> xs{72, 170, 270};
  const std::vector<float> ys{100, 118, 136, 154};
  for (std::size_t r = 0; r + 1 < ys.size(); ++r)
    for (std::size_t c = 0; c + 1 < xs.size(); ++c) p.page.fills.push_back({xs[c] + 1, ys[r] + 1, xs[c + 1] - 1, ys[r + 1] - 1});
  const char* cells[3][2] = {{"Key", "Value"}, {"Visitors", "31,487"}, {"Loans", "43"}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 2; ++c) p.text(xs[c] + 4, ys[r] + 3, cells[r][c]);
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].table.rows.size() == 3);
  CHECK(row_texts(found[0].table, 1) == std::vector<std::string>{"Visitors", "31,487"});
}

TEST_CASE("two bordered tables on a page come back top to bottom", "[tables][ruled]") {
  page_builder p;
  p.grid({72, 150, 250}, {300, 320, 340, 360});
  p.text(76, 304, "Second");
  p.text(154, 304, "Table");
  p.text(76, 324, "c");
  p.text(154, 324, "d");
  p.text(76, 344, "e");
  p.text(154, 344, "f");
  p.grid({72, 150, 250}, {100, 120, 140});
  p.text(76, 104, "First");
  p.text(154, 104, "Table");
  p.text(76, 124, "a");
  p.text(154, 124, "b");
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 2);
  CHECK(found[0].table.rows[0][0].text == "First");
  CHECK(found[1].table.rows[0][0].text == "Second");
  CHECK(found[1].table.rows.size() == 3);
}

TEST_CASE("a table of bordered cells with a link underline inside a cell", "[tables][ruled]") {
  auto p = bordered_table();
  p.hrule(184, 220, 163);  // underline of a link inside the "I. Sorensen" cell row
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  CHECK(found[0].table.rows.size() == 4);
}

TEST_CASE("on a scan, rules found in the raster may miss row separators: text rows still split", "[tables][ruled]") {
  page_builder p;
  p.page.from_ocr = true;
  // frame, column rules and the header rule were found; the rules between body rows were not
  const std::vector<float> xs{72, 170, 270};
  p.grid(xs, {100, 118, 190});
  const char* cells[5][2] = {{"Station", "Length"}, {"Rushmere", "340.27"}, {"Yelverton", "294.20"},
                             {"Varley", "183.30"}, {"Inchmore", "358.34"}};
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 2; ++c) p.text(xs[c] + 4, r == 0 ? 103 : 122 + 16.0f * (r - 1), cells[r][c]);
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0].table.rows.size() == 5);
  CHECK(row_texts(found[0].table, 3) == std::vector<std::string>{"Varley", "183.30"});
}

TEST_CASE("a chart's gridlines with labels outside the plot are not a table", "[tables][ruled]") {
  page_builder p;
  std::vector<float> xs, ys;
  for (int i = 0; i <= 20; ++i) xs.push_back(100 + 15.0f * i);
  for (int i = 0; i <= 10; ++i) ys.push_back(200 + 20.0f * i);
  p.grid(xs, ys);
  for (int i = 0; i <= 10; ++i) p.text(70, ys[i] - 5, std::to_string(100 - 10 * i));  // y-axis labels
  for (int i = 0; i <= 20; i += 5) p.text(xs[i] - 5, 405, std::to_string(2000 + i));  // x-axis labels
  // hatching: thousands of short strokes must not slow the grid search down
  for (int i = 0; i < 3000; ++i) p.hrule(100 + (i % 60) * 5.0f, 103 + (i % 60) * 5.0f, 450 + (i / 60) * 2.0f);
  CHECK(tables::detect(p.page, 10).empty());
}

TEST_CASE("a ruled header over an empty ruled row is a table with an empty body row", "[tables][ruled]") {
  // a table whose body cells held pictures: the PDF keeps the header text and the empty cells
  page_builder p;
  p.paragraph(72, 80, 2);
  p.grid({72, 220, 360}, {120, 140, 146});
  p.text(76, 124, "Speed versus ratio", true);
  p.text(224, 124, "Decompression speed", true);
  p.paragraph(72, 170, 2);
  const auto found = tables::detect(p.page, 10);
  REQUIRE(found.size() == 1);
  const auto& t = found[0].table;
  REQUIRE(t.rows.size() == 2);
  CHECK(row_texts(t, 0) == std::vector<std::string>{"**Speed versus ratio**", "**Decompression speed**"});
  CHECK(row_texts(t, 1) == std::vector<std::string>{"", ""});
  CHECK(tables::to_markdown(t) == "| Speed versus ratio | Decompression speed |\n| --- | --- |\n| | |\n");
}

TEST_CASE("a ruled box around a single line of text is not a table", "[tables][ruled]") {
  page_builder p;
  p.grid({72, 220, 360}, {120, 140});
  p.text(76, 124, "Left note", true);
  p.text(224, 124, "Right note", true);
  CHECK(tables::detect(p.page, 10).empty());
}

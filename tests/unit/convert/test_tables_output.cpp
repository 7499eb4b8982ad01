// GFM rendering of table blocks and merging of tables continued across a page break.
#include <catch2/catch.hpp>

#include "test_tables_util.hpp"

using namespace quire::convert;

namespace {

layout::block table_of(std::vector<std::vector<std::string>> rows, std::vector<float> column_x = {}) {
  layout::block b;
  b.kind = layout::block_kind::table;
  for (auto& r : rows) {
    std::vector<layout::table_cell> cells;
    for (auto& c : r) cells.push_back({c});
    b.rows.push_back(std::move(cells));
  }
  b.column_x = std::move(column_x);
  return b;
}

}  // namespace

TEST_CASE("to_markdown writes a header, a delimiter row and one line per row", "[tables][output]") {
  const auto t = table_of({{"Site", "Cost"}, {"Marden", "396.81"}, {"", "12"}});
  CHECK(tables::to_markdown(t) ==
        "| Site | Cost |\n"
        "| --- | --- |\n"
        "| Marden | 396.81 |\n"
        "| | 12 |\n");
}

TEST_CASE("to_markdown escapes pipes and flattens line breaks", "[tables][output]") {
  const auto t = table_of({{"a|b", "already \\| escaped"}, {"two\nlines", "x"}});
  CHECK(tables::to_markdown(t) ==
        "| a\\|b | already \\| escaped |\n"
        "| --- | --- |\n"
        "| two lines | x |\n");
}

TEST_CASE("to_markdown pads short rows to the widest row", "[tables][output]") {
  const auto t = table_of({{"a", "b", "c"}, {"1"}});
  CHECK(tables::to_markdown(t) == "| a | b | c |\n| --- | --- | --- |\n| 1 | | |\n");
}

TEST_CASE("an all-bold header row is written without emphasis; body bold stays", "[tables][output]") {
  const auto t = table_of({{"**Site**", "", "**Cost (£)**"}, {"**Marden**", "x", "396.81"}});
  CHECK(tables::to_markdown(t) ==
        "| Site | | Cost (£) |\n"
        "| --- | --- | --- |\n"
        "| **Marden** | x | 396.81 |\n");
}

TEST_CASE("a header with mixed weights or several bold runs keeps its emphasis", "[tables][output]") {
  CHECK(tables::to_markdown(table_of({{"**Site**", "Cost"}, {"a", "b"}})).rfind("| **Site** | Cost |\n", 0) == 0);
  CHECK(tables::to_markdown(table_of({{"**Net** and **gross**", "**Cost**"}, {"a", "b"}}))
            .rfind("| **Net** and **gross** | **Cost** |\n", 0) == 0);
}

TEST_CASE("a continued table with a repeated header is appended without the header", "[tables][merge]") {
  auto prev = table_of({{"Plate", "Location"}, {"P-101", "bow"}}, {72, 150});
  const auto next = table_of({{"**Plate**", "Location"}, {"P-102", "keel"}, {"P-103", "port"}}, {72, 151});
  REQUIRE(tables::try_merge(prev, next));
  REQUIRE(prev.rows.size() == 4);
  CHECK(prev.rows[2][0].text == "P-102");
  CHECK(prev.rows[3][1].text == "port");
}

TEST_CASE("a continuation without a header is merged when the columns line up", "[tables][merge]") {
  auto prev = table_of({{"Plate", "Location"}, {"P-101", "bow"}}, {72, 150});
  const auto next = table_of({{"P-102", "keel"}, {"P-103", "port"}}, {72, 152});
  REQUIRE(tables::try_merge(prev, next));
  CHECK(prev.rows.size() == 4);
  CHECK(prev.rows[2][0].text == "P-102");
}

TEST_CASE("tables with other columns are not merged", "[tables][merge]") {
  auto prev = table_of({{"Plate", "Location"}, {"P-101", "bow"}}, {72, 150});
  const auto three = table_of({{"a", "b", "c"}, {"1", "2", "3"}}, {72, 150, 250});
  const auto moved = table_of({{"x", "y"}, {"1", "2"}}, {72, 260});
  CHECK_FALSE(tables::try_merge(prev, three));
  CHECK_FALSE(tables::try_merge(prev, moved));
  CHECK(prev.rows.size() == 2);
}

TEST_CASE("a bold first row that differs from the previous header starts another table", "[tables][merge]") {
  auto prev = table_of({{"**Site**", "**Units**"}, {"Yelverton", "3789"}}, {72, 150});
  const auto other = table_of({{"**Station**", "**Lead**"}, {"Farrowby", "123"}}, {72, 152});
  CHECK_FALSE(tables::try_merge(prev, other));
  CHECK(prev.rows.size() == 2);
}

TEST_CASE("the remnant of a repeated header (its first line removed as a running header) is dropped", "[tables][merge]") {
  auto prev = table_of({{"**Plate**", "**Thickness (mm)**"}, {"P-101", "17.1"}}, {72, 150});
  const auto next = table_of({{"", "**(mm)**"}, {"P-103", "9.7"}}, {72, 150});
  REQUIRE(tables::try_merge(prev, next));
  REQUIRE(prev.rows.size() == 3);
  CHECK(prev.rows[2][0].text == "P-103");
}

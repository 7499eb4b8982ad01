// The document model (document.hpp) on small built PDFs: blocks lie on the page and in the box
// where their text was drawn, the Markdown is the blocks' Markdown, page markers, chunks that
// cover the Markdown exactly once, the JSON form, plain text from inline Markdown.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "convert/convert.hpp"
#include "convert/plain.hpp"
#include "convert/serialize.hpp"
#include "engine_run.hpp"

using namespace quire::convert;
using quire::test::make_pdf;
using quire::test::page_spec;
using quire::test::text_at;
using quire::test::body_lines;
using quire::test::convert_pages;

namespace {

constexpr float kPageHeight = 792;  // pdf_builder's pages are 612 x 792

const std::vector<std::string> kProse = {
    "The morning crew checked the slipway and wrote down what they saw on the",
    "east quay before the tide turned, and the duty manager signed the sheet.",
};

// Page 1: title, prose, a list, a code listing. Page 2: a section heading, prose, a table.
std::vector<page_spec> handbook() {
  std::string p1 = text_at("F2", 22, 72, 720, "Harbour Handbook");
  p1 += body_lines(690, kProse);
  p1 += text_at("F1", 11, 72, 650, "\225") + text_at("F1", 11, 86, 650, "Rinse the buckets");
  p1 += text_at("F1", 11, 72, 636, "\225") + text_at("F1", 11, 86, 636, "Check the ropes");
  p1 += text_at("F1", 11, 72, 622, "\225") + text_at("F1", 11, 86, 622, "Sign the sheet");
  p1 += body_lines(592, {"The pump is restarted with this routine:"});
  p1 += text_at("F3", 10, 72, 566, "func refill() {");
  p1 += text_at("F3", 10, 96, 553, "level = max");
  p1 += text_at("F3", 10, 72, 540, "}");
  p1 += body_lines(510, kProse);
  std::string p2 = text_at("F2", 16, 72, 720, "Tides and moorings");
  p2 += body_lines(695, kProse);
  p2 += text_at("F2", 11, 72, 650, "Berth") + text_at("F2", 11, 250, 650, "Depth") + text_at("F2", 11, 400, 650, "Crane");
  const char* rows[][3] = {{"North", "7.5", "yes"}, {"South", "6.0", "no"}, {"East", "8.25", "yes"}, {"West", "5.5", "no"}};
  float y = 632;
  for (const auto& r : rows) {
    p2 += text_at("F1", 11, 72, y, r[0]) + text_at("F1", 11, 250, y, r[1]) + text_at("F1", 11, 400, y, r[2]);
    y -= 18;
  }
  p2 += body_lines(540, kProse);
  return {{p1}, {p2}};
}

const document_block* find_block(const document& d, block_type t, const std::string& text_part) {
  for (const auto& b : d.blocks)
    if (b.type == t && b.text.find(text_part) != std::string::npos) return &b;
  return nullptr;
}

// The text drawn at PDF baseline y lies inside the box (top-left origin) of the block.
bool holds_baseline(const bbox& b, float x, float pdf_y) {
  const float y = kPageHeight - pdf_y;
  return b.x0 <= x + 1 && b.x1 > x && b.y0 < y && b.y1 >= y - 1;
}

std::string strip_markers(std::string s) {
  return std::regex_replace(s, std::regex("<!-- page [0-9]+ -->\n\n"), "");
}

}  // namespace

TEST_CASE("the document model: blocks in reading order on the page and in the box their text was drawn") {
  const conversion c = convert_pages(handbook());
  const document& d = c.doc;
  INFO(c.markdown);
  REQUIRE(d.pages.size() == 2);
  CHECK(d.pages[0].number == 1);
  CHECK(d.pages[1].number == 2);
  CHECK(d.pages[0].width == Approx(612));
  CHECK(d.pages[0].height == Approx(792));

  const auto* title = find_block(d, block_type::heading, "Harbour Handbook");
  const auto* section = find_block(d, block_type::heading, "Tides and moorings");
  const auto* list = find_block(d, block_type::list, "Rinse the buckets");
  const auto* code = find_block(d, block_type::code, "func refill()");
  REQUIRE(title);
  REQUIRE(section);
  REQUIRE(list);
  REQUIRE(code);
  CHECK(title->page() == 1);
  CHECK(holds_baseline(title->parts[0].box, 72, 720));
  CHECK(title->level == 1);
  CHECK(title->heading_path.empty());
  CHECK(section->page() == 2);
  CHECK(holds_baseline(section->parts[0].box, 72, 720));
  CHECK(section->level == 2);
  CHECK(section->heading_path == std::vector<std::string>{"Harbour Handbook"});

  CHECK(list->page() == 1);
  REQUIRE(list->items.size() == 3);
  CHECK(list->items[1].text == "Check the ropes");
  CHECK(list->items[1].marker == "-");
  CHECK(holds_baseline(list->items[1].parts[0].box, 86, 636));
  CHECK(holds_baseline(list->parts[0].box, 86, 650));
  CHECK(holds_baseline(list->parts[0].box, 86, 622));
  CHECK(list->text == "Rinse the buckets\nCheck the ropes\nSign the sheet");

  CHECK(code->page() == 1);
  CHECK(code->text == "func refill() {\n    level = max\n}");
  CHECK(holds_baseline(code->parts[0].box, 72, 553));

  // every block of page 2 comes after every block of page 1, and ids are indices
  int last_page = 0;
  for (size_t i = 0; i < d.blocks.size(); ++i) {
    CHECK(d.blocks[i].id == static_cast<int>(i));
    CHECK(d.blocks[i].page() >= last_page);
    last_page = d.blocks[i].page();
  }
  // the prose under the section heading knows its section
  bool found = false;
  for (const auto& b : d.blocks) {
    if (b.type == block_type::paragraph && b.page() == 2) {
      CHECK(b.heading_path == std::vector<std::string>{"Harbour Handbook", "Tides and moorings"});
      found = true;
    }
  }
  CHECK(found);
  if (const auto* table = find_block(d, block_type::table, "North")) {
    CHECK(table->page() == 2);
    REQUIRE(table->rows.size() == 5);
    CHECK(table->rows[0][0].text == "Berth");
    CHECK(table->rows[3][2].text == "yes");
    CHECK(holds_baseline(table->parts[0].box, 250, 632));
  } else {
    FAIL_CHECK("no table found on page 2");
  }
}

TEST_CASE("the Markdown is the blocks' Markdown joined by their separators") {
  const conversion c = convert_pages(handbook());
  CHECK(c.markdown == to_markdown(c.doc));
  std::string joined;
  for (size_t i = 0; i < c.doc.blocks.size(); ++i) {
    if (i) joined += block_separator(c.doc.blocks[i - 1], c.doc.blocks[i]);
    joined += c.doc.blocks[i].markdown;
  }
  CHECK(c.markdown == joined + "\n");
  CHECK(c.markdown.find("# Harbour Handbook\n\n") == 0);
  CHECK(c.markdown.find("- Rinse the buckets\n- Check the ropes\n- Sign the sheet\n") != std::string::npos);
}

TEST_CASE("page markers go before the first block of each page, and nothing else changes") {
  options o;
  o.page_markers = true;
  const conversion marked = convert_pages(handbook(), o);
  const conversion plain = convert_pages(handbook());
  INFO(marked.markdown);
  CHECK(marked.markdown.rfind("<!-- page 1 -->\n\n# Harbour Handbook\n", 0) == 0);
  CHECK(marked.markdown.find("\n\n<!-- page 2 -->\n\n## Tides and moorings\n") != std::string::npos);
  CHECK(plain.markdown.find("<!--") == std::string::npos);
  CHECK(strip_markers(marked.markdown) == plain.markdown);
  // a page range starts counting at its first page
  o.first_page = 2;
  const conversion second = convert_pages(handbook(), o);
  CHECK(second.markdown.rfind("<!-- page 2 -->\n\n", 0) == 0);
}

TEST_CASE("chunks cover the Markdown exactly once, start at headings, keep tables and code whole") {
  const conversion c = convert_pages(handbook());
  const document& d = c.doc;
  const auto* code = find_block(d, block_type::code, "func refill()");
  REQUIRE(code);
  for (int limit : {1, 7, 40, 60, 120, 400, 100000}) {
    for (chunk_unit unit : {chunk_unit::characters, chunk_unit::tokens}) {
      INFO("limit " << limit << (unit == chunk_unit::tokens ? " tokens" : " characters"));
      const auto chunks = make_chunks(d, {limit, unit});
      std::string all;
      for (size_t i = 0; i < chunks.size(); ++i) {
        const chunk& ch = chunks[i];
        CHECK(ch.id == static_cast<int>(i));
        CHECK_FALSE(ch.text.empty());
        CHECK(measure(ch.text, unit) <= limit);
        CHECK_FALSE(ch.block_ids.empty());
        CHECK_FALSE(ch.pages.empty());
        all += ch.text;
      }
      CHECK(all == c.markdown);
      // a block that fits the limit on its own is in exactly one chunk, whole
      for (const auto& b : d.blocks) {
        int holders = 0;
        for (const auto& ch : chunks)
          holders += std::count(ch.block_ids.begin(), ch.block_ids.end(), b.id) > 0;
        if (measure(b.markdown + "\n\n", unit) <= limit) CHECK(holders == 1);
        else CHECK(holders >= 1);
      }
    }
  }
  // with room to spare: one chunk per section, each headed by its heading
  const auto big = make_chunks(d, {100000, chunk_unit::characters});
  REQUIRE(big.size() == 2);
  CHECK(big[0].text.rfind("# Harbour Handbook", 0) == 0);
  CHECK(big[0].heading_path == std::vector<std::string>{"Harbour Handbook"});
  CHECK(big[0].pages == std::vector<int>{1});
  CHECK(big[1].text.rfind("## Tides and moorings", 0) == 0);
  CHECK(big[1].heading_path == std::vector<std::string>{"Harbour Handbook", "Tides and moorings"});
  CHECK(big[1].pages == std::vector<int>{2});
  // just room for the code block alone: it is not split, whatever its neighbours
  const int code_size = measure(code->markdown + "\n\n", chunk_unit::characters);
  for (const auto& ch : make_chunks(d, {code_size, chunk_unit::characters})) {
    if (std::count(ch.block_ids.begin(), ch.block_ids.end(), code->id)) {
      CHECK(ch.text.find(code->markdown) != std::string::npos);
    }
  }
}

TEST_CASE("footnotes are blocks of their own after the text, with their labels") {
  std::string c = text_at("F1", 11, 72, 700, "The crane was inspected in May.");
  c += "BT /F1 7 Tf 233 705 Td (1) Tj ET\n";
  c += body_lines(660, kProse);
  c += body_lines(620, kProse);
  c += text_at("F1", 8, 72, 80, "1") + text_at("F1", 8, 80, 80, "By the harbour master.");
  const conversion r = convert_pages({{c}});
  INFO(r.markdown);
  REQUIRE_FALSE(r.doc.blocks.empty());
  const document_block& note = r.doc.blocks.back();
  CHECK(note.type == block_type::footnote);
  CHECK(note.referenced);
  CHECK(note.label == "1");
  CHECK(note.markdown == "[^1]: By the harbour master.");
  CHECK(note.text == "By the harbour master.");
  CHECK(note.page() == 1);
  CHECK(holds_baseline(note.parts[0].box, 80, 80));
  CHECK(r.doc.blocks.front().text == "The crane was inspected in May.[^1]");
  // The plain text keeps the note's label as the Markdown cites it.
  const std::string text = document_text(r.doc);
  CHECK(text.find("The crane was inspected in May.[^1]\n\n") == 0);
  const std::string last = "\n\n[^1]: By the harbour master.\n";
  REQUIRE(text.size() > last.size());
  CHECK(text.substr(text.size() - last.size()) == last);
}

TEST_CASE("the JSON form holds the model and the same Markdown") {
  const conversion c = convert_pages(handbook());
  const auto j = nlohmann::json::parse(document_json(c));
  CHECK(j["schema_version"] == document_schema_version);
  CHECK(j["markdown"] == c.markdown);
  CHECK(j["pages"].size() == 2);
  CHECK(j["pages"][1]["page"] == 2);
  CHECK(j["pages"][1]["width"] == 612);
  REQUIRE(j["blocks"].size() == c.doc.blocks.size());
  for (size_t i = 0; i < c.doc.blocks.size(); ++i) {
    const auto& b = j["blocks"][i];
    CHECK(b["id"] == i);
    CHECK(b["markdown"] == c.doc.blocks[i].markdown);
    CHECK(b["page"] == c.doc.blocks[i].page());
    CHECK(b["bbox"].size() == 4);
  }
  CHECK(j["blocks"][0]["type"] == "heading");
  CHECK(j["blocks"][0]["level"] == 1);
  const auto chunks = nlohmann::json::parse(chunks_json(make_chunks(c.doc, {50, chunk_unit::tokens}), {50, chunk_unit::tokens}));
  CHECK(chunks["unit"] == "tokens");
  CHECK(chunks["limit"] == 50);
  std::string all;
  for (const auto& ch : chunks["chunks"]) all += ch["text"].get<std::string>();
  CHECK(all == c.markdown);
}

TEST_CASE("the document's plain text: the blocks' texts apart by blank lines, no Markdown syntax") {
  const conversion c = convert_pages(handbook());
  const std::string text = document_text(c.doc);
  INFO(text);
  CHECK(text.find("Harbour Handbook\n\n") == 0);
  CHECK(text.find("Rinse the buckets\nCheck the ropes\nSign the sheet\n\n") != std::string::npos);
  CHECK(text.find("func refill() {") != std::string::npos);
  CHECK(text.find("Berth\tDepth\tCrane\nNorth\t7.5\tyes\n") != std::string::npos);
  CHECK(text.find('#') == std::string::npos);
  CHECK(text.find('|') == std::string::npos);
  CHECK(text.find("- ") == std::string::npos);
  CHECK(text.back() == '\n');
  CHECK(text.find("\n\n\n") == std::string::npos);
  std::size_t blocks_with_text = 0;
  for (const auto& b : c.doc.blocks) blocks_with_text += !b.text.empty();
  std::size_t gaps = 0;
  for (std::size_t at = text.find("\n\n"); at != std::string::npos; at = text.find("\n\n", at + 2)) ++gaps;
  CHECK(gaps + 1 == blocks_with_text);
  CHECK(document_text(document{}).empty());
}

TEST_CASE("plain text drops the inline Markdown the engine writes") {
  CHECK(plain_text("**Bold** and *italic* and ***both***", false) == "Bold and italic and both");
  CHECK(plain_text("call `refill()` or `` a`b ``", false) == "call refill() or a`b");
  CHECK(plain_text("see [the guide](https://example.org/a%20b) and <https://example.org>", false) ==
        "see the guide and https://example.org");
  CHECK(plain_text("1\\. not a list, a \\* b, \\[x\\]\\(y\\), a|b \\| c", false) == "1. not a list, a * b, [x](y), a|b | c");
  CHECK(plain_text("a * b stays, x[^1] stays", false) == "a * b stays, x[^1] stays");
  CHECK(plain_text("C:\\dir\\file", false) == "C:\\dir\\file");
  CHECK(plain_text("**x** `y`", true) == "**x** `y`");
}

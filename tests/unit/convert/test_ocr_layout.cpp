// The geometry half of OCR, without Tesseract: words → layout lines, scan detection, and the
// raster measurements (render size cap, bullets, stroke width) on synthetic inputs.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "convert/detail/ocr.hpp"
#include "convert/detail/raster.hpp"

using namespace quire::convert;
using ocr::detail::word;

namespace {

// A word on line `line` at pixel box (x0,y0)-(x1,y1), baseline at y1, x-height `xh` pixels.
word make_word(const std::string& text, int line, int x0, int y0, int x1, int y1, float xh = 20) {
  word w;
  w.text = text;
  w.confidence = 90;
  w.x0 = x0, w.y0 = y0, w.x1 = x1, w.y1 = y1;
  w.line = line;
  w.block = 0;
  w.x_height = xh;
  w.ascenders = xh * 0.45f;
  w.descenders = -xh * 0.4f;
  w.has_baseline = true;
  w.baseline_x0 = 0, w.baseline_y0 = static_cast<float>(y1);
  w.baseline_x1 = 2000, w.baseline_y1 = static_cast<float>(y1);
  w.stroke = 3;
  return w;
}

std::vector<std::string> texts(const layout::page_model& page) {
  std::vector<std::string> out;
  for (const auto& l : page.lines) out.push_back(l.spans.at(0).text);
  return out;
}

}  // namespace

TEST_CASE("words become lines in points, split at wide gaps and table rules") {
  // 300 dpi: 25/6 pixels per point. Line 0: a sentence. Line 1: two table cells far apart.
  // Line 2: cells separated by a rule that Tesseract read as '|'.
  std::vector<word> words = {
      make_word("Keeping", 0, 300, 300, 440, 348), make_word("bees", 0, 460, 300, 540, 340),
      make_word("is", 0, 556, 300, 590, 340),      make_word("cheap.", 0, 606, 300, 720, 348),
      make_word("Rushmere", 1, 300, 400, 470, 440), make_word("340.27", 1, 700, 400, 820, 440),
      make_word("183.30", 2, 300, 500, 420, 540),   make_word("|", 2, 430, 490, 436, 550),
      make_word("25", 2, 446, 500, 480, 540),       make_word("Nov", 2, 496, 500, 560, 540),
      make_word("|D.Havel", 2, 570, 500, 700, 540),
  };
  layout::page_model page;
  ocr::detail::place_words(words, {300 / 72.0f, 0, 0}, page);
  REQUIRE(texts(page) == std::vector<std::string>{"Keeping bees is cheap.", "Rushmere", "340.27", "183.30", "25 Nov",
                                                  "D.Havel"});
  const auto& first = page.lines[0].spans[0];
  CHECK(first.box.x0 == Approx(72).margin(0.01));
  CHECK(first.box.y0 == Approx(72).margin(0.01));
  CHECK(first.box.x1 == Approx(720 * 72 / 300.0).margin(0.01));
  CHECK(first.baseline == Approx(348 * 72 / 300.0).margin(0.01));
  CHECK(page.lines[0].box.x1 == first.box.x1);
  // Words of one size give one size everywhere; the line keeps Tesseract's block.
  for (const auto& l : page.lines) CHECK(l.spans[0].size == first.size);
  CHECK(first.size > 8);
  CHECK(first.size < 16);
}

TEST_CASE("sizes cluster: body lines share one size, a heading stands apart, bold comes from strokes") {
  std::vector<word> words;
  // A heading of doubled x-height and heavier strokes, then body lines whose measured heights
  // scatter a few percent, as OCR measurements do.
  word h = make_word("Harvest", 0, 300, 200, 600, 296, 40);
  h.stroke = 9;
  words.push_back(h);
  const int heights[] = {48, 50, 47, 49, 51};
  for (int i = 0; i < 5; ++i) words.push_back(make_word("Keeping", i + 1, 300, 400 + 80 * i, 460, 400 + 80 * i + heights[i]));
  layout::page_model page;
  ocr::detail::place_words(words, {300 / 72.0f, 0, 0}, page);
  REQUIRE(page.lines.size() == 6);
  const float body = page.lines[1].spans[0].size;
  for (size_t i = 2; i < page.lines.size(); ++i) CHECK(page.lines[i].spans[0].size == body);
  CHECK(page.lines[0].spans[0].size > 1.6f * body);
  CHECK(page.lines[0].spans[0].bold);
  CHECK_FALSE(page.lines[1].spans[0].bold);
}

TEST_CASE("speckle and doubtful punctuation are dropped; bullets and real punctuation stay") {
  std::vector<word> words = {
      make_word("\xE2\x80\xA2", 0, 300, 310, 316, 326), make_word("Sort", 0, 350, 300, 420, 340),
      make_word("=", 1, 300, 400, 320, 410),  // a smudge read as '=' with low confidence
      make_word("-", 2, 300, 520, 320, 524),  make_word("dash", 2, 340, 500, 420, 540),
  };
  words.push_back(make_word("=\xC2\xBB", 3, 300, 600, 330, 620));  // "=»": symbols, not letters
  words.back().confidence = 45;
  words.push_back(make_word("\xC3\xA9t\xC3\xA9", 4, 300, 700, 360, 740));  // "été": letters
  words.back().confidence = 45;
  words[2].confidence = 31;
  layout::page_model page;
  ocr::detail::place_words(words, {300 / 72.0f, 0, 0}, page);
  CHECK(texts(page) == std::vector<std::string>{"\xE2\x80\xA2 Sort", "- dash", "\xC3\xA9t\xC3\xA9"});
}

TEST_CASE("automatic mode OCRs image-covered pages with no text layer only") {
  layout::page_model page;
  page.width = 595, page.height = 842;
  CHECK_FALSE(ocr::needs_ocr(page));  // blank page: nothing to read
  page.images.push_back({{0, 0, 595, 842}});
  CHECK(ocr::needs_ocr(page));  // a scan
  layout::line l;
  l.spans.push_back({});
  l.spans[0].text = "12";  // a stamped page number is not a text layer
  page.lines.push_back(l);
  CHECK(ocr::needs_ocr(page));
  page.lines[0].spans[0].text = "A real text layer has many more characters than this.";
  CHECK_FALSE(ocr::needs_ocr(page));
  page.lines.clear();
  page.images = {{{50, 50, 250, 250}}};  // a photo on an otherwise empty page
  CHECK_FALSE(ocr::needs_ocr(page));
  page.images = {{{0, 0, 595, 300}}, {{0, 300, 595, 600}}, {{0, 600, 595, 842}}};  // scanned in strips
  CHECK(ocr::needs_ocr(page));
}

namespace {

raster::image blank(int w, int h) {
  raster::image img;
  img.width = w, img.height = h;
  img.pixels.assign(static_cast<size_t>(w) * h, 255);
  img.ink = 128;
  return img;
}

void fill(raster::image& img, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) img.pixels[static_cast<size_t>(y) * img.width + x] = 0;
}

raster::image img_with_dot() {
  auto img = blank(200, 100);
  fill(img, 40, 44, 52, 56);
  return img;
}

}  // namespace

TEST_CASE("a bullet is one solid blob at mid x-height; other marks are not") {
  auto img = blank(200, 100);
  const float xh = 20, base = 60;  // x-height band: y 40..60
  fill(img, 40, 44, 52, 56);       // 12 px square at mid x-height
  const raster::box region{0, 30, 100, 68};
  raster::box b = raster::find_bullet(img, region, xh, base);
  CHECK(b.x0 == 40);
  CHECK(b.y0 == 44);
  CHECK(b.x1 == 52);
  CHECK(b.y1 == 56);

  fill(img, 70, 58, 73, 61);  // a second blob (a period): no longer a lone bullet
  CHECK(raster::find_bullet(img, region, xh, base).x1 == 0);

  auto dash = blank(200, 100);
  fill(dash, 40, 49, 60, 52);  // a thin dash: not square
  CHECK(raster::find_bullet(dash, region, xh, base).x1 == 0);

  auto low = blank(200, 100);
  fill(low, 40, 56, 50, 66);  // sits on the baseline like a full stop of a big font
  CHECK(raster::find_bullet(low, region, xh, base).x1 == 0);

  auto rule = blank(200, 100);
  fill(rule, 40, 0, 44, 100);  // a vertical table rule running through the region
  CHECK(raster::find_bullet(rule, region, xh, base).x1 == 0);

  // A small ring ("◦") is a bullet too, and says it is hollow; an 'o' (a full x-height tall) is not.
  auto ring = blank(200, 100);
  fill(ring, 40, 44, 52, 56);
  for (int y = 47; y < 53; ++y)
    for (int x = 43; x < 49; ++x) ring.pixels[static_cast<size_t>(y) * 200 + x] = 255;
  bool hollow = false;
  CHECK(raster::find_bullet(ring, region, xh, base, &hollow).x1 == 52);
  CHECK(hollow);
  auto letter_o = blank(200, 100);
  fill(letter_o, 40, 40, 60, 60);
  for (int y = 44; y < 56; ++y)
    for (int x = 44; x < 56; ++x) letter_o.pixels[static_cast<size_t>(y) * 200 + x] = 255;
  CHECK(raster::find_bullet(letter_o, region, xh, base).x1 == 0);
  CHECK(raster::find_bullet(img_with_dot(), region, xh, base, &hollow).x1 > 0);
  CHECK_FALSE(hollow);
}

TEST_CASE("stroke width tells heavy strokes from light ones; Otsu finds the ink") {
  auto img = blank(120, 40);
  for (int x = 10; x < 50; x += 8) fill(img, x, 5, x + 3, 35);   // 3 px stems
  for (int x = 60; x < 110; x += 10) fill(img, x, 5, x + 6, 35);  // 6 px stems
  img.ink = raster::otsu_threshold(img);
  CHECK(img.ink > 0);
  CHECK(img.ink < 255);
  CHECK(raster::stroke_width(img, 0, 0, 55, 40) == Approx(3).margin(0.6));
  CHECK(raster::stroke_width(img, 55, 0, 120, 40) == Approx(6).margin(0.6));
  CHECK(raster::stroke_width(img, 0, 36, 120, 40) == 0);  // no ink
}

TEST_CASE("a word box is cut free of the table rules it swallowed, and only of those") {
  // Text ink (a block standing in for letters) under a faint horizontal rule that runs on past
  // both sides of the box, with a blank row between them.
  auto img = blank(300, 120);
  img.ink = 128, img.faint = 230, img.scale = 300 / 72.0f;
  for (int x = 0; x < 300; ++x)
    for (int y = 20; y < 23; ++y) img.pixels[static_cast<size_t>(y) * 300 + x] = 200;  // light gray rule
  fill(img, 60, 30, 140, 60);
  raster::box b{60, 20, 140, 60};
  raster::trim_rules(img, b);
  CHECK(b.y0 == 30);
  CHECK(b.y1 == 60);
  CHECK(b.x0 == 60);
  CHECK(b.x1 == 140);

  // A letter's top edge that does not continue past the box is kept (a 'T' bar, say).
  auto letter = blank(300, 120);
  letter.ink = 128, letter.faint = 230, letter.scale = 300 / 72.0f;
  fill(letter, 60, 30, 140, 34);
  fill(letter, 95, 30, 105, 60);
  raster::box t{60, 30, 140, 60};
  raster::trim_rules(letter, t);
  CHECK(t.y0 == 30);
  CHECK(t.x0 == 60);

  // A shaded cell (every row faintly marked, well beyond rule thickness) is not a rule either.
  auto shaded = blank(300, 120);
  shaded.ink = 128, shaded.faint = 230, shaded.scale = 300 / 72.0f;
  for (auto& p : shaded.pixels) p = 215;
  fill(shaded, 60, 40, 140, 60);
  raster::box s{60, 30, 140, 60};
  raster::trim_rules(shaded, s);
  CHECK(s.y0 == 40);  // only the rows without ink go
  CHECK(s.y1 == 60);
}

TEST_CASE("a thin vertical rule in the gap between two words is found; shading or nothing is not") {
  auto img = blank(300, 100);
  img.ink = 128, img.faint = 230, img.scale = 300 / 72.0f;
  for (int y = 0; y < 100; ++y)
    for (int x = 150; x < 153; ++x) img.pixels[static_cast<size_t>(y) * 300 + x] = 200;
  CHECK(raster::vertical_rule(img, 130, 170, 20, 80));
  CHECK_FALSE(raster::vertical_rule(img, 100, 140, 20, 80));  // nothing in this gap

  auto shaded = blank(300, 100);
  shaded.ink = 128, shaded.faint = 230, shaded.scale = 300 / 72.0f;
  for (auto& p : shaded.pixels) p = 215;
  CHECK_FALSE(raster::vertical_rule(shaded, 130, 170, 20, 80));
}

TEST_CASE("skew is measured from the lines of ink and straightened") {
  // Lines of "words" (short dashes with gaps) every 40 px, as a page of text.
  auto page = blank(800, 600);
  for (int y = 60; y < 560; y += 40)
    for (int x = 60; x < 740; x += 50) fill(page, x, y, x + 36, y + 10);
  page.ink = 128;
  CHECK(raster::estimate_skew(page) == Approx(0).margin(0.06));

  for (float skew : {1.5f, -2.3f}) {
    auto tilted = page;
    raster::deskew(tilted, -skew);  // turning by the opposite of a skew produces that skew
    CHECK(raster::estimate_skew(tilted) == Approx(skew).margin(0.1));
    raster::deskew(tilted, raster::estimate_skew(tilted));
    CHECK(raster::estimate_skew(tilted) == Approx(0).margin(0.1));
  }
  CHECK(raster::estimate_skew(blank(300, 300)) == 0);  // nothing to measure
}

TEST_CASE("rules and boxes found in a skewed page are levelled with the OCR'd text") {
  layout::page_model page;
  const float slant = 400 * std::tan(1.0f * 3.14159265f / 180);  // 1 degree across 400 pt
  page.rules.push_back({{100, 400 - slant / 2 - 0.5f, 500, 400 + slant / 2 + 0.5f}, true});
  page.rules.push_back({{299.5f, 200, 300.5f, 600}, false});
  page.images.push_back({{490, 390, 510, 410}});
  const ocr::detail::turn t{1.0f, 300, 400};
  ocr::detail::level(page, t);
  // The slanted rule through the centre comes out level and thin, at the same place.
  CHECK(page.rules[0].box.cy() == Approx(400).margin(0.01));
  CHECK(page.rules[0].box.height() == Approx(1).margin(0.05));
  CHECK(page.rules[0].box.width() == Approx(400).margin(0.01));
  // A point 200 pt right of the centre, on the horizontal, sits 200·sin(1°) above the levelled
  // line that passed through it at the skew.
  CHECK(page.images[0].box.cx() == Approx(300 + 200 * std::cos(1.0f * 3.14159265f / 180)).margin(0.01));
  CHECK(page.images[0].box.cy() == Approx(400 - 200 * std::sin(1.0f * 3.14159265f / 180)).margin(0.01));
  CHECK(page.images[0].box.width() == Approx(20));

  layout::page_model untouched = page;
  ocr::detail::level(untouched, {});  // no turn: nothing moves
  CHECK(untouched.images[0].box.x0 == page.images[0].box.x0);
}

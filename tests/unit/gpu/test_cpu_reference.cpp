// The CPU reference on synthetic rasters with known answers: thresholds, rules, components, regions.
// These pin the semantics; test_cuda_vs_cpu.cpp then holds the CUDA kernels to the same answers.
#include "gpu_test.hpp"

#include "gpu/page_analysis.hpp"
#include "gpu/synthetic.hpp"

#include <stdexcept>

using namespace quire::gpu;

namespace {

page_analysis analyze_one(const gray_image& img, analysis_params p = {}) {
  return make_cpu_analyzer(p)->analyze({img.raster()}).value().at(0);
}

// Solid rectangle "glyphs" of w x h every `step` pixels along a row: one text-like component each.
int row_of_glyphs(gray_image& img, int x0, int y0, int n, int w, int h, int step) {
  for (int i = 0; i < n; ++i) img.fill({x0 + i * step, y0, x0 + i * step + w - 1, y0 + h - 1}, 0);
  return n;
}

}  // namespace

TEST_CASE("a white page is blank", "[gpu][cpu]") {
  gray_image img(200, 100);
  const page_analysis a = analyze_one(img);
  CHECK(a.threshold == 0);
  CHECK(a.ink_pixels == 0);
  CHECK(a.histogram[255] == 20000u);
  CHECK(a.kind == page_kind::blank);
  CHECK(a.components.total == 0);
  CHECK(a.horizontal_rules.empty());
  CHECK(a.figures.empty());
  CHECK(a.text_blocks.empty());
}

TEST_CASE("Otsu picks the lowest threshold between two levels", "[gpu][cpu]") {
  gray_image img(100, 100);
  img.fill({0, 0, 99, 29}, 40);  // 3000 pixels at 40, 7000 at 255
  img.fill({0, 30, 99, 99}, 200);
  const page_analysis a = analyze_one(img);
  // Every t in 40..199 separates the classes equally well; ties keep the lowest: ink iff < 41.
  CHECK(a.threshold == 41);
  CHECK(a.ink_pixels == 3000);
  CHECK(a.ink_coverage() == 0.3);
}

TEST_CASE("a page of grain without contrast has no ink", "[gpu][cpu]") {
  gray_image img(300, 200);
  splitmix64 rng(3);
  for (auto& v : img.pixels) v = std::uint8_t(240 + rng.below(16));
  const page_analysis a = analyze_one(img);
  CHECK(a.threshold == 0);
  CHECK(a.ink_pixels == 0);
  CHECK(a.kind == page_kind::blank);
}

TEST_CASE("a fixed threshold overrides Otsu", "[gpu][cpu]") {
  gray_image img(50, 50);
  img.fill({0, 0, 49, 9}, 100);
  analysis_params p;
  p.threshold = 100;  // ink iff < 100: the 100-valued band is not ink
  CHECK(analyze_one(img, p).ink_pixels == 0);
  p.threshold = 101;
  CHECK(analyze_one(img, p).ink_pixels == 500);
}

TEST_CASE("thin long runs become ruling lines with exact boxes", "[gpu][cpu]") {
  gray_image img(600, 400);
  img.fill({50, 100, 449, 101}, 0);   // horizontal, 400 x 2
  img.fill({300, 150, 302, 349}, 0);  // vertical, 3 x 200
  const page_analysis a = analyze_one(img);
  REQUIRE(a.horizontal_rules.size() == 1);
  CHECK(a.horizontal_rules[0].box == pixel_box{50, 100, 449, 101});
  CHECK(a.horizontal_rules[0].length() == 400);
  CHECK(a.horizontal_rules[0].thickness() == 2);
  REQUIRE(a.vertical_rules.size() == 1);
  CHECK(a.vertical_rules[0].box == pixel_box{300, 150, 302, 349});
  CHECK(a.vertical_rules[0].thickness() == 3);
  CHECK(a.ink_pixels == 800 + 600);
  CHECK(a.components.total == 0);  // rule pixels are not components
  CHECK(a.kind == page_kind::text);
}

TEST_CASE("short or thick bars are not rules", "[gpu][cpu]") {
  gray_image img(600, 400);
  img.fill({10, 10, 59, 11}, 0);     // 50 long: below min_rule_length (75 at 150 dpi)
  img.fill({100, 200, 299, 239}, 0); // 200 x 40: a filled block, too thick
  const page_analysis a = analyze_one(img);
  CHECK(a.horizontal_rules.empty());
  CHECK(a.vertical_rules.empty());
  CHECK(a.components.total == 2);
  CHECK(a.components.figure_like == 1);  // 200 wide > max_text_width 150
  REQUIRE(a.figures.size() == 1);
  CHECK(a.figures[0].box == pixel_box{100, 200, 299, 239});
  CHECK(a.figures[0].ink_pixels == 8000);
}

TEST_CASE("rule pieces across small gaps and skew steps join into one line", "[gpu][cpu]") {
  gray_image img(900, 400);
  img.fill({50, 100, 249, 101}, 0);   // two pieces with a 3-pixel gap (borders drawn per cell)
  img.fill({253, 100, 449, 101}, 0);
  img.fill({50, 200, 249, 200}, 0);   // a skewed scan line: steps of one row with 2-pixel gaps
  img.fill({252, 201, 449, 201}, 0);
  img.fill({452, 202, 649, 202}, 0);
  img.fill({50, 300, 249, 300}, 0);   // ... and a parallel rule 4 rows below the last piece stays apart
  img.fill({252, 301, 449, 301}, 0);
  img.fill({50, 305, 449, 305}, 0);
  img.fill({500, 100, 599, 101}, 0);  // 50 pixels after the first line: beyond rule_gap (15), separate
  const page_analysis a = analyze_one(img);
  REQUIRE(a.horizontal_rules.size() == 5);
  CHECK(a.horizontal_rules[0].box == pixel_box{50, 100, 449, 101});
  CHECK(a.horizontal_rules[1].box == pixel_box{500, 100, 599, 101});
  CHECK(a.horizontal_rules[2].box == pixel_box{50, 200, 649, 202});
  CHECK(a.horizontal_rules[3].box == pixel_box{50, 300, 449, 301});
  CHECK(a.horizontal_rules[4].box == pixel_box{50, 305, 449, 305});
}

TEST_CASE("a thin stroke too broken to be a rule is line-like, not a figure", "[gpu][cpu]") {
  gray_image img(400, 400);
  for (int k = 0; k < 3; ++k) img.fill({100 + k, 50 + 50 * k, 100 + k, 99 + 50 * k}, 0);  // 3 x 150, runs of 50
  const page_analysis a = analyze_one(img);
  CHECK(a.vertical_rules.empty());
  CHECK(a.components.total == 1);
  CHECK(a.components.line_like == 1);
  CHECK(a.components.figure_like == 0);
  CHECK(a.figures.empty());
  CHECK(a.text_blocks.empty());
}

TEST_CASE("a ruled grid yields its lines and only the cell contents as components", "[gpu][cpu]") {
  gray_image img(700, 400);
  for (int r = 0; r < 4; ++r) img.fill({100, 100 + 60 * r, 551, 101 + 60 * r}, 0);
  for (int c = 0; c < 4; ++c) img.fill({100 + 150 * c, 100, 101 + 150 * c, 281}, 0);
  int glyphs = 0;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) glyphs += row_of_glyphs(img, 110 + 150 * c, 120 + 60 * r, 4, 8, 14, 12);
  const page_analysis a = analyze_one(img);
  REQUIRE(a.horizontal_rules.size() == 4);
  REQUIRE(a.vertical_rules.size() == 4);
  for (int r = 0; r < 4; ++r) CHECK(a.horizontal_rules[r].box == pixel_box{100, 100 + 60 * r, 551, 101 + 60 * r});
  for (int c = 0; c < 4; ++c) CHECK(a.vertical_rules[c].box == pixel_box{100 + 150 * c, 100, 101 + 150 * c, 281});
  // The 2x2 squares where lines cross belong to the rules, not to the text.
  CHECK(a.components.total == glyphs);
  CHECK(a.components.text_like == glyphs);
  CHECK(a.components.text_ink == glyphs * 8 * 14);
  CHECK(a.components.median_text_height == 14);
  CHECK(a.figures.empty());
  CHECK(a.kind == page_kind::text);
}

TEST_CASE("paragraphs far apart are separate text blocks", "[gpu][cpu]") {
  gray_image img(800, 700);
  int n1 = 0, n2 = 0;
  for (int line = 0; line < 5; ++line) n1 += row_of_glyphs(img, 100, 100 + 20 * line, 30, 8, 12, 11);
  for (int line = 0; line < 3; ++line) n2 += row_of_glyphs(img, 100, 400 + 20 * line, 20, 8, 12, 11);
  const page_analysis a = analyze_one(img);
  REQUIRE(a.text_blocks.size() == 2);
  CHECK(a.text_blocks[0].box == pixel_box{100, 100, 100 + 29 * 11 + 7, 100 + 4 * 20 + 11});
  CHECK(a.text_blocks[0].components == n1);
  CHECK(a.text_blocks[1].box == pixel_box{100, 400, 100 + 19 * 11 + 7, 400 + 2 * 20 + 11});
  CHECK(a.text_blocks[1].components == n2);
  CHECK(a.text_blocks[1].ink_pixels == n2 * 96);
  CHECK(a.components.median_text_height == 12);
  CHECK(a.kind == page_kind::text);
}

TEST_CASE("a photo becomes one figure with a crop box; its caption stays text", "[gpu][cpu]") {
  gray_image img(600, 500);
  splitmix64 rng(11);
  draw_photo(img, {100, 100, 399, 299}, rng);
  int caption = 0;  // enough text that the page is not mostly picture
  for (int line = 0; line < 4; ++line) caption += row_of_glyphs(img, 100, 340 + 20 * line, 40, 8, 12, 11);
  const page_analysis a = analyze_one(img);
  REQUIRE(a.figures.size() == 1);
  const pixel_box b = a.figures[0].box;
  INFO("figure box " << b.x0 << "," << b.y0 << " " << b.x1 << "," << b.y1);
  // The dark corner of the ramp is ink for sure; the light corner is paper.
  CHECK(b.x0 == 100);
  CHECK(b.y0 == 100);
  CHECK(b.x1 <= 399);
  CHECK(b.y1 <= 299);
  CHECK(b.x1 >= 330);
  CHECK(b.y1 >= 280);
  REQUIRE(a.text_blocks.size() == 1);
  CHECK(a.text_blocks[0].components == caption);
  CHECK(a.kind == page_kind::mixed);
}

TEST_CASE("a full-page picture is image_only", "[gpu][cpu]") {
  synthetic_spec s;
  s.full_page_photo = true;
  s.width = 637, s.height = 825;
  const page_analysis a = analyze_one(make_synthetic_page(s));
  CHECK(a.kind == page_kind::image_only);
  CHECK(a.figures.size() >= 1);
  CHECK(a.components.figure_ink * 10 >= (a.components.figure_ink + a.components.text_ink) * 9);
}

TEST_CASE("isolated dust is counted as specks and changes nothing else", "[gpu][cpu]") {
  gray_image img(800, 400);
  row_of_glyphs(img, 100, 100, 30, 8, 12, 11);
  const page_analysis clean = analyze_one(img);
  for (int i = 0; i < 50; ++i) img.at(10 + 15 * i, 300) = 40;
  const page_analysis dusty = analyze_one(img);
  CHECK(dusty.components.specks == 50);
  CHECK(dusty.components.text_like == clean.components.text_like);
  CHECK(dusty.text_blocks == clean.text_blocks);
  CHECK(dusty.kind == clean.kind);
}

TEST_CASE("the synthetic letter page has the table it was drawn with", "[gpu][cpu]") {
  const page_analysis a = analyze_one(make_synthetic_page(synthetic_spec{}));
  CHECK(a.horizontal_rules.size() == 6);  // 5 rows: 6 lines
  CHECK(a.vertical_rules.size() == 5);    // 4 columns: 5 lines
  CHECK(a.figures.size() == 1);
  CHECK(a.kind == page_kind::mixed);
  CHECK(a.components.text_like > 500);
}

TEST_CASE("stride padding and threads do not change results; the mask is the binarisation", "[gpu][cpu]") {
  synthetic_spec s;
  s.width = 500, s.height = 640, s.dpi = 75, s.specks = 30, s.grain = 10;
  const gray_image tight = make_synthetic_page(s);
  gray_image padded(s.width, s.height, 0, 13);  // padding bytes are black garbage
  for (int y = 0; y < s.height; ++y)
    for (int x = 0; x < s.width; ++x) padded.at(x, y) = tight.pixels[std::size_t(y) * tight.stride + x];
  analysis_params p;
  p.dpi = 75;
  p.keep_mask = true;
  const page_analysis a = analyze_one(tight, p), b = analyze_one(padded, p);
  CHECK(describe_difference(a, b) == "");
  REQUIRE(a.mask.size() == std::size_t(s.width) * s.height);
  long long ink = 0;
  bool mask_ok = true;
  for (std::size_t i = 0; i < a.mask.size(); ++i) {
    ink += a.mask[i];
    mask_ok = mask_ok && a.mask[i] == (tight.pixels[i] < a.threshold ? 1 : 0);
  }
  CHECK(mask_ok);
  CHECK(ink == a.ink_pixels);

  std::vector<gray_image> imgs;
  for (int i = 0; i < 5; ++i) s.seed = 100 + i, imgs.push_back(make_synthetic_page(s));
  std::vector<raster_view> rs;
  for (auto& im : imgs) rs.push_back(im.raster());
  p.cpu_threads = 1;
  const auto one = make_cpu_analyzer(p)->analyze(rs).value();
  p.cpu_threads = 3;
  const auto three = make_cpu_analyzer(p)->analyze(rs).value();
  REQUIRE(one.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(one[i] == three[i]);
  CHECK(one[0] != one[1]);  // different pages really differ (the comparison can fail)
}

TEST_CASE("bad rasters and params are refused", "[gpu][cpu]") {
  auto cpu = make_cpu_analyzer();
  std::vector<std::uint8_t> px(100, 255);
  // Errors are values: invalid_argument, never an exception across the module's API.
  for (const raster_view& r : {raster_view{nullptr, 10, 10, 10}, raster_view{px.data(), 10, 10, 9}, raster_view{px.data(), 0, 10, 10}}) {
    const auto res = cpu->analyze({r});
    REQUIRE_FALSE(res);
    CHECK(res.err().code == errc::invalid_argument);
  }
  analysis_params bad;
  bad.dpi = 0;
  const auto resolved = resolve_params(bad);
  REQUIRE_FALSE(resolved);
  CHECK(resolved.err().code == errc::invalid_argument);
  CHECK(make_cpu_analyzer(bad)->analyze({}).err().code == errc::invalid_argument);
  REQUIRE(cpu->analyze({}));
  CHECK(cpu->analyze({})->empty());
  CHECK(cpu->name() == "cpu");
}

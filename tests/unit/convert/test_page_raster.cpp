// Page-raster analysis in the engine (convert/detail/page_raster.hpp): the pure conversions from a
// gpu::page_analysis to the layout model, and the engine end to end on PDFs built in-process — a
// table grid that exists only as an image, a chart drawn with vector paths, an embedded photo, a
// blank page — plus the acceleration policy on a machine whose GPU state the test asks for.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/extract.hpp"
#include "convert/detail/page_raster.hpp"
#include "gpu/page_analysis.hpp"
#include "pdf_builder.hpp"

extern "C" {
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
}

using namespace quire;
using namespace quire::convert;

namespace {

constexpr float kPageW = 612, kPageH = 792;
constexpr float kScale = analysis_dpi / 72.f;  // pixels per point of the analysis raster

// ---- building PDFs in-process (pdf_builder.hpp) ----

using quire::test::raster_image;

// The engine takes bytes; pdf_builder gives a string.
std::span<const std::byte> bytes_of(const std::string& pdf) { return std::as_bytes(std::span(pdf.data(), pdf.size())); }

fz_context* new_ctx() {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_register_document_handlers(ctx);
  fz_set_warning_callback(ctx, [](void*, const char*) {}, nullptr);
  fz_set_error_callback(ctx, [](void*, const char*) {}, nullptr);
  return ctx;
}

// A page-sized gray raster at the analysis dpi: white, with a table grid drawn in black 2 px lines
// (the picture of a ruled table — no vector rules, no text layer).
constexpr int kGridX[] = {150, 450, 750, 1050};  // vertical lines (pixels)
constexpr int kGridY[] = {300, 400, 500, 600};   // horizontal lines
raster_image grid_image() {
  const int w = 1275, h = 1650;  // Letter at 150 dpi
  raster_image img{w, h, 1, std::vector<unsigned char>(size_t(w) * h, 255)};
  unsigned char* s = img.samples.data();
  for (int y : kGridY)
    for (int t = 0; t < 2; ++t) std::fill(s + size_t(y + t) * w + kGridX[0], s + size_t(y + t) * w + kGridX[3] + 2, 0);
  for (int x : kGridX)
    for (int y = kGridY[0]; y <= kGridY[3] + 1; ++y) s[size_t(y) * w + x] = s[size_t(y) * w + x + 1] = 0;
  return img;
}

// A photo-like RGB picture: smooth gradients with deterministic grain (no thin lines, no glyphs).
raster_image photo_image() {
  const int w = 400, h = 300;
  raster_image img{w, h, 3, std::vector<unsigned char>(size_t(w) * h * 3)};
  unsigned char* s = img.samples.data();
  unsigned seed = 12345;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      seed = seed * 1103515245u + 12345u;
      const int grain = int((seed >> 16) % 40) - 20;
      unsigned char* p = s + (size_t(y) * w + x) * 3;
      p[0] = static_cast<unsigned char>(std::clamp(40 + x * 150 / w + grain, 0, 255));
      p[1] = static_cast<unsigned char>(std::clamp(60 + y * 120 / h + grain, 0, 255));
      p[2] = static_cast<unsigned char>(std::clamp(90 + grain, 0, 255));
    }
  return img;
}

const std::string kBody =
    "BT /F1 11 Tf 72 720 Td (The survey crew measured every mast on the ridge before the storm arrived and) Tj ET\n"
    "BT /F1 11 Tf 72 706 Td (wrote the readings into the station log, which the observer checked twice a day.) Tj ET\n";

// A bar chart drawn with vector paths (no image): a heading above, a caption below, little text.
const std::string kChartPage =
    "BT /F2 16 Tf 72 720 Td (Rainfall) Tj ET\n"
    "0.2 0.3 0.6 rg 100 400 40 120 re f 150 400 40 200 re f 200 400 40 80 re f\n"
    "250 400 40 160 re f 300 400 40 240 re f 350 400 40 100 re f\n"
    "BT /F1 10 Tf 72 370 Td (Figure 1: monthly totals) Tj ET\n";

// ---- a counting analyzer, and one whose device fails ----

struct counting_analyzer : gpu::page_analyzer {
  std::unique_ptr<gpu::page_analyzer> inner;
  std::string label;
  int pages = 0;
  explicit counting_analyzer(std::string name) : label(std::move(name)) {
    gpu::analysis_params p;
    p.dpi = analysis_dpi;
    inner = gpu::make_cpu_analyzer(p);
  }
  quire::expected<std::vector<gpu::page_analysis>> analyze(const std::vector<gpu::raster_view>& r) override {
    pages += static_cast<int>(r.size());
    return inner->analyze(r);
  }
  std::string name() const override { return label; }
};

struct failing_device : gpu::page_analyzer {
  quire::expected<std::vector<gpu::page_analysis>> analyze(const std::vector<gpu::raster_view>&) override {
    return quire::error{gpu::errc::device_failed, "cudaErrorLaunchFailure (unspecified launch failure)"};
  }
  std::string name() const override { return "cuda:7"; }
};

bool has_warning(const conversion& c, const std::string& needle) {
  return std::any_of(c.warnings.begin(), c.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

gpu::ruling_line line(int x0, int y0, int x1, int y1, bool horizontal) { return {{x0, y0, x1, y1}, horizontal}; }

}  // namespace

// ---- the pure conversions ----

TEST_CASE("raster rules become layout rules in points, minus vector rules and lone lines") {
  gpu::page_analysis a;
  a.horizontal_rules = {line(150, 300, 1051, 301, true), line(150, 600, 1051, 601, true)};
  a.vertical_rules = {line(150, 300, 151, 601, false), line(1050, 300, 1051, 601, false)};
  a.horizontal_rules.push_back(line(150, 1400, 1051, 1401, true));  // far below the grid, alone
  layout::page_model page;
  page.width = kPageW, page.height = kPageH;

  auto rules = page_raster::raster_rules(a, kScale, 0, 0, page);
  REQUIRE(rules.size() == 4);  // the lone line is no table grid
  const auto& top = rules[0];
  CHECK(top.horizontal);
  CHECK(top.box.x0 == Approx(150 * 72.f / 150).margin(0.01));
  CHECK(top.box.y0 == Approx(300 * 72.f / 150).margin(0.01));
  CHECK(top.box.x1 == Approx(1052 * 72.f / 150).margin(0.01));
  CHECK(top.box.height() == Approx(2 * 72.f / 150).margin(0.01));
  CHECK_FALSE(rules[2].horizontal);

  // The page's vector rule at the top edge covers the raster one: not added twice.
  page.rules.push_back({{72, 143.8f, 505, 144.6f}, true});
  rules = page_raster::raster_rules(a, kScale, 0, 0, page);
  CHECK(rules.size() == 3);
  CHECK(std::none_of(rules.begin(), rules.end(), [](const layout::rule& r) { return r.horizontal && r.box.y0 < 150; }));

  // A raster origin off the page corner shifts every rule by it.
  page.rules.clear();
  rules = page_raster::raster_rules(a, kScale, -10, 5, page);
  REQUIRE_FALSE(rules.empty());
  CHECK(rules[0].box.x0 == Approx(-10 + 72.f).margin(0.01));
  CHECK(rules[0].box.y0 == Approx(5 + 144.f).margin(0.01));
}

TEST_CASE("scanned pages: text in pixels that the text layer lacks, or a picture with no text") {
  gpu::page_analysis a;
  a.kind = gpu::page_kind::text;
  a.components.text_like = 900;
  layout::page_model page;
  CHECK(page_raster::scanned(a, page));  // no text layer at all
  page.chars = 850;
  CHECK_FALSE(page_raster::scanned(a, page));  // the layer explains the glyphs
  page.chars = 30;
  CHECK(page_raster::scanned(a, page));  // a stamp or a page number over a scan
  a.components.text_like = 5000;
  page.chars = 400;
  CHECK_FALSE(page_raster::scanned(a, page));  // a real text layer over a busy background
  a.components.text_like = 900;
  a.components.text_like = 12;
  page.chars = 0;
  CHECK_FALSE(page_raster::scanned(a, page));  // a few marks are no text
  a.kind = gpu::page_kind::image_only;
  CHECK(page_raster::scanned(a, page));
  a.kind = gpu::page_kind::blank;
  a.components.text_like = 900;
  CHECK_FALSE(page_raster::scanned(a, page));

  page_raster::findings f;
  CHECK(page_raster::decide_scanned(f, true));  // not analyzed: the text-layer test decides
  f.analyzed = true;
  f.kind = gpu::page_kind::blank;
  CHECK_FALSE(page_raster::decide_scanned(f, true));  // an empty page is not a scan
  f.kind = gpu::page_kind::text;
  f.scanned = true;
  CHECK(page_raster::decide_scanned(f, false));
}

TEST_CASE("figure boxes: big enough, not an embedded image already, not large type") {
  gpu::page_analysis a;
  gpu::region fig;
  fig.kind = gpu::region_kind::figure;
  fig.box = {300, 600, 899, 1049};  // 288 x 216 pt
  a.figures = {fig};
  gpu::region icon = fig;
  icon.box = {100, 100, 139, 139};  // 19 pt: an icon
  a.figures.push_back(icon);
  layout::page_model page;
  page.width = kPageW, page.height = kPageH;

  auto boxes = page_raster::figure_boxes(a, kScale, 0, 0, page);
  REQUIRE(boxes.size() == 1);
  CHECK(boxes[0].x0 == Approx(144).margin(0.01));
  CHECK(boxes[0].y1 == Approx(504).margin(0.01));

  page.images.push_back({{140, 285, 436, 508}, 0});  // the embedded picture that is the figure
  CHECK(page_raster::figure_boxes(a, kScale, 0, 0, page).empty());
  page.images = {{{0, 0, kPageW, kPageH}, 0}};  // a whole-page scan: the figure is a part of it
  CHECK(page_raster::figure_boxes(a, kScale, 0, 0, page).size() == 1);

  layout::line big;
  big.box = {144, 290, 432, 500};  // a huge title over the same area
  page.lines.push_back(big);
  CHECK(page_raster::figure_boxes(a, kScale, 0, 0, page).empty());
}

TEST_CASE("acceleration policies parse and print") {
  const auto p = parse_acceleration_policy("gpu_required");
  REQUIRE(p);
  CHECK(*p == acceleration_policy::gpu_required);
  CHECK(to_string(*p) == "gpu_required");
  CHECK_FALSE(parse_acceleration_policy("gpu"));
  CHECK(to_string(errc::gpu_not_available) == "gpu_not_available");
}

// ---- the engine on real PDFs ----

TEST_CASE("a table grid that exists only as an image becomes rules in the page model") {
  fz_context* ctx = new_ctx();
  const auto pdf = quire::test::make_pdf({{"q 612 0 0 792 0 0 cm /Im0 Do Q", grid_image()}});
  REQUIRE_FALSE(pdf.empty());

  fz_stream* stm = fz_open_memory(ctx, reinterpret_cast<const unsigned char*>(pdf.data()), pdf.size());
  fz_document* doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
  fz_page* page = fz_load_page(ctx, doc, 0);
  layout::page_model model;
  std::vector<asset> assets;
  REQUIRE(extract_page(ctx, page, 1, {}, assets, model));
  CHECK(model.rules.empty());  // nothing drawn as a path

  options opts;
  opts.ocr = ocr_mode::off;
  conversion out;
  page_raster::analyzer an;
  REQUIRE_FALSE(an.begin(opts, out).has_value());
  CHECK(page_raster::worth_analyzing(model, opts) != page_raster::reason::none);
  auto found = an.analyze(ctx, page, opts, model, out);
  REQUIRE(found);
  REQUIRE(found->analyzed);
  an.apply(ctx, page, opts, *found, model, out);

  int h = 0, v = 0;
  for (const auto& r : model.rules) {
    if (r.horizontal) {
      ++h;
      // on one of the drawn rows, spanning the grid: pt = px * 72 / dpi
      const bool on_row = std::any_of(std::begin(kGridY), std::end(kGridY),
                                      [&](int y) { return std::fabs(r.box.cy() - (y + 1) * 72.f / 150) < 1; });
      CHECK(on_row);
      CHECK(r.box.x0 == Approx(kGridX[0] * 72.f / 150).margin(1));
      CHECK(r.box.x1 == Approx((kGridX[3] + 2) * 72.f / 150).margin(1));
    } else {
      ++v;
      CHECK(r.box.y0 == Approx(kGridY[0] * 72.f / 150).margin(1));
    }
  }
  CHECK(h == 4);
  CHECK(v == 4);
  CHECK(out.warnings.empty());

  // An OCR'd page keeps to the recogniser's own rule tests (see page_raster.cpp): nothing added.
  layout::page_model ocred;
  ocred.number = 1, ocred.width = kPageW, ocred.height = kPageH, ocred.from_ocr = true;
  an.apply(ctx, page, opts, *found, ocred, out);
  CHECK(ocred.rules.empty());
  fz_drop_page(ctx, page);
  fz_drop_document(ctx, doc);
  fz_drop_stream(ctx, stm);
  fz_drop_context(ctx);
}

TEST_CASE("a chart drawn with vector paths becomes one figure asset, in reading order") {
  const auto pdf = quire::test::make_pdf({{kChartPage}});
  engine e;
  options opts;
  opts.extract_images = true;
  opts.asset_prefix = "assets/";
  auto res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  REQUIRE(res->assets.size() == 1);
  const asset& a = res->assets[0];
  CHECK(a.name == "fig-p1-1.png");
  CHECK(a.media_type == "image/png");
  REQUIRE(a.bytes.size() > 24);
  CHECK(std::memcmp(a.bytes.data(), "\x89PNG", 4) == 0);
  // PNG IHDR width: the bars span 100..390 pt, cropped at 150 dpi (≈ 604 px)
  const int width = (a.bytes[16] << 24) | (a.bytes[17] << 16) | (a.bytes[18] << 8) | a.bytes[19];
  CHECK(width == Approx(290 * 150 / 72.0).margin(15));
  const std::string& md = res->markdown;
  const auto heading = md.find("Rainfall"), image = md.find("![](assets/fig-p1-1.png)"), caption = md.find("Figure 1");
  REQUIRE(image != std::string::npos);
  CHECK(heading < image);
  CHECK(image < caption);
  // Analyzed for its little text; the bars hold most of the ink, yet the text layer keeps it no scan.
  CHECK_FALSE(res->pages.at(0).page_kind.empty());
  CHECK_FALSE(res->pages.at(0).no_text_layer);
  CHECK_FALSE(res->pages.at(0).ocr_used);

  // Without extract_images nothing is cropped and nothing is referenced.
  opts.extract_images = false;
  res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  CHECK(res->assets.empty());
  CHECK(res->markdown.find("![") == std::string::npos);
}

TEST_CASE("an embedded photo next to text is extracted once, not cropped again") {
  const auto pdf = quire::test::make_pdf({{kBody + "q 300 0 0 225 72 400 cm /Im0 Do Q\n", photo_image()}});
  engine e;
  options opts;
  opts.extract_images = true;
  auto res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  // Analyzed (the picture covers a real part of the page); most ink is the photo's, but the text
  // layer holds the text, so this is no scan.
  CHECK(res->pages.at(0).page_kind == "image_only");
  CHECK_FALSE(res->pages.at(0).no_text_layer);
  REQUIRE(res->assets.size() == 1);
  CHECK(res->assets[0].name.rfind("img-p1-", 0) == 0);
  CHECK(res->pages.at(0).ocr_used == false);
}

TEST_CASE("only pages where it pays are analyzed, with the caller's analyzer") {
  const raster_image grid = grid_image();
  std::string text_page;
  for (int i = 0; i < 8; ++i) text_page += "BT /F1 11 Tf 72 " + std::to_string(720 - 14 * i) + " Td (" +
                                           "A born-digital line of ordinary body text, long enough to count.) Tj ET\n";
  const auto pdf = quire::test::make_pdf({{text_page}, {"q 612 0 0 792 0 0 cm /Im0 Do Q", grid}, {""}});

  counting_analyzer mine("cuda:3");  // the converter's device analyzer (a CPU stand-in here)
  engine e;
  options opts;
  opts.ocr = ocr_mode::off;
  opts.acceleration = acceleration_policy::gpu_required;
  opts.analyzer = &mine;
  auto res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  CHECK(res->acceleration_used == "cuda:3");
  CHECK(mine.pages == 2);  // the image page and the empty page; never the text page
  REQUIRE(res->pages.size() == 3);
  CHECK(res->pages[0].page_kind.empty());
  CHECK(res->pages[1].page_kind == "text");  // rules only
  CHECK(res->pages[2].page_kind == "blank");
  CHECK_FALSE(res->pages[2].no_text_layer);  // an empty page is not a scan
  CHECK_FALSE(has_warning(*res, "page 3 has no text layer"));

  // A CPU analyzer does not satisfy gpu_required; under gpu_prefer it is used with a warning.
  counting_analyzer cpu("cpu");
  opts.analyzer = &cpu;
  auto refused = e.convert(bytes_of(pdf), opts);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::gpu_not_available);
  opts.acceleration = acceleration_policy::gpu_prefer;
  res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  CHECK(res->acceleration_used == "cpu");
  CHECK(has_warning(*res, "GPU unavailable"));
}

TEST_CASE("a device that fails mid-run: gpu_required fails, gpu_prefer finishes on the CPU") {
  const raster_image grid = grid_image();
  const auto pdf = quire::test::make_pdf({{"q 612 0 0 792 0 0 cm /Im0 Do Q", grid}});
  failing_device broken;
  engine e;
  options opts;
  opts.ocr = ocr_mode::off;
  opts.analyzer = &broken;
  opts.acceleration = acceleration_policy::gpu_required;
  auto res = e.convert(bytes_of(pdf), opts);
  REQUIRE_FALSE(res);
  CHECK(res.err().code == errc::gpu_not_available);
  CHECK(res.err().message.find("launch failure") != std::string::npos);

  opts.acceleration = acceleration_policy::gpu_prefer;
  res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  CHECK(res->acceleration_used == "cpu");
  CHECK(has_warning(*res, "GPU failed"));
  CHECK(res->pages.at(0).page_kind == "text");  // the page was still analyzed, on the CPU
}

TEST_CASE("the engine's own backend follows the policy and this machine's devices") {
  const auto pdf = quire::test::make_pdf({{kBody}});
  const gpu::device_report report = gpu::discover_devices(true);
  const bool gpu_works = report.healthy_count() > 0;
  engine e;
  options opts;

  auto res = e.convert(bytes_of(pdf), opts);  // cpu_only, the default
  REQUIRE(res);
  CHECK(res->acceleration_used == "cpu");
  CHECK_FALSE(has_warning(*res, "GPU"));

  opts.acceleration = acceleration_policy::gpu_required;
  res = e.convert(bytes_of(pdf), opts);
  if (gpu_works) {
    REQUIRE(res);
    CHECK(res->acceleration_used.rfind("cuda:", 0) == 0);
  } else {
    REQUIRE_FALSE(res);
    CHECK(res.err().code == errc::gpu_not_available);
    CHECK_FALSE(res.err().message.empty());
  }

  opts.acceleration = acceleration_policy::gpu_prefer;
  res = e.convert(bytes_of(pdf), opts);
  REQUIRE(res);
  if (gpu_works) {
    CHECK(res->acceleration_used.rfind("cuda:", 0) == 0);
  } else {
    CHECK(res->acceleration_used == "cpu");
    CHECK(has_warning(*res, "GPU unavailable, page analysis runs on the CPU"));
  }
}

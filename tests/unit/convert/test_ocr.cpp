// OCR: pages that exist only as pixels must come back as text in the layout model.
//
// The tests build their own scans in-process: a PDF page is written with MuPDF (base-14 fonts at
// known positions), rendered to a grayscale pixmap, and that pixmap becomes the only content of
// a new PDF page — exactly what a scanner produces. Recognition must then recover the words, their
// positions in points, and a heading that is larger than the body.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "convert/detail/ocr.hpp"
#include "convert/detail/raster.hpp"
#include "pdf_builder.hpp"

using namespace quire::convert;

namespace {

constexpr float kPageW = 612, kPageH = 792;

// Owns a MuPDF context and the documents made in it.
struct mupdf {
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_document* doc = nullptr;
  fz_page* page = nullptr;
  std::string bytes;  // the PDF m.doc reads from (MuPDF does not copy it)

  mupdf() {
    fz_register_document_handlers(ctx);
    fz_set_warning_callback(ctx, [](void*, const char*) {}, nullptr);
    fz_set_error_callback(ctx, [](void*, const char*) {}, nullptr);
  }
  ~mupdf() {
    fz_drop_page(ctx, page);
    fz_drop_document(ctx, doc);
    fz_drop_context(ctx);
  }
};

// Makes a one-page "scan" of `contents` at `dpi` (the page rendered to a gray image, placed on an
// otherwise empty page) and loads it into m.doc / m.page. Returns false on any MuPDF error.
bool make_scan(mupdf& m, const char* contents, int dpi, const char* placement = "612 0 0 792 0 0") {
  char draw[160];
  std::snprintf(draw, sizeof draw, "1 g 0 0 612 792 re f q %s cm /Im0 Do Q", placement);
  m.bytes = quire::test::make_pdf({{draw, quire::test::render_gray(contents, dpi)}});
  fz_context* ctx = m.ctx;
  fz_stream* stm = nullptr;
  int failed = 0;
  fz_var(stm);
  fz_try(ctx) {
    stm = fz_open_memory(ctx, reinterpret_cast<const unsigned char*>(m.bytes.data()), m.bytes.size());
    m.doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
    m.page = fz_load_page(ctx, m.doc, 0);
  }
  fz_always(ctx) { fz_drop_stream(ctx, stm); }
  fz_catch(ctx) { failed = 1; }
  return !failed && m.page;
}

// A heading, two body lines and a bulleted list item whose bullet is a filled circle (no glyph).
const char* kLetter =
    "BT /F2 24 Tf 72 700 Td (Harvest Report) Tj ET\n"
    "BT /F1 12 Tf 72 660 Td (The orchard crew picked seven hundred apples before noon.) Tj ET\n"
    "BT /F1 12 Tf 72 644 Td (Nobody could explain why the pears were still green.) Tj ET\n"
    "0 g 84 603.5 m 84 605.4 82.4 607 80.5 607 c 78.6 607 77 605.4 77 603.5 c\n"
    "77 601.6 78.6 600 80.5 600 c 82.4 600 84 601.6 84 603.5 c f\n"
    "BT /F1 12 Tf 92 600 Td (Check the ladders every morning) Tj ET\n";

std::string all_text(const layout::page_model& page) {
  std::string s;
  for (const auto& l : page.lines)
    for (const auto& sp : l.spans) s += sp.text + "\n";
  return s;
}

const layout::span* find_span(const layout::page_model& page, const std::string& needle) {
  for (const auto& l : page.lines)
    for (const auto& sp : l.spans)
      if (sp.text.find(needle) != std::string::npos) return &sp;
  return nullptr;
}

}  // namespace

TEST_CASE("OCR recovers the text, positions and heading size of an image-only page") {
  mupdf m;
  REQUIRE(make_scan(m, kLetter, 200));
  layout::page_model page;
  page.width = kPageW, page.height = kPageH;
  const quire::status ok = ocr::recognize_page(m.ctx, m.page, "eng", page);
  if (!ocr::available()) {  // built without Tesseract or without the eng model: a clear refusal
    REQUIRE_FALSE(ok);
    CHECK(ok.err().code == errc::invalid_argument);
    CHECK_FALSE(ok.err().message.empty());
    return;
  }
  REQUIRE(ok);
  INFO(all_text(page));
  CHECK(page.from_ocr);

  const layout::span* heading = find_span(page, "Harvest Report");
  const layout::span* body = find_span(page, "seven hundred apples");
  const layout::span* second = find_span(page, "pears were still green");
  const layout::span* item = find_span(page, "Check the ladders");
  REQUIRE(heading);
  REQUIRE(body);
  REQUIRE(second);
  REQUIRE(item);

  // Boxes in PDF points (top-left origin): the heading's baseline is at 792 - 700 = 92.
  CHECK(heading->box.x0 == Approx(72).margin(3));
  CHECK(heading->baseline == Approx(92).margin(3));
  CHECK(body->baseline == Approx(132).margin(3));
  CHECK(body->box.y0 < body->baseline);
  CHECK(body->box.x1 > 300);
  CHECK(body->box.x1 < kPageW);

  // Sizes: the 12 pt body is estimated near 12 pt and both body lines get the same size; the
  // 24 pt heading stands out clearly.
  CHECK(body->size == Approx(12).margin(2.5));
  CHECK(second->size == body->size);
  CHECK(heading->size > 1.5f * body->size);
  CHECK(heading->bold);
  CHECK_FALSE(body->bold);

  // The vector-drawn dot is not text to Tesseract; OCR must still report the line as bulleted.
  CHECK(item->text.rfind("\xE2\x80\xA2 ", 0) == 0);
}

TEST_CASE("one recognizer serves several pages and language changes") {
  if (!ocr::available()) return;  // the refusal path is covered above
  mupdf m;
  REQUIRE(make_scan(m, "BT /F1 14 Tf 72 700 Td (Granite quarry inspection notes) Tj ET", 150));
  ocr::recognizer rec;
  for (int round = 0; round < 2; ++round) {
    layout::page_model page;
    REQUIRE(rec.recognize(m.ctx, m.page, "eng", page));
    CHECK(find_span(page, "quarry inspection"));
    // The model was left empty: the page size comes from the render.
    CHECK(page.width == Approx(kPageW).margin(1));
    CHECK(page.height == Approx(kPageH).margin(1));
  }
  layout::page_model page;
  const quire::status missing = rec.recognize(m.ctx, m.page, "eng+zzqmissing", page);
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::invalid_argument);
  CHECK(missing.err().message.find("zzqmissing") != std::string::npos);
  CHECK(page.lines.empty());
  REQUIRE(rec.recognize(m.ctx, m.page, "eng", page));  // still usable after the failure
  CHECK(find_span(page, "Granite"));
}

TEST_CASE("a missing or malformed OCR language is a clear error, not a crash") {
  mupdf m;
  REQUIRE(make_scan(m, "BT /F1 12 Tf 72 700 Td (text) Tj ET", 100));
  layout::page_model page;
  const quire::status refused = ocr::recognize_page(m.ctx, m.page, "zzqmissing", page);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_argument);
  const std::string& error = refused.err().message;
  if (ocr::available()) {
    CHECK(error.find("zzqmissing") != std::string::npos);
    CHECK(error.find("not installed") != std::string::npos);
    CHECK(ocr::check_languages("eng").empty());
    CHECK(ocr::check_languages("eng+zzqmissing").find("'zzqmissing'") != std::string::npos);
    // These messages reach API clients (job warnings): no server path in them.
    CHECK(error.find('/') == std::string::npos);
    CHECK(ocr::check_languages("eng+zzqmissing").find('/') == std::string::npos);
    CHECK(ocr::check_languages("zzqmissing").find(ocr::tessdata_dir()) == std::string::npos);
    CHECK(ocr::check_languages("../../etc/passwd").find("invalid OCR language") != std::string::npos);
    CHECK(ocr::check_languages("eng+").find("invalid OCR language") != std::string::npos);
  } else {
    CHECK(error.find("Tesseract") != std::string::npos);
  }
  CHECK(page.lines.empty());
  CHECK_FALSE(page.from_ocr);
}

TEST_CASE("pages render at the requested resolution, huge ones capped in pixels") {
  mupdf m;
  REQUIRE(make_scan(m, "BT /F1 12 Tf 72 700 Td (text) Tj ET", 100));
  result<raster::image> full = raster::render(m.ctx, m.page, 300, 40'000'000);
  REQUIRE(full);
  CHECK(full->scale == Approx(300 / 72.0));
  CHECK(full->width == 2550);
  CHECK(full->height == 3300);
  CHECK(full->pixels.size() == static_cast<size_t>(full->width) * full->height);

  result<raster::image> capped = raster::render(m.ctx, m.page, 300, 1'000'000);
  REQUIRE(capped);
  const raster::image& img = *capped;
  CHECK(static_cast<long>(img.width) * img.height <= 1'002'000);  // rounding to whole pixels
  CHECK(img.scale < 300 / 72.0);
  CHECK(static_cast<float>(img.width) / img.height == Approx(kPageW / kPageH).epsilon(0.01));
}

TEST_CASE("OCR stops at the deadline and works again once it is lifted") {
  if (!ocr::available()) return;  // nothing runs without Tesseract
  mupdf m;
  REQUIRE(make_scan(m, kLetter, 200));
  ocr::recognizer rec;
  layout::page_model page;
  rec.set_deadline(std::chrono::steady_clock::now() - std::chrono::seconds(1));  // already passed
  const quire::status late = rec.recognize(m.ctx, m.page, "eng", page);
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::timeout);
  CHECK(late.err().message.find("deadline") != std::string::npos);
  rec.set_deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(2));  // passes mid-page
  const quire::status cut = rec.recognize(m.ctx, m.page, "eng", page);
  REQUIRE_FALSE(cut);
  CHECK(cut.err().code == errc::timeout);
  CHECK(page.lines.empty());
  rec.set_deadline(std::nullopt);
  REQUIRE(rec.recognize(m.ctx, m.page, "eng", page));
  CHECK(find_span(page, "Harvest Report"));
}

TEST_CASE("a skewed scan is levelled: its lines come out straight") {
  if (!ocr::available()) return;
  // The page image turned by 1.5 degrees about the page centre, as a crooked scan.
  const double a = 1.5 * 3.14159265358979 / 180, c = std::cos(a), s = std::sin(a);
  char placement[160];
  std::snprintf(placement, sizeof placement, "%f %f %f %f %f %f", 612 * c, 612 * s, -792 * s, 792 * c,
                306 - 306 * c + 396 * s, 396 - 306 * s - 396 * c);
  mupdf m;
  REQUIRE(make_scan(m, kLetter, 200, placement));
  ocr::recognizer rec;
  layout::page_model page;
  REQUIRE(rec.recognize(m.ctx, m.page, "eng", page));
  INFO(all_text(page));
  CHECK(std::abs(rec.last_skew()) == Approx(1.5).margin(0.2));
  const layout::span* body = find_span(page, "seven hundred apples");
  REQUIRE(body);
  // Level text: the box of a 12 pt line is about a line tall, not inflated by a 1.5 degree slant
  // across 300 pt (8 pt).
  CHECK(body->box.height() < 14);
  CHECK(body->box.width() > 300);
}

// Work budgets (options::limits, issue 16 item 3): a small PDF whose pages share one content stream
// that inflates to far more than it weighs must fail fast with work_limit_exceeded, whichever
// budget (bytes, operations, time) it trips first, and ordinary documents must not notice them.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "convert/convert.hpp"
#include "hostile_pdf.hpp"
#include "pdf_builder.hpp"

using namespace quire::convert;
using clock_type = std::chrono::steady_clock;

namespace {

struct timed {
  result<conversion> r;
  double seconds;
};

timed run(const std::string& pdf, const options& o) {
  engine e;
  const auto t0 = clock_type::now();
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), o);
  return {std::move(r), std::chrono::duration<double>(clock_type::now() - t0).count()};
}

}  // namespace

TEST_CASE("a page whose shared content stream inflates past page_content_bytes fails at once") {
  // 200 pages, one 64 MiB stream of `q Q` (64 KB on disk): without the budget each page inflates
  // and interprets the whole stream.
  const auto pdf = quire::test::shared_content_pdf(200, "q Q\n", 64u << 20);
  REQUIRE(pdf.size() < 1u << 20);
  options o;
  o.limits.page_content_bytes = 4u << 20;
  auto t = run(pdf, o);
  REQUIRE_FALSE(t.r);
  CHECK(t.r.err().code == errc::work_limit_exceeded);
  CHECK(to_string(t.r.err().code) == "work_limit_exceeded");
  CHECK(t.r.err().message.find("page 1 ") == 0);
  CHECK(t.r.err().message.find("page_content_bytes") != std::string::npos);
  CHECK(t.seconds < 2.0);
}

TEST_CASE("the inflated content of all pages together is bounded by document_content_bytes") {
  // Each page's 1 MiB is within the page budget; the ninth page takes the document past 8 MiB.
  const auto pdf = quire::test::shared_content_pdf(50, "q Q\n", 1u << 20);
  options o;
  o.ocr = ocr_mode::off;  // blank pages: OCR would only add seconds
  o.limits.page_content_bytes = 2u << 20;
  o.limits.document_content_bytes = 8u << 20;
  auto t = run(pdf, o);
  REQUIRE_FALSE(t.r);
  CHECK(t.r.err().code == errc::work_limit_exceeded);
  CHECK(t.r.err().message.find("page 9 ") == 0);
  CHECK(t.r.err().message.find("document_content_bytes") != std::string::npos);
}

TEST_CASE("a page drawing more than page_operators operations fails with work_limit_exceeded") {
  const auto pdf = quire::test::shared_content_pdf(3, "BT /F1 1 Tf 72 72 Td (x) Tj ET\n", 2u << 20);
  options o;
  o.limits.page_operators = 10000;
  auto t = run(pdf, o);
  REQUIRE_FALSE(t.r);
  CHECK(t.r.err().code == errc::work_limit_exceeded);
  CHECK(t.r.err().message.find("page_operators") != std::string::npos);
}

TEST_CASE("a page that draws nothing but takes long is stopped by page_seconds inside the interpreter") {
  // 256 MiB of `q Q`: no device call ever happens, so only the cookie's abort flag (set by the
  // watchdog thread) can stop the interpreter before the stream's end.
  const auto pdf = quire::test::shared_content_pdf(2, "q Q\n", 256u << 20);
  options o;
  o.limits.page_seconds = 0.2;
  auto t = run(pdf, o);
  REQUIRE_FALSE(t.r);
  CHECK(t.r.err().code == errc::work_limit_exceeded);
  CHECK(t.r.err().message.find("page_seconds") != std::string::npos);
  CHECK(t.seconds < 1.5);
}

TEST_CASE("ordinary pages convert unchanged under the default service budgets") {
  const std::string pdf = quire::test::make_pdf(
      {{quire::test::text_at("F1", 12, 72, 700, "Budgets leave normal pages alone.")}, {quire::test::text_at("F1", 12, 72, 700, "Second page.")}});
  options o;
  o.limits = {60, 128u << 20, 2048ull << 20, 2000000};
  auto t = run(pdf, o);
  REQUIRE(t.r);
  CHECK(t.r->pages.size() == 2);
  CHECK(t.r->markdown.find("Budgets leave normal pages alone.") != std::string::npos);
}

// Bad input never crashes the engine: every case maps to a stable error code.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "convert/convert.hpp"

using namespace quire::convert;

namespace {
result<conversion> convert_text(const std::string& bytes) {
  engine e;
  return e.convert(std::as_bytes(std::span(bytes.data(), bytes.size())), {});
}
}  // namespace

TEST_CASE("empty input is pdf_empty") {
  auto r = convert_text("");
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_empty);
}

TEST_CASE("bytes that are not a PDF are pdf_unreadable") {
  auto r = convert_text("hello, this is plain text and not a PDF at all\n");
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_unreadable);
  CHECK(to_string(r.err().code) == "pdf_unreadable");
}

// ---- damaged and hostile PDFs (built in memory, then broken on purpose) ----

#include "hostile_pdf.hpp"
#include "pdf_builder.hpp"

namespace {
std::string good_pdf() {
  return quire::test::make_pdf({{quire::test::text_at("F1", 11, 72, 700, "A readable page of text.")}});
}
}  // namespace

TEST_CASE("an encrypted PDF that needs a password is pdf_encrypted") {
  quire::test::build_options o;
  o.user_password = "secret";
  auto r = convert_text(quire::test::make_pdf({{quire::test::text_at("F1", 11, 72, 700, "Hidden.")}}, o));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_encrypted);
}

TEST_CASE("a well-formed PDF with zero pages is pdf_empty") {
  auto r = convert_text(quire::test::make_pdf({}));
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_empty);
}

TEST_CASE("a damaged PDF from which no page can be recovered is pdf_unreadable") {
  const std::string pdf =  // no xref, no page objects: MuPDF's repair finds nothing
      "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
      "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
      "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
  auto r = convert_text(pdf);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::pdf_unreadable);
}

TEST_CASE("a corrupt xref table is repaired and the text still comes out, with a warning") {
  std::string pdf = good_pdf();
  const auto at = pdf.rfind("startxref");
  REQUIRE(at != std::string::npos);
  pdf.replace(at, std::string::npos, "startxref\n999999\n%%EOF\n");  // points nowhere
  auto r = convert_text(pdf);
  REQUIRE(r);
  CHECK(r->markdown.find("A readable page of text.") != std::string::npos);
  CHECK_FALSE(r->warnings.empty());  // MuPDF's repair notes are captured, not printed
}

TEST_CASE("truncated or garbage PDFs fail with a stable code and never crash") {
  const std::string pdf = good_pdf();
  for (size_t keep : {size_t{9}, size_t{40}, pdf.size() / 3, pdf.size() / 2}) {
    auto r = convert_text(pdf.substr(0, keep));
    if (!r) {
      // a cut-off file is damaged, not empty
      CHECK(r.err().code == errc::pdf_unreadable);
      CHECK_FALSE(r.err().message.empty());
    }
  }
  auto r = convert_text("%PDF-1.7\n" + std::string(2000, '\x13') + "\n%%EOF\n");
  REQUIRE_FALSE(r);
  CHECK((r.err().code == errc::pdf_unreadable || r.err().code == errc::pdf_empty));
}

TEST_CASE("a conversion past its deadline stops with timeout") {
  std::string content;
  for (int i = 0; i < 4000; ++i) content += quire::test::text_at("F1", 6, 72, 700 - (i % 100) * 6, "busy page text");
  const std::string pdf = quire::test::make_pdf({{content}, {content}});
  engine e;
  options o;
  o.timeout_seconds = 1e-6;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), o);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::timeout);
}

TEST_CASE("a page range outside the document is invalid_argument") {
  engine e;
  const std::string pdf = good_pdf();
  options o;
  o.first_page = 2;
  o.last_page = 5;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), o);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
}

namespace {
// A hand-written PDF whose pages node lists `kids` and claims `count` pages; object 3 is the one
// real page.
std::string page_tree_pdf(const std::string& kids, int count) {
  const std::string content = "BT /F1 12 Tf 72 700 Td (The one page.) Tj ET";
  std::vector<std::string> objs = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(count) + " >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  return quire::test::objects_pdf(objs);
}
}  // namespace

TEST_CASE("a page tree that claims more pages than it holds converts the pages it holds, with a warning") {
  auto check = [](const std::string& pdf, const std::string& why) {
    INFO(why);
    auto r = convert_text(pdf);
    REQUIRE(r);
    CHECK(r->page_count == 1);
    CHECK(r->pages.size() == 1);
    CHECK(r->markdown.find("The one page.") != std::string::npos);
    bool warned = false;
    for (const auto& w : r->warnings) warned = warned || w.find("page tree is broken") != std::string::npos;
    CHECK(warned);
  };
  check(page_tree_pdf("3 0 R 2 0 R", 1000000), "a cycle back to the root claiming a million pages");
  check(page_tree_pdf("3 0 R", 20000), "an inflated /Count");
  // The same file with an honest tree: no warning.
  auto ok = convert_text(page_tree_pdf("3 0 R", 1));
  REQUIRE(ok);
  CHECK(ok->page_count == 1);
  for (const auto& w : ok->warnings) CHECK(w.find("page tree") == std::string::npos);
}

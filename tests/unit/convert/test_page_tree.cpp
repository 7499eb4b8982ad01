// The flat page-tree regrouping (convert/detail/page_tree.hpp): after it, every page is still found at its
// number, in its order, with the attributes it inherits, and page numbers found upward (links,
// outlines) are unchanged; trees it must not touch are left alone; and the engine's output for a
// flat document is the same text in the same order.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/page_tree.hpp"
#include "pdf_builder.hpp"

using namespace quire::convert;

namespace {

std::string page_text(int n) { return "Page marker " + std::to_string(n) + " of the flat tree."; }

std::string flat_pdf(int pages) {
  std::vector<quire::test::page_spec> specs;
  for (int i = 1; i <= pages; ++i) specs.emplace_back(quire::test::text_at("F1", 11, 72, 400, page_text(i)));
  return quire::test::make_pdf(specs);
}

// A document opened from memory, for poking at its page tree directly.
struct open_pdf {
  std::string bytes;
  fz_context* ctx = fz_new_context(nullptr, nullptr, FZ_STORE_DEFAULT);
  fz_document* doc = nullptr;
  pdf_document* pdf = nullptr;

  explicit open_pdf(std::string b) : bytes(std::move(b)) {
    fz_register_document_handlers(ctx);
    fz_stream* stm = fz_open_memory(ctx, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
    fz_drop_stream(ctx, stm);
    pdf = pdf_specifics(ctx, doc);
  }
  ~open_pdf() {
    fz_drop_document(ctx, doc);
    fz_drop_context(ctx);
  }
  pdf_obj* root_pages() { return pdf_dict_getp(ctx, pdf_trailer(ctx, pdf), "Root/Pages"); }
  int root_kids() { return pdf_array_len(ctx, pdf_dict_get(ctx, root_pages(), PDF_NAME(Kids))); }
  int regroup() {
    int added = -1;
    fz_try(ctx) { added = regroup_flat_page_tree(ctx, pdf); }
    fz_catch(ctx) { added = -1; }
    return added;
  }
  // The page's text as MuPDF extracts it, and the number MuPDF finds for the page object upward.
  std::string text_of(int index, int* number_upward) {
    fz_page* page = fz_load_page(ctx, doc, index);
    fz_stext_page* st = fz_new_stext_page_from_page(ctx, page, nullptr);
    fz_buffer* buf = fz_new_buffer_from_stext_page(ctx, st);
    std::string s = fz_string_from_buffer(ctx, buf);
    *number_upward = pdf_lookup_page_number(ctx, pdf, reinterpret_cast<pdf_page*>(page)->obj);
    fz_drop_buffer(ctx, buf);
    fz_drop_stext_page(ctx, st);
    fz_drop_page(ctx, page);
    return s;
  }
};

}  // namespace

TEST_CASE("a flat page tree is regrouped and every page keeps its number and content") {
  const int pages = 1000;
  open_pdf p(flat_pdf(pages));
  REQUIRE(p.pdf);
  REQUIRE(p.root_kids() == pages);  // the builder appends every page to the root: the flat kind

  // 1000 leaves make 32 groups, which fit under the root: one new level.
  CHECK(p.regroup() == (pages + kPageTreeFanout - 1) / kPageTreeFanout);
  CHECK(p.root_kids() <= kPageTreeFanout);
  CHECK(pdf_dict_get_int(p.ctx, p.root_pages(), PDF_NAME(Count)) == pages);
  CHECK(fz_count_pages(p.ctx, p.doc) == pages);

  for (int i : {0, 1, 31, 32, 33, 499, 998, 999}) {
    int upward = -1;
    CAPTURE(i);
    CHECK(p.text_of(i, &upward).find(page_text(i + 1)) != std::string::npos);
    CHECK(upward == i);
  }
  CHECK(p.regroup() == 0);  // already balanced: nothing more to do
}

TEST_CASE("more pages than fanout squared get more than one new level") {
  const int pages = kPageTreeFanout * kPageTreeFanout + 5;
  open_pdf p(flat_pdf(pages));
  const int level1 = (pages + kPageTreeFanout - 1) / kPageTreeFanout;
  const int level2 = (level1 + kPageTreeFanout - 1) / kPageTreeFanout;
  CHECK(p.regroup() == level1 + level2);
  CHECK(p.root_kids() == level2);
  for (int i : {0, pages / 2, pages - 1}) {
    int upward = -1;
    CAPTURE(i);
    CHECK(p.text_of(i, &upward).find(page_text(i + 1)) != std::string::npos);
    CHECK(upward == i);
  }
}

TEST_CASE("inherited page attributes still reach the pages after regrouping") {
  open_pdf p(flat_pdf(200));
  // Move the media box and the rotation up to the root: the pages must still see both.
  for (int i = 0; i < 200; ++i) {
    pdf_obj* page = pdf_array_get(p.ctx, pdf_dict_get(p.ctx, p.root_pages(), PDF_NAME(Kids)), i);
    pdf_dict_del(p.ctx, page, PDF_NAME(MediaBox));
    pdf_dict_del(p.ctx, page, PDF_NAME(Rotate));
  }
  pdf_dict_put_rect(p.ctx, p.root_pages(), PDF_NAME(MediaBox), fz_make_rect(0, 0, 300, 500));
  pdf_dict_put_int(p.ctx, p.root_pages(), PDF_NAME(Rotate), 90);
  REQUIRE(p.regroup() > 0);
  fz_page* page = fz_load_page(p.ctx, p.doc, 150);
  const fz_rect r = fz_bound_page(p.ctx, page);
  fz_drop_page(p.ctx, page);
  CHECK(r.x1 - r.x0 == Approx(500));  // rotated 90°: width and height swap
  CHECK(r.y1 - r.y0 == Approx(300));
}

TEST_CASE("small trees and inconsistent trees are left exactly as they are") {
  SECTION("few pages") {
    open_pdf p(flat_pdf(2 * kPageTreeFanout));
    CHECK(p.regroup() == 0);
    CHECK(p.root_kids() == 2 * kPageTreeFanout);
  }
  SECTION("a /Count that disagrees with the kids") {
    open_pdf p(flat_pdf(100));
    pdf_dict_put_int(p.ctx, p.root_pages(), PDF_NAME(Count), 99);
    CHECK(p.regroup() == 0);
    CHECK(p.root_kids() == 100);
  }
  SECTION("a kid that is not a page") {
    open_pdf p(flat_pdf(100));
    pdf_obj* kids = pdf_dict_get(p.ctx, p.root_pages(), PDF_NAME(Kids));
    pdf_dict_put(p.ctx, pdf_array_get(p.ctx, kids, 50), PDF_NAME(Type), PDF_NAME(Font));
    CHECK(p.regroup() == 0);
    CHECK(p.root_kids() == 100);
  }
}

TEST_CASE("the engine converts a flat document to the same text in page order") {
  const std::string pdf = flat_pdf(300);
  engine e;
  auto r = e.convert(std::as_bytes(std::span(pdf.data(), pdf.size())), {});
  REQUIRE(r);
  CHECK(r->page_count == 300);
  std::size_t at = 0;
  for (int i = 1; i <= 300; ++i) {
    const auto found = r->markdown.find(page_text(i), at);
    CAPTURE(i);
    REQUIRE(found != std::string::npos);
    at = found;
  }
  for (const auto& w : r->warnings) CHECK(w.find("page tree") == std::string::npos);
}

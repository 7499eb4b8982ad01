// The engine's outer loop: open the document, walk the requested pages, hand each page's
// structured text to the layout pipeline, and collect the Markdown. MuPDF reports errors with
// setjmp/longjmp (fz_try); every fz_try block here holds only C data, and errors are turned into
// `error` values right after the block.
#include "convert/convert.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>

#include "convert/detail/analyze.hpp"
#include "convert/detail/extract.hpp"
#include "convert/detail/ocr.hpp"
#include "convert/detail/page_raster.hpp"
#include "convert/detail/page_tree.hpp"
#include "convert/detail/render.hpp"
#include "convert/detail/text.hpp"
#include "convert/detail/work_budget.hpp"

extern "C" {
#include <mupdf/pdf.h>
}

namespace quire::convert {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::pdf_unreadable: return "pdf_unreadable";
    case errc::pdf_encrypted: return "pdf_encrypted";
    case errc::pdf_empty: return "pdf_empty";
    case errc::timeout: return "timeout";
    case errc::invalid_argument: return "invalid_argument";
    case errc::too_many_pages: return "too_many_pages";
    case errc::canceled: return "canceled";
    case errc::internal: return "internal";
    case errc::gpu_not_available: return "gpu_not_available";
    case errc::work_limit_exceeded: return "work_limit_exceeded";
  }
  return "internal";
}

namespace {

// Collects MuPDF's warnings/errors instead of letting them reach stderr.
struct diagnostics {
  std::vector<std::string> messages;
  std::set<std::string> seen;
  void add(const char* msg) {
    if (messages.size() < 100 && seen.insert(msg).second) messages.emplace_back(msg);
  }
};

void on_warning(void* user, const char* msg) { static_cast<diagnostics*>(user)->add(msg); }

}  // namespace

struct engine::impl {
  fz_context* ctx = nullptr;
  diagnostics diag;
  std::unique_ptr<ocr::recognizer> recognizer;  // created on the first page that needs OCR
  page_raster::analyzer raster;  // page-raster analysis backend (devices probed once per engine)

  impl() {
    // MuPDF's resource cache (fonts, decoded images) is capped well below the default 256 MB
    // so that a long document cannot grow the process past the memory budget.
    ctx = fz_new_context(nullptr, nullptr, 64u << 20);
    if (ctx) {
      fz_set_warning_callback(ctx, on_warning, &diag);
      fz_set_error_callback(ctx, on_warning, &diag);
      fz_try(ctx) { fz_register_document_handlers(ctx); }
      fz_catch(ctx) {}
    }
  }
  ~impl() {
    if (ctx) fz_drop_context(ctx);
  }

  // Opens `pdf` as a PDF document (never null): pdf_empty, pdf_unreadable or pdf_encrypted when it
  // cannot be.
  result<fz_document*> open(std::span<const std::byte> pdf) {
    if (pdf.empty()) return error{errc::pdf_empty, "the input is empty (0 bytes)"};
    fz_document* doc = nullptr;
    fz_stream* stm = nullptr;
    int failed = 0;
    fz_var(doc);
    fz_var(stm);
    fz_try(ctx) {
      stm = fz_open_memory(ctx, reinterpret_cast<const unsigned char*>(pdf.data()), pdf.size());
      doc = fz_open_document_with_stream(ctx, "application/pdf", stm);
    }
    fz_always(ctx) { fz_drop_stream(ctx, stm); }
    fz_catch(ctx) { failed = 1; }
    if (failed || !doc)
      return error{errc::pdf_unreadable, std::string("not a readable PDF: ") + fz_caught_message(ctx)};
    if (fz_needs_password(ctx, doc) && !fz_authenticate_password(ctx, doc, "")) {
      fz_drop_document(ctx, doc);
      return error{errc::pdf_encrypted, "the PDF is encrypted and needs a password"};
    }
    return doc;
  }
};

namespace {

// The MuPDF calls that can throw, each wrapped so that no function holding C++ objects contains a
// setjmp (fz_try): the values cross the longjmp through fz_var'd locals only.
// MuPDF's failures here are errc::pdf_unreadable with its message.
result<int> count_pages_of(fz_context* ctx, fz_document* doc) {
  int count = 0, failed = 0;
  fz_var(count);
  fz_var(failed);
  fz_try(ctx) { count = fz_count_pages(ctx, doc); }
  fz_catch(ctx) { failed = 1; }
  if (failed) return error{errc::pdf_unreadable, std::string("cannot count pages: ") + fz_caught_message(ctx)};
  return count;
}

result<fz_page*> load_page_of(fz_context* ctx, fz_document* doc, int index) {
  fz_page* page = nullptr;
  int failed = 0;
  fz_var(page);
  fz_var(failed);
  fz_try(ctx) { page = fz_load_page(ctx, doc, index); }
  fz_catch(ctx) { failed = 1; }
  if (failed) return error{errc::pdf_unreadable, fz_caught_message(ctx)};
  return page;
}

// The page tree's real size (page_tree.hpp); false when MuPDF failed while walking it.
bool census_of(fz_context* ctx, pdf_document* doc, int limit, page_tree_census& out) {
  int failed = 0;
  fz_var(failed);
  fz_try(ctx) { out = census_page_tree(ctx, doc, limit); }
  fz_catch(ctx) { failed = 1; }
  return !failed;
}

// The root's /Count is only a claim: believe the pages that are there (a cycle back to the root
// claimed a million and "converted" them all, each a failed page). Lowers n to what the page tree
// holds, saying so in warning; errc::pdf_unreadable when it holds none. count_pages and convert
// both count through it, so they never disagree about a document.
status bound_by_page_tree(fz_context* ctx, fz_document* doc, int& n, std::string& warning) {
  pdf_document* pdoc = pdf_specifics(ctx, doc);
  page_tree_census census;
  if (!pdoc || n <= 0 || !census_of(ctx, pdoc, n, census) || (census.repeats == 0 && census.leaves >= n)) return ok_v;
  if (census.leaves == 0)
    return error{errc::pdf_unreadable, "the page tree holds no page (it claims " + std::to_string(n) + ")"};
  warning = "the page tree is broken (" + std::string(census.repeats > 0 ? "it refers back to itself; " : "") +
            "it claims " + std::to_string(n) + " pages but holds " + std::to_string(std::min(census.leaves, n)) +
            "): only those are converted";
  n = std::min(census.leaves, n);
  return ok_v;
}

// Regroups a flat page tree so that loading page N does not walk N kids (page_tree.hpp). A failure
// leaves the document readable the slow way; it is reported (as a warning), not fatal.
status regroup_page_tree_of(fz_context* ctx, fz_document* doc) {
  pdf_document* pdoc = pdf_specifics(ctx, doc);
  if (!pdoc) return ok_v;
  int failed = 0;
  fz_var(failed);
  fz_try(ctx) { regroup_flat_page_tree(ctx, pdoc); }
  fz_catch(ctx) { failed = 1; }
  if (failed)
    return error{errc::pdf_unreadable, std::string("could not regroup the page tree: ") + fz_caught_message(ctx)};
  return ok_v;
}

fz_outline* load_outline_root(fz_context* ctx, fz_document* doc) {
  fz_outline* root = nullptr;
  fz_var(root);
  fz_try(ctx) { root = fz_load_outline(ctx, doc); }
  fz_catch(ctx) { root = nullptr; }
  return root;
}

int page_of_location(fz_context* ctx, fz_document* doc, fz_location loc) {
  int page = -1;
  fz_var(page);
  fz_try(ctx) { page = fz_page_number_from_location(ctx, doc, loc); }
  fz_catch(ctx) { page = -1; }
  return page;
}

}  // namespace

engine::engine() : impl_(std::make_unique<impl>()) {}
engine::~engine() = default;

result<int> engine::count_pages(std::span<const std::byte> pdf) {
  fz_context* ctx = impl_->ctx;
  if (!ctx) return error{errc::internal, "could not create a MuPDF context"};
  result<fz_document*> opened = impl_->open(pdf);
  if (!opened) return opened.err();
  fz_document* doc = *opened;
  result<int> n = count_pages_of(ctx, doc);
  std::string warning;
  status bounded = n ? bound_by_page_tree(ctx, doc, *n, warning) : status(n.err());
  fz_drop_document(ctx, doc);
  if (!bounded) return bounded.err();
  return n;
}

namespace {

// Flattens the PDF outline (bookmarks) into entries with level, target page and title key.
std::vector<outline_entry> load_outline(fz_context* ctx, fz_document* doc) {
  std::vector<outline_entry> out;
  fz_outline* root = load_outline_root(ctx, doc);
  struct frame {
    fz_outline* node;
    int level;
  };
  std::vector<frame> stack;
  if (root) stack.push_back({root, 1});
  while (!stack.empty() && out.size() < 5000) {
    frame f = stack.back();
    stack.pop_back();
    if (!f.node) continue;
    stack.push_back({f.node->next, f.level});
    if (f.level < 8) stack.push_back({f.node->down, f.level + 1});
    outline_entry e;
    e.key = text::key(f.node->title ? f.node->title : "");
    e.bare = unnumbered_key(e.key);
    e.level = f.level;
    const int page = page_of_location(ctx, doc, f.node->page);
    e.page = page >= 0 ? page + 1 : 0;
    e.y = f.node->y;
    if (!e.key.empty()) out.push_back(std::move(e));
  }
  fz_drop_outline(ctx, root);
  return out;
}

// A page whose text layer is empty, or a few stray characters on a page-sized image (a scan).
bool no_text_layer(const layout::page_model& m) {
  double image_area = 0;
  for (const auto& im : m.images) image_area += double(im.box.width()) * im.box.height();
  const double page_area = double(m.width) * m.height;
  return m.chars == 0 || (m.chars < 20 && page_area > 0 && image_area > 0.5 * page_area);
}

// How many pages are observed ahead of the one being analyzed (running headers, heading styles).
constexpr size_t kLookahead = 8;

}  // namespace

result<conversion> engine::convert(std::span<const std::byte> pdf, const options& opts) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  fz_context* ctx = impl_->ctx;
  if (!ctx) return error{errc::internal, "could not create a MuPDF context"};
  impl_->diag = {};

  result<fz_document*> opened = impl_->open(pdf);
  if (!opened) return opened.err();
  fz_document* doc = *opened;
  struct doc_guard {
    fz_context* c;
    fz_document* d;
    ~doc_guard() { fz_drop_document(c, d); }
  } guard{ctx, doc};

  result<int> counted = count_pages_of(ctx, doc);
  if (!counted) return counted.err();
  int page_count = *counted;
  if (page_count <= 0) {
    // no pages in a file MuPDF had to rebuild: truncated or damaged, not an empty document
    pdf_document* pdoc = pdf_specifics(ctx, doc);
    if (pdoc && pdf_was_repaired(ctx, pdoc))
      return error{errc::pdf_unreadable, "the PDF is damaged or truncated: no page could be recovered"};
    return error{errc::pdf_empty, "the PDF has no pages"};
  }
  std::string tree_warning;
  if (status bounded = bound_by_page_tree(ctx, doc, page_count, tree_warning); !bounded) return bounded.err();

  const int first = opts.first_page;
  const int last = opts.last_page == 0 ? page_count : opts.last_page;
  if (first < 1 || last < first || last > page_count)
    return error{errc::invalid_argument, "page range " + std::to_string(first) + "-" + std::to_string(last) +
                                             " is outside the document (1-" + std::to_string(page_count) + ")"};
  if (opts.max_pages > 0 && last - first + 1 > opts.max_pages)
    return error{errc::too_many_pages, std::to_string(last - first + 1) + " pages exceed the limit of " +
                                           std::to_string(opts.max_pages)};

  conversion out;
  out.page_count = page_count;
  if (!tree_warning.empty()) out.warnings.push_back(tree_warning);
  if (status regrouped = regroup_page_tree_of(ctx, doc); !regrouped) out.warnings.push_back(regrouped.err().message);
  if (auto e = impl_->raster.begin(opts, out)) return *e;
  doc_context dc;
  dc.page_count = page_count;
  dc.outline = load_outline(ctx, doc);
  document_builder builder(out.assets, opts.asset_prefix);

  extract_options xo;
  xo.images = opts.extract_images;
  std::optional<clock::time_point> doc_deadline;
  if (opts.timeout_seconds > 0)
    doc_deadline = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(opts.timeout_seconds));
  // Work budgets (options::limits): bytes are counted before a page runs, operations and time while
  // it runs (the watchdog stops MuPDF's interpreter between two tokens).
  const auto& lim = opts.limits;
  const auto page_time = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(lim.page_seconds));
  work_budget::page_watchdog watchdog;
  std::uint64_t page_ops = 0, doc_bytes = 0;
  xo.max_operators = lim.page_operators;
  xo.operators = &page_ops;
  if (lim.page_seconds > 0) xo.cookie = watchdog.cookie();
  auto over = [](int pno, const std::string& what) {
    return error{errc::work_limit_exceeded, "page " + std::to_string(pno) + " " + what};
  };

  struct held_page {
    layout::page_model model;
    page_stats stats;
  };
  std::deque<held_page> window;
  auto finalize_front = [&] {
    held_page& h = window.front();
    const auto a0 = clock::now();
    std::vector<layout::block> blocks = dc.analyze(h.model);
    h.stats.blocks = static_cast<int>(blocks.size());
    if (blocks.empty() && dc.content_chars > 0 && !h.stats.no_text_layer) {
      // never silent: a page with text that yields nothing is flagged and said
      h.stats.text_lost = true;
      out.warnings.push_back("page " + std::to_string(h.stats.number) + ": its text (" +
                             std::to_string(dc.content_chars) + " characters) gave no output");
    }
    builder.add(std::move(blocks));
    h.stats.milliseconds += std::chrono::duration<double, std::milli>(clock::now() - a0).count();
    out.pages.push_back(h.stats);
    out.doc.pages.push_back({h.stats.number, h.model.width, h.model.height});
    window.pop_front();
  };

  for (int pno = first; pno <= last; ++pno) {
    const auto p0 = clock::now();
    held_page h;
    h.stats.number = pno;
    std::string message;  // why the page failed: a warning once the page is done
    result<fz_page*> loaded = load_page_of(ctx, doc, pno - 1);
    fz_page* page = loaded.value_or(nullptr);
    if (!loaded) message = std::move(loaded.err().message);
    int failed = page ? 0 : 1;
    std::optional<clock::time_point> page_deadline;
    if (lim.page_seconds > 0) page_deadline = p0 + page_time;
    xo.deadline = doc_deadline;
    if (page_deadline && (!xo.deadline || *page_deadline < *xo.deadline)) xo.deadline = page_deadline;
    if (!failed && (lim.page_content_bytes > 0 || lim.document_content_bytes > 0)) {
      std::uint64_t cap = lim.page_content_bytes;
      if (lim.document_content_bytes > 0) {
        const std::uint64_t left = lim.document_content_bytes - std::min(doc_bytes, lim.document_content_bytes);
        if (cap == 0 || left < cap) cap = left;
      }
      const std::uint64_t bytes = work_budget::content_bytes(ctx, page, cap);
      doc_bytes += bytes;
      if (bytes > cap) {
        fz_drop_page(ctx, page);
        if (lim.page_content_bytes > 0 && bytes > lim.page_content_bytes)
          return over(pno, "inflates its content to more than " + std::to_string(lim.page_content_bytes) +
                               " bytes (page_content_bytes)");
        return over(pno, "brings the document's inflated content past " + std::to_string(lim.document_content_bytes) +
                             " bytes (document_content_bytes)");
      }
    }
    page_ops = 0;
    if (page_deadline) watchdog.arm(*page_deadline);
    if (!failed) {
      if (status got = extract_page(ctx, page, pno, xo, out.assets, h.model); !got) {
        failed = 1;
        message = std::move(got.err().message);
      }
    }
    // Out of time already: no raster analysis or OCR of a page that is over its budget.
    if (page_deadline && clock::now() > *page_deadline && (!doc_deadline || *page_deadline < *doc_deadline)) {
      fz_drop_page(ctx, page);
      return over(pno, "took more than " + fmt::format("{:g}", lim.page_seconds) + " s (page_seconds)");
    }
    h.stats.chars = h.model.chars;
    h.stats.text_rotation = h.model.rotation;
    h.stats.no_text_layer = !failed && no_text_layer(h.model);
    page_raster::findings seen;  // raster analysis, for the pages where it pays (page_raster.hpp)
    if (!failed) {
      auto found = impl_->raster.analyze(ctx, page, opts, h.model, out);
      if (!found) {
        fz_drop_page(ctx, page);
        return found.err();
      }
      seen = std::move(*found);
      if (seen.analyzed) h.stats.page_kind = gpu::to_string(seen.kind);
      h.stats.no_text_layer = page_raster::decide_scanned(seen, h.stats.no_text_layer);
    }
    if (!failed && (opts.ocr == ocr_mode::force ||
                    (opts.ocr == ocr_mode::automatic && page_raster::decide_scanned(seen, ocr::needs_ocr(h.model))))) {
      // a scan: recognise the page raster and run the same pipeline on the words
      if (!impl_->recognizer) impl_->recognizer = std::make_unique<ocr::recognizer>();
      impl_->recognizer->set_deadline(xo.deadline);
      layout::page_model scanned;
      scanned.number = pno;
      scanned.width = h.model.width;
      scanned.height = h.model.height;
      if (status recognized = impl_->recognizer->recognize(ctx, page, opts.ocr_languages, scanned)) {
        h.model.lines = std::move(scanned.lines);
        h.model.chars = scanned.chars;
        h.model.from_ocr = true;
        h.stats.ocr_used = true;
        h.stats.chars = h.model.chars;
      } else {
        out.warnings.push_back("page " + std::to_string(pno) + ": OCR failed: " + recognized.err().message);
      }
    }
    if (!failed) impl_->raster.apply(ctx, page, opts, seen, h.model, out);
    if (h.stats.ocr_used) impl_->recognizer->level(h.model);  // rules etc. into the OCR's levelled frame
    fz_drop_page(ctx, page);
    watchdog.disarm();
    if (lim.page_operators > 0 && page_ops > lim.page_operators)
      return over(pno, "draws more than " + std::to_string(lim.page_operators) + " operations (page_operators)");
    if (page_deadline && clock::now() > *page_deadline && (!doc_deadline || *page_deadline < *doc_deadline))
      return over(pno, "took more than " + fmt::format("{:g}", lim.page_seconds) + " s (page_seconds)");
    if (doc_deadline && clock::now() > *doc_deadline)
      return error{errc::timeout, "conversion exceeded " + std::to_string(opts.timeout_seconds) + " s (page " +
                                      std::to_string(pno) + ")"};
    if (failed) out.warnings.push_back("page " + std::to_string(pno) + ": " + message);
    if (h.stats.no_text_layer && !h.stats.ocr_used)
      out.warnings.push_back("page " + std::to_string(pno) + " has no text layer (scanned image?)");
    h.stats.milliseconds = std::chrono::duration<double, std::milli>(clock::now() - p0).count();
    dc.observe(h.model);
    window.push_back(std::move(h));
    while (window.size() > kLookahead) finalize_front();
    if (opts.progress && !opts.progress(pno - first + 1, last - first + 1))
      return error{errc::canceled, "canceled after page " + std::to_string(pno)};
  }
  while (!window.empty()) finalize_front();
  out.doc.blocks = builder.finish();
  out.markdown = to_markdown(out.doc, {opts.page_markers});
  for (auto& m : impl_->diag.messages) out.warnings.push_back("mupdf: " + m);
  out.milliseconds = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  return out;
}

}  // namespace quire::convert

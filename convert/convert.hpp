// quire::convert — the conversion engine: PDF bytes in, a document model, its Markdown (and image
// assets) out.
//
// This is the module's public header, with document.hpp (the model, its Markdown, chunks) and
// serialize.hpp (JSON). The engine is a pure library: no threads, no global
// state, no I/O beyond the bytes it is given and the result it returns. Each `engine` owns one
// MuPDF context, so use one engine per thread. Pages are processed one at a time and only a
// small per-document summary is kept across pages, so memory does not grow with page count.
//
// Errors are values (`result<T>` = quire::expected<T>, base/expected.hpp), never exceptions across
// this boundary; codes (`errc`, domain "convert") have stable names that the CLI and the HTTP API
// pass on unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/expected.hpp"
#include "convert/acceleration.hpp"
#include "convert/document.hpp"

namespace quire::gpu {
class page_analyzer;  // gpu/page_analysis.hpp
}

namespace quire::convert {

// Stable error codes. Add new ones at the end; never renumber or rename (clients match on the text).
enum class errc {
  pdf_unreadable,    // not a PDF, truncated beyond repair, corrupt
  pdf_encrypted,     // needs a password
  pdf_empty,         // zero bytes or zero pages
  timeout,           // the deadline passed before the document finished
  invalid_argument,  // bad options (page range outside the document, ...)
  too_many_pages,    // over options::max_pages
  canceled,          // the caller's cancel hook asked us to stop
  internal,          // a bug: should never be seen
  gpu_not_available, // acceleration_policy::gpu_required and no working GPU (retryable elsewhere)
  work_limit_exceeded,  // a page or the document went past options::limits (deterministic: never retried)
};

std::string_view to_string(errc code);  // "pdf_unreadable", ...

}  // namespace quire::convert

QUIRE_ERROR_DOMAIN(convert, "convert")  // errc as the "convert" error domain (base/error.hpp)

namespace quire::convert {

// The engine's errors are quire::error (base/error.hpp) with codes of the "convert" domain.
using error = quire::error;
template <class T>
using result = quire::expected<T>;
using quire::to_string;  // convert::to_string(e.code): the code's stable name

enum class ocr_mode { automatic, off, force };

// acceleration_policy, its to_string and parse_acceleration_policy: convert/acceleration.hpp.

// OCR language models (Tesseract .traineddata) this machine can use, sorted: "eng", "deu",
// "chi_sim", … ("osd", orientation and script detection only, is not a language and is left out).
// Empty when quire was built without Tesseract or no model is installed.
std::vector<std::string> installed_ocr_languages();
// Checks a language spec as options::ocr_languages takes it ("eng", "eng+deu"): "" when every
// language is installed, else a message naming the missing (or malformed) one. `missing` receives
// the names that are well-formed but not installed.
std::string check_ocr_languages(const std::string& languages, std::vector<std::string>* missing = nullptr);

// The resolution pages are rendered at for analysis. An analyzer passed in options::analyzer should
// be made with gpu::analysis_params::dpi set to this (its pixel thresholds scale with the dpi).
constexpr int analysis_dpi = 150;

struct options {
  int first_page = 1;   // 1-based, inclusive
  int last_page = 0;    // 0 = last page of the document
  int max_pages = 0;    // 0 = unlimited; more pages → errc::too_many_pages
  bool extract_images = false;  // collect embedded images as assets and reference them
  std::string asset_prefix;     // prefix of image links in the Markdown, e.g. "assets/"
  bool page_markers = false;    // `<!-- page N -->` lines in conversion::markdown (markdown_options)
  ocr_mode ocr = ocr_mode::automatic;
  std::string ocr_languages = "eng";
  // Wall-clock budget for the whole document; 0 = none. Checked between pages and inside long
  // pages (MuPDF cookie abort), so one absurd page cannot hang the caller.
  double timeout_seconds = 0;
  // Work budgets (0 = no limit). A document past one fails at once with errc::work_limit_exceeded:
  // the same bytes would exceed it again, so the failure is final, not a retry.
  struct work_limits {
    double page_seconds = 0;                  // wall time of one page (text, raster analysis, OCR)
    std::uint64_t page_content_bytes = 0;     // decompressed content-stream bytes of one page
    std::uint64_t document_content_bytes = 0; // the same, summed over the pages converted
    std::uint64_t page_operators = 0;         // drawing operations (text, paths, images) of one page
    // What `quire convert` applies unless told otherwise (the service's QUIRE_PAGE_* defaults are the
    // same numbers): the quality gate converts every eval document within them, and a hostile file
    // past them fails in about a second instead of holding a converter for minutes.
    static constexpr work_limits recommended() { return {60, 128ull << 20, 2048ull << 20, 2000000}; }
  } limits;
  // Called after each page (pages done, pages total). Returning false cancels (errc::canceled).
  std::function<bool(int, int)> progress;
  acceleration_policy acceleration = acceleration_policy::cpu_only;
  // Optional analyzer owned by the caller (a service converter owns one per GPU), used for the
  // pages that need analysis; it must outlive the call and is not used concurrently. Without one
  // the engine makes its own per `acceleration` (the CPU reference lazily, devices probed once).
  gpu::page_analyzer* analyzer = nullptr;
};

struct page_stats {
  int number = 0;          // 1-based page number in the document
  int chars = 0;           // characters in the text layer (or from OCR)
  int blocks = 0;          // Markdown blocks emitted for the page
  bool no_text_layer = false;  // the page is an image without usable text (a scan)
  bool ocr_used = false;
  // degrees the page was turned to read its text left to right (a landscape page set sideways)
  int text_rotation = 0;
  // the page has text besides its running headers and footers, yet none of it reached the output
  bool text_lost = false;
  double milliseconds = 0;
  // Raster analysis of the page: "blank", "text", "mixed", "image_only"; "" = not analyzed (pages
  // with a good text layer and no large images are not rendered).
  std::string page_kind;
};

struct asset {
  std::string name;        // file name, unique within the result, e.g. "img-p3-1.png"
  std::string media_type;  // "image/png", "image/jpeg"
  std::vector<std::uint8_t> bytes;
};

struct conversion {
  document doc;          // the blocks in reading order: markdown, JSON and chunks all come from it
  std::string markdown;  // to_markdown(doc, {options::page_markers})
  int page_count = 0;                 // pages in the document
  std::vector<page_stats> pages;      // pages converted, in order
  std::vector<std::string> warnings;  // MuPDF warnings and engine notes, deduplicated
  std::vector<asset> assets;          // empty unless options::extract_images
  double milliseconds = 0;
  std::string acceleration_used = "cpu";  // "cpu" or "cuda:N": the page-analysis backend in use
};

// Stateless between calls: converting the same bytes with the same options twice gives
// byte-identical Markdown.
class engine {
 public:
  engine();
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  result<conversion> convert(std::span<const std::byte> pdf, const options& opts);

  // Number of pages, or an error, without converting anything.
  result<int> count_pages(std::span<const std::byte> pdf);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace quire::convert


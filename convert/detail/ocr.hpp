// quire::convert::ocr — text for pages that have no usable text layer (scans).
//
// A page is rendered with MuPDF to a grayscale raster, Tesseract (C++ API) recognises it, and its
// words are placed into the engine's layout model (layout::page_model::lines) in PDF points, so the
// same pipeline that handles born-digital pages turns them into headings, paragraphs, lists and
// tables. Tesseract's own layout analysis handles skew and gives the reading order we keep.
//
// Tesseract is optional at build time (QUIRE_HAVE_TESSERACT, set by convert/CMakeLists.txt when
// pkg-config finds it). Without it `available()` is false and recognition fails with a clear error,
// so the engine only reports scanned pages.
//
// Cost model: loading a language model takes 100+ ms, so an engine owns one `recognizer` and
// reuses it for every page; `recognize_page` is a one-shot convenience that pays it each call.
// Recognising a 300 dpi A4 page takes seconds.
//
// Use in the engine, per page, while the fz_page is still loaded:
//   if (opts.ocr == ocr_mode::force || (opts.ocr == ocr_mode::automatic && ocr::needs_ocr(model))) {
//     layout::page_model scanned;  (number, width, height copied from `model`)
//     if (status done = recognizer.recognize(ctx, page, opts.ocr_languages, scanned)) → take
//       scanned.lines (and .chars), set model.from_ocr and page_stats::ocr_used;
//       else add done.err().message as a warning.
//   }
//   and once everything else is in the model (raster rules, figures): recognizer.level(model).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/layout.hpp"

extern "C" {
struct fz_context;
struct fz_page;
}

namespace quire::convert::ocr {

// Built with Tesseract and the model for "eng" is installed.
bool available();

// The Tesseract data directory in use (TESSDATA_PREFIX first, then the distribution's locations),
// or "" when none holds a model.
std::string tessdata_dir();

// Checks a language spec ("eng", "eng+deu") before any work: every name must be a plain model
// name and its .traineddata must be installed. Returns "" when fine, else an error naming the
// missing language.
std::string check_languages(const std::string& languages);

// Whether the engine should OCR a page in automatic mode: the page has (almost) no characters in
// its text layer and images cover most of it. `page` is the model extracted from the text layer.
bool needs_ocr(const layout::page_model& page);

struct settings {
  int dpi = 300;                    // render resolution; Tesseract is tuned for ~300 dpi
  long max_pixels = 40'000'000;     // cap for huge pages: the resolution drops to fit (≈40 MB gray)
  // Let Tesseract's OpenMP loops use several threads. Off by default: the service runs one
  // converter per core already, and OpenMP threads that spin on a loaded machine made a page
  // 4-5x slower in our measurements (scan_sheet: 21 s vs 4.5 s at load 12 on 2 cores).
  bool parallel = false;
  // Straighten skewed scans before recognition, so that the lines, rows and columns the pipeline
  // groups by coordinates are level (Tesseract copes with skew itself, but reports its boxes in
  // the skewed frame). Skews under 0.1 degree are left alone.
  bool deskew = true;
};

// Owns a Tesseract instance, initialised lazily on first use and re-initialised only when the
// language spec changes. Not thread-safe: one per engine (engines are per thread).
class recognizer {
 public:
  explicit recognizer(settings s = {});
  ~recognizer();
  recognizer(const recognizer&) = delete;
  recognizer& operator=(const recognizer&) = delete;

  // Renders `page` and appends the recognised lines to `out.lines` (sets out.from_ocr, and
  // out.width/height when unset). On failure `out` is unchanged and the error says why:
  // errc::invalid_argument (no page, a language model missing or not loadable),
  // errc::pdf_unreadable (the page cannot be rendered), errc::timeout (the deadline passed).
  status recognize(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out);

  // A skewed scan is straightened before recognition, so the recognised lines are level, in the
  // page's points turned about the page centre. Whatever else describes the same page in page
  // points (raster ruling lines, figure boxes, links) is turned the same way by this call; it does
  // nothing when the last page was not turned. Call it for a page after recognize() succeeded.
  void level(layout::page_model& page) const;
  float last_skew() const;  // degrees the last page was turned by (0 = none)

  // Recognition stops at this time (Tesseract checks it as it goes) and recognize() then fails
  // with an error saying so. Unset by default; set it from options::timeout_seconds.
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> when);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The geometry half of recognition, separate from Tesseract so it can be tested on its own.
namespace detail {

// One recognised word as Tesseract reports it: pixel box (y down), its text line and block, and
// the line's metrics (pixels; descenders negative, as Tesseract gives them).
struct word {
  std::string text;
  float confidence = 0;  // 0..100
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int block = 0, line = 0;
  float x_height = 0, ascenders = 0, descenders = 0;
  bool has_baseline = false;
  float baseline_x0 = 0, baseline_y0 = 0, baseline_x1 = 0, baseline_y1 = 0;
  float stroke = 0;  // median ink run length inside the box (pixels), 0 = unknown
  bool rule_before = false;  // a vertical table rule separates it from the previous word
};

struct geometry {
  float scale = 1;        // pixels per point
  float x0 = 0, y0 = 0;   // page origin in points
};

// Turns words into layout lines appended to `out.lines`: noise dropped, each Tesseract line split
// where a wide gap separates words (table cells, columns), sizes estimated from the x-height and
// bold from stroke width relative to the page. Keeps Tesseract's reading order.
void place_words(std::vector<word> words, const geometry& geo, layout::page_model& out);

// A page turned by `degrees` about (cx, cy) (points) to level a skew of that many degrees.
struct turn {
  float degrees = 0;
  float cx = 0, cy = 0;
};

// Moves what the model holds in page points besides its lines (rules, marks, fills, images,
// links) into the levelled frame of `t`.
void level(layout::page_model& page, const turn& t);

}  // namespace detail

// One-shot form of recognizer::recognize (initialises Tesseract for this call only).
status recognize_page(fz_context* ctx, fz_page* page, const std::string& languages, layout::page_model& out);

}  // namespace quire::convert::ocr

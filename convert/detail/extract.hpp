// Stage 1 of the pipeline: one MuPDF page → layout::page_model.
//
// Runs the page once through a device that forwards text to MuPDF's structured-text device and
// keeps vector paths (table rules, drawn bullets, shaded backgrounds), images and link
// annotations itself. Characters are regrouped into visual line segments: rows by vertical
// overlap (so superscripts stay on their line), split at gaps too wide to be a word space (so
// two columns or two table cells on one baseline become two lines).
#pragma once

extern "C" {
#include <mupdf/fitz.h>
}

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/layout.hpp"

namespace quire::convert {

struct extract_options {
  bool images = false;  // encode embedded images into `assets`
  // Past this point the page is abandoned (checked at every drawing operation), so one absurd
  // page cannot hang the caller.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Work budget (options::limits): the drawing operations seen on this page are counted into
  // *operators; past max_operators (0 = none) the page is abandoned like at the deadline.
  std::uint64_t max_operators = 0;
  std::uint64_t* operators = nullptr;
  // Passed to fz_run_page: a watchdog (work_budget.hpp) sets its abort flag when the page's time is up.
  fz_cookie* cookie = nullptr;
};

// Whether a link annotation's target may become a Markdown link: http(s), mailto, relative and
// "#" targets. Any other scheme (javascript:, data:, vbscript:, file:, …) would run or open
// something in the reader's viewer; such a link's text is kept as plain text.
bool safe_link_target(std::string_view uri);

// Fills `out` from `page`. MuPDF errors are caught inside and answered as errc::pdf_unreadable
// with MuPDF's message (the model then holds whatever was collected before the error, which the
// engine keeps). `assets` receives the page's images when options.images is set.
status extract_page(fz_context* ctx, fz_page* page, int number, const extract_options& options,
                    std::vector<asset>& assets, layout::page_model& out);

}  // namespace quire::convert

// quire::convert::page_raster — the bridge between the engine and gpu/'s page-raster analysis.
//
// Some of what a page shows exists only in its pixels: a scan's text, the grid of a table that is
// part of an image, a chart drawn as a picture. For such pages the engine renders a grayscale
// raster (raster::render, at options' analysis dpi), runs a gpu::page_analyzer on it (CUDA or the CPU
// reference: identical results) and feeds three things back into the layout model:
//
//   1. scanned-page detection: the raster shows glyph-like ink that the text layer does not explain
//      (or the page is a picture with almost no text) → OCR in automatic mode and the page's
//      no_text_layer flag; a page whose raster is blank is not called a scan;
//   2. ruling lines found only in the raster → layout::rule entries (pixels → points), so the table
//      code builds grids from them like from vector rules (pages that keep their text layer, e.g.
//      a scan with a hidden text layer; OCR'd pages use the recogniser's own rule tests);
//   3. figure crop boxes → PNG assets cropped from a colour render of the page, placed in the model
//      as layout::image so they come out as ![](prefix/name) in reading order (extract_images only;
//      a figure that is an embedded image already extracted is not cropped twice).
//
// Which pages: only where it pays (worth_analyzing). Born-digital text pages are not rendered, so
// the common case costs nothing; a page that is analyzed costs a 150 dpi render plus the analysis
// (about 0.1 s on one core with the CPU reference).
//
// Two calls per page while the fz_page is loaded: analyze() after extraction (its findings decide
// OCR), then apply() after OCR (so the figure filter sees the OCR'd words too).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert/convert.hpp"
#include "convert/detail/layout.hpp"
#include "gpu/page_analysis.hpp"

extern "C" {
struct fz_context;
struct fz_page;
}

namespace quire::convert::page_raster {

// Why a page gets a raster analysis; none = it does not pay.
enum class reason { none, forced_ocr, images, little_text };
reason worth_analyzing(const layout::page_model& page, const options& opts);

// What the analysis of one page says; `analysis` is kept until apply().
struct findings {
  bool analyzed = false;
  gpu::page_kind kind = gpu::page_kind::blank;
  bool scanned = false;  // text (or a picture) in pixels only: OCR in automatic mode
  gpu::page_analysis analysis;
  float scale = 1;          // pixels per point of the analyzed raster
  float x0 = 0, y0 = 0;     // the raster's origin in points
};

// The engine's scanned-page decision: with findings, the raster's verdict (text or a picture in
// pixels only) or the text-layer test when the raster is not blank; without, the text-layer test.
bool decide_scanned(const findings& f, bool text_layer_test);

// ---- the pure parts, separate from MuPDF so they can be tested on synthetic analyses ----

// The raster holds text that the text layer lacks: many glyph-sized components and far fewer
// characters in the text layer (a scan, or text converted to outlines), or a picture-only page
// with (almost) no characters.
bool scanned(const gpu::page_analysis& a, const layout::page_model& page);

// Ruling lines of `a` as layout rules in points, minus those that a rule of `page` already covers
// (vector rules are exact; the raster only adds what was not drawn as a path). Lines that cannot be
// part of a table (no crossing rule, not one of a stack of parallel rules) are left out: a lone
// line in a picture is no grid, and would otherwise come out as a thematic break.
std::vector<layout::rule> raster_rules(const gpu::page_analysis& a, float scale, float x0, float y0,
                                       const layout::page_model& page);

// Figure crop boxes of `a` in points that deserve an asset of their own: big enough to be a
// figure, not an embedded image of the page that is already its own asset (same box), and not
// mostly covered by text lines (very large type is figure-like ink to the analysis).
std::vector<layout::rect> figure_boxes(const gpu::page_analysis& a, float scale, float x0, float y0,
                                       const layout::page_model& page);

// ---- the per-engine analyzer ----

class analyzer {
 public:
  analyzer();
  ~analyzer();
  analyzer(const analyzer&) = delete;
  analyzer& operator=(const analyzer&) = delete;

  // Resolves options' acceleration policy for one conversion: the caller's analyzer, else one
  // this analyzer owns (the CPU reference created lazily; a CUDA analyzer from device discovery,
  // done once and kept while it works). Sets out.acceleration_used; a gpu_prefer fallback adds a
  // warning. gpu_required without a working GPU → errc::gpu_not_available.
  std::optional<error> begin(const options& opts, conversion& out);

  // Analyzes the page when worth_analyzing() says so; findings.analyzed is false otherwise (also
  // when the page cannot be rendered: a warning says why). A device failure mid-run is
  // gpu_not_available under gpu_required; under gpu_prefer the page is redone on the CPU with a
  // warning and the rest of the conversion stays there.
  result<findings> analyze(fz_context* ctx, fz_page* page, const options& opts, const layout::page_model& model,
                           conversion& out);

  // Adds the raster rules (unless the page was OCR'd) and, with extract_images, the figure crops.
  void apply(fz_context* ctx, fz_page* page, const options& opts, const findings& f, layout::page_model& model,
             conversion& out);

 private:
  gpu::page_analyzer* active_ = nullptr;            // for the current conversion
  std::unique_ptr<gpu::page_analyzer> cpu_;         // the CPU reference, created on first need
  std::unique_ptr<gpu::page_analyzer> device_;      // a CUDA analyzer this analyzer owns
  std::optional<gpu::device_report> report_;        // device discovery, done once
  acceleration_policy policy_ = acceleration_policy::cpu_only;
  bool lazy_cpu_ = false;  // active_ is the CPU reference, to be created when a page needs it
};

}  // namespace quire::convert::page_raster

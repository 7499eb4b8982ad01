// quire_gpu — page-raster analysis on the GPU, with a CPU reference that gives identical results.
//
// What this module offers (the only header a caller needs):
//
//   * page_analyzer: one interface, two implementations.
//       make_cpu_analyzer(params)           the reference (always available)
//       make_cuda_analyzer(device, params)  CUDA kernels, many pages per launch (gpu_not_available when unusable)
//     Both return bit-identical page_analysis values for the same rasters: every pixel-level decision is
//     integer arithmetic, and the post-processing from pixel statistics to regions is one shared C++
//     function (detail::finish_page), so only the pixel work differs between the two.
//
//   * Per page: a deterministic Otsu threshold (histogram and class variances in integers), ink
//     coverage, horizontal and vertical ruling lines (long thin runs of ink: table grids that exist only
//     in the raster, scans), connected-component statistics split into text-like and figure-like
//     ink, figure crop boxes, coarse text blocks, and a page kind (blank / text / mixed / image_only).
//
//   * Device discovery and health: discover_devices() lists visible CUDA devices with memory and runs
//     a self-test on each (the full CUDA pipeline on a small synthetic page, compared against the CPU
//     reference). A failing device is listed with its error, never dropped. With no driver, no device
//     or a build without nvcc it returns a report that says so; it never crashes.
//
//   * Device choice: select_cuda_analyzer(report, device) makes a CUDA analyzer on a healthy device of
//     a discovery report, or says why there is none. Whether to fall back to the CPU reference then is
//     the caller's acceleration policy, not this module's (quire's lives in convert/acceleration.hpp).
//
// Rasters are 8-bit grayscale, 0 = black, 255 = white, row-major with a stride (MuPDF's gray pixmaps).
// The module depends on CUDA (optional), the C++17 standard library and the header-only base/ only,
// so it builds standalone on a GPU host (`cmake -S gpu -B build`).
//
// Errors are values (quire::expected, base/expected.hpp) with codes of the "gpu" domain (errc below);
// nothing in this API throws. CUDA failures inside the module are caught at this boundary.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"

namespace quire::gpu {

// Stable error codes of this module. Add new ones at the end; never renumber or rename.
enum class errc {
  invalid_argument,   // a bad raster (null pixels, non-positive size, stride < width, over 2^28 pixels) or params
  device_failed,      // the CUDA device failed mid-batch (a converter should then mark itself unhealthy)
  gpu_not_available,  // no CUDA build, driver or healthy device to make an analyzer on
  internal,           // a bug: should never be seen
};
std::string_view to_string(errc code);  // "invalid_argument", ...

}  // namespace quire::gpu

QUIRE_ERROR_DOMAIN(gpu, "gpu")  // errc as the "gpu" error domain (base/error.hpp)

namespace quire::gpu {

// A view of one grayscale page; the caller owns the pixels for the duration of analyze().
struct raster_view {
  const std::uint8_t* pixels = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row, >= width
};

// Everything in pixels scales with dpi when left at 0 (see resolve_params()).
struct analysis_params {
  int dpi = 150;
  int threshold = -1;          // fixed threshold (ink iff value < threshold); -1 = Otsu per page
  int min_contrast = 48;       // Otsu class means closer than this: a flat page, no ink at all
  int min_rule_length = 0;     // a run of ink at least this long may be a ruling line (0: dpi/2)
  int max_rule_thickness = 0;  // ... if the line it forms is at most this thick (0: max(2, dpi/30))
  int rule_gap = 0;            // collinear rule pieces this close join into one line (0: dpi/10)
  int max_text_height = 0;     // a component taller than this is figure-like (0: 2*dpi/5, ~29pt)
  int max_text_width = 0;      // ... or wider than this (0: dpi)
  int speck_pixels = 0;        // components this small are noise (0: max(1, dpi/75))
  int figure_gap = 0;          // figure-like parts closer than this join one figure (0: dpi/10)
  int text_cell = 0;           // grid cell for grouping text into blocks (0: dpi/12)
  bool keep_mask = false;      // return the binarised page (page_analysis::mask)
  int pages_per_launch = 8;    // CUDA: pages per kernel launch; two launches in flight
  int cpu_threads = 1;         // host threads (0: all cores): CPU backend per page; CUDA backend
                               // for the host-side post-processing of each chunk
};

// The params with every 0 replaced by its dpi-derived default; validates ranges (invalid_argument on
// nonsense such as dpi <= 0).
expected<analysis_params> resolve_params(const analysis_params& p);

struct pixel_box {  // inclusive pixel coordinates
  int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
  int width() const { return x1 - x0 + 1; }
  int height() const { return y1 - y0 + 1; }
  long long area() const { return (long long)width() * height(); }
  bool operator==(const pixel_box& o) const { return x0 == o.x0 && y0 == o.y0 && x1 == o.x1 && y1 == o.y1; }
};

// A ruling line: the bounding box of a group of long runs in adjacent rows (horizontal) or columns
// (vertical), with collinear pieces joined across small gaps (crossings drawn per cell, skewed scans:
// such a box can be a few pixels thicker than max_rule_thickness). length() runs along the line,
// thickness() across it.
struct ruling_line {
  pixel_box box;
  bool horizontal = true;
  int length() const { return horizontal ? box.width() : box.height(); }
  int thickness() const { return horizontal ? box.height() : box.width(); }
  bool operator==(const ruling_line& o) const { return box == o.box && horizontal == o.horizontal; }
};

enum class region_kind { text, figure };

struct region {
  region_kind kind = region_kind::text;
  pixel_box box;                  // a figure's box is its crop box
  int components = 0;       // connected components inside
  long long ink_pixels = 0; // ink of those components
  bool operator==(const region& o) const {
    return kind == o.kind && box == o.box && components == o.components && ink_pixels == o.ink_pixels;
  }
};

// Connected components (8-connected) of the ink that is not part of a thin ruling line.
struct component_stats {
  int total = 0;              // not counting the leftovers of ruling lines (grid crossings)
  int specks = 0;             // <= speck_pixels: noise, dust, halftone dots
  int line_like = 0;          // thin strokes longer than a glyph that are not rules (broken or
                              // light-grey table borders); neither text nor figure
  int text_like = 0;          // glyph-sized
  int figure_like = 0;        // taller or wider than a glyph
  long long text_ink = 0;     // pixels of text-like components outside figures
  long long figure_ink = 0;   // pixels inside figure regions (figure-like and absorbed parts)
  int median_text_height = 0; // of text-like components; a proxy for the body font size
  bool operator==(const component_stats& o) const;
};

enum class page_kind {
  blank,       // no ink beyond specks and no ruling lines
  text,        // text-like ink only (rules allowed)
  mixed,       // text and figures
  image_only,  // >= 90% of the ink lies in figures: a scan or a full-page picture
};
const char* to_string(page_kind k);

struct page_analysis {
  int width = 0, height = 0;
  std::array<std::uint32_t, 256> histogram{};
  int threshold = 0;         // ink iff pixel < threshold (0: nothing is ink)
  long long ink_pixels = 0;  // after binarisation, rules included
  double ink_coverage() const { return width && height ? double(ink_pixels) / (double(width) * height) : 0.0; }
  std::vector<ruling_line> horizontal_rules;  // outside figures, sorted by (y0, x0)
  std::vector<ruling_line> vertical_rules;    // outside figures, sorted by (x0, y0)
  component_stats components;
  std::vector<region> figures;      // crop boxes, sorted by (y0, x0)
  std::vector<region> text_blocks;  // coarse blocks of text-like ink, sorted by (y0, x0)
  page_kind kind = page_kind::blank;
  std::vector<std::uint8_t> mask;   // width*height, 1 = ink; only with keep_mask
  bool operator==(const page_analysis& o) const;
  bool operator!=(const page_analysis& o) const { return !(*this == o); }
};

// First difference between two analyses in words ("" when equal); for tests and the benchmark.
std::string describe_difference(const page_analysis& a, const page_analysis& b);

// One analyzer per converter/thread: analyze() is not re-entrant (the CUDA one owns streams and
// buffers that it reuses from call to call), but separate analyzers may run concurrently, also on
// the same device.
class page_analyzer {
 public:
  virtual ~page_analyzer() = default;
  // Analyzes a batch; results are in input order. errc::invalid_argument on a bad raster (null
  // pixels, non-positive size, stride < width, more than 2^28 pixels) or bad params, before any
  // page is analyzed; errc::device_failed when the device fails mid-batch (a converter should then
  // mark itself unhealthy).
  virtual expected<std::vector<page_analysis>> analyze(const std::vector<raster_view>& pages) = 0;
  virtual std::string name() const = 0;  // "cpu" or "cuda:<index>"
};

// Never null. Params that resolve_params() refuses make every analyze() answer invalid_argument.
std::unique_ptr<page_analyzer> make_cpu_analyzer(const analysis_params& params = {});
// gpu_not_available when CUDA is not compiled in or the device cannot be used (the message says
// why), invalid_argument for bad params.
expected<std::unique_ptr<page_analyzer>> make_cuda_analyzer(int device, const analysis_params& params = {});

// ---- devices ----
struct device_info {
  int index = -1;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  std::size_t total_memory = 0, free_memory = 0;
  bool healthy = false;   // the self-test ran and matched the CPU reference
  std::string error;      // why not healthy
};

struct device_report {
  bool cuda_compiled = false;  // built with nvcc
  bool driver_ok = false;      // cudaGetDeviceCount succeeded
  int driver_version = 0, runtime_version = 0;
  std::string error;           // "no CUDA driver (cudaErrorInsufficientDriver)", "built without CUDA", ...
  std::vector<device_info> devices;
  int healthy_count() const;
  std::string summary() const;  // one line per device, for logs and /v1/info
};

// Lists visible devices; with self_test each one runs the analysis pipeline on a small synthetic page
// and is healthy only if the result equals the CPU reference. Never throws.
device_report discover_devices(bool self_test = true);

// ---- choosing a device ----
// A CUDA analyzer on `device`, or (device < 0) on the first healthy device of `report` (from
// discover_devices()). gpu_not_available when there is none or it cannot be used: the message says
// why (no CUDA build, no driver, the device's failed self-test). Never a CPU analyzer: falling back
// is the caller's decision (make_cpu_analyzer).
expected<std::unique_ptr<page_analyzer>> select_cuda_analyzer(const device_report& report, int device = -1,
                                                              const analysis_params& params = {});

}  // namespace quire::gpu

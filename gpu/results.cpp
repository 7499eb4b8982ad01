// Parameters, comparison and reporting helpers of the public types (page_analysis.hpp), and the raster
// validation both backends share. Nothing here touches pixels.
#include "gpu/detail/raw.hpp"

#include <algorithm>
#include <sstream>

namespace quire::gpu {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::device_failed: return "device_failed";
    case errc::gpu_not_available: return "gpu_not_available";
    case errc::internal: return "internal";
  }
  return "internal";
}

expected<analysis_params> resolve_params(const analysis_params& in) {
  analysis_params p = in;
  auto bad = [](const char* why) { return error{errc::invalid_argument, std::string("quire_gpu: ") + why}; };
  if (p.dpi <= 0 || p.dpi > 2400) return bad("dpi must be in 1..2400");
  if (p.threshold < -1 || p.threshold > 256) return bad("threshold must be -1 or 0..256");
  if (p.pages_per_launch <= 0) return bad("pages_per_launch must be > 0");
  if (p.cpu_threads < 0) return bad("cpu_threads must be >= 0");
  if (p.min_rule_length <= 0) p.min_rule_length = std::max(8, p.dpi / 2);
  if (p.max_rule_thickness <= 0) p.max_rule_thickness = std::max(2, p.dpi / 30);
  if (p.rule_gap <= 0) p.rule_gap = std::max(2, p.dpi / 10);
  if (p.max_text_height <= 0) p.max_text_height = std::max(8, 2 * p.dpi / 5);
  if (p.max_text_width <= 0) p.max_text_width = std::max(16, p.dpi);
  if (p.speck_pixels <= 0) p.speck_pixels = std::max(1, p.dpi / 75);
  if (p.figure_gap <= 0) p.figure_gap = std::max(2, p.dpi / 10);
  if (p.text_cell <= 0) p.text_cell = std::max(4, p.dpi / 12);
  return p;
}

const char* to_string(page_kind k) {
  switch (k) {
    case page_kind::blank: return "blank";
    case page_kind::text: return "text";
    case page_kind::mixed: return "mixed";
    case page_kind::image_only: return "image_only";
  }
  return "?";
}

bool component_stats::operator==(const component_stats& o) const {
  return total == o.total && specks == o.specks && line_like == o.line_like && text_like == o.text_like &&
         figure_like == o.figure_like &&
         text_ink == o.text_ink && figure_ink == o.figure_ink && median_text_height == o.median_text_height;
}

bool page_analysis::operator==(const page_analysis& o) const {
  return width == o.width && height == o.height && histogram == o.histogram && threshold == o.threshold &&
         ink_pixels == o.ink_pixels && horizontal_rules == o.horizontal_rules &&
         vertical_rules == o.vertical_rules && components == o.components && figures == o.figures &&
         text_blocks == o.text_blocks && kind == o.kind && mask == o.mask;
}

namespace {
std::string box_str(const pixel_box& b) {
  std::ostringstream s;
  s << "[" << b.x0 << "," << b.y0 << "-" << b.x1 << "," << b.y1 << "]";
  return s.str();
}
template <class T, class F>
std::string first_diff(const char* what, const std::vector<T>& a, const std::vector<T>& b, F show) {
  std::ostringstream s;
  if (a.size() != b.size()) {
    s << what << ": " << a.size() << " vs " << b.size() << " entries";
    return s.str();
  }
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i])) {
      s << what << "[" << i << "]: " << show(a[i]) << " vs " << show(b[i]);
      return s.str();
    }
  return {};
}
}  // namespace

std::string describe_difference(const page_analysis& a, const page_analysis& b) {
  std::ostringstream s;
  if (a.width != b.width || a.height != b.height) {
    s << "size " << a.width << "x" << a.height << " vs " << b.width << "x" << b.height;
    return s.str();
  }
  if (a.histogram != b.histogram) return "histogram differs";
  if (a.threshold != b.threshold) {
    s << "threshold " << a.threshold << " vs " << b.threshold;
    return s.str();
  }
  if (a.ink_pixels != b.ink_pixels) {
    s << "ink_pixels " << a.ink_pixels << " vs " << b.ink_pixels;
    return s.str();
  }
  auto rule_str = [](const ruling_line& r) { return box_str(r.box); };
  auto region_str = [](const region& r) {
    return box_str(r.box) + " n=" + std::to_string(r.components) + " ink=" + std::to_string(r.ink_pixels);
  };
  for (auto d : {first_diff("horizontal_rules", a.horizontal_rules, b.horizontal_rules, rule_str),
                 first_diff("vertical_rules", a.vertical_rules, b.vertical_rules, rule_str),
                 first_diff("figures", a.figures, b.figures, region_str),
                 first_diff("text_blocks", a.text_blocks, b.text_blocks, region_str)})
    if (!d.empty()) return d;
  const auto& c = a.components;
  const auto& d = b.components;
  if (!(c == d)) {
    s << "components total/specks/lines/text/figure/text_ink/figure_ink/median " << c.total << "/" << c.specks
      << "/" << c.line_like << "/" << c.text_like << "/" << c.figure_like << "/" << c.text_ink << "/" << c.figure_ink << "/"
      << c.median_text_height << " vs " << d.total << "/" << d.specks << "/" << d.line_like << "/" << d.text_like << "/"
      << d.figure_like << "/" << d.text_ink << "/" << d.figure_ink << "/" << d.median_text_height;
    return s.str();
  }
  if (a.kind != b.kind) return std::string("kind ") + to_string(a.kind) + " vs " + to_string(b.kind);
  if (a.mask != b.mask) {
    std::size_t i = 0;
    while (i < a.mask.size() && i < b.mask.size() && a.mask[i] == b.mask[i]) ++i;
    s << "mask differs at pixel " << i;
    return s.str();
  }
  return {};
}

int device_report::healthy_count() const {
  int n = 0;
  for (const auto& d : devices) n += d.healthy ? 1 : 0;
  return n;
}

std::string device_report::summary() const {
  std::ostringstream s;
  if (!cuda_compiled) return "built without CUDA";
  if (!driver_ok) return "no usable CUDA driver: " + error;
  s << devices.size() << " CUDA device(s), driver " << driver_version << ", runtime " << runtime_version;
  for (const auto& d : devices) {
    s << "\n  cuda:" << d.index << " " << d.name << " sm_" << d.cc_major << d.cc_minor << " " << d.multiprocessors
      << " SMs " << (d.total_memory >> 20) << " MiB (" << (d.free_memory >> 20) << " free) "
      << (d.healthy ? "healthy" : "FAILED: " + d.error);
  }
  return s.str();
}

namespace detail {

status validate(const std::vector<raster_view>& pages) {
  auto bad = [](const char* why) { return error{errc::invalid_argument, std::string("quire_gpu: ") + why}; };
  for (const raster_view& r : pages) {
    if (!r.pixels) return bad("raster has no pixels");
    if (r.width <= 0 || r.height <= 0) return bad("raster size must be positive");
    if (r.width > 65535 || r.height > 65535) return bad("raster side above 65535");
    if (r.stride < r.width) return bad("raster stride below width");
    if ((long long)r.width * r.height > max_page_pixels) return bad("raster above 2^28 pixels");
  }
  return ok_v;
}

}  // namespace detail
}  // namespace quire::gpu

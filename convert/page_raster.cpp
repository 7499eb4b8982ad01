// The engine's side of page-raster analysis: which pages, which backend, and what the results
// become in the layout model (see page_raster.hpp). MuPDF calls sit in small functions whose
// fz_try blocks hold only C data; gpu/'s errors (values, base/expected.hpp) become warnings or
// errc::gpu_not_available here.
#include "convert/detail/page_raster.hpp"
#include "convert/detail/work_budget.hpp"

#include <algorithm>
#include <cmath>

#include "convert/detail/raster.hpp"

extern "C" {
#include <mupdf/fitz.h>
}

namespace quire::convert {

namespace page_raster {
namespace {

// A page with images over this share of its area may hold text, tables or figures in pixels.
constexpr float kImageShare = 0.10f;
// Fewer text-layer characters than this: a title page, a figure page, a scan with a stray glyph.
constexpr int kLittleText = 100;
// The analysis raster is capped (a poster-sized page must not take hundreds of MB).
constexpr long kMaxAnalysisPixels = 16'000'000;
// Figure crops: rendered at this resolution, capped in pixels.
constexpr int kFigureDpi = 150;
constexpr long kMaxFigurePixels = 8'000'000;
// Smallest figure worth an asset, in points: icons, bullets and stray marks are not figures.
constexpr float kMinFigureSide = 36;           // half an inch
constexpr float kMinFigureArea = 1.5f * 5184;  // 1.5 square inches
// A page with this many text-layer characters or more has a text layer; it is not a scan.
constexpr int kScanMaxChars = 200;
// Parallel rules this close (points) may be the row rules of one table.
constexpr float kStackGap = 200;

float area(const layout::rect& r) { return r.empty() ? 0.f : r.width() * r.height(); }

layout::rect intersection(const layout::rect& a, const layout::rect& b) {
  return {std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
}

// Pixel box (inclusive) → points. The raster's pixel (x, y) covers [x, x+1) in device space.
layout::rect to_points(const gpu::pixel_box& b, float scale, float x0, float y0) {
  return {x0 + b.x0 / scale, y0 + b.y0 / scale, x0 + (b.x1 + 1) / scale, y0 + (b.y1 + 1) / scale};
}

float image_share(const layout::page_model& page) {
  const float page_area = page.width * page.height;
  if (page_area <= 0) return 0;
  float total = 0;
  for (const auto& im : page.images) {
    const layout::rect clipped = intersection(im.box, {0, 0, page.width, page.height});
    total += area(clipped);
  }
  return std::min(total, page_area) / page_area;
}

// How much of `r`'s length (along its direction) the page's own rules of the same direction cover,
// counting only rules whose centre line lies within `tol` of r's.
float covered_length(const layout::rule& r, const std::vector<layout::rule>& existing, float tol) {
  std::vector<std::pair<float, float>> spans;
  const float c = r.horizontal ? r.box.cy() : r.box.cx();
  for (const auto& e : existing) {
    if (e.horizontal != r.horizontal) continue;
    const float ec = e.horizontal ? e.box.cy() : e.box.cx();
    const float half = (e.horizontal ? e.box.height() + r.box.height() : e.box.width() + r.box.width()) / 2;
    if (std::fabs(ec - c) > half + tol) continue;
    const float a0 = r.horizontal ? std::max(r.box.x0, e.box.x0) : std::max(r.box.y0, e.box.y0);
    const float a1 = r.horizontal ? std::min(r.box.x1, e.box.x1) : std::min(r.box.y1, e.box.y1);
    if (a1 > a0) spans.emplace_back(a0, a1);
  }
  std::sort(spans.begin(), spans.end());
  float total = 0, end = -1e9f;
  for (const auto& [a0, a1] : spans) {
    const float from = std::max(a0, end);
    if (a1 > from) total += a1 - from;
    end = std::max(end, a1);
  }
  return total;
}

bool touches(const layout::rect& a, const layout::rect& b, float tol) {
  return a.x0 - tol <= b.x1 && b.x0 - tol <= a.x1 && a.y0 - tol <= b.y1 && b.y0 - tol <= a.y1;
}

// Renders the page area `box` (points) in colour and encodes it as PNG. Only C data lives in the
// fz_try block; the bytes are copied out after it. errc::pdf_unreadable when MuPDF fails.
result<std::vector<std::uint8_t>> crop_png(fz_context* ctx, fz_page* page, const layout::rect& box) {
  float scale = kFigureDpi / 72.f;
  const double pixels = double(box.width()) * scale * box.height() * scale;
  if (pixels > kMaxFigurePixels) scale *= static_cast<float>(std::sqrt(kMaxFigurePixels / pixels));
  const fz_matrix ctm = fz_scale(scale, scale);
  const fz_irect ib = fz_round_rect(fz_transform_rect(fz_make_rect(box.x0, box.y0, box.x1, box.y1), ctm));
  fz_pixmap* pix = nullptr;
  fz_device* dev = nullptr;
  fz_buffer* buf = nullptr;
  int failed = 0;
  fz_var(pix);
  fz_var(dev);
  fz_var(buf);
  fz_try(ctx) {
    pix = fz_new_pixmap_with_bbox(ctx, fz_device_rgb(ctx), ib, nullptr, 0);
    fz_clear_pixmap_with_value(ctx, pix, 255);
    dev = fz_new_draw_device_with_bbox(ctx, fz_identity, pix, &ib);
    fz_run_page(ctx, page, dev, ctm, work_budget::active_cookie());
    fz_close_device(ctx, dev);
    buf = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
  }
  fz_always(ctx) {
    fz_drop_device(ctx, dev);
    fz_drop_pixmap(ctx, pix);
  }
  fz_catch(ctx) { failed = 1; }
  if (failed || !buf) {
    fz_drop_buffer(ctx, buf);
    return error{errc::pdf_unreadable, std::string("cannot render a figure: ") + fz_caught_message(ctx)};
  }
  unsigned char* data = nullptr;
  const size_t len = fz_buffer_storage(ctx, buf, &data);
  std::vector<std::uint8_t> png(data, data + len);
  fz_drop_buffer(ctx, buf);
  return png;
}

std::string page_prefix(const layout::page_model& m) { return "page " + std::to_string(m.number) + ": "; }

}  // namespace

reason worth_analyzing(const layout::page_model& page, const options& opts) {
  if (opts.ocr == ocr_mode::force) return reason::forced_ocr;
  if (image_share(page) >= kImageShare) return reason::images;
  if (page.chars < kLittleText) return reason::little_text;
  return reason::none;
}

bool decide_scanned(const findings& f, bool text_layer_test) {
  if (!f.analyzed) return text_layer_test;
  return f.scanned || (text_layer_test && f.kind != gpu::page_kind::blank);
}

bool scanned(const gpu::page_analysis& a, const layout::page_model& page) {
  if (a.kind == gpu::page_kind::blank) return false;
  // Each glyph of the text layer is about one component in the raster (i, j and accents make two,
  // CJK characters several), so the raster "has text the layer lacks" only well beyond that.
  // A page with a real text layer is never called a scan, whatever its pixels show: OCR would
  // replace good text with recognised text (and a textured background can look like many glyphs).
  const int glyphs = a.components.text_like;
  if (page.chars < kScanMaxChars && glyphs >= 40 && glyphs >= 6 * page.chars + 40) return true;
  return a.kind == gpu::page_kind::image_only && page.chars < 20;
}

std::vector<layout::rule> raster_rules(const gpu::page_analysis& a, float scale, float x0, float y0,
                                       const layout::page_model& page) {
  std::vector<layout::rule> found;
  for (const auto* lines : {&a.horizontal_rules, &a.vertical_rules})
    for (const gpu::ruling_line& l : *lines) {
      layout::rule r{to_points(l.box, scale, x0, y0), l.horizontal};
      const float length = r.horizontal ? r.box.width() : r.box.height();
      // A vector rule drawn on the page shows up in the raster too: keep the exact one. Two pixels
      // of tolerance across covers anti-aliasing and the raster's rounding.
      if (covered_length(r, page.rules, 2 / scale + 0.5f) >= 0.8f * length) continue;
      found.push_back(r);
    }
  // Only lines that can belong to a table: crossing (or touching) a perpendicular rule, or one of
  // a stack of at least three parallel rules (tables ruled only between rows), each within
  // kStackGap of the next; a lone line far from the others is no grid.
  std::vector<layout::rule> all = found;
  all.insert(all.end(), page.rules.begin(), page.rules.end());
  const size_t n = all.size();
  std::vector<size_t> group(n);
  for (size_t i = 0; i < n; ++i) group[i] = i;
  auto root = [&](size_t i) {
    while (group[i] != i) i = group[i] = group[group[i]];
    return i;
  };
  auto along = [](const layout::rule& r) {
    return r.horizontal ? std::pair{r.box.x0, r.box.x1} : std::pair{r.box.y0, r.box.y1};
  };
  auto across = [](const layout::rule& r) { return r.horizontal ? r.box.cy() : r.box.cx(); };
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      if (all[i].horizontal != all[j].horizontal) continue;
      const auto [a0, a1] = along(all[i]);
      const auto [b0, b1] = along(all[j]);
      const float d = std::fabs(across(all[i]) - across(all[j]));
      if (d >= 2 && d <= kStackGap && layout::overlap(a0, a1, b0, b1) >= 0.5f * std::min(a1 - a0, b1 - b0))
        group[root(i)] = root(j);
    }
  std::vector<int> members(n, 0);
  for (size_t i = 0; i < n; ++i) ++members[root(i)];
  std::vector<layout::rule> out;
  for (size_t i = 0; i < found.size(); ++i) {
    bool crossed = false;
    for (size_t j = 0; j < n && !crossed; ++j)
      crossed = all[j].horizontal != found[i].horizontal && touches(found[i].box, all[j].box, 3);
    if (crossed || members[root(i)] >= 3) out.push_back(found[i]);
  }
  return out;
}

std::vector<layout::rect> figure_boxes(const gpu::page_analysis& a, float scale, float x0, float y0,
                                       const layout::page_model& page) {
  std::vector<layout::rect> out;
  const float page_area = std::max(1.f, page.width * page.height);
  for (const gpu::region& f : a.figures) {
    const layout::rect box = to_points(f.box, scale, x0, y0);
    const float fa = area(box);
    if (box.width() < kMinFigureSide || box.height() < kMinFigureSide || fa < kMinFigureArea) continue;
    // The figure is an embedded image that extraction already handles: the same box, or inside an
    // image that is a picture of its own rather than a whole scanned page.
    bool embedded = false;
    for (const auto& im : page.images) {
      const float inter = area(intersection(im.box, box));
      const float uni = area(im.box) + fa - inter;
      if ((uni > 0 && inter >= 0.5f * uni) || (inter >= 0.8f * fa && area(im.box) < 0.5f * page_area)) embedded = true;
    }
    if (embedded) continue;
    // Very large type is figure-like ink to the analysis; text lines are already in the model.
    float text = 0;
    for (const auto& l : page.lines) text += area(intersection(l.box, box));
    if (text >= 0.5f * fa) continue;
    out.push_back(box);
  }
  return out;
}

// ---- analyzer ----

analyzer::analyzer() = default;
analyzer::~analyzer() = default;

namespace {
gpu::analysis_params params() {
  gpu::analysis_params p;
  p.dpi = analysis_dpi;
  return p;
}
}  // namespace

std::optional<error> analyzer::begin(const options& opts, conversion& out) {
  policy_ = opts.acceleration;
  active_ = nullptr;
  lazy_cpu_ = false;
  if (opts.analyzer) {
    const std::string name = opts.analyzer->name();
    const bool on_cpu = name.rfind("cuda:", 0) != 0;
    if (on_cpu && policy_ == acceleration_policy::gpu_required)
      return error{errc::gpu_not_available, "gpu_required, but the analyzer given runs on " + name};
    if (on_cpu && policy_ == acceleration_policy::gpu_prefer)
      out.warnings.push_back("GPU unavailable, page analysis runs on the CPU (the analyzer given is " + name + ")");
    active_ = opts.analyzer;
    out.acceleration_used = name;
    return std::nullopt;
  }
  if (policy_ == acceleration_policy::cpu_only) {
    lazy_cpu_ = true;
    out.acceleration_used = "cpu";
    return std::nullopt;
  }
  if (!device_) {
    // Probing (with a self-test per device) is done once per engine, not per document.
    if (!report_) report_ = gpu::discover_devices(true);
    auto sel = gpu::select_cuda_analyzer(*report_, -1, params());
    if (!sel) {
      const std::string& why = sel.err().message;
      if (policy_ == acceleration_policy::gpu_required)
        return error{errc::gpu_not_available, "no working GPU for page analysis: " + why};
      out.warnings.push_back("GPU unavailable, page analysis runs on the CPU: " + why);
      lazy_cpu_ = true;
      out.acceleration_used = "cpu";
      return std::nullopt;
    }
    device_ = std::move(*sel);
  }
  active_ = device_.get();
  out.acceleration_used = device_->name();
  return std::nullopt;
}

result<findings> analyzer::analyze(fz_context* ctx, fz_page* page, const options& opts,
                                   const layout::page_model& model, conversion& out) {
  findings f;
  if (worth_analyzing(model, opts) == reason::none) return f;
  result<raster::image> rendered = raster::render(ctx, page, analysis_dpi, kMaxAnalysisPixels);
  if (!rendered) {
    out.warnings.push_back(page_prefix(model) + "raster analysis skipped: " + rendered.err().message);
    return f;
  }
  const raster::image& img = *rendered;
  const std::vector<gpu::raster_view> batch{{img.pixels.data(), img.width, img.height, img.width}};
  for (;;) {
    if (!active_ || lazy_cpu_) {
      if (!cpu_) cpu_ = gpu::make_cpu_analyzer(params());
      active_ = cpu_.get();
      lazy_cpu_ = false;
    }
    const bool on_device = active_->name().rfind("cuda:", 0) == 0;
    auto res = active_->analyze(batch);
    if (res && res->size() == 1) {
      f.analysis = std::move(res->front());
      break;
    }
    const std::string what = res ? std::string("the analyzer returned no result") : res.err().message;
    if (!on_device) {
      out.warnings.push_back(page_prefix(model) + "raster analysis failed: " + what);
      return f;
    }
    // The device failed mid-run: drop what we own of it so the next conversion probes again.
    if (active_ == device_.get()) device_.reset(), report_.reset();
    active_ = nullptr;
    if (policy_ == acceleration_policy::gpu_required)
      return error{errc::gpu_not_available, "the GPU failed during page analysis: " + what};
    out.warnings.push_back(page_prefix(model) + "GPU failed, page analysis continues on the CPU: " + what);
    out.acceleration_used = "cpu";
  }
  f.analyzed = true;
  f.kind = f.analysis.kind;
  f.scale = img.scale;
  f.x0 = img.x0;
  f.y0 = img.y0;
  f.scanned = scanned(f.analysis, model);
  return f;
}

void analyzer::apply(fz_context* ctx, fz_page* page, const options& opts, const findings& f,
                     layout::page_model& model, conversion& out) {
  if (!f.analyzed) return;
  // Not on OCR'd pages: there the recogniser tests for rules itself, word by word on its 300 dpi
  // raster (ocr.cpp), and a faint scanned grid seen at 150 dpi comes out incomplete — a missing
  // column rule makes the grid merge two columns (corpus scan_sheet: table F1 1.0 → 0.67 with
  // these rules added, 0.64 with only the horizontal ones).
  if (!model.from_ocr) {
    std::vector<layout::rule> rules = raster_rules(f.analysis, f.scale, f.x0, f.y0, model);
    model.rules.insert(model.rules.end(), rules.begin(), rules.end());
  }
  if (!opts.extract_images) return;
  int k = 0;
  for (const layout::rect& box : figure_boxes(f.analysis, f.scale, f.x0, f.y0, model)) {
    result<std::vector<std::uint8_t>> png = crop_png(ctx, page, box);
    if (!png) {
      out.warnings.push_back(page_prefix(model) + png.err().message);
      continue;
    }
    asset a;
    a.bytes = std::move(*png);
    a.name = "fig-p" + std::to_string(model.number) + "-" + std::to_string(++k) + ".png";
    a.media_type = "image/png";
    model.images.push_back({box, static_cast<int>(out.assets.size())});
    out.assets.push_back(std::move(a));
  }
}

}  // namespace page_raster
}  // namespace quire::convert

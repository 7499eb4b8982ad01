// Page rendering for OCR and the raster measurements it needs. MuPDF reports errors with
// setjmp/longjmp: the fz_try blocks hold only C data, and the samples are copied into the
// std::vector after the block.
#include "convert/raster.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

extern "C" {
#include <mupdf/fitz.h>
}

namespace quire::convert::raster {

namespace {

// The two MuPDF calls, each in its own function so that no C++ local of render() lives across a
// setjmp (fz_try), which the compiler rightly warns could be clobbered.
bool page_bounds(fz_context* ctx, fz_page* page, fz_rect& out) {
  int failed = 0;
  fz_try(ctx) { out = fz_bound_page(ctx, page); }
  fz_catch(ctx) { failed = 1; }
  return !failed;
}

fz_pixmap* render_gray(fz_context* ctx, fz_page* page, float scale) {
  fz_pixmap* pix = nullptr;
  fz_var(pix);
  fz_try(ctx) { pix = fz_new_pixmap_from_page(ctx, page, fz_scale(scale, scale), fz_device_gray(ctx), 0); }
  fz_catch(ctx) { pix = nullptr; }
  return pix;
}

}  // namespace

bool render(fz_context* ctx, fz_page* page, int dpi, long max_pixels, image& out, std::string& error) {
  fz_rect bounds = fz_empty_rect;
  if (!page_bounds(ctx, page, bounds)) {
    error = std::string("cannot measure the page: ") + fz_caught_message(ctx);
    return false;
  }
  const double w_pt = bounds.x1 - bounds.x0, h_pt = bounds.y1 - bounds.y0;
  if (!(w_pt > 0 && h_pt > 0)) {
    error = "the page has an empty size";
    return false;
  }
  double scale = std::max(dpi, 1) / 72.0;
  const double pixels = w_pt * scale * h_pt * scale;
  if (max_pixels > 0 && pixels > static_cast<double>(max_pixels))
    scale *= std::sqrt(static_cast<double>(max_pixels) / pixels);

  fz_pixmap* pix = render_gray(ctx, page, static_cast<float>(scale));
  if (!pix) {
    error = std::string("cannot render the page: ") + fz_caught_message(ctx);
    return false;
  }
  const int w = fz_pixmap_width(ctx, pix), h = fz_pixmap_height(ctx, pix);
  const int stride = fz_pixmap_stride(ctx, pix);
  const unsigned char* samples = fz_pixmap_samples(ctx, pix);
  out.width = w;
  out.height = h;
  out.scale = static_cast<float>(scale);
  out.x0 = static_cast<float>(fz_pixmap_x(ctx, pix) / scale);
  out.y0 = static_cast<float>(fz_pixmap_y(ctx, pix) / scale);
  out.pixels.resize(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    std::copy_n(samples + static_cast<size_t>(y) * stride, w, out.pixels.data() + static_cast<size_t>(y) * w);
  fz_drop_pixmap(ctx, pix);
  out.ink = otsu_threshold(out);
  return true;
}

unsigned char otsu_threshold(const image& img) {
  std::array<double, 256> hist{};
  for (unsigned char p : img.pixels) hist[p] += 1;
  const double total = static_cast<double>(img.pixels.size());
  if (total == 0) return 128;
  double sum_all = 0;
  for (int i = 0; i < 256; ++i) sum_all += i * hist[i];
  double weight_bg = 0, sum_bg = 0, best = -1;
  int best_t = 128;
  for (int t = 0; t < 256; ++t) {
    weight_bg += hist[t];
    if (weight_bg == 0) continue;
    const double weight_fg = total - weight_bg;
    if (weight_fg == 0) break;
    sum_bg += t * hist[t];
    const double mean_bg = sum_bg / weight_bg, mean_fg = (sum_all - sum_bg) / weight_fg;
    const double between = weight_bg * weight_fg * (mean_bg - mean_fg) * (mean_bg - mean_fg);
    if (between > best) best = between, best_t = t;
  }
  // Pixels <= best_t form the dark class; `ink` is an exclusive bound. A blank page has one
  // class only: keep the conventional mid-gray so paper never counts as ink.
  return best < 0 ? 128 : static_cast<unsigned char>(std::min(best_t + 1, 255));
}

float stroke_width(const image& img, int x0, int y0, int x1, int y1) {
  x0 = std::clamp(x0, 0, img.width), x1 = std::clamp(x1, 0, img.width);
  y0 = std::clamp(y0, 0, img.height), y1 = std::clamp(y1, 0, img.height);
  // Median run length: vertical stems dominate the count of runs, while horizontal strokes (bars
  // of 'e', 'T') give a few long runs that would inflate a mean.
  std::array<long, 65> runs{};
  long count = 0;
  for (int y = y0; y < y1; ++y) {
    int run = 0;
    for (int x = x0; x <= x1; ++x) {
      const bool dark = x < x1 && img.at(x, y) < img.ink;
      if (dark) {
        ++run;
      } else if (run > 0) {
        ++runs[std::min(run, 64)];
        ++count;
        run = 0;
      }
    }
  }
  if (count == 0) return 0;
  // Interpolated within the median bin so that thin differences (3 px vs 4 px stems at 300 dpi)
  // still show.
  const double half = count / 2.0;
  long seen = 0;
  for (int len = 1; len <= 64; ++len) {
    if (seen + runs[len] >= half && runs[len] > 0)
      return static_cast<float>(len - 0.5 + (half - seen) / static_cast<double>(runs[len]));
    seen += runs[len];
  }
  return 64;
}

box find_bullet(const image& img, box region, float x_height, float baseline) {
  const box none{};
  region.x0 = std::clamp(region.x0, 0, img.width), region.x1 = std::clamp(region.x1, 0, img.width);
  region.y0 = std::clamp(region.y0, 0, img.height), region.y1 = std::clamp(region.y1, 0, img.height);
  const int w = region.x1 - region.x0, h = region.y1 - region.y0;
  if (w <= 0 || h <= 0 || !(x_height > 2)) return none;

  // Connected components (8-neighbour) of ink inside the region; specks below a minimum area are
  // scan noise and ignored. Exactly one significant component may remain.
  const int min_area = std::max(4, static_cast<int>(0.15f * x_height * 0.15f * x_height));
  std::vector<unsigned char> seen(static_cast<size_t>(w) * h, 0);
  std::vector<std::pair<int, int>> stack;
  box found{};
  int found_area = 0, components = 0;
  bool touches_edge = false;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (seen[static_cast<size_t>(y) * w + x] || img.at(region.x0 + x, region.y0 + y) >= img.ink) continue;
      box b{x, y, x + 1, y + 1};
      int area = 0;
      bool edge = false;
      stack.assign(1, {x, y});
      seen[static_cast<size_t>(y) * w + x] = 1;
      while (!stack.empty()) {
        auto [cx, cy] = stack.back();
        stack.pop_back();
        ++area;
        b.x0 = std::min(b.x0, cx), b.y0 = std::min(b.y0, cy);
        b.x1 = std::max(b.x1, cx + 1), b.y1 = std::max(b.y1, cy + 1);
        if (cx == 0 || cy == 0 || cx == w - 1 || cy == h - 1) edge = true;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) {
            const int nx = cx + dx, ny = cy + dy;
            if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
            auto& s = seen[static_cast<size_t>(ny) * w + nx];
            if (s || img.at(region.x0 + nx, region.y0 + ny) >= img.ink) continue;
            s = 1;
            stack.emplace_back(nx, ny);
          }
      }
      if (area < min_area) continue;
      if (++components > 1) return none;
      found = b, found_area = area, touches_edge = edge;
    }
  if (components != 1 || touches_edge) return none;  // something larger runs out of the region

  const float bw = static_cast<float>(found.x1 - found.x0), bh = static_cast<float>(found.y1 - found.y0);
  const float fill = static_cast<float>(found_area) / (bw * bh);
  const float cy = region.y0 + (found.y0 + found.y1) / 2.0f;
  const bool sized = bw >= 0.25f * x_height && bh >= 0.25f * x_height && bw <= 1.1f * x_height && bh <= 1.1f * x_height;
  const bool square = std::max(bw, bh) <= 1.6f * std::min(bw, bh);
  const bool mid_height = cy >= baseline - 0.85f * x_height && cy <= baseline - 0.15f * x_height;
  // A filled disc covers 79% of its box, a square all of it; letters with counters ('a', 'e',
  // 'o') that a misread bullet could be confused with stay below about 55%.
  if (!sized || !square || fill < 0.65f || !mid_height) return none;
  return {region.x0 + found.x0, region.y0 + found.y0, region.x0 + found.x1, region.y0 + found.y1};
}

}  // namespace quire::convert::raster

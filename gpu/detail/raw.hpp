// Internal: what each backend computes per page (the pixel work), and the integer helpers both use.
//
// The CPU reference and the CUDA kernels produce a page_raw each; detail::finish_page() turns it into
// the public page_analysis with one shared piece of C++. Identical page_raw in, identical result out.
// The helpers marked QUIRE_HD are compiled for host and device from this one definition, so the
// threshold and the per-pixel rules cannot drift apart between the two implementations.
#pragma once

#include "gpu/page_analysis.hpp"

#include <cstdint>
#include <functional>
#include <vector>

#if defined(__CUDACC__)
#define QUIRE_HD __host__ __device__
#else
#define QUIRE_HD
#endif

namespace quire::gpu::detail {

// Rasters above this many pixels are refused: keeps every sum below in 64 bits and labels in 32.
constexpr long long max_page_pixels = 1LL << 28;

// A run of ink along a row (horizontal: fixed = y) or a column (vertical: fixed = x), inclusive ends.
struct ink_run {
  std::int32_t fixed, start, end;
};

// One connected component: root = index (y*width+x) of its first pixel in raster order, which both
// backends arrive at (union by smaller index), so components can be matched and sorted by it.
struct component {
  std::uint32_t root;
  std::uint32_t pixels;
  std::uint16_t x0, y0, x1, y1;
};

struct page_raw {
  int width = 0, height = 0;
  std::array<std::uint32_t, 256> histogram{};
  int threshold = 0;
  long long ink_pixels = 0;
  std::vector<ink_run> hruns, vruns;      // runs with length >= min_rule_length, any order
  std::vector<component> components;  // any order
  std::vector<std::uint8_t> mask;     // optional, 1 = ink
};

// Otsu's threshold from a 256-bin histogram, in integers only. The between-class variance
// w0*w1*(mu1-mu0)^2 is compared with the means in 16.16 fixed point and the product in 128 bits
// (w0*w1 < 2^56, diff^2 < 2^48), so host and device pick the same t; ties keep the lowest t.
// Returns the threshold as "ink iff pixel < result": 0 when the page is flat (one level, or class
// means closer than min_contrast), so a blank scan with a little grain does not turn half grey.
QUIRE_HD inline int otsu_threshold(const std::uint32_t* hist, int min_contrast) {
  std::uint64_t n = 0, sum = 0;
  for (int i = 0; i < 256; ++i) {
    n += hist[i];
    sum += std::uint64_t(i) * hist[i];
  }
  std::uint64_t w0 = 0, s0 = 0, best_diff = 0;
  unsigned __int128 best = 0;
  int best_t = -1;
  for (int t = 0; t < 255; ++t) {
    w0 += hist[t];
    s0 += std::uint64_t(t) * hist[t];
    if (w0 == 0) continue;
    const std::uint64_t w1 = n - w0;
    if (w1 == 0) break;
    const std::uint64_t m0 = (s0 << 16) / w0;
    const std::uint64_t m1 = ((sum - s0) << 16) / w1;
    const std::uint64_t diff = m1 > m0 ? m1 - m0 : 0;
    const unsigned __int128 var = (unsigned __int128)(w0 * w1) * (diff * diff);
    if (var > best) {
      best = var;
      best_t = t;
      best_diff = diff;
    }
  }
  if (best_t < 0 || (best_diff >> 16) < std::uint64_t(min_contrast)) return 0;
  return best_t + 1;
}

// Connected-component input: ink that is not part of a thin ruling line. A pixel on a long
// horizontal run whose vertical run is short is a horizontal rule (and vice versa); where both runs
// are long (a filled area, a grid crossing) the pixel stays, so solid figures survive.
QUIRE_HD inline bool component_pixel(bool ink, int hlen, int vlen, int min_rule_length, int max_rule_thickness) {
  if (!ink) return false;
  if (hlen >= min_rule_length && vlen <= max_rule_thickness) return false;
  if (vlen >= min_rule_length && hlen <= max_rule_thickness) return false;
  return true;
}

// Raster validation shared by both backends: invalid_argument naming the first bad raster's fault.
status validate(const std::vector<raster_view>& pages);

// Runs fn(0..n-1) on up to `threads` threads (0: all cores); rethrows the first exception (the
// analyzers catch it at their public boundary, analyze()).
// The CPU analyzer uses it per page; the CUDA analyzer for the host-side finish_page() of a chunk.
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn);

// Pixel work -> public result: sorts runs and components, groups runs into ruling lines, classifies
// components, builds figure regions and text blocks, decides the page kind. Resolved params only.
page_analysis finish_page(page_raw raw, const analysis_params& resolved);

}  // namespace quire::gpu::detail

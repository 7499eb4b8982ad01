// The CPU reference: the same pixel work as the CUDA kernels, written for clarity, in one pass per
// stage. Its answers define "correct" for the CUDA implementation (tests/unit/gpu/cuda_vs_cpu.cpp).
#include "gpu/cpu_analyzer.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace quire::gpu {
namespace detail {

namespace {

// Union-find over pixel indices. unite() hangs the larger root under the smaller, so a component's
// root is its smallest index: the first pixel in raster order. The CUDA kernel does the same with
// atomicMin, which is why the two agree on component identities and not just on the partition.
struct PixelForest {
  std::vector<std::uint32_t> parent;
  std::uint32_t find(std::uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) {
    a = find(a), b = find(b);
    if (a == b) return;
    if (a < b) parent[b] = a;
    else parent[a] = b;
  }
};

}  // namespace

PageRaw analyze_page_cpu(const Raster& r, const AnalysisParams& p) {
  const int w = r.width, h = r.height;
  const std::size_t n = std::size_t(w) * h;
  PageRaw raw;
  raw.width = w;
  raw.height = h;

  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = r.pixels + std::size_t(y) * r.stride;
    for (int x = 0; x < w; ++x) ++raw.histogram[row[x]];
  }
  raw.threshold = p.threshold >= 0 ? p.threshold : otsu_threshold(raw.histogram.data(), p.min_contrast);

  std::vector<std::uint8_t> ink(n);
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = r.pixels + std::size_t(y) * r.stride;
    for (int x = 0; x < w; ++x) {
      const bool k = row[x] < raw.threshold;
      ink[std::size_t(y) * w + x] = k;
      raw.ink_pixels += k;
    }
  }

  // Run lengths along rows and columns, stored per pixel (capped at 65535 by the size limit).
  const int L = p.min_rule_length;
  std::vector<std::uint16_t> hlen(n, 0), vlen(n, 0);
  for (int y = 0; y < h; ++y) {
    const std::size_t base = std::size_t(y) * w;
    for (int x = 0; x < w;) {
      if (!ink[base + x]) { ++x; continue; }
      int e = x;
      while (e + 1 < w && ink[base + e + 1]) ++e;
      const int len = e - x + 1;
      for (int k = x; k <= e; ++k) hlen[base + k] = std::uint16_t(len);
      if (len >= L) raw.hruns.push_back({y, x, e});
      x = e + 1;
    }
  }
  for (int x = 0; x < w; ++x) {
    for (int y = 0; y < h;) {
      if (!ink[std::size_t(y) * w + x]) { ++y; continue; }
      int e = y;
      while (e + 1 < h && ink[std::size_t(e + 1) * w + x]) ++e;
      const int len = e - y + 1;
      for (int k = y; k <= e; ++k) vlen[std::size_t(k) * w + x] = std::uint16_t(len);
      if (len >= L) raw.vruns.push_back({x, y, e});
      y = e + 1;
    }
  }

  // 8-connected components of the non-rule ink.
  std::vector<std::uint8_t> m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = component_pixel(ink[i], hlen[i], vlen[i], L, p.max_rule_thickness);
  PixelForest f;
  f.parent.resize(n);
  for (std::size_t i = 0; i < n; ++i) f.parent[i] = std::uint32_t(i);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = std::size_t(y) * w + x;
      if (!m[i]) continue;
      const bool left = x > 0 && m[i - 1];
      const bool up = y > 0 && m[i - w];
      const bool ul = y > 0 && x > 0 && m[i - w - 1];
      const bool ur = y > 0 && x + 1 < w && m[i - w + 1];
      // Neighbours already joined through another are skipped: up-left and up are the left
      // neighbour's own neighbours, up-left and up-right are up's row neighbours.
      if (left) f.unite(std::uint32_t(i), std::uint32_t(i - 1));
      if (up) {
        if (!left) f.unite(std::uint32_t(i), std::uint32_t(i - w));
      } else {
        if (ul && !left) f.unite(std::uint32_t(i), std::uint32_t(i - w - 1));
        if (ur) f.unite(std::uint32_t(i), std::uint32_t(i - w + 1));
      }
    }
  std::vector<std::int32_t> slot(n, -1);  // root index -> position in raw.components
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const std::size_t i = std::size_t(y) * w + x;
      if (!m[i]) continue;
      const std::uint32_t root = f.find(std::uint32_t(i));
      if (root == i) {
        slot[i] = std::int32_t(raw.components.size());
        raw.components.push_back({root, 0, std::uint16_t(x), std::uint16_t(y), std::uint16_t(x), std::uint16_t(y)});
      }
      Component& c = raw.components[std::size_t(slot[root])];
      c.pixels += 1;
      c.x0 = std::min<std::uint16_t>(c.x0, std::uint16_t(x));
      c.x1 = std::max<std::uint16_t>(c.x1, std::uint16_t(x));
      c.y1 = std::uint16_t(y);  // raster order: the last row seen is the bottom
    }
  if (p.keep_mask) raw.mask = std::move(ink);
  return raw;
}

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn) {
  unsigned t = threads > 0 ? unsigned(threads) : std::max(1u, std::thread::hardware_concurrency());
  t = unsigned(std::min<std::size_t>(t, n));
  if (t <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  // Items are independent: workers take the next index until none is left.
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mu;
  std::vector<std::thread> pool;
  for (unsigned k = 0; k < t; ++k)
    pool.emplace_back([&] {
      for (std::size_t i; (i = next.fetch_add(1)) < n;) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(failure_mu);
          if (!failure) failure = std::current_exception();
        }
      }
    });
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace detail

namespace {

class CpuAnalyzer final : public PageAnalyzer {
 public:
  explicit CpuAnalyzer(const AnalysisParams& p) : p_(resolve_params(p)) {}

  std::vector<PageAnalysis> analyze(const std::vector<Raster>& pages) override {
    for (const Raster& r : pages) detail::validate(r);
    std::vector<PageAnalysis> out(pages.size());
    detail::parallel_for(pages.size(), p_.cpu_threads,
                         [&](std::size_t i) { out[i] = detail::finish_page(detail::analyze_page_cpu(pages[i], p_), p_); });
    return out;
  }

  std::string name() const override { return "cpu"; }

 private:
  AnalysisParams p_;
};

}  // namespace

std::unique_ptr<PageAnalyzer> make_cpu_analyzer(const AnalysisParams& params) {
  return std::make_unique<CpuAnalyzer>(params);
}

}  // namespace quire::gpu

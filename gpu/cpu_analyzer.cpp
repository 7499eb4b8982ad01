// The CPU reference: the same pixel work as the CUDA kernels, written for clarity, in one pass per
// stage. Its answers define "correct" for the CUDA implementation (tests/unit/gpu/test_cuda_vs_cpu.cpp).
#include "gpu/cpu_analyzer.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>
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
struct pixel_forest {
  std::uint32_t* parent;  // indexed by pixel; only the pixels in the forest are set
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

// The first index >= x below w where row (or, when given, also) is non-zero; paper is skipped eight
// pixels at a time. Most of a page is paper, so the per-pixel passes below cost what its ink does.
inline int next_ink(const std::uint8_t* row, const std::uint8_t* also, int x, int w) {
  while (x + 8 <= w) {
    std::uint64_t a, b = 0;
    std::memcpy(&a, row + x, 8);
    if (also) std::memcpy(&b, also + x, 8);
    if (a | b) break;
    x += 8;
  }
  while (x < w && !row[x] && !(also && also[x])) ++x;
  return x;
}

// Per-thread work buffers, grown to the largest page seen and reused: a 150 dpi letter page needs
// ~30 MB of them, and allocating (and zeroing) that per page cost more than the analysis. No
// buffer needs clearing between pages: each stage writes every element a later stage reads.
struct page_scratch {
  std::vector<std::uint8_t> ink, m;
  std::vector<std::uint16_t> hlen, vlen;
  std::vector<std::uint32_t> parent;
  std::vector<std::int32_t> slot;
  std::vector<int> run_start;
  void fit(std::size_t n, int w) {
    if (ink.size() < n) {
      ink.resize(n), m.resize(n), hlen.resize(n), vlen.resize(n), parent.resize(n), slot.resize(n);
    }
    run_start.assign(std::size_t(w), -1);
  }
};

page_raw analyze_page_cpu(const raster_view& r, const analysis_params& p) {
  const int w = r.width, h = r.height;
  const std::size_t n = std::size_t(w) * h;
  page_raw raw;
  raw.width = w;
  raw.height = h;

  // four interleaved tables: most pixels are paper, and one table would make each count wait
  // for the one before
  std::array<std::array<std::uint32_t, 256>, 4> part{};
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = r.pixels + std::size_t(y) * r.stride;
    int x = 0;
    for (; x + 4 <= w; x += 4) ++part[0][row[x]], ++part[1][row[x + 1]], ++part[2][row[x + 2]], ++part[3][row[x + 3]];
    for (; x < w; ++x) ++part[0][row[x]];
  }
  for (int g = 0; g < 256; ++g) raw.histogram[g] = part[0][g] + part[1][g] + part[2][g] + part[3][g];
  raw.threshold = p.threshold >= 0 ? p.threshold : otsu_threshold(raw.histogram.data(), p.min_contrast);

  thread_local page_scratch s;
  s.fit(n, w);
  std::uint8_t* ink = s.ink.data();
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = r.pixels + std::size_t(y) * r.stride;
    std::uint8_t* out = ink + std::size_t(y) * w;
    long long count = 0;
    for (int x = 0; x < w; ++x) {
      const std::uint8_t k = row[x] < raw.threshold;
      out[x] = k;
      count += k;
    }
    raw.ink_pixels += count;
  }

  // Run lengths along rows and columns, stored per ink pixel (capped at 65535 by the size limit);
  // the values at paper pixels are never read (component_pixel() is false there).
  const int L = p.min_rule_length;
  std::uint16_t* hlen = s.hlen.data();
  std::uint16_t* vlen = s.vlen.data();
  for (int y = 0; y < h; ++y) {
    const std::size_t base = std::size_t(y) * w;
    for (int x = next_ink(ink + base, nullptr, 0, w); x < w; x = next_ink(ink + base, nullptr, x, w)) {
      int e = x;
      while (e + 1 < w && ink[base + e + 1]) ++e;
      const int len = e - x + 1;
      for (int k = x; k <= e; ++k) hlen[base + k] = std::uint16_t(len);
      if (len >= L) raw.hruns.push_back({y, x, e});
      x = e + 1;
    }
  }
  // Columns are walked row by row (each column's open run remembered), not column by column:
  // the same runs without striding through memory once per pixel.
  auto close_column_run = [&](int x, int y0, int e) {
    const int len = e - y0 + 1;
    for (int k = y0; k <= e; ++k) vlen[std::size_t(k) * w + x] = std::uint16_t(len);
    if (len >= L) raw.vruns.push_back({x, y0, e});
  };
  int* start = s.run_start.data();
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* row = ink + std::size_t(y) * w;
    const std::uint8_t* above = y > 0 ? row - w : nullptr;  // a run can only end under ink
    for (int x = next_ink(row, above, 0, w); x < w; x = next_ink(row, above, x + 1, w)) {
      if (row[x]) {
        if (start[x] < 0) start[x] = y;
      } else if (start[x] >= 0) {
        close_column_run(x, start[x], y - 1);
        start[x] = -1;
      }
    }
  }
  for (int x = 0; x < w; ++x)
    if (start[x] >= 0) close_column_run(x, start[x], h - 1);
  // in column order, as a column-by-column walk lists them
  std::sort(raw.vruns.begin(), raw.vruns.end(), [](const ink_run& a, const ink_run& b) {
    return a.fixed != b.fixed ? a.fixed < b.fixed : a.start < b.start;
  });

  // 8-connected components of the non-rule ink. Only those pixels enter the forest; each is made
  // its own root just before it is joined to its (earlier) neighbours.
  std::uint8_t* m = s.m.data();
  for (std::size_t i = 0; i < n; ++i) m[i] = component_pixel(ink[i], hlen[i], vlen[i], L, p.max_rule_thickness);
  pixel_forest f{s.parent.data()};
  for (int y = 0; y < h; ++y)
    for (int x = next_ink(m + std::size_t(y) * w, nullptr, 0, w); x < w;
         x = next_ink(m + std::size_t(y) * w, nullptr, x + 1, w)) {
      const std::size_t i = std::size_t(y) * w + x;
      f.parent[i] = std::uint32_t(i);
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
  // root index -> position in raw.components; a root is its component's first pixel in raster
  // order, so its slot is written before any other pixel of the component reads it
  std::int32_t* slot = s.slot.data();
  for (int y = 0; y < h; ++y)
    for (int x = next_ink(m + std::size_t(y) * w, nullptr, 0, w); x < w;
         x = next_ink(m + std::size_t(y) * w, nullptr, x + 1, w)) {
      const std::size_t i = std::size_t(y) * w + x;
      const std::uint32_t root = f.find(std::uint32_t(i));
      if (root == i) {
        slot[i] = std::int32_t(raw.components.size());
        raw.components.push_back({root, 0, std::uint16_t(x), std::uint16_t(y), std::uint16_t(x), std::uint16_t(y)});
      }
      component& c = raw.components[std::size_t(slot[root])];
      c.pixels += 1;
      c.x0 = std::min<std::uint16_t>(c.x0, std::uint16_t(x));
      c.x1 = std::max<std::uint16_t>(c.x1, std::uint16_t(x));
      c.y1 = std::uint16_t(y);  // raster order: the last row seen is the bottom
    }
  if (p.keep_mask) raw.mask.assign(ink, ink + n);
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

class cpu_analyzer final : public page_analyzer {
 public:
  explicit cpu_analyzer(const analysis_params& p) : p_(resolve_params(p)) {}

  expected<std::vector<page_analysis>> analyze(const std::vector<raster_view>& pages) override {
    if (!p_) return p_.err();  // made with params resolve_params() refused
    if (auto valid = detail::validate(pages); !valid) return valid.err();
    const analysis_params& p = *p_;
    std::vector<page_analysis> out(pages.size());
    // The module's boundary: nothing escapes as an exception (only std::bad_alloc can be thrown here).
    try {
      detail::parallel_for(pages.size(), p.cpu_threads,
                           [&](std::size_t i) { out[i] = detail::finish_page(detail::analyze_page_cpu(pages[i], p), p); });
    } catch (const std::exception& e) {
      return error{errc::internal, std::string("quire_gpu cpu: ") + e.what()};
    }
    return out;
  }

  std::string name() const override { return "cpu"; }

 private:
  expected<analysis_params> p_;
};

}  // namespace

std::unique_ptr<page_analyzer> make_cpu_analyzer(const analysis_params& params) {
  return std::make_unique<cpu_analyzer>(params);
}

}  // namespace quire::gpu

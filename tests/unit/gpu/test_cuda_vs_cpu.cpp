// CUDA vs CPU: every healthy device analyzes a varied set of rasters (letter pages, scans, photos,
// odd sizes, padded strides, mixed sizes within one launch, several chunk sizes, a fixed threshold,
// 300 dpi) and must return exactly what the CPU reference returns, mask included.
// Exit codes: 0 identical, 1 a difference or a broken device, 77 no CUDA device here (ctest: SKIPPED).
#include "gpu/page_analysis.hpp"
#include "gpu/synthetic.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>

using namespace quire::gpu;

namespace {

// The analyzer's result, or its error as an exception (main reports it and fails).
std::vector<page_analysis> analysed(page_analyzer& a, const std::vector<raster_view>& pages) {
  auto res = a.analyze(pages);
  if (!res) throw std::runtime_error(a.name() + ": " + std::string(to_string(res.err().code)) + ": " + res.err().message);
  return std::move(*res);
}
std::unique_ptr<page_analyzer> make_cuda_or_throw(int device, const analysis_params& p) {
  auto made = make_cuda_analyzer(device, p);
  if (!made) throw std::runtime_error("cuda:" + std::to_string(device) + ": " + made.err().message);
  return std::move(*made);
}


struct corpus {
  std::vector<gray_image> images;
  std::vector<raster_view> rasters() const {
    std::vector<raster_view> r;
    for (const auto& i : images) r.push_back(i.raster());
    return r;
  }
};

corpus corpus_150dpi() {
  corpus c;
  for (int i = 0; i < 6; ++i) {
    synthetic_spec s;
    s.seed = 1 + i;
    s.specks = i % 2 ? 300 : 0;
    s.grain = i % 3 == 2 ? 20 : 0;
    s.figure = i != 3;
    s.full_page_photo = i == 5;
    c.images.push_back(make_synthetic_page(s));
  }
  // Odd shapes, all in the same launches as the letter pages.
  gray_image black1(1, 1, 0), white1(1, 1, 255), thin(3, 700, 255), flat(700, 3, 0), padded(257, 129, 255, 31);
  for (int y = 0; y < 700; y += 2) thin.at(1, y) = 0;
  splitmix64 rng(5);
  draw_text(padded, {4, 4, 250, 120}, 12, 20, rng);
  for (auto* g : {&black1, &white1, &thin, &flat, &padded}) c.images.push_back(*g);
  // Padding bytes must never be read as pixels: fill them with ink.
  gray_image& p = c.images.back();
  for (int y = 0; y < p.height; ++y)
    for (int x = p.width; x < p.stride; ++x) p.pixels[std::size_t(y) * p.stride + x] = 0;
  return c;
}

int compare(page_analyzer& gpu, page_analyzer& cpu, const corpus& c, const char* label) {
  const auto got = analysed(gpu, c.rasters());
  const auto want = analysed(cpu, c.rasters());
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    ++bad;
    std::printf("  DIFF %s page %zu (%dx%d): %s\n", label, i, want[i].width, want[i].height,
                describe_difference(got[i], want[i]).c_str());
  }
  long long comps = 0, rules = 0;
  for (const auto& a : want) comps += a.components.total, rules += long(a.horizontal_rules.size() + a.vertical_rules.size());
  std::printf("  %-28s %zu pages, %lld components, %lld rules: %s\n", label, want.size(), comps, rules,
              bad ? "DIFFERENT" : "identical");
  return bad;
}

}  // namespace

int main() {
  const device_report report = discover_devices(true);
  std::printf("%s\n", report.summary().c_str());
  if (!report.cuda_compiled || !report.driver_ok || report.devices.empty()) {
    std::printf("SKIPPED: no CUDA device on this machine\n");
    return 77;
  }
  int bad = 0;
  try {
    const corpus c150 = corpus_150dpi();
    synthetic_spec big;
    big.dpi = 300, big.width = 2550, big.height = 3300, big.seed = 42, big.specks = 500;
    corpus c300;
    c300.images.push_back(make_synthetic_page(big));
    big.full_page_photo = true;
    c300.images.push_back(make_synthetic_page(big));

    for (const device_info& d : report.devices) {
      std::printf("cuda:%d %s\n", d.index, d.name.c_str());
      if (!d.healthy) {
        std::printf("  FAILED self-test: %s\n", d.error.c_str());
        ++bad;
        continue;
      }
      for (int per_launch : {1, 3, 8}) {
        analysis_params p;
        p.keep_mask = true;
        p.pages_per_launch = per_launch;
        auto gpu = make_cuda_or_throw(d.index, p);
        auto cpu = make_cpu_analyzer(p);
        const std::string label = "150dpi, " + std::to_string(per_launch) + " per launch";
        bad += compare(*gpu, *cpu, c150, label.c_str());
        if (per_launch == 3) bad += compare(*gpu, *cpu, c150, "150dpi again (reused buffers)");
      }
      analysis_params fixed;
      fixed.threshold = 128;
      fixed.keep_mask = true;
      bad += compare(*make_cuda_or_throw(d.index, fixed), *make_cpu_analyzer(fixed), c150, "fixed threshold 128");
      analysis_params p300;
      p300.dpi = 300;
      p300.keep_mask = true;
      p300.pages_per_launch = 2;
      bad += compare(*make_cuda_or_throw(d.index, p300), *make_cpu_analyzer(p300), c300, "300dpi letter");
    }
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", bad ? "FAILED: CUDA and CPU results differ" : "PASSED: CUDA results identical to the CPU reference");
  return bad ? 1 : 0;
}

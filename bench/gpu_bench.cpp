// gpu_bench — pages/s of the page-raster analysis, CPU reference vs CUDA, on the same rasters, and a
// check that both give identical results. Synthetic Letter pages by default (text, ruled tables,
// figures, scans with dust and grain, full-page photos); --pgm adds real rasters (binary PGM, P5).
//
//   gpu_bench [--pages N] [--dpi D] [--batch K] [--repeat R] [--threads T] [--pgm FILE]...
//
// Prints a table and one "RESULT key=value ..." line per backend for scripts. Exit 1 on a mismatch.
#include "gpu/page_analysis.hpp"
#include "gpu/synthetic.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

using namespace quire::gpu;
using clock_type = std::chrono::steady_clock;

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


bool read_pgm(const std::string& path, gray_image* out) {
  std::ifstream f(path, std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxval = 0;
  auto skip = [&] {  // whitespace and # comments between header fields
    for (;;) {
      f >> std::ws;
      if (f.peek() != '#') return;
      std::string line;
      std::getline(f, line);
    }
  };
  f >> magic;
  skip(), f >> w, skip(), f >> h, skip(), f >> maxval;
  if (!f || magic != "P5" || w <= 0 || h <= 0 || maxval != 255) return false;
  f.get();
  *out = gray_image(w, h);
  f.read(reinterpret_cast<char*>(out->pixels.data()), std::streamsize(out->pixels.size()));
  return bool(f);
}

double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

// Best of `repeat` runs over all pages (the first run warms caches and allocations and is not counted
// when repeat > 1).
double time_pages(page_analyzer& a, const std::vector<raster_view>& pages, int repeat, std::vector<page_analysis>* out) {
  double best = 1e30;
  for (int r = 0; r < std::max(1, repeat) + (repeat > 1 ? 1 : 0); ++r) {
    const auto t = clock_type::now();
    auto res = analysed(a, pages);
    const double s = seconds_since(t);
    if (repeat <= 1 || r > 0) best = std::min(best, s);
    if (out) *out = std::move(res);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int pages = 64, dpi = 150, batch = 16, repeat = 3;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> pgms;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", argv[i]); std::exit(2); }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--pages")) pages = std::atoi(next());
    else if (!std::strcmp(argv[i], "--dpi")) dpi = std::atoi(next());
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(next());
    else if (!std::strcmp(argv[i], "--repeat")) repeat = std::atoi(next());
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(next());
    else if (!std::strcmp(argv[i], "--pgm")) pgms.push_back(next());
    else {
      std::fprintf(stderr, "usage: gpu_bench [--pages N] [--dpi D] [--batch K] [--repeat R] [--threads T] [--pgm FILE]...\n");
      return 2;
    }
  }

  std::vector<gray_image> images;
  for (int i = 0; i < pages; ++i) {
    synthetic_spec s;
    s.dpi = dpi, s.width = dpi * 17 / 2, s.height = dpi * 11, s.seed = std::uint64_t(i + 1);
    switch (i % 4) {  // a realistic mix: born-digital, scanned, table-only, photo
      case 0: break;
      case 1: s.specks = 400, s.grain = 16; break;
      case 2: s.figure = false; break;
      case 3: s.full_page_photo = true; break;
    }
    images.push_back(make_synthetic_page(s));
  }
  for (const auto& path : pgms) {
    gray_image g;
    if (!read_pgm(path, &g)) {
      std::fprintf(stderr, "cannot read %s (binary 8-bit PGM expected)\n", path.c_str());
      return 2;
    }
    images.push_back(std::move(g));
  }
  std::vector<raster_view> rasters;
  long long pixels = 0;
  for (const auto& g : images) rasters.push_back(g.raster()), pixels += (long long)g.width * g.height;
  const double mpix = double(pixels) / 1e6;
  std::printf("pages: %zu (%d synthetic at %d dpi, %zu from files), %.1f Mpixel\n", images.size(), pages, dpi,
              pgms.size(), mpix);

  const device_report report = discover_devices(true);
  std::printf("devices: %s\n", report.summary().c_str());

  analysis_params p;
  p.dpi = dpi;
  p.pages_per_launch = batch;
  p.cpu_threads = 1;
  std::vector<page_analysis> want, got;
  const double cpu1 = time_pages(*make_cpu_analyzer(p), rasters, 1, &want);
  p.cpu_threads = threads;
  const double cpun = time_pages(*make_cpu_analyzer(p), rasters, repeat, nullptr);
  const double n = double(images.size());
  std::printf("\n%-34s %10s %10s %12s\n", "backend", "seconds", "pages/s", "Mpixel/s");
  std::printf("%-34s %10.3f %10.1f %12.1f\n", "cpu (1 thread)", cpu1, n / cpu1, mpix / cpu1);
  const std::string cpun_label = "cpu (" + std::to_string(threads) + " threads)";
  std::printf("%-34s %10.3f %10.1f %12.1f\n", cpun_label.c_str(), cpun, n / cpun, mpix / cpun);
  std::printf("RESULT backend=cpu threads=1 pages=%zu seconds=%.4f pages_per_s=%.2f\n", images.size(), cpu1, n / cpu1);
  std::printf("RESULT backend=cpu threads=%d pages=%zu seconds=%.4f pages_per_s=%.2f\n", threads, images.size(), cpun, n / cpun);

  int mismatches = 0;
  for (const device_info& d : report.devices) {
    if (!d.healthy) {
      std::printf("cuda:%d %s FAILED: %s\n", d.index, d.name.c_str(), d.error.c_str());
      ++mismatches;
      continue;
    }
    // Host threads matter for the CUDA backend too: they run the per-page post-processing.
    for (int host_threads : {1, threads}) {
      analysis_params q = p;
      q.cpu_threads = host_threads;
      auto gpu = make_cuda_or_throw(d.index, q);
      const double g = time_pages(*gpu, rasters, repeat, &got);
      int diff = 0;
      for (std::size_t i = 0; i < want.size(); ++i)
        if (got[i] != want[i] && diff++ < 3)
          std::printf("  page %zu differs: %s\n", i, describe_difference(got[i], want[i]).c_str());
      mismatches += diff;
      const std::string label = "cuda:" + std::to_string(d.index) + " (" + std::to_string(batch) + "/launch, " +
                                std::to_string(host_threads) + " host thr)";
      std::printf("%-34s %10.3f %10.1f %12.1f   %.1fx vs 1 CPU thread, %s\n", label.c_str(), g, n / g, mpix / g,
                  cpu1 / g, diff ? "RESULTS DIFFER" : "identical results");
      std::printf("RESULT backend=cuda device=\"%s\" batch=%d host_threads=%d pages=%zu seconds=%.4f pages_per_s=%.2f "
                  "identical=%s\n",
                  d.name.c_str(), batch, host_threads, images.size(), g, n / g, diff ? "no" : "yes");
    }
  }
  if (report.devices.empty()) std::printf("(no CUDA device: %s)\n", report.error.c_str());
  return mismatches ? 1 : 0;
}

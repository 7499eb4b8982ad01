// The CUDA page_analyzer: batches pages into chunks (pages_per_launch), each chunk one set of kernel
// launches on one of two streams, so the host packs chunk i+1 into pinned memory and post-processes
// chunk i-1 while the GPU works on chunk i. Buffers grow to the largest chunk seen and are reused.
#include "gpu/cuda_analyzer.hpp"
#include "gpu/cuda_kernels.cuh"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace quire::gpu {
namespace cuda {

std::string error_text(cudaError_t e) {
  return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
}

namespace {

void check(cudaError_t e, int device, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  throw std::runtime_error("quire_gpu cuda:" + std::to_string(device) + " " + what + ": " + error_text(e));
}

// Upper bounds of what a page can produce: runs of >= L pixels need a gap between them; 8-connected
// components need a background pixel between them in both directions.
struct buffer_caps {
  unsigned long long hruns, vruns, comps;
};
buffer_caps capacities(int w, int h, int min_len) {
  return buffer_caps{(unsigned long long)h * (w / (min_len + 1) + 1), (unsigned long long)w * (h / (min_len + 1) + 1),
              (unsigned long long)((w + 1) / 2) * ((h + 1) / 2)};
}

template <class T>
void device_alloc(T*& p, unsigned long long count, int dev) {
  if (p) cudaFree(p);
  p = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&p), std::max<unsigned long long>(1, count) * sizeof(T)), dev, "cudaMalloc");
}
template <class T>
void host_alloc(T*& p, unsigned long long count, int dev) {
  if (p) cudaFreeHost(p);
  p = nullptr;
  check(cudaHostAlloc(reinterpret_cast<void**>(&p), std::max<unsigned long long>(1, count) * sizeof(T), cudaHostAllocDefault),
        dev, "cudaHostAlloc");
}

// One chunk in flight: its stream, device buffers and pinned host buffers.
struct slot {
  cudaStream_t stream = nullptr;
  unsigned long long pixel_cap = 0, hrun_cap = 0, vrun_cap = 0, comp_cap = 0;
  int page_cap = 0;
  pixel_buffers buf{};
  std::uint8_t* d_gray = nullptr;
  page_desc* d_desc = nullptr;
  page_counters* d_counters = nullptr;
  detail::ink_run *d_hruns = nullptr, *d_vruns = nullptr;
  detail::component* d_comps = nullptr;
  std::uint8_t* h_gray = nullptr;
  std::uint8_t* h_mask = nullptr;
  page_desc* h_desc = nullptr;
  page_counters* h_counters = nullptr;
  detail::ink_run *h_hruns = nullptr, *h_vruns = nullptr;
  detail::component* h_comps = nullptr;
  std::vector<std::size_t> inputs;  // input index of each page of the chunk
  bool busy = false;

  void release() {
    for (void* p : {(void*)d_gray, (void*)buf.ink, (void*)buf.hlen, (void*)buf.vlen, (void*)buf.label,
                    (void*)buf.count, (void*)buf.x0, (void*)buf.y0, (void*)buf.x1, (void*)buf.y1, (void*)d_desc,
                    (void*)d_counters, (void*)d_hruns, (void*)d_vruns, (void*)d_comps})
      if (p) cudaFree(p);
    for (void* p : {(void*)h_gray, (void*)h_mask, (void*)h_desc, (void*)h_counters, (void*)h_hruns, (void*)h_vruns,
                    (void*)h_comps})
      if (p) cudaFreeHost(p);
    *this = slot{stream};
  }
};

class cuda_analyzer final : public page_analyzer {
 public:
  // `p` has been through resolve_params(). Throws std::runtime_error when the device cannot be set up
  // (make_cuda_analyzer catches it).
  cuda_analyzer(int device, const analysis_params& p) : dev_(device), p_(p) {
    check(cudaSetDevice(dev_), dev_, "cudaSetDevice");
    for (slot& s : slots_) check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), dev_, "cudaStreamCreate");
  }
  ~cuda_analyzer() override {
    cudaSetDevice(dev_);
    for (slot& s : slots_) {
      if (s.stream) cudaStreamSynchronize(s.stream);
      s.release();
      if (s.stream) cudaStreamDestroy(s.stream);
    }
    cudaGetLastError();
  }

  std::string name() const override { return "cuda:" + std::to_string(dev_); }

  // The module's boundary: CUDA errors are thrown inside (check()) and become values here.
  expected<std::vector<page_analysis>> analyze(const std::vector<raster_view>& pages) override {
    if (auto valid = detail::validate(pages); !valid) return valid.err();
    try {
      return run(pages);
    } catch (const std::logic_error& e) {
      return error{errc::internal, e.what()};
    } catch (const std::exception& e) {
      return error{errc::device_failed, e.what()};
    }
  }

 private:
  std::vector<page_analysis> run(const std::vector<raster_view>& pages) {
    check(cudaSetDevice(dev_), dev_, "cudaSetDevice");
    for (slot& s : slots_) {  // a previous call that threw may have left work in flight
      if (s.busy) cudaStreamSynchronize(s.stream);
      s.busy = false;
    }
    std::vector<page_analysis> out(pages.size());
    const std::size_t per_launch = std::size_t(p_.pages_per_launch);
    int next = 0;
    for (std::size_t first = 0; first < pages.size(); first += per_launch) {
      slot& s = slots_[next];
      if (s.busy) finish(s, out);
      enqueue(s, pages, first, std::min(pages.size(), first + per_launch));
      next ^= 1;
    }
    for (int k = 0; k < 2; ++k, next ^= 1)
      if (slots_[next].busy) finish(slots_[next], out);
    return out;
  }

  void reserve(slot& s, int pages, unsigned long long pixels, const buffer_caps& caps) {
    if (pages > s.page_cap) {
      device_alloc(s.d_desc, pages, dev_);
      device_alloc(s.d_counters, pages, dev_);
      host_alloc(s.h_desc, pages, dev_);
      host_alloc(s.h_counters, pages, dev_);
      s.page_cap = pages;
    }
    if (pixels > s.pixel_cap) {
      device_alloc(s.d_gray, pixels, dev_);
      device_alloc(s.buf.ink, pixels, dev_);
      device_alloc(s.buf.hlen, pixels, dev_);
      device_alloc(s.buf.vlen, pixels, dev_);
      device_alloc(s.buf.label, pixels, dev_);
      device_alloc(s.buf.count, pixels, dev_);
      device_alloc(s.buf.x0, pixels, dev_);
      device_alloc(s.buf.y0, pixels, dev_);
      device_alloc(s.buf.x1, pixels, dev_);
      device_alloc(s.buf.y1, pixels, dev_);
      host_alloc(s.h_gray, pixels, dev_);
      if (p_.keep_mask) host_alloc(s.h_mask, pixels, dev_);
      s.buf.gray = s.d_gray;
      s.pixel_cap = pixels;
    }
    if (caps.hruns > s.hrun_cap) device_alloc(s.d_hruns, caps.hruns, dev_), host_alloc(s.h_hruns, caps.hruns, dev_), s.hrun_cap = caps.hruns;
    if (caps.vruns > s.vrun_cap) device_alloc(s.d_vruns, caps.vruns, dev_), host_alloc(s.h_vruns, caps.vruns, dev_), s.vrun_cap = caps.vruns;
    if (caps.comps > s.comp_cap) device_alloc(s.d_comps, caps.comps, dev_), host_alloc(s.h_comps, caps.comps, dev_), s.comp_cap = caps.comps;
  }

  void enqueue(slot& s, const std::vector<raster_view>& pages, std::size_t first, std::size_t last) {
    const int n = int(last - first);
    std::vector<page_desc> desc(n);
    unsigned long long pixels = 0;
    buffer_caps total{0, 0, 0};
    long long max_pixels = 0;
    int max_w = 0, max_h = 0;
    for (int k = 0; k < n; ++k) {
      const raster_view& r = pages[first + k];
      const buffer_caps c = capacities(r.width, r.height, p_.min_rule_length);
      desc[k] = page_desc{pixels, total.hruns, total.vruns, total.comps, std::uint32_t(c.hruns), std::uint32_t(c.vruns),
                         std::uint32_t(c.comps), r.width, r.height};
      pixels += (unsigned long long)r.width * r.height;
      total.hruns += c.hruns, total.vruns += c.vruns, total.comps += c.comps;
      max_pixels = std::max(max_pixels, (long long)r.width * r.height);
      max_w = std::max(max_w, r.width), max_h = std::max(max_h, r.height);
    }
    reserve(s, n, pixels, total);
    // Pack the pages tightly into pinned memory so one DMA moves the whole chunk.
    for (int k = 0; k < n; ++k) {
      const raster_view& r = pages[first + k];
      std::uint8_t* dst = s.h_gray + desc[k].pixel;
      if (r.stride == r.width) std::memcpy(dst, r.pixels, std::size_t(r.width) * r.height);
      else
        for (int y = 0; y < r.height; ++y)
          std::memcpy(dst + std::size_t(y) * r.width, r.pixels + std::size_t(y) * r.stride, std::size_t(r.width));
    }
    std::copy(desc.begin(), desc.end(), s.h_desc);
    s.inputs.clear();
    for (std::size_t i = first; i < last; ++i) s.inputs.push_back(i);

    check(cudaMemcpyAsync(s.d_desc, s.h_desc, n * sizeof(page_desc), cudaMemcpyHostToDevice, s.stream), dev_, "copy descriptors");
    check(cudaMemcpyAsync(s.d_gray, s.h_gray, pixels, cudaMemcpyHostToDevice, s.stream), dev_, "copy pixels");
    check(cudaMemsetAsync(s.d_counters, 0, n * sizeof(page_counters), s.stream), dev_, "clear counters");
    const stage_params sp{p_.threshold, p_.min_contrast, p_.min_rule_length, p_.max_rule_thickness};
    check(launch_pipeline(s.d_desc, n, max_pixels, max_w, max_h, s.buf, s.d_counters, s.d_hruns, s.d_vruns, s.d_comps,
                          sp, s.stream),
          dev_, "kernel launch");
    check(cudaMemcpyAsync(s.h_counters, s.d_counters, n * sizeof(page_counters), cudaMemcpyDeviceToHost, s.stream), dev_,
          "copy counters");
    if (p_.keep_mask)
      check(cudaMemcpyAsync(s.h_mask, s.buf.ink, pixels, cudaMemcpyDeviceToHost, s.stream), dev_, "copy mask");
    s.busy = true;
  }

  void finish(slot& s, std::vector<page_analysis>& out) {
    s.busy = false;
    check(cudaStreamSynchronize(s.stream), dev_, "pipeline");
    const int n = int(s.inputs.size());
    // Second round trip: the list lengths are known only now; copy just the filled parts.
    for (int k = 0; k < n; ++k) {
      const page_desc& d = s.h_desc[k];
      const page_counters& c = s.h_counters[k];
      if (c.nh > d.hcap || c.nv > d.vcap || c.nc > d.ccap)
        throw std::logic_error("quire_gpu: list capacity exceeded (a bound in capacities() is wrong)");
      if (c.nh) check(cudaMemcpyAsync(s.h_hruns + d.hrun, s.d_hruns + d.hrun, c.nh * sizeof(detail::ink_run), cudaMemcpyDeviceToHost, s.stream), dev_, "copy runs");
      if (c.nv) check(cudaMemcpyAsync(s.h_vruns + d.vrun, s.d_vruns + d.vrun, c.nv * sizeof(detail::ink_run), cudaMemcpyDeviceToHost, s.stream), dev_, "copy runs");
      if (c.nc) check(cudaMemcpyAsync(s.h_comps + d.comp, s.d_comps + d.comp, c.nc * sizeof(detail::component), cudaMemcpyDeviceToHost, s.stream), dev_, "copy components");
    }
    check(cudaStreamSynchronize(s.stream), dev_, "copy results");
    // The O(runs + components) post-processing runs on the host, on cpu_threads threads, while the
    // GPU already works on the other slot's chunk.
    detail::parallel_for(std::size_t(n), p_.cpu_threads, [&](std::size_t k) {
      const page_desc& d = s.h_desc[k];
      const page_counters& c = s.h_counters[k];
      detail::page_raw raw;
      raw.width = d.width;
      raw.height = d.height;
      std::copy(c.histogram, c.histogram + 256, raw.histogram.begin());
      raw.threshold = c.threshold;
      raw.ink_pixels = (long long)c.ink;
      raw.hruns.assign(s.h_hruns + d.hrun, s.h_hruns + d.hrun + c.nh);
      raw.vruns.assign(s.h_vruns + d.vrun, s.h_vruns + d.vrun + c.nv);
      raw.components.assign(s.h_comps + d.comp, s.h_comps + d.comp + c.nc);
      if (p_.keep_mask) raw.mask.assign(s.h_mask + d.pixel, s.h_mask + d.pixel + (unsigned long long)d.width * d.height);
      out[s.inputs[k]] = detail::finish_page(std::move(raw), p_);
    });
  }

  int dev_;
  analysis_params p_;
  slot slots_[2];
};

}  // namespace
}  // namespace cuda

expected<std::unique_ptr<page_analyzer>> make_cuda_analyzer(int device, const analysis_params& params) {
  auto fail = [](std::string why) { return error{errc::gpu_not_available, std::move(why)}; };
  auto resolved = resolve_params(params);
  if (!resolved) return resolved.err();
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // no driver / no device: clear it and report, never crash
    return fail("no usable CUDA driver: " + cuda::error_text(e));
  }
  if (device < 0 || device >= count) return fail("no CUDA device " + std::to_string(device) + " (" + std::to_string(count) + " visible)");
  try {
    return std::unique_ptr<page_analyzer>(std::make_unique<cuda::cuda_analyzer>(device, *resolved));
  } catch (const std::exception& ex) {
    return fail(ex.what());
  }
}

}  // namespace quire::gpu

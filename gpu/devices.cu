// Device discovery and health. Every failure becomes text in the report; nothing here throws or
// aborts, because the service calls this at startup on hosts with no driver, no device, or a device
// that is present but broken (and must then say so on /readyz rather than crash or hide it).
#include "gpu/cuda_analyzer.hpp"
#include "gpu/cuda_kernels.cuh"
#include "gpu/synthetic.hpp"

#include <exception>

namespace quire::gpu {
namespace {

// A launch on the device, then the real pipeline on two small synthetic pages (different sizes, one
// chunk) compared with the CPU reference. Returns "" when healthy.
std::string self_test(int device) {
  if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess) return "cudaSetDevice: " + cuda::error_text(e);
  constexpr int n = 1024;
  std::uint32_t* d = nullptr;
  if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&d), n * sizeof(std::uint32_t)); e != cudaSuccess)
    return "cudaMalloc: " + cuda::error_text(e);
  std::vector<std::uint32_t> h(n, 0);
  cudaError_t e = cuda::launch_probe(d, n, nullptr);
  if (e == cudaSuccess) e = cudaMemcpy(h.data(), d, n * sizeof(std::uint32_t), cudaMemcpyDeviceToHost);
  cudaFree(d);
  if (e != cudaSuccess) return "probe kernel: " + cuda::error_text(e);
  for (int i = 0; i < n; ++i)
    if (h[i] != std::uint32_t(i) * 3u + 1u) return "probe kernel: wrong result at " + std::to_string(i);

  try {
    synthetic_spec a;
    a.width = 400, a.height = 520, a.dpi = 60, a.seed = 7, a.specks = 40;
    synthetic_spec b = a;
    b.width = 333, b.height = 301, b.seed = 8, b.grain = 12;
    const gray_image pa = make_synthetic_page(a), pb = make_synthetic_page(b);
    analysis_params params;
    params.dpi = 60;
    params.keep_mask = true;
    params.pages_per_launch = 2;
    auto gpu = make_cuda_analyzer(device, params);
    if (!gpu) return gpu.err().message;
    const auto got = (*gpu)->analyze({pa.raster(), pb.raster()});
    if (!got) return "self-test: " + got.err().message;
    const auto want = make_cpu_analyzer(params)->analyze({pa.raster(), pb.raster()});
    if (!want) return "self-test (CPU reference): " + want.err().message;
    for (std::size_t i = 0; i < want->size(); ++i)
      if ((*got)[i] != (*want)[i])
        return "self-test differs from the CPU reference: " + describe_difference((*got)[i], (*want)[i]);
  } catch (const std::exception& ex) {
    return std::string("self-test: ") + ex.what();
  }
  return {};
}

}  // namespace

device_report discover_devices(bool run_self_test) {
  device_report r;
  r.cuda_compiled = true;
  cudaRuntimeGetVersion(&r.runtime_version);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    // No driver (cudaErrorInsufficientDriver), no device (cudaErrorNoDevice), ...: clear the error so
    // later runtime calls are not poisoned by it, and report.
    cudaGetLastError();
    r.error = cuda::error_text(e);
    return r;
  }
  cudaDriverGetVersion(&r.driver_version);
  r.driver_ok = true;
  if (count == 0) r.error = "no CUDA device visible";
  for (int i = 0; i < count; ++i) {
    device_info info;
    info.index = i;
    cudaDeviceProp prop{};
    if (cudaError_t pe = cudaGetDeviceProperties(&prop, i); pe != cudaSuccess) {
      cudaGetLastError();
      info.error = "cudaGetDeviceProperties: " + cuda::error_text(pe);
      r.devices.push_back(info);
      continue;
    }
    info.name = prop.name;
    info.cc_major = prop.major, info.cc_minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    info.total_memory = prop.totalGlobalMem;
    if (cudaError_t se = cudaSetDevice(i); se != cudaSuccess) {
      cudaGetLastError();
      info.error = "cudaSetDevice: " + cuda::error_text(se);
    } else if (cudaError_t me = cudaMemGetInfo(&info.free_memory, &info.total_memory); me != cudaSuccess) {
      cudaGetLastError();
      info.error = "cudaMemGetInfo: " + cuda::error_text(me);
    } else if (run_self_test) {
      info.error = self_test(i);
    }
    info.healthy = info.error.empty();
    r.devices.push_back(info);
  }
  return r;
}

}  // namespace quire::gpu

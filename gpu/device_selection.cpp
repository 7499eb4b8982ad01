// A discovery report -> a CUDA analyzer on a healthy device, or gpu_not_available saying why. No
// fallback here: the caller's acceleration policy decides whether the CPU reference may run instead.
#include "gpu/page_analysis.hpp"

namespace quire::gpu {

expected<std::unique_ptr<page_analyzer>> select_cuda_analyzer(const device_report& report, int device,
                                                              const analysis_params& params) {
  const device_info* chosen = nullptr;
  for (const device_info& d : report.devices)
    if ((device < 0 || d.index == device) && d.healthy) {
      chosen = &d;
      break;
    }
  if (!chosen) {
    std::string why;
    if (!report.cuda_compiled || !report.driver_ok || report.devices.empty()) why = report.summary();
    else if (device >= 0) why = "cuda:" + std::to_string(device) + " is not a healthy device: " + report.summary();
    else why = "no healthy CUDA device: " + report.summary();
    return error{errc::gpu_not_available, why};
  }
  auto made = make_cuda_analyzer(chosen->index, params);
  if (!made) return error{errc::gpu_not_available, made.err().message};
  return made;
}

}  // namespace quire::gpu

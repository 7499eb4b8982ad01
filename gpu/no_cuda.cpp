// Built instead of the .cu files when nvcc is absent or QUIRE_WITH_CUDA=OFF: the CUDA entry points
// still exist and report, truthfully, that this build has no GPU support, so callers (device
// selection, the readiness check) need no #ifdefs and a caller that requires a GPU fails closed.
#include "gpu/page_analysis.hpp"

namespace quire::gpu {

device_report discover_devices(bool /*self_test*/) {
  device_report r;
  r.error = "built without CUDA";
  return r;
}

expected<std::unique_ptr<page_analyzer>> make_cuda_analyzer(int /*device*/, const analysis_params& /*params*/) {
  return error{errc::gpu_not_available, "built without CUDA"};
}

}  // namespace quire::gpu

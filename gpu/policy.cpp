// acceleration_policy -> analyzer. gpu_required never falls back (the caller answers
// 503 gpu_not_available); gpu_prefer falls back with a warning the result metadata carries.
#include "gpu/page_analysis.hpp"

namespace quire::gpu {

bool parse_policy(const std::string& s, AccelerationPolicy* out) {
  if (s == "gpu_required") *out = AccelerationPolicy::gpu_required;
  else if (s == "gpu_prefer") *out = AccelerationPolicy::gpu_prefer;
  else if (s == "cpu_only") *out = AccelerationPolicy::cpu_only;
  else return false;
  return true;
}

AnalyzerSelection select_analyzer(AccelerationPolicy policy, const DeviceReport& report, int device,
                                  const AnalysisParams& params) {
  AnalyzerSelection sel;
  if (policy == AccelerationPolicy::cpu_only) {
    sel.analyzer = make_cpu_analyzer(params);
    sel.acceleration_used = "cpu";
    return sel;
  }
  std::string why;
  const DeviceInfo* chosen = nullptr;
  for (const DeviceInfo& d : report.devices)
    if ((device < 0 || d.index == device) && d.healthy) {
      chosen = &d;
      break;
    }
  if (!chosen) {
    if (!report.cuda_compiled || !report.driver_ok || report.devices.empty()) why = report.summary();
    else if (device >= 0) why = "cuda:" + std::to_string(device) + " is not a healthy device: " + report.summary();
    else why = "no healthy CUDA device: " + report.summary();
  } else {
    sel.analyzer = make_cuda_analyzer(chosen->index, params, &why);
    if (sel.analyzer) {
      sel.acceleration_used = sel.analyzer->name();
      return sel;
    }
  }
  if (policy == AccelerationPolicy::gpu_required) {
    sel.error = "gpu_not_available: " + why;
    return sel;
  }
  sel.analyzer = make_cpu_analyzer(params);
  sel.acceleration_used = "cpu";
  sel.warning = "GPU unavailable, analysed on the CPU: " + why;
  return sel;
}

}  // namespace quire::gpu

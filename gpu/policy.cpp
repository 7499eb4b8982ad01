// acceleration_policy -> analyzer. gpu_required never falls back (the caller answers
// 503 gpu_not_available); gpu_prefer falls back with a warning the result metadata carries.
#include "gpu/page_analysis.hpp"

namespace quire::gpu {

bool parse_policy(const std::string& s, acceleration_policy* out) {
  if (s == "gpu_required") *out = acceleration_policy::gpu_required;
  else if (s == "gpu_prefer") *out = acceleration_policy::gpu_prefer;
  else if (s == "cpu_only") *out = acceleration_policy::cpu_only;
  else return false;
  return true;
}

expected<analyzer_selection> select_analyzer(acceleration_policy policy, const device_report& report, int device,
                                            const analysis_params& params) {
  analyzer_selection sel;
  if (policy == acceleration_policy::cpu_only) {
    sel.analyzer = make_cpu_analyzer(params);
    sel.acceleration_used = "cpu";
    return sel;
  }
  std::string why;
  const device_info* chosen = nullptr;
  for (const device_info& d : report.devices)
    if ((device < 0 || d.index == device) && d.healthy) {
      chosen = &d;
      break;
    }
  if (!chosen) {
    if (!report.cuda_compiled || !report.driver_ok || report.devices.empty()) why = report.summary();
    else if (device >= 0) why = "cuda:" + std::to_string(device) + " is not a healthy device: " + report.summary();
    else why = "no healthy CUDA device: " + report.summary();
  } else {
    auto made = make_cuda_analyzer(chosen->index, params);
    if (made) {
      sel.analyzer = std::move(*made);
      sel.acceleration_used = sel.analyzer->name();
      return sel;
    }
    why = made.err().message;
  }
  if (policy == acceleration_policy::gpu_required) return error{errc::gpu_not_available, why};
  sel.analyzer = make_cpu_analyzer(params);
  sel.acceleration_used = "cpu";
  sel.warning = "GPU unavailable, analyzed on the CPU: " + why;
  return sel;
}

}  // namespace quire::gpu

// quire::convert — where page-raster analysis runs, and the policy's one spelling.
//
// Header-only so that what only names a policy (the job spec, the service's settings, the
// converter routing) can parse and print it without linking the engine.
#pragma once

#include <optional>
#include <string_view>

namespace quire::convert {

// gpu_required: on a CUDA device or not at all (errc::gpu_not_available); gpu_prefer: a CUDA device
// when one works, else the CPU with a warning; cpu_only: the CPU reference (identical results, the
// default: a library call or a one-shot CLI run should not probe devices unless asked).
enum class acceleration_policy { cpu_only, gpu_prefer, gpu_required };

inline constexpr acceleration_policy acceleration_policies[] = {
    acceleration_policy::cpu_only, acceleration_policy::gpu_prefer, acceleration_policy::gpu_required};

// "cpu_only", "gpu_prefer", "gpu_required": the names of the API, QUIRE_ACCELERATION_POLICY and the CLI.
inline std::string_view to_string(acceleration_policy p) {
  switch (p) {
    case acceleration_policy::cpu_only: return "cpu_only";
    case acceleration_policy::gpu_prefer: return "gpu_prefer";
    case acceleration_policy::gpu_required: return "gpu_required";
  }
  return "cpu_only";
}

// The policy of that name; nothing for any other text.
inline std::optional<acceleration_policy> parse_acceleration_policy(std::string_view s) {
  for (auto p : acceleration_policies)
    if (s == to_string(p)) return p;
  return std::nullopt;
}

}  // namespace quire::convert

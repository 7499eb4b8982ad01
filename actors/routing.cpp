// See detail/routing.hpp.
#include "actors/detail/routing.hpp"

namespace quire::actors {
namespace {
int first_free(const std::vector<converter_slot>& slots, bool gpu) {
  for (std::size_t i = 0; i < slots.size(); ++i)
    if (slots[i].gpu == gpu && slots[i].usable && !slots[i].busy) return static_cast<int>(i);
  return -1;
}
}  // namespace

int pick_converter(convert::acceleration_policy policy, const std::vector<converter_slot>& slots) {
  switch (policy) {
    case convert::acceleration_policy::cpu_only: {
      int i = first_free(slots, false);
      return i >= 0 ? i : first_free(slots, true);
    }
    case convert::acceleration_policy::gpu_prefer: {
      int i = first_free(slots, true);
      return i >= 0 ? i : first_free(slots, false);
    }
    case convert::acceleration_policy::gpu_required: break;
  }
  return first_free(slots, true);
}

int pick_converter(const std::string& policy, const std::vector<converter_slot>& slots) {
  const auto p = convert::parse_acceleration_policy(policy);
  return pick_converter(p.value_or(convert::acceleration_policy::gpu_required), slots);
}

}  // namespace quire::actors

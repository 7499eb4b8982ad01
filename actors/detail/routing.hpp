// quire::actors — which converter may run a job, by the job's execution.acceleration_policy.
//
// Pure (no actors, no I/O) so the coordinator's choice is unit-tested:
//   gpu_required  an idle GPU converter, or none (the job waits; it never falls back)
//   gpu_prefer    an idle GPU converter, else an idle CPU converter (the worker's engine then records a
//                 "GPU unavailable" warning in the result)
//   cpu_only      an idle CPU converter, else an idle GPU converter (its worker analyzes on the CPU, so
//                 a GPU-only prod lane still runs cpu_only jobs)
#pragma once

#include <string>
#include <vector>

#include "convert/acceleration.hpp"

namespace quire::actors {

struct converter_slot {
  bool gpu = false;     // bound to a CUDA device
  bool usable = false;  // worker running, device not failed
  bool busy = false;
};

// Index of the converter to use, or -1 when none that satisfies `policy` is free.
int pick_converter(convert::acceleration_policy policy, const std::vector<converter_slot>& slots);
// The same by the policy's name; an unknown name is treated as gpu_required (never run a job
// somewhere it did not allow).
int pick_converter(const std::string& policy, const std::vector<converter_slot>& slots);

}  // namespace quire::actors

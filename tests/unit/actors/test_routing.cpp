#include <catch2/catch.hpp>

#include "actors/detail/routing.hpp"

using quire::actors::converter_slot;
using quire::actors::pick_converter;

namespace {
converter_slot gpu(bool usable = true, bool busy = false) { return {true, usable, busy}; }
converter_slot cpu(bool usable = true, bool busy = false) { return {false, usable, busy}; }
}  // namespace

TEST_CASE("gpu_required runs on a free working GPU converter or waits, never on the CPU") {
  CHECK(pick_converter("gpu_required", {cpu(), gpu()}) == 1);
  CHECK(pick_converter("gpu_required", {cpu(), cpu()}) == -1);
  CHECK(pick_converter("gpu_required", {cpu(), gpu(true, true)}) == -1);   // busy
  CHECK(pick_converter("gpu_required", {cpu(), gpu(false)}) == -1);        // device failed / worker down
  CHECK(pick_converter("gpu_required", {gpu(false), gpu(), cpu()}) == 1);
}

TEST_CASE("gpu_prefer takes a GPU when one is free, else falls back to a CPU converter") {
  CHECK(pick_converter("gpu_prefer", {cpu(), gpu()}) == 1);
  CHECK(pick_converter("gpu_prefer", {cpu(), gpu(true, true)}) == 0);
  CHECK(pick_converter("gpu_prefer", {cpu(false), gpu(false)}) == -1);
  CHECK(pick_converter("gpu_prefer", {}) == -1);
}

TEST_CASE("cpu_only prefers CPU converters but may use a GPU converter's worker (CPU analysis)") {
  CHECK(pick_converter("cpu_only", {gpu(), cpu()}) == 1);
  CHECK(pick_converter("cpu_only", {gpu(), cpu(true, true)}) == 0);
  CHECK(pick_converter("cpu_only", {gpu(false), cpu(false)}) == -1);
}

TEST_CASE("an unknown policy is treated as gpu_required") {
  CHECK(pick_converter("gpu_fast", {cpu()}) == -1);
  CHECK(pick_converter("", {cpu(), gpu()}) == 1);
}

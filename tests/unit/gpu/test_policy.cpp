// Device discovery and acceleration policy. Runs everywhere: on a CI machine without a GPU the
// discovery must report the missing driver and the policy must fail closed or fall back as asked.
#include "gpu_test.hpp"

#include "gpu/page_analysis.hpp"

using namespace quire::gpu;

namespace {
device_report no_driver() {
  device_report r;
  r.cuda_compiled = true;
  r.error = "cudaErrorInsufficientDriver (CUDA driver version is insufficient for CUDA runtime version)";
  return r;
}
device_report broken_device() {
  device_report r;
  r.cuda_compiled = true;
  r.driver_ok = true;
  device_info d;
  d.index = 0;
  d.name = "Test GPU";
  d.error = "probe kernel: cudaErrorNoKernelImageForDevice";
  r.devices.push_back(d);
  return r;
}
}  // namespace

TEST_CASE("policy names parse", "[gpu][policy]") {
  acceleration_policy p{};
  CHECK(parse_policy("gpu_required", &p));
  CHECK(p == acceleration_policy::gpu_required);
  CHECK(parse_policy("gpu_prefer", &p));
  CHECK(p == acceleration_policy::gpu_prefer);
  CHECK(parse_policy("cpu_only", &p));
  CHECK(p == acceleration_policy::cpu_only);
  CHECK_FALSE(parse_policy("gpu", &p));
}

TEST_CASE("gpu_required without a working GPU refuses; gpu_prefer falls back with a warning", "[gpu][policy]") {
  for (const device_report& r : {no_driver(), broken_device()}) {
    const auto req = select_analyzer(acceleration_policy::gpu_required, r);
    REQUIRE_FALSE(req);
    CHECK(req.err().code == errc::gpu_not_available);
    CHECK(to_string(req.err().code) == "gpu_not_available");

    const auto pref = select_analyzer(acceleration_policy::gpu_prefer, r);
    REQUIRE(pref);
    REQUIRE(pref->analyzer != nullptr);
    CHECK(pref->acceleration_used == "cpu");
    CHECK(pref->analyzer->name() == "cpu");
    CHECK_FALSE(pref->warning.empty());
  }
  // The broken device is named with its error, not hidden.
  const auto req = select_analyzer(acceleration_policy::gpu_required, broken_device());
  REQUIRE_FALSE(req);
  CHECK(req.err().message.find("NoKernelImage") != std::string::npos);
  CHECK(broken_device().summary().find("FAILED") != std::string::npos);
}

TEST_CASE("cpu_only always uses the CPU, with no warning", "[gpu][policy]") {
  const auto s = select_analyzer(acceleration_policy::cpu_only, broken_device());
  REQUIRE(s);
  REQUIRE(s->analyzer != nullptr);
  CHECK(s->acceleration_used == "cpu");
  CHECK(s->warning.empty());
}

TEST_CASE("discovery never throws and is self-consistent on this machine", "[gpu][devices]") {
  const device_report r = discover_devices(true);
  CHECK_FALSE(r.summary().empty());
  if (!r.cuda_compiled || !r.driver_ok) {
    CHECK(r.devices.empty());
    CHECK_FALSE(r.error.empty());
  }
  for (const device_info& d : r.devices) CHECK(d.healthy == d.error.empty());
  const auto s = select_analyzer(acceleration_policy::gpu_required, r);
  if (r.healthy_count() > 0) {
    REQUIRE(s);
    REQUIRE(s->analyzer != nullptr);
    CHECK(s->acceleration_used.rfind("cuda:", 0) == 0);
  } else {
    CHECK_FALSE(s);
  }
  const auto none = make_cuda_analyzer(4096, {});
  REQUIRE_FALSE(none);
  CHECK(none.err().code == errc::gpu_not_available);
  CHECK_FALSE(none.err().message.empty());
}

// Device discovery and choosing a device. Runs everywhere: on a CI machine without a GPU the
// discovery must report the missing driver and the selection must fail closed, saying why. (Falling
// back to the CPU is the caller's policy: tests/unit/convert/test_page_raster.cpp.)
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

TEST_CASE("without a working GPU no CUDA analyzer is made, and the error says why", "[gpu][devices]") {
  for (const device_report& r : {no_driver(), broken_device()}) {
    const auto sel = select_cuda_analyzer(r);
    REQUIRE_FALSE(sel);
    CHECK(sel.err().code == errc::gpu_not_available);
    CHECK(to_string(sel.err().code) == "gpu_not_available");
    CHECK_FALSE(sel.err().message.empty());
  }
  // The broken device is named with its error, not hidden.
  const auto sel = select_cuda_analyzer(broken_device());
  REQUIRE_FALSE(sel);
  CHECK(sel.err().message.find("NoKernelImage") != std::string::npos);
  CHECK(broken_device().summary().find("FAILED") != std::string::npos);
  // Asking for that device by index says it is not healthy.
  const auto by_index = select_cuda_analyzer(broken_device(), 0);
  REQUIRE_FALSE(by_index);
  CHECK(by_index.err().message.find("cuda:0 is not a healthy device") != std::string::npos);
}

TEST_CASE("discovery never throws and is self-consistent on this machine", "[gpu][devices]") {
  const device_report r = discover_devices(true);
  CHECK_FALSE(r.summary().empty());
  if (!r.cuda_compiled || !r.driver_ok) {
    CHECK(r.devices.empty());
    CHECK_FALSE(r.error.empty());
  }
  for (const device_info& d : r.devices) CHECK(d.healthy == d.error.empty());
  const auto s = select_cuda_analyzer(r);
  if (r.healthy_count() > 0) {
    REQUIRE(s);
    REQUIRE(*s != nullptr);
    CHECK((*s)->name().rfind("cuda:", 0) == 0);
  } else {
    CHECK_FALSE(s);
  }
  const auto none = make_cuda_analyzer(4096, {});
  REQUIRE_FALSE(none);
  CHECK(none.err().code == errc::gpu_not_available);
  CHECK_FALSE(none.err().message.empty());
}

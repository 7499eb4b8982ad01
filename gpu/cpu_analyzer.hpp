// Internal: the CPU reference's per-page pixel work, exposed so the device self-test and tests can
// compare a single page's raw statistics. Callers outside gpu/ use make_cpu_analyzer().
#pragma once

#include "gpu/detail/raw.hpp"

namespace quire::gpu::detail {

// Pixel statistics of one validated raster with resolved params.
page_raw analyze_page_cpu(const raster_view& r, const analysis_params& resolved);

}  // namespace quire::gpu::detail

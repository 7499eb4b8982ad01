// Internal: the CUDA kernels of the page analysis. One launch covers a chunk of pages: blockIdx.y is
// the page, and each page's buffers sit at the offsets in its page_desc. Every kernel mirrors one stage
// of detail::analyze_page_cpu() and uses the same integer rules (detail/raw.hpp), so the outputs are
// identical; only the order of list entries differs, which finish_page() sorts away.
#pragma once

#include "gpu/detail/raw.hpp"

#include <cstdint>

namespace quire::gpu::cuda {

constexpr std::uint32_t no_label = 0xffffffffu;

struct page_desc {
  unsigned long long pixel;  // offset of the page in every per-pixel buffer
  unsigned long long hrun, vrun, comp;  // offsets into the run and component lists
  std::uint32_t hcap, vcap, ccap;       // list capacities (upper bounds, see capacities())
  int width, height;
};

// Per-pixel device buffers of one chunk; each is indexed by page_desc::pixel + y*width + x.
struct pixel_buffers {
  const std::uint8_t* gray;
  std::uint8_t* ink;
  std::uint16_t* hlen;
  std::uint16_t* vlen;
  std::uint32_t* label;
  std::uint32_t* count;
  std::uint32_t* x0;
  std::uint32_t* y0;
  std::uint32_t* x1;
  std::uint32_t* y1;
};

// Per-page results small enough to copy back in one go.
struct page_counters {
  std::uint32_t histogram[256];
  int threshold;
  std::uint32_t nh, nv, nc;
  unsigned long long ink;
};

struct stage_params {
  int fixed_threshold;  // -1: Otsu
  int min_contrast;
  int min_rule_length;
  int max_rule_thickness;
};

// Launches the whole pipeline for `pages` pages on `stream`. max_pixels/max_w/max_h size the grids.
// counters must be zeroed before (cudaMemsetAsync). Returns the first launch error.
cudaError_t launch_pipeline(const page_desc* desc, int pages, long long max_pixels, int max_w, int max_h,
                            const pixel_buffers& buf, page_counters* counters, detail::ink_run* hruns,
                            detail::ink_run* vruns, detail::component* comps, const stage_params& sp,
                            cudaStream_t stream);

// A trivial kernel for the device health check: writes out[i] = i * 3 + 1 for i < n.
cudaError_t launch_probe(std::uint32_t* out, int n, cudaStream_t stream);

}  // namespace quire::gpu::cuda

// CUDA kernels of the page analysis (see cuda_kernels.cuh). Stage by stage they match
// detail::analyze_page_cpu(); comments say where the GPU version differs in method, never in result.
#include "gpu/cuda_kernels.cuh"

namespace quire::gpu::cuda {
namespace {

constexpr int threads_per_block = 256;
constexpr unsigned full_warp = 0xffffffffu;

// The loops marked "block-uniform" step over a page's pixels in block-sized strides whose bound
// depends on the block, not the thread, so every thread of the block runs every iteration: warp
// intrinsics and __syncthreads_count inside see all lanes; lanes past the end carry valid == false.

__global__ void k_histogram(const page_desc* desc, const std::uint8_t* gray, page_counters* counters) {
  __shared__ std::uint32_t h[256];
  const page_desc d = desc[blockIdx.y];
  for (int k = threadIdx.x; k < 256; k += blockDim.x) h[k] = 0;
  __syncthreads();
  const long long n = (long long)d.width * d.height;
  for (long long base = (long long)blockIdx.x * blockDim.x; base < n; base += (long long)gridDim.x * blockDim.x) {
    const long long i = base + threadIdx.x;  // block-uniform loop
    const bool valid = i < n;
    const unsigned v = valid ? gray[d.pixel + i] : 256u;
    // Pages are mostly one level (white): lanes with equal values add once through a leader,
    // instead of 32 conflicting shared-memory atomics.
    const unsigned peers = __match_any_sync(full_warp, v);
    if (v < 256u && (threadIdx.x & 31) == unsigned(__ffs(peers) - 1)) atomicAdd(&h[v], unsigned(__popc(peers)));
  }
  __syncthreads();
  for (int k = threadIdx.x; k < 256; k += blockDim.x)
    if (h[k]) atomicAdd(&counters[blockIdx.y].histogram[k], h[k]);
}

__global__ void k_threshold(page_counters* counters, int pages, stage_params sp) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= pages) return;
  counters[p].threshold =
      sp.fixed_threshold >= 0 ? sp.fixed_threshold : detail::otsu_threshold(counters[p].histogram, sp.min_contrast);
}

__global__ void k_binarize(const page_desc* desc, pixel_buffers buf, page_counters* counters) {
  const page_desc d = desc[blockIdx.y];
  const int t = counters[blockIdx.y].threshold;
  const long long n = (long long)d.width * d.height;
  unsigned long long total = 0;
  for (long long base = (long long)blockIdx.x * blockDim.x; base < n; base += (long long)gridDim.x * blockDim.x) {
    const long long i = base + threadIdx.x;  // block-uniform loop
    const bool valid = i < n;
    const bool ink = valid && buf.gray[d.pixel + i] < t;
    if (valid) buf.ink[d.pixel + i] = ink;
    total += __syncthreads_count(ink);
  }
  if (threadIdx.x == 0 && total) atomicAdd(&counters[blockIdx.y].ink, total);
}

// One thread per row: runs are sequential by nature, and a page has thousands of rows per chunk page.
__global__ void k_row_runs(const page_desc* desc, pixel_buffers buf, page_counters* counters, detail::ink_run* runs,
                           int min_len) {
  const page_desc d = desc[blockIdx.y];
  const int y = blockIdx.x * blockDim.x + threadIdx.x;
  if (y >= d.height) return;
  const int w = d.width;
  const std::uint8_t* row = buf.ink + d.pixel + (unsigned long long)y * w;
  std::uint16_t* len_out = buf.hlen + d.pixel + (unsigned long long)y * w;
  for (int x = 0; x < w;) {
    if (!row[x]) {
      len_out[x++] = 0;
      continue;
    }
    int e = x;
    while (e + 1 < w && row[e + 1]) ++e;
    const int len = e - x + 1;
    for (int k = x; k <= e; ++k) len_out[k] = std::uint16_t(len);
    if (len >= min_len) {
      const unsigned idx = atomicAdd(&counters[blockIdx.y].nh, 1u);
      if (idx < d.hcap) runs[d.hrun + idx] = detail::ink_run{y, x, e};
    }
    x = e + 1;
  }
}

// One thread per column: neighbouring threads read neighbouring bytes, so this one coalesces.
__global__ void k_col_runs(const page_desc* desc, pixel_buffers buf, page_counters* counters, detail::ink_run* runs,
                           int min_len) {
  const page_desc d = desc[blockIdx.y];
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  if (x >= d.width) return;
  const int w = d.width, h = d.height;
  const std::uint8_t* col = buf.ink + d.pixel + x;
  std::uint16_t* len_out = buf.vlen + d.pixel + x;
  for (int y = 0; y < h;) {
    if (!col[(unsigned long long)y * w]) {
      len_out[(unsigned long long)y * w] = 0;
      ++y;
      continue;
    }
    int e = y;
    while (e + 1 < h && col[(unsigned long long)(e + 1) * w]) ++e;
    const int len = e - y + 1;
    for (int k = y; k <= e; ++k) len_out[(unsigned long long)k * w] = std::uint16_t(len);
    if (len >= min_len) {
      const unsigned idx = atomicAdd(&counters[blockIdx.y].nv, 1u);
      if (idx < d.vcap) runs[d.vrun + idx] = detail::ink_run{x, y, e};
    }
    y = e + 1;
  }
}

__global__ void k_label_init(const page_desc* desc, pixel_buffers buf, stage_params sp) {
  const page_desc d = desc[blockIdx.y];
  const long long n = (long long)d.width * d.height;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const unsigned long long g = d.pixel + i;
    const bool m = detail::component_pixel(buf.ink[g], buf.hlen[g], buf.vlen[g], sp.min_rule_length,
                                           sp.max_rule_thickness);
    buf.label[g] = m ? std::uint32_t(i) : no_label;
    buf.count[g] = 0;
    buf.x0[g] = buf.y0[g] = 0xffffffffu;
    buf.x1[g] = buf.y1[g] = 0;
  }
}

// Union-find with atomicMin (labels only ever decrease and always point to a smaller index of the
// same component), so the final root of every component is its smallest pixel index: the same root
// the CPU's sequential union-by-smaller-index finds. Reads are volatile because other threads are
// relinking concurrently and a stale L1 line could otherwise be read again and again.
__device__ std::uint32_t find_root(const std::uint32_t* L, std::uint32_t x) {
  const volatile std::uint32_t* v = L;
  std::uint32_t p = v[x];
  while (p != x) {
    x = p;
    p = v[x];
  }
  return x;
}

__device__ void unite(std::uint32_t* L, std::uint32_t a, std::uint32_t b) {
  for (;;) {
    a = find_root(L, a);
    b = find_root(L, b);
    if (a == b) return;
    if (a < b) {
      const std::uint32_t t = a;
      a = b;
      b = t;
    }
    // a > b: hang root a under b. If a stopped being a root meanwhile, continue from where it went.
    const std::uint32_t old = atomicMin(&L[a], b);
    if (old == a) return;
    a = old;
  }
}

__global__ void k_merge(const page_desc* desc, pixel_buffers buf) {
  const page_desc d = desc[blockIdx.y];
  const int w = d.width;
  const long long n = (long long)w * d.height;
  std::uint32_t* L = buf.label + d.pixel;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    if (L[i] == no_label) continue;  // mask membership never changes, only labels among members
    const int x = int(i % w), y = int(i / w);
    const bool left = x > 0 && L[i - 1] != no_label;
    const bool up = y > 0 && L[i - w] != no_label;
    const bool ul = y > 0 && x > 0 && L[i - w - 1] != no_label;
    const bool ur = y > 0 && x + 1 < w && L[i - w + 1] != no_label;
    const std::uint32_t me = std::uint32_t(i);
    // The same neighbour choice as the CPU (any choice that yields the full 8-connectivity would do).
    if (left) unite(L, me, me - 1);
    if (up) {
      if (!left) unite(L, me, me - w);
    } else {
      if (ul && !left) unite(L, me, me - w - 1);
      if (ur) unite(L, me, me - w + 1);
    }
  }
}

__global__ void k_compress(const page_desc* desc, pixel_buffers buf) {
  const page_desc d = desc[blockIdx.y];
  const long long n = (long long)d.width * d.height;
  std::uint32_t* L = buf.label + d.pixel;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    if (L[i] != no_label) L[i] = find_root(L, std::uint32_t(i));
}

__global__ void k_stats(const page_desc* desc, pixel_buffers buf) {
  const page_desc d = desc[blockIdx.y];
  const int w = d.width;
  const long long n = (long long)w * d.height;
  for (long long base = (long long)blockIdx.x * blockDim.x; base < n; base += (long long)gridDim.x * blockDim.x) {
    const long long i = base + threadIdx.x;  // block-uniform loop
    const bool valid = i < n;
    const std::uint32_t r = valid ? buf.label[d.pixel + i] : no_label;
    const unsigned x = valid ? unsigned(i % w) : 0u, y = valid ? unsigned(i / w) : 0u;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    // A warp usually covers 32 pixels of one row: lanes of the same component reduce first, and one
    // leader does the global atomics (a page-sized component would otherwise serialise on one word).
    const unsigned peers = __match_any_sync(full_warp, r);
    if (r != no_label) {
      const unsigned c = __popc(peers);
      const unsigned minx = __reduce_min_sync(peers, x), maxx = __reduce_max_sync(peers, x);
      const unsigned miny = __reduce_min_sync(peers, y), maxy = __reduce_max_sync(peers, y);
      if ((threadIdx.x & 31) == unsigned(__ffs(peers) - 1)) {
        const unsigned long long g = d.pixel + r;
        atomicAdd(&buf.count[g], c);
        atomicMin(&buf.x0[g], minx);
        atomicMax(&buf.x1[g], maxx);
        atomicMin(&buf.y0[g], miny);
        atomicMax(&buf.y1[g], maxy);
      }
    }
#else
    if (r != no_label) {
      const unsigned long long g = d.pixel + r;
      atomicAdd(&buf.count[g], 1u);
      atomicMin(&buf.x0[g], x);
      atomicMax(&buf.x1[g], x);
      atomicMin(&buf.y0[g], y);
      atomicMax(&buf.y1[g], y);
    }
#endif
  }
}

__global__ void k_collect(const page_desc* desc, pixel_buffers buf, page_counters* counters, detail::component* comps) {
  const page_desc d = desc[blockIdx.y];
  const long long n = (long long)d.width * d.height;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    const unsigned long long g = d.pixel + i;
    if (buf.label[g] != std::uint32_t(i)) continue;
    const unsigned idx = atomicAdd(&counters[blockIdx.y].nc, 1u);
    if (idx < d.ccap)
      comps[d.comp + idx] = detail::component{std::uint32_t(i), buf.count[g], std::uint16_t(buf.x0[g]),
                                              std::uint16_t(buf.y0[g]), std::uint16_t(buf.x1[g]),
                                              std::uint16_t(buf.y1[g])};
  }
}

__global__ void k_probe(std::uint32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = std::uint32_t(i) * 3u + 1u;
}

}  // namespace

cudaError_t launch_pipeline(const page_desc* desc, int pages, long long max_pixels, int max_w, int max_h,
                            const pixel_buffers& buf, page_counters* counters, detail::ink_run* hruns,
                            detail::ink_run* vruns, detail::component* comps, const stage_params& sp,
                            cudaStream_t stream) {
  // Enough blocks per page to fill the GPU with a few pages in flight; the loops stride the rest.
  const long long want = (max_pixels + threads_per_block - 1) / threads_per_block;
  const dim3 pixel_grid(unsigned(want < 512 ? (want < 1 ? 1 : want) : 512), unsigned(pages));
  const dim3 row_grid(unsigned((max_h + 127) / 128), unsigned(pages));
  const dim3 col_grid(unsigned((max_w + 127) / 128), unsigned(pages));
  k_histogram<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf.gray, counters);
  k_threshold<<<(pages + 63) / 64, 64, 0, stream>>>(counters, pages, sp);
  k_binarize<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf, counters);
  k_row_runs<<<row_grid, 128, 0, stream>>>(desc, buf, counters, hruns, sp.min_rule_length);
  k_col_runs<<<col_grid, 128, 0, stream>>>(desc, buf, counters, vruns, sp.min_rule_length);
  k_label_init<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf, sp);
  k_merge<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf);
  k_compress<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf);
  k_stats<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf);
  k_collect<<<pixel_grid, threads_per_block, 0, stream>>>(desc, buf, counters, comps);
  return cudaGetLastError();
}

cudaError_t launch_probe(std::uint32_t* out, int n, cudaStream_t stream) {
  k_probe<<<(n + 255) / 256, 256, 0, stream>>>(out, n);
  return cudaGetLastError();
}

}  // namespace quire::gpu::cuda

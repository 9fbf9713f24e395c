// What the CUDA kernels share: launching on the one stream with a checked
// launch, grid-stride loops over int64 indices (no grid dimension above
// kMaxBlocks), and warp and block sums in double. Scratch memory is
// autograd/kernels/scratch.h's, from cuda_backend().
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>

#include "autograd/backend.h"
#include "autograd/cuda/runtime.h"
#include "autograd/kernels/scratch.h"

namespace ag::cuda {

constexpr int kWarpSize = 32;                // lanes of a warp on every NVIDIA GPU
constexpr unsigned kFullWarp = 0xffffffffu;  // shuffle mask: every lane takes part
constexpr int kThreads = 256;                // threads per block, a multiple of kWarpSize
constexpr int64_t kMaxBlocks = 1 << 16;      // grid-stride loops cover the rest
static_assert(kThreads % kWarpSize == 0, "blocks of whole warps");

struct Grid {
  unsigned blocks, threads;
};

// Blocks of kThreads for one thread per element (no blocks for none).
inline Grid grid_for(int64_t n) {
  const int64_t blocks = (std::max<int64_t>(n, 0) + kThreads - 1) / kThreads;
  return {static_cast<unsigned>(std::min(blocks, kMaxBlocks)), kThreads};
}

// One block of kThreads per task (no blocks for none).
inline Grid block_per_task(int64_t tasks) {
  return {static_cast<unsigned>(std::clamp<int64_t>(tasks, 0, kMaxBlocks)), kThreads};
}

// kernel<<<grid, stream()>>>(args...) unless the grid is empty, then a check
// that names the kernel (and, with AG_CUDA_SYNC=1, a wait for it).
template <class... Params, class... Args>
void launch(const char* name, SourceLocation at, Grid grid, void (*kernel)(Params...),
            Args&&... args) {
  if (grid.blocks == 0) return;
  kernel<<<grid.blocks, grid.threads, 0, stream()>>>(std::forward<Args>(args)...);
  check(cudaGetLastError(), name, at);
  sync_if_debugging(name, at);
}

__device__ inline int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ inline int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// The sum of v over the warp, in every lane (every lane must call it).
__device__ inline double warp_sum(double v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullWarp, v, offset);
  return v;
}

// The maximum of v over the warp, in every lane (every lane must call it).
template <class T>
__device__ inline T warp_max(T v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(kFullWarp, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// The sum of v over the block, in every thread. Every thread of the block
// must call it; blockDim.x must be a multiple of kWarpSize. The order of the
// additions is fixed, so results repeat bit for bit. A block has at most
// 1024 threads, so at most kWarpSize warps: one warp adds their partials.
__device__ inline double block_sum(double v) {
  __shared__ double partial[kWarpSize];
  __shared__ double total;
  const unsigned lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  __syncthreads();  // readers of the previous call's partial and total are done
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = warp_sum(lane < blockDim.x / kWarpSize ? partial[lane] : 0.0);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

}  // namespace ag::cuda

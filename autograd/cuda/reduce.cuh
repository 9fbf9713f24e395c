// Whole-tensor sums in double on CUDA, shared by reduce.cu (mse_loss, sum of
// everything) and optim.cu (the squared norm behind gradient clipping): each
// block sums its grid-stride share, then one block adds the partial sums.
// The order is fixed by the size, so a run repeats bit for bit.
#pragma once
#include <algorithm>
#include <cstdint>

#include "autograd/cuda/launch.cuh"

namespace ag::cuda {

// Blocks of partial sums; enough to fill the device, few enough for one block to add.
constexpr int64_t kSumBlocks = 1024;

template <class F>
__global__ void partial_sums_kernel(int64_t n, F term, double* partial) {
  double acc = 0.0;
  for (int64_t i = global_index(); i < n; i += grid_stride()) acc += term(i);
  acc = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

template <class T>
__global__ void total_kernel(const double* partial, int64_t parts, bool accumulate, T* out) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = static_cast<T>(accumulate ? static_cast<double>(*out) + acc : acc);
}

// *out (one element on the device) = sum of term(i) for i < n, or += it when
// accumulate; term is a functor with __device__ double operator()(int64_t).
template <class T, class F>
void sum_terms(int64_t n, F term, T* out, bool accumulate) {
  const Grid grid{std::min<unsigned>(grid_for(n).blocks, kSumBlocks), kThreads};
  Scratch<double> partial(cuda_backend(), std::max<unsigned>(grid.blocks, 1));
  launch("partial_sums_kernel", AG_HERE, grid, partial_sums_kernel<F>, n, term, partial.data());
  launch("total_kernel", AG_HERE, Grid{1, kThreads}, total_kernel<T>, partial.data(),
         static_cast<int64_t>(grid.blocks), accumulate, out);
}

}  // namespace ag::cuda

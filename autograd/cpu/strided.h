// Iteration over strided operands of one shape (coalesced as
// autograd/kernels/strided_loop.h describes). The innermost dimension is split into
// blocks and (row, block) pairs run in parallel, so a contiguous tensor is
// shared across cores too.
#pragma once
#include <algorithm>
#include <cstdint>

#include "autograd/cpu/dispatch.h"
#include "autograd/kernels/strided_loop.h"

namespace ag::cpu {

using ag::coalesce;
using ag::StridedLoop;

// Calls f(offsets, n, inner_strides) for runs of n elements along the
// innermost dimension; offsets[k] is operand k's element offset of the run.
template <int K, class F>
void for_each_run(const StridedLoop<K>& L, F&& f) {
  constexpr int64_t kBlock = 8192;
  const int nd = L.ndim;
  const int64_t inner = L.shape[nd - 1];
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= L.shape[d];
  int64_t inner_strides[K];
  for (int k = 0; k < K; ++k) inner_strides[k] = L.strides[k][nd - 1];
  const int64_t tasks = rows * blocks;
#pragma omp parallel for schedule(static) if (rows * inner >= kParallelGrain)
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t row = t / blocks, start = (t % blocks) * kBlock;
    int64_t off[K];
    for (int k = 0; k < K; ++k) off[k] = start * inner_strides[k];
    for (int d = nd - 2; d >= 0; --d) {
      int64_t i = row % L.shape[d];
      row /= L.shape[d];
      for (int k = 0; k < K; ++k) off[k] += i * L.strides[k][d];
    }
    f(off, std::min(kBlock, inner - start), inner_strides);
  }
}

}  // namespace ag::cpu

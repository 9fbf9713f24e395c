// Iteration over strided operands of one shape. Dimensions of size 1 are
// dropped and neighbours that are contiguous for every operand merged, so a
// broadcast add of a (C, 1, 1) bias onto (N, C, H, W) runs as N*C rows of H*W.
// The innermost dimension is split into blocks and (row, block) pairs run in
// parallel, so a contiguous tensor is shared across cores too.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "autograd/backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag::cpu {

template <int K>
struct StridedLoop {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
};

// All refs must have the same shape (the first one's).
template <int K>
StridedLoop<K> coalesce(const std::array<const TensorRef*, K>& refs) {
  StridedLoop<K> L;
  const TensorRef& r0 = *refs[0];
  for (int d = 0; d < r0.ndim; ++d) {
    if (r0.shape[d] == 1) continue;
    bool merge = L.ndim > 0;
    for (int k = 0; k < K && merge; ++k)
      merge = L.strides[k][L.ndim - 1] == refs[k]->strides[d] * r0.shape[d];
    if (merge) {
      L.shape[L.ndim - 1] *= r0.shape[d];
      for (int k = 0; k < K; ++k) L.strides[k][L.ndim - 1] = refs[k]->strides[d];
    } else {
      L.shape[L.ndim] = r0.shape[d];
      for (int k = 0; k < K; ++k) L.strides[k][L.ndim] = refs[k]->strides[d];
      ++L.ndim;
    }
  }
  if (L.ndim == 0) {
    L.ndim = 1;
    L.shape[0] = 1;
    for (int k = 0; k < K; ++k) L.strides[k][0] = 0;
  }
  return L;
}

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

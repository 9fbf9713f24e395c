// Element offsets of strided operands in CUDA kernels, from a StridedLoop
// (autograd/kernels/strided_loop.h) passed by value: one thread per element.
#pragma once
#include <cstdint>

#include "autograd/kernels/strided_loop.h"

namespace ag::cuda {

// off[k] = operand k's offset of element i (row-major over L's shape). The
// outermost dimension takes the remaining quotient, so a coalesced
// contiguous operand needs no division at all.
template <int K>
__device__ inline void strided_offsets(const StridedLoop<K>& L, int64_t i, int64_t off[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = L.ndim - 1; d > 0; --d) {
    const int64_t q = i / L.shape[d];
    const int64_t idx = i - q * L.shape[d];
    i = q;
    for (int k = 0; k < K; ++k) off[k] += idx * L.strides[k][d];
  }
  for (int k = 0; k < K; ++k) off[k] += i * L.strides[k][0];
}

}  // namespace ag::cuda

// Strided operands of one shape, simplified for iteration by any backend:
// dimensions of size 1 are dropped and neighbours that are contiguous for
// every operand merged, so a broadcast add of a (C, 1, 1) bias onto
// (N, C, H, W) runs as N*C rows of H*W. A StridedLoop is plain data, so a
// CUDA kernel takes it by value.
#pragma once
#include <array>
#include <cstdint>

#include "autograd/backend.h"

namespace ag {

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

}  // namespace ag

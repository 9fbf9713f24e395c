// The sizes of one group norm, shared by the backends' kernels: plain data
// with AG_HOST_DEVICE helpers, so a CUDA kernel takes it by value.
#pragma once
#include <cstdint>

#include "autograd/backend.h"
#include "autograd/host_device.h"

namespace ag {

// x (N, C, *) as N, C and the flattened spatial size HW, in G groups.
struct GroupDims {
  int64_t N, C, HW, G;
  AG_HOST_DEVICE int64_t channels_per_group() const { return C / G; }
  AG_HOST_DEVICE int64_t group_size() const { return C / G * HW; }
};

inline GroupDims group_dims(const TensorRef& x, int64_t G) {
  const int64_t N = x.shape[0], C = x.shape[1];
  const int64_t NC = N * C;
  return {N, C, NC == 0 ? 0 : x.numel() / NC, G};
}

}  // namespace ag

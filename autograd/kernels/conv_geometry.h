// The sizes of one conv2d, shared by the backends' kernels: plain data with
// AG_HOST_DEVICE helpers, so a CUDA kernel takes it by value.
#pragma once
#include <cstdint>

#include "autograd/backend.h"
#include "autograd/host_device.h"

namespace ag {

struct ConvGeometry {
  int64_t N, C, H, W;  // input (N, C, H, W)
  int64_t K, R, S;     // weight (K, C, R, S)
  int64_t P, Q;        // output (N, K, P, Q)
  int64_t stride, pad;
  AG_HOST_DEVICE int64_t crs() const { return C * R * S; }
  AG_HOST_DEVICE int64_t hw() const { return H * W; }
  AG_HOST_DEVICE int64_t pq() const { return P * Q; }
  AG_HOST_DEVICE bool pointwise() const { return R == 1 && S == 1 && stride == 1 && pad == 0; }
  AG_HOST_DEVICE bool keeps_size() const { return stride == 1 && P == H && Q == W; }
};

inline ConvGeometry conv_geometry(const TensorRef& x, const TensorRef& w, const Conv2dParams& p) {
  ConvGeometry g;
  g.N = x.shape[0];
  g.C = x.shape[1];
  g.H = x.shape[2];
  g.W = x.shape[3];
  g.K = w.shape[0];
  g.R = w.shape[2];
  g.S = w.shape[3];
  g.stride = p.stride;
  g.pad = p.padding;
  g.P = (g.H + 2 * g.pad - g.R) / g.stride + 1;
  g.Q = (g.W + 2 * g.pad - g.S) / g.stride + 1;
  return g;
}

}  // namespace ag

// Test helpers for nn models: the small U-Net the gradient checks use, and
// random float64 parameters (DDPM's near-zero inits would make the residual
// branches' gradients vanish and the checks weak).
#pragma once
#include "nn/unet.h"

namespace ag::test {

// 1x8x8 input, ch 8, two levels (8, 4), attention at 4, no dropout.
inline nn::UNetConfig small_test_unet() {
  nn::UNetConfig c;
  c.in_ch = 1;
  c.ch = 8;
  c.ch_mult = {1, 2};
  c.num_res_blocks = 1;
  c.attn_resolutions = {4};
  c.num_groups = 4;
  c.dropout = 0.0;
  c.resolution = 8;
  return c;
}

// Converts m to float64 and gives every parameter N(0, 0.5^2) values.
inline void randomize_f64(nn::Module& m, uint64_t seed) {
  m.to(DType::F64);
  Generator gen(seed);
  NoGradGuard no_grad;
  for (const Tensor& p : m.parameters()) p.copy_(randn(p.shape(), &gen, DType::F64) * 0.5);
}

}  // namespace ag::test

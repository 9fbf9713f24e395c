// DDPM's initializers (official models/unet.py, nn.py): variance scaling with
// fan_avg and a uniform distribution, i.e. U(-limit, limit) with
// limit = sqrt(3 * scale / ((fan_in + fan_out) / 2)). Layers whose output
// starts a residual branch use scale 1e-10 instead of 0, as the official
// code does, so they start as (almost) the identity yet still get gradients.
#pragma once
#include "autograd/ops.h"

namespace nn {

constexpr double kZeroInitScale = 1e-10;

// A float32 tensor of `shape` drawn from U(-limit, limit) as above.
ag::Tensor variance_scaling_uniform(const ag::Shape& shape, int64_t fan_in, int64_t fan_out,
                                    double scale, ag::Generator& gen);

}  // namespace nn

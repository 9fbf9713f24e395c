// The U-Net's building blocks, as in DDPM's official models/unet.py.
#pragma once
#include "nn/layers.h"

namespace nn {

// DDPM's sinusoidal embedding of timesteps t (N) -> (N, dim): the first half
// sin(t * f_i), the second half cos(t * f_i), f_i = 10000^(-i / (dim/2 - 1)).
Tensor timestep_embedding(const Tensor& t, int64_t dim, ag::DType dtype, ag::Device device);

// The sinusoidal embedding followed by Linear(ch, 4ch), SiLU, Linear(4ch, 4ch).
class TimestepEmbedding : public Module {
 public:
  TimestepEmbedding(int64_t ch, ag::Generator& gen);
  Tensor forward(const Tensor& t) const;  // t (N) -> (N, 4ch)
  int64_t ch;
  std::shared_ptr<Linear> dense0, dense1;
};

// 3x3 convolution with stride 2: (N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2)).
class Downsample : public Module {
 public:
  Downsample(int64_t channels, ag::Generator& gen);
  Tensor forward(const Tensor& x) const { return conv->forward(x); }
  std::shared_ptr<Conv2d> conv;
};

// Nearest-neighbour 2x, then a 3x3 convolution.
class Upsample : public Module {
 public:
  Upsample(int64_t channels, ag::Generator& gen);
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<Conv2d> conv;
};

// Self-attention over the H*W positions: x + proj_out(softmax(q k^T / sqrt(C)) v),
// with q, k, v 1x1 convolutions of GroupNorm(x).
class AttentionBlock : public Module {
 public:
  AttentionBlock(int64_t channels, int64_t groups, ag::Generator& gen);
  Tensor forward(const Tensor& x) const;  // (N, C, H, W) -> same
  std::shared_ptr<GroupNorm> norm;
  std::shared_ptr<Conv2d> q, k, v, proj_out;
};

// h = conv1(SiLU(norm1(x))) + temb_proj(SiLU(temb)) per channel;
// h = conv2(dropout(SiLU(norm2(h)))); out = shortcut(x) + h, where the
// shortcut is a 1x1 convolution when the channel count changes.
class ResBlock : public Module {
 public:
  ResBlock(int64_t in_ch, int64_t out_ch, int64_t temb_ch, int64_t groups, double dropout,
           ag::Generator& gen, ag::Generator* dropout_gen);
  Tensor forward(const Tensor& x, const Tensor& temb) const;  // x (N, in, H, W), temb (N, T)
  std::shared_ptr<GroupNorm> norm1, norm2;
  std::shared_ptr<Conv2d> conv1, conv2, nin_shortcut;  // nin_shortcut null if in == out
  std::shared_ptr<Linear> temb_proj;
  std::shared_ptr<Dropout> drop;
};

}  // namespace nn

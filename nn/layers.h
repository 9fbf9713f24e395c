// The basic layers. Weights use PyTorch's layouts (Linear (out, in), Conv2d
// OIHW) so checkpoints open directly in PyTorch; init follows DDPM (init.h).
#pragma once
#include "nn/module.h"

namespace nn {

// y = x W^T + b; x (N, in) -> (N, out).
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, ag::Generator& gen, double init_scale = 1.0);
  Tensor forward(const Tensor& x) const;
  Tensor weight;  // (out, in)
  Tensor bias;    // (out)
};

// x (N, in, H, W) -> (N, out, P, Q), square kernel.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
         ag::Generator& gen, double init_scale = 1.0);
  Tensor forward(const Tensor& x) const;
  Tensor weight;  // (out, in, kernel, kernel)
  Tensor bias;    // (out)
  int64_t stride, padding;
};

// Group normalization with a per-channel affine; eps 1e-6 as in DDPM.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-6);
  Tensor forward(const Tensor& x) const;
  Tensor weight;  // (C), starts at 1
  Tensor bias;    // (C), starts at 0
  int64_t groups;
  double eps;
};

// A table of learned vectors: idx (N) int32 in [0, num) -> rows (N, dim).
// Entries start as standard normals (torch.nn.Embedding's init).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, ag::Generator& gen);
  Tensor forward(const Tensor& idx) const { return ag::gather(weight, idx); }
  Tensor weight;  // (num, dim)
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) const { return ag::silu(x); }
};

// Zeroes activations with probability p in training mode; masks come from
// `gen` (the model's generator, saved in training checkpoints).
class Dropout : public Module {
 public:
  Dropout(double p, ag::Generator* gen) : p(p), gen_(gen) {}
  Tensor forward(const Tensor& x) const { return ag::dropout(x, p, is_training(), gen_); }
  double p;

 private:
  ag::Generator* gen_;
};

}  // namespace nn

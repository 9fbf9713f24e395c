// The negative log-likelihood bound in bits/dim (Eq. 5) of a batch of images:
// every one of the T terms plus the prior, with the breakdown per term and the
// per-t error of the predicted x_0 (the data of the paper's Fig. 5).
#pragma once
#include <functional>
#include <vector>

#include "diffusion/diffusion.h"

namespace diffusion {

struct BoundResult {
  Tensor total_bpd;               // (N): prior + sum of all terms
  Tensor prior_bpd;               // (N): L_T
  std::vector<Tensor> terms_bpd;  // [t] -> (N): L_0 at index 0 (decoder), L_{t-1} else
  std::vector<Tensor> x0_mse;     // [t] -> (N): mean over pixels of (pred x_0 - x_0)^2
};

struct BoundOptions {
  bool clip_x0 = true;      // as the official evaluation
  bool discretized = true;  // the 256-level decoder of Eq. 13, or a continuous Gaussian
  std::function<void(int64_t, int64_t)> progress;  // (terms done, T)
};

// For t = T..1: x_t = q_sample(x_0, t, fresh noise), then the term at t.
// Runs under the no-grad guard; noise from `gen`.
BoundResult calc_bpd_loop(const GaussianDiffusion& diffusion, const Denoiser& model,
                          const Tensor& x0, ag::Generator& gen, const BoundOptions& opt = {});

}  // namespace diffusion

// Gaussian log-densities and divergences, elementwise and differentiable
// (built from autograd ops), as the variational bound needs them.
#pragma once
#include "autograd/ops.h"

namespace diffusion {

using ag::Tensor;

// KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) per element, in nats:
// 0.5 (-1 + logvar2 - logvar1 + exp(logvar1 - logvar2) + (mean1 - mean2)^2 exp(-logvar2)).
// Arguments broadcast against each other.
Tensor normal_kl(const Tensor& mean1, const Tensor& logvar1, const Tensor& mean2,
                 const Tensor& logvar2);

// The standard normal CDF by the tanh approximation of the official code:
// 0.5 (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
Tensor approx_standard_normal_cdf(const Tensor& x);

// log p(x) per element for the discretized Gaussian decoder, Eq. 13: data x
// in [-1, 1] on 256 levels, bins of width 2/255 centred on the levels; the
// first bin reaches to -inf and the last to +inf. Probabilities are clamped
// at 1e-12 before the log. means and log_scales (log standard deviations)
// have x's shape.
Tensor discretized_gaussian_log_likelihood(const Tensor& x, const Tensor& means,
                                           const Tensor& log_scales);

// log N(x; mean, exp(log_scale)^2) per element, the continuous density.
Tensor gaussian_log_likelihood(const Tensor& x, const Tensor& mean, const Tensor& log_scale);

}  // namespace diffusion

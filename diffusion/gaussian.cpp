#include "diffusion/gaussian.h"

#include <cmath>

namespace diffusion {

using namespace ag;

Tensor normal_kl(const Tensor& mean1, const Tensor& logvar1, const Tensor& mean2,
                 const Tensor& logvar2) {
  Tensor ratio = exp(logvar1 - logvar2);
  Tensor mahalanobis = square(mean1 - mean2) * exp(neg(logvar2));
  return (logvar2 - logvar1 + ratio + mahalanobis - 1.0) * 0.5;
}

Tensor approx_standard_normal_cdf(const Tensor& x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return (tanh((x + pow(x, 3.0) * 0.044715) * k) + 1.0) * 0.5;
}

Tensor discretized_gaussian_log_likelihood(const Tensor& x, const Tensor& means,
                                           const Tensor& log_scales) {
  constexpr double kHalfBin = 1.0 / 255.0, kMinProb = 1e-12;
  Tensor centered = x - means;
  Tensor inv_stdv = exp(neg(log_scales));
  Tensor cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + kHalfBin));
  Tensor cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - kHalfBin));
  Tensor log_cdf_plus = log(clamp(cdf_plus, kMinProb, INFINITY));                // first bin
  Tensor log_one_minus_cdf_min = log(clamp(1.0 - cdf_min, kMinProb, INFINITY));  // last bin
  Tensor log_cdf_delta = log(clamp(cdf_plus - cdf_min, kMinProb, INFINITY));     // the others
  // Which case a pixel is in depends on the data only. The masks are step
  // functions built from clamp: a steep ramp through the threshold, clamped
  // to [0, 1], is exactly 0 or 1 for data on the 256 levels.
  Tensor data = x.detach();
  Tensor is_first = clamp((data + 0.999) * -1e30, 0.0, 1.0);  // x < -0.999
  Tensor is_last = clamp((data - 0.999) * 1e30, 0.0, 1.0);    // x > 0.999
  Tensor is_inner = 1.0 - (is_first + is_last);
  return is_first * log_cdf_plus + is_last * log_one_minus_cdf_min + is_inner * log_cdf_delta;
}

Tensor gaussian_log_likelihood(const Tensor& x, const Tensor& mean, const Tensor& log_scale) {
  const double half_log_2pi = 0.5 * std::log(2 * 3.14159265358979323846);
  Tensor z = (x - mean) * exp(neg(log_scale));
  return neg(square(z) * 0.5 + log_scale) - half_log_2pi;
}

}  // namespace diffusion

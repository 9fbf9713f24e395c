#include "diffusion/gaussian.h"

#include <cmath>

#include "autograd/math_constants.h"

namespace diffusion {

using namespace ag;

Tensor normal_kl(const Tensor& mean1, const Tensor& logvar1, const Tensor& mean2,
                 const Tensor& logvar2) {
  Tensor ratio = exp(logvar1 - logvar2);
  Tensor mahalanobis = square(mean1 - mean2) * exp(neg(logvar2));
  return (logvar2 - logvar1 + ratio + mahalanobis - 1.0) * 0.5;
}

namespace {

// 2 sqrt(2 / pi) (x + 0.044715 x^3): the official code's CDF is
// 0.5 (1 + tanh(a / 2)) = sigmoid(a), and 1 minus it is sigmoid(-a). The
// sigmoid forms are the same functions without the cancellation of
// 1 + tanh(a / 2) for a << 0 (tanh is -1 there to within rounding), so each
// keeps full relative precision in its tail.
Tensor cdf_logit(const Tensor& x) {
  const double k = 2 * std::sqrt(2.0 / kPi);
  return (x + pow(x, 3.0) * 0.044715) * k;
}

}  // namespace

Tensor approx_standard_normal_cdf(const Tensor& x) { return sigmoid(cdf_logit(x)); }

Tensor discretized_gaussian_log_likelihood(const Tensor& x, const Tensor& means,
                                           const Tensor& log_scales) {
  constexpr double kHalfBin = 1.0 / 255.0, kMinProb = 1e-12, kEdge = 0.999;
  Tensor centered = x - means;
  Tensor inv_stdv = exp(neg(log_scales));
  Tensor logit_plus = cdf_logit(inv_stdv * (centered + kHalfBin));
  Tensor logit_min = cdf_logit(inv_stdv * (centered - kHalfBin));
  Tensor cdf_plus = sigmoid(logit_plus), cdf_min = sigmoid(logit_min);
  Tensor sf_plus = sigmoid(neg(logit_plus)), sf_min = sigmoid(neg(logit_min));  // 1 - cdf
  // The inner bins' mass cdf_plus - cdf_min, taken as sf_min - sf_plus above
  // the mean so that it never is a difference of two numbers near 1. Both
  // forms are the same function: the select only picks the precise one.
  Tensor cdf_delta = where(greater(centered, 0.0), sf_min - sf_plus, cdf_plus - cdf_min);
  Tensor log_cdf_plus = log(clamp(cdf_plus, kMinProb, INFINITY));         // first bin
  Tensor log_one_minus_cdf_min = log(clamp(sf_min, kMinProb, INFINITY));  // last bin
  Tensor log_cdf_delta = log(clamp(cdf_delta, kMinProb, INFINITY));       // the others
  // Which bin a pixel is in (first, last, inner) depends on the data only:
  // x < -0.999 and x > 0.999 (the nearest inner levels are +-0.99216), one
  // select nested in the other as in the official code, so the gradient
  // reaches the means and scales through the selected term alone.
  return where(less(x, -kEdge), log_cdf_plus,
               where(greater(x, kEdge), log_one_minus_cdf_min, log_cdf_delta));
}

Tensor gaussian_log_likelihood(const Tensor& x, const Tensor& mean, const Tensor& log_scale) {
  const double half_log_2pi = 0.5 * std::log(2 * kPi);
  Tensor z = (x - mean) * exp(neg(log_scale));
  return neg(square(z) * 0.5 + log_scale) - half_log_2pi;
}

}  // namespace diffusion

#include "nn/init.h"

#include <cmath>

namespace nn {

ag::Tensor variance_scaling_uniform(const ag::Shape& shape, int64_t fan_in, int64_t fan_out,
                                    double scale, ag::Generator& gen) {
  const double fan_avg = 0.5 * static_cast<double>(fan_in + fan_out);
  const double limit = std::sqrt(3.0 * scale / fan_avg);
  ag::NoGradGuard no_grad;
  return ag::affine(ag::rand(shape, &gen), 2.0 * limit, -limit);  // U(0,1) -> U(-l, l)
}

}  // namespace nn

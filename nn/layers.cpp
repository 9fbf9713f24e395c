#include "nn/layers.h"

#include "nn/init.h"

namespace nn {

Linear::Linear(int64_t in, int64_t out, ag::Generator& gen, double init_scale) {
  weight =
      register_parameter("weight", variance_scaling_uniform({out, in}, in, out, init_scale, gen));
  bias = register_parameter("bias", ag::zeros({out}));
}

Embedding::Embedding(int64_t num, int64_t dim, ag::Generator& gen) {
  weight = register_parameter("weight", ag::randn({num, dim}, &gen));
}

Tensor Linear::forward(const Tensor& x) const {
  return ag::add(ag::matmul(x, ag::transpose(weight, 0, 1)), bias);
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
               ag::Generator& gen, double init_scale)
    : stride(stride), padding(padding) {
  const int64_t area = kernel * kernel;
  weight = register_parameter(
      "weight",
      variance_scaling_uniform({out, in, kernel, kernel}, in * area, out * area, init_scale, gen));
  bias = register_parameter("bias", ag::zeros({out}));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return ag::conv2d(x, weight, bias, stride, padding);
}

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps) : groups(groups), eps(eps) {
  weight = register_parameter("weight", ag::ones({channels}));
  bias = register_parameter("bias", ag::zeros({channels}));
}

Tensor GroupNorm::forward(const Tensor& x) const {
  return ag::group_norm(x, groups, weight, bias, eps);
}

}  // namespace nn

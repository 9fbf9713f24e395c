// dropout: y = x * mask, mask[i] = Bernoulli(1 - p) / (1 - p), drawn from the
// Philox stream, so the expected value of y is x. The gradient is dy * mask.
#include "autograd/ops/common.h"

namespace ag {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  detail::check_float(x, "dropout");
  if (!(p >= 0.0 && p < 1.0))
    throw std::runtime_error("dropout: probability " + std::to_string(p) + " is outside [0, 1)");
  if (!training || p == 0.0) return x;
  Tensor mask = random_draw(RandomKind::Bernoulli, x.shape(), gen ? *gen : default_generator(),
                            1.0 - p, x.dtype(), x.device());
  detail::backend_of(x).unary(UnaryOp::Affine, mask.ref(), mask.ref(), 1.0 / (1.0 - p), 0.0);
  return mul(x, mask);
}

}  // namespace ag

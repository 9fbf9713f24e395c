// mse_loss = mean((a - b)^2): forward is one fused pass (squared_error_sum)
// and a scale in place; backward d/da = 2 (a - b) dy / n, d/db = -d/da.
#include "autograd/ops/common.h"

namespace ag {

Tensor mse_loss(const Tensor& a, const Tensor& b) {
  detail::check_compatible(a, b, "mse_loss");
  if (a.shape() != b.shape())
    throw std::runtime_error("mse_loss: shapes " + shape_str(a.shape()) + " and " +
                             shape_str(b.shape()) + " differ");
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor y = empty({}, a.dtype(), a.device());
  detail::backend_of(a).squared_error_sum(ac.ref(), bc.ref(), y.ref());
  const double n = static_cast<double>(a.numel());
  detail::backend_of(a).unary(UnaryOp::Affine, y.ref(), y.ref(), 1.0 / n, 0.0);
  if (!needs_grad({a, b})) return y;
  return record("mse_loss", y, {a, b},
                [sa = SavedTensor(ac), sb = SavedTensor(bc), n](const Tensor& dy,
                                                                const std::vector<bool>& need) {
                  Tensor da = mul(sub(sa.get(), sb.get()), dy * (2.0 / n));
                  return std::vector<Tensor>{need[0] ? da : Tensor(), need[1] ? neg(da) : Tensor()};
                });
}

}  // namespace ag

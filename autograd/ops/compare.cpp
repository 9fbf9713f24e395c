// greater and less (0/1 masks without gradient) and where (a select whose
// gradient reaches only the branch taken), with NumPy broadcasting.
#include <stdexcept>

#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;
using detail::binary_forward;

namespace {

// b as a 0-d tensor on a's dtype and device, so it broadcasts against a.
Tensor scalar_like(const Tensor& a, double b, const char* op) {
  detail::check_float(a, op);
  return full({}, b, a.dtype(), a.device());
}

}  // namespace

// The masks are never recorded: a step function has no useful gradient, so
// their outputs do not require grad whatever their inputs do.
Tensor greater(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::Greater, a, b, "greater");
}
Tensor greater(const Tensor& a, double b) { return greater(a, scalar_like(a, b, "greater")); }
Tensor less(const Tensor& a, const Tensor& b) {
  return binary_forward(BinaryOp::Less, a, b, "less");
}
Tensor less(const Tensor& a, double b) { return less(a, scalar_like(a, b, "less")); }

// y = cond ? a : b, so dy goes to a where cond is nonzero and to b elsewhere:
// da = where(cond, dy, 0), db = where(cond, 0, dy), each summed back to its
// input's shape. A select rather than mask products (cond dy), so the branch
// not taken gets exact zeros even where dy is inf or NaN.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_compatible(cond, a, "where");
  detail::check_compatible(a, b, "where");
  const Shape shape = detail::broadcast_shapes_for(
      detail::broadcast_shapes_for(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor y = empty(shape, a.dtype(), a.device());
  backend_of(a).where(detail::broadcast_ref(cond, shape), detail::broadcast_ref(a, shape),
                      detail::broadcast_ref(b, shape), y.ref());
  if (!needs_grad({a, b})) return y;
  return record("where", y, {a, b},
                [sc = SavedTensor(cond), sa = a.shape(), sb = b.shape()](
                    const Tensor& dy, const std::vector<bool>& need) {
                  const Tensor& c = sc.get();
                  const Tensor zero = zeros({}, dy.dtype(), dy.device());
                  return std::vector<Tensor>{need[0] ? sum_to(where(c, dy, zero), sa) : Tensor(),
                                             need[1] ? sum_to(where(c, zero, dy), sb) : Tensor()};
                });
}

}  // namespace ag

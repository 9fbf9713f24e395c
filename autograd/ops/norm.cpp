// group_norm and softmax. Both run fused forward and backward kernels: the
// backward closures call the backend directly rather than composing ops.
#include <stdexcept>

#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;
using detail::ref_or_null;

namespace {

void check_group_norm_args(const Tensor& x, int64_t G, const Tensor& gamma, const Tensor& beta) {
  detail::check_compatible(x, gamma, "group_norm");
  detail::check_compatible(x, beta, "group_norm");
  if (x.dim() < 2)
    throw std::runtime_error("group_norm: expected x of shape (N, C, *), got shape " +
                             shape_str(x.shape()));
  const int64_t C = x.size(1);
  if (G <= 0 || C % G != 0)
    throw std::runtime_error("group_norm: " + std::to_string(C) +
                             " channels are not divisible into " + std::to_string(G) + " groups");
  const Shape want{C};
  if (gamma.shape() != want)
    throw std::runtime_error("group_norm: gamma has shape " + shape_str(gamma.shape()) +
                             ", expected " + shape_str(want));
  if (beta.shape() != want)
    throw std::runtime_error("group_norm: beta has shape " + shape_str(beta.shape()) +
                             ", expected " + shape_str(want));
}

}  // namespace

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& gamma, const Tensor& beta,
                  double eps) {
  check_group_norm_args(x, num_groups, gamma, beta);
  const int64_t N = x.size(0), G = num_groups;
  Tensor xc = x.contiguous(), gc = gamma.contiguous();
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  Tensor mean = empty({N, G}, x.dtype(), x.device());  // (N, G)
  Tensor rstd = empty({N, G}, x.dtype(), x.device());  // (N, G)
  backend_of(x).group_norm_forward(xc.ref(), gc.ref(), beta.contiguous().ref(), G, eps, y.ref(),
                                   mean.ref(), rstd.ref());
  if (!needs_grad({x, gamma, beta})) return y;
  return record("group_norm", y, {x, gamma, beta},
                [sx = SavedTensor(xc), sg = SavedTensor(gc), mean, rstd, G](
                    const Tensor& dy, const std::vector<bool>& need) {
                  const Tensor& x = sx.get();
                  const Tensor& gamma = sg.get();
                  Tensor dx = need[0] ? empty_like(x) : Tensor();
                  Tensor dgamma = need[1] ? empty_like(gamma) : Tensor();
                  Tensor dbeta = need[2] ? empty_like(gamma) : Tensor();
                  backend_of(x).group_norm_backward(x.ref(), gamma.ref(), mean.ref(), rstd.ref(),
                                                    dy.contiguous().ref(), G, ref_or_null(dx),
                                                    ref_or_null(dgamma), ref_or_null(dbeta));
                  return std::vector<Tensor>{dx, dgamma, dbeta};
                });
}

// Softmax over `axis` of x viewed as (outer, D, inner).
Tensor softmax(const Tensor& x, int axis) {
  detail::check_float(x, "softmax");
  const int a = detail::normalize_axis(axis, x.dim(), "softmax");
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < a; ++i) outer *= s[i];
  for (int i = a + 1; i < x.dim(); ++i) inner *= s[i];
  const int64_t D = s[a];
  Tensor y = empty(s, x.dtype(), x.device());
  backend_of(x).softmax_forward(x.contiguous().ref(), outer, D, inner, y.ref());
  if (!needs_grad({x})) return y;
  return record("softmax", y, {x},
                [sy = SavedTensor(y), outer, D, inner](const Tensor& dy, const std::vector<bool>&) {
                  const Tensor& y = sy.get();
                  Tensor dx = empty_like(y);
                  backend_of(y).softmax_backward(y.ref(), dy.contiguous().ref(), outer, D, inner,
                                                 dx.ref());
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace ag

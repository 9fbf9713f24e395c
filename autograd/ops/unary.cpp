// Elementwise unary ops. Each saves what its derivative needs, the input x
// or the output y, and calls the backend's fused unary_backward kernel.
#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;

namespace {

enum class Keep { Input, Output, Both, Nothing };

Tensor unary_op(UnaryOp op, const char* name, const Tensor& x, Keep keep, double alpha = 0.0,
                double beta = 0.0) {
  detail::check_float(x, name);
  Tensor xc = x.contiguous();
  Tensor y = empty(x.shape(), x.dtype(), x.device());
  backend_of(x).unary(op, xc.ref(), y.ref(), alpha, beta);
  if (!needs_grad({x})) return y;
  const bool keep_x = keep == Keep::Input || keep == Keep::Both;
  const bool keep_y = keep == Keep::Output || keep == Keep::Both;
  SavedTensor sx = keep_x ? SavedTensor(xc) : SavedTensor();
  SavedTensor sy = keep_y ? SavedTensor(y) : SavedTensor();
  return record(name, y, {x}, [op, alpha, sx, sy](const Tensor& dy, const std::vector<bool>&) {
    Tensor g = dy.contiguous();
    Tensor dx = empty_like(g);
    TensorRef xr = sx.get().defined() ? sx.get().ref() : TensorRef{};
    TensorRef yr = sy.get().defined() ? sy.get().ref() : TensorRef{};
    backend_of(g).unary_backward(op, xr, yr, g.ref(), dx.ref(), alpha);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::Neg, "neg", x, Keep::Nothing); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::Exp, "exp", x, Keep::Output); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::Log, "log", x, Keep::Input); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::Sqrt, "sqrt", x, Keep::Output); }
Tensor pow(const Tensor& x, double exponent) {
  return unary_op(UnaryOp::Pow, "pow", x, Keep::Input, exponent);
}
Tensor square(const Tensor& x) { return unary_op(UnaryOp::Square, "square", x, Keep::Input); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::Sigmoid, "sigmoid", x, Keep::Output); }
Tensor silu(const Tensor& x) { return unary_op(UnaryOp::Silu, "silu", x, Keep::Input); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::Tanh, "tanh", x, Keep::Output); }
Tensor affine(const Tensor& x, double alpha, double beta) {
  return unary_op(UnaryOp::Affine, "affine", x, Keep::Nothing, alpha, beta);
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  if (!(lo <= hi))
    throw std::runtime_error("clamp: lower bound " + std::to_string(lo) + " above upper bound " +
                             std::to_string(hi));
  return unary_op(UnaryOp::Clamp, "clamp", x, Keep::Both, lo, hi);
}

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator*(const Tensor& x, double s) { return affine(x, s, 0.0); }
Tensor operator*(double s, const Tensor& x) { return affine(x, s, 0.0); }
Tensor operator+(const Tensor& x, double s) { return affine(x, 1.0, s); }
Tensor operator-(const Tensor& x, double s) { return affine(x, 1.0, -s); }
Tensor operator/(const Tensor& x, double s) { return affine(x, 1.0 / s, 0.0); }
Tensor operator+(double s, const Tensor& x) { return affine(x, 1.0, s); }
Tensor operator-(double s, const Tensor& x) { return affine(x, -1.0, s); }

}  // namespace ag

#include "autograd/fused.h"

#include <stdexcept>
#include <string>

#include "autograd/ops/common.h"

namespace ag::fused {

namespace {

// Throws "<op>: ..." unless t is a contiguous floating-point tensor.
void check_dense(const Tensor& t, const char* op) {
  detail::check_float(t, op);
  if (!t.is_contiguous()) throw std::runtime_error(std::string(op) + ": tensor is strided");
}

// Throws "<op>: <what> is ..., <of> is ..." unless a and b share shape, dtype
// and device.
void check_like(const Tensor& a, const char* what, const Tensor& b, const char* of,
                const char* op) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype() || a.device() != b.device())
    throw std::runtime_error(std::string(op) + ": " + what + " is " +
                             describe(a.shape(), a.dtype(), a.device()) + ", " + of + " is " +
                             describe(b.shape(), b.dtype(), b.device()));
}

}  // namespace

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
               const AdamStepArgs& args) {
  for (const Tensor* t : {&param, &grad, &m, &v}) check_dense(*t, "adam_step");
  check_like(grad, "gradient", param, "parameter", "adam_step");
  check_like(m, "first moment", param, "parameter", "adam_step");
  check_like(v, "second moment", param, "parameter", "adam_step");
  detail::backend_of(param).adam_update(param.ref(), grad.ref(), m.ref(), v.ref(), args);
  param.bump_version();
  m.bump_version();
  v.bump_version();
}

void ema_update(const Tensor& ema, const Tensor& param, double decay) {
  check_dense(ema, "ema_update");
  check_dense(param, "ema_update");
  check_like(param, "parameter", ema, "average", "ema_update");
  detail::backend_of(ema).ema_update(ema.ref(), param.ref(), decay);
  ema.bump_version();
}

void scale_(const Tensor& x, double s) {
  check_dense(x, "scale_");
  detail::backend_of(x).scale_(x.ref(), s);
  x.bump_version();
}

void add_sum_squares(const Tensor& x, const Tensor& acc) {
  check_dense(x, "add_sum_squares");
  if (!acc.defined() || acc.dtype() != DType::F64 || acc.numel() != 1 || acc.device() != x.device())
    throw std::runtime_error("add_sum_squares: acc must be one float64 element on x's device");
  detail::backend_of(x).sum_squares(x.ref(), acc.ref());
  acc.bump_version();
}

}  // namespace ag::fused

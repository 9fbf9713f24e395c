// What the backends' optimizer kernels share: the scalars of an Adam step
// and the check of their operands.
#pragma once
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "autograd/backend.h"
#include "autograd/host_device.h"

namespace ag {

// The scalars of one Adam step in the parameter's type, derived as in
// PyTorch's single-tensor Adam: step_size = lr / bc1, denominators divided by
// sqrt(bc2). Plain data, so a CUDA kernel takes it by value.
template <class T>
struct AdamScalars {
  explicit AdamScalars(const AdamStepArgs& a)
      : b1(static_cast<T>(a.beta1)),
        one_minus_b1(static_cast<T>(1.0 - a.beta1)),
        b2(static_cast<T>(a.beta2)),
        one_minus_b2(static_cast<T>(1.0 - a.beta2)),
        eps(static_cast<T>(a.eps)),
        l2(static_cast<T>(a.decoupled ? 0.0 : a.weight_decay)),
        decay(static_cast<T>(a.decoupled ? 1.0 - a.lr * a.weight_decay : 1.0)),
        neg_step_size(static_cast<T>(-a.lr / a.bias_correction1)),
        bc2_sqrt(static_cast<T>(std::sqrt(a.bias_correction2))) {}
  T b1, one_minus_b1, b2, one_minus_b2, eps;
  T l2;     // Adam: g += weight_decay * param
  T decay;  // AdamW: param *= 1 - lr * weight_decay
  T neg_step_size, bc2_sqrt;
};

// One element of the Adam/AdamW step: p, its gradient g and the moments m, v.
// The operation order follows torch.optim.Adam / AdamW (foreach=False) so
// float32 results agree with PyTorch's to rounding.
template <class T>
AG_HOST_DEVICE inline void adam_element(T& p, T g, T& m, T& v, const AdamScalars<T>& s) {
  g += s.l2 * p;
  const T decayed = p * s.decay;
  m = m * s.b1 + s.one_minus_b1 * g;
  v = v * s.b2 + s.one_minus_b2 * g * g;
  const T denom = std::sqrt(v) / s.bc2_sqrt + s.eps;
  p = decayed + s.neg_step_size * m / denom;
}

// Throws unless every operand is contiguous with the first one's size and dtype.
inline void check_optim_operands(const char* kernel, std::initializer_list<const TensorRef*> refs) {
  const TensorRef& first = **refs.begin();
  for (const TensorRef* r : refs)
    if (r->numel() != first.numel() || r->dtype != first.dtype || !r->is_contiguous())
      throw std::runtime_error(std::string(kernel) +
                               ": operands must be contiguous with equal sizes and dtypes");
}

}  // namespace ag

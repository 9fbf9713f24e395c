// Optimizer kernels: the fused Adam/AdamW step, the EMA update, and the
// scale and sum of squares behind gradient-norm clipping. Each is one pass
// over contiguous buffers, across cores when large.
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

namespace {

// The scalars of one Adam step in the parameter's type, derived as in
// PyTorch's single-tensor Adam: step_size = lr / bc1, denominators divided
// by sqrt(bc2).
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

// The operation order follows torch.optim.Adam / AdamW (foreach=False) so
// float32 results agree with PyTorch's to rounding.
template <class T>
void adam_typed(T* p, const T* dp, T* m, T* v, int64_t n, const AdamScalars<T>& s) {
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T g = dp[i] + s.l2 * p[i];
    const T decayed = p[i] * s.decay;
    m[i] = m[i] * s.b1 + s.one_minus_b1 * g;
    v[i] = v[i] * s.b2 + s.one_minus_b2 * g * g;
    const T denom = std::sqrt(v[i]) / s.bc2_sqrt + s.eps;
    p[i] = decayed + s.neg_step_size * m[i] / denom;
  }
}

// Every operand contiguous, with the first one's size and dtype.
void check_operands(const char* kernel, std::initializer_list<const TensorRef*> refs) {
  const TensorRef& first = **refs.begin();
  for (const TensorRef* r : refs)
    if (r->numel() != first.numel() || r->dtype != first.dtype || !r->is_contiguous())
      throw std::runtime_error(std::string(kernel) +
                               ": operands must be contiguous with equal sizes and dtypes");
}

}  // namespace

void CpuBackend::adam_update(const TensorRef& param, const TensorRef& grad, const TensorRef& m,
                             const TensorRef& v, const AdamStepArgs& a) {
  check_operands("adam_update", {&param, &grad, &m, &v});
  cpu::dispatch_float(param.dtype, "adam_update", [&](auto tag) {
    using T = decltype(tag);
    adam_typed(param.ptr<T>(), grad.ptr<T>(), m.ptr<T>(), v.ptr<T>(), param.numel(),
               AdamScalars<T>(a));
  });
}

void CpuBackend::ema_update(const TensorRef& ema, const TensorRef& param, double decay) {
  check_operands("ema_update", {&ema, &param});
  cpu::dispatch_float(ema.dtype, "ema_update", [&](auto tag) {
    using T = decltype(tag);
    T* e = ema.ptr<T>();
    const T* p = param.ptr<T>();
    const T d = static_cast<T>(decay), one_minus_d = static_cast<T>(1.0 - decay);
    const int64_t n = ema.numel();
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) e[i] = d * e[i] + one_minus_d * p[i];
  });
}

void CpuBackend::scale_(const TensorRef& x, double s) {
  check_operands("scale_", {&x});
  cpu::dispatch_float(x.dtype, "scale_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.ptr<T>();
    const T c = static_cast<T>(s);
    const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] *= c;
  });
}

void CpuBackend::sum_squares(const TensorRef& x, const TensorRef& out) {
  check_operands("sum_squares", {&x});
  if (out.dtype != DType::F64 || out.numel() != 1)
    throw std::runtime_error("sum_squares: the output must be one float64 element");
  cpu::dispatch_float(x.dtype, "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.ptr<T>();
    const int64_t n = x.numel();
    double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    out.ptr<double>()[0] += acc;
  });
}

}  // namespace ag

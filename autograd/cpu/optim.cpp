// Optimizer kernels: the fused Adam/AdamW step, the EMA update, and the
// scale and sum of squares behind gradient-norm clipping. Each is one pass
// over contiguous buffers, across cores when large.
#include <cmath>
#include <stdexcept>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/ordered_sum.h"
#include "autograd/kernels/optim_common.h"

namespace ag {

namespace {

template <class T>
void adam_typed(T* p, const T* dp, T* m, T* v, int64_t n, const AdamScalars<T>& s) {
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) adam_element(p[i], dp[i], m[i], v[i], s);
}

}  // namespace

void CpuBackend::adam_update(const TensorRef& param, const TensorRef& grad, const TensorRef& m,
                             const TensorRef& v, const AdamStepArgs& a) {
  check_optim_operands("adam_update", {&param, &grad, &m, &v});
  cpu::dispatch_float(param.dtype, "adam_update", [&](auto tag) {
    using T = decltype(tag);
    adam_typed(param.ptr<T>(), grad.ptr<T>(), m.ptr<T>(), v.ptr<T>(), param.numel(),
               AdamScalars<T>(a));
  });
}

void CpuBackend::ema_update(const TensorRef& ema, const TensorRef& param, double decay) {
  check_optim_operands("ema_update", {&ema, &param});
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
  check_optim_operands("scale_", {&x});
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
  check_optim_operands("sum_squares", {&x});
  if (out.dtype != DType::F64 || out.numel() != 1)
    throw std::runtime_error("sum_squares: the output must be one float64 element");
  cpu::dispatch_float(x.dtype, "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.ptr<T>();
    out.ptr<double>()[0] += cpu::ordered_sum(x.numel(), [&](int64_t i) {
      return static_cast<double>(p[i]) * static_cast<double>(p[i]);
    });
  });
}

}  // namespace ag

// Reductions: sum over the middle axis of (outer, R, inner), and the sum of
// squared differences behind mse_loss. Accumulation is in double.
#include <algorithm>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/ordered_sum.h"

namespace ag {

namespace {

// Rows are contiguous (inner == 1): one dot-like sum per output.
template <class T>
void sum_rows(const T* x, int64_t outer, int64_t R, T* out) {
  if (outer == 1) {
    out[0] =
        static_cast<T>(cpu::ordered_sum(R, [&](int64_t r) { return static_cast<double>(x[r]); }));
    return;
  }
#pragma omp parallel for schedule(static) if (outer * R >= cpu::kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    const T* row = x + o * R;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (int64_t r = 0; r < R; ++r) acc += row[r];
    out[o] = static_cast<T>(acc);
  }
}

// inner > 1: accumulate whole inner runs, kBlock columns at a time.
template <class T>
void sum_middle(const T* x, int64_t outer, int64_t R, int64_t inner, T* out) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (outer * R * inner >= cpu::kParallelGrain)
  for (int64_t t = 0; t < outer * blocks; ++t) {
    const int64_t o = t / blocks, start = (t % blocks) * kBlock;
    const int64_t n = std::min(kBlock, inner - start);
    double acc[kBlock] = {};
    for (int64_t r = 0; r < R; ++r) {
      const T* src = x + (o * R + r) * inner + start;
      for (int64_t i = 0; i < n; ++i) acc[i] += src[i];
    }
    T* dst = out + o * inner + start;
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<T>(acc[i]);
  }
}

}  // namespace

void CpuBackend::sum_axis(const TensorRef& x, int64_t outer, int64_t R, int64_t inner,
                          const TensorRef& out) {
  cpu::dispatch_float(x.dtype, "sum", [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1)
      sum_rows(x.ptr<T>(), outer, R, out.ptr<T>());
    else
      sum_middle(x.ptr<T>(), outer, R, inner, out.ptr<T>());
  });
}

void CpuBackend::squared_error_sum(const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  cpu::dispatch_float(a.dtype, "mse_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    const double acc = cpu::ordered_sum(a.numel(), [&](int64_t i) {
      const double d = static_cast<double>(pa[i]) - static_cast<double>(pb[i]);
      return d * d;
    });
    out.ptr<T>()[0] = static_cast<T>(acc);
  });
}

}  // namespace ag

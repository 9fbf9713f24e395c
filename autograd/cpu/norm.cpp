// Group normalization and softmax on the CPU. Statistics and reductions
// accumulate in double whatever the element type; OpenMP spreads independent
// groups (or softmax rows) across cores once there is enough work.
#include <algorithm>
#include <cmath>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/vec_math.h"
#include "autograd/kernels/group_norm_geometry.h"

namespace ag {

namespace {

// Mean and 1 / sqrt(biased variance + eps) of one group's M elements.
template <class T>
void group_stats(const T* xg, int64_t M, double eps, T* mean, T* rstd) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < M; ++i) s += xg[i];
  const double m = s / static_cast<double>(M);
  double ss = 0.0;
#pragma omp simd reduction(+ : ss)
  for (int64_t i = 0; i < M; ++i) {
    const double d = xg[i] - m;
    ss += d * d;
  }
  *mean = static_cast<T>(m);
  *rstd = static_cast<T>(1.0 / std::sqrt(ss / static_cast<double>(M) + eps));
}

template <class T>
void group_norm_forward_impl(const T* x, const T* gamma, const T* beta, GroupDims d, double eps,
                             T* y, T* mean, T* rstd) {
  const int64_t Cg = d.channels_per_group(), M = d.group_size();
  const int64_t groups = d.N * d.G;
#pragma omp parallel for schedule(static) if (groups * M >= cpu::kParallelGrain)
  for (int64_t ng = 0; ng < groups; ++ng) {
    const int64_t c0 = ng % d.G * Cg;
    const T* xg = x + ng * M;
    T* yg = y + ng * M;
    group_stats(xg, M, eps, &mean[ng], &rstd[ng]);
    const T m = mean[ng], r = rstd[ng];
    for (int64_t c = 0; c < Cg; ++c) {
      const T scale = r * gamma[c0 + c], shift = beta[c0 + c];
      const T* xc = xg + c * d.HW;
      T* yc = yg + c * d.HW;
      for (int64_t i = 0; i < d.HW; ++i) yc[i] = (xc[i] - m) * scale + shift;
    }
  }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma.
template <class T>
void group_norm_dx(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                   GroupDims d, T* dx) {
  const int64_t Cg = d.channels_per_group(), M = d.group_size();
  const int64_t groups = d.N * d.G;
#pragma omp parallel for schedule(static) if (groups * M >= cpu::kParallelGrain)
  for (int64_t ng = 0; ng < groups; ++ng) {
    const int64_t c0 = ng % d.G * Cg;
    const int64_t base = ng * M;
    const double m = mean[ng], r = rstd[ng];
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (int64_t c = 0; c < Cg; ++c) {
      const double g = gamma[c0 + c];
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
      for (int64_t i = c * d.HW; i < (c + 1) * d.HW; ++i) {
        const double dxhat = dy[base + i] * g;
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * (x[base + i] - m) * r;
      }
    }
    const double a = sum_dxhat / static_cast<double>(M);
    const double b = sum_dxhat_xhat / static_cast<double>(M);
    for (int64_t c = 0; c < Cg; ++c) {
      const double g = gamma[c0 + c];
      for (int64_t i = c * d.HW; i < (c + 1) * d.HW; ++i) {
        const double xhat = (x[base + i] - m) * r;
        dx[base + i] = static_cast<T>(r * (dy[base + i] * g - a - xhat * b));
      }
    }
  }
}

// dgamma[c] = sum_{n, hw} dy * xhat and dbeta[c] = sum_{n, hw} dy; one thread
// owns each channel, so no two threads write the same output.
template <class T>
void group_norm_dparams(const T* x, const T* mean, const T* rstd, const T* dy, GroupDims d,
                        T* dgamma, T* dbeta) {
  const int64_t Cg = d.channels_per_group();
#pragma omp parallel for schedule(static) if (d.N * d.C * d.HW >= cpu::kParallelGrain)
  for (int64_t c = 0; c < d.C; ++c) {
    double sum_dy_xhat = 0.0, sum_dy = 0.0;
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t ng = n * d.G + c / Cg;
      const double m = mean[ng], r = rstd[ng];
      const T* xc = x + (n * d.C + c) * d.HW;
      const T* dyc = dy + (n * d.C + c) * d.HW;
#pragma omp simd reduction(+ : sum_dy_xhat, sum_dy)
      for (int64_t i = 0; i < d.HW; ++i) {
        sum_dy_xhat += dyc[i] * (xc[i] - m) * r;
        sum_dy += dyc[i];
      }
    }
    if (dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<T>(sum_dy);
  }
}

// One softmax line of D elements at `stride` apart. Called with the literal
// stride 1 for the common last-axis case, so that loop compiles to vector code.
template <class T>
inline void softmax_line(const T* x, int64_t D, int64_t stride, T* y) {
  T mx = x[0];
#pragma omp simd reduction(max : mx)
  for (int64_t k = 1; k < D; ++k) mx = std::max(mx, x[k * stride]);
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < D; ++k) {
    const T e = cpu::vexp(x[k * stride] - mx);
    y[k * stride] = e;
    s += e;
  }
  const T inv = static_cast<T>(1.0 / s);
#pragma omp simd
  for (int64_t k = 0; k < D; ++k) y[k * stride] *= inv;
}

// dx = y * (dy - sum_D(dy * y)) along one line.
template <class T>
inline void softmax_line_backward(const T* y, const T* dy, int64_t D, int64_t stride, T* dx) {
  double dot = 0.0;
#pragma omp simd reduction(+ : dot)
  for (int64_t k = 0; k < D; ++k) dot += static_cast<double>(dy[k * stride]) * y[k * stride];
  const T t = static_cast<T>(dot);
#pragma omp simd
  for (int64_t k = 0; k < D; ++k) dx[k * stride] = y[k * stride] * (dy[k * stride] - t);
}

// Softmax over the middle axis of (outer, D, inner): one (o, i) line per iteration.
template <class T>
void softmax_forward_impl(const T* x, int64_t outer, int64_t D, int64_t inner, T* y) {
  if (D == 0) return;
  const int64_t lines = outer * inner;
#pragma omp parallel for schedule(static) if (lines * D >= cpu::kParallelGrain)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t start = line / inner * D * inner + line % inner;
    if (inner == 1)
      softmax_line(x + start, D, 1, y + start);
    else
      softmax_line(x + start, D, inner, y + start);
  }
}

template <class T>
void softmax_backward_impl(const T* y, const T* dy, int64_t outer, int64_t D, int64_t inner,
                           T* dx) {
  const int64_t lines = outer * inner;
#pragma omp parallel for schedule(static) if (lines * D >= cpu::kParallelGrain)
  for (int64_t line = 0; line < lines; ++line) {
    const int64_t start = line / inner * D * inner + line % inner;
    if (inner == 1)
      softmax_line_backward(y + start, dy + start, D, 1, dx + start);
    else
      softmax_line_backward(y + start, dy + start, D, inner, dx + start);
  }
}

}  // namespace

void CpuBackend::group_norm_forward(const TensorRef& x, const TensorRef& gamma,
                                    const TensorRef& beta, int64_t G, double eps,
                                    const TensorRef& y, const TensorRef& mean,
                                    const TensorRef& rstd) {
  cpu::dispatch_float(x.dtype, "group_norm_forward", [&](auto t) {
    using T = decltype(t);
    group_norm_forward_impl(x.ptr<T>(), gamma.ptr<T>(), beta.ptr<T>(), group_dims(x, G), eps,
                            y.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>());
  });
}

void CpuBackend::group_norm_backward(const TensorRef& x, const TensorRef& gamma,
                                     const TensorRef& mean, const TensorRef& rstd,
                                     const TensorRef& dy, int64_t G, const TensorRef& dx,
                                     const TensorRef& dgamma, const TensorRef& dbeta) {
  cpu::dispatch_float(x.dtype, "group_norm_backward", [&](auto t) {
    using T = decltype(t);
    const GroupDims d = group_dims(x, G);
    if (dx.data)
      group_norm_dx(x.ptr<T>(), gamma.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>(), dy.ptr<T>(), d,
                    dx.ptr<T>());
    if (dgamma.data || dbeta.data)
      group_norm_dparams(x.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>(), dy.ptr<T>(), d, dgamma.ptr<T>(),
                         dbeta.ptr<T>());
  });
}

void CpuBackend::softmax_forward(const TensorRef& x, int64_t outer, int64_t D, int64_t inner,
                                 const TensorRef& y) {
  cpu::dispatch_float(x.dtype, "softmax_forward", [&](auto t) {
    using T = decltype(t);
    softmax_forward_impl(x.ptr<T>(), outer, D, inner, y.ptr<T>());
  });
}

void CpuBackend::softmax_backward(const TensorRef& y, const TensorRef& dy, int64_t outer, int64_t D,
                                  int64_t inner, const TensorRef& dx) {
  cpu::dispatch_float(y.dtype, "softmax_backward", [&](auto t) {
    using T = decltype(t);
    softmax_backward_impl(y.ptr<T>(), dy.ptr<T>(), outer, D, inner, dx.ptr<T>());
  });
}

}  // namespace ag

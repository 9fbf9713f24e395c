// Elementwise kernels: strided copy (with dtype conversion and broadcast),
// fill, binary ops and where with broadcasting, unary ops and their
// derivatives.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/strided.h"
#include "autograd/cpu/vec_math.h"
#include "autograd/kernels/elementwise_math.h"

namespace ag {

using cpu::dispatch_float;

namespace {

template <class S, class D>
void copy_typed(const TensorRef& src, const TensorRef& dst) {
  auto L = cpu::coalesce<2>({&src, &dst});
  const S* s = src.ptr<S>();
  D* d = dst.ptr<D>();
  cpu::for_each_run(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    const S* sp = s + off[0];
    D* dp = d + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
    } else if (st[0] == 0 && st[1] == 1) {  // broadcasting one value along the run
      std::fill(dp, dp + n, static_cast<D>(*sp));
    } else {
      for (int64_t i = 0; i < n; ++i) dp[i * st[1]] = static_cast<D>(sp[i * st[0]]);
    }
  });
}

// The op is a template parameter so each inner loop compiles to straight
// vector code; the common stride patterns get their own loops.
template <class T, BinaryOp OP>
void binary_typed(const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  auto L = cpu::coalesce<3>({&out, &a, &b});
  constexpr auto fn = [](T u, T v) { return binary_value<OP>(u, v); };
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  T* po = out.ptr<T>();
  cpu::for_each_run(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    T* o = po + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = fn(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = fn(x[i], yv);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = fn(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = fn(x[i * st[1]], y[i * st[2]]);
    }
  });
}

template <class T>
void where_typed(const TensorRef& cond, const TensorRef& a, const TensorRef& b,
                 const TensorRef& out) {
  auto L = cpu::coalesce<4>({&out, &cond, &a, &b});
  const T* pc = cond.ptr<T>();
  const T* pa = a.ptr<T>();
  const T* pb = b.ptr<T>();
  T* po = out.ptr<T>();
  cpu::for_each_run(L, [&](const int64_t* off, int64_t n, const int64_t* st) {
    T* o = po + off[0];
    const T* c = pc + off[1];
    const T* x = pa + off[2];
    const T* y = pb + off[3];
    for (int64_t i = 0; i < n; ++i)
      o[i * st[0]] = select_value(c[i * st[1]], x[i * st[2]], y[i * st[3]]);
  });
}

// The exponential of the shared elementwise math (autograd/kernels/elementwise_math.h):
// cpu::vexp, which vectorizes.
struct CpuExp {
  template <class T>
  T operator()(T v) const {
    return cpu::vexp(v);
  }
};

// Runs y[i] = f(x[i]) over contiguous buffers, across cores when large.
template <class T, class F>
void map(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T>
void unary_typed(UnaryOp op, const T* x, T* y, int64_t n, T alpha, T beta) {
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
    map(x, y, n, [alpha, beta](T v) { return unary_value<OP, CpuExp>(v, alpha, beta); });
  });
}

// Runs dx[i] = f(x[i], y[i], dy[i]) over contiguous buffers.
template <class T, class F>
void map_backward(const T* x, const T* y, const T* dy, T* dx, int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) dx[i] = f(x ? x[i] : T(0), y ? y[i] : T(0), dy[i]);
}

// dx = dy * f'(x); each derivative uses x or the saved output y = f(x).
template <class T>
void unary_backward_typed(UnaryOp op, const T* x, const T* y, const T* dy, T* dx, int64_t n,
                          T alpha) {
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
    map_backward(x, y, dy, dx, n,
                 [alpha](T u, T v, T g) { return unary_grad<OP, CpuExp>(u, v, g, alpha); });
  });
}

}  // namespace

void CpuBackend::copy(const TensorRef& src, const TensorRef& dst) {
  dispatch_any(src.dtype, [&](auto s) {
    dispatch_any(dst.dtype, [&](auto d) { copy_typed<decltype(s), decltype(d)>(src, dst); });
  });
}

void CpuBackend::fill(const TensorRef& dst, double value) {
  const int64_t n = dst.numel();
  dispatch_any(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = dst.ptr<T>();
    const T v = static_cast<T>(value);
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void CpuBackend::binary(BinaryOp op, const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  dispatch_float(out.dtype, "binary", [&](auto tag) {
    with_binary_op(
        op, [&](auto op_tag) { binary_typed<decltype(tag), decltype(op_tag)::value>(a, b, out); });
  });
}

void CpuBackend::where(const TensorRef& cond, const TensorRef& a, const TensorRef& b,
                       const TensorRef& out) {
  dispatch_float(out.dtype, "where",
                 [&](auto tag) { where_typed<decltype(tag)>(cond, a, b, out); });
}

void CpuBackend::unary(UnaryOp op, const TensorRef& x, const TensorRef& y, double alpha,
                       double beta) {
  dispatch_float(x.dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    unary_typed<T>(op, x.ptr<T>(), y.ptr<T>(), x.numel(), static_cast<T>(alpha),
                   static_cast<T>(beta));
  });
}

void CpuBackend::unary_backward(UnaryOp op, const TensorRef& x, const TensorRef& y,
                                const TensorRef& dy, const TensorRef& dx, double alpha) {
  dispatch_float(dy.dtype, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    unary_backward_typed<T>(op, x.ptr<T>(), y.ptr<T>(), dy.ptr<T>(), dx.ptr<T>(), dy.numel(),
                            static_cast<T>(alpha));
  });
}

}  // namespace ag

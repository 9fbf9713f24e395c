// Elementwise kernels: strided copy (with dtype conversion and broadcast),
// fill, binary ops with broadcasting, unary ops and their derivatives.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/strided.h"
#include "autograd/cpu/vec_math.h"

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

template <class T>
struct BinaryFn {
  BinaryOp op;
  T operator()(T a, T b) const {
    switch (op) {
      case BinaryOp::Add:
        return a + b;
      case BinaryOp::Sub:
        return a - b;
      case BinaryOp::Mul:
        return a * b;
      case BinaryOp::Div:
        return a / b;
    }
    return T(0);
  }
};

// The op is a template parameter so each inner loop compiles to straight
// vector code; the common stride patterns get their own loops.
template <class T, BinaryOp OP>
void binary_typed(const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  auto L = cpu::coalesce<3>({&out, &a, &b});
  constexpr BinaryFn<T> fn{OP};
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
void binary_dispatch(BinaryOp op, const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  switch (op) {
    case BinaryOp::Add:
      return binary_typed<T, BinaryOp::Add>(a, b, out);
    case BinaryOp::Sub:
      return binary_typed<T, BinaryOp::Sub>(a, b, out);
    case BinaryOp::Mul:
      return binary_typed<T, BinaryOp::Mul>(a, b, out);
    case BinaryOp::Div:
      return binary_typed<T, BinaryOp::Div>(a, b, out);
  }
}

template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + cpu::vexp(-x));
}

// Runs y[i] = f(x[i]) over contiguous buffers, across cores when large.
template <class T, class F>
void map(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <class T>
void unary_typed(UnaryOp op, const T* x, T* y, int64_t n, T alpha, T beta) {
  switch (op) {
    case UnaryOp::Neg:
      return map(x, y, n, [](T v) { return -v; });
    case UnaryOp::Exp:
      return map(x, y, n, [](T v) { return cpu::vexp(v); });
    case UnaryOp::Log:
      return map(x, y, n, [](T v) { return std::log(v); });
    case UnaryOp::Sqrt:
      return map(x, y, n, [](T v) { return std::sqrt(v); });
    case UnaryOp::Pow:
      return map(x, y, n, [alpha](T v) { return std::pow(v, alpha); });
    case UnaryOp::Square:
      return map(x, y, n, [](T v) { return v * v; });
    case UnaryOp::Sigmoid:
      return map(x, y, n, [](T v) { return sigmoid(v); });
    case UnaryOp::Silu:
      return map(x, y, n, [](T v) { return v * sigmoid(v); });
    case UnaryOp::Tanh:
      return map(x, y, n, [](T v) { return std::tanh(v); });
    case UnaryOp::Affine:
      return map(x, y, n, [alpha, beta](T v) { return alpha * v + beta; });
    case UnaryOp::Clamp:
      return map(x, y, n, [alpha, beta](T v) {
        const T low = v < alpha ? alpha : v;
        return low > beta ? beta : low;
      });
  }
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
  switch (op) {
    case UnaryOp::Neg:
      return map_backward(x, y, dy, dx, n, [](T, T, T g) { return -g; });
    case UnaryOp::Exp:
      return map_backward(x, y, dy, dx, n, [](T, T v, T g) { return g * v; });
    case UnaryOp::Log:
      return map_backward(x, y, dy, dx, n, [](T u, T, T g) { return g / u; });
    case UnaryOp::Sqrt:
      return map_backward(x, y, dy, dx, n, [](T, T v, T g) { return g * T(0.5) / v; });
    case UnaryOp::Pow:
      return map_backward(x, y, dy, dx, n, [alpha](T u, T, T g) {
        return alpha == T(0) ? T(0) : g * alpha * std::pow(u, alpha - T(1));
      });
    case UnaryOp::Square:
      return map_backward(x, y, dy, dx, n, [](T u, T, T g) { return T(2) * u * g; });
    case UnaryOp::Sigmoid:
      return map_backward(x, y, dy, dx, n, [](T, T v, T g) { return g * v * (T(1) - v); });
    case UnaryOp::Silu:  // d/du u s(u) = s(u) (1 + u (1 - s(u)))
      return map_backward(x, y, dy, dx, n, [](T u, T, T g) {
        T s = sigmoid(u);
        return g * s * (T(1) + u * (T(1) - s));
      });
    case UnaryOp::Tanh:
      return map_backward(x, y, dy, dx, n, [](T, T v, T g) { return g * (T(1) - v * v); });
    case UnaryOp::Affine:
      return map_backward(x, y, dy, dx, n, [alpha](T, T, T g) { return alpha * g; });
    case UnaryOp::Clamp:  // the gradient passes where x was inside [alpha, beta]
      return map_backward(x, y, dy, dx, n, [](T u, T v, T g) { return u == v ? g : T(0); });
  }
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
  dispatch_float(out.dtype, "binary",
                 [&](auto tag) { binary_dispatch<decltype(tag)>(op, a, b, out); });
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

// Elementwise kernels on CUDA: strided copy (with dtype conversion and
// broadcast), fill, binary ops with broadcasting, unary ops and their
// derivatives. One thread per element in grid-stride loops; strided operands
// arrive coalesced (autograd/strided_loop.h) in a StridedLoop by value.
#include <cstdint>
#include <type_traits>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/cuda/strided.cuh"
#include "autograd/dispatch.h"

namespace ag {

namespace {

template <class S, class D>
__global__ void copy_kernel(StridedLoop<2> L, int64_t n, const S* src, D* dst) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride()) {
    int64_t off[2];
    cuda::strided_offsets(L, i, off);
    dst[off[1]] = static_cast<D>(src[off[0]]);
  }
}

template <class T>
__global__ void fill_kernel(T* p, int64_t n, T value) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride()) p[i] = value;
}

template <BinaryOp OP, class T>
__device__ inline T binary_value(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  if constexpr (OP == BinaryOp::Sub) return a - b;
  if constexpr (OP == BinaryOp::Mul) return a * b;
  if constexpr (OP == BinaryOp::Div) return a / b;
}

// out may alias a or b element for element (accumulation into .grad).
template <BinaryOp OP, class T>
__global__ void binary_kernel(StridedLoop<3> L, int64_t n, const T* a, const T* b, T* out) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride()) {
    int64_t off[3];
    cuda::strided_offsets(L, i, off);
    out[off[0]] = binary_value<OP>(a[off[1]], b[off[2]]);
  }
}

template <class T>
__device__ inline T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

template <UnaryOp OP, class T>
__device__ inline T unary_value(T v, T alpha, T beta) {
  if constexpr (OP == UnaryOp::Neg) return -v;
  if constexpr (OP == UnaryOp::Exp) return std::exp(v);
  if constexpr (OP == UnaryOp::Log) return std::log(v);
  if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(v);
  if constexpr (OP == UnaryOp::Pow) return std::pow(v, alpha);
  if constexpr (OP == UnaryOp::Square) return v * v;
  if constexpr (OP == UnaryOp::Sigmoid) return sigmoid(v);
  if constexpr (OP == UnaryOp::Silu) return v * sigmoid(v);
  if constexpr (OP == UnaryOp::Tanh) return std::tanh(v);
  if constexpr (OP == UnaryOp::Affine) return alpha * v + beta;
  if constexpr (OP == UnaryOp::Clamp) {
    const T low = v < alpha ? alpha : v;
    return low > beta ? beta : low;
  }
}

// dy * f'(u) given the input u and the output v = f(u), as the CPU backend.
template <UnaryOp OP, class T>
__device__ inline T unary_grad(T u, T v, T g, T alpha) {
  if constexpr (OP == UnaryOp::Neg) return -g;
  if constexpr (OP == UnaryOp::Exp) return g * v;
  if constexpr (OP == UnaryOp::Log) return g / u;
  if constexpr (OP == UnaryOp::Sqrt) return g * T(0.5) / v;
  if constexpr (OP == UnaryOp::Pow)
    return alpha == T(0) ? T(0) : g * alpha * std::pow(u, alpha - T(1));
  if constexpr (OP == UnaryOp::Square) return T(2) * u * g;
  if constexpr (OP == UnaryOp::Sigmoid) return g * v * (T(1) - v);
  if constexpr (OP == UnaryOp::Silu) {  // d/du u s(u) = s(u) (1 + u (1 - s(u)))
    const T s = sigmoid(u);
    return g * s * (T(1) + u * (T(1) - s));
  }
  if constexpr (OP == UnaryOp::Tanh) return g * (T(1) - v * v);
  if constexpr (OP == UnaryOp::Affine) return alpha * g;
  if constexpr (OP == UnaryOp::Clamp) return u == v ? g : T(0);  // x was inside [alpha, beta]
}

// y may alias x element for element.
template <UnaryOp OP, class T>
__global__ void unary_kernel(const T* x, T* y, int64_t n, T alpha, T beta) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    y[i] = unary_value<OP>(x[i], alpha, beta);
}

// x or y is null where the derivative does not need it.
template <UnaryOp OP, class T>
__global__ void unary_backward_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t n,
                                      T alpha) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    dx[i] = unary_grad<OP>(x ? x[i] : T(0), y ? y[i] : T(0), dy[i], alpha);
}

template <BinaryOp OP>
using BinaryTag = std::integral_constant<BinaryOp, OP>;

// Calls f(BinaryTag<op>{}), turning the runtime op into a template argument.
template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add:
      return f(BinaryTag<BinaryOp::Add>{});
    case BinaryOp::Sub:
      return f(BinaryTag<BinaryOp::Sub>{});
    case BinaryOp::Mul:
      return f(BinaryTag<BinaryOp::Mul>{});
    case BinaryOp::Div:
      return f(BinaryTag<BinaryOp::Div>{});
  }
}

template <UnaryOp OP>
using UnaryTag = std::integral_constant<UnaryOp, OP>;

// Calls f(UnaryTag<op>{}), turning the runtime op into a template argument.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Neg:
      return f(UnaryTag<UnaryOp::Neg>{});
    case UnaryOp::Exp:
      return f(UnaryTag<UnaryOp::Exp>{});
    case UnaryOp::Log:
      return f(UnaryTag<UnaryOp::Log>{});
    case UnaryOp::Sqrt:
      return f(UnaryTag<UnaryOp::Sqrt>{});
    case UnaryOp::Pow:
      return f(UnaryTag<UnaryOp::Pow>{});
    case UnaryOp::Square:
      return f(UnaryTag<UnaryOp::Square>{});
    case UnaryOp::Sigmoid:
      return f(UnaryTag<UnaryOp::Sigmoid>{});
    case UnaryOp::Silu:
      return f(UnaryTag<UnaryOp::Silu>{});
    case UnaryOp::Tanh:
      return f(UnaryTag<UnaryOp::Tanh>{});
    case UnaryOp::Affine:
      return f(UnaryTag<UnaryOp::Affine>{});
    case UnaryOp::Clamp:
      return f(UnaryTag<UnaryOp::Clamp>{});
  }
}

}  // namespace

void CudaBackend::copy(const TensorRef& src, const TensorRef& dst) {
  const StridedLoop<2> L = coalesce<2>({&src, &dst});
  const int64_t n = dst.numel();
  dispatch_any(src.dtype, [&](auto s) {
    dispatch_any(dst.dtype, [&](auto d) {
      using S = decltype(s);
      using D = decltype(d);
      cuda::launch("copy_kernel", AG_HERE, cuda::grid_for(n), copy_kernel<S, D>, L, n, src.ptr<S>(),
                   dst.ptr<D>());
    });
  });
}

void CudaBackend::fill(const TensorRef& dst, double value) {
  const int64_t n = dst.numel();
  dispatch_any(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("fill_kernel", AG_HERE, cuda::grid_for(n), fill_kernel<T>, dst.ptr<T>(), n,
                 static_cast<T>(value));
  });
}

void CudaBackend::binary(BinaryOp op, const TensorRef& a, const TensorRef& b,
                         const TensorRef& out) {
  const StridedLoop<3> L = coalesce<3>({&out, &a, &b});
  const int64_t n = out.numel();
  dispatch_float(out.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    with_binary_op(op, [&](auto op_tag) {
      cuda::launch("binary_kernel", AG_HERE, cuda::grid_for(n),
                   binary_kernel<decltype(op_tag)::value, T>, L, n, a.ptr<T>(), b.ptr<T>(),
                   out.ptr<T>());
    });
  });
}

void CudaBackend::unary(UnaryOp op, const TensorRef& x, const TensorRef& y, double alpha,
                        double beta) {
  const int64_t n = x.numel();
  dispatch_float(x.dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto op_tag) {
      cuda::launch("unary_kernel", AG_HERE, cuda::grid_for(n),
                   unary_kernel<decltype(op_tag)::value, T>, x.ptr<T>(), y.ptr<T>(), n,
                   static_cast<T>(alpha), static_cast<T>(beta));
    });
  });
}

void CudaBackend::unary_backward(UnaryOp op, const TensorRef& x, const TensorRef& y,
                                 const TensorRef& dy, const TensorRef& dx, double alpha) {
  const int64_t n = dy.numel();
  dispatch_float(dy.dtype, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    with_unary_op(op, [&](auto op_tag) {
      cuda::launch("unary_backward_kernel", AG_HERE, cuda::grid_for(n),
                   unary_backward_kernel<decltype(op_tag)::value, T>, x.ptr<T>(), y.ptr<T>(),
                   dy.ptr<T>(), dx.ptr<T>(), n, static_cast<T>(alpha));
    });
  });
}

}  // namespace ag

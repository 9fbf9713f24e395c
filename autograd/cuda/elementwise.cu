// Elementwise kernels on CUDA: strided copy (with dtype conversion and
// broadcast), fill, binary ops and where with broadcasting, unary ops and
// their derivatives. One thread per element in grid-stride loops; strided operands
// arrive coalesced (autograd/kernels/strided_loop.h) in a StridedLoop by value. The
// math of each op is the CPU's (autograd/kernels/elementwise_math.h).
#include <cmath>
#include <cstdint>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/cuda/strided.cuh"
#include "autograd/kernels/dispatch.h"
#include "autograd/kernels/elementwise_math.h"

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
__global__ void where_kernel(StridedLoop<4> L, int64_t n, const T* cond, const T* a, const T* b,
                             T* out) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride()) {
    int64_t off[4];
    cuda::strided_offsets(L, i, off);
    out[off[0]] = select_value(cond[off[1]], a[off[2]], b[off[3]]);
  }
}

// The exponential of the shared elementwise math (autograd/kernels/elementwise_math.h).
struct DeviceExp {
  template <class T>
  __device__ T operator()(T v) const {
    return std::exp(v);
  }
};

// y may alias x element for element.
template <UnaryOp OP, class T>
__global__ void unary_kernel(const T* x, T* y, int64_t n, T alpha, T beta) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    y[i] = unary_value<OP, DeviceExp>(x[i], alpha, beta);
}

// x or y is null where the derivative does not need it.
template <UnaryOp OP, class T>
__global__ void unary_backward_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t n,
                                      T alpha) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    dx[i] = unary_grad<OP, DeviceExp>(x ? x[i] : T(0), y ? y[i] : T(0), dy[i], alpha);
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

void CudaBackend::where(const TensorRef& cond, const TensorRef& a, const TensorRef& b,
                        const TensorRef& out) {
  const StridedLoop<4> L = coalesce<4>({&out, &cond, &a, &b});
  const int64_t n = out.numel();
  dispatch_float(out.dtype, "where", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("where_kernel", AG_HERE, cuda::grid_for(n), where_kernel<T>, L, n, cond.ptr<T>(),
                 a.ptr<T>(), b.ptr<T>(), out.ptr<T>());
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

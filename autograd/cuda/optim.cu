// Optimizer kernels on CUDA: the fused Adam/AdamW step, the EMA update, and
// the scale and sum of squares behind gradient-norm clipping; one pass each
// over contiguous buffers, in the CPU backend's operation order.
#include <stdexcept>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/cuda/reduce.cuh"
#include "autograd/kernels/dispatch.h"
#include "autograd/kernels/optim_common.h"

namespace ag {

namespace {

template <class T>
__global__ void adam_kernel(T* p, const T* dp, T* m, T* v, int64_t n, AdamScalars<T> s) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    adam_element(p[i], dp[i], m[i], v[i], s);
}

template <class T>
__global__ void ema_kernel(T* e, const T* p, int64_t n, T d, T one_minus_d) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride())
    e[i] = d * e[i] + one_minus_d * p[i];
}

template <class T>
__global__ void scale_kernel(T* x, int64_t n, T c) {
  for (int64_t i = cuda::global_index(); i < n; i += cuda::grid_stride()) x[i] *= c;
}

template <class T>
struct Square {
  const T* x;
  __device__ double operator()(int64_t i) const {
    const double v = x[i];
    return v * v;
  }
};

}  // namespace

void CudaBackend::adam_update(const TensorRef& param, const TensorRef& grad, const TensorRef& m,
                              const TensorRef& v, const AdamStepArgs& a) {
  check_optim_operands("adam_update", {&param, &grad, &m, &v});
  const int64_t n = param.numel();
  dispatch_float(param.dtype, "adam_update", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("adam_kernel", AG_HERE, cuda::grid_for(n), adam_kernel<T>, param.ptr<T>(),
                 grad.ptr<T>(), m.ptr<T>(), v.ptr<T>(), n, AdamScalars<T>(a));
  });
}

void CudaBackend::ema_update(const TensorRef& ema, const TensorRef& param, double decay) {
  check_optim_operands("ema_update", {&ema, &param});
  const int64_t n = ema.numel();
  dispatch_float(ema.dtype, "ema_update", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("ema_kernel", AG_HERE, cuda::grid_for(n), ema_kernel<T>, ema.ptr<T>(),
                 param.ptr<T>(), n, static_cast<T>(decay), static_cast<T>(1.0 - decay));
  });
}

void CudaBackend::scale_(const TensorRef& x, double s) {
  check_optim_operands("scale_", {&x});
  const int64_t n = x.numel();
  dispatch_float(x.dtype, "scale_", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("scale_kernel", AG_HERE, cuda::grid_for(n), scale_kernel<T>, x.ptr<T>(), n,
                 static_cast<T>(s));
  });
}

void CudaBackend::sum_squares(const TensorRef& x, const TensorRef& out) {
  check_optim_operands("sum_squares", {&x});
  if (out.dtype != DType::F64 || out.numel() != 1)
    throw std::runtime_error("sum_squares: the output must be one float64 element");
  dispatch_float(x.dtype, "sum_squares", [&](auto tag) {
    using T = decltype(tag);
    cuda::sum_terms(x.numel(), Square<T>{x.ptr<T>()}, out.ptr<double>(), true);
  });
}

}  // namespace ag

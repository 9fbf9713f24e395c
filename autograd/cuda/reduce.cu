// Reductions on CUDA: sum over the middle axis of (outer, R, inner), and the
// sum of squared differences behind mse_loss. Accumulation is in double, in
// an order fixed by the shape.
#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/cuda/reduce.cuh"
#include "autograd/kernels/dispatch.h"

namespace ag {

namespace {

// Rows are contiguous (inner == 1): one block per row.
template <class T>
__global__ void sum_rows_kernel(const T* x, int64_t outer, int64_t R, T* out) {
  for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * R;
    double acc = 0.0;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) acc += row[r];
    acc = cuda::block_sum(acc);
    if (threadIdx.x == 0) out[o] = static_cast<T>(acc);
  }
}

// inner > 1: one thread per output (o, i); neighbouring threads read
// neighbouring columns.
template <class T>
__global__ void sum_columns_kernel(const T* x, int64_t outer, int64_t R, int64_t inner, T* out) {
  for (int64_t t = cuda::global_index(); t < outer * inner; t += cuda::grid_stride()) {
    const int64_t o = t / inner, i = t - o * inner;
    const T* column = x + o * R * inner + i;
    double acc = 0.0;
    for (int64_t r = 0; r < R; ++r) acc += column[r * inner];
    out[t] = static_cast<T>(acc);
  }
}

template <class T>
struct Element {
  const T* x;
  __device__ double operator()(int64_t i) const { return x[i]; }
};

template <class T>
struct SquaredDifference {
  const T* a;
  const T* b;
  __device__ double operator()(int64_t i) const {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    return d * d;
  }
};

}  // namespace

void CudaBackend::sum_axis(const TensorRef& x, int64_t outer, int64_t R, int64_t inner,
                           const TensorRef& out) {
  dispatch_float(x.dtype, "sum", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.ptr<T>();
    T* po = out.ptr<T>();
    if (inner == 1 && outer == 1)
      cuda::sum_terms(R, Element<T>{px}, po, false);
    else if (inner == 1)
      cuda::launch("sum_rows_kernel", AG_HERE, cuda::block_per_task(outer), sum_rows_kernel<T>, px,
                   outer, R, po);
    else
      cuda::launch("sum_columns_kernel", AG_HERE, cuda::grid_for(outer * inner),
                   sum_columns_kernel<T>, px, outer, R, inner, po);
  });
}

void CudaBackend::squared_error_sum(const TensorRef& a, const TensorRef& b, const TensorRef& out) {
  dispatch_float(a.dtype, "mse_loss", [&](auto tag) {
    using T = decltype(tag);
    cuda::sum_terms(a.numel(), SquaredDifference<T>{a.ptr<T>(), b.ptr<T>()}, out.ptr<T>(), false);
  });
}

}  // namespace ag

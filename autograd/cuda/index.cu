// Row gather and its adjoint on CUDA, for schedule constants indexed by
// timestep. The gather op has checked the indices on the host.
#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/kernels/dispatch.h"

namespace ag {

namespace {

// out (N, inner) = table[idx] (T, inner).
template <class T>
__global__ void gather_rows_kernel(const T* table, const int32_t* idx, int64_t n, int64_t inner,
                                   T* out) {
  for (int64_t t = cuda::global_index(); t < n * inner; t += cuda::grid_stride()) {
    const int64_t i = t / inner, j = t - i * inner;
    out[t] = table[idx[i] * inner + j];
  }
}

// dtable[idx[i]] += dout[i]: one thread per column j, walking the rows in
// order, so repeated indices add up without races, as on the CPU.
template <class T>
__global__ void scatter_add_rows_kernel(const T* dout, const int32_t* idx, int64_t n, int64_t inner,
                                        T* dtable) {
  for (int64_t j = cuda::global_index(); j < inner; j += cuda::grid_stride())
    for (int64_t i = 0; i < n; ++i) dtable[idx[i] * inner + j] += dout[i * inner + j];
}

}  // namespace

// table (T, inner), idx (N), out (N, inner)
void CudaBackend::gather_rows(const TensorRef& table, const TensorRef& idx, const TensorRef& out) {
  const int64_t rows = table.shape[0];
  const int64_t inner = rows ? table.numel() / rows : 0;
  const int64_t n = idx.numel();
  dispatch_float(table.dtype, "gather", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("gather_rows_kernel", AG_HERE, cuda::grid_for(n * inner), gather_rows_kernel<T>,
                 table.ptr<T>(), idx.ptr<int32_t>(), n, inner, out.ptr<T>());
  });
}

void CudaBackend::scatter_add_rows(const TensorRef& dout, const TensorRef& idx,
                                   const TensorRef& dtable) {
  const int64_t rows = dtable.shape[0];
  const int64_t inner = rows ? dtable.numel() / rows : 0;
  dispatch_float(dout.dtype, "gather backward", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("scatter_add_rows_kernel", AG_HERE, cuda::grid_for(inner),
                 scatter_add_rows_kernel<T>, dout.ptr<T>(), idx.ptr<int32_t>(), idx.numel(), inner,
                 dtable.ptr<T>());
  });
}

}  // namespace ag

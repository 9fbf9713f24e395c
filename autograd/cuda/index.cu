// Row gather and its adjoint on CUDA, for schedule constants indexed by
// timestep. The indices (one per sample, a few hundred at most) are checked on
// the host first, as on the CPU, so a bad index is a clear error rather than
// an out-of-bounds read; that copy waits for the work queued before it.
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/dispatch.h"

namespace ag {

namespace {

void check_indices(Backend& be, const TensorRef& idx, int64_t rows, const char* op) {
  std::vector<int32_t> host(static_cast<size_t>(idx.numel()));
  be.copy_to_host(idx.data, host.data(), host.size() * sizeof(int32_t));
  for (int32_t i : host)
    if (i < 0 || i >= rows)
      throw std::runtime_error(std::string(op) + ": index " + std::to_string(i) +
                               " out of range [0, " + std::to_string(rows) + ")");
}

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
  check_indices(*this, idx, rows, "gather");
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
  check_indices(*this, idx, rows, "gather backward");
  dispatch_float(dout.dtype, "gather backward", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("scatter_add_rows_kernel", AG_HERE, cuda::grid_for(inner),
                 scatter_add_rows_kernel<T>, dout.ptr<T>(), idx.ptr<int32_t>(), idx.numel(), inner,
                 dtable.ptr<T>());
  });
}

}  // namespace ag

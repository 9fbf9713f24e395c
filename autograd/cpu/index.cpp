// Row gather and its adjoint, for schedule constants indexed by timestep.
#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

// table (T, inner), idx (N), out (N, inner)
void CpuBackend::gather_rows(const TensorRef& table, const TensorRef& idx, const TensorRef& out) {
  const int64_t rows = table.shape[0];
  const int64_t inner = rows ? table.numel() / rows : 0;
  const int64_t n = idx.numel();
  const int32_t* ip = idx.ptr<int32_t>();
  cpu::dispatch_float(table.dtype, "gather", [&](auto tag) {
    using T = decltype(tag);
    const T* src = table.ptr<T>();
    T* dst = out.ptr<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) dst[i * inner + j] = src[ip[i] * inner + j];
  });
}

// dtable[idx[n]] += dout[n], serially: repeated indices must not race.
void CpuBackend::scatter_add_rows(const TensorRef& dout, const TensorRef& idx,
                                  const TensorRef& dtable) {
  const int64_t rows = dtable.shape[0];
  const int64_t inner = rows ? dtable.numel() / rows : 0;
  const int32_t* ip = idx.ptr<int32_t>();
  cpu::dispatch_float(dout.dtype, "gather backward", [&](auto tag) {
    using T = decltype(tag);
    const T* src = dout.ptr<T>();
    T* dst = dtable.ptr<T>();
    for (int64_t i = 0; i < idx.numel(); ++i) {
      for (int64_t j = 0; j < inner; ++j) dst[ip[i] * inner + j] += src[i * inner + j];
    }
  });
}

}  // namespace ag

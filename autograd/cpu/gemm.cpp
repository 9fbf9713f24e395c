// Matrix products through OpenBLAS. A batch of large products runs one BLAS
// call after another (each multithreaded by OpenBLAS); a batch of small ones,
// as in attention, runs the products in parallel, one core each.
#include "autograd/cpu/blas.h"
#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

namespace {

// Below this many multiply-adds a product is too small to split across cores.
constexpr int64_t kSmallGemmFlops = 1 << 21;

template <class T>
void gemm_one(const GemmArgs& g, int64_t b) {
  cpu::blas_gemm(g.trans_a, g.trans_b, g.M, g.N, g.K, static_cast<T>(g.alpha),
                 static_cast<const T*>(g.A) + b * g.stride_a, g.lda,
                 static_cast<const T*>(g.B) + b * g.stride_b, g.ldb, static_cast<T>(g.beta),
                 static_cast<T*>(g.C) + b * g.stride_c, g.ldc);
}

}  // namespace

void CpuBackend::gemm(const GemmArgs& g) {
  cpu::dispatch_float(g.dtype, "gemm", [&](auto tag) {
    using T = decltype(tag);
    const bool small = g.M * g.N * g.K < kSmallGemmFlops;
    if (g.batch > 1 && small) {
#pragma omp parallel for schedule(static) if (g.batch * g.M * g.N * g.K >= cpu::kParallelGrain)
      for (int64_t b = 0; b < g.batch; ++b) gemm_one<T>(g, b);
    } else {
      for (int64_t b = 0; b < g.batch; ++b) gemm_one<T>(g, b);
    }
  });
}

}  // namespace ag

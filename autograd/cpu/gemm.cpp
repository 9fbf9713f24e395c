// Matrix products through OpenBLAS. A batch of large products runs one BLAS
// call after another (each multithreaded by OpenBLAS); a batch of small ones,
// as in attention, runs the products in parallel, one core each.
#include <cblas.h>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

namespace {

// Below this many multiply-adds a product is too small to split across cores.
constexpr int64_t kSmallGemmFlops = 1 << 21;

void gemm_one(const GemmArgs& g, int64_t b) {
  const CBLAS_TRANSPOSE ta = g.trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = g.trans_b ? CblasTrans : CblasNoTrans;
  if (g.dtype == DType::F32) {
    cblas_sgemm(CblasRowMajor, ta, tb, g.M, g.N, g.K, static_cast<float>(g.alpha),
                static_cast<const float*>(g.A) + b * g.stride_a, g.lda,
                static_cast<const float*>(g.B) + b * g.stride_b, g.ldb,
                static_cast<float>(g.beta), static_cast<float*>(g.C) + b * g.stride_c, g.ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, g.M, g.N, g.K, g.alpha,
                static_cast<const double*>(g.A) + b * g.stride_a, g.lda,
                static_cast<const double*>(g.B) + b * g.stride_b, g.ldb, g.beta,
                static_cast<double*>(g.C) + b * g.stride_c, g.ldc);
  }
}

}  // namespace

void CpuBackend::gemm(const GemmArgs& g) {
  cpu::dispatch_float(g.dtype, "gemm", [](auto) {});
  const bool small = g.M * g.N * g.K < kSmallGemmFlops;
  if (g.batch > 1 && small) {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < g.batch; ++b) gemm_one(g, b);
  } else {
    for (int64_t b = 0; b < g.batch; ++b) gemm_one(g, b);
  }
}

}  // namespace ag

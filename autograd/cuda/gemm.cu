// Matrix products through cuBLAS, the whole batch in one strided-batched call
// (attention's per-image products, conv2d's per-sample ones); a 2-d operand
// shared by the batch has stride 0. GemmArgs is row-major and cuBLAS
// column-major, and a row-major matrix read column-major is its transpose, so
// cuBLAS computes C^T = op(B)^T op(A)^T: the operands swap places and M and N
// trade roles, while the leading dimensions stay as they are.
#include <climits>
#include <stdexcept>
#include <string>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/runtime.h"
#include "autograd/kernels/dispatch.h"

namespace ag {

namespace {

// cuBLAS takes int sizes; a larger one is an error rather than a wrap-around.
int as_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::runtime_error(std::string("gemm: ") + what + " = " + std::to_string(v) +
                             " is outside cuBLAS's int range");
  return static_cast<int>(v);
}

cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }

void gemm_typed(const GemmArgs& g, float) {
  const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
  AG_CUDA_CHECK(cuda::cublas().sgemm_strided_batched(
      cuda::blas(), op(g.trans_b), op(g.trans_a), as_int(g.N, "N"), as_int(g.M, "M"),
      as_int(g.K, "K"), &alpha, static_cast<const float*>(g.B), as_int(g.ldb, "ldb"), g.stride_b,
      static_cast<const float*>(g.A), as_int(g.lda, "lda"), g.stride_a, &beta,
      static_cast<float*>(g.C), as_int(g.ldc, "ldc"), g.stride_c, as_int(g.batch, "batch")));
}

void gemm_typed(const GemmArgs& g, double) {
  const double alpha = g.alpha, beta = g.beta;
  AG_CUDA_CHECK(cuda::cublas().dgemm_strided_batched(
      cuda::blas(), op(g.trans_b), op(g.trans_a), as_int(g.N, "N"), as_int(g.M, "M"),
      as_int(g.K, "K"), &alpha, static_cast<const double*>(g.B), as_int(g.ldb, "ldb"), g.stride_b,
      static_cast<const double*>(g.A), as_int(g.lda, "lda"), g.stride_a, &beta,
      static_cast<double*>(g.C), as_int(g.ldc, "ldc"), g.stride_c, as_int(g.batch, "batch")));
}

}  // namespace

void CudaBackend::gemm(const GemmArgs& g) {
  dispatch_float(g.dtype, "gemm", [&](auto tag) { gemm_typed(g, tag); });
  cuda::sync_if_debugging("cublas gemm", AG_HERE);
}

}  // namespace ag

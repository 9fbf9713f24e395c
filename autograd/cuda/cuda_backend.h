// The CUDA backend: cuBLAS for every GEMM (conv2d included, via im2col),
// grid-stride kernels for the rest, all queued on one stream (runtime.h), and
// memory from a caching allocator. Its member functions are defined one
// family per file, mirroring autograd/cpu/: elementwise.cu, reduce.cu,
// gemm.cu, conv.cu, norm.cu, index.cu, random.cu, optim.cu, memory.cu.
#pragma once
#include "autograd/backend.h"

namespace ag {

class CudaBackend final : public Backend {
 public:
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  void copy_to_host(const void* src, void* dst, size_t nbytes) override;
  void copy_from_host(const void* src, void* dst, size_t nbytes) override;
  void synchronize() override;
  void copy(const TensorRef& src, const TensorRef& dst) override;
  void fill(const TensorRef& dst, double value) override;
  void binary(BinaryOp op, const TensorRef& a, const TensorRef& b, const TensorRef& out) override;
  void unary(UnaryOp op, const TensorRef& x, const TensorRef& y, double alpha,
             double beta) override;
  void unary_backward(UnaryOp op, const TensorRef& x, const TensorRef& y, const TensorRef& dy,
                      const TensorRef& dx, double alpha) override;
  void sum_axis(const TensorRef& x, int64_t outer, int64_t R, int64_t inner,
                const TensorRef& out) override;
  void squared_error_sum(const TensorRef& a, const TensorRef& b, const TensorRef& out) override;
  void gemm(const GemmArgs& args) override;
  void conv2d_forward(const TensorRef& x, const TensorRef& w, const TensorRef& bias,
                      const TensorRef& y, const Conv2dParams& p) override;
  void conv2d_backward(const TensorRef& x, const TensorRef& w, const TensorRef& dy,
                       const TensorRef& dx, const TensorRef& dw, const TensorRef& dbias,
                       const Conv2dParams& p) override;
  void upsample_nearest2x_forward(const TensorRef& x, const TensorRef& y) override;
  void upsample_nearest2x_backward(const TensorRef& dy, const TensorRef& dx) override;
  void group_norm_forward(const TensorRef& x, const TensorRef& gamma, const TensorRef& beta,
                          int64_t G, double eps, const TensorRef& y, const TensorRef& mean,
                          const TensorRef& rstd) override;
  void group_norm_backward(const TensorRef& x, const TensorRef& gamma, const TensorRef& mean,
                           const TensorRef& rstd, const TensorRef& dy, int64_t G,
                           const TensorRef& dx, const TensorRef& dgamma,
                           const TensorRef& dbeta) override;
  void softmax_forward(const TensorRef& x, int64_t outer, int64_t D, int64_t inner,
                       const TensorRef& y) override;
  void softmax_backward(const TensorRef& y, const TensorRef& dy, int64_t outer, int64_t D,
                        int64_t inner, const TensorRef& dx) override;
  void gather_rows(const TensorRef& table, const TensorRef& idx, const TensorRef& out) override;
  void scatter_add_rows(const TensorRef& dout, const TensorRef& idx,
                        const TensorRef& dtable) override;
  void random(RandomKind kind, uint64_t seed, uint64_t offset, double p,
              const TensorRef& out) override;
  void adam_update(const TensorRef& param, const TensorRef& grad, const TensorRef& m,
                   const TensorRef& v, const AdamStepArgs& a) override;
  void ema_update(const TensorRef& ema, const TensorRef& param, double decay) override;
  void scale_(const TensorRef& x, double s) override;
  void sum_squares(const TensorRef& x, const TensorRef& out) override;
};

}  // namespace ag

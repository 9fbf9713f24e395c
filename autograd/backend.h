// The backend interface: every kernel an op may call, for one device. Op code
// (autograd/ops/) calls only these; CPU and CUDA differ only below this line.
// Kernels take TensorRefs: raw pointer, dtype, shape and strides in elements.
// Unless a comment says otherwise, a kernel wants its operands contiguous and
// its output freshly allocated (contiguous, not aliasing an input).
#pragma once
#include <cstdint>

#include "autograd/dtype.h"

namespace ag {

constexpr int kMaxDims = 8;

struct TensorRef {
  void* data = nullptr;
  DType dtype = DType::F32;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
  int64_t numel() const;
  bool is_contiguous() const;
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

enum class BinaryOp { Add, Sub, Mul, Div };

// y = f(x); alpha and beta parameterize Pow (x^alpha), Affine (alpha*x + beta)
// and Clamp (min(max(x, alpha), beta)).
enum class UnaryOp { Neg, Exp, Log, Sqrt, Pow, Square, Sigmoid, Silu, Tanh, Affine, Clamp };

enum class RandomKind { Uniform, Normal, Bernoulli };

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, for b < batch.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  double alpha = 1.0, beta = 0.0;
  const void* A = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* B = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* C = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  DType dtype = DType::F32;
};

struct Conv2dParams {
  int64_t stride = 1, padding = 0;
};

// One Adam step, as torch.optim.Adam (decoupled = false: weight_decay is an
// L2 term added to the gradient) or torch.optim.AdamW (decoupled = true: the
// parameter decays by lr * weight_decay). bias_correction<k> = 1 - beta<k>^t.
struct AdamStepArgs {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;
  double bias_correction1 = 1.0, bias_correction2 = 1.0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // memory
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual void copy_to_host(const void* src, void* dst, size_t nbytes) = 0;
  virtual void copy_from_host(const void* src, void* dst, size_t nbytes) = 0;
  // Returns when all work queued so far has finished (timing, host reads).
  virtual void synchronize() = 0;

  // dst = src, any strides (0 strides broadcast src), converting dtype.
  virtual void copy(const TensorRef& src, const TensorRef& dst) = 0;
  virtual void fill(const TensorRef& dst, double value) = 0;

  // out = a op b; a and b carry out's shape with broadcast (0) or any strides.
  // out may be a or b itself (same shape and strides): each element is read
  // before it is written (the tape accumulates gradients this way).
  virtual void binary(BinaryOp op, const TensorRef& a, const TensorRef& b,
                      const TensorRef& out) = 0;
  // y = f(x); y may be x itself (in place).
  virtual void unary(UnaryOp op, const TensorRef& x, const TensorRef& y, double alpha,
                     double beta) = 0;
  // dx = dy * f'(x), given x and y = f(x).
  virtual void unary_backward(UnaryOp op, const TensorRef& x, const TensorRef& y,
                              const TensorRef& dy, const TensorRef& dx, double alpha) = 0;

  // x viewed as (outer, R, inner): out[o, i] = sum_r x[o, r, i].
  virtual void sum_axis(const TensorRef& x, int64_t outer, int64_t R, int64_t inner,
                        const TensorRef& out) = 0;
  // out (one element) = sum (a - b)^2, a and b of equal shape.
  virtual void squared_error_sum(const TensorRef& a, const TensorRef& b, const TensorRef& out) = 0;

  virtual void gemm(const GemmArgs& args) = 0;

  // x (N, C, H, W), w (K, C, R, S), bias (K) or null data, y (N, K, P, Q);
  // N >= 1 (conv2d handles an empty batch without the backend).
  virtual void conv2d_forward(const TensorRef& x, const TensorRef& w, const TensorRef& bias,
                              const TensorRef& y, const Conv2dParams& p) = 0;
  // Outputs with null data are not wanted.
  virtual void conv2d_backward(const TensorRef& x, const TensorRef& w, const TensorRef& dy,
                               const TensorRef& dx, const TensorRef& dw, const TensorRef& dbias,
                               const Conv2dParams& p) = 0;
  // x (N, C, H, W) -> y (N, C, 2H, 2W), nearest neighbour.
  virtual void upsample_nearest2x_forward(const TensorRef& x, const TensorRef& y) = 0;
  virtual void upsample_nearest2x_backward(const TensorRef& dy, const TensorRef& dx) = 0;

  // x (N, C, *) in G groups; gamma, beta (C); mean, rstd (N, G) saved for backward.
  virtual void group_norm_forward(const TensorRef& x, const TensorRef& gamma, const TensorRef& beta,
                                  int64_t G, double eps, const TensorRef& y, const TensorRef& mean,
                                  const TensorRef& rstd) = 0;
  virtual void group_norm_backward(const TensorRef& x, const TensorRef& gamma,
                                   const TensorRef& mean, const TensorRef& rstd,
                                   const TensorRef& dy, int64_t G, const TensorRef& dx,
                                   const TensorRef& dgamma, const TensorRef& dbeta) = 0;

  // Softmax over the middle axis of x viewed as (outer, D, inner).
  virtual void softmax_forward(const TensorRef& x, int64_t outer, int64_t D, int64_t inner,
                               const TensorRef& y) = 0;
  virtual void softmax_backward(const TensorRef& y, const TensorRef& dy, int64_t outer, int64_t D,
                                int64_t inner, const TensorRef& dx) = 0;

  // table viewed as (T, inner), idx (N) int32, every index in [0, T) (the op
  // checks): out (N, inner) = table[idx].
  virtual void gather_rows(const TensorRef& table, const TensorRef& idx, const TensorRef& out) = 0;
  // dtable[idx[n]] += dout[n], idx as for gather_rows; dtable must be zeroed by
  // the caller.
  virtual void scatter_add_rows(const TensorRef& dout, const TensorRef& idx,
                                const TensorRef& dtable) = 0;

  // Philox 4x32-10 stream (see autograd/philox.h): element i of out is
  // defined by (seed, offset, i) alone, identically on every backend.
  virtual void random(RandomKind kind, uint64_t seed, uint64_t offset, double p,
                      const TensorRef& out) = 0;

  // Optimizer kernels: in place, one pass, operands contiguous and of one shape.
  // m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
  // param -= lr (m / bc1) / (sqrt(v / bc2) + eps), g and param as AdamStepArgs says.
  virtual void adam_update(const TensorRef& param, const TensorRef& grad, const TensorRef& m,
                           const TensorRef& v, const AdamStepArgs& a) = 0;
  // ema = decay * ema + (1 - decay) * param.
  virtual void ema_update(const TensorRef& ema, const TensorRef& param, double decay) = 0;
  // x *= s.
  virtual void scale_(const TensorRef& x, double s) = 0;
  // out (one float64 element) += sum x^2, accumulated in double.
  virtual void sum_squares(const TensorRef& x, const TensorRef& out) = 0;
};

// The backend for a device. Asking for CUDA throws a one-line error when
// this build has no CUDA backend or the machine no CUDA device.
Backend& backend(Device d);
Backend& cpu_backend();
Backend& cuda_backend();

}  // namespace ag

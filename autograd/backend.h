// The backend interface: every kernel an op may call, for one device. Op code
// (autograd/ops/) calls only these; CPU and CUDA differ only below this line.
// The kernels themselves are listed, with what each computes, once in
// backend_kernels.def; this file holds their argument types.
#pragma once
#include <cstdint>

#include "autograd/device.h"
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

// Greater and Less give 1 where the comparison holds, else 0 (NaN compares
// false), in the operands' dtype.
enum class BinaryOp { Add, Sub, Mul, Div, Greater, Less };

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

#define AG_KERNEL(ret, name, params) virtual ret name params = 0;
#include "autograd/backend_kernels.def"
#undef AG_KERNEL
};

// The backend for a device. Asking for CUDA throws a one-line error when
// this build has no CUDA backend or the machine no CUDA device.
Backend& backend(Device d);
Backend& cpu_backend();
Backend& cuda_backend();

}  // namespace ag

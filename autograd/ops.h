// Every differentiable op. Each is defined once in autograd/ops/<family>.cpp:
// its forward calls backend kernels, and, when an input requires grad, it
// records a backward closure (also written with ops and kernels) right beside
// it. Binary ops broadcast as NumPy does.
#pragma once
#include <vector>

#include "autograd/generator.h"
#include "autograd/graph.h"
#include "autograd/tensor.h"

namespace ag {

// elementwise binary (ops/binary.cpp)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
// The broadcast shape of two shapes, or a clear error.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Sums g over the broadcast dimensions so it has `shape` (the one place
// broadcasting is undone in backward).
Tensor sum_to(const Tensor& g, const Shape& shape);
// Broadcasts x to `shape` (a copy; differentiable).
Tensor expand(const Tensor& x, const Shape& shape);

// comparison and selection (ops/compare.cpp); operands broadcast
// greater (less): 1 where a > b (a < b), else 0, in a's dtype; NaN compares
// false. Masks have no gradient: their outputs never require grad.
Tensor greater(const Tensor& a, const Tensor& b);
Tensor greater(const Tensor& a, double b);
Tensor less(const Tensor& a, const Tensor& b);
Tensor less(const Tensor& a, double b);
// a where cond != 0, else b; cond, a and b share dtype and device. The
// gradient reaches a where cond is nonzero and b elsewhere, and the branch not
// taken contributes exactly nothing, even where it holds inf or NaN (which
// the blend cond * a + (1 - cond) * b would spread).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// elementwise unary (ops/unary.cpp)
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor square(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor affine(const Tensor& x, double alpha, double beta);  // alpha * x + beta
// min(max(x, lo), hi); the gradient is 1 where lo <= x <= hi, else 0. Use
// +-infinity for a one-sided clamp.
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor operator-(const Tensor& x);
Tensor operator*(const Tensor& x, double s);
Tensor operator*(double s, const Tensor& x);
Tensor operator+(const Tensor& x, double s);
Tensor operator-(const Tensor& x, double s);
Tensor operator/(const Tensor& x, double s);
Tensor operator+(double s, const Tensor& x);
Tensor operator-(double s, const Tensor& x);

// reductions (ops/reduce.cpp); negative axes count from the end
Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor sum(const Tensor& x);  // all elements, shape []
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor mean(const Tensor& x);

// matrix products (ops/matmul.cpp): (M, K) x (K, N), or batched
// (B, M, K) x (B, K, N); a 2-d operand is shared across the batch.
Tensor matmul(const Tensor& a, const Tensor& b);

// shape and movement (ops/shape.cpp); reshape of a contiguous tensor,
// permute, transpose and slice are views sharing storage
Tensor reshape(const Tensor& x, Shape shape);  // one dimension may be -1
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int dim0, int dim1);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end);  // [start, end)
Tensor concat(const std::vector<Tensor>& xs, int axis);
Tensor contiguous(const Tensor& x);

// convolution and resampling (ops/conv.cpp)
// x (N, C, H, W), w (K, C, R, S), bias (K) or undefined -> (N, K, P, Q)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0);
Tensor upsample_nearest2x(const Tensor& x);  // (N, C, H, W) -> (N, C, 2H, 2W)

// normalization (ops/norm.cpp)
// x (N, C, *), gamma and beta (C): normalize over each of G channel groups.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& gamma, const Tensor& beta,
                  double eps = 1e-5);
Tensor softmax(const Tensor& x, int axis);

// randomness and indexing (ops/random.cpp, ops/index.cpp)
// Zeroes each element with probability p and scales the rest by 1 / (1 - p);
// the identity when not training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// table (T, *) and idx (N) int32 -> (N, *): row idx[n] of the table for each n
// (schedule constants indexed by per-sample timesteps). idx may be on the CPU
// whatever the table's device; a device idx is copied back to be checked.
Tensor gather(const Tensor& table, const Tensor& idx);

// losses (ops/loss.cpp)
Tensor mse_loss(const Tensor& a, const Tensor& b);  // mean of (a - b)^2, shape []

}  // namespace ag

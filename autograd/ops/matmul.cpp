// Matrix products: C = A B with A (..., M, K) and B (..., K, N). Both operands
// go to BLAS in place when their last two dimensions are row-major or
// transposed; the batch is 1 or shared by both, or a 2-d operand broadcast.
#include "autograd/ops/common.h"

namespace ag {

namespace {

// A matrix operand as BLAS sees it: pointer, leading dimension, transposed?
struct MatRef {
  Tensor t;  // keeps the (possibly copied) storage alive
  bool trans = false;
  int64_t ld = 0, batch_stride = 0;
};

// Accepts x (M, K) or (B, M, K) if its last two dims are row- or column-major
// and its batch stride is uniform; otherwise makes it contiguous first.
MatRef as_matrix(const Tensor& x) {
  const int d = x.dim();
  const Shape& st = x.strides();
  const int64_t rows = x.shape()[d - 2], cols = x.shape()[d - 1];
  MatRef m;
  if (st[d - 1] == 1 && (st[d - 2] >= cols || rows == 1)) {
    m = {x, false, std::max<int64_t>(st[d - 2], cols), 0};
  } else if (st[d - 2] == 1 && (st[d - 1] >= rows || cols == 1)) {
    m = {x, true, std::max<int64_t>(st[d - 1], rows), 0};
  } else {
    Tensor c = x.contiguous();
    m = {c, false, cols, 0};
  }
  if (d == 3) m.batch_stride = m.t.strides()[0];
  return m;
}

void check_matmul(const Tensor& a, const Tensor& b) {
  detail::check_compatible(a, b, "matmul");
  bool ok_dims = (a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3);
  if (!ok_dims)
    throw std::runtime_error("matmul: expected 2-d or 3-d operands, got " + shape_str(a.shape()) +
                             " and " + shape_str(b.shape()));
  if (a.shape()[a.dim() - 1] != b.shape()[b.dim() - 2])
    throw std::runtime_error("matmul: inner dimensions differ: " + shape_str(a.shape()) + " x " +
                             shape_str(b.shape()));
  if (a.dim() == 3 && b.dim() == 3 && a.shape()[0] != b.shape()[0])
    throw std::runtime_error("matmul: batch sizes differ: " + shape_str(a.shape()) + " x " +
                             shape_str(b.shape()));
}

// The forward product, also used (under no-grad) by backward.
Tensor matmul_forward(const Tensor& a, const Tensor& b) {
  const int64_t batch = a.dim() == 3 ? a.shape()[0] : (b.dim() == 3 ? b.shape()[0] : 1);
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  const int64_t N = b.shape()[b.dim() - 1];
  Shape out_shape = (a.dim() == 3 || b.dim() == 3) ? Shape{batch, M, N} : Shape{M, N};
  Tensor c = empty(out_shape, a.dtype(), a.device());
  if (c.numel() == 0) return c;
  if (K == 0) return c.fill_(0.0);
  MatRef A = as_matrix(a), B = as_matrix(b);
  GemmArgs g;
  g.trans_a = A.trans;
  g.trans_b = B.trans;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = A.t.data_ptr();
  g.lda = A.ld;
  g.stride_a = A.batch_stride;
  g.B = B.t.data_ptr();
  g.ldb = B.ld;
  g.stride_b = B.batch_stride;
  g.C = c.data_ptr();
  g.ldc = N;
  g.stride_c = M * N;
  g.batch = batch;
  g.dtype = a.dtype();
  detail::backend_of(a).gemm(g);
  return c;
}

Tensor transpose_last(const Tensor& x) { return transpose(x, -1, -2); }

}  // namespace

// dA = dC B^T, dB = A^T dC; a 2-d operand shared across the batch sums its
// gradient over the batch.
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul(a, b);
  Tensor c = matmul_forward(a, b);
  if (!needs_grad({a, b})) return c;
  return record(
      "matmul", c, {a, b},
      [sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& dc, const std::vector<bool>& need) {
        const Tensor& a = sa.get();
        const Tensor& b = sb.get();
        Tensor da, db;
        if (need[0]) {
          da = matmul_forward(dc, transpose_last(b));
          if (a.dim() == 2 && da.dim() == 3) da = sum(da, {0});
        }
        if (need[1]) {
          db = matmul_forward(transpose_last(a), dc);
          if (b.dim() == 2 && db.dim() == 3) db = sum(db, {0});
        }
        return std::vector<Tensor>{da, db};
      });
}

}  // namespace ag

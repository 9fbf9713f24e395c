// conv2d and upsample_nearest2x. Both run on contiguous NCHW operands; a
// strided input is copied once (differentiably, by Tensor::contiguous) before
// the kernel sees it, and the copy is what the backward closure records.
#include <stdexcept>
#include <string>
#include <utility>

#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;
using detail::ref_or_null;

namespace {

void check_4d(const Tensor& t, const char* op, const char* what, const char* layout) {
  if (t.dim() != 4)
    throw std::runtime_error(std::string(op) + ": " + what + " must be 4-d " + layout +
                             ", got shape " + shape_str(t.shape()));
}

void check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
                  int64_t padding) {
  detail::check_compatible(x, w, "conv2d");
  check_4d(x, "conv2d", "input", "(N, C, H, W)");
  check_4d(w, "conv2d", "weight", "(K, C, R, S)");
  if (x.size(1) != w.size(1))
    throw std::runtime_error("conv2d: input has " + std::to_string(x.size(1)) +
                             " channels but weight expects " + std::to_string(w.size(1)));
  if (w.numel() == 0)
    throw std::runtime_error("conv2d: weight of shape " + shape_str(w.shape()) + " is empty");
  if (bias.defined()) {
    detail::check_compatible(x, bias, "conv2d");
    if (bias.shape() != Shape{w.size(0)})
      throw std::runtime_error("conv2d: bias must have shape [" + std::to_string(w.size(0)) +
                               "], got " + shape_str(bias.shape()));
  }
  if (stride < 1)
    throw std::runtime_error("conv2d: stride must be >= 1, got " + std::to_string(stride));
  if (padding < 0)
    throw std::runtime_error("conv2d: padding must be >= 0, got " + std::to_string(padding));
  if (x.size(2) + 2 * padding < w.size(2) || x.size(3) + 2 * padding < w.size(3))
    throw std::runtime_error("conv2d: kernel " + std::to_string(w.size(2)) + "x" +
                             std::to_string(w.size(3)) + " is larger than the padded input " +
                             std::to_string(x.size(2) + 2 * padding) + "x" +
                             std::to_string(x.size(3) + 2 * padding));
}

// A kernel argument carrying only a shape: the backward kernel reads x's
// data only for dw and w's only for dx, but always their shapes.
TensorRef shape_ref(const Shape& shape, DType dtype) {
  TensorRef r;
  r.dtype = dtype;
  r.ndim = static_cast<int>(shape.size());
  Shape strides = contiguous_strides(shape);
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = shape[i];
    r.strides[i] = strides[i];
  }
  return r;
}

// The tensor's ref if it was saved, else its shape alone.
TensorRef saved_or_shape(const SavedTensor& saved, bool was_saved, const Shape& shape,
                         DType dtype) {
  return was_saved ? saved.get().ref() : shape_ref(shape, dtype);
}

// A fresh gradient of `shape` if wanted; otherwise an undefined tensor.
Tensor grad_if(bool wanted, const Shape& shape, const Tensor& like) {
  return wanted ? empty(shape, like.dtype(), like.device()) : Tensor();
}

}  // namespace

// dx = col2im(w^T dy), dw = dy col(x)^T, dbias = sum of dy over N, P, Q.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
              int64_t padding) {
  check_conv2d(x, w, bias, stride, padding);
  const Tensor xc = x.contiguous();  // (N, C, H, W)
  const Tensor wc = w.contiguous();  // (K, C, R, S)
  const int64_t P = (x.size(2) + 2 * padding - w.size(2)) / stride + 1;
  const int64_t Q = (x.size(3) + 2 * padding - w.size(3)) / stride + 1;
  Tensor y = empty({x.size(0), w.size(0), P, Q}, x.dtype(), x.device());  // (N, K, P, Q)
  const Conv2dParams params{stride, padding};
  const Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  const bool empty_batch = x.size(0) == 0;  // nothing to compute; dw, dbias sum nothing
  if (!empty_batch)
    backend_of(x).conv2d_forward(xc.ref(), wc.ref(), ref_or_null(bc), y.ref(), params);
  if (!needs_grad({xc, wc, bc})) return y;

  // x is needed only for dw, w only for dx.
  const bool save_x = wc.requires_grad(), save_w = xc.requires_grad();
  SavedTensor sx = save_x ? SavedTensor(xc) : SavedTensor();
  SavedTensor sw = save_w ? SavedTensor(wc) : SavedTensor();
  return record(
      "conv2d", y, {xc, wc, bc},
      [sx = std::move(sx), sw = std::move(sw), save_x, save_w, xs = x.shape(), ws = w.shape(),
       params, empty_batch](const Tensor& dy_in, const std::vector<bool>& need) {
        const Tensor dy = dy_in.contiguous();  // (N, K, P, Q)
        if (empty_batch)
          return std::vector<Tensor>{grad_if(need[0], xs, dy),
                                     need[1] ? zeros(ws, dy.dtype(), dy.device()) : Tensor(),
                                     need[2] ? zeros({ws[0]}, dy.dtype(), dy.device()) : Tensor()};
        Tensor dx = grad_if(need[0], xs, dy);
        Tensor dw = grad_if(need[1], ws, dy);
        Tensor db = grad_if(need[2], {ws[0]}, dy);
        backend_of(dy).conv2d_backward(saved_or_shape(sx, save_x, xs, dy.dtype()),
                                       saved_or_shape(sw, save_w, ws, dy.dtype()), dy.ref(),
                                       ref_or_null(dx), ref_or_null(dw), ref_or_null(db), params);
        return std::vector<Tensor>{dx, dw, db};
      });
}

// dx = the sum of dy over each 2x2 block.
Tensor upsample_nearest2x(const Tensor& x) {
  detail::check_float(x, "upsample_nearest2x");
  check_4d(x, "upsample_nearest2x", "input", "(N, C, H, W)");
  const Tensor xc = x.contiguous();  // (N, C, H, W)
  Tensor y = empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)}, x.dtype(),
                   x.device());  // (N, C, 2H, 2W)
  backend_of(x).upsample_nearest2x_forward(xc.ref(), y.ref());
  if (!needs_grad({xc})) return y;
  return record("upsample_nearest2x", y, {xc},
                [xs = x.shape()](const Tensor& dy_in, const std::vector<bool>&) {
                  const Tensor dy = dy_in.contiguous();  // (N, C, 2H, 2W)
                  Tensor dx = empty(xs, dy.dtype(), dy.device());
                  backend_of(dy).upsample_nearest2x_backward(dy.ref(), dx.ref());
                  return std::vector<Tensor>{dx};
                });
}

}  // namespace ag

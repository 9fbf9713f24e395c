// Shape and movement ops. reshape (of a contiguous tensor), permute,
// transpose and slice return views sharing storage; concat and contiguous copy.
#include <numeric>

#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;

namespace {

Shape infer_shape(Shape shape, int64_t numel, const Shape& from) {
  int64_t known = 1;
  int infer = -1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (shape[i] < -1 || (shape[i] == -1 && infer >= 0))
      throw std::runtime_error("reshape: invalid target shape " + shape_str(shape));
    if (shape[i] == -1)
      infer = i;
    else
      known *= shape[i];
  }
  if (infer >= 0 && known > 0 && numel % known == 0) shape[infer] = numel / known;
  if (shape_numel(shape) != numel || (infer >= 0 && known == 0))
    throw std::runtime_error("reshape: cannot view " + shape_str(from) + " as " + shape_str(shape));
  return shape;
}

}  // namespace

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor y = x.clone();
  if (!needs_grad({x})) return y;
  return record("contiguous", y, {x},
                [](const Tensor& dy, const std::vector<bool>&) { return std::vector<Tensor>{dy}; });
}

Tensor Tensor::contiguous() const { return ag::contiguous(*this); }

Tensor Tensor::clone() const {
  Tensor y = empty(shape(), dtype(), device());
  backend_of(*this).copy(ref(), y.ref());
  if (!needs_grad({*this})) return y;
  return record("clone", y, {*this},
                [](const Tensor& dy, const std::vector<bool>&) { return std::vector<Tensor>{dy}; });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor y = empty(shape(), t, device());
  backend_of(*this).copy(ref(), y.ref());
  if (!needs_grad({*this})) return y;
  if (!is_floating(t))
    throw std::runtime_error(std::string("to(") + dtype_name(t) +
                             "): a tensor that requires grad can only become floating point");
  return record("to", y, {*this}, [from = dtype()](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{dy.to(from)};
  });
}

Tensor reshape(const Tensor& x, Shape shape) {
  shape = infer_shape(std::move(shape), x.numel(), x.shape());
  Tensor xc = contiguous(x);
  Tensor y = make_view(xc, shape, contiguous_strides(shape), xc.offset());
  if (!needs_grad({xc})) return y;
  return record("reshape", y, {xc}, [xs = x.shape()](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{reshape(dy, xs)};
  });
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  const int n = x.dim();
  if (static_cast<int>(dims.size()) != n)
    throw std::runtime_error("permute: " + std::to_string(dims.size()) + " dims given for a " +
                             std::to_string(n) + "-d tensor");
  std::vector<int> inverse(n, -1);
  Shape shape(n), strides(n);
  for (int i = 0; i < n; ++i) {
    int d = detail::normalize_axis(dims[i], n, "permute");
    if (inverse[d] >= 0) throw std::runtime_error("permute: repeated dim");
    inverse[d] = i;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor y = make_view(x, shape, strides, x.offset());
  if (!needs_grad({x})) return y;
  return record("permute", y, {x}, [inverse](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{permute(dy, inverse)};
  });
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  std::vector<int> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[detail::normalize_axis(dim0, x.dim(), "transpose")],
            dims[detail::normalize_axis(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
  axis = detail::normalize_axis(axis, x.dim(), "slice");
  const int64_t size = x.shape()[axis];
  if (start < 0 || start > end || end > size)
    throw std::runtime_error("slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                             ") invalid for axis " + std::to_string(axis) + " of size " +
                             std::to_string(size));
  Shape shape = x.shape();
  shape[axis] = end - start;
  Tensor y = make_view(x, shape, x.strides(), x.offset() + start * x.strides()[axis]);
  if (!needs_grad({x})) return y;
  return record("slice", y, {x},
                [xs = x.shape(), axis, start](const Tensor& dy, const std::vector<bool>&) {
                  Tensor dx = zeros(xs, dy.dtype(), dy.device());
                  Tensor window = slice(dx, axis, start, start + dy.shape()[axis]);
                  backend_of(dy).copy(dy.ref(), window.ref());
                  return std::vector<Tensor>{dx};
                });
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) throw std::runtime_error("concat: no tensors");
  axis = detail::normalize_axis(axis, xs[0].dim(), "concat");
  Shape shape = xs[0].shape();
  shape[axis] = 0;
  for (const Tensor& x : xs) {
    detail::check_compatible(xs[0], x, "concat");
    Shape a = x.shape(), b = xs[0].shape();
    if (a.size() == b.size()) a[axis] = b[axis] = 0;
    if (a != b)
      throw std::runtime_error("concat: shapes " + shape_str(xs[0].shape()) + " and " +
                               shape_str(x.shape()) + " differ outside axis " +
                               std::to_string(axis));
    shape[axis] += x.shape()[axis];
  }
  Tensor y = empty(shape, xs[0].dtype(), xs[0].device());
  std::vector<int64_t> starts;
  int64_t at = 0;
  {
    NoGradGuard no_grad;
    for (const Tensor& x : xs) {
      starts.push_back(at);
      Tensor window = slice(y, axis, at, at + x.shape()[axis]);
      backend_of(x).copy(x.ref(), window.ref());
      at += x.shape()[axis];
    }
  }
  if (!needs_grad(xs)) return y;
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.shape()[axis]);
  return record("concat", y, xs,
                [axis, starts, sizes](const Tensor& dy, const std::vector<bool>& need) {
                  std::vector<Tensor> dxs(starts.size());
                  for (size_t i = 0; i < starts.size(); ++i)
                    if (need[i]) dxs[i] = slice(dy, axis, starts[i], starts[i] + sizes[i]);
                  return dxs;
                });
}

}  // namespace ag

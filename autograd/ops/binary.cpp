// add, sub, mul, div with NumPy broadcasting, and the two helpers that
// broadcasting needs: expand (forward) and sum_to (backward).
#include <stdexcept>

#include "autograd/ops/common.h"

namespace ag {

using detail::backend_of;
using detail::binary_forward;

namespace detail {

void check_float(const Tensor& t, const char* op) {
  if (!t.defined()) throw std::runtime_error(std::string(op) + ": undefined tensor");
  if (!is_floating(t.dtype()))
    throw std::runtime_error(std::string(op) + ": expected a floating-point tensor, got " +
                             dtype_name(t.dtype()));
}

void check_compatible(const Tensor& a, const Tensor& b, const char* op) {
  check_float(a, op);
  check_float(b, op);
  if (a.device() != b.device())
    throw std::runtime_error(std::string(op) + ": tensors on different devices (" +
                             device_name(a.device()) + ", " + device_name(b.device()) + ")");
  if (a.dtype() != b.dtype())
    throw std::runtime_error(std::string(op) + ": mixed dtypes (" + dtype_name(a.dtype()) + ", " +
                             dtype_name(b.dtype()) + ")");
}

int normalize_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw std::runtime_error(std::string(op) + ": axis " + std::to_string(axis) +
                             " out of range for a " + std::to_string(ndim) + "-d tensor");
  return a;
}

TensorRef broadcast_ref(const Tensor& t, const Shape& shape) {
  TensorRef r = t.ref();
  const int nd = static_cast<int>(shape.size());
  const int lead = nd - t.dim();
  r.ndim = nd;
  for (int i = nd - 1; i >= 0; --i) {
    int j = i - lead;
    bool real = j >= 0 && t.shape()[j] == shape[i];
    r.shape[i] = shape[i];
    r.strides[i] = real ? t.strides()[j] : 0;
  }
  return r;
}

Shape broadcast_shapes_for(const Shape& a, const Shape& b, const char* op) {
  try {
    return broadcast_shapes(a, b);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(op) + ": " + e.what());
  }
}

Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  detail::check_compatible(a, b, name);
  const Shape shape = broadcast_shapes_for(a.shape(), b.shape(), name);
  Tensor y = empty(shape, a.dtype(), a.device());
  backend_of(a).binary(op, detail::broadcast_ref(a, shape), detail::broadcast_ref(b, shape),
                       y.ref());
  return y;
}

}  // namespace detail

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::runtime_error("shapes " + shape_str(a) + " and " + shape_str(b) +
                               " cannot be broadcast together");
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int lead = g.dim() - static_cast<int>(shape.size());
  std::vector<int> axes;
  for (int i = 0; i < g.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) axes.push_back(i);
  return reshape(sum(g, axes, false), shape);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_float(x, "expand");
  if (broadcast_shapes(x.shape(), shape) != shape)
    throw std::runtime_error("expand: cannot broadcast " + shape_str(x.shape()) + " to " +
                             shape_str(shape));
  Tensor y = empty(shape, x.dtype(), x.device());
  backend_of(x).copy(detail::broadcast_ref(x, shape), y.ref());
  if (!needs_grad({x})) return y;
  return record("expand", y, {x}, [xs = x.shape()](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{sum_to(dy, xs)};
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Add, a, b, "add");
  if (!needs_grad({a, b})) return y;
  return record("add", y, {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& dy, const std::vector<bool>& need) {
                  return std::vector<Tensor>{need[0] ? sum_to(dy, sa) : Tensor(),
                                             need[1] ? sum_to(dy, sb) : Tensor()};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Sub, a, b, "sub");
  if (!needs_grad({a, b})) return y;
  return record("sub", y, {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& dy, const std::vector<bool>& need) {
                  return std::vector<Tensor>{need[0] ? sum_to(dy, sa) : Tensor(),
                                             need[1] ? sum_to(neg(dy), sb) : Tensor()};
                });
}

// d(a b) = b da + a db
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Mul, a, b, "mul");
  if (!needs_grad({a, b})) return y;
  return record(
      "mul", y, {a, b},
      [sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& dy, const std::vector<bool>& need) {
        const Tensor& a = sa.get();
        const Tensor& b = sb.get();
        return std::vector<Tensor>{need[0] ? sum_to(mul(dy, b), a.shape()) : Tensor(),
                                   need[1] ? sum_to(mul(dy, a), b.shape()) : Tensor()};
      });
}

// d(a / b) = da / b - (a / b) db / b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_forward(BinaryOp::Div, a, b, "div");
  if (!needs_grad({a, b})) return y;
  return record("div", y, {a, b},
                [sb = SavedTensor(b), sy = SavedTensor(y), sa = a.shape()](
                    const Tensor& dy, const std::vector<bool>& need) {
                  const Tensor& b = sb.get();
                  Tensor da = div(dy, b);
                  return std::vector<Tensor>{
                      need[0] ? sum_to(da, sa) : Tensor(),
                      need[1] ? sum_to(neg(mul(da, sy.get())), b.shape()) : Tensor()};
                });
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

}  // namespace ag

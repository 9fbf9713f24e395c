// sum and mean over axes. Each run of adjacent axes is one pass viewing the
// tensor as (outer, R, inner); runs are summed innermost first.
#include <algorithm>

#include "autograd/ops/common.h"

namespace ag {

namespace {

std::vector<int> normalized_axes(std::vector<int> axes, int ndim, const char* op) {
  for (int& a : axes) a = detail::normalize_axis(a, ndim, op);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw std::runtime_error(std::string(op) + ": repeated axis");
  return axes;
}

// Sums contiguous x over the adjacent axes [first, last] at once, keeping
// them as size 1: x viewed as (outer, R, inner).
Tensor sum_axis_run(const Tensor& x, int first, int last) {
  const Shape& s = x.shape();
  int64_t outer = 1, R = 1, inner = 1;
  Shape out_shape = s;
  for (int i = 0; i < static_cast<int>(s.size()); ++i) {
    if (i < first)
      outer *= s[i];
    else if (i > last)
      inner *= s[i];
    else
      R *= s[i], out_shape[i] = 1;
  }
  Tensor y = empty(out_shape, x.dtype(), x.device());
  detail::backend_of(x).sum_axis(x.ref(), outer, R, inner, y.ref());
  return y;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim) {
  Shape out;
  for (int i = 0; i < static_cast<int>(s.size()); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      out.push_back(s[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
  detail::check_float(x, "sum");
  axes = normalized_axes(std::move(axes), x.dim(), "sum");
  Tensor y = axes.empty() ? x.clone() : x.contiguous();
  for (int end = static_cast<int>(axes.size()) - 1; end >= 0;) {
    int begin = end;
    while (begin > 0 && axes[begin - 1] == axes[begin] - 1) --begin;
    y = sum_axis_run(y, axes[begin], axes[end]);
    end = begin - 1;
  }
  Shape out_shape = reduced_shape(x.shape(), axes, keepdim);
  y = make_view(y, out_shape, contiguous_strides(out_shape), 0);
  if (!needs_grad({x})) return y;
  Shape kept = reduced_shape(x.shape(), axes, true);
  return record("sum", y, {x}, [xs = x.shape(), kept](const Tensor& dy, const std::vector<bool>&) {
    return std::vector<Tensor>{expand(reshape(dy, kept), xs)};
  });
}

Tensor sum(const Tensor& x) {
  std::vector<int> all(x.dim());
  for (int i = 0; i < x.dim(); ++i) all[i] = i;
  return sum(x, all, false);
}

Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
  axes = normalized_axes(std::move(axes), x.dim(), "mean");
  int64_t count = 1;
  for (int a : axes) count *= x.shape()[a];
  return sum(x, axes, keepdim) * (1.0 / static_cast<double>(count));
}

Tensor mean(const Tensor& x) { return sum(x) * (1.0 / static_cast<double>(x.numel())); }

}  // namespace ag

// gather: per-sample rows of a table, e.g. sqrt(alphas_cumprod)[t] for a
// batch of timesteps t. The gradient scatters back, adding on repeats.
#include "autograd/ops/common.h"

namespace ag {

Tensor gather(const Tensor& table, const Tensor& idx) {
  detail::check_float(table, "gather");
  if (idx.dtype() != DType::I32 || idx.dim() != 1)
    throw std::runtime_error("gather: indices must be a 1-d int32 tensor, got " +
                             std::string(dtype_name(idx.dtype())) + " " + shape_str(idx.shape()));
  if (table.dim() < 1) throw std::runtime_error("gather: table must have at least 1 dim");
  if (idx.device() != table.device())
    throw std::runtime_error("gather: table and indices on different devices");
  Tensor tc = table.contiguous();
  Tensor ic = idx.contiguous();
  Shape shape = table.shape();
  shape[0] = idx.numel();
  Tensor y = empty(shape, table.dtype(), table.device());
  detail::backend_of(table).gather_rows(tc.ref(), ic.ref(), y.ref());
  if (!needs_grad({table})) return y;
  return record(
      "gather", y, {table},
      [ts = table.shape(), si = SavedTensor(ic)](const Tensor& dy, const std::vector<bool>&) {
        Tensor dtable = zeros(ts, dy.dtype(), dy.device());
        detail::backend_of(dy).scatter_add_rows(dy.contiguous().ref(), si.get().ref(),
                                                dtable.ref());
        return std::vector<Tensor>{dtable};
      });
}

}  // namespace ag

// gather: per-sample rows of a table, e.g. sqrt(alphas_cumprod)[t] for a
// batch of timesteps t. The gradient scatters back, adding on repeats.
// Indices are checked here, on the host, so no backend reads past the table.
// Timesteps are drawn on the host, so indices on the CPU may index a table on
// any device: checking them costs no wait, and they are then uploaded. Indices
// on a device are copied back to be checked, which waits for its queue.
#include "autograd/ops/common.h"

namespace ag {

namespace {

// to_vector reads indices on a device back to the host.
void check_indices(const Tensor& idx, int64_t rows) {
  for (int32_t i : idx.to_vector<int32_t>())
    if (i < 0 || i >= rows)
      throw std::runtime_error("gather: index " + std::to_string(i) + " out of range [0, " +
                               std::to_string(rows) + ")");
}

}  // namespace

Tensor gather(const Tensor& table, const Tensor& idx) {
  detail::check_float(table, "gather");
  if (idx.dtype() != DType::I32 || idx.dim() != 1)
    throw std::runtime_error("gather: indices must be a 1-d int32 tensor, got " +
                             std::string(dtype_name(idx.dtype())) + " " + shape_str(idx.shape()));
  if (table.dim() < 1) throw std::runtime_error("gather: table must have at least 1 dim");
  if (idx.device() != Device::CPU && idx.device() != table.device())
    throw std::runtime_error("gather: indices must be on the CPU or on the table's device");
  check_indices(idx, table.size(0));
  Tensor tc = table.contiguous();
  Tensor ic = idx.to(table.device()).contiguous();
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

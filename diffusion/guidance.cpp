#include "diffusion/guidance.h"

#include <stdexcept>
#include <vector>

namespace diffusion {

using namespace ag;

namespace {

// a then b, as one int32 tensor on the CPU (concat takes floating tensors).
Tensor join_indices(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<int32_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  return from_vector(both, {static_cast<int64_t>(both.size())});
}

}  // namespace

Denoiser classifier_free_guidance(const ConditionalDenoiser& model, const Tensor& y,
                                  int64_t null_label, double w) {
  if (y.dim() != 1) throw std::runtime_error("guidance: labels must be one per image");
  const int64_t n = y.size(0);
  const Tensor both_y =
      join_indices(y.to(Device::CPU).to_vector<int32_t>(),
                   std::vector<int32_t>(static_cast<size_t>(n), static_cast<int32_t>(null_label)));
  return [model, both_y, n, w](const Tensor& x, const Tensor& t) {
    if (x.size(0) != n)
      throw std::runtime_error("guidance: " + std::to_string(x.size(0)) + " images for " +
                               std::to_string(n) + " labels");
    const std::vector<int32_t> ts = t.to(Device::CPU).to_vector<int32_t>();
    const Tensor out = model(concat({x, x}, 0), join_indices(ts, ts), both_y);
    const int64_t C = x.size(1);
    const Tensor cond = slice(out, 0, 0, n), uncond = slice(out, 0, n, 2 * n);
    const Tensor guided = slice(cond, 1, 0, C) * (1 + w) - slice(uncond, 1, 0, C) * w;
    if (out.size(1) == C) return guided;
    return concat({guided, slice(cond, 1, C, out.size(1))}, 1);  // learned variances
  };
}

}  // namespace diffusion

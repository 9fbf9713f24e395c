#include "nn/loss.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace nn {

namespace {

// Row maxima of a (N, K) tensor as an (N, 1) constant on its device.
Tensor row_max(const Tensor& logits) {
  const int64_t N = logits.size(0), K = logits.size(1);
  const std::vector<double> v = logits.detach().to_vector<double>();
  std::vector<double> m(N);
  for (int64_t n = 0; n < N; ++n) m[n] = *std::max_element(&v[n * K], &v[n * K] + K);
  return ag::from_vector(m, {N, 1}, logits.device()).to(logits.dtype());
}

// Flat indices n * K + labels[n] of the picked logits, checked, on the host
// (gather takes them there for logits on any device).
Tensor picked_indices(const Tensor& labels, int64_t N, int64_t K) {
  if (labels.dtype() != ag::DType::I32 || labels.dim() != 1 || labels.size(0) != N)
    throw std::runtime_error("cross_entropy: labels must be int32 of shape [" + std::to_string(N) +
                             "]");
  std::vector<int32_t> idx = labels.to_vector<int32_t>();
  for (int64_t n = 0; n < N; ++n) {
    if (idx[n] < 0 || idx[n] >= K)
      throw std::runtime_error("cross_entropy: label " + std::to_string(idx[n]) + " outside [0, " +
                               std::to_string(K) + ")");
    idx[n] += static_cast<int32_t>(n * K);
  }
  return ag::from_vector(idx, {N});
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  if (logits.dim() != 2)
    throw std::runtime_error("cross_entropy: logits must be (N, K), got " +
                             ag::shape_str(logits.shape()));
  const int64_t N = logits.size(0), K = logits.size(1);
  const Tensor idx = picked_indices(labels, N, K);
  const Tensor z = logits - row_max(logits);
  const Tensor log_sum_exp = ag::log(ag::sum(ag::exp(z), {1}));
  const Tensor picked = ag::reshape(ag::gather(ag::reshape(z, {N * K, 1}), idx), {N});
  return ag::mean(log_sum_exp - picked);
}

}  // namespace nn

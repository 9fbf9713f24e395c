#include "nn/data_parallel.h"

#include "autograd/distributed.h"
#include "autograd/graph.h"
#include "autograd/ops.h"

namespace nn {

namespace {

// One all-reduce for the gradients `grads`: flattened into one buffer,
// summed over the ranks, copied back.
void reduce_bucket(const std::vector<ag::Tensor>& grads) {
  std::vector<ag::Tensor> flat;
  for (const ag::Tensor& g : grads) flat.push_back(ag::reshape(g.contiguous(), {-1}));
  const ag::Tensor buffer = ag::concat(flat, 0);
  ag::dist::all_reduce_sum(buffer);
  int64_t at = 0;
  for (const ag::Tensor& g : grads) {
    g.copy_(ag::reshape(ag::slice(buffer, 0, at, at + g.numel()), g.shape()));
    at += g.numel();
  }
}

}  // namespace

void broadcast_parameters(const std::vector<ag::Tensor>& params) {
  if (ag::dist::size() == 1) return;
  ag::NoGradGuard no_grad;
  for (const ag::Tensor& p : params) ag::dist::broadcast(p);
}

void all_reduce_gradients(const std::vector<ag::Tensor>& params, int64_t bucket_bytes) {
  if (ag::dist::size() == 1) return;
  ag::NoGradGuard no_grad;
  // Which parameters have a gradient on any rank: those are reduced (zeros
  // from a rank without one), the others keep none, as in one process.
  std::vector<double> has;
  for (const ag::Tensor& p : params) has.push_back(p.grad().defined() ? 1.0 : 0.0);
  has = ag::dist::sum(has);
  std::vector<ag::Tensor> bucket;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const ag::Tensor& p = params[i];
    if (has[i] == 0) continue;
    if (!p.grad().defined()) p.set_grad(ag::zeros_like(p));
    const ag::Tensor g = p.grad();
    // a bucket holds one dtype, as its buffer does
    if (!bucket.empty() && (bytes >= bucket_bytes || g.dtype() != bucket[0].dtype())) {
      reduce_bucket(bucket);
      bucket.clear();
      bytes = 0;
    }
    bucket.push_back(g);
    bytes += g.numel() * static_cast<int64_t>(ag::dtype_size(g.dtype()));
  }
  if (!bucket.empty()) reduce_bucket(bucket);
}

}  // namespace nn

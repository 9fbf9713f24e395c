#include "nn/blocks.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "nn/init.h"

namespace nn {

using namespace ag;

Tensor timestep_embedding(const Tensor& t, int64_t dim, DType dtype, Device device) {
  const std::vector<double> steps = t.to_vector<double>();
  const int64_t n = static_cast<int64_t>(steps.size()), half = dim / 2;
  if (half < 2)  // the frequencies below divide by half - 1
    throw std::runtime_error("timestep_embedding: dim = " + std::to_string(dim) +
                             ", needs at least 4 (two frequencies)");
  const double log_step = std::log(10000.0) / static_cast<double>(half - 1);
  std::vector<double> emb(static_cast<size_t>(n * dim), 0.0);  // (N, dim)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < half; ++j) {
      const double arg = steps[i] * std::exp(-log_step * static_cast<double>(j));
      emb[i * dim + j] = std::sin(arg);
      emb[i * dim + half + j] = std::cos(arg);
    }
  return from_vector(emb, {n, dim}).to(dtype).to(device);
}

TimestepEmbedding::TimestepEmbedding(int64_t ch, Generator& gen) : ch(ch) {
  dense0 = register_module("dense0", std::make_shared<Linear>(ch, 4 * ch, gen));
  dense1 = register_module("dense1", std::make_shared<Linear>(4 * ch, 4 * ch, gen));
}

Tensor TimestepEmbedding::forward(const Tensor& t) const {
  const Tensor& w = dense0->weight;
  Tensor emb = timestep_embedding(t, ch, w.dtype(), w.device());
  return dense1->forward(silu(dense0->forward(emb)));
}

Downsample::Downsample(int64_t channels, Generator& gen) {
  conv = register_module("conv", std::make_shared<Conv2d>(channels, channels, 3, 2, 1, gen));
}

Upsample::Upsample(int64_t channels, Generator& gen) {
  conv = register_module("conv", std::make_shared<Conv2d>(channels, channels, 3, 1, 1, gen));
}

Tensor Upsample::forward(const Tensor& x) const { return conv->forward(upsample_nearest2x(x)); }

AttentionBlock::AttentionBlock(int64_t channels, int64_t groups, Generator& gen) {
  norm = register_module("norm", std::make_shared<GroupNorm>(groups, channels));
  q = register_module("q", std::make_shared<Conv2d>(channels, channels, 1, 1, 0, gen));
  k = register_module("k", std::make_shared<Conv2d>(channels, channels, 1, 1, 0, gen));
  v = register_module("v", std::make_shared<Conv2d>(channels, channels, 1, 1, 0, gen));
  proj_out = register_module(
      "proj_out", std::make_shared<Conv2d>(channels, channels, 1, 1, 0, gen, kZeroInitScale));
}

Tensor AttentionBlock::forward(const Tensor& x) const {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor h = norm->forward(x);
  Tensor qs = reshape(q->forward(h), {N, C, H * W});  // (N, C, HW)
  Tensor ks = reshape(k->forward(h), {N, C, H * W});
  Tensor vs = reshape(v->forward(h), {N, C, H * W});
  Tensor scores = matmul(transpose(qs, 1, 2), ks) * (1.0 / std::sqrt(static_cast<double>(C)));
  Tensor weights = softmax(scores, -1);               // (N, HW query, HW key)
  Tensor out = matmul(vs, transpose(weights, 1, 2));  // (N, C, HW query)
  return add(x, proj_out->forward(reshape(out, {N, C, H, W})));
}

ResBlock::ResBlock(int64_t in_ch, int64_t out_ch, int64_t temb_ch, int64_t groups, double dropout,
                   Generator& gen, Generator* dropout_gen) {
  norm1 = register_module("norm1", std::make_shared<GroupNorm>(groups, in_ch));
  conv1 = register_module("conv1", std::make_shared<Conv2d>(in_ch, out_ch, 3, 1, 1, gen));
  temb_proj = register_module("temb_proj", std::make_shared<Linear>(temb_ch, out_ch, gen));
  norm2 = register_module("norm2", std::make_shared<GroupNorm>(groups, out_ch));
  drop = register_module("dropout", std::make_shared<Dropout>(dropout, dropout_gen));
  conv2 = register_module("conv2",
                          std::make_shared<Conv2d>(out_ch, out_ch, 3, 1, 1, gen, kZeroInitScale));
  if (in_ch != out_ch)
    nin_shortcut =
        register_module("nin_shortcut", std::make_shared<Conv2d>(in_ch, out_ch, 1, 1, 0, gen));
}

Tensor ResBlock::forward(const Tensor& x, const Tensor& temb) const {
  Tensor h = conv1->forward(silu(norm1->forward(x)));
  Tensor t = temb_proj->forward(silu(temb));  // (N, out)
  h = add(h, reshape(t, {t.size(0), t.size(1), 1, 1}));
  h = conv2->forward(drop->forward(silu(norm2->forward(h))));
  return add(nin_shortcut ? nin_shortcut->forward(x) : x, h);
}

}  // namespace nn

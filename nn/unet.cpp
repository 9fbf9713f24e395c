#include "nn/unet.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/init.h"

namespace nn {

using namespace ag;

namespace {

// The presets' layers; attention sits at a fixed fraction of the input, as
// the paper's 16x16 of 32x32: a quarter for tiny (7 at 28), half for the rest.
UNetConfig preset_layers(const std::string& name, int64_t resolution) {
  UNetConfig c;  // tiny: ch 32, (1,2,2), 1 block, 8 groups
  c.attn_resolutions = {resolution / 4};
  if (name == "tiny") return c;
  c.num_res_blocks = 2;
  c.attn_resolutions = {resolution / 2};
  if (name == "small") return c;
  c.num_groups = 32;
  c.ch = 64;
  if (name == "base") return c;
  c.ch = 128;
  if (name == "paper") return c;
  c.ch_mult = {1, 2, 2, 2};
  if (name == "cifar10") return c;
  throw std::runtime_error("unknown preset '" + name +
                           "' (choose tiny, small, base, paper or cifar10)");
}

}  // namespace

UNetConfig unet_preset(const std::string& name, int64_t in_ch, int64_t resolution) {
  UNetConfig c = preset_layers(name, resolution);
  c.in_ch = in_ch;
  c.resolution = resolution;
  check_unet_config(c);
  return c;
}

std::vector<std::string> unet_preset_names() {
  return {"tiny", "small", "base", "paper", "cifar10"};
}

void UNetLevel::add_res(int64_t j, std::shared_ptr<ResBlock> block) {
  res.push_back(register_module("res." + std::to_string(j), block));
  attn.push_back(nullptr);
}

void UNetLevel::add_attn(int64_t j, std::shared_ptr<AttentionBlock> block) {
  attn[j] = register_module("attn." + std::to_string(j), block);
}

void UNetLevel::set_downsample(std::shared_ptr<Downsample> block) {
  downsample = register_module("downsample", block);
}

void UNetLevel::set_upsample(std::shared_ptr<Upsample> block) {
  upsample = register_module("upsample", block);
}

namespace {

std::string format_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", v);
  return text;
}

void check_range(const char* field, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    throw std::runtime_error("UNet config: " + std::string(field) + " = " + format_number(value) +
                             " outside [" + format_number(lo) + ", " + format_number(hi) + "]");
}

// Names the sizes that would fit, for a user who chose the resolution (as
// with train_mnist's --resolution) rather than the number of levels.
std::string resolution_error(int64_t resolution, int64_t halvings) {
  const int64_t scale = int64_t{1} << halvings, below = resolution / scale * scale;
  const std::string fit =
      (below > 0 ? std::to_string(below) + " or " : std::string()) + std::to_string(below + scale);
  return "UNet config: resolution = " + std::to_string(resolution) +
         " is not a multiple of 2^(levels - 1) = " + std::to_string(scale) + ", so the " +
         std::to_string(halvings + 1) + " levels cannot halve it evenly; " + fit + " would fit";
}

// What the network's shapes need beyond the ranges: a config failing this
// was once built, and then failed in GroupNorm or at its first forward pass.
void check_fits(const UNetConfig& c) {
  // GroupNorm splits ch (the first block's input) and every level's
  // channels, so also their sums on the up path, into num_groups groups.
  std::vector<int64_t> channels{c.ch};
  for (int64_t m : c.ch_mult) channels.push_back(c.ch * m);
  for (int64_t n : channels)
    if (n % c.num_groups != 0)
      throw std::runtime_error("UNet config: num_groups = " + std::to_string(c.num_groups) +
                               " does not divide a level's " + std::to_string(n) + " channels");
  // Each level but the last halves the image and the up path doubles it
  // back, which meets the skip connection only if no halving is of an odd size.
  const int64_t halvings = static_cast<int64_t>(c.ch_mult.size()) - 1,
                scale = int64_t{1} << halvings;
  if (c.resolution % scale != 0) throw std::runtime_error(resolution_error(c.resolution, halvings));
}

}  // namespace

void check_unet_config(const UNetConfig& c) {
  check_range("in_ch", c.in_ch, 1, 64);
  // The timestep embedding's frequencies 10000^(-j / (ch / 2 - 1)) need
  // ch / 2 > 1: ch 2 or 3 divided by zero and gave a U-Net of NaN.
  check_range("ch", c.ch, 4, 1024);
  check_range("number of levels (ch_mult)", c.ch_mult.size(), 1, 8);
  for (int64_t m : c.ch_mult) {
    check_range("ch_mult entry", m, 1, 16);
    check_range("channels of a level (ch * ch_mult entry)", c.ch * m, 1, 1024);
  }
  check_range("num_res_blocks", c.num_res_blocks, 1, 4);
  check_range("number of attn_resolutions", c.attn_resolutions.size(), 0, 8);
  check_range("dropout", c.dropout, 0, 0.999);
  check_range("num_groups", c.num_groups, 1, 1024);
  check_range("resolution", c.resolution, 1, 1024);
  check_range("num_classes", c.num_classes, 0, 100000);
  check_fits(c);
}

UNet::UNet(const UNetConfig& c, uint64_t seed) : config(c), dropout_rng(seed + kDropoutStream) {
  check_unet_config(c);
  Generator gen(seed);
  const int64_t temb_ch = 4 * c.ch, levels = static_cast<int64_t>(c.ch_mult.size());
  auto has_attn = [&](int64_t res) {
    return std::find(c.attn_resolutions.begin(), c.attn_resolutions.end(), res) !=
           c.attn_resolutions.end();
  };
  auto res_block = [&](int64_t in, int64_t out) {
    return std::make_shared<ResBlock>(in, out, temb_ch, c.num_groups, c.dropout, gen, &dropout_rng);
  };
  temb_ = register_module("temb", std::make_shared<TimestepEmbedding>(c.ch, gen));
  conv_in_ = register_module("conv_in", std::make_shared<Conv2d>(c.in_ch, c.ch, 3, 1, 1, gen));

  // Down path: remember every output's channels; the up path consumes them.
  std::vector<int64_t> skip_ch{c.ch};
  int64_t cur = c.ch, res = c.resolution;
  for (int64_t i = 0; i < levels; ++i) {
    auto level = register_module("down." + std::to_string(i), std::make_shared<UNetLevel>());
    for (int64_t j = 0; j < c.num_res_blocks; ++j) {
      level->add_res(j, res_block(cur, c.ch * c.ch_mult[i]));
      cur = c.ch * c.ch_mult[i];
      if (has_attn(res))
        level->add_attn(j, std::make_shared<AttentionBlock>(cur, c.num_groups, gen));
      skip_ch.push_back(cur);
    }
    if (i != levels - 1) {
      level->set_downsample(std::make_shared<Downsample>(cur, gen));
      skip_ch.push_back(cur);
      res = (res + 1) / 2;
    }
    down_.push_back(level);
  }
  mid_res1_ = register_module("mid.res1", res_block(cur, cur));
  mid_attn_ = register_module("mid.attn", std::make_shared<AttentionBlock>(cur, c.num_groups, gen));
  mid_res2_ = register_module("mid.res2", res_block(cur, cur));

  // Up path, deepest level first; each block eats one skip connection.
  up_.resize(levels);
  for (int64_t i = levels - 1; i >= 0; --i) {
    auto level = register_module("up." + std::to_string(i), std::make_shared<UNetLevel>());
    for (int64_t j = 0; j <= c.num_res_blocks; ++j) {
      level->add_res(j, res_block(cur + skip_ch.back(), c.ch * c.ch_mult[i]));
      skip_ch.pop_back();
      cur = c.ch * c.ch_mult[i];
      if (has_attn(res))
        level->add_attn(j, std::make_shared<AttentionBlock>(cur, c.num_groups, gen));
    }
    if (i != 0) {
      level->set_upsample(std::make_shared<Upsample>(cur, gen));
      res *= 2;
    }
    up_[i] = level;
  }
  norm_out_ = register_module("norm_out", std::make_shared<GroupNorm>(c.num_groups, cur));
  conv_out_ = register_module(
      "conv_out", std::make_shared<Conv2d>(cur, c.out_ch(), 3, 1, 1, gen, kZeroInitScale));
  // Drawn last, so that the other weights are an unconditional model's of the same seed.
  if (c.num_classes > 0)
    label_emb_ =
        register_module("label_emb", std::make_shared<Embedding>(c.num_classes + 1, temb_ch, gen));
}

Tensor UNet::embedding(const Tensor& t, const Tensor& y, int64_t n) const {
  Tensor temb = temb_->forward(t);
  if (!label_emb_) {
    if (y.defined()) throw std::runtime_error("UNet: labels given to an unconditional model");
    return temb;
  }
  if (!y.defined())
    return temb + label_emb_->forward(
                      from_vector(std::vector<int32_t>(static_cast<size_t>(n),
                                                       static_cast<int32_t>(config.null_label())),
                                  {n}));
  if (y.dim() != 1 || y.size(0) != n || y.dtype() != DType::I32)
    throw std::runtime_error("UNet: expected one int32 label per image, got " +
                             shape_str(y.shape()) + " for " + std::to_string(n) + " images");
  for (int32_t label : y.to(Device::CPU).to_vector<int32_t>())
    if (label < 0 || label > config.num_classes)
      throw std::runtime_error("UNet: label " + std::to_string(label) + " outside [0, " +
                               std::to_string(config.num_classes) + "] (" +
                               std::to_string(config.num_classes) + ": no label)");
  return temb + label_emb_->forward(y);
}

void UNet::level_down(int64_t i, std::vector<Tensor>& hs, const Tensor& temb) const {
  const UNetLevel& level = *down_[i];
  for (size_t j = 0; j < level.res.size(); ++j) {
    Tensor h = level.res[j]->forward(hs.back(), temb);
    if (level.attn[j]) h = level.attn[j]->forward(h);
    hs.push_back(h);
  }
  if (level.downsample) hs.push_back(level.downsample->forward(hs.back()));
}

Tensor UNet::level_up(int64_t i, Tensor h, std::vector<Tensor>& hs, const Tensor& temb) const {
  const UNetLevel& level = *up_[i];
  for (size_t j = 0; j < level.res.size(); ++j) {
    h = level.res[j]->forward(concat({h, hs.back()}, 1), temb);
    hs.pop_back();
    if (level.attn[j]) h = level.attn[j]->forward(h);
  }
  return level.upsample ? level.upsample->forward(h) : h;
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const Tensor& y) const {
  if (x.dim() != 4 || x.size(1) != config.in_ch || x.size(2) != config.resolution ||
      x.size(3) != config.resolution)
    throw std::runtime_error("UNet: expected input (N, " + std::to_string(config.in_ch) + ", " +
                             std::to_string(config.resolution) + ", " +
                             std::to_string(config.resolution) + "), got " + shape_str(x.shape()));
  if (t.dim() != 1 || t.size(0) != x.size(0))
    throw std::runtime_error("UNet: expected one timestep per image, got t of shape " +
                             shape_str(t.shape()) + " for " + std::to_string(x.size(0)) +
                             " images");
  const Tensor temb = embedding(t, y, x.size(0));
  std::vector<Tensor> hs{conv_in_->forward(x)};
  for (size_t i = 0; i < down_.size(); ++i) level_down(static_cast<int64_t>(i), hs, temb);
  Tensor h = mid_res2_->forward(mid_attn_->forward(mid_res1_->forward(hs.back(), temb)), temb);
  for (int64_t i = static_cast<int64_t>(up_.size()) - 1; i >= 0; --i) h = level_up(i, h, hs, temb);
  return conv_out_->forward(silu(norm_out_->forward(h)));
}

}  // namespace nn

// The DDPM denoiser: a U-Net over images, conditioned on the timestep
// (Ho et al. 2020, Appendix B; official models/unet.py). Picture and shapes
// in docs/unet.md.
#pragma once
#include <string>
#include <vector>

#include "nn/blocks.h"

namespace nn {

struct UNetConfig {
  int64_t in_ch = 1;                         // image channels, also the output's
  int64_t ch = 32;                           // base channel count
  std::vector<int64_t> ch_mult{1, 2, 2};     // channels per level = ch * ch_mult[level]
  int64_t num_res_blocks = 1;                // ResBlocks per level on the way down
  std::vector<int64_t> attn_resolutions{7};  // add attention at these H (= W)
  double dropout = 0.1;
  int64_t num_groups = 8;   // GroupNorm groups
  int64_t resolution = 28;  // input H (= W)
  // Also output a variance interpolation v per pixel: 2 in_ch output channels
  // (improved-diffusion's learn_sigma; diffusion's ModelVarType::Learned).
  bool learn_sigma = false;
  int64_t out_ch() const { return learn_sigma ? 2 * in_ch : in_ch; }
  // Class-conditional (improved-diffusion's label_emb): a learned embedding
  // of num_classes + 1 labels, the last (null_label()) meaning "no label",
  // added to the timestep embedding. 0: unconditional.
  int64_t num_classes = 0;
  int64_t null_label() const { return num_classes; }
};

// Throws "UNet config: <field> = <value> outside [lo, hi]" for a field out of
// range, and a one-line "UNet config: ..." error for a config the network's
// shapes do not fit (num_groups must divide ch and every level's channels,
// resolution must divide by 2^(levels - 1)); the UNet constructor calls this
// first. The ranges hold every DDPM and improved-diffusion config (levels of
// up to 1024 channels, up to 4 ResBlocks) and refuse absurd ones from a
// corrupt checkpoint, such as 10^9 ResBlocks, which would build for minutes
// and then die. A config near every limit is still a network of billions of
// parameters.
void check_unet_config(const UNetConfig& config);

// The named presets (the table in docs/unet.md) for images of in_ch x
// resolution x resolution, attention resolutions scaled with the image:
// tiny, small, base and paper were made for MNIST (their defaults, 1x28x28),
// cifar10 is the paper's CIFAR-10 model (made for 3x32x32). A resolution the
// levels cannot halve evenly throws the error of check_unet_config.
UNetConfig unet_preset(const std::string& name, int64_t in_ch = 1, int64_t resolution = 28);
std::vector<std::string> unet_preset_names();

// One level of the down or up path: ResBlocks, an AttentionBlock after
// those at an attention resolution, and the resampler to the next level.
class UNetLevel : public Module {
 public:
  std::vector<std::shared_ptr<ResBlock>> res;
  std::vector<std::shared_ptr<AttentionBlock>> attn;  // null where there is none
  std::shared_ptr<Downsample> downsample;             // down path, all but the last level
  std::shared_ptr<Upsample> upsample;                 // up path, all but level 0

  void add_res(int64_t j, std::shared_ptr<ResBlock> block);
  void add_attn(int64_t j, std::shared_ptr<AttentionBlock> block);
  void set_downsample(std::shared_ptr<Downsample> block);
  void set_upsample(std::shared_ptr<Upsample> block);
};

// The model's random streams: its initial weights come from `seed`, its
// dropout masks from seed + kDropoutStream (apps/common/streams.h lists the
// programs' other streams beside these).
constexpr uint64_t kDropoutStream = 1;

class UNet : public Module {
 public:
  explicit UNet(const UNetConfig& config, uint64_t seed = 0);
  // x (N, in_ch, H, W) at timesteps t (N) -> (N, out_ch(), H, W), e.g. the
  // predicted noise (followed by v with learn_sigma). A class-conditional
  // model also takes labels y (N) int32 in [0, num_classes], num_classes
  // meaning "no label"; without y it runs unconditionally (the null label for
  // every image). Labels for an unconditional model are an error.
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& y = Tensor()) const;

  const UNetConfig config;
  ag::Generator dropout_rng;  // dropout masks; part of a training checkpoint

 private:
  void level_down(int64_t i, std::vector<Tensor>& hs, const Tensor& temb) const;
  Tensor level_up(int64_t i, Tensor h, std::vector<Tensor>& hs, const Tensor& temb) const;

  Tensor embedding(const Tensor& t, const Tensor& y, int64_t n) const;

  std::shared_ptr<TimestepEmbedding> temb_;
  std::shared_ptr<Embedding> label_emb_;  // class-conditional models only
  std::shared_ptr<Conv2d> conv_in_, conv_out_;
  std::vector<std::shared_ptr<UNetLevel>> down_, up_;
  std::shared_ptr<ResBlock> mid_res1_, mid_res2_;
  std::shared_ptr<AttentionBlock> mid_attn_;
  std::shared_ptr<GroupNorm> norm_out_;
};

}  // namespace nn

// A trained DDPM as the programs use it: the U-Net of a checkpoint written by
// train_mnist (or a bare weights file with a config) and the diffusion
// settings it was trained with.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "diffusion/diffusion.h"
#include "io/safetensors.h"
#include "nn/unet.h"

namespace apps {

struct TrainedModel {
  std::unique_ptr<nn::UNet> model;  // eval mode
  std::unique_ptr<diffusion::GaussianDiffusion> diffusion;
  std::string step;     // training step of the checkpoint, "?" for a bare weights file
  std::string weights;  // "ema", "model" or "saved"
  std::string dataset;  // train_mnist's --data ("mnist", "fashion", ...), empty if not recorded
};

// Loads `ckpt`; from a training checkpoint the `weights` group ("ema" or
// "model"). The diffusion settings come from the checkpoint's metadata, or
// the paper's defaults (linear, T = 1000, eps, large) where a file has none;
// a non-empty `var` ("large" or "small") overrides the reverse-process
// variance, which L_simple training leaves free to choose at sampling time
// (refused for a model that learned its variances).
// The model and the diffusion's constants live on `device`.
TrainedModel load_trained_model(const std::string& ckpt, const std::string& weights,
                                const std::string& var = "", ag::Device device = ag::Device::CPU);

// Whether a checkpoint's linear schedule has betas scaled by 1000 / T: its
// metadata "linear_betas" ("scaled" or "unscaled"), unscaled where a file has
// none (written before the rule; at T = 1000 the two agree).
constexpr const char* kLinearBetasKey = "linear_betas";
bool linear_betas_scaled(const io::Metadata& md, const std::string& ckpt);

// The --var flag of the programs that sample from a checkpoint: the `var`
// argument of load_trained_model, empty for the checkpoint's own.
void add_var_flag(CLI::App& app, std::string& var);

}  // namespace apps

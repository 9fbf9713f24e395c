// Checkpoints: a module's weights alone, or a training run's whole state.
// Training checkpoints hold everything needed to continue a run exactly, in one
// safetensors file (format: docs/checkpoints.md). Tensor groups by prefix:
//   model.<name>               the weights
//   ema.<name>                 their exponential moving average
//   adam.m.<name>, adam.v.<name>  Adam's first and second moments
// and metadata: "config" (the UNetConfig as JSON), "step", "adam_step",
// "ema_updates", and "rng.<name>" = "<seed> <offset>" for each generator
// (the model's dropout generator is always saved as rng.dropout).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/unet.h"

namespace nn {

std::string unet_config_to_json(const UNetConfig& c);
// Throws "<what>: ..." on malformed JSON or missing fields.
UNetConfig unet_config_from_json(const std::string& json, const std::string& what);

struct TrainingState {
  UNet& model;
  Adam& optimizer;
  EMA& ema;
  std::vector<std::pair<std::string, ag::Generator*>> generators;  // e.g. {"data", &gen}
  int64_t step = 0;
  io::Metadata extra;  // saved as given; filled from the file on load
};

// Refuses (throws, writing nothing) a state holding a value that is not finite.
void save_training_checkpoint(const std::string& path, const TrainingState& state);
// Throws a one-line error naming `path` and the key or tensor unless `file`
// is a whole training checkpoint of `model`: the config equals the model's,
// step, adam_step and ema_updates are counts, every rng.<name> is
// "<seed> <offset>" (rng.dropout present), and the tensors are exactly the
// model., ema., adam.m. and adam.v. groups of the model's parameter names,
// shapes and dtypes. Other metadata keys are free-form and not checked.
void check_training_checkpoint(const io::SafetensorsFile& file, const std::string& path,
                               const UNet& model);
// Restores every part of `state` from `path`, which must pass
// check_training_checkpoint and hold rng.<name> for each of state's
// generators. Nothing is modified unless the whole file validates.
void load_training_checkpoint(const std::string& path, TrainingState& state);

// The model config stored in a checkpoint, to build a matching UNet.
UNetConfig checkpoint_config(const std::string& path);

// The parameters of `m` by their module paths (e.g. "down.1.res.0.conv1.weight").
void save_module(const std::string& path, const Module& m, const io::Metadata& metadata = {});
void load_module(const std::string& path, Module& m);

}  // namespace nn

// A training run's settings as its checkpoint keeps them, so that
// `train_mnist --resume CKPT` alone continues the very run that wrote CKPT.
//
// Each setting is stored as checkpoint metadata under its key, as text that
// reads back to the same value bit for bit. Two kinds:
//   - fixed settings (--lr, --batch, --preset, --seed, ...) decide the
//     result: on --resume they come from the checkpoint, and giving one with
//     another value is an error naming the flag and both values;
//   - budget settings (--steps, --minutes, --ckpt-every, --sample-every,
//     --device, --threads) say how long and where to go on: they come from
//     the checkpoint unless given again (the thread count too, since sums
//     split over threads round differently: docs/reliability.md).
// --out is not stored: a resumed run writes beside its checkpoint unless
// --out says otherwise.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "apps/common/training.h"
#include "io/safetensors.h"

namespace apps {

// A double as the shortest text that reads back to exactly it, and back;
// parse_exact throws "<what> is not a number: '<text>'".
std::string exact_text(double v);
double parse_exact(const std::string& text, const std::string& what);

struct RunSetting {
  std::string flag;  // "--lr"
  std::string key;   // its metadata key, "lr"
  bool budget;       // may be given again with another value on --resume
  std::function<std::string(const TrainOptions&)> get;
  // Throws std::invalid_argument when `text` is not a value of the setting.
  std::function<void(TrainOptions&, const std::string&)> set;
};

// Every setting of TrainOptions that a checkpoint keeps.
const std::vector<RunSetting>& run_settings();

// The settings of `o` as metadata, key -> text, with "linear_betas" =
// "scaled" (or "unscaled", o.scale_linear).
io::Metadata settings_metadata(const TrainOptions& o);

// For --resume: sets `o`'s settings (and scale_linear) to those stored in
// `md` (the metadata of checkpoint `ckpt`). given(flag) says whether the command line (or --config)
// gave that flag; a fixed setting given with another value than the stored
// one throws "<flag> <given> conflicts with <ckpt>, trained with <flag>
// <stored> ...". Returns the flags the checkpoint did not store (checkpoints
// written before settings were stored), which keep the command line's value.
std::vector<std::string> restore_settings(TrainOptions& o, const io::Metadata& md,
                                          const std::function<bool(const std::string&)>& given,
                                          const std::string& ckpt);

}  // namespace apps

// Exponential moving average of a model's parameters, the weights DDPM
// samples with (decay 0.9999 in Ho et al. 2020):
//   shadow = decay_t * shadow + (1 - decay_t) * param,
//   decay_t = min(decay, (1 + n) / (10 + n)) with warm-up, else decay,
// n being the number of updates before this one. The warm-up (as in
// tf.train.ExponentialMovingAverage with num_updates) lets short runs move
// the average away from the initial weights. Shadows start as copies of the
// parameters and live on the parameters' device.
#pragma once
#include <cstdint>

#include "nn/module.h"

namespace nn {

class EMA {
 public:
  EMA(const NamedTensors& params, double decay, bool warmup = true);

  // params must carry the same names (any order), shapes and dtypes.
  void update(const NamedTensors& params);
  // The decay the next update() will use.
  double current_decay() const;

  // Copies of the averaged weights, with the parameters' names.
  NamedTensors shadow() const;
  // Restores averaged weights saved by shadow() (names must match).
  void load_shadow(const NamedTensors& shadow);
  // Writes the averaged weights into params, e.g. a model about to sample.
  void copy_to(const NamedTensors& params) const;

  int64_t num_updates() const { return num_updates_; }
  void set_num_updates(int64_t n);
  double decay() const { return decay_; }
  bool warmup() const { return warmup_; }

 private:
  NamedTensors shadow_;
  double decay_;
  bool warmup_;
  int64_t num_updates_ = 0;
};

}  // namespace nn

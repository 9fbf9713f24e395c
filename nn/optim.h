// Optimizers for DDPM training (Ho et al. 2020): Adam / AdamW as in
// torch.optim, global-norm gradient clipping as torch.nn.utils.clip_grad_norm_,
// and the linear learning-rate warm-up of the official code. The paper's run
// uses Adam with lr 2e-4, clip 1.0 and 5000 warm-up steps. Every update goes
// through autograd's fused in-place ops (autograd/fused.h), which run outside
// the tape and bump the version of each tensor they write.
#pragma once
#include <cstdint>
#include <vector>

#include "nn/module.h"

namespace nn {

struct AdamConfig {
  double lr = 2e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // AdamW: decay the parameter instead of adding to the gradient
};

// Adam (Kingma & Ba), step t = 1, 2, ...:
//   g = grad (+ weight_decay * param unless decoupled)
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// and with decoupled weight decay first param *= 1 - lr * weight_decay.
// One step count serves every parameter; a parameter without a gradient is
// skipped (its moments keep their values), but its next bias correction uses
// the shared count, where PyTorch would count its own steps.
class Adam {
 public:
  Adam(std::vector<Tensor> params, AdamConfig config = {});
  virtual ~Adam() = default;

  // One update with learning rate lr (a schedule's value, e.g. warmup_lr).
  void step(double lr);
  void step() { step(config_.lr); }
  // Drops every parameter's accumulated gradient.
  void zero_grad();

  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t n);
  const AdamConfig& config() const { return config_; }
  const std::vector<Tensor>& params() const { return params_; }
  // The first and second moments, in parameter order. Restore them in place
  // (copy_ under NoGradGuard) or with load_state.
  const std::vector<Tensor>& exp_avg() const { return m_; }
  const std::vector<Tensor>& exp_avg_sq() const { return v_; }

  // Copies of the moments named "m.<name>" and "v.<name>" for checkpoints;
  // named_params are this optimizer's parameters, in any order.
  NamedTensors state(const NamedTensors& named_params) const;
  // Loads moments saved by state(); the step count is restored separately.
  void load_state(const NamedTensors& named_params, const NamedTensors& state);

 private:
  size_t index_of(const Tensor& param) const;
  std::vector<Tensor> params_, m_, v_;
  AdamConfig config_;
  int64_t step_count_ = 0;
};

// Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW.
// config.weight_decay is used as given (PyTorch's AdamW defaults it to 1e-2).
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamConfig config = {});
};

// Scales every gradient by max_norm / (norm + 1e-6) when that factor is below
// 1, norm being the L2 norm of all gradients together (computed in double), as
// torch.nn.utils.clip_grad_norm_. Parameters without a gradient are skipped.
// Returns the norm before clipping.
// A norm that is not finite leaves the gradients as they are (the caller
// decides what to do with such a step; apps/common/training skips it).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
// The same norm, ||g||_2 over every gradient, without clipping.
double grad_norm(const std::vector<Tensor>& params);

// Linear warm-up: base_lr * min(1, step / warmup_steps), base_lr when
// warmup_steps <= 0. As in the official DDPM code (get_warmed_up_lr), step is
// the global step; here it counts from 1 for the first update, i.e. pass
// Adam::step_count() + 1 before calling step(). (The TensorFlow code reads
// the global step before apply_gradients increments it, so its first update
// has lr 0; this convention is the same ramp one update earlier.)
double warmup_lr(double base_lr, int64_t step, int64_t warmup_steps);

// state converted to param's device and dtype (state itself if they match),
// so optimizer state follows a model moved with Module::to.
Tensor follow_param(const Tensor& state, const Tensor& param);

}  // namespace nn

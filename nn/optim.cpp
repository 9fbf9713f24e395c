#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "autograd/fused.h"

namespace nn {

using ag::Device;
using ag::DType;

namespace {

// The gradient of p, made contiguous in place if it is a strided view.
Tensor contiguous_grad(const Tensor& p) {
  Tensor dp = p.grad();
  if (dp.defined() && !dp.is_contiguous()) {
    dp = dp.contiguous();
    p.set_grad(dp);
  }
  return dp;
}

void check_param(const Tensor& p) {
  if (!p.defined() || !is_floating(p.dtype()) || !p.is_contiguous())
    throw std::runtime_error("optimizer: parameters must be contiguous floating-point tensors");
}

// The one tensor named `name` in `tensors`, or a clear error.
const Tensor& find_named(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw std::runtime_error("optimizer state: no tensor named '" + name + "'");
}

AdamConfig decoupled(AdamConfig config) {
  config.decoupled = true;
  return config;
}

}  // namespace

Tensor follow_param(const Tensor& state, const Tensor& param) {
  return state.to(param.device()).to(param.dtype());
}

Adam::Adam(std::vector<Tensor> params, AdamConfig config)
    : params_(std::move(params)), config_(config) {
  for (const Tensor& p : params_) {
    check_param(p);
    m_.push_back(ag::zeros_like(p));
    v_.push_back(ag::zeros_like(p));
  }
}

void Adam::step(double lr) {
  ag::NoGradGuard no_grad;
  ++step_count_;
  const double t = static_cast<double>(step_count_);
  ag::AdamStepArgs a;
  a.lr = lr;
  a.beta1 = config_.beta1;
  a.beta2 = config_.beta2;
  a.eps = config_.eps;
  a.weight_decay = config_.weight_decay;
  a.decoupled = config_.decoupled;
  a.bias_correction1 = 1.0 - std::pow(config_.beta1, t);  // 1 - beta1^t
  a.bias_correction2 = 1.0 - std::pow(config_.beta2, t);  // 1 - beta2^t
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    Tensor dp = contiguous_grad(p);
    if (!dp.defined()) continue;
    m_[i] = follow_param(m_[i], p);
    v_[i] = follow_param(v_[i], p);
    ag::fused::adam_step(p, dp, m_[i], v_[i], a);
  }
}

void Adam::zero_grad() {
  for (const Tensor& p : params_) p.zero_grad();
}

void Adam::set_step_count(int64_t n) {
  if (n < 0) throw std::runtime_error("Adam: negative step count " + std::to_string(n));
  step_count_ = n;
}

size_t Adam::index_of(const Tensor& param) const {
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].same(param)) return i;
  throw std::runtime_error("Adam: a named tensor is not one of this optimizer's parameters");
}

NamedTensors Adam::state(const NamedTensors& named_params) const {
  ag::NoGradGuard no_grad;
  NamedTensors out;
  for (const auto& [name, p] : named_params) out.emplace_back("m." + name, m_[index_of(p)].clone());
  for (const auto& [name, p] : named_params) out.emplace_back("v." + name, v_[index_of(p)].clone());
  return out;
}

void Adam::load_state(const NamedTensors& named_params, const NamedTensors& state) {
  ag::NoGradGuard no_grad;
  for (const auto& [name, p] : named_params) {
    const size_t i = index_of(p);
    m_[i] = follow_param(m_[i], p);
    v_[i] = follow_param(v_[i], p);
    m_[i].copy_(find_named(state, "m." + name));
    v_[i].copy_(find_named(state, "v." + name));
  }
}

AdamW::AdamW(std::vector<Tensor> params, AdamConfig config)
    : Adam(std::move(params), decoupled(config)) {}

namespace {

// ||g||_2 over the parameters' gradients, and those gradients (contiguous).
std::pair<double, std::vector<Tensor>> gradients_and_norm(const std::vector<Tensor>& params) {
  ag::NoGradGuard no_grad;
  std::vector<Tensor> grads;
  std::map<Device, Tensor> sum_sq;  // one float64 accumulator per device
  for (const Tensor& p : params) {
    Tensor dp = contiguous_grad(p);
    if (!dp.defined()) continue;
    Tensor& acc = sum_sq[dp.device()];
    if (!acc.defined()) acc = ag::zeros({1}, DType::F64, dp.device());
    ag::fused::add_sum_squares(dp, acc);
    grads.push_back(dp);
  }
  double total = 0.0;
  for (const auto& [device, acc] : sum_sq) total += acc.item();
  return {std::sqrt(total), grads};
}

}  // namespace

double grad_norm(const std::vector<Tensor>& params) { return gradients_and_norm(params).first; }

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  const auto [norm, grads] = gradients_and_norm(params);
  const double coef = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && coef < 1.0) {
    ag::NoGradGuard no_grad;
    for (const Tensor& dp : grads) ag::fused::scale_(dp, coef);
  }
  return norm;
}

double warmup_lr(double base_lr, int64_t step, int64_t warmup_steps) {
  if (warmup_steps <= 0) return base_lr;
  if (step < 0) throw std::runtime_error("warmup_lr: negative step " + std::to_string(step));
  return base_lr * std::min(1.0, static_cast<double>(step) / static_cast<double>(warmup_steps));
}

}  // namespace nn

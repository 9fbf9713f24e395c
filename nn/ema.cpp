#include "nn/ema.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/fused.h"
#include "nn/optim.h"

namespace nn {

namespace {

// The averaged tensor named `name` (const or not, as `shadow` is).
template <class Shadow>
auto& find_shadow(Shadow& shadow, const std::string& name) {
  for (auto& entry : shadow)
    if (entry.first == name) return entry.second;
  throw std::runtime_error("EMA: no averaged parameter named '" + name + "'");
}

}  // namespace

EMA::EMA(const NamedTensors& params, double decay, bool warmup) : decay_(decay), warmup_(warmup) {
  if (!(decay >= 0.0 && decay <= 1.0))
    throw std::runtime_error("EMA: decay must lie in [0, 1], got " + std::to_string(decay));
  ag::NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    if (!p.is_contiguous()) throw std::runtime_error("EMA: parameter '" + name + "' is strided");
    shadow_.emplace_back(name, p.clone());
  }
}

double EMA::current_decay() const {
  if (!warmup_) return decay_;
  const double n = static_cast<double>(num_updates_);
  return std::min(decay_, (1.0 + n) / (10.0 + n));
}

void EMA::update(const NamedTensors& params) {
  if (params.size() != shadow_.size())
    throw std::runtime_error("EMA::update: " + std::to_string(params.size()) +
                             " parameters, the average has " + std::to_string(shadow_.size()));
  ag::NoGradGuard no_grad;
  const double d = current_decay();
  for (const auto& [name, p] : params) {
    Tensor& s = find_shadow(shadow_, name);
    s = follow_param(s, p);
    try {
      ag::fused::ema_update(s, p, d);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("EMA::update parameter '" + name + "': " + e.what());
    }
  }
  ++num_updates_;
}

NamedTensors EMA::shadow() const {
  ag::NoGradGuard no_grad;
  NamedTensors out;
  for (const auto& [name, s] : shadow_) out.emplace_back(name, s.clone());
  return out;
}

void EMA::load_shadow(const NamedTensors& shadow) {
  ag::NoGradGuard no_grad;
  for (const auto& [name, t] : shadow) find_shadow(shadow_, name).copy_(t);
}

void EMA::copy_to(const NamedTensors& params) const {
  ag::NoGradGuard no_grad;
  for (const auto& [name, p] : params) p.copy_(find_shadow(shadow_, name));
}

void EMA::set_num_updates(int64_t n) {
  if (n < 0) throw std::runtime_error("EMA: negative update count " + std::to_string(n));
  num_updates_ = n;
}

}  // namespace nn

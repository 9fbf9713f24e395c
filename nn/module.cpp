#include "nn/module.h"

namespace nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

namespace {

// Points the parameter's TensorImpl at `replacement`'s storage, so every
// handle to the parameter sees the new memory.
void replace_storage(const Tensor& param, const Tensor& replacement) {
  ag::TensorImpl* impl = param.impl();
  impl->storage = replacement.storage();
  impl->offset = replacement.offset();
  impl->strides = replacement.strides();
  impl->dtype = replacement.dtype();
  impl->grad.reset();
}

}  // namespace

void Module::to(ag::Device device) {
  for (const Tensor& t : parameters())
    if (t.device() != device) replace_storage(t, t.detach().to(device));
}

void Module::to(ag::DType dtype) {
  for (const Tensor& t : parameters())
    if (t.dtype() != dtype) replace_storage(t, t.detach().to(dtype));
}

}  // namespace nn

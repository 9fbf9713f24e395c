// Module: the base of every layer. It owns named parameters (leaf tensors
// that require grad) and named child modules, so that a whole model's
// parameters can be listed with hierarchical names such as
// "down.1.res.0.conv1.weight", the names checkpoints use. Forward functions
// are ordinary member functions with whatever arguments a layer needs.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"

namespace nn {

using ag::Tensor;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its descendants, depth first in
  // registration order, named by path.
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;

  // Training mode turns dropout on; eval mode turns it off. Recursive.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter's storage to `device` in place, so the handles
  // held by layers (and optimizers) stay valid.
  void to(ag::Device device);
  // Converts every parameter to `dtype` in place (float64 for gradient checks).
  void to(ag::DType dtype);

 protected:
  // Registers t as a parameter (it becomes a leaf that requires grad).
  Tensor register_parameter(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, NamedTensors& out) const;
  NamedTensors params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace nn

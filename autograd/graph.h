// The tape. Every differentiable op that runs with grad enabled on an input
// that requires grad records a Node: one Edge per input (to the Node that
// produced it, or to the leaf whose .grad collects it) and a backward closure
// holding whatever the op saved. backward() walks the Nodes in reverse
// topological order, calls each closure once, and then releases it.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace ag {

// Grad mode is per thread, on by default.
struct GradMode {
  static bool enabled();
  static void set(bool enabled);
};

// Within its scope no op records a Node (optimizer steps, init, sampling).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set(false); }
  ~NoGradGuard() { GradMode::set(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// A tensor kept for backward: a history-free alias of its storage plus the
// storage version at save time. get() throws if the storage was written in
// place since, because the gradient would silently be wrong.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  const Tensor& get() const;

 private:
  Tensor t_;
  uint64_t version_ = 0;
};

struct Edge {
  std::shared_ptr<Node> fn;          // the producer of a non-leaf input, or
  std::shared_ptr<TensorImpl> leaf;  // a leaf that requires grad, or neither
};

// Returns one gradient per input, in order; undefined where need[i] is false.
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& dy, const std::vector<bool>& need)>;

// What a gradient for an input must look like.
struct InputMeta {
  Shape shape;
  DType dtype = DType::F32;
  Device device = Device::CPU;
};

struct Node {
  std::string name;
  std::vector<Edge> next;
  std::vector<bool> need;  // does input i want a gradient
  std::vector<InputMeta> inputs;
  BackwardFn backward;
  bool released = false;
  void release();
};

// True if grad mode is on and any of the inputs requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Makes `y` the output of a new Node named `name`. Call only if needs_grad().
Tensor record(const char* name, const Tensor& y, const std::vector<Tensor>& inputs,
              BackwardFn backward);

void run_backward(const Tensor& root, const Tensor& grad_output);

// Throws "<what>: ..." unless g has t's shape, dtype and device.
void check_matches(const Tensor& g, const Tensor& t, const std::string& what);
// "float32 [2, 3] on cpu": a tensor's layout, for error messages.
std::string describe(const Shape& shape, DType dtype, Device device);

}  // namespace ag

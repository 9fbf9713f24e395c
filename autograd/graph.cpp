#include "autograd/graph.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "autograd/ops.h"

namespace ag {

namespace {
thread_local bool g_grad_enabled = true;
}

bool GradMode::enabled() { return g_grad_enabled; }
void GradMode::set(bool enabled) { g_grad_enabled = enabled; }

SavedTensor::SavedTensor(const Tensor& t) : t_(t.detach()), version_(t.version()) {}

const Tensor& SavedTensor::get() const {
  if (t_.defined() && t_.version() != version_)
    throw std::runtime_error("a tensor saved for backward was modified in place (version " +
                             std::to_string(version_) + " -> " + std::to_string(t_.version()) +
                             "); modify a clone() instead");
  return t_;
}

void Node::release() {
  backward = nullptr;  // frees the saved tensors the closure holds
  next.clear();
  released = true;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  return needs_grad(std::vector<Tensor>(inputs));
}

Tensor record(const char* name, const Tensor& y, const std::vector<Tensor>& inputs,
              BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : inputs) {
    Edge e;
    bool need = t.defined() && t.requires_grad();
    if (need && t.is_leaf())
      e.leaf = t.impl_ptr();
    else if (need)
      e.fn = t.grad_fn();
    node->next.push_back(std::move(e));
    node->need.push_back(need);
    node->inputs.push_back(t.defined() ? InputMeta{t.shape(), t.dtype(), t.device()} : InputMeta{});
  }
  node->backward = std::move(backward);
  y.impl()->requires_grad = true;
  y.impl()->grad_fn = std::move(node);
  return y;
}

namespace {

// Nodes reachable from root, each after every Node that consumes its output
// (reverse post-order of an iterative depth-first search: no recursion, and
// the same order every time for the same graph).
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post;
  std::unordered_set<Node*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, i] = stack.back();
    if (i < node->next.size()) {
      const std::shared_ptr<Node>& child = node->next[i++].fn;
      if (child && seen.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      post.push_back(node);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

void accumulate_leaf(TensorImpl* leaf, const Tensor& g) {
  if (leaf->grad) check_matches(g, Tensor(leaf->grad), "accumulating into .grad");
  if (!leaf->grad) {
    leaf->grad = g.clone().impl_ptr();  // owned, so later accumulation may write in place
  } else {
    Tensor acc(leaf->grad);
    backend(acc.device()).binary(BinaryOp::Add, acc.ref(), g.contiguous().ref(), acc.ref());
    acc.bump_version();
  }
}

void check_grad(const Node& node, size_t i, const Tensor& g) {
  const InputMeta& in = node.inputs[i];
  if (g.shape() != in.shape || g.dtype() != in.dtype || g.device() != in.device)
    throw std::runtime_error("backward of '" + node.name + "' returned a " +
                             describe(g.shape(), g.dtype(), g.device()) + " gradient for input " +
                             std::to_string(i) + ", a " + describe(in.shape, in.dtype, in.device));
}

}  // namespace

std::string describe(const Shape& shape, DType dtype, Device device) {
  return std::string(dtype_name(dtype)) + " " + shape_str(shape) + " on " + device_name(device);
}

void check_matches(const Tensor& g, const Tensor& t, const std::string& what) {
  if (g.shape() != t.shape() || g.dtype() != t.dtype() || g.device() != t.device())
    throw std::runtime_error(what + ": gradient is " + describe(g.shape(), g.dtype(), g.device()) +
                             ", tensor is " + describe(t.shape(), t.dtype(), t.device()));
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  if (!root.requires_grad())
    throw std::runtime_error("backward() on a tensor that does not require grad");
  Tensor grad = grad_output;
  if (!grad.defined()) {
    if (root.numel() != 1)
      throw std::runtime_error("backward() without a gradient needs a scalar, got shape " +
                               shape_str(root.shape()));
    grad = ones(root.shape(), root.dtype(), root.device());
  }
  check_matches(grad, root, "backward()");
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    accumulate_leaf(root.impl(), grad);
    return;
  }
  std::unordered_map<Node*, Tensor> grads{{root.grad_fn().get(), grad}};
  for (const std::shared_ptr<Node>& node_ptr : topological_order(root.grad_fn())) {
    Node* node = node_ptr.get();
    if (node->released)
      throw std::runtime_error(
          "backward() through a graph that an earlier backward() already "
          "released; run the forward pass again");
    auto it = grads.find(node);
    if (it == grads.end()) {
      node->release();
      continue;
    }
    Tensor dy = it->second.contiguous();  // kernels downstream may assume it
    grads.erase(it);
    std::vector<Tensor> dx;
    try {
      dx = node->backward(dy, node->need);
    } catch (const std::exception& e) {
      throw std::runtime_error("in backward of '" + node->name + "': " + e.what());
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      if (!node->need[i] || !dx[i].defined()) continue;
      check_grad(*node, i, dx[i]);
      const Edge& e = node->next[i];
      if (e.leaf) {
        accumulate_leaf(e.leaf.get(), dx[i]);
      } else if (e.fn) {
        auto [slot, fresh] = grads.try_emplace(e.fn.get(), dx[i]);
        if (!fresh) slot->second = add(slot->second, dx[i]);
      }
    }
    node->release();
  }
}

}  // namespace ag

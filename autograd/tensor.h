// Tensor: a view (shape, strides, offset) into shared Storage, plus the
// autograd fields: requires_grad, the accumulated grad, and the Node that
// produced it. Copying a Tensor copies a handle; both refer to one TensorImpl.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "autograd/backend.h"
#include "autograd/device.h"
#include "autograd/dtype.h"

namespace ag {

struct Node;
class Generator;

// Memory of one device. Views share it; `version` counts in-place writes so
// that backward can detect a tensor it saved being overwritten.
struct Storage {
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::CPU;
  uint64_t version = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward (leaves only)
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl()->shape; }
  int64_t size(int dim) const;
  const Shape& strides() const { return impl()->strides; }
  int64_t offset() const { return impl()->offset; }
  int dim() const { return static_cast<int>(impl()->shape.size()); }
  int64_t numel() const { return shape_numel(impl()->shape); }
  DType dtype() const { return impl()->dtype; }
  Device device() const { return impl()->storage->device; }
  bool is_contiguous() const;
  void* data_ptr() const;  // address of element 0 of this view
  TensorRef ref() const;   // the view as a kernel argument
  const std::shared_ptr<Storage>& storage() const { return impl()->storage; }
  uint64_t version() const { return impl()->storage->version; }
  void bump_version() const { ++impl()->storage->version; }

  // autograd
  bool requires_grad() const { return impl()->requires_grad; }
  Tensor& set_requires_grad(bool r = true);
  bool is_leaf() const { return impl()->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl()->grad_fn; }
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops the accumulated gradient
  // Backpropagate from this tensor: a scalar, or with an explicit gradient.
  void backward(const Tensor& grad_output = Tensor()) const;
  Tensor detach() const;  // same storage, no history

  // data access
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(Device d) const;
  Tensor to(DType t) const;
  double item() const;
  template <class T>
  std::vector<T> to_vector() const;

  // in-place writes (each bumps the version counter)
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& fill_(double value) const;

  TensorImpl* impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Creation. Strides are contiguous (row-major).
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
            Device device = Device::CPU);
Tensor arange(int64_t n, DType dtype = DType::F32, Device device = Device::CPU);
Tensor from_vector(const std::vector<float>& data, const Shape& shape, Device device = Device::CPU);
Tensor from_vector(const std::vector<double>& data, const Shape& shape,
                   Device device = Device::CPU);
Tensor from_vector(const std::vector<int32_t>& data, const Shape& shape,
                   Device device = Device::CPU);
Tensor zeros_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
// Uniform on (0, 1) and standard normal, from the Philox stream of `gen`
// (the default generator when omitted).
Tensor rand(const Shape& shape, Generator* gen = nullptr, DType dtype = DType::F32,
            Device device = Device::CPU);
Tensor randn(const Shape& shape, Generator* gen = nullptr, DType dtype = DType::F32,
             Device device = Device::CPU);
// What rand, randn and dropout's masks draw: `kind` (Bernoulli with
// probability p of a 1) from g, honouring its rows (Generator::set_rows).
Tensor random_draw(RandomKind kind, const Shape& shape, Generator& g, double p, DType dtype,
                   Device device);

Shape contiguous_strides(const Shape& shape);
// A new TensorImpl viewing `base`'s storage; no autograd history.
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

}  // namespace ag

#include "autograd/tensor.h"

#include <stdexcept>

#include "autograd/generator.h"
#include "autograd/graph.h"

namespace ag {

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) { data = backend(d).allocate(n); }

Storage::~Storage() { backend(device).deallocate(data, nbytes); }

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

TensorImpl* Tensor::impl() const {
  if (!impl_) throw std::runtime_error("use of an undefined tensor");
  return impl_.get();
}

int64_t Tensor::size(int d) const {
  const int n = dim();
  const int i = d < 0 ? d + n : d;
  if (i < 0 || i >= n)
    throw std::runtime_error("size(" + std::to_string(d) + ") of a " + std::to_string(n) +
                             "-d tensor");
  return shape()[i];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl()->storage->data) + offset() * dtype_size(dtype());
}

TensorRef Tensor::ref() const {
  if (dim() > kMaxDims)
    throw std::runtime_error("tensors of more than " + std::to_string(kMaxDims) +
                             " dimensions are not supported");
  TensorRef r;
  r.data = data_ptr();
  r.dtype = dtype();
  r.ndim = dim();
  for (int i = 0; i < r.ndim; ++i) {
    r.shape[i] = shape()[i];
    r.strides[i] = strides()[i];
  }
  return r;
}

Tensor& Tensor::set_requires_grad(bool r) {
  if (r && !is_floating(dtype()))
    throw std::runtime_error("only floating-point tensors can require grad");
  if (!is_leaf()) throw std::runtime_error("requires_grad can only be changed on leaf tensors");
  impl()->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(impl()->grad); }
void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) check_matches(g, *this, "set_grad");
  impl()->grad = g.impl_;
}
void Tensor::zero_grad() const { impl()->grad.reset(); }

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    if (d < 0) throw std::runtime_error("negative dimension in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  impl->storage = std::make_shared<Storage>(nbytes, device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend(device).fill(t.ref(), value);
  return t;
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }

namespace {
template <class T>
Tensor from_host(const std::vector<T>& data, const Shape& shape, DType dtype, Device device) {
  if (static_cast<int64_t>(data.size()) != shape_numel(shape))
    throw std::runtime_error("from_vector: " + std::to_string(data.size()) + " values for shape " +
                             shape_str(shape));
  Tensor t = empty(shape, dtype, device);
  backend(device).copy_from_host(data.data(), t.data_ptr(), data.size() * sizeof(T));
  return t;
}

Tensor random_tensor(RandomKind kind, const Shape& shape, Generator* gen, DType dtype,
                     Device device) {
  return random_draw(kind, shape, gen ? *gen : default_generator(), 0.0, dtype, device);
}

// Rows [begin, begin + shape[0]) of a draw of g.rows_total() rows: element i
// of a draw at block offset o is word i % 4 of block o + i / 4, so the rows
// start at word (begin * row) % 4 of block o + begin * row / 4.
Tensor draw_rows(RandomKind kind, const Shape& shape, Generator& g, double p, DType dtype,
                 Device device) {
  const int64_t rows = shape.empty() ? -1 : shape[0];
  if (rows < 1 || g.rows_begin() + rows > g.rows_total())
    throw std::runtime_error("random draw of shape " + shape_str(shape) + ": not rows " +
                             std::to_string(g.rows_begin()) + ".. of a batch of " +
                             std::to_string(g.rows_total()) + " (Generator::set_rows)");
  const uint64_t row = static_cast<uint64_t>(shape_numel(shape) / rows);
  const uint64_t start = static_cast<uint64_t>(g.rows_begin()) * row;
  const uint64_t base = g.reserve(static_cast<uint64_t>(g.rows_total()) * row);
  const int64_t skip = static_cast<int64_t>(start % 4), n = shape_numel(shape);
  Tensor wide = empty({skip + n}, dtype, device);
  backend(device).random(kind, g.seed(), base + start / 4, p, wide.ref());
  return make_view(wide, shape, contiguous_strides(shape), skip);
}
}  // namespace

Tensor from_vector(const std::vector<float>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::F32, device);
}
Tensor from_vector(const std::vector<double>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::F64, device);
}
Tensor from_vector(const std::vector<int32_t>& data, const Shape& shape, Device device) {
  return from_host(data, shape, DType::I32, device);
}

Tensor arange(int64_t n, DType dtype, Device device) {
  if (n < 0) throw std::runtime_error("arange: negative length " + std::to_string(n));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return from_vector(v, {n}, device).to(dtype);
}

Tensor rand(const Shape& shape, Generator* gen, DType dtype, Device device) {
  return random_tensor(RandomKind::Uniform, shape, gen, dtype, device);
}
Tensor randn(const Shape& shape, Generator* gen, DType dtype, Device device) {
  return random_tensor(RandomKind::Normal, shape, gen, dtype, device);
}
Tensor random_draw(RandomKind kind, const Shape& shape, Generator& g, double p, DType dtype,
                   Device device) {
  if (g.rows_total() > 0) return draw_rows(kind, shape, g, p, dtype, device);
  Tensor t = empty(shape, dtype, device);
  const uint64_t offset = g.reserve(static_cast<uint64_t>(t.numel()));
  backend(device).random(kind, g.seed(), offset, p, t.ref());
  return t;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(shape(), dtype(), d);
  size_t nbytes = static_cast<size_t>(numel()) * dtype_size(dtype());
  if (d == Device::CPU)
    backend(src.device()).copy_to_host(src.data_ptr(), out.data_ptr(), nbytes);
  else
    backend(d).copy_from_host(src.data_ptr(), out.data_ptr(), nbytes);
  return out;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  DType want = std::is_same_v<T, float>    ? DType::F32
               : std::is_same_v<T, double> ? DType::F64
                                           : DType::I32;
  Tensor host = to(Device::CPU).to(want).contiguous();
  const T* first = static_cast<const T*>(host.data_ptr());  // null when empty
  return std::vector<T>(first, first + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;

double Tensor::item() const {
  if (numel() != 1)
    throw std::runtime_error("item() of a tensor with " + std::to_string(numel()) +
                             " elements, shape " + shape_str(shape()));
  return to_vector<double>()[0];
}

namespace {
void check_inplace(const Tensor& t, const char* what) {
  if (!GradMode::enabled()) return;
  if (t.requires_grad() && t.is_leaf())
    throw std::runtime_error(std::string(what) +
                             ": a leaf tensor that requires grad cannot be modified in place "
                             "while grad mode is on (use NoGradGuard)");
  if (!t.is_leaf())
    throw std::runtime_error(std::string(what) +
                             ": in-place writes to a tensor produced by a recorded op "
                             "are not supported");
}
}  // namespace

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_inplace(*this, "copy_");
  if (src.shape() != shape())
    throw std::runtime_error("copy_: source shape " + shape_str(src.shape()) +
                             " differs from destination shape " + shape_str(shape()));
  Tensor s = src.device() == device() ? src : src.to(device());
  if (s.storage() == storage()) {  // overlapping views: read from a snapshot
    NoGradGuard no_grad;
    s = s.clone();
  }
  backend(device()).copy(s.ref(), ref());
  bump_version();
  return *this;
}

const Tensor& Tensor::fill_(double value) const {
  check_inplace(*this, "fill_");
  if (is_contiguous()) {
    backend(device()).fill(ref(), value);
  } else {
    Tensor scalar = full({1}, value, dtype(), device());
    Tensor spread = make_view(scalar, shape(), Shape(shape().size(), 0), 0);
    backend(device()).copy(spread.ref(), ref());
  }
  bump_version();
  return *this;
}

}  // namespace ag

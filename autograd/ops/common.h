// Checks and helpers shared by the op definitions in this folder.
#pragma once
#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace ag::detail {

inline Backend& backend_of(const Tensor& t) { return backend(t.device()); }

// t as a kernel argument, or a null-data one where t is undefined (not wanted).
inline TensorRef ref_or_null(const Tensor& t) { return t.defined() ? t.ref() : TensorRef{}; }

// Throws "<op>: ..." unless t is a defined floating-point tensor.
void check_float(const Tensor& t, const char* op);
// Throws unless a and b share device and dtype.
void check_compatible(const Tensor& a, const Tensor& b, const char* op);
// Maps a possibly negative axis into [0, ndim).
int normalize_axis(int axis, int ndim, const char* op);
// t as a kernel argument of `shape`, broadcast dimensions given stride 0.
TensorRef broadcast_ref(const Tensor& t, const Shape& shape);
// broadcast_shapes(a, b), its error prefixed with "<op>: ".
Shape broadcast_shapes_for(const Shape& a, const Shape& b, const char* op);
// y = a op b broadcast, after the checks (no tape: the caller records).
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name);

}  // namespace ag::detail

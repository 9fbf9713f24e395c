// Dtype dispatch shared by the backends' kernel entry points.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "autograd/dtype.h"

namespace ag {

// Calls f(T{}) with T = float or double for a floating dtype.
template <class F>
void dispatch_float(DType t, const char* kernel, F&& f) {
  switch (t) {
    case DType::F32:
      f(float{});
      return;
    case DType::F64:
      f(double{});
      return;
    default:
      throw std::runtime_error(std::string(kernel) + ": unsupported dtype " + dtype_name(t));
  }
}

// Calls f(T{}) for any dtype, integers included (copies convert between all).
template <class F>
void dispatch_any(DType t, F&& f) {
  if (t == DType::I32)
    f(int32_t{});
  else
    dispatch_float(t, "copy", f);
}

}  // namespace ag

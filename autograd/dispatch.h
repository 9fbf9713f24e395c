// Dtype dispatch shared by the backends' kernel entry points.
#pragma once
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

}  // namespace ag

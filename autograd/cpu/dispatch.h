// Helpers shared by the CPU kernels: dtype dispatch and the OpenMP threshold.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "autograd/backend.h"

namespace ag::cpu {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelGrain = 16384;

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

}  // namespace ag::cpu

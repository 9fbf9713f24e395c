#include "autograd/backend.h"

#include <stdexcept>
#include <string>

#include "autograd/device.h"

namespace ag {

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

bool TensorRef::is_contiguous() const {
  int64_t expected = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

#ifndef AG_WITH_CUDA
int cuda_device_count() { return 0; }
#endif

Backend& backend(Device d) {
  if (d == Device::CPU) return cpu_backend();
  throw std::runtime_error(
      "device 'cuda' requested, but this build has no CUDA backend yet "
      "(tensors can only live on the cpu)");
}

}  // namespace ag

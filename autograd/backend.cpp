#include "autograd/backend.h"

#include <stdexcept>
#include <string>

#include "autograd/allocator.h"
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
namespace {

[[noreturn]] void no_cuda_backend() {
  throw std::runtime_error(
      "device 'cuda' requested, but this build has no CUDA backend "
      "(it is built when CMake finds nvcc; see -DAG_CUDA)");
}

}  // namespace

int cuda_device_count() { return 0; }
void cuda_select_device(int) {}
std::string cuda_unavailable_reason() { return "this build has no CUDA backend"; }
std::string load_cublas() { no_cuda_backend(); }
Backend& cuda_backend() { no_cuda_backend(); }
CachingAllocator& cuda_allocator() { no_cuda_backend(); }
#endif

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

Backend& backend(Device d) { return d == Device::CPU ? cpu_backend() : cuda_backend(); }

void check_available(Device d) { backend(d); }

void synchronize(Device d) { backend(d).synchronize(); }

}  // namespace ag

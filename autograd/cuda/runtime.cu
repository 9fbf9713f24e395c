// The device query, the stream, the cuBLAS handle and the error checks (see
// runtime.h). This file is compiled whenever nvcc is found, CI included, so
// the CUDA toolchain is exercised by every build.
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "autograd/cuda/runtime.h"
#include "autograd/device.h"

namespace ag {

namespace {

struct DeviceQuery {
  int count = 0;
  std::string error;  // why count is 0, if it is
};

const DeviceQuery& device_query() {
  static const DeviceQuery query = [] {
    DeviceQuery q;
    const cudaError_t err = cudaGetDeviceCount(&q.count);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the "no device" error so later checks do not see it
      q.count = 0;
      q.error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    } else if (q.count == 0) {
      q.error = "cudaGetDeviceCount found 0 devices";
    }
    return q;
  }();
  return query;
}

// The path from autograd/cuda/ on, without the checkout's location.
const char* source_path(const char* file) {
  const char* p = std::strstr(file, "autograd/cuda/");
  return p ? p : file;
}

[[noreturn]] void fail(const char* call, const char* reason, cuda::SourceLocation at) {
  throw std::runtime_error(std::string(call) + " failed: " + reason + " at " +
                           source_path(at.file) + ":" + std::to_string(at.line));
}

}  // namespace

int cuda_device_count() { return device_query().count; }

std::string cuda_unavailable_reason() { return device_query().error; }

void cuda_select_device(int index) { AG_CUDA_CHECK(cudaSetDevice(index)); }

namespace cuda {

void check(cudaError_t err, const char* call, SourceLocation at) {
  if (err != cudaSuccess) fail(call, cudaGetErrorString(err), at);
}

void check(cublasStatus_t status, const char* call, SourceLocation at) {
  if (status != CUBLAS_STATUS_SUCCESS) fail(call, cublas().status_string(status), at);
}

void sync_if_debugging(const char* call, SourceLocation at) {
  static const bool debugging = [] {
    const char* v = std::getenv("AG_CUDA_SYNC");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  if (debugging) check(cudaStreamSynchronize(stream()), call, at);
}

cudaStream_t stream() {
  static const cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    AG_CUDA_CHECK(cudaStreamCreate(&created));
    return created;
  }();
  return s;
}

cublasHandle_t blas() {
  static const cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    AG_CUDA_CHECK(cublas().create(&created));
    AG_CUDA_CHECK(cublas().set_stream(created, stream()));
    return created;
  }();
  return h;
}

}  // namespace cuda

}  // namespace ag

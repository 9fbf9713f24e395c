// CUDA runtime queries. The CUDA kernels themselves (autograd/cuda/<family>.cu
// mirroring autograd/cpu/) arrive with the CUDA backend; this file keeps the
// CUDA toolchain exercised by every build, CI included.
#include <cuda_runtime.h>

#include "autograd/device.h"

namespace ag {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

}  // namespace ag

// The CUDA backend: cuBLAS for every GEMM (conv2d included, via im2col),
// grid-stride kernels for the rest, all queued on one stream (runtime.h), and
// memory from a caching allocator. Its member functions are defined one
// family per file, mirroring autograd/cpu/: elementwise.cu, reduce.cu,
// gemm.cu, conv.cu, norm.cu, index.cu, random.cu, optim.cu, memory.cu.
#pragma once
#include "autograd/backend.h"

namespace ag {

class CudaBackend final : public Backend {
 public:
#define AG_KERNEL(ret, name, params) ret name params override;
#include "autograd/backend_kernels.def"
#undef AG_KERNEL
};

}  // namespace ag

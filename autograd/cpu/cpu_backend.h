// The CPU backend: OpenBLAS for every GEMM, OpenMP across cores for
// elementwise work, reductions and norms. Its member functions are defined
// one family per file (elementwise.cpp, reduce.cpp, gemm.cpp, conv.cpp,
// norm.cpp, index.cpp, random.cpp, memory.cpp); autograd/cuda/ mirrors them.
#pragma once
#include "autograd/backend.h"

namespace ag {

class CpuBackend final : public Backend {
 public:
#define AG_KERNEL(ret, name, params) ret name params override;
#include "autograd/backend_kernels.def"
#undef AG_KERNEL
};

}  // namespace ag

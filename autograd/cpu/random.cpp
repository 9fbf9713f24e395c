// Random tensors from the Philox stream: element i depends only on
// (seed, offset, i), so blocks of four run in parallel and the CUDA kernel
// computes the very same numbers (autograd/kernels/random_values.h).
#include <algorithm>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/kernels/random_values.h"

namespace ag {

void CpuBackend::random(RandomKind kind, uint64_t seed, uint64_t offset, double p,
                        const TensorRef& out) {
  const int64_t n = out.numel();
  const int64_t blocks = static_cast<int64_t>(philox::blocks_for(static_cast<uint64_t>(n)));
  cpu::dispatch_float(out.dtype, "random", [&](auto tag) {
    using T = decltype(tag);
    T* y = out.ptr<T>();
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t j = 0; j < blocks; ++j) {
      double v[4];
      philox::block_values(kind, philox::block(seed, offset + static_cast<uint64_t>(j)), p, v);
      const int64_t lanes = std::min<int64_t>(4, n - 4 * j);
      for (int64_t lane = 0; lane < lanes; ++lane)
        y[4 * j + lane] = philox::to_element<T>(kind, v[lane]);
    }
  });
}

}  // namespace ag

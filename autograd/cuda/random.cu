// Random tensors from the Philox stream on CUDA: thread j computes block
// offset + j with the very functions the CPU backend uses
// (autograd/kernels/random_values.h), so the 32-bit words, uniforms and Bernoulli
// draws equal the CPU's bit for bit, and normals to the last bit or so
// (log, cos and sin of the two math libraries).
#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/kernels/dispatch.h"
#include "autograd/kernels/random_values.h"

namespace ag {

namespace {

template <class T>
__global__ void random_kernel(RandomKind kind, uint64_t seed, uint64_t offset, double p, int64_t n,
                              int64_t blocks, T* y) {
  for (int64_t j = cuda::global_index(); j < blocks; j += cuda::grid_stride()) {
    double v[4];
    philox::block_values(kind, philox::block(seed, offset + static_cast<uint64_t>(j)), p, v);
    const int64_t lanes = n - 4 * j < 4 ? n - 4 * j : 4;
    for (int64_t lane = 0; lane < lanes; ++lane)
      y[4 * j + lane] = philox::to_element<T>(kind, v[lane]);
  }
}

}  // namespace

void CudaBackend::random(RandomKind kind, uint64_t seed, uint64_t offset, double p,
                         const TensorRef& out) {
  const int64_t n = out.numel();
  const int64_t blocks = static_cast<int64_t>(philox::blocks_for(static_cast<uint64_t>(n)));
  dispatch_float(out.dtype, "random", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("random_kernel", AG_HERE, cuda::grid_for(blocks), random_kernel<T>, kind, seed,
                 offset, p, n, blocks, out.ptr<T>());
  });
}

}  // namespace ag

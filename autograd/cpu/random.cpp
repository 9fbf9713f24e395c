// Random tensors from the Philox stream: element i depends only on
// (seed, offset, i), so blocks of four run in parallel and the CUDA kernel
// can compute the very same numbers.
#include <algorithm>
#include <cmath>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/philox.h"

namespace ag {

namespace {

// The four values of block j: uniforms, normals, or Bernoulli(p) draws.
void block_values(RandomKind kind, const philox::Block& b, double p, double v[4]) {
  if (kind == RandomKind::Normal) {
    philox::normals(b, v);
    return;
  }
  for (int lane = 0; lane < 4; ++lane) {
    double u = philox::to_uniform(b.v[lane]);
    v[lane] = kind == RandomKind::Uniform ? u : (u < p ? 1.0 : 0.0);
  }
}

// A uniform in (0, 1) can round to 1 in float; keep it below, as documented.
template <class T>
T to_open_unit(RandomKind kind, double v) {
  const T t = static_cast<T>(v);
  return kind == RandomKind::Uniform && t >= T(1) ? std::nextafter(T(1), T(0)) : t;
}

}  // namespace

void CpuBackend::random(RandomKind kind, uint64_t seed, uint64_t offset, double p,
                        const TensorRef& out) {
  const int64_t n = out.numel();
  const int64_t blocks = static_cast<int64_t>(philox::blocks_for(static_cast<uint64_t>(n)));
  cpu::dispatch_float(out.dtype, "random", [&](auto tag) {
    using T = decltype(tag);
    T* y = out.ptr<T>();
#pragma omp parallel for schedule(static) if (n >= 4096)
    for (int64_t j = 0; j < blocks; ++j) {
      double v[4];
      block_values(kind, philox::block(seed, offset + static_cast<uint64_t>(j)), p, v);
      const int64_t lanes = std::min<int64_t>(4, n - 4 * j);
      for (int64_t lane = 0; lane < lanes; ++lane) y[4 * j + lane] = to_open_unit<T>(kind, v[lane]);
    }
  });
}

}  // namespace ag

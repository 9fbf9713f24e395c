// What every backend's random kernel makes of one Philox block (see
// autograd/philox.h): four uniforms, normals or Bernoulli(p) draws in double,
// then each converted to the element type. CPU and CUDA share these
// definitions, so the same (seed, offset) gives the same tensor on both.
#pragma once
#include "autograd/backend.h"
#include "autograd/host_device.h"
#include "autograd/philox.h"

namespace ag::philox {

// The four values of block b: uniforms, normals, or Bernoulli(p) draws.
AG_HOST_DEVICE inline void block_values(RandomKind kind, const Block& b, double p, double v[4]) {
  if (kind == RandomKind::Normal) {
    normals(b, v);
    return;
  }
  for (int lane = 0; lane < 4; ++lane) {
    const double u = to_uniform(b.v[lane]);
    v[lane] = kind == RandomKind::Uniform ? u : (u < p ? 1.0 : 0.0);
  }
}

// The largest value below 1 of each element type.
AG_HOST_DEVICE inline float below_one(float) { return 0x1.fffffep-1f; }
AG_HOST_DEVICE inline double below_one(double) { return 0x1.fffffffffffffp-1; }

// A value as the element type T. A uniform in (0, 1) can round to 1 in
// float; it is kept below, as documented.
template <class T>
AG_HOST_DEVICE inline T to_element(RandomKind kind, double v) {
  const T t = static_cast<T>(v);
  return kind == RandomKind::Uniform && t >= T(1) ? below_one(T()) : t;
}

}  // namespace ag::philox

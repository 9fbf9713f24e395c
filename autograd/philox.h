// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011): a counter-based generator. Block b of stream `seed` is
// philox(counter = b, key = seed), four 32-bit words. Element i of a random
// tensor drawn at generator offset `offset` uses word i % 4 of block
// offset + i / 4, so any element can be computed alone, on any device, and
// the CPU and CUDA backends produce the same numbers.
#pragma once
#include <cmath>
#include <cstdint>

#include "autograd/host_device.h"
#include "autograd/math_constants.h"

namespace ag::philox {

struct Block {
  uint32_t v[4];
};

AG_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

AG_HOST_DEVICE inline Block philox4x32_10(Block ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key bumps
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += W0;
      k1 += W1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(M0, ctr.v[0], hi0, lo0);
    mulhilo(M1, ctr.v[2], hi1, lo1);
    ctr = Block{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

AG_HOST_DEVICE inline Block block(uint64_t seed, uint64_t index) {
  Block ctr{{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// A word as a uniform in the open interval (0, 1): never 0, so log() is safe.
AG_HOST_DEVICE inline double to_uniform(uint32_t x) {
  return (static_cast<double>(x) + 0.5) * (1.0 / 4294967296.0);
}

// Box-Muller on the word pairs (0, 1) and (2, 3) of a block: the four
// standard normals of that block. Even lanes take the cosine branch, odd
// lanes the sine.
AG_HOST_DEVICE inline void normals(const Block& b, double out[4]) {
  for (unsigned first = 0; first < 4; first += 2) {
    double r = std::sqrt(-2.0 * std::log(to_uniform(b.v[first])));
    double theta = 2 * kPi * to_uniform(b.v[first + 1]);
    out[first] = r * std::cos(theta);
    out[first + 1] = r * std::sin(theta);
  }
}

// How many blocks a draw of n elements consumes: the generator advances its
// offset by this much so the next draw uses fresh counters.
AG_HOST_DEVICE inline uint64_t blocks_for(uint64_t n) { return (n + 3) / 4; }

}  // namespace ag::philox

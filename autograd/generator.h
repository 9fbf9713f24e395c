// A seeded, counter-based random generator. Its whole state is (seed,
// offset); a draw of n numbers reads Philox blocks [offset, offset + n/4) and
// advances the offset past them. Saving and restoring the two integers
// restores the stream exactly, on any device.
#pragma once
#include <cstdint>

namespace ag {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  // Reserves the blocks for n numbers; returns the offset to draw them at.
  uint64_t reserve(uint64_t n);

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // reseeds the default generator

}  // namespace ag

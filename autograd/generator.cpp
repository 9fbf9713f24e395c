#include "autograd/generator.h"

#include "autograd/philox.h"

namespace ag {

uint64_t Generator::reserve(uint64_t n) {
  uint64_t at = offset_;
  offset_ += philox::blocks_for(n);
  return at;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace ag

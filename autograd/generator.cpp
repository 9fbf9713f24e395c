#include "autograd/generator.h"

#include <stdexcept>
#include <string>

#include "autograd/philox.h"

namespace ag {

uint64_t Generator::reserve(uint64_t n) {
  uint64_t at = offset_;
  offset_ += philox::blocks_for(n);
  return at;
}

void Generator::set_rows(int64_t begin, int64_t total) {
  if (total < 0 || begin < 0 || (total > 0 && begin >= total) || (total == 0 && begin != 0))
    throw std::runtime_error("Generator::set_rows: rows from " + std::to_string(begin) + " of " +
                             std::to_string(total));
  rows_begin_ = begin;
  rows_total_ = total;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace ag

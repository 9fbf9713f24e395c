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

  // Rows of a shared batch, for data-parallel processes (autograd/
  // distributed.h): after set_rows(begin, total), a draw of a tensor of n rows
  // (its first dimension) gives rows [begin, begin + n) of what a draw of
  // `total` rows of that shape would give, and advances the offset as that
  // draw would. N processes that each draw their rows of a batch so draw
  // together what one process draws alone. total 0 (the default): whole draws.
  void set_rows(int64_t begin, int64_t total);
  int64_t rows_begin() const { return rows_begin_; }
  int64_t rows_total() const { return rows_total_; }

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
  int64_t rows_begin_ = 0, rows_total_ = 0;
};

// A generator drawing rows [begin, begin + n) of batches of `total` rows
// (Generator::set_rows) for as long as it lives, then whole draws again.
class RowsGuard {
 public:
  RowsGuard(Generator& gen, int64_t begin, int64_t total) : gen_(gen) {
    gen_.set_rows(begin, total);
  }
  ~RowsGuard() { gen_.set_rows(0, 0); }
  RowsGuard(const RowsGuard&) = delete;
  RowsGuard& operator=(const RowsGuard&) = delete;

 private:
  Generator& gen_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);  // reseeds the default generator

}  // namespace ag

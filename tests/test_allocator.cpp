// The caching allocator: sizes round up, freed blocks are reused, the peak
// statistic tracks the high-water mark, and a repeated training-like loop
// stops reaching the system allocator.
#include "autograd/allocator.h"
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Allocator, RoundsSizes) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(100000), 114688u);  // 7 steps of 131072 / 8
  for (size_t n : {1000u, 5000u, 1u << 20, (1u << 20) + 1, 3000000u}) {
    EXPECT_GE(CachingAllocator::round_size(n), n);
    EXPECT_LT(CachingAllocator::round_size(n), n + n / 4 + 512);
  }
}

TEST(Allocator, ReusesFreedBlocks) {
  CachingAllocator alloc(
      +[](size_t n) { return std::malloc(n); }, std::free);
  void* a = alloc.allocate(10000);
  alloc.deallocate(a, 10000);
  void* b = alloc.allocate(9999);  // same rounded size
  EXPECT_EQ(a, b);
  EXPECT_EQ(alloc.stats().system_allocs, 1u);
  EXPECT_EQ(alloc.stats().in_use, CachingAllocator::round_size(10000));
  alloc.deallocate(b, 9999);
  EXPECT_EQ(alloc.stats().in_use, 0u);
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().cached, 0u);
}

TEST(Allocator, PeakTracksHighWaterAndResets) {
  CachingAllocator alloc(
      +[](size_t n) { return std::malloc(n); }, std::free);
  const size_t a_size = CachingAllocator::round_size(10000);  // 10240
  const size_t b_size = CachingAllocator::round_size(3000);   // 3072
  void* a = alloc.allocate(10000);
  void* b = alloc.allocate(3000);
  EXPECT_EQ(alloc.stats().peak_in_use, a_size + b_size);
  alloc.deallocate(a, 10000);
  EXPECT_EQ(alloc.stats().in_use, b_size);
  EXPECT_EQ(alloc.stats().peak_in_use, a_size + b_size);  // a high-water mark
  alloc.reset_peak();
  EXPECT_EQ(alloc.stats().peak_in_use, b_size);  // restarts from what is in use
  void* c = alloc.allocate(100);                 // 512, below the old peak
  EXPECT_EQ(alloc.stats().peak_in_use, b_size + 512);
  alloc.deallocate(b, 3000);
  alloc.deallocate(c, 100);
  EXPECT_EQ(alloc.stats().peak_in_use, b_size + 512);
  EXPECT_EQ(alloc.stats().cached, a_size + b_size + 512);  // freed blocks stay cached
}

TEST(Allocator, TrainingLoopMemoryStaysFlat) {
  Tensor w = rand_leaf({64, 64}, 1);
  auto step = [&] {
    Tensor x = randn({32, 64}, nullptr, DType::F64);
    Tensor loss = mean(square(tanh(matmul(x, w))));
    loss.backward();
    w.zero_grad();
  };
  step();
  step();
  const size_t allocs = cpu_allocator().stats().system_allocs;
  const size_t in_use = cpu_allocator().stats().in_use;
  for (int i = 0; i < 20; ++i) step();
  EXPECT_EQ(cpu_allocator().stats().system_allocs, allocs);
  EXPECT_EQ(cpu_allocator().stats().in_use, in_use);
}

}  // namespace ag::test

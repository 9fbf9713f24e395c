// A caching allocator: freed blocks go to a free list keyed by their rounded
// size and are handed out again, so a training loop that allocates the same
// sizes every step stops calling the system allocator after the first step.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace ag {

struct AllocatorStats {
  size_t in_use = 0;         // bytes handed out and not yet returned
  size_t peak_in_use = 0;    // the high-water mark of in_use
  size_t cached = 0;         // bytes held in free lists
  size_t system_allocs = 0;  // calls that reached the system allocator
};

class CachingAllocator {
 public:
  using RawAlloc = void* (*)(size_t);
  using RawFree = void (*)(void*);
  // raw_alloc returns null when out of memory; `device` names the memory in errors.
  CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, const char* device = "cpu");
  ~CachingAllocator();
  void* allocate(size_t nbytes);
  void deallocate(void* ptr, size_t nbytes);
  void empty_cache();  // return every cached block to the system
  AllocatorStats stats();
  void reset_peak();
  static size_t round_size(size_t nbytes);

 private:
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  const char* device_;
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // rounded size -> blocks
  AllocatorStats stats_;
};

}  // namespace ag

namespace ag {
// The backends' allocators (statistics for benchmarks and tests);
// cuda_allocator() throws where CUDA is unavailable, as backend(Device::CUDA).
CachingAllocator& cpu_allocator();
CachingAllocator& cuda_allocator();
}  // namespace ag

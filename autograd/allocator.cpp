#include "autograd/allocator.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ag {

CachingAllocator::CachingAllocator(RawAlloc raw_alloc, RawFree raw_free, const char* device)
    : raw_alloc_(raw_alloc), raw_free_(raw_free), device_(device) {}

CachingAllocator::~CachingAllocator() { empty_cache(); }

// Small blocks round to kMinBlock bytes; larger ones to a multiple of an
// eighth of the next power of two, so reuse is likely and waste stays under 25%.
size_t CachingAllocator::round_size(size_t nbytes) {
  constexpr size_t kMinBlock = 512;
  if (nbytes <= kMinBlock) return kMinBlock;
  size_t pow2 = 1;
  while (pow2 < nbytes) pow2 <<= 1;
  size_t step = std::max<size_t>(pow2 / 8, kMinBlock);
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t nbytes) {
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* ptr = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    stats_.cached -= size;
  } else {
    ptr = raw_alloc_(size);
    if (!ptr) {  // out of memory: give back the cache and try once more
      for (auto& [s, blocks] : free_)
        for (void* p : blocks) raw_free_(p);
      free_.clear();
      stats_.cached = 0;
      ptr = raw_alloc_(size);
      if (!ptr)
        throw std::runtime_error(std::string(device_) + " out of memory: cannot allocate " +
                                 std::to_string(size) + " bytes (" + std::to_string(stats_.in_use) +
                                 " in use)");
    }
    ++stats_.system_allocs;
  }
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t nbytes) {
  size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.in_use -= size;
  try {
    free_[size].push_back(ptr);
    stats_.cached += size;
  } catch (const std::bad_alloc&) {
    raw_free_(ptr);  // no memory even for the cache's list: hand the block back
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) raw_free_(p);
  free_.clear();
  stats_.cached = 0;
}

AllocatorStats CachingAllocator::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_in_use = stats_.in_use;
}

}  // namespace ag

// CPU memory: 64-byte aligned blocks behind the caching allocator.
#include <cstdlib>
#include <cstring>

#include "autograd/allocator.h"
#include "autograd/cpu/cpu_backend.h"

namespace ag {

namespace {

void* aligned_alloc64(size_t nbytes) {
  void* p = nullptr;
  return posix_memalign(&p, 64, nbytes) == 0 ? p : nullptr;
}

CachingAllocator& host_allocator() {
  static CachingAllocator* alloc = new CachingAllocator(aligned_alloc64, std::free);
  return *alloc;  // never destroyed: tensors may outlive static destructors
}

}  // namespace

CachingAllocator& cpu_allocator() { return host_allocator(); }

Backend& cpu_backend() {
  static CpuBackend* b = new CpuBackend();
  return *b;
}

void* CpuBackend::allocate(size_t nbytes) { return host_allocator().allocate(nbytes); }

void CpuBackend::deallocate(void* ptr, size_t nbytes) { host_allocator().deallocate(ptr, nbytes); }

void CpuBackend::copy_to_host(const void* src, void* dst, size_t nbytes) {
  std::memcpy(dst, src, nbytes);
}

void CpuBackend::copy_from_host(const void* src, void* dst, size_t nbytes) {
  std::memcpy(dst, src, nbytes);
}

// Every CPU kernel has finished when it returns.
void CpuBackend::synchronize() {}

}  // namespace ag

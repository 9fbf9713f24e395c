// CPU memory: 64-byte aligned blocks behind the caching allocator.
#include <cstdlib>
#include <cstring>

#include "autograd/allocator.h"
#include "autograd/cpu/cpu_backend.h"

namespace ag {

namespace {

// A cache line, and one AVX-512 vector.
constexpr size_t kAlignment = 64;

void* allocate_aligned(size_t nbytes) {
  void* p = nullptr;
  return posix_memalign(&p, kAlignment, nbytes) == 0 ? p : nullptr;
}

CachingAllocator& host_allocator() {
  static CachingAllocator* alloc = new CachingAllocator(allocate_aligned, std::free);
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

// An empty vector's or tensor's address may be null, and memcpy's must not
// be, even for 0 bytes: hence the test.
void CpuBackend::copy_to_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}

void CpuBackend::copy_from_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes > 0) std::memcpy(dst, src, nbytes);
}

// Every CPU kernel has finished when it returns.
void CpuBackend::synchronize() {}

}  // namespace ag

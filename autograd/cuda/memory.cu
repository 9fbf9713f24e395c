// CUDA memory: cudaMalloc blocks behind the caching allocator, so no op
// reaches cudaMalloc or cudaFree once a training loop has warmed up, and
// copies between host and device queued on the one stream.
#include <stdexcept>
#include <string>

#include "autograd/allocator.h"
#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/runtime.h"
#include "autograd/device.h"

namespace ag {

namespace {

// Null when out of memory, so the allocator can free its cache and retry.
void* device_malloc(size_t nbytes) {
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, nbytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: the allocator retries or reports it
    return nullptr;
  }
  cuda::check(err, "cudaMalloc", AG_HERE);
  return p;
}

void device_free(void* p) { AG_CUDA_CHECK(cudaFree(p)); }

CachingAllocator& device_allocator() {
  static CachingAllocator* alloc = new CachingAllocator(device_malloc, device_free, "cuda");
  return *alloc;  // never destroyed: tensors may outlive static destructors
}

CudaBackend* make_backend() {
  if (cuda_device_count() == 0)
    throw std::runtime_error("device 'cuda' requested, but no CUDA device is present (" +
                             cuda_unavailable_reason() + ")");
  return new CudaBackend();
}

}  // namespace

Backend& cuda_backend() {
  static CudaBackend* b = make_backend();  // retried on the next call if it threw
  return *b;
}

CachingAllocator& cuda_allocator() {
  cuda_backend();
  return device_allocator();
}

void* CudaBackend::allocate(size_t nbytes) { return device_allocator().allocate(nbytes); }

void CudaBackend::deallocate(void* ptr, size_t nbytes) {
  device_allocator().deallocate(ptr, nbytes);
}

// Waits for the copy (and all work queued before it), so dst is ready.
void CudaBackend::copy_to_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes == 0) return;
  AG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, cuda::stream()));
  AG_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

// Queued on the stream; pageable src is staged before this returns, so the
// caller may free or reuse it at once.
void CudaBackend::copy_from_host(const void* src, void* dst, size_t nbytes) {
  if (nbytes == 0) return;
  AG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, cuda::stream()));
}

void CudaBackend::synchronize() { AG_CUDA_CHECK(cudaStreamSynchronize(cuda::stream())); }

}  // namespace ag

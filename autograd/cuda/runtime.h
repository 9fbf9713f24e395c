// The CUDA runtime side of the backend: the one stream that every kernel,
// copy and cuBLAS call runs on, cuBLAS (loaded on first use) and its handle,
// and error checks that name the failing call and where it was made, e.g.
//   cudaMalloc(&p, n) failed: out of memory at autograd/cuda/memory.cu:42
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace ag::cuda {

struct SourceLocation {
  const char* file;
  int line;
};

#define AG_HERE (::ag::cuda::SourceLocation{__FILE__, __LINE__})

// Throws "<call> failed: <reason> at <file>:<line>" unless the call succeeded.
void check(cudaError_t err, const char* call, SourceLocation at);
void check(cublasStatus_t status, const char* call, SourceLocation at);

// Runs a CUDA runtime or cuBLAS call and checks its status.
#define AG_CUDA_CHECK(call) ::ag::cuda::check((call), #call, AG_HERE)

// With AG_CUDA_SYNC=1 in the environment, waits for stream() and checks it,
// so that a fault inside a kernel is reported with the launch (or cuBLAS call)
// that queued it rather than at some later call. Otherwise does nothing.
void sync_if_debugging(const char* call, SourceLocation at);

// The stream all work is queued on, in order; created on first use.
cudaStream_t stream();

// The cuBLAS functions the backend calls, resolved from libcublas when first
// asked for (cublas.cu); throws a one-line error if it cannot be loaded.
struct Cublas {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
  decltype(&cublasGetStatusString) status_string;
};
const Cublas& cublas();
// The cuBLAS handle, bound to stream().
cublasHandle_t blas();

}  // namespace ag::cuda

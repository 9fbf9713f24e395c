// Where a tensor lives, and what accelerators this build and this machine
// offer.
#pragma once
#include <string>

namespace ag {

enum class Device { CPU, CUDA };
const char* device_name(Device d);  // "cpu" or "cuda"

// Throws a one-line error saying why, unless tensors can be made on d.
void check_available(Device d);
// Returns when all work queued so far on d has finished (timing, host reads).
void synchronize(Device d);

// Number of usable CUDA devices; 0 when none is present or the build has no CUDA.
int cuda_device_count();
// Makes GPU `index` this process's CUDA device (one GPU per rank of a
// data-parallel run); call before any CUDA work. A no-op without CUDA.
void cuda_select_device(int index);
// Why cuda_device_count() is 0, in a few words ("" when it is not).
std::string cuda_unavailable_reason();
// Loads cuBLAS and returns the file it came from. A CUDA build opens cuBLAS
// only at a CUDA device's first matrix product, so a CPU run skips its start-up
// cost; this loads it without a device. Throws a one-line error if cuBLAS
// cannot be loaded or the build has no CUDA.
std::string load_cublas();

}  // namespace ag

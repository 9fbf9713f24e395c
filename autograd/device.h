// What accelerators this build and this machine offer.
#pragma once
#include <string>

namespace ag {

// Number of usable CUDA devices; 0 when none is present or the build has no CUDA.
int cuda_device_count();
// Why cuda_device_count() is 0, in a few words ("" when it is not).
std::string cuda_unavailable_reason();

}  // namespace ag

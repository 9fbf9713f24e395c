// What accelerators this build and this machine offer.
#pragma once

namespace ag {

// Number of usable CUDA devices; 0 when none is present or the build has no CUDA.
int cuda_device_count();

}  // namespace ag

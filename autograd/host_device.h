// AG_HOST_DEVICE marks a function that CUDA kernels call as well as CPU code,
// so both backends share one definition (Philox, random values, conv shapes).
#pragma once

#if defined(__CUDACC__)
#define AG_HOST_DEVICE __host__ __device__
#else
#define AG_HOST_DEVICE
#endif

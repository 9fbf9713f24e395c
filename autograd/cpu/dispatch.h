// Helpers shared by the CPU kernels: dtype dispatch and the OpenMP threshold.
#pragma once
#include <cstdint>

#include "autograd/backend.h"
#include "autograd/kernels/dispatch.h"

namespace ag::cpu {

// Below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelGrain = 16384;

using ag::dispatch_float;

}  // namespace ag::cpu

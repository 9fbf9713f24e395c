// Timing for the benchmark programs.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/device.h"

namespace apps {

// The median of `reps` timed calls of f after `warmup` untimed ones, in
// milliseconds (the upper median for even reps). Each timed call ends when
// `device` has finished its work, not when the work is queued.
double median_ms(const std::function<void()>& f, ag::Device device, int64_t warmup, int64_t reps);
// The upper median of v (not empty).
double upper_median(std::vector<double> v);

}  // namespace apps

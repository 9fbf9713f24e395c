#include "apps/common/timing.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "autograd/device.h"

namespace apps {

double median_ms(const std::function<void()>& f, ag::Device device, int64_t warmup, int64_t reps) {
  for (int64_t i = 0; i < warmup; ++i) f();
  ag::synchronize(device);
  std::vector<double> ms;
  for (int64_t i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ag::synchronize(device);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
  return ms[static_cast<size_t>(reps / 2)];
}

}  // namespace apps

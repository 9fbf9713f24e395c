#include "apps/common/timing.h"

#include <algorithm>
#include <chrono>
#include <utility>
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
  return upper_median(std::move(ms));
}

double upper_median(std::vector<double> v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace apps

#include "apps/common/cli.h"

#include <omp.h>

#include <cstdio>
#include <stdexcept>

#include "autograd/device.h"

namespace apps {

void require_device(const std::string& device) {
  if (device == "cpu") return;
  if (ag::cuda_device_count() == 0)
    throw std::runtime_error("--device cuda: no CUDA device is present on this machine");
  throw std::runtime_error("--device cuda: this build has no CUDA backend yet; use --device cpu");
}

void set_threads(int64_t threads) {
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

int run_reporting_errors(const char* program, const std::function<int()>& body) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace apps

// Where no CUDA device is present, the CUDA tests skip and say why. On a
// machine meant to have one, AG_REQUIRE_CUDA=1 (scripts/gpu_check.sh sets it)
// turns every such skip into a failure, so a GPU run cannot pass by skipping
// (a driver too old for the runtime, a build without CUDA).
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "autograd/device.h"

namespace ag::test {

inline bool cuda_required() {
  const char* v = std::getenv("AG_REQUIRE_CUDA");
  return v != nullptr && std::string(v) == "1";
}

}  // namespace ag::test

// Returns from the calling test (or SetUp) when no CUDA device is present:
// a skip with the reason, or a failure under AG_REQUIRE_CUDA=1.
#define AG_SKIP_WITHOUT_CUDA()                                                                 \
  do {                                                                                         \
    if (::ag::cuda_device_count() == 0) {                                                      \
      if (::ag::test::cuda_required())                                                         \
        FAIL() << "AG_REQUIRE_CUDA=1, but no CUDA device (" << ::ag::cuda_unavailable_reason() \
               << ")";                                                                         \
      GTEST_SKIP() << "no CUDA device present (" << ::ag::cuda_unavailable_reason() << ")";    \
    }                                                                                          \
  } while (0)

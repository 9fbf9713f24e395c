// Helpers of the CUDA parity tests: a fixture that skips, with the reason,
// where no CUDA device is present; comparisons of a CUDA result with the CPU
// one; and a runner that checks an op's forward and backward on both devices
// from the same inputs and the same output gradient.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "autograd/device.h"
#include "autograd/ops.h"
#include "tests/cuda_skip.h"

namespace ag::test {

// Every CUDA test derives from this: SetUp skips the test when
// cuda_device_count() is 0, naming why (no device, or no CUDA in this build),
// and fails it instead under AG_REQUIRE_CUDA=1 (tests/cuda_skip.h).
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override { AG_SKIP_WITHOUT_CUDA(); }
};

// |actual - expected| <= atol + rtol * |expected| for every element.
struct Tol {
  double atol = 0.0, rtol = 0.0;
};

// Compares a tensor on any device with a CPU reference of the same shape.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, Tol tol);

// A CPU leaf of standard normals times scale (plus shift), from Generator(seed).
Tensor normal_leaf(const Shape& shape, uint64_t seed, DType dtype = DType::F32, double scale = 1.0,
                   double shift = 0.0);

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs f on `inputs` (CPU) and on copies moved to CUDA (leaves requiring grad
// as the originals do), expects the CUDA output on CUDA and within `forward`
// of the CPU one; then runs backward on both from the same random output
// gradient and expects every input's gradient within `backward`.
void expect_cuda_matches_cpu(const OpFn& f, const std::vector<Tensor>& inputs, Tol forward,
                             Tol backward);

}  // namespace ag::test

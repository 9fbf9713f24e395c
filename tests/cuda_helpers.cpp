#include "tests/cuda_helpers.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace ag::test {

namespace {

// Prints once per run why every CUDA test skips, so the reason shows in the
// test log even where skip messages are not shown.
class CudaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (cuda_device_count() == 0)
      std::fprintf(stderr, "CUDA tests skip: no CUDA device present (%s)\n",
                   cuda_unavailable_reason().c_str());
  }
};

::testing::Environment* const kCudaEnvironment =
    ::testing::AddGlobalTestEnvironment(new CudaEnvironment);

}  // namespace

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, Tol tol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure()
           << "shape " << shape_str(actual.shape()) << " vs " << shape_str(expected.shape());
  const std::vector<double> a = actual.to_vector<double>(), e = expected.to_vector<double>();
  size_t worst = 0, bad = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double excess = std::abs(a[i] - e[i]) - (tol.atol + tol.rtol * std::abs(e[i]));
    if (excess > 0 || std::isnan(a[i]) != std::isnan(e[i])) ++bad;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream msg;
  msg.precision(9);
  msg << bad << " of " << a.size() << " elements differ beyond atol " << tol.atol << ", rtol "
      << tol.rtol << "; worst at " << worst << ": " << a[worst] << " vs " << e[worst];
  return ::testing::AssertionFailure() << msg.str();
}

Tensor normal_leaf(const Shape& shape, uint64_t seed, DType dtype, double scale, double shift) {
  Generator gen(seed);
  NoGradGuard no_grad;
  return affine(randn(shape, &gen, dtype), scale, shift).set_requires_grad(true);
}

void expect_cuda_matches_cpu(const OpFn& f, const std::vector<Tensor>& inputs, Tol forward,
                             Tol backward) {
  std::vector<Tensor> on_cpu, on_cuda;
  for (const Tensor& t : inputs) {
    on_cpu.push_back(t.detach().clone().set_requires_grad(t.requires_grad()));
    on_cuda.push_back(t.detach().to(Device::CUDA).set_requires_grad(t.requires_grad()));
  }
  const Tensor y_cpu = f(on_cpu), y_cuda = f(on_cuda);
  ASSERT_EQ(y_cuda.device(), Device::CUDA);
  EXPECT_TRUE(all_close(y_cuda, y_cpu, forward)) << "forward";
  ASSERT_EQ(y_cuda.requires_grad(), y_cpu.requires_grad());
  if (!y_cpu.requires_grad()) return;  // no input requires grad: nothing to compare
  Generator gen(12345);
  const Tensor dy = randn(y_cpu.shape(), &gen, y_cpu.dtype());
  y_cpu.backward(dy);
  y_cuda.backward(dy.to(Device::CUDA));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    ASSERT_TRUE(on_cuda[i].grad().defined()) << "input " << i;
    EXPECT_EQ(on_cuda[i].grad().device(), Device::CUDA) << "input " << i;
    EXPECT_TRUE(all_close(on_cuda[i].grad(), on_cpu[i].grad(), backward))
        << "gradient of input " << i;
  }
}

}  // namespace ag::test

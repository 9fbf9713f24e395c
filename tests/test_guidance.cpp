// Classifier-free guidance (Ho & Salimans 2022) with a stub model whose
// conditional and unconditional predictions are known: the guided output is
// exactly (1 + w) eps(x, y) - w eps(x, none), computed from one batch of 2N.
#include <gtest/gtest.h>

#include <vector>

#include "diffusion/guidance.h"
#include "tests/diffusion_math_helpers.h"

namespace diffusion::guidance_test {

using ag::DType;
using namespace diffusion::test;

struct Calls {
  std::vector<int64_t> batch;
  std::vector<int32_t> labels, t;
};

// eps(x, t, y) = 0.5 x + 0.1 y per pixel (+ 1 for a second, variance, half).
ConditionalDenoiser stub(Calls& calls, bool learned) {
  return [&calls, learned](const Tensor& x, const Tensor& t, const Tensor& y) {
    calls.batch.push_back(x.size(0));
    calls.labels = y.to_vector<int32_t>();
    calls.t = t.to_vector<int32_t>();
    const Tensor label = ag::reshape(y.to(DType::F64), {y.numel(), 1, 1, 1});
    const Tensor eps = x * 0.5 + label * 0.1;
    return learned ? ag::concat({eps, eps + 1.0}, 1) : eps;
  };
}

TEST(ClassifierFreeGuidance, IsTheWeightedDifferenceOfOneBatch) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
  const Tensor y = ag::from_vector(std::vector<int32_t>{7, 2}, {2}), t = steps({5, 9});
  for (double w : {0.0, 1.0, 3.5}) {
    Calls calls;
    const std::vector<double> got =
        vals(classifier_free_guidance(stub(calls, false), y, 10, w)(x, t));
    EXPECT_EQ(calls.batch, (std::vector<int64_t>{4}));
    EXPECT_EQ(calls.labels, (std::vector<int32_t>{7, 2, 10, 10}));
    EXPECT_EQ(calls.t, (std::vector<int32_t>{5, 9, 5, 9}));
    const std::vector<double> xv = vals(x);
    for (int i = 0; i < 8; ++i) {
      const double label = i < 4 ? 7 : 2;
      const double cond = 0.5 * xv[i] + 0.1 * label, none = 0.5 * xv[i] + 0.1 * 10;
      EXPECT_NEAR(got[i], (1 + w) * cond - w * none, 1e-12) << w << " " << i;
    }
  }
}

// With learned variances only the mean's C channels are guided; the variance
// channels are the conditional prediction's.
TEST(ClassifierFreeGuidance, LeavesTheVarianceChannelsConditional) {
  const Tensor x = f64({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor y = ag::from_vector(std::vector<int32_t>{4}, {1});
  Calls calls;
  const Tensor out = classifier_free_guidance(stub(calls, true), y, 10, 2.0)(x, steps({1}));
  ASSERT_EQ(out.shape(), (ag::Shape{1, 2, 2, 2}));
  const std::vector<double> got = vals(out), xv = vals(x);
  for (int i = 0; i < 4; ++i) {
    const double cond = 0.5 * xv[i] + 0.4, none = 0.5 * xv[i] + 1.0;
    EXPECT_NEAR(got[i], 3 * cond - 2 * none, 1e-12);
    EXPECT_NEAR(got[4 + i], cond + 1.0, 1e-12);
  }
  EXPECT_THROW(classifier_free_guidance(stub(calls, true), y, 10, 2.0)(
                   f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2}), steps({1, 1})),
               std::runtime_error);
}

}  // namespace diffusion::guidance_test

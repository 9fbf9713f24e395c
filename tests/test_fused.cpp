// The fused in-place updates (autograd/fused.h): values against the formulas
// they implement, the version bump of every tensor they write, and their
// errors.
#include <cmath>

#include "autograd/fused.h"
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Fused, AdamStepMatchesItsFormula) {
  Tensor p = from_vector(std::vector<double>{1.0, -2.0}, {2});
  Tensor g = from_vector(std::vector<double>{0.5, -1.0}, {2});
  Tensor m = from_vector(std::vector<double>{0.1, 0.2}, {2});
  Tensor v = from_vector(std::vector<double>{0.04, 0.09}, {2});
  AdamStepArgs a;
  a.lr = 0.1;
  a.bias_correction1 = 1 - 0.9 * 0.9;      // step 2
  a.bias_correction2 = 1 - 0.999 * 0.999;  // step 2
  const uint64_t versions[] = {p.version(), m.version(), v.version()};
  fused::adam_step(p, g, m, v, a);
  std::vector<double> want_p, want_m, want_v;
  const double p0[] = {1.0, -2.0}, g0[] = {0.5, -1.0}, m0[] = {0.1, 0.2}, v0[] = {0.04, 0.09};
  for (int i = 0; i < 2; ++i) {
    const double mi = 0.9 * m0[i] + 0.1 * g0[i], vi = 0.999 * v0[i] + 0.001 * g0[i] * g0[i];
    want_m.push_back(mi);
    want_v.push_back(vi);
    want_p.push_back(p0[i] - 0.1 * (mi / a.bias_correction1) /
                                 (std::sqrt(vi / a.bias_correction2) + a.eps));
  }
  EXPECT_TRUE(values_near(m, want_m, 1e-12));
  EXPECT_TRUE(values_near(v, want_v, 1e-12));
  EXPECT_TRUE(values_near(p, want_p, 1e-12));
  EXPECT_GT(p.version(), versions[0]);
  EXPECT_GT(m.version(), versions[1]);
  EXPECT_GT(v.version(), versions[2]);
}

TEST(Fused, EmaUpdateAndScale) {
  Tensor ema = from_vector(std::vector<float>{1.f, 2.f}, {2});
  Tensor param = from_vector(std::vector<float>{3.f, -2.f}, {2});
  const uint64_t before = ema.version();
  fused::ema_update(ema, param, 0.75);
  EXPECT_TRUE(values_near(ema, {0.75 * 1 + 0.25 * 3, 0.75 * 2 + 0.25 * -2}));
  EXPECT_GT(ema.version(), before);
  fused::scale_(param, -0.5);
  EXPECT_TRUE(values_near(param, {-1.5, 1.0}));
}

TEST(Fused, AddSumSquaresAccumulatesInDouble) {
  Tensor acc = zeros({1}, DType::F64);
  fused::add_sum_squares(from_vector(std::vector<float>{3.f, 4.f}, {2}), acc);
  fused::add_sum_squares(from_vector(std::vector<double>{1.0}, {1}), acc);
  EXPECT_DOUBLE_EQ(acc.item(), 26.0);
}

TEST(Fused, RefusesStridedAndMismatchedTensors) {
  Tensor x = zeros({2, 3});
  Tensor strided = transpose(x, 0, 1);
  EXPECT_THROW(fused::scale_(strided, 2.0), std::runtime_error);
  EXPECT_THROW(fused::ema_update(zeros({3}), zeros({2}), 0.5), std::runtime_error);
  EXPECT_THROW(fused::add_sum_squares(x, zeros({1})), std::runtime_error);  // float32 acc
  AdamStepArgs a;
  EXPECT_THROW(fused::adam_step(zeros({2}), zeros({2}), zeros({3}), zeros({2}), a),
               std::runtime_error);
  EXPECT_THROW(fused::adam_step(zeros({2}), zeros({2}, DType::F64), zeros({2}), zeros({2}), a),
               std::runtime_error);
}

}  // namespace ag::test

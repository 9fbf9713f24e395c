// Unary ops: forward values at hand-checked points, and gradient checks.
#include <cmath>
#include <limits>
#include <vector>

#include "tests/gradcheck.h"

namespace ag::test {

TEST(Unary, ForwardValues) {
  Tensor x = from_vector(std::vector<double>{-1.0, 0.0, 2.0}, {3});
  Tensor p = from_vector(std::vector<double>{0.25, 1.0, 4.0}, {3});
  EXPECT_TRUE(values_near(neg(x), {1, 0, -2}));
  EXPECT_TRUE(values_near(exp(x), {std::exp(-1.0), 1.0, std::exp(2.0)}));
  EXPECT_TRUE(values_near(log(p), {std::log(0.25), 0.0, std::log(4.0)}));
  EXPECT_TRUE(values_near(sqrt(p), {0.5, 1.0, 2.0}));
  EXPECT_TRUE(values_near(pow(p, 1.5), {0.125, 1.0, 8.0}));
  EXPECT_TRUE(values_near(square(x), {1, 0, 4}));
  EXPECT_TRUE(values_near(sigmoid(x), {1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-2.0))}));
  EXPECT_TRUE(values_near(silu(x), {-1 / (1 + std::exp(1.0)), 0.0, 2 / (1 + std::exp(-2.0))}));
  EXPECT_TRUE(values_near(tanh(x), {std::tanh(-1.0), 0.0, std::tanh(2.0)}));
  EXPECT_TRUE(values_near(affine(x, 3.0, 1.0), {-2, 1, 7}));
  EXPECT_TRUE(values_near(x * 2.0 + 1.0, {-1, 1, 5}));
  EXPECT_TRUE(values_near(x / 4.0 - 1.0, {-1.25, -1, -0.5}));
}

TEST(Unary, ExtremeInputsStayFinite) {
  Tensor x = from_vector(std::vector<float>{-100.f, 100.f}, {2});
  EXPECT_TRUE(values_near(sigmoid(x), {0.0, 1.0}));
  EXPECT_TRUE(values_near(silu(x), {0.0, 100.0}, 1e-4));
  EXPECT_TRUE(values_near(tanh(x), {-1.0, 1.0}));
}

// float32 exp is the vectorizable fast_exp: NaN stays NaN, inf gives inf and
// -inf 0, as std::exp (without converting NaN to an integer on the way,
// which UBSan reported in tests/fuzz's builds).
TEST(Unary, Float32ExpOfNanAndInfinities) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> e =
      exp(from_vector(std::vector<float>{std::nanf(""), inf, -inf, 0.0f}, {4})).to_vector<float>();
  EXPECT_TRUE(std::isnan(e[0]));
  EXPECT_EQ(e[1], inf);
  EXPECT_EQ(e[2], 0.0f);
  EXPECT_EQ(e[3], 1.0f);
}

TEST(Unary, Gradcheck) {
  Tensor x = rand_leaf({2, 3}, 11);
  Tensor p = (square(rand_leaf({2, 3}, 12)) + 0.5).detach().set_requires_grad(true);
  EXPECT_TRUE(gradcheck([](auto& v) { return neg(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return exp(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return log(v[0]); }, {p}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sqrt(v[0]); }, {p}));
  EXPECT_TRUE(gradcheck([](auto& v) { return pow(v[0], 2.5); }, {p}));
  EXPECT_TRUE(gradcheck([](auto& v) { return pow(v[0], -1.0); }, {p}));
  EXPECT_TRUE(gradcheck([](auto& v) { return square(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sigmoid(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return silu(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return tanh(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return affine(v[0], -3.0, 2.0); }, {x}));
}

TEST(Unary, GradcheckNonContiguous) {
  Tensor x = rand_leaf({3, 4}, 13);
  EXPECT_TRUE(gradcheck([](auto& v) { return silu(transpose(v[0], 0, 1)); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return exp(slice(v[0], 1, 1, 3)); }, {x}));
}

TEST(Unary, PowZeroHasZeroGradientAtZero) {
  Tensor x = from_vector(std::vector<double>{0.0, 2.0}, {2}).set_requires_grad();
  sum(pow(x, 0.0)).backward();
  EXPECT_TRUE(values_near(x.grad(), {0.0, 0.0}));
}

TEST(Unary, ClampValuesAndGradient) {
  Tensor x = from_vector(std::vector<double>{-2.0, -0.5, 0.5, 3.0}, {4}).set_requires_grad();
  Tensor y = clamp(x, -1.0, 1.0);
  EXPECT_TRUE(values_near(y, {-1.0, -0.5, 0.5, 1.0}));
  sum(y).backward();
  EXPECT_TRUE(values_near(x.grad(), {0.0, 1.0, 1.0, 0.0}));
  EXPECT_TRUE(values_near(clamp(x, 0.0, INFINITY), {0.0, 0.0, 0.5, 3.0}));
  EXPECT_THROW(clamp(x, 1.0, -1.0), std::runtime_error);
  Tensor inside =
      (rand_leaf({2, 3}, 14) * 0.3).detach().set_requires_grad(true);  // away from the bounds
  EXPECT_TRUE(gradcheck([](auto& v) { return clamp(v[0], -2.0, 2.0); }, {inside}));
  EXPECT_TRUE(
      gradcheck([](auto& v) { return clamp(v[0] * 10.0, -1.0, 1.0); },
                {from_vector(std::vector<double>{-0.5, 0.05, 0.5}, {3}).set_requires_grad()}));
}

}  // namespace ag::test

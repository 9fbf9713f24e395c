// group_norm and softmax: forward values against hand-computed examples and
// naive double-precision references, gradients by central differences, and
// the shapes a U-Net uses (N=4, C=32, 28x28 activations; attention scores).
#include <cmath>
#include <stdexcept>
#include <string>

#include "tests/gradcheck.h"

namespace ag {
namespace {

using test::gradcheck;
using test::gradcheck_directional;
using test::rand_leaf;
using test::values_near;

// Standard normals * scale + shift, drawn in float64 and then cast to dtype.
Tensor sample(const Shape& shape, uint64_t seed, DType dtype, double scale = 1.0,
              double shift = 0.0) {
  Generator gen(seed);
  std::vector<double> v = randn(shape, &gen, DType::F64).to_vector<double>();
  for (double& e : v) e = e * scale + shift;
  return from_vector(v, shape).to(dtype);
}

// PyTorch's GroupNorm in double loops: biased variance over each (n, group).
std::vector<double> reference_group_norm(const Tensor& x, int64_t G, const Tensor& gamma,
                                         const Tensor& beta, double eps) {
  const std::vector<double> xv = x.to_vector<double>();
  const std::vector<double> gv = gamma.to_vector<double>();
  const std::vector<double> bv = beta.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), HW = x.numel() / (N * C), Cg = C / G;
  std::vector<double> y(xv.size());
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      const int64_t begin = (n * C + g * Cg) * HW, end = begin + Cg * HW;
      double mean = 0.0, var = 0.0;
      for (int64_t i = begin; i < end; ++i) mean += xv[i];
      mean /= static_cast<double>(Cg * HW);
      for (int64_t i = begin; i < end; ++i) var += (xv[i] - mean) * (xv[i] - mean);
      var /= static_cast<double>(Cg * HW);
      for (int64_t i = begin; i < end; ++i) {
        const int64_t c = i / HW % C;
        y[i] = (xv[i] - mean) / std::sqrt(var + eps) * gv[c] + bv[c];
      }
    }
  }
  return y;
}

// exp(x) / sum exp(x) along `axis`, in double loops (inputs here are small).
std::vector<double> reference_softmax(const Tensor& x, int axis) {
  const std::vector<double> xv = x.to_vector<double>();
  const int a = axis < 0 ? axis + x.dim() : axis;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < a; ++i) outer *= x.size(i);
  for (int i = a + 1; i < x.dim(); ++i) inner *= x.size(i);
  const int64_t D = x.size(a);
  std::vector<double> y(xv.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      double total = 0.0;
      for (int64_t d = 0; d < D; ++d) total += std::exp(xv[(o * D + d) * inner + in]);
      for (int64_t d = 0; d < D; ++d) {
        const int64_t i = (o * D + d) * inner + in;
        y[i] = std::exp(xv[i]) / total;
      }
    }
  }
  return y;
}

// Asserts that `f` throws std::runtime_error whose message contains `text`.
template <class F>
::testing::AssertionResult throws_with(F&& f, const std::string& text) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find(text) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message \"" << e.what() << "\" lacks \"" << text << "\"";
  }
  return ::testing::AssertionFailure() << "no std::runtime_error thrown";
}

double tolerance(DType t) { return t == DType::F32 ? 2e-5 : 1e-12; }

struct GroupNormCase {
  Shape shape;
  int64_t G;
};

const GroupNormCase kGroupNormCases[] = {
    {{2, 4, 3, 3}, 2}, {{2, 4, 3, 3}, 1},    {{2, 4, 3, 3}, 4},
    {{3, 6, 5}, 3},    {{1, 8, 2, 2, 3}, 2}, {{2, 6}, 3},
};

// ---------------------------------------------------------------- GroupNorm

TEST(GroupNormForward, OneGroupHandComputed) {
  // x = [1, 2, 3, 4]: mean 2.5, biased variance 1.25, so with eps = 0 the
  // normalized values are (x - 2.5) / sqrt(1.25) = [-3, -1, 1, 3] / sqrt(5).
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {1, 2, 2});
  const double r5 = std::sqrt(5.0);
  Tensor y = group_norm(x, 1, ones({2}, DType::F64), zeros({2}, DType::F64), 0.0);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2}));
  EXPECT_TRUE(values_near(y, {-3 / r5, -1 / r5, 1 / r5, 3 / r5}, 1e-12));

  // gamma and beta act per channel: channel 0 holds x[0..1], channel 1 x[2..3].
  Tensor gamma = from_vector(std::vector<double>{2, -1}, {2});
  Tensor beta = from_vector(std::vector<double>{0.5, 1}, {2});
  EXPECT_TRUE(values_near(group_norm(x, 1, gamma, beta, 0.0),
                          {-6 / r5 + 0.5, -2 / r5 + 0.5, -1 / r5 + 1, -3 / r5 + 1}, 1e-12));
}

TEST(GroupNormForward, EpsEntersTheVariance) {
  // Two channels, two groups: each group is one channel [0, 2], mean 1, var 1.
  Tensor x = from_vector(std::vector<double>{0, 2, 0, 2}, {1, 2, 2});
  Tensor y = group_norm(x, 2, ones({2}, DType::F64), zeros({2}, DType::F64), 3.0);
  EXPECT_TRUE(values_near(y, {-0.5, 0.5, -0.5, 0.5}, 1e-12));  // 1 / sqrt(1 + 3)
}

TEST(GroupNormForward, MatchesReference) {
  for (DType dt : {DType::F32, DType::F64}) {
    uint64_t seed = 1;
    for (const GroupNormCase& c : kGroupNormCases) {
      SCOPED_TRACE(shape_str(c.shape) + " G=" + std::to_string(c.G) + " " + dtype_name(dt));
      Tensor x = sample(c.shape, seed++, dt, 2.0, 3.0);
      Tensor gamma = sample({c.shape[1]}, seed++, dt);
      Tensor beta = sample({c.shape[1]}, seed++, dt);
      Tensor y = group_norm(x, c.G, gamma, beta);
      EXPECT_EQ(y.shape(), c.shape);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_TRUE(values_near(y, reference_group_norm(x, c.G, gamma, beta, 1e-5), tolerance(dt)));
    }
  }
}

TEST(GroupNormForward, NormalizesEachGroup) {
  Tensor x = sample({3, 6, 4, 4}, 7, DType::F64, 5.0, -2.0);
  std::vector<double> y =
      group_norm(x, 3, ones({6}, DType::F64), zeros({6}, DType::F64), 0.0).to_vector<double>();
  const int64_t M = 2 * 16;  // elements per group
  for (size_t begin = 0; begin < y.size(); begin += M) {
    double mean = 0.0, sq = 0.0;
    for (size_t i = begin; i < begin + M; ++i) mean += y[i];
    for (size_t i = begin; i < begin + M; ++i) sq += y[i] * y[i];
    EXPECT_NEAR(mean / M, 0.0, 1e-12);
    EXPECT_NEAR(sq / M, 1.0, 1e-12);
  }
}

TEST(GroupNormForward, NonContiguousInput) {
  Tensor base = sample({4, 2, 3}, 11, DType::F64);
  Tensor x = transpose(base, 0, 1);  // (2, 4, 3), not contiguous
  ASSERT_FALSE(x.is_contiguous());
  Tensor gamma = sample({4}, 12, DType::F64);
  Tensor beta = sample({4}, 13, DType::F64);
  EXPECT_TRUE(values_near(group_norm(x, 2, gamma, beta),
                          reference_group_norm(x.contiguous(), 2, gamma, beta, 1e-5), 1e-12));
}

TEST(GroupNormGrad, FullJacobian) {
  uint64_t seed = 100;
  for (const GroupNormCase& c : kGroupNormCases) {
    SCOPED_TRACE(shape_str(c.shape) + " G=" + std::to_string(c.G));
    Tensor x = rand_leaf(c.shape, seed++);
    Tensor gamma = rand_leaf({c.shape[1]}, seed++);
    Tensor beta = rand_leaf({c.shape[1]}, seed++);
    const int64_t G = c.G;
    EXPECT_TRUE(
        gradcheck([G](const std::vector<Tensor>& in) { return group_norm(in[0], G, in[1], in[2]); },
                  {x, gamma, beta}));
  }
}

TEST(GroupNormGrad, SubsetOfInputsRequiresGrad) {
  auto f = [](const std::vector<Tensor>& in) { return group_norm(in[0], 2, in[1], in[2]); };
  Tensor x = rand_leaf({2, 4, 3, 3}, 21);
  Tensor gamma = rand_leaf({4}, 22);
  Tensor beta = rand_leaf({4}, 23);

  x.set_requires_grad(false);
  EXPECT_TRUE(gradcheck(f, {x, gamma, beta}));

  x.set_requires_grad(true);
  gamma.set_requires_grad(false);
  beta.set_requires_grad(false);
  EXPECT_TRUE(gradcheck(f, {x, gamma, beta}));

  x.set_requires_grad(false);
  beta.set_requires_grad(true);
  EXPECT_TRUE(gradcheck(f, {x, gamma, beta}));
}

TEST(GroupNormGrad, NonContiguousInput) {
  Tensor x = rand_leaf({4, 2, 3}, 31);
  Tensor gamma = rand_leaf({4}, 32);
  Tensor beta = rand_leaf({4}, 33);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) {
        return group_norm(transpose(in[0], 0, 1), 2, in[1], in[2]);
      },
      {x, gamma, beta}));
}

TEST(GroupNormGrad, ParamGradsAreSums) {
  // With upstream gradient 1: dbeta[c] = N * HW, dgamma[c] = sum of xhat over
  // channel c; with one channel per group that sum is 0 for every c.
  Tensor x = rand_leaf({3, 4, 5}, 41);
  Tensor gamma = rand_leaf({4}, 42);
  Tensor beta = rand_leaf({4}, 43);
  sum(group_norm(x, 4, gamma, beta)).backward();
  EXPECT_TRUE(values_near(beta.grad(), {15, 15, 15, 15}, 1e-12));
  EXPECT_TRUE(values_near(gamma.grad(), {0, 0, 0, 0}, 1e-10));
  EXPECT_TRUE(values_near(x.grad(), std::vector<double>(60, 0.0), 1e-10));
}

TEST(GroupNormUNet, Forward) {
  const Shape shape{4, 32, 28, 28};
  for (DType dt : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = sample(shape, 51, dt, 3.0, 1.0);
    Tensor gamma = sample({32}, 52, dt);
    Tensor beta = sample({32}, 53, dt);
    EXPECT_TRUE(values_near(group_norm(x, 8, gamma, beta),
                            reference_group_norm(x, 8, gamma, beta, 1e-5), tolerance(dt)));
  }
}

TEST(GroupNormUNet, Directional) {
  Tensor x = rand_leaf({4, 32, 28, 28}, 61);
  Tensor gamma = rand_leaf({32}, 62);
  Tensor beta = rand_leaf({32}, 63);
  EXPECT_TRUE(gradcheck_directional(
      [](const std::vector<Tensor>& in) { return group_norm(in[0], 8, in[1], in[2]); },
      {x, gamma, beta}));
}

TEST(GroupNormErrors, BadArguments) {
  Tensor x = zeros({2, 30, 4, 4}, DType::F64);
  Tensor p30 = ones({30}, DType::F64);
  EXPECT_TRUE(throws_with([&] { group_norm(x, 8, p30, p30); },
                          "group_norm: 30 channels are not divisible into 8 groups"));
  EXPECT_TRUE(throws_with([&] { group_norm(x, 0, p30, p30); }, "group_norm:"));
  Tensor p8 = ones({8}, DType::F64);
  EXPECT_TRUE(throws_with([&] { group_norm(x, 6, p8, p30); }, "group_norm: gamma has shape"));
  EXPECT_TRUE(throws_with([&] { group_norm(x, 6, p30, p8); }, "group_norm: beta has shape"));
  EXPECT_TRUE(throws_with(
      [&] {
        group_norm(x, 6, ones({30, 1}, DType::F64), p30);
      },
      "group_norm: gamma has shape"));
  EXPECT_TRUE(throws_with([&] { group_norm(ones({30}, DType::F64), 6, p30, p30); }, "group_norm:"));
  EXPECT_TRUE(throws_with([&] { group_norm(x, 6, ones({30}), p30); }, "group_norm:"));
  EXPECT_THROW(group_norm(x, 6, Tensor(), p30), std::runtime_error);
  EXPECT_NO_THROW(group_norm(x, 6, p30, p30));
}

// ------------------------------------------------------------------ Softmax

TEST(SoftmaxForward, HandComputed) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3}, {3});
  const std::vector<double> expected{0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
  EXPECT_TRUE(values_near(softmax(x, 0), expected, 1e-15));
  EXPECT_TRUE(values_near(softmax(x.to(DType::F32), -1), expected, 1e-7));

  // Along axis 0 of [[1, 2], [1, 4]]: column 0 ties, column 1 is (e^-2, 1) / sum.
  Tensor m = from_vector(std::vector<double>{1, 2, 1, 4}, {2, 2});
  const double lo = 1 / (1 + std::exp(2.0));
  EXPECT_TRUE(values_near(softmax(m, 0), {0.5, lo, 0.5, 1 - lo}, 1e-15));
}

TEST(SoftmaxForward, MatchesReference) {
  struct Case {
    Shape shape;
    int axis;
  };
  const Case cases[] = {{{7}, 0},        {{3, 4, 5}, 0},  {{3, 4, 5}, 1},    {{3, 4, 5}, 2},
                        {{3, 4, 5}, -1}, {{3, 4, 5}, -3}, {{2, 3, 4, 5}, 2}, {{5, 1, 3}, 1}};
  for (DType dt : {DType::F32, DType::F64}) {
    uint64_t seed = 200;
    for (const Case& c : cases) {
      SCOPED_TRACE(shape_str(c.shape) + " axis " + std::to_string(c.axis) + " " + dtype_name(dt));
      Tensor x = sample(c.shape, seed++, dt, 2.0);
      Tensor y = softmax(x, c.axis);
      EXPECT_EQ(y.shape(), c.shape);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_TRUE(values_near(y, reference_softmax(x, c.axis), dt == DType::F32 ? 1e-6 : 1e-14));
    }
  }
}

TEST(SoftmaxForward, LinesSumToOne) {
  Tensor x = sample({5, 6, 7}, 300, DType::F32, 4.0);
  std::vector<double> y = softmax(x, 1).to_vector<double>();
  for (int64_t o = 0; o < 5; ++o) {
    for (int64_t i = 0; i < 7; ++i) {
      double total = 0.0;
      for (int64_t d = 0; d < 6; ++d) {
        const double v = y[(o * 6 + d) * 7 + i];
        EXPECT_GT(v, 0.0);
        total += v;
      }
      EXPECT_NEAR(total, 1.0, 1e-6);
    }
  }
}

TEST(SoftmaxForward, StableForLargeInputs) {
  const std::vector<double> expected{0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
  for (DType dt : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = dt == DType::F32 ? 1e-6 : 1e-15;
    Tensor big = from_vector(std::vector<double>{1000, 1001, 1002}, {3}).to(dt);
    EXPECT_TRUE(values_near(softmax(big, 0), expected, tol));
    Tensor small = from_vector(std::vector<double>{-1002, -1001, -1000}, {3}).to(dt);
    EXPECT_TRUE(values_near(softmax(small, 0), expected, tol));
    Tensor spread = from_vector(std::vector<double>{-1000, 1000}, {1, 2}).to(dt);
    EXPECT_TRUE(values_near(softmax(spread, 1), {0.0, 1.0}, 0.0));
  }
}

TEST(SoftmaxForward, NonContiguousInput) {
  Tensor base = sample({4, 3, 5}, 400, DType::F64);
  Tensor x = transpose(base, 0, 1);  // (3, 4, 5), not contiguous
  ASSERT_FALSE(x.is_contiguous());
  for (int axis : {0, 1, 2})
    EXPECT_TRUE(values_near(softmax(x, axis), reference_softmax(x.contiguous(), axis), 1e-14));
}

TEST(SoftmaxGrad, FullJacobian) {
  for (int axis : {0, 1, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    Tensor x = rand_leaf({3, 4, 5}, 500 + axis);
    EXPECT_TRUE(
        gradcheck([axis](const std::vector<Tensor>& in) { return softmax(in[0], axis); }, {x}));
  }
}

TEST(SoftmaxGrad, NonContiguousInput) {
  Tensor x = rand_leaf({4, 3, 5}, 510);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) { return softmax(transpose(in[0], 0, 1), 1); }, {x}));
}

TEST(SoftmaxGrad, GradientOfASumIsZero) {
  // Each line sums to 1 whatever x is, so d(sum y)/dx = 0.
  Tensor x = rand_leaf({3, 4, 5}, 520, 3.0);
  sum(softmax(x, 1)).backward();
  EXPECT_TRUE(values_near(x.grad(), std::vector<double>(60, 0.0), 1e-14));
}

TEST(SoftmaxUNet, AttentionScores) {
  // Scores (N * heads, HW, HW) at 14x14, softmax over the keys.
  Tensor x = rand_leaf({4, 196, 196}, 600, 3.0);
  EXPECT_TRUE(values_near(softmax(x, -1), reference_softmax(x, -1), 1e-14));
  EXPECT_TRUE(
      gradcheck_directional([](const std::vector<Tensor>& in) { return softmax(in[0], -1); }, {x}));
}

TEST(SoftmaxUNet, OverChannels) {
  Tensor x = rand_leaf({4, 32, 28, 28}, 610, 2.0);
  EXPECT_TRUE(values_near(softmax(x, 1), reference_softmax(x, 1), 1e-14));
  EXPECT_TRUE(
      gradcheck_directional([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {x}));
}

TEST(SoftmaxErrors, BadArguments) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_TRUE(throws_with([&] { softmax(x, 3); }, "softmax: axis 3 out of range"));
  EXPECT_TRUE(throws_with([&] { softmax(x, -4); }, "softmax: axis -4 out of range"));
  EXPECT_THROW(softmax(Tensor(), 0), std::runtime_error);
  EXPECT_TRUE(throws_with(
      [] {
        softmax(from_vector(std::vector<int32_t>{1, 2}, {2}), 0);
      },
      "softmax: expected a floating-point tensor"));
  EXPECT_NO_THROW(softmax(x, -3));
}

}  // namespace
}  // namespace ag

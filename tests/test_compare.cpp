// greater, less and where: values by hand (broadcasting, ties, NaN), masks
// without gradient, where's gradient for both branches by gradcheck, exact
// zeros for the branch not taken even when it holds inf or NaN, and the
// argument errors.
#include <cmath>
#include <limits>
#include <string>

#include "tests/gradcheck.h"

namespace ag::test {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor vec(const std::vector<double>& v, const Shape& shape) { return from_vector(v, shape); }

// Expects f() to throw a runtime_error whose message contains `part`.
void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one containing \"" << part << "\"";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Compare, GreaterAndLessBroadcast) {
  Tensor a = vec({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = vec({2, 2, 7}, {3});  // (3) against (2, 3)
  Tensor col = vec({3, 5}, {2, 1});  // (2, 1) against (2, 3)
  EXPECT_TRUE(values_near(greater(a, row), {0, 0, 0, 1, 1, 0}));
  EXPECT_TRUE(values_near(less(a, row), {1, 0, 1, 0, 0, 1}));
  EXPECT_TRUE(values_near(greater(a, col), {0, 0, 0, 0, 0, 1}));
  EXPECT_TRUE(values_near(less(col, a), {0, 0, 0, 0, 0, 1}));  // less(b, a) = greater(a, b)
  EXPECT_TRUE(values_near(greater(a, 3.0), {0, 0, 0, 1, 1, 1}));
  EXPECT_TRUE(values_near(less(a, 3.0), {1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(greater(col, row).shape(), (Shape{2, 3}));  // both grow
}

TEST(Compare, TiesAndNaNCompareFalse) {
  Tensor x = vec({1, kNaN, -kInf, kInf, -0.0}, {5});
  Tensor y = vec({1, 0, -kInf, 0, 0.0}, {5});
  EXPECT_TRUE(values_near(greater(x, y), {0, 0, 0, 1, 0}));
  EXPECT_TRUE(values_near(less(x, y), {0, 0, 0, 0, 0}));
  EXPECT_TRUE(values_near(greater(y, x), {0, 0, 0, 0, 0}));
  EXPECT_TRUE(values_near(greater(x, kNaN), {0, 0, 0, 0, 0}));
}

TEST(Compare, MasksKeepTheDtypeAndHaveNoGradient) {
  Tensor a = rand_leaf({2, 3}, 1), b = rand_leaf({3}, 2);
  Tensor m = greater(a, b);
  EXPECT_EQ(m.dtype(), DType::F64);
  EXPECT_FALSE(m.requires_grad());
  EXPECT_FALSE(less(a, 0.0).requires_grad());
  Tensor f = from_vector(std::vector<float>{-1.5f, 0.5f}, {2});
  EXPECT_EQ(greater(f, 0.0).dtype(), DType::F32);
  EXPECT_TRUE(values_near(greater(f, 0.0), {0, 1}));
}

TEST(Compare, WhereSelectsWithBroadcasting) {
  Tensor cond = vec({1, 0}, {2, 1});  // per row
  Tensor a = vec({10, 20, 30}, {3});  // per column
  Tensor b = vec({-1}, {});           // one value
  EXPECT_TRUE(values_near(where(cond, a, b), {10, 20, 30, -1, -1, -1}));
  Tensor c = vec({0, 2, -0.5, kNaN}, {4});  // any nonzero (NaN too) selects a
  EXPECT_TRUE(values_near(where(c, vec({1, 2, 3, 4}, {4}), vec({5, 6, 7, 8}, {4})), {5, 2, 3, 4}));
  Tensor m = vec({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor mt = transpose(m, 0, 1);  // a strided view: (3, 2), strides (1, 3)
  EXPECT_TRUE(values_near(where(greater(mt, 2.5), mt, vec({0}, {})), {0, 4, 0, 5, 3, 6}));
}

TEST(Compare, WhereKeepsInfAndNaNOutOfTheOtherBranch) {
  Tensor cond = vec({1, 0, 1, 0}, {4});
  Tensor a = vec({1, kInf, 3, kNaN}, {4}).set_requires_grad(true);
  Tensor b = vec({kNaN, 2, -kInf, 4}, {4}).set_requires_grad(true);
  Tensor y = where(cond, a, b);
  EXPECT_TRUE(values_near(y, {1, 2, 3, 4}));
  sum(y).backward();
  EXPECT_TRUE(values_near(a.grad(), {1, 0, 1, 0}));
  EXPECT_TRUE(values_near(b.grad(), {0, 1, 0, 1}));
  // What the select avoids: the blend spreads 0 * inf = NaN into every element.
  NoGradGuard no_grad;
  for (double v : (cond * a + (1.0 - cond) * b).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
}

TEST(Compare, WhereGivesExactZerosWhereTheOutputGradientIsNotFinite) {
  Tensor cond = vec({1, 0}, {2});
  Tensor a = rand_leaf({2}, 3), b = rand_leaf({2}, 4);
  Tensor y = where(cond, a, b);
  y.backward(vec({kInf, kNaN}, {2}));
  EXPECT_EQ(a.grad().to_vector<double>()[1], 0.0);
  EXPECT_EQ(b.grad().to_vector<double>()[0], 0.0);
}

TEST(Compare, WhereGradcheck) {
  Tensor cond = vec({1, 0, 0, 1, 1, 0}, {2, 3});
  Tensor a = rand_leaf({2, 3}, 5), b = rand_leaf({2, 3}, 6);
  EXPECT_TRUE(gradcheck([](auto& x) { return where(x[0], x[1], x[2]); }, {cond, a, b}));
  // The mask from the data itself, as the decoder likelihood builds it.
  EXPECT_TRUE(gradcheck(
      [](auto& x) { return where(greater(x[0].detach(), 0.0), exp(x[0]), square(x[0])); }, {a}));
}

TEST(Compare, WhereGradcheckBroadcasting) {
  Tensor cond = vec({1, 0, 1, 0, 0, 1, 1, 0}, {2, 1, 4});
  Tensor a = rand_leaf({3, 1}, 7), b = rand_leaf({4}, 8), scalar = rand_leaf({}, 9);
  Tensor full_a = rand_leaf({2, 3, 4}, 10);
  EXPECT_TRUE(gradcheck([](auto& x) { return where(x[0], x[1], x[2]); }, {cond, a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return where(x[0], x[1], x[2]); }, {cond, full_a, scalar}));
  Tensor row_cond = vec({0, 1, 1, 0}, {4});  // the output takes its shape from a
  EXPECT_TRUE(gradcheck([](auto& x) { return where(x[0], x[1], x[2]); }, {row_cond, full_a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return where(x[0], transpose(x[1], 0, 1), x[2]); },
                        {vec({1, 0, 0}, {3}), rand_leaf({3, 2}, 11), rand_leaf({2, 1}, 12)}));
}

TEST(Compare, ArgumentErrors) {
  Tensor d = zeros({2}, DType::F64), f = zeros({2}, DType::F32);
  Tensor idx = from_vector(std::vector<int32_t>{0, 1}, {2});
  expect_error([&] { greater(d, f); }, "greater: mixed dtypes (float64, float32)");
  expect_error([&] { less(f, d); }, "less: mixed dtypes");
  expect_error([&] { where(f, d, d); }, "where: mixed dtypes");
  expect_error([&] { where(d, d, f); }, "where: mixed dtypes");
  expect_error([&] { where(idx, d, d); }, "where: expected a floating-point tensor");
  expect_error([&] { greater(idx, 0.0); }, "greater: expected a floating-point tensor");
  expect_error([&] { greater(Tensor(), 0.0); }, "greater: undefined tensor");
  expect_error([&] { where(d, d, zeros({3}, DType::F64)); }, "where: shapes");
  expect_error([&] { greater(d, zeros({3}, DType::F64)); }, "greater: shapes");
}

}  // namespace ag::test

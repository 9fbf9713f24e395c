// add, sub, mul, div: forward values, NumPy broadcasting, and full-Jacobian
// gradient checks including broadcast operands, non-contiguous views and a
// tensor used twice.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Binary, ForwardValues) {
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector(std::vector<double>{10, 20}, {2});  // broadcast over rows
  EXPECT_TRUE(values_near(a + b, {11, 22, 13, 24}));
  EXPECT_TRUE(values_near(a - b, {-9, -18, -7, -16}));
  EXPECT_TRUE(values_near(a * b, {10, 40, 30, 80}));
  EXPECT_TRUE(values_near(a / b, {0.1, 0.1, 0.3, 0.2}));
  Tensor col = from_vector(std::vector<double>{1, 2}, {2, 1});
  EXPECT_TRUE(values_near(col * b, {10, 20, 20, 40}));  // (2,1) x (2) -> (2,2)
}

TEST(Binary, FloatMatchesDouble) {
  Generator gen(5);
  Tensor a = randn({3, 4, 5}, &gen), b = randn({4, 1}, &gen);
  std::vector<double> want = (a.to(DType::F64) * b.to(DType::F64)).to_vector<double>();
  EXPECT_TRUE(values_near(a * b, want, 1e-6));
}

TEST(Binary, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({4, 1, 3}, {5, 1}), (Shape{4, 5, 3}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}), (Shape{2, 3}));
  EXPECT_THROW(broadcast_shapes({2, 3}, {4}), std::runtime_error);
  EXPECT_THROW(zeros({2, 3}) + zeros({2}), std::runtime_error);
  EXPECT_THROW(zeros({2}) + zeros({2}, DType::F64), std::runtime_error);
}

TEST(Binary, Gradcheck) {
  Tensor a = rand_leaf({2, 3}, 1), b = rand_leaf({2, 3}, 2);
  Tensor pos = rand_leaf({2, 3}, 3);
  Tensor denom = (pos * pos + 0.5).detach().set_requires_grad(true);  // away from 0
  EXPECT_TRUE(gradcheck([](auto& x) { return add(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return sub(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return mul(x[0], x[1]); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return div(x[0], x[1]); }, {a, denom}));
}

TEST(Binary, GradcheckBroadcasting) {
  Tensor a = rand_leaf({2, 3, 4}, 1);
  Tensor row = rand_leaf({4}, 2), col = rand_leaf({3, 1}, 3), scalar = rand_leaf({}, 4);
  Tensor chan = rand_leaf({1, 3, 1}, 5);
  EXPECT_TRUE(gradcheck([](auto& x) { return add(x[0], x[1]); }, {a, row}));
  EXPECT_TRUE(gradcheck([](auto& x) { return mul(x[0], x[1]); }, {a, col}));
  EXPECT_TRUE(gradcheck([](auto& x) { return sub(x[1], x[0]); }, {a, scalar}));
  EXPECT_TRUE(gradcheck([](auto& x) { return div(x[0], exp(x[1])); }, {a, chan}));
  EXPECT_TRUE(gradcheck([](auto& x) { return mul(x[0], x[1]); }, {col, row}));  // both grow
}

TEST(Binary, GradcheckNonContiguousAndReuse) {
  Tensor a = rand_leaf({3, 4}, 1), b = rand_leaf({4, 3}, 2);
  EXPECT_TRUE(gradcheck([](auto& x) { return mul(x[0], transpose(x[1], 0, 1)); }, {a, b}));
  EXPECT_TRUE(gradcheck([](auto& x) { return mul(slice(x[0], 1, 1, 3), slice(x[0], 1, 0, 2)); },
                        {rand_leaf({3, 4}, 3)}));
  // a used twice: d(a*a + a)/da = 2a + 1
  EXPECT_TRUE(gradcheck([](auto& x) { return add(mul(x[0], x[0]), x[0]); }, {a}));
}

TEST(Binary, Expand) {
  Tensor x = from_vector(std::vector<double>{1, 2}, {2, 1});
  EXPECT_TRUE(values_near(expand(x, {2, 3}), {1, 1, 1, 2, 2, 2}));
  EXPECT_TRUE(gradcheck([](auto& v) { return expand(v[0], {4, 2, 3}); }, {rand_leaf({2, 1}, 7)}));
  EXPECT_THROW(expand(x, {3, 3}), std::runtime_error);
}

TEST(Binary, SumToUndoesBroadcast) {
  Tensor g = ones({2, 3, 4}, DType::F64);
  EXPECT_TRUE(values_near(sum_to(g, {3, 1}), {8, 8, 8}));
  EXPECT_TRUE(values_near(sum_to(g, {}), {24}));
}

}  // namespace ag::test

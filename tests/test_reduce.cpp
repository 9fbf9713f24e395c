// sum and mean over axes, with and without keepdim.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Reduce, ForwardValues) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(values_near(sum(x), {21}));
  EXPECT_EQ(sum(x).shape(), Shape{});
  EXPECT_TRUE(values_near(sum(x, {0}), {5, 7, 9}));
  EXPECT_TRUE(values_near(sum(x, {1}), {6, 15}));
  EXPECT_TRUE(values_near(sum(x, {-1}, true), {6, 15}));
  EXPECT_EQ(sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_TRUE(values_near(mean(x), {3.5}));
  EXPECT_TRUE(values_near(mean(x, {0}), {2.5, 3.5, 4.5}));
  EXPECT_TRUE(values_near(mean(x, {0, 1}, true), {3.5}));
  EXPECT_EQ(mean(x, {0, 1}, true).shape(), (Shape{1, 1}));
}

TEST(Reduce, LargeFloatSumIsAccurate) {
  Tensor x = full({1 << 22}, 0.1);  // float32; accumulation runs in double
  EXPECT_NEAR(sum(x).item(), 0.1f * (1 << 22), 1.0);
  Tensor y = full({3, 100000, 5}, 1.0);
  EXPECT_TRUE(values_near(sum(y, {1}), std::vector<double>(15, 100000.0)));
}

TEST(Reduce, AxesOutOfRangeThrow) {
  EXPECT_THROW(sum(zeros({2, 3}), {2}), std::runtime_error);
  EXPECT_THROW(sum(zeros({2, 3}), {1, -1}), std::runtime_error);
}

TEST(Reduce, Gradcheck) {
  Tensor x = rand_leaf({2, 3, 4}, 21);
  EXPECT_TRUE(gradcheck([](auto& v) { return sum(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sum(v[0], {1}); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return sum(v[0], {0, 2}, true); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return mean(v[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return mean(v[0], {-1}, true); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return mean(permute(v[0], {2, 0, 1}), {0, 1}); }, {x}));
}

}  // namespace ag::test

// dropout (seeded mask), gather of per-sample schedule constants, and MSE.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Dropout, MaskIsSeededAndScaled) {
  Tensor x = ones({100000});
  Generator g1(9), g2(9);
  std::vector<float> a = dropout(x, 0.25, true, &g1).to_vector<float>();
  EXPECT_EQ(dropout(x, 0.25, true, &g2).to_vector<float>(), a);
  int64_t zeros_seen = 0;
  for (float v : a) {
    ASSERT_TRUE(v == 0.0f || std::abs(v - 1.0f / 0.75f) < 1e-6f);
    zeros_seen += v == 0.0f;
  }
  EXPECT_NEAR(zeros_seen / 100000.0, 0.25, 0.01);
  EXPECT_TRUE(dropout(x, 0.5, false).same(x));  // eval mode: identity
  EXPECT_THROW(dropout(x, 1.0, true), std::runtime_error);
}

TEST(Dropout, Gradcheck) {
  Tensor x = rand_leaf({3, 5}, 51);
  EXPECT_TRUE(gradcheck(
      [](auto& v) {
        Generator g(77);  // the same mask every evaluation
        return dropout(v[0], 0.4, true, &g);
      },
      {x}));
}

TEST(Gather, PicksRowsByIndex) {
  Tensor table = from_vector(std::vector<double>{0.1, 0.2, 0.3, 0.4}, {4});
  Tensor t = from_vector(std::vector<int32_t>{3, 0, 3}, {3});
  EXPECT_TRUE(values_near(gather(table, t), {0.4, 0.1, 0.4}));
  Tensor rows = reshape(arange(6, DType::F64), {3, 2});
  EXPECT_TRUE(
      values_near(gather(rows, from_vector(std::vector<int32_t>{2, 1}, {2})), {4, 5, 2, 3}));
  EXPECT_THROW(gather(table, from_vector(std::vector<int32_t>{4}, {1})), std::runtime_error);
  EXPECT_THROW(gather(table, from_vector(std::vector<int32_t>{0, -1}, {2})), std::runtime_error);
  EXPECT_THROW(gather(table, from_vector(std::vector<float>{1}, {1})), std::runtime_error);
}

TEST(Gather, GradcheckWithRepeatedIndices) {
  Tensor t = from_vector(std::vector<int32_t>{1, 4, 1, 0}, {4});
  EXPECT_TRUE(gradcheck([t](auto& v) { return gather(v[0], t); }, {rand_leaf({5}, 52)}));
  EXPECT_TRUE(gradcheck([t](auto& v) { return gather(v[0], t); }, {rand_leaf({5, 2}, 53)}));
}

TEST(MseLoss, ValueAndGradcheck) {
  Tensor a = from_vector(std::vector<double>{1, 2, 3}, {3});
  Tensor b = from_vector(std::vector<double>{1, 0, 6}, {3});
  EXPECT_TRUE(values_near(mse_loss(a, b), {13.0 / 3.0}));
  EXPECT_THROW(mse_loss(a, zeros({2}, DType::F64)), std::runtime_error);
  Tensor x = rand_leaf({2, 3}, 54), y = rand_leaf({2, 3}, 55);
  EXPECT_TRUE(gradcheck([](auto& v) { return mse_loss(v[0], v[1]); }, {x, y}));
  EXPECT_TRUE(gradcheck([](auto& v) { return mse_loss(transpose(v[0], 0, 1), v[1]); },
                        {rand_leaf({3, 2}, 56), rand_leaf({2, 3}, 57)}));
}

TEST(Gather, ChangedIndicesAreCaughtInBackward) {
  Tensor table = rand_leaf({4}, 58);
  Tensor idx = from_vector(std::vector<int32_t>{0, 1}, {2});
  Tensor y = sum(gather(table, idx));
  idx.copy_(from_vector(std::vector<int32_t>{3, 3}, {2}));
  EXPECT_THROW(y.backward(), std::runtime_error);
}

}  // namespace ag::test
